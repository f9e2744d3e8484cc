#!/usr/bin/env bash
# Installs what `make test` needs, skipping whatever is already there: the wasm targets, Chromium
# and ChromeDriver and binaryen (Debian packages), the nightly toolchain (cargo-fuzz), and the
# wasm-bindgen-test-runner matching Cargo.lock. cargo-fuzz is installed by scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm32-unknown-unknown for the module and the wasm-bindgen tests; the others for the crates of
# tests/dependents and the suites of scripts/suites.sh.
rustup target add wasm32-unknown-unknown wasm32v1-none wasm32-wasip1 wasm32-wasip2 wasm32-wasip1-threads
rustup component list --installed | grep -q '^clippy' || rustup component add rustfmt clippy
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
# The threaded module and examples (`node scripts/build.mjs --threads`, examples/threads and
# examples/threads-bindgen, the latter built by pkg/test/walle-threads*.test.js): core and
# std rebuilt with atomics by nightly's `-Z build-std`, which needs the standard library's source.
rustup component list --toolchain nightly --installed | grep -q '^rust-src' || rustup component add --toolchain nightly rust-src
# The docs as docs.rs builds them (nightly, wasm32, `--cfg docsrs`): make docs-check.
rustup target add --toolchain nightly wasm32-unknown-unknown

# clang-14 and wasm-ld-14 (lld-14) build the C clients (scripts/build-c.sh, make test-clients).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v wasm-opt >/dev/null \
  || ! command -v clang-14 >/dev/null || ! command -v wasm-ld-14 >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends chromium chromium-driver binaryen clang-14 lld-14
fi

# The wasm-bindgen CLI (wasm-bindgen-test-runner for the wasm-bindgen tests, wasm-bindgen for
# tests/dependents' bindgen-app and examples/threads-bindgen, which pin this version too).
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -q "$wbg"; then
  scripts/cargo-install.sh wasm-bindgen-cli "$wbg"
fi

# jco and preview2-shim, which run wasm32-wasip2 components in Node (scripts/wasip2-run.mjs).
[ -d scripts/wasip2/node_modules ] || npm ci --prefix scripts/wasip2 --no-audit --no-fund
# The pinned AssemblyScript compiler of the AssemblyScript client example (make test-clients).
[ -d examples/assemblyscript/node_modules ] || npm ci --prefix examples/assemblyscript --no-audit --no-fund
