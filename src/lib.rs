//! wall-e: a small, fast WebAssembly memory allocator.
//!
//! - [`Heap`] is the allocator over any [`Source`] of memory; it runs on the host too.
//! - `WallE` (on wasm32) is the `GlobalAlloc`; it uses only the memory it grows itself.
//! - The feature `exports` (off by default; `scripts/build.mjs` turns it on) makes the crate the
//!   standalone `wall-e.wasm` with the raw ABI `allocate`, `deallocate`, `reallocate`, `size`.
//!
//! See `heap.rs` for the block layout and the invariants, and the README for the ABI contract.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// The size-tuned build (feature `small`) has coarser classes: see classes_small.rs.
#[cfg_attr(feature = "small", path = "classes_small.rs")]
mod classes;
mod heap;
mod source;
mod walk;

#[cfg(not(target_arch = "wasm32"))]
mod host;
#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(all(target_arch = "wasm32", feature = "exports"))]
mod exports;

pub use heap::{Heap, MAX_REQUEST};
#[cfg(not(target_arch = "wasm32"))]
pub use host::HostMemory;
pub use source::{Source, PAGE};
pub use walk::{Corruption, Place, Stats};
#[cfg(target_arch = "wasm32")]
pub use wasm::{LinearMemory, WallE};

// On the host the crate links std for the test memory source (`HostMemory`). On wasm32 it is
// `no_std` throughout (it builds for `wasm32v1-none`); the standalone module is its cdylib, built
// by `scripts/build.mjs` with `cargo rustc --crate-type cdylib`.
#[cfg(not(target_arch = "wasm32"))]
extern crate std;
