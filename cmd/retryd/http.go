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

	"golang.org/x/sync/errgroup"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/app"
	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/metrics"
)

// open loads the configuration for mode and builds the app on it (connecting to
// Postgres, and creating the database first in dev mode).
func open(ctx context.Context, mode config.Mode) (*app.App, error) {
	cfg, err := loadConfig(mode)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, cfg, app.NewLogger(cfg, os.Stderr), app.Options{})
}

// openToolDB connects the tools (migrate, seed, keys), which need only DATABASE_URL.
func openToolDB(ctx context.Context) (*bun.DB, error) {
	cfg, err := loadConfig(config.ModeTool)
	if err != nil {
		return nil, err
	}
	return app.OpenDB(ctx, cfg)
}

// serveMetrics runs, in g until ctx ends, the private listener of serve and dev
// (METRICS_ADDR) and the periodic count behind its pending gauges, so a scrape never
// queries the database. Nothing runs when METRICS_ADDR is off.
func serveMetrics(ctx context.Context, g *errgroup.Group, a *app.App) {
	addr := a.Config.MetricsAddr
	if addr == "" {
		return
	}
	g.Go(func() error {
		a.RefreshPending(ctx, metrics.DefaultPendingRefresh)
		return nil
	})
	g.Go(func() error { return metrics.Serve(ctx, addr, a.Metrics, a.Healthy, a.Logger) })
}

// serveHTTP serves until ctx ends, then drains in-flight requests for up to the
// shutdown timeout. Gin's Run has no timeouts, hence the explicit http.Server.
func serveHTTP(ctx context.Context, addr string, h http.Handler, shutdownTimeout time.Duration, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return app.DependencyError{Err: fmt.Errorf("listen on %s: %w", addr, err)}
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
