#!/usr/bin/env bash
# scripts/search.sh — the implementation behind scripts/opensearch.sh and
# scripts/elasticsearch.sh (see their headers for use and settings):
#
#   scripts/search.sh opensearch start|stop|env
#   scripts/search.sh elasticsearch start|stop|env [8|7]
#
# Both run an integ-test-zip distribution from Maven Central (fetched with
# mvn once and cached in ${SLUICE_CACHE:-~/.cache/sluice}) as a single-node
# cluster on 127.0.0.1 (HTTP and transport), with disk watermarks disabled
# and a small heap. Works as root: the nodes refuse to run as root, so they
# run as user "sluice" (created if missing). Idempotent: start on a running
# node only prints the env line.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

NAME="${1:-}"
OP="${2:-}"
MAJOR=""
case "$NAME" in
opensearch)
	VERSION="${SLUICE_OPENSEARCH_VERSION:-2.19.4}"
	JDKS="21 17 11" # supported by OpenSearch 2.x, in order of preference
	ENVVAR=SLUICE_OPENSEARCH_URL
	PORT_OVERRIDE="${SLUICE_OPENSEARCH_PORT:-}"
	JAVA_OVERRIDE="${SLUICE_OPENSEARCH_JAVA_HOME:-}"
	JAVA_SETTING=SLUICE_OPENSEARCH_JAVA_HOME
	HEAP="${SLUICE_OPENSEARCH_HEAP:-512m}"
	TIMEOUT="${SLUICE_OPENSEARCH_TIMEOUT:-120}"
	DIR=opensearch
	ENVPREFIX=OPENSEARCH
	ARTIFACT="org.opensearch.distribution.integ-test-zip:opensearch:$VERSION:zip"
	;;
elasticsearch)
	MAJOR="${3:-8}"
	HEAP="${SLUICE_ELASTICSEARCH_HEAP:-512m}"
	TIMEOUT="${SLUICE_ELASTICSEARCH_TIMEOUT:-120}"
	ENVPREFIX=ES
	case "$MAJOR" in
	8)
		VERSION="${SLUICE_ELASTICSEARCH_VERSION:-8.19.8}"
		JDKS="21 17" # 8.x needs 17+; 21 is what it is tested on most
		ENVVAR=SLUICE_ELASTICSEARCH_URL
		PORT_OVERRIDE="${SLUICE_ELASTICSEARCH_PORT:-}"
		JAVA_OVERRIDE="${SLUICE_ELASTICSEARCH_JAVA_HOME:-}"
		JAVA_SETTING=SLUICE_ELASTICSEARCH_JAVA_HOME
		DIR=elasticsearch
		;;
	7)
		VERSION="${SLUICE_ELASTICSEARCH7_VERSION:-7.17.29}"
		JDKS="17 11 21" # 7.17 supports 11, 17 and 21
		ENVVAR=SLUICE_ELASTICSEARCH7_URL
		PORT_OVERRIDE="${SLUICE_ELASTICSEARCH7_PORT:-}"
		JAVA_OVERRIDE="${SLUICE_ELASTICSEARCH7_JAVA_HOME:-}"
		JAVA_SETTING=SLUICE_ELASTICSEARCH7_JAVA_HOME
		DIR=elasticsearch7
		;;
	*)
		echo "usage: scripts/elasticsearch.sh start|stop|env [8|7]" >&2
		exit 2
		;;
	esac
	ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip"
	;;
*)
	echo "usage: $0 opensearch|elasticsearch start|stop|env [8|7]" >&2
	exit 2
	;;
esac
ZIP="$NAME-$VERSION.zip"
LIB_SCRIPT="$NAME.sh" # messages name the script the user ran

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/$DIR"; else BASE="/tmp/sluice-$DIR"; fi
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
	die "no JDK with major version in {$JDKS} found (set $JAVA_SETTING)"
}

# as_user_prefix prints the command prefix that runs the node as its owner:
# user sluice when we are root, nothing otherwise.
as_user_prefix() {
	if [ "$(id -u)" = 0 ]; then
		command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) not found"
		echo "runuser -u $RUNUSER --"
	fi
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
		print_env "$ENVFILE" "$MAJOR"
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
	port="$(free_port "$PORT_OVERRIDE")"
	tport="$(free_port)"
	while [ "$tport" = "$port" ]; do tport="$(free_port)"; done
	cat >"$home/config/$NAME.yml" <<CONF
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
	if [ "$NAME" = elasticsearch ]; then echo "xpack.security.enabled: false" >>"$home/config/$NAME.yml"; fi
	echo "$port" >"$BASE/http.port"
	if [ "$(id -u)" = 0 ]; then chown -R "$RUNUSER" "$BASE"; fi
	# Elasticsearch 8.x: -d, so that its launcher JVM (which waits until the
	# server is up) exits instead of staying around. OpenSearch and ES 7.x:
	# not -d, their launcher exits before the pid file is written, so the
	# startup loop could not tell a crash from a detach; -q: log to files
	# only. The working directory matters: jvm.options writes logs/gc.log
	# relative to it.
	local detach=(-q) # -d and -q exclude each other
	if [ "$MAJOR" = 8 ]; then detach=(-d); fi
	(
		cd "$home"
		exec nohup setsid $(as_user_prefix) env -u JAVA_HOME \
			"${ENVPREFIX}_JAVA_HOME=$jdk" \
			"${ENVPREFIX}_JAVA_OPTS=-Xms$HEAP -Xmx$HEAP -XX:-AlwaysPreTouch" \
			"${ENVPREFIX}_TMPDIR=$BASE/tmp" \
			"${ENVPREFIX}_PATH_CONF=$home/config" \
			"$home/bin/$NAME" "${detach[@]}" -p "$PIDFILE"
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
	print_env "$ENVFILE" "$MAJOR"
}

stop() {
	local f
	for f in "$PIDFILE" "$LAUNCHPID"; do
		alive "$f" || continue
		stop_pid "$(cat "$f")"
	done
	rm -rf "$BASE"
}

case "$OP" in
start) start ;;
stop) stop ;;
env) print_env "$ENVFILE" "$MAJOR" ;;
*)
	echo "usage: scripts/$NAME.sh start|stop|env${MAJOR:+ [8|7]}" >&2
	exit 2
	;;
esac
