#!/usr/bin/env bash
# `make build`: the modules of pkg/. It needs only Rust (rustup) and Node: it adds the wasm
# target itself, and the threaded module's nightly `rust-src` when a nightly toolchain is there
# (seconds); without a nightly it skips that one module with one line and still succeeds.
#   pkg/wall-e.wasm          speed-tuned (the default)
#   pkg/wall-e.small.wasm    size-tuned (feature `small`)
#   pkg/wall-e.threads.wasm  for shared memories and workers (nightly, -Z build-std=core)
#   pkg/wall-e.trace.wasm    the heap map's and leak list's (features `stats` and `trace`)
# Without binaryen (`wasm-opt`) the modules are built unoptimised, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown
node scripts/build.mjs
node scripts/build.mjs --small
node scripts/build.mjs --features trace --out pkg/wall-e.trace.wasm

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "make build: skipped pkg/wall-e.threads.wasm: it needs a nightly toolchain (rustup toolchain install nightly --profile minimal --component rust-src)"
  exit 0
fi
rustup component list --toolchain nightly --installed | grep -q '^rust-src' ||
  rustup component add --toolchain nightly rust-src
node scripts/build.mjs --threads
