//! Random sequences of heap operations checked against the shared shadow model after every step;
//! see `fuzz/model.rs` (the inputs) and `tests/shadow/mod.rs` (the model), shared with the corpus
//! replay test `tests/fuzz_corpus.rs`.
#![no_main]

#[path = "../../tests/shadow/mod.rs"]
mod shadow;

#[path = "../model.rs"]
mod model;

/// The core under test: the fast policy, or the size-tuned one with `--features small`.
#[cfg(not(feature = "small"))]
type Tested = wall_e::Heap<wall_e::HostMemory, wall_e::Fast>;
#[cfg(feature = "small")]
type Tested = wall_e::Heap<wall_e::HostMemory, wall_e::Small>;

libfuzzer_sys::fuzz_target!(|data: &[u8]| model::run_bytes::<Tested>(data));
