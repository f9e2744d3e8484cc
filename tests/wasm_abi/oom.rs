//! Out of memory: under a cap of pages, at every cap, then recovery.

use super::*;

#[test]
pub(crate) fn out_of_memory_under_a_cap_then_recovery() {
    for variant in [Variant::Stats, Variant::SmallStats] {
        out_of_memory_then_recovery(variant);
    }
}

pub(crate) fn out_of_memory_then_recovery(variant: Variant) {
    let mut wall = Wall::capped(variant, Some(4));
    let mut blocks = Vec::new();
    loop {
        let p = wall.allocate(1000);
        if p == 0 {
            break;
        }
        wall.fill(p, 1000, p);
        blocks.push(p);
    }
    assert_eq!(wall.pages(), 4, "grew to the cap");
    assert!(blocks.len() > 200, "{} blocks", blocks.len());
    wall.assert_valid("out of memory");
    assert_eq!(wall.allocate(1000), 0, "still out of memory");
    assert_eq!(
        wall.reallocate(blocks[0], 50_000),
        0,
        "reallocate fails too"
    );
    assert_eq!(wall.size(blocks[0]), 1000);
    wall.assert_valid("failed reallocate");
    for &p in &blocks {
        assert_eq!(wall.mismatch(p, 1000, p), None);
    }
    // Free a few: allocations work again, without growth.
    for &p in blocks.iter().skip(10).step_by(5) {
        wall.deallocate(p);
    }
    wall.assert_valid("some freed");
    for _ in 0..10 {
        assert_ne!(wall.allocate(1000), 0, "works again after frees");
    }
    assert_eq!(wall.pages(), 4);
    wall.assert_valid("after recovery");
}

/// Frees nothing but the cache (given back to the heap); checks the heap accounting says every
/// byte is back: one free block per old region (up to 8 bytes kept by a marker), the rest above
/// the bump pointer.
pub(crate) fn assert_all_recovered(wall: &mut Wall, context: &str) -> Stats {
    wall.assert_valid(context);
    wall.flush_cache();
    wall.assert_valid(context);
    let s = wall.stats();
    assert_eq!((s.used_blocks, s.used_bytes), (0, 0), "{context}: {s:?}");
    let old = s.regions - 1;
    assert_eq!(
        s.free_blocks, old,
        "{context}: one free block per old region: {s:?}"
    );
    let accounted = s.free_bytes + s.top_room + 8 + 16 * old;
    assert!(
        accounted <= s.heap_bytes && accounted + 8 * old >= s.heap_bytes,
        "{context}: bytes lost: {s:?}"
    );
    s
}

/// A seeded mixed workload (sizes 1 B – 64 KiB) under a cap of `cap` pages: every failure is 0,
/// the heap stays valid, and after freeing everything the whole capacity is one allocation.
pub(crate) fn oom_at_cap(variant: Variant, cap: u32, start: u32) -> u32 {
    let mut run = Run::new(Wall::capped(variant, Some(cap)), true);
    let mut rng = Rng::new(cap as u64 * 7919);
    // Blocks average about 4 KiB: a live set of 16 blocks per page wants more than the cap.
    let target = 16 * cap as usize + 16;
    for i in 0..2 * target + 200 {
        run.step(&mut rng, 65536, target, i % 3 == 0);
        if i % 200 == 0 {
            run.verify_all();
        }
    }
    run.verify_all();
    assert!(run.wall().pages() <= cap as u64);
    let failures = run.failures();
    assert!(
        failures > 0,
        "cap {cap}: the workload never ran out of memory"
    );
    run.free_all();
    let s = assert_all_recovered(run.wall(), &format!("cap {cap}"));
    assert_eq!(s.regions, 1);
    let wall = run.wall();
    let capacity = cap * PAGE - start - 16;
    assert_eq!(
        wall.allocate(capacity + 8),
        0,
        "cap {cap}: one step over capacity"
    );
    wall.assert_valid("over capacity");
    let p = wall.allocate(capacity);
    assert_ne!(
        p, 0,
        "cap {cap}: the whole capacity ({capacity}) in one block"
    );
    assert_eq!(wall.pages(), cap as u64);
    assert_eq!(wall.allocate(1), 0, "cap {cap}: nothing left");
    wall.fill(p, capacity, 9);
    wall.deallocate(p);
    assert_all_recovered(wall, "capacity freed");
    failures
}

#[test]
pub(crate) fn out_of_memory_at_every_cap() {
    for variant in [Variant::Stats, Variant::SmallStats] {
        let start = heap_start(variant);
        let mut failures = 0;
        let caps = 1..=64;
        for cap in caps.clone() {
            failures += oom_at_cap(variant, cap, start);
        }
        eprintln!(
            "{variant:?}: {} caps tried, {failures} failed calls",
            caps.count()
        );
    }
}

/// The real size-tuned module (no heap walk) under every cap: failures are 0, contents survive,
/// and once everything is freed the whole capacity is one allocation again.
#[test]
pub(crate) fn out_of_memory_at_every_cap_small_build() {
    let start = heap_start(Variant::Small);
    for cap in 1..=32u32 {
        let mut run = Run::new(Wall::capped(Variant::Small, Some(cap)), true);
        let mut rng = Rng::new(cap as u64 * 7919);
        let target = 16 * cap as usize + 16;
        for i in 0..2 * target + 200 {
            run.step(&mut rng, 65536, target, i % 3 == 0);
        }
        run.verify_all();
        assert!(run.wall().pages() <= cap as u64);
        assert!(run.failures() > 0, "cap {cap}: never ran out of memory");
        run.free_all();
        let wall = run.wall();
        let capacity = cap * PAGE - start - 16;
        assert_eq!(wall.allocate(capacity + 8), 0, "cap {cap}: over capacity");
        let p = wall.allocate(capacity);
        assert_ne!(p, 0, "cap {cap}: the whole capacity in one block");
        assert_eq!(wall.allocate(1), 0, "cap {cap}: nothing left");
        wall.deallocate(p);
    }
}
