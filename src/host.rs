//! A memory source for the host: a zeroed buffer that behaves like a wasm linear memory, for
//! unit tests, property tests, fuzzing and Miri.

extern crate std;

use crate::source::{Source, PAGE};
use std::alloc::{alloc_zeroed, dealloc, Layout};

/// A linear memory of `pages` pages that can grow up to `max_pages`, backed by one host buffer.
pub struct HostMemory {
    base: *mut u8,
    layout: Layout,
    heap_base: u32,
    initial_pages: u32,
    pages: u32,
    max_pages: u32,
    foreign_every: u32,
    grows: u32,
}

impl HostMemory {
    /// A memory of `initial_pages` pages whose heap may start at `heap_base` (below it: the
    /// module's stack and data), able to grow to `max_pages`. At least one page, as a wasm
    /// module's memory (`Source`'s contract: grown pages never start at address 0).
    pub fn new(initial_pages: u32, max_pages: u32, heap_base: u32) -> Self {
        assert!(
            initial_pages > 0 && initial_pages <= max_pages && max_pages <= 65_536 && heap_base > 0,
            "HostMemory::new({initial_pages}, {max_pages}, {heap_base})"
        );
        let layout =
            Layout::from_size_align(max_pages as usize * PAGE as usize, 16).expect("layout");
        // SAFETY: the layout is valid and non-zero-sized (asserted above).
        let base = unsafe { alloc_zeroed(layout) };
        assert!(!base.is_null(), "host memory");
        HostMemory {
            base,
            layout,
            heap_base,
            initial_pages,
            pages: initial_pages,
            max_pages,
            foreign_every: 0,
            grows: 0,
        }
    }

    /// Current size in pages.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Lowers or raises the cap on growth (never below the current size).
    pub fn set_max_pages(&mut self, max_pages: u32) {
        self.max_pages = max_pages.clamp(self.pages, self.layout.size() as u32 / PAGE);
    }

    /// From now on, before every `n`-th growth another allocator grows the memory by a page, so
    /// the heap's regions stop being contiguous (0 turns this off).
    pub fn interleave_foreign_growth(&mut self, n: u32) {
        self.foreign_every = n;
    }

    /// Grows the memory on behalf of somebody else; returns the old size in pages.
    pub fn grow_foreign(&mut self, pages: u32) -> Option<u32> {
        if self.pages + pages > self.max_pages {
            return None;
        }
        let old = self.pages;
        self.pages += pages;
        // Somebody else's memory: not zero, so a heap that touched it would be caught.
        // SAFETY: the pages lie inside the buffer (checked above).
        unsafe {
            self.base
                .add(old as usize * PAGE as usize)
                .write_bytes(0xA5, pages as usize * PAGE as usize)
        };
        Some(old)
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        // SAFETY: `base` came from `alloc_zeroed` with this layout.
        unsafe { dealloc(self.base, self.layout) }
    }
}

// SAFETY: the buffer is zeroed, `[heap_base, pages * PAGE)` and grown pages are handed to the heap
// alone (foreign pages are never reported by `grow`), and `at` stays inside the buffer for every
// existing byte.
unsafe impl Source for HostMemory {
    fn initial(&mut self) -> (u32, u32) {
        (
            self.heap_base,
            (self.initial_pages as u64 * PAGE as u64).min(u32::MAX as u64) as u32,
        )
    }

    fn grow(&mut self, pages: u32) -> Option<u32> {
        self.grows += 1;
        if self.foreign_every != 0 && self.grows % self.foreign_every == 0 {
            let _ = self.grow_foreign(1);
        }
        if self.pages as u64 + pages as u64 > self.max_pages as u64 {
            return None;
        }
        let old = self.pages;
        self.pages += pages;
        Some(old)
    }

    /// Bounds-checked, as wasm memory is: an access past the memory's current size panics
    /// (the host's trap) instead of reaching outside the buffer.
    fn at(&self, addr: u32, len: u32) -> *mut u8 {
        let end = addr as u64 + len as u64;
        assert!(
            end <= self.pages as u64 * PAGE as u64,
            "memory access out of bounds: {len} bytes at {addr}, memory of {} pages",
            self.pages
        );
        // SAFETY: `[addr, end)` lies inside the buffer (checked above; the buffer holds
        // `max_pages >= pages` pages).
        unsafe { self.base.add(addr as usize) }
    }
}
