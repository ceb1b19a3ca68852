#!/usr/bin/env bash
# scripts/test.sh — the whole test suite: vet, then every package with the
# race detector against a throw-away PostgreSQL that this script starts (and
# stops at exit). Installs PostgreSQL from Debian's packages when missing.
#
#   scripts/test.sh            # what `make test` and CI run
#   scripts/test.sh -run Snap ./source/postgres/   # extra args go to go test
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
	echo "test.sh: installing PostgreSQL (Debian packages)" >&2
	if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
# pg_recvlogical is used by benchmarks only; psql by some tests.

export SLUICE_TMP="${SLUICE_TMP:-$(mktemp -d /tmp/sluice-test.XXXXXX)}"
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop' EXIT

echo "test.sh: PostgreSQL at ${SLUICE_PG_DSN}" >&2
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt needed on: $unformatted" >&2
	exit 1
fi
if [ $# -gt 0 ]; then
	go test -race -count=1 "$@"
else
	go test -race -count=1 -timeout 20m ./...
fi
