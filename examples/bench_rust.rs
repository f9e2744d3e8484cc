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

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use std::time::Duration;
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

    /// This thread's CPU time (user + system), as examples/bench/measuring.rs takes it: time
    /// spent waiting for a core is left out. Wall time elsewhere than Linux.
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
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed()
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
