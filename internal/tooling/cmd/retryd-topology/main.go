// Command retryd-topology runs the production topology on this machine: the full Temporal
// server on the local Postgres (configured by deploy/temporal.env and
// deploy/temporal-dynamic-config.yaml, as docker-compose.yml deploys it), two `retryd
// serve` and two `retryd work` processes, and the demo data. It prints where everything
// listens and runs until interrupted, then stops every process and drops its databases
// (unless --keep).
//
//	bash scripts/topology.sh [--apis N] [--workers N] [--keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/topology"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "retryd-topology:", err)
		os.Exit(1)
	}
}

func run() error {
	apis := flag.Int("apis", 2, "retryd serve processes")
	workers := flag.Int("workers", 2, "retryd work processes")
	keep := flag.Bool("keep", false, "keep the databases when stopping")
	reminders := flag.String("reminders", "3d,7d", "RETRY_REMINDERS of the retryd processes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "temporal.env")); err != nil {
		return fmt.Errorf("run from the repository root (scripts/topology.sh does): %w", err)
	}
	cli, err := devserver.Ensure(ctx, nil)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "retryd-topology-")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "starting the Temporal server, %d APIs and %d workers (logs in %s)...\n", *apis, *workers, dir)
	tp, err := topology.Start(ctx, topology.Options{Dir: dir, RepoRoot: root, TemporalCLI: cli,
		APIs: *apis, Workers: *workers, Keep: *keep, Env: []string{"RETRY_REMINDERS=" + *reminders}})
	if err != nil {
		return err
	}
	defer tp.Close()
	demo, err := seed.Demo(time.Now())
	if err != nil {
		return err
	}
	if err := tp.Seed(ctx, demo); err != nil {
		return err
	}
	admin, automation := seed.DemoKeys()
	fmt.Printf("Temporal frontend  %s   (temporal workflow list --address %s)\n", tp.TemporalAddr, tp.TemporalAddr)
	for i, u := range tp.APIURLs {
		fmt.Printf("API %d              %s   (metrics %s/metrics)\n", i+1, u, tp.APIMetricsURLs[i])
	}
	for i, u := range tp.WorkerMetricsURLs {
		fmt.Printf("worker %d metrics   %s/metrics\n", i+1, u)
	}
	fmt.Printf("database           %s\n", tp.DatabaseURL)
	fmt.Printf("mailbox            %s/dev/mailbox   (Authorization: Bearer %s)\n", tp.APIURLs[0], tp.MailboxToken)
	fmt.Printf("admin key          %s\nautomation key     %s\n", admin, automation)
	fmt.Println("Ctrl-C stops everything.")
	<-ctx.Done()
	return nil
}
