#!/usr/bin/env bash
# scripts/test.sh — the whole test suite: vet, then every package with the
# race detector against throw-away services that this script starts (and
# stops at exit): PostgreSQL, MariaDB, an S3 server, FerretDB (MongoDB's
# wire protocol), Kafka, OpenSearch, Elasticsearch 8 and 7; Debezium's
# embedded engine for the differential test (scripts/debezium.sh),
# Kafka Streams' TopologyTestDriver for the streaming SQL's
# (scripts/kstreams.sh), and a Kafka Connect worker for the REST API's
# differential test (scripts/connect.sh).
# Installs PostgreSQL from Debian's packages when missing (the other scripts
# install or fetch what they need).
#
#   scripts/test.sh            # what `make test` and CI run
#   scripts/test.sh -run Snap ./source/postgres/   # extra args go to go test
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages first, in one apt-get run: the service scripts below start
# in parallel and must not race for the dpkg lock.
missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
	missing+=(postgresql postgresql-client)
fi
if ! command -v mariadbd >/dev/null 2>&1 && ! command -v mysqld >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
	missing+=(mariadb-server mariadb-client)
fi
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
	missing+=(pgbouncer) # the lease table's test through transaction pooling
fi
if ! command -v openssl >/dev/null 2>&1; then
	missing+=(openssl) # the test CA of the shared Kafka broker's SASL_SSL listener
fi
if ! command -v chromium >/dev/null 2>&1 && [ -z "${SLUICE_CHROMIUM:-}" ]; then
	missing+=(chromium) # the web console's test in a real browser (TestConsoleBrowser)
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "test.sh: installing ${missing[*]} (Debian packages)" >&2
	if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# pg_recvlogical is used by benchmarks only; psql by some tests.

OWN_TMP=""
if [ -z "${SLUICE_TMP:-}" ]; then
	SLUICE_TMP="$(mktemp -d /tmp/sluice-test.XXXXXX)"
	OWN_TMP="$SLUICE_TMP"
fi
export SLUICE_TMP
# Every service the integration tests use; each script prints its export
# line. The JVM ones take 10-30 s each: they start one after the other (their
# first start downloads with mvn, which must not run twice at once) while
# the databases, the S3 server and FerretDB start beside them.
SERVICES=(postgres mariadb s3 ferretdb jvm)
stop_services() {
	scripts/elasticsearch.sh stop 7 >/dev/null 2>&1 || true
	scripts/elasticsearch.sh stop >/dev/null 2>&1 || true
	scripts/opensearch.sh stop >/dev/null 2>&1 || true
	scripts/connect.sh stop >/dev/null 2>&1 || true
	scripts/kafka.sh stop >/dev/null 2>&1 || true
	scripts/s3.sh stop >/dev/null 2>&1 || true
	scripts/ferretdb.sh stop >/dev/null 2>&1 || true
	scripts/mariadb.sh stop >/dev/null 2>&1 || true
	scripts/postgres.sh stop >/dev/null 2>&1 || true
	if [ -n "$OWN_TMP" ]; then rm -rf "$OWN_TMP"; fi
}
trap stop_services EXIT
chmod 755 "$SLUICE_TMP" # the servers run as their own users
mkdir -p "$SLUICE_TMP/env"
# The broker gets a SASL_SSL listener with a test CA's certificate, so the
# Kafka TLS test (sink/kafka TestTLS) need not start a broker of its own
# (a JVM: 20-30 s). The other TLS tests start their private servers.
if command -v openssl >/dev/null 2>&1; then
	tlsdir="$SLUICE_TMP/kafka-tls"
	mkdir -p "$tlsdir"
	(
		cd "$tlsdir" &&
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=sluice-test-ca &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost &&
			printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 -extfile server.ext
	) >"$tlsdir/openssl.log" 2>&1 || {
		cat "$tlsdir/openssl.log" >&2
		exit 1
	}
	export SLUICE_KAFKA_TLS="$tlsdir" SLUICE_KAFKA_SASL_PASSWORD="sluice-test-$RANDOM$RANDOM"
	export SLUICE_KAFKA_TLS_CA_FILE="$tlsdir/ca.pem"
fi
start_service() {
	case "$1" in
	jvm) k="$(scripts/kafka.sh start)" && echo "$k" && eval "$k" && scripts/connect.sh start && scripts/debezium.sh start && scripts/kstreams.sh start && scripts/opensearch.sh start && scripts/elasticsearch.sh start && scripts/elasticsearch.sh start 7 ;;
	*) "scripts/$1.sh" start ;;
	esac >"$SLUICE_TMP/env/$1" 2>"$SLUICE_TMP/env/$1.log"
}
pids=()
for s in "${SERVICES[@]}"; do
	start_service "$s" &
	pids+=($!)
done
for i in "${!SERVICES[@]}"; do
	if ! wait "${pids[$i]}"; then
		echo "test.sh: starting ${SERVICES[$i]} failed:" >&2
		cat "$SLUICE_TMP/env/${SERVICES[$i]}.log" >&2
		exit 1
	fi
	cat "$SLUICE_TMP/env/${SERVICES[$i]}.log" >&2
	eval "$(cat "$SLUICE_TMP/env/${SERVICES[$i]}")"
done

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
	# The three 5-minute outage tests (issue 3: a sink's server gone for 5
	# minutes in CI) mostly wait. Inside `go test ./...` they would hold the
	# two package slots idle for ten minutes; they run instead in a go test
	# of their own (all three at once), beside the rest of the suite.
	outage='^(TestOutageLosesNothing|TestOutagePostgres|TestOutageMariaDB)$'
	go test -race -count=1 -timeout 20m -p 3 -run "$outage" ./sink/opensearch/ ./sink/postgres/ ./sink/mysql/ >"$SLUICE_TMP/outage.log" 2>&1 &
	outage_pid=$!
	rc=0
	go test -race -count=1 -timeout 20m -skip "$outage" ./... || rc=$?
	wait "$outage_pid" || rc=1
	echo "test.sh: the outage tests:" >&2
	cat "$SLUICE_TMP/outage.log"
	if [ "$rc" -ne 0 ]; then exit "$rc"; fi
	# Memory figures the race detector's allocator would distort.
	go test -count=1 -run '^TestLargeStateRSS$' ./store/
fi
