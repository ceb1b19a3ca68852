#!/usr/bin/env bash
# scripts/ferretdb.sh — a throw-away MongoDB-wire-protocol server (FerretDB)
# for the mongodb source's export tests.
#
#   eval "$(scripts/ferretdb.sh start)"   # build once + start, prints the export line
#   scripts/ferretdb.sh env               # prints the export line again
#   scripts/ferretdb.sh stop              # stops the server and removes its directory
#
# No MongoDB server can be installed on the development and CI machines, so
# the tests talk to FerretDB 1.x, which speaks MongoDB's wire protocol and
# keeps its data in SQLite files (its sqlite handler). It is one Go module,
# built from the Go module proxy in about a minute. FerretDB has no change
# streams: the source's stream path is tested against recorded change events
# (source/mongodb/testdata/changestream), not against this server.
#
# The build cannot be `go install ...@v1.24.0` (the proxy refuses the
# module's version list), and FerretDB panics at start without
# build/version/version.txt, so: download the module, copy it to a writable
# directory, write the version file, go build ./cmd/ferretdb.
#
# Options (environment):
#   SLUICE_TMP               base directory; the server lives in $SLUICE_TMP/ferretdb
#                            (default /tmp/sluice-ferretdb)
#   SLUICE_CACHE             build cache (default ~/.cache/sluice); the binary goes
#                            to $SLUICE_CACHE/ferretdb/ferretdb-<version>/ferretdb
#   SLUICE_FERRETDB_VERSION  FerretDB version (default v1.24.0; 1.x only: 2.x
#                            needs PostgreSQL with the DocumentDB extension)
#   SLUICE_FERRETDB_PORT     port to use (default: a free port on 127.0.0.1)
#
# Listens on 127.0.0.1 only, no authentication, no TLS. Idempotent: start on
# a running server only prints the env line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/ferretdb"; else BASE=/tmp/sluice-ferretdb; fi
VERSION="${SLUICE_FERRETDB_VERSION:-v1.24.0}"
BINDIR="${SLUICE_CACHE:-$HOME/.cache/sluice}/ferretdb/ferretdb-$VERSION"
BIN="$BINDIR/ferretdb"
DATA="$BASE/data"
ENVFILE="$BASE/env.sh"
LOG="$BASE/ferretdb.log"
PIDFILE="$BASE/ferretdb.pid"

build() {
	if [ -x "$BIN" ]; then return; fi
	local go tmp dir
	go="$(command -v go 2>/dev/null || true)"
	if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
	if [ -z "$go" ]; then
		echo "ferretdb.sh: go is needed to build FerretDB $VERSION" >&2
		exit 1
	fi
	echo "ferretdb.sh: building FerretDB $VERSION into $BINDIR (once, about a minute)" >&2
	mkdir -p "$BINDIR"
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")"
	# Outside the work tree, so sluice's go.mod is neither read nor touched.
	(
		set -e
		cd "$tmp"
		"$go" mod init ferretdb-build >/dev/null 2>&1
		dir="$(GOFLAGS=-mod=mod "$go" mod download -json "github.com/FerretDB/FerretDB@$VERSION" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
		cp -r "$dir" src
		chmod -R u+w src
		echo "$VERSION" >src/build/version/version.txt
		cd src
		GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$go" build -o "$BIN.tmp" ./cmd/ferretdb
		mv "$BIN.tmp" "$BIN"
	) >"$BINDIR/build.log" 2>&1 || {
		cat "$BINDIR/build.log" >&2
		rm -rf "$tmp"
		exit 1
	}
	rm -rf "$tmp"
}

running() {
	local pid
	[ -f "$PIDFILE" ] && pid="$(cat "$PIDFILE")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start() {
	build
	mkdir -p "$BASE"
	if running && [ -f "$ENVFILE" ]; then
		print_env "$ENVFILE"
		return
	fi
	local port pid deadline
	port="$(free_port "${SLUICE_FERRETDB_PORT:-}")"
	rm -rf "$DATA" "$ENVFILE"
	mkdir -p "$DATA"
	# Detached from our stdout: start is run inside $(...), which waits for it.
	nohup "$BIN" --handler=sqlite --sqlite-url="file:$DATA/" \
		--listen-addr="127.0.0.1:$port" --debug-addr=- --telemetry=disable --log-level=warn \
		--state-dir="$BASE" </dev/null >>"$LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"
	deadline=$((SECONDS + 30))
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "ferretdb.sh: FerretDB exited during startup" >&2
			cat "$LOG" >&2
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "ferretdb.sh: FerretDB not listening after 30s" >&2
			cat "$LOG" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "export SLUICE_MONGODB_URI=mongodb://127.0.0.1:$port/" >"$ENVFILE"
	print_env "$ENVFILE"
}

stop() {
	if running; then
		stop_pid "$(cat "$PIDFILE")"
	fi
	rm -rf "$BASE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env "$ENVFILE" ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
