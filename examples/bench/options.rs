//! The command line:
//!
//! ```text
//! cargo run --example bench -- [--quick] [--reps N] [--scale K] [--dir bench/peers/target/out]
//!                              [--results bench/RESULTS.md] [--only wall-e,talc] [--work FIFO]
//!                              [--engines wasmtime,v8] [--in-process] [--baseline REV]
//! cargo run --example bench -- --child <request>      (one measurement: see protocol.rs)
//! ```
//!
//! `--quick` is `--scale 1 --reps 3`, the default `--scale 8 --reps 7`. `--only` (allocator
//! names) and `--work` (substrings of workload names) measure a subset and write no results file.
//! `--engines`: both by default; `--in-process` (wasmtime only: every measurement in this
//! process, for callgrind in `bench/instructions`) makes the default wasmtime alone.
//!
//! `--baseline REV` also measures wall-e as built at git revision REV (every wall-e variant the
//! benchmark measures: `wall-e` and `wall-e-small`), from `<name>@REV.wasm` in `--dir`, which
//! `bench/run --baseline REV` builds from a worktree of REV (and passes REV on as a short commit
//! hash); the report adds a before/after table per engine.
//!
//! `--dir` holds, for `wall-e` and each peer, `<name>.wasm` (built for speed, the module
//! measured), `<name>.raw.wasm` (as cargo built it) and `<name>.oz.wasm` (built for size), as
//! `bench/run` builds them; a missing module is reported and skipped. The V8 side writes
//! `driver.wasm` there. Times are CPU times, not wall times: on a shared machine most of the
//! noise is time spent waiting for a core.

use std::path::PathBuf;

/// The engines the workloads run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Wasmtime,
    /// Node's V8, through `bench/node.mjs`.
    V8,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Wasmtime => "wasmtime",
            Engine::V8 => "V8",
        }
    }
}

pub struct Options {
    /// The arguments as given, for the results file.
    pub args: Vec<String>,
    pub quick: bool,
    pub scale: u32,
    pub reps: usize,
    pub dir: PathBuf,
    pub results: PathBuf,
    pub only: Option<Vec<String>>,
    pub work: Option<Vec<String>>,
    pub engines: Vec<Engine>,
    pub in_process: bool,
    /// `--baseline`: the git revision whose wall-e modules are measured beside this tree's.
    pub baseline: Option<String>,
    /// `--child`: the request's arguments (everything after `--child`).
    pub child: Option<Vec<String>>,
}

impl Options {
    /// The repository root (where `bench/` is).
    pub fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// Parses the arguments; panics with the usage on an unknown option or a bad value.
    pub fn parse(args: Vec<String>) -> Options {
        let root = Options::root();
        let mut o = Options {
            args: args.clone(),
            quick: false,
            scale: 0,
            reps: 0,
            dir: root.join("bench/peers/target/out"),
            results: root.join("bench/RESULTS.md"),
            only: None,
            work: None,
            engines: Vec::new(),
            in_process: false,
            baseline: None,
            child: None,
        };
        let (mut scale, mut reps) = (None, None);
        let mut it = args.into_iter();
        let usage = "usage: bench [--quick] [--reps N] [--scale K] [--dir DIR] [--results FILE] \
                     [--only a,b] [--work w,x] [--engines wasmtime,v8] [--in-process] \
                     [--baseline REV] | --child REQUEST";
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .unwrap_or_else(|| panic!("{arg} needs a value\n{usage}"))
            };
            let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
            match arg.as_str() {
                "--help" | "-h" => {
                    println!("{usage}\n(see examples/bench/options.rs)");
                    std::process::exit(0);
                }
                "--quick" => o.quick = true,
                "--in-process" => o.in_process = true,
                "--scale" => scale = Some(value().parse().expect("--scale K")),
                "--reps" => reps = Some(value().parse().expect("--reps N")),
                "--dir" => o.dir = value().into(),
                "--results" => o.results = value().into(),
                "--only" => o.only = Some(list(value())),
                "--work" => o.work = Some(list(value())),
                "--baseline" => o.baseline = Some(value()),
                "--engines" => {
                    o.engines = list(value())
                        .iter()
                        .map(|e| match e.to_ascii_lowercase().as_str() {
                            "wasmtime" => Engine::Wasmtime,
                            "v8" | "node" => Engine::V8,
                            _ => panic!("--engines: unknown engine {e} (wasmtime, v8)"),
                        })
                        .collect()
                }
                "--child" => {
                    o.child = Some(it.by_ref().collect());
                }
                _ => panic!("unknown argument {arg}\n{usage}"),
            }
        }
        o.scale = scale.unwrap_or(if o.quick { 1 } else { 8 });
        o.reps = reps.unwrap_or(if o.quick { 3 } else { 7 });
        if o.engines.is_empty() {
            o.engines = match o.in_process {
                true => vec![Engine::Wasmtime],
                false => vec![Engine::Wasmtime, Engine::V8],
            };
        }
        o
    }

    /// Whether only a subset is measured (then no results file is written).
    pub fn filtered(&self) -> bool {
        self.only.is_some() || self.work.is_some()
    }
}
