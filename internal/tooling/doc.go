// Package tooling holds no code of its own: its folders are the machinery that proves
// retryd, kept apart from the service so that a reader who wants the service never
// opens them. Nothing under cmd/retryd, server, worker, workflows, activities or the
// other packages of internal/ imports anything here.
//
//   - apptest: one running retryd (API and worker) on a real Postgres and Temporal dev
//     server, built through the same composition root as the retryd command.
//   - testenv: finds Postgres, the Temporal CLI and Chromium for tests; under CI=true a
//     missing one fails instead of skipping.
//   - assert: the plain equality assertions the tests share.
//   - browsertest: headless Chromium driving the admin pages.
//   - supervisor: starts, kills with SIGKILL and revives real processes, and runs
//     one-shot commands (migrations, seeds).
//   - readiness: waits for a started server to answer (a poll, Temporal's health check,
//     an HTTP probe).
//   - pgadmin: creates and drops a harness's Postgres databases.
//   - freeport: picks free loopback ports for the servers a harness starts.
//   - dnstest: a DNS server on loopback answering from a table, for the webhook URL
//     guard's tests (names, rebinding, failures and timeouts on cue).
//   - random: the random secrets, keys and database names of one run.
//   - querycount: a bun query hook counting statements, for tests that hold a path to
//     its round trips.
//   - faults: the fault suite (scripts/faults.sh; a bounded subset runs in CI).
//   - topology: the production topology run for real (full Temporal server on Postgres,
//     several APIs and workers); cmd/retryd-topology starts it by hand.
//   - bench, loadgen: the benchmark runner (scripts/bench.sh, cmd/retryd-bench) and its
//     lean HTTP load client.
package tooling
