#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each.
#
# A failure counts when the fuzzer wrote a failing input. Go's fuzzing
# coordinator can also fail a target with a bare "context deadline
# exceeded" when -fuzztime ends while a worker is still busy (often
# minimizing a new input on a loaded machine); that is a race in Go, not
# a finding: it is reported, the target's corpus is run once more as
# plain tests, and the run goes on.
#
# Minimizing a new input is bounded to 50 runs: by default it may take a
# minute, and targets that write files (FuzzLoadTemplate, FuzzLoadState)
# stopped executing for the rest of their time while one was minimized.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-20s}
inputs() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "== $pkg $target ($time)"
		corpus=$dir/testdata/fuzz/$target
		before=$(inputs "$corpus")
		out=$(mktemp)
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 50x "$pkg" 2>&1 | tee "$out"; then
			rm -f "$out"
			continue
		fi
		after=$(inputs "$corpus")
		if [ "$after" -eq "$before" ] && grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input' "$out"; then
			rm -f "$out"
			echo "fuzz: $target stopped on Go's end-of-fuzztime race without a failing input; running its corpus once more"
			go test -count=1 -run "^${target}\$" "$pkg"
			continue
		fi
		rm -f "$out"
		exit 1
	done
done
