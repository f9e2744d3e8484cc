//! Soak test of the stats build under wasmtime: see `soak/host.rs` (`make soak`).
//! A host program: built for wasm32 (as `cargo test --target wasm32-unknown-unknown` builds every
//! example), it is empty.

#[cfg(not(target_arch = "wasm32"))]
#[path = "soak/host.rs"]
mod host;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    host::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
