//! C clients under wasmtime (examples/c, built by `scripts/build-c.sh`): position-independent
//! modules linked beside the real wall-e module (tests/common/dylink.rs, the twin of the JS
//! loader's `loadClient`). cJSON 1.7.19 prints exactly what the same code built natively with
//! glibc prints, and the heap walks clean after; the bad-input client traps with a reason in the
//! checked build. The same in Node: pkg/test/c-client.test.js.
//!
//! Run `make test-clients` (or `scripts/build-c.sh`, then `cargo test --test c_client`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::dylink::{dylink_info, load_client, Client};
use common::wasm::{Variant, Wall};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn artifact(relative: &str) -> Vec<u8> {
    let path = root().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build the C clients first with `scripts/build-c.sh` (or `make test-clients`)",
            path.display()
        )
    })
}

fn inputs() -> Vec<PathBuf> {
    let dir = root().join("examples/c/vendor/cJSON/tests/inputs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .collect();
    files.sort();
    files
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Calls a client export.
fn call<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    wall: &mut Wall,
    client: &Client,
    export: &str,
    args: P,
) -> wasmtime::Result<R> {
    let f = client
        .instance
        .get_typed_func::<P, R>(&mut wall.store, export)
        .unwrap_or_else(|e| panic!("client export {export}: {e}"));
    f.call(&mut wall.store, args)
}

/// The NUL-terminated string at `p`.
fn c_string(wall: &Wall, p: u32) -> String {
    let tail = &wall.memory.data(&wall.store)[p as usize..];
    let len = tail.iter().position(|&b| b == 0).expect("NUL-terminated");
    String::from_utf8(tail[..len].to_vec()).expect("UTF-8")
}

const SEED: u32 = 7;
const ROUNDS: u32 = 150;

#[test]
fn cjson_on_wall_e_prints_what_native_glibc_prints_and_the_heap_walks_clean() {
    let native = Command::new(root().join("target/c/cjson_native"))
        .arg(SEED.to_string())
        .arg(ROUNDS.to_string())
        .args(inputs())
        .output()
        .expect("target/c/cjson_native runs (scripts/build-c.sh builds it)");
    assert!(native.status.success());
    let native = String::from_utf8(native.stdout).unwrap();

    let mut wall = Wall::new(Variant::Stats);
    let before = (wall.stat(1), wall.stat(2));
    let wasm = artifact("target/c/cjson.wasm");
    let info = dylink_info(&wasm).expect("a PIC module");
    assert!(info.memory_size > 0 && info.memory_align == 16 && info.table_size > 0);
    let client = load_client(&mut wall, &wasm, 64 * 1024).expect("the client links");
    assert_eq!(client.memory_base % 16, 0);
    assert_eq!(client.stack_top % 16, 0);

    let mut transcript = String::new();
    for input in inputs() {
        let mut text = std::fs::read(&input).unwrap();
        text.push(0);
        let p = wall.allocate(text.len() as u32);
        wall.bytes_mut(p, text.len() as u32).copy_from_slice(&text);
        let printed: u32 = call(&mut wall, &client, "cjson_example", p).unwrap();
        transcript += &format!("== {}\n{}\n", name(&input), c_string(&wall, printed));
        wall.deallocate(printed);
        wall.deallocate(p);
    }
    let report: u32 = call(&mut wall, &client, "cjson_workload", (SEED, ROUNDS)).unwrap();
    transcript += &format!("== workload {SEED} {ROUNDS}\n{}", c_string(&wall, report));
    wall.deallocate(report);
    assert_eq!(
        transcript, native,
        "wasm on wall-e (wasmtime) and native glibc print the same"
    );
    assert_eq!(
        client.stack_pointer.get(&mut wall.store).unwrap_i32() as u32,
        client.stack_top,
        "the stack is balanced"
    );
    wall.assert_valid("after the cJSON workload");
    client.dispose(&mut wall);
    assert_eq!((wall.stat(1), wall.stat(2)), before, "every block freed");
    wall.assert_valid("after dispose");
}

#[test]
fn the_c_allocation_functions_keep_their_contracts() {
    let mut wall = Wall::new(Variant::Stats);
    let client = load_client(&mut wall, &artifact("target/c/bad_input.wasm"), 64 * 1024).unwrap();
    let blocks = wall.stat(2);
    let failed: i32 = call(&mut wall, &client, "alloc_checks", ()).unwrap();
    assert_eq!(failed, 0, "alloc_checks failed check {failed}");
    assert_eq!(wall.stat(2), blocks, "every block freed");
    wall.assert_valid("after alloc_checks");
}

#[test]
fn bad_input_from_c_default_build_ignores_double_and_stack_frees() {
    let mut wall = Wall::new(Variant::Default);
    let client = load_client(&mut wall, &artifact("target/c/bad_input.wasm"), 64 * 1024).unwrap();
    let _: i32 = call(&mut wall, &client, "double_free", ()).unwrap();
    let _: i32 = call(&mut wall, &client, "free_stack", ()).unwrap();
    assert_ne!(wall.size(client.stack_base), 0, "the stack block is live");
    let failed: i32 = call(&mut wall, &client, "alloc_checks", ()).unwrap();
    assert_eq!(failed, 0, "the heap still works");
}

#[test]
fn bad_input_from_c_checked_build_traps_with_a_reason() {
    for (export, args, code) in [
        ("double_free", None, 1),
        ("free_stack", None, 2),
        ("write_past", Some((8, 1)), 4),
    ] {
        let mut wall = Wall::new(Variant::Checked);
        let client =
            load_client(&mut wall, &artifact("target/c/bad_input.wasm"), 64 * 1024).unwrap();
        let result = match args {
            None => call::<(), i32>(&mut wall, &client, export, ()).map(|_| ()),
            Some(a) => call::<(i32, i32), u32>(&mut wall, &client, export, a).map(|_| ()),
        };
        let err = result.expect_err("the checked build traps");
        assert!(common::wasm::is_unreachable(&err), "{export}: {err:?}");
        let failure = wall.failure();
        assert_eq!(failure.code, code, "{export}: {failure:?}");
        assert!(!failure.message.is_empty());
    }
}
