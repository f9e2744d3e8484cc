//! The wasm platform: linear memory as a [`Source`], and [`WallE`], the `GlobalAlloc`.

use crate::heap::Heap;
use crate::source::{Source, PAGE};
use crate::walk::{Corruption, Stats};
use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;

#[cfg(target_feature = "atomics")]
compile_error!("wall-e is single-threaded: it does not support the wasm `atomics` feature yet");

/// Memory index 0 of the module: the heap starts at `__heap_base` and grows with `memory.grow`.
pub struct LinearMemory;

extern "C" {
    /// Set by the linker: the first byte after the module's stack and static data.
    static __heap_base: u8;
    /// Set by the linker: the end of the module's initial memory.
    static __heap_end: u8;
}

// SAFETY: everything from `__heap_base` to `__heap_end` (the initial memory) belongs to nobody
// else (Rust's std allocator only uses pages it grows itself), and fresh wasm memory is zero.
// Pages grown before the heap's first use are not claimed: they may be somebody else's.
// `memory.grow` returns pages nobody else has. Every address below the memory size is valid.
unsafe impl Source for LinearMemory {
    fn initial(&mut self) -> (u32, u32) {
        let start = core::ptr::addr_of!(__heap_base) as usize as u32;
        let end = core::ptr::addr_of!(__heap_end) as usize as u32;
        (start, end)
    }

    fn grow(&mut self, pages: u32) -> Option<u32> {
        match wasm32::memory_grow(0, pages as usize) {
            usize::MAX => None,
            old => Some(old as u32),
        }
    }

    #[inline]
    fn at(&self, addr: u32) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(addr as usize)
    }
}

/// wall-e as a Rust global allocator:
/// `#[global_allocator] static A: wall_e::WallE = wall_e::WallE::new();`
///
/// It serves every power-of-two alignment, reallocates in place where it can and skips the
/// memset of `alloc_zeroed` for memory fresh from `memory.grow`. Single-threaded, as is
/// `wasm32-unknown-unknown` without the `atomics` feature.
pub struct WallE {
    heap: UnsafeCell<Heap<LinearMemory>>,
}

// SAFETY: without the `atomics` target feature (refused above) a wasm instance runs one thread.
unsafe impl Sync for WallE {}

impl WallE {
    /// A heap that takes its memory on first use.
    pub const fn new() -> Self {
        WallE {
            heap: UnsafeCell::new(Heap::new(LinearMemory)),
        }
    }

    /// The heap itself, for the raw `u32` ABI.
    ///
    /// # Safety
    /// No other reference to the heap may be alive (the allocator is not re-entrant).
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub unsafe fn heap(&self) -> &mut Heap<LinearMemory> {
        // SAFETY: single-threaded and not re-entrant, per this function's contract.
        unsafe { &mut *self.heap.get() }
    }

    /// Walks the heap and checks every invariant (O(heap)).
    pub fn validate(&self) -> Result<Stats, Corruption> {
        // SAFETY: single-threaded; `validate` does not allocate, so no other borrow is alive.
        unsafe { self.heap() }.validate()
    }
}

impl Default for WallE {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn to_ptr(addr: u32) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

// SAFETY: the heap hands out disjoint blocks of at least the requested size and alignment, keeps
// contents on realloc, and returns null on failure.
unsafe impl GlobalAlloc for WallE {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see `heap`; GlobalAlloc methods are never re-entered.
        to_ptr(unsafe { self.heap() }.allocate_aligned(layout.size() as u32, layout.align() as u32))
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        to_ptr(unsafe { self.heap() }.allocate_zeroed(layout.size() as u32, layout.align() as u32))
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: as in `alloc`.
        unsafe { self.heap() }.deallocate(ptr.expose_provenance() as u32)
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let heap = unsafe { self.heap() };
        to_ptr(heap.reallocate_aligned(
            ptr.expose_provenance() as u32,
            new_size as u32,
            layout.align() as u32,
        ))
    }
}

const _: () = assert!(PAGE == 65_536);
