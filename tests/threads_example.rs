//! `examples/threads`, a threaded Rust wasm program (std rebuilt with atomics, one shared memory)
//! with wall-e as its `#[global_allocator]`, run on several wasmtime threads at once: each thread
//! is an instance of the module over the same `SharedMemory`, given its own shadow stack and TLS
//! block (allocated through wall-e by the new instance, before its TLS is set), as the harness
//! in `examples/threads/host.rs` does.
//!
//! - Vec/String/Box/BTreeMap work whose checksum must equal the same code's
//!   (`examples/threads/src/work.rs`) run natively, with heap walks between runs;
//! - `WallE`'s per-thread caches (docs/threads.md; the scenarios in
//!   `examples/threads/src/scenarios.rs`, every block patterned and checked wherever it goes):
//!   the random stress with blocks swapped between threads, a cross-thread free storm, 100
//!   threads that end in turn with live blocks the next one frees (a quarter of them hand their
//!   cache back), and a thread's cache seen by the heap walk and handed back.
//!
//! The test builds the example itself (`cargo +nightly build --release` in `examples/threads`,
//! target dir `target/examples-threads`; a no-op when nothing changed). It needs nightly with
//! `rust-src` (scripts/setup.sh installs both). `WALL_E_THREADS_EXAMPLE_WASM` points it at a
//! module built elsewhere.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs wasmtime

#[path = "../examples/threads/src/work.rs"]
mod work;

#[path = "../examples/threads/host.rs"]
mod host;

use host::{build, load, Build, Thread};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{Module, SharedMemory, Val};

const THREADS: u32 = 3;
const RUNS: u32 = 20;
const ROUNDS: u32 = 40;

/// The most bytes a thread's cache holds (`ThreadCache::BOUND` of src/per_thread.rs's `Cache`:
/// the bins of 8–64 bytes, 1,024 blocks each, and the 13 bins of 72–272 bytes, two sizes
/// each, 64 blocks each, headers included): what a thread that ends without handing its cache
/// back leaves behind.
const CACHE_BOUND: u64 = {
    let mut bytes = 0;
    let mut eff = 8;
    while eff <= 64 {
        bytes += (eff + 8) * 1024;
        eff += 8;
    }
    // The largest size of each bin above: 80, 96, …, 272.
    let mut eff = 80;
    while eff <= 272 {
        bytes += (eff + 8) * 64;
        eff += 16;
    }
    bytes
};
/// Caches in `WallE`'s pool: threads beyond them work through the lock.
const SLOTS: u64 = 64;

/// Runs `each(thread, t)` on `n` threads at once, each a new instance set up first; returns
/// the threads (their instances, to be checked and ended by the caller) once all are done.
fn on_threads(
    module: &Module,
    memory: &SharedMemory,
    n: u32,
    each: impl Fn(&mut Thread, u32) + Send + Sync + 'static,
) -> Vec<Thread> {
    let setup = Arc::new(Mutex::new(()));
    let each = Arc::new(each);
    let (done, results) = mpsc::channel();
    for t in 0..n {
        let (module, memory, setup, done, each) = (
            module.clone(),
            memory.clone(),
            setup.clone(),
            done.clone(),
            each.clone(),
        );
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut thread = Thread::new(&module, &memory, &setup);
                each(&mut thread, t);
                thread
            }));
            let _ = done.send((t, result.map_err(|_| ())));
        });
    }
    let mut threads: Vec<Option<Thread>> = (0..n).map(|_| None).collect();
    for _ in 0..n {
        match results.recv_timeout(Duration::from_secs(600)) {
            Ok((t, Ok(thread))) => threads[t as usize] = Some(thread),
            Ok((t, Err(()))) => panic!("thread {t} failed"),
            Err(_) => panic!("threads still running after 600 s: deadlock?"),
        }
    }
    threads.into_iter().map(Option::unwrap).collect()
}

/// After a scenario: every thread hands its cache back and a new thread frees their stacks and
/// TLS blocks; then the heap walk must find only that thread's own two blocks live and no block
/// cached anywhere (every thread's cache was handed back, its own too, and the heap's own cache
/// of blocks freed under the lock flushed).
fn end_all(module: &Module, memory: &SharedMemory, threads: Vec<Thread>) -> Thread {
    let mut last = Thread::new(module, memory, &Mutex::new(()));
    for mut t in threads {
        t.call("release_thread_cache", &[]);
        last.free_thread(&t);
    }
    last.call("release_thread_cache", &[]);
    last.call("flush_cache", &[]);
    assert_eq!(
        last.stat(0),
        2,
        "live blocks: the last thread's stack and TLS"
    );
    assert_eq!(
        last.stat(1),
        0,
        "cached blocks after every cache was handed back"
    );
    last
}

#[test]
fn threads_share_wall_e_as_global_allocator() {
    let (module, memory) = load(&build(Build::Caches), 16_384);
    let began = Instant::now();
    let sums = Arc::new(Mutex::new(vec![Vec::new(); THREADS as usize]));
    let out = sums.clone();
    let threads = on_threads(&module, &memory, THREADS, move |thread, t| {
        let mut mine = Vec::new();
        for i in 0..RUNS {
            mine.push(thread.call64(
                "run",
                &[Val::I32(ROUNDS as i32), Val::I32((t * 100 + i) as i32)],
            ));
            // A heap walk between runs, under the lock, while the others allocate.
            assert!(
                thread.call("heap_check", &[]) as i32 >= 0,
                "heap walk failed in thread {t}"
            );
        }
        assert_eq!(
            thread.call("runs", &[]),
            RUNS,
            "thread-local counter of thread {t}"
        );
        out.lock().unwrap()[t as usize] = mine;
    });
    eprintln!(
        "{THREADS} threads x {RUNS} runs of {ROUNDS} rounds in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    let sums = sums.lock().unwrap();
    for t in 0..THREADS {
        for i in 0..RUNS {
            assert_eq!(
                sums[t as usize][i as usize],
                work::run(ROUNDS, t * 100 + i),
                "thread {t}, run {i}: the wasm checksum differs from the native one"
            );
        }
    }
    // The heap is intact and holds only the stacks and TLS blocks (2 a thread); the threads'
    // caches hold blocks, which the walk counts as cached, not used.
    let mut last = Thread::new(&module, &memory, &Mutex::new(()));
    assert_eq!(
        last.stat(0),
        2 * (THREADS + 1),
        "live blocks: stacks and TLS blocks only"
    );
    assert!(last.stat(1) > 0, "the threads' caches hold blocks");
    let mut threads = threads;
    threads.push(last);
    end_all(&module, &memory, threads);
}

#[test]
fn stress_with_patterns_swapped_between_threads() {
    const N: u32 = 4;
    const OPS: u32 = 150_000;
    let (module, memory) = load(&build(Build::Caches), 16_384);
    let began = Instant::now();
    let threads = on_threads(&module, &memory, N, |thread, t| {
        let checked = thread.call64(
            "stress",
            &[Val::I32(t as i32), Val::I32(7), Val::I32(OPS as i32)],
        );
        assert!(checked > 0);
    });
    let mut last = Thread::new(&module, &memory, &Mutex::new(()));
    let left = last.call("drain", &[]);
    eprintln!(
        "stress: {N} threads x {OPS} operations in {:.1} s, {left} blocks left in the exchange",
        began.elapsed().as_secs_f64()
    );
    assert!(left > 0, "blocks travelled between threads");
    last.call("release_thread_cache", &[]);
    let mut threads = threads;
    threads.push(last);
    end_all(&module, &memory, threads);
}

#[test]
fn cross_thread_free_storm_every_block_freed_by_another_thread() {
    const N: u32 = 4;
    const ROUNDS: u32 = 100;
    const BATCH: u32 = 256;
    let (module, memory) = load(&build(Build::Caches), 16_384);
    let began = Instant::now();
    let threads = on_threads(&module, &memory, N, |thread, t| {
        let freed = thread.call(
            "storm",
            &[
                Val::I32(t as i32),
                Val::I32(N as i32),
                Val::I32(ROUNDS as i32),
                Val::I32(BATCH as i32),
            ],
        );
        assert_eq!(
            freed,
            ROUNDS * BATCH,
            "thread {t}: blocks received and freed"
        );
        assert!(thread.call("heap_check", &[]) as i32 >= 0);
    });
    eprintln!(
        "free storm: {} blocks in {:.1} s",
        N * ROUNDS * BATCH,
        began.elapsed().as_secs_f64()
    );
    end_all(&module, &memory, threads);
}

#[test]
fn threads_that_end_leave_live_blocks_that_others_free_later() {
    const N: u32 = 100;
    const LEAVE: u32 = 50;
    let (module, memory) = load(&build(Build::Caches), 16_384);
    let setup = Mutex::new(());
    let mut before: Option<Thread> = None;
    let mut first_pages = 0;
    let mut abandoned = 0u64;
    for i in 0..N {
        let mut t = Thread::new(&module, &memory, &setup);
        let freed = t.call("hand_over", &[Val::I32(i as i32), Val::I32(LEAVE as i32)]);
        assert_eq!(freed, if i == 0 { 0 } else { LEAVE }, "thread {i}");
        // A quarter hand their cache back; the others end without (terminated workers).
        if i % 4 == 1 {
            t.call("release_thread_cache", &[]);
        } else {
            abandoned += 1;
        }
        if let Some(ended) = before.take() {
            t.free_thread(&ended);
        }
        assert!(
            t.call("heap_check", &[]) as i32 >= 0,
            "heap walk after thread {i}"
        );
        if i == 0 {
            first_pages = memory.data_size() / 65_536;
        }
        before = Some(t);
    }
    let mut last = Thread::new(&module, &memory, &setup);
    assert_eq!(
        last.call("hand_over", &[Val::I32(N as i32), Val::I32(0)]),
        LEAVE
    );
    last.free_thread(&before.take().unwrap());
    last.call("release_thread_cache", &[]);
    let pages = memory.data_size() / 65_536;
    // What stays: at most one cache per abandoned slot (64 slots: the threads beyond them had no
    // cache), and nothing else: the last thread's stack and TLS are the only live blocks.
    let bound = first_pages as u64 + 1 + (abandoned.min(SLOTS) * CACHE_BOUND).div_ceil(65_536);
    eprintln!(
        "{N} threads in turn ({abandoned} without handing their cache back): {first_pages} pages \
         after the first, {pages} after all (bound {bound}); {} blocks cached",
        last.stat(1)
    );
    assert!(
        pages as u64 <= bound,
        "memory grew beyond the abandoned caches' bound"
    );
    assert_eq!(
        last.stat(0),
        2,
        "live blocks: the last thread's stack and TLS"
    );
}

#[test]
fn a_thread_hands_its_cache_back_and_the_walk_sees_it() {
    let (module, memory) = load(&build(Build::Caches), 16_384);
    let mut t = Thread::new(&module, &memory, &Mutex::new(()));
    t.call("release_thread_cache", &[]);
    assert_eq!(
        (t.stat(0), t.stat(1)),
        (2, 0),
        "its stack and TLS, nothing cached"
    );
    // (A large block may leave a free gap in front of it, off a page edge: heap.rs.)
    let (heap, free) = (t.stat(3), t.stat(2));
    // 1,000 blocks of 8–256 B freed: they sit in the thread's cache (up to 64 a size), cached
    // to the walk, not used and not free; the walk checks the cache itself too.
    t.call("fill_cache", &[Val::I32(1_000)]);
    let cached = t.stat(1);
    assert!(cached >= 32 * 20, "blocks in the thread's cache: {cached}");
    assert_eq!(t.stat(0), 2, "cached blocks are not used");
    // Handed back: every block merges, and the heap is back at its bump pointer.
    t.call("release_thread_cache", &[]);
    t.call("flush_cache", &[]);
    assert_eq!(
        (t.stat(0), t.stat(1), t.stat(2)),
        (2, 0, free),
        "used, cached, free blocks after the hand-back"
    );
    assert!(t.stat(3) >= heap);
    // The thread goes on: its next small allocation takes a slot again.
    t.call("fill_cache", &[Val::I32(100)]);
    assert!(t.stat(1) > 0);
    t.call("release_thread_cache", &[]);
    t.call("flush_cache", &[]);
    assert_eq!((t.stat(0), t.stat(1), t.stat(2)), (2, 0, free));
}
