//! Memory grown by another module in between, before the first call, and up to the top of 4 GiB.

use super::*;

#[test]
pub(crate) fn memory_grown_by_another_module_in_between() {
    // Six seeds on the stats build (with bad pointers), two on the checked build (without), then
    // four on each size-tuned build.
    let mut small_regions = 0;
    for seed in 0..16u64 {
        let variant = match seed {
            0..6 => Variant::Stats,
            6..8 => Variant::Checked,
            8..12 => Variant::SmallStats,
            _ => Variant::Small,
        };
        let bad = variant != Variant::Checked;
        let mut rng = Rng::new(1000 + seed);
        let mut run = Run::new(Wall::new(variant), false);
        let mut grower = Grower::new(run.wall());
        run.allocate(100);
        for i in 0..600 {
            if rng.chance(4) {
                let pages = rng.range(1, 3);
                let byte = rng.range(0, 255) as u8;
                grower
                    .grow(run.wall(), pages, byte)
                    .expect("uncapped growth");
            }
            run.step(&mut rng, 40_000, 60, bad && i % 4 == 0);
            if i % 50 == 0 {
                grower.assert_intact(run.wall());
                run.verify_all();
            }
        }
        grower.assert_intact(run.wall());
        run.verify_all();
        if !variant.has_stats() {
            run.free_all();
            grower.assert_intact(run.wall());
            continue;
        }
        let regions = run.wall().stat(7);
        if variant == Variant::SmallStats {
            // Its workload differs with the classes: a seed may peak before the first growth
            // by the other module. Some must not.
            small_regions = small_regions.max(regions);
        } else {
            assert!(regions > 1, "seed {seed}: {regions} regions");
        }
        run.free_all();
        grower.assert_intact(run.wall());
        let s = assert_all_recovered(run.wall(), &format!("seed {seed}"));
        // The current region is usable whole, without growth.
        let pages = run.wall().pages();
        let p = run.wall().allocate(s.top_room - 8);
        assert_ne!(p, 0);
        assert_eq!(run.wall().pages(), pages);
        run.wall().deallocate(p);
        grower.assert_intact(run.wall());
        assert_all_recovered(run.wall(), "again");
    }
    assert!(
        small_regions > 1,
        "the small build never opened a second region"
    );
}

#[test]
pub(crate) fn memory_grown_by_another_module_under_caps() {
    let mut failures = 0;
    let mut max_regions = 0;
    for (variant, cap) in (2..=40)
        .map(|cap| (Variant::Stats, cap))
        .chain((2..=40).map(|cap| (Variant::SmallStats, cap)))
    {
        let mut rng = Rng::new(cap as u64);
        let mut run = Run::new(Wall::capped(variant, Some(cap)), true);
        let mut grower = Grower::new(run.wall());
        for i in 0..250 {
            if rng.chance(5) {
                let byte = rng.range(0, 255) as u8;
                let _ = grower.grow(run.wall(), rng.range(1, 2), byte);
            }
            run.step(&mut rng, 65536, 30, i % 3 == 0);
            if i % 50 == 0 {
                grower.assert_intact(run.wall());
                run.verify_all();
            }
        }
        grower.assert_intact(run.wall());
        run.verify_all();
        assert!(run.wall().pages() <= cap as u64);
        failures += run.failures();
        max_regions = max_regions.max(run.wall().stat(7));
        run.free_all();
        grower.assert_intact(run.wall());
        assert_all_recovered(run.wall(), &format!("cap {cap}"));
    }
    assert!(failures > 100, "{failures} failures");
    assert!(max_regions > 2, "{max_regions} regions at most");
}

/// Memory another module grows before wall-e's first call is not wall-e's: its initial memory
/// is the module's own initial page(s) only.
#[test]
pub(crate) fn memory_grown_before_the_first_call_is_left_alone() {
    for variant in [Variant::Stats, Variant::SmallStats] {
        grown_before_the_first_call(variant);
    }
}

pub(crate) fn grown_before_the_first_call(variant: Variant) {
    let mut wall = Wall::new(variant);
    let mut grower = Grower::new(&mut wall);
    grower.grow(&mut wall, 2, 0xAB).unwrap();
    let mut blocks = Vec::new();
    for i in 0..40 {
        let p = wall.allocate(5000);
        assert_ne!(p, 0);
        wall.fill(p, 5000, i);
        blocks.push(p);
    }
    grower.assert_intact(&mut wall);
    wall.assert_valid("after growth by another module");
    for p in blocks {
        wall.deallocate(p);
    }
    grower.assert_intact(&mut wall);
    wall.assert_valid("all freed");
}

/// The last page of a 4 GiB memory: another module grows the memory to 65535 pages (without
/// touching them), wall-e's next growth takes the very last page, whose region ends at 2^32.
pub(crate) fn at_the_top_of_4_gib(variant: Variant) {
    let mut wall = Wall::new(variant);
    let mut grower = Grower::new(&mut wall);
    // The whole initial region in one block.
    let first = wall.allocate(PAGE - heap_start(variant) - 16);
    assert_ne!(first, 0);
    let pages = wall.pages() as u32;
    assert_eq!(pages, 1);
    grower
        .grow_only(&mut wall, 65_535 - pages)
        .expect("a 4 GiB memory (virtual)");
    // Does not fit in the first region: the last page.
    let p = wall.allocate(60_000);
    assert_ne!(p, 0, "{variant:?}: allocate in the last page");
    assert_eq!(wall.pages(), 65_536);
    assert!(p >= 65_535 * PAGE, "{p:#x} is in the last page");
    wall.fill(p, 60_000, 1);
    let room = (u32::MAX - 7) - (p + wall.effective(p)) - 8;
    let q = wall.allocate(room);
    assert_ne!(
        q, 0,
        "{variant:?}: the rest of the last page ({room} bytes)"
    );
    assert_eq!(q, p + wall.effective(p) + 8);
    assert_eq!(q as u64 + wall.effective(q) as u64, (1u64 << 32) - 8);
    wall.fill(q, room, 2);
    assert_eq!(wall.allocate(room + 1), 0, "{variant:?}: memory is full");
    assert_eq!(wall.allocate(8), 0);
    assert_eq!(wall.reallocate(q, room + 8), 0, "no room to grow in place");
    assert_eq!(wall.size(q), room);
    if variant == Variant::Checked {
        // The marker's address (the last 8 bytes) is no block: foreign.
        assert!(wall.try_size(0xFFFF_FFF8).is_err());
        assert_eq!(wall.failure().code, 3);
    } else {
        assert_eq!(wall.size(0xFFFF_FFF8), 0);
        wall.deallocate(0xFFFF_FFF8);
    }
    if variant.has_stats() {
        wall.assert_valid("4 GiB");
        let s = wall.stats();
        assert_eq!(s.regions, 2, "{s:?}");
        assert_eq!(s.used_blocks, 3);
        assert_eq!(s.top_room, 0);
    }
    assert_eq!(wall.mismatch(p, 60_000, 1), None);
    assert_eq!(wall.mismatch(q, room, 2), None);
    let r = wall.reallocate(p, 100);
    assert_eq!(r, p, "shrinks in place");
    wall.deallocate(q);
    wall.deallocate(first);
    wall.deallocate(r);
    if variant.has_stats() {
        let s = assert_all_recovered(&mut wall, "4 GiB freed");
        assert_eq!(s.top_room, PAGE - 8, "the whole last page is free: {s:?}");
    }
    // What the other module grew is untouched (sampled: reading it all would commit 4 GiB).
    for page in (pages..65_535).step_by(4093) {
        assert!(
            wall.bytes(page * PAGE, PAGE).iter().all(|&b| b == 0),
            "page {page}"
        );
    }
}

#[test]
pub(crate) fn allocations_at_the_top_of_a_4_gib_memory() {
    for variant in Variant::ALL {
        at_the_top_of_4_gib(variant);
    }
}
