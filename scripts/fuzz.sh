#!/usr/bin/env bash
# scripts/fuzz.sh [DURATION] — run every fuzz target for DURATION (default 30s).
# New crashers land in the package's testdata/fuzz/ and become regression
# seeds that `go test` replays; commit them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-30s}"
# Minimising a new interesting input takes up to 60 s by default: with the
# recorded binlog events as seeds (FuzzRowsEvent, hundreds of kB each) a
# worker spent its whole run minimising, reporting "0/sec". 5 s keeps it
# fuzzing; a crasher is still written, only less reduced.
m="${FUZZMINIMIZETIME:-5s}"
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "== $pkg $name ($t)"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" -fuzzminimizetime "$m" "$pkg"
	done
done
