#!/usr/bin/env bash
# Checks what `cargo publish` would ship: `cargo publish --dry-run` (packages the crate and builds
# the package for the host), the file list (the sources, README and licences; none of the repo's
# tests, JS package, benchmark or fuzz crate), and that the packaged crate, unpacked, builds as a
# dependency for wasm targets (`#[global_allocator]` in a `no_std` cdylib, wasm32-unknown-unknown
# and wasm32v1-none). `npm pack` is checked by pkg/test/package.test.js.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target="$root/target/package-check"

# --allow-dirty: the check runs on the working tree, committed or not.
CARGO_TARGET_DIR="$target" cargo publish --dry-run --allow-dirty
files=$(CARGO_TARGET_DIR="$target" cargo package --list --allow-dirty)
for need in Cargo.toml README.md LICENSE LICENSE-MIT LICENSE-APACHE src/lib.rs src/heap.rs src/wasm.rs src/exports.rs; do
  grep -qx "$need" <<<"$files" || { echo "package-check: $need is not in the package" >&2; exit 1; }
done
if grep -E '^(tests|pkg|bench|fuzz|examples|scripts)/' <<<"$files"; then
  echo "package-check: the files above should not be in the package" >&2
  exit 1
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
unpacked="$target/package/wall-e-$version"
[ -f "$unpacked/Cargo.toml" ] || { echo "package-check: $unpacked is missing" >&2; exit 1; }
user="$target/user"
rm -rf "$user" && mkdir -p "$user/src"
cat >"$user/Cargo.toml" <<TOML
[package]
name = "package-user"
version = "0.0.0"
edition = "2021"
publish = false
[lib]
crate-type = ["cdylib"]
[dependencies]
wall-e = { path = "$unpacked" }
[workspace]
TOML
cat >"$user/src/lib.rs" <<'RUST'
#![no_std]
extern crate alloc;
#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
#[no_mangle]
pub extern "C" fn run(n: u32) -> u32 {
    let v: alloc::vec::Vec<u32> = (0..n).collect();
    v.iter().sum::<u32>() + A.validate().map_or(0, |s| s.used_blocks)
}
RUST
for wasm_target in wasm32-unknown-unknown wasm32v1-none; do
  (cd "$user" && CARGO_TARGET_DIR="$target/user-target" cargo build --quiet --release --target "$wasm_target")
  node -e '
    const m = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
    const { run } = new WebAssembly.Instance(m, {}).exports;
    if (run(1000) !== 499500 + 1) throw new Error(`run(1000) = ${run(1000)}`);
  ' "$target/user-target/$wasm_target/release/package_user.wasm"
done
echo "package-check: ok ($(wc -l <<<"$files") files; the unpacked package works as a dependency on wasm32-unknown-unknown and wasm32v1-none)"
