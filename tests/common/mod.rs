//! Helpers shared by the host tests.
#![allow(dead_code)]

use wall_e::{Heap, HostMemory, Policy, Stats};

/// The shadow model, the payload pattern and the header reader, shared with the fuzz target.
#[path = "../shadow/mod.rs"]
pub mod shadow;

pub type HostHeap = Heap<HostMemory>;

/// A heap over a host memory of `initial` pages (heap base at 1 KiB) that may grow to `max`.
pub fn heap(initial: u32, max: u32) -> HostHeap {
    Heap::new(HostMemory::new(initial, max, 1024))
}

/// Validates the heap, panicking with the corruption found.
pub fn valid<P: Policy>(heap: &Heap<HostMemory, P>) -> Stats {
    match heap.validate() {
        Ok(stats) => stats,
        Err(c) => panic!("heap corrupt at {:#x}: {}", c.at, c.what),
    }
}

/// The payload of a live block as a slice (the heap's memory is not borrowed by Rust: it sits
/// behind the source's raw pointer, so handing out `&mut` from `&` is sound here).
#[allow(clippy::mut_from_ref)]
pub fn bytes<P: Policy>(heap: &Heap<HostMemory, P>, p: u32, len: u32) -> &mut [u8] {
    // SAFETY: tests only pass live blocks of at least `len` bytes.
    unsafe {
        std::slice::from_raw_parts_mut(wall_e::Source::at(heap.source(), p, len), len as usize)
    }
}

/// Fills a block with the pattern of `seed` ([`shadow::pattern`]).
pub fn fill<P: Policy>(heap: &Heap<HostMemory, P>, p: u32, len: u32, seed: u32) {
    shadow::fill_pattern(bytes(heap, p, len), seed, 0);
}

/// Checks the pattern written by `fill` over the first `len` bytes.
pub fn holds<P: Policy>(heap: &Heap<HostMemory, P>, p: u32, len: u32, seed: u32) -> bool {
    shadow::pattern_mismatch(bytes(heap, p, len), seed, 0).is_none()
}

/// The byte at offset `i` of the pattern of `seed` ([`shadow::pattern`]).
pub fn pattern(seed: u32, i: usize) -> u8 {
    shadow::pattern(seed, i as u32)
}

#[cfg(not(target_arch = "wasm32"))]
pub mod wasm;

#[cfg(not(target_arch = "wasm32"))]
pub mod dylink;
