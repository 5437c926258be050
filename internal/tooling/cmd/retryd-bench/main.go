// Command retryd-bench measures, in one run against one set of servers, the engine's
// floor, retryd's paths and the database's floor side by side (internal/tooling/bench), prints
// the table and writes it into docs/benchmarks.md between its markers.
// scripts/bench.sh runs it; `--quick` is a smoke run with tiny counts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/tooling/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "retryd-bench:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "retryd-bench:", err)
		os.Exit(1)
	}
}

// usageError is a bad flag or count (exit code 2, as retryd's own).
type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("retryd-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "smoke run: tiny counts (the other count flags still apply on top)")
	which := fs.String("topology", "both", "dev (the Temporal dev server, one serve, one work), production (the full Temporal server on Postgres, 2 serve, 2 work; internal/tooling/topology) or both, one after the other")
	inMemory := fs.Bool("temporal-in-memory", false, "keep the dev server's state in memory rather than in a SQLite file as `retryd dev` does")
	docs := fs.String("docs", "docs/benchmarks.md", "document whose marked section gets the table; empty: print only")
	cfg := bench.DefaultConfig()
	// The counts are read into a second Config so --quick can start from QuickConfig
	// whatever order the flags come in; only flags given override it.
	counts := map[string]*int{}
	intFlag := func(name string, def int, usage string) {
		counts[name] = fs.Int(name, def, usage)
	}
	intFlag("gives", cfg.Gives, "sequential give-retries (and calls of the sequential floors)")
	intFlag("concurrent-gives", cfg.ConcurrentGives, "give-retries made --concurrency at a time; their emails are the drain")
	intFlag("concurrency", cfg.Concurrency, "admins giving retries at once")
	intFlag("starts", cfg.Starts, "member starts (at most --gives)")
	intFlag("restarts", cfg.Restarts, "single restarts")
	intFlag("bulk-calls", cfg.BulkCalls, "bulk restart calls, one at a time")
	intFlag("bulk-size", cfg.BulkSize, fmt.Sprintf("members per bulk restart call (at most %d)", bench.MaxBulkSize))
	intFlag("dashboard-members", cfg.DashboardMembers, "members of the organization whose pages are read")
	intFlag("detail-members", cfg.DetailMembers, "distinct members whose detail page is read in turn")
	intFlag("page-calls", cfg.PageCalls, "calls per page measurement, through HTTP and through pgx each")
	intFlag("page-clients", cfg.PageClients, "connections at once for the pages, HTTP and pgx alike")
	intFlag("webhook-seq", cfg.WebhookSeq, "webhook events sent one at a time, each once the previous one arrived (retryd's and the engine floor's)")
	intFlag("webhook-burst", cfg.WebhookBurst, "webhook events sent at once (retryd's and the engine floor's)")
	emailTimeout := fs.Duration("email-timeout", cfg.EmailTimeout, "longest wait for the emails of the concurrent gives, and for each set of webhook deliveries")
	idleWindow := fs.Duration("idle-window", cfg.IdleWindow, "how long the processes' idle CPU is measured before the first phase")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if *quick {
		cfg = bench.QuickConfig()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, dst := range map[string]*int{
		"gives": &cfg.Gives, "concurrent-gives": &cfg.ConcurrentGives, "concurrency": &cfg.Concurrency, "starts": &cfg.Starts,
		"restarts": &cfg.Restarts, "bulk-calls": &cfg.BulkCalls, "bulk-size": &cfg.BulkSize, "dashboard-members": &cfg.DashboardMembers,
		"detail-members": &cfg.DetailMembers, "page-calls": &cfg.PageCalls, "page-clients": &cfg.PageClients,
		"webhook-seq": &cfg.WebhookSeq, "webhook-burst": &cfg.WebhookBurst,
	} {
		if set[name] {
			*dst = *counts[name]
		}
	}
	if set["email-timeout"] {
		cfg.EmailTimeout = *emailTimeout
	}
	if set["idle-window"] {
		cfg.IdleWindow = *idleWindow
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}

	root, err := repoRoot()
	if err != nil {
		return err
	}
	var topos []bench.Named
	var starts []bench.Topology
	cli := os.Getenv(devserver.EnvCLIPath)
	switch *which {
	case "dev", "production", "both":
	default:
		return usageError{fmt.Errorf("--topology %q: want dev, production or both", *which)}
	}
	if *which != "production" {
		topos = append(topos, bench.Named{Name: "dev server"})
		starts = append(starts, &bench.Local{RepoRoot: root, TemporalCLI: cli, AdminDatabaseURL: os.Getenv("BENCH_DATABASE_URL"),
			APIDatabaseConns: cfg.PageClients, TemporalInMemory: *inMemory, Log: stderr})
	}
	if *which != "dev" {
		if cli == "" {
			if cli, err = devserver.Ensure(ctx, nil); err != nil {
				return err
			}
		}
		topos = append(topos, bench.Named{Name: "production"})
		starts = append(starts, &bench.Production{RepoRoot: root, TemporalCLI: cli,
			APIDatabaseConns: cfg.PageClients, PageClients: cfg.PageClients, Log: stderr})
	}
	command := shellLine(append([]string{"bash", "scripts/bench.sh"}, args...))
	for i, topo := range starts {
		rep, err := bench.Run(ctx, topo, cfg, bench.Options{Command: command, RepoRoot: root, Log: stderr})
		if err != nil {
			return fmt.Errorf("%s: %w", topos[i].Name, err)
		}
		topos[i].Report = rep
	}
	table := topos[0].Report.Markdown()
	if len(topos) > 1 {
		var b strings.Builder
		b.WriteString("### The two topologies side by side\n\n")
		b.WriteString(bench.CompareMarkdown(topos))
		for _, t := range topos {
			fmt.Fprintf(&b, "\n### %s\n\n%s", t.Name, t.Report.Markdown())
		}
		table = b.String()
	}
	fmt.Fprintln(stdout, table)
	if *docs == "" {
		return nil
	}
	path := *docs
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := bench.WriteSection(path, table); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "retryd-bench: wrote the table into %s\n", path)
	return nil
}

// shellLine writes args as a shell would need them, so the report's command can be
// pasted back (an empty --docs ” stays visible).
func shellLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " '\"\\$`*?[]{}()<>|&;#~!") {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// repoRoot is the checkout the working directory is in: where retryd is built from and
// whose docs the table goes into.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(raw), "module github.com/headshotpro/retryd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it inside the retryd checkout (no go.mod of github.com/headshotpro/retryd above the working directory)")
		}
		dir = parent
	}
}
