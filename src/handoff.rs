//! The per-thread cache hand-off: how small blocks move between a thread's own cache and the
//! shared heap when several threads share one heap (issue 16; docs/threads.md, "Per-thread
//! caches"). Written over a small abstraction of the platform ([`Words`] for a block's header
//! words, [`Locked`] for the heap behind its lock), so that the same code runs on wasm (atomic
//! instructions on the shared memory, the spin lock of lock.rs) and under the `loom` model checker
//! on the host (tests/loom: every interleaving of two and three threads).
//!
//! # The protocol
//! - **A thread owns a cache** ([`ThreadCache`]): bins of freed small blocks by effective size,
//!   LIFO, bounded (`CAP` blocks a bin), their storage cache.rs's [`Bins`], the heap's own
//!   cache unit (issue 21) — but not its rule that a block whose left neighbour is free goes to
//!   the heap to merge: here that cost a turn of the lock for 3.5% of churn's frees
//!   ([`ThreadCache::keep`]). Nobody else reads or writes it, so its pushes and pops
//!   are plain loads and stores. Blocks are not owned by the thread that allocated them (glibc's
//!   tcache, not mimalloc's owner lists): a block freed by another thread goes into *that*
//!   thread's cache (and, in its flush, back towards a producer: below).
//! - **A block's header word 0 is its claim** (I7 in heap.rs): its logical size `1..=eff` while
//!   it is live, [`CACHED`] while it sits in a cache. `deallocate` from any thread checks the
//!   header (not free, not a region end, small, a logical size that fits) and then moves word 0
//!   from that size to `CACHED` with **one compare-and-swap**: of two threads freeing the same
//!   block at once exactly one wins and caches it; the other sees the swap fail (or `CACHED`)
//!   and does nothing, as for any double free.
//! - **The owner publishes.** A block popped from a cache is the popping thread's alone: it
//!   writes the new logical size into word 0 with a release store, after which the block is live
//!   and claimable again.
//! - **Batches under the lock.** A full bin gives half of its blocks back to the shared heap, an
//!   empty bin takes up to `BATCH` blocks, each in one turn of the lock ([`Locked::lock`]); the
//!   heap marks the blocks it hands to a cache `CACHED` before they leave the lock. An empty bin
//!   first takes whole a chain a flush left whose tag lets it ([`CacheHeap::take_chain`],
//!   below), else **runs** ([`CacheHeap::take_run`]): blocks carved end to end from a 64-byte
//!   line boundary over whole lines, so that no other thread's block shares a line with them —
//!   runs of the fewest blocks that fill whole lines from the free lists, else one of `BATCH`
//!   at the top — and only when the heap has room for neither, blocks one by one.
//! - **A flush's chain is tagged, by the bin's balance** (blocks given back less blocks taken).
//!   A full bin's half goes, as the chain it already is, into the heap's own cache (I8) when
//!   that has room ([`CacheHeap::give_chain`]; else its blocks merge), its head's second
//!   payload word tagged ([`Words::set_tag`]). A thread that freed more blocks of a size than it
//!   allocated (a consumer: the blocks are other threads') tags it [`ANY_THREAD`]: the next
//!   producer's refill takes it, so a block freed remotely goes back to a producer in a batch,
//!   crossing the lock with a few loads and stores, its header never written under the lock.
//!   Any other thread (churn: it gives back blocks it allocated itself) tags it with its
//!   cache's address, and only its own refill takes it back: handed to another thread, those
//!   blocks would lie on lines the flusher's other blocks share. A wrong tag (user data, when
//!   the heap's own cache popped a chain's head) only sends blocks to another thread. Large
//!   blocks, growth and everything else stay under the lock.
//! - **A thread that ends** gives its whole cache back ([`ThreadCache::release`]). One that
//!   never does (a terminated worker) leaves at most `BINS × CAP` blocks behind, for good: no
//!   other thread can tell that it is gone.
//!
//! Word 1 (effective size and flags) of a live or cached block changes only under the lock (a
//! neighbour's merge sets its `PREV_FREE` flag); a thread outside the lock only reads it, and
//! writes only word 0 (by the swap, or as the block's owner) and the payload of its own blocks.

/// Word 0 of a cached block's header: above every effective size, so no check takes it for a
/// live block (cache.rs's, the same for the heap's cache and a thread's).
pub const CACHED: u32 = crate::cache::CACHED;
/// The bins of a thread's cache are the heap's cache unit (cache.rs): the same storage.
pub use crate::cache::{Bins, CacheBins};

use crate::block::{FLAGS, HEADER, LAST};
/// Word 1's flag of a free block (block.rs), for a model's heap.
pub const FREE: u32 = crate::block::FREE;

/// The header words of the blocks of a shared memory, as the protocol reads and writes them.
///
/// # Safety
/// An implementation makes [`Words::logical`] and [`Words::claim`] atomic on word 0 (acquire and
/// acquire-release), [`Words::publish`] a single store of the aligned word (relaxed: only the
/// owner writes it, and another thread learns the pointer through a channel that orders it),
/// [`Words::size_word`] an atomic read of word 1,
/// [`Words::link`]/[`Words::set_link`] plain accesses to the first payload word, and
/// [`Words::tag`]/[`Words::set_tag`] to the second.
pub unsafe trait Words {
    /// Whether `header` may be read at all (inside the heap's memory): a pointer from a caller is
    /// checked with it before any other call.
    fn readable(&self, header: u32) -> bool;
    /// Word 0: the logical size of a live block, [`CACHED`], or anything (free memory).
    fn logical(&self, header: u32) -> u32;
    /// Word 1: the effective size and flags.
    fn size_word(&self, header: u32) -> u32;
    /// Compare-and-swap of word 0 from `seen` to `to`; whether it was `seen`.
    fn claim(&self, header: u32, seen: u32, to: u32) -> bool;
    /// Word 0 := `logical`, by the block's only owner.
    fn publish(&self, header: u32, logical: u32);
    /// The next block in a cache bin (the first payload word of a cached block).
    ///
    /// # Safety
    /// The caller's thread owns the cached block.
    unsafe fn link(&self, header: u32) -> u32;
    /// Sets the next block of a cached block.
    ///
    /// # Safety
    /// As for [`Words::link`].
    unsafe fn set_link(&self, header: u32, next: u32);
    /// The tag of a chain in the heap's cache: the second payload word of its head (every
    /// block has 8 payload bytes at least), a plain access.
    ///
    /// # Safety
    /// The caller owns the cached block, or holds the lock while it is in the heap's cache.
    unsafe fn tag(&self, header: u32) -> u32;
    /// Sets the tag of a chain's head.
    ///
    /// # Safety
    /// As for [`Words::tag`].
    unsafe fn set_tag(&self, header: u32, tag: u32);
}

/// The tag of a chain any thread's refill takes (a consumer's surplus); a thread's own chains
/// carry its cache's address (aligned: never this).
pub const ANY_THREAD: u32 = 1;

/// The shared heap, as a cache needs it: called only under the lock.
pub trait CacheHeap {
    /// A block of effective size exactly `eff` for a cache, its word 0 already [`CACHED`]; 0 if
    /// there is none (and memory cannot grow).
    fn take_cached(&mut self, eff: u32) -> u32;
    /// Takes back a block that a cache held (word 0 [`CACHED`]): merged, listed, or back to the
    /// bump pointer.
    fn give_back(&mut self, header: u32);
    /// Up to `max` blocks of effective size `eff` at once from the heap's own cache (blocks a
    /// thread's flush left there, [`CacheHeap::give_chain`]): the head of a chain linked
    /// through the blocks' payloads ([`Words::link`]), its last link 0, word 0 [`CACHED`]
    /// already, and how many; `(0, 0)` for none. They are the blocks after `after` in the
    /// bin's list, or its first ones when `after` is 0.
    ///
    /// # Safety
    /// `after` is 0 or a block of the list of `eff`'s bin, found by following it from its head
    /// ([`CacheHeap::chain_head`], [`Words::link`]) in this turn of the lock.
    unsafe fn take_chain(&mut self, eff: u32, after: u32, max: u32) -> (u32, u32);
    /// Takes a thread's chain of `count` cached blocks of effective size `eff`, `head` to
    /// `last` (linked through their payloads, word 0 [`CACHED`]), into the heap's own cache as
    /// they are, in O(1): no block merged or split, no header written; false (nothing done)
    /// when that cache has no room, and the caller gives them back one by one. `own`: the
    /// chain's thread allocated its blocks itself (tagged as its own by `ThreadCache::flush`),
    /// which leaves the heap more room for it than for a consumer's.
    fn give_chain(&mut self, eff: u32, head: u32, last: u32, count: u32, own: bool) -> bool;
    /// A **run** for a thread's refill: `n` blocks of effective size `eff` laid end to end from
    /// a 64-byte line boundary (`n × (eff + 8)` a multiple of 64), carved as one piece from a
    /// free block, or when `grow` from the top (growing memory if needed), so that no other
    /// thread's block shares their lines; each a cached block (word 0 [`CACHED`]). The first
    /// one's header, or 0 (then the caller takes blocks one by one, [`CacheHeap::take_cached`]).
    fn take_run(&mut self, eff: u32, n: u32, grow: bool) -> u32;
    /// The head of the heap cache's bin for `eff` when it is a block of that size (the head
    /// of the chain [`CacheHeap::take_chain`] would take), else 0: for its tag.
    fn chain_head(&self, eff: u32) -> u32;
}

/// The shared heap behind its lock.
pub trait Locked {
    /// The heap.
    type Heap: CacheHeap;
    /// The heap while the lock is held; dropping it frees the lock.
    type Guard<'a>: core::ops::DerefMut<Target = Self::Heap>
    where
        Self: 'a;
    /// Takes the lock. (A guard, not a closure: a closure's captured references would need a
    /// stack frame, and the threaded module has no stack, every instance would share one.)
    fn lock(&self) -> Self::Guard<'_>;
}

/// What [`ThreadCache::deallocate`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freed {
    /// The block is in this thread's cache.
    Cached,
    /// Not a live small block, or another thread freed it first: nothing done.
    Ignored,
    /// Not for a cache (a large block, a free one, a region's end): the heap decides, under the
    /// lock.
    Heap,
}

/// What [`ThreadCache::claim`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The block is the caller's: its word 0 is now [`CACHED`]; `word` is its word 1 (effective
    /// size and flags) and `logical` the size it had.
    Claimed {
        /// Word 1 as the claim read it.
        word: u32,
        /// The logical size the block had (to publish again if the caller gives up).
        logical: u32,
    },
    /// Not a live small block, or another thread claimed it first: nothing done.
    Ignored,
    /// Not for a cache (a large block, a free one, a region's end): the heap decides, under the
    /// lock.
    Heap,
}

/// One thread's cache: the bins `B` (effective sizes `8, 16, …, 8 × B::BINS`), each a LIFO list
/// of at most `CAP` blocks threaded through their payloads (`SMALL_CAP` for the bins of
/// effective sizes up to 64 bytes, [`ThreadCache::bin_cap`]); `BATCH` blocks are taken at a time.
pub struct ThreadCache<B: CacheBins, const CAP: u32, const BATCH: u32, const SMALL_CAP: u32> {
    bins: B,
    /// Per bin: blocks this thread gave back to the heap less blocks it took (saturating).
    /// Positive only for a thread that freed more blocks of that size than it allocated (a
    /// consumer: blocks of other threads): only then does a flush hand its chain over
    /// ([`ThreadCache::flush`]). Any value is safe: it decides where blocks go, not whether.
    balance: [i16; MAX_BINS],
    /// Per bin: how many blocks it holds beyond `CAP` before a free flushes it. For a bin to 64
    /// bytes whose balance is not positive, the most blocks of its size the thread has taken
    /// from the heap (net: the deepest its balance went) up to `SMALL_CAP`, less `CAP`: its own
    /// working set stays with it; else 0 ([`ThreadCache::keep`]). Set with the balance, off
    /// the fast path, which then reads one number (0 in a new cache: no data segment for the
    /// module's pool). (`SMALL_CAP - CAP` whenever the balance was below 0: a consumer that had
    /// allocated a little in its warm-up kept up to 1,024 blocks a size, producer/consumer on
    /// 2 workers grew the heap by 6 pages, not 3.)
    extra: [u16; MAX_BINS],
}

/// The most bins a thread's cache has (the size of its balance array).
const MAX_BINS: usize = 32;

/// How many chains of the heap cache's bin a refill looks at for one it may take.
const SEARCH: u32 = 4;

/// A thread's tag is its cache's address: caches sit on 64-byte lines of their own
/// (per_thread.rs's `Slot`), so two threads' tags agree modulo 64.
const TAG_ALIGN: u32 = 64;

impl<B: CacheBins, const CAP: u32, const BATCH: u32, const SMALL_CAP: u32> Default
    for ThreadCache<B, CAP, BATCH, SMALL_CAP>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<B: CacheBins, const CAP: u32, const BATCH: u32, const SMALL_CAP: u32>
    ThreadCache<B, CAP, BATCH, SMALL_CAP>
{
    /// The largest effective size cached.
    pub const MAX_EFF: u32 = 8 * B::BINS as u32;
    /// The largest effective size of a block in this cache, which a free or a resize claims:
    /// the class of a request of [`Self::MAX_EFF`] bytes (cache.rs: 264 and 272 for 256 bytes,
    /// the bin of requests of 249–256 bytes). Was `MAX_EFF`: the blocks of 264 bytes that an
    /// allocation took from that bin went to the shared heap, under the lock, when freed, and
    /// the bin was refilled every 32 of them (3% of LIFO's and FIFO's frees; LIFO on 2 workers
    /// 18.0–22.3 line transfers per 1,000 calls; docs/threads.md, "Uncontended").
    pub const CLAIM_MAX: u32 = {
        let below = Self::MAX_EFF - 1;
        let fine = crate::cache::FINE_MAX + 8;
        let least = if below < fine { below } else { fine };
        // `cache::bin_for`, in a constant.
        crate::cache::bin_max(((below + least) >> 4) as usize)
    };
    /// The bins of effective sizes up to 64 bytes (the first 8) hold up to `SMALL_CAP` blocks.
    const SMALL_BINS: usize = 8;

    /// The most blocks bin `bin` holds: `SMALL_CAP` for effective sizes up to 64 bytes, else
    /// `CAP`.
    #[inline(always)]
    pub const fn bin_cap(bin: usize) -> u32 {
        if bin < Self::SMALL_BINS {
            SMALL_CAP
        } else {
            CAP
        }
    }
    /// A flush's chain: half a bin and one, at most 33 blocks (a chain is taken whole under the
    /// lock, which follows its links; and a refill that skips another thread's chain skips
    /// this many blocks).
    pub const CHAIN: u32 = {
        let least = if CAP < SMALL_CAP { CAP } else { SMALL_CAP };
        if least / 2 + 1 < 33 {
            least / 2 + 1
        } else {
            33
        }
    };
    /// The most bytes a cache holds, headers included: what a thread that ends without
    /// [`ThreadCache::release`] leaves behind. Counted over the bins a request of up to
    /// [`Self::MAX_EFF`] bytes uses, each full of its largest blocks (cache.rs's classes: two
    /// effective sizes a bin above 64 bytes). (It counted every bin of `B` as 8 bytes wide:
    /// 573,440 bytes for 128 a bin, where 351,232 was the most such a cache held.)
    pub const BOUND: u64 = {
        let mut bytes = 0u64;
        let mut bin = 0;
        while bin < B::BINS {
            if crate::cache::bin_min(bin) <= Self::CLAIM_MAX {
                bytes +=
                    (crate::cache::bin_max(bin) as u64 + HEADER as u64) * Self::bin_cap(bin) as u64;
            }
            bin += 1;
        }
        bytes
    };

    /// The balance array covers every bin.
    const FITS: () =
        assert!(B::BINS <= MAX_BINS && SMALL_CAP.saturating_sub(CAP) <= u16::MAX as u32);

    /// An empty cache.
    #[allow(clippy::let_unit_value)]
    pub const fn new() -> Self {
        let () = Self::FITS;
        ThreadCache {
            bins: B::EMPTY,
            balance: [0; MAX_BINS],
            extra: [0; MAX_BINS],
        }
    }

    /// This cache's tag for its own chains: its address (aligned, so never [`ANY_THREAD`]).
    #[inline(always)]
    fn tag(&self) -> u32 {
        self as *const Self as usize as u32
    }

    /// Adds `delta` to `bin`'s balance, and sets the bin's `extra` room from it; whether it
    /// is then positive (a consumer's surplus).
    #[inline(always)]
    fn account(&mut self, bin: usize, delta: i16) -> bool {
        match (self.balance.get_mut(bin), self.extra.get_mut(bin)) {
            (Some(b), Some(extra)) => {
                *b = b.saturating_add(delta);
                if *b > 0 || bin >= Self::SMALL_BINS {
                    *extra = 0;
                } else {
                    // As many as the thread has taken from the heap (net) at most, a high-water
                    // mark (a flush does not lower it: else each flush lowered the room under
                    // the bin's count and the next free flushed again).
                    let taken = (b.unsigned_abs() as u32).min(SMALL_CAP);
                    *extra = (*extra).max(taken.saturating_sub(CAP) as u16);
                }
                *b > 0
            }
            _ => false,
        }
    }

    /// The bins, for a heap walk of the caller's own cache (walk.rs).
    pub fn bins(&self) -> &B {
        &self.bins
    }

    /// The blocks of every bin, for a heap walk (the caller's own cache).
    pub fn blocks<W: Words>(&self, words: &W, mut each: impl FnMut(u32)) {
        for bin in 0..B::BINS {
            let mut node = self.bins.head(bin);
            while node != 0 {
                each(node);
                // SAFETY: the cache's blocks are its thread's, the caller's.
                node = unsafe { words.link(node) };
            }
        }
    }

    #[inline(always)]
    fn push<W: Words>(&mut self, words: &W, bin: usize, header: u32) {
        // SAFETY: the block was claimed by this thread (or handed to its cache under the lock).
        unsafe { words.set_link(header, self.bins.head(bin)) };
        self.bins.set(bin, header, self.bins.count(bin) + 1);
        // (No `mark`: it tells the heap's own cache when to flush before growing; a thread's
        // cache is never flushed that way, and the store cost every free.)
    }

    #[inline(always)]
    fn pop<W: Words>(&mut self, words: &W, bin: usize) -> u32 {
        let head = self.bins.head(bin);
        if head != 0 {
            // SAFETY: a block of this cache: this thread's.
            let next = unsafe { words.link(head) };
            self.bins.set(bin, next, self.bins.count(bin) - 1);
        }
        head
    }

    /// **Allocation:** a block for `size` bytes from this thread's cache, refilled from the heap
    /// under the lock when its bin is empty; its header, 0 when `size` is not cached (0, or above
    /// [`Self::MAX_EFF`]) or the heap has nothing.
    #[inline(always)]
    pub fn allocate<W: Words, S: Locked>(&mut self, words: &W, shared: &S, size: u32) -> u32 {
        // `below >= MAX_EFF` also refuses 0 (it wraps): the bin is then provably in range.
        let below = size.wrapping_sub(1);
        if below >= Self::MAX_EFF {
            return 0;
        }
        // The bins' classes are the heap cache's (cache.rs).
        let bin = crate::cache::bin_for(below);
        let mut header = self.pop(words, bin);
        if header == 0 {
            header = self.refill(words, shared, bin);
            if header == 0 {
                return 0;
            }
        }
        // The block is this thread's alone (word 0 CACHED, out of every list): live from here.
        words.publish(header, size);
        header
    }

    /// An empty bin's refill, in one turn of the lock: a block for the caller (word 0 still
    /// [`CACHED`]: the caller publishes it), the rest pushed on the bin as they come (no array:
    /// the threaded module has no stack); 0 when the heap has nothing. (Inlined: out of line,
    /// the threaded module was 575 bytes larger.)
    #[cold]
    #[inline(never)]
    fn refill<W: Words, S: Locked>(&mut self, words: &W, shared: &S, bin: usize) -> u32 {
        let eff = crate::cache::bin_min(bin);
        // The first block taken is returned (the lowest address, as the heap alone would
        // give), the rest cached.
        let mut heap = shared.lock();
        // First a chain a flush left in the heap's cache, whole (a flush gives half a bin and
        // one: a producer fed by a consumer's flushes then takes the lock once per half bin,
        // not once per `BATCH`): a consumer's (any thread's), or this thread's own (blocks it
        // allocated, on lines of its runs: another thread taking them would share those lines).
        // Not only the bin's first chain: with two threads flushing into one bin their chains
        // alternate there, and a refill that looked at the first one only carved new runs while
        // its own chains lay one below (churn on 2 workers: 2 x 5,000 blocks freed and taken
        // again every run went through merges and new runs, on lines the other core had
        // written; docs/threads.md, "Churn that scales"). So up to `SEARCH` chains are looked
        // at, skipping `CHAIN` blocks each: a chain's length when a flush gave it, and when a
        // pop of the heap's own took from it, a wrong guess that costs a wrong tag only.
        let mut after = 0;
        let mut head = heap.chain_head(eff);
        let mut mine = false;
        for _ in 0..SEARCH {
            if head == 0 {
                break;
            }
            // SAFETY: a block in the heap's cache, read under the lock.
            let tag = unsafe { words.tag(head) };
            if tag == ANY_THREAD || tag == self.tag() {
                mine = true;
                break;
            }
            // Past another thread's chain only (a cache's address, aligned as this one's): a
            // head that is not a chain's (a block the heap's own frees cached, its tag word user
            // data) ends the search, so that a refill does not follow the links of blocks another
            // thread has just freed (their lines: LIFO on 2 workers scaled x1.25-1.33 with the
            // search past any head, x1.53-1.64 without it).
            if tag == 0 || tag % TAG_ALIGN != self.tag() % TAG_ALIGN {
                break;
            }
            let mut last = head;
            for _ in 1..Self::CHAIN {
                // SAFETY: as above: the heap cache's list, followed under the lock.
                let next = unsafe { words.link(last) };
                if next == 0 {
                    break;
                }
                last = next;
            }
            after = last;
            // SAFETY: as above.
            head = unsafe { words.link(last) };
        }
        let (chain, count) = if mine {
            // SAFETY: `after` is 0 or a block of the bin's list, followed from its head in this
            // turn of the lock.
            unsafe { heap.take_chain(eff, after, Self::CHAIN) }
        } else {
            (0, 0)
        };
        if count != 0 {
            drop(heap);
            self.account(bin, -(count as i16));
            // SAFETY: the chain is this thread's since the lock handed it over.
            let next = unsafe { words.link(chain) };
            self.bins.set(bin, next, count - 1);
            return chain;
        }
        // Else runs: blocks end to end on lines of their own (no other thread's block on them:
        // two threads' blocks side by side on a line pull it between their cores on every
        // write). From the free lists a run of `BATCH` if one free block holds it, else runs of
        // the fewest blocks that fill whole lines (they fit the holes merges leave there); else
        // one run of `BATCH` at the top, growing memory if needed; only when that fails, blocks
        // one by one.
        let step = eff + HEADER;
        let few = 64 >> step.trailing_zeros().min(6);
        let mut taken = 0;
        let mut header = 0;
        let mut n = BATCH;
        let mut run = heap.take_run(eff, BATCH, false);
        if run == 0 {
            n = few;
            run = heap.take_run(eff, few, false);
        }
        if run == 0 {
            n = BATCH;
            run = heap.take_run(eff, BATCH, true);
        }
        while run != 0 {
            taken += n;
            if header == 0 {
                header = run;
                run += step;
                n -= 1;
            }
            for _ in 0..n {
                self.push(words, bin, run);
                run += step;
            }
            if taken >= BATCH {
                break;
            }
            n = few;
            run = heap.take_run(eff, few, false);
        }
        if header != 0 {
            self.account(bin, -(taken as i16));
        } else {
            header = heap.take_cached(eff);
            if header == 0 {
                return 0;
            }
            let mut taken = 1;
            for _ in 1..BATCH {
                let b = heap.take_cached(eff);
                if b == 0 {
                    break;
                }
                self.push(words, bin, b);
                taken += 1;
            }
            self.account(bin, -taken);
        }
        drop(heap);
        header
    }

    /// **Free, from any thread:** claims the block at `header` with one compare-and-swap of its
    /// word 0 ([`Self::claim`]) and caches it ([`Self::keep`]).
    #[inline(always)]
    pub fn deallocate<W: Words, S: Locked>(&mut self, words: &W, shared: &S, header: u32) -> Freed {
        match Self::claim(words, header) {
            // SAFETY: claimed just now, with this word 1.
            Claim::Claimed { word, .. } => unsafe { self.keep(words, shared, header, word) },
            Claim::Ignored => Freed::Ignored,
            Claim::Heap => Freed::Heap,
        }
    }

    /// **The claim, from any thread** (for a free, or a resize that takes the block over):
    /// checks the header lock-free and moves word 0 from the block's logical size to [`CACHED`]
    /// with one compare-and-swap. Of two threads claiming one block at once, exactly one gets
    /// [`Claim::Claimed`]: the block is then its alone, out of reach of every other thread's
    /// free, until it publishes a logical size again ([`Words::publish`]) or gives it away.
    #[inline(always)]
    pub fn claim<W: Words>(words: &W, header: u32) -> Claim {
        if !words.readable(header) {
            return Claim::Ignored;
        }
        let word = words.size_word(header);
        let eff = word & !FLAGS;
        // As in `allocate`: an empty block wraps above `MAX_EFF`.
        let below = eff.wrapping_sub(1);
        if word & (FREE | LAST) != 0 || below >= Self::CLAIM_MAX {
            return Claim::Heap;
        }
        let logical = words.logical(header);
        // `CACHED` (cached already) is above every `eff`; 0 is never a live block's size.
        if logical == 0 || logical > eff || !words.claim(header, logical, CACHED) {
            return Claim::Ignored;
        }
        Claim::Claimed { word, logical }
    }

    /// Caches a block this thread claimed ([`Self::claim`]; `word` its word 1, as the claim
    /// read it); a full bin first gives half its blocks back under the lock.
    ///
    /// # Safety
    /// `header` is a block this thread claimed with [`Self::claim`], which returned `word`, and
    /// still holds (not published again, not given away).
    #[inline(always)]
    pub unsafe fn keep<W: Words, S: Locked>(
        &mut self,
        words: &W,
        shared: &S,
        header: u32,
        word: u32,
    ) -> Freed {
        // Not cache.rs's rule (a block whose left neighbour is free goes to the heap to merge):
        // here that was a turn of the lock for 3.5% of churn's frees — a run's first block has
        // the run's gap in front of it, and once it merged, the next one had free memory in
        // front — with the heap's state and the merged memory then pulled between the cores
        // (docs/threads.md, "Churn that scales"). I8 allows a cached block whose left
        // neighbour is free; it merges when it leaves the cache.
        debug_assert!((word & !FLAGS).wrapping_sub(1) < Self::CLAIM_MAX);
        let bin = crate::cache::bin_of(word & !FLAGS);
        // A small bin holds more than `CAP` blocks (up to `SMALL_CAP`) only as many as the
        // thread has taken from the heap (`extra`: its own working set, which then stays with
        // it); a thread that frees more than it allocates (a consumer: other threads' blocks)
        // gives them back from `CAP` on, as before (with 1,024 for it too, producer/consumer on
        // 2 workers grew the heap by 8 pages, not 3).
        let extra = self.extra.get(bin).map_or(0, |&e| e as u32);
        if self.bins.count(bin) >= CAP + extra {
            self.flush(words, shared, bin, Self::CHAIN, true);
        }
        self.push(words, bin, header);
        Freed::Cached
    }

    /// The logical size of a live small block, from any thread: 0 for a cached one or anything
    /// that is not a live block; `None` for a block the heap must answer for (a large one).
    #[inline(always)]
    pub fn size<W: Words>(words: &W, header: u32) -> Option<u32> {
        if !words.readable(header) {
            return Some(0);
        }
        let word = words.size_word(header);
        let eff = word & !FLAGS;
        if word & (FREE | LAST) != 0 || eff.wrapping_sub(1) >= Self::CLAIM_MAX {
            return None;
        }
        let logical = words.logical(header);
        Some(if logical <= eff { logical } else { 0 })
    }

    /// Gives `n` blocks of `bin` (or all it has) back to the heap in one turn of the lock:
    /// into the heap's own cache as one chain when `chain` and it has room (the lock held
    /// for O(1): the blocks are cut off the bin before it is taken), else one by one (merged).
    #[cold]
    #[inline(never)]
    fn flush<W: Words, S: Locked>(
        &mut self,
        words: &W,
        shared: &S,
        bin: usize,
        n: u32,
        chain: bool,
    ) {
        let head = self.bins.head(bin);
        if head == 0 {
            return;
        }
        // The first `n` blocks, cut off outside the lock (they are this thread's).
        let mut last = head;
        let mut count = 1;
        // SAFETY (the links): the bin's blocks are this thread's.
        let mut rest = unsafe { words.link(last) };
        while count < n && rest != 0 {
            last = rest;
            count += 1;
            rest = unsafe { words.link(last) };
        }
        self.bins.set(bin, rest, self.bins.count(bin) - count);
        let eff = crate::cache::bin_min(bin);
        // A consumer's surplus goes over as a chain any thread takes (a producer's, whose blocks
        // they mostly are: remote frees back to their owner's side in a batch). The chain of a
        // thread that gives back blocks it allocated itself (churn) is tagged as its own: only
        // its refill takes it back (handed to another thread, its blocks would sit on lines the
        // flusher's other blocks share, the runs above).
        let surplus = self.account(bin, count as i16);
        let tag = if surplus { ANY_THREAD } else { self.tag() };
        // SAFETY: the chain is this thread's until the lock hands it over.
        unsafe { words.set_tag(head, tag) };
        let mut heap = shared.lock();
        if chain && heap.give_chain(eff, head, last, count, !surplus) {
            return;
        }
        let mut node = head;
        for _ in 0..count {
            // (Read before the block is given back: the heap writes its own links there.)
            // SAFETY: the chain is still this thread's.
            let next = unsafe { words.link(node) };
            heap.give_back(node);
            node = next;
        }
    }

    /// **A thread that ends:** every cached block back to the heap (a turn of the lock per batch
    /// of up to 64).
    #[inline(always)]
    pub fn release<W: Words, S: Locked>(&mut self, words: &W, shared: &S) {
        for bin in 0..B::BINS {
            while self.bins.count(bin) != 0 {
                self.flush(words, shared, bin, 64, false);
            }
        }
        // The next owner of this cache (or this thread, after running out of memory) starts
        // with no history.
        self.balance = [0; MAX_BINS];
        self.extra = [0; MAX_BINS];
    }
}
