#!/usr/bin/env bash
# scripts/postgres.sh — a throw-away PostgreSQL for sluice's tests.
#
#   eval "$(scripts/postgres.sh start)"   # initdb + start, prints the export line
#   scripts/postgres.sh env               # prints the export line again
#   scripts/postgres.sh stop              # stops the server and removes its directory
#
# Options (environment):
#   SLUICE_TMP      base directory; the server lives in $SLUICE_TMP/postgres
#                   (default /tmp/sluice-pg)
#   SLUICE_PG_FSYNC on|off (default off: fast for tests; use "on" for benchmarks
#                   and crash tests that must be honest about durability)
#   SLUICE_PG_PORT  port to use (default: a free port on 127.0.0.1)
#   SLUICE_PG_TLS   a directory with ca.pem, server.pem and server-key.pem
#                   (PEM; internal/testpki writes them): the server then
#                   speaks TLS only on TCP, with that certificate, and
#                   pg_hba.conf (TCP from 127.0.0.1, TLS only) trusts user
#                   postgres, wants a client certificate signed by ca.pem
#                   from user sluice_cert, and a password (scram-sha-256)
#                   from everyone else; the unix socket still trusts all.
#                   SLUICE_PG_DSN then says host localhost (the name
#                   server.pem must hold), sslmode=verify-full and
#                   sslrootcert=DIR/ca.pem.
#
# The server listens on 127.0.0.1 only, trusts local connections, has
# wal_level=logical and enough slots and WAL senders for parallel tests, and a
# database named sluice_test. Works as root: initdb and postgres run as user
# "postgres" (created if missing). Idempotent: start on a running server only
# prints the env line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/postgres"; else BASE=/tmp/sluice-pg; fi
DATA="$BASE/data"
ENVFILE="$BASE/env.sh"
LOG="$BASE/postgres.log"

find_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d="$(pg_config --bindir 2>/dev/null || true)"
		if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ]; then echo "$d"; return; fi
	done
	if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
	echo "postgres.sh: cannot find PostgreSQL binaries (initdb); install postgresql" >&2
	exit 1
}

# as_pg runs a command as the database owner: user postgres when we are root.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

running() {
	[ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
	BIN="$(find_bindir)"
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres >/dev/null 2>&1 ||
			adduser --system --group --home /var/lib/postgresql postgres >/dev/null
	fi
	mkdir -p "$BASE"
	if [ "$(id -u)" = 0 ]; then chown postgres "$BASE"; fi
	if running; then
		print_env "$ENVFILE"
		return
	fi
	local port fsync
	port="$(free_port "${SLUICE_PG_PORT:-}")"
	fsync="${SLUICE_PG_FSYNC:-off}"
	if [ ! -f "$DATA/PG_VERSION" ]; then
		rm -rf "$DATA"
		as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 ||
			as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$BASE/initdb.log" 2>&1 || {
			cat "$BASE/initdb.log" >&2
			exit 1
		}
	fi
	cat >"$DATA/sluice.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$BASE'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
max_connections = 200
fsync = $fsync
synchronous_commit = $([ "$fsync" = on ] && echo on || echo off)
full_page_writes = $fsync
shared_buffers = 128MB
log_min_messages = warning
CONF
	local dsn="postgres://postgres@127.0.0.1:$port/sluice_test?sslmode=disable"
	# (quoted only with TLS: cmd/sluice-bench reads the line unquoted)
	if [ -n "${SLUICE_PG_TLS:-}" ]; then
		# The key must be the server user's and private, so copies.
		local f
		for f in ca.pem server.pem server-key.pem; do
			[ -f "$SLUICE_PG_TLS/$f" ] || { echo "postgres.sh: SLUICE_PG_TLS: $SLUICE_PG_TLS/$f is missing" >&2; exit 1; }
			cp "$SLUICE_PG_TLS/$f" "$DATA/tls-$f"
			chmod 600 "$DATA/tls-$f"
			if [ "$(id -u)" = 0 ]; then chown postgres "$DATA/tls-$f"; fi
		done
		cat >>"$DATA/sluice.conf" <<CONF
ssl = on
ssl_cert_file = 'tls-server.pem'
ssl_key_file = 'tls-server-key.pem'
ssl_ca_file = 'tls-ca.pem'
password_encryption = 'scram-sha-256'
CONF
		as_pg sh -c "cat >'$DATA/pg_hba.conf'" <<HBA
local     all          all                       trust
hostssl   all          postgres    127.0.0.1/32  trust
hostssl   replication  postgres    127.0.0.1/32  trust
hostssl   all          sluice_cert 127.0.0.1/32  cert
hostssl   replication  sluice_cert 127.0.0.1/32  cert
hostssl   all          all         127.0.0.1/32  scram-sha-256
hostssl   replication  all         127.0.0.1/32  scram-sha-256
HBA
		dsn="'postgres://postgres@localhost:$port/sluice_test?sslmode=verify-full&sslrootcert=$SLUICE_PG_TLS/ca.pem'"
	fi
	grep -q "include_if_exists = 'sluice.conf'" "$DATA/postgresql.conf" ||
		echo "include_if_exists = 'sluice.conf'" >>"$DATA/postgresql.conf"
	as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null || {
		cat "$LOG" >&2
		exit 1
	}
	local i
	for i in $(seq 1 50); do
		"$BIN/pg_isready" -h 127.0.0.1 -p "$port" -q && break
		sleep 0.2
	done
	# Through the socket: it trusts every user, with or without TLS.
	as_pg "$BIN/psql" -h "$BASE" -p "$port" -U postgres -d postgres -qtAc \
		"SELECT 1 FROM pg_database WHERE datname='sluice_test'" | grep -q 1 ||
		as_pg "$BIN/psql" -h "$BASE" -p "$port" -U postgres -d postgres -qc "CREATE DATABASE sluice_test" >/dev/null
	echo "export SLUICE_PG_DSN=$dsn" >"$ENVFILE"
	print_env "$ENVFILE"
}

stop() {
	BIN="$(find_bindir)"
	if [ -f "$DATA/postmaster.pid" ]; then
		as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
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
