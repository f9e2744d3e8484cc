//! `WallE` as the global allocator of a threaded Rust program (atomics): each thread's small
//! blocks through a cache of its own (the hand-off protocol of handoff.rs, the slot and pool of
//! per_thread.rs, the same as the threaded module's), everything else under the lock.
//!
//! - `alloc`/`alloc_zeroed` of at most [`Cache::MAX_EFF`] bytes, aligned to at most 8: a pop from
//!   the thread's bin (a refill of 16 blocks under the lock when it is empty); the thread's slot
//!   is claimed on its first such call.
//! - `dealloc`: a small live block is claimed (one compare-and-swap of its word 0) and pushed on
//!   the freeing thread's bin (a full bin gives half back under the lock). A thread without a
//!   cache (it never allocated a small block, every slot was taken, or it handed its cache back)
//!   claims the block the same way and gives it to the heap under the lock: every path that
//!   takes a live small block away from its owner claims it first, so that two threads freeing
//!   (or resizing) one block at once have one winner.
//! - `realloc` of a small block: claimed, kept in place when its effective size stays, else
//!   moved and the old block cached. Anything larger, or any alignment above 8: the lock.
//! - Out of memory: the thread's own cache goes back to the heap and the request is tried once
//!   more (the other threads' caches are theirs: memory they hold is not reached).

use super::{to_ptr, WallE};
use crate::block::{FLAGS, HEADER};
use crate::handoff::{CacheHeap, Claim, Freed, Locked, Words};
use crate::heap::Heap;
use crate::per_thread::{Cache, Held, LinearWords};
use crate::policy::Chosen;
use crate::wasm::LinearMemory;
use core::alloc::{GlobalAlloc, Layout};

type WallEHeap = Heap<LinearMemory, Chosen>;

/// A `WallE`'s heap behind its lock, as handoff.rs takes it.
pub(super) struct Shared<'a>(pub(super) &'a WallE);

impl Locked for Shared<'_> {
    type Heap = WallEHeap;
    type Guard<'a>
        = Held<'a, WallEHeap>
    where
        Self: 'a;
    #[inline(always)]
    fn lock(&self) -> Held<'_, WallEHeap> {
        // SAFETY: `lock` guards `heap`: every `WallE` method takes it before it reaches the heap.
        unsafe { Held::new(&self.0.lock, &self.0.heap) }
    }
}

/// Whether a request goes to the thread's cache: 1..=256 bytes, aligned to at most 8 (every
/// block's payload is 8-aligned).
#[inline(always)]
fn cacheable(size: usize, align: usize) -> bool {
    size.wrapping_sub(1) < Cache::MAX_EFF as usize && align <= HEADER as usize
}

impl WallE {
    /// A block from the calling thread's cache (its slot claimed on first use): its address, or
    /// 0 (not a cacheable request, no slot, or the heap had no block of that size to refill).
    #[inline(always)]
    fn cached_alloc(&self, size: usize, align: usize) -> u32 {
        if !cacheable(size, align) {
            return 0;
        }
        // SAFETY: `GlobalAlloc` methods are never re-entered; the reference ends here.
        let Some(cache) = (unsafe { self.threads.cache() }) else {
            return 0;
        };
        match cache.allocate(&LinearWords, &Shared(self), size as u32) {
            0 => 0,
            header => header + HEADER,
        }
    }

    /// The heap under the lock; out of memory, this thread's cache goes back first and the
    /// request is tried once more.
    #[inline(never)]
    fn locked_alloc(&self, size: usize, align: usize, zeroed: bool) -> *mut u8 {
        let take = || {
            let _locked = self.lock.lock();
            // SAFETY: under the lock; `GlobalAlloc` methods are never re-entered.
            let heap = unsafe { self.heap() };
            if zeroed {
                heap.allocate_zeroed(size as u32, align as u32)
            } else {
                heap.allocate_aligned(size as u32, align as u32)
            }
        };
        let p = take();
        if p != 0 || size == 0 {
            return to_ptr(p);
        }
        // SAFETY: as above: no other reference to the cache.
        match unsafe { self.threads.existing() } {
            Some(cache) => cache.release(&LinearWords, &Shared(self)),
            None => return to_ptr(0),
        }
        to_ptr(take())
    }

    /// A claimed small block (its word 1 `word`, its logical size `old`) resized to `size`
    /// bytes aligned to `align`: in place if its effective size stays, else moved, the old block
    /// cached; null (the block live again, unchanged) when memory is exhausted.
    fn resize_claimed(
        &self,
        header: u32,
        word: u32,
        old: u32,
        size: usize,
        align: usize,
    ) -> *mut u8 {
        let words = &LinearWords;
        let eff = word & !FLAGS;
        let ptr = header + HEADER;
        if cacheable(size, align) && (size as u32).wrapping_add(7) & !7 == eff {
            words.publish(header, size as u32);
            return to_ptr(ptr);
        }
        let q = match self.cached_alloc(size, align) {
            0 => self.locked_alloc(size, align, false),
            q => to_ptr(q),
        };
        if q.is_null() {
            words.publish(header, old);
            return q;
        }
        // SAFETY: both blocks are this thread's: the old one claimed, the new one just
        // allocated; `min(old, size)` bytes lie inside each.
        unsafe { core::ptr::copy_nonoverlapping(to_ptr(ptr), q, (old as usize).min(size)) };
        self.dispose_claimed(header);
        q
    }

    /// A block this thread claimed and no longer needs: into its cache, or to the heap.
    fn dispose_claimed(&self, header: u32) {
        let shared = Shared(self);
        // SAFETY: as in `cached_alloc`.
        match unsafe { self.threads.existing() } {
            // Word 1 read again: a neighbour's merge may have set `PREV_FREE` since the claim.
            // SAFETY: claimed by this thread and still held.
            Some(cache) => unsafe {
                cache.keep(&LinearWords, &shared, header, LinearWords.size_word(header));
            },
            None => shared.lock().give_back(header),
        }
    }
}

// SAFETY: as the lock-only `GlobalAlloc` (the heap hands out disjoint blocks of at least the
// requested size and alignment, keeps contents on realloc, returns null on failure); a cached
// block is its thread's alone from the claim (handoff.rs) until it is published again.
unsafe impl GlobalAlloc for WallE {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.cached_alloc(layout.size(), layout.align()) {
            0 => self.locked_alloc(layout.size(), layout.align(), false),
            p => to_ptr(p),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.cached_alloc(layout.size(), layout.align()) {
            0 => self.locked_alloc(layout.size(), layout.align(), true),
            p => {
                let p = to_ptr(p);
                // SAFETY: a block of at least `size` bytes, this thread's.
                unsafe { p.write_bytes(0, layout.size()) };
                p
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let p = ptr.expose_provenance() as u32;
        let header = p.wrapping_sub(HEADER);
        let (words, shared) = (&LinearWords, Shared(self));
        // SAFETY: `GlobalAlloc` methods are never re-entered: no other reference to the cache.
        match unsafe { self.threads.existing() } {
            Some(cache) => {
                if cache.deallocate(words, &shared, header) != Freed::Heap {
                    return;
                }
            }
            None => match Cache::claim(words, header) {
                Claim::Claimed { .. } => return shared.lock().give_back(header),
                Claim::Ignored => return,
                Claim::Heap => {}
            },
        }
        let _locked = self.lock.lock();
        // SAFETY: under the lock; not re-entered.
        let heap = unsafe { self.heap() };
        // The size from the `Layout` (the heap's own fast check); the header still decides.
        heap.deallocate_sized(p, layout.size() as u32)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = ptr.expose_provenance() as u32;
        if new_size != 0 {
            match Cache::claim(&LinearWords, p.wrapping_sub(HEADER)) {
                Claim::Claimed { word, logical } => {
                    return self.resize_claimed(p - HEADER, word, logical, new_size, layout.align())
                }
                Claim::Ignored => return to_ptr(0),
                Claim::Heap => {}
            }
        }
        let _locked = self.lock.lock();
        // SAFETY: under the lock; not re-entered.
        let heap = unsafe { self.heap() };
        // The size from the `Layout`, as the lock-only `realloc` (`reallocate_sized`).
        let old = layout.size() as u32;
        to_ptr(heap.reallocate_sized(p, old, new_size as u32, layout.align() as u32))
    }
}
