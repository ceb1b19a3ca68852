#!/usr/bin/env bash
# scripts/s3.sh — a throw-away S3-compatible server for sluice's tests.
#
#   eval "$(scripts/s3.sh start)"   # build once + start, prints the export line
#   scripts/s3.sh env               # prints the export line again
#   scripts/s3.sh stop              # stops the server and removes its directory
#
# The server is the Versity S3 Gateway (versitygw) with its posix backend:
# buckets are directories and objects are files under the data directory. It
# is chosen over MinIO because it is one small Go module built in about a
# minute from the Go module proxy (no prebuilt binary can be downloaded here),
# starts in well under a second, needs no cluster setup or erasure-coding
# layout, and speaks SigV4 path-style S3 (buckets, put/get/list/delete,
# multipart) the way AWS SDKs expect.
#
# Options (environment):
#   SLUICE_TMP             base directory; the server lives in $SLUICE_TMP/s3
#                          (default /tmp/sluice-s3)
#   SLUICE_CACHE           build cache (default ~/.cache/sluice); the binary goes
#                          to $SLUICE_CACHE/s3/versitygw-<version>/versitygw
#   SLUICE_S3_VERSITYGW    versitygw version (default v1.8.0; the module proxy
#                          wants an explicit version, see
#                          `go list -m -versions github.com/versity/versitygw`)
#   SLUICE_S3_PORT         port to use (default: a free port on 127.0.0.1)
#   SLUICE_S3_TLS          a directory with ca.pem, server.pem and server-key.pem
#                          (PEM; internal/testpki writes them; server.pem must
#                          hold the name localhost): the server then speaks
#                          HTTPS only, SLUICE_S3_ENDPOINT is https://localhost:PORT
#                          and SLUICE_S3_CA_FILE the CA (the s3 sink's ca_file)
#
# Listens on 127.0.0.1 only, path-style addressing, plain HTTP, root
# credentials sluice / sluice-secret-key, region us-east-1. Object metadata goes
# to extended attributes where the data directory supports them, else to a
# sidecar directory. Idempotent: start on a running server only prints the env
# line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -n "${SLUICE_TMP:-}" ]; then BASE="$SLUICE_TMP/s3"; else BASE=/tmp/sluice-s3; fi
VERSION="${SLUICE_S3_VERSITYGW:-v1.8.0}"
BINDIR="${SLUICE_CACHE:-$HOME/.cache/sluice}/s3/versitygw-$VERSION"
BIN="$BINDIR/versitygw"
DATA="$BASE/data"
ENVFILE="$BASE/env.sh"
LOG="$BASE/versitygw.log"
PIDFILE="$BASE/versitygw.pid"
ACCESS_KEY=sluice
SECRET_KEY=sluice-secret-key
REGION=us-east-1

build() {
	if [ -x "$BIN" ]; then return; fi
	local go
	go="$(command -v go 2>/dev/null || true)"
	if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
	if [ -z "$go" ]; then
		echo "s3.sh: go is needed to build versitygw $VERSION" >&2
		exit 1
	fi
	echo "s3.sh: building versitygw $VERSION into $BINDIR (once)" >&2
	mkdir -p "$BINDIR"
	# Outside the work tree, so sluice's go.mod is neither read nor touched.
	(cd "$BINDIR" && GOBIN="$BINDIR" GOFLAGS=-buildvcs=false GO111MODULE=on \
		"$go" install "github.com/versity/versitygw/cmd/versitygw@$VERSION") >"$BINDIR/build.log" 2>&1 || {
		cat "$BINDIR/build.log" >&2
		exit 1
	}
}

# xattrs_work tells whether the data directory takes user extended attributes.
xattrs_work() {
	python3 - "$DATA" <<'PY' 2>/dev/null
import os, sys
p = os.path.join(sys.argv[1], ".xattr-probe")
open(p, "w").close()
try:
    os.setxattr(p, "user.sluice", b"1")
finally:
    os.remove(p)
PY
}

running() {
	local pid
	[ -f "$PIDFILE" ] && pid="$(cat "$PIDFILE")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

start() {
	build
	mkdir -p "$BASE"
	if running && [ -f "$ENVFILE" ]; then
		print_env "$ENVFILE"
		return
	fi
	local port pid deadline meta=() tls=() scheme=http host=127.0.0.1 curlca=() caenv=""
	port="$(free_port "${SLUICE_S3_PORT:-}")"
	rm -rf "$DATA" "$BASE/meta" "$ENVFILE"
	mkdir -p "$DATA"
	if ! xattrs_work; then
		mkdir -p "$BASE/meta"
		meta=(--sidecar "$BASE/meta")
	fi
	if [ -n "${SLUICE_S3_TLS:-}" ]; then
		local f
		for f in ca.pem server.pem server-key.pem; do
			[ -f "$SLUICE_S3_TLS/$f" ] || { echo "s3.sh: SLUICE_S3_TLS: $SLUICE_S3_TLS/$f is missing" >&2; exit 1; }
		done
		tls=(--cert "$SLUICE_S3_TLS/server.pem" --key "$SLUICE_S3_TLS/server-key.pem")
		scheme=https host=localhost curlca=(--cacert "$SLUICE_S3_TLS/ca.pem")
		caenv=" SLUICE_S3_CA_FILE=$SLUICE_S3_TLS/ca.pem"
	fi
	# Detached from our stdout: start is run inside $(...), which waits for it.
	nohup "$BIN" --port "127.0.0.1:$port" \
		--access "$ACCESS_KEY" --secret "$SECRET_KEY" --region "$REGION" \
		--health /health --quiet "${tls[@]}" \
		posix "${meta[@]}" "$DATA" </dev/null >>"$LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDFILE"
	deadline=$((SECONDS + 30))
	until curl -fsS "${curlca[@]}" -o /dev/null "$scheme://$host:$port/health" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "s3.sh: versitygw exited during startup" >&2
			cat "$LOG" >&2
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "s3.sh: versitygw not ready after 30s" >&2
			cat "$LOG" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "export SLUICE_S3_ENDPOINT=$scheme://$host:$port$caenv SLUICE_S3_ACCESS_KEY=$ACCESS_KEY SLUICE_S3_SECRET_KEY=$SECRET_KEY SLUICE_S3_REGION=$REGION" >"$ENVFILE"
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
