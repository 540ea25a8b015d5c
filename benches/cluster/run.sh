#!/usr/bin/env bash
# Cluster benchmark on loopback: a 3-member etcd (127.0.0.71-73) and a 3-server cairn cluster
# (127.0.0.81-83), one after the other, driven by the same load generator (wrk + load.lua) and
# the same failover probe (kvtool.py).
#
#   benches/cluster/run.sh
#
# Environment (defaults in brackets):
#   DURATION [10]            seconds of each load phase (wrk -d); each phase is also capped at
#                            MAX_REQUESTS [2000000] requests per wrk thread
#   CONCURRENCY ["16 64"]    client connections (wrk -c), 2 wrk threads
#   TARGETS ["follower leader"]  which member the load goes to
#   SYSTEMS ["etcd cairn"]   systems to measure, in this order
#   FAILOVER_ROUNDS [3]      leader kills per system
#   KEYS [1000], VALUE [256] distinct keys (preloaded before the phases), value size in bytes
#   CAIRN_BIN                cairn binary; default: `cargo build --release -p cairn` into
#                            CARGO_TARGET_DIR [/root/.cache/cairn-ci-target]
#   RESULTS_DIR              where results.tsv, results.md and the server logs are kept
#                            [/tmp/cairn-cluster-bench-<date>]
#
# Timing: cairn runs with performance.raft_multiplier=1 (raft election timeout 1 s, leader
# heartbeats every 100 ms); etcd with --election-timeout=1000 --heartbeat-interval=100.
# Both keep fsync on every raft round (their defaults).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10}"
CONCURRENCY="${CONCURRENCY:-16 64}"
TARGETS="${TARGETS:-follower leader}"
SYSTEMS="${SYSTEMS:-etcd cairn}"
FAILOVER_ROUNDS="${FAILOVER_ROUNDS:-3}"
KEYS="${KEYS:-1000}"
VALUE="${VALUE:-256}"
MAX_REQUESTS="${MAX_REQUESTS:-2000000}"
RESULTS_DIR="${RESULTS_DIR:-/tmp/cairn-cluster-bench-$(date +%Y%m%d-%H%M%S)}"
KV="python3 $HERE/kvtool.py"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- tools
command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
if ! command -v etcd >/dev/null; then
    log "installing etcd-server"
    apt-get install -y -qq etcd-server >/dev/null
fi
if [[ -z "${CAIRN_BIN:-}" ]]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/cairn-ci-target}"
    log "cargo build --release -p cairn (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$ROOT" && cargo build --release -p cairn) >&2
    CAIRN_BIN="$CARGO_TARGET_DIR/release/cairn"
fi
[[ -x "$CAIRN_BIN" ]] || die "no cairn binary at $CAIRN_BIN"

WORK="$(mktemp -d /tmp/cairn-cluster-bench.XXXXXX)"
mkdir -p "$RESULTS_DIR"
TSV="$RESULTS_DIR/results.tsv"
printf 'system\ttarget\top\tconc\trps\tp50_ms\tp99_ms\tmax_ms\trequests\terrors\tload1\n' >"$TSV"
FAILTSV="$RESULTS_DIR/failover.tsv"
printf 'system\tround\tkilled\tms\tvia\terrors_before_success\tload1\n' >"$FAILTSV"

declare -A PID=()

cleanup() {
    local rc=$?
    for k in "${!PID[@]}"; do
        kill -9 "${PID[$k]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [[ -d "$WORK" ]]; then
        cp "$WORK"/*.log "$RESULTS_DIR"/ 2>/dev/null || true
        rm -rf "$WORK"
    fi
    log "results and server logs in $RESULTS_DIR (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load1() { cut -d' ' -f1 /proc/loadavg; }

ip_of() { # system member(1..3)
    if [[ $1 == etcd ]]; then echo "127.0.0.7$2"; else echo "127.0.0.8$2"; fi
}
port_of() { if [[ $1 == etcd ]]; then echo 2379; else echo 8500; fi; }
ips_of() { echo "$(ip_of "$1" 1) $(ip_of "$1" 2) $(ip_of "$1" 3)"; }

# ---------------------------------------------------------------- etcd
ETCD_CLUSTER="e1=http://127.0.0.71:2380,e2=http://127.0.0.72:2380,e3=http://127.0.0.73:2380"
start_etcd() { # member
    local n=$1 ip; ip=$(ip_of etcd "$n")
    mkdir -p "$WORK/etcd$n"
    etcd --name "e$n" --data-dir "$WORK/etcd$n" \
        --listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
        --listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
        --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new \
        --initial-cluster-token cairn-bench \
        --heartbeat-interval 100 --election-timeout 1000 \
        --logger zap --log-level warn \
        >>"$WORK/etcd$n.log" 2>&1 &
    PID[etcd$n]=$!
}

# ---------------------------------------------------------------- cairn
start_cairn() { # member
    local n=$1 ip other; ip=$(ip_of cairn "$n")
    other=$(ip_of cairn $(( n == 1 ? 2 : 1 )))
    mkdir -p "$WORK/cairn$n"
    "$CAIRN_BIN" agent -server -bootstrap-expect=3 -node="s$n" -bind="$ip" -client="$ip" \
        -data-dir="$WORK/cairn$n" -retry-join="$other" -retry-interval=1s \
        -hcl='performance { raft_multiplier = 1 }' \
        >>"$WORK/cairn$n.log" 2>&1 </dev/null &
    PID[cairn$n]=$!
}

start_member() { if [[ $1 == etcd ]]; then start_etcd "$2"; else start_cairn "$2"; fi; }

# Leader agreed by all three members and one write accepted through each member.
wait_ready() { # system timeout_s
    local sys=$1 deadline=$((SECONDS + $2)) l ip ok
    while ((SECONDS < deadline)); do
        if l=$($KV leader "$sys" $(ips_of "$sys") 2>/dev/null); then
            ok=1
            for ip in $(ips_of "$sys"); do
                $KV put "$sys" "$ip" ready 2>/dev/null || { ok=0; break; }
            done
            if ((ok)); then echo "$l"; return 0; fi
        fi
        sleep 0.2
    done
    return 1
}

leader_index() { $KV leader "$1" $(ips_of "$1"); }

dump_logs() { # system
    local n
    for n in 1 2 3; do
        log "---- last lines of $1$n.log"
        tail -n 30 "$WORK/$1$n.log" >&2 || true
    done
}

# ---------------------------------------------------------------- load phase
run_phase() { # system target op conc
    local sys=$1 target=$2 op=$3 conc=$4 l idx ip out line la
    l=$(leader_index "$sys") || { dump_logs "$sys"; die "$sys: no agreed leader before $op phase"; }
    if [[ $target == leader ]]; then idx=$l; else idx=$(( l == 1 ? 2 : 1 )); fi
    ip=$(ip_of "$sys" "$idx")
    la=$(load1)
    log "$sys $op c=$conc -> $target ($ip), load $la"
    out=$(BENCH_SYS=$sys BENCH_OP=$op BENCH_KEYS=$KEYS BENCH_VALUE=$VALUE BENCH_MAX=$MAX_REQUESTS \
        wrk -t 2 -c "$conc" -d "${DURATION}s" --timeout 5s -s "$HERE/load.lua" \
        "http://$ip:$(port_of "$sys")/" 2>&1) || true
    echo "$out" >"$RESULTS_DIR/wrk-$sys-$target-$op-$conc.txt"
    line=$(grep '^RESULT ' <<<"$out" || true)
    [[ -n $line ]] || { echo "$out" >&2; dump_logs "$sys"; die "wrk printed no result"; }
    grep '^BADSAMPLE ' <<<"$out" >&2 || true
    # shellcheck disable=SC2086
    local $(sed 's/^RESULT //' <<<"$line")
    local errors=$((err_connect + err_read + err_write + err_status + err_timeout + bad))
    if ((errors > 0)); then
        log "  ERRORS: connect=$err_connect read=$err_read write=$err_write status=$err_status timeout=$err_timeout bad-body=$bad"
    fi
    log "  $rps req/s  p50 $p50_ms ms  p99 $p99_ms ms  max $max_ms ms"
    printf '%s\t%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\n' "$sys" "$target" "$op" "$conc" \
        "$rps" "$p50_ms" "$p99_ms" "$max_ms" "$requests" "$errors" "$la" >>"$TSV"
    sleep 2
}

# ---------------------------------------------------------------- failover
run_failover() { # system round
    local sys=$1 round=$2 l survivors="" n out la
    l=$(leader_index "$sys") || { dump_logs "$sys"; die "$sys: no agreed leader before failover"; }
    for n in 1 2 3; do ((n == l)) || survivors+=" $(ip_of "$sys" "$n")"; done
    la=$(load1)
    log "$sys failover round $round: kill -9 leader $sys$l (pid ${PID[$sys$l]}), load $la"
    # shellcheck disable=SC2086
    out=$($KV failover "$sys" "${PID[$sys$l]}" $survivors) || { dump_logs "$sys"; die "$sys: no write after leader kill"; }
    wait "${PID[$sys$l]}" 2>/dev/null || true
    unset "PID[$sys$l]"
    read -r ms via errs <<<"$out"
    log "  first write accepted after $ms ms (via $via); errors before: $errs"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sys" "$round" "$sys$l" "$ms" "$via" "$errs" "$la" >>"$FAILTSV"
    # Bring the killed member back on its data and wait for a healthy 3-member cluster.
    start_member "$sys" "$l"
    wait_ready "$sys" 90 >/dev/null || { dump_logs "$sys"; die "$sys: cluster not healthy after restarting $sys$l"; }
    sleep 3
}

# ---------------------------------------------------------------- main
{
    echo "date: $(date -Is)"
    echo "host: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "etcd: $(etcd --version | head -1) ($(dpkg-query -W -f='${Version}' etcd-server 2>/dev/null || echo '?'))"
    echo "wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')"
    echo "cairn: $CAIRN_BIN ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo "settings: DURATION=$DURATION CONCURRENCY='$CONCURRENCY' TARGETS='$TARGETS' KEYS=$KEYS VALUE=$VALUE FAILOVER_ROUNDS=$FAILOVER_ROUNDS"
} | tee "$RESULTS_DIR/env.txt" >&2

for sys in $SYSTEMS; do
    log "starting 3-member $sys cluster"
    for n in 1 2 3; do start_member "$sys" "$n"; done
    l=$(wait_ready "$sys" 90) || { dump_logs "$sys"; die "$sys cluster did not form"; }
    log "$sys leader: member $l; preloading $KEYS keys of $VALUE bytes"
    $KV preload "$sys" "$(ip_of "$sys" "$l")" "$KEYS" "$VALUE" || { dump_logs "$sys"; die "preload failed"; }
    sleep 2
    for target in $TARGETS; do
        for conc in $CONCURRENCY; do
            run_phase "$sys" "$target" write "$conc"
            run_phase "$sys" "$target" read "$conc"
        done
    done
    for ((r = 1; r <= FAILOVER_ROUNDS; r++)); do run_failover "$sys" "$r"; done
    log "stopping $sys"
    for n in 1 2 3; do
        if [[ -n "${PID[$sys$n]:-}" ]]; then
            kill -9 "${PID[$sys$n]}" 2>/dev/null || true
            wait "${PID[$sys$n]}" 2>/dev/null || true
            unset "PID[$sys$n]"
        fi
    done
    sleep 3
done

# ---------------------------------------------------------------- report
{
    echo "| system | load goes to | op | conc | ops/s | p50 ms | p99 ms | max ms | errors | load1 |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    tail -n +2 "$TSV" | while IFS=$'\t' read -r s t o c rps p50 p99 mx req err la; do
        echo "| $s | $t | $o | $c | $rps | $p50 | $p99 | $mx | $err | $la |"
    done
    echo
    echo "| system | round | killed | ms to first accepted write | via | errors before | load1 |"
    echo "|---|---|---|---|---|---|---|"
    tail -n +2 "$FAILTSV" | while IFS=$'\t' read -r s r k ms via errs la; do
        echo "| $s | $r | $k | $ms | $via | ${errs//_/ } | $la |"
    done
} | tee "$RESULTS_DIR/results.md"
