#!/usr/bin/env bash
# scripts/opensearch.sh — a throw-away OpenSearch 2.x for sluice's tests.
#
#   eval "$(scripts/opensearch.sh start)"   # unzip + start, prints the export line
#   scripts/opensearch.sh env               # prints the export line again
#   scripts/opensearch.sh stop              # stops the node and removes its directory
#
# Options (environment):
#   SLUICE_TMP                 base directory; the node lives in $SLUICE_TMP/opensearch
#                              (default /tmp/sluice-opensearch)
#   SLUICE_CACHE               where downloaded zips are kept (default ~/.cache/sluice)
#   SLUICE_OPENSEARCH_VERSION  version to run (default 2.19.4)
#   SLUICE_OPENSEARCH_PORT     HTTP port (default: a free port on 127.0.0.1)
#   SLUICE_OPENSEARCH_HEAP     JVM heap, -Xms = -Xmx (default 512m)
#   SLUICE_OPENSEARCH_JAVA_HOME  JDK to run it with (default: the first JDK 21,
#                              17 or 11 found under /usr/lib/jvm or /opt, or $JAVA_HOME)
#   SLUICE_OPENSEARCH_TIMEOUT  seconds to wait for the node (default 120)
#
# The distribution is the integ-test-zip from Maven Central
# (org.opensearch.distribution.integ-test-zip:opensearch:VERSION:zip, fetched
# with mvn once and cached): no bundled JDK, no security plugin, and only the
# transport-netty4 module — so no painless scripts, no _reindex /
# _update_by_query, no analysis-common analyzers, no ingest processors. Plain
# indexing, _bulk, get, search, mappings and the standard analyzer all work.
#
# Indices default to one replica, so with one node their health is yellow
# (start waits for yellow); create them with number_of_replicas 0 for green.
#
# The node is a single-node cluster on 127.0.0.1 only (HTTP and transport),
# with disk watermarks disabled and a small heap. Works as root: OpenSearch
# refuses to run as root, so it runs as user "sluice" (created if missing).
# Idempotent: start on a running node only prints the env line.
set -euo pipefail

NAME=opensearch
VERSION="${SLUICE_OPENSEARCH_VERSION:-2.19.4}"
ARTIFACT="org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip"
ZIP="opensearch-$VERSION.zip"
JDKS="21 17 11" # supported by OpenSearch 2.x, in order of preference
ENVVAR=SLUICE_OPENSEARCH_URL
PORT_OVERRIDE="${SLUICE_OPENSEARCH_PORT:-}"
HEAP="${SLUICE_OPENSEARCH_HEAP:-512m}"
TIMEOUT="${SLUICE_OPENSEARCH_TIMEOUT:-120}"
JAVA_OVERRIDE="${SLUICE_OPENSEARCH_JAVA_HOME:-}"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/opensearch"; else BASE=/tmp/sluice-opensearch; fi
CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}"
ENVFILE="$BASE/env.sh"
PIDFILE="$BASE/node.pid"
LAUNCHPID="$BASE/launcher.pid"
OUT="$BASE/launcher.out"
RUNUSER=sluice

die() {
	echo "$NAME.sh: $*" >&2
	exit 1
}

# fetch prints the path of the cached zip, downloading it with mvn if needed.
fetch() {
	if [ -s "$CACHE/$ZIP" ]; then echo "$CACHE/$ZIP"; return; fi
	command -v mvn >/dev/null 2>&1 || die "mvn not found; it is needed once to download $ARTIFACT"
	mkdir -p "$CACHE"
	local dl
	dl="$(mktemp -d "$CACHE/.dl.XXXXXX")"
	echo "$NAME.sh: downloading $ARTIFACT (mvn)" >&2
	mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
		-Dartifact="$ARTIFACT" -DoutputDirectory="$dl" >"$dl/mvn.log" 2>&1 || {
		cat "$dl/mvn.log" >&2
		rm -rf "$dl"
		die "cannot download $ARTIFACT"
	}
	mv -f "$dl/$ZIP" "$CACHE/$ZIP"
	rm -rf "$dl"
	echo "$CACHE/$ZIP"
}

# java_major prints the feature version of the JDK in $1 (17, 21, ...).
java_major() {
	local v=""
	if [ -f "$1/release" ]; then
		v="$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$1/release")"
	fi
	if [ -z "$v" ] && [ -x "$1/bin/java" ]; then
		v="$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)"
	fi
	v="${v#1.}"
	echo "${v%%[.+-]*}"
}

# find_java prints a JDK home whose major version is in $JDKS.
find_java() {
	if [ -n "$JAVA_OVERRIDE" ]; then
		[ -x "$JAVA_OVERRIDE/bin/java" ] || die "no bin/java in $JAVA_OVERRIDE"
		echo "$JAVA_OVERRIDE"
		return
	fi
	local want d
	for want in $JDKS; do
		for d in ${JAVA_HOME:-} /usr/lib/jvm/* /opt/*; do
			[ -d "$d" ] && [ -x "$d/bin/java" ] && [ -x "$d/bin/javac" -o -f "$d/release" ] || continue
			if [ "$(java_major "$d")" = "$want" ]; then
				readlink -f "$d"
				return
			fi
		done
	done
	die "no JDK with major version in {$JDKS} found (set SLUICE_OPENSEARCH_JAVA_HOME)"
}

free_port() {
	python3 - <<'PY' 2>/dev/null && return
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
	# Fallback without python: probe a range.
	local p
	for p in $(shuf -i 20000-29999 -n 200 2>/dev/null || seq 29200 29400); do
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free port found"
}

# as_user_prefix prints the command prefix that runs the node as its owner:
# user sluice when we are root, nothing otherwise.
as_user_prefix() {
	if [ "$(id -u)" = 0 ]; then
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) not found"
		echo "runuser -u $RUNUSER --"
	fi
}

print_env() {
	if [ ! -f "$ENVFILE" ]; then
		echo "$NAME.sh: not started (no $ENVFILE); run: eval \"\$(scripts/$NAME.sh start)\"" >&2
		exit 1
	fi
	cat "$ENVFILE"
}

alive() {
	local pid
	[ -f "$1" ] && pid="$(cat "$1" 2>/dev/null)" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

healthy() {
	curl -fsS --max-time 5 "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}

show_logs() {
	local f
	for f in "$OUT" "$BASE/logs/sluice-test.log"; do
		[ -s "$f" ] || continue
		echo "--- $f" >&2
		tail -n 40 "$f" >&2
	done
}

start() {
	command -v curl >/dev/null 2>&1 || die "curl not found"
	if [ -f "$ENVFILE" ] && alive "$PIDFILE" && healthy "$(cat "$BASE/http.port")"; then
		print_env
		return
	fi
	local zip jdk
	zip="$(fetch)"
	jdk="$(find_java)"
	if [ "$(id -u)" = 0 ] && ! id "$RUNUSER" >/dev/null 2>&1; then
		useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$RUNUSER" >/dev/null 2>&1 ||
			adduser --system --group --no-create-home "$RUNUSER" >/dev/null
	fi
	# A half-started or dead node from an earlier run: start over.
	stop
	mkdir -p "$BASE"
	local home="$BASE/$NAME-$VERSION"
	unzip -q "$zip" -d "$BASE" || die "cannot unzip $zip"
	[ -x "$home/bin/$NAME" ] || die "unexpected layout in $zip (no bin/$NAME)"
	mkdir -p "$BASE/data" "$BASE/logs" "$BASE/tmp"
	local port tport
	port="${PORT_OVERRIDE:-$(free_port)}"
	tport="$(free_port)"
	while [ "$tport" = "$port" ]; do tport="$(free_port)"; done
	cat >"$home/config/opensearch.yml" <<CONF
cluster.name: sluice-test
node.name: sluice
path.data: $BASE/data
path.logs: $BASE/logs
network.host: 127.0.0.1
http.port: $port
transport.port: $tport
discovery.type: single-node
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
CONF
	echo "$port" >"$BASE/http.port"
	if [ "$(id -u)" = 0 ]; then chown -R "$RUNUSER" "$BASE"; fi
	# Not -d: its launcher exits before the pid file is written, so the
	# startup loop could not tell a crash from a detach. -q: log to files only.
	# The working directory matters: jvm.options writes logs/gc.log relative to it.
	(
		cd "$home"
		exec nohup setsid $(as_user_prefix) env -u JAVA_HOME \
			OPENSEARCH_JAVA_HOME="$jdk" \
			OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP -XX:-AlwaysPreTouch" \
			OPENSEARCH_TMPDIR="$BASE/tmp" \
			OPENSEARCH_PATH_CONF="$home/config" \
			"$home/bin/opensearch" -q -p "$PIDFILE"
	) </dev/null >"$OUT" 2>&1 &
	echo $! >"$LAUNCHPID"
	local t0=$SECONDS deadline=$((SECONDS + TIMEOUT))
	until healthy "$port"; do
		if ! alive "$LAUNCHPID" && ! alive "$PIDFILE"; then
			echo "$NAME.sh: $NAME $VERSION exited during startup" >&2
			show_logs
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "$NAME.sh: $NAME $VERSION not ready after ${TIMEOUT}s" >&2
			show_logs
			stop
			exit 1
		fi
		sleep 0.5
	done
	echo "$NAME.sh: $NAME $VERSION (JDK $(java_major "$jdk")) up on 127.0.0.1:$port after $((SECONDS - t0))s" >&2
	echo "export $ENVVAR=http://127.0.0.1:$port" >"$ENVFILE"
	print_env
}

stop() {
	local f pid i
	for f in "$PIDFILE" "$LAUNCHPID"; do
		alive "$f" || continue
		pid="$(cat "$f")"
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
		for i in $(seq 1 25); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
	done
	rm -rf "$BASE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
