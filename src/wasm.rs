//! The wasm platform: linear memory as a [`Source`], and [`WallE`], the `GlobalAlloc`.

use crate::heap::Heap;
#[cfg(wall_e_atomics)]
use crate::lock::Lock;
use crate::policy::Chosen;
use crate::source::{Source, PAGE};
use crate::walk::{Corruption, Stats};
#[cfg(not(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only))))]
use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;

/// Memory index 0 of the module, grown with `memory.grow`.
///
/// `LinearMemory` (`CLAIMS_INITIAL = false`, from [`LinearMemory::new`]) gives the heap only the
/// pages it grows itself: whatever else lives in the module keeps its memory (on `wasm32-wasip1`,
/// wasi-libc's `malloc` heap is `[__heap_base, __heap_end)`; C code, another allocator), and any
/// number of heaps can share one memory. `LinearMemory<true>`, from the `unsafe`
/// [`LinearMemory::with_initial_memory`], also gives it that initial range: the standalone
/// `wall-e.wasm` runs in one page that way. The choice is a type, so it costs no code.
///
/// What the range is on each target: the linker sets `__heap_base` past the shadow stack and
/// static data and `__heap_end` at the end of the initial memory. On `wasm32-unknown-unknown` and
/// `wasm32v1-none` nothing in Rust uses it (std's allocator there only grows memory), but linked C
/// code or another allocator may. On `wasm32-wasip1` and `wasm32-wasip2` it is where wasi-libc's
/// `malloc` starts, and libc allocates by itself (the environment, the preopened directories).
pub struct LinearMemory<const CLAIMS_INITIAL: bool = false> {
    // Made only by the constructors below, where the claim is chosen.
    _private: (),
}

impl LinearMemory {
    /// Memory the heap grows itself, and nothing else.
    pub const fn new() -> Self {
        LinearMemory { _private: () }
    }
}

impl LinearMemory<true> {
    /// Memory the heap grows itself, and first the rest of the module's initial memory,
    /// `[__heap_base, __heap_end)`. Not on WASI targets, where that range is wasi-libc's
    /// `malloc` heap.
    ///
    /// # Safety
    /// Nothing else in the module ever uses `[__heap_base, __heap_end)`, and at most one heap is
    /// made over this source: no other allocator, no C code with its own `malloc`, no second
    /// `with_initial_memory()`.
    #[cfg(not(target_os = "wasi"))]
    #[cfg_attr(docsrs, doc(cfg(not(target_os = "wasi"))))]
    pub const unsafe fn with_initial_memory() -> Self {
        LinearMemory { _private: () }
    }
}

impl Default for LinearMemory {
    fn default() -> Self {
        Self::new()
    }
}

extern "C" {
    /// Set by the linker: the first byte after the module's stack and static data.
    static __heap_base: u8;
    /// Set by the linker: the end of the module's initial memory.
    static __heap_end: u8;
}

// SAFETY: `initial` is empty unless the source was made by `with_initial_memory`, whose caller
// promised that `[__heap_base, __heap_end)` belongs to this heap alone; that range is initial
// memory nobody wrote (zero). Pages grown before the heap's first use are not claimed: they may
// be somebody else's. `memory.grow` returns pages nobody else has. Every address below the
// memory size is valid.
unsafe impl<const CLAIMS_INITIAL: bool> Source for LinearMemory<CLAIMS_INITIAL> {
    fn initial(&mut self) -> (u32, u32) {
        if !CLAIMS_INITIAL {
            return (0, 0);
        }
        let start = core::ptr::addr_of!(__heap_base) as usize as u32;
        let end = core::ptr::addr_of!(__heap_end) as usize as u32;
        (start, end)
    }

    // The standalone module's build (scripts/build.mjs) links it with a 64 KiB initial memory
    // and a 4 KiB stack: its initial range holds ~59 KiB (the size-tuned build checks the range
    // it evaluates, scripts/small-post.mjs). (No first-growth case in `Heap::grow`: 8 bytes
    // less in the size-tuned module, and its `first` a constant, 5 more.)
    const INITIAL_HOLDS_A_REGION: bool = CLAIMS_INITIAL && cfg!(wall_e_module);

    fn grow(&mut self, pages: u32) -> Option<u32> {
        match wasm32::memory_grow(0, pages as usize) {
            usize::MAX => None,
            old => Some(old as u32),
        }
    }

    /// Unchecked here: wasm memory traps on an access out of bounds by itself.
    #[inline]
    fn at(&self, addr: u32, _len: u32) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(addr as usize)
    }
}

/// wall-e as a Rust global allocator:
/// `#[global_allocator] static A: wall_e::WallE = wall_e::WallE::new();`
///
/// It uses only the memory it grows itself (see [`LinearMemory`]), serves every power-of-two
/// alignment, reallocates in place where it can and skips the memset of `alloc_zeroed` for
/// memory fresh from `memory.grow`.
///
/// Without the `atomics` target feature a wasm instance runs one thread, and `WallE` has no lock
/// (not one instruction more). With it (`-C target-feature=+atomics` on nightly; or the
/// `wasm32-wasip1-threads` target, where stable takes the lock around every call, build.rs says
/// why), each thread (each instance of the module) gets a cache of small freed blocks of
/// its own: a `Layout` of at most 256 bytes and alignment at most 8 is allocated and freed
/// without a lock, and everything else takes a spin lock (`src/lock.rs`) around the heap. A
/// thread about to end hands its cache back with [`WallE::release_thread_cache`]
/// (docs/threads.md, "`WallE` in a threaded Rust program").
pub struct WallE {
    /// Taken around every heap operation (atomics only).
    #[cfg(wall_e_atomics)]
    lock: Lock,
    heap: UnsafeCell<Heap<LinearMemory, Chosen>>,
    /// The threads' caches (atomics only; not in the `small` and `checked` builds).
    #[cfg(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only)))]
    threads: crate::per_thread::Pool,
}

// SAFETY: without the `atomics` target feature a wasm instance runs one thread.
#[cfg(not(wall_e_atomics))]
unsafe impl Sync for WallE {}

// SAFETY: with `atomics`, every method that reaches the heap holds `lock` while it does (the
// per-thread caches' blocks are each their thread's, handed over by the protocol of
// handoff.rs); `heap` leaves that to its caller (its contract).
#[cfg(wall_e_atomics)]
unsafe impl Sync for WallE {}

impl WallE {
    /// Whether this build takes a lock (compiled with atomics: shared memory, threads), for
    /// tests from the outside: a dependent built for a threads target must see `true`.
    #[doc(hidden)]
    pub const THREAD_SAFE: bool = cfg!(wall_e_atomics);

    /// A heap over the pages it grows itself, taken on first use.
    pub const fn new() -> Self {
        WallE {
            #[cfg(wall_e_atomics)]
            lock: Lock::new(),
            heap: UnsafeCell::new(Heap::new(LinearMemory::new())),
            #[cfg(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only)))]
            threads: crate::per_thread::Pool::new(),
        }
    }

    /// The heap itself, for the raw `u32` ABI (its policy type follows the `small` feature).
    ///
    /// # Safety
    /// No other reference to the heap may be alive (the allocator is not re-entrant). With the
    /// `atomics` feature that includes every other thread: nothing else may allocate meanwhile.
    #[doc(hidden)]
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub unsafe fn heap(&self) -> &mut Heap<LinearMemory, Chosen> {
        // SAFETY: exclusive and not re-entrant, per this function's contract.
        unsafe { &mut *self.heap.get() }
    }

    /// Walks the heap and checks every invariant (O(heap)).
    ///
    /// With atomics, blocks in the threads' caches count as cached (neither used nor free), and
    /// the calling thread's own cache is checked too (every block in it a cached block of its
    /// bin's size, none in two places); the other threads' caches are theirs alone.
    pub fn validate(&self) -> Result<Stats, Corruption> {
        #[cfg(wall_e_atomics)]
        let _locked = self.lock.lock();
        // SAFETY: single-threaded (with atomics, the lock is held); `validate` does not
        // allocate, so no other borrow is alive.
        let heap = unsafe { self.heap() };
        let stats = heap.validate()?;
        #[cfg(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only)))]
        // SAFETY: no other reference to this thread's cache is alive (not re-entered).
        if let Some(cache) = unsafe { self.threads.existing() } {
            heap.check_thread_cache(cache.bins(), crate::per_thread::Cache::bin_cap, &stats)?;
        }
        Ok(stats)
    }

    /// Gives every block of the heap's own cache of freed small blocks (cache.rs, behind the
    /// lock; not the threads' caches) back to the heap, where they merge: after everything is
    /// freed and every thread's cache handed back, the heap walk then finds nothing cached. (The
    /// heap does this itself before it grows memory.) For tests, as the stats module's
    /// `flush_cache` export.
    #[doc(hidden)]
    pub fn flush_cache(&self) {
        #[cfg(wall_e_atomics)]
        let _locked = self.lock.lock();
        // SAFETY: single-threaded (with atomics, the lock is held); not re-entered.
        unsafe { self.heap() }.flush_cache();
    }

    /// Hands the calling thread's cache of small freed blocks back to the heap, where they
    /// merge, and frees its slot: for a thread about to end (a Web Worker, a wasm-bindgen
    /// worker before `__wbindgen_thread_destroy`). A thread that ends without it leaves its
    /// cache (at most 280 KiB) and its slot (one of 64; threads beyond them take the lock on
    /// every call) behind for good: nothing can tell that a wasm thread is gone. The thread may
    /// go on allocating: its next small allocation takes a slot again.
    ///
    /// Without the `atomics` target feature (one thread, no caches) it does nothing.
    #[inline]
    pub fn release_thread_cache(&self) {
        #[cfg(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only)))]
        // SAFETY: not re-entered (no other reference to the cache); the pool's caches are
        // this heap's.
        unsafe {
            self.threads.release(&caches::Shared(self))
        }
    }
}

impl Default for WallE {
    fn default() -> Self {
        Self::new()
    }
}

/// `WallE`'s `GlobalAlloc` with per-thread caches (atomics).
#[cfg(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only)))]
#[path = "walle_caches.rs"]
mod caches;

#[inline]
fn to_ptr(addr: u32) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

// The methods are neither generic nor `#[inline]`, so they are compiled in wall-e's own crate,
// with its profile: `[profile.dev.package.wall-e] opt-level = 3` then gives a dependent's debug
// build an optimised allocator (the heap's generic code, inlined into the caller, would be
// compiled at the caller's opt-level 0). With LTO they inline as usual.
//
// SAFETY: the heap hands out disjoint blocks of at least the requested size and alignment, keeps
// contents on realloc, and returns null on failure.
#[cfg(not(all(wall_e_walle_caches, not(wall_e_module), not(wall_e_lock_only))))]
unsafe impl GlobalAlloc for WallE {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        #[cfg(wall_e_atomics)]
        let _locked = self.lock.lock();
        // SAFETY: see `heap`; GlobalAlloc methods are never re-entered, and with atomics the lock
        // is held.
        let heap = unsafe { self.heap() };
        to_ptr(heap.allocate_aligned(layout.size() as u32, layout.align() as u32))
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        #[cfg(wall_e_atomics)]
        let _locked = self.lock.lock();
        // SAFETY: as in `alloc`.
        let heap = unsafe { self.heap() };
        to_ptr(heap.allocate_zeroed(layout.size() as u32, layout.align() as u32))
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        #[cfg(wall_e_atomics)]
        let _locked = self.lock.lock();
        // SAFETY: as in `alloc`.
        let heap = unsafe { self.heap() };
        // The size from the `Layout`: a small block's free is a push after two comparisons
        // (`deallocate_sized`); the header still decides, so a wrong layout is harmless.
        heap.deallocate_sized(ptr.expose_provenance() as u32, layout.size() as u32)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        #[cfg(wall_e_atomics)]
        let _locked = self.lock.lock();
        // SAFETY: as in `alloc`.
        let heap = unsafe { self.heap() };
        let p = ptr.expose_provenance() as u32;
        // The size from the `Layout`: the block on top grows in place after the pointer
        // check (`reallocate_sized`); the header still decides, so a wrong layout is harmless.
        let old = layout.size() as u32;
        to_ptr(heap.reallocate_sized(p, old, new_size as u32, layout.align() as u32))
    }
}

const _: () = assert!(PAGE == 65_536);
