//! Replays every input of the fuzz corpus (`fuzz/corpus/heap_ops`) and every saved crash
//! (`fuzz/regressions/`) through the fuzz target's input decoding (`fuzz/model.rs`) and the shared
//! shadow model (`tests/shadow/mod.rs`), so `cargo test` keeps checking what fuzzing found without
//! cargo-fuzz or nightly. The replays are instantiated per host core by `replay_suite!`.
//!
//! `WALL_E_FUZZ_INPUT=path cargo test --test fuzz_corpus -- --nocapture replay_one` runs one file
//! and prints its decoded operations.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime

#[path = "shadow/mod.rs"]
mod shadow;

#[path = "../fuzz/model.rs"]
mod model;

use shadow::HostTarget;

use std::path::{Path, PathBuf};

fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("corpus entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

fn replay<H: HostTarget>(dir: &str, strict: bool) -> usize {
    let files = inputs(dir);
    // Under Miri every step is thousands of times slower: the first steps of a few inputs.
    let take = if cfg!(miri) { 1 } else { files.len() };
    for path in files.iter().take(take) {
        let data = std::fs::read(path).expect("read input");
        let result = std::panic::catch_unwind(|| model::run_bytes_with::<H>(&data, strict));
        if result.is_err() {
            panic!(
                "{} fails; its operations:\n{}",
                path.display(),
                model::describe(&data)
            );
        }
    }
    files.len()
}

/// The replays of the corpus and of the saved crashes, on the host core `$heap`.
macro_rules! replay_suite {
    ($name:ident, $heap:ty) => {
        mod $name {
            use super::*;

            #[test]
            fn corpus_replays_cleanly() {
                let n = replay::<$heap>("fuzz/corpus/heap_ops", model::strict_from_env());
                assert!(n > 0, "the seed corpus fuzz/corpus/heap_ops is missing");
            }

            #[test]
            fn regressions_replay_cleanly() {
                // Strict: with every covered bad pointer, footers read as headers included
                // (fixed: footers carry the FREE flag).
                let n = replay::<$heap>("fuzz/regressions", true);
                assert!(n >= 3, "the saved crashes in fuzz/regressions are missing");
            }

            #[test]
            fn replay_one() {
                let Ok(path) = std::env::var("WALL_E_FUZZ_INPUT") else {
                    return;
                };
                let data = std::fs::read(&path).expect("read input");
                println!("{}", model::describe(&data));
                model::run_bytes::<$heap>(&data);
            }
        }
    };
}

// One line per policy.
replay_suite!(fast, wall_e::Heap<wall_e::HostMemory, wall_e::Fast>);
replay_suite!(small, wall_e::Heap<wall_e::HostMemory, wall_e::Small>);

/// A heap whose free block (a gap left by an aligned allocation) has its last 8 bytes just below
/// a used header: from 1024, a free block with its header at 1024, never-written zeros, its
/// footer at 1076 (effective size 48); then the aligned block (header 1080, payload 1088) and one
/// more block above, so that `top` lies well above. (The aligned block is larger than the cache's
/// blocks: in front of a small one the gap would be cached, not free.)
fn heap_with_a_gap_block() -> (wall_e::Heap<wall_e::HostMemory>, u32, wall_e::Stats) {
    let mut h = wall_e::Heap::new(wall_e::HostMemory::new(1, 4, 1024));
    let p = h.allocate_aligned(2000, 64);
    assert_eq!(p, 1088);
    h.allocate(64);
    let stats = h.validate().expect("valid");
    (h, p, stats)
}

/// `bad`, whose header lies in a free block, has no size and freeing it changes nothing.
fn assert_ignored(h: &mut wall_e::Heap<wall_e::HostMemory>, bad: u32, before: wall_e::Stats) {
    assert_eq!(
        h.size(bad),
        0,
        "size({bad}): its header lies in a free block"
    );
    h.deallocate(bad);
    assert_eq!(
        h.validate(),
        Ok(before),
        "deallocate({bad}) changed the heap"
    );
}

/// Found by the fuzzer and fixed in 2539ae6: 8 never-written zero bytes inside a free block read
/// as a used header of effective size 0.
#[test]
fn pointer_whose_header_is_zeros_in_a_free_block_is_ignored() {
    let (mut h, p, before) = heap_with_a_gap_block();
    let bad = p - 24;
    assert_ignored(&mut h, bad, before);
}

/// Found by the fuzzer, fixed in c9aefe8 (footers carry the `FREE` flag): a pointer whose 8 bytes
/// before are a free block's last word and its footer passed the cheap header check (effective
/// size = the footer, logical size = the word before, here 0), and freeing it corrupted the
/// heap. Such a pointer is the address of the header of the block after the free block.
#[test]
fn pointer_whose_header_is_a_free_blocks_footer_is_ignored() {
    let (mut h, p, before) = heap_with_a_gap_block();
    let bad = p - 8;
    assert_ignored(&mut h, bad, before);
}

/// The same bug with a stale footer (found by the fuzzer, fixed in c9aefe8): once the block above
/// the gap is freed, the gap's old footer lies inside the merged free block.
#[test]
fn pointer_whose_header_is_a_stale_footer_is_ignored() {
    let (mut h, p, _) = heap_with_a_gap_block();
    h.deallocate(p);
    let before = h.validate().expect("valid");
    assert_eq!(before.free_blocks, 1, "the gap and the freed block merged");
    let bad = p - 8;
    assert_ignored(&mut h, bad, before);
}
