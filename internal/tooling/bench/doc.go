// Package bench is retryd's benchmark runner: in one run, against one set of servers, it
// measures the engine's floor (workflows of retryd's shape with no-op activities, or one
// signed POST for a webhook delivery, on a worker inside the benchmark), retryd's own
// paths (give-retry, restart, bulk restart, member start and the email drain through
// HTTP; webhook deliveries from an event's commit to a local receiver), and the
// database's floor (the pages' own SQL straight through pgx), and writes them side by
// side with the ratio of each figure to its floor, the CPU each process spent per
// request and each process's memory.
//
// The servers are a Topology's: Local starts a Temporal dev server as `retryd dev`
// does, a fresh database on the local Postgres, and the retryd binary as separate serve
// and work processes. The measurements take only the Targets a topology returns, so
// another topology (a Temporal cluster, several serve and work processes) plugs in
// without touching them. internal/tooling/cmd/retryd-bench is the command; scripts/bench.sh runs it.
package bench
