//! wall-e: a small, fast WebAssembly memory allocator.
//!
//! - [`Heap`] is the allocator over any [`Source`] of memory; it runs on the host too. Its
//!   [`Policy`] parameter is [`Fast`] (speed-tuned, the default) or [`Small`] (size-tuned).
//! - `WallE` (on wasm32) is the `GlobalAlloc`; it uses only the memory it grows itself. With the
//!   `atomics` target feature it takes a spin lock around the heap (`lock.rs`); without it, none.
//! - The feature `exports` (off by default; `scripts/build.mjs` turns it on) makes the crate the
//!   standalone `wall-e.wasm` with the raw ABI `allocate`, `deallocate`, `reallocate`, `size`.
//!
//! See `heap.rs` for the block layout, the invariants and the paths, and the README for the ABI contract.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod block;
mod classes;
mod classes_pow2;
mod classes_quarter;
mod heap;
mod policy;
mod source;
mod walk;

#[cfg(not(target_arch = "wasm32"))]
mod host;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod lock;
#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(all(target_arch = "wasm32", feature = "exports"))]
mod exports;

pub use block::MAX_REQUEST;
pub use heap::Heap;
#[cfg(not(target_arch = "wasm32"))]
pub use host::HostMemory;
pub use policy::{Fast, Policy, Small};
pub use source::{Source, PAGE};
pub use walk::{Corruption, Place, Stats};
#[cfg(target_arch = "wasm32")]
pub use wasm::{LinearMemory, WallE};

// On the host the crate links std for the test memory source (`HostMemory`). On wasm32 it is
// `no_std` throughout (it builds for `wasm32v1-none`); the standalone module is its cdylib, built
// by `scripts/build.mjs` with `cargo rustc --crate-type cdylib`.
#[cfg(not(target_arch = "wasm32"))]
extern crate std;
