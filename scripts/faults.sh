#!/usr/bin/env bash
# Runs the full fault suite (internal/tooling/faults, build tag `faults`): retryd serve and work,
# the Temporal dev server on a file database and a private Postgres as separate
# processes, under a steady load, with kill -9s, restarts, a Postgres pause longer than
# the API's budget and mail faults. It then writes docs/reliability.md: the figures of
# this run under a fixed header. Takes about six minutes on two cores.
#
#   bash scripts/faults.sh            # writes docs/reliability.md
#   FAULTS_KEEP_REPORT=1 bash ...      # leaves docs/reliability.md alone, prints the figures
set -euo pipefail
cd "$(dirname "$0")/.."

cli=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI=$cli

section=$(mktemp)
trap 'rm -f "$section"' EXIT
start=$SECONDS
status=0
RETRYD_FAULTS_REPORT=$section go test -tags faults -count=1 -timeout 60m -v -run '^TestFaultsFull$' ./internal/tooling/faults || status=$?
echo "faults.sh: test finished in $((SECONDS - start))s with status $status" >&2

if [[ ! -s $section ]]; then
	echo "faults.sh: the run wrote no report (see the test output above)" >&2
	exit 1
fi
if [[ -n ${FAULTS_KEEP_REPORT:-} ]]; then
	cat "$section"
	exit "$status"
fi
{
	cat docs/reliability-header.md
	echo
	echo "Written by \`bash scripts/faults.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs, $(go env GOVERSION))."
	echo
	cat "$section"
} >docs/reliability.md
echo "faults.sh: wrote docs/reliability.md" >&2
exit "$status"
