#!/usr/bin/env bash
# Records fresh workflow histories on the real stack (Postgres and the Temporal dev
# server) and keeps them in workflows/testdata, where workflows/replay_test.go replays
# them on every test run. Run it after a workflow change made behind workflow.GetVersion,
# rename the new files to say which version they record, and add them to the replay list;
# never overwrite a history that running retries may still have.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RETRYD_TEMPORAL_CLI=$(bash scripts/temporal-cli.sh)
export RETRYD_TEMPORAL_CLI
out=$(mktemp -d)
RETRYD_RECORD_HISTORIES=$out go test -count=1 -run '^TestRecordHistories$' ./server
RETRYD_RECORD_HISTORIES=$out go test -count=1 -run '^TestRecordWebhookHistories$' ./worker
for f in "$out"/*.json; do
	name=$(basename "$f")
	if [[ -e workflows/testdata/$name ]]; then
		echo "kept workflows/testdata/$name as it was; the new recording is $f" >&2
		continue
	fi
	cp "$f" "workflows/testdata/$name"
	echo "workflows/testdata/$name"
done
