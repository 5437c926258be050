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
//   - procs: a supervisor of real processes (for kill -9), and database and port helpers.
//   - faults: the fault suite (scripts/faults.sh; a bounded subset runs in CI).
//   - topology: the production topology run for real (full Temporal server on Postgres,
//     several APIs and workers); cmd/retryd-topology starts it by hand.
//   - bench, loadgen: the benchmark runner (scripts/bench.sh, cmd/retryd-bench) and its
//     lean HTTP load client.
package tooling
