//! A peer allocator built with atomics (chosen by cargo feature) behind wall-e's raw ABI:
//! `allocate(u32) -> u32`, `deallocate(u32)`, `reallocate(u32, u32) -> u32`, `size(u32) -> u32`;
//! pointers are offsets in the imported shared memory, 0 is nil. The wrapper is bench/peers'
//! (an 8-byte header in front of each block holds the size asked for; blocks are 8-aligned), over
//! an allocator that is safe to call from several instances at once:
//!
//! - `talc`: talc 5's `TalcLock` with `spin::mutex::SpinMutex` as its `lock_api` raw mutex, over
//!   `WasmGrowAndExtend` (the memory source of the single-threaded peer), no_std.
//! - `std`: std's `System` allocator, which on wasm32-unknown-unknown with atomics is dlmalloc
//!   behind a global spin lock (std's `sys/alloc/wasm.rs`).
//!
//! Unlike wall-e's threaded module, both have a shadow stack (`__stack_pointer`, exported with the
//! TLS globals): bench/threads.mjs gives each instance (worker) a stack and TLS block of its own.
//! As built (opt-level 3 + `wasm-opt -O3`), talc's only frame is taken inside its lock and std's
//! only frames are on a panic path, so a shared stack would go unnoticed here; the per-instance
//! stacks are what a program with other code than this wrapper needs.
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(not(target_arch = "wasm32"))]
compile_error!("build with --target wasm32-unknown-unknown");

#[cfg(not(target_feature = "atomics"))]
compile_error!("build with -C target-feature=+atomics,+bulk-memory,+mutable-globals");

#[cfg(not(any(feature = "talc", feature = "std")))]
compile_error!("enable exactly one peer feature");

use core::alloc::{GlobalAlloc, Layout};

#[cfg(feature = "talc")]
mod peer {
    use core::alloc::{GlobalAlloc, Layout};
    use talc::sync::TalcLock;
    use talc::wasm::{WasmBinning, WasmGrowAndExtend};

    /// talc behind its lock. `WasmGrowAndExtend` holds the heap's end as a pointer, so it is
    /// not `Send` and the lock is not `Sync` by itself; the pointer is only read and written
    /// by talc with the lock held.
    pub struct Locked(TalcLock<spin::mutex::SpinMutex<()>, WasmGrowAndExtend, WasmBinning>);

    // SAFETY: every access to the heap (and the source's pointer) goes through the spin lock.
    unsafe impl Sync for Locked {}

    // SAFETY: delegates to `TalcLock`'s `GlobalAlloc`.
    unsafe impl GlobalAlloc for Locked {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { self.0.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { self.0.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            unsafe { self.0.realloc(ptr, layout, new_size) }
        }
    }

    /// Also the module's global allocator (talc's crate needs one), as in bench/peers.
    #[global_allocator]
    pub static PEER: Locked = Locked(TalcLock::new(WasmGrowAndExtend::new()));

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }
}

#[cfg(feature = "std")]
mod peer {
    /// std's default global allocator, called directly.
    pub static PEER: std::alloc::System = std::alloc::System;
}

use peer::PEER;

include!("../../peers/src/abi.rs");
