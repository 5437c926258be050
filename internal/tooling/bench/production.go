package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/topology"
)

// Production is the production topology (internal/tooling/topology): the full Temporal server on
// the local Postgres with the compose file's configuration, and several `retryd serve` and
// `retryd work` processes. The benchmark spreads its clients over every API.
type Production struct {
	RepoRoot         string
	TemporalCLI      string // the `temporal` CLI the search-attribute setup drives
	AdminDatabaseURL string // "" is DefaultAdminDatabaseURL
	APIs, Workers    int    // 2 each when zero
	// APIDatabaseConns is the serve processes' DATABASE_MAX_CONNS together (see Local):
	// each of them gets its share, so the pages meet a pool as large as the pgx floor's.
	APIDatabaseConns int
	// PageClients is the pgx floor's connections, counted in the connection budget.
	PageClients int
	Log         io.Writer

	dir      string
	keepLogs bool
	tp       *topology.Topology
}

// Start implements Topology.
func (p *Production) Start(ctx context.Context) (*Targets, error) {
	if p.Log == nil {
		p.Log = io.Discard
	}
	var err error
	if p.dir, err = os.MkdirTemp("", "retryd-bench-production-"); err != nil {
		return nil, err
	}
	if p.APIs == 0 {
		p.APIs = 2
	}
	if p.Workers == 0 {
		p.Workers = 2
	}
	perAPI := max(p.APIDatabaseConns/p.APIs, 1)
	// Everything this run may hold open on the one Postgres: the Temporal server's pools
	// (deploy/temporal.env), the APIs', the workers', the pgx floor's and a few for tools.
	settings, err := topology.ReadSettings(p.RepoRoot)
	if err != nil {
		return nil, err
	}
	need := settings.MaxConns() + p.APIs*perAPI + p.Workers*workerConns + p.PageClients + 5
	if err := checkMaxConnections(ctx, p.AdminDatabaseURL, need); err != nil {
		return nil, err
	}
	fmt.Fprintf(p.Log, "bench: starting the production topology (logs in %s)\n", p.dir)
	p.tp, err = topology.Start(ctx, topology.Options{Dir: p.dir, RepoRoot: p.RepoRoot, TemporalCLI: p.TemporalCLI,
		AdminURL: p.AdminDatabaseURL, APIs: p.APIs, Workers: p.Workers,
		Env:    []string{"DATABASE_MAX_CONNS=" + strconv.Itoa(workerConns), "MAIL_RATE_PER_MINUTE=" + strconv.Itoa(benchMailRate)},
		APIEnv: []string{"DATABASE_MAX_CONNS=" + strconv.Itoa(perAPI)}})
	if err != nil {
		return nil, err
	}
	tp := p.tp
	t := &Targets{
		Description: fmt.Sprintf("%d `retryd serve` and %d `retryd work` processes, clients spread over the APIs; the full Temporal server %s on the local Postgres with deploy/temporal.env (%d history shards) and deploy/temporal-dynamic-config.yaml; a fresh database; mail to the first serve's local endpoint, unpaced (MAIL_RATE_PER_MINUTE=%d); each serve's DATABASE_MAX_CONNS=%d, each work's %d. The temporal CPU column is the server process alone: its own Postgres backends are not counted",
			len(tp.APIs), len(tp.Workers), topology.ServerVersion, tp.HistoryShards, benchMailRate, perAPI, workerConns),
		TemporalAddress: tp.TemporalAddr,
		Namespace:       "default",
		APIURLs:         tp.APIURLs,
		MailboxURL:      tp.APIURLs[0] + "/dev/mailbox",
		MailboxToken:    tp.MailboxToken,
		DatabaseURL:     tp.DatabaseURL,
		LinkSecret:      tp.LinkSecret,
		Procs:           []Proc{{Role: RoleTemporal, PID: tp.Temporal.Pid()}},
		PostgresLocal:   isLoopback(tp.DatabaseURL),
	}
	for _, a := range tp.APIs {
		t.Procs = append(t.Procs, Proc{Role: RoleServe, PID: a.Pid()})
	}
	for i, w := range tp.Workers {
		t.Procs = append(t.Procs, Proc{Role: RoleWork, PID: w.Pid(), ProfileURL: tp.WorkerMetricsURLs[i] + "/debug/pprof/"})
	}
	return t, nil
}

// workerConns is each work process's pool: a worker runs a few database steps at once
// (local activities), so 8 is plenty and leaves the budget to the pages.
const workerConns = 8

// checkMaxConnections fails early, with what to do, when the Postgres server cannot hold
// every pool of the run at once (Postgres's default of 100 cannot; compose sets 200).
func checkMaxConnections(ctx context.Context, adminURL string, need int) error {
	if adminURL == "" {
		adminURL = DefaultAdminDatabaseURL
	}
	db, err := store.Open(ctx, adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var max, reserved int
	if err := db.QueryRowContext(ctx, "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int").Scan(&max, &reserved); err != nil {
		return err
	}
	if need > max-reserved {
		return fmt.Errorf("the production topology with these pools may open %d Postgres connections; this server allows %d (max_connections %d): "+
			"raise it as docker-compose.yml does (ALTER SYSTEM SET max_connections = 200; then restart Postgres), or lower --page-clients", need, max-reserved, max)
	}
	return nil
}

// Close implements Topology.
func (p *Production) Close() error {
	if p.tp != nil {
		p.tp.Close()
	}
	if p.dir != "" && !p.keepLogs {
		return os.RemoveAll(p.dir)
	}
	return nil
}

// KeepLogs implements Topology.
func (p *Production) KeepLogs() string {
	p.keepLogs = true
	return p.dir
}
