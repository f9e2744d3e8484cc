//! wasm-bindgen-test suite: wall-e as the global allocator of a real Rust program on wasm32.
//!
//! Every allocation of these tests (and of the test harness) goes through wall-e. After each step
//! the heap is walked with `A.validate()`, which checks all of wall-e's invariants.
//!
//! Run with `make test-wasm` (Node, then headless Chromium), or:
//! `cargo test --target wasm32-unknown-unknown --test web`
#![cfg(target_arch = "wasm32")]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use core::alloc::{GlobalAlloc, Layout};
use std::collections::HashMap;
use wall_e::{Stats, WallE};
use wasm_bindgen_test::wasm_bindgen_test;

#[global_allocator]
static A: WallE = WallE::new();

/// Walks the heap; panics with the broken invariant if there is one.
fn valid() -> Stats {
    match A.validate() {
        Ok(stats) => stats,
        Err(c) => panic!("wall-e heap corrupt at {:#x}: {}", c.at, c.what),
    }
}

/// Sanity of the counts themselves, whatever the heap holds.
fn sane(s: &Stats) {
    assert!(s.regions >= 1, "{s:?}");
    assert!(
        s.used_bytes <= s.heap_bytes && s.free_bytes <= s.heap_bytes,
        "{s:?}"
    );
    assert!(s.largest_free <= s.free_bytes, "{s:?}");
    assert!(s.top_room < s.heap_bytes, "{s:?}");
    assert!(
        s.heap_bytes as usize <= core::arch::wasm32::memory_size(0) * 65_536,
        "{s:?}"
    );
}

/// Validates and checks the counts; returns them.
fn step() -> Stats {
    let s = valid();
    sane(&s);
    s
}

fn pattern(seed: usize, i: usize) -> u8 {
    (seed.wrapping_mul(131).wrapping_add(i.wrapping_mul(7)) as u8) ^ 0xa5
}

/// A small deterministic generator (xorshift), so every run does the same churn.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

#[wasm_bindgen_test]
fn heap_is_valid_at_start() {
    let s = step();
    assert!(s.used_blocks > 0, "the harness itself allocates: {s:?}");
}

#[wasm_bindgen_test]
fn vec_churn_keeps_contents_and_gives_blocks_back() {
    let before = step();
    {
        let mut rng = Rng(0x1234_5678);
        let mut vecs: Vec<(usize, Vec<u8>)> = Vec::new();
        let holds =
            |seed: usize, v: &[u8]| v.iter().enumerate().all(|(j, &b)| b == pattern(seed, j));
        for round in 0..2_000usize {
            if vecs.len() < 64 || rng.below(3) != 0 {
                let len = match rng.below(10) {
                    0 => rng.below(20_000),
                    1..=3 => rng.below(1_000),
                    _ => rng.below(64),
                } as usize;
                vecs.push((round, (0..len).map(|i| pattern(round, i)).collect()));
            } else {
                let i = rng.below(vecs.len() as u32) as usize;
                let (seed, v) = vecs.swap_remove(i);
                assert!(
                    holds(seed, &v),
                    "vector of {} bytes lost its contents",
                    v.len()
                );
            }
            if rng.below(8) == 0 {
                // Grow or shrink one in place or by moving it.
                let i = rng.below(vecs.len() as u32) as usize;
                let (seed, v) = &mut vecs[i];
                let new_len = rng.below(3_000) as usize;
                let old_len = v.len();
                let seed = *seed;
                v.truncate(new_len);
                v.extend((old_len..new_len).map(|j| pattern(seed, j)));
                if rng.below(2) == 0 {
                    v.shrink_to_fit();
                }
            }
            if round % 250 == 0 {
                step();
            }
        }
        for (seed, v) in &vecs {
            assert!(
                holds(*seed, v),
                "vector of {} bytes lost its contents",
                v.len()
            );
        }
        let during = step();
        assert!(
            during.used_blocks > before.used_blocks,
            "{before:?} -> {during:?}"
        );
    }
    let after = step();
    assert_eq!(
        after.used_blocks, before.used_blocks,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        after.used_bytes, before.used_bytes,
        "{before:?} -> {after:?}"
    );
}

#[wasm_bindgen_test]
fn strings_and_maps() {
    let before = step();
    {
        let mut words: Vec<String> = Vec::new();
        let mut tree: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut hash: HashMap<u32, String> = HashMap::new();
        let mut queue: VecDeque<Box<[u64; 3]>> = VecDeque::new();
        for i in 0..5_000u32 {
            let w = format!("word-{i:05}-{}", "x".repeat((i % 37) as usize));
            tree.entry(w.clone()).or_default().push(i);
            hash.insert(i, w.clone());
            words.push(w);
            queue.push_back(Box::new([i as u64; 3]));
            if queue.len() > 100 {
                let b = queue.pop_front().unwrap();
                assert_eq!(*b, [b[0]; 3]);
            }
            if i % 3 == 0 {
                hash.remove(&(i / 2));
            }
            if i % 1_000 == 0 {
                step();
            }
        }
        let mut s = String::new();
        for (k, v) in tree.iter().step_by(500) {
            s.push_str(k);
            s.push_str(&format!("={v:?};"));
        }
        assert!(s.starts_with("word-00000-="), "{s}");
        assert_eq!(tree.len(), 5_000);
        for (k, v) in &hash {
            assert_eq!(&words[*k as usize], v);
        }
        // Remove half the tree in a scattered order, then check the rest.
        for i in (0..5_000).step_by(2) {
            assert!(tree.remove(&words[i]).is_some());
        }
        for (k, v) in &tree {
            assert_eq!(&words[v[0] as usize], k);
        }
        step();
    }
    let after = step();
    assert_eq!(
        after.used_blocks, before.used_blocks,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        after.used_bytes, before.used_bytes,
        "{before:?} -> {after:?}"
    );
}

#[repr(align(16))]
struct A16([u8; 24]);
#[repr(align(64))]
struct A64([u8; 100]);
#[repr(align(4096))]
struct A4096([u8; 10]);

#[wasm_bindgen_test]
fn over_aligned_boxes() {
    let before = step();
    {
        let mut keep16 = Vec::new();
        let mut keep64 = Vec::new();
        let mut keep4k = Vec::new();
        let mut filler = Vec::new();
        for i in 0..200u8 {
            // Odd-sized filler between them, so the bump pointer is rarely aligned by chance.
            filler.push(vec![i; 1 + (i as usize * 13) % 97]);
            let a = Box::new(A16([i; 24]));
            assert_eq!(&*a as *const A16 as usize % 16, 0);
            keep16.push(a);
            let b = Box::new(A64([i; 100]));
            assert_eq!(&*b as *const A64 as usize % 64, 0);
            keep64.push(b);
            if i % 8 == 0 {
                let c = Box::new(A4096([i; 10]));
                assert_eq!(&*c as *const A4096 as usize % 4096, 0);
                keep4k.push(c);
            }
            if i % 3 == 0 {
                filler.swap_remove(0);
            }
        }
        step();
        for (i, (a, b)) in keep16.iter().zip(&keep64).enumerate() {
            assert!(a.0.iter().all(|&x| x == i as u8));
            assert!(b.0.iter().all(|&x| x == i as u8));
        }
        for (j, c) in keep4k.iter().enumerate() {
            assert!(c.0.iter().all(|&x| x == (j * 8) as u8));
        }
        // Free every other one, then allocate again into the holes: still aligned.
        let mut k = 0;
        keep64.retain(|_| {
            k += 1;
            k % 2 == 0
        });
        keep4k.truncate(3);
        step();
        for _ in 0..50 {
            let b = Box::new(A64([7; 100]));
            assert_eq!(&*b as *const A64 as usize % 64, 0);
            keep64.push(b);
            let c = Box::new(A4096([9; 10]));
            assert_eq!(&*c as *const A4096 as usize % 4096, 0);
            keep4k.push(c);
        }
        step();
        // A Vec of over-aligned elements grows by realloc with the alignment kept.
        let mut v: Vec<A64> = Vec::new();
        for i in 0..300u32 {
            v.push(A64([(i % 251) as u8; 100]));
            assert_eq!(v.as_ptr() as usize % 64, 0);
        }
        assert!(v
            .iter()
            .enumerate()
            .all(|(i, x)| x.0[99] == (i % 251) as u8));
        step();
    }
    let after = step();
    assert_eq!(
        after.used_blocks, before.used_blocks,
        "{before:?} -> {after:?}"
    );
}

#[wasm_bindgen_test]
fn raw_alignments_up_to_64k() {
    for shift in 0..=16u32 {
        let align = 1usize << shift;
        let layout = Layout::from_size_align(3 * align.max(8) + 5, align).unwrap();
        // SAFETY: the layout has a non-zero size; the block is freed with the same layout.
        unsafe {
            let p = A.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "align {align}");
            p.write_bytes(0xee, layout.size());
            step();
            A.dealloc(p, layout);
        }
    }
    step();
}

#[wasm_bindgen_test]
fn zeroed_memory_is_zero() {
    // Dirty a lot of memory and give it back, so later zeroed allocations reuse dirty blocks.
    {
        let mut dirty: Vec<Vec<u8>> = (0..300).map(|i| vec![0xff; 64 + i * 37]).collect();
        dirty.truncate(7);
        let big = vec![0xabu8; 300_000];
        drop(big);
        step();
    }
    for n in [
        1usize, 7, 8, 9, 63, 64, 100, 1_000, 4_096, 10_000, 65_536, 200_000, 2_000_000,
    ] {
        let v = vec![0u8; n];
        assert!(v.iter().all(|&b| b == 0), "vec![0; {n}]");
        let w = vec![0u64; n / 8 + 1];
        assert!(w.iter().all(|&b| b == 0), "vec![0u64; {}]", n / 8 + 1);
        // Dirty it before it is freed, so the next size finds dirty memory again.
        let mut v = v;
        v.fill(0x5c);
        step();
    }
    // Aligned zeroed allocations through the raw API, reusing the dirty space.
    for align in [16usize, 64, 4096] {
        let layout = Layout::from_size_align(5_000, align).unwrap();
        // SAFETY: non-zero size; freed with the same layout.
        unsafe {
            let p = A.alloc(layout);
            p.write_bytes(0x77, 5_000);
            A.dealloc(p, layout);
            let q = A.alloc_zeroed(layout);
            assert_eq!(q as usize % align, 0);
            assert!(
                core::slice::from_raw_parts(q, 5_000)
                    .iter()
                    .all(|&b| b == 0),
                "align {align}"
            );
            A.dealloc(q, layout);
        }
    }
    step();
}

#[wasm_bindgen_test]
fn realloc_grows_and_shrinks_keeping_contents() {
    let before = step();
    {
        let mut v: Vec<u32> = Vec::new();
        for i in 0..100_000u32 {
            v.push(i ^ 0x9e37);
        }
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 ^ 0x9e37));
        step();
        v.truncate(10);
        v.shrink_to_fit();
        assert_eq!(v.capacity(), 10);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 ^ 0x9e37));
        step();

        // Raw realloc: grow in steps, shrink in steps, with another block in between sometimes.
        let layout = Layout::from_size_align(16, 8).unwrap();
        // SAFETY: every pointer passed back is the latest one returned, with the layout it has.
        unsafe {
            let mut p = A.alloc(layout);
            let mut size = 16usize;
            for i in 0..size {
                *p.add(i) = pattern(1, i);
            }
            let mut blockers = Vec::new();
            for (k, new) in [
                40usize, 100, 1_000, 999, 5_000, 70_000, 300_000, 64, 8, 20_000, 3,
            ]
            .into_iter()
            .enumerate()
            {
                if k % 2 == 0 {
                    blockers.push(vec![k as u8; 48]);
                }
                let q = A.realloc(p, Layout::from_size_align(size, 8).unwrap(), new);
                assert!(!q.is_null());
                let kept = size.min(new);
                for i in 0..kept {
                    assert_eq!(
                        *q.add(i),
                        pattern(1, i),
                        "byte {i} after realloc {size} -> {new}"
                    );
                }
                for i in kept..new {
                    *q.add(i) = pattern(1, i);
                }
                p = q;
                size = new;
                step();
            }
            A.dealloc(p, Layout::from_size_align(size, 8).unwrap());
        }
        // Strings grow by realloc too.
        let mut s = String::new();
        for i in 0..20_000 {
            s.push(char::from(b'a' + (i % 26) as u8));
        }
        assert!(s
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'a' + (i % 26) as u8));
    }
    let after = step();
    assert_eq!(
        after.used_blocks, before.used_blocks,
        "{before:?} -> {after:?}"
    );
}

#[wasm_bindgen_test]
fn realloc_at_the_top_stays_in_place() {
    // A vector allocated last sits just below the bump pointer: growing it does not move it.
    let mut v: Vec<u8> = Vec::with_capacity(1 << 20);
    let p = v.as_ptr();
    v.extend((0..1 << 20).map(|i| i as u8));
    v.reserve_exact(4 << 20);
    assert_eq!(v.as_ptr(), p, "realloc at the top moved the block");
    assert!(v.iter().enumerate().all(|(i, &b)| b == i as u8));
    step();
}

#[wasm_bindgen_test]
fn large_allocation_grows_memory() {
    let pages_before = core::arch::wasm32::memory_size(0);
    let before = step();
    {
        let n = 32 << 20; // 32 MiB
        let mut big = vec![0u8; n];
        assert!(
            core::arch::wasm32::memory_size(0) > pages_before,
            "memory did not grow"
        );
        assert!(big.iter().step_by(4_096).all(|&b| b == 0));
        big[0] = 1;
        big[n - 1] = 2;
        let s = step();
        assert!(
            s.heap_bytes > before.heap_bytes && s.heap_bytes > n as u32,
            "{before:?} -> {s:?}"
        );
        assert!(
            s.used_bytes >= before.used_bytes + n as u32,
            "{before:?} -> {s:?}"
        );
        assert_eq!(s.regions, before.regions, "nothing else grows memory here");
        // A small allocation after it lands outside it.
        let small: Box<[u8]> = Box::new([3u8; 100]);
        let (b0, b1) = (big.as_ptr() as usize, big.as_ptr() as usize + n);
        assert!(small.as_ptr() as usize + 100 <= b0 || small.as_ptr() as usize >= b1);
        assert_eq!((big[0], big[n - 1]), (1, 2));
    }
    let after = step();
    assert_eq!(after.used_blocks, before.used_blocks);
    // The space is reused, not grown again.
    let pages = core::arch::wasm32::memory_size(0);
    let again = vec![1u8; 16 << 20];
    assert_eq!(
        core::arch::wasm32::memory_size(0),
        pages,
        "memory grew although 32 MiB were free"
    );
    drop(again);
    step();
}
