//! The heap walker: checks every invariant of `heap.rs` and counts what it sees.

#[cfg(feature = "checked")]
use crate::block::poison_start;
use crate::block::{FLAGS, FREE, HEADER, LAST, PREV_FREE};
use crate::cache::{bin_of, CacheBins, CACHED, MEDIUM_FROM};
use crate::classes::Classes;
use crate::heap::{Heap, SPARE_KEEP};
use crate::policy::Policy;
use crate::source::Source;

/// The class of a free block of effective size `eff` under the policy `P`.
fn class_of<P: Policy>(eff: u32) -> usize {
    P::Lists::class_of(eff)
}

/// What a walk of the heap counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of memory the heap owns: the sum of its regions' sizes.
    pub heap_bytes: u32,
    /// Sum of the logical sizes of the used blocks (what callers asked for).
    pub used_bytes: u32,
    /// Number of used blocks.
    pub used_blocks: u32,
    /// Sum of the free blocks' effective sizes.
    pub free_bytes: u32,
    /// Number of free blocks.
    pub free_blocks: u32,
    /// Effective size of the largest free block.
    pub largest_free: u32,
    /// Bytes between the bump pointer and the end of the current region.
    pub top_room: u32,
    /// Number of regions (more than one when something else grew memory in between).
    pub regions: u32,
    /// Sum of the cached blocks' effective sizes (I8: freed, held by the cache; neither used
    /// nor free to the heap until it flushes them).
    pub cached_bytes: u32,
    /// Number of cached blocks.
    pub cached_blocks: u32,
}

/// A broken invariant found by [`Heap::validate`]: where, and which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The address of the header (or list head) where the walk found it.
    pub at: u32,
    /// What is wrong.
    pub what: &'static str,
}

#[doc(hidden)]
/// What an address is to the heap: see [`Heap::locate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The payload start of a used block.
    Live,
    /// Inside a free block: freed, or never handed out.
    Freed,
    /// Inside a used block (or its header), not at its start.
    Interior,
    /// Not in the heap.
    Unknown,
}

fn check(ok: bool, at: u32, what: &'static str) -> Result<(), Corruption> {
    if ok {
        Ok(())
    } else {
        Err(Corruption { at, what })
    }
}

/// One step of the walk ([`Heap::walk`]): a block as found, after [`Heap::check_block`]'s
/// checks, or the room above the bump pointer at the end.
pub(crate) enum Walked {
    /// A region's end marker; the walk goes on at `next`, the next region's start.
    Marker { next: u32 },
    /// A free block of `eff` bytes (`spare`: the spare, in no list).
    Free { eff: u32, spare: bool, end: u64 },
    /// A used block of `logical` bytes asked for.
    Used { logical: u32, end: u64 },
    /// The current region's room: `room` bytes from `top` to `limit` (the walk's last step).
    Room { room: u32 },
    /// A cached block of `eff` bytes (I8).
    Cached { eff: u32, end: u64 },
}

impl<S: Source, P: Policy> Heap<S, P> {
    /// Walks every block, every free list and the cache's bins and checks every invariant of
    /// the heap (blocks tile each region, no two free blocks are adjacent, flags and footers
    /// agree, every free block is in the list of its class, every cached block in the bin of
    /// its size, fresh memory is zero: I1–I8; I9 as far as the heap sees it); returns its statistics, or where and what the
    /// first broken invariant is. O(heap).
    pub fn validate(&self) -> Result<Stats, Corruption> {
        let mut stats = Stats::default();
        if self.limit == 0 {
            check(
                self.top == 0 && self.spare == 0,
                0,
                "bump pointer without a region",
            )?;
            for class in 0..P::Lists::CLASSES {
                check(
                    self.lists.head(class) == 0,
                    class as u32,
                    "free list without a region",
                )?;
            }
            for bin in 0..<P::Cache as CacheBins>::BINS {
                check(
                    self.cache.head(bin) == 0 && self.cache.count(bin) == 0,
                    bin as u32,
                    "cache corrupt",
                )?;
            }
            return Ok(stats);
        }
        self.check_region_fields()?;
        let mut region_start = self.first;
        let mut spare_seen = false;
        self.walk(self.first, Some(false), |header, walked| {
            match *walked {
                Walked::Marker { next } => {
                    // The region ends with its marker's header; the marker's block spans the
                    // gap (memory grown by somebody else) up to the next region.
                    stats.heap_bytes += header + HEADER - region_start;
                    stats.regions += 1;
                    region_start = next;
                }
                Walked::Free { eff, spare, .. } => {
                    spare_seen |= spare;
                    stats.free_blocks += 1;
                    stats.free_bytes += eff;
                    stats.largest_free = stats.largest_free.max(eff);
                }
                Walked::Used { logical, .. } => {
                    stats.used_blocks += 1;
                    stats.used_bytes += logical;
                }
                Walked::Room { room } => {
                    stats.heap_bytes += self.limit + HEADER - region_start;
                    stats.regions += 1;
                    stats.top_room = room;
                }
                Walked::Cached { eff, .. } => {
                    stats.cached_blocks += 1;
                    stats.cached_bytes += eff;
                }
            }
            true
        })?;

        let mut listed = 0;
        for class in 0..P::Lists::CLASSES {
            let mut node = self.lists.head(class);
            check(
                (node != 0) == self.lists.is_marked(class),
                class as u32,
                "bitmap disagrees with list",
            )?;
            let mut prev = 0;
            while node != 0 {
                check(self.is_listed(node), node, "list link outside the heap")?;
                let word = self.size_word(node);
                check(
                    word & (FREE | LAST) == FREE,
                    node,
                    "used block in a free list",
                )?;
                check(
                    class_of::<P>(word & !FLAGS) == class,
                    node,
                    "free block in the wrong class",
                )?;
                check(self.prev_link(node) == prev, node, "prev link broken")?;
                listed += 1;
                check(
                    listed < stats.free_blocks + !spare_seen as u32,
                    node,
                    "free lists hold more blocks than the heap",
                )?;
                prev = node;
                node = self.next_link(node);
            }
        }
        for class in P::Lists::CLASSES..self.lists.heads().len() {
            check(
                self.lists.heads()[class] == 0 && !self.lists.is_marked(class),
                class as u32,
                "class out of range",
            )?;
        }
        check(
            spare_seen == (self.spare != 0),
            self.spare,
            "the spare is not a free block of the heap",
        )?;
        check(
            listed + spare_seen as u32 == stats.free_blocks,
            0,
            "free blocks missing from the lists",
        )?;
        self.check_bins(stats.cached_blocks)?;

        check(
            self.top <= self.fresh && self.fresh as u64 <= self.limit as u64 + 8,
            self.fresh,
            "fresh mark",
        )?;
        let mut addr = self.fresh;
        while addr < self.limit + HEADER {
            check(
                self.read(addr & !3) == 0,
                addr,
                "memory above the fresh mark was written",
            )?;
            addr = (addr & !3) + 4;
        }
        Ok(stats)
    }

    /// **The walk**, the one traversal of the heap's blocks: from the block at `from` (the first
    /// region's start, or a header a previous walk stopped at) in address order, each block
    /// checked by [`Heap::check_block`] and given to `visit` with its header, then the room
    /// above the bump pointer (`Walked::Room`, at `top`). `visit` returns false to stop the walk
    /// before that step: the walk then returns the header to resume at; 0 when it went to the
    /// end. Every block is at least 8 bytes and a marker links forwards, so the walk ends; every
    /// read is bounded by `check_block`'s region check. The heap has a region (`limit != 0`).
    /// `prev_free`: whether the block before `from` is free, when known (`Some(false)` at a
    /// region's start); `None` takes the first block's `PREV_FREE` flag as it is.
    pub(crate) fn walk(
        &self,
        from: u32,
        prev_free: Option<bool>,
        mut visit: impl FnMut(u32, &Walked) -> bool,
    ) -> Result<u32, Corruption> {
        debug_assert!(self.limit != 0);
        let mut header = from;
        let mut prev_free = prev_free;
        loop {
            let current = header >= self.region;
            if current && header == self.top {
                check(
                    prev_free != Some(true),
                    header,
                    "free block just below the bump pointer",
                )?;
                let room = Walked::Room {
                    room: self.limit - self.top,
                };
                return Ok(if visit(header, &room) { 0 } else { header });
            }
            let walked = self.check_block(header, current, prev_free)?;
            if !visit(header, &walked) {
                return Ok(header);
            }
            (header, prev_free) = match walked {
                Walked::Marker { next } => (next, Some(false)),
                Walked::Free { end, .. } => (end as u32, Some(true)),
                Walked::Used { end, .. } | Walked::Cached { end, .. } => (end as u32, Some(false)),
                Walked::Room { .. } => unreachable!("the room is the walk's last step"),
            };
        }
    }

    /// Checks the heap's region fields, once it has a region: the first region's start, and the
    /// bump pointer inside the current region (I1).
    fn check_region_fields(&self) -> Result<(), Corruption> {
        check(
            self.first != 0 && self.first <= self.region,
            self.first,
            "first region",
        )?;
        check(
            self.region <= self.top && self.top <= self.limit,
            self.top,
            "bump pointer out of its region",
        )?;
        Ok(())
    }

    /// Checks the block at `header` as the walk meets it: inside its region (I1), flags against
    /// the block before when that is known (`prev_free`; I2, I3), a free block's footer, its
    /// links or its being the spare (I3, I4) and, in the checked build, its poison; a used
    /// block's logical size; a region marker's link. `current`: the block lies in the current
    /// region (it ends at `top`, an older one's at `region`). Shared by [`Heap::validate`] and
    /// [`Heap::validate_span`], so that both check each block by the same rules.
    fn check_block(
        &self,
        header: u32,
        current: bool,
        prev_free: Option<bool>,
    ) -> Result<Walked, Corruption> {
        // Blocks of an old region end below the current region; those of the current one at top.
        let bound = if current { self.top } else { self.region };
        check(
            header & 7 == 0 && header as u64 + HEADER as u64 <= bound as u64,
            header,
            "block outside its region",
        )?;
        let word = self.size_word(header);
        let eff = word & !FLAGS;
        let end = header as u64 + HEADER as u64 + eff as u64;
        check(end <= bound as u64, header, "block overruns its region")?;
        check(
            prev_free.is_none_or(|prev_free| (word & PREV_FREE != 0) == prev_free),
            header,
            "PREV_FREE flag disagrees with the block before",
        )?;
        if word & LAST != 0 {
            check(
                !current && word & FREE == 0,
                header,
                "region marker in the current region",
            )?;
            // The marker's block ends where the next region starts (I1).
            check(
                end <= self.region as u64,
                header,
                "region marker links backwards",
            )?;
            return Ok(Walked::Marker { next: end as u32 });
        }
        check(eff >= 8, header, "empty block")?;
        if word & FREE == 0 {
            let logical = self.logical(header);
            if logical == CACHED {
                #[cfg(feature = "checked")]
                {
                    // SAFETY: the poisoned range (after the cache link) lies inside the block.
                    let poison = unsafe {
                        core::slice::from_raw_parts(
                            self.at(header + HEADER + 4, eff - 4),
                            eff as usize - 4,
                        )
                    };
                    check(
                        poison.iter().all(|&b| b == crate::block::POISON),
                        header,
                        "freed (cached) memory was written",
                    )?;
                }
                return Ok(Walked::Cached { eff, end });
            }
            check(
                logical as u64 + P::TAIL as u64 <= eff as u64,
                header,
                "logical size above effective size",
            )?;
            return Ok(Walked::Used { logical, end });
        }
        check(prev_free != Some(true), header, "two adjacent free blocks")?;
        check(
            self.footer(header, eff) == eff | FREE,
            header,
            "footer disagrees with header",
        )?;
        let spare = header == self.spare;
        if spare {
            check(eff <= SPARE_KEEP, header, "spare larger than SPARE_KEEP")?;
        } else {
            let (next, prev) = (self.next_link(header), self.prev_link(header));
            if prev == 0 {
                check(
                    self.lists.head(class_of::<P>(eff)) == header,
                    header,
                    "free block not at the head of its class",
                )?;
            } else {
                check(
                    self.is_listed(prev) && self.next_link(prev) == header,
                    header,
                    "prev link does not point back",
                )?;
            }
            if next != 0 {
                check(
                    self.is_listed(next) && self.prev_link(next) == header,
                    header,
                    "next link does not point back",
                )?;
            }
        }
        #[cfg(feature = "checked")]
        {
            // SAFETY: the poisoned range lies inside this free block (`end` <= `bound`).
            let poison = unsafe {
                core::slice::from_raw_parts(
                    self.at(poison_start(header), eff - 8),
                    eff as usize - 8,
                )
            };
            check(
                poison.iter().all(|&b| b == crate::block::POISON),
                header,
                "freed memory was written",
            )?;
        }
        Ok(Walked::Free { eff, spare, end })
    }

    #[doc(hidden)]
    /// What `p` is, found by walking the heap (O(heap); for the checked build and tests). The
    /// heap must be valid.
    pub fn locate(&self, p: u32) -> Place {
        if self.limit == 0 {
            return Place::Unknown;
        }
        if p >= self.top && p < self.fresh {
            // Given back to the bump pointer when freed.
            return Place::Freed;
        }
        let mut header = self.first;
        while header != self.top {
            let word = self.size_word(header);
            if word & LAST != 0 {
                header += HEADER + (word & !FLAGS);
                continue;
            }
            let end = header + HEADER + (word & !FLAGS);
            if p > header && p < end {
                let cached = word & FREE == 0 && self.logical(header) == CACHED;
                return match (word & FREE != 0 || cached, p == header + HEADER) {
                    (true, _) => Place::Freed,
                    (false, true) => Place::Live,
                    (false, false) => Place::Interior,
                };
            }
            header = end;
        }
        Place::Unknown
    }

    /// Checks the cache's bins (I8): every node a cached block of its bin's size, each bin's
    /// count its length and within `CACHE_CAP`, and as many blocks in the bins as the walk found
    /// cached (`cached`), so none is in two places or missing.
    fn check_bins(&self, cached: u32) -> Result<(), Corruption> {
        let mut binned = 0;
        for bin in 0..<P::Cache as CacheBins>::BINS {
            let mut node = self.cache.head(bin);
            let mut length = 0;
            while node != 0 {
                self.check_cached_at(node, bin)?;
                length += 1;
                binned += 1;
                check(binned <= cached, node, "cache corrupt")?;
                node = self.cache_link(node);
            }
            check(
                length == self.cache.count(bin) && length <= Self::cap(bin),
                bin as u32,
                "cache corrupt",
            )?;
            check(
                length == 0 || self.cache.marked() || bin < self.cache.kept_below(),
                bin as u32,
                "cache corrupt",
            )?;
        }
        check(self.medium_bitmap_agrees(), 0, "cache corrupt")?;
        // Under atomics the threads' own caches (handoff.rs, I9: the threaded module's and
        // `WallE`'s) hold cached blocks too, which this walk cannot reach: there, at least the
        // heap's are all found (and `WallE::validate` adds the caller's own cache:
        // `check_thread_cache`).
        if cfg!(all(
            target_arch = "wasm32",
            wall_e_atomics,
            not(feature = "checked")
        )) {
            check(binned <= cached, 0, "cache corrupt")
        } else {
            check(binned == cached, 0, "cache corrupt")
        }
    }

    /// Checks a thread's own cache (handoff.rs, I9) after a walk that found `stats`: every
    /// block in it a cached block of its bin's size (as in the heap's bins, I8), each bin's
    /// count its length and at most `cap(bin)`, and the heap's bins and this cache together no more
    /// blocks than the walk found cached, so none is in two places. (Only the caller's own
    /// cache: another thread's is written by that thread without the lock.)
    #[cfg_attr(
        not(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only))),
        allow(dead_code)
    )]
    pub(crate) fn check_thread_cache<B: CacheBins>(
        &self,
        bins: &B,
        cap: fn(usize) -> u32,
        stats: &Stats,
    ) -> Result<(), Corruption> {
        let mut binned: u32 = (0..<P::Cache as CacheBins>::BINS)
            .map(|bin| self.cache.count(bin))
            .sum();
        for bin in 0..B::BINS {
            let mut node = bins.head(bin);
            let mut length = 0;
            while node != 0 {
                self.check_cached_at(node, bin)?;
                length += 1;
                binned += 1;
                check(binned <= stats.cached_blocks, node, "thread cache corrupt")?;
                node = self.cache_link(node);
            }
            check(
                length == bins.count(bin) && length <= cap(bin),
                bin as u32,
                "thread cache corrupt",
            )?;
        }
        Ok(())
    }

    /// Checks what can be checked of a block in cache bin `bin` without walking the heap: in
    /// the heap, a used header marked cached, of the bin's size, its link in the heap.
    fn check_cached_at(&self, node: u32, bin: usize) -> Result<(), Corruption> {
        check(self.is_listed(node), node, "cache corrupt")?;
        let word = self.size_word(node);
        let eff = word & !FLAGS;
        check(
            word & (FREE | LAST) == 0
                && eff >= 8
                && self.logical(node) == CACHED
                && node as u64 + HEADER as u64 + eff as u64 <= self.top as u64,
            node,
            "cache corrupt",
        )?;
        check(bin_of(eff) == bin, node, "cache corrupt")?;
        let next = self.cache_link(node);
        check(next == 0 || self.is_listed(next), node, "cache corrupt")
    }

    /// Whether `node` may be a free block's header: aligned and below `top`, so reading it is safe.
    fn is_listed(&self, node: u32) -> bool {
        node & 7 == 0 && node >= self.first && node < self.top
    }
}

impl<S: Source, P: Policy> Heap<S, P> {
    /// Bytes between the bump pointer and the end of the current region, as in
    /// [`Stats::top_room`] (without a walk).
    pub fn top_room(&self) -> u32 {
        self.limit.saturating_sub(self.top)
    }

    #[doc(hidden)]
    /// A digest of the heap's fields and free-list heads (and bitmap): an operation that must
    /// leave the heap as it is leaves it equal. O(classes).
    pub fn shape_digest(&self) -> u64 {
        let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
        let fields = [
            self.first,
            self.region,
            self.top,
            self.limit,
            self.fresh,
            self.spare,
        ];
        for (class, &word) in fields.iter().chain(self.lists.heads().iter()).enumerate() {
            let marked = class >= fields.len() && self.lists.is_marked(class - fields.len());
            digest = (digest ^ ((word as u64) << 1) ^ marked as u64).wrapping_mul(0x100_0000_01b3);
        }
        for bin in 0..<P::Cache as CacheBins>::BINS {
            let word = (self.cache.head(bin) as u64) << 16 | self.cache.count(bin) as u64;
            digest = (digest ^ word).wrapping_mul(0x100_0000_01b3);
        }
        digest
    }

    #[doc(hidden)]
    /// Checks the heap's fields, the head of every list the bitmap marks non-empty, and the
    /// spare, without walking the heap: the bounds (I1), each head's header, footer, class and
    /// links (I3, I4), the first words above the fresh mark (I6). O(non-empty classes): for
    /// checking between operations (fuzzing), where [`Heap::validate`] costs O(heap) (and
    /// checks the bitmap against every list).
    pub fn check_shape(&self) -> Result<(), Corruption> {
        if self.limit == 0 {
            check(
                self.top == 0 && self.spare == 0,
                0,
                "bump pointer without a region",
            )?;
            check(!self.lists.any(), 0, "free list without a region")?;
            return Ok(());
        }
        self.check_region_fields()?;
        check(
            self.top <= self.fresh && self.fresh as u64 <= self.limit as u64 + 8,
            self.fresh,
            "fresh mark",
        )?;
        // The first words above the fresh mark: where a write past the last block lands.
        let end = (self.limit as u64 + HEADER as u64).min(self.fresh as u64 + 64);
        let mut addr = (self.fresh & !3) as u64;
        while addr < end {
            check(
                self.read(addr as u32) == 0,
                addr as u32,
                "memory above the fresh mark was written",
            )?;
            addr += 4;
        }
        // (No block is in class 0: searches start at 1.)
        check(!self.lists.is_marked(0), 0, "class 0 marked")?;
        let mut class = 1;
        while let Some(marked) = self.lists.first_at_or_above(class) {
            class = marked + 1;
            let head = self.lists.head(marked);
            check(
                head != 0 && marked < P::Lists::CLASSES,
                marked as u32,
                "bitmap disagrees with list",
            )?;
            check(head != self.spare, head, "the spare in a free list")?;
            let eff = self.check_free_at(head)?;
            check(
                class_of::<P>(eff) == marked,
                head,
                "free block in the wrong class",
            )?;
            check(self.prev_link(head) == 0, head, "prev link broken")?;
            let next = self.next_link(head);
            check(
                next == 0 || (self.is_listed(next) && self.prev_link(next) == head),
                head,
                "next link does not point back",
            )?;
        }
        if self.spare != 0 {
            let eff = self.check_free_at(self.spare)?;
            check(
                eff <= SPARE_KEEP,
                self.spare,
                "spare larger than SPARE_KEEP",
            )?;
        }
        for bin in 0..<P::Cache as CacheBins>::BINS {
            let head = self.cache.head(bin);
            let count = self.cache.count(bin);
            check(
                (head != 0) == (count != 0) && count <= Self::cap(bin),
                bin as u32,
                "cache corrupt",
            )?;
            if head != 0 {
                self.check_cached_at(head, bin)?;
                check(
                    self.cache.marked() || bin < self.cache.kept_below(),
                    bin as u32,
                    "cache corrupt",
                )?;
            }
        }
        check(self.medium_bitmap_agrees(), 0, "cache corrupt")
    }

    /// Whether the medium bins' bitmap marks exactly the non-empty medium bins (I8).
    fn medium_bitmap_agrees(&self) -> bool {
        let expected = (MEDIUM_FROM..<P::Cache as CacheBins>::BINS)
            .filter(|&bin| self.cache.head(bin) != 0)
            .fold(0u64, |bits, bin| bits | 1 << (bin - MEDIUM_FROM));
        self.cache.medium() == expected
    }

    /// Checks what can be checked of a free block at `header` without the blocks around it: in
    /// the heap, a free header (no `PREV_FREE`: I2), not empty, the footer; its effective size.
    fn check_free_at(&self, header: u32) -> Result<u32, Corruption> {
        check(self.is_listed(header), header, "list link outside the heap")?;
        let word = self.size_word(header);
        let eff = word & !FLAGS;
        check(
            word & FLAGS == FREE
                && eff >= 8
                && header as u64 + HEADER as u64 + eff as u64 <= self.top as u64,
            header,
            "used block in a free list",
        )?;
        check(
            self.footer(header, eff) == eff | FREE,
            header,
            "footer disagrees with header",
        )?;
        Ok(eff)
    }

    #[doc(hidden)]
    /// Checks the blocks from the one at `from` (a block's header the caller knows, such as a
    /// used block's; 0 for the first region's start) up to and including the first block at or
    /// above `to`, or up to the end of the heap, with the checks [`Heap::validate`] makes of
    /// each block: tiling (I1), coalescing (I2), flags and footers (I3), list links (I4); and of
    /// the block before `from` when `from`'s `PREV_FREE` says it is free. The work is the blocks
    /// of the span: between two used blocks there is at most one free block per region (I2), so
    /// a span between two neighbouring used blocks costs O(1). For checking the blocks an
    /// operation touched (fuzzing); the rest of the heap is taken as valid.
    pub fn validate_span(&self, from: u32, to: u32) -> Result<(), Corruption> {
        if self.limit == 0 {
            return Ok(());
        }
        let from = if from == 0 { self.first } else { from };
        check(
            from & 7 == 0 && from >= self.first && from <= self.top,
            from,
            "span outside the heap",
        )?;
        let mut header = from;
        // Whether the flag of the block at `from` is to be checked (against a used block before
        // it): it is
        // when `from` starts a region (nothing before it) or when the flag says the block before
        // is free (then its footer, just below, leads to it and the walk starts there). A clear
        // flag elsewhere is taken as it is: the block before is not in the span.
        let mut known = from == self.first || from == self.region;
        if !known && from != self.top && self.size_word(from) & PREV_FREE != 0 {
            let footer = self.footer_before(from);
            let prev = (footer & !FLAGS)
                .checked_add(HEADER)
                .and_then(|size| from.checked_sub(size));
            check(
                footer & FLAGS == FREE && prev.is_some_and(|prev| prev >= self.first),
                from,
                "footer before a PREV_FREE block",
            )?;
            header = prev.unwrap_or(from);
            known = true;
        }
        // The blocks up to and including the first at or above `to`.
        self.walk(header, known.then_some(false), |header, _| header < to)?;
        Ok(())
    }
}
