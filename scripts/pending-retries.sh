#!/usr/bin/env bash
# Measures one `retryd work` holding N pending retries (issue 12): RSS and idle CPU from
# /proc, sampled for SAMPLE once every retry is pending with its first email sent
# (docs/benchmarks.md, "10,000 pending retries"). CACHE sets WORKER_CACHE_SIZE; empty
# keeps retryd's default. CHECK is the retries' start check: the API's 1h by default; a
# shorter one makes them wake often enough to sample what a wake costs. QUERIES, when set,
# adds a last sample with that many status queries a second, each replaying a run that is
# not cached.
#
# GOMEMLIMIT is passed to the worker (Go's soft memory limit, e.g. 120MiB).
#
#   bash scripts/pending-retries.sh [N] [CACHE] [SAMPLE] [CHECK] [QUERIES] [GOMEMLIMIT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RETRYD_TEMPORAL_CLI=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI
export RETRYD_PENDING_RETRIES=${1:-10000} RETRYD_PENDING_CACHE_SIZE=${2:-} RETRYD_PENDING_SAMPLE=${3:-1m} RETRYD_PENDING_CHECK=${4:-1h} RETRYD_PENDING_QUERIES=${5:-} RETRYD_PENDING_GOMEMLIMIT=${6:-}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
go test -count=1 -timeout 2h -run '^TestPendingRetriesFootprint$' -v ./worker | grep -E 'pending=|queries:|^(--- |ok|FAIL)|footprint_test'
