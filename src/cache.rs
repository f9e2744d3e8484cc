//! The cache of freed small blocks (I8 in heap.rs): a LIFO bin per effective size from 8 to 64
//! bytes and per class of two sizes above (72 and 80, ..., 1,032 and 1,040: "The bins'
//! classes" below), in front of the coalescing heap, as glibc's tcache and dlmalloc's fast bins.
//! See docs/small-blocks.md for the choice and the figures.
//!
//! A freed block whose effective size has a bin that is not full keeps its header and goes on
//! that bin's list, threaded through its payload; an allocation whose rounded size has a
//! non-empty bin takes the list's head, and one whose bin is empty, out of line, the head of
//! the first non-empty bin within 125% above ([`Heap::cache_pop_near`]; the block keeps its
//! effective size, so I5 holds and it goes back to its own bin when freed). `WallE` frees
//! with its `Layout` ([`Heap::deallocate_sized`]): the size known, the pointer check of a block
//! of that size's class is two comparisons and the push onto the `Layout`'s bin is inlined
//! into the caller (a block from a bin above, out of line). A miss in the request's bin takes the next bin's head inline
//! ([`Heap::cache_pop_next`], `WallE`'s path) before the call. Neither touches a neighbour, a class list or the bitmap:
//! the common small `allocate`/`deallocate` is a dozen instructions, inlined into the caller
//! (`WallE`, the module's exports), with the heap behind it out of line.
//!
//! A cached block stays a *used* block to the heap (no `FREE` flag): its neighbours never merge
//! with it and nothing else changes when it is cached or taken again. Its logical size word
//! holds [`CACHED`], above every effective size, so the pointer check (`Heap::used_block`)
//! refuses it: `size` is 0, a second `deallocate` and a `reallocate` are ignored, as for any
//! freed block. A block whose left neighbour is free is not cached but merged. The bins are
//! bounded (`Policy::CACHE_CAP` blocks each), and before the heap grows memory it gives back
//! every cached block that may merge and, failing a fit, one that fits the request
//! ([`Heap::flush_cache_for`]), so the cache does not make the heap grow: blocks kept are
//! isolated and too small for the request, and would be no more use to it free. (The walk of a
//! bin stops after `ISOLATED_RUN` isolated blocks in a row: the rest of a bin that deep in
//! isolated holes stays cached unlooked at.)
//! [`Heap::flush_cache`] gives every block back (a user's call, the stats module's export).
//!
//! The bins are a struct of their own ([`Bins`]), so that one set could later belong to each
//! thread (issue 16): only the heap's flush and the walker look at them from the heap's side.
//!
//! **Medium bins** (`Fast`: 64 after the small ones): blocks of 1,048 bytes to 16 KiB, 16 bins
//! an octave (a bin spans a 16th of its octave: 64 bytes from 1,024, ..., 1,024 from 8,192), a
//! bitmap of the non-empty ones. A medium block freed (by its header: its size is not the
//! `Layout`'s class) goes onto the bin of its size under the small blocks' rules (its left
//! neighbour not free), unless it lies just below the top (it goes back to the bump pointer);
//! a medium request takes the head of the first non-empty bin whose lower bound holds it and
//! whose largest size is within 125% of it ([`Heap::cache_pop_medium`]: 4 or 5 bins, one
//! shift and a count of zeros). No merge on the free, no search or split on the allocation:
//! in talc's random actions (1-10,000 B) those were most of the time (docs/small-blocks.md,
//! "Medium blocks"). The flush before growth gives them back as it does small ones.

use crate::block::{fits, FLAGS, FREE, HEADER, LAST, PREV_FREE};
use crate::heap::Heap;
use crate::policy::Policy;
use crate::source::Source;

/// Word 0 of a cached block's header (where a used block has its logical size): above every
/// effective size, so the pointer check refuses the block.
pub(crate) const CACHED: u32 = u32::MAX;
/// Payload word 0 of a cached block: the next block of its bin (0: none).
const CACHE_LINK: u32 = HEADER;
/// At most this many bins above a request's own are looked at (`cache_pop_near`): each bin
/// looked at costs a miss ~25 wasm instructions. On the raw benchmark's scaling rows (misfit
/// requests, every bin above empty): 275 / 360 / 463 instructions a call without the look,
/// 314 / 399 / 502 with one bin, 372 / 457 / 560 with 4, 402 / 487 / 589 with all within 125%;
/// the Rust-level churn (16-1,024 B) is the same with 4 as with all, within the noise.
const NEAR_BINS: usize = 4;

/// The storage of a cache: [`Bins`], or `NoCache` (none).
pub trait CacheBins {
    /// Bins: effective sizes `8..=8 * BINS` are cached.
    const BINS: usize;
    /// No block cached.
    const EMPTY: Self;
    /// The head of `bin` (0 if empty); `bin < BINS`.
    fn head(&self, bin: usize) -> u32;
    /// The number of blocks in `bin`.
    fn count(&self, bin: usize) -> u32;
    /// Sets the head and count of `bin`.
    fn set(&mut self, bin: usize, head: u32, count: u32);
    /// Whether a block was cached since the last flush: set by every push, cleared by a
    /// flush, so that the heap's checks before growing cost nothing while nothing changed.
    fn marked(&self) -> bool;
    /// Sets or clears the mark.
    fn mark(&mut self, marked: bool);
    /// After a flush: the bins from this one up are empty (the blocks below were kept by a
    /// flush for a request they could not serve, having no free or cached neighbour).
    fn kept_below(&self) -> usize;
    /// Sets [`CacheBins::kept_below`].
    fn set_kept_below(&mut self, bin: usize);
    /// The non-empty medium bins: bit `m` for bin `MEDIUM_FROM + m` (0 without medium bins).
    fn medium(&self) -> u64;
}

/// `N` bins: the heads of their lists, their counts and the mark, and for the medium bins
/// (from `MEDIUM_FROM`) a bitmap of the non-empty ones, kept by `set`. (No total is kept: it
/// would cost every push and pop a load and a store, and only the rare flush needs one; the
/// mark is one store a push.)
#[repr(C)]
pub struct Bins<const N: usize> {
    heads: [u32; N],
    counts: [u16; N],
    medium: u64,
    marked: bool,
    kept_below: u16,
}

impl<const N: usize> CacheBins for Bins<N> {
    const BINS: usize = N;
    const EMPTY: Self = Bins {
        heads: [0; N],
        counts: [0; N],
        medium: 0,
        marked: false,
        kept_below: 0,
    };

    // Without a panic path (a bounds check's formatting code cost the module 2 KiB): the
    // fast paths' indices are below `N` by construction, and the compiler sees it there.
    #[inline(always)]
    fn head(&self, bin: usize) -> u32 {
        self.heads.get(bin).copied().unwrap_or(0)
    }

    #[inline(always)]
    fn count(&self, bin: usize) -> u32 {
        self.counts.get(bin).copied().unwrap_or(0) as u32
    }

    #[inline(always)]
    fn set(&mut self, bin: usize, head: u32, count: u32) {
        if let (Some(h), Some(c)) = (self.heads.get_mut(bin), self.counts.get_mut(bin)) {
            *h = head;
            *c = count as u16;
        }
        // (The small bins' paths tell the compiler their bin is below `MEDIUM_FROM`: this
        // folds away there.)
        if bin >= MEDIUM_FROM {
            let bit = 1u64 << ((bin - MEDIUM_FROM) & 63);
            if head != 0 {
                self.medium |= bit;
            } else {
                self.medium &= !bit;
            }
        }
    }

    #[inline(always)]
    fn marked(&self) -> bool {
        self.marked
    }

    #[inline(always)]
    fn mark(&mut self, marked: bool) {
        self.marked = marked;
    }

    #[inline(always)]
    fn kept_below(&self) -> usize {
        self.kept_below as usize
    }

    fn set_kept_below(&mut self, bin: usize) {
        self.kept_below = bin as u16;
    }

    #[inline(always)]
    fn medium(&self) -> u64 {
        self.medium
    }
}

/// A bin walked by [`Heap::release_merging`]: the next block to look at (0: the lane is
/// idle), and the last one kept (0: none yet, the next one kept becomes the head).
struct Lane {
    bin: usize,
    node: u32,
    kept: u32,
    /// Blocks kept in a row since the last one given back (`ISOLATED_RUN` ends the walk).
    run: u32,
}

/// [`Heap::release_merging`] stops walking a bin after this many blocks in a row that may
/// not merge (isolated among used blocks): the rest of that bin stays cached, unlooked at, its
/// list as it was. A bin's head holds its most recent frees, so a run this long says the bin is
/// a field of isolated holes (the benchmark's scaling rows: every third block of 16-64 B freed
/// among live ones), where a full walk cost a cache miss a block and gave nothing back: at its
/// first growth the 100k row walked 13,287 cached holes, 521 -> 320 instructions a call at
/// quick scale (10k row 389 -> 316, 1k unchanged; the bump's floor is 220). No heap changed on
/// any row of `make bench` nor in `bench/replay` (random actions 36 / 44 pages, churn 87, mixed
/// 72); blocks of a structure freed whole lie side by side and merge, which resets the run
/// (docs/large-blocks.md, "The walk before growth").
const ISOLATED_RUN: u32 = 64;

/// Which cached blocks of a bin [`Heap::release_cached`] gives back.
#[derive(Clone, Copy)]
enum Pick {
    /// Every one.
    All,
    /// The head alone.
    Head,
}

/// No cache: no bytes (a `Bins<0>` would still hold its mark), and no code.
pub struct NoCache;

impl CacheBins for NoCache {
    const BINS: usize = 0;
    const EMPTY: Self = NoCache;

    #[inline(always)]
    fn head(&self, _: usize) -> u32 {
        0
    }

    #[inline(always)]
    fn count(&self, _: usize) -> u32 {
        0
    }

    #[inline(always)]
    fn set(&mut self, _: usize, _: u32, _: u32) {}

    #[inline(always)]
    fn marked(&self) -> bool {
        false
    }

    #[inline(always)]
    fn mark(&mut self, _: bool) {}

    #[inline(always)]
    fn kept_below(&self) -> usize {
        0
    }

    fn set_kept_below(&mut self, _: usize) {}

    #[inline(always)]
    fn medium(&self) -> u64 {
        0
    }
}

// ---- The bins' classes. ----
//
// Bins 0-7 hold the effective sizes 8 to 64, one each. Above 64 a bin is a class of two
// effective sizes, an odd multiple of 8 and the next one (72 and 80, 88 and 96, ...): a request
// above 64 bytes is rounded up to the class's first size (`class_need`, under a policy with a
// cache), and a block with the heap's 8-byte tail too small to split off (I5) stays in the
// class of the block it was cut for. So the bin of a block freed with its `Layout` is the
// request's, known before its header is read (no mispredicted branch on a block with a tail,
// no load feeding the push's address), and each bin serves twice the sizes, empty half as
// often. (Rust-level churn of 16-1,024 B under wasmtime, callgrind, per step: 180 -> 170
// instructions, the own bin empty 30% -> 17% of the allocations, 23% -> 13% of the frees out of
// line; x1.27-1.39 -> x1.12-1.20 wasmalloc's time in two pairs of full runs; churn's peak
// unchanged, +4 bytes a block on average: docs/small-blocks.md, "Classes of two sizes".) Every
// size in a class is within 125% of every request the class serves (I5): 80 for 72, 1,040 for
// 1,032; the fine bins below 72 bytes, where 8 bytes are more than 25%, hold one size each.

/// Effective sizes up to this have a bin each; above, a bin holds a class of two.
pub(crate) const FINE_MAX: u32 = 64;

/// The effective sizes of the small bins (one size or a class of two) end here; above it the
/// medium bins.
pub(crate) const CLASS_EFF_MAX: u32 = 1040;
/// The first medium bin: the one after the small bin of `CLASS_EFF_MAX`.
pub(crate) const MEDIUM_FROM: usize = 69;
/// Medium bins: 16 an octave from 1,024 bytes (each a 16th of its octave wide: 64 bytes from
/// 1,024, 128 from 2,048, ...), up to 64 of them (effective sizes below 16 KiB), so that one
/// `u64` marks the non-empty ones.
const MEDIUM_STEP_BITS: u32 = 4;
/// The octave the medium bins start at: 2^10 = 1,024 bytes.
const MEDIUM_OCTAVE: u32 = 10;

/// The medium bin (counted from `MEDIUM_FROM`) holding the size `x` (at least 1,024): the
/// octave and its 16th.
#[inline(always)]
fn medium_floor(x: u32) -> usize {
    debug_assert!(x >= 1 << MEDIUM_OCTAVE);
    let k = 31 - x.leading_zeros();
    (((k - MEDIUM_OCTAVE) << MEDIUM_STEP_BITS)
        + ((x >> (k - MEDIUM_STEP_BITS)) & ((1 << MEDIUM_STEP_BITS) - 1))) as usize
}

/// The smallest size of medium bin `m` (counted from `MEDIUM_FROM`).
#[inline(always)]
const fn medium_min(m: usize) -> u32 {
    let m = m as u32;
    let steps = 1 << MEDIUM_STEP_BITS;
    (steps + m % steps) << (MEDIUM_OCTAVE - MEDIUM_STEP_BITS + m / steps)
}

/// The bin of a block of effective size `eff` (a multiple of 8, at least 8): `eff / 8 - 1` up
/// to 64, then one per 16 bytes from 72 (72 and 80 in bin 8) up to 1,040, then the medium
/// bins.
#[inline(always)]
pub(crate) fn bin_of(eff: u32) -> usize {
    if eff <= CLASS_EFF_MAX {
        small_bin_of(eff)
    } else {
        MEDIUM_FROM + medium_floor(eff)
    }
}

/// [`bin_of`] for an `eff` of at most `CLASS_EFF_MAX`.
#[inline(always)]
pub(crate) fn small_bin_of(eff: u32) -> usize {
    ((eff + eff.min(FINE_MAX) - 8) >> 4) as usize
}

/// The bin of a request of `below + 1` bytes (8-aligned) up to `CLASS_MAX`: the bin of its
/// [`class_need`].
#[inline(always)]
pub(crate) fn bin_for(below: u32) -> usize {
    ((below + below.min(FINE_MAX + 8)) >> 4) as usize
}

/// The effective size a request rounded to `r` bytes (a multiple of 8) is given when it has a
/// small bin: `r` up to 64, else the first size of its class, `r` rounded up to an odd
/// multiple of 8.
#[inline(always)]
pub(crate) fn class_need(r: u32) -> u32 {
    if r > FINE_MAX {
        r | 8
    } else {
        r
    }
}

/// The smallest effective size of `bin`'s blocks (the size its requests are given; for a
/// medium bin, its lower bound).
#[inline(always)]
pub(crate) const fn bin_min(bin: usize) -> u32 {
    if bin >= MEDIUM_FROM {
        return medium_min(bin - MEDIUM_FROM);
    }
    let bin = bin as u32;
    if bin < 8 {
        (bin + 1) * 8
    } else {
        bin * 16 - 56
    }
}

/// The largest effective size of `bin`'s blocks.
#[inline(always)]
pub(crate) const fn bin_max(bin: usize) -> u32 {
    if bin >= MEDIUM_FROM {
        return medium_min(bin - MEDIUM_FROM + 1) - 8;
    }
    bin_min(bin) + if bin < 8 { 0 } else { 8 }
}

impl<S: Source, P: Policy> Heap<S, P> {
    /// Whether the policy has a cache (the compiler drops every use when not).
    #[inline(always)]
    pub(crate) fn caches() -> bool {
        <P::Cache as CacheBins>::BINS != 0
    }

    /// The small bins (one size or a class of two each): the first `SMALL_BINS`.
    const SMALL_BINS: usize = if <P::Cache as CacheBins>::BINS < MEDIUM_FROM {
        <P::Cache as CacheBins>::BINS
    } else {
        MEDIUM_FROM
    };
    /// The medium bins, after the small ones (at most 64: one bit each in `medium`).
    const MEDIUM_BINS: usize = <P::Cache as CacheBins>::BINS - Self::SMALL_BINS;
    /// The largest request the small bins serve (the first size of the last bin's class).
    pub(crate) const CACHED_MAX: u32 = match Self::SMALL_BINS {
        0 => 0,
        bins => bin_min(bins - 1),
    };
    /// The largest effective size the small bins hold.
    pub(crate) const CACHED_EFF_MAX: u32 = match Self::SMALL_BINS {
        0 => 0,
        bins => bin_max(bins - 1),
    };
    /// The largest effective size the cache holds (the medium bins' if any).
    pub(crate) const CACHE_EFF_TOP: u32 = match <P::Cache as CacheBins>::BINS {
        0 => 0,
        bins => {
            assert!(bins <= MEDIUM_FROM + 64);
            bin_max(bins - 1)
        }
    };
    /// The largest request a medium bin serves: the lower bound of the last medium bin (0:
    /// none).
    const MEDIUM_MAX: u32 = match Self::MEDIUM_BINS {
        0 => 0,
        _ => bin_min(<P::Cache as CacheBins>::BINS - 1),
    };

    /// At most this many blocks in `bin`.
    #[inline(always)]
    pub(crate) fn cap(bin: usize) -> u32 {
        if bin >= MEDIUM_FROM {
            P::MEDIUM_CAP
        } else {
            P::CACHE_CAP
        }
    }

    /// The effective size a request rounded to `r` bytes is given: [`class_need`] where the
    /// cache has a bin for it, else `r`.
    #[inline(always)]
    pub(crate) fn need_of(r: u32) -> u32 {
        if (Self::caches() && r <= Self::CACHED_MAX) || P::ODD_SIZES {
            class_need(r)
        } else {
            r
        }
    }

    /// `bin`, which the caller knows to be a small bin (below `SMALL_BINS`), with that fact
    /// told to the compiler: the bins' accessors then need no check of the index and no
    /// medium bitmap (the map's `min` hides the bound from it: with the checks
    /// `pkg/wall-e.wasm` was 7,638 bytes, 7,556 without, 7,243 before the classes; the small
    /// app 7,943 against 7,909).
    ///
    /// # Safety
    /// `bin < SMALL_BINS`.
    #[inline(always)]
    unsafe fn known_bin(bin: usize) -> usize {
        debug_assert!(bin < Self::SMALL_BINS);
        // SAFETY: the caller's promise.
        unsafe { core::hint::assert_unchecked(bin < Self::SMALL_BINS) };
        bin
    }

    /// **The fast allocation:** the head of the bin of `size` rounded up (a block of exactly
    /// that effective size: I5 holds), its logical size written; 0 when `size` is 0, larger
    /// than the cache's sizes, or its bin is empty, or when the head's payload is not aligned
    /// to `align` (a power of two; 8 and 16 are the alignments `WallE` asks the cache for: a
    /// block placed 16-aligned and freed comes back to the next such request).
    #[inline(always)]
    pub(crate) fn cache_pop(&mut self, size: u32, align: u32) -> u32 {
        let bins = Self::SMALL_BINS;
        let below = size.wrapping_sub(1);
        if bins == 0 || below >= Self::CACHED_MAX {
            return 0;
        }
        // SAFETY: `below < CACHED_MAX`, the first size of the last bin's class.
        let bin = unsafe { Self::known_bin(bin_for(below)) };
        let head = self.cache.head(bin);
        // (Every payload is 8-aligned: only a larger alignment is checked.)
        if head == 0 || (align > 8 && (head + HEADER) & (align - 1) != 0) {
            return 0;
        }
        // SAFETY: `head` heads `bin`, of the request's rounded size.
        unsafe { self.take_cached(bin, head, size) }
    }

    /// The head of the bin just above the one of `size` when its blocks are within 125% of
    /// the request (I5, without a split), its logical size written; else 0. The first step of
    /// [`Heap::cache_pop_near`], inlined into the caller.
    #[inline(always)]
    pub(crate) fn cache_pop_next(&mut self, size: u32) -> u32 {
        let bins = Self::SMALL_BINS;
        let below = size.wrapping_sub(1);
        // The next bin's largest blocks are within 125% from requests of 113 bytes (the bins
        // from 72 bytes hold two sizes; among the requests of 32-104 bytes, which some
        // would serve, one bin in 20 in churn of 16-1,024 B: one comparison, not a product).
        if bins == 0 || below >= bin_min(bins - 2) || below < 112 {
            return 0;
        }
        // SAFETY: `below` is below the first size of the class before the last bin's.
        let bin = unsafe { Self::known_bin(bin_for(below) + 1) };
        let head = self.cache.head(bin);
        if head == 0 {
            return 0;
        }
        // SAFETY: `head` heads `bin` (I8), within 125% of `size` (above).
        unsafe { self.take_cached(bin, head, size) }
    }

    /// When the bin of `size` is empty: the head of the first non-empty bin among the
    /// `NEAR_BINS` above it whose blocks are within 125% of the request (I5, without a split),
    /// its logical size written; else 0. Called before the heap's search (`allocate_slow`): in steady churn most misses
    /// found the top without room and gave a cached block back to the heap to split it
    /// (Rust-level churn of 16-1,024 B: see docs/small-blocks.md; natively, 407 -> 257
    /// instructions a step together with the sized free of blocks with slack).
    #[inline(always)]
    pub(crate) fn cache_pop_near(&mut self, size: u32) -> u32 {
        let bins = Self::SMALL_BINS;
        // As in `cache_pop`: the request's own bin.
        let below = size.wrapping_sub(1);
        if bins == 0 || below >= Self::CACHED_MAX {
            return 0;
        }
        let own = bin_for(below);
        // Unless a block was cached since the last flush before growth, the bins from
        // `kept_below` up are empty (I8): a request too large for every block the flush kept
        // (the scaling rows' misfits, after the first growth) looks at none, and returns
        // before the arithmetic below (bench/instructions, scaling rows: 388 / 472 / 564 ->
        // 336 / 419 / 515 instructions a call, with the `while` below; docs/small-blocks.md,
        // "Misfits among cached holes").
        if !self.cache.marked() && own + 1 >= self.cache.kept_below() {
            return 0;
        }
        // The last bin whose largest blocks are within 125% of the rounded request `r`: with
        // `l` that bound rounded down to 8, the bin before the one of `l + 8` (a class's first
        // size is an odd multiple of 8 above 64 bytes), and within `NEAR_BINS`.
        let r = (below | 7) + 1;
        let end = bin_of(((r + r / 4) & !7) + 8)
            .min(own + NEAR_BINS + 1)
            .min(bins);
        // A `while`, not a `for` over `own + 1..=last`: the inclusive range's codegen kept an
        // "exhausted" flag and two comparisons a step.
        let mut bin = own + 1;
        while bin < end {
            let head = self.cache.head(bin);
            if head != 0 {
                // SAFETY: `head` heads `bin` (I8).
                return unsafe { self.take_cached(bin, head, size) };
            }
            bin += 1;
        }
        0
    }

    /// Takes `head`, the head of `bin`, out of the cache for a request of `size` bytes: its
    /// logical size written, its payload returned.
    ///
    /// # Safety
    /// `head` is the head of `bin`, and its effective size holds `size` within 125%.
    #[inline(always)]
    unsafe fn take_cached(&mut self, bin: usize, head: u32, size: u32) -> u32 {
        let next = self.read(head + CACHE_LINK);
        let count = self.cache.count(bin);
        self.cache.set(bin, next, count.wrapping_sub(1));
        // SAFETY: `head` is a cached block of this heap (I8): a used block to the heap.
        unsafe { self.set_logical(head, size) };
        head + HEADER
    }

    /// **The fast free:** caches the used block at `header` (size word `word`) when its size
    /// has a bin and the bin is not full; false otherwise (the heap takes it).
    ///
    /// # Safety
    /// `header` is a used block of this heap (it passed the pointer check) and `word` its size
    /// word.
    #[inline(always)]
    pub(crate) unsafe fn cache_push(&mut self, header: u32, word: u32) -> bool {
        let bins = Self::SMALL_BINS;
        let eff = word & !FLAGS;
        // As in `cache_pop` (a used block is never empty): `bin < SMALL_BINS` without a bounds
        // check.
        let below = eff.wrapping_sub(1);
        if bins == 0 || below >= Self::CACHED_EFF_MAX {
            // (One comparison on the small blocks' path, as before the medium bins.)
            return Self::MEDIUM_BINS != 0
                && below < Self::CACHE_EFF_TOP
                // SAFETY: the caller's promise.
                && unsafe { self.cache_push_medium(header, word) };
        }
        // SAFETY: `eff <= CACHED_EFF_MAX`, the largest size of the last small bin's class.
        let bin = unsafe { Self::known_bin(small_bin_of(eff)) };
        let count = self.cache.count(bin);
        if count >= P::CACHE_CAP {
            return false;
        }
        // A block whose left neighbour is free goes to the heap and merges: caching it would
        // keep that free memory in pieces, and the heap's placement with it (mixed sizes,
        // 1 B-16 KiB: the heap grew to 4.9 MiB with every small block cached, 4.3 with this
        // rule, 4.4 with the give-back before growth as it is now, 4.2 without a cache; the
        // flag is in the word already read. Testing the right neighbour too gave 4.2 MiB for
        // 5-20 instructions more a call on the small-block workloads.)
        // (Except just below the top: a block placed 16-aligned there has the gap in front of
        // it free, and a loop of 16-aligned alloc+free then missed the cache every time: 11-12
        // ns a pair against 6 at align 8.)
        if word & PREV_FREE != 0 && header + HEADER + eff != self.top {
            return false;
        }
        // SAFETY: the caller's promise, and the checks above.
        unsafe { self.cache_push_unchecked(header, eff, bin, count) };
        true
    }

    /// [`Heap::cache_push`] for a medium block (effective size above `CLASS_EFF_MAX`, up to
    /// `CACHE_EFF_TOP`): onto the medium bin of its size, no merge (the free of a block of
    /// 1-10 KiB that merged was 264 instructions and 1.4 mispredicted branches natively in
    /// talc's random actions: docs/small-blocks.md, "Medium blocks"), under the same rules
    /// as a small block's: the bin not full, the left neighbour not free (but just below the
    /// top). False: the heap takes it.
    ///
    /// # Safety
    /// As [`Heap::cache_push`].
    #[inline]
    unsafe fn cache_push_medium(&mut self, header: u32, word: u32) -> bool {
        let eff = word & !FLAGS;
        debug_assert!(eff > CLASS_EFF_MAX && eff <= Self::CACHE_EFF_TOP);
        let bin = bin_of(eff);
        let count = self.cache.count(bin);
        if count >= P::MEDIUM_CAP || word & PREV_FREE != 0 || header + HEADER + eff == self.top {
            return false;
        }
        // SAFETY: the caller's promise, and the checks above.
        unsafe { self.cache_push_unchecked(header, eff, bin, count) };
        true
    }

    /// **A medium request** (`CACHED_MAX < size <= MEDIUM_MAX`): the head of the first
    /// non-empty medium bin whose blocks all hold the request and are within 125% of it (I5,
    /// without a split: the bins are a 16th of an octave wide, so from the first bin whose
    /// lower bound holds the request up to 4 or 5 bins qualify; the bitmap finds the first
    /// non-empty one in a shift and a count of zeros) whose payload is aligned to `align`;
    /// 0 if none.
    #[inline]
    pub(crate) fn cache_pop_medium(&mut self, size: u32, align: u32) -> u32 {
        let below = size.wrapping_sub(1);
        if Self::MEDIUM_BINS == 0 || below < Self::CACHED_MAX || below >= Self::MEDIUM_MAX {
            return 0;
        }
        // The first bin whose smallest size holds the request rounded to 8 (`r`), and the last
        // whose largest, the next bin's lower bound less 8, is within 125% of it.
        let first = medium_floor(below) + 1;
        let r = (below | 7) + 1;
        let last = (medium_floor(r + r / 4 + HEADER) - 1).min(Self::MEDIUM_BINS - 1);
        if last < first {
            return 0;
        }
        let mut window = (self.cache.medium() >> first) & ((2u64 << (last - first)) - 1);
        while window != 0 {
            let bin = MEDIUM_FROM + first + window.trailing_zeros() as usize;
            let head = self.cache.head(bin);
            debug_assert!(head != 0 && bin_max(bin) - r <= r / 4 && bin_min(bin) >= r);
            if align <= 8 || (head + HEADER) & (align - 1) == 0 {
                // SAFETY: `head` heads `bin` (I8), within 125% of `size` (above).
                return unsafe { self.take_cached(bin, head, size) };
            }
            window &= window - 1;
        }
        0
    }

    /// When no listed block holds a small request of `need` bytes: gives the smallest cached
    /// medium block that holds it (the head of the first non-empty medium bin whose lower
    /// bound is at least `need`) back to the heap, where it merges, and takes a listed block
    /// for `need` (split); 0 if there is no such block.
    #[cold]
    #[inline(never)]
    pub(crate) fn take_from_medium(&mut self, need: u32) -> u32 {
        let first = if need <= 1 << MEDIUM_OCTAVE {
            0
        } else {
            medium_floor(need - 1) + 1
        };
        let bits = if first >= 64 {
            0
        } else {
            self.cache.medium() >> first
        };
        if bits == 0 {
            return 0;
        }
        let bin = MEDIUM_FROM + first + bits.trailing_zeros() as usize;
        debug_assert!(bin_min(bin) >= need);
        self.release_cached(bin, Pick::Head);
        self.take_listed_for(need)
    }

    /// [`Heap::cache_push`] for a block `deallocate_sized` checked, onto `bin`, which the
    /// caller knows from the `Layout`; false when the bin is full.
    ///
    /// # Safety
    /// `header` is a used block of this heap of effective size `eff` (no flag but `PREV_FREE`,
    /// and that only just below the top), `8 <= eff <= CACHED_EFF_MAX`, and `bin` is
    /// `bin_of(eff)`.
    #[inline(always)]
    pub(crate) unsafe fn cache_push_to(&mut self, header: u32, eff: u32, bin: usize) -> bool {
        debug_assert!(bin == bin_of(eff));
        // SAFETY: `bin_of(eff)` for an `eff` up to `CACHED_EFF_MAX` (the caller's promise).
        let bin = unsafe { Self::known_bin(bin) };
        let count = self.cache.count(bin);
        if count >= P::CACHE_CAP {
            return false;
        }
        // SAFETY: the caller's promise.
        unsafe { self.cache_push_unchecked(header, eff, bin, count) };
        true
    }

    /// The gap of `gap` bytes at `header` in front of a small block placed over-aligned
    /// (`Heap::allocate_over_aligned`), as a cached block when its size has a bin that is not
    /// full: the block placed after it then has no free left neighbour, so that, freed, it is
    /// cached (`WallE`'s free of exactly its size, inlined) and comes back aligned to the next
    /// request of its layout (`cache_pop`). As a free block, the gap sent every such free out
    /// of line (`deallocate_sized_slow`) or to the heap: 32-byte alloc+free at align 16 took
    /// x1.20-1.26 / x1.34-1.38 wasmalloc's time (Node / wasmtime) against x0.95-1.04 at
    /// align 8; x0.97-1.06 / x0.95-0.99 with this (docs/small-blocks.md). False: the caller
    /// frees the gap.
    ///
    /// Not a gap of the block's own size (`need`): its payload, not aligned, would head the
    /// bin the block's aligned requests look at, and each of them would miss (a batch of
    /// 16-byte blocks at align 16 has a 24-byte gap before every other block).
    ///
    /// # Safety
    /// `[header, header + gap)` is this heap's, in no block yet, right after a used (or
    /// cached) block; `gap` is at least 16.
    pub(crate) unsafe fn cache_gap(&mut self, header: u32, gap: u32, need: u32) -> bool {
        let eff = gap - HEADER;
        if eff == need {
            return false;
        }
        // SAFETY: the caller's promise: a used block of `eff` bytes with no flag (its left
        // neighbour is not free), as `cache_push` takes it.
        unsafe {
            self.set_size_word(header, eff);
            self.cache_push(header, eff)
        }
    }

    /// Pushes the used block at `header` onto `bin`, which holds `count` blocks.
    ///
    /// # Safety
    /// `header` is a used block of this heap of effective size `eff`, whose bin is `bin`, and
    /// `count < CACHE_CAP`; caching it keeps I8 (see `cache_push`).
    #[inline(always)]
    unsafe fn cache_push_unchecked(&mut self, header: u32, eff: u32, bin: usize, count: u32) {
        let _ = eff; // (the checked build's poisoning)
        let head = self.cache.head(bin);
        // SAFETY: the caller's promise: the header and the payload's first word are the block's.
        unsafe {
            self.set_logical(header, CACHED);
            self.write(header + CACHE_LINK, head);
        }
        // The whole payload after the link, from the header (`eff` may be its class's first
        // size, 8 bytes short of the block's).
        #[cfg(feature = "checked")]
        {
            let eff = self.size_word(header) & !FLAGS;
            // SAFETY: the block's payload after its link, inside the block (the caller's
            // promise).
            unsafe {
                self.at(header + CACHE_LINK + 4, eff - 4)
                    .write_bytes(crate::block::POISON, eff as usize - 4)
            };
        }
        self.cache.set(bin, header, count + 1);
        self.cache.mark(true);
    }

    /// Gives every cached block back to the heap, where it merges with its free neighbours (or
    /// goes back to the bump pointer); a user may call it (e.g. before measuring the heap, or,
    /// later, when a thread ends). Returns whether there was any.
    pub fn flush_cache(&mut self) -> bool {
        let mut any = false;
        for bin in 0..<P::Cache as CacheBins>::BINS {
            any |= self.release_cached(bin, Pick::All);
        }
        self.cache.mark(false);
        self.cache.set_kept_below(0);
        any
    }

    /// Whether the heap, about to grow memory for a request of `need` bytes, should first
    /// give cached blocks back ([`Heap::flush_cache_for`]): when a block was cached since
    /// the last such flush, or a block kept then is large enough to serve `need`.
    #[inline(always)]
    pub(crate) fn cache_may_serve(&self, need: u32) -> bool {
        self.cache.marked() || bin_of(need.min(Self::CACHE_EFF_TOP)) < self.cache.kept_below()
    }

    /// Before the heap grows memory for `need` bytes: gives back to the heap a cached block
    /// that fits `need` (the 125% rule), from the smallest such bin, and if that made no fit,
    /// every cached block that may merge (its left neighbour free, its right one free, cached
    /// or the top: two passes, as a block freed in the first may free the left neighbour of
    /// another), a bin's walk stopping after `ISOLATED_RUN` blocks in a row that may not. The
    /// rest, isolated blocks too small for the request, stay cached: giving them back would
    /// not make the heap any smaller. Returns whether it gave any back.
    ///
    /// A fitting block first: in steady churn the top has no room, so nearly every miss comes
    /// here, and a walk of every cached block each time cost 41% of the run (Rust-level churn
    /// of 16-1,024 B: 66 ns a step in Node, 44 in wasmtime, wasmalloc 44 and 21). The walk
    /// gives only mergeable blocks back: in the benchmark's scaling rows, 50,000 isolated
    /// holes flushed whole at the first growth cost 659 instructions a call (289 without a
    /// cache), 458 kept.
    #[cold]
    #[inline(never)]
    pub(crate) fn flush_cache_for(&mut self, need: u32) -> bool {
        let bins = <P::Cache as CacheBins>::BINS;
        let from = bin_of(need.min(Self::CACHE_EFF_TOP));
        // (The head's own size: a medium bin's blocks span a 16th of an octave.)
        let fit = |heap: &Self, head: u32| head != 0 && fits(heap.eff(head), need);
        if let Some(bin) = (from..bins).find(|&bin| fit(self, self.cache.head(bin))) {
            self.release_cached(bin, Pick::Head);
            if self.find_free(need) != 0 {
                return true;
            }
        }
        let mut any = false;
        for _ in 0..2 {
            // (An empty bin is not walked: a call for each cost a flush 256 calls, ~11,000
            // instructions, 3% of talc's random actions.)
            let released = self.release_merging();
            any |= released;
            if !released {
                break; // (no flag changed: a second pass would find the same)
            }
        }
        self.cache.mark(false);
        let top = (0..bins).rev().find(|&bin| self.cache.head(bin) != 0);
        self.cache.set_kept_below(top.map_or(0, |bin| bin + 1));
        any
    }

    /// Gives back to the heap every cached block that may merge ([`Heap::may_merge`]), the
    /// others staying in their bins in their order, as [`Heap::release_cached`] does bin by
    /// bin, but walking up to four non-empty bins' lists side by side, a block of each in
    /// turn. A list is a chain of loads (each block's link is in its payload), and the blocks
    /// of a bin lie far apart: walked one list after the other, every block cost a cache miss
    /// the next could not overlap (the scaling row of 100,000 live blocks, 7,163 cached holes
    /// looked at once at its first growth: ~50 ns a block under wasmtime, the row x1.22 the
    /// best peer's time); side by side, the misses of one bin's block and the next bin's
    /// overlap. Each lane's state is a few locals (`Lane`, never in memory: the threaded
    /// module keeps no frame in its shared memory, tests/threads.rs). Returns whether it gave
    /// any back.
    #[inline(never)]
    fn release_merging(&mut self) -> bool {
        let bins = <P::Cache as CacheBins>::BINS;
        let mut bin = 0;
        let mut any = false;
        // Four lanes, written out so that each is its own locals. (Eight: 529 instructions a
        // call in the scaling 100k row against 517, a module of 9,466 bytes against 8,608,
        // and V8 took ~1.3 ns more a call on FIFO and string building than main, which never
        // flush: code placement; ~0.5 with four.)
        macro_rules! lanes {
            ($($lane:ident),*) => {
                $(let mut $lane = self.lane_from(&mut bin, bins);)*
                loop {
                    let mut walking = false;
                    $(walking |= self.lane_step(&mut $lane, &mut any);)*
                    if !walking {
                        break;
                    }
                }
            };
        }
        while bin < bins {
            lanes!(l0, l1, l2, l3);
        }
        any
    }

    /// The next non-empty bin from `*bin` (moved past it) as a lane of
    /// [`Heap::release_merging`]; an idle lane when there is none.
    #[inline(always)]
    fn lane_from(&self, bin: &mut usize, bins: usize) -> Lane {
        while *bin < bins {
            let at = *bin;
            *bin += 1;
            let head = self.cache.head(at);
            if head != 0 {
                return Lane {
                    bin: at,
                    node: head,
                    kept: 0,
                    run: 0,
                };
            }
        }
        Lane {
            bin: 0,
            node: 0,
            kept: 0,
            run: 0,
        }
    }

    /// One block of `lane`'s bin: given back if it may merge, else kept. False when the lane
    /// is idle (its list walked).
    #[inline(always)]
    fn lane_step(&mut self, lane: &mut Lane, any: &mut bool) -> bool {
        let at = lane.node;
        if at == 0 {
            return false;
        }
        let bin = lane.bin;
        // Read before the release, which writes the free block's links over it.
        let next = self.read(at + CACHE_LINK);
        if self.may_merge(at) {
            // SAFETY: `at` is in `bin` after `lane.kept` (or its head), followed by `next`.
            unsafe { self.give_back_cached(bin, at, next, lane.kept) };
            *any = true;
            lane.run = 0;
        } else {
            lane.kept = at;
            lane.run += 1;
            if lane.run == ISOLATED_RUN {
                // The rest of the bin stays cached, unlooked at, its list as it was.
                lane.node = 0;
                return true;
            }
        }
        lane.node = next;
        true
    }

    /// Takes the cached block `at` out of `bin`, where it follows `kept` (0: it is the head)
    /// and precedes `next`, and gives it back to the heap. Out of line: once, not in each of
    /// `release_merging`'s lanes.
    ///
    /// # Safety
    /// `at` is in `bin`'s list, right after `kept` (or its head when `kept` is 0), and its
    /// link is `next`.
    #[inline(never)]
    unsafe fn give_back_cached(&mut self, bin: usize, at: u32, next: u32, kept: u32) {
        let count = self.cache.count(bin) - 1;
        if kept == 0 {
            self.cache.set(bin, next, count);
        } else {
            // SAFETY: `kept` is a cached block (I8): its payload's first word is its link.
            unsafe { self.write(kept + CACHE_LINK, next) };
            self.cache.set(bin, self.cache.head(bin), count);
        }
        // The size word now: a neighbour released before may have set its PREV_FREE.
        let word = self.size_word(at);
        debug_assert!(word & (FREE | LAST) == 0 && self.logical(at) == CACHED);
        // SAFETY: a cached block is a used block to the heap (I8), out of its bin now.
        unsafe { self.release(at, word) };
    }

    /// Whether the cached block at `node`, given back, would merge: its left neighbour free,
    /// or its right one free, cached or the top.
    fn may_merge(&self, node: u32) -> bool {
        let word = self.size_word(node);
        let next = node + HEADER + (word & !FLAGS);
        if word & PREV_FREE != 0 || next == self.top {
            return true;
        }
        let next_word = self.size_word(next);
        next_word & FREE != 0 || (next_word & LAST == 0 && self.logical(next) == CACHED)
    }

    /// Gives back to the heap the blocks of `bin` that `pick` picks, the others staying in
    /// the bin in their order. Returns whether it gave any back.
    #[inline(never)]
    fn release_cached(&mut self, bin: usize, pick: Pick) -> bool {
        let head = self.cache.head(bin);
        let mut node = head;
        let mut count = self.cache.count(bin);
        let mut any = false;
        // The last block kept (0: none yet, the next kept one becomes the head).
        let mut kept = 0;
        while node != 0 {
            // Read before the release, which writes the free block's links over it.
            let next = self.read(node + CACHE_LINK);
            let release = match pick {
                Pick::All => true,
                Pick::Head => node == head,
            };
            if release {
                if kept == 0 {
                    self.cache.set(bin, next, count - 1);
                } else {
                    // SAFETY: `kept` is a cached block (I8): its payload's first word is its
                    // link.
                    unsafe { self.write(kept + CACHE_LINK, next) };
                    self.cache.set(bin, self.cache.head(bin), count - 1);
                }
                count -= 1;
                // The size word now: a neighbour released before may have set its PREV_FREE.
                let word = self.size_word(node);
                debug_assert!(word & (FREE | LAST) == 0 && self.logical(node) == CACHED);
                // SAFETY: a cached block is a used block to the heap (I8), out of its bin now.
                unsafe { self.release(node, word) };
                any = true;
            } else {
                kept = node;
            }
            node = next;
        }
        any
    }

    /// The next block after `node` in its bin (for the walker).
    pub(crate) fn cache_link(&self, node: u32) -> u32 {
        self.read(node + CACHE_LINK)
    }
}
