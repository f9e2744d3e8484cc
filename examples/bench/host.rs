//! wall-e against its peers: the same workloads on each allocator's wasm module under wasmtime,
//! driven from inside wasm by `bench/driver.wat`. Run through `bench/run [--quick]` (or
//! `make bench`), which builds the modules first; by hand:
//!
//! ```text
//! cargo run --example bench -- [--quick] [--reps N] [--scale K] [--dir bench/peers/target/out]
//!                              [--results bench/RESULTS.md] [--only wall-e,talc] [--work FIFO]
//!                              [--in-process]
//! ```
//!
//! `--quick` is `--scale 1 --reps 3`, the default `--scale 8 --reps 7`. `--only` (allocator
//! names) and `--work` (substrings of workload names) measure a subset and write no results file.
//! Times are the thread's CPU time (Linux), not wall time: on a shared machine most of the noise
//! is time spent waiting for a core.
//!
//! `--dir` holds `<name>.wasm` (optimised with `wasm-opt -Oz`, the module measured) and
//! `<name>.raw.wasm` (as cargo built it) for `wall-e` and each peer; `bump` is the do-nothing
//! allocator whose times are the driver's own overhead. A missing module is reported and skipped.
//!
//! Every measurement is a fresh pair of instances (allocator + driver) in a process of its own
//! (`--in-process` keeps them in this one, as `bench/instructions` does for callgrind; but an
//! allocator that grows memory to gigabytes then makes page faults dearer for every
//! measurement after it). Repetitions alternate
//! allocators (every allocator runs workload W of repetition r before any runs repetition r + 1,
//! in an order rotated each repetition), and the tables show medians.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::{Engine, Instance, Linker, Module, Store, Val};

/// The allocators, in table order; `bump` last (it is not a peer).
const ALLOCATORS: [&str; 8] = [
    "wall-e",
    "wall-e-small",
    "dlmalloc",
    "talc",
    "rlsf",
    "lol_alloc",
    "wee_alloc",
    "bump",
];
const BASELINE: &str = "bump";
const SEED: u64 = 0x5EED_F00D;

#[derive(Clone, Copy)]
enum Kind {
    /// `n` live blocks, sizes from the driver's `$pick(lo, hi, log)`, `steps` replacements.
    Churn {
        n: u32,
        lo: u32,
        hi: u32,
        log: bool,
        steps: u32,
    },
    Lifo {
        rounds: u32,
        depth: u32,
        lo: u32,
        hi: u32,
    },
    Fifo {
        q: u32,
        steps: u32,
        lo: u32,
        hi: u32,
    },
    /// Growing buffers: doubling vectors, or strings appended to 1..16 bytes at a time.
    Grow {
        n: u32,
        steps: u32,
        double: bool,
        lim_lo: u32,
        lim_hi: u32,
    },
    Tree {
        rounds: u32,
        nodes: u32,
    },
    /// `n` live blocks with `n / 2` holes (untimed), then `m` allocations too big for the holes.
    Misfits {
        n: u32,
        m: u32,
    },
}

impl Kind {
    /// Slots the driver's table needs.
    fn cap(self) -> u32 {
        match self {
            Kind::Churn { n, .. } => n,
            Kind::Lifo { depth, .. } => depth,
            Kind::Fifo { q, .. } => q,
            Kind::Grow { n, .. } => 2 * n,
            Kind::Tree { nodes, .. } => nodes + 66,
            Kind::Misfits { n, m } => n + n / 2 + m,
        }
    }
}

struct Workload {
    name: &'static str,
    kind: Kind,
}

/// The workloads at scale `k` (quick runs: 1, full runs: 8); the work of each grows with `k`.
fn workloads(k: u32) -> Vec<Workload> {
    let w = |name, kind| Workload { name, kind };
    vec![
        w(
            "small-object churn (1–64 B, 10k live)",
            Kind::Churn {
                n: 10_000,
                lo: 1,
                hi: 64,
                log: false,
                steps: 100_000 * k,
            },
        ),
        w(
            "mixed sizes (1 B–16 KiB log-uniform, 2k live)",
            Kind::Churn {
                n: 2_000,
                lo: 0,
                hi: 14,
                log: true,
                steps: 50_000 * k,
            },
        ),
        w(
            "LIFO (stacks of 1–100 blocks, 1–256 B)",
            Kind::Lifo {
                rounds: 5_000 * k,
                depth: 100,
                lo: 1,
                hi: 256,
            },
        ),
        w(
            "FIFO (queue of 1000, 1–256 B)",
            Kind::Fifo {
                q: 1_000,
                steps: 100_000 * k,
                lo: 1,
                hi: 256,
            },
        ),
        w(
            "realloc growth (64 vectors doubling to 512 B–256 KiB)",
            Kind::Grow {
                n: 64,
                steps: 50_000 * k,
                double: true,
                lim_lo: 9,
                lim_hi: 18,
            },
        ),
        w(
            "large blocks (64 KiB–1 MiB, 16 live)",
            Kind::Churn {
                n: 16,
                lo: 64 << 10,
                hi: 1 << 20,
                log: false,
                steps: 5_000 * k,
            },
        ),
        w(
            "parser tree (10k nodes of 20–64 B + tokens, built then freed)",
            Kind::Tree {
                rounds: 10 * k,
                nodes: 10_000,
            },
        ),
        w(
            "string building (64 strings, +1–16 B reallocs to 64 B–4 KiB)",
            Kind::Grow {
                n: 64,
                steps: 100_000 * k,
                double: false,
                lim_lo: 64,
                lim_hi: 4096,
            },
        ),
        w(
            "scaling: 1k live + 500 holes, misfits",
            Kind::Misfits {
                n: 1_000,
                m: 2_000 * k,
            },
        ),
        w(
            "scaling: 10k live + 5k holes, misfits",
            Kind::Misfits {
                n: 10_000,
                m: 2_000 * k,
            },
        ),
        w(
            "scaling: 100k live + 50k holes, misfits",
            Kind::Misfits {
                n: 100_000,
                m: 2_000 * k,
            },
        ),
    ]
}

/// One measurement.
#[derive(Clone, Copy)]
struct Outcome {
    ns_per_op: f64,
    /// Memory size after the workload minus at instantiation, in bytes.
    growth: u64,
    /// Peak bytes asked for of live blocks (the driver's slot table included).
    peak: u64,
    /// Blocks whose contents the driver found changed.
    errors: u32,
    /// Allocations and reallocations that returned nil.
    nils: u32,
    /// Calls into the allocator timed.
    ops: u64,
    /// Growths by `reallocate`, and those that moved the block.
    reallocs: u64,
    moved: u64,
}

struct Allocator {
    name: &'static str,
    module: Module,
    raw_size: Option<u64>,
    opt_size: u64,
    /// The same allocator built for size: opt-level "z", `wasm-opt -Oz` (wall-e: `--small`).
    small_size: Option<u64>,
}

fn global(store: &mut Store<()>, driver: &Instance, name: &str) -> u64 {
    match driver
        .get_global(&mut *store, name)
        .map(|g| g.get(&mut *store))
    {
        Some(Val::I64(v)) => v as u64,
        Some(Val::I32(v)) => v as u32 as u64,
        _ => panic!("driver global {name} missing"),
    }
}

/// Runs `work` once on a fresh instance of `alloc`; `Err` when it traps or fails to set up.
fn measure(
    engine: &Engine,
    driver: &Module,
    alloc: &Module,
    kind: Kind,
    seed: u64,
) -> Result<Outcome, String> {
    let mut store = Store::new(engine, ());
    let instance = Instance::new(&mut store, alloc, &[]).map_err(|e| format!("{e:#}"))?;
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or("no memory export")?;
    let mem0 = memory.data_size(&store) as u64;
    let mut linker = Linker::new(engine);
    linker
        .instance(&mut store, "alloc", instance)
        .map_err(|e| format!("{e:#}"))?;
    let drv = linker
        .instantiate(&mut store, driver)
        .map_err(|e| format!("{e:#}"))?;
    let func = |store: &mut Store<()>, name: &str| {
        drv.get_func(&mut *store, name)
            .unwrap_or_else(|| panic!("driver export {name} missing"))
    };
    let setup = func(&mut store, "setup")
        .typed::<(u32, u64), u32>(&store)
        .map_err(|e| format!("{e:#}"))?;
    if setup
        .call(&mut store, (kind.cap(), seed))
        .map_err(|e| format!("setup: {e:#}"))?
        == 0
    {
        return Err("setup: no memory for the slot table".into());
    }
    let trap = |e: wasmtime::Error| format!("trap: {e:#}");
    // The untimed part of the scaling workloads.
    if let Kind::Misfits { n, .. } = kind {
        let holes = func(&mut store, "holes")
            .typed::<u32, ()>(&store)
            .map_err(trap)?;
        holes.call(&mut store, n).map_err(trap)?;
    }
    let ops0 = global(&mut store, &drv, "ops");
    let started;
    match kind {
        Kind::Churn {
            n,
            lo,
            hi,
            log,
            steps,
        } => {
            let f = func(&mut store, "churn")
                .typed::<(u32, u32, u32, u32, u32), ()>(&store)
                .map_err(trap)?;
            started = cpu_time();
            timed(|| f.call(&mut store, (n, lo, hi, log as u32, steps)))
        }
        Kind::Lifo {
            rounds,
            depth,
            lo,
            hi,
        } => {
            let f = func(&mut store, "lifo")
                .typed::<(u32, u32, u32, u32), ()>(&store)
                .map_err(trap)?;
            started = cpu_time();
            timed(|| f.call(&mut store, (rounds, depth, lo, hi)))
        }
        Kind::Fifo { q, steps, lo, hi } => {
            let f = func(&mut store, "fifo")
                .typed::<(u32, u32, u32, u32), ()>(&store)
                .map_err(trap)?;
            started = cpu_time();
            timed(|| f.call(&mut store, (q, steps, lo, hi)))
        }
        Kind::Grow {
            n,
            steps,
            double,
            lim_lo,
            lim_hi,
        } => {
            let f = func(&mut store, "grow")
                .typed::<(u32, u32, u32, u32, u32), ()>(&store)
                .map_err(trap)?;
            started = cpu_time();
            timed(|| f.call(&mut store, (n, steps, double as u32, lim_lo, lim_hi)))
        }
        Kind::Tree { rounds, nodes } => {
            let f = func(&mut store, "tree")
                .typed::<(u32, u32), ()>(&store)
                .map_err(trap)?;
            started = cpu_time();
            timed(|| f.call(&mut store, (rounds, nodes)))
        }
        Kind::Misfits { n, m } => {
            let f = func(&mut store, "misfits")
                .typed::<(u32, u32), ()>(&store)
                .map_err(trap)?;
            started = cpu_time();
            timed(|| f.call(&mut store, (n + n / 2, m)))
        }
    }
    .map_err(trap)?;
    let elapsed = cpu_time() - started;
    let ops = global(&mut store, &drv, "ops") - ops0;
    // The slot table is a live block too.
    let peak = global(&mut store, &drv, "peak") + 8 * kind.cap() as u64;
    Ok(Outcome {
        ns_per_op: elapsed.as_nanos() as f64 / ops.max(1) as f64,
        growth: memory.data_size(&store) as u64 - mem0,
        peak,
        errors: global(&mut store, &drv, "errors") as u32,
        nils: global(&mut store, &drv, "nils") as u32,
        ops,
        reallocs: global(&mut store, &drv, "reallocs"),
        moved: global(&mut store, &drv, "moved"),
    })
}

/// Runs one measurement in a child process (this program with `--child`), so that no other
/// allocator's memory has been mapped in the process measured.
fn in_child(dir: &Path, scale: u32, name: &str, work: usize, seed: u64) -> Result<Outcome, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["--child", name, &work.to_string(), &seed.to_string()])
        .args(["--scale", &scale.to_string(), "--dir"])
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("child process: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    if let Some(e) = line.strip_prefix("err ") {
        return Err(e.to_string());
    }
    let f: Vec<&str> = line.strip_prefix("ok ").unwrap_or("").split(' ').collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    match (f.first().and_then(|v| v.parse::<f64>().ok()), num(7)) {
        (Some(ns_per_op), Some(moved)) => Ok(Outcome {
            ns_per_op,
            growth: num(1).unwrap_or(0),
            peak: num(2).unwrap_or(0),
            errors: num(3).unwrap_or(0) as u32,
            nils: num(4).unwrap_or(0) as u32,
            ops: num(5).unwrap_or(0),
            reallocs: num(6).unwrap_or(0),
            moved,
        }),
        _ => Err(format!("child process failed ({}): {line}", out.status)),
    }
}

/// This thread's CPU time (user + system): unlike wall time, it leaves out the time the thread
/// waits for a core, which on a busy shared machine is most of the noise. Wall time elsewhere.
#[cfg(target_os = "linux")]
fn cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: glibc's and musl's `clock_gettime`, with a valid clock id and a pointer to a
    // `struct timespec` (two 64-bit fields on 64-bit Linux) that lives across the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.sec as u64, t.nsec as u32)
}

#[cfg(not(target_os = "linux"))]
fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Runs the timed part between two marker calls, so that `valgrind --tool=callgrind
/// --dump-after='*timed_start*' --dump-before='*timed_end*'` dumps the instruction count of each
/// measurement's timed part on its own (every second dump file).
fn timed<R>(run: impl FnOnce() -> R) -> R {
    timed_start();
    let result = run();
    timed_end();
    result
}

#[inline(never)]
fn timed_start() {
    std::hint::black_box(());
}

#[inline(never)]
fn timed_end() {
    std::hint::black_box(());
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn bytes(v: u64) -> String {
    if v >= 10 << 20 {
        format!("{:.0} MiB", v as f64 / (1u64 << 20) as f64)
    } else if v >= 1 << 20 {
        format!("{:.1} MiB", v as f64 / (1u64 << 20) as f64)
    } else {
        format!("{} KiB", v.div_ceil(1024))
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let quick = args.iter().any(|a| a == "--quick");
    let scale: u32 = opt("--scale")
        .map(|r| r.parse().expect("--scale K"))
        .unwrap_or(if quick { 1 } else { 8 });
    let list = |name: &str| opt(name).map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>());
    let only = list("--only");
    let work_filter = list("--work");
    let filtered = only.is_some() || work_filter.is_some();
    let reps: usize = opt("--reps")
        .map(|r| r.parse().expect("--reps N"))
        .unwrap_or(if quick { 3 } else { 7 });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = opt("--dir").map_or_else(|| root.join("bench/peers/target/out"), PathBuf::from);
    let results = opt("--results").map_or_else(|| root.join("bench/RESULTS.md"), PathBuf::from);

    let engine = Engine::default();
    let driver = Module::from_file(&engine, root.join("bench/driver.wat"))?;
    // A child process: one measurement, printed as one line for the parent (see `in_child`).
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let field = |k: usize| args.get(i + k).expect("--child NAME WORKLOAD SEED");
        let module = Module::from_file(&engine, dir.join(format!("{}.wasm", field(1))))?;
        let work = &workloads(scale)[field(2).parse::<usize>().expect("workload index")];
        let seed = field(3).parse().expect("seed");
        match measure(&engine, &driver, &module, work.kind, seed) {
            Ok(o) => println!(
                "ok {} {} {} {} {} {} {} {}",
                o.ns_per_op, o.growth, o.peak, o.errors, o.nils, o.ops, o.reallocs, o.moved
            ),
            Err(e) => println!("err {}", e.replace('\n', " ")),
        }
        return Ok(());
    }
    // Each measurement runs in a process of its own unless `--in-process` (callgrind, in
    // bench/instructions, counts one process): an allocator that grows memory to gigabytes
    // (wee_alloc) made page faults dearer for whoever ran after it in the same process.
    let isolate = !args.iter().any(|a| a == "--in-process");
    let mut allocators = Vec::new();
    let mut missing = Vec::new();
    for name in ALLOCATORS
        .into_iter()
        .filter(|n| only.as_ref().is_none_or(|o| o.iter().any(|x| x == n)))
    {
        let path = dir.join(format!("{name}.wasm"));
        let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
        match Module::from_file(&engine, &path) {
            Ok(module) => allocators.push(Allocator {
                name,
                module,
                raw_size: size(&dir.join(format!("{name}.raw.wasm"))),
                opt_size: size(&path).unwrap_or(0),
                small_size: size(&dir.join(format!("{name}.oz.wasm"))),
            }),
            Err(e) => {
                let e = format!("{e:#}");
                missing.push(format!("{name}: {}", e.lines().next().unwrap_or("")));
            }
        }
    }
    for m in &missing {
        eprintln!("skipped {m}");
    }

    let works: Vec<(usize, Workload)> = workloads(scale)
        .into_iter()
        .enumerate()
        .filter(|(_, w)| {
            work_filter
                .as_ref()
                .is_none_or(|f| f.iter().any(|x| w.name.contains(x.as_str())))
        })
        .collect();
    // results[w][a] = the outcomes of every repetition.
    let mut runs: Vec<Vec<Vec<Result<Outcome, String>>>> =
        vec![vec![Vec::new(); allocators.len()]; works.len()];
    let total = Instant::now();
    for rep in 0..reps {
        eprintln!("repetition {}/{reps} ...", rep + 1);
        for (w, (index, work)) in works.iter().enumerate() {
            for k in 0..allocators.len() {
                let a = (k + rep) % allocators.len();
                let seed = SEED + rep as u64;
                let outcome = if isolate {
                    in_child(&dir, scale, allocators[a].name, *index, seed)
                } else {
                    measure(&engine, &driver, &allocators[a].module, work.kind, seed)
                };
                if filtered {
                    if let Ok(o) = &outcome {
                        eprintln!("  {} / {}: {} ops", allocators[a].name, work.name, o.ops);
                    }
                }
                runs[w][a].push(outcome);
            }
        }
    }
    eprintln!("measured in {:.1} s", total.elapsed().as_secs_f64());
    let works: Vec<Workload> = works.into_iter().map(|(_, w)| w).collect();

    // Medians; a cell with any failed repetition shows the failure.
    let cell = |w: usize, a: usize| -> Result<(f64, u64, u64, u32, u32), String> {
        let list = &runs[w][a];
        if let Some(Err(e)) = list.iter().find(|r| r.is_err()) {
            return Err(e.clone());
        }
        let ok: Vec<Outcome> = list.iter().map(|r| *r.as_ref().unwrap()).collect();
        let mut t: Vec<f64> = ok.iter().map(|o| o.ns_per_op).collect();
        let mut g: Vec<f64> = ok.iter().map(|o| o.growth as f64).collect();
        let peak = ok.iter().map(|o| o.peak).max().unwrap_or(0);
        let errors = ok.iter().map(|o| o.errors).max().unwrap_or(0);
        let nils = ok.iter().map(|o| o.nils).max().unwrap_or(0);
        Ok((median(&mut t), median(&mut g) as u64, peak, errors, nils))
    };
    let is_peer =
        |a: usize| !allocators[a].name.starts_with("wall-e") && allocators[a].name != BASELINE;
    let names: Vec<&str> = allocators.iter().map(|a| a.name).collect();
    let header = |first: &str, extra: &str| {
        let mut s = format!("| {first} |");
        for n in &names {
            let _ = write!(
                s,
                " {} |",
                if *n == BASELINE {
                    "bump (driver overhead)"
                } else {
                    n
                }
            );
        }
        s.push_str(extra);
        s.push('\n');
        s.push('|');
        s.push_str("---|");
        for _ in &names {
            s.push_str("--:|");
        }
        if !extra.is_empty() {
            s.push_str("---|");
        }
        s.push('\n');
        s
    };
    let mut notes = Vec::new();

    let mut time = header("workload (ns/op, × best peer)", " best peer |");
    let baseline = names.iter().position(|&n| n == BASELINE);
    // Per allocator, the logs of its ratios to the best peer: as measured, and net of the
    // driver's overhead (both times minus bump's; only on rows where that overhead is under 80%
    // of the best time, as a difference of two close times is mostly noise).
    let mut logs = vec![(Vec::new(), Vec::new()); names.len()];
    for (w, work) in works.iter().enumerate() {
        let best = (0..names.len())
            .filter(|&a| is_peer(a))
            .filter_map(|a| cell(w, a).ok().filter(|c| c.3 + c.4 == 0).map(|c| (c.0, a)))
            .min_by(|x, y| x.0.total_cmp(&y.0));
        let overhead = baseline.and_then(|b| cell(w, b).ok()).map(|c| c.0);
        for (a, log) in logs.iter_mut().enumerate() {
            if let (Some((b, _)), Ok(c)) = (best, cell(w, a)) {
                log.0.push((c.0 / b).ln());
                if let Some(o) = overhead.filter(|&o| c.0 > o && o < 0.8 * b) {
                    log.1.push(((c.0 - o) / (b - o)).ln());
                }
            }
        }
        let _ = write!(time, "| {} |", work.name);
        for (a, &name) in names.iter().enumerate() {
            match cell(w, a) {
                Ok((t, _, _, errors, nils)) => {
                    let ratio = match best {
                        Some((b, _)) if name != BASELINE => format!(" (×{:.2})", t / b),
                        _ => String::new(),
                    };
                    let mut bad = "";
                    if errors > 0 && name != BASELINE {
                        notes.push(format!(
                            "{name}: {}: {errors} blocks found with changed contents",
                            work.name
                        ));
                        bad = " ⚠";
                    }
                    if nils > 0 {
                        notes.push(format!(
                            "{name}: {}: {nils} allocations returned nil (out of memory)",
                            work.name
                        ));
                        bad = " ⚠";
                    }
                    let _ = write!(time, " {}{ratio}{bad} |", ns(t));
                }
                Err(e) => {
                    notes.push(format!("{}: {}: {e}", name, work.name));
                    time.push_str(" fails |");
                }
            }
        }
        let _ = writeln!(time, " {} |", best.map_or("–", |(_, a)| names[a]));
    }
    let geomean = |logs: &[f64]| {
        if logs.is_empty() {
            " – |".to_string()
        } else {
            format!(
                " ×{:.2} |",
                (logs.iter().sum::<f64>() / logs.len() as f64).exp()
            )
        }
    };
    for (label, net) in [
        ("**geometric mean** of the ratios", false),
        (
            "geometric mean net of the driver (ns/op − bump's, both sides; rows where bump < 0.8 × best)",
            true,
        ),
    ] {
        let _ = write!(time, "| {label} |");
        for (a, log) in logs.iter().enumerate() {
            match Some(a) == baseline {
                true => time.push_str(" – |"),
                false => time.push_str(&geomean(if net { &log.1 } else { &log.0 })),
            }
        }
        time.push_str(" |\n");
    }

    let mut heap = header("workload (heap growth / efficiency)", "");
    for (w, work) in works.iter().enumerate() {
        let _ = write!(heap, "| {} |", work.name);
        for (a, &name) in names.iter().enumerate() {
            match cell(w, a) {
                Ok(_) if name == BASELINE => heap.push_str(" – |"),
                Ok((_, growth, peak, _, _)) => {
                    let eff = if growth == 0 {
                        "–".to_string()
                    } else {
                        format!("{:.0}%", 100.0 * peak as f64 / growth as f64)
                    };
                    let _ = write!(heap, " {} / {eff} |", bytes(growth));
                }
                Err(_) => heap.push_str(" fails |"),
            }
        }
        heap.push('\n');
    }

    // Reallocations that moved the block (deterministic: the first repetition's).
    let mut moves = header("workload (reallocations that moved the block)", "");
    for (w, work) in works.iter().enumerate() {
        if !matches!(work.kind, Kind::Grow { .. }) {
            continue;
        }
        let _ = write!(moves, "| {} |", work.name);
        for (a, &name) in names.iter().enumerate() {
            match runs[w][a].first() {
                Some(Ok(o)) if name != BASELINE && o.reallocs > 0 => {
                    let _ = write!(
                        moves,
                        " {:.1}% |",
                        100.0 * o.moved as f64 / o.reallocs as f64
                    );
                }
                Some(Ok(_)) => moves.push_str(" – |"),
                _ => moves.push_str(" fails |"),
            }
        }
        moves.push('\n');
    }

    let mut sizes = String::from(
        "| module | raw, opt-level 3 (bytes) | measured: `wasm-opt -O3` (bytes) | built for size: \
         opt-level \"z\", `wasm-opt -Oz` (bytes) |\n|---|--:|--:|--:|\n",
    );
    for a in &allocators {
        let _ = writeln!(
            sizes,
            "| {} | {} | {} | {} |",
            a.name,
            a.raw_size.map_or("–".into(), |s| s.to_string()),
            a.opt_size,
            a.small_size.map_or("–".into(), |s| s.to_string())
        );
    }

    let command = format!(
        "cargo run --example bench --{}",
        args.iter().map(|a| format!(" {a}")).collect::<String>()
    );
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let head = sh(
        "git",
        &[
            "-C",
            root.to_str().unwrap_or("."),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = !sh(
        "git",
        &[
            "-C",
            root.to_str().unwrap_or("."),
            "status",
            "--porcelain",
            "src",
            "Cargo.toml",
            "scripts/build.mjs",
        ],
    )
    .is_empty();
    let version = format!(
        "wall-e at commit {head}{}",
        if dirty {
            " plus uncommitted changes to src/"
        } else {
            ""
        }
    );
    let mut out = String::new();
    let _ = writeln!(out, "# wall-e against its peers\n");
    let _ = writeln!(
        out,
        "Generated by `bench/run{}` (which runs `{command}`) on {}; `nproc` = {}, CPU: {cpu}; \
         {}; wasmtime 48 (cranelift); {reps} repetitions{}, medians; seed {SEED:#x}; {version}.\n",
        if quick { " --quick" } else { "" },
        sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        sh("nproc", &[]),
        sh("rustc", &["--version"]),
        if quick { " (quick mode)" } else { "" },
    );
    let _ = writeln!(
        out,
        "Each allocator is built for speed: `opt-level = 3`, LTO, then `wasm-opt -O3` (peers: \
         their `GlobalAlloc` behind an 8-byte size header; `wall-e-small` is wall-e's size-tuned \
         build, `--small`, shown for reference and not a peer), driven from inside wasm by \
         `bench/driver.wat`, a fresh instance per measurement{}. ns/op = the thread's CPU time for \
         the workload (user + system, so page faults count; time waiting for a core does not) ÷ \
         calls into the allocator (allocate, deallocate, reallocate); for the scaling rows only \
         the misfit allocations are timed and counted. The ratio is ns/op ÷ the best peer's \
         (wall-e, wall-e-small and bump are not peers). `bump` is a do-nothing allocator (bump pointer, no \
         free, no copy on realloc, cache-warm: it wraps around in 1 MiB): its ns/op is roughly \
         the driver's and the call's own cost, to subtract from the others when comparing \
         absolute costs. ⚠ marks a cell whose run had nil results or changed blocks (see \
         Problems); such a peer is not a candidate for best peer. Deterministic instruction \
         counts per call: `bench/instructions`.\n",
        if isolate {
            ", each in a process of its own"
        } else {
            " (all in one process: `--in-process`)"
        }
    );
    let _ = writeln!(out, "## Time (ns/op, lower is better)\n\n{time}");
    let _ = writeln!(
        out,
        "## Heap growth and efficiency\n\nGrowth = linear memory size after the workload minus \
         at instantiation (wall-e also uses the rest of the module's initial page, the peers grow \
         memory for their first block); efficiency = peak bytes asked for of live blocks (the \
         driver's slot table included; for the scaling rows, the holes' setup included) ÷ growth \
         (higher is better; – when nothing grew).\n\n{heap}"
    );
    let _ = writeln!(
        out,
        "## Reallocations that moved the block\n\nShare of the growing `reallocate` calls that \
         returned a new address (and so copied the contents) instead of growing in place.\n\n\
         {moves}"
    );
    let _ = writeln!(
        out,
        "## Module size\n\nRaw = as cargo built it at opt-level 3 (wall-e: `scripts/build.mjs \
         --no-opt`, which drops the `__heap_base`/`__data_end` exports; the peers' modules have \
         them dropped too by `scripts/strip-exports.mjs`); measured = that after `wasm-opt -O3`; \
         built for size = opt-level \"z\" and `wasm-opt -Oz` (wall-e: `scripts/build.mjs \
         --small`). The peers include the 8-byte-header ABI wrapper.\n\n{sizes}"
    );
    if !missing.is_empty() || !notes.is_empty() {
        let _ = writeln!(out, "## Problems\n");
        for m in &missing {
            let _ = writeln!(out, "- not measured: {m}");
        }
        for n in &notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }
    print!("{out}");
    if filtered {
        eprintln!("(--only/--work: {} not written)", results.display());
    } else {
        std::fs::write(&results, &out)?;
        eprintln!("written to {}", results.display());
    }
    Ok(())
}
