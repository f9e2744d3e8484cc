#!/bin/sh
# Fuzzes the allocator core: `scripts/fuzz.sh SECONDS` runs the cargo-fuzz target `heap_ops`
# (fuzz/fuzz_targets/heap_ops.rs, model in fuzz/model.rs) on nightly for SECONDS, then prints
# the figures. Installs cargo-fuzz and the nightly toolchain only when missing.
#
# New inputs go to fuzz/target/corpus-work (not committed); the committed seed corpus
# fuzz/corpus/heap_ops is read, never written. A failing input lands in fuzz/artifacts/heap_ops/:
# replay it with `WALL_E_FUZZ_INPUT=<file> cargo test --test fuzz_corpus -- --nocapture replay_one`
# and keep it in fuzz/regressions/ once fixed.
set -eu
seconds=${1:-60}
cd "$(dirname "$0")/../fuzz"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || ../scripts/cargo-install.sh cargo-fuzz

mkdir -p target/corpus-work
# FUZZ_LOG=path (relative to fuzz/) keeps a run's log apart, e.g. a long run in the background.
log=${FUZZ_LOG:-target/fuzz-last.log}
start=$(date +%s)
status=0
# FUZZ_FEATURES=small fuzzes the size-tuned core instead. FUZZ_ARGS adds libFuzzer options, e.g.
# "-fork=1 -ignore_crashes=1" to go on past a known crash (each one still lands in artifacts/).
#
# No sanitizer by default (FUZZ_SANITIZER=address brings ASan back): the target has no unsafe
# code of its own but the host memory source's, and that source (HostMemory::at) bounds-checks
# every access against the memory's size and panics outside it, as wasm traps; the model reads
# and writes memory only through it. So ASan could only catch what the bounds check already
# turns into a panic, at 3-5x the cost. No compare tracing by default either
# (FUZZ_TRACE_CMP=" " keeps it; FUZZ_BUILD_ARGS adds cargo-fuzz build options): the inputs are
# decoded by `arbitrary` and every size passes through a modulo before the allocator compares
# it, so libFuzzer's compare hints rarely map back to input bytes, while tracing every
# comparison of the heap walk's scan of fresh memory (I6: up to 128 KiB read word by word, at
# least once per input) was half of the run time.
# Measured on this 2-core machine (load ~1-1.7 with the fuzzer), `scripts/fuzz.sh 60` from the
# same ~3,100-input working corpus: the old model with ASan and tracing 326 execs/s; the shared
# shadow model (tests/shadow/mod.rs) without ASan, with tracing 2,468/s; without either 6,136/s
# (6,491/s on the one-policy core, 6,916/s for FUZZ_FEATURES=small). An injected bug (PREV_FREE
# never cleared) is found from an empty corpus after ~23,000 executions either way: ~12 s
# before, ~1-2 s now.
# shellcheck disable=SC2086
cargo +nightly fuzz run -s "${FUZZ_SANITIZER:-none}" ${FUZZ_TRACE_CMP:---no-trace-compares} ${FUZZ_BUILD_ARGS:-} heap_ops ${FUZZ_FEATURES:+--features "$FUZZ_FEATURES"} target/corpus-work corpus/heap_ops -- \
    -max_total_time="$seconds" -timeout=60 -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
end=$(date +%s)

grep -E '^(thread|step|assertion)|panicked|Failing input|artifacts/heap_ops/|^==.*ERROR' "$log" | head -20 || true
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
corpus=$(grep -Eo 'corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -1 | cut -d' ' -f2)
echo "== fuzz heap_ops${FUZZ_FEATURES:+ (features: $FUZZ_FEATURES)}: ${execs:-?} execs in $((end - start)) s (${rate:-?}/s), corpus ${corpus:-?} inputs/bytes," \
    "$(ls target/corpus-work | wc -l) files in fuzz/target/corpus-work, exit status $status"
if [ "$status" -ne 0 ]; then
    echo "== fuzz heap_ops FAILED: see fuzz/$log and fuzz/artifacts/heap_ops/"
    exit "$status"
fi
