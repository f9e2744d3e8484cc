//! `WallE` as the global allocator of a threaded wasm-bindgen app: the scenarios of
//! `examples/threads` (the same file, `scenarios.rs`) exported through `#[wasm_bindgen]`, run on
//! Node worker_threads and Web Workers by pkg/test/walle-threads*.test.js.
//!
//! Build: `cargo +nightly build --release` here (nightly with rust-src: std is rebuilt with
//! `+atomics,+bulk-memory,+mutable-globals`, the memory imported and shared: `.cargo/config.toml`),
//! then `wasm-bindgen --target nodejs` or `--target web`. Every worker is an instance of the
//! module over one shared memory, set up by wasm-bindgen's injected start function: its stack
//! (`thread_stack_size`) and TLS block are allocated through wall-e on the new thread, and
//! `__wbindgen_thread_destroy` frees them through wall-e when the worker ends.

use std::alloc::{alloc, dealloc, Layout};
use std::sync::atomic::{AtomicU32, Ordering};
use wasm_bindgen::prelude::*;

#[path = "../../threads/src/scenarios.rs"]
#[allow(dead_code)] // `churn` is the wasmtime timing run's
mod scenarios;

#[global_allocator]
pub(crate) static A: wall_e::WallE = wall_e::WallE::new();

/// The random stress with per-thread patterns, blocks swapped between threads
/// (`scenarios::stress`): the bytes checked.
#[wasm_bindgen]
pub fn stress(me: u32, seed: u32, ops: u32) -> u64 {
    scenarios::stress(me, seed, ops)
}

/// Frees what the stress left in the exchange: the number of blocks.
#[wasm_bindgen]
pub fn drain() -> u32 {
    scenarios::drain()
}

/// The cross-thread free storm (`scenarios::storm`): the blocks this thread freed.
#[wasm_bindgen]
pub fn storm(me: u32, threads: u32, rounds: u32, batch: u32) -> u32 {
    scenarios::storm(me, threads, rounds, batch)
}

/// Frees what the thread before left, churns, leaves `count` blocks (`scenarios::hand_over`).
#[wasm_bindgen]
pub fn hand_over(me: u32, count: u32) -> u32 {
    scenarios::hand_over(me, count)
}

/// `WallE::release_thread_cache`: a worker about to end.
#[wasm_bindgen]
pub fn release_thread_cache() {
    A.release_thread_cache();
}

/// `WallE::flush_cache`: the heap's own cache merged back, so that the walk counts only the
/// threads' caches as cached.
#[wasm_bindgen]
pub fn flush_cache() {
    A.flush_cache();
}

/// One figure of a heap walk (`WallE::validate`, under the lock, the caller's cache checked
/// too): 0 used blocks, 1 cached, 2 free, 3 heap bytes, 4 used bytes, 5 cached bytes; -1 if an
/// invariant is broken.
#[wasm_bindgen]
pub fn heap_stat(which: u32) -> i32 {
    scenarios::heap_figure(&A, which)
}

/// Out of memory under contention: the blocks each thread holds, a list linked through their
/// first word (no other memory needed while the heap is full).
static OOM_LISTS: [AtomicU32; 16] = [const { AtomicU32::new(0) }; 16];
const OOM_SIZE: usize = 200;

fn oom_layout() -> Layout {
    Layout::from_size_align(OOM_SIZE, 8).unwrap()
}

fn oom_byte(owner: u32, n: u32, i: usize) -> u8 {
    (owner.wrapping_mul(0x9E37_79B1) ^ n.wrapping_mul(0x85EB_CA6B) ^ (i as u32) << 3)
        .rotate_left(11) as u8
}

/// Allocates 200-byte blocks until the allocator returns null (the memory at its maximum),
/// each patterned by its thread and number and linked into the thread's list: their count.
#[wasm_bindgen]
pub fn oom_fill(me: u32) -> u32 {
    let mut head = 0u32;
    let mut n = 0u32;
    loop {
        // SAFETY: a nonzero size.
        let p = unsafe { alloc(oom_layout()) };
        if p.is_null() {
            break;
        }
        // SAFETY: a live block of OOM_SIZE bytes, this thread's, 8-aligned.
        unsafe {
            (p as *mut u32).write(head);
            (p as *mut u32).add(1).write(n);
            for i in 8..OOM_SIZE {
                *p.add(i) = oom_byte(me, n, i);
            }
        }
        head = p as usize as u32;
        n += 1;
    }
    OOM_LISTS[me as usize].store(head, Ordering::Release);
    n
}

/// Once every thread got null: one more request must get null too (true), else it is freed.
#[wasm_bindgen]
pub fn oom_again() -> bool {
    // SAFETY: a nonzero size. (`black_box`: LLVM may drop an allocation that is freed unused,
    // and its null check with it.)
    let p = std::hint::black_box(unsafe { alloc(oom_layout()) });
    if p.is_null() {
        return true;
    }
    // SAFETY: just allocated with this layout.
    unsafe { dealloc(p, oom_layout()) };
    false
}

/// Frees (checked) the blocks thread `owner` kept: their count; panics (traps) on a byte out of
/// place.
#[wasm_bindgen]
pub fn oom_free(owner: u32) -> u32 {
    let mut p = OOM_LISTS[owner as usize].swap(0, Ordering::AcqRel) as usize as *mut u8;
    let mut freed = 0;
    while !p.is_null() {
        // SAFETY: a block `oom_fill` linked, live, now this thread's alone.
        let (next, n) = unsafe { ((p as *mut u32).read(), (p as *mut u32).add(1).read()) };
        for i in 8..OOM_SIZE {
            // SAFETY: as above.
            let got = unsafe { *p.add(i) };
            assert!(
                got == oom_byte(owner, n, i),
                "block {p:?} of thread {owner}: byte {i} is {got}"
            );
        }
        // SAFETY: as above, with its layout.
        unsafe { dealloc(p, oom_layout()) };
        freed += 1;
        p = next as usize as *mut u8;
    }
    freed
}
