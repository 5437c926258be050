#!/usr/bin/env bash
# Measures the email drain of issue 12: EMAILS retries given at once (one email each), the
# worker paced at RATE a minute (MAIL_RATE_PER_MINUTE), the local MailerSend endpoint
# accepting LIMIT a minute and answering the rest 429 with Retry-After and x-ratelimit
# headers. Prints the time to drain and the 429 count (docs/benchmarks.md, "Email at the
# provider's pace"). Defaults: 1000 emails, retryd's default rate (60) against MailerSend's
# v1/email limit (120), about 17 minutes.
#
#   bash scripts/email-drain.sh [EMAILS] [RATE] [LIMIT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RETRYD_TEMPORAL_CLI=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI
export RETRYD_DRAIN_EMAILS=${1:-1000} RETRYD_DRAIN_RATE=${2:-60} RETRYD_DRAIN_LIMIT=${3:-120}
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
go test -count=1 -timeout 3h -run '^TestEmailsDrainAtTheConfiguredRate$' -v ./worker | grep -E 'emails=|^(--- |ok|FAIL)'
