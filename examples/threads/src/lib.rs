//! wall-e as the global allocator of a threaded Rust wasm program: std built with atomics, one
//! shared memory, several threads allocating, freeing and reallocating at once.
//!
//! Build: `cargo +nightly build --release` in `examples/threads` (nightly, with `rustup component
//! add --toolchain nightly rust-src`). Its `.cargo/config.toml` rebuilds std with
//! `+atomics,+bulk-memory,+mutable-globals` (`-Z build-std=std,panic_abort`) and links the module
//! with an imported shared memory (`env.memory`), exporting `__stack_pointer`,
//! `__wasm_init_tls`, `__tls_size` and `__tls_align`. A thread is an instance of the module over that memory, made by the host
//! (tests/threads_example.rs runs one per wasmtime thread; Web Workers do the same in a browser):
//! while no other instance is being set up, it calls [`thread_stack`] and [`thread_tls`] on the
//! module's initial stack, sets its own `__stack_pointer` to the stack's top and calls
//! `__wasm_init_tls` with the TLS block. From then on the instance runs on its own stack, and
//! [`run`] may be called on every instance at once.
//!
//! No thread is spawned from inside (wasm32-unknown-unknown has no way to): the threads are the
//! host's, as with wasm-bindgen's workers.

use std::alloc::{alloc, dealloc, Layout};

mod scenarios;
mod work;

#[global_allocator]
pub(crate) static A: wall_e::WallE = wall_e::WallE::new();

/// A new shadow stack of `size` bytes for the calling instance: the address of its top
/// (16-aligned), for `__stack_pointer`; 0 when memory is exhausted.
#[no_mangle]
pub extern "C" fn thread_stack(size: u32) -> u32 {
    let layout = Layout::from_size_align(size as usize, 16).unwrap();
    // SAFETY: the layout has a nonzero size (the host asks for at least a page).
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        0
    } else {
        base as u32 + size
    }
}

/// A block for the calling instance's thread-local storage, of `size` bytes aligned to `align`
/// (the module's `__tls_size` and `__tls_align`), for `__wasm_init_tls`.
#[no_mangle]
pub extern "C" fn thread_tls(size: u32, align: u32) -> u32 {
    let layout = Layout::from_size_align(size.max(1) as usize, align.max(1) as usize).unwrap();
    // SAFETY: nonzero size.
    unsafe { alloc(layout) as u32 }
}

thread_local! {
    /// How many runs this thread made: thread-local storage in use (each instance its own).
    static RUNS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs the work of `work.rs` (Vec, String, Box, BTreeMap, sorting; it traps on any corrupted
/// byte) and returns its checksum: tests/threads_example.rs compiles the same file natively and
/// compares.
#[no_mangle]
pub extern "C" fn run(rounds: u32, seed: u32) -> u64 {
    RUNS.with(|r| r.set(r.get() + 1));
    work::run(rounds, seed)
}

/// How many times this instance (thread) called [`run`].
#[no_mangle]
pub extern "C" fn runs() -> u32 {
    RUNS.with(|r| r.get())
}

/// Walks wall-e's heap (under its lock, the calling thread's cache too): the number of used
/// blocks, or -1 if an invariant is broken.
#[no_mangle]
pub extern "C" fn heap_check() -> i32 {
    heap_stat(0)
}

/// One figure of a heap walk (`WallE::validate`): 0 used blocks, 1 cached blocks (freed, held
/// by a thread's cache or the heap's: neither used nor free), 2 free blocks, 3 heap bytes,
/// 4 used bytes, 5 cached bytes; -1 if an invariant is broken.
#[no_mangle]
pub extern "C" fn heap_stat(which: u32) -> i32 {
    scenarios::heap_figure(&A, which)
}

/// Frees a block of this layout: the host frees an ended thread's stack and TLS block through
/// another thread, as wasm-bindgen's `__wbindgen_thread_destroy` may (a thread cannot free the
/// stack it runs on).
#[no_mangle]
pub extern "C" fn free_block(ptr: u32, size: u32, align: u32) {
    let layout = Layout::from_size_align(size.max(1) as usize, align.max(1) as usize).unwrap();
    // SAFETY: the host passes a block it allocated with this layout (`thread_stack`,
    // `thread_tls`) and never uses again.
    unsafe { dealloc(ptr as usize as *mut u8, layout) }
}

/// Hands this thread's cache back to the heap (`WallE::release_thread_cache`): a thread about
/// to end.
#[no_mangle]
pub extern "C" fn release_thread_cache() {
    A.release_thread_cache();
}

/// Gives the blocks of the heap's own cache (behind the lock) back, where they merge
/// (`WallE::flush_cache`): the heap walk then counts only the threads' caches as cached.
#[no_mangle]
pub extern "C" fn flush_cache() {
    A.flush_cache();
}

/// [`scenarios::stress`]: `ops` random operations, blocks swapped with other threads.
#[no_mangle]
pub extern "C" fn stress(me: u32, seed: u32, ops: u32) -> u64 {
    scenarios::stress(me, seed, ops)
}

/// [`scenarios::drain`]: frees what the stress left in the exchange.
#[no_mangle]
pub extern "C" fn drain() -> u32 {
    scenarios::drain()
}

/// [`scenarios::storm`]: the cross-thread free storm.
#[no_mangle]
pub extern "C" fn storm(me: u32, threads: u32, rounds: u32, batch: u32) -> u32 {
    scenarios::storm(me, threads, rounds, batch)
}

/// [`scenarios::hand_over`]: frees what the thread before left, leaves `count` blocks.
#[no_mangle]
pub extern "C" fn hand_over(me: u32, count: u32) -> u32 {
    scenarios::hand_over(me, count)
}

/// [`scenarios::fill_cache`]: `count` small blocks allocated and freed.
#[no_mangle]
pub extern "C" fn fill_cache(count: u32) {
    scenarios::fill_cache(count)
}

/// [`scenarios::churn`]: small-object churn, for the timing run.
#[no_mangle]
pub extern "C" fn churn(seed: u32, steps: u32, live: u32) -> u64 {
    scenarios::churn(seed, steps, live)
}
