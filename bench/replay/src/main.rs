//! talc's random actions (bench/rust/src/workloads.rs, `random_actions`) replayed natively over
//! `Heap<HostMemory, P>` with the calls `WallE` makes (`allocate_aligned`, `deallocate_sized`,
//! `reallocate_sized`), the same generator and seed, so the heap sees the same requests as the
//! wasm benchmark's. It does not touch the blocks (the benchmark writes and reads two bytes of
//! each), and `HostMemory` bounds-checks every access (about 13% of the instructions counted),
//! so its figures rank paths and policies; they are not the wasm figures.
//!
//! ```sh
//! cargo build --release --manifest-path bench/replay/Cargo.toml
//! R=bench/replay/target/release/replay
//! $R 20 [small] [realloc]                      # ns/op, moves, pages (noisy on a shared machine)
//! valgrind --tool=callgrind --branch-sim=yes $R 1 [small] [realloc]
//! callgrind_annotate --inclusive=yes --tree=calling callgrind.out.<pid>
//! STATS=1 $R 3                                 # the heap walk's counts before each run's frees
//! SEED=7 $R 3                                  # another sequence (the benchmark's by default)
//! $R churn 400000 [small]                       # bench/rust's churn instead: N steps
//! ```
//!
//! `churn`: the workload `churn` (10,000 live objects of 16-1,024 B, align 8; each step frees
//! a random one and allocates one of a new random size), the same generator and seed.

use wall_e::{Fast, Heap, HostMemory, Policy, Small};

/// The generator's seed: the benchmark's, or `SEED=n` (another sequence of the same kind, to
/// tell a change's effect from the luck of one sequence's placements).
fn seed(benchmark: u64) -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(benchmark)
}

/// bench/rust/src/rng.rs, the same sequence.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }

    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }
}

/// Successful actions per run, the minimum live set and the room for it, as in workloads.rs.
const ACTIONS: u32 = 100_000;
const MIN_LIVE: usize = 50;
const MAX_LIVE: usize = 8_192;

/// `runs` runs of `ACTIONS` actions; returns how many reallocations moved their block.
#[inline(never)]
fn run<P: Policy>(heap: &mut Heap<HostMemory, P>, runs: u32, with_realloc: bool) -> u64 {
    let mut rng = Rng(seed(0x7A1C));
    let mut blocks = vec![(0u32, 0u32, 0u32); MAX_LIVE];
    let choices = if with_realloc { 5 } else { 4 };
    let mut moves = 0;
    for _ in 0..runs {
        let mut live = 0usize;
        for _ in 0..ACTIONS {
            let choice = rng.below(choices);
            if live < MIN_LIVE || choice < 2 {
                let size = rng.between(1, 10_000);
                let align = 8u32 << ((rng.next_u64() as u16).trailing_zeros() / 2);
                let p = heap.allocate_aligned(size, align);
                assert!(p != 0 && p.is_multiple_of(align) && live < MAX_LIVE);
                blocks[live] = (p, size, align);
                live += 1;
            } else if choice < 4 {
                let i = rng.below(live as u32) as usize;
                heap.deallocate_sized(blocks[i].0, blocks[i].1);
                live -= 1;
                blocks[i] = blocks[live];
            } else {
                let i = rng.below(live as u32) as usize;
                let (p, size, align) = blocks[i];
                let new_size = rng.between(1, 10_000);
                let q = heap.reallocate_sized(p, size, new_size, align);
                assert!(q != 0 && q.is_multiple_of(align));
                moves += (q != p) as u64;
                blocks[i] = (q, new_size, align);
            }
        }
        stats(heap, &format!("live {live}: "));
        for &(p, size, _) in &blocks[..live] {
            heap.deallocate_sized(p, size);
        }
    }
    moves
}

/// With `STATS` set: the heap walk's counts, after `what`.
fn stats<P: Policy>(heap: &Heap<HostMemory, P>, what: &str) {
    if std::env::var_os("STATS").is_some() {
        let s = heap.validate().expect("a valid heap");
        eprintln!(
            "{what}used {} blocks / {} B, free {} / {} B, cached {} / {} B, heap {} B",
            s.used_blocks,
            s.used_bytes,
            s.free_blocks,
            s.free_bytes,
            s.cached_blocks,
            s.cached_bytes,
            s.heap_bytes
        );
    }
}

/// bench/rust's `churn`: `setup_churn`, then `steps` steps; returns the sum of the addresses.
#[inline(never)]
fn churn<P: Policy>(heap: &mut Heap<HostMemory, P>, steps: u32) -> u64 {
    const LIVE: usize = 10_000;
    let mut rng = Rng(seed(0xC4_0122));
    let mut blocks = vec![(0u32, 0u32); LIVE];
    for block in blocks.iter_mut() {
        let size = rng.between(16, 1024);
        let p = heap.allocate_aligned(size, 8);
        assert!(p != 0);
        *block = (p, size);
    }
    let mut sum = 0u64;
    for _ in 0..steps {
        let i = rng.below(LIVE as u32) as usize;
        let (p, size) = blocks[i];
        let new_size = rng.between(16, 1024);
        heap.deallocate_sized(p, size);
        let q = heap.allocate_aligned(new_size, 8);
        assert!(q != 0);
        sum += q as u64;
        blocks[i] = (q, new_size);
    }
    stats(heap, "");
    sum
}

/// `make bench`'s "mixed sizes" row (bench/driver.wat's `churn` with `log`: 2,000 live blocks
/// of 2^k + [0, 2^k) bytes, k uniform in [0, 14)), through the raw calls (`allocate`,
/// `deallocate` with no size), its generator (an LCG from `seed`); returns the peak of live
/// bytes.
#[inline(never)]
fn mixed<P: Policy>(heap: &mut Heap<HostMemory, P>, steps: u32, seed: u64) -> u64 {
    const LIVE: usize = 2_000;
    let mut rng = seed;
    let mut below = |n: u32| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (((rng >> 32) as u32 as u64 * n as u64) >> 32) as u32
    };
    let pick = |below: &mut dyn FnMut(u32) -> u32| {
        let p = 1u32 << below(14);
        p + below(p)
    };
    let (mut live, mut peak) = (0u64, 0u64);
    let mut blocks = vec![(0u32, 0u32); LIVE];
    for block in blocks.iter_mut() {
        let size = pick(&mut below);
        let p = heap.allocate(size);
        assert!(p != 0);
        *block = (p, size);
        live += size as u64;
    }
    peak = peak.max(live);
    for _ in 0..steps {
        let i = below(LIVE as u32) as usize;
        heap.deallocate(blocks[i].0);
        live -= blocks[i].1 as u64;
        let size = pick(&mut below);
        let p = heap.allocate(size);
        assert!(p != 0);
        blocks[i] = (p, size);
        live += size as u64;
        peak = peak.max(live);
    }
    stats(heap, "");
    for &(p, _) in &blocks {
        heap.deallocate(p);
    }
    peak
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "mixed") {
        let steps: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(50_000);
        let memory = HostMemory::new(1, 4096, 1024);
        let (peak, pages) = if args.iter().any(|a| a == "small") {
            let mut heap: Heap<HostMemory, Small> = Heap::new(memory);
            (mixed(&mut heap, steps, 1), heap.source().pages())
        } else {
            let mut heap: Heap<HostMemory, Fast> = Heap::new(memory);
            (mixed(&mut heap, steps, 1), heap.source().pages())
        };
        println!(
            "mixed steps={steps}: {pages} pages, peak live {peak} B, efficiency {:.0}%",
            peak as f64 * 100.0 / (pages as f64 * 65536.0)
        );
        return;
    }
    if args.iter().any(|a| a == "churn") {
        let steps: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(400_000);
        let memory = HostMemory::new(1, 4096, 1024);
        let start = std::time::Instant::now();
        let (sum, pages) = if args.iter().any(|a| a == "small") {
            let mut heap: Heap<HostMemory, Small> = Heap::new(memory);
            (churn(&mut heap, steps), heap.source().pages())
        } else {
            let mut heap: Heap<HostMemory, Fast> = Heap::new(memory);
            (churn(&mut heap, steps), heap.source().pages())
        };
        let ns = start.elapsed().as_nanos() as f64 / steps as f64;
        println!("churn steps={steps}: {ns:.1} ns/step, {pages} pages (sum {sum})");
        return;
    }
    let small = args.iter().any(|a| a == "small");
    let realloc = args.iter().any(|a| a == "realloc");
    let runs: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    // 256 MiB of host buffer at most; the heap starts past 1 KiB, as a module's data would.
    let memory = HostMemory::new(1, 4096, 1024);
    let start = std::time::Instant::now();
    let (moves, pages) = if small {
        let mut heap: Heap<HostMemory, Small> = Heap::new(memory);
        (run(&mut heap, runs, realloc), heap.source().pages())
    } else {
        let mut heap: Heap<HostMemory, Fast> = Heap::new(memory);
        (run(&mut heap, runs, realloc), heap.source().pages())
    };
    let ns = start.elapsed().as_nanos() as f64 / (runs as f64 * ACTIONS as f64);
    println!(
        "{} realloc={realloc} runs={runs}: {ns:.1} ns/op, {moves} moves, {pages} pages",
        if small { "Small" } else { "Fast" }
    );
}
