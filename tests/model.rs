//! Model-based property tests: random sequences of every operation, checked against a model of
//! the live blocks after each step (validate, contents, sizes, alignment, overlap, 125% rule).
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime

mod common;
use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Op {
    Alloc(u32),
    AllocAligned(u32, u32),
    AllocZeroed(u32, u32),
    Free(usize),
    Realloc(usize, u32),
    Size(usize),
    DoubleFree(usize),
    BadPointer(u32),
    ForeignGrowth,
}

fn size() -> impl Strategy<Value = u32> {
    prop_oneof![
        6 => 1u32..64,
        3 => 64u32..1024,
        1 => 1024u32..70_000,
        1 => Just(0u32),
    ]
}

fn align() -> impl Strategy<Value = u32> {
    (3u32..13).prop_map(|shift| 1 << shift)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => size().prop_map(Op::Alloc),
        1 => (size(), align()).prop_map(|(s, a)| Op::AllocAligned(s, a)),
        1 => (size(), align()).prop_map(|(s, a)| Op::AllocZeroed(s, a)),
        5 => any::<usize>().prop_map(Op::Free),
        3 => (any::<usize>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
        1 => any::<usize>().prop_map(Op::Size),
        1 => any::<usize>().prop_map(Op::DoubleFree),
        1 => any::<u32>().prop_map(Op::BadPointer),
        1 => Just(Op::ForeignGrowth),
    ]
}

/// The effective size of a live block, from its header.
fn effective(heap: &HostHeap, p: u32) -> u32 {
    u32::from_le_bytes(bytes(heap, p - 4, 4).try_into().unwrap()) & !7
}

/// A live block in the model: its logical size, alignment and fill seed.
#[derive(Clone, Copy)]
struct Live {
    size: u32,
    align: u32,
    seed: u32,
}

struct Model {
    heap: HostHeap,
    live: BTreeMap<u32, Live>,
    freed: Vec<u32>,
    step: u32,
}

impl Model {
    fn nth(&self, i: usize) -> Option<u32> {
        (!self.live.is_empty()).then(|| *self.live.keys().nth(i % self.live.len()).unwrap())
    }

    fn admit(&mut self, p: u32, size: u32, align: u32, zeroed: bool, in_place: bool) {
        if p == 0 {
            return;
        }
        assert_eq!(p % align, 0, "alignment {align}");
        assert_eq!(self.heap.size(p), size);
        if zeroed {
            assert!(
                bytes(&self.heap, p, size).iter().all(|&b| b == 0),
                "zeroed block dirty"
            );
        }
        let eff = effective(&self.heap, p);
        let rounded = (size.max(8) + 7) & !7;
        // A block resized in place or over-aligned may keep an 8-byte tail too small to split
        // off (I5).
        let slack = if in_place || align > 8 {
            (rounded / 4).max(8)
        } else {
            rounded / 4
        };
        assert!(
            eff >= rounded && eff <= rounded + slack,
            "request {size}: effective {eff}"
        );
        self.step += 1;
        fill(&self.heap, p, size, self.step);
        self.live.insert(
            p,
            Live {
                size,
                align,
                seed: self.step,
            },
        );
        // A freed pointer whose header this block now covers has become an interior pointer,
        // which the cheap checks do not cover (even after this block is freed in turn, its
        // bytes stay behind): only pointers whose memory was never reused stay "freed".
        self.freed.retain(|&f| f + 8 <= p - 8 || f - 8 >= p + eff);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Alloc(size) => {
                let p = self.heap.allocate(size);
                assert!(size != 0 || p == 0);
                self.admit(p, size, 8, false, false);
            }
            Op::AllocAligned(size, align) => {
                let p = self.heap.allocate_aligned(size, align);
                self.admit(p, size, align, false, false);
            }
            Op::AllocZeroed(size, align) => {
                let p = self.heap.allocate_zeroed(size, align);
                self.admit(p, size, align, true, false);
            }
            Op::Free(i) => {
                if let Some(p) = self.nth(i) {
                    let block = self.live.remove(&p).unwrap();
                    assert!(
                        holds(&self.heap, p, block.size, block.seed),
                        "contents lost before free"
                    );
                    self.heap.deallocate(p);
                    self.freed.push(p);
                }
            }
            Op::Realloc(i, size) => {
                let Some(p) = self.nth(i) else { return };
                let block = self.live[&p];
                let q = self.heap.reallocate_aligned(p, size, block.align);
                if size == 0 {
                    assert_eq!(q, 0);
                    self.live.remove(&p);
                    self.freed.push(p);
                } else if q == 0 {
                    assert!(
                        holds(&self.heap, p, block.size, block.seed),
                        "failed realloc lost the block"
                    );
                } else {
                    let kept = block.size.min(size);
                    assert!(
                        holds(&self.heap, q, kept, block.seed),
                        "realloc lost contents"
                    );
                    self.live.remove(&p);
                    if q != p {
                        self.freed.push(p);
                    }
                    self.admit(q, size, block.align, false, q == p);
                }
            }
            Op::Size(i) => {
                if let Some(p) = self.nth(i) {
                    assert_eq!(self.heap.size(p), self.live[&p].size);
                }
            }
            Op::DoubleFree(i) => {
                if !self.freed.is_empty() {
                    let p = self.freed[i % self.freed.len()];
                    assert_eq!(self.heap.size(p), 0, "freed pointer has a size");
                    self.heap.deallocate(p);
                    assert_eq!(self.heap.reallocate(p, 10), 0);
                }
            }
            Op::BadPointer(raw) => {
                // Covered kinds: unaligned, or beyond the heap.
                let p = if raw % 2 == 0 {
                    raw | 1
                } else {
                    raw | 0xF000_0000
                };
                assert_eq!(self.heap.size(p), 0);
                self.heap.deallocate(p);
                assert_eq!(self.heap.reallocate(p, 16), 0);
            }
            Op::ForeignGrowth => {
                let _ = self.heap.source_mut().grow_foreign(1);
            }
        }
    }

    fn check(&self) {
        let stats = valid(&self.heap);
        assert_eq!(stats.used_blocks as usize, self.live.len());
        assert_eq!(
            stats.used_bytes,
            self.live.values().map(|b| b.size).sum::<u32>()
        );
        let mut end = 0;
        for (&p, block) in &self.live {
            assert!(p >= end, "blocks overlap at {p:#x}");
            end = p + block.size;
            assert!(
                holds(&self.heap, p, block.size, block.seed),
                "contents of {p:#x} changed"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 256 }, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(op(), 1..200), max_pages in 2u32..24) {
        let mut model = Model { heap: heap(1, max_pages), live: BTreeMap::new(), freed: Vec::new(), step: 0 };
        for op in ops {
            model.apply(op);
            model.check();
        }
        // Freeing everything gives every byte back: one block spans the first region again.
        let live: Vec<u32> = model.live.keys().copied().collect();
        for p in live {
            model.heap.deallocate(p);
        }
        let stats = valid(&model.heap);
        prop_assert_eq!(stats.used_blocks, 0);
        prop_assert!(stats.free_blocks <= stats.regions, "{:?}", stats);
    }
}
