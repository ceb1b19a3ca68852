#!/usr/bin/env bash
# scripts/debezium.sh — Debezium 2.7.3's embedded engine for sluice's
# differential tests (cmd/sluice TestDebeziumDifferential): the jars of
# debezium-embedded and debezium-connector-postgres with their runtime
# dependencies, from Maven Central, and scripts/debezium/Capture.java
# compiled against them.
#
#   eval "$(scripts/debezium.sh start)"   # fetch + compile once, print the export line
#   scripts/debezium.sh env               # the export line (fails if not fetched)
#   scripts/debezium.sh stop              # nothing runs in the background: a no-op
#
# Options (environment):
#   SLUICE_CACHE  download cache (default ~/.cache/sluice); everything goes
#                 to $SLUICE_CACHE/debezium/<version>/ (lib/*.jar, classes/)
#
# No Debezium distribution is downloaded: `mvn dependency:copy-dependencies`
# on a generated pom resolves the two artifacts (without the optional
# io.confluent Avro converter, which Maven Central does not serve). The
# export line sets SLUICE_DEBEZIUM to that directory; the test runs
# `java -cp "$SLUICE_DEBEZIUM/lib/*:$SLUICE_DEBEZIUM/classes" Capture <props>`.
# Installs a JDK and Maven from Debian if javac or mvn is missing.
set -euo pipefail
VERSION=2.7.3.Final
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${SLUICE_CACHE:-$HOME/.cache/sluice}/debezium/$VERSION"
SRC="$ROOT/scripts/debezium/Capture.java"

install_tools() {
	local missing=()
	command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
	command -v mvn >/dev/null 2>&1 || missing+=(maven)
	[ "${#missing[@]}" = 0 ] && return
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "debezium.sh: missing ${missing[*]}; install them" >&2
		exit 1
	fi
	echo "debezium.sh: installing ${missing[*]} (apt-get)" >&2
	{
		apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	} >"${TMPDIR:-/tmp}/sluice-debezium-apt.log" 2>&1 || {
		cat "${TMPDIR:-/tmp}/sluice-debezium-apt.log" >&2
		exit 1
	}
}

fetch() {
	if [ -f "$DIR/lib/.complete" ]; then return; fi
	mkdir -p "$DIR"
	cat >"$DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sluice</groupId>
  <artifactId>debezium-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.debezium</groupId><artifactId>debezium-embedded</artifactId><version>$VERSION</version>
      <exclusions><exclusion><groupId>io.confluent</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
    <dependency><groupId>io.debezium</groupId><artifactId>debezium-connector-postgres</artifactId><version>$VERSION</version>
      <exclusions><exclusion><groupId>io.confluent</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
	echo "debezium.sh: fetching Debezium $VERSION from Maven Central into $DIR/lib" >&2
	rm -rf "$DIR/lib"
	(cd "$DIR" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime) >"$DIR/mvn.log" 2>&1 || {
		cat "$DIR/mvn.log" >&2
		exit 1
	}
	# Two SLF4J bindings would make it pick one at random: keep slf4j-simple.
	rm -f "$DIR"/lib/slf4j-reload4j-*.jar
	touch "$DIR/lib/.complete"
}

# compile rebuilds Capture when its source changed.
compile() {
	local sum
	sum="$(sha256sum "$SRC" | cut -d' ' -f1)"
	if [ -f "$DIR/classes/.sum" ] && [ "$(cat "$DIR/classes/.sum")" = "$sum" ]; then return; fi
	rm -rf "$DIR/classes"
	mkdir -p "$DIR/classes"
	javac -nowarn -d "$DIR/classes" -cp "$DIR/lib/*" "$SRC"
	echo "$sum" >"$DIR/classes/.sum"
}

print_env() { printf 'export SLUICE_DEBEZIUM=%q\n' "$DIR"; }

case "${1:-}" in
start)
	install_tools
	fetch
	compile
	print_env
	;;
env)
	if [ ! -f "$DIR/lib/.complete" ] || [ ! -f "$DIR/classes/.sum" ]; then
		echo "debezium.sh: not fetched; run scripts/debezium.sh start" >&2
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
