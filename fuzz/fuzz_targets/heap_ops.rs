//! Random sequences of heap operations checked against a model after every step; see
//! `fuzz/model.rs` (shared with the corpus replay test `tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../model.rs"]
mod model;

libfuzzer_sys::fuzz_target!(|data: &[u8]| model::run_bytes(data));
