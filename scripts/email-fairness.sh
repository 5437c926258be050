#!/usr/bin/env bash
# Measures email fairness (docs/benchmarks.md, "Email fairness"): organization A gives
# BACKLOG retries at once, so their first emails queue behind the pace (RATE a minute,
# MAIL_RATE_PER_MINUTE); organization B then gives GIVES retries through the API, one
# every INTERVAL. Prints B's delays from give to the local mailbox, on a dev server with
# fairness on and on one with it off. Defaults: 120 emails at 60 a minute, 5 gives 10 s
# apart; about 5 minutes.
#
#   bash scripts/email-fairness.sh [BACKLOG] [RATE] [GIVES] [INTERVAL]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RETRYD_TEMPORAL_CLI=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI
export RETRYD_FAIR_BACKLOG=${1:-120} RETRYD_FAIR_RATE=${2:-60} RETRYD_FAIR_B_GIVES=${3:-5} RETRYD_FAIR_B_INTERVAL=${4:-10s}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
go test -count=1 -run '^$' -bench '^BenchmarkEmailFairness$' -benchtime 1x -timeout 30m ./worker | grep -E 'fairness=|^(ok|FAIL|PASS)'
