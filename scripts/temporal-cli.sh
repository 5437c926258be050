#!/usr/bin/env bash
# Builds the Temporal CLI (whose `temporal server start-dev` is the dev server) into the
# cache, unless it is already there, and prints its path on stdout.
#
# It is built from source because the Go module proxy is the one source every machine
# here can reach. Path rule, kept in step with devserver.DefaultCLIPath:
#   $RETRYD_TEMPORAL_CLI, else ${XDG_CACHE_HOME:-~/.cache}/retryd/temporal-v1.5.1/temporal
set -euo pipefail

module=github.com/temporalio/cli/cmd/temporal
# Later tags carry a replace directive that `go install pkg@version` refuses.
version=v1.5.1

path=${RETRYD_TEMPORAL_CLI:-${XDG_CACHE_HOME:-$HOME/.cache}/retryd/temporal-$version/temporal}
# Tests run in each package's directory, so a relative path would point elsewhere there.
case $path in
/*) ;;
*) path=$PWD/$path ;;
esac

if [[ -f $path && -x $path ]]; then
	echo "$path"
	exit 0
fi

if ! command -v go >/dev/null 2>&1; then
	echo "temporal-cli.sh: the go command is not on PATH; it is needed to build $module@$version" >&2
	exit 1
fi

dir=$(dirname "$path")
mkdir -p "$dir"
# One build at a time: a second caller (another test run, another checkout) waits for the
# first and then finds the binary, instead of building the same packages beside it.
exec 9>"$dir/.build.lock"
flock 9
if [[ -f $path && -x $path ]]; then
	echo "$path"
	exit 0
fi
# Build beside the target and move it in, so an interrupted build never leaves a
# half-written binary at a path later runs would trust.
tmp=$(mktemp -d "$dir/.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "temporal-cli.sh: building $module@$version into $path (about 5 minutes the first time)" >&2
start=$SECONDS
# Build from the temp dir so no go.work around the caller's directory interferes.
(cd "$tmp" && GOBIN=$tmp go install "$module@$version") >&2
mv -f "$tmp/temporal" "$path"
echo "temporal-cli.sh: built in $((SECONDS - start))s" >&2
echo "$path"
