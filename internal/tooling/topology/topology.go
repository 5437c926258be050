// Package topology runs retryd the way production does, on this machine and without a
// container engine: the full Temporal server (go.temporal.io/server, built from module
// source by scripts/temporal-server.sh) on Postgres with the settings docker-compose.yml
// deploys (deploy/temporal.env, deploy/temporal-dynamic-config.yaml, the search attributes
// of deploy/temporal-setup.sh), and several `retryd serve` and `retryd work` processes
// against a fresh database. Every part is a separate process that can be killed with -9.
//
// The production-topology tests and `scripts/topology.sh` (via internal/tooling/cmd/retryd-topology) use it.
package topology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/freeport"
	"github.com/headshotpro/retryd/internal/tooling/pgadmin"
	"github.com/headshotpro/retryd/internal/tooling/random"
	"github.com/headshotpro/retryd/internal/tooling/readiness"
	"github.com/headshotpro/retryd/internal/tooling/supervisor"
	"github.com/headshotpro/retryd/workflows"
)

// ServerVersion is the Temporal server scripts/temporal-server.sh builds.
const ServerVersion = "v1.29.1"

// DefaultAdminURL is the local Postgres the databases are created on.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Options shape a topology.
type Options struct {
	// Dir keeps logs and the seed file; it must exist.
	Dir string
	// RepoRoot holds ./cmd/retryd, scripts/ and deploy/.
	RepoRoot string
	// TemporalCLI is the `temporal` binary deploy/temporal-setup.sh drives.
	TemporalCLI string
	// AdminURL is a Postgres connection allowed to create databases (DefaultAdminURL).
	AdminURL string
	// APIs and Workers count the serve and work processes (2 each when zero).
	APIs, Workers int
	// Env is added to every retryd process's environment (RETRY_REMINDERS=..., say);
	// APIEnv to the serve processes' only, after Env.
	Env, APIEnv []string
	// Keep leaves the databases in place on Close, for a run someone wants to look into.
	Keep bool
}

// Topology is one running production-shaped system.
type Topology struct {
	Dir string
	// TemporalAddr is the frontend's gRPC host:port; TemporalHTTP its HTTP API's base
	// URL (the API the Temporal UI reads).
	TemporalAddr string
	TemporalHTTP string
	// TemporalMetricsURL is the server's own Prometheus metrics (PROMETHEUS_ENDPOINT).
	TemporalMetricsURL string
	// DatabaseURL is retryd's own database.
	DatabaseURL string
	// APIURLs[i] is the base URL of APIs[i], and APIMetricsURLs[i] its private
	// metrics listener (METRICS_ADDR).
	APIURLs        []string
	APIMetricsURLs []string
	// WorkerMetricsURLs[i] is the metrics listener of Workers[i].
	WorkerMetricsURLs []string
	LinkSecret        string
	PipelineToken     string
	// MailboxToken is DEV_MAILBOX_TOKEN: outside `retryd dev`, the /dev routes (the
	// mailbox, mail faults) answer only requests presenting it as a bearer.
	MailboxToken string
	TaskQueue    string
	// HistoryShards is the server's NUM_HISTORY_SHARDS, from deploy/temporal.env.
	HistoryShards int

	Temporal *supervisor.Proc
	APIs     []*supervisor.Proc
	Workers  []*supervisor.Proc

	bin       string
	repoRoot  string
	adminURL  string
	databases []string // created here, dropped on Close
	keep      bool
	tc        client.Client
	lock      *os.File
}

// Start builds what is missing, creates the databases, starts the Temporal server, runs
// the search-attribute setup, migrates, and starts the serve and work processes. On error
// everything started so far is stopped.
func Start(ctx context.Context, opts Options) (_ *Topology, err error) {
	if opts.AdminURL == "" {
		opts.AdminURL = DefaultAdminURL
	}
	if opts.APIs == 0 {
		opts.APIs = 2
	}
	if opts.Workers == 0 {
		opts.Workers = 2
	}
	tp := &Topology{Dir: opts.Dir, repoRoot: opts.RepoRoot, adminURL: opts.AdminURL, keep: opts.Keep,
		LinkSecret: random.Hex(32), PipelineToken: random.Hex(16), MailboxToken: random.Hex(16), TaskQueue: "retryd"}
	defer func() {
		if err != nil {
			tp.Close()
		}
	}()
	// One production topology at a time on a machine: the test packages that start one
	// run in parallel, and two of them at once would crowd Postgres's default 100
	// connections. The lock is released by Close (or when the process dies).
	if tp.lock, err = lockMachine(ctx); err != nil {
		return nil, err
	}

	settings, err := ReadSettings(opts.RepoRoot)
	if err != nil {
		return nil, err
	}
	tp.HistoryShards = settings.HistoryShards()
	script := filepath.Join(opts.RepoRoot, "scripts", "temporal-server.sh")
	if out, err := exec.CommandContext(ctx, "bash", script, "build").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("scripts/temporal-server.sh build: %w\n%s", err, out)
	}
	tp.bin = filepath.Join(opts.Dir, "retryd")
	build := exec.CommandContext(ctx, "go", "build", "-o", tp.bin, "./cmd/retryd")
	build.Dir = opts.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/retryd: %w\n%s", err, out)
	}

	admin, err := neturl.Parse(opts.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("admin URL: %w", err)
	}
	prefix := "topo_" + random.Hex(4)
	temporalDB, visibilityDB, appDB := prefix+"_temporal", prefix+"_visibility", prefix+"_retryd"

	temporalEnv, err := tp.temporalEnv(admin, temporalDB, visibilityDB)
	if err != nil {
		return nil, err
	}
	// The schema tool creates the two Temporal databases; record them first so Close
	// drops them even when the migration fails half-way.
	tp.databases = append(tp.databases, temporalDB, visibilityDB)
	schema := exec.CommandContext(ctx, "bash", script, "schema")
	schema.Env = temporalEnv
	if out, err := schema.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("scripts/temporal-server.sh schema: %w\n%s", err, out)
	}
	tp.Temporal = &supervisor.Proc{Name: "temporal", Path: "bash", Args: []string{script, "start"},
		Env: temporalEnv, LogPath: filepath.Join(opts.Dir, "temporal.log")}
	if err := tp.StartTemporal(ctx); err != nil {
		return nil, err
	}
	if err := tp.setupSearchAttributes(ctx, script, temporalEnv, opts.TemporalCLI); err != nil {
		return nil, err
	}

	if err := pgadmin.CreateDatabase(ctx, opts.AdminURL, appDB); err != nil {
		return nil, err
	}
	tp.databases = append(tp.databases, appDB)
	tp.DatabaseURL = withDatabase(admin, appDB)

	ports, err := freeport.Pick(2*opts.APIs + opts.Workers)
	if err != nil {
		return nil, err
	}
	for i := range opts.APIs {
		tp.APIURLs = append(tp.APIURLs, "http://127.0.0.1:"+strconv.Itoa(ports[i]))
		tp.APIMetricsURLs = append(tp.APIMetricsURLs, "http://127.0.0.1:"+strconv.Itoa(ports[opts.APIs+opts.Workers+i]))
	}
	// Mail goes to the first API's local endpoint: the dev mailbox lives in one API
	// process's memory, and one mailbox keeps the tests' view of delivered mail whole.
	base := append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + tp.DatabaseURL,
		"TEMPORAL_ADDRESS=" + tp.TemporalAddr,
		"TEMPORAL_TASK_QUEUE=" + tp.TaskQueue,
		"LINK_SECRET=" + tp.LinkSecret,
		"PIPELINE_TOKEN=" + tp.PipelineToken,
		"DEV_MAILBOX=on",
		"DEV_MAILBOX_TOKEN=" + tp.MailboxToken,
		"MAILERSEND_LOCAL_URL=" + tp.APIURLs[0] + "/dev/mailersend",
		"APP_BASE_URL=" + tp.APIURLs[0],
		"SHUTDOWN_TIMEOUT=10s",
		"LOG_LEVEL=info",
	}, opts.Env...)
	if out, err := supervisor.Run(ctx, tp.bin, base, "migrate"); err != nil {
		return nil, fmt.Errorf("retryd migrate: %w\n%s", err, out)
	}
	for i := range opts.APIs {
		env := append(append(append([]string(nil), base...), opts.APIEnv...), "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(ports[i]),
			"METRICS_ADDR="+strings.TrimPrefix(tp.APIMetricsURLs[i], "http://"))
		tp.APIs = append(tp.APIs, &supervisor.Proc{Name: fmt.Sprintf("api%d", i+1), Path: tp.bin, Args: []string{"serve"},
			Env: env, LogPath: filepath.Join(opts.Dir, fmt.Sprintf("api%d.log", i+1))})
	}
	for i := range opts.Workers {
		port := ports[opts.APIs+i]
		tp.WorkerMetricsURLs = append(tp.WorkerMetricsURLs, "http://127.0.0.1:"+strconv.Itoa(port))
		env := append(append([]string(nil), base...), "WORKER_METRICS_ADDR=127.0.0.1:"+strconv.Itoa(port))
		tp.Workers = append(tp.Workers, &supervisor.Proc{Name: fmt.Sprintf("worker%d", i+1), Path: tp.bin, Args: []string{"work"},
			Env: env, LogPath: filepath.Join(opts.Dir, fmt.Sprintf("worker%d.log", i+1))})
	}
	for i := range tp.APIs {
		if err := tp.StartAPI(ctx, i); err != nil {
			return nil, err
		}
	}
	for i := range tp.Workers {
		if err := tp.StartWorker(ctx, i); err != nil {
			return nil, err
		}
	}
	tp.tc, err = client.DialContext(ctx, client.Options{HostPort: tp.TemporalAddr,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, fmt.Errorf("dial Temporal: %w", err)
	}
	return tp, nil
}

// temporalEnv is the environment of scripts/temporal-server.sh for this run: its own
// databases and free ports; everything else comes from deploy/temporal.env.
func (tp *Topology) temporalEnv(admin *neturl.URL, temporalDB, visibilityDB string) ([]string, error) {
	// frontend gRPC, frontend HTTP, then a gRPC and a membership port per role.
	names := []string{"FRONTEND_GRPC_PORT", "FRONTEND_HTTP_PORT", "FRONTEND_MEMBERSHIP_PORT",
		"HISTORY_GRPC_PORT", "HISTORY_MEMBERSHIP_PORT", "MATCHING_GRPC_PORT", "MATCHING_MEMBERSHIP_PORT",
		"WORKER_GRPC_PORT", "WORKER_MEMBERSHIP_PORT"}
	// Below 32768: the server records membership ports in a smallint column.
	ports, err := freeport.PickBelow(len(names)+1, 32768)
	if err != nil {
		return nil, err
	}
	env := append([]string(nil), os.Environ()...)
	for i, n := range names {
		env = append(env, n+"="+strconv.Itoa(ports[i]))
	}
	metrics := "127.0.0.1:" + strconv.Itoa(ports[len(names)])
	env = append(env, "PROMETHEUS_ENDPOINT="+metrics)
	tp.TemporalAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	tp.TemporalHTTP = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	tp.TemporalMetricsURL = "http://" + metrics + "/metrics"
	pwd, _ := admin.User.Password()
	port := admin.Port()
	if port == "" {
		port = "5432"
	}
	env = append(env,
		"DBNAME="+temporalDB, "VISIBILITY_DBNAME="+visibilityDB,
		"POSTGRES_SEEDS="+admin.Hostname(), "DB_PORT="+port, "POSTGRES_PORT="+port,
		"POSTGRES_USER="+admin.User.Username(), "POSTGRES_PWD="+pwd)
	return env, nil
}

func (tp *Topology) setupSearchAttributes(ctx context.Context, script string, env []string, cli string) error {
	args := []string{script, "setup"}
	for _, sa := range workflows.SearchAttributeNames {
		args = append(args, sa+"=Keyword")
	}
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Env = append(append([]string(nil), env...), "TEMPORAL_CLI="+cli)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/temporal-server.sh setup: %w\n%s", err, out)
	}
	return nil
}

// Client is an SDK client of the topology's Temporal server.
func (tp *Topology) Client() client.Client { return tp.tc }

// Seed loads f through `retryd seed --file`, the operators' path.
func (tp *Topology) Seed(ctx context.Context, f *seed.File) error {
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	path := filepath.Join(tp.Dir, "seed.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	if out, err := supervisor.Run(ctx, tp.bin, tp.APIs[0].Env, "seed", "--file", path); err != nil {
		return fmt.Errorf("retryd seed: %w\n%s", err, out)
	}
	return nil
}

// StartTemporal starts the server and waits until its frontend answers a health check.
func (tp *Topology) StartTemporal(ctx context.Context) error {
	if err := tp.Temporal.Start(); err != nil {
		return err
	}
	return readiness.WaitTemporal(ctx, tp.TemporalAddr, 2*time.Minute)
}

// StartAPI starts serve number i and waits for its /readyz.
func (tp *Topology) StartAPI(ctx context.Context, i int) error {
	if err := tp.APIs[i].Start(); err != nil {
		return err
	}
	return readiness.Wait(ctx, time.Minute, tp.APIs[i].Name+" /readyz", func(ctx context.Context) error {
		return readiness.GetOK(ctx, tp.APIURLs[i]+"/readyz")
	})
}

// StartWorker starts work number i and waits for its /healthz.
func (tp *Topology) StartWorker(ctx context.Context, i int) error {
	if err := tp.Workers[i].Start(); err != nil {
		return err
	}
	return readiness.Wait(ctx, time.Minute, tp.Workers[i].Name+" /healthz", func(ctx context.Context) error {
		return readiness.GetOK(ctx, tp.WorkerMetricsURLs[i]+"/healthz")
	})
}

// Close stops every process and drops the databases (unless Keep).
func (tp *Topology) Close() {
	if tp.tc != nil {
		tp.tc.Close()
	}
	for _, p := range append(append(append([]*supervisor.Proc(nil), tp.Workers...), tp.APIs...), tp.Temporal) {
		if p != nil {
			p.Stop()
		}
	}
	defer func() {
		if tp.lock != nil {
			_ = tp.lock.Close() // releases the flock
		}
	}()
	if tp.keep {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range tp.databases {
		_ = pgadmin.DropDatabase(ctx, tp.adminURL, name)
	}
}

// lockMachine takes the machine-wide topology lock, waiting while another holds it.
func lockMachine(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "retryd-topology.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("topology lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another production topology on this machine to stop: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func withDatabase(admin *neturl.URL, name string) string {
	u := *admin
	u.Path = "/" + name
	return u.String()
}
