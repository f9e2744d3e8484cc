#!/usr/bin/env bash
# The tests of `WallE` in a threaded wasm-bindgen app (pkg/test/walle-threads*.test.js) against
# a wall-e whose per-thread caches lost their synchronisation: in a copy of the tree,
# `Held::new` (src/per_thread.rs) hands the heap out under a lock of its own — one of 1,024 taken
# in turn — instead of the heap's, so refills, flushes and every locked call race each other.
# The app is built against that copy and the tests are pointed at it with
# WALL_E_THREADS_BINDGEN_WASM (as WALL_E_THREADS_EXAMPLE_WASM does for the wasmtime tests).
# Passes when the scenarios that run threads at once fail in both engines; prints what failed.
# With `--wasmtime`, examples/threads is built against the same copy and tests/threads_example.rs
# (wasmtime threads) runs against it too (WALL_E_THREADS_EXAMPLE_WASM): its three scenarios that
# run threads at once must fail as well.
# Not part of `make test` (`make threads-nosync`: ~20 s with a warm std build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
copy="$root/target/nosync/tree"
rm -rf "$copy"
mkdir -p "$copy"
# The working tree's files (committed or not), without target/.
(cd "$root" && git ls-files -co --exclude-standard | tar -cf - -T -) | tar -xf - -C "$copy"
held="$copy/src/per_thread.rs"
perl -0pi -e 's/_locked: lock\.lock\(\),/_locked: {
                let _ = lock;
                static LOCKS: [Lock; 1024] = [const { Lock::new() }; 1024];
                static NEXT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
                LOCKS[NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed) as usize % 1024].lock()
            },/' "$held"
grep -q "LOCKS\[NEXT" "$held" || { echo "the mutation did not apply to src/per_thread.rs"; exit 1; }
# Builds the copy's examples/$1 (package $2) under another package name, so that its output
# does not replace the real one's in the shared target dir, to target/nosync/<crate>.wasm.
build_copy() {
  local crate=${2//-/_}
  sed -i "s/^name = \"$2\"/name = \"$2-nosync\"/" "$copy/examples/$1/Cargo.toml"
  (cd "$copy/examples/$1" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_TARGET_DIR \
    cargo +nightly build --release --quiet --target-dir "$root/target/examples-threads")
  cp "$root/target/examples-threads/wasm32-unknown-unknown/release/${crate}_nosync.wasm" "$root/target/nosync/$crate.wasm"
}
build_copy threads-bindgen threads-bindgen
wasm="$root/target/nosync/threads_bindgen.wasm"
cd "$root/pkg"
out=$(WALL_E_THREADS_BINDGEN_WASM="$wasm" node --test --test-timeout=120000 test/walle-threads.test.js test/walle-threads-browser.test.js 2>&1 || true)
echo "$out" | grep -E -A1 "^not ok|^ok|^# (pass|fail)|  error: " | grep -v -E "^# \\\\|^  ---|^--|duration_ms" || true
failed=$(echo "$out" | grep -E "^not ok .*(stress|storm)" | wc -l)
if [ "$failed" -ge 4 ]; then
  echo "threads-nosync: ok: the stress and the free storm fail in Node and in Chromium without the caches' synchronisation"
else
  echo "threads-nosync: FAILED: only $failed of the 4 stress and storm runs failed without the caches' synchronisation"
  exit 1
fi
if [ "${1:-}" = "--wasmtime" ]; then
  build_copy threads threads-example
  example="$root/target/nosync/threads_example.wasm"
  cd "$root"
  out=$(WALL_E_THREADS_EXAMPLE_WASM="$example" cargo test --test threads_example 2>&1 || true)
  echo "$out" | grep -E "^test |panicked|test result" || true
  failed=$(echo "$out" | grep -E "^test .*(threads_share|stress_with|free_storm).* FAILED" | wc -l)
  if [ "$failed" -ge 3 ]; then
    echo "threads-nosync: ok: under wasmtime, the three scenarios that run threads at once fail"
  else
    echo "threads-nosync: FAILED: only $failed of the 3 wasmtime scenarios that run threads at once failed"
    exit 1
  fi
fi
