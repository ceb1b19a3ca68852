# scripts/lib.sh — helpers shared by the throw-away service scripts
# (postgres.sh, mariadb.sh, kafka.sh, s3.sh, search.sh). Sourced, not run.

LIB_SCRIPT="$(basename "$0")"

# free_port [PORT] prints PORT when given, else a free TCP port on 127.0.0.1.
free_port() {
	if [ -n "${1:-}" ]; then echo "$1"; return; fi
	python3 - <<'PY' 2>/dev/null && return
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
	# Fallback without python: probe random ports.
	local p
	for p in $(shuf -i 20000-29999 -n 200 2>/dev/null || seq 29200 29400); do
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
	done
	echo "$LIB_SCRIPT: no free port found" >&2
	exit 1
}

# print_env ENVFILE [START_ARGS] prints the export line written by start, or
# says how to start the service.
print_env() {
	if [ ! -f "$1" ]; then
		echo "$LIB_SCRIPT: not started (no $1); run: eval \"\$(scripts/$LIB_SCRIPT start${2:+ $2})\"" >&2
		exit 1
	fi
	cat "$1"
}

# stop_pid PID: SIGTERM, wait up to 30 s, then SIGKILL and wait up to 5 s.
stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null || return 0
	for i in $(seq 1 150); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$1" 2>/dev/null || true
	for i in $(seq 1 25); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.2
	done
}
