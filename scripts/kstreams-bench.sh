#!/usr/bin/env bash
# scripts/kstreams-bench.sh — the Kafka Streams half of the streaming SQL
# benchmark (issue 11): runs scripts/kstreams/Bench.java's topologies
# (a) filter + projection, (b) stream-table left join against a 1,000,000-row
# table, (c) stream-stream join within 1 hour, (d) latest value per key over
# 1,000,000 keys, against a real Kafka broker, and prints one line per
# topology (format: Bench.java's header). bench/sql/ holds the same queries
# for sluice.
#
#   source /tmp/dev/all.env                      # or: eval "$(scripts/kafka.sh start)"
#   scripts/kstreams-bench.sh                    # all four, n = 500000
#   scripts/kstreams-bench.sh -n 100000 -t a,c   # a quick try
#   JAVA_OPTS=-Xmx256m scripts/kstreams-bench.sh # bound the Streams JVM's heap
#
# Options: -n N input records per topology (c produces N orders and N
# shipments); -t topologies (comma-separated, default a,b,c,d);
# -table-rows R (b, default 1000000); -keys K (customer keys, default
# 1000000); -grace-ms G (c, default 86400000, ksqlDB's default).
# JAVA_OPTS goes to both JVMs (the producer's and the Streams app's).
# Each topology gets fresh topics named kbench-<t>-<time>-*, deleted at the
# end (also when interrupted). The jars come from scripts/kstreams.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/scripts/kstreams/Bench.java"

n=500000
topos=a,b,c,d
props=()
while [ $# -gt 0 ]; do
	case "$1" in
	-n) n="$2"; shift 2 ;;
	-t) topos="$2"; shift 2 ;;
	-table-rows) props+=("-Dbench.tableRows=$2"); shift 2 ;;
	-keys) props+=("-Dbench.keys=$2"); shift 2 ;;
	-grace-ms) props+=("-Dbench.graceMs=$2"); shift 2 ;;
	*)
		echo "usage: $0 [-n N] [-t a,b,c,d] [-table-rows R] [-keys K] [-grace-ms G]" >&2
		exit 2
		;;
	esac
done
if [ -z "${SLUICE_KAFKA_BROKERS:-}" ]; then
	echo "kstreams-bench.sh: SLUICE_KAFKA_BROKERS is not set; source /tmp/dev/all.env or eval \"\$(scripts/kafka.sh start)\"" >&2
	exit 2
fi

eval "$("$ROOT/scripts/kstreams.sh" start)"
CLASSES="$SLUICE_KSTREAMS/bench-classes"
sum="$(sha256sum "$SRC" | cut -d' ' -f1)"
if [ ! -f "$CLASSES/.sum" ] || [ "$(cat "$CLASSES/.sum")" != "$sum" ]; then
	rm -rf "$CLASSES"
	mkdir -p "$CLASSES"
	javac -nowarn -d "$CLASSES" -cp "$SLUICE_KSTREAMS/lib/*" "$SRC"
	echo "$sum" >"$CLASSES/.sum"
fi

# shellcheck disable=SC2206 # JAVA_OPTS is a list of words on purpose
java_cmd=(java ${JAVA_OPTS:-} "${props[@]+"${props[@]}"}" -cp "$SLUICE_KSTREAMS/lib/*:$CLASSES" Bench)
prefix=""
cleanup() {
	if [ -n "$prefix" ]; then "${java_cmd[@]}" clean "$prefix" || true; fi
}
trap cleanup EXIT

echo "# kstreams-bench: n=$n topologies=$topos broker=$SLUICE_KAFKA_BROKERS java=$(java -version 2>&1 | head -1) JAVA_OPTS='${JAVA_OPTS:-}' load=$(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -r -a list <<<"$topos"
for t in "${list[@]}"; do
	prefix="kbench-$t-$(date +%s%N)"
	"${java_cmd[@]}" produce "$t" "$n" "$prefix"
	"${java_cmd[@]}" run "$t" "$n" "$prefix"
	"${java_cmd[@]}" clean "$prefix"
	prefix=""
done
