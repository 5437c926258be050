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
# Go 1.26 can fail a target with its own -fuzztime deadline (golang/go#75804); such a
# run, which found nothing, is reported and not counted as a failure (see below).
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

declare -A targets=() # package directory -> its fuzz targets
for file in "${files[@]}"; do
	dir=./$(realpath --relative-to=. "$(dirname "$file")")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$file"); do
		targets[$dir]+="$name "
	done
done

# A target whose setup starts the service (Postgres, Temporal, the worker) in each fuzz
# worker says how long it needs at least, on the line above its func:
#   // fuzz.sh: at least 30s
# -fuzztime counts from the start of that setup, and a run that ends before the workers
# have replayed the corpus fails with "context deadline exceeded".
floor_of() {
	grep -h -B1 "^func $2(f \*testing\.F)" "$1"/*_test.go | sed -n 's|^// fuzz.sh: at least \([0-9]*[smh]\)$|\1|p'
}
seconds() {
	case $1 in
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	*) echo "" ;;
	esac
}
# at_least D FLOOR: D, or FLOOR when both are whole seconds, minutes or hours and FLOOR
# is longer. Other forms (1m30s, 500x) are used as given.
at_least() {
	local d f
	d=$(seconds "$1")
	f=$(seconds "${2:-}")
	if [[ $d =~ ^[0-9]+$ && $f =~ ^[0-9]+$ ]] && ((f > d)); then
		echo "$2"
	else
		echo "$1"
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache=$(go env GOCACHE)/fuzz
failed=0
for dir in $(printf '%s\n' "${!targets[@]}" | sort); do
	# One instrumented test binary per package, run once per target: building it is most
	# of the cost of a short run, and `go test -fuzz` would rebuild it for every target.
	bin=$tmp/$(echo "$dir" | tr / _).test
	names=$(echo ${targets[$dir]} | tr ' ' '|')
	go test -c -fuzz "^($names)\$" -o "$bin" "$dir"
	importpath=$(go list "$dir")
	for name in ${targets[$dir]}; do
		t=$(at_least "$fuzztime" "$(floor_of "$dir" "$name")")
		echo "fuzz: $dir $name for $t"
		# Run in the package directory, where the seed corpus (testdata/fuzz) is read and
		# a failing input is written; -test.run matches nothing, so only the target runs.
		corpus=$dir/testdata/fuzz/$name
		before=$(ls "$corpus" 2>/dev/null | sort || true)
		if ! (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$t" \
			-test.fuzzcachedir "$cache/$importpath") >"$tmp/log" 2>&1; then
			after=$(ls "$corpus" 2>/dev/null | sort || true)
			# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a failure
			# when it ends while a worker is mid-call (golang/go#75804, fixed in Go 1.27):
			# "context deadline exceeded" after fuzzing began, and no failing input
			# written. That is not a finding. A run that never got past the corpus, or
			# wrote an input, or failed any other way, is.
			if [[ $before == "$after" ]] && grep -q 'now fuzzing with' "$tmp/log" &&
				[[ $(grep -v '^fuzz: elapsed' "$tmp/log" | grep -cv '^--- FAIL: \|^FAIL$\|^    context deadline exceeded$') -eq 0 ]]; then
				echo "fuzz: $dir $name: the coordinator's own deadline race (golang/go#75804), no input found; not a failure" >&2
			else
				cat "$tmp/log" >&2
				failed=1
			fi
		fi
	done
done
exit $failed
