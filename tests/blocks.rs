//! The block records of the heap map and the leak list (src/blocks.rs) on the host: under the
//! traced policies (`Traced<Fast>`, `Traced<Small>`) and without a tail, through random work,
//! foreign growth and small pages of records (so every walk resumes at a cursor); and a
//! corrupted header reported at the address `validate` gives.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{bytes, valid};
use std::collections::BTreeMap;
use wall_e::{Fast, Heap, HostMemory, Kind, Policy, Small, Source, Span, Stats, Traced};

/// Every record, read `page` at a time (each call resumes at the cursor the last returned).
fn records<P: Policy>(heap: &Heap<HostMemory, P>, page: usize) -> Vec<Span> {
    let mut out = vec![Span::default(); page];
    let mut all = Vec::new();
    let mut cursor = 0;
    loop {
        let (n, next) = heap
            .blocks(cursor, &mut out)
            .unwrap_or_else(|c| panic!("corrupt at {:#x}: {}", c.at, c.what));
        all.extend_from_slice(&out[..n]);
        if next == 0 {
            return all;
        }
        assert!(next > cursor, "the cursor moves forwards");
        cursor = next;
    }
}

/// The records tile the heap's regions, add up to the walk's figures, and list exactly the live
/// blocks of `model` (pointer -> logical size, sequence number).
fn check<P: Policy>(heap: &Heap<HostMemory, P>, model: &BTreeMap<u32, (u32, u32)>, page: usize) {
    let stats = valid(heap);
    let all = records(heap, page);
    assert_eq!(all, records(heap, 1000), "paging changes nothing");
    let mut sum = Stats::default();
    let mut region_start = all[0].start;
    let mut used = BTreeMap::new();
    for (i, r) in all.iter().enumerate() {
        if let Some(next) = all.get(i + 1) {
            assert_eq!(r.start + 8 + r.size, next.start, "record {i} tiles");
        }
        match r.kind {
            k if k == Kind::Used as u32 => {
                sum.used_blocks += 1;
                sum.used_bytes += r.logical;
                assert!(r.logical + P::TAIL <= r.size, "I7");
                used.insert(r.start + 8, (r.logical, r.seq));
            }
            k if k == Kind::Free as u32 || k == Kind::Spare as u32 => {
                sum.free_blocks += 1;
                sum.free_bytes += r.size;
                sum.largest_free = sum.largest_free.max(r.size);
            }
            k if k == Kind::Marker as u32 => {
                sum.heap_bytes += r.start + 8 - region_start;
                sum.regions += 1;
                region_start = r.start + 8 + r.size;
            }
            k if k == Kind::Room as u32 => {
                assert_eq!(i, all.len() - 1, "the room comes last");
                sum.heap_bytes += r.start + r.size + 8 - region_start;
                sum.regions += 1;
                sum.top_room = r.size;
            }
            k if k == Kind::Cached as u32 => {
                // A freed block in the cache of small blocks (I8): no live block of the model.
                sum.cached_blocks += 1;
                sum.cached_bytes += r.size;
                assert_eq!((r.logical, r.seq), (0, 0));
            }
            k => panic!("unknown kind {k}"),
        }
    }
    assert_eq!(sum, stats);
    if P::TAIL == 0 {
        assert!(used.values().all(|&(_, seq)| seq == 0));
        let sizes: BTreeMap<u32, u32> = model.iter().map(|(&p, &(s, _))| (p, s)).collect();
        let got: BTreeMap<u32, u32> = used.iter().map(|(&p, &(s, _))| (p, s)).collect();
        assert_eq!(got, sizes);
    } else {
        assert_eq!(&used, model);
    }
}

/// Random allocate/reallocate/free with every new block stamped, as the traced module does;
/// somebody else grows the memory once in between.
fn random_work<P: Policy>(seed: u64) {
    let mut heap: Heap<HostMemory, P> = Heap::new(HostMemory::new(1, 256, 1024));
    let mut model: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    let mut x = seed | 1;
    let mut random = move |n: u32| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as u32
    };
    let mut seq = 0;
    for round in 0..12 {
        for _ in 0..400 {
            let live: Vec<u32> = model.keys().copied().collect();
            let action = random(10);
            if action < 5 || live.is_empty() {
                let large = random(8) == 0;
                let size = 1 + random(if large { 20_000 } else { 300 });
                let p = heap.allocate(size);
                assert_ne!(p, 0);
                seq += 1;
                heap.stamp(p, seq);
                model.insert(p, (size, seq));
            } else if action < 7 {
                let p = live[random(live.len() as u32) as usize];
                let size = 1 + random(2000);
                let q = heap.reallocate(p, size);
                assert_ne!(q, 0);
                seq += 1;
                heap.stamp(q, seq);
                model.remove(&p);
                model.insert(q, (size, seq));
            } else {
                let p = live[random(live.len() as u32) as usize];
                heap.deallocate(p);
                model.remove(&p);
            }
        }
        if round == 5 {
            heap.source_mut().grow(1).unwrap();
        }
        check(&heap, &model, 1 + round);
    }
    let all = records(&heap, 64);
    assert!(
        all.iter().any(|r| r.kind == Kind::Marker as u32),
        "a region marker was walked"
    );
}

#[test]
fn records_under_traced_fast() {
    random_work::<Traced<Fast>>(1);
    random_work::<Traced<Fast>>(77);
}

#[test]
fn records_under_traced_small() {
    random_work::<Traced<Small>>(3);
}

#[test]
fn records_without_a_tail_carry_no_sequence() {
    random_work::<Fast>(5);
    random_work::<Small>(6);
}

#[test]
fn the_tail_costs_at_most_8_bytes_and_keeps_the_125_rule() {
    let mut heap: Heap<HostMemory, Traced<Fast>> = Heap::new(HostMemory::new(4, 64, 1024));
    for size in 1..=600u32 {
        let p = heap.allocate(size);
        let eff = records(&heap, 4096)
            .iter()
            .find(|r| r.start + 8 == p)
            .unwrap()
            .size;
        // The request with its tail, rounded: at most 8 bytes more than without the tail.
        let need = (size + 4 + 7) & !7;
        assert!(need <= ((size + 7) & !7).max(8) + 8);
        assert!(
            eff >= need && (eff * 4 <= need * 5 || eff - need <= 8),
            "{size}: {eff}"
        );
    }
    valid(&heap);
}

#[test]
fn a_corrupt_header_stops_the_records_at_validates_address() {
    for page in [1, 3, 100] {
        let mut heap: Heap<HostMemory, Traced<Fast>> = Heap::new(HostMemory::new(1, 16, 1024));
        let ps: Vec<u32> = (0..40).map(|i| heap.allocate(16 + i)).collect();
        let victim = ps[17];
        let eff = records(&heap, 64)
            .iter()
            .find(|r| r.start + 8 == victim)
            .unwrap()
            .size;
        // A client writes 8 bytes past the block's capacity: over the next block's header.
        bytes(&heap, victim + eff, 8).fill(0xee);
        let at = heap.validate().unwrap_err().at;
        assert_eq!(at, victim + eff);
        let mut out = vec![Span::default(); page];
        assert_eq!(heap.blocks(0, &mut out).unwrap_err().at, at);
        // A cursor from before the damage (the victim's header): the walk stops there too.
        assert_eq!(
            heap.blocks(victim - 8, &mut out).err().map(|c| c.at),
            Some(at)
        );
        // A cursor that is no header: an error, never a read outside the heap.
        assert!(heap.blocks(3, &mut out).is_err());
    }
}
