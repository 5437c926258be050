package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/pgserver"
	"github.com/headshotpro/retryd/internal/tooling/topology"
)

// Production is the production topology (internal/tooling/topology): the full Temporal server with
// the compose file's configuration, and several `retryd serve` and `retryd work`
// processes, all on a Postgres cluster of the run's own (pgserver) with the compose
// file's max_connections: the machine's shared server keeps Postgres's default of 100,
// too few for every pool, and the bench must not ask anyone to reconfigure it. The
// benchmark spreads its clients over every API.
type Production struct {
	RepoRoot      string
	TemporalCLI   string // the `temporal` CLI the search-attribute setup drives
	APIs, Workers int    // 2 each when zero
	// APIDatabaseConns is the serve processes' DATABASE_MAX_CONNS together (see Local):
	// each of them gets its share, so the pages meet a pool as large as the pgx floor's.
	APIDatabaseConns int
	// PageClients is the pgx floor's connections, counted in the connection budget.
	PageClients int
	Log         io.Writer

	dir      string
	keepLogs bool
	pg       *pgserver.Server
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
	// Everything this run may hold open on its Postgres: the Temporal server's pools
	// (deploy/temporal.env), the APIs', the workers', the pgx floor's and a few for tools.
	settings, err := topology.ReadSettings(p.RepoRoot)
	if err != nil {
		return nil, err
	}
	need := settings.MaxConns() + p.APIs*perAPI + p.Workers*workerConns + p.PageClients + 5
	// fsync stays on, as on the shared server and in production: a commit costs here
	// what it costs there.
	if p.pg, err = pgserver.New(ctx, pgserver.Options{MaxConnections: composeMaxConnections(p.RepoRoot), TempPrefix: "retryd-bench-pg-"}); err != nil {
		return nil, fmt.Errorf("the production topology's private Postgres: %w", err)
	}
	if err := p.pg.Start(ctx); err != nil {
		return nil, fmt.Errorf("the production topology's private Postgres: %w", err)
	}
	adminURL := p.pg.URL("postgres")
	if err := checkMaxConnections(ctx, adminURL, need); err != nil {
		return nil, err
	}
	fmt.Fprintf(p.Log, "bench: starting the production topology on a private Postgres %d on port %d (logs in %s)\n", p.pg.Version(), p.pg.Port(), p.dir)
	p.tp, err = topology.Start(ctx, topology.Options{Dir: p.dir, RepoRoot: p.RepoRoot, TemporalCLI: p.TemporalCLI,
		AdminURL: adminURL, APIs: p.APIs, Workers: p.Workers,
		Env:    []string{"DATABASE_MAX_CONNS=" + strconv.Itoa(workerConns), "MAIL_RATE_PER_MINUTE=" + strconv.Itoa(benchMailRate), webhookReceiverEnv},
		APIEnv: []string{"DATABASE_MAX_CONNS=" + strconv.Itoa(perAPI)}})
	if err != nil {
		return nil, err
	}
	tp := p.tp
	t := &Targets{
		Description: fmt.Sprintf("%d `retryd serve` and %d `retryd work` processes, clients spread over the APIs; the full Temporal server %s with deploy/temporal.env (%d history shards) and deploy/temporal-dynamic-config.yaml; everything on a private Postgres %d cluster the run starts for itself (max_connections %d as docker-compose.yml sets, otherwise initdb's defaults); a fresh database; mail to the first serve's local endpoint, unpaced (MAIL_RATE_PER_MINUTE=%d); each serve's DATABASE_MAX_CONNS=%d, each work's %d; webhooks to the benchmark's receiver on 127.0.0.1 (%s). The temporal CPU column is the server process alone: its own Postgres backends are not counted",
			len(tp.APIs), len(tp.Workers), topology.ServerVersion, tp.HistoryShards, p.pg.Version(), p.pg.MaxConnections(), benchMailRate, perAPI, workerConns, webhookReceiverEnv),
		TemporalAddress:    tp.TemporalAddr,
		TemporalMetricsURL: tp.TemporalMetricsURL,
		Namespace:          "default",
		APIURLs:            tp.APIURLs,
		MailboxURL:         tp.APIURLs[0] + "/dev/mailbox",
		MailboxToken:       tp.MailboxToken,
		DatabaseURL:        tp.DatabaseURL,
		LinkSecret:         tp.LinkSecret,
		Procs:              []Proc{{Role: RoleTemporal, PID: tp.Temporal.Pid()}},
		PostgresLocal:      isLoopback(tp.DatabaseURL),
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

// composeMaxConnections is the max_connections docker-compose.yml gives its Postgres,
// so the private cluster is sized as a deployment's; pgserver's default when the file
// or the setting is missing.
func composeMaxConnections(repoRoot string) int {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		return pgserver.DefaultMaxConnections
	}
	m := composeMaxConnsRE.FindSubmatch(raw)
	if m == nil {
		return pgserver.DefaultMaxConnections
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil || n < 1 {
		return pgserver.DefaultMaxConnections
	}
	return n
}

var composeMaxConnsRE = regexp.MustCompile(`max_connections=(\d+)`)

// checkMaxConnections fails early when the Postgres server cannot hold every pool of the
// run at once. The private cluster is sized for it, so this catches pools grown past
// docker-compose.yml's setting (a larger --page-clients, more Temporal connections in
// deploy/temporal.env) before the run fails halfway with "too many clients".
func checkMaxConnections(ctx context.Context, adminURL string, need int) error {
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
		return fmt.Errorf("the production topology with these pools may open %d Postgres connections; its private server allows %d (max_connections %d, docker-compose.yml's setting): "+
			"lower --page-clients, or raise max_connections in docker-compose.yml to match what a deployment of these pools needs", need, max-reserved, max)
	}
	return nil
}

// Close implements Topology. The private Postgres goes with its data; its log joins the
// others first when they are kept.
func (p *Production) Close() error {
	if p.tp != nil {
		p.tp.Close()
	}
	if p.pg != nil {
		if p.keepLogs && p.dir != "" {
			_ = copyFile(p.pg.LogPath(), filepath.Join(p.dir, "postgres.log"))
		}
		p.pg.Close()
	}
	if p.dir != "" && !p.keepLogs {
		return os.RemoveAll(p.dir)
	}
	return nil
}

func copyFile(from, to string) error {
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, raw, 0o644)
}

// KeepLogs implements Topology.
func (p *Production) KeepLogs() string {
	p.keepLogs = true
	return p.dir
}
