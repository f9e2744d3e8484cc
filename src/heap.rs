//! The allocator's core: plain Rust over a [`Source`] of memory.
//!
//! # Layout
//! Every block is an 8-byte header followed by its payload; headers and payloads are 8-aligned.
//! ```text
//!  used:  | logical size u32 | effective size | flags |  payload (effective size bytes) ...  |
//!  free:  | next free u32    | effective size | flags |  prev free u32 | ... | size | FREE |
//!  last:  | next region u32  | spare bytes    | LAST  |  (end of a region left behind)      |
//! ```
//! The effective size (the payload's capacity) is a multiple of 8, so its low 3 bits are flags:
//! `FREE`, `PREV_FREE` (the block before is free, so the word before this header is that
//! block's effective size: its footer) and `LAST` (a region's end marker).
//!
//! # Invariants
//! - **I1 tiling:** a region's blocks tile it from its start to the bump pointer `top` (current
//!   region) or to its `LAST` marker (a region left behind when memory grew elsewhere); the
//!   marker's word 0 is the next region's start.
//! - **I2 coalesced:** no two adjacent blocks are free, and the block just below `top` is never
//!   free: a block freed there goes back to the bump pointer.
//! - **I3 flags agree:** `PREV_FREE` is set exactly when the block before is free; a free block's
//!   footer equals its effective size, with the `FREE` flag.
//! - **I4 lists:** every free block but the spare is in exactly one doubly linked list, the one
//!   of [`class_of`] its size; the bitmap marks exactly the non-empty lists. The spare (the
//!   rest of the last block split, at most one, at most `SPARE_KEEP` bytes) is in none.
//! - **I5 the 125% rule:** a block handed out has an effective size within 125% of the rounded
//!   request: larger blocks are split (a remainder of 16 bytes or more becomes a free block), and
//!   a block that cannot be split is taken only if it is within 125%. (A block resized in place,
//!   or placed at an alignment above 8, may keep an 8-byte tail too small to split off.)
//! - **I6 fresh memory:** bytes from `fresh` (>= `top`) to the end of the current region have
//!   never been written since the memory grew, so they are zero.
//!
//! [`Heap::validate`] checks all of these.
//!
//! # The size-tuned build (feature `small`)
//! Same struct, layout, invariants and contract; the `impl` is `heap_small.rs` and the classes
//! are `classes_small.rs`. It differs in what is spent on speed and on memory:
//! - one class per power of two (32 classes, the class is `leading_zeros`) and no bitmap (I4
//!   without it): the search takes the first list head that fits, from the request's own class
//!   down to the classes of larger blocks — at most 29 heads, bounded work — else the top. A
//!   head with exactly 8 bytes to spare is passed over at any size (I5 needs that only below 32
//!   bytes).
//!   As in the default build only the head of a class is tried, but a class now spans a factor of
//!   2, not 1.25: more requests pass over a block that would fit (a larger one is split instead,
//!   or the heap grows), so memory use is higher under mixed sizes;
//! - no spare (I4 holds with no spare), no headroom on `reallocate`, and a block shrunk in place
//!   always has its tail split off;
//! - a region is extended or opened as in the default build, and an unusable initial range is
//!   skipped the same way; but its `LAST` marker, at `top`, has no link: its size spans the
//!   room left in the region and the gap (memory grown by somebody else) up to the next region,
//!   so the next region starts at its end. That room is not reused (the default build lists it).
//! - a free block's header word and footer are its effective size plus `FREE`, exactly (I2, I3):
//!   the size-tuned code reads sizes from them without masking the flags.

use crate::classes::{class_of, FreeLists};
use crate::source::{Source, PAGE};

// The size-tuned core (feature `small`): the same struct, another `impl`.
#[cfg(feature = "small")]
#[path = "heap_small.rs"]
mod small;

pub(crate) const HEADER: u32 = 8;
/// Whether the heap tracks its fresh memory (I6) and current region: for `allocate_zeroed`
/// and the heap walker, neither of which the plain standalone module has.
pub(crate) const TRACK_FRESH: bool = cfg!(any(
    not(all(target_arch = "wasm32", feature = "exports")),
    feature = "stats"
));
/// Only small requests are carved from the spare, and only their splits make one: large ones
/// get the best fit the classes find, which keeps fragmentation down (and the spare only when
/// memory cannot grow).
#[cfg(not(feature = "small"))]
const SPARE_MAX: u32 = 256;
/// The spare is at most this large: a larger rest is listed, and a spare that merges grow
/// beyond it goes back to the lists, so that requests above `SPARE_MAX`, which never carve the
/// spare, find that memory. (Without this bound, a spare grown by merges could stay unused while
/// the heap grew: with `SPARE_MAX` at 64, the realloc-growth benchmark took 18 MiB, not 2.2.)
pub(crate) const SPARE_KEEP: u32 = 16384;
/// When the head of a request's own class is too small, up to this many blocks after it are
/// looked at, and the smallest that fits is taken (bounded: still O(1))...
#[cfg(not(feature = "small"))]
const FIT_LOOKS: u32 = 4;
/// ...for requests up to this size (mixed sizes: 4.6 -> 4.4 MiB of heap, realloc growth 2.2 ->
/// 2.0; above it, the remainders a closer fit leaves cost more than they save).
#[cfg(not(feature = "small"))]
const FIT_MAX: u32 = 16384;
pub(crate) const FREE: u32 = 1;
pub(crate) const PREV_FREE: u32 = 2;
pub(crate) const LAST: u32 = 4;
pub(crate) const FLAGS: u32 = 7;
/// What freed payloads are filled with in the checked build (between the links), so that the
/// heap walk catches writes to freed memory.
#[cfg(feature = "checked")]
pub(crate) const POISON: u8 = 0xDD;
/// The smallest block that can be free: header, two links' worth of payload (prev, footer).
const MIN_FREE_BLOCK: u32 = 16;
/// Requests above this can never be met in a 4 GiB memory; refusing them early keeps every sum
/// below from overflowing.
pub const MAX_REQUEST: u32 = u32::MAX - 2 * PAGE;

/// A heap over the memory source `S`. Addresses in and out are `u32`; 0 is nil.
// In the size-tuned module the fields stay in this order, the ones used most first: their
// addresses (from 8, see `--global-base` in scripts/build.mjs) then fit in one-byte immediates.
#[cfg_attr(feature = "small", repr(C))]
pub struct Heap<S: Source> {
    source: S,
    /// Start of the first region (where the heap walk begins).
    pub(crate) first: u32,
    /// Start of the current region.
    pub(crate) region: u32,
    /// The bump pointer: end of the current region's last block.
    pub(crate) top: u32,
    /// The current region ends at `limit + 8`; the last 8 bytes are kept for its `LAST` marker.
    /// 0 while there is no region.
    pub(crate) limit: u32,
    /// See I6.
    pub(crate) fresh: u32,
    pub(crate) lists: FreeLists,
    /// The spare block: the rest of the last block split for an allocation, free but in no
    /// list (I4), carved first by the next allocations that its own class cannot serve. 0 if
    /// none. Carving it, and merging freed neighbours into it, needs no list work.
    pub(crate) spare: u32,
}

/// The effective size for a request of `size` bytes, `None` for 0 or impossible sizes.
#[inline]
fn effective(size: u32) -> Option<u32> {
    if size.wrapping_sub(1) >= MAX_REQUEST {
        return None;
    }
    Some(((size + 7) & !7).max(8))
}

impl<S: Source> Heap<S> {
    /// An empty heap; it asks `source` for memory on the first allocation.
    pub const fn new(source: S) -> Self {
        Heap {
            source,
            first: 0,
            region: 0,
            top: 0,
            limit: 0,
            fresh: 0,
            lists: FreeLists::new(),
            spare: 0,
        }
    }

    /// The memory source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The memory source, e.g. to simulate another allocator growing memory in between.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    #[inline]
    pub(crate) fn read(&self, addr: u32) -> u32 {
        // SAFETY: callers pass 4-aligned addresses of words inside blocks or region markers
        // (I1), which lie in memory the source gave the heap.
        unsafe { self.source.at(addr, 4).cast::<u32>().read() }
    }

    #[inline]
    fn write(&mut self, addr: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe { self.source.at(addr, 4).cast::<u32>().write(value) }
    }

    /// A pointer to the `len` bytes at `addr`, for copying payloads.
    #[inline]
    pub(crate) fn at(&self, addr: u32, len: u32) -> *mut u8 {
        self.source.at(addr, len)
    }

    // Shared by both cores, over their `allocate`, `allocate_over_aligned` and
    // `reallocate_aligned`.

    /// Allocates `size` bytes aligned to `align` (a power of two); 0 on failure.
    #[inline(always)]
    pub fn allocate_aligned(&mut self, size: u32, align: u32) -> u32 {
        if align <= 8 {
            self.allocate(size)
        } else {
            self.allocate_over_aligned(size, align)
        }
    }

    /// Like [`Heap::allocate_aligned`], with the payload zeroed. Memory fresh from the source is
    /// zero already (I6), so only the part below `fresh` is cleared.
    pub fn allocate_zeroed(&mut self, size: u32, align: u32) -> u32 {
        let fresh = if TRACK_FRESH { self.fresh } else { u32::MAX };
        let region = self.region;
        let p = self.allocate_aligned(size, align);
        // A new region is fresh throughout; otherwise clear what lies below the old mark.
        if p != 0 && self.region == region && p < fresh {
            let dirty = size.min(fresh - p);
            // SAFETY: `[p, p + dirty)` is inside the block just allocated.
            unsafe { self.at(p, dirty).write_bytes(0, dirty as usize) };
        }
        p
    }

    /// Resizes the block at `p` to `size` bytes, in place when it can, else by moving it; the
    /// first `min(old, new)` bytes are kept. `p == 0` allocates; `size == 0` frees and returns 0.
    /// On failure returns 0 and leaves the old block untouched.
    pub fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        self.reallocate_aligned(p, size, 8)
    }

    #[inline]
    fn set_top(&mut self, top: u32) {
        self.top = top;
        if TRACK_FRESH && top > self.fresh {
            self.fresh = top;
        }
    }
}

/// The speed-tuned core (the default build); `heap_small.rs` has the size-tuned one.
#[cfg(not(feature = "small"))]
impl<S: Source> Heap<S> {
    /// Allocates `size` bytes, 8-aligned; 0 when `size` is 0 or memory is exhausted.
    pub fn allocate(&mut self, size: u32) -> u32 {
        let Some(need) = effective(size) else {
            return 0;
        };
        let header = self.take(need);
        if header == 0 {
            return 0;
        }
        self.write(header, size);
        header + HEADER
    }

    /// A used block of effective size `need` (its logical size still to be written), or 0: the
    /// head of the request's own class if it fits (the smallest block found in O(1)), else the
    /// spare, else the head of the first non-empty class above, whose blocks all fit, else the
    /// top of the heap.
    #[inline]
    fn take(&mut self, need: u32) -> u32 {
        let listed = !self.lists.is_empty();
        if !listed && self.spare == 0 && HEADER + need <= self.limit - self.top {
            // Nothing free (stack-like use gives every block back to the top): bump at once.
            return self.bump(need, 0);
        }
        let own = class_of(need);
        if listed {
            let head = self.lists.heads[own & 127];
            if head != 0 {
                let eff = self.read(head + 4) & !FLAGS;
                if eff >= need {
                    if eff - need >= MIN_FREE_BLOCK {
                        return self.take_listed(head, own, need);
                    }
                    // The commonest case in churn: an exact fit at the head of its own list.
                    self.pop(head, own, eff);
                    return head;
                }
                if need <= FIT_MAX {
                    let found = self.fit_in_class(head, need);
                    if found != 0 {
                        return self.take_within(found, own, need);
                    }
                }
            }
        }
        if need <= SPARE_MAX {
            let carved = self.carve_spare(need);
            if carved != 0 {
                return carved;
            }
        }
        // Below 32 bytes, the class just above holds blocks 8 bytes too large to split and
        // over 125%: the search starts one class higher.
        if listed {
            if let Some(class) = self.lists.first_at_or_above(own + 1 + (need < 32) as usize) {
                return self.take_listed(self.lists.heads[class & 127], class, need);
            }
        }
        if !self.ensure(HEADER + need) {
            // Out of memory: the spare, kept for small requests, serves any request it fits
            // rather than failing one with that room free.
            return self.carve_spare_out_of_memory(need);
        }
        self.bump(need, 0)
    }

    /// [`Self::carve_spare`] on the cold path, out of line.
    #[cold]
    #[inline(never)]
    fn carve_spare_out_of_memory(&mut self, need: u32) -> u32 {
        self.carve_spare(need)
    }

    /// The spare's front carved for `need` bytes (the rest stays the spare), or the whole spare
    /// when its surplus is too small to split but within 125%; 0 when there is no spare or it
    /// does not fit.
    #[inline]
    fn carve_spare(&mut self, need: u32) -> u32 {
        let spare = self.spare;
        if spare == 0 {
            return 0;
        }
        let eff = self.read(spare + 4) & !FLAGS;
        let surplus = eff.wrapping_sub(need);
        if eff < need || (surplus < MIN_FREE_BLOCK && surplus * 4 > need) {
            return 0;
        }
        if surplus >= MIN_FREE_BLOCK {
            self.spare = spare + HEADER + need;
            self.write_free(self.spare, surplus - HEADER);
            self.write(spare + 4, need);
        } else {
            self.spare = 0;
            self.write(spare + 4, eff);
            self.clear_prev_free(eff, spare);
        }
        spare
    }

    /// The smallest block that fits `need` among the `FIT_LOOKS` after `head` in its list, or 0.
    #[inline(never)]
    fn fit_in_class(&self, head: u32, need: u32) -> u32 {
        let mut node = self.read(head);
        let mut looks = 0;
        let mut best = 0;
        let mut best_eff = u32::MAX;
        while node != 0 && looks < FIT_LOOKS {
            let e = self.read(node + 4) & !FLAGS;
            if e >= need && e < best_eff {
                best = node;
                best_eff = e;
            }
            node = self.read(node);
            looks += 1;
        }
        best
    }

    /// Takes the listed free block `found` of `class` (anywhere in its list) for `need` bytes,
    /// splitting off the rest as a listed free block.
    #[inline(never)]
    fn take_within(&mut self, found: u32, class: usize, need: u32) -> u32 {
        let eff = self.read(found + 4) & !FLAGS;
        self.unlink_from(found, class);
        if eff - need < MIN_FREE_BLOCK {
            self.write(found + 4, eff);
            self.clear_prev_free(eff, found);
        } else {
            // The block after `found` carries PREV_FREE already.
            self.make_free(found + HEADER + need, eff - need - HEADER);
            self.write(found + 4, need);
        }
        found
    }

    /// Takes `found`, the head of the list of `class`, for `need` bytes, splitting off the rest.
    fn take_listed(&mut self, found: u32, class: usize, need: u32) -> u32 {
        let eff = self.read(found + 4) & !FLAGS;
        if eff - need < MIN_FREE_BLOCK {
            self.pop(found, class, eff);
            return found;
        }
        let rest = found + HEADER + need;
        let rest_eff = eff - need - HEADER;
        if need > SPARE_MAX || rest_eff > SPARE_KEEP {
            let rest_class = class_of(rest_eff);
            if rest_class == class {
                // The rest keeps the place in the same list: only the links move.
                self.move_links(found, rest, class);
            } else {
                self.unlink_head(found, class);
                self.link(rest, rest_class);
            }
        } else {
            // The rest becomes the spare (carved from the front, so that in FIFO-like patterns
            // the next block freed borders it); the previous spare goes to its list.
            self.unlink_head(found, class);
            let old = self.spare;
            if old != 0 {
                self.link(old, class_of(self.read(old + 4) & !FLAGS));
            }
            self.spare = rest;
        }
        self.write_free(rest, rest_eff);
        self.write(found + 4, need);
        found
    }

    /// Takes `head`, the head of the list of `class`, for a request it fits without a split.
    #[inline(always)]
    fn pop(&mut self, head: u32, class: usize, eff: u32) {
        self.unlink_head(head, class);
        // A free block's own PREV_FREE is clear (I2): this leaves it a used block.
        self.write(head + 4, eff);
        self.clear_prev_free(eff, head);
    }

    /// Takes `head`, the head of the list of `class`, out of it.
    #[inline(always)]
    fn unlink_head(&mut self, head: u32, class: usize) {
        let next = self.read(head);
        self.lists.heads[class & 127] = next;
        // Without branches (whether a list runs empty is random): the bit is cleared only if
        // `next` is 0, and the back link cleared is the next block's, or else `head`'s own (a
        // word of the payload about to be handed out).
        self.lists.mark_empty_if(class, next == 0);
        self.write(select(next != 0, next, head) + HEADER, 0);
    }

    /// [`Heap::allocate_aligned`] for `align` > 8: the payload may start past the block's start;
    /// the gap in front becomes a free block.
    fn allocate_over_aligned(&mut self, size: u32, align: u32) -> u32 {
        let Some(need) = effective(size) else {
            return 0;
        };
        // A free block this large holds an aligned payload wherever it starts: the gap in front
        // is at most `align + 8` (a gap of exactly 8 cannot be a free block, so it grows by one
        // more alignment step).
        let Some(room) = need.checked_add(align + 8).filter(|&r| r <= MAX_REQUEST) else {
            return 0;
        };
        let found = self.take_free(room);
        let header = if found != 0 {
            let eff = self.read(found + 4) & !FLAGS;
            self.unlink(found, eff);
            let gap = aligned_gap(found, align);
            if gap == 0 {
                self.trim(found, 0, eff, need);
                found
            } else {
                // The front part is free; its left neighbour is used since `found` was free.
                self.make_free(found, gap - HEADER);
                self.trim(found + gap, PREV_FREE, eff - gap, need);
                found + gap
            }
        } else {
            loop {
                let top = self.top;
                let gap = aligned_gap(top, align);
                if !self.ensure(gap + HEADER + need) {
                    return 0;
                }
                if self.top != top {
                    continue; // growth opened a new region: align again there
                }
                if gap == 0 {
                    break self.bump(need, 0);
                }
                self.set_top(top + gap);
                self.make_free(top, gap - HEADER);
                break self.bump(need, PREV_FREE);
            }
        };
        self.write(header, size);
        header + HEADER
    }

    /// Frees the block at `p`. Nil, pointers that are not the start of a used block as far as its
    /// header shows, and a second free of the same block are ignored.
    pub fn deallocate(&mut self, p: u32) {
        let Some(header) = self.used_block(p) else {
            return;
        };
        let flags_and_size = self.read(header + 4);
        let eff = flags_and_size & !FLAGS;
        // Mark the header free first: when the block merges into the one before or goes back to
        // the bump pointer, this header stays behind, and a second `deallocate` of the same
        // pointer must see it free and be ignored (also once `top` has moved past it again).
        self.write(header + 4, flags_and_size | FREE);
        if flags_and_size & PREV_FREE == 0 {
            self.release(header, eff);
            return;
        }
        let prev_eff = self.read(header - 4) & !FLAGS;
        let prev = header - HEADER - prev_eff;
        let next = header + HEADER + eff;
        if next == self.top {
            self.unlink(prev, prev_eff);
            self.top = prev;
            return;
        }
        let mut total = prev_eff + HEADER + eff;
        let next_word = self.read(next + 4);
        if next_word & FREE != 0 {
            let next_eff = next_word & !FLAGS;
            self.unlink(next, next_eff);
            total += HEADER + next_eff;
        } else {
            self.write(next + 4, next_word | PREV_FREE);
        }
        self.resize_free(prev, prev_eff, prev, total);
    }

    /// The logical size of the block at `p` (the size last asked for); 0 for nil or a pointer
    /// that is not a used block.
    pub fn size(&self, p: u32) -> u32 {
        match self.used_block(p) {
            None => 0,
            Some(header) => self.read(header),
        }
    }

    /// [`Heap::reallocate`] for a block allocated with alignment `align`.
    #[inline(always)]
    pub fn reallocate_aligned(&mut self, p: u32, size: u32, align: u32) -> u32 {
        if p == 0 {
            return self.allocate_aligned(size, align);
        }
        let Some(header) = self.used_block(p) else {
            return 0;
        };
        if size == 0 {
            self.deallocate(p);
            return 0;
        }
        let Some(need) = effective(size) else {
            return 0;
        };
        if self.resize_in_place(header, need) {
            self.write(header, size);
            return p;
        }
        // A block that grows by a little and must move gets headroom for the next little
        // growths (strings built piecemeal; not vectors that double), as much as the 125% rule
        // allows even with an unsplittable 8-byte tail.
        let old_size = self.read(header);
        let headroom = if size > old_size && size - old_size <= old_size / 4 {
            ((size / 4) & !7).saturating_sub(8)
        } else {
            0
        };
        let mut q = self.allocate_aligned(size + headroom, align);
        if q == 0 && headroom != 0 {
            q = self.allocate_aligned(size, align);
        }
        if q != 0 {
            self.write(q - HEADER, size);
            let keep = old_size.min(size);
            // SAFETY: both blocks are used, distinct, and at least `keep` bytes long.
            unsafe {
                core::ptr::copy_nonoverlapping(self.at(p, keep), self.at(q, keep), keep as usize)
            };
            self.deallocate(p);
        }
        q
    }

    /// The header of the used block whose payload starts at `p` if the cheap checks pass
    /// (aligned, inside the heap, a used header whose sizes are coherent). (Inlined, so the
    /// `Option` never goes through memory.)
    #[inline(always)]
    fn used_block(&self, p: u32) -> Option<u32> {
        if p & 7 != 0 || p < self.first + HEADER || p >= self.top {
            return None;
        }
        let header = p - HEADER;
        let flags_and_size = self.read(header + 4);
        let eff = flags_and_size & !FLAGS;
        // No block is empty, so `eff - 1` also rejects an all-zero "header" inside a payload.
        if flags_and_size & (FREE | LAST) != 0
            || eff.wrapping_sub(1) >= self.top - p
            || self.read(header) > eff
        {
            return None;
        }
        Some(header)
    }

    /// A free block for an effective size `need`, still linked, or 0: the head of the request's
    /// own class if it fits (the smallest block found in O(1)), else the head of the first
    /// non-empty class above, whose blocks all fit. Below 32 bytes, the class just above holds
    /// blocks 8 bytes too large to split and over 125%: the search starts one class higher.
    #[inline]
    fn take_free(&self, need: u32) -> u32 {
        if self.lists.is_empty() {
            return 0; // e.g. stack-like use, where every block freed goes back to the top
        }
        let own = class_of(need);
        let head = self.lists.heads[own & 127];
        if head != 0 && self.read(head + 4) & !FLAGS >= need {
            return head;
        }
        match self.lists.first_at_or_above(own + 1 + (need < 32) as usize) {
            Some(class) => self.lists.heads[class & 127],
            None => 0,
        }
    }

    /// Gives the used block at `header` (whose own flags are `prev_flag`) `total` bytes of
    /// payload, then splits off everything beyond `need` as a free block when that is at least a
    /// minimal block. The bytes after `total` must belong to a used block, a marker or `top`.
    fn trim(&mut self, header: u32, prev_flag: u32, total: u32, need: u32) {
        if total - need >= MIN_FREE_BLOCK {
            self.write(header + 4, need | prev_flag);
            self.release(header + HEADER + need, total - need - HEADER);
        } else {
            self.write(header + 4, total | prev_flag);
            self.clear_prev_free(total, header);
        }
    }

    /// Clears `PREV_FREE` on the block after the used block at `header` (payload `eff`), unless
    /// that is `top`.
    #[inline]
    fn clear_prev_free(&mut self, eff: u32, header: u32) {
        let next = header + HEADER + eff;
        if next != self.top {
            let next_word = self.read(next + 4);
            self.write(next + 4, next_word & !PREV_FREE);
        }
    }

    /// Makes `[start, start + 8 + eff)` free: merges it with a free right neighbour, or gives it
    /// back to the bump pointer when it ends at `top`. Its left neighbour must be used.
    /// (Inlined: freeing just below `top` is the commonest case of stack-like use.)
    #[inline(always)]
    fn release(&mut self, start: u32, eff: u32) {
        let next = start + HEADER + eff;
        if next == self.top {
            self.top = start;
        } else {
            self.release_below(start, eff, next);
        }
    }

    /// [`Heap::release`] for a block whose right neighbour, at `next`, is a block (not `top`).
    fn release_below(&mut self, start: u32, eff: u32, next: u32) {
        let next_word = self.read(next + 4);
        if next_word & FREE != 0 {
            // The free neighbour grows down to `start`.
            let next_eff = next_word & !FLAGS;
            self.resize_free(next, next_eff, start, eff + HEADER + next_eff);
        } else {
            self.write(next + 4, next_word | PREV_FREE);
            self.make_free(start, eff);
        }
    }

    /// Links a new free block of `eff` bytes at `header` and writes its header and footer. The
    /// block after it must already carry `PREV_FREE`, or be set by the caller.
    fn make_free(&mut self, header: u32, eff: u32) {
        self.link(header, class_of(eff));
        self.write_free(header, eff);
    }

    /// The free block at `old` (`old_eff` bytes) becomes the free block at `new` (`new_eff`
    /// bytes), over the same memory give or take neighbours. When its class does not change, it
    /// keeps its place in its list: only the links move with the header, if it moved at all.
    fn resize_free(&mut self, old: u32, old_eff: u32, new: u32, new_eff: u32) {
        if old == self.spare {
            if new_eff <= SPARE_KEEP {
                self.spare = new;
                self.write_free(new, new_eff);
                return;
            }
            // Grown by merges past what small requests need: listed again, so that larger
            // requests find it (only small ones carve the spare).
            self.spare = 0;
            self.make_free(new, new_eff);
            return;
        }
        let class = class_of(old_eff);
        if class != class_of(new_eff) {
            self.unlink_from(old, class);
            self.link(new, class_of(new_eff));
        } else if old != new {
            self.move_links(old, new, class);
        }
        self.write_free(new, new_eff);
    }

    /// Moves the list node of the free block at `old` (in the list of `class`) to `new`.
    fn move_links(&mut self, old: u32, new: u32, class: usize) {
        // Read both links before writing: the headers may overlap.
        let next = self.read(old);
        let prev = self.read(old + HEADER);
        self.write(new, next);
        self.write(new + HEADER, prev);
        if prev != 0 {
            self.write(prev, new);
        } else {
            self.lists.heads[class & 127] = new;
        }
        if next != 0 {
            self.write(next + HEADER, new);
        }
    }

    /// Writes a free block's header and footer (and, in the checked build, poisons its payload
    /// between the links). The links at `header` and `header + 8` are left alone.
    fn write_free(&mut self, header: u32, eff: u32) {
        #[cfg(feature = "checked")]
        // SAFETY: the payload between the prev link and the footer is inside the block.
        unsafe {
            self.at(header + 12, eff - 8)
                .write_bytes(POISON, eff as usize - 8)
        };
        // The footer carries the FREE flag too, so that a pointer whose "header" would be made of
        // a footer (the address of the next block's header, say) fails the used-block check.
        self.write(header + 4, eff | FREE);
        self.write(header + 4 + eff, eff | FREE);
    }

    /// Pushes the block at `header` onto the list of `class`.
    fn link(&mut self, header: u32, class: usize) {
        let class = class & 127;
        let next = self.lists.heads[class];
        self.write(header, next);
        // Without a branch: when the list was empty, the back link written is this block's
        // own, which is then cleared.
        self.write(select(next != 0, next, header) + HEADER, header);
        self.write(header + HEADER, 0);
        self.lists.heads[class] = header;
        self.lists.mark_non_empty(class);
    }

    /// Takes the free block at `header` out of its list (or stops it being the spare).
    fn unlink(&mut self, header: u32, eff: u32) {
        if header == self.spare {
            self.spare = 0;
            return;
        }
        self.unlink_from(header, class_of(eff));
    }

    /// Takes the block at `header` out of the list of `class`.
    fn unlink_from(&mut self, header: u32, class: usize) {
        let class = class & 127;
        let next = self.read(header);
        let prev = self.read(header + HEADER);
        // Without branches: where a neighbour is missing, the link written is the block's own,
        // rewritten with the value it already holds.
        let is_head = prev == 0;
        self.write(select(is_head, header, prev), next);
        self.write(select(next != 0, next, header) + HEADER, prev);
        let head = self.lists.heads[class];
        self.lists.heads[class] = select(is_head, next, head);
        self.lists.mark_empty_if(class, is_head & (next == 0));
    }

    /// Grows or shrinks the used block at `header` to `need` bytes without moving it.
    fn resize_in_place(&mut self, header: u32, need: u32) -> bool {
        let flags_and_size = self.read(header + 4);
        let prev_flag = flags_and_size & PREV_FREE;
        let eff = flags_and_size & !FLAGS;
        if need <= eff {
            // Slack within 125% stays (a string growing into its headroom does no list work);
            // beyond that the tail is split off.
            if eff - need > need / 4 {
                self.trim(header, prev_flag, eff, need);
            }
            return true;
        }
        let next = header + HEADER + eff;
        if next == self.top {
            // Growth may open a new region instead of extending this one: then move.
            if !self.ensure(need - eff) || self.top != next {
                return false;
            }
            self.set_top(header + HEADER + need);
            self.write(header + 4, need | prev_flag);
            return true;
        }
        let next_word = self.read(next + 4);
        let next_eff = next_word & !FLAGS;
        let total = eff + HEADER + next_eff;
        if next_word & FREE == 0 || total < need {
            return false;
        }
        if total - need >= MIN_FREE_BLOCK {
            // The free neighbour shrinks from the front: its header moves up.
            self.resize_free(
                next,
                next_eff,
                header + HEADER + need,
                total - need - HEADER,
            );
            self.write(header + 4, need | prev_flag);
        } else {
            self.unlink(next, next_eff);
            self.write(header + 4, total | prev_flag);
            self.clear_prev_free(total, header);
        }
        true
    }

    /// Carves a used block of `need` bytes at `top`; `ensure` must have made room.
    fn bump(&mut self, need: u32, prev_flag: u32) -> u32 {
        let header = self.top;
        self.set_top(header + HEADER + need);
        self.write(header + 4, need | prev_flag);
        header
    }

    /// Makes room for `bytes` more at `top`, growing memory if needed. When memory grew somewhere
    /// else since the last growth, the current region is closed and a new one starts in the new
    /// pages (so `top` moves). False when the memory cannot grow; the heap is unchanged then,
    /// but for a possible new empty region.
    #[inline(always)]
    fn ensure(&mut self, bytes: u32) -> bool {
        // `top <= limit` always, and both are 0 before the first region.
        bytes <= self.limit - self.top || self.grow(bytes)
    }

    /// The slow path of [`Heap::ensure`]: growth.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, bytes: u32) -> bool {
        loop {
            // `top <= limit` always, and both are 0 before the first region.
            let room = self.limit - self.top;
            if bytes <= room {
                return true;
            }
            if self.first == 0 && self.start() {
                continue;
            }
            // Extending the region needs the shortfall; a new region needs its marker's 8 bytes.
            // Requests are capped (MAX_REQUEST), so these sums cannot overflow.
            let short = if self.limit == 0 {
                bytes + 8
            } else {
                bytes - room
            };
            let pages = (short + PAGE - 1) >> 16;
            let Some(old) = self.source.grow(pages) else {
                return false;
            };
            let start = old << 16;
            // The end of a 4 GiB memory is 2^32: `limit` (end - 8) still fits.
            let limit = start.wrapping_add(pages << 16).wrapping_sub(8);
            // (Without a region, `limit + 8` is 8: never a page start.)
            if start == self.limit + 8 {
                self.limit = limit;
                continue;
            }
            if self.limit != 0 {
                self.close_region(start);
            } else {
                self.first = start;
            }
            self.top = start;
            if TRACK_FRESH {
                self.region = start;
                self.fresh = start;
            }
            self.limit = limit;
        }
    }

    /// Takes the memory the source had before any growth.
    fn start(&mut self) -> bool {
        let (start, end) = self.source.initial();
        let start = (start as u64 + 7) & !7;
        let end = end as u64 & !7;
        if start != 0 && start + 24 <= end {
            let start = start as u32;
            self.first = start;
            self.top = start;
            if TRACK_FRESH {
                self.region = start;
                self.fresh = start;
            }
            self.limit = (end - 8) as u32;
            return true;
        }
        false
    }

    /// Leaves the current region for one at `next`: the space above `top` becomes a free block
    /// and a `LAST` marker links to the next region.
    fn close_region(&mut self, next: u32) {
        let room = self.limit - self.top;
        let marker = if room >= MIN_FREE_BLOCK {
            // The block below `top` is used (I2), so this free block has no free neighbour.
            self.make_free(self.top, room - HEADER);
            self.write(self.limit + 4, LAST | PREV_FREE);
            self.limit
        } else {
            self.write(self.top + 4, room | LAST);
            self.top
        };
        self.write(marker, next);
    }
}

/// `a` if `cond`, else `b`, computed without a branch.
#[cfg(not(feature = "small"))]
#[inline(always)]
fn select(cond: bool, a: u32, b: u32) -> u32 {
    let mask = (cond as u32).wrapping_neg();
    (a & mask) | (b & !mask)
}

/// Bytes from `header` to the header of an `align`-aligned payload, 0 or at least 16 (a gap
/// must hold a free block).
#[inline]
fn aligned_gap(header: u32, align: u32) -> u32 {
    let align = align as u64;
    let payload = (header as u64 + HEADER as u64 + align - 1) & !(align - 1);
    let gap = (payload - HEADER as u64 - header as u64) as u32;
    if gap == HEADER {
        gap + align as u32
    } else {
        gap
    }
}
