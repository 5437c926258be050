package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/freeport"
	"github.com/headshotpro/retryd/internal/tooling/pgadmin"
	"github.com/headshotpro/retryd/internal/tooling/random"
	"github.com/headshotpro/retryd/workflows"
)

// DefaultAdminDatabaseURL is the local Postgres the fresh database is created on.
const DefaultAdminDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Local is the one-machine topology: a Temporal dev server started as `retryd dev`
// starts it (its tuned dynamic config, a SQLite file, retryd's search attributes;
// headless, since nobody looks at the UI during a run), a fresh database on the local
// Postgres, and the retryd binary built from RepoRoot running `serve` and `work` as
// separate processes, mail going to serve's local endpoint.
type Local struct {
	RepoRoot         string // where ./cmd/retryd is built from
	TemporalCLI      string // "" builds or finds it as `retryd dev` does (devserver.Ensure)
	AdminDatabaseURL string // "" is DefaultAdminDatabaseURL
	// APIDatabaseConns is serve's DATABASE_MAX_CONNS: as many as the database floor's
	// pgx connections, so that the pages are compared with a pool of the same size.
	APIDatabaseConns int
	// TemporalInMemory keeps the dev server's state in memory instead of the SQLite file
	// `retryd dev` uses, to see what the file costs.
	TemporalInMemory bool
	Log              io.Writer // progress; nil discards it

	dir      string
	keepLogs bool
	temporal *devserver.Server
	tlog     *os.File
	dbName   string
	serve    *child
	work     *child
}

// Start implements Topology.
func (l *Local) Start(ctx context.Context) (*Targets, error) {
	if l.AdminDatabaseURL == "" {
		l.AdminDatabaseURL = DefaultAdminDatabaseURL
	}
	if l.Log == nil {
		l.Log = io.Discard
	}
	var err error
	if l.dir, err = os.MkdirTemp("", "retryd-bench-"); err != nil {
		return nil, err
	}
	bin := filepath.Join(l.dir, "retryd")
	fmt.Fprintf(l.Log, "bench: building retryd into %s\n", l.dir)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/retryd")
	build.Dir = l.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/retryd: %w\n%s", err, out)
	}

	cli := l.TemporalCLI
	if cli == "" {
		if cli, err = devserver.Ensure(ctx, slog.New(slog.NewTextHandler(l.Log, nil))); err != nil {
			return nil, err
		}
	}
	if l.tlog, err = os.Create(filepath.Join(l.dir, "temporal.log")); err != nil {
		return nil, err
	}
	fmt.Fprintf(l.Log, "bench: starting the Temporal dev server (%s)\n", cli)
	dbFile, storage := filepath.Join(l.dir, "temporal.db"), "SQLite file"
	if l.TemporalInMemory {
		dbFile, storage = "", "SQLite in memory"
	}
	l.temporal, err = devserver.Start(ctx, devserver.Options{
		CLIPath: cli, Headless: true, DBFile: dbFile,
		SearchAttributes: workflows.SearchAttributeNames, Output: l.tlog, Metrics: true,
	})
	if err != nil {
		return nil, err
	}

	dbURL, err := l.createDatabase(ctx)
	if err != nil {
		return nil, err
	}
	ports, err := freeport.Pick(3)
	if err != nil {
		return nil, err
	}
	apiURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	serveDebug, workDebug := "127.0.0.1:"+strconv.Itoa(ports[1]), "127.0.0.1:"+strconv.Itoa(ports[2])
	secret, mailboxToken := random.Hex(32), random.Hex(16)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + dbURL,
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(ports[0]),
		"TEMPORAL_ADDRESS=" + l.temporal.Address,
		"TEMPORAL_NAMESPACE=" + l.temporal.Namespace,
		"LINK_SECRET=" + secret,
		"PIPELINE_TOKEN=" + random.Hex(16),
		"DEV_MAILBOX=on",
		"DEV_MAILBOX_TOKEN=" + mailboxToken,
		"MAILERSEND_LOCAL_URL=" + apiURL + "/dev/mailersend",
		"APP_BASE_URL=" + apiURL,
		"WORKER_METRICS_ADDR=" + workDebug,
		"METRICS_ADDR=" + serveDebug,
		"MAIL_RATE_PER_MINUTE=" + strconv.Itoa(benchMailRate),
		webhookReceiverEnv,
	}
	migrate := exec.CommandContext(ctx, bin, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("retryd migrate: %w\n%s", err, out)
	}
	serveEnv := append(env, "DATABASE_MAX_CONNS="+strconv.Itoa(max(l.APIDatabaseConns, 1)))
	if l.serve, err = startChild("serve", bin, []string{"serve"}, serveEnv, filepath.Join(l.dir, "serve.log")); err != nil {
		return nil, err
	}
	if l.work, err = startChild("work", bin, []string{"work"}, env, filepath.Join(l.dir, "work.log")); err != nil {
		return nil, err
	}
	for _, check := range []struct {
		c   *child
		url string
	}{{l.serve, apiURL + "/readyz"}, {l.work, "http://" + workDebug + "/healthz"}, {l.serve, "http://" + serveDebug + "/healthz"}} {
		if err := waitHealthy(ctx, check.c, check.url); err != nil {
			return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(l.dir, check.c.name+".log"))
		}
	}
	fmt.Fprintf(l.Log, "bench: serve %s (pid %d, profiles http://%s/debug/pprof/), work pid %d (profiles http://%s/debug/pprof/), temporal %s (pid %d); logs in %s\n",
		apiURL, l.serve.pid(), serveDebug, l.work.pid(), workDebug, l.temporal.Address, l.temporal.PID(), l.dir)
	return &Targets{
		Description: fmt.Sprintf("one `retryd serve` and one `retryd work` process; Temporal dev server %s (%s, `retryd dev`'s dynamic config, headless); a fresh database on the local Postgres; mail to serve's local endpoint, unpaced (MAIL_RATE_PER_MINUTE=%d); serve's DATABASE_MAX_CONNS=%d; webhooks to the benchmark's receiver on 127.0.0.1 (%s)",
			devserver.CLIVersion, storage, benchMailRate, max(l.APIDatabaseConns, 1), webhookReceiverEnv),
		TemporalAddress:    l.temporal.Address,
		TemporalMetricsURL: l.temporal.MetricsURL,
		Namespace:          l.temporal.Namespace,
		APIURLs:            []string{apiURL},
		MailboxURL:         apiURL + "/dev/mailbox",
		MailboxToken:       mailboxToken,
		DatabaseURL:        dbURL,
		LinkSecret:         secret,
		Procs: []Proc{
			{Role: RoleServe, PID: l.serve.pid(), ProfileURL: "http://" + serveDebug + "/debug/pprof/"},
			{Role: RoleWork, PID: l.work.pid(), ProfileURL: "http://" + workDebug + "/debug/pprof/"},
			{Role: RoleTemporal, PID: l.temporal.PID()},
		},
		PostgresLocal: isLoopback(dbURL),
	}, nil
}

// Close implements Topology: processes first, then the database and the files.
func (l *Local) Close() error {
	l.work.stop()
	l.serve.stop()
	var errs []error
	if err := l.temporal.Stop(); err != nil {
		errs = append(errs, err)
	}
	if l.tlog != nil {
		_ = l.tlog.Close()
	}
	if l.dbName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pgadmin.DropDatabase(ctx, l.AdminDatabaseURL, l.dbName); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", l.dbName, err))
		}
	}
	if l.dir != "" && !l.keepLogs {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// createDatabase makes a database of the run's own on the local Postgres.
func (l *Local) createDatabase(ctx context.Context) (string, error) {
	admin, err := store.Open(ctx, l.AdminDatabaseURL)
	if err != nil {
		return "", fmt.Errorf("connect to Postgres at %s: %w", redact(l.AdminDatabaseURL), err)
	}
	defer admin.Close()
	name := "retryd_bench_" + random.Hex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	l.dbName = name
	u, err := url.Parse(l.AdminDatabaseURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// isLoopback tells whether the database is on this machine, so its backends' CPU can
// be read from /proc.
func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1", "":
		return true
	}
	return false
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// waitHealthy polls url until it answers 200, for up to a minute, failing early when
// the process exited.
func waitHealthy(ctx context.Context, c *child, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		if c.exited() {
			return fmt.Errorf("%s exited at start", c.name)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not healthy: %v", c.name, url, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// KeepLogs implements Topology.
func (l *Local) KeepLogs() string {
	l.keepLogs = true
	return l.dir
}
