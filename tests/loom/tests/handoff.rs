//! src/handoff.rs under loom: the per-thread cache protocol (the same code the threaded builds
//! run) over loom's atomics and cells, every interleaving of two and three threads explored.
//!
//! The model: a memory of a few blocks of 8 payload bytes (headers at 16, 32, ...), each with
//! its header words as loom atomics and its first payload word as a loom cell (loom reports any
//! two accesses to it that no happens-before orders: a block used by two threads at once); the
//! shared heap is a list of free blocks behind a spin lock (the algorithm of src/lock.rs, with
//! loom's yield in the spin). After each run every block must be in exactly one place: live with
//! one thread, in one thread's cache, or free in the heap.
//!
//! `handoff_bug_is_found`: the same model over a `Words` whose claim is a load and a store
//! instead of one compare-and-swap (the bug the protocol exists to prevent): loom must find the
//! interleaving where two threads free the same block and both cache it.
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use wall_e::handoff::{Bins, CacheHeap, Freed, Locked, ThreadCache, Words, CACHED, FREE};

/// Blocks of the model memory (headers at 16, 32, ...).
const BLOCKS: usize = 3;
/// One bin (effective size 8), at most 2 blocks, refilled 2 at a time.
type Cache = ThreadCache<Bins<1>, 2, 2, 2>;

struct Block {
    logical: AtomicU32,
    size_word: AtomicU32,
    link: UnsafeCell<u32>,
    tag: UnsafeCell<u32>,
}

struct Memory {
    blocks: Vec<Block>,
}

// SAFETY: the payload cells are loom's: every access is checked against every other.
unsafe impl Sync for Memory {}

fn index(header: u32) -> usize {
    (header / 16 - 1) as usize
}

impl Memory {
    fn new() -> Self {
        Memory {
            blocks: (0..BLOCKS)
                .map(|_| Block {
                    logical: AtomicU32::new(0),
                    size_word: AtomicU32::new(8 | FREE),
                    link: UnsafeCell::new(0),
                    tag: UnsafeCell::new(0),
                })
                .collect(),
        }
    }
    fn block(&self, header: u32) -> &Block {
        &self.blocks[index(header)]
    }
    /// A user's write into a live block's payload (its first word): loom checks that no other
    /// thread touches it meanwhile.
    fn write_payload(&self, header: u32, value: u32) {
        self.block(header).link.with_mut(|p| unsafe { *p = value });
    }
}

/// The correct platform: wasm's atomics as the protocol asks for them.
struct Atomic(Arc<Memory>);

unsafe impl Words for Atomic {
    fn readable(&self, header: u32) -> bool {
        header >= 16 && header & 15 == 0 && index(header) < BLOCKS
    }
    fn logical(&self, header: u32) -> u32 {
        self.0.block(header).logical.load(Ordering::Acquire)
    }
    fn size_word(&self, header: u32) -> u32 {
        self.0.block(header).size_word.load(Ordering::Relaxed)
    }
    fn claim(&self, header: u32, seen: u32, to: u32) -> bool {
        self.0
            .block(header)
            .logical
            .compare_exchange(seen, to, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
    fn publish(&self, header: u32, logical: u32) {
        // Relaxed, as the module's plain store: the owner's write, ordered for another thread
        // only by the channel that hands it the pointer.
        self.0
            .block(header)
            .logical
            .store(logical, Ordering::Relaxed)
    }
    unsafe fn link(&self, header: u32) -> u32 {
        self.0.block(header).link.with(|p| unsafe { *p })
    }
    unsafe fn set_link(&self, header: u32, next: u32) {
        self.0.block(header).link.with_mut(|p| unsafe { *p = next })
    }
    unsafe fn tag(&self, header: u32) -> u32 {
        self.0.block(header).tag.with(|p| unsafe { *p })
    }
    unsafe fn set_tag(&self, header: u32, tag: u32) {
        self.0.block(header).tag.with_mut(|p| unsafe { *p = tag })
    }
}

/// The injected bug: word 0 claimed by a load and a store, not one compare-and-swap.
struct TornClaim(Atomic);

unsafe impl Words for TornClaim {
    fn readable(&self, header: u32) -> bool {
        self.0.readable(header)
    }
    fn logical(&self, header: u32) -> u32 {
        self.0.logical(header)
    }
    fn size_word(&self, header: u32) -> u32 {
        self.0.size_word(header)
    }
    fn claim(&self, header: u32, seen: u32, to: u32) -> bool {
        if self.0.logical(header) != seen {
            return false;
        }
        self.0.publish(header, to);
        true
    }
    fn publish(&self, header: u32, logical: u32) {
        self.0.publish(header, logical)
    }
    unsafe fn link(&self, header: u32) -> u32 {
        unsafe { self.0.link(header) }
    }
    unsafe fn set_link(&self, header: u32, next: u32) {
        unsafe { self.0.set_link(header, next) }
    }
    unsafe fn tag(&self, header: u32) -> u32 {
        unsafe { self.0.tag(header) }
    }
    unsafe fn set_tag(&self, header: u32, tag: u32) {
        unsafe { self.0.set_tag(header, tag) }
    }
}

/// The shared heap of the model: its free blocks, a stack, and its own cache: a chain of
/// cached blocks linked through their payload cells (as a thread's bin), at most `HEAP_CACHE`.
struct Heap {
    memory: Arc<Memory>,
    free: Vec<u32>,
    cache_head: u32,
    cache_count: u32,
}

/// Room in the model heap's own cache: one flushed chain of 2 fits, a second one does not (the
/// thread then gives its blocks back one by one).
const HEAP_CACHE: u32 = 2;

impl Heap {
    /// The blocks of the heap's own cache, in order.
    fn cached(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut node = self.cache_head;
        while node != 0 {
            out.push(node);
            node = self.memory.block(node).link.with(|p| unsafe { *p });
        }
        assert_eq!(out.len() as u32, self.cache_count, "the heap's cache count");
        out
    }
}

impl CacheHeap for Heap {
    fn take_cached(&mut self, eff: u32) -> u32 {
        assert_eq!(eff, 8);
        let Some(header) = self.free.pop() else {
            return 0;
        };
        let b = self.memory.block(header);
        assert_eq!(b.size_word.load(Ordering::Relaxed), 8 | FREE);
        b.logical.store(CACHED, Ordering::Relaxed);
        b.size_word.store(8, Ordering::Relaxed);
        header
    }
    fn give_back(&mut self, header: u32) {
        let b = self.memory.block(header);
        assert_eq!(
            b.logical.load(Ordering::Relaxed),
            CACHED,
            "a block given back that no cache had claimed"
        );
        assert!(!self.free.contains(&header), "a block given back twice");
        // The heap writes its own links into a free block (word 0, payload).
        b.logical.store(0, Ordering::Relaxed);
        b.link.with_mut(|p| unsafe { *p = 0xF4EE });
        b.size_word.store(8 | FREE, Ordering::Relaxed);
        self.free.push(header);
    }
    unsafe fn take_chain(&mut self, eff: u32, after: u32, max: u32) -> (u32, u32) {
        assert_eq!(eff, 8);
        let head = if after == 0 {
            self.cache_head
        } else {
            self.memory.block(after).link.with(|p| unsafe { *p })
        };
        let (mut node, mut last, mut count) = (head, 0, 0);
        while node != 0 && count < max {
            assert_eq!(
                self.memory.block(node).logical.load(Ordering::Relaxed),
                CACHED
            );
            last = node;
            node = self.memory.block(node).link.with(|p| unsafe { *p });
            count += 1;
        }
        if count == 0 {
            return (0, 0);
        }
        self.memory.block(last).link.with_mut(|p| unsafe { *p = 0 });
        if after == 0 {
            self.cache_head = node;
        } else {
            self.memory
                .block(after)
                .link
                .with_mut(|p| unsafe { *p = node });
        }
        self.cache_count -= count;
        (head, count)
    }
    /// The model's blocks are not laid out in memory: no runs (the refill then takes blocks
    /// one by one, as it does when the heap has no room for a run).
    fn chain_head(&self, eff: u32) -> u32 {
        assert_eq!(eff, 8);
        self.cache_head
    }
    fn take_run(&mut self, _eff: u32, _n: u32, _grow: bool) -> u32 {
        0
    }
    fn give_chain(&mut self, eff: u32, head: u32, last: u32, count: u32, _own: bool) -> bool {
        assert_eq!(eff, 8);
        if self.cache_count + count > HEAP_CACHE {
            return false;
        }
        // The chain as the thread cut it: `count` cached blocks from `head` to `last`.
        let mut node = head;
        for i in 0..count {
            let b = self.memory.block(node);
            assert_eq!(
                b.logical.load(Ordering::Relaxed),
                CACHED,
                "a chain given back with a block no cache had claimed"
            );
            assert!(
                !self.free.contains(&node),
                "a chained block free in the heap"
            );
            if i + 1 == count {
                assert_eq!(node, last, "the chain's last block");
            } else {
                node = b.link.with(|p| unsafe { *p });
            }
        }
        let old = self.cache_head;
        self.memory
            .block(last)
            .link
            .with_mut(|p| unsafe { *p = old });
        self.cache_head = head;
        self.cache_count += count;
        true
    }
}

/// The heap behind the spin lock of src/lock.rs (test and test-and-set; acquire to take it,
/// release to free it), with loom's yield where lock.rs spins.
struct Shared {
    lock: AtomicU32,
    /// False: the injected bug of `chain_without_the_lock_is_found`, the heap handed out
    /// without taking the lock.
    locking: bool,
    heap: UnsafeCell<Heap>,
}

// SAFETY: the heap is reached only under the lock (and loom checks the cell's accesses).
unsafe impl Sync for Shared {}

impl Shared {
    /// Takes the lock: lock.rs's test and test-and-set, with loom's yield where lock.rs spins.
    fn take(&self) {
        while self
            .lock
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.lock.load(Ordering::Relaxed) != 0 {
                thread::yield_now();
            }
        }
    }
    /// Runs `f` on the heap under the lock (the checks' way in).
    fn with<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> R {
        let mut held = self.lock();
        f(&mut held)
    }
}

/// The heap while the lock is held: loom's access to the cell ends before the lock is freed.
struct Held<'a> {
    shared: &'a Shared,
    heap: Option<loom::cell::MutPtr<Heap>>,
}

impl std::ops::Deref for Held<'_> {
    type Target = Heap;
    fn deref(&self) -> &Heap {
        // SAFETY: the lock is held while `Held` lives.
        unsafe { self.heap.as_ref().unwrap().deref() }
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Heap {
        // SAFETY: as above.
        unsafe { self.heap.as_ref().unwrap().deref() }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.heap = None;
        if self.shared.locking {
            self.shared.lock.store(0, Ordering::Release);
        }
    }
}

impl Locked for Shared {
    type Heap = Heap;
    type Guard<'a> = Held<'a>;
    fn lock(&self) -> Held<'_> {
        if self.locking {
            self.take();
        }
        Held {
            shared: self,
            heap: Some(self.heap.get_mut()),
        }
    }
}

fn setup() -> (Arc<Memory>, Arc<Shared>) {
    setup_locking(true)
}

fn setup_locking(locking: bool) -> (Arc<Memory>, Arc<Shared>) {
    let memory = Arc::new(Memory::new());
    let free = (1..=BLOCKS as u32).rev().map(|i| 16 * i).collect();
    let shared = Arc::new(Shared {
        lock: AtomicU32::new(0),
        locking,
        heap: UnsafeCell::new(Heap {
            memory: memory.clone(),
            free,
            cache_head: 0,
            cache_count: 0,
        }),
    });
    (memory, shared)
}

/// Every block in exactly one place: `live` (still held by a thread), a cache, or the heap; and
/// each place agrees with the block's word 0.
fn check_places<W: Words>(words: &W, shared: &Shared, caches: &[&Cache], live: &[u32]) {
    let mut seen = [0u32; BLOCKS];
    for &p in live {
        seen[index(p)] += 1;
        let l = words.logical(p);
        assert!(l != CACHED && l != 0, "a live block marked {l:#x}");
    }
    for cache in caches {
        cache.blocks(words, |b| {
            seen[index(b)] += 1;
            assert_eq!(words.logical(b), CACHED, "a cached block not marked cached");
        });
    }
    shared.with(|heap| {
        for &b in &heap.free {
            seen[index(b)] += 1;
        }
        for b in heap.cached() {
            seen[index(b)] += 1;
            assert_eq!(
                words.logical(b),
                CACHED,
                "a block of the heap's cache not marked cached"
            );
        }
    });
    assert_eq!(seen, [1; BLOCKS], "every block in exactly one place");
}

/// Runs `f` under loom, every interleaving (no bound on preemptions unless
/// LOOM_MAX_PREEMPTIONS sets one); returns how many executions it explored.
fn model(f: impl Fn() + Sync + Send + 'static) -> usize {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = runs.clone();
    let builder = loom::model::Builder::new();
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f()
    });
    let n = runs.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("loom: {n} executions explored");
    n
}

/// Two threads free the same live block at once: exactly one caches it, the other's free is a
/// no-op; nothing is lost or held twice.
fn double_free<W: Words + Send + Sync + 'static>(wrap: fn(Atomic) -> W) -> usize {
    model(move || {
        let (memory, shared) = setup();
        let words = Arc::new(wrap(Atomic(memory.clone())));
        let mut main = Cache::new();
        let p = main.allocate(&*words, &*shared, 5);
        assert_ne!(p, 0);
        memory.write_payload(p, 0xAAAA);
        let frees: Vec<_> = (0..2)
            .map(|_| {
                let (words, shared) = (words.clone(), shared.clone());
                thread::spawn(move || {
                    let mut cache = Cache::new();
                    let freed = cache.deallocate(&*words, &*shared, p);
                    (freed, cache)
                })
            })
            .collect();
        let results: Vec<(Freed, Cache)> = frees.into_iter().map(|t| t.join().unwrap()).collect();
        let wins = results.iter().filter(|r| r.0 == Freed::Cached).count();
        assert_eq!(
            wins, 1,
            "a double free from two threads: exactly one winner"
        );
        assert!(results.iter().all(|r| r.0 != Freed::Heap));
        let caches: Vec<&Cache> = results
            .iter()
            .map(|r| &r.1)
            .chain(std::iter::once(&main))
            .collect();
        check_places(&*words, &shared, &caches, &[]);
    })
}

#[test]
fn double_free_from_two_threads_has_one_winner() {
    assert!(double_free(|a| a) > 1);
}

/// The bug must be found, and for what it is: two threads writing the same block's cache link
/// (loom's causality check), two winners, or a block in two places.
#[test]
fn handoff_bug_is_found() {
    let found = std::panic::catch_unwind(|| double_free(TornClaim))
        .expect_err("loom missed the torn claim");
    let message = found
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| found.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        [
            "Causality violation",
            "exactly one winner",
            "exactly one place"
        ]
        .iter()
        .any(|m| message.contains(m)),
        "loom stopped for another reason: {message}"
    );
}

/// A block allocated on one thread and freed on another, while both also allocate (refill
/// under the lock), use what they get, free, and hand their caches back: nothing is held twice
/// (loom: every payload write ordered after the previous owner's), and at the end every block is
/// back in the heap.
#[test]
fn cross_thread_free_with_refill_flush_and_release() {
    model(|| {
        let (memory, shared) = setup();
        let words = Arc::new(Atomic(memory.clone()));
        let mailbox = Arc::new(AtomicU32::new(0));
        let producer = {
            let (words, shared, memory, mailbox) = (
                words.clone(),
                shared.clone(),
                memory.clone(),
                mailbox.clone(),
            );
            thread::spawn(move || {
                let mut cache = Cache::new();
                let x = cache.allocate(&*words, &*shared, 8);
                assert_ne!(x, 0);
                memory.write_payload(x, 1);
                mailbox.store(x, Ordering::Release);
                let y = cache.allocate(&*words, &*shared, 3);
                if y != 0 {
                    memory.write_payload(y, 2);
                    assert_eq!(cache.deallocate(&*words, &*shared, y), Freed::Cached);
                }
                cache.release(&*words, &*shared);
            })
        };
        let consumer = {
            let (words, shared, memory, mailbox) = (
                words.clone(),
                shared.clone(),
                memory.clone(),
                mailbox.clone(),
            );
            thread::spawn(move || {
                let mut cache = Cache::new();
                let x = loop {
                    let x = mailbox.load(Ordering::Acquire);
                    if x != 0 {
                        break x;
                    }
                    thread::yield_now();
                };
                assert_eq!(Cache::size(&*words, x), Some(8));
                assert_eq!(cache.deallocate(&*words, &*shared, x), Freed::Cached);
                assert_eq!(
                    Cache::size(&*words, x),
                    Some(0),
                    "a cached block has size 0"
                );
                // Reuses it at once (LIFO), writes it, frees it again.
                let z = cache.allocate(&*words, &*shared, 7);
                assert_eq!(z, x);
                memory.write_payload(z, 3);
                assert_eq!(cache.deallocate(&*words, &*shared, z), Freed::Cached);
                cache.release(&*words, &*shared);
            })
        };
        producer.join().unwrap();
        consumer.join().unwrap();
        check_places(&*words, &shared, &[], &[]);
        shared.with(|heap| {
            assert_eq!(
                heap.free.len() + heap.cached().len(),
                BLOCKS,
                "all back in the heap"
            )
        });
    });
}

/// Three threads: two free the same block at once while a third takes blocks from the heap
/// (a refill), uses one, frees it and hands its cache back (under the lock, beside the others'
/// swaps).
#[test]
fn three_threads_double_free_beside_refill_and_flush() {
    model(|| {
        let (memory, shared) = setup();
        let words = Arc::new(Atomic(memory.clone()));
        let mut main = Cache::new();
        let p = main.allocate(&*words, &*shared, 4);
        assert_ne!(p, 0);
        // The main thread's cache keeps the other block of its batch: give it back.
        main.release(&*words, &*shared);
        let mut threads: Vec<_> = (0..2)
            .map(|_| {
                let (words, shared) = (words.clone(), shared.clone());
                thread::spawn(move || {
                    // (It keeps its cache: handed back, `p` could be handed out again to the
                    // third thread, and a free racing with that reuse is a use after free that
                    // no allocator can tell from a free: the contract's limit.)
                    let mut cache = Cache::new();
                    let freed = cache.deallocate(&*words, &*shared, p);
                    (freed == Freed::Cached, cache)
                })
            })
            .collect();
        threads.push({
            let (words, shared, memory) = (words.clone(), shared.clone(), memory.clone());
            thread::spawn(move || {
                let mut cache = Cache::new();
                let a = cache.allocate(&*words, &*shared, 8);
                if a != 0 {
                    memory.write_payload(a, 4);
                    cache.deallocate(&*words, &*shared, a);
                }
                cache.release(&*words, &*shared);
                (false, cache)
            })
        });
        let results: Vec<(bool, Cache)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let wins = results.iter().filter(|r| r.0).count();
        assert_eq!(
            wins, 1,
            "exactly one of the two frees of the same block took it"
        );
        let caches: Vec<&Cache> = results.iter().map(|r| &r.1).collect();
        check_places(&*words, &shared, &caches, &[]);
    });
}

/// A consumer's full bin (blocks a producer allocated) flushes its blocks to the heap's own
/// cache as one chain, and another thread's refill takes that chain whole: the chain's links are written by one thread and read by
/// the other with only the lock between them (loom checks each link cell), and every block ends
/// in exactly one place.
#[test]
fn chain_flushed_by_one_thread_refills_another() {
    assert!(chain(true) > 1);
    // The producer took every block: the taker's refill got one only through the chain.
    assert!(CHAIN_TAKEN.load(std::sync::atomic::Ordering::Relaxed));
}

/// Whether some execution of `chain` had the taker refill from the freer's chain.
static CHAIN_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The chain's hand-over with the lock taken out (the heap handed to both threads at once) must
/// be found: loom's causality check on the heap or on a link cell.
#[test]
fn chain_without_the_lock_is_found() {
    let found =
        std::panic::catch_unwind(|| chain(false)).expect_err("loom missed the unlocked chain");
    let message = found
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| found.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("Causality violation") || message.contains("exactly one place"),
        "loom stopped for another reason: {message}"
    );
}

fn chain(locking: bool) -> usize {
    model(move || {
        let (memory, shared) = setup_locking(locking);
        let words = Arc::new(Atomic(memory.clone()));
        // A producer (this thread, before the others start) allocates every block; the freer
        // frees them (a consumer: it frees more than it allocated, so its flush hands its
        // blocks over as a chain, handoff.rs).
        let mut producer = Cache::new();
        let a = producer.allocate(&*words, &*shared, 8);
        let b = producer.allocate(&*words, &*shared, 8);
        let c = producer.allocate(&*words, &*shared, 8);
        for &p in &[a, b, c] {
            if p != 0 {
                memory.write_payload(p, 5);
            }
        }
        let freer = {
            let (words, shared) = (words.clone(), shared.clone());
            thread::spawn(move || {
                let mut cache = Cache::new();
                // The third free finds the bin full (2): the bin's two go as a chain.
                for &p in &[a, b, c] {
                    if p != 0 {
                        assert_eq!(cache.deallocate(&*words, &*shared, p), Freed::Cached);
                    }
                }
                cache
            })
        };
        let taker = {
            let (words, shared, memory) = (words.clone(), shared.clone(), memory.clone());
            thread::spawn(move || {
                let mut cache = Cache::new();
                let x = cache.allocate(&*words, &*shared, 6);
                if x != 0 {
                    memory.write_payload(x, 6);
                }
                (x, cache)
            })
        };
        let freer = freer.join().unwrap();
        let (x, taker) = taker.join().unwrap();
        if x != 0 {
            CHAIN_TAKEN.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let live: Vec<u32> = [x].into_iter().filter(|&x| x != 0).collect();
        check_places(&*words, &shared, &[&producer, &freer, &taker], &live);
    })
}

/// A thread's flush of blocks it allocated itself (not a consumer's surplus) tags the chain as
/// its own: another thread's refill leaves it (it would share the flusher's lines), the
/// flusher's next refill takes it back. The second thread runs beside the flusher's refill.
#[test]
fn own_chain_goes_back_to_its_thread_only() {
    model(|| {
        let (memory, shared) = setup();
        let words = Arc::new(Atomic(memory.clone()));
        // Every block allocated and freed by this thread: the third free flushes two as a chain.
        let mut owner = Cache::new();
        let blocks: Vec<u32> = (0..3)
            .map(|_| owner.allocate(&*words, &*shared, 8))
            .collect();
        assert!(blocks.iter().all(|&p| p != 0));
        for &p in &blocks {
            assert_eq!(owner.deallocate(&*words, &*shared, p), Freed::Cached);
        }
        // Its bin holds one; the chain of two is in the heap's cache.
        let other = {
            let (words, shared) = (words.clone(), shared.clone());
            thread::spawn(move || {
                let mut cache = Cache::new();
                let x = cache.allocate(&*words, &*shared, 8);
                (x, cache)
            })
        };
        let a = owner.allocate(&*words, &*shared, 8); // from its bin
        let b = owner.allocate(&*words, &*shared, 8); // its chain back, under the lock
        let (x, other) = other.join().unwrap();
        assert_eq!(
            x, 0,
            "another thread took a chain tagged as the flusher's own"
        );
        assert!(a != 0 && b != 0);
        check_places(&*words, &shared, &[&owner, &other], &[a, b]);
    });
}
