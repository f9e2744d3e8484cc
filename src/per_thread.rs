//! Per-thread caches on wasm with atomics (issue 16; docs/threads.md, "Per-thread caches"): what
//! the threaded module (exports.rs) and `WallE` (wasm.rs) share around the hand-off protocol of
//! handoff.rs — the instance's cache slot, the pool of caches, a block's header words in the
//! shared linear memory, and the heap behind its lock.
//!
//! **The slot is a wasm global of the instance.** In wasm every thread is an instance of the
//! module over the shared memory (a worker, a wasmtime or wasi thread), and a global that is
//! neither imported nor exported is the instance's own, 0 in each new one: a thread-local that
//! needs no shadow stack (the module has none) and no TLS block. Not a `#[thread_local]`: a
//! thread's TLS block is set by its host (`__wasm_init_tls`), and hosts allocate that block and
//! the thread's stack through the allocator *on the new thread, before* setting it
//! (wasm-bindgen's injected start function calls `__wbindgen_malloc` for both, then
//! `__wasm_init_tls`; tests/threads_example.rs does the same): until then `__tls_base` is the
//! module's initial one, the main thread's block, so a TLS slot would hand the new thread the
//! main thread's cache while the main thread uses it. And `__wbindgen_thread_destroy` frees the
//! TLS block itself through the allocator: a cache inside it would be freed under its own feet.
//! The global is written with `global_asm!`/`asm!` (nightly's `asm_experimental_arch`): a build
//! with atomics on stable (`wasm32-wasip1-threads`) gets the lock alone (`wall_e_lock_only`, set
//! by build.rs, which explains why).
//!
//! **The caches live in a pool** of [`SLOTS`] in static memory (the module's static, or the
//! `WallE` value's), each claimed by an instance with a compare-and-swap of its owner word on
//! its first use; the global then holds the cache's address. A cache is not a block of the heap:
//! made on a thread's first call from the heap, it could land on a block another thread has just
//! freed, and a double free of that block racing it would find a live-looking header (the tests'
//! double free at once caught this). A worker that ends without handing its cache back keeps its
//! slot: at most `SLOTS` caches exist, and instances beyond them work through the lock.

use crate::handoff::{Bins, CacheHeap, Locked, ThreadCache, Words};
use crate::heap::Heap;
use crate::lock::{Guard, Lock};
use crate::policy::Policy;
use crate::source::Source;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

/// 32 bins (effective sizes 8–256 bytes), 32 blocks carved at a time; 1,024 blocks a bin to 64
/// bytes, 64 above: at most 502 KiB a thread (`Cache::BOUND`, 513,536 bytes).
///
/// 1,024 to 64 bytes: what a thread frees of its small blocks stays with it, not in the shared
/// heap, where the next growth (I8) merged it with the other threads' memory and their refills
/// carved it again — the lines then moved between the cores. Churn on 2 workers (5,000 live
/// blocks of 1–64 bytes each, freed and taken again between the warm-up and the timed run):
/// 128 a bin, 2.9–3.4 line transfers per 1,000 calls (`bench/threads-lines.mjs`), 2 ÷ 1 worker
/// ×1.39–×1.59; 256, 0.5–2.7; 1,024, 0.02–0.03 and ×1.97–×1.98, the ceiling of the same runs
/// (a memory and heap per worker: ×1.97–×2.05; docs/threads.md, "Memory that stays with its
/// thread"). (Before: 64 a bin ran empty or full every few hundred steps, 8.8 transfers, 128
/// 3.9.) 64 above 64 bytes, not 128: no row needs more (the same counts under wasmtime, LIFO on
/// 2 workers as fast), and it pays for most of the small bins' bound (573,440 bytes before).
pub(crate) type Cache = ThreadCache<Bins<32>, 64, 32, 1024>;

// The figure the docs, the README and the tests give (tests/threads.rs, pkg/testing).
const _: () = assert!(Cache::BOUND == 513_536);

// Global (`.globl`) so that code inlined into another crate (`WallE`'s, in a program) reaches
// it; hidden, so that it is never exported.
core::arch::global_asm!(
    ".globl wall_e_thread_cache",
    ".hidden wall_e_thread_cache",
    ".globaltype wall_e_thread_cache, i32",
    "wall_e_thread_cache:"
);

/// This instance's global: the address of its cache, 0 for none.
#[inline(always)]
fn slot() -> u32 {
    let r: u32;
    // SAFETY: reads this instance's global.
    unsafe {
        core::arch::asm!(
            ".globaltype wall_e_thread_cache, i32",
            "global.get wall_e_thread_cache",
            "local.set {}",
            out(local) r,
            // No stack: without it, every function that inlines this saved and restored the
            // shadow stack pointer (four instructions a call; the global is never moved).
            options(nostack)
        )
    };
    r
}

#[inline(always)]
fn set_slot(v: u32) {
    // SAFETY: writes this instance's global.
    unsafe {
        core::arch::asm!(
            ".globaltype wall_e_thread_cache, i32",
            "local.get {}",
            "global.set wall_e_thread_cache",
            in(local) v,
            options(nostack)
        )
    };
}

/// Caches in the pool.
pub(crate) const SLOTS: usize = 64;

/// A cache on cache lines of its own: two threads' bins never share a line.
#[repr(align(64))]
struct Slot(UnsafeCell<Cache>);

/// The caches and their owner words (0: free, 1: an instance holds it).
pub(crate) struct Pool {
    owners: [AtomicU32; SLOTS],
    caches: [Slot; SLOTS],
}

// SAFETY: a cache is used only by the instance that claimed its slot (its owner word), through
// the instance's global.
unsafe impl Sync for Pool {}

impl Pool {
    /// Every slot free, every cache empty (all zero: `.bss`).
    #[allow(clippy::declare_interior_mutable_const)]
    pub(crate) const fn new() -> Self {
        const FREE_SLOT: AtomicU32 = AtomicU32::new(0);
        const EMPTY: Slot = Slot(UnsafeCell::new(Cache::new()));
        Pool {
            owners: [FREE_SLOT; SLOTS],
            caches: [EMPTY; SLOTS],
        }
    }

    /// The index of the cache at `addr` in this pool (the instance's global), if it is one.
    #[inline(always)]
    fn index(&self, addr: u32) -> Option<usize> {
        let offset = addr.wrapping_sub(self.caches.as_ptr() as usize as u32) as usize;
        let i = offset / core::mem::size_of::<Slot>();
        (i < SLOTS).then_some(i)
    }

    /// This instance's cache in this pool, if it holds one (a thread that only frees does not
    /// claim one: `WallE`'s free).
    ///
    /// # Safety
    /// No other reference to this instance's cache is alive (the allocator is not re-entered).
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub(crate) unsafe fn existing(&self) -> Option<&mut Cache> {
        let addr = slot();
        self.index(addr)?;
        // SAFETY: the instance claimed this slot (its global points at it, set only by `claim`):
        // its cache is this thread's alone; no other reference, per the contract.
        Some(unsafe { &mut *(addr as usize as *mut Cache) })
    }

    /// This instance's cache, its slot claimed on first use; `None` when every slot is taken,
    /// or the instance holds a cache of another pool (a second `WallE` value).
    ///
    /// # Safety
    /// As for [`Pool::existing`].
    #[allow(clippy::mut_from_ref)]
    #[cfg_attr(wall_e_module, allow(dead_code))]
    #[inline(always)]
    pub(crate) unsafe fn cache(&self) -> Option<&mut Cache> {
        let mut addr = slot();
        if addr == 0 {
            addr = self.claim();
        }
        self.index(addr)?;
        // SAFETY: as in `existing`.
        Some(unsafe { &mut *(addr as usize as *mut Cache) })
    }

    /// This instance's cache, its slot claimed on first use; `None` when every slot is taken.
    /// For the pool of a program that has no other (the threaded module's): a global that is
    /// not 0 is then one of its caches, set by its `claim`, and is used without [`Pool::cache`]'s
    /// check of its range (six instructions on every call).
    ///
    /// # Safety
    /// As for [`Pool::existing`]; no other pool's `claim` runs in this instance.
    #[allow(clippy::mut_from_ref)]
    #[cfg_attr(not(wall_e_module), allow(dead_code))]
    #[inline(always)]
    pub(crate) unsafe fn sole_cache(&self) -> Option<&mut Cache> {
        let mut addr = slot();
        if addr == 0 {
            addr = self.claim();
            if addr == 0 {
                return None;
            }
        }
        // SAFETY: as in `existing`; the global holds one of this pool's caches (the contract).
        Some(unsafe { &mut *(addr as usize as *mut Cache) })
    }

    /// Claims a free slot for this instance: its cache's address (also in the global), or 0.
    #[cold]
    #[inline(never)]
    fn claim(&self) -> u32 {
        for (owner, cache) in self.owners.iter().zip(&self.caches) {
            if owner.load(Ordering::Relaxed) == 0
                && owner
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                let addr = cache.0.get() as usize as u32;
                set_slot(addr);
                return addr;
            }
        }
        0
    }

    /// `release_thread_cache`: every block of this instance's cache back to the heap, and its
    /// slot free for another instance (a later small allocation on this one claims a slot again).
    ///
    /// # Safety
    /// As for [`Pool::existing`]; `shared` is the heap this pool's caches take their blocks from.
    pub(crate) unsafe fn release<S: Locked>(&self, shared: &S) {
        let addr = slot();
        let Some(i) = self.index(addr) else {
            return;
        };
        // SAFETY: per this function's contract.
        if let Some(c) = unsafe { self.existing() } {
            c.release(&LinearWords, shared);
        }
        set_slot(0);
        self.owners[i].store(0, Ordering::Release);
    }
}

/// The words of a block header in the shared memory, with wasm's atomic instructions.
pub(crate) struct LinearWords;

fn word(addr: u32) -> &'static AtomicU32 {
    // SAFETY: callers pass addresses inside the memory (checked by `readable`), 4-aligned.
    unsafe { AtomicU32::from_ptr(addr as usize as *mut u32) }
}

extern "C" {
    static __heap_base: u8;
}

// SAFETY: word 0 with acquire / acquire-release atomics, word 1 atomic, the link a plain access;
// the publish a single aligned store (below).
unsafe impl Words for LinearWords {
    #[inline(always)]
    fn readable(&self, header: u32) -> bool {
        // Every heap (the module's, `WallE`'s) lies above `__heap_base`.
        let base = core::ptr::addr_of!(__heap_base) as usize as u32;
        header & 7 == 0
            && header >= base
            && (header as u64 + 16) <= (core::arch::wasm32::memory_size(0) as u64) << 16
    }
    #[inline(always)]
    fn logical(&self, header: u32) -> u32 {
        word(header).load(Ordering::Acquire)
    }
    #[inline(always)]
    fn size_word(&self, header: u32) -> u32 {
        word(header + 4).load(Ordering::Relaxed)
    }
    #[inline(always)]
    fn claim(&self, header: u32, seen: u32, to: u32) -> bool {
        word(header)
            .compare_exchange(seen, to, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
    #[inline(always)]
    fn publish(&self, header: u32, logical: u32) {
        // A plain store (wasm's atomic store is sequentially consistent: an `xchg` on x86,
        // ~10 ns a call): only the block's owner writes it here, and a thread that frees the
        // block got its pointer through a channel of its own that orders this store before
        // its read; a racing stale free reads either value, both of which it handles.
        // Volatile, so that the compiler keeps it as one aligned 4-byte store.
        // SAFETY: `header` is the caller's block, inside the memory.
        unsafe { core::ptr::write_volatile(header as usize as *mut u32, logical) }
    }
    #[inline(always)]
    unsafe fn link(&self, header: u32) -> u32 {
        // SAFETY: the caller owns the block.
        unsafe { *((header + 8) as usize as *const u32) }
    }
    #[inline(always)]
    unsafe fn set_link(&self, header: u32, next: u32) {
        // SAFETY: the caller owns the block.
        unsafe { *((header + 8) as usize as *mut u32) = next }
    }
    #[inline(always)]
    unsafe fn tag(&self, header: u32) -> u32 {
        // SAFETY: the caller owns the block, or holds the lock (it is in the heap's cache).
        unsafe { *((header + 12) as usize as *const u32) }
    }
    #[inline(always)]
    unsafe fn set_tag(&self, header: u32, tag: u32) {
        // SAFETY: as in `tag`.
        unsafe { *((header + 12) as usize as *mut u32) = tag }
    }
}

impl<S: Source, P: Policy> CacheHeap for Heap<S, P> {
    #[inline(always)]
    fn take_cached(&mut self, eff: u32) -> u32 {
        self.take_for_cache(eff)
    }
    #[inline(always)]
    fn give_back(&mut self, header: u32) {
        // SAFETY: a block of a cache (CACHED), given back by its thread.
        unsafe { self.give_back_claimed(header) }
    }
    #[inline(always)]
    unsafe fn take_chain(&mut self, eff: u32, after: u32, max: u32) -> (u32, u32) {
        // SAFETY: the caller's promise (`after`), which is this one's.
        unsafe { self.take_cached_chain(eff, after, max) }
    }
    #[inline(always)]
    fn take_run(&mut self, eff: u32, n: u32, grow: bool) -> u32 {
        Heap::take_run(self, eff, n, grow)
    }
    #[inline(always)]
    fn chain_head(&self, eff: u32) -> u32 {
        self.cached_chain_head(eff)
    }
    #[inline(always)]
    fn give_chain(&mut self, eff: u32, head: u32, last: u32, count: u32, own: bool) -> bool {
        // SAFETY: a thread's chain of its cached blocks (handoff.rs), given up.
        unsafe { self.give_cached_chain(eff, head, last, count, own) }
    }
}

/// A heap with its lock held (a guard, not a closure: a closure's captured references would
/// need a stack frame, and the threaded module has no stack).
pub(crate) struct Held<'a, H> {
    heap: &'a UnsafeCell<H>,
    _locked: Guard<'a>,
}

impl<'a, H> Held<'a, H> {
    /// Takes `lock` and hands out `heap`.
    ///
    /// # Safety
    /// `lock` guards `heap`: every access to it holds the lock.
    #[inline(always)]
    pub(crate) unsafe fn new(lock: &'a Lock, heap: &'a UnsafeCell<H>) -> Self {
        Held {
            _locked: lock.lock(),
            heap,
        }
    }
}

impl<H> core::ops::Deref for Held<'_, H> {
    type Target = H;
    #[inline(always)]
    fn deref(&self) -> &H {
        // SAFETY: the lock that guards the heap is held as long as this exists (`new`).
        unsafe { &*self.heap.get() }
    }
}

impl<H> core::ops::DerefMut for Held<'_, H> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut H {
        // SAFETY: as above.
        unsafe { &mut *self.heap.get() }
    }
}
