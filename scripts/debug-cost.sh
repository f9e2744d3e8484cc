#!/usr/bin/env bash
# What a debug (dev-profile) build of a dependent costs with wall-e as its global allocator, on
# wasm32-wasip1 under Node's WASI: tests/dependents/debug-cost built six ways and run; Markdown
# tables of milliseconds per workload (each run's median wall times, then over all runs: median
# wall time, fastest repetition, median thread CPU time). uptime's load average is printed: on a
# loaded machine, read the CPU-time table.
#
#   scripts/debug-cost.sh [runs]     (runs: how many times to run each build, default 1;
#                                     each run prints its own table)
#
# Builds, each in its own target dir under target/debug-cost/<mode>:
#   default-debug   dev profile, the target's default allocator
#   walle-debug     dev profile, wall-e (feature `wall-e`)
#   walle-o3-debug  dev profile, wall-e, with --config 'profile.dev.package.wall-e.opt-level=3'
#                   (the override a dependent would put in its Cargo.toml as
#                   [profile.dev.package.wall-e] opt-level = 3)
#   walle-shim-o3-debug  dev profile, wall-e with its #[global_allocator] static in the crate
#                   debug-cost-shim (feature `wall-e-shim`), both crates at opt-level 3: the
#                   allocator shim the attribute expands to (__rust_alloc & co.) is then optimised
#                   too, where in walle-o3-debug it is compiled in the program's crate at opt-level 0
#   default-release release profile, default allocator
#   walle-release   release profile, wall-e
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
crate="$root/tests/dependents/debug-cost"
target=wasm32-wasip1
runs="${1:-1}"
override='profile.dev.package.wall-e.opt-level=3'
override_shim='profile.dev.package.debug-cost-shim.opt-level=3'

rustup target add "$target" >/dev/null 2>&1 || true

modes=(default-debug walle-debug walle-o3-debug walle-shim-o3-debug default-release walle-release)

build() {
  local mode="$1" args=()
  case "$mode" in
    default-debug) ;;
    walle-debug) args=(--features wall-e) ;;
    walle-o3-debug) args=(--features wall-e --config "$override") ;;
    walle-shim-o3-debug) args=(--features wall-e-shim --config "$override" --config "$override_shim") ;;
    default-release) args=(--release) ;;
    walle-release) args=(--release --features wall-e) ;;
  esac
  local dir="$root/target/debug-cost/$mode"
  # -v: the rustc lines, to check the override reaches wall-e's own compilation.
  (cd "$crate" && cargo build -v --target "$target" --target-dir "$dir" "${args[@]}") \
    >>"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log" >&2; exit 1; }
  local profile=debug
  [[ "$mode" == *release ]] && profile=release
  wasm["$mode"]="$dir/$target/$profile/debug-cost.wasm"
}

declare -A wasm
mkdir -p "$root/target/debug-cost"
for mode in "${modes[@]}"; do
  echo "building $mode" >&2
  build "$mode"
done

# The override must show on the crate's rustc line. A fresh crate has no rustc line ("Fresh"), so
# the build logs are appended to and the crate's last rustc line is checked.
# check_opt <mode> <package> <crate name> <flag>
check_opt() {
  local mode="$1" package="$2" name="$3" want="$4" line
  local log="$root/target/debug-cost/$mode.build.log"
  line="$(grep -E "Running .*rustc --crate-name $name " "$log" | tail -1 || true)"
  if [[ -z "$line" ]]; then
    # Fresh and never logged: rebuild the crate in that target dir to see its command.
    (cd "$crate" && cargo clean -q -p "$package" --target "$target" --target-dir "$root/target/debug-cost/$mode")
    build "$mode"
    line="$(grep -E "Running .*rustc --crate-name $name " "$log" | tail -1 || true)"
  fi
  if grep -q -- "$want" <<<"$line"; then
    echo "ok: $mode: $package compiled with $want" >&2
  else
    echo "WARNING: $mode: $package's rustc line lacks $want:" >&2
    echo "$line" >&2
  fi
}
check_opt walle-o3-debug wall-e wall_e "opt-level=3"
check_opt walle-shim-o3-debug wall-e wall_e "opt-level=3"
check_opt walle-shim-o3-debug debug-cost-shim debug_cost_shim "opt-level=3"

declare -A ms ms_min ms_cpu sums
workloads=(linked_list box_lifo box_fifo map_churn)

# Runs every build once (interleaved, so that a burst of load on the machine hits all of them),
# recording ms["run,mode,workload"].
run_all() {
  local r="$1" mode out name t sum
  for mode in "${modes[@]}"; do
    out="$(cd "$root" && node --no-warnings scripts/wasi-run.mjs "${wasm[$mode]}" 2>/dev/null)"
    while read -r name t tmin tcpu sum; do
      ms["$r,$mode,$name"]="$t"
      ms_min["$r,$mode,$name"]="$tmin"
      ms_cpu["$r,$mode,$name"]="$tcpu"
      if [[ -n "${sums[$name]:-}" && "${sums[$name]}" != "$sum" ]]; then
        echo "checksum mismatch: $name in $mode: $sum vs ${sums[$name]}" >&2
        exit 1
      fi
      sums["$name"]="$sum"
    done <<<"$out"
  done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
minimum() { printf '%s\n' "$@" | sort -g | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# table <title> <ms|ms_min|ms_cpu> <median|minimum> <run numbers...>: each cell the median or minimum
# over those runs of the program's median wall time (ms), fastest repetition (ms_min) or median
# thread CPU time (ms_cpu).
table() {
  local title="$1" stat="$3" name mode r d w o vals
  local -n fig="$2"
  shift 3
  local -A cell
  echo
  echo "$title"
  echo
  echo "| workload | default debug | wall-e debug | wall-e+O3 debug | wall-e+O3, static in O3 crate, debug | default release | wall-e release | wall-e / default (debug) | wall-e+O3 / default (debug) | wall-e+O3, static in O3 crate / default (debug) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${workloads[@]}"; do
    for mode in "${modes[@]}"; do
      vals=()
      for r in "$@"; do vals+=("${fig[$r,$mode,$name]}"); done
      cell[$mode]="$("$stat" "${vals[@]}")"
    done
    d="${cell[default-debug]}" w="${cell[walle-debug]}" o="${cell[walle-o3-debug]}"
    sh="${cell[walle-shim-o3-debug]}"
    echo "| $name | $d | $w | $o | $sh | ${cell[default-release]} | ${cell[walle-release]} | $(ratio "$w" "$d") | $(ratio "$o" "$d") | $(ratio "$sh" "$d") |"
  done
}

all=()
echo "load before: $(uptime)"
for ((r = 1; r <= runs; r++)); do
  run_all "$r"
  table "Run $r/$runs ($target, Node $(node --version); wall ms, median of the program's repetitions)" ms median "$r"
  all+=("$r")
done
if ((runs > 1)); then
  table "All $runs runs: wall ms, median of the runs' medians" ms median "${all[@]}"
fi
# Other jobs on the machine only add time. The fastest repetition is the least disturbed wall
# figure, and the thread's CPU time leaves out the time it waits for a CPU.
table "All $runs runs: wall ms, fastest repetition" ms_min minimum "${all[@]}"
table "All $runs runs: thread CPU ms, median of the runs' medians" ms_cpu median "${all[@]}"
echo
echo "load after: $(uptime)"
