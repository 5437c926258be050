package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
)

// Options are a run's inputs besides its counts.
type Options struct {
	Command  string    // how the run was started, for the report
	RepoRoot string    // for the report's commit
	Log      io.Writer // progress lines; nil discards them
}

// runner holds what every phase of one run shares.
type runner struct {
	cfg    Config
	t      *Targets
	log    io.Writer
	report *Report
	eng    *engine
	api    *api
	db     *bun.DB
	orgs   *orgs
	// receiver is the webhook endpoint of retryd's deliveries and of the floor's.
	receiver *webhooktest.Receiver
}

// Run starts topo, measures every path against the same servers, stops topo and
// returns the report. It asserts nothing about the figures.
func Run(ctx context.Context, topo Topology, cfg Config, opts Options) (rep *Report, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	began := time.Now()
	t, err := topo.Start(ctx)
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (the servers' logs are kept in %s)", err, topo.KeepLogs())
		}
		if cerr := topo.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop the servers: %w", cerr)
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("start the servers: %w", err)
	}
	// The benchmark meters itself too: the floor's worker runs here (RoleBench).
	t.Procs = append(t.Procs, Proc{Role: RoleBench, PID: os.Getpid()})
	r := &runner{cfg: cfg, t: t, log: opts.Log, api: newAPI(t, max(cfg.PageClients, cfg.Concurrency)),
		report: &Report{Command: opts.Command, Started: began, Targets: t.Description, Config: cfg}}
	r.report.Machine = describeMachine(ctx, opts.RepoRoot, t.DatabaseURL)

	if r.db, err = store.Open(ctx, t.DatabaseURL); err != nil {
		return nil, err
	}
	defer r.db.Close()
	r.orgs = newOrgs(cfg, time.Now())
	fmt.Fprintf(r.log, "bench: seeding %d members\n", len(r.orgs.file.Organizations[0].Members)+len(r.orgs.file.Organizations[1].Members))
	if _, err := seed.Load(ctx, r.db, r.orgs.file); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	r.receiver = webhooktest.NewServer(nil)
	defer r.receiver.Close()
	floorSecret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	r.receiver.Trust(floorSecret)
	if r.eng, err = dialEngine(ctx, t, floorReceiver{URL: r.receiver.URL, Secret: floorSecret, OrgID: r.orgs.writesOrgID}); err != nil {
		return nil, err
	}
	defer r.eng.close()

	if err := r.idle(ctx); err != nil {
		return nil, err
	}
	for _, s := range interleave(stepOrder, r.engineFloor(), r.retrydPaths(), r.webhooks()) {
		if err := s.run(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.pages(ctx); err != nil {
		return nil, err
	}
	r.report.Rows = inKeyOrder(r.report.Rows)
	r.report.Machine.LoadAfter = loadAverage()
	r.report.Took = time.Since(began)
	return r.report, nil
}

// stepOrder runs each retryd row right after its floor, so that the two are measured
// on a machine in the same state: one two-core machine drifts by 10 to 40% over the
// minutes of a run (other tenants of its host, a Temporal database that grows), and a
// floor measured minutes before its row carried that drift into the ratio.
var stepOrder = []string{
	KeyEngineBare,
	KeyEngineShapedSeq, KeyGiveSeq,
	KeyEngineShapedConc, KeyGiveConc,
	KeyEngineSignal, KeyStart, KeyRestart,
	KeyEngineBulk, KeyBulk,
	KeyGiveWebhook,
	KeyEngineWebhookSeq, KeyWebhookSeq,
	KeyEngineWebhookBurst, KeyWebhookBurst,
}

// interleave orders the steps of every list by order. Each list's steps keep their own
// order there (a list's later step may use what an earlier one left: the floor's
// signals go to its shaped workflows), which TestStepOrder holds.
func interleave(order []string, lists ...[]step) []step {
	byKey := map[string]step{}
	for _, l := range lists {
		for _, s := range l {
			byKey[s.key] = s
		}
	}
	out := make([]step, 0, len(order))
	for _, k := range order {
		if s, ok := byKey[k]; ok {
			out = append(out, s)
		}
	}
	return out
}

// inKeyOrder sorts the rows as the report lists them (AllKeys), whatever order they
// ran in.
func inKeyOrder(rows []Row) []Row {
	at := map[string]int{}
	for i, k := range AllKeys {
		at[k] = i
	}
	slices.SortStableFunc(rows, func(a, b Row) int { return at[a.Key] - at[b.Key] })
	return rows
}

// measure runs one row's calls with the processes' CPU metered around them.
func (r *runner) measure(ctx context.Context, row Row, clients, calls, opsPerCall int, call func(ctx context.Context, i int) error) error {
	if err := r.quiet(ctx); err != nil {
		return err
	}
	m, err := startMeter(ctx, r.t.Procs, r.backends(), r.t.TemporalMetricsURL)
	if err != nil {
		return err
	}
	lat, elapsed, err := load(ctx, clients, calls, call)
	if err != nil {
		return fmt.Errorf("%s: %w", row.Name, err)
	}
	use, err := m.done(ctx)
	if err != nil {
		return err
	}
	row.Sum, row.Use = summarize(lat, elapsed, clients, opsPerCall), &use
	r.add(row)
	return nil
}

// A phase starts once the processes are quiet: together under quietShare of one core
// over quietWindow, or after quietMax whatever they do.
const (
	quietWindow = 300 * time.Millisecond
	quietShare  = 0.10
	quietMax    = 10 * time.Second
)

// quiet waits until the work an earlier phase left behind is done (the emails after
// its answers, its workflows' next tasks), so that a phase, a short one above all,
// measures its own work and not the tail of the one before: the member starts ran
// right after the gives' emails, and their Temporal CPU per call was twice the
// signal's.
func (r *runner) quiet(ctx context.Context) error {
	deadline := time.Now().Add(quietMax)
	for {
		m, err := startMeter(ctx, r.t.Procs, r.backends(), "")
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(quietWindow):
		}
		use, err := m.done(ctx)
		if err != nil {
			return err
		}
		var spent time.Duration
		for _, d := range use.CPU {
			spent += d
		}
		if spent < time.Duration(quietShare*float64(quietWindow)) || time.Now().After(deadline) {
			return nil
		}
	}
}

// backends lists the Postgres backends of the run's database, nil when they are not
// this machine's processes.
func (r *runner) backends() func(context.Context) ([]int, error) {
	if !r.t.PostgresLocal {
		return nil
	}
	return func(ctx context.Context) ([]int, error) {
		var pids []int
		err := r.db.NewRaw("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(ctx, &pids)
		return pids, err
	}
}

// idle measures what the processes cost with nothing to do: the floor under every
// phase's CPU figures, and what a quiet deployment pays.
func (r *runner) idle(ctx context.Context) error {
	m, err := startMeter(ctx, r.t.Procs, r.backends(), r.t.TemporalMetricsURL)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.cfg.IdleWindow):
	}
	use, err := m.done(ctx)
	if err != nil {
		return err
	}
	r.report.Idle, r.report.IdleWindow = &use, r.cfg.IdleWindow
	return nil
}

func (r *runner) add(row Row) {
	r.report.Rows = append(r.report.Rows, row)
	s := row.Sum
	fmt.Fprintf(r.log, "bench: %-16s %-48s p50 %8s ms  p99 %8s ms  %8.1f ops/s\n", row.Group, row.Name, millis(s.P50), millis(s.P99), s.PerSecond())
}
