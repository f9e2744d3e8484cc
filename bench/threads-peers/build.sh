#!/usr/bin/env bash
# Builds the threaded peers of bench/threads.mjs (see src/lib.rs) into target/threads-peers/out:
# talc.wasm (talc 5's TalcLock with a spin lock, no_std, -Z build-std=core,alloc) and std.wasm
# (std's System allocator: dlmalloc behind std's global lock, -Z build-std=std,panic_abort), both
# with +atomics,+bulk-memory,+mutable-globals, importing a shared env.memory, then wasm-opt -O3 as
# bench/run does. Nightly with rust-src (scripts/setup.sh); the first build of std takes minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/target/threads-peers/out
mkdir -p "$out"
flags=(--strip-debug --strip-producers --enable-threads --enable-bulk-memory --enable-sign-ext
  --enable-nontrapping-float-to-int --enable-mutable-globals --enable-multivalue
  --enable-reference-types)
for peer in talc std; do
  case $peer in
    talc) std=core,alloc ;;
    std) std=std,panic_abort ;;
  esac
  echo "== building the threaded peer $peer"
  target=$root/target/threads-peers/$peer
  (cd bench/threads-peers &&
    env -u CARGO_BUILD_TARGET -u CARGO_ENCODED_RUSTFLAGS \
      RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals" \
      cargo +nightly build --release --quiet -Z build-std=$std --target wasm32-unknown-unknown \
      --target-dir "$target" --features "$peer")
  cp "$target/wasm32-unknown-unknown/release/threads_peers.wasm" "$out/$peer.raw.wasm"
  node scripts/strip-exports.mjs "$out/$peer.raw.wasm"
  wasm-opt -O3 "${flags[@]}" "$out/$peer.raw.wasm" -o "$out/$peer.wasm"
  echo "$peer: $out/$peer.wasm $(wc -c <"$out/$peer.wasm") bytes"
done
