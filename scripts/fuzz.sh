#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each. The targets are
# found, not listed: any `func FuzzX(f *testing.F)` in a _test.go file is run, so a new
# target needs no change here. Their seed corpora (f.Add calls and testdata/fuzz/FuzzX)
# also run in every plain `go test`.
#
#   scripts/fuzz.sh          each target for 3s (what scripts/test.sh does, with less)
#   scripts/fuzz.sh 2m       each target for two minutes
#   scripts/fuzz.sh 30s ./server   only the targets of these packages
#
# A failure leaves the input that caused it in the package's testdata/fuzz/FuzzX/;
# commit it with the fix, so it stays a regression test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime=${1:-3s}
shift || true
if [[ $# -eq 0 ]]; then
	set -- ./...
fi

# Package directories with fuzz targets, then the targets of each. testdata and
# dot/underscore directories are not packages to the go command, so they are skipped.
mapfile -t files < <(go list -f '{{$d := .Dir}}{{range .TestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .XTestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}' "$@" |
	xargs -r grep -l '^func Fuzz[A-Za-z0-9_]*(f \*testing\.F)' || true)
if [[ ${#files[@]} -eq 0 ]]; then
	echo "fuzz.sh: no fuzz targets in $*" >&2
	exit 1
fi

declare -A targets=()
for file in "${files[@]}"; do
	dir=./$(realpath --relative-to=. "$(dirname "$file")")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$file"); do
		targets["$dir $name"]=1
	done
done

failed=0
for entry in $(printf '%s\n' "${!targets[@]}" | sort | tr ' ' '|'); do
	dir=${entry%%|*}
	name=${entry#*|}
	echo "fuzz: $dir $name for $fuzztime"
	# -run matches nothing, so only the fuzz target runs (its package's other tests
	# already ran in the plain test pass).
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$dir" >/tmp/fuzz-$$.log 2>&1; then
		cat /tmp/fuzz-$$.log >&2
		failed=1
	fi
done
rm -f /tmp/fuzz-$$.log
exit $failed
