package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/headshotpro/retryd/internal/app"
	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// runDev runs the whole service on one machine: the database is created and migrated,
// the demo organization loaded, the Temporal dev server (built from Go module source on
// first use) started with its UI unless TEMPORAL_ADDRESS is set, and the API, the worker
// and the local mail endpoint served from one process.
func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	if err := noArgs(args); err != nil {
		return err
	}
	p, err := open(ctx, config.ModeDev)
	if err != nil {
		return err
	}
	defer p.Close()
	cfg, db := p.Config, p.DB
	if _, err := store.Migrate(ctx, db); err != nil {
		return err
	}
	demo, err := seed.Demo(time.Now())
	if err != nil {
		return err
	}
	if _, err := seed.Load(ctx, db, demo); err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}

	uiURL := "(TEMPORAL_ADDRESS is set: use that cluster's UI)"
	if !cfg.TemporalAddressSet {
		identity, err := store.Identity(ctx, db)
		if err != nil {
			return err
		}
		srv, err := startDevServer(ctx, cfg, identity, p.Logger)
		if err != nil {
			return err
		}
		defer func() { _ = srv.Stop() }()
		cfg.TemporalAddress, cfg.TemporalAddressSet, uiURL = srv.Address, true, srv.UIURL
	}
	// One process, one metrics registry: the private listener's /metrics shows HTTP,
	// email, pending and the worker's temporal_* metrics together.
	if err := p.Connect(ctx); err != nil {
		return err
	}
	api, err := p.Server(p.Mailbox())
	if err != nil {
		return err
	}
	acts, err := p.Activities()
	if err != nil {
		return err
	}
	w, err := p.Worker(acts)
	if err != nil {
		return err
	}
	defer w.Stop()

	adminKey, automationKey := seed.DemoKeys()
	base := cfg.LocalAPIURL()
	metricsURL := "(METRICS_ADDR=off)"
	if cfg.MetricsAddr != "" {
		metricsURL = "http://" + config.Dialable(cfg.MetricsAddr) + "/metrics"
	}
	fmt.Fprintf(stdout, `
retryd dev is running
  API:              %s  (HTTP_ADDR=%s)
  Admin pages:      %s/app/login  (sign in with the demo admin key)
  Temporal UI:      %s
  Temporal address: %s  namespace %s
  Mailbox:          %s/dev/mailbox
  Metrics:          %s  (METRICS_ADDR; pprof under /debug/pprof/)
  Demo admin key:   %s
  Automation key:   %s
  Pipeline token:   %s

Try:
  curl -s -H 'Authorization: Bearer %s' %s/api/v1/admin/headshots?section=finished

Ctrl-C stops everything.
`, base, cfg.HTTPAddr, base, uiURL, cfg.TemporalAddress, cfg.TemporalNamespace, base, metricsURL, adminKey, automationKey, cfg.PipelineToken, adminKey, base)

	go api.SweepIdempotencyKeys(ctx, 10*time.Minute)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveHTTP(gctx, cfg.HTTPAddr, api.Handler(), cfg.ShutdownTimeout, p.Logger) })
	g.Go(func() error { p.RunRelay(gctx); return nil })
	serveMetrics(gctx, g, p)
	return g.Wait()
}

// startDevServer starts the dev server with the state of this database (its identity):
// workflows and database always belong together, even after the database is dropped and
// created again.
func startDevServer(ctx context.Context, cfg *config.Config, identity string, logger *slog.Logger) (*devserver.Server, error) {
	dir := cfg.DevDataDir
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir = filepath.Join(cache, "retryd", "dev")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cli, err := devserver.Ensure(ctx, logger)
	if err != nil {
		return nil, app.DependencyError{Err: err}
	}
	dbFile := filepath.Join(dir, "temporal-"+identity+".db")
	logger.Info("starting Temporal dev server", "cli", cli, "db", dbFile)
	srv, err := devserver.Start(ctx, devserver.Options{
		CLIPath: cli, Port: 7233, UIPort: 8233,
		Namespace: cfg.TemporalNamespace, DBFile: dbFile,
		SearchAttributes: workflows.SearchAttributeNames,
	})
	if err != nil {
		return nil, app.DependencyError{Err: fmt.Errorf("start Temporal dev server: %w", err)}
	}
	return srv, nil
}
