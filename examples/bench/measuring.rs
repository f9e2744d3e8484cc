//! One measurement under wasmtime: a fresh allocator instance and a fresh driver instance linked
//! to it (the driver imports the allocator's memory and its `allocate`, `deallocate` and
//! `reallocate` as `alloc.*`), `setup(cap, seed)`, the untimed call if any, then the timed call,
//! its CPU time, the memory grown since the allocator was instantiated and the driver's counters.
//! `bench/node.mjs` does the same in V8.

use crate::cpu_time::cpu_time;
use crate::protocol::{self, Outcome, Request};
use crate::workloads::Call;
use std::path::Path;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;
use wasmtime::{Engine, Instance, Linker, Module, Store, TypedFunc, Val};

/// The wasmtime engine and the driver compiled for it.
pub struct Wasmtime {
    engine: Engine,
    driver: Module,
}

impl Wasmtime {
    pub fn new(driver: &Path) -> wasmtime::Result<Wasmtime> {
        let engine = Engine::default();
        let driver = Module::from_file(&engine, driver)?;
        Ok(Wasmtime { engine, driver })
    }

    /// Compiles an allocator's module.
    pub fn load(&self, path: &Path) -> wasmtime::Result<Module> {
        Module::from_file(&self.engine, path)
    }

    /// Runs one measurement on a fresh instance of `alloc`; `Err` when it traps or fails to set
    /// up.
    pub fn measure(
        &self,
        alloc: &Module,
        cap: u32,
        seed: u64,
        setup: Option<&Call>,
        timed: &Call,
    ) -> Result<Outcome, String> {
        let mut store = Store::new(&self.engine, ());
        let instance = Instance::new(&mut store, alloc, &[]).map_err(|e| format!("{e:#}"))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or("no memory export")?;
        let mem0 = memory.data_size(&store) as u64;
        let mut linker = Linker::new(&self.engine);
        linker
            .instance(&mut store, "alloc", instance)
            .map_err(|e| format!("{e:#}"))?;
        let drv = linker
            .instantiate(&mut store, &self.driver)
            .map_err(|e| format!("{e:#}"))?;
        let setup_fn = func(&mut store, &drv, "setup")
            .typed::<(u32, u64), u32>(&store)
            .map_err(|e| format!("{e:#}"))?;
        if setup_fn
            .call(&mut store, (cap, seed))
            .map_err(|e| format!("setup: {e:#}"))?
            == 0
        {
            return Err("setup: no memory for the slot table".into());
        }
        let trap = |e: wasmtime::Error| format!("trap: {e:#}");
        if let Some(call) = setup {
            Typed::new(&mut store, &drv, call)
                .call(&mut store)
                .map_err(trap)?;
        }
        let run = Typed::new(&mut store, &drv, timed);
        let ops0 = global(&mut store, &drv, "ops");
        let started = cpu_time();
        timed_part(|| run.call(&mut store)).map_err(trap)?;
        let elapsed = cpu_time() - started;
        Ok(Outcome {
            cpu_ns: elapsed.as_nanos() as u64,
            ops: global(&mut store, &drv, "ops") - ops0,
            growth: memory.data_size(&store) as u64 - mem0,
            peak: global(&mut store, &drv, "peak"),
            errors: global(&mut store, &drv, "errors"),
            nils: global(&mut store, &drv, "nils"),
            reallocs: global(&mut store, &drv, "reallocs"),
            moved: global(&mut store, &drv, "moved"),
        })
    }
}

/// A child process (`--child`): the one measurement of `request`, answered on stdout.
pub fn child(request: &Request) -> wasmtime::Result<()> {
    let wasmtime = Wasmtime::new(&request.driver)?;
    let module = wasmtime.load(&request.module)?;
    let outcome = wasmtime.measure(
        &module,
        request.cap,
        request.seed,
        request.setup.as_ref(),
        &request.timed,
    );
    println!("{}", protocol::answer_line(&outcome));
    Ok(())
}

/// A driver export with its arguments, type-checked before the timed part so that the timed part
/// is the call alone.
enum Typed {
    One(TypedFunc<u32, ()>, u32),
    Two(TypedFunc<(u32, u32), ()>, (u32, u32)),
    Four(TypedFunc<(u32, u32, u32, u32), ()>, (u32, u32, u32, u32)),
    Five(
        TypedFunc<(u32, u32, u32, u32, u32), ()>,
        (u32, u32, u32, u32, u32),
    ),
}

impl Typed {
    fn new(store: &mut Store<()>, driver: &Instance, call: &Call) -> Typed {
        let f = func(store, driver, &call.export);
        let bad = |e: wasmtime::Error| -> ! { panic!("driver export {}: {e:#}", call.export) };
        match call.args[..] {
            [a] => Typed::One(f.typed(&*store).unwrap_or_else(|e| bad(e)), a),
            [a, b] => Typed::Two(f.typed(&*store).unwrap_or_else(|e| bad(e)), (a, b)),
            [a, b, c, d] => Typed::Four(f.typed(&*store).unwrap_or_else(|e| bad(e)), (a, b, c, d)),
            [a, b, c, d, e] => {
                Typed::Five(f.typed(&*store).unwrap_or_else(|e| bad(e)), (a, b, c, d, e))
            }
            _ => panic!(
                "driver export {}: no call with {} arguments",
                call.export,
                call.args.len()
            ),
        }
    }

    fn call(&self, store: &mut Store<()>) -> wasmtime::Result<()> {
        match self {
            Typed::One(f, arg) => f.call(store, *arg),
            Typed::Two(f, args) => f.call(store, *args),
            Typed::Four(f, args) => f.call(store, *args),
            Typed::Five(f, args) => f.call(store, *args),
        }
    }
}

fn func(store: &mut Store<()>, driver: &Instance, name: &str) -> wasmtime::Func {
    driver
        .get_func(&mut *store, name)
        .unwrap_or_else(|| panic!("driver export {name} missing"))
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

/// Runs the timed part between two marker calls, so that `valgrind --tool=callgrind
/// --dump-after='*timed_start*' --dump-before='*timed_end*'` (`bench/instructions`) dumps the
/// instruction count of each measurement's timed part on its own (every second dump file).
fn timed_part<R>(run: impl FnOnce() -> R) -> R {
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
