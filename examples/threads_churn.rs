//! A timing run, not a test: `WallE` in a threaded Rust program (`examples/threads`, on wasmtime
//! threads) with its per-thread caches, against the same program built with the lock alone
//! (`--cfg wall_e_lock_only`), in the same run. `cargo run --example threads_churn [reps]`
//! (it builds both variants of the example first: the lock-only one takes a few minutes once).
//!
//! The work is small-object churn (`scenarios::churn`: live boxes of 1–64 bytes, each step
//! replacing a random one: one `alloc` and one `dealloc`). **Uncontended:** one thread does it
//! all. **2 threads:** the same total work split over two threads at once on one heap (each
//! half the steps over half the live boxes), wall time from the first start to the last end.
//! Each thread is set up and warmed (a tenth of its share) before a barrier; medians of `reps`
//! (default 5), the two builds alternating. **The ceiling:** 2 threads, each on a memory and
//! heap of its own (nothing shared), the caches' build: what the machine allows at that moment.
//! Figures from a shared machine move with its load: compare within one run.

#[cfg(not(target_arch = "wasm32"))]
#[path = "threads/host.rs"]
mod host;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use host::{build, load, Build, Thread};
    use std::sync::{Arc, Barrier, Mutex};
    use std::time::Instant;
    use wasmtime::Val;

    const STEPS: u32 = 2_000_000;
    const LIVE: u32 = 10_000;

    let reps: usize = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("reps: a number"));
    let builds = [Build::Caches, Build::LockOnly];
    let wasm: Vec<_> = builds.iter().map(|&b| build(b)).collect();

    // Wall ns per step of `threads` threads sharing STEPS steps over LIVE live boxes; with
    // `apart`, each thread on a memory (a heap) of its own: nothing shared, the machine's
    // ceiling.
    let run = |which: usize, threads: u32, apart: bool| -> f64 {
        let (module, memory) = load(&wasm[which], 16_384);
        let barrier = Arc::new(Barrier::new(threads as usize));
        let setup = Arc::new(Mutex::new(()));
        let spans: Vec<_> = (0..threads)
            .map(|t| {
                let (module, memory) = match apart {
                    false => (module.clone(), memory.clone()),
                    true => load(&wasm[which], 16_384),
                };
                let (barrier, setup) = (barrier.clone(), setup.clone());
                std::thread::spawn(move || {
                    let mut thread = Thread::new(&module, &memory, &setup);
                    let (steps, live) = (STEPS / threads, LIVE / threads);
                    let args = |seed: u32, steps: u32| {
                        [
                            Val::I32(seed as i32),
                            Val::I32(steps as i32),
                            Val::I32(live as i32),
                        ]
                    };
                    thread.call64("churn", &args(t + 100, steps / 10));
                    barrier.wait();
                    let start = Instant::now();
                    thread.call64("churn", &args(t, steps));
                    (start, Instant::now())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("a thread failed"))
            .collect();
        let first = spans.iter().map(|s| s.0).min().unwrap();
        let last = spans.iter().map(|s| s.1).max().unwrap();
        (last - first).as_nanos() as f64 / STEPS as f64
    };

    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut figures = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    let mut ceiling = Vec::new();
    for _ in 0..reps {
        for (which, per) in figures.iter_mut().enumerate() {
            for (i, threads) in [1, 2].into_iter().enumerate() {
                per[i].push(run(which, threads, false));
            }
        }
        ceiling.push(run(0, 2, true));
    }
    let f = figures.map(|per| per.map(median));
    let ceiling = median(ceiling);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "small-object churn (1–64 B, {LIVE} live, {STEPS} steps), wall ns per step \
         (alloc + dealloc), medians of {reps}; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("| | WallE with caches | WallE, lock alone | caches ÷ lock |");
    println!("|---|--:|--:|--:|");
    println!(
        "| 1 thread (uncontended) | {:.1} | {:.1} | ×{:.2} |",
        f[0][0],
        f[1][0],
        f[0][0] / f[1][0]
    );
    println!(
        "| 2 threads, same total work | {:.1} | {:.1} | ×{:.2} |",
        f[0][1],
        f[1][1],
        f[0][1] / f[1][1]
    );
    println!(
        "| throughput, 2 threads ÷ 1 | ×{:.2} | ×{:.2} | |",
        f[0][0] / f[0][1],
        f[1][0] / f[1][1]
    );
    println!(
        "ceiling (2 threads, a heap each: what the machine allows now): {ceiling:.1} ns, \
         ×{:.2} the throughput of 1",
        f[0][0] / ceiling
    );
}

#[cfg(target_arch = "wasm32")]
fn main() {}
