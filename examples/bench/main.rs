//! wall-e against its peers: the same workloads on each allocator's wasm module, driven from
//! inside wasm by `bench/driver.wat`, under wasmtime and in Node's V8. Run through `bench/run
//! [--quick]` (or `make bench`), which builds the modules first. The parts, beside this file:
//!
//! - `options.rs`: the command line (`cargo run --example bench -- --help` lists it);
//! - `workloads.rs`: the workloads, as calls of the driver's exports;
//! - `running.rs`: which measurements run, in what order, each in a child process of its own;
//! - `protocol.rs`: the request a child gets and the answer line it prints;
//! - `measuring.rs`: one measurement under wasmtime (`bench/node.mjs`: the same in V8);
//! - `reporting.rs`: the tables, printed and written to `bench/RESULTS.md`.
//!
//! A host program: built for wasm32 (as `cargo test --target wasm32-unknown-unknown` builds every
//! example), it is empty.

#[cfg(not(target_arch = "wasm32"))]
mod cpu_time;
#[cfg(not(target_arch = "wasm32"))]
mod measuring;
#[cfg(not(target_arch = "wasm32"))]
mod options;
#[cfg(not(target_arch = "wasm32"))]
mod protocol;
#[cfg(not(target_arch = "wasm32"))]
mod reporting;
#[cfg(not(target_arch = "wasm32"))]
mod running;
#[cfg(not(target_arch = "wasm32"))]
mod workloads;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> wasmtime::Result<()> {
    use options::Options;
    let options = Options::parse(std::env::args().skip(1).collect());
    // A child process: one measurement, answered on stdout.
    if let Some(request) = &options.child {
        return measuring::child(&protocol::Request::from_args(request));
    }
    let wasmtime = measuring::Wasmtime::new(&Options::root().join("bench/driver.wat"))?;
    let (allocators, mut missing) = running::allocators(&options, &wasmtime);
    let mut engines = Vec::new();
    for (engine, driver) in running::drivers(&options) {
        match driver {
            Ok(driver) => engines.push((engine, driver)),
            Err(e) => missing.push(format!("{}: {e}", engine.name())),
        }
    }
    assert!(!engines.is_empty(), "no engine to run the workloads in");
    let works: Vec<workloads::Workload> = workloads::workloads(options.scale)
        .into_iter()
        .filter(|w| {
            (options.work.as_ref()).is_none_or(|f| f.iter().any(|x| w.name.contains(x.as_str())))
        })
        .collect();
    let runs = running::run(&options, &wasmtime, &engines, &allocators, &works);
    let names: Vec<options::Engine> = engines.iter().map(|(e, _)| *e).collect();
    let report = reporting::Measured {
        options: &options,
        engines: &names,
        allocators: &allocators,
        works: &works,
        runs: &runs,
        missing,
    }
    .report();
    print!("{report}");
    if options.filtered() {
        eprintln!("(--only/--work: {} not written)", options.results.display());
    } else {
        std::fs::write(
            &options.results,
            with_rust_section(&options.results, &report),
        )?;
        eprintln!("written to {}", options.results.display());
    }
    Ok(())
}

/// The heading of the section that `make bench-rust` (bench/rust/run.mjs) writes at the end of
/// the results file.
#[cfg(not(target_arch = "wasm32"))]
const RUST_SECTION: &str = "\n## Rust programs (#[global_allocator])\n";

/// `report` followed by the Rust-level benchmark's section of the results file at `path`, when
/// it has one: this harness rewrites the rest of the file and keeps that section as it was.
#[cfg(not(target_arch = "wasm32"))]
fn with_rust_section(path: &std::path::Path, report: &str) -> String {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    match old.find(RUST_SECTION) {
        Some(at) => format!("{}\n{}", report.trim_end(), &old[at..]),
        None => report.to_string(),
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
