// Package faults is retryd's fault suite: it runs the real binary as separate processes
// (retryd serve, retryd work), a Temporal dev server on a file database and a private
// Postgres, drives the HTTP API of three organizations with a steady stream of gives,
// restarts (single and bulk), member starts and resends, and meanwhile kills and pauses
// those processes and makes the local mail endpoint fail, while the organizations'
// webhook endpoints (receivers in the test process, one of them flaky) are delivered to.
// After a quiet recovery period it checks, from Postgres, Temporal, the mailbox and the
// receivers, that nothing was lost or done twice and that every change reached the
// endpoints that subscribe to it, signed, and no others.
//
// The package's normal test (TestFaultsSubset) runs a bounded subset in every
// `go test ./...`; the full run is behind the build tag `faults` and is what
// scripts/faults.sh runs to write docs/reliability.md.
package faults
