//! A Rust program with wall-e as its global allocator: a wasm module (cdylib) that parses a JSON
//! document with serde_json, transforms it, serialises it again, churns a 10 000-entry BTreeMap
//! and checks the heap with `validate()`.
//!
//! Build it (the module lands in `target/wasm32-unknown-unknown/release/examples/json.wasm`):
//! ```text
//! cargo build --release --example json --target wasm32-unknown-unknown
//! ```
//! `tests/rust_example.rs` builds it and runs it under wasmtime; any wasm host can run it:
//! call `run()`, read `[len: u32 LE][len bytes of UTF-8]` at the returned address in the exported
//! `memory`, then hand the address back to `release`. `check()` returns the number of live heap
//! blocks, or -1 if the heap is corrupt.
//!
//! wall-e is a plain dependency here, as in any program: `#[global_allocator]` below is all
//! it takes (its memory layout, exports and panic handler are the standalone module's only).
#![cfg(target_arch = "wasm32")]

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

/// The input: keys deliberately out of order, nested objects and arrays, every kind of value.
const DOCUMENT: &str = r#"{
  "warehouse": "north",
  "open": true,
  "manager": null,
  "zones": [
    {"name": "cold", "bins": [12, 7, 30], "temp": -18},
    {"name": "dry", "bins": [5, 5, 5, 5], "temp": 21},
    {"name": "bulk", "bins": [], "temp": 15}
  ],
  "stock": {"widgets": 1200, "gears": 310, "bolts": 98000, "axles": 42},
  "audit": {"year": 2024, "passed": false, "notes": ["recount gears", "label \"bulk\""]}
}"#;

/// Sums every number in `v` and counts the values of each kind.
fn walk(v: &Value, sum: &mut i64, counts: &mut BTreeMap<&'static str, u32>) {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) => {
            *sum += n.as_i64().expect("the document holds integers only");
            "number"
        }
        Value::String(_) => "string",
        Value::Array(items) => {
            items.iter().for_each(|item| walk(item, sum, counts));
            "array"
        }
        Value::Object(map) => {
            map.values().for_each(|item| walk(item, sum, counts));
            "object"
        }
    };
    *counts.entry(kind).or_default() += 1;
}

/// Parses the document, reworks it and serialises it: keys come out sorted (serde_json's `Map` is
/// a BTreeMap), every zone gets its bin total, and a summary object is added.
fn transform() -> String {
    let mut doc: Value = serde_json::from_str(DOCUMENT).expect("valid JSON");
    let mut sum = 0;
    let mut counts = BTreeMap::new();
    walk(&doc, &mut sum, &mut counts);
    let root = doc.as_object_mut().expect("an object");
    if let Some(Value::Array(zones)) = root.get_mut("zones") {
        for zone in zones.iter_mut() {
            let total: i64 = zone["bins"]
                .as_array()
                .map_or(0, |b| b.iter().filter_map(Value::as_i64).sum());
            zone["total"] = Value::from(total);
        }
        zones.sort_by_key(|z| z["total"].as_i64());
    }
    let mut summary = Map::new();
    summary.insert("sum".into(), Value::from(sum));
    for (kind, n) in counts {
        summary.insert(kind.into(), Value::from(n));
    }
    root.insert("summary".into(), Value::Object(summary));
    serde_json::to_string(&doc).expect("serialisable")
}

/// Builds a 10 000-entry map in a scattered order, checks it, then tears it down in another
/// order. Returns a line describing what it saw.
fn btree() -> String {
    const N: u32 = 10_000;
    let mut map = BTreeMap::new();
    for i in 0..N {
        let k = (i * 7_919) % N; // 7919 is prime and coprime with N: a permutation of 0..N
        map.insert(k, format!("value-{k}"));
    }
    let in_order = map.keys().copied().eq(0..N);
    let checksum: u64 = map.values().map(|v| v.len() as u64).sum();
    for i in 0..N {
        let k = (i * 3_001) % N;
        let v = map.remove(&k).expect("present");
        assert_eq!(v, format!("value-{k}"));
    }
    format!(
        "btree: {N} entries, in order: {in_order}, value bytes: {checksum}, left: {}",
        map.len()
    )
}

/// A line about the heap: `ok` with the block balance, or the corruption found.
fn heap_line(blocks_before: u32) -> String {
    match A.validate() {
        Ok(s) => format!(
            "heap: ok, blocks back to start: {}",
            s.used_blocks == blocks_before
        ),
        Err(c) => format!("heap: corrupt at {:#x}: {}", c.at, c.what),
    }
}

/// Runs the program; returns the address of `[len: u32 LE][len bytes]`, the output text.
#[no_mangle]
pub extern "C" fn run() -> u32 {
    let mut out = transform();
    out.push('\n');
    // The map's blocks must all be gone after it: only `out` remains.
    let before_tree = A.validate().map_or(0, |s| s.used_blocks);
    out.push_str(&btree());
    out.push('\n');
    let _ = writeln!(out, "{}", heap_line(before_tree));
    let mut buf = Vec::with_capacity(4 + out.len());
    buf.extend_from_slice(&(out.len() as u32).to_le_bytes());
    buf.extend_from_slice(out.as_bytes());
    // The host reads it, then gives the address back to `release`.
    Box::into_raw(buf.into_boxed_slice()) as *mut u8 as usize as u32
}

/// Frees an output returned by `run`.
#[no_mangle]
pub extern "C" fn release(ptr: u32) {
    let p = ptr as usize as *mut u8;
    // SAFETY: `ptr` came from `run`: a boxed slice of `4 + len` bytes whose first 4 bytes are `len`.
    unsafe {
        let len = u32::from_le_bytes(*(p as *const [u8; 4])) as usize;
        drop(Box::from_raw(core::ptr::slice_from_raw_parts_mut(
            p,
            4 + len,
        )));
    }
}

/// The number of live heap blocks, or -1 when `validate` finds a broken invariant.
#[no_mangle]
pub extern "C" fn check() -> i32 {
    A.validate().map_or(-1, |s| s.used_blocks as i32)
}
