//! The wasmtime side of the Rust-level benchmark (`bench/rust/run.mjs`, `make bench-rust`): one
//! allocator's module (bench/rust, built with that allocator as its `#[global_allocator]`), the
//! workloads of the plan, one JSON answer per workload on stdout, exactly as
//! `bench/rust/measure.mjs` does in V8:
//!
//! ```text
//! cargo run --example bench_rust -- MODULE.wasm WORK=N ...
//! ```
//!
//! Per workload: a fresh instance (its memory is this workload's alone), `setup_<w>()` when the
//! module has it, `run_<w>(N)` once untimed (warm-up), `run_<w>(N)` timed (this thread's CPU
//! time, as `examples/bench/measuring.rs` takes it), `teardown_<w>()` when the module has it.
//! The answer: `{"work":…,"ns":…,"sums":[warm-up,timed,teardown],"pages0":…,"pages":…}` or
//! `{"work":…,"error":…}` when the module traps. A host program: built for wasm32 (as `cargo test
//! --target wasm32-unknown-unknown` builds every example), it is empty.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((path, specs)) = args.split_first() else {
        eprintln!("usage: cargo run --example bench_rust -- MODULE.wasm WORK=N ...");
        std::process::exit(2);
    };
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::from_file(&engine, path)?;
    for spec in specs {
        let (work, n) = spec
            .split_once('=')
            .and_then(|(w, n)| Some((w, n.parse::<u32>().ok()?)))
            .unwrap_or_else(|| panic!("not WORK=N: {spec}"));
        let line = match host::measure(&engine, &module, work, n) {
            Ok(m) => format!(
                "{{\"work\":\"{work}\",\"ns\":{},\"sums\":[{},{},{}],\"pages0\":{},\"pages\":{}}}",
                m.ns, m.sums[0], m.sums[1], m.sums[2], m.pages0, m.pages
            ),
            Err(e) => format!(
                "{{\"work\":\"{work}\",\"error\":\"{}\"}}",
                e.replace(['"', '\\', '\n'], " ")
            ),
        };
        println!("{line}");
    }
    Ok(())
}

// This thread's CPU time, taken as the raw-ABI benchmark takes it.
#[cfg(not(target_arch = "wasm32"))]
#[path = "bench/cpu_time.rs"]
mod cpu_time;

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::cpu_time::cpu_time;

    use wasmtime::{Engine, Instance, Module, Store};

    /// One workload's figures.
    pub struct Measured {
        pub ns: u128,
        pub sums: [u32; 3],
        pub pages0: u64,
        pub pages: u64,
    }

    /// Runs workload `work` with argument `n` on a fresh instance of `module`.
    pub fn measure(
        engine: &Engine,
        module: &Module,
        work: &str,
        n: u32,
    ) -> Result<Measured, String> {
        let text = |e: wasmtime::Error| format!("{e:#}");
        let mut store = Store::new(engine, ());
        let instance = Instance::new(&mut store, module, &[]).map_err(text)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or("no memory export")?;
        let pages0 = memory.size(&store);
        let run = instance
            .get_typed_func::<u32, u32>(&mut store, &format!("run_{work}"))
            .map_err(text)?;
        if let Some(setup) = instance.get_func(&mut store, &format!("setup_{work}")) {
            setup
                .typed::<(), ()>(&store)
                .map_err(text)?
                .call(&mut store, ())
                .map_err(text)?;
        }
        let warm = run.call(&mut store, n).map_err(text)?;
        let started = cpu_time();
        let sum = run.call(&mut store, n);
        let ns = (cpu_time() - started).as_nanos();
        let sum = sum.map_err(text)?;
        let last = match instance.get_func(&mut store, &format!("teardown_{work}")) {
            Some(f) => f
                .typed::<(), u32>(&store)
                .map_err(text)?
                .call(&mut store, ())
                .map_err(text)?,
            None => 0,
        };
        Ok(Measured {
            ns,
            sums: [warm, sum, last],
            pages0,
            pages: memory.size(&store),
        })
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
