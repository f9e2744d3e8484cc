//! The Rust-level benchmark's program: the same workloads (`workloads.rs`) with the allocator
//! chosen by one cargo feature as the `#[global_allocator]`, built as a wasm32-unknown-unknown
//! cdylib that imports nothing and exports its memory and, per workload, `run_<workload>(n) ->
//! checksum` (plus `setup_<workload>()` / `teardown_<workload>() -> checksum` where the workload
//! keeps a live set between calls). The checksums depend only on the workload, never on where
//! blocks are placed, so they are the same for every allocator: the host compares them.
//!
//! With the feature `small-app` the module exports `run_small_app` alone instead: a small
//! Vec/Box/String program whose size after `wasm-opt -Oz` is the size row of the report.
//!
//! Driven by `bench/rust/run.mjs` (Node, Chromium) and `examples/bench_rust.rs` (wasmtime); see
//! docs/benchmark-rust.md.

#[cfg(not(target_arch = "wasm32"))]
compile_error!("build with --target wasm32-unknown-unknown");

/// How many allocator features are on: exactly one must be.
const CHOSEN: usize = cfg!(feature = "walle") as usize
    + cfg!(feature = "walle-small") as usize
    + cfg!(feature = "wasmalloc") as usize
    + cfg!(feature = "talc") as usize
    + cfg!(feature = "rlsf") as usize
    + cfg!(feature = "std") as usize
    + cfg!(feature = "lol_alloc") as usize
    + cfg!(feature = "bump") as usize;
const _: () = assert!(CHOSEN == 1, "enable exactly one allocator feature");

// `walle-small` is the same `WallE` with wall-e's feature `small` (its size-tuned policy).
#[cfg(any(feature = "walle", feature = "walle-small"))]
#[global_allocator]
static ALLOCATOR: wall_e::WallE = wall_e::WallE::new();

#[cfg(feature = "wasmalloc")]
#[global_allocator]
static ALLOCATOR: wasmalloc::WasmAlloc = wasmalloc::WasmAlloc::new();

// As talc 5's README_WASM.md recommends for single-threaded wasm.
#[cfg(feature = "talc")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(feature = "rlsf")]
#[global_allocator]
static ALLOCATOR: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

// `std`: no `#[global_allocator]`; std's `System` on wasm32-unknown-unknown is dlmalloc.

#[cfg(feature = "lol_alloc")]
#[global_allocator]
// SAFETY: a wasm32-unknown-unknown module without the atomics feature runs one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(feature = "bump")]
mod floor;
#[cfg(feature = "bump")]
#[global_allocator]
static ALLOCATOR: floor::Bump = floor::Bump;

#[cfg(not(feature = "small-app"))]
mod rng;
#[cfg(not(feature = "small-app"))]
mod workloads;

#[cfg(feature = "small-app")]
mod small_app;
