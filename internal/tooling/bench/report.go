package bench

import (
	"fmt"
	"strings"
	"time"
)

// Groups of rows, in the order the table shows them.
const (
	GroupEngine   = "engine floor"
	GroupRetryd   = "retryd"
	GroupDatabase = "database floor"
	GroupPages    = "retryd pages"
)

// Row is one measured path.
type Row struct {
	Key   string // stable name, e.g. "retryd.give.seq"; Floor refers to it
	Group string
	Name  string
	Floor string // the Key of the row this one is compared to; "" for a floor
	Sum   Summary
	// Use is what the phase cost each process; nil when the phase's cost is already in
	// another row (the email drain runs inside the concurrent gives).
	Use  *usage
	Note string
}

// Report is one run.
type Report struct {
	Command string
	Machine Machine
	Started time.Time
	Took    time.Duration
	Targets string
	Config  Config
	Rows    []Row
	// Idle is what the processes cost over IdleWindow before the first phase.
	Idle       *usage
	IdleWindow time.Duration
}

func (r *Report) row(key string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Key == key {
			return &r.Rows[i]
		}
	}
	return nil
}

// Markdown is the report as the section docs/benchmarks.md keeps.
func (r *Report) Markdown() string {
	var b strings.Builder
	m := r.Machine
	b.WriteString(intro)
	fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	fmt.Fprintf(&b, "- Date: %s (took %s)\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Took.Round(time.Second))
	fmt.Fprintf(&b, "- Commit: `%s`\n", m.Commit)
	fmt.Fprintf(&b, "- Machine: %d CPUs, %.1f GiB memory, %s, %s; load average %s at the start, %s at the end\n",
		m.CPUs, float64(m.MemoryBytes)/(1<<30), m.GoVersion, m.Postgres, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(&b, "- Servers: %s\n", r.Targets)
	if r.Config.Quick {
		b.WriteString("- **Smoke run (`--quick`)**: tiny counts that prove the command works; these figures are not measurements.\n")
	}
	if r.Idle != nil {
		var parts []string
		for _, role := range Roles {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", role, 100*r.Idle.CPU[role].Seconds()/r.IdleWindow.Seconds()))
		}
		fmt.Fprintf(&b, "- Idle, before the first phase (%s): CPU %s of a core; RSS %s\n", r.IdleWindow, strings.Join(parts, ", "), rssList(r.Idle))
	}
	b.WriteString("\n")
	b.WriteString("| group | path | calls × at once | p50 ms | p99 ms | ops/s | floor | p50 × | p99 × | ops/s × | CPU ms/op serve · work · temporal · postgres · bench | RSS MiB serve · work · temporal |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		s := row.Sum
		name := row.Name
		if row.Note != "" {
			name += " (" + row.Note + ")"
		}
		floor, p50x, p99x, opsx := "", "", "", ""
		if f := r.row(row.Floor); f != nil {
			floor = f.Name
			p50x = ratio(s.P50.Seconds(), f.Sum.P50.Seconds())
			p99x = ratio(s.P99.Seconds(), f.Sum.P99.Seconds())
			opsx = ratio(s.PerSecond(), f.Sum.PerSecond())
		}
		cpu, rss := "—", "—"
		if row.Use != nil && s.Ops > 0 {
			var cs []string
			for _, role := range Roles {
				cs = append(cs, fmt.Sprintf("%.2f", float64(row.Use.CPU[role].Microseconds())/1000/float64(s.Ops)))
			}
			cpu, rss = strings.Join(cs, " · "), rssList(row.Use)
		}
		fmt.Fprintf(&b, "| %s | %s | %d × %d | %s | %s | %.1f | %s | %s | %s | %s | %s | %s |\n",
			row.Group, name, s.Calls, s.Clients, millis(s.P50), millis(s.P99), s.PerSecond(), floor, p50x, p99x, opsx, cpu, rss)
	}
	b.WriteString(legend)
	b.WriteString(r.engineMarkdown())
	return b.String()
}

// engineMarkdown is what the Temporal server did per operation of each row, from its
// own counters, and where a retryd row asks more of it than its floor; "" when the
// run read no counters.
func (r *Report) engineMarkdown() string {
	var b strings.Builder
	for _, row := range r.Rows {
		if row.Use == nil || row.Use.Engine == nil || row.Sum.Ops == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(engineIntro)
			b.WriteString("| path | frontend requests | internal requests | persistence requests | visibility requests |\n|---|---|---|---|---|\n")
		}
		e, n := row.Use.Engine, float64(row.Sum.Ops)
		fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.1f | %.1f |\n", row.Name,
			e.total("service_requests")/n, e.total("client_requests")/n, e.total("persistence_requests")/n, e.total("visibility_persistence_requests")/n)
	}
	if b.Len() == 0 {
		return ""
	}
	b.WriteString("\nWhere a retryd row's requests per operation differ from its engine floor's by half a request or more:\n\n")
	for _, row := range r.Rows {
		f := r.row(row.Floor)
		if row.Group != GroupRetryd || f == nil || f.Group != GroupEngine || row.Use == nil || row.Use.Engine == nil || f.Use == nil || f.Use.Engine == nil {
			continue
		}
		diffs := compareEngine(row.Use.Engine, row.Sum.Ops, f.Use.Engine, f.Sum.Ops, 0.5)
		if len(diffs) == 0 {
			fmt.Fprintf(&b, "- %s: none\n", row.Name)
			continue
		}
		var parts []string
		for _, d := range diffs[:min(len(diffs), 8)] {
			parts = append(parts, fmt.Sprintf("%s %s %+.1f (%.1f against %.1f)", d.Op.Family, d.Op.Operation, d.Difference, d.Row, d.Floor))
		}
		fmt.Fprintf(&b, "- %s: %s\n", row.Name, strings.Join(parts, "; "))
	}
	return b.String()
}

// engineIntro says where the engine's counts come from.
const engineIntro = `
Temporal's work per operation, from the server's own counters (its Prometheus endpoint,
read before and after each phase): the requests its frontend served (service_requests),
the requests between its services (client_requests), and its persistence and
visibility operations. Like CPU, a phase's counts include what ran during it for earlier
phases (a give's email, sent after its answer).

`

// intro says what the table is; it is written with it, so a rerun keeps it true.
const intro = `Every figure in a table comes from one run of one command against the same servers
(the Servers line says which: the Temporal dev server as ` + "`retryd dev`" + ` starts it on the
local Postgres, or the production topology on a private Postgres of its own), a fresh
database, and the retryd binary as separate ` + "`serve`" + ` and ` + "`work`" + ` processes with mail
going to a serve's local endpoint.
Each retryd path is set against its floor:

- **engine floor**: workflows of a give-retry's shape (the issue update, one local
  activity, the stage search attribute, the email activity once the update answers,
  the wait on the start signal with a timer) whose activities do nothing and touch no
  database, run by a worker inside the benchmark with retryd's worker options and driven
  by Update-with-Start exactly as the API drives retryd's; a bare Update-with-Start whose
  update answers at once; a signal to a waiting workflow (the floor of a member start);
  a batch of shaped starts run as a bulk restart runs its members; and a burst of
  webhook deliveries: workflows of the delivery workflow's shape, started as the relay
  starts them, each one activity on a queue of its own that signs and POSTs an event's
  body to the benchmark's receiver with retryd's sender, and reads or writes nothing.
- **database floor**: the SQL the dashboard and the member detail send for one request
  (built by the same store calls the handlers make), sent straight through pgx
  connections, as many as the HTTP load's, against the same database, the way retryd
  sends them (the dashboard page prepared and cached, the member detail's four reads as
  one batch of the simple protocol: one round trip). The pages' HTTP load goes by a lean keep-alive client
  (internal/tooling/loadgen), as the pgx floor is a lean client: on one machine the load's CPU
  comes off what it measures.

While a run goes, ` + "`serve`" + ` and ` + "`work`" + ` serve ` + "`/debug/pprof/`" + ` on private loopback ports
(the addresses are printed at the start), so a phase can be profiled with
` + "`go tool pprof`" + ` (docs/operations.md, "Profile a process").

`

// legend says how to read the table.
const legend = `
How to read it:

- **ops/s**: operations per second over the whole measurement. A bulk call, and a
  floor batch, is as many operations as it has members; its p50 and p99 are per call.
- Each retryd row runs right after its floor (the table lists the floors first), so the
  two meet the machine in the same state.
- Every phase starts once the processes are quiet (together under a tenth of a core over
  0.3 s, or after 10 s), so it does not pay for what the phase before it left running:
  the emails after the gives' answers, the workflows' next tasks.
- **floor** and the **×** columns: this row's figure over its floor's, measured in the
  same run on the same servers. Below 1 for p50 and p99 and above 1 for ops/s is better
  than the floor.
- **CPU ms/op**: CPU time (user and system, from /proc/<pid>/stat before and after the
  phase) of each process over the phase, divided by its operations. It includes what the
  process spends idle (the idle line above), which weighs on short phases. Postgres is
  the backends connected to the run's database (the pgx floor's own among them). Bench
  is the benchmark's own process: every row's clients, and on the engine floor's rows
  the floor's worker too, which runs there; set against retryd's work column, a
  floor row's bench figure includes the floor's client as well.
- **RSS**: resident memory of each process at the end of the phase.
- The email rows time each email from the give's answer to its delivery (the local
  endpoint's receive time; the floor's no-op activity's start), over the gives made at
  once; their cost is inside the gives' row.
- The webhook delivery rows time each event from its commit (retryd: the benchmark's
  ` + "`store.RecordEvent`" + `, the statement a give runs, returned; the floor: its start was
  called, or, in the burst, queued with all the others) to the receiver's arrival of its
  first 2xx request, which must carry a valid signature. One at a time, each event is
  sent once the previous one arrived: the latency of one event alone. In the burst,
  ops/s is events from the burst's start to the last arrival, and the latencies are
  mostly the wait behind the events ahead. Retryd's path is the relay woken by the
  commit's notification, the delivery workflow, the attempt reading the delivery and
  recording it, and the worker's sender. The give with a webhook endpoint is set
  against the give without one; its CPU includes the deliveries sent meanwhile.
`

// rssList is the memory of serve, work and temporal. Postgres's backends are left out:
// their RSS counts the shared buffers each has touched, so a sum would mean nothing.
func rssList(u *usage) string {
	var rs []string
	for _, role := range []Role{RoleServe, RoleWork, RoleTemporal} {
		rs = append(rs, fmt.Sprintf("%.0f", float64(u.RSS[role])/(1<<20)))
	}
	return strings.Join(rs, " · ")
}

func millis(d time.Duration) string {
	ms := float64(d.Microseconds()) / 1000
	if ms < 10 {
		return fmt.Sprintf("%.2f", ms)
	}
	return fmt.Sprintf("%.1f", ms)
}

func ratio(a, b float64) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", a/b)
}
