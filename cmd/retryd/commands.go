package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
)

func runServe(ctx context.Context, args []string, _ io.Writer) error {
	if err := noArgs(args); err != nil {
		return err
	}
	p, err := open(ctx, config.ModeServe)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Connect(ctx); err != nil {
		return err
	}
	srv, err := p.Server(p.Mailbox())
	if err != nil {
		return err
	}
	go srv.SweepIdempotencyKeys(ctx, 10*time.Minute)
	// The API and the private listener (METRICS_ADDR); either failing stops both.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return serveHTTP(gctx, p.Config.HTTPAddr, srv.Handler(), p.Config.ShutdownTimeout, p.Logger)
	})
	serveMetrics(gctx, g, p)
	return g.Wait()
}

func runWork(ctx context.Context, args []string, _ io.Writer) error {
	if err := noArgs(args); err != nil {
		return err
	}
	p, err := open(ctx, config.ModeWork)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Connect(ctx); err != nil {
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
	p.Logger.Info("worker started")
	// The worker's private listener: /metrics, /healthz (Postgres and Temporal
	// reachable) and /debug/pprof. A listen error stops the worker too.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { p.RunRelay(gctx); return nil })
	if addr := p.Config.WorkerMetricsAddr; addr != "" {
		g.Go(func() error {
			return metrics.Serve(gctx, addr, p.Metrics, p.Healthy, p.Logger)
		})
	}
	<-gctx.Done()
	p.Logger.Info("stopping worker; running activities may finish")
	w.Stop()
	return g.Wait()
}

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	if err := noArgs(args); err != nil {
		return err
	}
	db, err := openToolDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := store.Migrate(ctx, db)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, name := range applied {
		fmt.Fprintln(stdout, "applied", name)
	}
	return nil
}

func runSeed(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("file", "", "seed file (JSON; docs/product.md describes its shape)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *file == "" || fs.NArg() > 0 {
		return usageError{errors.New("usage: retryd seed --file F.json")}
	}
	f, err := os.Open(*file)
	if err != nil {
		return usageError{err}
	}
	defer f.Close()
	data, err := seed.Parse(f)
	if err != nil {
		return usageError{fmt.Errorf("%s: %w", *file, err)}
	}
	db, err := openToolDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	// Seeding is often the first thing done to a new database; migrating is idempotent.
	if _, err := store.Migrate(ctx, db); err != nil {
		return err
	}
	rep, err := seed.Load(ctx, db, data)
	if err != nil {
		return err
	}
	printReport(stdout, rep)
	return nil
}

func printReport(w io.Writer, rep seed.Report) {
	fmt.Fprintf(w, "inserted: %d organizations, %d admins, %d api keys, %d members, %d shoots, %d results\n",
		rep.Organizations, rep.Admins, rep.APIKeys, rep.Members, rep.Shoots, rep.Results)
	for _, g := range rep.Generated {
		fmt.Fprintf(w, "generated id %s for %s\n", g.ID, g.Path)
	}
}
