//! wall-e from the outside: the crates in `tests/dependents/` depend on it by path, as users do,
//! with `#[global_allocator] static A: wall_e::WallE = wall_e::WallE::new();` and nothing else.
//! Each is built for its wasm target and run the way its users run it: wasmtime for plain
//! modules, Node for wasm-bindgen bindings and for WASI programs (`node:wasi` for wasip1, jco's
//! transpiled component for wasip2; the host's environment passed and the crate's directory
//! preopened). Every one runs the shared workload
//! (`tests/dependents/workload`), which traps on any corrupted byte, and walks wall-e's heap.
//!
//! The crates build in `target/dependents` (their own workspace and target dir: the host build's
//! lock is not contended, and cargo's freshness check makes a rebuild a no-op).
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wasmtime::{Engine, Instance, Module, Store};

/// Rounds of the shared workload each module runs.
const ROUNDS: u32 = 3;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dependents() -> PathBuf {
    root().join("tests").join("dependents")
}

fn target_dir() -> PathBuf {
    root().join("target").join("dependents")
}

/// wall-e's size-tuned core (`features = ["small"]`) is built in a target dir of its own.
fn small_target_dir() -> PathBuf {
    root().join("target").join("dependents-small")
}

fn succeeded(what: &str, out: Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds `package` of the dependents' workspace for `target` (dev profile, as `cargo build`
/// and `cargo test` do by default) and returns the path of `file` in its output directory.
fn build(package: &str, target: &str, file: &str) -> PathBuf {
    build_in(&target_dir(), &[], package, target, file)
}

fn build_in(dir: &Path, args: &[&str], package: &str, target: &str, file: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dependents())
        .args(["build", "-p", package, "--target", target])
        .args(args)
        .arg("--target-dir")
        .arg(dir)
        .output()
        .expect("cannot run cargo");
    succeeded(&format!("building {package} for {target} {args:?}"), out);
    dir.join(target).join("debug").join(file)
}

fn load(path: &Path) -> (Store<()>, Instance, Module) {
    let engine = Engine::default();
    let module = Module::from_file(&engine, path).expect("load the module");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiate without imports");
    (store, instance, module)
}

/// Nothing of the standalone module reaches a dependent: none of its exports.
fn assert_no_wall_e_exports(module: &Module) {
    for export in module.exports() {
        assert!(
            ![
                "allocate",
                "deallocate",
                "reallocate",
                "size",
                "validate",
                "stat"
            ]
            .contains(&export.name()),
            "a dependent exports wall-e's `{}`",
            export.name()
        );
    }
}

/// Calls the exports every cdylib dependent has: the workload, deep recursion, a heap walk.
fn run_cdylib(store: &mut Store<()>, instance: &Instance) {
    let run = instance
        .get_typed_func::<u32, u64>(&mut *store, "run")
        .expect("run(u32) -> u64");
    let sum = run.call(&mut *store, ROUNDS).expect("the workload trapped");
    assert_eq!(sum, workload::exercise(ROUNDS), "the workload's checksum");
    assert_eq!(run.call(&mut *store, ROUNDS).unwrap(), sum, "a second run");
    let recurse = instance
        .get_typed_func::<u32, u32>(&mut *store, "recurse")
        .expect("recurse(u32) -> u32");
    // 300 frames of 1 KiB: far beyond the 4 KiB stack wall-e's standalone module has.
    assert_eq!(
        recurse.call(&mut *store, 300).expect("recursion trapped"),
        1
    );
    let heap_check = instance
        .get_typed_func::<(), i32>(&mut *store, "heap_check")
        .expect("heap_check() -> i32");
    assert_eq!(
        heap_check.call(&mut *store, ()).unwrap(),
        0,
        "live blocks or corruption"
    );
}

#[test]
fn plain_cdylib_keeps_its_own_stack_statics_and_memory() {
    let path = build(
        "plain-cdylib",
        "wasm32-unknown-unknown",
        "plain_cdylib.wasm",
    );
    let (mut store, instance, module) = load(&path);
    assert_no_wall_e_exports(&module);
    let memory = instance.get_memory(&mut store, "memory").unwrap();
    // 96 KiB of statics and rustc's 1 MiB stack: the initial memory is the module's own, not
    // wall-e's one page.
    assert!(
        memory.size(&store) >= 17,
        "initial memory of {} pages",
        memory.size(&store)
    );
    let stack = instance
        .get_typed_func::<(), u32>(&mut store, "stack_address")
        .unwrap()
        .call(&mut store, ())
        .unwrap();
    assert!(
        stack > 1_000_000,
        "the shadow stack starts at {stack}: not rustc's 1 MiB"
    );
    let intact = instance
        .get_typed_func::<(), u32>(&mut store, "statics_intact")
        .unwrap();
    assert_eq!(intact.call(&mut store, ()).unwrap(), 1);
    run_cdylib(&mut store, &instance);
    assert_eq!(
        intact.call(&mut store, ()).unwrap(),
        1,
        "statics overwritten"
    );
}

fn nostd_cdylib_on(target: &str) {
    let path = build("nostd-cdylib", target, "nostd_cdylib.wasm");
    let (mut store, instance, module) = load(&path);
    assert_no_wall_e_exports(&module);
    run_cdylib(&mut store, &instance);
    assert_eq!(
        thread_safe(&mut store, &instance),
        0,
        "a lock on a one-thread target"
    );
}

fn thread_safe(store: &mut Store<()>, instance: &Instance) -> u32 {
    let f = instance
        .get_typed_func::<(), u32>(&mut *store, "thread_safe")
        .expect("thread_safe() -> u32");
    f.call(&mut *store, ()).unwrap()
}

/// On stable, rustc does not set `cfg(target_feature = "atomics")` even for
/// `wasm32-wasip1-threads`, whose programs run threads over a shared memory: wall-e's build.rs
/// sees the target, so `WallE` takes its lock there (it took none before). Built with the
/// toolchain `cargo test` runs on (stable in `make test`), then run under wasmtime over a shared
/// memory, as that target's modules expect.
#[test]
fn nostd_cdylib_on_wasm32_wasip1_threads_takes_the_lock() {
    let path = build("nostd-cdylib", "wasm32-wasip1-threads", "nostd_cdylib.wasm");
    let mut config = wasmtime::Config::new();
    config.wasm_threads(true);
    config.shared_memory(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::from_file(&engine, &path).expect("load the module");
    let mut store = Store::new(&engine, ());
    let mut linker = wasmtime::Linker::new(&engine);
    for import in module.imports() {
        match (import.module(), import.name(), import.ty()) {
            ("env", "memory", wasmtime::ExternType::Memory(ty)) => {
                assert!(ty.is_shared(), "the threads target imports a shared memory");
                let memory = wasmtime::SharedMemory::new(&engine, ty).unwrap();
                linker.define(&store, "env", "memory", memory).unwrap();
            }
            // (No libc on a no_std module: the one C function core's code calls.)
            ("env", "memcmp", _) => {
                linker
                    .func_wrap(
                        "env",
                        "memcmp",
                        |mut caller: wasmtime::Caller<'_, ()>, a: u32, b: u32, n: u32| -> i32 {
                            let Some(wasmtime::Extern::SharedMemory(m)) =
                                caller.get_export("memory")
                            else {
                                panic!("memory export");
                            };
                            let data = m.data();
                            // SAFETY: one thread runs the module, and it waits in this call.
                            let byte = |at: u32| unsafe { *data[at as usize].get() };
                            (0..n)
                                .map(|i| byte(a + i) as i32 - byte(b + i) as i32)
                                .find(|&d| d != 0)
                                .unwrap_or(0)
                        },
                    )
                    .unwrap();
            }
            (m, n, _) => panic!("unexpected import {m}.{n}"),
        }
    }
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    assert_eq!(
        thread_safe(&mut store, &instance),
        1,
        "WallE takes no lock on wasm32-wasip1-threads"
    );
    run_cdylib(&mut store, &instance);
}

#[test]
fn nostd_cdylib_with_its_own_panic_handler_on_wasm32_unknown_unknown() {
    nostd_cdylib_on("wasm32-unknown-unknown");
}

#[test]
fn nostd_cdylib_with_its_own_panic_handler_on_wasm32v1_none() {
    nostd_cdylib_on("wasm32v1-none");
}

#[test]
fn nostd_cdylib_with_the_size_tuned_core() {
    let dir = small_target_dir();
    let path = build_in(
        &dir,
        &["--features", "wall-e/small"],
        "nostd-cdylib",
        "wasm32-unknown-unknown",
        "nostd_cdylib.wasm",
    );
    let (mut store, instance, module) = load(&path);
    assert_no_wall_e_exports(&module);
    run_cdylib(&mut store, &instance);
}

#[test]
fn binary_for_wasm32_unknown_unknown_runs_main() {
    let path = build("unknown-bin", "wasm32-unknown-unknown", "unknown-bin.wasm");
    let (mut store, instance, module) = load(&path);
    assert_no_wall_e_exports(&module);
    // rustc's `main(argc, argv)`; a failed assertion inside traps.
    let main = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "main")
        .expect("main(i32, i32) -> i32");
    assert_eq!(main.call(&mut store, (0, 0)).expect("main trapped"), 0);
}

#[test]
fn wasm_bindgen_app_in_node() {
    let path = build("bindgen-app", "wasm32-unknown-unknown", "bindgen_app.wasm");
    let out_dir = target_dir().join("bindgen-app-js");
    let out = Command::new("wasm-bindgen")
        .args(["--target", "nodejs", "--out-dir"])
        .arg(&out_dir)
        .arg(&path)
        .output()
        .expect("cannot run wasm-bindgen (scripts/setup.sh installs it)");
    succeeded("wasm-bindgen --target nodejs", out);
    let out = Command::new("node")
        .arg(dependents().join("bindgen-app").join("check.mjs"))
        .arg(&out_dir)
        .output()
        .expect("cannot run node");
    let stdout = succeeded("bindgen-app/check.mjs", out);
    assert!(stdout.contains("bindgen-app: ok"), "{stdout}");
    let expected = format!("checksum {}", workload::exercise(ROUNDS));
    assert!(stdout.contains(&expected), "{stdout}");
}

/// Runs the WASI program under Node from its crate's directory (preopened), with the host's
/// environment plus `WALL_E_DEPENDENT=wasi`.
fn run_wasi_program(path: &Path, runner: &str) -> String {
    let out = Command::new("node")
        .arg("--no-warnings")
        .arg(root().join("scripts").join(runner))
        .arg(path)
        .arg(format!("{runner}.scratch"))
        .current_dir(dependents().join("wasi-program"))
        .env("WALL_E_DEPENDENT", "wasi")
        .output()
        .expect("cannot run node");
    let stdout = succeeded("the WASI program", out);
    assert!(stdout.contains("wasi-program: ok"), "{stdout}");
    let expected = format!("checksum {}", workload::exercise(3));
    assert!(stdout.contains(&expected), "{stdout}");
    stdout
}

#[test]
fn wasi_program_beside_libc_malloc_with_environment_and_files() {
    let path = build("wasi-program", "wasm32-wasip1", "wasi-program.wasm");
    run_wasi_program(&path, "wasi-run.mjs");
}

#[test]
fn wasip2_component_beside_libc_malloc_with_environment_and_files() {
    let path = build("wasi-program", "wasm32-wasip2", "wasi-program.wasm");
    run_wasi_program(&path, "wasip2-run.mjs");
}
