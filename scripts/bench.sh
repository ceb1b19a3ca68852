#!/usr/bin/env bash
# scripts/bench.sh — sluice's benchmark report (what `make bench` runs).
#
#   scripts/bench.sh                       # full run: 1M rows, 1M updates, 20 s latency
#   scripts/bench.sh -rows 100000 -updates 100000 -latency-seconds 5 -outage-seconds 10   # quick try
#   scripts/bench.sh -phases debezium -rows 100000 -updates 100000     # Debezium beside sluice
#   scripts/bench.sh -phases scale -scale-x10                          # with the 10M-row snapshot
#   scripts/bench.sh -phases binlog,poll -out bench/sources             # source figures
#   scripts/bench.sh -phases binlog,poll -rows 50000 -out /tmp/src      # quick try of those
#
# The binlog and poll phases start their own MariaDB (scripts/mariadb.sh
# under the work directory, stopped at the end of the phase) and need
# mariadb-binlog (mariadb-client); see cmd/sluice-bench/binlog.go and poll.go.
# The debezium phase runs scripts/debezium.sh start (Debezium 2.7.3's jars
# from Maven Central, cached in $SLUICE_CACHE; a JDK and Maven are needed).
# Arguments go to ./cmd/sluice-bench (see its -help). It starts its
# own PostgreSQL (fsync on) under a fresh directory; this script's trap stops
# that server and removes the directory on any exit, even if the Go program
# is killed. The report is printed and written to bench/last.md and
# bench/last.json.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in psql pg_recvlogical; do
	if ! command -v "$tool" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$tool" >/dev/null 2>&1; then
		echo "bench.sh: $tool not found; install postgresql and postgresql-client" >&2
		exit 1
	fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")"
chmod 755 "$WORK" # the server runs as user postgres when we are root
cleanup() {
	SLUICE_TMP="$WORK/pg" scripts/postgres.sh stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# Built then run (rather than `go run`) so that the PID below is the
# benchmark itself: a SIGTERM to this script reaches it, it stops its
# children, and only then does the trap stop the server.
go build -o "$WORK/sluice-bench" ./cmd/sluice-bench
"$WORK/sluice-bench" -workdir "$WORK" "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
status=0
wait "$pid" || status=$?
if [ "$status" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then
	# wait returned because a signal arrived; let the benchmark clean up.
	wait "$pid" || status=$?
fi
exit "$status"
