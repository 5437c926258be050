#!/usr/bin/env bash
# Runs retryd's benchmark (internal/tooling/cmd/retryd-bench): in one run against the same servers (a
# Temporal dev server started as `retryd dev` starts it, a fresh database on the local
# Postgres, the retryd binary as separate serve and work processes), the engine's floor,
# retryd's paths and the database's floor side by side, with ratios, CPU per operation
# and memory of each process. Prints the table and writes it into docs/benchmarks.md
# between its markers. Run it on an otherwise idle machine; it takes a few minutes.
#
#   bash scripts/bench.sh                 # the full run
#   bash scripts/bench.sh --quick         # a smoke run with tiny counts (figures mean nothing)
#   bash scripts/bench.sh --docs ''       # print only
#   bash scripts/bench.sh -h              # every count flag
#
# BENCH_DATABASE_URL names the Postgres database the dev topology's fresh one is created
# from (default postgres://postgres@127.0.0.1:5432/postgres). The production topology
# starts a Postgres cluster of its own (internal/tooling/pgserver).
set -euo pipefail
cd "$(dirname "$0")/.."

RETRYD_TEMPORAL_CLI=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI
exec go run ./internal/tooling/cmd/retryd-bench "$@"
