#!/usr/bin/env bash
# Simulator figures for docs/benchmarks.md (gossip section): join convergence, failure
# detection and false positives at 1,000 and 10,000 nodes under 0 %, 5 % and 20 % UDP loss.
#
#   bash benches/gossip/sim.sh [seeds_1000] [seeds_10000] [wall_limit_s]
#
# Each (size, loss) runs in its own process so the peak RSS column is per run. Release build,
# deterministic per seed. A 10,000-node run needs about 8.5 GB; every run stops itself at the
# wall limit (default 1200 s) or when its RSS passes SIM_RSS_LIMIT_MB (default 16000).
set -euo pipefail
cd "$(dirname "$0")/../.."
SEEDS_1K=${1:-1,2,3}
SEEDS_10K=${2:-1}
WALL=${3:-1200}
cargo build --release -q -p cairn-gossip --example sim_figures
BIN="${CARGO_TARGET_DIR:-target}/release/examples/sim_figures"
header=1
for n in 1000 10000; do
  seeds=$SEEDS_1K
  [ "$n" = 10000 ] && seeds=$SEEDS_10K
  for loss in 0 0.05 0.2; do
    if [ $header = 1 ]; then
      "$BIN" "$n" "$loss" "$seeds" 60 "$WALL"
      header=0
    else
      "$BIN" "$n" "$loss" "$seeds" 60 "$WALL" | tail -n +3
    fi
  done
done
