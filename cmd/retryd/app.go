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

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mail"
	"github.com/headshotpro/retryd/internal/mailbox"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/worker"
)

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func openDB(ctx context.Context, cfg *config.Config) (*bun.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
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
	opts.HostPort, opts.Namespace = cfg.TemporalAddress, cfg.TemporalNamespace
	opts.Logger = tlog.NewStructuredLogger(logger.With("component", "temporal"))
	opts.MetricsHandler = m.TemporalHandler()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, dependencyError{fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)}
	}
	return c, nil
}

func newLinks(cfg *config.Config) (*linktoken.Signer, error) {
	s, err := linktoken.NewSigner([]byte(cfg.LinkSecret), cfg.LinkTTL)
	if err != nil {
		return nil, configError{fmt.Errorf("LINK_SECRET: %w", err)}
	}
	return s, nil
}

func newSender(cfg *config.Config) (*mail.Sender, error) {
	s, err := mail.NewSender(mail.Config{
		APIKey: cfg.MailerSendAPIKey, LocalURL: cfg.MailLocalURL,
		From: mail.Address{Email: cfg.MailFrom, Name: cfg.MailFromName},
	})
	if err != nil {
		return nil, configError{err}
	}
	return s, nil
}

// newMailbox is the local MailerSend endpoint, present only without a real key.
func newMailbox(cfg *config.Config) *mailbox.Mailbox {
	if cfg.MailerSendAPIKey != "" {
		return nil
	}
	return mailbox.New(mailbox.DefaultCapacity)
}

func newServer(cfg *config.Config, db *bun.DB, tc client.Client, links *linktoken.Signer, mb *mailbox.Mailbox, m *metrics.Metrics, logger *slog.Logger) (*server.Server, error) {
	m.RegisterPendingGauge(func(ctx context.Context) (int, int, error) { return store.CountPending(ctx, db) })
	return server.New(server.Deps{
		DB: db, Temporal: tc, Links: links, Mailbox: mb, Metrics: m, Logger: logger,
		Config: server.Config{
			RetryWindow: cfg.RetryWindow, Reminders: cfg.RetryReminders, PipelineToken: cfg.PipelineToken,
			AppBaseURL: cfg.AppBaseURL, TrustedProxies: cfg.TrustedProxies,
		},
	})
}

func newWorker(cfg *config.Config, db *bun.DB, tc client.Client, links *linktoken.Signer, m *metrics.Metrics, logger *slog.Logger) (sdkworker.Worker, error) {
	sender, err := newSender(cfg)
	if err != nil {
		return nil, err
	}
	acts := activities.New(db, sender, links, cfg.AppBaseURL, cfg.RetryWindow, logger)
	acts.Metrics = m
	return worker.New(tc, acts, worker.Options{}), nil
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
