//! The standalone module's ABI (`--cfg wall_e_module`, set by scripts/build.mjs): `u32` pointers, 0 is nil.

use crate::heap::Heap;
#[cfg(wall_e_atomics)]
use crate::lock::Lock;
use crate::policy::Chosen;
#[cfg(feature = "trace")]
use crate::policy::Traced;
use crate::wasm::LinearMemory;
use core::cell::UnsafeCell;

/// The module's one heap. It starts in the initial memory above `__heap_base`: the module is a
/// program of its own, so it runs in one page.
///
/// The threaded module (`atomics`, `pkg/wall-e.threads.wasm`) imports a shared memory: the
/// static lives in it at an address fixed by the linker, so every instance over that memory,
/// one per worker, reaches the same lock and the same heap, and every export holds the lock.
/// The heap's state starts all zero (no data segment) and is set up on first use under the
/// lock, so a later instantiation re-initialises nothing. The claim on `[__heap_base,
/// __heap_end)` is made once, in the shared state, for all the instances.
/// The module's policy: the chosen one, with a tail word for sequence numbers in the traced
/// build (feature `trace`, I7).
#[cfg(not(feature = "trace"))]
type ModulePolicy = Chosen;
#[cfg(feature = "trace")]
type ModulePolicy = Traced<Chosen>;

struct ModuleHeap {
    /// Taken by every export (atomics only).
    #[cfg(wall_e_atomics)]
    lock: LineLock,
    heap: UnsafeCell<Heap<LinearMemory<true>, ModulePolicy>>,
}

/// The lock on a 64-byte line of its own: threads spinning on it while another holds it read
/// that line, and the heap's state the holder writes is then not on it (nor is anything else).
#[cfg(wall_e_atomics)]
#[repr(C, align(64))]
struct LineLock(Lock);

#[cfg(wall_e_atomics)]
impl core::ops::Deref for LineLock {
    type Target = Lock;
    #[inline(always)]
    fn deref(&self) -> &Lock {
        &self.0
    }
}

// SAFETY: without the `atomics` target feature a wasm instance runs one thread.
#[cfg(not(wall_e_atomics))]
unsafe impl Sync for ModuleHeap {}

// SAFETY: with `atomics`, every export takes `lock` before it reaches the heap.
#[cfg(wall_e_atomics)]
unsafe impl Sync for ModuleHeap {}

// SAFETY: nothing else in the module allocates, and client modules that import its memory keep no
// data or stack there (README), so `[__heap_base, __heap_end)` is this heap's alone (with
// atomics: the heap's, shared by every instance of this module over the memory).
static HEAP: ModuleHeap = ModuleHeap {
    #[cfg(wall_e_atomics)]
    lock: LineLock(Lock::new()),
    heap: UnsafeCell::new(Heap::new(unsafe { LinearMemory::with_initial_memory() })),
};

impl ModuleHeap {
    /// The heap.
    ///
    /// # Safety
    /// No other reference to it may be alive: exports run one at a time (with atomics: the
    /// caller holds `lock`) and never re-enter each other.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    unsafe fn heap(&self) -> &mut Heap<LinearMemory<true>, ModulePolicy> {
        // SAFETY: per this function's contract.
        unsafe { &mut *self.heap.get() }
    }

    /// Walks the heap. The caller holds `lock` (atomics).
    #[cfg(feature = "stats")]
    fn validate(&self) -> Result<crate::walk::Stats, crate::walk::Corruption> {
        // SAFETY: called at the start of an export, before any other borrow; it does not allocate.
        unsafe { self.heap() }.validate()
    }
}

/// Allocates `size` bytes (8-aligned); 0 for `size == 0` or when memory is exhausted.
#[no_mangle]
pub extern "C" fn allocate(size: u32) -> u32 {
    #[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
    {
        if let Some(c) = per_thread::cache() {
            let header = c.allocate(&per_thread::LinearWords, &HEAP, size);
            if header != 0 {
                return header + crate::block::HEADER;
            }
        }
        return per_thread::allocate_locked(size);
    }
    #[allow(unreachable_code)]
    {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        checked::guard(0);
        // SAFETY: exports run one at a time (with atomics: under the lock) and never re-enter
        // each other.
        let p = unsafe { HEAP.heap() }.allocate(size);
        trace::stamp(p);
        p
    }
}

/// Frees a block; nil, foreign pointers and double frees are ignored (see the README).
#[no_mangle]
pub extern "C" fn deallocate(ptr: u32) {
    #[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
    {
        if ptr < crate::block::HEADER {
            return;
        }
        let header = ptr - crate::block::HEADER;
        if let Some(c) = per_thread::cache() {
            match c.deallocate(&per_thread::LinearWords, &HEAP, header) {
                crate::handoff::Freed::Heap => {}
                _ => return,
            }
        }
        return per_thread::deallocate_locked(ptr);
    }
    #[allow(unreachable_code)]
    {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        checked::guard(ptr);
        // SAFETY: as in `allocate`.
        unsafe { HEAP.heap() }.deallocate(ptr)
    }
}

/// Resizes a block, in place when possible; 0 on failure with the old block kept.
#[no_mangle]
pub extern "C" fn reallocate(ptr: u32, size: u32) -> u32 {
    #[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
    {
        if let Some(q) = per_thread::reallocate(ptr, size) {
            return q;
        }
        return per_thread::reallocate_locked(ptr, size);
    }
    #[allow(unreachable_code)]
    {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        checked::guard(ptr);
        // SAFETY: as in `allocate`.
        let p = unsafe { HEAP.heap() }.reallocate(ptr, size);
        trace::stamp(p);
        p
    }
}

/// The size last asked for of a live block; 0 for nil or a pointer that is not one.
#[no_mangle]
pub extern "C" fn size(ptr: u32) -> u32 {
    #[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
    if ptr >= crate::block::HEADER {
        if let Some(n) =
            per_thread::Cache::size(&per_thread::LinearWords, ptr - crate::block::HEADER)
        {
            return n;
        }
    }
    #[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
    return per_thread::size_locked(ptr);
    #[allow(unreachable_code)]
    {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        checked::guard(ptr);
        // SAFETY: as in `allocate`.
        unsafe { HEAP.heap() }.size(ptr)
    }
}

/// Hands this thread's (this instance's) cache of small freed blocks back to the shared heap:
/// for a worker about to end (docs/threads.md).
#[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
#[no_mangle]
pub extern "C" fn release_thread_cache() {
    per_thread::release();
}

/// Per-thread caches of the threaded module (src/handoff.rs, src/per_thread.rs): each
/// instance's cache in the module's pool, its address in a wasm global of the instance (0 until
/// first use).
#[cfg(all(wall_e_module_caches, not(wall_e_lock_only)))]
mod per_thread {
    use super::HEAP;
    use crate::handoff::{Claim, Locked, Words};
    pub(super) use crate::per_thread::{Cache, LinearWords};
    use crate::per_thread::{Held, Pool};

    /// The module's caches: 64 slots in its static memory (per_thread.rs). A worker terminated
    /// without `release_thread_cache` keeps its slot: later instances without one take the lock
    /// on every call.
    static POOL: Pool = Pool::new();

    /// This instance's cache, its slot claimed on first use; `None` when every slot is taken.
    #[inline(always)]
    pub(super) fn cache() -> Option<&'static mut Cache> {
        // SAFETY: exports never re-enter each other, and each uses the reference it gets before
        // it asks again: one reference to the instance's cache at a time; the module has no
        // other pool.
        unsafe { POOL.sole_cache() }
    }

    // The calls that take the lock, out of line: inlined, the heap's paths made each export
    // one large function (18 locals, the shadow stack pointer saved and restored on every
    // call) around a fast path of a few loads and stores.

    /// `allocate` when the cache has no block for it: under the lock; when the heap is out of
    /// memory, this thread's cache back first, then once more.
    #[cold]
    #[inline(never)]
    pub(super) fn allocate_locked(size: u32) -> u32 {
        let p = {
            let _locked = HEAP.lock.lock();
            // SAFETY: under the lock.
            unsafe { HEAP.heap() }.allocate(size)
        };
        if p != 0 || size == 0 {
            return p;
        }
        if let Some(c) = cache() {
            c.release(&LinearWords, &HEAP);
        }
        let _locked = HEAP.lock.lock();
        // SAFETY: under the lock.
        unsafe { HEAP.heap() }.allocate(size)
    }

    /// `deallocate` of a block the caches do not take (a large one, or no cache): the heap
    /// decides, under the lock.
    #[cold]
    #[inline(never)]
    pub(super) fn deallocate_locked(ptr: u32) {
        let _locked = HEAP.lock.lock();
        // SAFETY: under the lock.
        unsafe { HEAP.heap() }.deallocate(ptr)
    }

    /// `size` of a block the lock-free check does not answer for (a large one).
    #[cold]
    #[inline(never)]
    pub(super) fn size_locked(ptr: u32) -> u32 {
        let _locked = HEAP.lock.lock();
        // SAFETY: under the lock.
        unsafe { HEAP.heap() }.size(ptr)
    }

    /// `reallocate` of a block that is not a live small one: under the lock.
    #[inline(never)]
    pub(super) fn reallocate_locked(ptr: u32, size: u32) -> u32 {
        let _locked = HEAP.lock.lock();
        // SAFETY: under the lock.
        unsafe { HEAP.heap() }.reallocate(ptr, size)
    }

    /// `release_thread_cache`: every block back, and the slot free for another instance.
    pub(super) fn release() {
        // SAFETY: as in `cache`; the pool's caches are the module heap's.
        unsafe { POOL.release(&HEAP) }
    }

    /// A small block's resize: claimed with the swap of its word 0, then in place or moved.
    /// `None`: not a live small block (the heap decides, under the lock).
    pub(super) fn reallocate(ptr: u32, size: u32) -> Option<u32> {
        let w = &LinearWords;
        if ptr < 8 || size == 0 {
            return None;
        }
        let header = ptr - 8;
        let (word, old) = match Cache::claim(w, header) {
            Claim::Claimed { word, logical } => (word, logical),
            Claim::Ignored => return Some(0),
            Claim::Heap => return None,
        };
        let eff = word & !crate::block::FLAGS;
        let need = (size.wrapping_add(7) & !7).max(8);
        // In place when the block holds the new size without a split (I5: the same effective
        // size, or 8 bytes more from 32 up): no copy, nothing to give up.
        if need <= eff && crate::block::fits(eff, need) && eff - need < 16 {
            w.publish(header, size);
            return Some(ptr);
        }
        let q = super::allocate(size);
        if q == 0 {
            w.publish(header, old);
            return Some(0);
        }
        // SAFETY: both blocks are ours, `min(old, size)` bytes inside each.
        unsafe {
            core::ptr::copy_nonoverlapping(
                ptr as usize as *const u8,
                q as usize as *mut u8,
                old.min(size) as usize,
            )
        };
        // The old block is claimed (CACHED): into this thread's cache, as a free would put it
        // (it gave it straight back under the lock: a turn of the lock every small resize
        // that moved; string building, uncontended, ×1.39 → ×1.26 the single-threaded module's
        // time).
        match cache() {
            Some(c) => {
                // SAFETY: claimed above with this word 1, and still ours.
                unsafe { c.keep(w, &HEAP, header, word) };
            }
            None => {
                let _locked = HEAP.lock.lock();
                // SAFETY: under the lock; the block is ours, claimed.
                unsafe { HEAP.heap().give_back_claimed(header) };
            }
        }
        Some(q)
    }

    type ModuleHeapType = crate::heap::Heap<crate::wasm::LinearMemory<true>, super::ModulePolicy>;

    impl Locked for super::ModuleHeap {
        type Heap = ModuleHeapType;
        type Guard<'a> = Held<'a, ModuleHeapType>;
        #[inline(always)]
        fn lock(&self) -> Held<'_, ModuleHeapType> {
            // SAFETY: `lock` guards `heap` (every export takes it before it reaches the heap).
            unsafe { Held::new(&self.lock.0, &self.heap) }
        }
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Without `trace`, blocks carry no sequence number.
#[cfg(not(feature = "trace"))]
mod trace {
    #[inline(always)]
    pub fn stamp(_: u32) {}

    /// The last sequence number handed out: none without `trace`.
    #[cfg(feature = "stats")]
    pub fn last() -> u32 {
        0
    }
}

/// The traced build (feature `trace`): every block allocate or reallocate returns gets the next
/// sequence number in its tail (I7), so that `blocks` can tell which live blocks are newer than
/// a mark (`heap.leaks(since)` in pkg/heapmap.js).
#[cfg(feature = "trace")]
mod trace {
    use super::HEAP;
    use core::cell::UnsafeCell;

    struct Counter(UnsafeCell<u32>);
    // SAFETY: used only inside exports, under the heap's lock (atomics) or by the one thread.
    unsafe impl Sync for Counter {}
    static LAST: Counter = Counter(UnsafeCell::new(0));

    /// Stamps the block at `p` (nil: nothing) with the next sequence number. Called inside an
    /// export, after the heap call (with atomics: under the lock).
    pub fn stamp(p: u32) {
        if p == 0 {
            return;
        }
        // SAFETY: exports run one at a time; nothing else borrows the counter or the heap now.
        unsafe {
            let last = &mut *LAST.0.get();
            *last = last.wrapping_add(1);
            HEAP.heap().stamp(p, *last);
        }
    }

    /// The last sequence number handed out (0 before the first allocation).
    pub fn last() -> u32 {
        // SAFETY: single-threaded read (with atomics: the caller holds the lock).
        unsafe { *LAST.0.get() }
    }
}

/// The default build's checks are the cheap header checks inside the core.
#[cfg(not(feature = "checked"))]
mod checked {
    #[inline(always)]
    pub fn guard(_: u32) {}
}

/// The checked build (feature `checked`): before every call the whole heap is walked and the
/// pointer looked up; anything wrong records a reason and traps (`unreachable`).
#[cfg(feature = "checked")]
mod checked {
    use super::HEAP;
    use crate::walk::Place;
    use core::cell::UnsafeCell;

    /// No error.
    const OK: u32 = 0;
    /// The pointer was freed already (double free, or use after free).
    const FREED: u32 = 1;
    /// The pointer is inside a live block but not its start.
    const INTERIOR: u32 = 2;
    /// The pointer is not in the heap at all.
    const FOREIGN: u32 = 3;
    /// A heap invariant is broken: a write out of bounds, or into freed memory.
    const CORRUPT: u32 = 4;

    struct Error {
        code: UnsafeCell<u32>,
        at: UnsafeCell<u32>,
        message: UnsafeCell<[u8; 64]>,
    }
    // SAFETY: written only under the heap's lock (atomics) or by the one thread.
    unsafe impl Sync for Error {}
    static ERROR: Error = Error {
        code: UnsafeCell::new(OK),
        at: UnsafeCell::new(0),
        message: UnsafeCell::new([0; 64]),
    };

    /// Records the error and traps. Called by `guard`, inside an export (with atomics: holding
    /// the lock, which it releases first, as the trap skips the guard's drop).
    fn fail(code: u32, at: u32, what: &str) -> ! {
        // SAFETY: single-threaded (with atomics: the lock is held); nothing else borrows ERROR
        // while an export runs.
        unsafe {
            *ERROR.code.get() = code;
            *ERROR.at.get() = at;
            let message = &mut *ERROR.message.get();
            let len = what.len().min(message.len() - 1);
            message[..len].copy_from_slice(&what.as_bytes()[..len]);
            message[len] = 0;
        }
        // SAFETY: called with the lock held, and the trap below never drops the guard.
        #[cfg(wall_e_atomics)]
        unsafe {
            HEAP.lock.release()
        };
        core::arch::wasm32::unreachable()
    }

    pub fn guard(ptr: u32) {
        if let Err(c) = HEAP.validate() {
            fail(CORRUPT, c.at, c.what);
        }
        if ptr == 0 {
            return;
        }
        // SAFETY: exports run one at a time; `locate` only reads.
        match unsafe { HEAP.heap() }.locate(ptr) {
            Place::Live => {}
            Place::Freed => fail(FREED, ptr, "pointer already freed"),
            Place::Interior => fail(INTERIOR, ptr, "pointer into the middle of a block"),
            Place::Unknown => fail(FOREIGN, ptr, "pointer not from this heap"),
        }
    }

    /// Why the last call trapped: 0 none, 1 freed pointer, 2 interior pointer, 3 foreign
    /// pointer, 4 heap corruption.
    #[no_mangle]
    pub extern "C" fn last_error() -> u32 {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        // SAFETY: single-threaded read (with atomics: under the lock).
        unsafe { *ERROR.code.get() }
    }

    /// The address the last error is about (the pointer, or where the heap walk failed).
    #[no_mangle]
    pub extern "C" fn last_error_at() -> u32 {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        // SAFETY: single-threaded read (with atomics: under the lock).
        unsafe { *ERROR.at.get() }
    }

    /// The address of a NUL-terminated message describing the last error.
    #[no_mangle]
    pub extern "C" fn last_error_message() -> u32 {
        ERROR.message.get() as u32
    }
}

/// Heap statistics and checks for the standalone module (feature `stats`), and the cache's
/// flush.
#[cfg(feature = "stats")]
mod stats {
    use super::HEAP;
    use crate::blocks::Span;
    use core::cell::UnsafeCell;

    /// Walks the heap: 0 when every invariant holds, else the address where one breaks (at least 1).
    #[no_mangle]
    pub extern "C" fn validate() -> u32 {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        match HEAP.validate() {
            Ok(_) => 0,
            Err(c) => c.at.max(1),
        }
    }

    /// Gives every block held by the cache of freed small blocks back to the heap, where it
    /// merges (heap.rs, I8): after everything is freed, the heap is then back at its bump
    /// pointer, as a walk shows. (The heap does this itself before it grows memory.)
    #[no_mangle]
    pub extern "C" fn flush_cache() {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        // SAFETY: exports run one at a time (with atomics: under the lock).
        unsafe { HEAP.heap() }.flush_cache();
    }

    /// One figure of a heap walk (O(heap)): 0 heap bytes, 1 used bytes (logical), 2 used blocks,
    /// 3 free bytes, 4 free blocks, 5 largest free block, 6 room above the bump pointer,
    /// 7 regions, 8 cached bytes, 9 cached blocks (freed blocks held by the cache: neither
    /// used nor free). `u32::MAX` for an unknown index or a corrupt heap.
    #[no_mangle]
    pub extern "C" fn stat(which: u32) -> u32 {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        let Ok(s) = HEAP.validate() else {
            return u32::MAX;
        };
        match which {
            0 => s.heap_bytes,
            1 => s.used_bytes,
            2 => s.used_blocks,
            3 => s.free_bytes,
            4 => s.free_blocks,
            5 => s.largest_free,
            6 => s.top_room,
            7 => s.regions,
            8 => s.cached_bytes,
            9 => s.cached_blocks,
            _ => u32::MAX,
        }
    }

    /// Records per call of `blocks`.
    const RECORDS: usize = 128;

    /// What `blocks` writes: a header of three words, then the records (blocks.rs).
    #[repr(C)]
    struct Page {
        /// Records written.
        count: u32,
        /// The cursor for the next call; 0 when the last record (the room) is written.
        next: u32,
        /// 0, or where the heap is corrupt (the address `validate` returns): no records then.
        corrupt: u32,
        spans: [Span; RECORDS],
    }

    struct Out(UnsafeCell<Page>);
    // SAFETY: written only inside `blocks`, under the heap's lock (atomics) or by the one thread.
    unsafe impl Sync for Out {}
    static OUT: Out = Out(UnsafeCell::new(Page {
        count: 0,
        next: 0,
        corrupt: 0,
        spans: [Span {
            start: 0,
            size: 0,
            kind: 0,
            logical: 0,
            seq: 0,
        }; RECORDS],
    }));

    /// The heap's blocks from `cursor` (0: the start, after a whole heap walk), up to 128 per
    /// call, written to a buffer of the module's own (not the heap: nothing is allocated); returns
    /// the buffer's address. It holds `count`, `next` (the cursor for the next call; 0: done) and
    /// `corrupt` (0, or the address `validate` returns, with no records), then `count` records
    /// of five `u32`s: start, size, kind (0 used, 1 free, 2 spare, 3 region marker, 4 room above
    /// the bump pointer), logical size, sequence number (traced build). Call it again with `next`
    /// until that is 0, without allocating in between.
    #[no_mangle]
    pub extern "C" fn blocks(cursor: u32) -> u32 {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        // SAFETY: exports run one at a time (with atomics: under the lock): nothing else borrows
        // OUT or the heap now; `blocks` only reads the heap.
        let page = unsafe { &mut *OUT.0.get() };
        match unsafe { HEAP.heap() }.blocks(cursor, &mut page.spans) {
            Ok((count, next)) => {
                page.count = count as u32;
                page.next = next;
                page.corrupt = 0;
            }
            Err(c) => {
                page.count = 0;
                page.next = 0;
                page.corrupt = c.at.max(1);
            }
        }
        page as *const Page as u32
    }

    /// The sequence number of the last allocation (traced build; 0 in the stats build): blocks
    /// stamped with a larger number are newer.
    #[no_mangle]
    pub extern "C" fn sequence() -> u32 {
        #[cfg(wall_e_atomics)]
        let _locked = HEAP.lock.lock();
        super::trace::last()
    }
}
