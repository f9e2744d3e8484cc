//! A wasm-bindgen app with wall-e as its global allocator: strings and vectors cross the JS
//! boundary (wasm-bindgen allocates them with `__wbindgen_malloc`, i.e. wall-e), maps are built.
//! `check.mjs` calls it from Node through the bindings `wasm-bindgen --target nodejs` writes.

use std::collections::BTreeMap;
use wasm_bindgen::prelude::*;

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

/// Counts the words of `text`: "word count" lines, most frequent first, then by word.
#[wasm_bindgen]
pub fn word_counts(text: &str) -> String {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let mut counts: Vec<(String, u32)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .iter()
        .map(|(w, n)| format!("{w} {n}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each byte of `data` plus one, as a new vector.
#[wasm_bindgen]
pub fn incremented(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b.wrapping_add(1)).collect()
}

/// Runs the shared workload; its checksum as a string (JS numbers cannot hold every u64).
#[wasm_bindgen]
pub fn run(rounds: u32) -> String {
    workload::exercise(rounds).to_string()
}

/// Recursion with 1 KiB frames: whether it returned the right checksum.
#[wasm_bindgen]
pub fn recurse(depth: u32) -> bool {
    workload::deep(depth) == workload::deep_expected(depth)
}

/// Walks wall-e's heap: the number of used blocks, or -1 if an invariant is broken.
#[wasm_bindgen]
pub fn heap_check() -> i32 {
    match A.validate() {
        Ok(stats) => stats.used_blocks as i32,
        Err(_) => -1,
    }
}
