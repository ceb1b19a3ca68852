#!/usr/bin/env bash
# scripts/kafka.sh — a throw-away Apache Kafka broker (KRaft, single node) for
# sluice's tests.
#
#   eval "$(scripts/kafka.sh start)"   # format storage + start, prints the export line
#   scripts/kafka.sh env               # prints the export line again
#   scripts/kafka.sh stop              # stops the broker and removes its directory
#
# Options (environment):
#   SLUICE_TMP            base directory; the broker lives in $SLUICE_TMP/kafka
#                         (default /tmp/sluice-kafka)
#   SLUICE_CACHE          download cache (default ~/.cache/sluice); the jars go
#                         to $SLUICE_CACHE/kafka/<version>/lib
#   SLUICE_KAFKA_VERSION  Apache Kafka version from Maven Central (default 3.9.2,
#                         the last 3.x: it still accepts the old protocol
#                         versions that some clients default to; 4.x works too)
#   SLUICE_KAFKA_PORT     broker port (default: a free port on 127.0.0.1); the
#                         controller gets another free port
#   SLUICE_KAFKA_HEAP     JVM heap (default 512m)
#   SLUICE_KAFKA_TLS      a directory with ca.pem, server.pem and server-key.pem
#                         (PEM, PKCS#8 key; internal/testpki writes them;
#                         server.pem must hold the name localhost): the broker
#                         gets a second listener, SASL_SSL on localhost, with
#                         user sluice for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512,
#                         password $SLUICE_KAFKA_SASL_PASSWORD (default
#                         sluice-secret); the export line adds
#                         SLUICE_KAFKA_SASL_SSL_BROKERS=localhost:PORT
#
# No Kafka distribution is downloaded: the broker's jars and all their runtime
# dependencies come from Maven Central through `mvn dependency:copy-dependencies`
# on a generated pom, once per version; later starts use the cache. The broker
# runs as `java -cp 'lib/*' kafka.Kafka server.properties` with
# process.roles=broker,controller, listeners on 127.0.0.1 only, replication
# factor 1 everywhere and auto.create.topics.enable=true. Installs a JDK and
# Maven from Debian if java or mvn is missing. Idempotent: start on a running
# broker only prints the env line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/kafka"; else BASE=/tmp/sluice-kafka; fi
VERSION="${SLUICE_KAFKA_VERSION:-3.9.2}"
CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}/kafka/$VERSION"
LIB="$CACHE/lib"
DATA="$BASE/data"
ENVFILE="$BASE/env.sh"
LOG="$BASE/kafka.log"
PIDFILE="$BASE/kafka.pid"
PROPS="$BASE/server.properties"

install_tools() {
	local missing=()
	command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
	if [ ! -f "$LIB/.complete" ]; then
		command -v mvn >/dev/null 2>&1 || missing+=(maven)
	fi
	[ "${#missing[@]}" = 0 ] && return
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "kafka.sh: missing ${missing[*]}; install them" >&2
		exit 1
	fi
	echo "kafka.sh: installing ${missing[*]} (apt-get)" >&2
	{
		apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	} >"${TMPDIR:-/tmp}/sluice-kafka-apt.log" 2>&1 || {
		cat "${TMPDIR:-/tmp}/sluice-kafka-apt.log" >&2
		exit 1
	}
}

# fetch puts the broker's jars, the admin tools' jars and a logging backend
# into $LIB, once per version.
fetch() {
	if [ -f "$LIB/.complete" ]; then return; fi
	mkdir -p "$CACHE"
	local logging
	case "$VERSION" in
	[0-3].*) # Kafka 3.x logs through log4j 1 (reload4j).
		logging='<dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>' ;;
	*) # Kafka 4.x logs through log4j 2.
		logging='<dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-1.2-api</artifactId><version>2.24.3</version></dependency>' ;;
	esac
	cat >"$CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$VERSION</version></dependency>
    $logging
  </dependencies>
</project>
POM
	echo "kafka.sh: fetching Apache Kafka $VERSION from Maven Central into $LIB" >&2
	rm -rf "$LIB"
	(cd "$CACHE" && mvn -B -q dependency:copy-dependencies \
		-DoutputDirectory=lib -DincludeScope=runtime) >"$CACHE/mvn.log" 2>&1 || {
		cat "$CACHE/mvn.log" >&2
		exit 1
	}
	touch "$LIB/.complete"
}

# main_class prints the first of the given classes that the jars in $LIB hold
# (tools moved from the Scala core to org.apache.kafka.tools over the versions).
main_class() {
	local c j
	for c in "$@"; do
		for j in "$LIB"/*.jar; do
			if command -v unzip >/dev/null 2>&1; then
				unzip -l "$j" "${c//.//}.class" >/dev/null 2>&1 && { echo "$c"; return; }
			else
				python3 -c 'import sys, zipfile; sys.exit(0 if sys.argv[2] in zipfile.ZipFile(sys.argv[1]).namelist() else 1)' \
					"$j" "${c//.//}.class" 2>/dev/null && { echo "$c"; return; }
			fi
		done
	done
	echo "kafka.sh: none of $* in $LIB" >&2
	exit 1
}

running() {
	local pid
	[ -f "$PIDFILE" ] && pid="$(cat "$PIDFILE")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

jvm() {
	java -Xmx"${SLUICE_KAFKA_HEAP:-512m}" -Xms64m -XX:+UseSerialGC -Djava.awt.headless=true \
		-Dlog4j.configuration="file:$BASE/log4j.properties" \
		-Dlog4j2.configurationFile="$BASE/log4j2.properties" \
		-cp "$LIB/*" "$@"
}

start() {
	install_tools
	fetch
	mkdir -p "$BASE"
	if running && [ -f "$ENVFILE" ]; then
		print_env "$ENVFILE"
		return
	fi
	local port cport sport="" cluster pid deadline
	port="$(free_port "${SLUICE_KAFKA_PORT:-}")"
	cport="$(free_port)"
	while [ "$cport" = "$port" ]; do cport="$(free_port)"; done
	if [ -n "${SLUICE_KAFKA_TLS:-}" ]; then
		sport="$(free_port)"
		while [ "$sport" = "$port" ] || [ "$sport" = "$cport" ]; do sport="$(free_port)"; done
	fi
	rm -rf "$DATA" "$ENVFILE"
	# Logging: INFO to $LOG for the broker, WARN to stderr for the tools.
	cat >"$BASE/log4j.properties" <<L4J
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
	cat >"$BASE/log4j2.properties" <<L4J
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
L4J
	cat >"$PROPS" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
PROPS
	local scram=() envextra=""
	if [ -n "$sport" ]; then
		local f pw="${SLUICE_KAFKA_SASL_PASSWORD:-sluice-secret}"
		for f in ca.pem server.pem server-key.pem; do
			[ -f "$SLUICE_KAFKA_TLS/$f" ] || { echo "kafka.sh: SLUICE_KAFKA_TLS: $SLUICE_KAFKA_TLS/$f is missing" >&2; exit 1; }
		done
		# A PEM key store is the private key and the certificate chain in one file.
		cat "$SLUICE_KAFKA_TLS/server-key.pem" "$SLUICE_KAFKA_TLS/server.pem" >"$BASE/tls-keystore.pem"
		chmod 600 "$BASE/tls-keystore.pem"
		sed -i \
			-e "s|^listeners=.*|listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport|" \
			-e "s|^advertised.listeners=.*|advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://localhost:$sport|" \
			-e "s|^listener.security.protocol.map=.*|listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL|" \
			"$PROPS"
		cat >>"$PROPS" <<PROPS
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$BASE/tls-keystore.pem
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_sluice="$pw";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
PROPS
		# SCRAM credentials live in the cluster metadata: written at format.
		scram=(--add-scram "SCRAM-SHA-256=[name=sluice,password=$pw]" --add-scram "SCRAM-SHA-512=[name=sluice,password=$pw]")
		envextra=" SLUICE_KAFKA_SASL_SSL_BROKERS=localhost:$sport"
	fi
	# A cluster id is 16 random bytes in unpadded URL-safe base64. One that
	# starts with "-" (1 in 64) would be read by the storage tool as an
	# option ("argument --cluster-id/-t: expected one argument"): draw
	# again, as Kafka's own Uuid.randomUuid does.
	cluster=-
	while [ "${cluster#-}" != "$cluster" ]; do
		cluster="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)"
	done
	jvm "$(main_class kafka.tools.StorageTool org.apache.kafka.tools.StorageTool)" \
		format -t "$cluster" -c "$PROPS" "${scram[@]}" >"$BASE/format.log" 2>&1 || {
		cat "$BASE/format.log" >&2
		exit 1
	}
	# The broker logs at INFO into $LOG.
	sed -e 's/^log4j.rootLogger=WARN/log4j.rootLogger=INFO/' -e 's/System.err/System.out/' \
		"$BASE/log4j.properties" >"$BASE/log4j-broker.properties"
	sed -e 's/^rootLogger.level = WARN/rootLogger.level = INFO/' -e 's/SYSTEM_ERR/SYSTEM_OUT/' \
		"$BASE/log4j2.properties" >"$BASE/log4j2-broker.properties"
	# Detached from our stdout: start is run inside $(...), which waits for it.
	nohup java -Xmx"${SLUICE_KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-Djava.awt.headless=true \
		-Dlog4j.configuration="file:$BASE/log4j-broker.properties" \
		-Dlog4j2.configurationFile="$BASE/log4j2-broker.properties" \
		-cp "$LIB/*" kafka.Kafka "$PROPS" </dev/null >>"$LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"
	deadline=$((SECONDS + 120))
	local topics
	topics="$(main_class org.apache.kafka.tools.TopicCommand kafka.admin.TopicCommand)"
	# The broker opens its listener once it is registered and unfenced; then
	# the metadata must answer through the admin API.
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		jvm "$topics" --bootstrap-server "127.0.0.1:$port" --list >/dev/null 2>"$BASE/ready.log"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "kafka.sh: broker exited during startup" >&2
			tail -50 "$LOG" >&2
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "kafka.sh: broker not ready after 120s" >&2
			tail -50 "$LOG" "$BASE/ready.log" >&2
			exit 1
		fi
		sleep 0.5
	done
	echo "export SLUICE_KAFKA_BROKERS=127.0.0.1:$port$envextra" >"$ENVFILE"
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
