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
//! $R strings [small]                            # make bench's string building, bench/run's 7 seeds: pages
//! $R mixed [seeds=N | seed=S] [quiet] [small]   # make bench's mixed sizes: pages per seed, median, mean
//! TRACE=1 ONE=1 $R strings                      # the heap walk's counts (and map) at each growth
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

/// bench/driver.wat's generator (a 64-bit LCG; its high half), for the `make bench` rows.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, n), as the driver's `$below`.
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (((self.0 >> 32) as u32 as u64 * n as u64) >> 32) as u32
    }
}

/// With `TRACE` set, what grew memory (`what`, at `step`) and the heap then, `show`n, whenever
/// the heap's pages differ from `pages` (which it updates).
fn trace_growth<P: Policy>(
    heap: &Heap<HostMemory, P>,
    pages: &mut u32,
    step: u32,
    what: &dyn Fn() -> String,
    live: u64,
    show: fn(&Heap<HostMemory, P>),
) {
    if std::env::var_os("TRACE").is_some() && heap.source().pages() != *pages {
        *pages = heap.source().pages();
        eprintln!("step {step}: {}; now {pages} pages, live {live} B", what());
        show(heap);
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
    let mut driver = Lcg(seed);
    let mut below = |n: u32| driver.below(n);
    let pick = |below: &mut dyn FnMut(u32) -> u32| {
        let p = 1u32 << below(14);
        p + below(p)
    };
    let (mut live, mut peak) = (0u64, 0u64);
    // The driver's slot table (`setup`), allocated first.
    let table = heap.allocate(LIVE as u32 * 8);
    assert!(table != 0);
    let mut blocks = vec![(0u32, 0u32); LIVE];
    for block in blocks.iter_mut() {
        let size = pick(&mut below);
        let p = heap.allocate(size);
        assert!(p != 0);
        *block = (p, size);
        live += size as u64;
    }
    peak = peak.max(live);
    let mut pages = heap.source().pages();
    for step in 0..steps {
        let i = below(LIVE as u32) as usize;
        heap.deallocate(blocks[i].0);
        live -= blocks[i].1 as u64;
        let size = pick(&mut below);
        let p = heap.allocate(size);
        assert!(p != 0);
        blocks[i] = (p, size);
        live += size as u64;
        peak = peak.max(live);
        trace_growth(
            heap,
            &mut pages,
            step,
            &|| format!("allocate {size}"),
            live,
            summary,
        );
    }
    stats(heap, "");
    for &(p, _) in &blocks {
        heap.deallocate(p);
    }
    heap.deallocate(table);
    peak
}

/// `make bench`'s "string building" row (bench/driver.wat's `grow` without doubling: 64
/// strings of 1-16 bytes, each step appends 1-16 bytes to a random one with `reallocate`, a
/// string past its limit (64-4,096 B, drawn anew each time) is freed and started again),
/// through the raw calls, the driver's slot table allocated first (`setup`), its generator
/// seeded as `bench/run`'s repetition `rep`. With `TRACE` set: the heap walk's counts and map
/// at each growth of memory.
#[inline(never)]
fn strings<P: Policy>(heap: &mut Heap<HostMemory, P>, steps: u32, seed: u64) -> u64 {
    const N: u32 = 64;
    let mut driver = Lcg(seed);
    let mut below = |n: u32| driver.below(n);
    let table = heap.allocate(2 * N * 8);
    assert!(table != 0);
    let mut blocks = vec![(0u32, 0u32); N as usize];
    let mut limits = vec![0u32; N as usize];
    let (mut live, mut peak) = (0u64, 0u64);
    for i in 0..N as usize {
        let size = 1 + below(16);
        blocks[i] = (heap.allocate(size), size);
        live += size as u64;
        limits[i] = 64 + below(4096 - 64 + 1);
    }
    let mut pages = heap.source().pages();
    for step in 0..steps {
        let i = below(N) as usize;
        let (p, size) = blocks[i];
        let next = size + 1 + below(16);
        let what;
        if next > limits[i] {
            heap.deallocate(p);
            live -= size as u64;
            let old = size;
            let size = 1 + below(16);
            blocks[i] = (heap.allocate(size), size);
            live += size as u64;
            limits[i] = 64 + below(4096 - 64 + 1);
            what = format!("new {size} (freed {old} at {p})");
        } else {
            let q = heap.reallocate(p, next);
            assert!(q != 0);
            blocks[i] = (q, next);
            live += (next - size) as u64;
            what = format!("realloc {p} {size} -> {next}: {q}");
        }
        peak = peak.max(live);
        trace_growth(heap, &mut pages, step, &|| what.clone(), live, map);
    }
    stats(heap, "");
    for &(p, _) in &blocks {
        heap.deallocate(p);
    }
    heap.deallocate(table);
    peak
}

/// The heap walk's counts (`TRACE`).
fn summary<P: Policy>(heap: &Heap<HostMemory, P>) {
    let s = heap.validate().expect("a valid heap");
    let mut out = vec![wall_e::Span::default(); 8192];
    let (n, _) = heap.blocks(0, &mut out).expect("blocks");
    let slack: u64 = out[..n]
        .iter()
        .filter(|s| s.kind == 0)
        .map(|s| (s.size - s.logical) as u64)
        .sum();
    eprintln!("  slack in used blocks {slack} B");
    eprintln!(
        "  used {} blocks / {} B, free {} / {} B (largest {}), cached {} / {} B, heap {} B, top room {}",
        s.used_blocks,
        s.used_bytes,
        s.free_blocks,
        s.free_bytes,
        s.largest_free,
        s.cached_blocks,
        s.cached_bytes,
        s.heap_bytes,
        s.top_room
    );
}

/// The heap's blocks, one line each (`TRACE`).
fn map<P: Policy>(heap: &Heap<HostMemory, P>) {
    let s = heap.validate().expect("a valid heap");
    eprintln!(
        "  used {} blocks / {} B, free {} / {} B, cached {} / {} B, heap {} B, top room {}",
        s.used_blocks,
        s.used_bytes,
        s.free_blocks,
        s.free_bytes,
        s.cached_blocks,
        s.cached_bytes,
        s.heap_bytes,
        s.top_room
    );
    let mut out = vec![wall_e::Span::default(); 4096];
    let (n, _) = heap.blocks(0, &mut out).expect("blocks");
    let mut line = String::new();
    for s in &out[..n] {
        let k = match s.kind {
            0 => "U",
            1 => "F",
            2 => "S",
            3 => "M",
            4 => "R",
            _ => "C",
        };
        line.push_str(&format!(" {k}{}", s.size));
    }
    eprintln!(" {line}");
}

/// Runs `$e` over a fresh heap named `$heap` of the policy `args` ask for (`small`: `Small`,
/// else `Fast`) and returns its result with the heap's pages after it. The host memory holds
/// 256 MiB at most, and the heap starts past 1 KiB, as a module's data would.
macro_rules! on_policy {
    ($args:expr, $heap:ident => $e:expr) => {{
        let memory = HostMemory::new(1, 4096, 1024);
        if $args.iter().any(|a| a == "small") {
            let mut $heap: Heap<HostMemory, Small> = Heap::new(memory);
            ($e, $heap.source().pages())
        } else {
            let mut $heap: Heap<HostMemory, Fast> = Heap::new(memory);
            ($e, $heap.source().pages())
        }
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "strings") {
        let steps: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(800_000);
        for rep in 0..7u64 {
            let seed = 0x5EED_F00D + rep;
            let (peak, pages) = on_policy!(args, heap => strings(&mut heap, steps, seed));
            println!("strings steps={steps} rep {rep}: {pages} pages, peak live {peak} B");
            if std::env::var_os("ONE").is_some() {
                break;
            }
        }
        return;
    }
    if args.iter().any(|a| a == "mixed") {
        let steps: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(400_000);
        // `bench/run`'s seeds (repetition r: `SEED + r`), or `seed=N`.
        let seeds: Vec<u64> = match args.iter().find_map(|a| a.strip_prefix("seed=")) {
            Some(n) => vec![n.parse().expect("seed=N")],
            None => {
                let n = args
                    .iter()
                    .find_map(|a| a.strip_prefix("seeds="))
                    .map_or(7, |n| n.parse().expect("seeds=N"));
                (0..n).map(|r| 0x5EED_F00D + r).collect()
            }
        };
        let quiet = args.iter().any(|a| a == "quiet");
        let mut all = Vec::new();
        for seed in seeds {
            let (peak, pages) = on_policy!(args, heap => mixed(&mut heap, steps, seed));
            if !quiet {
                println!(
                    "mixed steps={steps} seed={seed:#x}: {pages} pages, peak live {peak} B, efficiency {:.0}%",
                    peak as f64 * 100.0 / (pages as f64 * 65536.0)
                );
            }
            all.push(pages);
        }
        let mean = all.iter().sum::<u32>() as f64 / all.len() as f64;
        let first7: Vec<u32> = all.iter().take(7).copied().collect();
        let mut m7 = first7.clone();
        m7.sort();
        all.sort();
        println!(
            "median {} pages, mean {mean:.2} over {} seeds; bench/run's 7: {first7:?} median {}",
            all[all.len() / 2],
            all.len(),
            m7[m7.len() / 2]
        );
        return;
    }
    if args.iter().any(|a| a == "churn") {
        let steps: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(400_000);
        let start = std::time::Instant::now();
        let (sum, pages) = on_policy!(args, heap => churn(&mut heap, steps));
        let ns = start.elapsed().as_nanos() as f64 / steps as f64;
        println!("churn steps={steps}: {ns:.1} ns/step, {pages} pages (sum {sum})");
        return;
    }
    let small = args.iter().any(|a| a == "small");
    let realloc = args.iter().any(|a| a == "realloc");
    let runs: u32 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    let start = std::time::Instant::now();
    let (moves, pages) = on_policy!(args, heap => run(&mut heap, runs, realloc));
    let ns = start.elapsed().as_nanos() as f64 / (runs as f64 * ACTIONS as f64);
    println!(
        "{} realloc={realloc} runs={runs}: {ns:.1} ns/op, {moves} moves, {pages} pages",
        if small { "Small" } else { "Fast" }
    );
}
