//! wall-e against its peers under wasmtime: see `bench/host.rs` (`cargo run --example bench`).
//! A host program: built for wasm32 (as `cargo test --target wasm32-unknown-unknown` builds every
//! example), it is empty.

#[cfg(not(target_arch = "wasm32"))]
#[path = "bench/host.rs"]
mod host;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> wasmtime::Result<()> {
    host::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
