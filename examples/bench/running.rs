//! Which measurements run, in what order, and where: every measurement is a fresh pair of
//! instances (allocator + driver) in a child process of its own, this program with `--child`
//! for wasmtime or `node bench/node.mjs` for V8, so that no other allocator's memory has been
//! mapped in the process measured (an allocator that grows memory to gigabytes, wee_alloc, made
//! page faults dearer for whoever ran after it in the same process). `--in-process` keeps the
//! wasmtime measurements in this process, as `bench/instructions` needs for callgrind.
//!
//! Repetitions alternate allocators: every allocator runs workload W of repetition r in every
//! engine before any runs repetition r + 1, in an order rotated each repetition.

use crate::measuring::Wasmtime;
use crate::options::{Engine, Options};
use crate::protocol::{self, Outcome, Request};
use crate::workloads::Workload;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The allocators, in table order; `bump` last (it is not a peer).
pub const ALLOCATORS: [&str; 9] = [
    "wall-e",
    "wall-e-small",
    "wasmalloc",
    "dlmalloc",
    "talc",
    "rlsf",
    "lol_alloc",
    "wee_alloc",
    "bump",
];
/// The do-nothing allocator: its times are the driver's own overhead.
pub const BASELINE: &str = "bump";
/// Repetition r runs with seed `SEED + r`, in every engine and for every allocator.
pub const SEED: u64 = 0x5EED_F00D;
/// V8 compiles every function with its optimising compiler, TurboFan, up front: by default it
/// starts with its baseline compiler, Liftoff, and tiers a function up for its next call, but the
/// driver's loop is one long call, so it would stay baseline code and swamp the allocators.
/// `--no-wasm-lazy-compilation`: Node 20's V8 compiles a wasm function when it is first called
/// (lazy compilation is on by default), so without it a function first reached in the timed
/// call (an allocator's growth path, its flush) was compiled there, in the time measured: the
/// scaling row of 1,000 live blocks, 16,000 misfits, took wall-e 3.4–5.3 ms a run with it on,
/// 1.6–2.1 ms off (docs/small-blocks.md, "Misfits among cached holes").
pub const NODE_FLAGS: [&str; 2] = ["--no-liftoff", "--no-wasm-lazy-compilation"];

/// The wall-e builds measured (`--baseline` measures each of them at that revision too).
pub const WALL_E: [&str; 2] = ["wall-e", "wall-e-small"];

/// The table name of wall-e build `name` at the `--baseline` revision `rev`.
pub fn baseline_name(name: &str, rev: &str) -> String {
    format!("{name} @{rev}")
}

/// An allocator's module, as found in `--dir`.
pub struct Allocator {
    pub name: String,
    pub path: PathBuf,
    /// Compiled for wasmtime, for `--in-process`.
    pub module: wasmtime::Module,
    /// The memory's initial size in bytes (before the workload grows it).
    pub initial_memory: u64,
    pub raw_size: Option<u64>,
    pub opt_size: u64,
    /// The same allocator built for size: opt-level "z", `wasm-opt -Oz` (wall-e: `--small`).
    pub small_size: Option<u64>,
}

/// The allocators found in `--dir` (and chosen by `--only`), and a note for each missing one.
/// With `--baseline REV`, each wall-e build at REV (`<name>@REV.wasm`) follows the same build of
/// this tree, and is chosen by `--only` with it.
pub fn allocators(options: &Options, wasmtime: &Wasmtime) -> (Vec<Allocator>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    let chosen = |n: &str| {
        options
            .only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == n))
    };
    // (table name, file stem in `--dir`)
    let mut names: Vec<(String, String)> = Vec::new();
    for name in ALLOCATORS {
        let at_baseline = options.baseline.as_ref().filter(|_| WALL_E.contains(&name));
        let label = at_baseline.map(|rev| baseline_name(name, rev));
        if chosen(name) || label.as_deref().is_some_and(chosen) {
            names.push((name.to_string(), name.to_string()));
            if let (Some(rev), Some(label)) = (at_baseline, label) {
                names.push((label, format!("{name}@{rev}")));
            }
        }
    }
    for (name, stem) in names {
        let path = options.dir.join(format!("{stem}.wasm"));
        match wasmtime.load(&path) {
            Ok(module) => found.push(Allocator {
                initial_memory: initial_memory(&module),
                module,
                raw_size: size(&options.dir.join(format!("{stem}.raw.wasm"))),
                opt_size: size(&path).unwrap_or(0),
                small_size: size(&options.dir.join(format!("{stem}.oz.wasm"))),
                path,
                name,
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
    (found, missing)
}

/// The initial size of the memory a module exports, in bytes (0 when it exports none).
fn initial_memory(module: &wasmtime::Module) -> u64 {
    module
        .exports()
        .find_map(|e| match e.ty() {
            wasmtime::ExternType::Memory(m) if e.name() == "memory" => {
                Some(m.minimum() * m.page_size())
            }
            _ => None,
        })
        .unwrap_or(0)
}

/// The driver each engine loads: wasmtime reads `bench/driver.wat` itself; for V8,
/// `bench/node.mjs wat2wasm` compiles it with wabt into `--dir` (once per run). `Err` says why an
/// engine cannot run.
pub fn drivers(options: &Options) -> Vec<(Engine, Result<PathBuf, String>)> {
    let wat = Options::root().join("bench/driver.wat");
    options
        .engines
        .iter()
        .map(|&engine| {
            let driver = match engine {
                Engine::Wasmtime => Ok(wat.clone()),
                Engine::V8 => {
                    let wasm = options.dir.join("driver.wasm");
                    let status = Command::new("node")
                        .arg(Options::root().join("bench/node.mjs"))
                        .arg("wat2wasm")
                        .args([&wat, &wasm])
                        .status();
                    match status {
                        Ok(s) if s.success() => Ok(wasm),
                        Ok(s) => Err(format!(
                            "`node bench/node.mjs wat2wasm` failed ({s}): is wabt installed \
                             (`npm ci --prefix bench`, as bench/run does)?"
                        )),
                        Err(e) => Err(format!("cannot run node: {e}")),
                    }
                }
            };
            if let Err(e) = &driver {
                eprintln!("{} skipped: {e}", engine.name());
            }
            (engine, driver)
        })
        .collect()
}

/// `runs[e][w][a]`: the outcomes of every repetition of workload `w` on allocator `a` in engine
/// `e` (the order of `engines`).
pub type Runs = Vec<Vec<Vec<Vec<Result<Outcome, String>>>>>;

/// Runs every workload on every allocator in every engine, `options.reps` times.
pub fn run(
    options: &Options,
    wasmtime: &Wasmtime,
    engines: &[(Engine, PathBuf)],
    allocators: &[Allocator],
    works: &[Workload],
) -> Runs {
    let mut runs: Runs = vec![vec![vec![Vec::new(); allocators.len()]; works.len()]; engines.len()];
    let total = Instant::now();
    for rep in 0..options.reps {
        eprintln!("repetition {}/{} ...", rep + 1, options.reps);
        let seed = SEED + rep as u64;
        for (w, work) in works.iter().enumerate() {
            for (e, (engine, driver)) in engines.iter().enumerate() {
                for k in 0..allocators.len() {
                    let alloc = &allocators[(k + rep) % allocators.len()];
                    let request = Request {
                        driver: driver.clone(),
                        module: alloc.path.clone(),
                        cap: work.kind.cap(),
                        seed,
                        setup: work.kind.setup(),
                        timed: work.kind.timed(),
                    };
                    let outcome = match engine {
                        Engine::Wasmtime if options.in_process => wasmtime.measure(
                            &alloc.module,
                            request.cap,
                            request.seed,
                            request.setup.as_ref(),
                            &request.timed,
                        ),
                        Engine::Wasmtime => ask(
                            Command::new(std::env::current_exe().expect("this program's path"))
                                .arg("--child"),
                            &request,
                        ),
                        Engine::V8 => ask(
                            Command::new("node")
                                .args(NODE_FLAGS)
                                .arg(Options::root().join("bench/node.mjs")),
                            &request,
                        ),
                    };
                    if options.filtered() {
                        if let Ok(o) = &outcome {
                            // bench/instructions reads these lines (wasmtime, --in-process).
                            let tag = match engine {
                                Engine::Wasmtime => String::new(),
                                _ => format!("[{}] ", engine.name()),
                            };
                            eprintln!("  {tag}{} / {}: {} ops", alloc.name, work.name, o.ops);
                        }
                    }
                    runs[e][w][(k + rep) % allocators.len()].push(outcome);
                }
            }
        }
    }
    eprintln!("measured in {:.1} s", total.elapsed().as_secs_f64());
    runs
}

/// Runs one measurement in a child process and reads its answer: `Err` when the allocator trapped
/// or failed to set up. Panics when the child does not answer with exactly one protocol line.
fn ask(command: &mut Command, request: &Request) -> Result<Outcome, String> {
    let command = command.args(request.to_args());
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().collect::<Vec<_>>()[..] {
        [line] if out.status.success() => protocol::parse_answer(line),
        _ => panic!(
            "child process {command:?} exited with {} and printed {text:?}, not one answer line",
            out.status
        ),
    }
}
