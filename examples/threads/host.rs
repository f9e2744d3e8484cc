//! The wasmtime host of `examples/threads` (the threaded Rust program with `WallE` as its global
//! allocator), shared by tests/threads_example.rs and examples/threads_churn.rs: it builds the
//! example and runs each thread as an instance of the module over one `SharedMemory`, with a
//! stack and TLS block of its own, as wasm-bindgen's workers and wasi threads do.

// Each includer uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use wasmtime::{Config, Engine, Instance, MemoryType, Module, SharedMemory, Store, Val};

/// Each thread's shadow stack (rustc's default for the main one is 1 MiB).
pub const STACK: u32 = 256 * 1024;

/// Which `WallE` the example is built with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Build {
    /// As shipped: per-thread caches under atomics.
    Caches,
    /// `--cfg wall_e_lock_only`: the lock around every call (the baseline of the timing run).
    LockOnly,
}

/// Builds the example (`cargo +nightly build --release` in `examples/threads`, its own target
/// dir under target/; a no-op when nothing changed) and returns the module's path.
/// `WALL_E_THREADS_EXAMPLE_WASM` replaces the `Caches` build with a module built elsewhere (e.g.
/// against a wall-e without its synchronisation, to see the tests fail).
pub fn build(which: Build) -> PathBuf {
    if which == Build::Caches {
        if let Some(path) = std::env::var_os("WALL_E_THREADS_EXAMPLE_WASM") {
            return path.into();
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("examples/threads");
    let target = root.join(match which {
        Build::Caches => "target/examples-threads",
        Build::LockOnly => "target/examples-threads-lock-only",
    });
    let mut cargo = Command::new("cargo");
    cargo
        .args(["+nightly", "build", "--release", "--quiet", "--target-dir"])
        .arg(&target)
        .current_dir(&dir)
        // Its .cargo/config.toml holds the flags; a RUSTFLAGS from outside would replace them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    if which == Build::LockOnly {
        // RUSTFLAGS replaces the config's flags: the same ones, and the cfg.
        let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap();
        let list = &config[config.find("rustflags").unwrap()..];
        let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
        let mut flags: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
        flags.extend(["--cfg", "wall_e_lock_only"]);
        cargo.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    }
    let status = cargo.status().expect("running cargo +nightly");
    assert!(
        status.success(),
        "building examples/threads failed (nightly with rust-src: scripts/setup.sh)"
    );
    target.join("wasm32-unknown-unknown/release/threads_example.wasm")
}

/// An engine with wasm threads, the module, and a new shared memory of the size it asks for
/// (at most 16,384 pages, or `max_pages`).
pub fn load(wasm: &PathBuf, max_pages: u32) -> (Module, SharedMemory) {
    let mut config = Config::new();
    config.wasm_threads(true).shared_memory(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::from_file(&engine, wasm).expect("compiling the example");
    let import = module.imports().next().expect("the memory import");
    let ty = import.ty();
    let wanted = ty.memory().expect("a memory import");
    assert!(wanted.is_shared());
    let memory = SharedMemory::new(
        &engine,
        MemoryType::shared(wanted.minimum() as u32, max_pages),
    )
    .unwrap();
    (module, memory)
}

/// One thread of the program: an instance with its own stack and TLS block.
pub struct Thread {
    pub store: Store<()>,
    pub instance: Instance,
    /// The stack's block (its base; `STACK` bytes, 16-aligned).
    pub stack: u32,
    /// The TLS block, its size and alignment.
    pub tls: (u32, u32, u32),
}

impl Thread {
    /// Instantiates the module over `memory` and moves it onto a stack and TLS block of its
    /// own, allocated through wall-e by the new instance itself (as wasm-bindgen's start function
    /// does), before its TLS is set. Until then it runs on the module's initial stack, shared by
    /// every instance: `setup` keeps any two instances from being set up at once.
    pub fn new(module: &Module, memory: &SharedMemory, setup: &Mutex<()>) -> Thread {
        let _one_at_a_time = setup.lock().unwrap_or_else(|e| e.into_inner());
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[memory.clone().into()])
            .expect("instantiating the example");
        let mut thread = Thread {
            store,
            instance,
            stack: 0,
            tls: (0, 0, 0),
        };
        let top = thread.call("thread_stack", &[Val::I32(STACK as i32)]);
        assert_ne!(top, 0, "no memory for a stack");
        thread
            .global("__stack_pointer")
            .set(&mut thread.store, Val::I32(top as i32))
            .expect("setting __stack_pointer");
        let size = thread
            .global("__tls_size")
            .get(&mut thread.store)
            .unwrap_i32();
        let align = thread
            .global("__tls_align")
            .get(&mut thread.store)
            .unwrap_i32();
        let tls = thread.call("thread_tls", &[Val::I32(size), Val::I32(align)]);
        assert_ne!(tls, 0, "no memory for TLS");
        thread.call("__wasm_init_tls", &[Val::I32(tls as i32)]);
        thread.stack = top - STACK;
        thread.tls = (tls, size as u32, align as u32);
        thread
    }

    fn global(&mut self, name: &str) -> wasmtime::Global {
        self.instance.get_global(&mut self.store, name).expect(name)
    }

    /// Calls an export; its first result as a `u32` (0 when it has none). Panics on a trap.
    pub fn call(&mut self, name: &str, args: &[Val]) -> u32 {
        let f = self.instance.get_func(&mut self.store, name).expect(name);
        let mut out = vec![Val::I32(0); f.ty(&self.store).results().len()];
        f.call(&mut self.store, args, &mut out)
            .unwrap_or_else(|e| panic!("{name} trapped: {e:?}"));
        out.first().map_or(0, |v| match v {
            Val::I64(x) => *x as u32,
            v => v.unwrap_i32() as u32,
        })
    }

    /// Calls an export that returns a `u64`.
    pub fn call64(&mut self, name: &str, args: &[Val]) -> u64 {
        let f = self.instance.get_func(&mut self.store, name).expect(name);
        let mut out = [Val::I64(0)];
        f.call(&mut self.store, args, &mut out)
            .unwrap_or_else(|e| panic!("{name} trapped: {e:?}"));
        out[0].unwrap_i64() as u64
    }

    /// `heap_stat(which)` (a heap walk): 0 used blocks, 1 cached, 2 free, 3 heap bytes, 4 used
    /// bytes, 5 cached bytes; panics if the walk finds the heap corrupt.
    pub fn stat(&mut self, which: u32) -> u32 {
        let v = self.call("heap_stat", &[Val::I32(which as i32)]) as i32;
        assert!(v >= 0, "heap walk failed");
        v as u32
    }

    /// Frees another (ended) thread's stack and TLS block through this one.
    pub fn free_thread(&mut self, ended: &Thread) {
        let args =
            |p: u32, s: u32, a: u32| [Val::I32(p as i32), Val::I32(s as i32), Val::I32(a as i32)];
        self.call("free_block", &args(ended.stack, STACK, 16));
        let (tls, size, align) = ended.tls;
        self.call("free_block", &args(tls, size.max(1), align.max(1)));
    }
}
