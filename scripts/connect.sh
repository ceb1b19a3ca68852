#!/usr/bin/env bash
# scripts/connect.sh — a throw-away Apache Kafka Connect worker (distributed
# mode, one worker) for sluice's REST differential test (serve TestConnectDifferential):
# the same calls go to this worker and to `sluice serve`, and the status codes
# and body shapes must match.
#
#   scripts/connect.sh fetch              # download the jars once (no worker)
#   eval "$(scripts/connect.sh start)"    # start the worker, print the export line
#   scripts/connect.sh env                # prints the export line again
#   scripts/connect.sh stop               # stops the worker and removes its directory
#
# Needs a broker: SLUICE_KAFKA_BROKERS (from scripts/kafka.sh). Distributed
# mode, as production runs Connect: configs, offsets and statuses live in
# three internal topics named after a random group id (so several workers can
# share one broker). Standalone mode would start a little faster but answers
# several error cases with a NullPointerException (500) where distributed
# mode answers 404, and the test compares against the real thing's answers.
#
# Options (environment):
#   SLUICE_TMP            base directory; the worker lives in $SLUICE_TMP/connect
#                         (default /tmp/sluice-connect)
#   SLUICE_CACHE          download cache (default ~/.cache/sluice); the jars go
#                         to $SLUICE_CACHE/kafka/<version>/connect/lib
#   SLUICE_KAFKA_VERSION  Apache Kafka version (default 3.9.2, as kafka.sh)
#   SLUICE_CONNECT_PORT   REST port (default: a free port on 127.0.0.1)
#   SLUICE_CONNECT_HEAP   JVM heap (default 256m)
#
# As kafka.sh does, no distribution is downloaded: connect-runtime,
# connect-file and connect-json with their runtime dependencies come from
# Maven Central through `mvn dependency:copy-dependencies` on a generated pom,
# once per version. The export line sets SLUICE_CONNECT_URL (http://HOST:PORT)
# and SLUICE_CONNECT_FILES, a directory the worker's FileStream connectors may
# read and write (the test puts its files there). Idempotent: start on a
# running worker only prints the env line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/connect"; else BASE=/tmp/sluice-connect; fi
VERSION="${SLUICE_KAFKA_VERSION:-3.9.2}"
CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka/$VERSION/connect"
LIB="$CACHE/lib"
ENVFILE="$BASE/env.sh"
LOG="$BASE/connect.log"
PIDFILE="$BASE/connect.pid"
PROPS="$BASE/worker.properties"

install_tools() {
	local missing=()
	command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
	if [ ! -f "$LIB/.complete" ]; then
		command -v mvn >/dev/null 2>&1 || missing+=(maven)
	fi
	[ "${#missing[@]}" = 0 ] && return
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "connect.sh: missing ${missing[*]}; install them" >&2
		exit 1
	fi
	echo "connect.sh: installing ${missing[*]} (apt-get)" >&2
	{
		apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	} >"${TMPDIR:-/tmp}/sluice-connect-apt.log" 2>&1 || {
		cat "${TMPDIR:-/tmp}/sluice-connect-apt.log" >&2
		exit 1
	}
}

fetch() {
	install_tools
	if [ -f "$LIB/.complete" ]; then return; fi
	mkdir -p "$CACHE"
	cat >"$CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>connect-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-file</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
	echo "connect.sh: fetching Kafka Connect $VERSION from Maven Central into $LIB" >&2
	rm -rf "$LIB"
	(cd "$CACHE" && mvn -B -q dependency:copy-dependencies \
		-DoutputDirectory=lib -DincludeScope=runtime) >"$CACHE/mvn.log" 2>&1 || {
		cat "$CACHE/mvn.log" >&2
		exit 1
	}
	touch "$LIB/.complete"
}

running() {
	local pid
	[ -f "$PIDFILE" ] && pid="$(cat "$PIDFILE")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start() {
	fetch
	if [ -z "${SLUICE_KAFKA_BROKERS:-}" ]; then
		echo "connect.sh: SLUICE_KAFKA_BROKERS is not set; run: eval \"\$(scripts/kafka.sh start)\"" >&2
		exit 1
	fi
	mkdir -p "$BASE"
	if running && [ -f "$ENVFILE" ]; then
		print_env "$ENVFILE"
		return
	fi
	local port pid deadline
	port="$(free_port "${SLUICE_CONNECT_PORT:-}")"
	rm -rf "$BASE/files" "$ENVFILE"
	mkdir -p "$BASE/files"
	cat >"$BASE/log4j.properties" <<L4J
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.reflections=ERROR
L4J
	# The converters are the ones of Kafka's own connect-distributed.properties.
	local group
	group="sluice-connect-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	cat >"$PROPS" <<PROPS
bootstrap.servers=$SLUICE_KAFKA_BROKERS
group.id=$group
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$port
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
config.storage.topic=$group-configs
offset.storage.topic=$group-offsets
status.storage.topic=$group-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=1
status.storage.partitions=1
offset.flush.interval.ms=1000
scheduled.rebalance.max.delay.ms=0
PROPS
	nohup java -Xmx"${SLUICE_CONNECT_HEAP:-256m}" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Djava.awt.headless=true \
		-Dlog4j.configuration="file:$BASE/log4j.properties" \
		-cp "$LIB/*" org.apache.kafka.connect.cli.ConnectDistributed "$PROPS" </dev/null >>"$LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"
	deadline=$((SECONDS + 120))
	# GET /health answers 200 once the worker has joined its group and read
	# the config topic (KIP-1017); GET / answers earlier.
	until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "connect.sh: worker exited during startup" >&2
			tail -50 "$LOG" >&2
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "connect.sh: worker not ready after 120s" >&2
			tail -50 "$LOG" >&2
			exit 1
		fi
		sleep 0.5
	done
	printf 'export SLUICE_CONNECT_URL=%q SLUICE_CONNECT_FILES=%q\n' "http://127.0.0.1:$port" "$BASE/files" >"$ENVFILE"
	print_env "$ENVFILE"
}

stop() {
	if running; then
		stop_pid "$(cat "$PIDFILE")"
	fi
	rm -rf "$BASE"
}

case "${1:-}" in
fetch) fetch ;;
start) start ;;
stop) stop ;;
env) print_env "$ENVFILE" ;;
*)
	echo "usage: $0 fetch|start|stop|env" >&2
	exit 2
	;;
esac
