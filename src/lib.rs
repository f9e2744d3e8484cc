//! wall-e: a small, fast WebAssembly memory allocator.
//!
//! # As the global allocator
//!
//! ```
//! #[cfg(target_arch = "wasm32")]
//! #[global_allocator]
//! static ALLOCATOR: wall_e::WallE = wall_e::WallE::new();
//! ```
//!
//! [`WallE`] (wasm32 only) works on `wasm32-unknown-unknown`, `wasm32v1-none`, `wasm32-wasip1`
//! and `wasm32-wasip2`. It uses only the memory it grows itself, serves every power-of-two
//! alignment and reallocates in place where it can. Built with the `atomics` target feature
//! (threads; nightly) it gives each thread a cache of small freed blocks, which it allocates and
//! frees without a lock, and takes a lock around the rest of the heap; a thread about to end
//! hands its cache back with [`WallE::release_thread_cache`].
//!
//! # As a heap of `u32` pointers
//!
//! [`Heap`] is the allocator over any [`Source`] of memory: [`LinearMemory`] on wasm32,
//! `HostMemory` (a buffer, host only) on the host, where it runs for tests. Pointers are `u32` offsets,
//! 0 is nil, and bad pointers (a double free, a pointer it never returned) are ignored.
//!
//! ```
//! # #[cfg(not(target_arch = "wasm32"))] {
//! use wall_e::{Heap, HostMemory};
//!
//! // a memory of 1 page that may grow to 16, its heap starting at 1024
//! let mut heap: Heap<HostMemory> = Heap::new(HostMemory::new(1, 16, 1024));
//! let p = heap.allocate(100);
//! assert_ne!(p, 0);
//! assert_eq!(heap.size(p), 100); // the size asked for
//! let q = heap.reallocate(p, 1000); // contents kept, in place when it can
//! heap.deallocate(q);
//! heap.deallocate(q); // a double free is ignored
//! assert_eq!(heap.validate().unwrap().used_blocks, 0);
//! # }
//! ```
//!
//! # Features
//!
//! | feature | what it does |
//! |---|---|
//! | `small` | [`WallE`] (and the standalone module) use the size-tuned policy [`Small`] instead of [`Fast`]: less code, coarser size classes, a little slower |
//! | `stats` | the standalone module also exports its heap walk (`validate`, `stat`) and its blocks (`blocks`, `sequence`) |
//! | `trace` | the standalone module numbers its allocations (the policy [`Traced`]: a 4-byte tail per block), for the leak list (implies `stats`) |
//! | `checked` | every call checks the heap and the pointer, poisons freed memory, and traps with a reason on a bad pointer: a debugging build (implies `stats`) |
//!
//! The standalone module `wall-e.wasm` is this crate built by the repository's
//! `scripts/build.mjs`; the README describes its ABI.
// The crate's documentation is written for wasm32 (docs.rs builds it there, and `make test`
// checks its links there); on the host `WallE` and `LinearMemory` do not exist.
#![cfg_attr(not(target_arch = "wasm32"), allow(rustdoc::broken_intra_doc_links))]
#![no_std]
// The per-thread caches' slot is a wasm global written with `asm!` (per_thread.rs): in the
// threaded module, and in `WallE` under atomics, on nightly (build.rs sets the caches' cfgs).
#![cfg_attr(
    all(
        not(wall_e_lock_only),
        any(
            all(wall_e_module, wall_e_module_caches),
            all(not(wall_e_module), wall_e_walle_caches)
        )
    ),
    feature(asm_experimental_arch)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod block;
mod blocks;
mod cache;
mod classes;
mod classes_pow2;
mod classes_quarter;
// The per-thread cache hand-off over an abstract platform: model-checked by tests/loom.
#[doc(hidden)]
pub mod handoff;
mod heap;
mod policy;
mod source;
mod walk;

#[cfg(not(target_arch = "wasm32"))]
mod host;
#[cfg(all(target_arch = "wasm32", wall_e_atomics))]
mod lock;
#[cfg(target_arch = "wasm32")]
mod wasm;
// What the threaded module and `WallE` share around handoff.rs: the instance's cache slot, the
// pool of caches, the header words in shared memory (the two cfgs of `asm_experimental_arch`).
#[cfg(all(
    not(wall_e_lock_only),
    any(
        all(wall_e_module, wall_e_module_caches),
        all(not(wall_e_module), wall_e_walle_caches)
    )
))]
mod per_thread;

#[cfg(all(target_arch = "wasm32", wall_e_module))]
mod exports;

pub use block::MAX_REQUEST;
pub use blocks::{Kind, Span};
pub use heap::Heap;
#[cfg(not(target_arch = "wasm32"))]
#[cfg_attr(docsrs, doc(cfg(not(target_arch = "wasm32"))))]
pub use host::HostMemory;
pub use policy::{Fast, Policy, Small, Traced};
// A policy's tuning constants, for the crate's own tests: not part of the API.
#[doc(hidden)]
pub use heap::{LARGE_MIN, PAGE_EDGE};
#[doc(hidden)]
pub use policy::Tuning;
pub use source::{Source, PAGE};
pub use walk::{Corruption, Stats};
// What the tests' models and the fuzz target use to look inside the heap: not part of the API.
#[doc(hidden)]
pub use walk::Place;
#[cfg(target_arch = "wasm32")]
#[cfg_attr(docsrs, doc(cfg(target_arch = "wasm32")))]
pub use wasm::{LinearMemory, WallE};

// On the host the crate links std for the test memory source (`HostMemory`). On wasm32 it is
// `no_std` throughout (it builds for `wasm32v1-none`); the standalone module is its cdylib, built
// by `scripts/build.mjs` with `cargo rustc --crate-type cdylib`.
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

// The README's Rust snippets compile as doctests (on the host; scripts/readme-check.mjs builds
// them for wasm32 too, as a user's crate would).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeSnippets;
