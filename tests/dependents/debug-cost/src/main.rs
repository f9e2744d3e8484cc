//! Allocation-heavy workloads, timed, for comparing allocators in debug and release builds.
//! One line per workload: `name wall_ms min_wall_ms cpu_ms checksum`: the median wall time
//! (`Instant`), the fastest repetition's wall time and the median thread CPU time (NaN where the
//! platform has no such clock), over a few repetitions.
//! Built and run by scripts/debug-cost.sh for wasm32-wasip1 (it also runs natively).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

#[cfg(feature = "wall-e")]
#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

// The feature `wall-e-shim`: the same static, in the crate debug-cost-shim.
#[cfg(feature = "wall-e-shim")]
use debug_cost_shim as _;

const REPS: usize = 7;
const LIST_NODES: u64 = 1_000_000;
const BOXES: usize = 200_000;

/// A small deterministic generator (xorshift), so every build does the same work.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

struct Node {
    value: u64,
    next: Option<Box<Node>>,
}

/// Builds a 1M-node singly linked list of boxes, sums it, and drops it iteratively.
fn linked_list() -> u64 {
    let mut head: Option<Box<Node>> = None;
    for i in 0..LIST_NODES {
        head = Some(Box::new(Node {
            value: i,
            next: head,
        }));
    }
    let mut sum = 0u64;
    let mut cur = head.as_deref();
    while let Some(n) = cur {
        sum = sum.wrapping_add(n.value);
        cur = n.next.as_deref();
    }
    // Iterative drop: the default recursive drop would overflow the stack.
    let mut cur = head;
    while let Some(mut n) = cur {
        cur = n.next.take();
    }
    sum
}

/// One box of a small size chosen by `k`: 8, 16, 24, 32, 48, 64, 96 or 128 bytes.
enum Small {
    B8(Box<[u8; 8]>),
    B16(Box<[u8; 16]>),
    B24(Box<[u8; 24]>),
    B32(Box<[u8; 32]>),
    B48(Box<[u8; 48]>),
    B64(Box<[u8; 64]>),
    B96(Box<[u8; 96]>),
    B128(Box<[u8; 128]>),
}

impl Small {
    fn new(k: u64) -> Small {
        let b = k as u8;
        match k % 8 {
            0 => Small::B8(Box::new([b; 8])),
            1 => Small::B16(Box::new([b; 16])),
            2 => Small::B24(Box::new([b; 24])),
            3 => Small::B32(Box::new([b; 32])),
            4 => Small::B48(Box::new([b; 48])),
            5 => Small::B64(Box::new([b; 64])),
            6 => Small::B96(Box::new([b; 96])),
            _ => Small::B128(Box::new([b; 128])),
        }
    }

    fn check(&self) -> u64 {
        match self {
            Small::B8(a) => a[7] as u64 + 8,
            Small::B16(a) => a[15] as u64 + 16,
            Small::B24(a) => a[23] as u64 + 24,
            Small::B32(a) => a[31] as u64 + 32,
            Small::B48(a) => a[47] as u64 + 48,
            Small::B64(a) => a[63] as u64 + 64,
            Small::B96(a) => a[95] as u64 + 96,
            Small::B128(a) => a[127] as u64 + 128,
        }
    }
}

fn boxes(seed: u64) -> Vec<Small> {
    let mut rng = Rng(seed);
    let mut v = Vec::with_capacity(BOXES);
    for _ in 0..BOXES {
        v.push(Small::new(rng.next() >> 32));
    }
    v
}

/// Allocates boxes of various small sizes, then frees them newest first.
fn box_lifo() -> u64 {
    let mut v = boxes(0x9E37_79B9_7F4A_7C15);
    let mut sum = 0u64;
    while let Some(b) = v.pop() {
        sum = sum.wrapping_add(b.check());
    }
    sum
}

/// Allocates boxes of various small sizes, then frees them oldest first.
fn box_fifo() -> u64 {
    let v = boxes(0x9E37_79B9_7F4A_7C15);
    let mut sum = 0u64;
    for b in v {
        sum = sum.wrapping_add(b.check());
    }
    sum
}

/// Realistic churn: formatted `String` keys into a `BTreeMap<String, Vec<u32>>` with growing
/// vectors, removals and re-insertions, and a `Vec<String>` built, sorted and dropped per round.
fn map_churn() -> u64 {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut sum = 0u64;
    for round in 0..20u32 {
        for _ in 0..5_000 {
            let r = rng.next();
            let key = format!("key-{:05}", r % 8_000);
            let entry = map.entry(key).or_default();
            entry.push((r >> 20) as u32);
            if entry.len() > 16 {
                entry.drain(..8);
            }
        }
        for _ in 0..1_500 {
            let key = format!("key-{:05}", rng.next() % 8_000);
            if let Some(v) = map.remove(&key) {
                sum = sum.wrapping_add(v.iter().map(|&x| x as u64).sum::<u64>());
            }
        }
        let mut words: Vec<String> = map
            .iter()
            .take(2_000)
            .map(|(k, v)| format!("{k}:{}", v.len()))
            .collect();
        words.sort_unstable_by(|a, b| b.cmp(a));
        sum = sum.wrapping_add(words.iter().map(|w| w.len() as u64).sum::<u64>() + round as u64);
    }
    sum.wrapping_add(map.len() as u64)
}

/// This thread's CPU time in ns, where the platform has it (WASI's `clock_time_get` with the
/// thread CPU-time clock; Node's WASI serves it): unlike wall time, it leaves out the time the
/// thread waits for a CPU on a loaded machine.
#[cfg(target_os = "wasi")]
fn cpu_ns() -> Option<u64> {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> u16;
    }
    const THREAD_CPUTIME_ID: u32 = 3;
    let mut t = 0u64;
    // SAFETY: the import writes one u64 through the pointer.
    match unsafe { clock_time_get(THREAD_CPUTIME_ID, 1, &mut t) } {
        0 => Some(t),
        _ => None,
    }
}

#[cfg(not(target_os = "wasi"))]
fn cpu_ns() -> Option<u64> {
    None
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(name: &str, f: fn() -> u64) {
    let mut ms = Vec::with_capacity(REPS);
    let mut cpu_ms = Vec::with_capacity(REPS);
    let mut checksum = None;
    for _ in 0..REPS {
        let cpu = cpu_ns();
        let t = Instant::now();
        let c = black_box(f());
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        if let (Some(a), Some(b)) = (cpu, cpu_ns()) {
            cpu_ms.push((b - a) as f64 / 1e6);
        }
        match checksum {
            None => checksum = Some(c),
            Some(prev) => assert_eq!(prev, c, "{name}: checksum differs between repetitions"),
        }
    }
    let wall = median(&mut ms);
    let cpu = if cpu_ms.len() == REPS {
        median(&mut cpu_ms)
    } else {
        f64::NAN
    };
    println!(
        "{name} {wall:.1} {:.1} {cpu:.1} {}",
        ms[0],
        checksum.unwrap()
    );
}

fn main() {
    let allocator = if cfg!(feature = "wall-e") {
        "wall-e"
    } else if cfg!(feature = "wall-e-shim") {
        "wall-e (static in debug-cost-shim)"
    } else {
        "default"
    };
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!("debug-cost: {allocator} allocator, {profile} build");
    time("linked_list", linked_list);
    time("box_lifo", box_lifo);
    time("box_fifo", box_fifo);
    time("map_churn", map_churn);
}
