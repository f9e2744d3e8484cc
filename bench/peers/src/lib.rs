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
    feature = "wee_alloc"
)))]
compile_error!("enable exactly one peer feature");

use core::alloc::{GlobalAlloc, Layout};

/// Bytes in front of each block: the requested size (u32) and 4 bytes of padding.
const HEADER: usize = 8;
const ALIGN: usize = 8;

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

#[cfg(feature = "bump")]
#[global_allocator]
static PEER: bump::Bump = bump::Bump;

/// The layout of a block whose caller asked for `size` bytes; `None` when it overflows.
fn layout(size: u32) -> Option<Layout> {
    let total = (size as usize).checked_add(HEADER)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// The pointer (a linear-memory offset) as a Rust pointer.
fn ptr(addr: u32) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

/// Writes the header of a block the peer returned at `base` and returns the payload's address.
///
/// # Safety
/// `base` is null or a block of at least `HEADER` bytes, 8-aligned.
unsafe fn finish(base: *mut u8, size: u32) -> u32 {
    if base.is_null() {
        return 0;
    }
    // SAFETY: per this function's contract, `base` is 8-aligned with room for the header.
    unsafe { base.cast::<u32>().write(size) };
    base.expose_provenance() as u32 + HEADER as u32
}

/// The size stored in the header of the live block at payload address `p` (not 0).
///
/// # Safety
/// `p` was returned by `allocate` or `reallocate` and not freed since.
unsafe fn stored(p: u32) -> u32 {
    // SAFETY: a live block's header lies `HEADER` bytes before its payload.
    unsafe { ptr(p - HEADER as u32).cast::<u32>().read() }
}

/// Allocates `size` bytes, 8-aligned; 0 for `size == 0` or when memory is exhausted.
#[no_mangle]
pub extern "C" fn allocate(size: u32) -> u32 {
    if size == 0 {
        return 0;
    }
    let Some(layout) = layout(size) else {
        return 0;
    };
    // SAFETY: `layout` has a non-zero size; the result is null or fits `layout`.
    unsafe { finish(PEER.alloc(layout), size) }
}

/// Frees a live block; nil is ignored.
#[no_mangle]
pub extern "C" fn deallocate(p: u32) {
    if p == 0 {
        return;
    }
    // SAFETY: the ABI's contract: `p` is a live block; the layout is the one it was allocated
    // with (the header keeps the size).
    unsafe {
        let size = stored(p);
        if let Some(layout) = layout(size) {
            PEER.dealloc(ptr(p - HEADER as u32), layout);
        }
    }
}

/// Resizes a live block through `GlobalAlloc::realloc`; `p == 0` allocates, `size == 0` frees
/// and returns 0; 0 on failure with the old block kept.
#[no_mangle]
pub extern "C" fn reallocate(p: u32, size: u32) -> u32 {
    if p == 0 {
        return allocate(size);
    }
    if size == 0 {
        deallocate(p);
        return 0;
    }
    let Some(new_layout) = layout(size) else {
        return 0;
    };
    // SAFETY: `p` is a live block (the ABI's contract) allocated with `layout(old)`; the new
    // size is non-zero and does not overflow when rounded to the alignment (checked by
    // `layout`). `realloc` returns null or a block fitting the new layout.
    unsafe {
        let old = stored(p);
        let Some(old_layout) = layout(old) else {
            return 0;
        };
        finish(
            PEER.realloc(ptr(p - HEADER as u32), old_layout, new_layout.size()),
            size,
        )
    }
}

/// The size asked for of a live block; 0 for nil.
#[no_mangle]
pub extern "C" fn size(p: u32) -> u32 {
    if p == 0 {
        return 0;
    }
    // SAFETY: the ABI's contract: `p` is a live block.
    unsafe { stored(p) }
}

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
