package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mail"
	"github.com/headshotpro/retryd/internal/mailbox"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/wiring"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/worker"
)

// process is what serve, work and dev share: configuration, logs, the database and, once
// connected, metrics, the Temporal client and the link signer. close releases them in
// reverse order.
type process struct {
	cfg     *config.Config
	logger  *slog.Logger
	db      *bun.DB
	metrics *metrics.Metrics
	tc      client.Client
	links   *linktoken.Signer
	closers []func()
}

// open loads the configuration for mode and connects to Postgres (creating the database
// first in dev mode).
func open(ctx context.Context, mode config.Mode) (*process, error) {
	cfg, err := loadConfig(mode)
	if err != nil {
		return nil, err
	}
	p := &process{cfg: cfg, logger: newLogger(cfg)}
	if mode == config.ModeDev {
		if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
			return nil, dependencyError{err}
		}
	}
	if p.db, err = openDB(ctx, cfg); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, func() { _ = p.db.Close() })
	return p, nil
}

// connect dials Temporal with metrics and prepares the link signer.
func (p *process) connect(ctx context.Context) error {
	p.metrics = metrics.New()
	p.closers = append(p.closers, func() { _ = p.metrics.Close() })
	tc, err := dialTemporal(ctx, p.cfg, p.logger, p.metrics)
	if err != nil {
		return err
	}
	p.tc = tc
	p.closers = append(p.closers, tc.Close)
	if p.cfg.LinkSecret == "" {
		return nil // a tool (resume) signs no links; serve, work and dev require the secret
	}
	p.links, err = newLinks(p.cfg)
	return err
}

// healthy is the /healthz check of a private metrics port: Postgres and Temporal reachable.
func (p *process) healthy(ctx context.Context) error {
	if err := p.db.PingContext(ctx); err != nil {
		return err
	}
	_, err := p.tc.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

func (p *process) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

func (p *process) newServer(mb *mailbox.Mailbox) (*server.Server, error) {
	return server.New(server.Deps{
		DB: p.db, Temporal: p.tc, Links: p.links, Mailbox: mb, Metrics: p.metrics, Logger: p.logger,
		Config: wiring.ServerConfig(p.cfg),
	})
}

// serveMetrics runs, in g until ctx ends, the private listener of serve and dev
// (METRICS_ADDR) and the periodic count behind its pending gauges, so a scrape never
// queries the database. Nothing runs when METRICS_ADDR is off.
func (p *process) serveMetrics(ctx context.Context, g *errgroup.Group) {
	addr := p.cfg.MetricsAddr
	if addr == "" {
		return
	}
	db := p.db
	g.Go(func() error {
		p.metrics.RefreshPending(ctx, metrics.DefaultPendingRefresh, func(ctx context.Context) (int, int, error) {
			return store.CountPending(ctx, db)
		})
		return nil
	})
	g.Go(func() error { return metrics.Serve(ctx, addr, p.metrics, p.healthy, p.logger) })
}

// startWorker starts the Temporal workers; stop them before close.
func (p *process) startWorker() (*worker.Workers, error) {
	sender, err := newSender(p.cfg, p.logger, p.metrics)
	if err != nil {
		return nil, err
	}
	// The SDK keeps one workflow cache per process, sized before the first worker starts.
	sdkworker.SetStickyWorkflowCacheSize(p.cfg.WorkerCacheSize)
	w := worker.New(p.tc, wiring.Activities(p.cfg, p.db, sender, p.links, p.logger, p.metrics), wiring.WorkerOptions(p.cfg))
	if err := w.Start(); err != nil {
		return nil, dependencyError{fmt.Errorf("start worker: %w", err)}
	}
	return w, nil
}

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// openToolDB connects the tools (migrate, seed, keys), which need only DATABASE_URL.
func openToolDB(ctx context.Context) (*bun.DB, error) {
	cfg, err := loadConfig(config.ModeTool)
	if err != nil {
		return nil, err
	}
	return openDB(ctx, cfg)
}

func openDB(ctx context.Context, cfg *config.Config) (*bun.DB, error) {
	db, err := store.OpenPool(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return nil, dependencyError{err}
	}
	return db, nil
}

// dialTemporal connects with the standard Temporal client configuration (envconfig:
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the config file), so the same
// binary reaches a dev server, a self-hosted cluster or Temporal Cloud.
func dialTemporal(ctx context.Context, cfg *config.Config, logger *slog.Logger, m *metrics.Metrics) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, configError{fmt.Errorf("temporal client configuration: %w", err)}
	}
	// The variables (or dev's own server) win; without them a Temporal profile may name
	// the cluster, and only then do retryd's defaults apply.
	if cfg.TemporalAddressSet || opts.HostPort == "" {
		opts.HostPort = cfg.TemporalAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = cfg.TemporalNamespace
	}
	opts.Logger = tlog.NewStructuredLogger(logger.With("component", "temporal"))
	opts.MetricsHandler = m.TemporalHandler()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, dependencyError{fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)}
	}
	return c, nil
}

func newLinks(cfg *config.Config) (*linktoken.Signer, error) {
	s, err := wiring.Links(cfg)
	if err != nil {
		return nil, configError{fmt.Errorf("LINK_SECRET: %w", err)}
	}
	return s, nil
}

// newSender's logger and metrics carry its alerts (see app.Sender).
func newSender(cfg *config.Config, logger *slog.Logger, m *metrics.Metrics) (*mail.Sender, error) {
	s, err := wiring.Sender(cfg, logger, m)
	if err != nil {
		return nil, configError{err}
	}
	return s, nil
}

// serveHTTP serves until ctx ends, then drains in-flight requests for up to the
// shutdown timeout. Gin's Run has no timeouts, hence the explicit http.Server.
func serveHTTP(ctx context.Context, addr string, h http.Handler, shutdownTimeout time.Duration, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return dependencyError{fmt.Errorf("listen on %s: %w", addr, err)}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("http server listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("draining http requests", "timeout", shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
