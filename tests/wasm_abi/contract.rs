//! The ABI contract end to end: edge cases of every call, huge requests, contents kept by `reallocate`.

use super::*;

/// Checks the 125% rule for a block handed out for `size` bytes.
pub(crate) fn assert_effective(wall: &Wall, p: u32, size: u32, reallocated: bool) {
    let eff = wall.effective(p);
    let want = rounded(size);
    let ok = eff >= want && (eff * 4 <= want * 5 || (reallocated && eff <= want + 8));
    assert!(
        ok,
        "block {p:#x} for {size} bytes has effective size {eff} (rounded request {want})"
    );
}

pub(crate) fn abi_edge_cases(variant: Variant) {
    let mut wall = Wall::new(variant);
    let check = |wall: &mut Wall, what: &str| {
        if variant.has_stats() {
            wall.assert_valid(what);
        }
    };
    assert_eq!(wall.allocate(0), 0, "allocate(0) is nil");
    wall.deallocate(0);
    assert_eq!(wall.size(0), 0, "size(0)");
    assert_eq!(wall.reallocate(0, 0), 0, "reallocate(0, 0)");
    check(&mut wall, "nil calls");
    let pages = wall.pages();
    for huge in [u32::MAX, u32::MAX - 7, u32::MAX - 8, MAX_REQUEST + 1] {
        assert_eq!(wall.allocate(huge), 0, "allocate({huge}) is refused");
        assert_eq!(wall.reallocate(0, huge), 0, "reallocate(0, {huge})");
        check(&mut wall, "huge");
    }
    assert_eq!(wall.pages(), pages, "refused requests do not grow memory");

    // reallocate(0, s) allocates.
    let p = wall.reallocate(0, 24);
    assert_ne!(p, 0);
    assert_eq!(p % 8, 0);
    assert_eq!(wall.size(p), 24);
    wall.fill(p, 24, 1);
    // A failed reallocate keeps the block.
    for huge in [u32::MAX, MAX_REQUEST + 1] {
        assert_eq!(wall.reallocate(p, huge), 0, "reallocate(p, {huge}) fails");
        assert_eq!(wall.size(p), 24, "and keeps the block");
        assert_eq!(wall.mismatch(p, 24, 1), None, "and its contents");
    }
    check(&mut wall, "failed reallocate");
    // reallocate(p, 0) frees.
    assert_eq!(wall.reallocate(p, 0), 0, "reallocate(p, 0) frees");
    assert_eq!(wall.size(p), 0, "freed block has no size");
    check(&mut wall, "reallocate to 0");

    // Alignment, exact sizes and the 125% rule over many sizes, kept live together.
    let mut live = Vec::new();
    for size in (1..=300).chain([
        511, 512, 513, 4095, 4096, 4097, 65535, 65536, 65537, 200_000,
    ]) {
        let p = wall.allocate(size);
        assert_ne!(p, 0, "allocate({size})");
        assert_eq!(p % 8, 0, "allocate({size}) = {p:#x} is 8-aligned");
        assert_eq!(wall.size(p), size);
        assert_effective(&wall, p, size, false);
        wall.fill(p, size, size);
        live.push((p, size));
    }
    check(&mut wall, "many sizes");
    // Disjoint: sorted by address, each block ends before the next header.
    let mut sorted = live.clone();
    sorted.sort();
    for w in sorted.windows(2) {
        let (p, _) = w[0];
        let (q, _) = w[1];
        assert!(p + wall.effective(p) + 8 <= q, "{p:#x} overlaps {q:#x}");
    }
    for &(p, size) in &live {
        assert_eq!(wall.mismatch(p, size, size), None, "contents of {p:#x}");
    }
    // Free every other block, then the rest.
    for &(p, _) in live.iter().step_by(2) {
        wall.deallocate(p);
        assert_eq!(wall.size(p), 0);
    }
    check(&mut wall, "half freed");
    for &(p, size) in live.iter().skip(1).step_by(2) {
        assert_eq!(wall.mismatch(p, size, size), None, "contents of {p:#x}");
        wall.deallocate(p);
    }
    check(&mut wall, "all freed");
    if variant.has_stats() {
        wall.flush_cache();
        let s = wall.stats();
        assert_eq!((s.used_blocks, s.used_bytes, s.free_blocks), (0, 0, 0));
        assert_eq!(
            s.top_room + 8,
            s.heap_bytes,
            "everything back at the bump pointer"
        );
    }
}

#[test]
pub(crate) fn abi_edge_cases_default_build() {
    abi_edge_cases(Variant::Default);
}

#[test]
pub(crate) fn abi_edge_cases_stats_build() {
    abi_edge_cases(Variant::Stats);
}

#[test]
pub(crate) fn abi_edge_cases_small_builds() {
    abi_edge_cases(Variant::Small);
    abi_edge_cases(Variant::SmallStats);
}

#[test]
pub(crate) fn huge_requests_fail_cleanly_under_a_cap() {
    for variant in [
        Variant::Default,
        Variant::Stats,
        Variant::Small,
        Variant::SmallStats,
    ] {
        let mut wall = Wall::capped(variant, Some(16));
        let p = wall.allocate(100);
        wall.fill(p, 100, 7);
        for huge in [
            MAX_REQUEST,
            MAX_REQUEST - 7,
            1 << 31,
            3 << 30,
            17 * PAGE,
            16 * PAGE,
        ] {
            assert_eq!(wall.allocate(huge), 0, "{variant:?}: allocate({huge})");
            assert_eq!(
                wall.reallocate(p, huge),
                0,
                "{variant:?}: reallocate(p, {huge})"
            );
            assert_eq!(wall.size(p), 100);
            assert_eq!(wall.mismatch(p, 100, 7), None);
            if variant.has_stats() {
                wall.assert_valid("huge under a cap");
            }
        }
        assert!(wall.pages() <= 16);
    }
}

#[test]
pub(crate) fn contents_survive_reallocate() {
    for variant in [
        Variant::Default,
        Variant::Stats,
        Variant::Small,
        Variant::SmallStats,
    ] {
        let mut wall = Wall::new(variant);
        // In place at the top: grows without moving.
        let p = wall.allocate(40);
        wall.fill(p, 40, 3);
        let q = wall.reallocate(p, 4000);
        assert_eq!(q, p, "the topmost block grows in place");
        assert_eq!(wall.mismatch(q, 40, 3), None);
        wall.fill(q, 4000, 4);
        // Blocked: must move, keeping everything.
        let blocker = wall.allocate(8);
        let r = wall.reallocate(q, 9000);
        assert_ne!(r, 0);
        assert_ne!(r, q, "a blocked block moves");
        assert_eq!(wall.mismatch(r, 4000, 4), None, "contents moved");
        assert_eq!(wall.size(r), 9000);
        assert_effective(&wall, r, 9000, true);
        wall.fill(r, 9000, 5);
        // Shrink in place keeps the prefix.
        let s = wall.reallocate(r, 100);
        assert_eq!(s, r, "shrinking stays in place");
        assert_eq!(wall.size(s), 100);
        assert_eq!(wall.mismatch(s, 100, 5), None);
        assert_effective(&wall, s, 100, true);
        // Growing into the freed tail in place.
        let t = wall.reallocate(s, 5000);
        assert_eq!(t, s, "grows back into its own freed tail");
        assert_eq!(wall.mismatch(t, 100, 5), None);
        assert_effective(&wall, t, 5000, true);
        wall.deallocate(blocker);
        wall.deallocate(t);
        if variant.has_stats() {
            wall.assert_valid("after reallocs");
            assert_eq!(wall.stat(2), 0);
        }
    }
}
