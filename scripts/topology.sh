#!/usr/bin/env bash
# Runs the production topology here: the full Temporal server (built from module source
# on first use, about 6 minutes) on the local Postgres with the compose file's Temporal
# configuration, two `retryd serve` and two `retryd work` processes, and the demo data.
# Arguments go to internal/tooling/cmd/retryd-topology (--apis N, --workers N, --keep, --reminders).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec go run ./internal/tooling/cmd/retryd-topology "$@"
