//! wall-e: a small, fast WebAssembly memory allocator.
//!
//! - [`Heap`] is the allocator over any [`Source`] of memory; it runs on the host too.
//! - `WallE` (on wasm32) is the `GlobalAlloc`; the default feature `exports` turns the crate into
//!   the standalone `wall-e.wasm` with the raw ABI `allocate`, `deallocate`, `reallocate`, `size`.
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

// On the host the crate links std, so that its cdylib has a panic handler; only the test memory
// source uses it. On wasm32 without `exports` (a library dependency) too: cargo builds the
// cdylib crate type for dependents and this package's tests as well, and it needs a panic handler.
#[cfg(any(not(target_arch = "wasm32"), not(feature = "exports")))]
extern crate std;
