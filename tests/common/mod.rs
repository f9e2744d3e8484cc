//! Helpers shared by the host tests.
#![allow(dead_code)]

use wall_e::{Heap, HostMemory, Policy, Stats};

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

/// Fills a block with a pattern derived from `seed`.
pub fn fill<P: Policy>(heap: &Heap<HostMemory, P>, p: u32, len: u32, seed: u32) {
    for (i, b) in bytes(heap, p, len).iter_mut().enumerate() {
        *b = pattern(seed, i);
    }
}

/// Checks the pattern written by `fill` over the first `len` bytes.
pub fn holds<P: Policy>(heap: &Heap<HostMemory, P>, p: u32, len: u32, seed: u32) -> bool {
    bytes(heap, p, len)
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern(seed, i))
}

pub fn pattern(seed: u32, i: usize) -> u8 {
    (seed as usize)
        .wrapping_mul(31)
        .wrapping_add(i.wrapping_mul(7)) as u8
        ^ 0x5a
}

#[cfg(not(target_arch = "wasm32"))]
pub mod wasm;
