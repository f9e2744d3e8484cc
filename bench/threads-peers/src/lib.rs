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

/// Bytes in front of each block: the requested size (u32) and 4 bytes of padding.
const HEADER: usize = 8;
const ALIGN: usize = 8;

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

/// The layout of a block whose caller asked for `size` bytes; `None` when it overflows.
fn layout(size: u32) -> Option<Layout> {
    let total = (size as usize).checked_add(HEADER)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// The pointer (a linear-memory offset) as a Rust pointer.
fn ptr(addr: u32) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

/// Writes the header of a block the peer returned at `base` and returns the payload's address.
///
/// # Safety
/// `base` is null or a block of at least `HEADER` bytes, 8-aligned.
unsafe fn finish(base: *mut u8, size: u32) -> u32 {
    if base.is_null() {
        return 0;
    }
    // SAFETY: per this function's contract, `base` is 8-aligned with room for the header.
    unsafe { base.cast::<u32>().write(size) };
    base.expose_provenance() as u32 + HEADER as u32
}

/// The size stored in the header of the live block at payload address `p` (not 0).
///
/// # Safety
/// `p` was returned by `allocate` or `reallocate` and not freed since.
unsafe fn stored(p: u32) -> u32 {
    // SAFETY: a live block's header lies `HEADER` bytes before its payload.
    unsafe { ptr(p - HEADER as u32).cast::<u32>().read() }
}

/// Allocates `size` bytes, 8-aligned; 0 for `size == 0` or when memory is exhausted.
#[no_mangle]
pub extern "C" fn allocate(size: u32) -> u32 {
    if size == 0 {
        return 0;
    }
    let Some(layout) = layout(size) else {
        return 0;
    };
    // SAFETY: `layout` has a non-zero size; the result is null or fits `layout`.
    unsafe { finish(PEER.alloc(layout), size) }
}

/// Frees a live block; nil is ignored.
#[no_mangle]
pub extern "C" fn deallocate(p: u32) {
    if p == 0 {
        return;
    }
    // SAFETY: the ABI's contract: `p` is a live block allocated with `layout(stored(p))`.
    unsafe {
        let size = stored(p);
        if let Some(layout) = layout(size) {
            PEER.dealloc(ptr(p - HEADER as u32), layout);
        }
    }
}

/// Resizes a live block through `GlobalAlloc::realloc`; `p == 0` allocates, `size == 0` frees
/// and returns 0; 0 on failure with the old block kept.
#[no_mangle]
pub extern "C" fn reallocate(p: u32, size: u32) -> u32 {
    if p == 0 {
        return allocate(size);
    }
    if size == 0 {
        deallocate(p);
        return 0;
    }
    let Some(new_layout) = layout(size) else {
        return 0;
    };
    // SAFETY: `p` is a live block (the ABI's contract) allocated with `layout(old)`; the new
    // size is non-zero and does not overflow when rounded to the alignment.
    unsafe {
        let old = stored(p);
        let Some(old_layout) = layout(old) else {
            return 0;
        };
        finish(
            PEER.realloc(ptr(p - HEADER as u32), old_layout, new_layout.size()),
            size,
        )
    }
}

/// The size asked for of a live block; 0 for nil.
#[no_mangle]
pub extern "C" fn size(p: u32) -> u32 {
    if p == 0 {
        return 0;
    }
    // SAFETY: the ABI's contract: `p` is a live block.
    unsafe { stored(p) }
}
