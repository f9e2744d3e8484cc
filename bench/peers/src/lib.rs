//! One peer allocator (chosen by cargo feature) behind wall-e's raw ABI: `allocate(u32) -> u32`,
//! `deallocate(u32)`, `reallocate(u32, u32) -> u32`, `size(u32) -> u32`; pointers are offsets
//! in linear memory, 0 is nil.
//!
//! Each peer is used through its `GlobalAlloc`, as a user wanting this ABI would write it: an
//! 8-byte header in front of each block holds the size asked for, so `size` and `deallocate` can
//! rebuild the `Layout`. Blocks are 8-aligned. `bump` is the do-nothing baseline. The peer is
//! also the module's `#[global_allocator]` (talc's crate needs one), as in a real program.
#![no_std]

#[cfg(not(target_arch = "wasm32"))]
compile_error!("build with --target wasm32-unknown-unknown");

#[cfg(not(any(
    feature = "bump",
    feature = "dlmalloc",
    feature = "talc",
    feature = "rlsf",
    feature = "lol_alloc",
    feature = "wee_alloc",
    feature = "wasmalloc"
)))]
compile_error!("enable exactly one peer feature");

use core::alloc::{GlobalAlloc, Layout};

#[cfg(feature = "dlmalloc")]
#[global_allocator]
static PEER: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(feature = "talc")]
#[global_allocator]
static PEER: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[cfg(feature = "rlsf")]
#[global_allocator]
static PEER: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

#[cfg(feature = "lol_alloc")]
#[global_allocator]
// SAFETY: a wasm32-unknown-unknown module without the atomics feature runs one thread.
static PEER: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(feature = "wee_alloc")]
#[global_allocator]
static PEER: wee_alloc::WeeAlloc = wee_alloc::WeeAlloc::INIT;

#[cfg(feature = "wasmalloc")]
#[global_allocator]
static PEER: wasmalloc::WasmAlloc = wasmalloc::WasmAlloc::new();

#[cfg(feature = "bump")]
#[global_allocator]
static PEER: bump::Bump = bump::Bump;

include!("abi.rs");

#[cfg(feature = "bump")]
mod bump {
    //! The do-nothing allocator: a bump pointer that never frees and does not copy on `realloc`.
    //! To stay as cache-warm as a real allocator that reuses memory, it wraps around to the start
    //! of a window of `WINDOW` bytes (a larger block goes at the start and widens the window),
    //! except for its first block (the driver's slot table), which is kept. 1 MiB holds the
    //! driver's parser tree (whose nodes link to each other) while it is alive. Only its time
    //! means anything: blocks are overwritten after a wrap and reallocated blocks lose their
    //! contents.
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32;
    use core::cell::Cell;

    const PAGE: usize = 65536;
    const WINDOW: usize = 1 << 20;

    pub struct Bump;

    struct State {
        /// Where a wrap starts over: after the first block.
        start: Cell<usize>,
        next: Cell<usize>,
        end: Cell<usize>,
    }

    // SAFETY: a wasm32-unknown-unknown module without the atomics feature runs one thread.
    unsafe impl Sync for State {}

    static STATE: State = State {
        start: Cell::new(0),
        next: Cell::new(0),
        end: Cell::new(0),
    };

    /// Grows memory so that `[next, next + need)` lies below `STATE.end`; false on failure.
    fn room(next: usize, need: usize) -> bool {
        if next + need <= STATE.end.get() {
            return true;
        }
        let pages = (next + need - STATE.end.get()).div_ceil(PAGE);
        if wasm32::memory_grow(0, pages) == usize::MAX {
            return false;
        }
        STATE.end.set(STATE.end.get() + pages * PAGE);
        true
    }

    // SAFETY: `alloc` returns null or `layout.size()` bytes in memory this module grew itself,
    // aligned to 8 (enough for the wrapper, which asks for no more).
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() > 1 << 30 {
                return core::ptr::null_mut(); // keeps the sums below from overflowing
            }
            let need = (layout.size() + 7) & !7;
            if STATE.end.get() == 0 {
                // The first block: the memory this module started with is not the heap's.
                let first = wasm32::memory_size(0) * PAGE;
                STATE.end.set(first);
                if !room(first, need) {
                    return core::ptr::null_mut();
                }
                STATE.start.set(first + need);
                STATE.next.set(first + need);
                return core::ptr::with_exposed_provenance_mut(first);
            }
            let mut next = STATE.next.get();
            if next + need > STATE.start.get() + WINDOW {
                next = STATE.start.get();
            }
            if !room(next, need) {
                return core::ptr::null_mut();
            }
            STATE.next.set(next + need);
            core::ptr::with_exposed_provenance_mut(next)
        }

        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}

        unsafe fn realloc(&self, _: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the new layout is valid: the wrapper built it with `Layout::from_size_align`.
            unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) }
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
