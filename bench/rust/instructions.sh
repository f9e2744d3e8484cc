#!/bin/sh
# Instructions per operation of bench/rust's workloads under wasmtime, counted by callgrind
# (deterministic on a shared machine, unlike time): each module runs WORK=1 and WORK=3 (each a
# warm-up and a timed run: 2 and 6 runs), and the difference of the two totals is divided by
# 4 x the operations of one run (OPS, 100,000 for the random actions at N = 1; churn is run at
# N = 100,000 and 300,000 steps).
#
#   bench/rust/instructions.sh [MODULE.wasm ...]          # default: wall-e built from this tree
#   WORK="random_actions random_actions_realloc" OPS=100000 bench/rust/instructions.sh
#
# wall-e's module is built as run.mjs builds it (feature walle, target/walle); a peer's module
# is the one run.mjs last copied to bench/rust/target/out (run it once with --only PEER). The
# wasmtime host is examples/bench_rust.rs in this tree's target dir. See docs/benchmark-rust.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WORK=${WORK:-"random_actions random_actions_realloc churn"}
OPS=${OPS:-100000}
if [ $# -eq 0 ]; then
  (cd "$here" && cargo build -q --release --target wasm32-unknown-unknown --features walle --target-dir target/walle)
  set -- "$here/target/walle/wasm32-unknown-unknown/release/bench_rust.wasm"
fi
(cd "$root" && cargo build -q --example bench_rust)
host="${CARGO_TARGET_DIR:-$root/target}/debug/examples/bench_rust"
tmp=$(mktemp -d)
for m in "$@"; do
  for w in $WORK; do
    # The random actions' argument counts runs of OPS actions; churn's counts steps.
    case $w in churn) unit=100000 ops=100000 ;; *) unit=1 ops=$OPS ;; esac
    for n in 1 3; do
      valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$n" "$host" "$m" "$w=$((n * unit))" \
        >"$tmp/out.$n" 2>"$tmp/err.$n"
    done
    i1=$(sed -n 's/.*Collected : //p' "$tmp/err.1")
    i3=$(sed -n 's/.*Collected : //p' "$tmp/err.3")
    echo "$(basename "$m") $w: $(( (i3 - i1) / (4 * ops) )).$(( (i3 - i1) * 10 / (4 * ops) % 10 )) instructions an op  $(cat "$tmp/out.3")"
  done
done
rm -rf "$tmp"
