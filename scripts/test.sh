#!/usr/bin/env bash
# The project's test command: formatting, vet, staticcheck, workflowcheck, then every
# test with the race detector, integration tests included. Extra arguments go to
# `go test` (e.g. scripts/test.sh -run TestRetry -v).
#
# Integration tests need Postgres ($TEST_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/postgres), the Temporal CLI and the full Temporal
# server, which this script builds on first use. Without them tests skip, unless CI=true, where they fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() { printf '\n==> %s\n' "$*"; }

section "Temporal CLI"
RETRYD_TEMPORAL_CLI=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI
echo "$RETRYD_TEMPORAL_CLI"

section "Temporal server"
# The full server (go.temporal.io/server) for the production-topology tests
# (internal/tooling/topology, internal/tooling/bench): built once into the cache, about 6 minutes cold.
bash scripts/temporal-server.sh build

section "gofmt"
# The files the go command sees: it ignores directories named testdata or starting with
# "." or "_" (.git, .tools and the like may hold Go sources that are not ours).
unformatted=$(find . -type d \( -name '.?*' -o -name '_*' -o -name testdata \) -prune \
	-o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l)
if [[ -n $unformatted ]]; then
	echo "These files need gofmt -w:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo ok

section "go vet"
go vet ./...
# The full fault run sits behind a build tag (scripts/faults.sh); vet it so it cannot rot.
go vet -tags faults ./internal/tooling/faults
echo ok

section "staticcheck and workflowcheck"
tools=$(bash scripts/tools.sh)
"$tools/staticcheck" ./...
# workflowcheck follows every call reachable from a workflow function and reports
# non-deterministic ones (time.Now, goroutines, map iteration, ...).
"$tools/workflowcheck" ./...
echo ok

section "go test -race"
# -race covers the concurrent paths (20 simultaneous gives, bulk restarts, the limiter).
go test -race -count=1 -timeout 25m ./... "$@"

section "fuzz (1s per target)"
# Each fuzz target for a moment beyond its seed corpus (which the tests above already
# ran); scripts/fuzz.sh with a longer time fuzzes for real.
bash scripts/fuzz.sh 1s
