//! The floor: the cheapest code that can serve the workloads, to put the allocators' times in
//! perspective. A bump pointer: `alloc` aligns and advances it; a block is reused only when it
//! is the last one handed out (freed or reallocated on top of the heap: the pointer moves back,
//! or the block grows in place) or when nothing is live at all (the pointer goes back to the
//! start). Otherwise memory is never reused, so on churn and on the random actions the floor's
//! memory grows with the work (hundreds of MiB) and its time includes touching fresh pages.
//! Memory grows by what is needed and at least an eighth of the memory (few `memory.grow`
//! calls, as a fast allocator makes). Its memory is shown, never compared.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::Cell;

const PAGE: usize = 65536;

pub struct Bump;

struct State {
    /// Where the heap starts (the end of the module's initial memory); 0 before the first use.
    base: Cell<usize>,
    /// The next free byte.
    top: Cell<usize>,
    /// The end of memory.
    end: Cell<usize>,
    /// Blocks allocated and not freed.
    live: Cell<usize>,
}

// SAFETY: a wasm32-unknown-unknown module without the atomics feature runs one thread.
unsafe impl Sync for State {}

static STATE: State = State {
    base: Cell::new(0),
    top: Cell::new(0),
    end: Cell::new(0),
    live: Cell::new(0),
};

/// Makes `[.., to)` lie in memory; false when memory cannot grow.
#[inline(always)]
fn reach(to: usize) -> bool {
    if to <= STATE.end.get() {
        return true;
    }
    grow(to)
}

#[cold]
fn grow(to: usize) -> bool {
    let need = (to - STATE.end.get()).div_ceil(PAGE);
    let pages = need.max(wasm32::memory_size(0) / 8);
    if wasm32::memory_grow(0, pages) == usize::MAX && wasm32::memory_grow(0, need) == usize::MAX {
        return false;
    }
    STATE.end.set(wasm32::memory_size(0) * PAGE);
    true
}

// SAFETY: `alloc` returns null or `layout.size()` bytes aligned to `layout.align()` in memory
// this module grew itself and no live block holds: the pointer only moves back over blocks that
// were freed (the one on top, or all of them).
unsafe impl GlobalAlloc for Bump {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if STATE.base.get() == 0 {
            let start = wasm32::memory_size(0) * PAGE;
            STATE.base.set(start);
            STATE.top.set(start);
            STATE.end.set(start);
        }
        let p = (STATE.top.get() + layout.align() - 1) & !(layout.align() - 1);
        let Some(to) = p.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if !reach(to) {
            return core::ptr::null_mut();
        }
        STATE.top.set(to);
        STATE.live.set(STATE.live.get() + 1);
        core::ptr::with_exposed_provenance_mut(p)
    }

    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let live = STATE.live.get() - 1;
        STATE.live.set(live);
        if live == 0 {
            STATE.top.set(STATE.base.get());
        } else if ptr as usize + layout.size() == STATE.top.get() {
            STATE.top.set(ptr as usize);
        }
    }

    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = ptr as usize;
        if p + layout.size() == STATE.top.get() {
            // The block on top grows or shrinks in place.
            let Some(to) = p.checked_add(new_size) else {
                return core::ptr::null_mut();
            };
            if !reach(to) {
                return core::ptr::null_mut();
            }
            STATE.top.set(to);
            return ptr;
        }
        // SAFETY: the new layout is valid (`GlobalAlloc::realloc`'s contract); the old block is
        // live and holds `layout.size()` bytes; the new one does not overlap it.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = self.alloc(new_layout);
            if !q.is_null() {
                core::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            q
        }
    }
}
