//! A second wasm module that imports wall-e: `examples/client/client.wat` (a linked list and a
//! growable string kept in blocks it allocates) linked to the real `pkg/wall-e.wasm` under
//! wasmtime, with wall-e's exports as the client's `"wall-e"` imports.
//!
//! `pkg/wall-e.wasm` must be built first: `node scripts/build.mjs` (or `make build`).
//! Run with `cargo test --test client_module`.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;
use wasmtime::{Caller, Engine, Extern, Instance, Linker, Memory, Module, Store, TypedFunc};

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn wall_e_module(engine: &Engine) -> Module {
    let wasm = path("pkg/wall-e.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: build it first with `node scripts/build.mjs` (or `make build`)",
        wasm.display()
    );
    Module::from_file(engine, &wasm).expect("pkg/wall-e.wasm compiles")
}

fn client_module(engine: &Engine) -> Module {
    // The `wat` feature of wasmtime lets `from_file` read the text format directly.
    Module::from_file(engine, path("examples/client/client.wat")).expect("client.wat compiles")
}

/// wall-e and a client linked to it; the store's data says whether allocation should fail
/// (only used by the out-of-memory test, which routes the client's allocations through the host).
struct Pair {
    store: Store<bool>,
    wall_e: Instance,
    client: Instance,
    memory: Memory,
}

impl Pair {
    fn new() -> Self {
        Self::linked(false)
    }

    /// With `failable`, the client's `allocate`/`reallocate` go through host functions that return
    /// 0 while the store's flag is set, and otherwise forward to wall-e.
    fn linked(failable: bool) -> Self {
        let engine = Engine::default();
        let mut store = Store::new(&engine, false);
        let wall_e =
            Instance::new(&mut store, &wall_e_module(&engine), &[]).expect("wall-e instantiates");
        let memory = wall_e
            .get_memory(&mut store, "memory")
            .expect("wall-e exports memory");
        let mut linker = Linker::new(&engine);
        linker
            .instance(&mut store, "wall-e", wall_e)
            .expect("wall-e's exports link");
        if failable {
            let allocate = wall_e
                .get_typed_func::<u32, u32>(&mut store, "allocate")
                .unwrap();
            let reallocate = wall_e
                .get_typed_func::<(u32, u32), u32>(&mut store, "reallocate")
                .unwrap();
            linker.allow_shadowing(true);
            linker
                .func_wrap(
                    "wall-e",
                    "allocate",
                    move |mut caller: Caller<'_, bool>, n: u32| {
                        if *caller.data() {
                            Ok(0)
                        } else {
                            allocate.call(&mut caller, n)
                        }
                    },
                )
                .unwrap();
            linker
                .func_wrap(
                    "wall-e",
                    "reallocate",
                    move |mut caller: Caller<'_, bool>, p: u32, n: u32| {
                        if *caller.data() {
                            Ok(0)
                        } else {
                            reallocate.call(&mut caller, (p, n))
                        }
                    },
                )
                .unwrap();
        }
        let client = linker
            .instantiate(&mut store, &client_module(&engine))
            .expect("the client instantiates against wall-e");
        Pair {
            store,
            wall_e,
            client,
            memory,
        }
    }

    fn client<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
    ) -> TypedFunc<P, R> {
        self.client
            .get_typed_func(&mut self.store, name)
            .unwrap_or_else(|e| panic!("client export {name}: {e}"))
    }

    fn wall_e<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
    ) -> TypedFunc<P, R> {
        self.wall_e
            .get_typed_func(&mut self.store, name)
            .unwrap_or_else(|e| panic!("wall-e export {name}: {e}"))
    }

    /// Calls a client export taking no arguments and returning an i32.
    fn get(&mut self, name: &str) -> u32 {
        let f = self.client::<(), u32>(name);
        f.call(&mut self.store, ()).unwrap()
    }

    /// Calls a client export taking one i32 and returning an i32.
    fn call(&mut self, name: &str, arg: u32) -> u32 {
        let f = self.client::<u32, u32>(name);
        f.call(&mut self.store, arg).unwrap()
    }

    fn size(&mut self, p: u32) -> u32 {
        let f = self.wall_e::<u32, u32>("size");
        f.call(&mut self.store, p).unwrap()
    }

    fn allocate(&mut self, n: u32) -> u32 {
        let f = self.wall_e::<u32, u32>("allocate");
        f.call(&mut self.store, n).unwrap()
    }

    fn deallocate(&mut self, p: u32) {
        let f = self.wall_e::<u32, ()>("deallocate");
        f.call(&mut self.store, p).unwrap()
    }

    /// A copy of `len` bytes of wall-e's memory at `p` (re-read after every call: memory may grow).
    fn bytes(&self, p: u32, len: u32) -> Vec<u8> {
        self.memory.data(&self.store)[p as usize..(p + len) as usize].to_vec()
    }

    fn u32_at(&self, addr: u32) -> u32 {
        u32::from_le_bytes(self.bytes(addr, 4).try_into().unwrap())
    }

    /// The client's string, read through wall-e's memory.
    fn string(&mut self) -> String {
        let (p, len) = (self.get("str_ptr"), self.get("str_len"));
        String::from_utf8(self.bytes(p, len)).expect("the string is ASCII")
    }
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// What `run(n)` writes: "n,...,2,1".
fn expected(n: u32) -> String {
    (1..=n)
        .rev()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn client_imports_wall_e_and_owns_no_memory() {
    let engine = Engine::default();
    let client = client_module(&engine);
    let mut imports: Vec<String> = client
        .imports()
        .map(|i| {
            let kind = match i.ty() {
                wasmtime::ExternType::Func(_) => "func",
                wasmtime::ExternType::Memory(_) => "memory",
                _ => "other",
            };
            format!("{}.{}:{kind}", i.module(), i.name())
        })
        .collect();
    imports.sort();
    assert_eq!(
        imports,
        [
            "wall-e.allocate:func",
            "wall-e.deallocate:func",
            "wall-e.memory:memory",
            "wall-e.reallocate:func",
            "wall-e.size:func"
        ]
    );
    assert!(
        client
            .exports()
            .all(|e| !matches!(e.ty(), wasmtime::ExternType::Memory(_))),
        "the client exports no memory of its own"
    );
}

#[test]
fn run_builds_list_and_string_that_wall_e_agrees_with() {
    let mut pair = Pair::new();
    // A host-owned canary block: the client must never write it.
    let canary = pair.allocate(256);
    assert_ne!(canary, 0);
    pair.memory.data_mut(&mut pair.store)[canary as usize..canary as usize + 256].fill(0xc3);

    for n in [0u32, 1, 9, 10, 1000] {
        let hash = pair.call("run", n);
        let text = expected(n);
        assert_eq!(pair.get("list_len"), n);
        assert_eq!(pair.get("list_sum"), n * (n + 1) / 2);
        assert_eq!(pair.get("list_bad_nodes"), 0);
        assert_eq!(pair.get("str_len") as usize, text.len());
        assert_eq!(hash, fnv1a(text.as_bytes()), "run({n}) hash");
        if n == 0 {
            assert_eq!(pair.get("str_ptr"), 0);
            continue;
        }
        assert_eq!(pair.string(), text);
        // wall-e's size() is the capacity the client asked for.
        let (str_ptr, cap) = (pair.get("str_ptr"), pair.get("str_cap"));
        assert_eq!(pair.size(str_ptr), cap);
        assert!(cap >= text.len() as u32);
        // Walk the list from the host: each node is a live 8-byte block [next][value].
        let mut node = pair.get("list_head");
        for v in (1..=n).rev() {
            assert_eq!(pair.size(node), 8, "node {node:#x}");
            assert_eq!(pair.u32_at(node + 4), v);
            node = pair.u32_at(node);
        }
        assert_eq!(node, 0);
    }
    assert!(
        pair.bytes(canary, 256).iter().all(|&b| b == 0xc3),
        "the client wrote the host's block"
    );
    assert_eq!(pair.size(canary), 256);
    pair.deallocate(canary);
}

#[test]
fn client_grows_the_shared_memory() {
    let mut pair = Pair::new();
    let before = pair.memory.size(&pair.store);
    let n = 100_000; // 100k 8-byte nodes and a ~600 KB string
    let hash = pair.call("run", n);
    assert!(
        pair.memory.size(&pair.store) > before,
        "memory grew during the client's calls"
    );
    let text = expected(n);
    assert_eq!(hash, fnv1a(text.as_bytes()));
    assert_eq!(pair.string(), text);
    assert_eq!(pair.get("list_bad_nodes"), 0);
    assert_eq!(pair.get("list_sum"), (n as u64 * (n as u64 + 1) / 2) as u32);
}

#[test]
fn finish_hands_over_an_exact_block_and_clear_frees() {
    let mut pair = Pair::new();
    for b in b"answer=" {
        assert_eq!(pair.call("str_push", *b as u32), 1);
    }
    for n in [42, 0, u32::MAX] {
        assert_eq!(pair.call("str_push_u32", n), 1);
    }
    let p = pair.get("str_finish");
    let text = "answer=4204294967295";
    assert_eq!(
        pair.size(p) as usize,
        text.len(),
        "shrunk to the string's length"
    );
    assert_eq!(pair.bytes(p, text.len() as u32), text.as_bytes());
    assert_eq!(pair.get("str_ptr"), 0);
    assert_eq!(pair.get("str_finish"), 0, "an empty string finishes as nil");
    pair.deallocate(p);
    assert_eq!(pair.size(p), 0);

    pair.call("run", 50);
    let (head, s) = (pair.get("list_head"), pair.get("str_ptr"));
    let clear = pair.client::<(), ()>("list_clear");
    clear.call(&mut pair.store, ()).unwrap();
    let clear = pair.client::<(), ()>("str_clear");
    clear.call(&mut pair.store, ()).unwrap();
    assert_eq!(
        (pair.size(head), pair.size(s)),
        (0, 0),
        "cleared blocks are freed"
    );
    assert_eq!(pair.get("list_len"), 0);
    assert_eq!(pair.call("run", 50), fnv1a(expected(50).as_bytes()));
}

#[test]
fn client_reports_out_of_memory() {
    let mut pair = Pair::linked(true);
    for b in b"12345678" {
        assert_eq!(pair.call("str_push", *b as u32), 1);
    }
    assert_eq!(pair.call("list_push", 7), 1);
    let s = pair.get("str_ptr");
    *pair.store.data_mut() = true; // allocation now fails
    assert_eq!(pair.call("str_push", b'9' as u32), 0);
    assert_eq!(pair.call("str_push_u32", 123), 0);
    assert_eq!(pair.call("list_push", 8), 0);
    assert_eq!(
        (pair.get("str_ptr"), pair.get("str_len")),
        (s, 8),
        "the string is unchanged"
    );
    assert_eq!(pair.string(), "12345678");
    assert_eq!((pair.get("list_len"), pair.get("list_sum")), (1, 7));
    let run = pair.client::<u32, u32>("run");
    let trap = run
        .call(&mut pair.store, 3)
        .expect_err("run traps when out of memory");
    assert_eq!(
        trap.downcast_ref::<wasmtime::Trap>(),
        Some(&wasmtime::Trap::UnreachableCodeReached)
    );
    *pair.store.data_mut() = false;
    assert_eq!(pair.call("run", 3), fnv1a(b"3,2,1"));
    // The store's memory is still wall-e's: nothing else was linked in.
    assert!(matches!(
        pair.wall_e.get_export(&mut pair.store, "memory"),
        Some(Extern::Memory(_))
    ));
}
