#!/usr/bin/env bash
# scripts/mariadb.sh — a throw-away MariaDB (row binlog) for sluice's tests.
#
#   eval "$(scripts/mariadb.sh start)"   # install-db + start, prints the export line
#   scripts/mariadb.sh env               # prints the export line again
#   scripts/mariadb.sh stop              # stops the server and removes its directory
#
# Options (environment):
#   SLUICE_TMP            base directory; the server lives in $SLUICE_TMP/mariadb
#                         (default /tmp/sluice-mariadb)
#   SLUICE_MARIADB_FSYNC  on|off (default off: fast for tests; use "on" for
#                         benchmarks and crash tests that must be honest about
#                         durability)
#   SLUICE_MARIADB_PORT   port to use (default: a free port on 127.0.0.1)
#   SLUICE_MARIADB_TLS    a directory with ca.pem, server.pem and server-key.pem
#                         (PEM; internal/testpki writes them): the server then
#                         requires TLS on TCP (require_secure_transport) with
#                         that certificate and trusts client certificates
#                         signed by ca.pem (for users created REQUIRE X509);
#                         SLUICE_MYSQL_DSN then says tls=skip-verify (the
#                         sources' and sinks' ssl_* keys verify).
#
# The server (mariadbd run directly, not through systemd, ignoring /etc/mysql)
# listens on 127.0.0.1 only, lets root in over TCP without a password, writes a
# row-based binlog (binlog_format=ROW, binlog_row_image=FULL,
# binlog_row_metadata=FULL where supported, server_id=1, GTID strict mode) and
# has a database named sluice_test. Works as root: mariadbd runs as user
# "mysql" (created if missing). Installs mariadb-server from Debian if no
# server binary is found. Idempotent: start on a running server only prints
# the env line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/mariadb"; else BASE=/tmp/sluice-mariadb; fi
DATA="$BASE/data"
ENVFILE="$BASE/env.sh"
LOG="$BASE/mariadbd.log"
PIDFILE="$BASE/mariadbd.pid"
SOCK="$BASE/mariadbd.sock"

find_server() {
	local b
	for b in mariadbd mysqld; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
		if [ -x "/usr/sbin/$b" ]; then echo "/usr/sbin/$b"; return; fi
	done
	return 1
}

install_server() {
	if find_server >/dev/null; then return; fi
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "mariadb.sh: no mariadbd/mysqld found; install mariadb-server" >&2
		exit 1
	fi
	echo "mariadb.sh: installing mariadb-server (apt-get)" >&2
	{
		apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
				mariadb-server mariadb-client
	} >"${TMPDIR:-/tmp}/sluice-mariadb-apt.log" 2>&1 || {
		cat "${TMPDIR:-/tmp}/sluice-mariadb-apt.log" >&2
		exit 1
	}
}

# client prints the path of the command-line client (mariadb or mysql).
client() {
	local b
	for b in mariadb mysql; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
	done
	echo "mariadb.sh: no mariadb/mysql client found; install mariadb-client" >&2
	exit 1
}

install_db() {
	local b
	for b in mariadb-install-db mysql_install_db; do
		if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
	done
	echo "mariadb.sh: no mariadb-install-db found; install mariadb-server" >&2
	exit 1
}

server_pid() {
	[ -f "$PIDFILE" ] && cat "$PIDFILE" 2>/dev/null
}

running() {
	local pid
	pid="$(server_pid)" || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# sql runs statements as root over the server's Unix socket.
sql() {
	"$(client)" --no-defaults --socket="$SOCK" -uroot "$@"
}

start() {
	install_server
	local server
	server="$(find_server)"
	if [ "$(id -u)" = 0 ] && ! id mysql >/dev/null 2>&1; then
		useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin mysql >/dev/null 2>&1 ||
			adduser --system --group --no-create-home mysql >/dev/null
	fi
	mkdir -p "$BASE"
	if [ "$(id -u)" = 0 ]; then chown mysql "$BASE"; fi
	if running && [ -f "$ENVFILE" ]; then
		print_env "$ENVFILE"
		return
	fi
	local port fsync userarg=()
	port="$(free_port "${SLUICE_MARIADB_PORT:-}")"
	fsync="${SLUICE_MARIADB_FSYNC:-off}"
	if [ "$(id -u)" = 0 ]; then userarg=(--user=mysql); fi
	if [ ! -d "$DATA/mysql" ]; then
		rm -rf "$DATA"
		"$(install_db)" --no-defaults "${userarg[@]}" --datadir="$DATA" \
			--auth-root-authentication-method=normal --skip-test-db \
			--skip-name-resolve >"$BASE/install-db.log" 2>&1 || {
			cat "$BASE/install-db.log" >&2
			exit 1
		}
	fi
	local opts=(
		--no-defaults "${userarg[@]}"
		--datadir="$DATA"
		--port="$port" --bind-address=127.0.0.1 --skip-name-resolve
		--socket="$SOCK" --pid-file="$PIDFILE" --log-error="$LOG"
		--tmpdir="$BASE"
		--server-id=1
		--log-bin="$DATA/binlog"
		--binlog-format=ROW --binlog-row-image=FULL
		--gtid-strict-mode=ON
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
		--max-connections=200
		--innodb-buffer-pool-size=128M
	)
	# binlog_row_metadata exists from MariaDB 10.5 (and MySQL 8.0).
	if "$server" --no-defaults --verbose --help 2>/dev/null | grep -q '^binlog-row-metadata '; then
		opts+=(--binlog-row-metadata=FULL)
	fi
	if [ "$fsync" = on ]; then
		opts+=(--sync-binlog=1 --innodb-flush-log-at-trx-commit=1)
	else
		opts+=(--sync-binlog=0 --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0)
	fi
	local tcpssl=() dsnparams=""
	if [ -n "${SLUICE_MARIADB_TLS:-}" ]; then
		local f
		for f in ca.pem server.pem server-key.pem; do
			[ -f "$SLUICE_MARIADB_TLS/$f" ] || { echo "mariadb.sh: SLUICE_MARIADB_TLS: $SLUICE_MARIADB_TLS/$f is missing" >&2; exit 1; }
			cp "$SLUICE_MARIADB_TLS/$f" "$BASE/tls-$f"
			chmod 600 "$BASE/tls-$f"
			if [ "$(id -u)" = 0 ]; then chown mysql "$BASE/tls-$f"; fi
		done
		opts+=(--ssl-ca="$BASE/tls-ca.pem" --ssl-cert="$BASE/tls-server.pem" --ssl-key="$BASE/tls-server-key.pem"
			--require-secure-transport=ON)
		tcpssl=(--ssl-ca="$SLUICE_MARIADB_TLS/ca.pem")
		dsnparams="?tls=skip-verify"
	fi
	rm -f "$PIDFILE" "$SOCK"
	# Detached from our stdout: start is run inside $(...), which waits for it.
	nohup "$server" "${opts[@]}" </dev/null >>"$BASE/mariadbd.out" 2>&1 &
	local pid=$! deadline=$((SECONDS + 60))
	until "$(client)" --no-defaults --socket="$SOCK" -uroot -e 'SELECT 1' >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "mariadb.sh: mariadbd exited during startup" >&2
			cat "$BASE/mariadbd.out" "$LOG" >&2 2>/dev/null || true
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "mariadb.sh: mariadbd not ready after 60s" >&2
			cat "$LOG" >&2 2>/dev/null || true
			exit 1
		fi
		sleep 0.2
	done
	# Root over TCP without a password (with skip-name-resolve a connection from
	# 127.0.0.1 matches root@'127.0.0.1', not root@localhost).
	# Setup stays out of the binlog: a test reading it from the start sees only its own events.
	sql -e "
SET SESSION sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS sluice_test;"
	"$(client)" --no-defaults "${tcpssl[@]}" -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' sluice_test >/dev/null || {
		echo "mariadb.sh: cannot log in as root over TCP" >&2
		exit 1
	}
	echo "export SLUICE_MYSQL_DSN='root@tcp(127.0.0.1:$port)/sluice_test$dsnparams'" >"$ENVFILE"
	print_env "$ENVFILE"
}

stop() {
	local pid
	if pid="$(server_pid)" && [ -n "$pid" ]; then
		stop_pid "$pid"
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
