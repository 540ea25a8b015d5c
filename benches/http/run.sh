#!/usr/bin/env bash
# HTTP API load from a second process on loopback (wrk, Debian package `wrk`), bounded in time:
#   - GET  /v1/kv/x against `cairn agent -dev` (in-memory raft log)
#   - PUT  /v1/kv/x against a persistent server (RocksDB, every raft round fsync'd)
# and the idle RSS of `cairn agent -dev`.
#
# Usage: benches/http/run.sh [seconds-per-run]   (default 10)
# Needs a release build: cargo build --release -p cairn (CARGO_TARGET_DIR honoured).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-10}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/release/cairn"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p cairn" >&2; exit 1; }
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

ports() { # http dns serf_lan serf_wan server
  printf 'ports {\n http = %s\n dns = %s\n serf_lan = %s\n serf_wan = %s\n server = %s\n grpc = -1\n}\n' "$@"
}
wait_leader() {
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$1/v1/status/leader" | grep -q ':'; then return 0; fi
    sleep 0.1
  done
  echo "no leader on port $1" >&2; exit 1
}

echo "== idle RSS of cairn agent -dev"
ports 18500 18600 18301 18302 18300 > "$WORK/dev.hcl"
"$BIN" agent -dev -node=bench -log-level=warn -config-file="$WORK/dev.hcl" > "$WORK/dev.log" 2>&1 &
DEV=$!
wait_leader 18500
sleep 5
echo "idle RSS (kB): $(awk '/VmRSS/ {print $2}' /proc/$DEV/status)"

echo "== GET /v1/kv/x, 64 connections, ${SECS}s (dev agent)"
curl -s -X PUT -d 'hello world' http://127.0.0.1:18500/v1/kv/x > /dev/null
wrk -t1 -c64 -d"${SECS}s" --latency http://127.0.0.1:18500/v1/kv/x
echo "RSS after GET load (kB): $(awk '/VmRSS/ {print $2}' /proc/$DEV/status)"
kill $DEV; wait $DEV 2>/dev/null || true

echo "== PUT /v1/kv/x, 64 connections, ${SECS}s (persistent server, RocksDB, fsync'd)"
ports 18510 18610 18311 18312 18310 > "$WORK/srv.hcl"
"$BIN" agent -server -bootstrap-expect=1 -data-dir="$WORK/data" -node=bench-s -bind=127.0.0.1 \
  -client=127.0.0.1 -log-level=warn -config-file="$WORK/srv.hcl" > "$WORK/srv.log" 2>&1 &
SRV=$!
wait_leader 18510
cat > "$WORK/put.lua" <<'LUA'
wrk.method = "PUT"
wrk.body = "0123456789abcdef0123456789abcdef"
LUA
wrk -t1 -c64 -d"${SECS}s" --latency -s "$WORK/put.lua" http://127.0.0.1:18510/v1/kv/x
kill $SRV; wait $SRV 2>/dev/null || true
