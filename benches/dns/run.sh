#!/usr/bin/env bash
# cairn-dns vs Knot DNS on loopback with dnsperf (bounded: every run has -l and -Q).
#
#   bash benches/dns/run.sh [seconds-per-run]
#
# Serves 100 passing instances of web.service.consul from cairn-dns's bench_server example
# (in-memory backend, as a server agent answers) and an equivalent static zone from knotd,
# then measures each with dnsperf: maximum throughput (-Q well above either server), then
# latency percentiles at half of cairn's maximum rate (-v per-query latencies).
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_RUN="${1:-10}"
CAIRN_PORT=18600
KNOT_PORT=18601
INSTANCES=100
MAX_QPS=400000
WORK="$(mktemp -d /tmp/cairn-dns-bench.XXXXXX)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cairn-bench-target}"

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v knotd >/dev/null || need+=(knot)
command -v dig >/dev/null || need+=(dnsutils)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

# BENCH_SERVER: an already built bench_server (e.g. to compare two versions).
if [ -n "${BENCH_SERVER:-}" ]; then
  BIN="$BENCH_SERVER"
else
  cargo build --release -q -p cairn-dns --example bench_server
  BIN="$CARGO_TARGET_DIR/release/examples/bench_server"
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the equivalent static zone: the same names, and for web.service.consul the answer
# cairn gives a non-EDNS client (3 A records; 3 SRV records with their glue).
mkdir -p "$WORK/knot/run" "$WORK/knot/db"
{
  echo '$ORIGIN consul.'
  echo '$TTL 0'
  echo '@ IN SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0'
  echo '@ IN NS ns.consul.'
  echo 'ns IN A 127.0.0.1'
  for i in 0 1 2; do
    echo "web.service IN A 10.1.0.$((i + 1))"
    echo "web.service IN SRV 1 1 8080 node-$i.node.dc1"
  done
  for i in $(seq 0 $((INSTANCES - 1))); do
    echo "node-$i.node.dc1 IN A 10.1.$((i / 250)).$((i % 250 + 1))"
  done
} >"$WORK/knot/consul.zone"
cat >"$WORK/knot/knot.conf" <<CONF
server:
    rundir: "$WORK/knot/run"
    listen: 127.0.0.1@$KNOT_PORT
database:
    storage: "$WORK/knot/db"
log:
  - target: stderr
    any: error
zone:
  - domain: consul.
    storage: "$WORK/knot"
    file: consul.zone
CONF

"$BIN" --listen "127.0.0.1:$CAIRN_PORT" --instances "$INSTANCES" --max-seconds 900 >"$WORK/cairn.log" 2>&1 &
pids+=($!)
knotd -c "$WORK/knot/knot.conf" >"$WORK/knot.log" 2>&1 &
pids+=($!)

for port in $CAIRN_PORT $KNOT_PORT; do
  for _ in $(seq 1 50); do
    dig @127.0.0.1 -p "$port" +short +time=1 +tries=1 web.service.consul A >/dev/null 2>&1 && break
    sleep 0.2
  done
done
echo "cairn answer: $(dig @127.0.0.1 -p $CAIRN_PORT +short +noedns web.service.consul A | tr '\n' ' ')"
echo "knot answer:  $(dig @127.0.0.1 -p $KNOT_PORT +short +noedns web.service.consul A | tr '\n' ' ')"

printf 'web.service.consul A\nweb.service.consul SRV\n' >"$WORK/queries.txt"

# max_run NAME PORT -> prints qps
max_run() {
  local out
  out=$(dnsperf -s 127.0.0.1 -p "$2" -d "$WORK/queries.txt" -l "$SECONDS_PER_RUN" -Q "$MAX_QPS" \
    -c 8 -T 1 -q 256 2>&1)
  echo "$out" >"$WORK/$1-max.txt"
  echo "$out" | awk '/Queries per second/ {print int($4)}'
}

# latency_run NAME PORT QPS -> prints "p50 p99 p999 lost" in microseconds
latency_run() {
  dnsperf -s 127.0.0.1 -p "$2" -d "$WORK/queries.txt" -l "$SECONDS_PER_RUN" -Q "$3" \
    -c 8 -T 1 -q 256 -v >"$WORK/$1-lat.txt" 2>&1 || true
  awk '$1 == ">" && $2 == "NOERROR" { print $NF * 1000000 }' "$WORK/$1-lat.txt" | sort -n >"$WORK/$1-lat.sorted"
  local n lost
  n=$(wc -l <"$WORK/$1-lat.sorted")
  lost=$(awk '/Queries lost/ {print $3}' "$WORK/$1-lat.txt")
  awk -v n="$n" -v lost="$lost" '
    NR == int(n * 0.50) + 1 { p50 = $1 }
    NR == int(n * 0.99) + 1 { p99 = $1 }
    NR == int(n * 0.999) + 1 { p999 = $1 }
    END { printf "%.0f %.0f %.0f %s\n", p50, p99, p999, lost }' "$WORK/$1-lat.sorted"
}

cairn_max=$(max_run cairn $CAIRN_PORT)
knot_max=$(max_run knot $KNOT_PORT)
half=$((cairn_max / 2))
read -r c50 c99 c999 clost < <(latency_run cairn $CAIRN_PORT "$half")
read -r k50 k99 k999 klost < <(latency_run knot $KNOT_PORT "$half")

echo
echo "runs of ${SECONDS_PER_RUN}s; query mix: web.service.consul A and SRV (no EDNS)"
printf '%-6s %12s %10s %10s %10s %8s\n' server "max q/s" "p50 us" "p99 us" "p99.9 us" lost
printf '%-6s %12s %10s %10s %10s %8s\n' cairn "$cairn_max" "$c50" "$c99" "$c999" "$clost"
printf '%-6s %12s %10s %10s %10s %8s\n' knot "$knot_max" "$k50" "$k99" "$k999" "$klost"
echo "latency runs at $half q/s (half of cairn's maximum)"
awk -v c="$cairn_max" -v k="$knot_max" 'BEGIN { printf "cairn/knot throughput: %.0f%%\n", 100 * c / k }'
