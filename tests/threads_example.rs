//! `examples/threads`, a threaded Rust wasm program (std rebuilt with atomics, one shared memory)
//! with wall-e as its `#[global_allocator]`, run on several wasmtime threads at once: each thread
//! is an instance of the module over the same `SharedMemory`, given its own shadow stack and TLS
//! block (allocated through wall-e), and runs Vec/String/Box/BTreeMap work whose checksum must
//! equal the same code's (`examples/threads/src/work.rs`) run natively, while another thread walks
//! the heap under wall-e's lock.
//!
//! The test builds the example itself (`cargo +nightly build --release` in `examples/threads`,
//! target dir `target/examples-threads`; a no-op when nothing changed). It needs nightly with
//! `rust-src` (scripts/setup.sh installs both).
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs wasmtime

#[path = "../examples/threads/src/work.rs"]
mod work;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine, Instance, MemoryType, Module, SharedMemory, Store, Val};

const THREADS: u32 = 3;
const RUNS: u32 = 20;
const ROUNDS: u32 = 40;
/// Each thread's shadow stack (rustc's default for the main one is 1 MiB).
const STACK: u32 = 256 * 1024;

fn build() -> PathBuf {
    // WALL_E_THREADS_EXAMPLE_WASM: a module built elsewhere (e.g. against a wall-e without its
    // lock, to see this test fail).
    if let Some(path) = std::env::var_os("WALL_E_THREADS_EXAMPLE_WASM") {
        return path.into();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/examples-threads");
    let status = Command::new("cargo")
        .args(["+nightly", "build", "--release", "--quiet", "--target-dir"])
        .arg(&target)
        .current_dir(root.join("examples/threads"))
        // Its .cargo/config.toml holds the flags; a RUSTFLAGS from outside would replace them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running cargo +nightly");
    assert!(
        status.success(),
        "building examples/threads failed (nightly with rust-src: scripts/setup.sh)"
    );
    target.join("wasm32-unknown-unknown/release/threads_example.wasm")
}

/// One thread of the program: an instance with its own stack and TLS.
struct Thread {
    store: Store<()>,
    instance: Instance,
}

impl Thread {
    /// Instantiates the module over `memory` and moves it onto a stack and TLS block of its own.
    /// Until then it runs on the module's initial stack, shared by every instance: `setup`
    /// keeps any two instances from being set up at once.
    fn new(module: &Module, memory: &SharedMemory, setup: &Mutex<()>) -> Thread {
        let _one_at_a_time = setup.lock().unwrap_or_else(|e| e.into_inner());
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[memory.clone().into()])
            .expect("instantiating the example");
        let call = |store: &mut Store<()>, name: &str, args: &[Val]| -> u32 {
            let f = instance.get_func(&mut *store, name).expect(name);
            let mut out = vec![Val::I32(0); f.ty(&*store).results().len()];
            f.call(&mut *store, args, &mut out).expect(name);
            out.first().map_or(0, |v| v.unwrap_i32() as u32)
        };
        let global =
            |store: &mut Store<()>, name: &str| instance.get_global(&mut *store, name).expect(name);
        let top = call(&mut store, "thread_stack", &[Val::I32(STACK as i32)]);
        assert_ne!(top, 0, "no memory for a stack");
        global(&mut store, "__stack_pointer")
            .set(&mut store, Val::I32(top as i32))
            .expect("setting __stack_pointer");
        let size = global(&mut store, "__tls_size")
            .get(&mut store)
            .unwrap_i32();
        let align = global(&mut store, "__tls_align")
            .get(&mut store)
            .unwrap_i32();
        let tls = call(&mut store, "thread_tls", &[Val::I32(size), Val::I32(align)]);
        assert_ne!(tls, 0, "no memory for TLS");
        call(&mut store, "__wasm_init_tls", &[Val::I32(tls as i32)]);
        Thread { store, instance }
    }

    fn run(&mut self, rounds: u32, seed: u32) -> u64 {
        let f = self
            .instance
            .get_typed_func::<(u32, u32), u64>(&mut self.store, "run")
            .unwrap();
        f.call(&mut self.store, (rounds, seed))
            .expect("run trapped")
    }

    fn get(&mut self, name: &str) -> i32 {
        let f = self
            .instance
            .get_typed_func::<(), i32>(&mut self.store, name)
            .unwrap();
        f.call(&mut self.store, ()).expect(name)
    }
}

#[test]
fn threads_share_wall_e_as_global_allocator() {
    let wasm = build();
    let mut config = Config::new();
    config.wasm_threads(true).shared_memory(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::from_file(&engine, &wasm).expect("compiling the example");
    let import = module.imports().next().expect("the memory import");
    let ty = import.ty();
    let wanted = ty.memory().expect("a memory import");
    assert!(wanted.is_shared());
    let memory =
        SharedMemory::new(&engine, MemoryType::shared(wanted.minimum() as u32, 16_384)).unwrap();
    let setup = Arc::new(Mutex::new(()));
    let began = Instant::now();
    let (done, results) = mpsc::channel();
    for t in 0..THREADS {
        let (module, memory, setup, done) =
            (module.clone(), memory.clone(), setup.clone(), done.clone());
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut thread = Thread::new(&module, &memory, &setup);
                let mut sums = Vec::new();
                for i in 0..RUNS {
                    sums.push(thread.run(ROUNDS, t * 100 + i));
                    // A heap walk between runs, under the lock, while the others allocate.
                    assert!(
                        thread.get("heap_check") >= 0,
                        "heap walk failed in thread {t}"
                    );
                }
                assert_eq!(
                    thread.get("runs"),
                    RUNS as i32,
                    "thread-local counter of thread {t}"
                );
                sums
            }));
            let _ = done.send((t, result.map_err(|_| ())));
        });
    }
    let mut sums = vec![Vec::new(); THREADS as usize];
    for _ in 0..THREADS {
        match results.recv_timeout(Duration::from_secs(600)) {
            Ok((t, Ok(s))) => sums[t as usize] = s,
            Ok((t, Err(()))) => panic!("thread {t} failed"),
            Err(_) => panic!("threads still running after 600 s: deadlock?"),
        }
    }
    eprintln!(
        "{THREADS} threads x {RUNS} runs of {ROUNDS} rounds in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    for t in 0..THREADS {
        for i in 0..RUNS {
            assert_eq!(
                sums[t as usize][i as usize],
                work::run(ROUNDS, t * 100 + i),
                "thread {t}, run {i}: the wasm checksum differs from the native one"
            );
        }
    }
    // One more thread: the heap is intact and holds only the stacks and TLS blocks (2 a thread).
    let mut last = Thread::new(&module, &memory, &setup);
    let used = last.get("heap_check");
    assert_eq!(
        used,
        2 * (THREADS as i32 + 1),
        "live blocks: stacks and TLS blocks only"
    );
}
