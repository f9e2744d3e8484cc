//! wall-e beside std's own allocator on wasm32.
//!
//! std's allocator stays the global allocator and grows memory on its own; a separate
//! `wall_e::Heap<LinearMemory>` is used through raw `u32` pointers. Interleaving big std
//! allocations with wall-e ones makes wall-e's regions non-contiguous; wall-e must never hand out
//! memory std owns, and std must never overwrite wall-e's blocks.
//!
//! Run with `make test-wasm`, or:
//! `cargo test --target wasm32-unknown-unknown --test web_beside_std`
#![cfg(target_arch = "wasm32")]

use core::cell::UnsafeCell;
use wall_e::{Heap, LinearMemory, Stats};
use wasm_bindgen_test::wasm_bindgen_test;

/// The wall-e heap of this module, shared by all tests (which run one after another). It uses only
/// the pages it grows itself, beside std's allocator.
struct Shared(UnsafeCell<Heap<LinearMemory>>);

// SAFETY: wasm32-unknown-unknown without `atomics` runs one thread.
unsafe impl Sync for Shared {}

static HEAP: Shared = Shared(UnsafeCell::new(Heap::new(LinearMemory::new())));

/// Runs `f` with the heap. Not re-entrant: `f` must not call `with_heap`.
fn with_heap<R>(f: impl FnOnce(&mut Heap<LinearMemory>) -> R) -> R {
    // SAFETY: single-threaded, and no caller nests `with_heap`, so this is the only reference.
    f(unsafe { &mut *HEAP.0.get() })
}

fn valid() -> Stats {
    match with_heap(|h| h.validate()) {
        Ok(stats) => stats,
        Err(c) => panic!("wall-e heap corrupt at {:#x}: {}", c.at, c.what),
    }
}

/// The bytes of a live wall-e block.
fn bytes(p: u32, len: u32) -> &'static mut [u8] {
    assert_ne!(p, 0, "wall-e allocation failed");
    // SAFETY: tests pass only live blocks of at least `len` bytes, and drop the slice before
    // freeing the block; memory below the memory size is valid for reads and writes.
    unsafe {
        core::slice::from_raw_parts_mut(
            core::ptr::with_exposed_provenance_mut(p as usize),
            len as usize,
        )
    }
}

fn pattern(seed: u32, i: usize) -> u8 {
    (seed.wrapping_mul(29) as usize).wrapping_add(i.wrapping_mul(13)) as u8 ^ 0x3c
}

fn fill(buf: &mut [u8], seed: u32) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(seed, i);
    }
}

fn holds(buf: &[u8], seed: u32) -> bool {
    buf.iter().enumerate().all(|(i, &b)| b == pattern(seed, i))
}

/// A wall-e block: payload address, size, pattern seed.
#[derive(Clone, Copy, Debug)]
struct Block {
    p: u32,
    size: u32,
    seed: u32,
}

/// A std buffer and its pattern seed.
struct StdBuf {
    buf: Vec<u8>,
    seed: u32,
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn range_of(b: &Block) -> (usize, usize) {
    (b.p as usize, b.p as usize + b.size as usize)
}

/// Every std buffer and every wall-e block still holds its pattern, and no two overlap.
fn check_all(ours: &[Block], theirs: &[StdBuf]) {
    for s in theirs {
        assert!(
            holds(&s.buf, s.seed),
            "std buffer {:#x}+{} was overwritten",
            s.buf.as_ptr() as usize,
            s.buf.len()
        );
    }
    for b in ours {
        assert!(
            holds(bytes(b.p, b.size), b.seed),
            "wall-e block {b:?} lost its contents"
        );
    }
    for s in theirs {
        let r = (
            s.buf.as_ptr() as usize,
            s.buf.as_ptr() as usize + s.buf.len(),
        );
        for b in ours {
            assert!(
                !overlaps(range_of(b), r),
                "wall-e block {b:?} inside std's buffer {r:x?}"
            );
        }
    }
}

#[wasm_bindgen_test]
fn interleaved_with_std_growth() {
    let mut ours: Vec<Block> = Vec::new();
    let mut theirs: Vec<StdBuf> = Vec::new();
    let mut seed = 1;
    for round in 0..24u32 {
        // wall-e: a few small blocks and one big enough to make it grow memory itself.
        for k in 0..6u32 {
            let size = if k == 0 {
                70_000 + round * 5_000
            } else {
                8 + (round * 37 + k * 101) % 900
            };
            let p = with_heap(|h| h.allocate(size));
            fill(bytes(p, size), seed);
            ours.push(Block { p, size, seed });
            seed += 1;
        }
        // std: a big buffer, which makes std's allocator grow memory beyond wall-e's pages.
        let mut buf = vec![0u8; 150_000 + (round as usize % 5) * 60_000];
        fill(&mut buf, seed);
        theirs.push(StdBuf { buf, seed });
        seed += 1;
        if round % 4 == 3 {
            check_all(&ours, &theirs);
            valid();
        }
    }
    let s = valid();
    assert!(
        s.regions > 1,
        "std grew memory in between, so wall-e must have several regions: {s:?}"
    );
    assert_eq!(s.used_blocks as usize, ours.len(), "{s:?}");
    assert_eq!(
        s.used_bytes,
        ours.iter().map(|b| b.size).sum::<u32>(),
        "{s:?}"
    );
    check_all(&ours, &theirs);

    // Free every other wall-e block and every third std buffer, then refill the holes and grow
    // some blocks by realloc (in place or moved, across regions).
    let mut i = 0;
    ours.retain(|b| {
        i += 1;
        if i % 2 == 0 {
            with_heap(|h| h.deallocate(b.p));
        }
        i % 2 != 0
    });
    let mut j = 0;
    theirs.retain(|_| {
        j += 1;
        j % 3 != 0
    });
    valid();
    check_all(&ours, &theirs);
    for round in 0..60u32 {
        let size = 16 + (round * 211) % 4_000;
        let p = with_heap(|h| h.allocate(size));
        fill(bytes(p, size), seed);
        ours.push(Block { p, size, seed });
        seed += 1;
        if round % 5 == 0 {
            let k = (round as usize * 7) % ours.len();
            let b = ours[k];
            let new = b.size * 3 + 5_000;
            let q = with_heap(|h| h.reallocate(b.p, new));
            assert!(
                holds(bytes(q, b.size), b.seed),
                "realloc {b:?} -> {new} lost the contents"
            );
            fill(bytes(q, new), seed);
            ours[k] = Block {
                p: q,
                size: new,
                seed,
            };
            seed += 1;
        }
        if round % 10 == 0 {
            let mut buf = vec![0u8; 200_000];
            fill(&mut buf, seed);
            theirs.push(StdBuf { buf, seed });
            seed += 1;
        }
    }
    check_all(&ours, &theirs);
    valid();

    // Give everything back: the heap is empty again and still whole.
    for b in ours.drain(..) {
        with_heap(|h| h.deallocate(b.p));
    }
    let s = valid();
    assert_eq!((s.used_blocks, s.used_bytes), (0, 0), "{s:?}");
    assert!(s.regions > 1, "{s:?}");
    for t in &theirs {
        assert!(holds(&t.buf, t.seed));
    }
}

#[wasm_bindgen_test]
fn zeroed_and_aligned_across_regions() {
    let mut live = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..12u32 {
        // Dirty some wall-e memory and free it, so zeroed blocks may come from dirty space.
        let d = with_heap(|h| h.allocate(3_000 + round * 100));
        bytes(d, 3_000).fill(0xff);
        with_heap(|h| h.deallocate(d));
        for align in [8u32, 16, 64, 4096, 65_536] {
            let size = 1_000 + round * 700;
            let p = with_heap(|h| h.allocate_zeroed(size, align));
            assert_ne!(p, 0);
            assert_eq!(p % align, 0, "align {align}");
            assert!(
                bytes(p, size).iter().all(|&b| b == 0),
                "allocate_zeroed({size}, {align}) not zero"
            );
            fill(bytes(p, size), round * 10 + align);
            live.push(Block {
                p,
                size,
                seed: round * 10 + align,
            });
        }
        let mut buf = vec![0u8; 100_000 + round as usize * 10_000];
        fill(&mut buf, 9_999 + round);
        theirs.push(StdBuf {
            buf,
            seed: 9_999 + round,
        });
        // A block that forces wall-e to grow after std did: a fresh region, zero throughout.
        let big = 128 * 1024;
        let p = with_heap(|h| h.allocate_zeroed(big, 8));
        assert!(
            bytes(p, big).iter().all(|&b| b == 0),
            "fresh big block not zero"
        );
        with_heap(|h| h.deallocate(p));
    }
    check_all(&live, &theirs);
    let s = valid();
    assert!(s.regions > 1, "{s:?}");
    for b in live {
        with_heap(|h| {
            assert_eq!(h.size(b.p), b.size);
            h.deallocate(b.p)
        });
    }
    valid();
}

#[wasm_bindgen_test]
fn std_keeps_working_after_wall_e_grew() {
    // wall-e takes some fresh pages; std then allocates and frees a lot; wall-e's blocks survive
    // and std's buffers are intact.
    let blocks: Vec<Block> = (0..20u32)
        .map(|k| {
            let size = 40_000 + k * 1_000;
            let p = with_heap(|h| h.allocate(size));
            fill(bytes(p, size), 500 + k);
            Block {
                p,
                size,
                seed: 500 + k,
            }
        })
        .collect();
    let mut theirs = Vec::new();
    for k in 0..40u32 {
        let mut buf = vec![0u8; 20_000 + (k as usize % 7) * 30_000];
        fill(&mut buf, 700 + k);
        theirs.push(StdBuf { buf, seed: 700 + k });
        if k % 3 == 0 {
            theirs.swap_remove(0);
        }
    }
    let mut s = String::new();
    for k in 0..50_000 {
        s.push(char::from(b'a' + (k % 26) as u8));
    }
    check_all(&blocks, &theirs);
    assert!(s
        .bytes()
        .enumerate()
        .all(|(k, b)| b == b'a' + (k % 26) as u8));
    for b in &blocks {
        with_heap(|h| h.deallocate(b.p));
    }
    valid();
}
