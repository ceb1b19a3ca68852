#!/usr/bin/env bash
# scripts/kstreams.sh — Kafka Streams 3.9.2 (the library ksqlDB compiles
# to) with its TopologyTestDriver, for the streaming SQL's differential
# tests: scripts/kstreams/Oracle.java runs one topology on records read from
# stdin and prints its output (see its header). No broker is needed.
#
#   eval "$(scripts/kstreams.sh start)"   # fetch + compile once, print the export line
#   scripts/kstreams.sh env               # the export line (fails if not fetched)
#   scripts/kstreams.sh stop              # nothing runs in the background: a no-op
#
# The jars come from Maven Central (`mvn dependency:copy-dependencies` on a
# generated pom) into $SLUICE_CACHE/kstreams/<version>/lib (default
# ~/.cache/sluice). The export line sets SLUICE_KSTREAMS; the tests run
# `java -cp "$SLUICE_KSTREAMS/lib/*:$SLUICE_KSTREAMS/classes" Oracle`.
set -euo pipefail
VERSION=3.9.2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${SLUICE_CACHE:-$HOME/.cache/sluice}/kstreams/$VERSION"
SRC="$ROOT/scripts/kstreams/Oracle.java"

fetch() {
	if [ -f "$DIR/lib/.complete" ]; then return; fi
	command -v mvn >/dev/null && command -v javac >/dev/null || {
		echo "kstreams.sh: needs a JDK (javac) and Maven (mvn); scripts/debezium.sh installs them" >&2
		exit 1
	}
	mkdir -p "$DIR"
	cat >"$DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>kstreams-oracle</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams-test-utils</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId><version>2.16.2</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
	echo "kstreams.sh: fetching Kafka Streams $VERSION from Maven Central into $DIR/lib" >&2
	rm -rf "$DIR/lib"
	(cd "$DIR" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime) >"$DIR/mvn.log" 2>&1 || {
		cat "$DIR/mvn.log" >&2
		exit 1
	}
	touch "$DIR/lib/.complete"
}

compile() {
	local sum
	sum="$(sha256sum "$SRC" | cut -d' ' -f1)"
	if [ -f "$DIR/classes/.sum" ] && [ "$(cat "$DIR/classes/.sum")" = "$sum" ]; then return; fi
	rm -rf "$DIR/classes"
	mkdir -p "$DIR/classes"
	javac -nowarn -d "$DIR/classes" -cp "$DIR/lib/*" "$SRC"
	echo "$sum" >"$DIR/classes/.sum"
}

print_env() { printf 'export SLUICE_KSTREAMS=%q\n' "$DIR"; }

case "${1:-}" in
start)
	fetch
	compile
	print_env
	;;
env)
	if [ ! -f "$DIR/lib/.complete" ] || [ ! -f "$DIR/classes/.sum" ]; then
		echo "kstreams.sh: not fetched; run scripts/kstreams.sh start" >&2
		exit 1
	fi
	print_env
	;;
stop) ;;
*)
	echo "usage: $0 start|env|stop" >&2
	exit 2
	;;
esac
