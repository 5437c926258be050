package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/freeport"
	"github.com/headshotpro/retryd/internal/tooling/pgadmin"
	"github.com/headshotpro/retryd/internal/tooling/pgserver"
	"github.com/headshotpro/retryd/internal/tooling/random"
	"github.com/headshotpro/retryd/internal/tooling/readiness"
	"github.com/headshotpro/retryd/internal/tooling/supervisor"
	"github.com/headshotpro/retryd/workflows"
)

// Cluster is the whole system under test, each part a separate process.
type Cluster struct {
	Dir         string // logs, the Temporal database, seed.json
	APIURL      string
	TemporalURL string // host:port
	PGURL       string
	LinkSecret  string
	// MailboxToken opens the API's /dev routes (DEV_MAILBOX_TOKEN).
	MailboxToken string
	TaskQueue    string

	Postgres *pgserver.Server
	Temporal *supervisor.Proc
	API      *supervisor.Proc
	Worker   *supervisor.Proc

	links *linktoken.Signer
	tc    client.Client
}

// Options shape a cluster.
type Options struct {
	// Dir keeps logs and state; it must exist.
	Dir string
	// RepoRoot is where ./cmd/retryd is built from.
	RepoRoot string
	// TemporalCLI is the `temporal` binary (its start-dev is the dev server).
	TemporalCLI string
	// Reminders is RETRY_REMINDERS, short so reminders fire during a run.
	Reminders string
	// MailVia, when set, gets the URL of the local mail endpoint (served by the API) and
	// returns the URL the worker sends to instead: a test's proxy in front of it.
	MailVia func(endpoint string) string
}

// StartCluster builds retryd, starts a private Postgres, the Temporal dev server on a
// file database, migrates, and starts serve and work. Close stops everything.
func StartCluster(ctx context.Context, opts Options) (*Cluster, error) {
	c := &Cluster{Dir: opts.Dir, LinkSecret: random.Hex(32), MailboxToken: random.Hex(16), TaskQueue: "retryd-faults"}
	bin := filepath.Join(opts.Dir, "retryd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/retryd")
	build.Dir = opts.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/retryd: %w\n%s", err, out)
	}

	ports, err := freeport.Pick(4)
	if err != nil {
		return nil, err
	}
	pgPort, tPort, apiPort, metricsPort := ports[0], ports[1], ports[2], ports[3]

	// fsync off: the suite crashes processes, not the machine, and it shares the disk.
	c.Postgres, err = pgserver.New(ctx, pgserver.Options{Port: pgPort, TempPrefix: "retryd-faults-pg-", FsyncOff: true})
	if err != nil {
		return nil, err
	}
	if err := c.Postgres.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := pgadmin.CreateDatabase(ctx, c.Postgres.URL("postgres"), "retryd"); err != nil {
		c.Close()
		return nil, err
	}
	c.PGURL = c.Postgres.URL("retryd")

	c.TemporalURL = "127.0.0.1:" + strconv.Itoa(tPort)
	targs := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(tPort), "--headless",
		"--db-filename", filepath.Join(opts.Dir, "temporal.db"), "--log-level", "warn", "--color", "never"}
	for _, sa := range workflows.SearchAttributeNames {
		targs = append(targs, "--search-attribute", sa+"=Keyword")
	}
	c.Temporal = &supervisor.Proc{Name: "temporal", Path: opts.TemporalCLI, Args: targs, Env: os.Environ(), LogPath: filepath.Join(opts.Dir, "temporal.log")}
	if err := c.StartTemporal(ctx); err != nil {
		c.Close()
		return nil, err
	}

	c.APIURL = "http://127.0.0.1:" + strconv.Itoa(apiPort)
	mailURL := c.APIURL + "/dev/mailersend"
	if opts.MailVia != nil {
		mailURL = opts.MailVia(mailURL)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + c.PGURL,
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(apiPort),
		"TEMPORAL_ADDRESS=" + c.TemporalURL,
		"TEMPORAL_TASK_QUEUE=" + c.TaskQueue,
		"LINK_SECRET=" + c.LinkSecret,
		"PIPELINE_TOKEN=" + random.Hex(16),
		"DEV_MAILBOX=on",
		"DEV_MAILBOX_TOKEN=" + c.MailboxToken,
		"MAILERSEND_LOCAL_URL=" + mailURL,
		"APP_BASE_URL=" + c.APIURL,
		"RETRY_REMINDERS=" + opts.Reminders,
		"WORKER_METRICS_ADDR=127.0.0.1:" + strconv.Itoa(metricsPort),
		// The suite reads the worker's listener only; serve's would take a fixed port.
		"METRICS_ADDR=off",
		"SHUTDOWN_TIMEOUT=5s",
		// The suite's few hundred emails are not what it measures; the default pace of
		// 60 a minute would stretch its settling time.
		"MAIL_RATE_PER_MINUTE=6000",
		// The resend storm checks that a run's history stays bounded however many resends
		// come, so every resend must reach the workflow: no cooldown, no queue cap.
		"RESEND_COOLDOWN=0s",
		"MAIL_QUEUE_PER_ORG=1000000",
		// The webhook receivers are the test's, on loopback over plain http: a private
		// receiver, which WEBHOOK_ALLOW_PRIVATE lets `retryd work` reach outside dev.
		"WEBHOOK_ALLOW_PRIVATE=on",
		// An attempt cut off by a kill times out after this plus the database's 20 s.
		"WEBHOOK_TIMEOUT=3s",
		"LOG_LEVEL=info",
	}
	c.links, err = linktoken.NewSigner([]byte(c.LinkSecret), 24*time.Hour)
	if err != nil {
		c.Close()
		return nil, err
	}
	if out, err := supervisor.Run(ctx, bin, env, "migrate"); err != nil {
		c.Close()
		return nil, fmt.Errorf("retryd migrate: %w\n%s", err, out)
	}
	c.API = &supervisor.Proc{Name: "api", Path: bin, Args: []string{"serve"}, Env: env, LogPath: filepath.Join(opts.Dir, "api.log")}
	c.Worker = &supervisor.Proc{Name: "worker", Path: bin, Args: []string{"work"}, Env: env, LogPath: filepath.Join(opts.Dir, "worker.log")}
	if err := c.StartAPI(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Worker.Start(); err != nil {
		c.Close()
		return nil, err
	}
	c.tc, err = client.DialContext(ctx, client.Options{HostPort: c.TemporalURL,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dial Temporal: %w", err)
	}
	return c, nil
}

// Seed loads f through `retryd seed --file`, the operators' path.
func (c *Cluster) Seed(ctx context.Context, f *seed.File) error {
	raw, err := json.Marshal(f)
	if err != nil {
		return err
	}
	path := filepath.Join(c.Dir, "seed.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	if out, err := supervisor.Run(ctx, c.API.Path, c.API.Env, "seed", "--file", path); err != nil {
		return fmt.Errorf("retryd seed: %w\n%s", err, out)
	}
	return nil
}

// StartTemporal starts the dev server (again, on the same file) and waits until it answers.
func (c *Cluster) StartTemporal(ctx context.Context) error {
	if err := c.Temporal.Start(); err != nil {
		return err
	}
	return readiness.WaitTemporal(ctx, c.TemporalURL, time.Minute)
}

// StartAPI starts serve and waits for /healthz (not /readyz: during a fault the API must
// come back even while a dependency is still away).
func (c *Cluster) StartAPI(ctx context.Context) error {
	if err := c.API.Start(); err != nil {
		return err
	}
	return readiness.Wait(ctx, time.Minute, "api /healthz", func(ctx context.Context) error { return readiness.GetOK(ctx, c.APIURL+"/healthz") })
}

// Close stops every process and removes the private cluster.
func (c *Cluster) Close() {
	if c.tc != nil {
		c.tc.Close()
	}
	for _, p := range []*supervisor.Proc{c.Worker, c.API, c.Temporal} {
		if p != nil {
			p.Stop()
		}
	}
	if c.Postgres != nil {
		// A cluster left paused by an interrupted fault would never stop.
		if pids, err := c.Postgres.PIDs(); err == nil {
			resume(pids)
		}
		c.Postgres.Close()
	}
}
