package bench

import "context"

// Role names a kind of process whose CPU time and memory the report shows.
type Role string

const (
	RoleServe    Role = "serve"
	RoleWork     Role = "work"
	RoleTemporal Role = "temporal"
	// RolePostgres is the Postgres backends connected to the run's database (the
	// benchmark's own pgx connections among them), when Postgres runs on this machine.
	RolePostgres Role = "postgres"
	// RoleBench is the benchmark's own process: the clients of every row's load, and
	// the engine floor's worker, whose workflow tasks and no-op activities run there.
	// Its figure on a floor row is what retryd's work column stands against, with the
	// floor's client added; on a retryd row it is the client alone.
	RoleBench Role = "bench"
)

// Roles are the process kinds in the order the report lists them.
var Roles = []Role{RoleServe, RoleWork, RoleTemporal, RolePostgres, RoleBench}

// Proc is one process of the system under test. A topology with two serve processes
// lists two Procs of RoleServe; the report sums their CPU and memory per role.
type Proc struct {
	Role Role
	PID  int
	// ProfileURL is the process's private /debug/pprof/ base, "" when it has none.
	ProfileURL string
}

// Targets is everything the measurements need to reach the system under test. Nothing
// else about the topology leaks into them.
type Targets struct {
	// Description is a line for the report: what runs where.
	Description string
	// TemporalAddress and Namespace are the Temporal frontend the engine floor's own
	// client and worker use: the same server retryd uses.
	TemporalAddress string
	Namespace       string
	// TemporalMetricsURL is the Temporal server's Prometheus endpoint: the engine's
	// requests per operation are read from it around each phase. "" reads none.
	TemporalMetricsURL string
	// APIURLs are the serve processes' base URLs; clients are spread over them.
	APIURLs []string
	// MailboxURL is the /dev/mailbox of the serve process whose local mail endpoint the
	// workers send to.
	MailboxURL string
	// MailboxToken is that process's DEV_MAILBOX_TOKEN, which its /dev routes require.
	MailboxToken string
	// DatabaseURL is the fresh database retryd uses; the benchmark seeds it and runs the
	// database floor's statements on it.
	DatabaseURL string
	// LinkSecret signs member links, so the benchmark can start shoots as a member does.
	LinkSecret string
	// Procs are the processes whose CPU and memory are reported.
	Procs []Proc
	// PostgresLocal says the database's backends are processes of this machine, so
	// their CPU time can be read from /proc too.
	PostgresLocal bool
}

// Topology starts a system under test and stops it again.
type Topology interface {
	// Start brings every server up and returns once they all answer.
	Start(ctx context.Context) (*Targets, error)
	// Close stops what Start started and removes its state; safe after a failed Start.
	Close() error
	// KeepLogs makes Close leave the servers' logs behind and returns where they are:
	// a failed run's cause is in them.
	KeepLogs() string
}
