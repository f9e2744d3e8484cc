//! Runs `examples/json.rs`, a Rust wasm module with wall-e as its global allocator, under wasmtime
//! and checks its output exactly.
//!
//! The test builds the example itself with cargo, in its own target directory
//! `target/examples-wasm` (a wasm32-only build: it does not contend with the host build's lock
//! and never rebuilds wasmtime), so it always runs the module of the current sources; cargo's
//! freshness check makes that a no-op when nothing changed.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;
use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc};

/// What `run()` must return, byte for byte: the document with sorted keys, zones sorted by their
/// new `total`, a `summary` (sum of all 15 numbers: 69 in bins + 18 in temps + 99 552 in stock +
/// 2 024), then the BTreeMap and heap lines.
const EXPECTED: &str = concat!(
    r#"{"audit":{"notes":["recount gears","label \"bulk\""],"passed":false,"year":2024},"#,
    r#""manager":null,"open":true,"stock":{"axles":42,"bolts":98000,"gears":310,"widgets":1200},"#,
    r#""summary":{"array":5,"bool":2,"null":1,"number":15,"object":6,"string":6,"sum":101663},"#,
    r#""warehouse":"north","zones":[{"bins":[],"name":"bulk","temp":15,"total":0},"#,
    r#"{"bins":[5,5,5,5],"name":"dry","temp":21,"total":20},"#,
    r#"{"bins":[12,7,30],"name":"cold","temp":-18,"total":49}]}"#,
    "\n",
    // 10 000 values "value-<k>": 6 bytes each plus 38 890 digits.
    "btree: 10000 entries, in order: true, value bytes: 98890, left: 0\n",
    "heap: ok, blocks back to start: true\n",
);

/// Builds the example (release, wasm32) and returns the module's path.
fn build_example() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = root.join("target").join("examples-wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--example",
            "json",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .expect("cannot run cargo");
    assert!(
        out.status.success(),
        "building examples/json.rs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir.join("wasm32-unknown-unknown/release/examples/json.wasm")
}

struct Example {
    store: Store<()>,
    memory: Memory,
    run: TypedFunc<(), u32>,
    release: TypedFunc<u32, ()>,
    check: TypedFunc<(), i32>,
}

impl Example {
    fn new(module: &Module) -> Self {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[]).expect("instantiate");
        Example {
            memory: instance
                .get_memory(&mut store, "memory")
                .expect("exports memory"),
            run: instance
                .get_typed_func(&mut store, "run")
                .expect("run() -> u32"),
            release: instance
                .get_typed_func(&mut store, "release")
                .expect("release(u32)"),
            check: instance
                .get_typed_func(&mut store, "check")
                .expect("check() -> i32"),
            store,
        }
    }

    /// Calls `run`, reads `[len][bytes]` at the address it returns; returns the address and text.
    fn run(&mut self) -> (u32, String) {
        let p = self.run.call(&mut self.store, ()).expect("run() trapped");
        let data = self.memory.data(&self.store);
        let at = p as usize;
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let text = std::str::from_utf8(&data[at + 4..at + 4 + len])
            .expect("UTF-8 output")
            .to_owned();
        (p, text)
    }

    fn check(&mut self) -> i32 {
        self.check
            .call(&mut self.store, ())
            .expect("check() trapped")
    }
}

#[test]
fn json_example_runs_under_wasmtime() {
    let path = build_example();
    let engine = Engine::default();
    let module = Module::from_file(&engine, &path).expect("load json.wasm");

    // A Rust program on wasm32-unknown-unknown with wall-e as its allocator needs nothing from
    // its host: no imports at all (so no stubs either).
    let imports: Vec<String> = module
        .imports()
        .map(|i| format!("{}::{}", i.module(), i.name()))
        .collect();
    assert!(imports.is_empty(), "json.wasm imports {imports:?}");
    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    for name in ["memory", "run", "release", "check"] {
        assert!(
            exports.contains(&name),
            "json.wasm does not export {name}: {exports:?}"
        );
    }

    let mut ex = Example::new(&module);
    assert_eq!(ex.check(), 0, "nothing allocated before run()");
    let (p, text) = ex.run();
    assert_eq!(text, EXPECTED);
    assert_eq!(ex.check(), 1, "only the output block is live after run()");
    ex.release.call(&mut ex.store, p).unwrap();
    assert_eq!(ex.check(), 0, "the heap is empty after release()");

    // Again and again in the same instance: same output, the memory stops growing (freed blocks
    // are reused, nothing leaks), and the heap stays valid.
    let (p2, text) = ex.run();
    assert_eq!(text, EXPECTED);
    ex.release.call(&mut ex.store, p2).unwrap();
    let pages = ex.memory.size(&ex.store);
    for _ in 0..5 {
        let (p, text) = ex.run();
        assert_eq!(text, EXPECTED);
        ex.release.call(&mut ex.store, p).unwrap();
        assert_eq!(ex.check(), 0);
    }
    assert_eq!(
        ex.memory.size(&ex.store),
        pages,
        "memory kept growing across identical runs"
    );
}
