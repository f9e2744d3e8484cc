//! The allocator's core: plain Rust over a [`Source`] of memory, one for both builds; what the
//! builds spend differently is the [`Policy`] parameter (policy.rs).
//!
//! # Layout (block.rs names every offset)
//! Every block is an 8-byte header followed by its payload; headers and payloads are 8-aligned.
//! ```text
//!  used:  | logical size u32 | effective size | flags |  payload (effective size bytes) ...  |
//!  free:  | next free u32    | effective size | flags |  prev free u32 | ... | size | FREE |
//!  last:  | (unused)         | bytes to next region | LAST |  (a region's end marker)       |
//!  cached:| CACHED (u32::MAX) | effective size | flags |  next cached u32 | ...            |
//! ```
//! The effective size (the payload's capacity) is a multiple of 8, so its low 3 bits are flags:
//! `FREE`, `PREV_FREE` (the block before is free, so the word before this header is that
//! block's effective size: its footer) and `LAST` (a region's end marker).
//!
//! # Invariants
//! - **I1 tiling:** a region's blocks tile it from its start to the bump pointer `top` (current
//!   region) or to its `LAST` marker (a region left behind when memory grew elsewhere); the
//!   marker's block ends where the next region starts.
//! - **I2 coalesced:** no two adjacent blocks are free, and the block just below `top` is never
//!   free: a block freed there goes back to the bump pointer.
//! - **I3 flags agree:** `PREV_FREE` is set exactly when the block before is free; a free block's
//!   size word and footer equal its effective size with the `FREE` flag (and nothing else).
//! - **I4 lists:** every free block but the spare is in exactly one doubly linked list, the one
//!   of its size's class; the index (a bitmap, for `Fast`) marks exactly the non-empty lists.
//!   The spare (`Fast` only: the rest of the last block split, at most one, at most
//!   `SPARE_KEEP` bytes) is in none.
//! - **I5 the 125% rule ([`fits`]):** a block handed out has an effective size within 125% of
//!   the rounded request: larger blocks are split (a remainder of 16 bytes or more becomes a
//!   free block), and a block that cannot be split is taken only if it is within 125%. (A block
//!   resized in place, or placed at an alignment above 8, may keep an 8-byte tail too small to
//!   split off.) Under a policy with a cache a request of 65 bytes up to the cache's largest
//!   is first rounded up to an odd multiple of 8 (its bin's class, cache.rs), and under
//!   `ODD_SIZES` (`Fast`) every request above 64 bytes is (but one that the room at the top
//!   holds only rounded to 8): 8 bytes more at most, the whole block still within 125% of the
//!   request rounded to 8. (Not an invariant: a rule of placement. Such blocks leave the next
//!   block's payload in the 16-byte phase of their own, and under `ODD_SIZES` the heap's first
//!   payload is 16-aligned when it starts in the memory it was given; smaller blocks, gaps and
//!   regions opened in grown memory change the phase, and the walk checks none of it.)
//! - **I6 fresh memory:** bytes from `fresh` (>= `top`) to the end of the current region have
//!   never been written since the memory grew, so they are zero.
//! - **I7 tail:** under a policy with a `TAIL` ([`crate::policy::Traced`]), a used block's
//!   logical size plus the tail fits its effective size: requests are sized with the tail
//!   ([`effective`]), so its last payload word is never the caller's. The traced module writes
//!   the allocation's sequence number there after every allocate/reallocate ([`Heap::stamp`]).
//! - **I8 the cache** (cache.rs; `Fast` only): a cached block is a used block to the heap (no
//!   `FREE` flag: nothing merges with it, the block after it has no `PREV_FREE` on its account)
//!   whose logical size word is `CACHED`, so the pointer check refuses it. Every cached block is
//!   in exactly one bin, the one of its effective size (`bin_of`: one size a bin to 64 bytes,
//!   then classes of two, 72 and 80, 88 and 96, ..., 1,032 and 1,040; above, under `Fast`, the
//!   *medium* bins, 16 an octave from 1,024 bytes to 16 KiB, each holding the sizes from its
//!   lower bound to the next bin's), once; every block in a bin is cached; a bin's count is its
//!   list's length, at most `CACHE_CAP` (a medium bin: `MEDIUM_CAP`); the medium bins' bitmap
//!   marks exactly the non-empty medium bins; unless the cache is marked (a
//!   block cached since the last flush before growth), every non-empty bin is below
//!   `kept_below`. In the checked build a cached payload after its link is poisoned, as a free
//!   one, and the `checked` module's lookup calls a cached block's pointer freed.
//! - **I9 the threads' caches** (handoff.rs, per_thread.rs; atomics, the threaded module and
//!   `WallE`): a block in a thread's cache is a cached block as in I8 (used to the heap, word 0
//!   `CACHED`) of its bin's effective size (8–256 bytes), in exactly one bin of exactly one
//!   thread's cache, once, and in none of the heap's bins; a bin holds at most `CAP` blocks.
//!   Word 0 of a live small block moves to `CACHED` only by one compare-and-swap (the claim),
//!   and back only by its claimer; word 1 of a live or cached block changes only under the lock.
//!   A refill's run (`Heap::take_run`) is an ordinary stretch of such blocks: `n` cached blocks
//!   of one size tiling `[h, h + n × (eff + 8))` from a 64-byte boundary `h` over whole lines,
//!   cut from one block under the lock before any thread sees them (so I1–I3 hold as for any
//!   split, and the walk checks them as any cached blocks). A thread cache's per-bin balance
//!   (blocks given back less taken) decides only whether a flush hands its chain over or
//!   merges it: any value keeps every invariant, and the walk has nothing of it to check.
//!   The walk counts these blocks as cached (neither used nor free) and finds at least the
//!   heap's bins among them; the calling thread's own cache is checked by
//!   `check_thread_cache` (walk.rs; `WallE::validate`).
//!
//! [`Heap::validate`] (walk.rs) checks all of these; [`Heap::blocks`] (blocks.rs) lists the
//! blocks it walks.
//!
//! # Paths
//! Under a policy with a cache, a small request first takes the head of its bin and a small
//! block freed goes onto its bin (cache.rs), inlined into the caller; a request whose bin is
//! empty then takes the head of the bin just above (inlined too, in `allocate_aligned`) or
//! looks at the bins within 125% above; a medium request (1,033 bytes to 15.5 KiB, `Fast`)
//! takes the first non-empty medium bin within 125% above it (its bitmap), and a medium block
//! freed goes onto its bin by its header, both behind the call; the rest of this is the slow
//! path behind them. [`Heap::deallocate_sized`]
//! (`WallE`'s free, with the `Layout`'s size) checks a small block whose header holds exactly
//! that size in two comparisons and caches it, inlined; a block with slack is checked and
//! cached out of line, anything else taking [`Heap::deallocate`]'s path. Before the heap grows memory it gives back the cached blocks that may
//! merge (a bin's walk stops after a run of isolated ones, cache.rs `ISOLATED_RUN`), or fit
//! the request (released as below), and looks for a fit again; so does the block just below
//! `top` before memory grows for it to grow in place, and it moves to a listed block that
//! fits rather than growing memory (`fit_before_growth`). A request
//! aligned above 8 takes its bin's head when the head's payload is aligned; else a small one
//! is placed with its gap in front cached (so that, freed, it is cached in turn and comes back
//! aligned), a large one at the end of the free block it is carved from.
//!
//! A request is served by [`Heap::take`]: the head of its own class if it [`fits`], a closer
//! fit among the next few of that class (`FIT_LOOKS`), the spare (`SPARE`), the first class
//! above whose head fits, else the top (growing memory, [`Heap::ensure`]); under `ONE_ENTRY`,
//! by [`Heap::place`] (the first class whose head fits, else the top) and one `trim`, which
//! `reallocate` shares with its in-place paths. Every block shrunk
//! or split ends in [`Heap::trim`]; every path that frees memory ends in [`Heap::release`],
//! which merges with both neighbours or gives the block back to `top`. Every pointer from a
//! caller passes [`Heap::used_block`] first.
//!
//! Under `LARGE_OFF_EDGE` a large block placed at the top, or placed aligned, starts at least
//! `PAGE_EDGE` bytes from a 4 KiB boundary where the room allows ([`Heap::placement_gap`]; the
//! gap in front is an ordinary free block). `WallE`'s realloc ([`Heap::reallocate_sized`])
//! grows the block just below `top` in place inline; every other case takes
//! [`Heap::reallocate_aligned`]. (docs/large-blocks.md)

use core::marker::PhantomData;

use crate::block::{
    aligned_gap, effective, fits, fits_without_tail, free_eff, select, FLAGS, FREE, HEADER, LAST,
    MAX_REQUEST, MIN_FREE_BLOCK, PREV_FREE,
};
use crate::cache::{bin_for, class_need, CacheBins, FINE_MAX};
use crate::classes::Classes;
use crate::policy::{Fast, Policy};
use crate::source::{Source, PAGE};

/// Whether the heap tracks its fresh memory (I6) and current region: for `allocate_zeroed`
/// and the heap walker, neither of which the plain standalone module has.
pub(crate) const TRACK_FRESH: bool = cfg!(any(
    not(all(target_arch = "wasm32", wall_e_module)),
    feature = "stats"
));
/// Only small requests are carved from the spare, and only their splits make one: large ones
/// get the best fit the classes find, which keeps fragmentation down (and the spare only when
/// memory cannot grow).
const SPARE_MAX: u32 = 256;
/// The spare is at most this large: a larger rest is listed, and a spare that merges grow
/// beyond it goes back to the lists, so that requests above `SPARE_MAX`, which never carve the
/// spare, find that memory. (Without this bound, a spare grown by merges could stay unused while
/// the heap grew: with `SPARE_MAX` at 64, the realloc-growth benchmark took 18 MiB, not 2.2.)
pub(crate) const SPARE_KEEP: u32 = 16384;
/// A closer fit in the own class (`Policy::FIT_LOOKS`) is looked for up to this size (mixed
/// sizes: 4.6 -> 4.4 MiB of heap, realloc growth 2.2 -> 2.0; above it, the remainders a closer
/// fit leaves cost more than they save).
const FIT_MAX: u32 = 16384;

/// Requests of at least this many bytes are large: under `Tuning::LARGE_OFF_EDGE` their
/// payload is placed at least `PAGE_EDGE` bytes from a 4 KiB boundary. (A page-strided walk
/// needs many pages to show the cost; a 64 KiB block has 16. The gap is at most 264 bytes:
/// under 0.5% of such a block, and a free block any request may take.)
pub const LARGE_MIN: u32 = 65536;
/// See `LARGE_MIN`: on this machine's CPU, one byte written per 4 KiB of a block whose start
/// lies within two cache lines of a 4 KiB boundary (on either side) takes 1.8x the time it
/// takes from any other offset (3,400-4,300 against 1,850-2,300 ns for the large-blocks
/// pattern, natively; docs/large-blocks.md).
pub const PAGE_EDGE: u32 = 128;
/// The hardware page whose edges `PAGE_EDGE` avoids.
const OS_PAGE: u32 = 4096;

/// The class of a free block of effective size `eff` under the policy `P`.
#[inline(always)]
fn class_of<P: Policy>(eff: u32) -> usize {
    P::Lists::class_of(eff)
}

/// A heap over the memory source `S`, with the policy `P` ([`Fast`] unless said otherwise).
/// Addresses in and out are `u32`; 0 is nil.
// The fields stay in this order, the ones used most first: in the size-tuned module their
// addresses (from 8, see `--global-base` in scripts/build.mjs) then fit in one-byte immediates,
// and scripts/small-post.mjs finds the scalars below the list heads.
#[repr(C)]
pub struct Heap<S: Source, P: Policy = Fast> {
    pub(crate) source: S,
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
    pub(crate) lists: P::Lists,
    /// The spare block (I4), carved first by the next small requests that their own class
    /// cannot serve; 0 if none (always, under a policy without `SPARE`).
    pub(crate) spare: u32,
    /// The cache of freed small blocks (I8; no bytes under a policy without one).
    pub(crate) cache: P::Cache,
    policy: PhantomData<P>,
}

impl<S: Source, P: Policy> Heap<S, P> {
    /// An empty heap; it asks `source` for memory on the first allocation.
    pub const fn new(source: S) -> Self {
        Heap {
            source,
            first: 0,
            region: 0,
            top: 0,
            limit: 0,
            fresh: 0,
            lists: P::Lists::EMPTY,
            spare: 0,
            cache: P::Cache::EMPTY,
            policy: PhantomData,
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

    /// The spare (0 under a policy without one: the compiler then drops every use).
    #[inline(always)]
    fn spare(&self) -> u32 {
        if P::SPARE {
            self.spare
        } else {
            0
        }
    }

    // ---- The API: every pointer passes `used_block`, every size `effective`. ----

    /// Allocates `size` bytes, 8-aligned; 0 when `size` is 0 or memory is exhausted.
    ///
    /// Under a policy with a cache, the cache's fast path is inlined into the caller and the
    /// rest is a call.
    #[inline(always)]
    pub fn allocate(&mut self, size: u32) -> u32 {
        self.allocate_from(size, true)
    }

    /// [`Heap::allocate`]; `near`: a miss may take a cached block within 125% from a bin
    /// above (not for a request that already holds a reallocation's headroom: the two slacks
    /// together would break I5).
    #[inline(always)]
    fn allocate_from(&mut self, size: u32, near: bool) -> u32 {
        if Self::caches() {
            let p = self.cache_pop(size, 8);
            if p != 0 {
                return p;
            }
            return self.allocate_slow(size, near);
        }
        self.allocate_uncached(size)
    }

    /// [`Heap::allocate`] behind the cache, out of line.
    #[inline(never)]
    fn allocate_slow(&mut self, size: u32, near: bool) -> u32 {
        if near {
            let p = if size > Self::CACHED_MAX {
                self.cache_pop_medium(size, 8)
            } else {
                self.cache_pop_near(size)
            };
            if p != 0 {
                return p;
            }
        }
        self.allocate_uncached(size)
    }

    /// [`Heap::allocate`] from the heap itself.
    #[inline(always)]
    fn allocate_uncached(&mut self, size: u32) -> u32 {
        if P::ONE_ENTRY {
            return self.reallocate(0, size);
        }
        let Some(need) = Self::effective_need(size) else {
            return 0;
        };
        self.take_for(need, size)
    }

    /// The effective size a request of `size` bytes is given (`effective`, and under a policy
    /// with a cache, above 64 bytes the first size of its bin's class, cache.rs); `None` for 0
    /// or impossible sizes.
    #[inline(always)]
    fn effective_need(size: u32) -> Option<u32> {
        effective(size, P::TAIL).map(Self::need_of)
    }

    /// A new block from [`Heap::take`] for `size` bytes (effective size `need`), its logical
    /// size written: its payload, or 0.
    #[inline(always)]
    fn take_for(&mut self, need: u32, size: u32) -> u32 {
        let mut need = need;
        if P::ODD_SIZES && HEADER + need > self.limit - self.top {
            // The odd size does not fit the room at the top, but the request rounded to 8 (8
            // bytes less) does: memory does not grow for those 8 bytes (the room at the top is
            // usable whole, as without `ODD_SIZES`).
            match effective(size, P::TAIL) {
                Some(rounded) if HEADER + rounded <= self.limit - self.top => need = rounded,
                _ => {}
            }
        }
        let mut header = self.take(need);
        if header == 0 && Self::caches() {
            // Out of memory with the request rounded up to its cache class: the request
            // rounded to 8 may still fit (a heap under a cap must not fail a request the room
            // holds: found by the fuzzer).
            match effective(size, P::TAIL) {
                Some(rounded) if rounded != need => header = self.take_searched(rounded),
                _ => {}
            }
        }
        if header == 0 {
            return 0;
        }
        // SAFETY: `take` returned a used block of this heap.
        unsafe { self.set_logical(header, size) };
        header + HEADER
    }

    /// Allocates `size` bytes aligned to `align` (a power of two); 0 on failure.
    ///
    /// (`WallE::alloc`'s entry: an 8-aligned request whose bin is empty takes the head of the
    /// next bin inline too, before the call. In churn of 16-1,024 B a fifth of the allocations
    /// miss their own bin, and that bin serves half of those: natively, 44,178 calls to
    /// `allocate_slow` left in 400,000 steps. Not in the module's `allocate`/`reallocate`,
    /// where the copies cost 301 bytes.)
    #[inline(always)]
    pub fn allocate_aligned(&mut self, size: u32, align: u32) -> u32 {
        if Self::caches() && align <= 8 {
            let p = self.cache_pop(size, 8);
            if p != 0 {
                return p;
            }
            let p = self.cache_pop_next(size);
            if p != 0 {
                return p;
            }
            return self.allocate_slow(size, true);
        }
        self.allocate_aligned_from(size, align, true)
    }

    /// [`Heap::allocate_aligned`]; `near` as in [`Heap::allocate_from`].
    #[inline(always)]
    fn allocate_aligned_from(&mut self, size: u32, align: u32, near: bool) -> u32 {
        if align <= 8 {
            return self.allocate_from(size, near);
        }
        if Self::caches() {
            // 16 is common in Rust (`u128`, SIMD): a cached block whose payload is aligned (as
            // every block placed for such a request is, and its gap cached in front of it:
            // `allocate_over_aligned`) serves it, the same pop as at 8 (`cache_pop`'s test).
            let p = self.cache_pop(size, align);
            if p != 0 {
                return p;
            }
            if near && size > Self::CACHED_MAX {
                let p = self.cache_pop_medium(size, align);
                if p != 0 {
                    return p;
                }
            }
        }
        self.allocate_over_aligned(size, align)
    }

    /// [`Heap::allocate_aligned`] for a block that moves (`reallocate`): one copy of the
    /// inlined paths, out of line (a copy per call site cost the module 162 bytes).
    #[inline(never)]
    fn allocate_moved(&mut self, size: u32, align: u32, near: bool) -> u32 {
        self.allocate_aligned_from(size, align, near)
    }

    /// Like [`Heap::allocate_aligned`], with the payload zeroed. Memory fresh from the source is
    /// zero already, so only the part the heap used before is cleared.
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

    /// Frees the block at `p`. Nil, pointers that are not the start of a used block as far as its
    /// header shows, and a second free of the same block are ignored.
    ///
    /// Under a policy with a cache, the pointer check and the cache's fast path are inlined
    /// into the caller and the rest is a call.
    #[inline(always)]
    pub fn deallocate(&mut self, p: u32) {
        if P::ONE_ENTRY {
            self.reallocate(p, 0);
            return;
        }
        if let Some(header) = self.used_block(p) {
            // SAFETY: `used_block` found a used block at `header`.
            unsafe { self.free_used(header) };
        }
    }

    /// Frees the block at `p`, which the caller says holds `size` bytes (the size it was
    /// allocated or last resized with: `WallE`'s `Layout`). With that size known, a small
    /// block whose header holds that size's class goes to the cache after a pointer check of
    /// two comparisons, inlined into the caller; anything else (no cache, a large size, a
    /// block taken from a bin above or after a free one, a size the header does not confirm)
    /// takes [`Heap::deallocate`]'s path, out of line. A wrong size or a bad pointer is
    /// therefore ignored exactly as there.
    ///
    /// The check: one comparison finds `p` 8-aligned with the whole block `[p - 8, p + eff)`
    /// inside the heap (`first + 8 <= p <= top - eff`), a second that the header holds `size`
    /// and exactly `eff` with no flag (used, not an end marker, its left neighbour not free),
    /// which is what `Heap::used_block`'s six comparisons and `cache_push`'s checks of the
    /// flags find for such a block. (32-byte alloc+free in a Rust loop: see docs/small-blocks.md.)
    #[inline(always)]
    pub fn deallocate_sized(&mut self, p: u32, size: u32) {
        if Self::caches() && size.wrapping_sub(1) < Self::CACHED_MAX - P::TAIL {
            let below = size + P::TAIL - 1;
            let eff = class_need((below | 7) + 1);
            if self.holds_block(p, eff) {
                let header = p - HEADER;
                // `eff` with no flag, or in a class of two sizes `eff + 8` (a tail too small
                // to split off), and the logical size: the common case, inlined, the bin the
                // request's (cache.rs, "The bins' classes").
                let tail = if eff > FINE_MAX { HEADER } else { 0 };
                if self.size_word(header).wrapping_sub(eff) & !tail == 0
                    && self.logical(header) == size
                    // SAFETY: `header` is a used block of `eff` or `eff + tail` bytes inside
                    // the heap whose left neighbour is not free (checked above), in the bin
                    // of `below`'s class.
                    && unsafe {
                        self.cache_push_to(header, eff, bin_for(below))
                    }
                {
                    return;
                }
                // A block with more slack (taken from a bin above) or after a free block is
                // checked out of line (`deallocate_sized_slow`): the inlined free is then
                // short enough for LLVM to inline `WallE::dealloc` into the caller's loop
                // (LIFO/FIFO batches of 32 B 3.7-3.9 against 4.0-4.4 ns a block; churn of
                // 16-1,024 B x1.21-1.40 wasmalloc's time against main's x1.31-1.50 in two
                // pairs of full runs: docs/small-blocks.md). With that slack test inline too
                // (one comparison and the push to the word's bin), the push's address depended
                // on the word loaded and the 32-byte pair took 5.7 ns.
            }
        }
        self.deallocate_sized_slow(p, size)
    }

    /// The one-comparison bounds check of [`Heap::deallocate_sized`]: whether `p` is 8-aligned
    /// with the whole block `[p - 8, p + eff)` inside the heap (`first + 8 <= p <= top - eff`).
    #[inline(always)]
    fn holds_block(&self, p: u32, eff: u32) -> bool {
        let from = self.first + HEADER;
        // The room for a block of `eff` bytes: negative (no such block) while the heap is
        // empty or smaller. In i64, so that the heap may span the whole 4 GiB.
        let room = self.top as i64 - from as i64 - eff as i64;
        // Rotated, an offset that is not a multiple of 8 (or below `from`, wrapped) is at
        // least 2^29, above any `room >> 3`.
        let off = p.wrapping_sub(from).rotate_right(3);
        off as i64 <= room >> 3
    }

    /// [`Heap::deallocate_sized`] when the header is not the size's class (a block taken
    /// from a bin above, one just below the top after a free block, a full bin, a large block,
    /// a wrong size, a bad pointer): [`Heap::deallocate`]'s path, where the header decides,
    /// out of line (inlined, it kept `WallE::dealloc` out of the caller's loop). Its own checks
    /// of a block with slack, once here, cost the size-tuned app 90 bytes and saved nothing
    /// measurable once the classes left few such blocks (docs/small-blocks.md).
    #[inline(never)]
    fn deallocate_sized_slow(&mut self, p: u32, _size: u32) {
        self.deallocate(p)
    }

    /// Frees the used block at `header`: into the cache if it takes it, else to the heap.
    ///
    /// # Safety
    /// `header` is a used block of this heap.
    #[inline(always)]
    unsafe fn free_used(&mut self, header: u32) {
        let word = self.size_word(header);
        // SAFETY: the caller's promise.
        unsafe {
            if Self::caches() && self.cache_push(header, word) {
                return;
            }
            self.release(header, word);
        }
    }

    /// The logical size of the block at `p` (the size last asked for); 0 for nil or a pointer
    /// that is not a used block.
    pub fn size(&self, p: u32) -> u32 {
        match self.used_block(p) {
            Some(header) => self.logical(header),
            None => 0,
        }
    }

    /// Resizes the block at `p` to `size` bytes, in place when it can, else by moving it; the
    /// first `min(old, new)` bytes are kept. `p == 0` allocates; `size == 0` frees and returns 0.
    /// On failure returns 0 and leaves the old block untouched.
    pub fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        self.reallocate_aligned(p, size, 8)
    }

    /// [`Heap::reallocate_aligned`] for a block the caller says holds `old` bytes (`WallE`'s
    /// `Layout`): under `INLINE_FAST_PATHS` the block just below `top` (a growing buffer:
    /// `Vec`, a doubling realloc) grows in place with no call, after the pointer check of
    /// `Heap::used_block` and its logical size matched against `old`; anything else (a
    /// shrink, a block elsewhere, memory to grow, a wrong `old`, a bad pointer) takes
    /// [`Heap::reallocate_aligned`]'s path, out of line. (Realloc doubling 16 B -> 1 MiB in a
    /// Rust program: see docs/large-blocks.md.)
    #[inline(always)]
    pub fn reallocate_sized(&mut self, p: u32, old: u32, size: u32, align: u32) -> u32 {
        if P::INLINE_FAST_PATHS && size > old {
            if let Some(header) = self.used_block(p) {
                let word = self.size_word(header);
                let eff = word & !FLAGS;
                // (`size > old`: not 0. A `size` near 4 GiB rounds up past `u32::MAX`: the
                // slow path refuses it.)
                let need = size.wrapping_add(P::TAIL + 7) & !7;
                if self.logical(header) == old
                    && need > eff
                    && p + eff == self.top
                    && need - eff <= self.limit - self.top
                {
                    // SAFETY: `header` is a used block ending at `top`, and the room for its
                    // new end lies in the current region: it spans `need` bytes of payload,
                    // its `PREV_FREE` kept; nothing follows it but `top`.
                    unsafe {
                        self.set_top(p + need);
                        self.set_size_word(header, need | (word & PREV_FREE));
                        self.set_logical(header, size);
                    }
                    return p;
                }
            }
        }
        self.reallocate_slow(p, size, align)
    }

    /// [`Heap::reallocate_aligned`] behind [`Heap::reallocate_sized`], out of line.
    #[inline(never)]
    fn reallocate_slow(&mut self, p: u32, size: u32, align: u32) -> u32 {
        self.reallocate_aligned(p, size, align)
    }

    /// [`Heap::reallocate`] for a block allocated with alignment `align`.
    #[inline(always)]
    pub fn reallocate_aligned(&mut self, p: u32, size: u32, align: u32) -> u32 {
        if p == 0 && !P::ONE_ENTRY {
            return self.allocate_aligned_from(size, align, true);
        }
        // The old block's logical size through the pointer check (`size`, one function in the
        // size-tuned module): 0 when `p` is 0, and never 0 for a used block.
        let old = self.size(p);
        if old == 0 && p != 0 {
            return 0;
        }
        // The old block's header if there is one (`old != 0`).
        let header = p.wrapping_sub(HEADER);
        if size == 0 && !P::ONE_ENTRY {
            if old != 0 {
                // SAFETY: `size` found a used block at `header`.
                unsafe { self.free_used(header) };
            }
            return 0;
        }
        // Under `ONE_ENTRY` a free is a move to nothing: the old block is released at the end,
        // as after a move (one release in the size-tuned module, not two: 17 bytes).
        let q = if size == 0 {
            0
        } else {
            let Some(rounded) = effective(size, P::TAIL) else {
                return 0;
            };
            let need = Self::need_of(rounded);
            if P::ONE_ENTRY && align <= 8 {
                // One placement for every case: the block itself resized in place, else a
                // listed block, else room at the top (`place`); then one `trim` and one store
                // of the logical size (13 bytes less in the size-tuned module than a `trim`
                // and a store on each path).
                let (found, word) = 'placed: {
                    if old != 0 {
                        // SAFETY: `header` is a used block (checked above).
                        if let Some(word) = unsafe { self.resize_in_place(header, need) } {
                            break 'placed (header, word);
                        }
                    }
                    let Some(placed) = self.place(need) else {
                        return 0;
                    };
                    placed
                };
                // SAFETY: `found` is this heap's, to be a used block of `word`'s bytes (and
                // flag), the bytes after it a block, a marker or `top`.
                unsafe {
                    self.trim(found, word, need);
                    self.set_logical(found, size);
                }
                // (`q`, not `p`, returned in place: the same value, 4 bytes less in the
                // size-tuned module.)
                let q = found + HEADER;
                if found == header {
                    return q;
                }
                q
            } else {
                if old != 0 {
                    let eff = self.eff(header);
                    // (Against the request rounded to 8, not to its cache class: I5; and a block
                    // that holds the request but not its class, as one the out-of-memory fallback
                    // or an aligned placement made, stays: a shrink never moves, the fuzzer's find.)
                    if P::HEADROOM && rounded <= eff && eff - rounded <= rounded / 4 {
                        // A slack within 125% stays (I5): a string growing into its headroom does no
                        // list work.
                        // SAFETY: `header` is a used block (checked above).
                        unsafe { self.set_logical(header, size) };
                        return p;
                    }
                    // SAFETY: `header` is a used block (checked above).
                    if let Some(word) = unsafe { self.resize_in_place(header, need) } {
                        // SAFETY: `resize_in_place` left `header` a used block holding `word`'s bytes.
                        unsafe {
                            self.trim(header, word, need);
                            self.set_logical(header, size);
                        }
                        return p;
                    }
                }
                // A new block from `allocate_aligned`, where a block that grows by a little gets
                // headroom for the next little growths (strings built piecemeal; not vectors that
                // double), as much as the 125% rule allows even with an unsplittable 8-byte tail.
                // (8 bytes less where the cache's classes, or `ODD_SIZES`, may round the
                // request up by 8.)
                let grain = if (Self::caches() && size < Self::CACHED_MAX) || P::ODD_SIZES {
                    16
                } else {
                    8
                };
                let headroom = if P::HEADROOM && size > old && size - old <= old / 4 {
                    ((size / 4) & !7).saturating_sub(grain)
                } else {
                    0
                };
                let mut q =
                    self.allocate_moved(size.saturating_add(headroom), align, headroom == 0);
                if q == 0 && headroom != 0 {
                    q = self.allocate_moved(size, align, true);
                }
                if q == 0 {
                    return 0;
                }
                // SAFETY: `q` is the used block just placed (with headroom: its size is `size`).
                unsafe { self.set_logical(q - HEADER, size) };
                q
            }
        };
        if old != 0 {
            // A block moves only to grow (`resize_in_place` takes every shrink): all of it is
            // kept, or nothing when freeing (`ONE_ENTRY`, `q` 0). (Not `old.min(size)`, and a
            // mask, not a branch: 3 bytes less in the size-tuned module.)
            debug_assert!(size == 0 || size > old);
            let keep = old & ((size != 0) as u32).wrapping_neg();
            // SAFETY: `q` is a new used block, distinct from the old one, which is still used;
            // both hold at least `keep` bytes (none when freeing).
            unsafe {
                core::ptr::copy_nonoverlapping(self.at(p, keep), self.at(q, keep), keep as usize);
                self.release(header, self.size_word(header));
            }
        }
        q
    }

    /// **The pointer check:** the header of the used block whose payload starts at `p` if the
    /// cheap checks pass (aligned, inside the heap, a used header whose block is not empty, ends
    /// inside the heap and holds its logical size). Every pointer from a caller passes here.
    /// (Inlined, so the `Option` never goes through memory.)
    #[inline(always)]
    pub(crate) fn used_block(&self, p: u32) -> Option<u32> {
        // (`p > first` is `p >= first + 8` for an 8-aligned `p`: 3 bytes less.)
        if p & 7 != 0 || p <= self.first || p >= self.top {
            return None;
        }
        let header = p - HEADER;
        let word = self.size_word(header);
        // With `FREE` and `LAST` clear, `word` is the effective size (a multiple of 8) plus 0
        // or `PREV_FREE` (2), and `top - p` a multiple of 8: `word - 3 >= top - p` exactly when
        // the block is empty (it wraps: an all-zero "header" inside a payload; no block is
        // empty) or ends past `top` (3 bytes less in the size-tuned module than `eff - 1`).
        if word & (FREE | LAST) != 0
            || word.wrapping_sub(3) >= self.top - p
            || self.logical(header) > word & !FLAGS
        {
            return None;
        }
        Some(header)
    }

    // ---- Finding a block. ----

    /// A used block of effective size `need` or a little more (I5; its logical size still to be
    /// written), or 0: see the module's "Paths".
    ///
    /// Under `INLINE_FAST_PATHS`, when the top has the room, there is no spare and no list at or
    /// above the request's class holds a block (every step of the search looks there), the
    /// block is carved at the top here, inlined into the caller, without a call to the search
    /// ([`Heap::take_searched`]): a request larger than every free block (the benchmark's
    /// scaling rows: misfits among small holes) then costs no more than a bump
    /// (bench/instructions, scaling rows: 336 / 419 / 515 -> 317 / 400 / 444 instructions a
    /// call; docs/small-blocks.md, "Misfits among cached holes"). Only for requests the cache
    /// could hold (a test against a constant): checked for every request, the test cost talc's
    /// random actions (1-10,000 B, natively, bench/replay) 2% more instructions.
    /// (A large block goes off a page edge, `bump_large`, in the search.)
    #[inline(always)]
    fn take(&mut self, need: u32) -> u32 {
        if P::ONE_ENTRY {
            // The one-entry policy's placement, as `reallocate` makes it: `place`, then `trim`.
            let Some((found, word)) = self.place(need) else {
                return 0;
            };
            // SAFETY: `place` gave a block of `word`'s bytes, this heap's, to be a used block.
            unsafe { self.trim(found, word, need) };
            return found;
        }
        if P::INLINE_FAST_PATHS
            && need <= Self::CACHED_EFF_MAX
            && self.spare() == 0
            && HEADER + need <= self.limit - self.top
            && !self.lists.any_at_or_above(class_of::<P>(need))
            && (!Self::caches() || self.cache.medium() == 0)
        {
            // SAFETY: the room is there (checked).
            return unsafe { self.bump(need, 0) };
        }
        self.take_searched(need)
    }

    /// [`Heap::take`]'s search, out of line under `INLINE_FAST_PATHS`.
    #[inline]
    fn take_searched(&mut self, need: u32) -> u32 {
        let listed = self.lists.any();
        // Nothing free (stack-like use gives every block back to the top): bump at once. (Not
        // tested in the size-tuned module: its search finds an empty bitmap at once, and the
        // test cost it 25 bytes.)
        // (A cached medium block serves a small request before the top is bumped: see below.)
        if !P::INLINE_FAST_PATHS
            || listed
            || self.spare() != 0
            || HEADER + need > self.limit - self.top
            || (Self::caches() && self.cache.medium() != 0 && need <= Self::CACHED_EFF_MAX)
        {
            let own = class_of::<P>(need);
            // The classes above `from` are searched for a head that fits: above the own class when
            // the policy has steps in between (a closer fit, the spare), else from the own class.
            let mut from = own;
            if P::FIT_LOOKS != 0 || P::SPARE {
                from = P::Lists::above(own, need);
                if listed {
                    let head = self.lists.head(own);
                    if head != 0 {
                        let eff = self.eff(head);
                        if (P::Lists::OWN_CLASS_FITS && eff >= need) || fits(eff, need) {
                            debug_assert!(fits(eff, need));
                            // SAFETY: `head` heads the list of `own`, and fits.
                            unsafe {
                                if eff - need < MIN_FREE_BLOCK {
                                    // The commonest case in churn: an exact fit at the head.
                                    self.pop(head, own, eff);
                                    return head;
                                }
                                return self.take_listed(head, own, eff, need);
                            }
                        }
                        if P::FIT_LOOKS != 0 && need <= FIT_MAX {
                            let found = self.fit_in_class(head, need);
                            if found != 0 {
                                // SAFETY: `found` is in the list of `own`, and fits.
                                return unsafe { self.take_within(found, own, need) };
                            }
                        }
                    }
                }
                if P::SPARE && need <= SPARE_MAX {
                    let carved = self.carve_spare(need);
                    if carved != 0 {
                        return carved;
                    }
                }
            }
            // (Again not tested in the size-tuned module: 3 bytes.)
            if listed || !P::INLINE_FAST_PATHS {
                // From `Classes::above` every block may fit, and under some schemes does: then the
                // first non-empty class is the one (tested in classes_quarter.rs).
                let found = if P::Lists::ABOVE_FITS && from != own {
                    self.lists.first_at_or_above(from)
                } else {
                    self.class_fitting(from, need)
                };
                if let Some(class) = found {
                    let head = self.lists.head(class);
                    let eff = free_eff(self.size_word(head));
                    debug_assert!(fits(eff, need));
                    // SAFETY: `head` heads the list of `class`, and fits.
                    return unsafe { self.take_listed(head, class, eff, need) };
                }
            }
            if Self::caches() && self.cache.medium() != 0 && need <= Self::CACHED_EFF_MAX {
                // No listed block fits a small request: a cached medium block goes back to the
                // heap, merged, and serves it split, before the top is bumped (`make bench`'s
                // string building: 192 -> 128 KiB of heap, main's; without it the cached
                // blocks' memory stayed out of use until the next flush and the top grew
                // instead). Not for a medium request: talc's random actions then took 3,072
                // KiB, not 3,008 (docs/small-blocks.md, "Medium blocks").
                let found = self.take_from_medium(need);
                if found != 0 {
                    return found;
                }
            }
            if Self::caches() && HEADER + need > self.limit - self.top && self.cache_may_serve(need)
            {
                // Memory would grow: the cached blocks that may make a fit go back first (I8: the
                // cache never makes the heap larger). (Also before a large request takes room at
                // the top: no less memory, mixed sizes 280 -> 296 instructions a call, realloc
                // growth 2594 -> 2656.)
                let found = self.take_flushed(need);
                if found != 0 {
                    return found;
                }
            }
            if !self.ensure(HEADER + need) {
                // Out of memory: the spare, kept for small requests, serves any request it fits
                // rather than failing one with that room free.
                return if P::SPARE {
                    self.carve_spare_out_of_memory(need)
                } else {
                    0
                };
            }
        }
        // SAFETY: the room is there (checked, or made by `ensure`).
        unsafe {
            if Self::off_edge(need, 8) {
                return self.bump_large(need);
            }
            self.bump(need, 0)
        }
    }

    /// Under `ONE_ENTRY`, a block for `need` bytes not yet split: the head of the first class
    /// from the own one up that fits, unlinked, else room at `top` (growing memory); its header
    /// and its size word for [`Heap::trim`] (the payload it spans; no flag: a free block's left
    /// neighbour is used, I2), or `None` when memory cannot grow. (An `Option`, not a header
    /// 0: the caller then tests for it on that path alone, 5 bytes less in the size-tuned
    /// module.)
    #[inline(always)]
    fn place(&mut self, need: u32) -> Option<(u32, u32)> {
        if let Some(class) = self.class_fitting(class_of::<P>(need), need) {
            let head = self.lists.head(class);
            let word = self.size_word(head);
            // SAFETY: `head` heads the list of `class`.
            unsafe { self.unlink(head) };
            return Some((head, free_eff(word)));
        }
        if !self.ensure(HEADER + need) {
            return None;
        }
        let header = self.top;
        self.set_top(header + HEADER + need);
        Some((header, need))
    }

    /// Carves a large block of `need` bytes at `top`, off a page edge where the room allows
    /// (`placement_gap`; a listed block above is taken where it lies). Out of line: rare.
    ///
    /// # Safety
    /// `ensure(HEADER + need)` has made the room.
    #[cold]
    #[inline(never)]
    unsafe fn bump_large(&mut self, need: u32) -> u32 {
        let top = self.top;
        let gap = Self::placement_gap(top, 8, need, self.limit - top - HEADER);
        // SAFETY: the room for the block (the caller's promise) and, `placement_gap` checked,
        // for the gap; the block below `top` is used (I2).
        unsafe { self.bump_after(gap, need) }
    }

    /// Gives the cached blocks that may make a fit for `need` bytes back to the heap
    /// ([`Heap::flush_cache_for`]) and takes a listed block for it if they did; else 0.
    #[cold]
    #[inline(never)]
    fn take_flushed(&mut self, need: u32) -> u32 {
        if self.flush_cache_for(need) {
            return self.take_listed_for(need);
        }
        0
    }

    /// Before memory grows for the block just below `top` to grow in place to `need` bytes:
    /// the cached blocks that may make a fit go back to the heap, as before any growth
    /// ([`Heap::flush_cache_for`]: I8, the cache never makes the heap grow), and whether a
    /// listed block now fits `need`, so that the block moves there (its place then goes back
    /// to `top`) rather than memory growing. Without it a string at the top grew memory
    /// while the medium bins held freed strings' memory: `make bench`'s string building took
    /// 640 KiB-1 MiB of heap at full scale (dlmalloc 192 KiB), 128 KiB with this (natively,
    /// `bench/replay strings`, the 7 seeds of `bench/run`: 10-15 pages, 3 with it;
    /// docs/small-blocks.md, "Why the heap grew").
    #[cold]
    #[inline(never)]
    fn fit_before_growth(&mut self, need: u32) -> bool {
        // (No `cache_may_serve` test: 97 bytes of module less, and this runs only when memory
        // would grow for the block at the top: string building at full scale 373 -> 371
        // instructions a call, 372 with the test.)
        self.flush_cache_for(need);
        self.find_free(need) != 0
    }

    /// A listed block for `need` bytes (the first class's head that fits, split), or 0.
    pub(crate) fn take_listed_for(&mut self, need: u32) -> u32 {
        let found = self.find_free(need);
        if found == 0 {
            return 0;
        }
        let eff = self.eff(found);
        // SAFETY: `found` heads the list of its class, and fits.
        unsafe { self.take_listed(found, class_of::<P>(eff), eff, need) }
    }

    /// The first class from `class` up whose head [`fits`] `need` (from `Classes::above` the
    /// own class, the first head found fits): the index skips the empty lists.
    #[inline(always)]
    fn class_fitting(&self, class: usize, need: u32) -> Option<usize> {
        let mut class = class;
        while let Some(found) = self.lists.first_at_or_above(class) {
            let eff = free_eff(self.size_word(self.lists.head(found)));
            if (P::TAIL_OF_8 && fits(eff, need)) || fits_without_tail(eff, need) {
                return Some(found);
            }
            class = found + 1;
        }
        None
    }

    /// A listed free block that fits `need`, still linked, or 0: the first head from the own
    /// class up that fits. (For over-aligned requests.)
    pub(crate) fn find_free(&self, need: u32) -> u32 {
        if !self.lists.any() {
            return 0; // e.g. stack-like use, where every block freed goes back to the top
        }
        match self.class_fitting(class_of::<P>(need), need) {
            Some(class) => self.lists.head(class),
            None => 0,
        }
    }

    /// The smallest block that fits `need` among the `FIT_LOOKS` after `head` in its list, or 0.
    #[inline(never)]
    fn fit_in_class(&self, head: u32, need: u32) -> u32 {
        let mut node = self.next_link(head);
        let mut looks = 0;
        let mut best = 0;
        let mut best_eff = u32::MAX;
        while node != 0 && looks < P::FIT_LOOKS {
            let eff = self.eff(node);
            if eff >= need && eff < best_eff {
                best = node;
                best_eff = eff;
            }
            node = self.next_link(node);
            looks += 1;
        }
        // The smallest block at least as large: the 125% rule is checked once, on it.
        if best != 0 && !(P::Lists::OWN_CLASS_FITS || fits(best_eff, need)) {
            return 0;
        }
        best
    }

    /// [`Heap::carve_spare`] on the cold path, out of line.
    #[cold]
    #[inline(never)]
    fn carve_spare_out_of_memory(&mut self, need: u32) -> u32 {
        self.carve_spare(need)
    }

    /// The spare's front carved for `need` bytes (the rest stays the spare), or the whole spare
    /// when its surplus is too small to split; 0 when there is no spare or it does not fit.
    #[inline(always)]
    fn carve_spare(&mut self, need: u32) -> u32 {
        let spare = self.spare();
        if spare == 0 {
            return 0;
        }
        let eff = self.eff(spare);
        if !fits(eff, need) {
            return 0;
        }
        // SAFETY: the spare is a free block of this heap in no list (I4), at least `need` long.
        unsafe {
            if eff - need >= MIN_FREE_BLOCK {
                self.spare = spare + HEADER + need;
                self.write_free(self.spare, eff - need - HEADER);
                self.set_size_word(spare, need);
            } else {
                self.spare = 0;
                self.set_size_word(spare, eff);
                self.clear_prev_free(spare, eff);
            }
        }
        spare
    }

    /// Takes `found`, the head of the list of `class`, of effective size `eff`, for `need` bytes
    /// (I5), splitting off the rest: as the spare (small requests), in the same place of the
    /// same list when its class is the same (`KEEP_LIST_PLACE`), else pushed on its list.
    ///
    /// # Safety
    /// `found` heads the list of `class`; `eff` is its size and [`fits`] `need`.
    unsafe fn take_listed(&mut self, found: u32, class: usize, eff: u32, need: u32) -> u32 {
        debug_assert!(self.lists.head(class) == found && fits(eff, need));
        // SAFETY: `found` is a listed free block of `eff` bytes; `rest` lies inside it.
        unsafe {
            if eff - need < MIN_FREE_BLOCK {
                self.pop(found, class, eff);
                return found;
            }
            let rest = found + HEADER + need;
            let rest_eff = eff - need - HEADER;
            if P::SPARE && need <= SPARE_MAX && rest_eff <= SPARE_KEEP {
                // The rest becomes the spare (carved from the front, so that in FIFO-like
                // patterns the next block freed borders it); the previous spare is listed.
                self.unlink_head(found, class);
                let old = self.spare;
                if old != 0 {
                    self.link(old, class_of::<P>(self.eff(old)));
                }
                self.spare = rest;
            } else if P::KEEP_LIST_PLACE && class_of::<P>(rest_eff) == class {
                // The rest keeps the place in the same list: only the links move.
                self.move_links(found, rest, class);
            } else {
                self.unlink_head(found, class);
                self.link(rest, class_of::<P>(rest_eff));
            }
            // The block after `found` carries PREV_FREE already: `rest` is free.
            self.write_free(rest, rest_eff);
            self.set_size_word(found, need);
        }
        found
    }

    /// Takes the listed free block `found` of `class` (anywhere in its list) for `need` bytes
    /// (I5), splitting off the rest as a listed free block.
    ///
    /// # Safety
    /// `found` is in the list of `class` and [`fits`] `need`.
    #[inline(never)]
    unsafe fn take_within(&mut self, found: u32, class: usize, need: u32) -> u32 {
        let eff = self.eff(found);
        debug_assert!(fits(eff, need));
        // SAFETY: `found` is a listed free block; the rest lies inside it.
        unsafe {
            self.unlink_from(found, class);
            if eff - need < MIN_FREE_BLOCK {
                self.set_size_word(found, eff);
                self.clear_prev_free(found, eff);
            } else {
                // The block after `found` carries PREV_FREE already.
                self.make_free(found + HEADER + need, eff - need - HEADER);
                self.set_size_word(found, need);
            }
        }
        found
    }

    /// Takes `head`, the head of the list of `class`, whole: it becomes a used block.
    ///
    /// # Safety
    /// `head` heads the list of `class`; `eff` is its size.
    #[inline(always)]
    unsafe fn pop(&mut self, head: u32, class: usize, eff: u32) {
        // SAFETY: the caller's promise. A free block's own PREV_FREE is clear (I2): this leaves
        // it a used block.
        unsafe {
            self.unlink_head(head, class);
            self.set_size_word(head, eff);
            self.clear_prev_free(head, eff);
        }
    }

    /// [`Heap::allocate_aligned`] for `align` > 8: the payload may start past the block's start;
    /// the gap in front becomes a free block, or, in front of a small block, a cached one
    /// (`cache_gap`). A large block taken from a listed free block goes at its end
    /// (`place_at_end`).
    fn allocate_over_aligned(&mut self, size: u32, align: u32) -> u32 {
        // (Rounded to 8 only, but under `ODD_SIZES`: a block placed aligned is not one a
        // cache class serves often, and its free takes the header's word.)
        let Some(need) = effective(size, P::TAIL) else {
            return 0;
        };
        let need = if P::ODD_SIZES {
            Self::need_of(need)
        } else {
            need
        };
        // A free block this large holds an aligned payload wherever it starts: the gap in front
        // is at most `align + 8` (a gap of exactly 8 cannot be a free block, so it grows by one
        // more alignment step). (A large block's move off a page edge is made only where the
        // room is there anyway: `placement_gap`.)
        let Some(room) = need.checked_add(align + 8).filter(|&r| r <= MAX_REQUEST) else {
            return 0;
        };
        let mut found = self.find_free(room);
        if found == 0
            && Self::caches()
            && HEADER + room > self.limit - self.top
            && self.cache_may_serve(room)
        {
            // As in `take`: no listed block holds it and memory may grow, so the cached blocks
            // that may make a fit go back first. (Not before the lists are looked at: with the
            // medium bins, 595 flushes in 100,000 of talc's random actions came from here, a
            // listed block serving nearly every such request; natively 1.15 million
            // instructions.)
            self.flush_cache_for(room);
            found = self.find_free(room);
        }
        // A small block's gap in front is cached rather than freed (`cache_gap`), so that the
        // block, freed, has no free left neighbour and is cached in turn.
        let small = Self::caches() && need <= Self::CACHED_MAX;
        let header = if found != 0 {
            let eff = self.eff(found);
            if !small && !Self::off_edge(need, align) {
                // SAFETY: `found` is a listed free block of `eff >= room` bytes.
                unsafe { self.place_at_end(found, eff, align, need) }
            } else {
                let gap = Self::placement_gap(found, align, need, eff);
                // SAFETY: `found` is a listed free block of `eff >= room` bytes: the gap and the
                // aligned block lie inside it; its left neighbour is used (I2).
                unsafe {
                    self.unlink(found);
                    if gap == 0 {
                        self.trim(found, eff, need);
                    } else if small && self.cache_gap(found, gap, need) {
                        self.trim(found + gap, eff - gap, need);
                    } else {
                        self.make_free(found, gap - HEADER);
                        self.trim(found + gap, (eff - gap) | PREV_FREE, need);
                    }
                }
                found + gap
            }
        } else {
            loop {
                let top = self.top;
                if !self.ensure(aligned_gap(top, align) + HEADER + need) {
                    return 0;
                }
                if self.top != top {
                    continue; // growth opened a new region: align again there
                }
                // (`limit - top`: the room for the gap and the block's header and payload.)
                let gap = Self::placement_gap(top, align, need, self.limit - top - HEADER);
                // SAFETY: `ensure` made the room for the gap and the block; the block below
                // `top` is used (I2), so the gap, cached, has no free left neighbour.
                unsafe {
                    if gap != 0 && small && self.cache_gap(top, gap, need) {
                        self.set_top(top + gap);
                        break self.bump(need, 0);
                    }
                    break self.bump_after(gap, need);
                }
            }
        };
        // SAFETY: `header` is the used block just placed.
        unsafe { self.set_logical(header, size) };
        header + HEADER
    }

    /// Places a block of `need` bytes aligned to `align` at the end of the listed free block
    /// `found` (`eff` bytes): the front stays free where it is (in its list place while its
    /// class stays, `resize_free`), and the tail past the block, under `align`, is an 8-byte
    /// slack (I5) or split off. At the front, the gap was a free block more and the rest behind
    /// the block another: three list changes against one. talc's random actions (1-10,000 B at
    /// alignments 8-2,048), natively: an over-aligned allocation 432 -> 375 instructions, the
    /// run 36.7 -> 35.4 million in 100,000 actions (with the gap rule); in wasmtime 41.8-42.7
    /// against 44.7-46.4 ns an action, 64 KiB less with realloc (docs/small-blocks.md).
    /// Returns the block's header.
    ///
    /// # Safety
    /// `found` is a listed free block of `eff >= need + align + 8` bytes.
    unsafe fn place_at_end(&mut self, found: u32, eff: u32, align: u32, need: u32) -> u32 {
        let end = found + HEADER + eff;
        let p = (end - need) & !(align - 1);
        let header = p - HEADER;
        // At least 16 (a free block): `eff >= need + align + 8` leaves `p >= found + 24`.
        let front = header - found;
        debug_assert!(front >= MIN_FREE_BLOCK && end - p - need < align);
        // SAFETY: `found` is listed; the front and the block (with its tail) tile it; the
        // block after `found` carries `PREV_FREE`, which `trim` clears or keeps for the tail.
        unsafe {
            self.resize_free(found, eff, found, front - HEADER);
            self.trim(header, (end - p) | PREV_FREE, need);
        }
        header
    }

    /// Whether a block of `need` bytes aligned to `align` is placed off the page edges
    /// (`Tuning::LARGE_OFF_EDGE`).
    #[inline(always)]
    fn off_edge(need: u32, align: u32) -> bool {
        P::LARGE_OFF_EDGE && need >= LARGE_MIN && align <= PAGE_EDGE
    }

    /// The gap in front of a block placed at `header` for `need` bytes aligned to `align`,
    /// where `room` bytes are free from `header + 8` on (at least the aligned gap and `need`):
    /// 0, or at least 16 bytes (a free block). A large block's payload (`off_edge`) is moved,
    /// in steps of `align`, to lie at least `PAGE_EDGE` bytes from a 4 KiB boundary (at most
    /// `2 * PAGE_EDGE + align` bytes more) when `room` holds that too: the rule never grows
    /// memory nor passes over a free block that fits.
    #[inline(always)]
    fn placement_gap(header: u32, align: u32, need: u32, room: u32) -> u32 {
        // (Headers are 8-aligned, I1: no gap for 8.)
        let gap = if align <= 8 {
            0
        } else {
            aligned_gap(header, align)
        };
        if !Self::off_edge(need, align) {
            return gap;
        }
        let at = header.wrapping_add(gap + HEADER) & (OS_PAGE - 1);
        // `at` within `PAGE_EDGE` of either edge of its page.
        if at.wrapping_add(PAGE_EDGE) & (OS_PAGE - 1) >= 2 * PAGE_EDGE {
            return gap;
        }
        // To `PAGE_EDGE` past the boundary at or after `at`: a multiple of `align`, both being.
        let mut moved = gap + (PAGE_EDGE.wrapping_sub(at) & (OS_PAGE - 1));
        if moved == HEADER {
            moved += align;
        }
        if moved + need <= room {
            moved
        } else {
            gap
        }
    }

    // ---- Resizing, splitting, merging. ----

    /// Whether the used block at `header` can hold `need` bytes without moving: it shrinks,
    /// takes the free block after it (unlinked), or takes room at `top`. Its size word for
    /// [`Heap::trim`] then (the payload it spans and its `PREV_FREE`), else `None`.
    ///
    /// # Safety
    /// `header` is a used block of this heap.
    #[inline(always)]
    unsafe fn resize_in_place(&mut self, header: u32, need: u32) -> Option<u32> {
        let word = self.size_word(header);
        debug_assert!(word & (FREE | LAST) == 0);
        let eff = word & !FLAGS;
        if need <= eff {
            return Some(word);
        }
        let next = header + HEADER + eff;
        if next == self.top {
            // Memory would grow for the block to grow here: a fit elsewhere first, the cache
            // given back as before any growth (`fit_before_growth`).
            if Self::caches() && need - eff > self.limit - self.top && self.fit_before_growth(need)
            {
                return None;
            }
            // Growth may open a new region instead of extending this one: then move.
            if self.ensure(need - eff) && self.top == next {
                self.set_top(header + HEADER + need);
                // (`need` and the flag, as `word` plus the growth: 6 bytes less in the
                // size-tuned module. With a cache, the word read again: the give-back before
                // growth may have freed the block before this one, so its `PREV_FREE` may be
                // new: the shadow model's find.)
                let word = if Self::caches() {
                    self.size_word(header)
                } else {
                    word
                };
                return Some(word + (need - eff));
            }
            return None;
        }
        let next_word = self.size_word(next);
        if next_word & FREE == 0 {
            return None;
        }
        let next_eff = free_eff(next_word);
        // The neighbour with its header, computed once (`next_word + 7`: 2 bytes less in the
        // size-tuned module than the sum written twice).
        let joined = HEADER + next_eff;
        let total = eff + joined;
        if total < need {
            return None;
        }
        // SAFETY: `next` is a free block of this heap (its FREE flag, I1).
        unsafe {
            if P::KEEP_LIST_PLACE && total - need >= MIN_FREE_BLOCK {
                // The free neighbour shrinks from the front, keeping its list place: its header
                // moves up, and `trim` has nothing left to split.
                self.resize_free(
                    next,
                    next_eff,
                    header + HEADER + need,
                    total - need - HEADER,
                );
                return Some(need | (word & PREV_FREE));
            }
            self.unlink(next);
        }
        Some(word + joined)
    }

    /// Gives the used block at `header` the size word `word` (`total` bytes of payload, and
    /// its own `PREV_FREE`), then splits off everything beyond `need` as a free block when that
    /// is at least a minimal block (I5). (One word, not two arguments: in the size-tuned module
    /// the callers pass the size word they hold, 11 bytes less.)
    ///
    /// # Safety
    /// `[header, header + 8 + total)` is this heap's, to be a used block; the bytes after it are
    /// a used block, a marker or `top`; `word` has no flag but `PREV_FREE`.
    unsafe fn trim(&mut self, header: u32, word: u32, need: u32) {
        debug_assert!(word & (FREE | LAST) == 0);
        let total = word & !FLAGS;
        debug_assert!(total >= need && self.spans(header, HEADER + total));
        // SAFETY: the caller's promise; the tail lies inside the block.
        unsafe {
            if total - need >= MIN_FREE_BLOCK {
                // `need | prev_flag`, as `word` less the surplus (3 bytes less).
                self.set_size_word(header, word - (total - need));
                self.release(header + HEADER + need, total - need - HEADER);
            } else {
                self.set_size_word(header, word);
                self.clear_prev_free(header, total);
            }
        }
    }

    /// Clears `PREV_FREE` on the block after the used block at `header` (payload `eff`), unless
    /// that is `top`. (Without the test, the word at `top + 4` would be read and written back
    /// unchanged, 13 bytes less in the size-tuned module; but read first, a page never touched
    /// faults in twice, once for the read and once for the write, and in V8 a block carved at
    /// the top of fresh memory cost that: `make bench`'s scaling rows took ×1.35 the time.)
    ///
    /// # Safety
    /// `header` is a block of this heap of `eff` bytes.
    #[inline(always)]
    unsafe fn clear_prev_free(&mut self, header: u32, eff: u32) {
        let next = header + HEADER + eff;
        if next != self.top {
            let next_word = self.size_word(next);
            // SAFETY: below `top`, a block ends where the next block or a marker starts (I1).
            unsafe { self.set_size_word(next, next_word & !PREV_FREE) };
        }
    }

    /// **Merging:** makes the block at `start` free, `word` its size word (effective size, and
    /// `PREV_FREE` if the block before is free): merges it with a free left neighbour and a
    /// free right one, or gives it back to the bump pointer when it ends at `top` (I2). Under
    /// `INLINE_FAST_PATHS` the commonest case of stack-like use is inlined and the merging is
    /// out of line; otherwise all of it is one function (three call sites in the size-tuned
    /// module: the `FREE` store inlined at each cost it 30 bytes).
    ///
    /// # Safety
    /// `[start, start + 8 + eff)` is this heap's: a used block, or the tail of one being split
    /// (then `word` has no flags).
    #[inline(always)]
    pub(crate) unsafe fn release(&mut self, start: u32, word: u32) {
        debug_assert!(word & (FREE | LAST) == 0 && self.spans(start, HEADER + (word & !FLAGS)));
        if !P::INLINE_FAST_PATHS {
            // SAFETY: the caller's promise.
            unsafe { self.merge(start, word) };
            return;
        }
        let next = start + HEADER + (word & !FLAGS);
        // SAFETY: the caller's promise. See `merge` for why the `FREE` flag comes first.
        unsafe { self.set_size_word(start, word | FREE) };
        if word & PREV_FREE == 0 && next == self.top {
            self.top = start;
            return;
        }
        // SAFETY: the caller's promise.
        unsafe { self.merge(start, word) };
    }

    /// [`Heap::release`] past its first case (under `INLINE_FAST_PATHS`; otherwise all of it):
    /// the merges. One path for both policies: the left neighbour first, then `top` or the
    /// right neighbour; under `KEEP_LIST_PLACE` the merged block takes the list place of a
    /// free neighbour (the left one if both), otherwise every free neighbour is unlinked and
    /// the merged block pushed anew.
    ///
    /// # Safety
    /// As `release`.
    unsafe fn merge(&mut self, start: u32, word: u32) {
        let next = start + HEADER + (word & !FLAGS);
        // The merged block: from `head` to `end`; `kept` (of `kept_eff` bytes) the free
        // neighbour whose list place it takes, 0 if none.
        let mut head = start;
        let mut end = next;
        let mut kept = 0;
        let mut kept_eff = 0;
        // SAFETY: the caller's promise for the block; its neighbours are this heap's blocks
        // (I1), the one before found through its footer when PREV_FREE says it is free (I3).
        unsafe {
            if !P::INLINE_FAST_PATHS {
                // Marked free first: when the block merges into the one before or goes back to
                // the bump pointer, this header stays behind, and a second `deallocate` of the
                // same pointer must see it free and be ignored (also once `top` has moved past
                // it again). (Under `INLINE_FAST_PATHS`, `release` did it.)
                self.set_size_word(start, word | FREE);
            }
            if word & PREV_FREE != 0 {
                let footer = self.footer_before(start);
                let prev_eff = free_eff(footer);
                head = start - HEADER - prev_eff;
                if P::KEEP_LIST_PLACE {
                    kept = head;
                    kept_eff = prev_eff;
                } else {
                    self.unlink(head);
                }
            }
            // (Under `INLINE_FAST_PATHS`, `release` took this case for a block with no free
            // left neighbour.)
            if (!P::INLINE_FAST_PATHS || head != start) && next == self.top {
                if P::KEEP_LIST_PLACE && kept != 0 {
                    self.unlink(kept);
                }
                self.top = head;
                return;
            }
            let next_word = self.size_word(next);
            if next_word & FREE != 0 {
                let next_eff = free_eff(next_word);
                end = next + HEADER + next_eff;
                if P::KEEP_LIST_PLACE && kept == 0 {
                    kept = next;
                    kept_eff = next_eff;
                } else {
                    self.unlink(next);
                }
            } else {
                self.set_size_word(next, next_word | PREV_FREE);
            }
            // (The merged block's size from its end: 6 bytes less in the size-tuned module
            // than a sum kept as the neighbours join.)
            let total = end - head - HEADER;
            if P::KEEP_LIST_PLACE && kept != 0 {
                // The free neighbour grows to the merged block (down to `start`, for the right
                // one).
                self.resize_free(kept, kept_eff, head, total);
                return;
            }
            self.make_free(head, total);
        }
    }

    /// The free block at `old` (`old_eff` bytes) becomes the free block at `new` (`new_eff`
    /// bytes), over the same memory give or take neighbours. Under `KEEP_LIST_PLACE`, when its
    /// class does not change it keeps its place in its list: only the links move with the
    /// header, if it moved at all.
    ///
    /// # Safety
    /// `old` is a free block of this heap (listed, or the spare) of `old_eff` bytes, and
    /// `[new, new + 8 + new_eff)` is this heap's, to be one free block.
    unsafe fn resize_free(&mut self, old: u32, old_eff: u32, new: u32, new_eff: u32) {
        // SAFETY: the caller's promise.
        unsafe {
            if P::SPARE && old == self.spare {
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
            let class = class_of::<P>(old_eff);
            if !P::KEEP_LIST_PLACE || class != class_of::<P>(new_eff) {
                self.unlink_from(old, class);
                self.link(new, class_of::<P>(new_eff));
            } else if old != new {
                self.move_links(old, new, class);
            }
            self.write_free(new, new_eff);
        }
    }

    /// Links a new free block of `eff` bytes at `header` and writes its header and footer. The
    /// block after it must already carry `PREV_FREE`, or be set by the caller.
    ///
    /// # Safety
    /// `[header, header + 8 + eff)` is this heap's, to be one free block in no list.
    unsafe fn make_free(&mut self, header: u32, eff: u32) {
        // SAFETY: the caller's promise.
        unsafe {
            self.link(header, class_of::<P>(eff));
            self.write_free(header, eff);
        }
    }

    // ---- Links (I4): the only code that writes them. ----

    /// Pushes the block at `header` onto the list of `class`.
    ///
    /// # Safety
    /// `header` is (becoming) a free block of this heap of `class`, in no list.
    unsafe fn link(&mut self, header: u32, class: usize) {
        let next = self.lists.head(class);
        // SAFETY: `header` and the old head are free blocks of this heap. Without a branch
        // (under `BRANCHLESS_LINKS`): when the list was empty, the back link written is this
        // block's own, then cleared.
        unsafe {
            self.set_next_link(header, next);
            if P::BRANCHLESS_LINKS {
                self.set_prev_link(select(next != 0, next, header), header);
            } else if next != 0 {
                self.set_prev_link(next, header);
            }
            self.set_prev_link(header, 0);
        }
        self.lists.push_head(class, header);
    }

    /// Takes the free block at `header` out of its list (or stops it being the spare). Its
    /// class comes from its own size word, read here (the class ignores the flags,
    /// `Classes::class_of`): one argument less at each of the size-tuned module's four call
    /// sites, 5 bytes less.
    ///
    /// # Safety
    /// `header` is a free block of this heap, its size word intact, listed or the spare.
    unsafe fn unlink(&mut self, header: u32) {
        if P::SPARE && header == self.spare {
            self.spare = 0;
            return;
        }
        let word = self.size_word(header);
        // SAFETY: the caller's promise.
        unsafe { self.unlink_from(header, class_of::<P>(word)) };
    }

    /// Takes `head`, the head of the list of `class`, out of it.
    ///
    /// # Safety
    /// `head` heads the list of `class`.
    #[inline(always)]
    unsafe fn unlink_head(&mut self, head: u32, class: usize) {
        debug_assert!(self.lists.head(class) == head && self.prev_link(head) == 0);
        let next = self.next_link(head);
        self.lists.set_head(class, next);
        // SAFETY: `next` is a listed block, else `head` itself. Without a branch: the back link
        // cleared is the next block's, or else `head`'s own (a payload word about to be handed
        // out).
        unsafe { self.set_prev_link(select(next != 0, next, head), 0) };
    }

    /// Takes the block at `header` out of the list of `class`.
    ///
    /// # Safety
    /// `header` is in the list of `class`.
    unsafe fn unlink_from(&mut self, header: u32, class: usize) {
        let next = self.next_link(header);
        let prev = self.prev_link(header);
        let is_head = prev == 0;
        debug_assert!(is_head == (self.lists.head(class) == header));
        if !P::BRANCHLESS_LINKS {
            // SAFETY: `prev` and `next` are listed blocks.
            unsafe {
                if next != 0 {
                    self.set_prev_link(next, prev);
                }
                if is_head {
                    self.lists.set_head(class, next);
                } else {
                    self.set_next_link(prev, next);
                }
            }
            return;
        }
        // SAFETY: `prev` and `next` are listed blocks, or else `header` itself. Without
        // branches: where a neighbour is missing, the link written is the block's own,
        // rewritten with the value it already holds.
        unsafe {
            self.set_next_link(select(is_head, header, prev), next);
            self.set_prev_link(select(next != 0, next, header), prev);
        }
        let head = self.lists.head(class);
        self.lists.set_head(class, select(is_head, next, head));
    }

    /// Moves the list node of the free block at `old` (in the list of `class`) to `new`.
    ///
    /// # Safety
    /// `old` is in the list of `class`; `new` is becoming a free block of the same class.
    unsafe fn move_links(&mut self, old: u32, new: u32, class: usize) {
        // Read both links before writing: the headers may overlap.
        let next = self.next_link(old);
        let prev = self.prev_link(old);
        // SAFETY: `new`, `prev` and `next` are free blocks of this heap.
        unsafe {
            self.set_next_link(new, next);
            self.set_prev_link(new, prev);
            if prev != 0 {
                self.set_next_link(prev, new);
            } else {
                self.lists.set_head(class, new);
            }
            if next != 0 {
                self.set_prev_link(next, new);
            }
        }
    }

    // ---- Growth. ----

    #[inline(always)]
    fn set_top(&mut self, top: u32) {
        self.top = top;
        if TRACK_FRESH && top > self.fresh {
            self.fresh = top;
        }
    }

    /// Carves a used block of `need` bytes at `top`.
    ///
    /// # Safety
    /// `ensure(HEADER + need)` has made the room.
    unsafe fn bump(&mut self, need: u32, prev_flag: u32) -> u32 {
        debug_assert!(HEADER + need <= self.limit - self.top);
        let header = self.top;
        self.set_top(header + HEADER + need);
        // SAFETY: the block lies in the current region's room.
        unsafe { self.set_size_word(header, need | prev_flag) };
        header
    }

    /// Carves a used block of `need` bytes at `top` after a gap of `gap` bytes (0, or a free
    /// block of at least 16).
    ///
    /// # Safety
    /// The room for `gap + HEADER + need` bytes is there at `top`; the block below `top` is
    /// used (I2).
    unsafe fn bump_after(&mut self, gap: u32, need: u32) -> u32 {
        // SAFETY: the caller's promise.
        unsafe {
            if gap == 0 {
                return self.bump(need, 0);
            }
            let top = self.top;
            self.set_top(top + gap);
            let header = self.bump(need, 0);
            // The gap as a block freed between a used block and the new one: listed, the new
            // block's `PREV_FREE` set, by the merging code (out of line; a `make_free` here
            // cost the standalone module 78 bytes more). `FREE` first, as `release` does.
            self.set_size_word(top, (gap - HEADER) | FREE);
            self.merge(top, gap - HEADER);
            header
        }
    }

    /// Makes room for `bytes` more at `top`, growing memory if needed. When memory grew somewhere
    /// else since the last growth, the current region is closed and a new one starts in the new
    /// pages (so `top` moves). False when the memory cannot grow; the heap is unchanged then,
    /// but for a possible new empty region.
    #[inline(always)]
    fn ensure(&mut self, bytes: u32) -> bool {
        if !P::INLINE_FAST_PATHS {
            // `grow` checks the room first: the check inlined at each call site cost the
            // size-tuned module bytes and saved it nothing.
            return self.grow(bytes);
        }
        // `top <= limit` always, and both are 0 before the first region.
        bytes <= self.limit - self.top || self.grow(bytes)
    }

    /// The slow path of [`Heap::ensure`]: the memory the source started with first, then
    /// `memory.grow` for all the pages missing in one call.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, bytes: u32) -> bool {
        // A start that cannot fail comes first, out of the loop (its own `if`, with constants
        // only in the module: scripts/small-post.mjs evaluates it at build time).
        if S::INITIAL_HOLDS_A_REGION && self.first == 0 {
            self.start();
        }
        loop {
            // (Volatile reads, only a hint to the compiler: LLVM would keep `top` and `limit`
            // in locals through the loop, which costs more code than reading them again: 6
            // bytes in the size-tuned module, where they are wasm globals.)
            // SAFETY: reads of initialised, aligned fields of `self`.
            let room = unsafe {
                core::ptr::read_volatile(&self.limit) - core::ptr::read_volatile(&self.top)
            };
            if bytes <= room {
                return true;
            }
            if !S::INITIAL_HOLDS_A_REGION && self.first == 0 && self.start() {
                continue;
            }
            // Extending the region needs the shortfall; a new region needs its marker's 8 bytes
            // too, which are asked for either way (growth is rounded up to pages: this costs a
            // page only when the shortfall is within 8 bytes of a page multiple, and spares the
            // size-tuned module a select). Requests are capped (MAX_REQUEST), so the sum cannot
            // overflow.
            let pages = (bytes - room + HEADER + PAGE - 1) >> 16;
            let Some(old) = self.source.grow(pages) else {
                return false;
            };
            let start = old << 16;
            // The end of a 4 GiB memory is 2^32: `limit` (end - 8) still fits.
            let limit = start.wrapping_add(pages << 16).wrapping_sub(HEADER);
            // (Without a region, `limit + 8` is 8: never a page start.)
            if start == self.limit + HEADER {
                self.limit = limit;
                continue;
            }
            if S::INITIAL_HOLDS_A_REGION || self.limit != 0 {
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

    /// Takes the memory the source had before any growth, unless it is too small to hold a
    /// block and a marker (then the heap starts in grown memory). (Out of line: under
    /// `INITIAL_HOLDS_A_REGION` it is then a function of constants alone, which the size-tuned
    /// module's build evaluates, scripts/small-post.mjs.)
    #[cold]
    #[inline(never)]
    fn start(&mut self) -> bool {
        let (start, end) = self.source.initial();
        let mut start = (start as u64 + 7) & !7;
        if P::ODD_SIZES {
            // The first payload 16-aligned (`Tuning::ODD_SIZES`).
            start |= 8;
        }
        let end = end as u64 & !7;
        debug_assert!(!S::INITIAL_HOLDS_A_REGION || (start != 0 && start + 24 <= end));
        if S::INITIAL_HOLDS_A_REGION || (start != 0 && start + 24 <= end) {
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

    /// Leaves the current region for one at `next`: its end marker's block spans up to `next`
    /// (so the walk finds the next region at its end). Under `LIST_REGION_REST` the room above
    /// `top` becomes a free block first and the marker takes the region's last 8 bytes;
    /// otherwise the marker, at `top`, spans that room too (at most the rest of a page-rounded
    /// growth each time another module grows memory in between).
    fn close_region(&mut self, next: u32) {
        let room = self.limit - self.top;
        // SAFETY: `[top, limit + 8)` is the current region's room, this heap's; the block below
        // `top` is used (I2), so the free block made of the room has no free neighbour.
        unsafe {
            let (marker, flag) = if P::LIST_REGION_REST && room >= MIN_FREE_BLOCK {
                self.make_free(self.top, room - HEADER);
                (self.limit, PREV_FREE)
            } else {
                (self.top, 0)
            };
            // `next - marker - 8` is a multiple of 8: the flags go in its low bits, added (a
            // subtraction of 4 in the size-tuned module: 3 bytes less than `| LAST`).
            self.set_size_word(marker, next - marker - HEADER + (LAST | flag));
        }
    }
}

/// What the per-thread caches (handoff.rs, per_thread.rs: the threaded module's and `WallE`'s
/// under atomics) take from and give back to the shared heap: used only by the builds that
/// compile per_thread.rs (lib.rs), so the attribute is written once for both.
#[cfg_attr(
    not(all(
        not(wall_e_lock_only),
        any(
            all(wall_e_module, wall_e_module_caches),
            all(not(wall_e_module), wall_e_walle_caches)
        )
    )),
    allow(dead_code)
)]
impl<S: Source, P: Policy> Heap<S, P> {
    /// A block of effective size exactly `eff` for a thread's cache (handoff.rs), its word 0 set to `CACHED`: its header, or 0 (none, or the heap had only a
    /// slightly larger one: the thread's request then takes the lock).
    pub(crate) fn take_for_cache(&mut self, eff: u32) -> u32 {
        let p = self.allocate(eff);
        if p == 0 {
            return 0;
        }
        let header = p - HEADER;
        // (A block of the class of `eff`, `eff` or `eff + 8`, will do.)
        if crate::cache::bin_of(self.eff(header)) != crate::cache::bin_of(eff) {
            self.deallocate(p);
            return 0;
        }
        // SAFETY: a used block of this heap, just taken.
        unsafe { self.set_logical(header, crate::cache::CACHED) };
        header
    }

    /// At most this many blocks in a heap cache bin for a thread's chain to be added to it
    /// ([`Heap::give_cached_chain`]): the policy's bound on a bin, as for the heap's own
    /// frees. Was 128 (a few chains): a thread that freed a structure whole (the parser tree's
    /// 10,000 nodes) then gave all but 4 chains a bin back block by block under the lock, merged,
    /// and carved them again as runs when it rebuilt it — 290 wasm instructions a call against
    /// the single-threaded module's 184, 223 with room for 2,048 (`cargo run --example
    /// threads_fuel`), ×1.49 -> ×1.24 its time in V8 (docs/threads.md, "Uncontended"). For a
    /// thread's own chains only (blocks it allocated, which its refills take back).
    const CHAIN_ROOM: u32 = P::CACHE_CAP;
    /// The same for a consumer's chain (tagged for any thread): 128, a few chains. Not
    /// `CHAIN_ROOM`: the OOM tests' capacity then fell by 4-12 blocks of 9,953 a round in Node
    /// (chains kept between rounds, their runs carved again elsewhere); 1,024 cost up to 16
    /// blocks a round (512: 8; 128: 3), for 2 workers' churn's line transfers 3.9 against
    /// 5.1-8.4 per 1,000 calls in one set of runs, no difference in another.
    const CHAIN_ROOM_ANY: u32 = 128;

    /// The head of the heap cache's bin for `eff` if it is a block of that size, else 0 (the
    /// chain `take_cached_chain` would take starts there).
    pub(crate) fn cached_chain_head(&self, eff: u32) -> u32 {
        if !Self::caches() || eff < 8 || eff > Self::CACHED_MAX {
            return 0;
        }
        let head = self.cache.head(crate::cache::bin_of(eff));
        if head != 0 && self.eff(head) == eff {
            head
        } else {
            0
        }
    }

    /// Up to `max` blocks of effective size `eff` from the heap's own cache (I8) at once, for a
    /// thread's cache (handoff.rs, `CacheHeap::take_chain`): the blocks linked behind `after`
    /// in its bin, or from the bin's head when `after` is 0, of its class (cache.rs: `eff` or
    /// `eff + 8` above 64 bytes), cut out of the list, the last one's link cleared; the first
    /// one and how many, `(0, 0)` for none.
    ///
    /// # Safety
    /// `after` is 0 or a block of the bin's list (found by following it from its head, with no
    /// change to the cache since).
    pub(crate) unsafe fn take_cached_chain(
        &mut self,
        eff: u32,
        after: u32,
        max: u32,
    ) -> (u32, u32) {
        if !Self::caches() || eff < 8 || eff > Self::CACHED_EFF_MAX {
            return (0, 0);
        }
        let bin = crate::cache::bin_of(eff);
        let head = if after == 0 {
            self.cache.head(bin)
        } else {
            self.cache_link(after)
        };
        let (mut node, mut last, mut count) = (head, 0, 0);
        while node != 0 && count < max && crate::cache::bin_of(self.eff(node)) == bin {
            last = node;
            node = self.cache_link(node);
            count += 1;
        }
        if count == 0 {
            return (0, 0);
        }
        // SAFETY: `last` is a cached block of this heap (I8): its link word is the cache's; so
        // is `after`'s, per the caller's promise.
        unsafe {
            self.write(last + HEADER, 0);
            if after != 0 {
                self.write(after + HEADER, node);
            }
        }
        let left = self.cache.count(bin) - count;
        let first = if after == 0 {
            node
        } else {
            self.cache.head(bin)
        };
        self.cache.set(bin, first, left);
        (head, count)
    }

    /// Takes a thread's chain of `count` cached blocks of effective size `eff` (`head` to
    /// `last`, linked through their payloads as the cache's bins are) into the heap's own cache
    /// in O(1); false when the bin has no room for them (`CHAIN_ROOM` blocks for a thread's
    /// `own` chain, `CHAIN_ROOM_ANY` for a consumer's; or `eff` no bin).
    ///
    /// # Safety
    /// The chain is `count` used blocks of this heap of effective size `eff`, word 0 `CACHED`,
    /// in no bin, given up by their thread; `last`'s link is the cache's to write.
    pub(crate) unsafe fn give_cached_chain(
        &mut self,
        eff: u32,
        head: u32,
        last: u32,
        count: u32,
        own: bool,
    ) -> bool {
        if !Self::caches() || eff < 8 || eff > Self::CACHED_EFF_MAX {
            return false;
        }
        let bin = crate::cache::bin_of(eff);
        let n = self.cache.count(bin);
        // Room for a few flushed chains at a time (a full bin's half, 33 blocks of 64): a chain
        // waits there for the next refill that takes it (a producer's, fed by a consumer; or
        // its own thread's, handoff.rs: the tag of its head), and a thread that frees many
        // blocks at once gives the rest back to merge. With room for one chain (64) and chains
        // that any thread took, two threads' blocks ended up side by side on the same cache
        // lines: 7-21% of the lines of 2 workers' live blocks held blocks of both (9-45% with
        // room for 1,024; `node bench/threads-mixing.mjs`); with runs and tagged chains, 0%
        // (docs/threads.md, "Lines of their own").
        let room = if own {
            Self::CHAIN_ROOM
        } else {
            Self::CHAIN_ROOM_ANY
        };
        if n + count > room {
            return false;
        }
        // SAFETY: the caller's promise.
        unsafe { self.write(last + HEADER, self.cache.head(bin)) };
        self.cache.set(bin, head, n + count);
        // (A block whose left neighbour is free may come in this way: I8 allows it, and the
        // heap's give-back before growing merges it, `flush_cache_for`.)
        self.cache.mark(true);
        true
    }

    /// A run of `n` cached blocks of effective size `eff` for a thread's refill (handoff.rs,
    /// `CacheHeap::take_run`; I9): `n × (eff + 8)` bytes from a 64-byte line boundary, carved
    /// as one block from the first listed free block that holds it with the gap in front (a
    /// free block) and a rest that splits off (none, or a free block), else, when `grow`, from
    /// the top (growing memory after the heap's cached blocks that may merge went back, I8),
    /// then cut into `n` blocks, word 0 `CACHED`. The first one's header, or 0 (no
    /// such room, memory exhausted, or a span that is not whole lines).
    pub(crate) fn take_run(&mut self, eff: u32, n: u32, grow: bool) -> u32 {
        /// A cache line.
        const LINE: u32 = 64;
        let step = eff + HEADER;
        let span = n * step;
        if n == 0 || span % LINE != 0 || self.limit == 0 {
            return 0;
        }
        let need = span - HEADER;
        // Whether the free block at `at` holds the run aligned, with no unsplittable rest.
        let holds = |heap: &Self, at: u32| {
            at != 0 && {
                let rest = heap
                    .eff(at)
                    .wrapping_sub(aligned_gap(at - HEADER, LINE) + need);
                rest < 1 << 31 && rest != HEADER
            }
        };
        // The first free block that holds the run where it lies, else one that holds it
        // wherever it lies (the gap is at most `LINE + 8`: `aligned_gap`; 16 more for the rest).
        let mut found = self.find_free(need);
        if !holds(self, found) {
            found = self.find_free(need + LINE + 3 * HEADER);
        }
        let room = aligned_gap(self.top.wrapping_sub(HEADER), LINE) + HEADER + need;
        if found == 0
            && grow
            && Self::caches()
            && room > self.limit - self.top
            && self.cache_may_serve(need)
            && self.flush_cache_for(need)
        {
            // Memory would grow: the heap's cached blocks that may merge go back first, as
            // before any growth (I8), and the free lists are looked at again.
            found = self.find_free(need + LINE + 3 * HEADER);
        }
        let header = if found != 0 {
            debug_assert!(holds(self, found));
            let eff = self.eff(found);
            let gap = aligned_gap(found - HEADER, LINE);
            // SAFETY: `found` is a listed free block of `eff` bytes, at least the gap and the
            // run: both lie inside it; its left neighbour is used (I2). (As
            // `allocate_over_aligned`, with the header aligned rather than the payload.)
            unsafe {
                self.unlink(found);
                if gap == 0 {
                    self.trim(found, eff, need);
                } else {
                    self.make_free(found, gap - HEADER);
                    self.trim(found + gap, (eff - gap) | PREV_FREE, need);
                }
            }
            found + gap
        } else {
            if !grow {
                return 0;
            }
            loop {
                let top = self.top;
                let gap = aligned_gap(top - HEADER, LINE);
                if !self.ensure(gap + HEADER + need) {
                    return 0;
                }
                if self.top != top {
                    continue; // growth opened a new region: align again there
                }
                // SAFETY: the room for the gap and the run is there; the block below `top` is
                // used (I2).
                break unsafe { self.bump_after(gap, need) };
            }
        };
        let word = self.size_word(header);
        debug_assert!(word & !FLAGS == need);
        let mut at = header;
        // SAFETY: `[header, header + 8 + need)` is the used block just placed: cut into blocks
        // that tile it, the first keeping its `PREV_FREE`; the block after it is used (trim)
        // or `top`.
        unsafe {
            self.set_size_word(at, eff | (word & PREV_FREE));
            for _ in 1..n {
                self.set_logical(at, crate::cache::CACHED);
                at += step;
                self.set_size_word(at, eff);
            }
            self.set_logical(at, crate::cache::CACHED);
        }
        header
    }

    /// Takes back a block a thread's cache held, or a block a thread claimed (word 0 `CACHED`):
    /// released like any freed block, merging with its free neighbours.
    ///
    /// # Safety
    /// `header` is a used block of this heap whose word 0 its caller claimed as `CACHED`.
    pub(crate) unsafe fn give_back_claimed(&mut self, header: u32) {
        let word = self.size_word(header);
        debug_assert!(word & (FREE | LAST) == 0 && self.logical(header) == crate::cache::CACHED);
        // SAFETY: the caller's promise.
        unsafe { self.release(header, word) }
    }
}

/// A refill's runs (`Heap::take_run`, I9) on the host: whole lines of cached blocks that tile
/// their span, from the top and from a hole in the free lists; given back, they merge and the
/// heap walks clean.
#[cfg(test)]
mod run_tests {
    use crate::cache::{CacheBins, CACHED};
    use crate::heap::Heap;
    use crate::host::HostMemory;

    type H = Heap<HostMemory>;

    /// The `n` blocks of the run at `run`, checked (size, mark, line alignment), given back.
    fn check_and_give_back(heap: &mut H, run: u32, eff: u32, n: u32) {
        assert!(run != 0 && run % 64 == 0, "run at {run}");
        assert_eq!((n * (eff + 8)) % 64, 0);
        for i in 0..n {
            let b = run + i * (eff + 8);
            assert_eq!(heap.eff(b), eff, "block {i} of a run of {eff}");
            assert_eq!(heap.logical(b), CACHED);
        }
        for i in 0..n {
            // SAFETY: a block of the run, cached and this test's.
            unsafe { heap.give_back_claimed(run + i * (eff + 8)) };
        }
        heap.validate().expect("the heap after a run went back");
    }

    #[test]
    fn runs_tile_whole_lines_from_the_top_and_from_holes() {
        let mut heap = H::new(HostMemory::new(1, 64, 1000));
        // The top misaligned by a block first.
        let a = heap.allocate(20);
        for eff in [8, 16, 24, 40, 56, 64, 200, 256] {
            let run = heap.take_run(eff, 16, true);
            check_and_give_back(&mut heap, run, eff, 16);
        }
        // A hole of 1,000 bytes between live blocks: a small run comes from it, not the top.
        let b = heap.allocate(1000);
        let c = heap.allocate(20);
        heap.deallocate(b);
        heap.flush_cache();
        let top = heap.top;
        let run = heap.take_run(24, 8, false);
        assert!(
            run > b && run < c,
            "the run of 8 × 32 bytes came from the hole ({run})"
        );
        assert_eq!(heap.top, top);
        check_and_give_back(&mut heap, run, 24, 8);
        // No hole holds 16 × 264 bytes, and without `grow` the top is not used.
        assert_eq!(heap.take_run(256, 16, false), 0);
        // Not whole lines: refused.
        assert_eq!(heap.take_run(16, 3, true), 0);
        heap.deallocate(a);
        heap.deallocate(c);
        heap.flush_cache();
        let stats = heap.validate().expect("walk");
        assert_eq!(
            (stats.used_blocks, stats.free_blocks),
            (0, 0),
            "back at the bump pointer"
        );
    }

    /// The heap's cache keeps a thread's own chains up to `CHAIN_ROOM` (the policy's
    /// `CACHE_CAP`) blocks a bin, a consumer's up to `CHAIN_ROOM_ANY` (128).
    #[test]
    fn own_chains_get_more_room_than_a_consumers() {
        let mut heap = H::new(HostMemory::new(1, 64, 1000));
        assert_ne!(heap.allocate(20), 0, "the heap set up");
        // Chains of 4 linked through the payloads, as a thread's bin links them: two a run of 8.
        let mut chains = [0u32; 34];
        for pair in chains.chunks_mut(2) {
            let run = heap.take_run(24, 8, true);
            assert_ne!(run, 0);
            for i in 0..8 {
                let next = if i % 4 == 3 { 0 } else { run + (i + 1) * 32 };
                // SAFETY: the run's blocks are this test's, cached.
                unsafe { heap.write(run + i * 32 + 8, next) };
            }
            pair.copy_from_slice(&[run, run + 128]);
        }
        let give = |heap: &mut H, head: u32, own: bool| {
            // SAFETY: a chain of 4 cached blocks of 24 bytes of a run, given up once.
            unsafe { heap.give_cached_chain(24, head, head + 96, 4, own) }
        };
        for &head in &chains[..32] {
            assert!(
                give(&mut heap, head, false),
                "a consumer's chain up to 128 blocks"
            );
        }
        assert!(!give(&mut heap, chains[32], false), "not past 128");
        assert!(
            give(&mut heap, chains[32], true),
            "a thread's own chain past 128"
        );
        assert!(give(&mut heap, chains[33], true));
        heap.validate().expect("chains in the heap's cache");
    }

    /// Two threads' chains in one heap cache bin: a refill that looks past the first (its
    /// `after`, handoff.rs) takes the second out of the middle of the list, and the first stays.
    #[test]
    fn a_chain_is_taken_from_below_another() {
        let mut heap = H::new(HostMemory::new(1, 64, 1000));
        let a = heap.allocate(20);
        let run = heap.take_run(24, 8, true);
        assert_ne!(run, 0);
        let block = |i: u32| run + i * 32;
        // Chains of 4 linked through the payloads, as a thread's bin links them.
        for i in 0..8 {
            let next = if i % 4 == 3 { 0 } else { block(i + 1) };
            // SAFETY: the run's blocks are this test's, cached.
            unsafe { heap.write(block(i) + 8, next) };
        }
        // SAFETY: two chains of cached blocks of 24 bytes, given up.
        unsafe {
            assert!(heap.give_cached_chain(24, block(0), block(3), 4, true));
            assert!(heap.give_cached_chain(24, block(4), block(7), 4, false));
        }
        assert_eq!(heap.cached_chain_head(24), block(4));
        heap.validate().expect("two chains in the heap's cache");
        // SAFETY: `block(7)` is in the bin's list, reached from its head.
        let (first, n) = unsafe { heap.take_cached_chain(24, block(7), 4) };
        assert_eq!((first, n), (block(0), 4), "the chain below");
        assert_eq!(heap.cached_chain_head(24), block(4), "the one on top stays");
        assert_eq!(heap.cache_link(block(7)), 0);
        assert_eq!(heap.cache.count(crate::cache::bin_of(24)), 4);
        // SAFETY: from the head.
        let (first, n) = unsafe { heap.take_cached_chain(24, 0, 4) };
        assert_eq!((first, n), (block(4), 4));
        assert_eq!(heap.cached_chain_head(24), 0);
        for i in 0..8 {
            // SAFETY: taken back, cached, this test's.
            unsafe { heap.give_back_claimed(block(i)) };
        }
        heap.deallocate(a);
        heap.flush_cache();
        let stats = heap.validate().expect("walk");
        assert_eq!((stats.used_blocks, stats.free_blocks), (0, 0));
    }
}
