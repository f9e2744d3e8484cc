//! The lock of the `atomics` build: one `AtomicU32` in the allocator's static, taken around every
//! heap operation.
//!
//! A spin lock, and only a spin lock (as std's own allocator on wasm with atomics): a thread
//! that finds the lock taken re-reads it until it is free, then tries to take it again (test and
//! test-and-set). It never waits with `memory.atomic.wait32`: that instruction traps on a
//! browser's main thread (`Atomics.wait` is forbidden there), the module cannot tell which thread
//! it runs on, and the main thread allocates too. The critical sections are short — O(1) list
//! work, except a `reallocate` that moves (one `memory.copy`) and `memory.grow` — so a waiter
//! spins for about as long as a sleep and a `notify` would cost. Being in the shared memory, the
//! word is the same for every instance of the threaded module and every thread of a program.
//!
//! Not re-entrant: the heap never calls the allocator, and `GlobalAlloc` methods are never
//! re-entered; a re-entry would spin forever rather than corrupt the heap.

use core::sync::atomic::{AtomicU32, Ordering};

/// A spin lock: 0 free, 1 taken.
pub(crate) struct Lock(AtomicU32);

/// Holds the [`Lock`] until dropped.
pub(crate) struct Guard<'a>(&'a Lock);

impl Lock {
    /// A free lock.
    pub(crate) const fn new() -> Self {
        Lock(AtomicU32::new(0))
    }

    /// Takes the lock, spinning while another thread holds it.
    #[inline(always)]
    pub(crate) fn lock(&self) -> Guard<'_> {
        if self
            .0
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.contended();
        }
        Guard(self)
    }

    /// The slow path: read until free (plain loads keep the cache line shared while spinning),
    /// then try to take it again.
    #[cold]
    #[inline(never)]
    fn contended(&self) {
        loop {
            while self.0.load(Ordering::Relaxed) != 0 {
                core::hint::spin_loop();
            }
            if self
                .0
                .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl Lock {
    /// Frees the lock without a guard: for a path that traps while holding it (the trap skips
    /// the guard's drop), so that the other threads do not spin forever.
    ///
    /// # Safety
    /// The caller's thread holds the lock and never drops its guard.
    #[cfg(feature = "checked")]
    pub(crate) unsafe fn release(&self) {
        self.0.store(0, Ordering::Release);
    }
}

impl Drop for Guard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0 .0.store(0, Ordering::Release);
    }
}
