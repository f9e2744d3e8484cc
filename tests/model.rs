//! Model-based property tests: random sequences of every operation, checked against the shared
//! shadow model (`tests/shadow/mod.rs`: contents, sizes, headers, alignment, overlap, 125% rule,
//! zeroing, bad pointers ignored, out of memory only when nothing fits) with the heap walk and
//! its counts after each step.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime

mod common;
use common::shadow::{HostTarget, Shadow};
use proptest::prelude::*;

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
    /// `Heap::flush_cache` (I8): every cached block back to the heap.
    FlushCache,
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
        1 => Just(Op::FlushCache),
    ]
}

/// One sequence on the host core `H`, checked against the shared shadow model
/// (`tests/shadow/mod.rs`) with a full check after every step.
fn run<H: HostTarget>(ops: Vec<Op>, max_pages: u32) -> Result<(), TestCaseError> {
    let memory = wall_e::HostMemory::new(1, max_pages, 1024);
    let mut m = Shadow::new(H::with_memory(memory), 1024, true);
    m.full_every = 1;
    m.full_check();
    for op in ops {
        apply(&mut m, op);
        m.after_step();
    }
    // Freeing everything gives every byte back: one block spans the first region again.
    let stats = m.free_all().expect("the host heap walks");
    prop_assert_eq!(stats.used_blocks, 0);
    prop_assert!(stats.free_blocks <= stats.regions, "{:?}", stats);
    Ok(())
}

fn apply<H: HostTarget>(m: &mut Shadow<H>, op: Op) {
    match op {
        Op::Alloc(size) => {
            m.allocate(size, 0, false);
        }
        Op::AllocAligned(size, align) => {
            m.allocate(size, align, false);
        }
        Op::AllocZeroed(size, align) => {
            m.allocate(size, align, true);
        }
        Op::Free(i) => {
            if let Some(p) = m.nth_by_address(i) {
                m.deallocate(p);
            }
        }
        Op::Realloc(i, size) => {
            if let Some(p) = m.nth_by_address(i) {
                m.reallocate(p, size, true);
            }
        }
        Op::Size(i) => {
            if let Some(p) = m.nth_by_address(i) {
                m.check_size(p);
            }
        }
        Op::DoubleFree(i) => {
            if !m.freed.is_empty() {
                // Skipped by the model when its memory is part of a live block again.
                let p = m.freed[i % m.freed.len()];
                m.bad_pointer(p, 10, &"double free");
            }
        }
        Op::BadPointer(raw) => {
            // Covered kinds: unaligned, or beyond the heap.
            let p = if raw % 2 == 0 {
                raw | 1
            } else {
                raw | 0xF000_0000
            };
            m.bad_pointer(p, 16, &"unaligned or beyond the heap");
        }
        Op::ForeignGrowth => m.grow_foreign(1, |h| h.memory_mut().grow_foreign(1)),
        Op::FlushCache => {
            m.flush_cache();
        }
    }
}

/// The suite on the host core `$heap`: one line per core.
macro_rules! model_suite {
    ($name:ident, $heap:ty) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 256 }, ..ProptestConfig::default() })]

            #[test]
            fn $name(ops in prop::collection::vec(op(), 1..200), max_pages in 2u32..24) {
                run::<$heap>(ops, max_pages)?;
            }
        }
    };
}

// One line per policy.
model_suite!(random_operations_keep_every_invariant, wall_e::Heap<wall_e::HostMemory, wall_e::Fast>);
model_suite!(random_operations_keep_every_invariant_small, wall_e::Heap<wall_e::HostMemory, wall_e::Small>);
