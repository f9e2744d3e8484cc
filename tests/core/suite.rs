// The core's unit tests, included once per policy by tests/core.rs (`P` is the policy).

#[test]
fn first_allocation_is_aligned_and_sized() {
    let mut h = heap(1, 4);
    let p = h.allocate(1);
    assert_ne!(p, 0);
    assert_eq!(p % 8, 0);
    assert!(p >= 1024 + 8);
    assert_eq!(h.size(p), 1);
    let stats = valid(&h);
    assert_eq!(
        (stats.used_blocks, stats.used_bytes, stats.free_blocks),
        (1, 1, 0)
    );
}

#[test]
fn edge_cases_of_the_abi() {
    let mut h = heap(1, 4);
    assert_eq!(h.allocate(0), 0, "allocate(0) is nil");
    h.deallocate(0);
    assert_eq!(h.size(0), 0);
    assert_eq!(h.reallocate(0, 0), 0);
    for huge in [
        u32::MAX,
        u32::MAX - 7,
        u32::MAX - 8,
        MAX_REQUEST + 1,
        MAX_REQUEST,
        5 * PAGE,
    ] {
        assert_eq!(
            h.allocate(huge),
            0,
            "allocate({huge}) must fail without overflow"
        );
        valid(&h);
    }
    let p = h.reallocate(0, 24);
    assert_ne!(p, 0);
    assert_eq!(h.size(p), 24);
    assert_eq!(h.reallocate(p, u32::MAX), 0, "huge realloc fails");
    assert_eq!(h.size(p), 24, "and keeps the block");
    assert_eq!(h.reallocate(p, 0), 0, "realloc to 0 frees");
    assert_eq!(h.size(p), 0);
    valid(&h);
}

#[test]
fn bad_pointers_are_ignored() {
    let mut h = heap(1, 4);
    let a = h.allocate(40);
    let b = h.allocate(40);
    let c = h.allocate(40);
    fill(&h, a, 40, 1);
    fill(&h, c, 40, 3);
    h.deallocate(b);
    let before = valid(&h);
    h.deallocate(b); // double free
    for bad in [b, a + 1, a + 8, a - 8, 4, 8, 1024, c + 4096, !7, 64 * PAGE] {
        h.deallocate(bad);
        assert_eq!(
            h.reallocate(bad, 10),
            if bad == b { 0 } else { h.reallocate(bad, 10) }
        );
        assert_eq!(valid(&h), before, "bad pointer {bad:#x} changed the heap");
    }
    assert_eq!(h.size(b), 0, "a freed block has no size");
    assert!(holds(&h, a, 40, 1) && holds(&h, c, 40, 3));
}

/// Every 8-aligned address that is not a live block's start — inside free blocks (links,
/// footers, stale headers left by merges), region markers, above the bump pointer, and inside
/// live payloads — is refused by `size`, `deallocate` and `reallocate` when user data is made of
/// odd bytes (as in the fuzz model: any word of it reads as flagged free). So the header's flags
/// and bounds alone catch double frees and foreign pointers; the core needs no other check.
#[test]
fn every_address_but_a_block_start_is_refused() {
    let mut h = heap(1, 8);
    let odd = |h: &HostHeap, p: u32, len: u32, seed: u32| {
        for (i, b) in bytes(h, p, len).iter_mut().enumerate() {
            *b = pattern(seed, i) | 1;
        }
    };
    let mut live = Vec::new();
    for i in 0..60u32 {
        let size = [8, 16, 24, 40, 100, 300, 1000][i as usize % 7];
        let p = h.allocate(size);
        odd(&h, p, size, i);
        live.push((p, size));
    }
    // Frees that merge both ways, double frees, shrinks and growths in place, a move.
    for i in (0..60).step_by(3).chain((1..60).step_by(6)) {
        let (p, _) = live[i];
        h.deallocate(p);
        h.deallocate(p);
    }
    live = live
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| i % 3 != 0 && i % 6 != 1)
        .map(|(_, b)| b)
        .collect();
    for (k, (p, size)) in live.iter_mut().enumerate() {
        let new = if k % 2 == 0 {
            *size / 2 + 1
        } else {
            *size + 20
        };
        *p = h.reallocate(*p, new);
        assert_ne!(*p, 0);
        odd(&h, *p, new, k as u32);
        *size = new;
    }
    h.source_mut().grow_foreign(1).unwrap();
    let big = h.allocate(PAGE);
    odd(&h, big, PAGE, 99);
    let before = valid(&h);
    let end = big + PAGE + 4096;
    let mut refused = 0;
    // Under Miri (a heap walk per address costs seconds) a sample: every 31st address.
    let stride = if cfg!(miri) { 8 * 31 } else { 8 };
    for p in (8..end).step_by(stride) {
        if h.locate(p) == Place::Live {
            continue;
        }
        assert_eq!(h.size(p), 0, "size({p:#x})");
        h.deallocate(p);
        assert_eq!(h.reallocate(p, 10), 0, "reallocate({p:#x})");
        assert_eq!(valid(&h), before, "{p:#x} changed the heap");
        refused += 1;
    }
    assert!(refused > 1000 * 8 / stride, "{refused}");
}

#[test]
fn interior_pointer_over_zero_bytes_is_ignored() {
    let mut h = heap(1, 4);
    let p = h.allocate_zeroed(40, 8);
    let _q = h.allocate(8);
    let before = valid(&h);
    h.deallocate(p + 8); // the 8 zero bytes before p + 8 look like an empty header
    assert_eq!(h.reallocate(p + 16, 10), 0);
    assert_eq!(h.size(p + 8), 0);
    assert_eq!(valid(&h), before);
    assert!(bytes(&h, p, 40).iter().all(|&b| b == 0));
}

/// Frees `p` and gives the cache (if the policy has one) back to the heap: the heap's own
/// freeing, merging and returning to the top, as the tests of those see it.
fn free(h: &mut HostHeap, p: u32) {
    h.deallocate(p);
    h.flush_cache();
}

#[test]
fn double_free_after_merging_is_ignored() {
    let mut h = heap(1, 4);
    let a = h.allocate(64);
    let b = h.allocate(64);
    let c = h.allocate(64);
    let _guard = h.allocate(8);
    free(&mut h, a);
    free(&mut h, b); // merges into a's free block
    free(&mut h, c); // and c
    let before = valid(&h);
    assert_eq!(before.free_blocks, 1);
    h.deallocate(b);
    h.deallocate(c);
    assert_eq!(valid(&h), before);
}

#[test]
fn freed_neighbours_merge_and_top_goes_back() {
    let mut h = heap(1, 4);
    let blocks: Vec<u32> = (0..6).map(|_| h.allocate(100)).collect();
    let top_before = valid(&h).top_room;
    free(&mut h, blocks[1]);
    free(&mut h, blocks[3]);
    assert_eq!(valid(&h).free_blocks, 2);
    free(&mut h, blocks[2]); // joins 1 and 3
    let s = valid(&h);
    assert_eq!(s.free_blocks, 1);
    assert_eq!(s.free_bytes, 3 * 104 + 2 * 8);
    free(&mut h, blocks[5]); // the top block goes back to the bump pointer
    assert_eq!(valid(&h).top_room, top_before + 112);
    free(&mut h, blocks[4]); // and takes the free run below it along
    let s = valid(&h);
    assert_eq!((s.free_blocks, s.used_blocks), (0, 1));
    free(&mut h, blocks[0]);
    let s = valid(&h);
    assert_eq!(
        (s.free_blocks, s.used_blocks, s.top_room),
        (0, 0, s.heap_bytes - 8)
    );
}

#[test]
fn reuse_is_exact_or_split_and_within_125_percent() {
    let mut h = heap(1, 64);
    // Free blocks of many sizes, separated by live guards.
    let mut guards = Vec::new();
    let mut holes = Vec::new();
    for i in 1..200u32 {
        holes.push(h.allocate(i * 24));
        guards.push(h.allocate(8));
    }
    for p in holes {
        h.deallocate(p);
    }
    valid(&h);
    for request in (1..5000u32).step_by(37) {
        let p = h.allocate(request);
        assert_ne!(p, 0);
        let rounded = (request.max(8) + 7) & !7;
        let eff = effective(&h, p);
        assert!(
            eff >= rounded && eff * 4 <= rounded * 5,
            "request {request}: effective {eff}"
        );
        valid(&h);
    }
}

/// The effective size of a live block, read from its header (the shared shadow model's reader).
fn effective(h: &HostHeap, p: u32) -> u32 {
    super::common::shadow::Target::effective(h, p)
}

#[test]
fn tiny_requests_never_take_a_block_one_step_too_big() {
    let mut h = heap(1, 4);
    // A free 16-byte block and nothing else: an 8-byte request must not take it whole (200%).
    let a = h.allocate(16);
    let _guard = h.allocate(8);
    h.deallocate(a);
    let p = h.allocate(8);
    assert_ne!(p, a, "took a 16-byte block for 8 bytes");
    assert_eq!(effective(&h, p), 8);
    valid(&h);
}

#[test]
fn realloc_in_place_grows_into_the_top_and_free_neighbours() {
    let mut h = heap(1, 16);
    let a = h.allocate(10);
    fill(&h, a, 10, 7);
    let a2 = h.reallocate(a, 50_000); // at the top: grows in place, across a page
    assert_eq!(a2, a);
    assert!(holds(&h, a, 10, 7));
    valid(&h);
    let b = h.allocate(100);
    let c = h.allocate(300);
    let _guard = h.allocate(8);
    fill(&h, b, 100, 9);
    free(&mut h, c); // (a cached block is no free neighbour: given back first)
    let b2 = h.reallocate(b, 250); // into the free neighbour, splitting it
    assert_eq!(b2, b);
    assert!(holds(&h, b, 100, 9));
    let s = valid(&h);
    assert_eq!(s.free_blocks, 1);
    let b3 = h.reallocate(b, 40); // shrink: the tail merges with the free remainder
    assert_eq!(b3, b);
    assert_eq!(h.size(b), 40);
    assert!(holds(&h, b, 40, 9));
    assert_eq!(valid(&h).free_blocks, 1);
}

#[test]
fn realloc_moves_and_keeps_contents_when_boxed_in() {
    let mut h = heap(1, 16);
    let a = h.allocate(64);
    let _b = h.allocate(64);
    fill(&h, a, 64, 5);
    let a2 = h.reallocate(a, 1000);
    assert_ne!(a2, a);
    assert!(holds(&h, a2, 64, 5));
    assert_eq!(h.size(a2), 1000);
    assert_eq!(h.size(a), 0);
    valid(&h);
}

#[test]
fn out_of_memory_returns_nil_and_recovers() {
    let mut h = heap(1, 3);
    let mut live = Vec::new();
    loop {
        let p = h.allocate(1000);
        valid(&h);
        if p == 0 {
            break;
        }
        live.push(p);
    }
    assert!(live.len() > 150, "{} blocks in 3 pages", live.len());
    let p = live[0];
    fill(&h, p, 1000, 1);
    assert_eq!(h.reallocate(p, 100_000), 0, "failed realloc returns nil");
    assert!(holds(&h, p, 1000, 1), "and keeps the old block");
    for p in live.drain(..) {
        h.deallocate(p);
    }
    let s = valid(&h);
    assert_eq!((s.used_blocks, s.free_blocks), (0, 0));
    // (Under `ODD_SIZES` the first header is at 1,032, so that the first payload is
    // 16-aligned: 8 bytes less.)
    let start = if P::ODD_SIZES { 1032 } else { 1024 };
    let big = h.allocate(3 * PAGE - start - 16);
    assert_ne!(big, 0, "all capacity usable again");
    valid(&h);
}

#[test]
fn growth_elsewhere_opens_a_new_region() {
    let mut h = heap(1, 64);
    let a = h.allocate(PAGE / 2);
    h.source_mut().grow_foreign(2).unwrap();
    // Cannot extend the first region. (Below `LARGE_MIN`: no gap in front of it, which would
    // be one more free block.)
    let b = h.allocate(PAGE - 1024);
    assert_ne!(b, 0);
    assert!(b >= 3 * PAGE, "b {b:#x} must be in memory wall-e grew");
    let s = valid(&h);
    assert_eq!(s.regions, 2);
    if !P::LIST_REGION_REST {
        // The size-tuned policy does not reuse the old region's tail: its end marker spans it.
        assert_eq!(s.free_blocks, 0, "the first region's tail is in its marker");
        let c = h.allocate(PAGE / 4);
        assert!(c > b, "c {c:#x} comes from the new region");
        for p in [a, b, c] {
            h.deallocate(p);
            valid(&h);
        }
        let s = valid(&h);
        assert_eq!(
            (s.used_blocks, s.free_blocks),
            (0, 1),
            "a is a free block in the first region, b and c went back to the bump pointer"
        );
        return;
    }
    assert_eq!(s.free_blocks, 1, "the first region's tail is a free block");
    // The tail of the old region is reused.
    let c = h.allocate(PAGE / 4);
    assert!(c < PAGE, "c {c:#x} reuses the old region's tail");
    for p in [a, b, c] {
        h.deallocate(p);
        valid(&h);
    }
    let s = valid(&h);
    assert_eq!(s.used_blocks, 0);
    assert_eq!(s.free_blocks, 1, "the first region's blocks merged again");
}

#[test]
fn aligned_allocations_waste_no_block() {
    let mut h = heap(1, 64);
    for align in [16u32, 32, 64, 128, 4096, 65536] {
        let before = valid(&h);
        let p = h.allocate_aligned(24, align);
        assert_ne!(p, 0);
        assert_eq!(p % align, 0, "align {align}");
        assert_eq!(h.size(p), 24);
        let after = valid(&h);
        // The gap in front is a reusable free block, not lost.
        assert!(after.used_blocks == before.used_blocks + 1);
        let q = h.allocate(8);
        h.deallocate(q);
    }
    // Aligned allocations out of free blocks.
    let holes: Vec<u32> = (0..20).map(|_| h.allocate(300)).collect();
    let _guard = h.allocate(8);
    for &p in &holes {
        h.deallocate(p);
    }
    for _ in 0..20 {
        let p = h.allocate_aligned(100, 64);
        assert_eq!(p % 64, 0);
        fill(&h, p, 100, p);
        valid(&h);
    }
    // Realloc keeps alignment when it moves.
    let p = h.allocate_aligned(16, 256);
    let q = h.allocate(8);
    let p2 = h.reallocate_aligned(p, 10_000, 256);
    assert_eq!(p2 % 256, 0);
    h.deallocate(q);
    valid(&h);
}

#[test]
fn zeroed_allocations_are_zero_even_when_reused() {
    let mut h = heap(1, 16);
    let mut live = Vec::new();
    for i in 0..200u32 {
        let p = h.allocate(i % 50 + 1);
        fill(&h, p, i % 50 + 1, i);
        live.push(p);
    }
    for p in live.drain(..).step_by(2) {
        h.deallocate(p);
    }
    for i in 0..300u32 {
        let size = i % 97 + 1;
        let align = [8, 16, 64][i as usize % 3];
        let p = h.allocate_zeroed(size, align);
        assert!(
            bytes(&h, p, size).iter().all(|&b| b == 0),
            "alloc_zeroed({size}) not zero"
        );
        fill(&h, p, size, i);
        if i % 3 == 0 {
            h.deallocate(p);
        }
        valid(&h);
    }
}

#[test]
fn search_work_is_bounded_with_many_holes() {
    // 20k holes of one size and one misfit: the misfit is served from the top at once.
    let n = if cfg!(miri) { 1_000 } else { 20_000 };
    let mut h = heap(1, 1024);
    let mut holes = Vec::new();
    for _ in 0..n {
        holes.push(h.allocate(24));
        h.allocate(8);
    }
    for p in holes {
        h.deallocate(p);
    }
    h.flush_cache();
    let s = valid(&h);
    assert_eq!(s.free_blocks, n);
    let p = h.allocate(1000);
    assert_ne!(p, 0);
    let q = h.allocate(24);
    assert_eq!(effective(&h, q), 24, "exact class reused");
    valid(&h);
}

#[test]
fn memory_freed_next_to_the_spare_serves_large_requests() {
    // The spare (the rest of a block split for a small request) is carved by small requests
    // only; when frees merge a large block into it, that memory must still serve a large
    // request rather than let the heap grow.
    let mut h = heap(1, 8);
    let a = h.allocate(1024);
    let b = h.allocate(20_000);
    let guard = h.allocate(8);
    assert!(a != 0 && b != 0 && guard != 0);
    free(&mut h, a);
    valid(&h);
    let small = h.allocate(16);
    assert_eq!(small, a, "the small request splits the freed block");
    valid(&h);
    h.deallocate(b); // merges with the rest of `a`'s block: about 21 KB free
    let before = valid(&h);
    assert!(before.largest_free > 20_000);
    let pages = h.source().pages();
    let big = h.allocate(20_000);
    assert!(
        big > small && big < guard,
        "served from the merged block, not the top"
    );
    assert_eq!(h.source().pages(), pages, "no growth");
    let after = valid(&h);
    assert_eq!(after.heap_bytes, before.heap_bytes);
}

/// The speed-tuned policy's search (the size-tuned one has coarser classes and does not look
/// past the head: for it the test ends at once).
#[test]
fn a_request_takes_a_closer_fit_from_its_own_class() {
    if P::FIT_LOOKS == 0 {
        return;
    }
    // 136 and 152 bytes share a class (a quarter of 128..256). With the 136-byte block at the
    // head of that list, a 144-byte request takes the 152-byte block behind it rather than
    // splitting a block of a larger class.
    let mut h = heap(1, 4);
    let big = h.allocate(400);
    let g1 = h.allocate(8);
    let wide = h.allocate(152);
    let g2 = h.allocate(8);
    let narrow = h.allocate(136);
    let g3 = h.allocate(8);
    assert!([big, g1, wide, g2, narrow, g3].iter().all(|&p| p != 0));
    free(&mut h, big);
    free(&mut h, wide);
    free(&mut h, narrow); // now the head of the class
    valid(&h);
    let p = h.allocate(144);
    assert_eq!(p, wide, "the closer fit in the own class");
    assert_eq!(h.size(p), 144);
    let stats = valid(&h);
    assert_eq!(
        stats.free_blocks, 2,
        "the 400- and 136-byte blocks stay free, unsplit"
    );
}

/// A payload that holds what looks like a used block followed by a free one whose links point
/// far outside the memory, and an interior pointer to the fake block: the cheap pointer check
/// cannot tell it from a real block (that is what the `checked` build is for), so `deallocate`
/// merges with the fake free neighbour and follows its links. Those reads and writes must stop at
/// the memory's end — a panic, the host's trap, as wasm's is — never reach outside it.
#[test]
fn links_forged_in_a_payload_never_reach_outside_the_memory() {
    let mut h = heap(1, 1);
    let p = h.allocate(256);
    let top_guard = h.allocate(8); // keeps the fake blocks below the top
    assert!(p != 0 && top_guard != 0);
    let words: [u32; 8] = [
        8,           // fake used block: logical size
        8,           // fake used block: effective size, no flags
        0,           // (its 8-byte payload)
        0,           //
        0xFFFF_FF00, // fake free block: next link, far outside the 64 KiB memory
        16 | 1,      // fake free block: effective size | FREE
        0xFFFF_FE00, // fake free block: prev link
        0,
    ];
    let fake = bytes(&h, p + 64, 32);
    for (i, w) in words.iter().enumerate() {
        fake[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // (Under a policy with a cache, the fake 8-byte block is cached first: the merge
        // comes when the cache is given back.)
        free(&mut h, p + 64 + 8);
    }));
    let payload = outcome.expect_err("deallocate followed the forged links without touching them");
    let message = match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    };
    // The host memory's bounds check (a release build), or first the core's debug assertion
    // that every write lies inside the heap (a debug build).
    assert!(
        message.contains("memory access out of bounds") || message == "write outside the heap",
        "panicked with {message:?}"
    );
}

// ---- The cache of freed small blocks (I8; policies with a cache only). ----

/// A cached block is freed memory to every call: no size, a second free and a reallocate are
/// ignored, the walk counts it as cached (neither used nor free), the heap walker's lookup
/// calls it freed; the next request of its size takes it back, LIFO.
#[test]
fn a_cached_block_is_freed_memory_and_comes_back_first() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 4);
    let a = h.allocate(40);
    let b = h.allocate(40);
    let _guard = h.allocate(8);
    fill(&h, b, 40, 2);
    h.deallocate(a);
    let s = valid(&h);
    assert_eq!(
        (s.used_blocks, s.free_blocks, s.cached_blocks, s.cached_bytes),
        (2, 0, 1, 40)
    );
    assert_eq!(h.size(a), 0, "a cached block has no size");
    assert_eq!(h.locate(a), Place::Freed);
    let digest = h.shape_digest();
    h.deallocate(a); // double free
    assert_eq!(h.reallocate(a, 100), 0, "reallocate of a cached block");
    assert_eq!((valid(&h), h.shape_digest()), (s, digest), "ignored");
    assert_eq!(h.allocate(33), a, "the same rounded size takes it back");
    assert_eq!(h.size(a), 33);
    h.deallocate(a);
    assert_ne!(h.allocate(48), a, "a block of another size never comes from its bin");
    assert_ne!(h.allocate(24), a, "nor a smaller one beyond 125% (I5)");
    assert!(holds(&h, b, 40, 2));
    valid(&h);
}

/// Each bin holds at most `CACHE_CAP` blocks; the rest of the frees go to the heap, merged;
/// so does a block whose left neighbour is free.
#[test]
fn a_cache_bin_is_bounded() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let n = P::CACHE_CAP + 10;
    let mut h = heap(1, 64);
    let blocks: Vec<u32> = (0..n)
        .map(|_| {
            let p = h.allocate(24);
            h.allocate(8); // a guard: no two freed blocks merge
            p
        })
        .collect();
    for &p in &blocks {
        h.deallocate(p);
    }
    let s = valid(&h);
    assert_eq!((s.cached_blocks, s.free_blocks), (P::CACHE_CAP, 10));
    // The first `CACHE_CAP` freed are cached; the next request of the size takes the last
    // of them.
    assert_eq!(h.allocate(24), blocks[P::CACHE_CAP as usize - 1]);
    valid(&h);
    // A block after a free one merges with it rather than being cached (unless it is just
    // below the top).
    let (x, y) = (h.allocate(40), h.allocate(40));
    h.allocate(5000); // a guard from the top: `y` is not just below it
    free(&mut h, x);
    let before = valid(&h);
    h.deallocate(y);
    let after = valid(&h);
    assert_eq!(after.cached_blocks, before.cached_blocks, "not cached");
    assert!(
        after.free_bytes + after.top_room >= before.free_bytes + before.top_room + 48,
        "merged"
    );
}

/// Before the heap grows memory it gives the cache back: blocks that merge serve a larger
/// request, and the heap does not grow for it.
#[test]
fn the_cache_is_given_back_before_memory_grows() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 8);
    let mut blocks = Vec::new();
    loop {
        let p = h.allocate(64);
        if p == 0 || h.top_room() < 200 {
            break;
        }
        blocks.push(p);
    }
    let pages = h.source().pages();
    for &p in blocks.iter().take(16) {
        h.deallocate(p); // neighbours: cached, not merged
    }
    let s = valid(&h);
    assert_eq!(s.cached_blocks, 16);
    let big = h.allocate(16 * 64);
    assert!(big != 0 && big < blocks[16], "served by the merged cached blocks");
    assert_eq!(h.source().pages(), pages, "without growing memory");
    let s = valid(&h);
    assert_eq!(s.cached_blocks, 0);
}

/// Out of memory with blocks in the cache: they are given back first, and the request that
/// fits in them succeeds.
#[test]
fn out_of_memory_gives_the_cache_back_first() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 1);
    let mut blocks = Vec::new();
    loop {
        let p = h.allocate(200);
        if p == 0 {
            break;
        }
        blocks.push(p);
    }
    for &p in &blocks[..4] {
        h.deallocate(p);
    }
    assert_eq!(valid(&h).cached_blocks, 4);
    let p = h.allocate(600);
    assert_eq!(p, blocks[0], "the merged cached blocks serve it");
    valid(&h);
}

/// Everything freed and the cache given back: the heap is back to its bump pointer.
#[test]
fn flushing_the_cache_returns_everything_to_the_top() {
    let mut h = heap(1, 8);
    let blocks: Vec<u32> = (0..500).map(|i| h.allocate(1 + i % 300)).collect();
    for (i, &p) in blocks.iter().enumerate() {
        if i % 3 != 1 {
            h.deallocate(p);
        }
    }
    valid(&h);
    for (i, &p) in blocks.iter().enumerate() {
        if i % 3 == 1 {
            h.deallocate(p);
        }
    }
    h.flush_cache();
    let s = valid(&h);
    assert_eq!(
        (s.used_blocks, s.free_blocks, s.cached_blocks, s.top_room),
        (0, 0, 0, s.heap_bytes - 8)
    );
}

/// The checked build poisons a cached block's payload (after its link), and the walk catches
/// a write to it as a write to freed memory.
#[cfg(feature = "checked")]
#[test]
fn a_write_into_a_cached_block_is_caught() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 4);
    let a = h.allocate(64);
    let _guard = h.allocate(8);
    h.deallocate(a);
    valid(&h);
    bytes(&h, a, 64)[20] = 7;
    let err = h.validate().expect_err("a write to a cached block");
    assert_eq!(err.what, "freed (cached) memory was written");
}

/// A block growing in place at the top, across a page, above a cached block: the heap grows
/// (giving the cache back would not help the block grow, so it stays), and the growing block's
/// flags stay right. (Found by the model when growth gave the whole cache back: the block
/// below became free, and the growing block's `PREV_FREE` was taken from before the growth.)
#[test]
fn growing_in_place_at_the_top_above_a_cached_block() {
    let mut h = heap(1, 4);
    let a = h.allocate(1);
    h.deallocate(a); // cached, or given back to the top
    let b = h.allocate(9);
    fill(&h, b, 9, 4);
    let b2 = h.reallocate(b, 64_481); // across a page: the memory grows
    assert_eq!(b2, b);
    assert!(holds(&h, b, 9, 4));
    valid(&h);
    h.flush_cache();
    valid(&h);
}

/// A cached block whose payload is 16-aligned serves the next 16-aligned request of its size;
/// one whose payload is only 8-aligned does not.
#[test]
fn the_cache_serves_16_aligned_requests_with_16_aligned_blocks() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 4);
    // (A block placed after a gap has a free block before it, and goes to the heap when
    // freed: one placed 16-aligned between used blocks is cached.)
    let a = loop {
        let a = h.allocate(32);
        h.allocate(8); // a guard
        if a % 16 == 0 {
            break a;
        }
    };
    h.deallocate(a);
    assert_eq!(valid(&h).cached_blocks, 1);
    assert_eq!(h.allocate_aligned(32, 16), a, "from the cache");
    assert_eq!(valid(&h).cached_blocks, 0);
    // An 8-aligned-only block in the bin is left there.
    let b = loop {
        let b = h.allocate(32);
        h.allocate(8); // a guard: `b` is not freed back to the top
        if b % 16 == 8 {
            break b;
        }
    };
    h.deallocate(b);
    let c = h.allocate_aligned(32, 16);
    assert!(c != b && c % 16 == 0);
    assert_eq!(valid(&h).cached_blocks, 1, "the 8-aligned block stays cached");
    assert_eq!(h.allocate(32), b);
}

/// A small block placed over-aligned has its gap in front cached, not free: freed with its size
/// (`WallE`'s path), it is cached in turn, whether placed at the top or inside a free block,
/// and comes back aligned to the next request of its layout. A large block placed inside a free
/// block goes at its end, the front staying free.
#[test]
fn small_over_aligned_blocks_come_back_aligned_from_the_cache() {
    if P::CACHE_CAP == 0 {
        return;
    }
    for align in [16u32, 32, 64, 256] {
        let mut h = heap(1, 16);
        // At the top: the heap starts at 1024, so the first payload (1032) is not aligned and
        // a gap goes in front. (Under `ODD_SIZES` the first payload is 16-aligned, 1040: a
        // 16-byte block first puts the next one out of that phase.)
        if P::ODD_SIZES {
            h.allocate(16);
        }
        let p = h.allocate_aligned(32, align);
        assert!(p % align == 0 && p > 1032);
        h.deallocate_sized(p, 32);
        let stats = valid(&h);
        assert!(stats.cached_blocks >= 2, "the gap and the block cached ({align})");
        assert_eq!(stats.free_blocks, 0, "no free gap ({align})");
        assert_eq!(h.allocate_aligned(32, align), p, "the same block, aligned ({align})");
        // Inside a free block: a large block freed between used ones is the room.
        let big = h.allocate(4000);
        h.allocate(8); // a guard
        h.deallocate(big);
        h.flush_cache(); // (a medium block is cached)
        let q = h.allocate_aligned(40, align);
        assert!(q >= big && q < big + 4000 && q % align == 0, "{q} in the free block at {big}");
        h.deallocate_sized(q, 40);
        assert_eq!(h.allocate_aligned(40, align), q, "the same block, aligned ({align})");
        valid(&h);
        // A large block inside a free block: at its end, the front still free.
        h.deallocate(q);
        h.flush_cache();
        let free = valid(&h).free_blocks;
        let r = h.allocate_aligned(2000, align);
        assert!(r >= big && r + 2000 <= big + 4000 && r % align == 0);
        // (At 16 the tail past the block is 0 or 8 bytes, kept; above, it may be split off.)
        let after = valid(&h).free_blocks;
        assert!(after == free || (align > 16 && after == free + 1), "the front stays free");
        h.deallocate_sized(r, 2000);
        h.flush_cache();
        valid(&h);
    }
    // A gap of the block's own size is freed, not cached: unaligned, it would head the bin
    // the block's aligned requests look at.
    let mut h = heap(1, 16);
    if P::ODD_SIZES {
        h.allocate(16); // (as above)
    }
    let p = h.allocate_aligned(16, 16);
    assert!(p > 1040 && p % 16 == 0);
    let stats = valid(&h);
    assert_eq!((stats.free_blocks, stats.cached_blocks), (1, 0));
}

/// Before the heap grows for a request, cached blocks that cannot help stay cached: blocks too
/// small for it with no free or cached neighbour would only become free blocks as small. The
/// next growth for a request that one of them can serve gives that one back.
#[test]
fn isolated_cached_blocks_too_small_stay_cached_when_memory_grows() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 16);
    let holes: Vec<u32> = (0..100)
        .map(|_| {
            let p = h.allocate(24);
            h.allocate(8); // a guard: every hole is isolated
            p
        })
        .collect();
    for &p in &holes {
        h.deallocate(p);
    }
    let pages = h.source().pages();
    while h.source().pages() == pages {
        assert_ne!(h.allocate(1000), 0);
    }
    let s = valid(&h);
    assert_eq!(s.cached_blocks, 100, "the isolated holes stay cached");
    // Fill the room left, then ask for 8 bytes (no 8-byte block cached) when the heap would
    // grow: a hole, split, serves it instead.
    while h.top_room() >= 1000 + 8 {
        h.allocate(1000);
    }
    while h.top_room() >= 16 {
        h.allocate(8);
    }
    let pages = h.source().pages();
    let p = h.allocate(8);
    assert!(holes.contains(&p), "a cached hole serves it");
    assert_eq!(h.source().pages(), pages, "without growing");
    assert_eq!(valid(&h).cached_blocks, 99);
}

/// Before the heap grows, the walk of a bin for blocks that may merge stops after 64 blocks in
/// a row that may not (`ISOLATED_RUN`, cache.rs): a mergeable block cached under 10 isolated
/// holes is given back and merges; one under 100 stays cached, its bin's list intact, and the
/// user's `flush_cache` still gives it back.
#[test]
fn the_walk_before_growth_stops_after_a_run_of_isolated_cached_blocks() {
    if P::CACHE_CAP == 0 {
        return;
    }
    for (holes, given_back) in [(10, true), (100, false)] {
        let mut h = heap(1, 16);
        // `x` cached with the free block `y` after it: it may merge.
        let x = h.allocate(24);
        let y = h.allocate(20000); // above the medium bins: freed to the heap
        // (20,000 bytes, or 20,008 under `ODD_SIZES`.)
        let y_eff = effective(&h, y);
        h.allocate(8); // a guard: `y` is not below the top
        let isolated: Vec<u32> = (0..holes)
            .map(|_| {
                let p = h.allocate(24);
                h.allocate(8); // a guard: every hole is isolated
                p
            })
            .collect();
        h.deallocate(x);
        h.deallocate(y);
        for &p in &isolated {
            h.deallocate(p); // cached above `x` in its bin (LIFO)
        }
        let s = valid(&h);
        assert_eq!((s.cached_blocks, s.free_blocks), (holes + 1, 1));
        // Requests that fit nothing listed or cached, until memory grows.
        let pages = h.source().pages();
        while h.source().pages() == pages {
            assert_ne!(h.allocate(30000), 0);
        }
        let s = valid(&h);
        if given_back {
            assert_eq!(s.cached_blocks, holes, "x given back, merged with y");
            assert_eq!(s.largest_free, y_eff + 24 + 8);
        } else {
            assert_eq!(s.cached_blocks, holes + 1, "x not looked at: still cached");
            assert_eq!(s.largest_free, y_eff);
        }
        h.flush_cache();
        let s = valid(&h);
        assert_eq!(s.cached_blocks, 0);
        assert!(s.largest_free >= y_eff + 24 + 8, "merged by the user's flush");
    }
}

/// A request whose bin is empty takes a cached block from a bin above only within 125% of
/// its rounded size (I5), and the block keeps its effective size (its slack): freed again, it
/// goes back to its own bin.
#[test]
fn a_request_takes_a_cached_block_within_125_percent() {
    if P::CACHE_CAP == 0 {
        return;
    }
    let mut h = heap(1, 4);
    let a = h.allocate(40);
    let _guard = h.allocate(8);
    h.deallocate(a);
    assert_ne!(h.allocate(24), a, "40 bytes for 24: above 125%");
    valid(&h);
    assert_eq!(h.allocate(32), a, "40 bytes for 32: within 125%");
    assert_eq!((h.size(a), effective(&h, a)), (32, 40));
    h.deallocate_sized(a, 32);
    let s = valid(&h);
    assert_eq!((s.cached_blocks, s.cached_bytes), (1, 40), "cached with its slack");
    assert_eq!(h.allocate(40), a, "back in its own bin");
    valid(&h);
    // The same through `allocate_aligned` (`WallE::alloc`), whose look at the next bin is
    // inlined (`cache_pop_next`), and the sized free of a block with slack (out of line).
    h.deallocate_sized(a, 40);
    assert_ne!(h.allocate_aligned(24, 8), a, "40 bytes for 24: above 125%");
    valid(&h);
    assert_eq!(h.allocate_aligned(32, 8), a, "40 bytes for 32: the next bin");
    assert_eq!((h.size(a), effective(&h, a)), (32, 40));
    h.deallocate_sized(a, 32);
    let s = valid(&h);
    assert_eq!((s.cached_blocks, s.cached_bytes), (1, 40), "cached with its slack");
    assert_eq!(h.allocate_aligned(40, 8), a, "back in its own bin");
    valid(&h);
}

/// `deallocate_sized` (`WallE`'s free with its `Layout`): a block of the size given is cached
/// as by `deallocate`; a wrong size frees the block all the same (the header decides); a bad
/// pointer is ignored whatever the size, and a freed or cached block's own header words do not
/// make it a block again.
#[test]
fn deallocate_sized_frees_by_the_header_and_ignores_bad_pointers() {
    let mut h = heap(1, 4);
    let a = h.allocate(24);
    let b = h.allocate(100);
    let c = h.allocate(2000);
    let c_eff = effective(&h, c);
    let _guard = h.allocate(8);
    h.deallocate_sized(a, 24);
    h.deallocate_sized(b, 64); // wrong: still freed
    h.deallocate_sized(c, 2000); // a medium block: its bin, by the header
    for p in [a, b, c] {
        assert_eq!(h.size(p), 0, "{p:#x} freed");
    }
    let s = valid(&h);
    if P::MEDIUM_CAP != 0 {
        assert_eq!((s.cached_blocks, s.cached_bytes), (3, 24 + 104 + c_eff));
    } else if P::CACHE_CAP != 0 {
        assert_eq!((s.cached_blocks, s.cached_bytes), (2, 24 + 104));
    }
    let digest = h.shape_digest();
    for p in [a, b, c] {
        for size in [0, 1, 8, 24, 100, 104, 2000, u32::MAX] {
            h.deallocate_sized(p, size); // double free
        }
    }
    assert_eq!(h.shape_digest(), digest, "double frees ignored");
    let d = h.allocate(16);
    let digest_d = h.shape_digest();
    for p in [d + 1, d + 4, d + 8, d - 8, 0, 8, 1024, 1 << 20, u32::MAX - 7] {
        for size in [1, 8, 16, 24] {
            h.deallocate_sized(p, size);
        }
    }
    assert_eq!(h.shape_digest(), digest_d, "bad pointers ignored");
    assert_eq!(h.size(d), 16);
    h.deallocate_sized(d, 16);
    assert_eq!(h.size(d), 0);
    valid(&h);
}

/// A reallocation that moves with headroom never takes a cached block from a bin above: the
/// two slacks together would break the 125% rule (found by the shadow model).
#[test]
fn headroom_and_a_cached_block_from_above_never_add_up() {
    let mut h = heap(1, 4);
    let a = h.allocate(760);
    let _g1 = h.allocate(8);
    let b = h.allocate(420);
    let _g2 = h.allocate(8);
    h.deallocate(a);
    let q = h.reallocate(b, 511);
    assert_ne!(q, 0);
    let eff = effective(&h, q);
    assert!(eff <= 640, "{eff} bytes for 511");
    valid(&h);
}

/// `LARGE_OFF_EDGE` (`Fast`): a large block's payload starts at least `PAGE_EDGE` bytes from
/// a 4 KiB boundary, whatever its alignment up to `PAGE_EDGE`, at the top and in a listed
/// block; the gap in front is a free block that a small request takes, and it merges back
/// when the large block is freed. Under `Small`, blocks stay where they fall.
#[test]
fn large_blocks_start_off_the_page_edges() {
    let edge = |p: u32| {
        let at = p & 4095;
        !(wall_e::PAGE_EDGE..4096 - wall_e::PAGE_EDGE).contains(&at)
    };
    let mut h = heap(1, 256);
    let mut seen_on_edge = false;
    // Every start offset a request of 8 bytes can leave, for each alignment.
    for align in [8, 16, 64, 128, 256] {
        for pad in 0..(4096 / 8 + 2) {
            let small = h.allocate(pad * 8 + 1);
            let big = h.allocate_aligned(wall_e::LARGE_MIN + pad, align);
            assert_ne!(big, 0);
            assert_eq!(big % align, 0);
            fill(&h, big, wall_e::LARGE_MIN + pad, pad);
            if align <= wall_e::PAGE_EDGE {
                seen_on_edge |= edge(big);
            }
            valid(&h);
            let other = h.allocate(100);
            assert!(holds(&h, big, wall_e::LARGE_MIN + pad, pad));
            for p in [other, big, small] {
                free(&mut h, p);
            }
            valid(&h);
        }
    }
    // The sweep reaches the edges where nothing moves the blocks.
    assert_eq!(seen_on_edge, !P::LARGE_OFF_EDGE, "large blocks on a page edge");
    // A listed block (a hole between two used blocks) taken by an aligned large request (the
    // path of `WallE`'s 16-aligned ones) moves off the edge too; at every start offset.
    let mut seen_on_edge = false;
    for pad in 0..(4096 / 8 + 2) {
        let small = h.allocate(pad * 8 + 1);
        let a = h.allocate(3 * wall_e::LARGE_MIN);
        let guard = h.allocate(8);
        free(&mut h, a);
        let c = h.allocate_aligned(wall_e::LARGE_MIN, 16);
        assert!(c + 512 > a && c < a + 3 * wall_e::LARGE_MIN, "{c:#x} from the hole at {a:#x}");
        fill(&h, c, wall_e::LARGE_MIN, pad);
        if P::LARGE_OFF_EDGE {
            assert!(!edge(c), "{c:#x} in a listed block on a page edge");
        }
        seen_on_edge |= edge(c);
        valid(&h);
        // The gap in front (if any) serves a small request; freeing all leaves no free block.
        let s = h.allocate(8);
        assert!(holds(&h, c, wall_e::LARGE_MIN, pad));
        for p in [c, s, guard, small] {
            free(&mut h, p);
        }
        h.flush_cache();
        let stats = valid(&h);
        assert_eq!(stats.free_blocks, 0, "{stats:?}");
    }
    assert_eq!(seen_on_edge, !P::LARGE_OFF_EDGE, "large blocks on a page edge");
}

/// `reallocate_sized` (`WallE`'s realloc with its `Layout`): the block on top grows in place
/// (its contents kept, the heap valid), a block elsewhere or a wrong size takes the general
/// path with the same outcome, and bad pointers are refused as by `reallocate`.
#[test]
fn reallocate_sized_grows_the_top_block_in_place_and_refuses_bad_pointers() {
    let mut h = heap(1, 64);
    let mut p = h.allocate(16);
    fill(&h, p, 16, 3);
    let mut size = 16;
    while size < 1 << 20 {
        let q = h.reallocate_sized(p, size, size * 2, 8);
        assert_eq!(q, p, "the top block grows in place");
        size *= 2;
        assert_eq!(h.size(p), size);
        valid(&h);
        p = q;
    }
    assert!(holds(&h, p, 16, 3));
    // Not on top: moved by the general path, contents kept.
    let _guard = h.allocate(8);
    let q = h.reallocate_sized(p, size, size + 100_000, 8);
    assert_ne!(q, 0);
    assert_ne!(q, p);
    assert!(holds(&h, q, 16, 3));
    assert_eq!(h.size(p), 0);
    valid(&h);
    // A wrong old size: the header decides; the block on top still grows.
    let r = h.reallocate_sized(q, 5, size + 200_000, 8);
    assert_eq!(r, q);
    assert_eq!(h.size(r), size + 200_000);
    assert!(holds(&h, r, 16, 3));
    valid(&h);
    // Bad pointers: refused, nothing changes.
    let digest = h.shape_digest();
    for bad in [r + 1, r + 8, r - 8, r + 4096, 0x10, u32::MAX - 7] {
        for old in [0, 8, size + 200_000] {
            assert_eq!(h.reallocate_sized(bad, old, old + 64, 8), 0, "{bad:#x}");
        }
    }
    assert_eq!(h.shape_digest(), digest, "bad pointers ignored");
    // A freed block: refused.
    free(&mut h, r);
    assert_eq!(h.reallocate_sized(r, size + 200_000, size + 300_000, 8), 0);
    valid(&h);
}

// ---- The medium bins (cache.rs: 1-16 KiB, 16 an octave; policies with them only). ----

/// A medium block freed is cached (freed memory to every call, as a small one) and serves the
/// next request it holds within 125%, unsplit; not a request it would hold beyond 125%.
#[test]
fn a_medium_block_is_cached_and_serves_a_request_within_125_percent() {
    if P::MEDIUM_CAP == 0 {
        return;
    }
    let mut h = heap(1, 8);
    let _before = h.allocate(40);
    let a = h.allocate(3000);
    let b = h.allocate(3000);
    let _guard = h.allocate(40);
    fill(&h, b, 3000, 2);
    h.deallocate(a);
    let s = valid(&h);
    assert_eq!((s.cached_blocks, s.cached_bytes, s.free_blocks), (1, 3000, 0));
    assert_eq!(h.size(a), 0, "a cached block has no size");
    assert_eq!(h.locate(a), Place::Freed);
    h.deallocate(a); // double free: ignored
    assert_eq!(valid(&h), s);
    assert_ne!(h.allocate(2000), a, "3,000 bytes are beyond 125% of 2,000");
    assert_eq!(h.allocate(2900), a, "within 125%: the cached block, as it is");
    assert_eq!(h.size(a), 2900);
    assert_eq!(effective(&h, a), 3000, "not split");
    assert!(holds(&h, b, 3000, 2));
    valid(&h);
}

/// A medium bin holds at most `MEDIUM_CAP` blocks (the rest merge); a medium block after a
/// free one, or just below the top, goes to the heap.
#[test]
fn a_medium_bin_is_bounded_and_merges_what_it_does_not_take() {
    if P::MEDIUM_CAP == 0 {
        return;
    }
    let n = P::MEDIUM_CAP + 3;
    let mut h = heap(1, 64);
    let blocks: Vec<u32> = (0..n)
        .map(|_| {
            let p = h.allocate(1500);
            h.allocate(8); // a guard: no two freed blocks merge
            p
        })
        .collect();
    for &p in &blocks {
        h.deallocate(p);
    }
    let s = valid(&h);
    assert_eq!((s.cached_blocks, s.free_blocks), (P::MEDIUM_CAP, 3));
    // After a free block: merged, not cached.
    let mut h = heap(1, 64);
    let (x, y) = (h.allocate(40), h.allocate(2000));
    let _guard = h.allocate(8);
    free(&mut h, x);
    let before = valid(&h);
    let y_eff = effective(&h, y);
    h.deallocate(y);
    let after = valid(&h);
    assert_eq!(after.cached_blocks, before.cached_blocks, "not cached");
    assert_eq!(after.free_bytes, before.free_bytes + 8 + y_eff, "merged");
    // Just below the top: back to the bump pointer.
    let z = h.allocate(5000);
    let z_eff = effective(&h, z);
    let top_room = valid(&h).top_room;
    h.deallocate(z);
    let s = valid(&h);
    assert_eq!((s.cached_blocks, s.top_room), (after.cached_blocks, top_room + 8 + z_eff));
}

/// An over-aligned medium request takes a cached block whose payload is aligned.
#[test]
fn an_over_aligned_medium_request_takes_an_aligned_cached_block() {
    if P::MEDIUM_CAP == 0 {
        return;
    }
    let mut h = heap(1, 8);
    // The heap starts at 1,024: after a block of 1,264 bytes the next payload is at 2,304, a
    // multiple of 256 (a medium size is not rounded to a class). Under `ODD_SIZES` the first
    // payload is at 1,040 and sizes are odd multiples of 8: a block of 1,256 bytes.
    let _pad = h.allocate(if P::ODD_SIZES { 1256 } else { 1264 });
    let a = h.allocate(4000);
    assert_eq!(a % 256, 0);
    let _guard = h.allocate(8);
    h.deallocate_sized(a, 4000);
    assert_eq!(valid(&h).cached_blocks, 1);
    assert_eq!(h.allocate_aligned(3900, 256), a);
    valid(&h);
}

/// Medium blocks cached side by side are given back before memory grows: merged, they serve
/// a larger request without growth.
#[test]
fn cached_medium_blocks_merge_before_memory_grows() {
    if P::MEDIUM_CAP == 0 {
        return;
    }
    let mut h = heap(1, 8);
    let mut blocks = vec![h.allocate(2000)];
    while h.top_room() > 3000 {
        blocks.push(h.allocate(2000));
    }
    let pages = h.source().pages();
    for &p in blocks.iter().take(8) {
        h.deallocate(p);
    }
    assert_eq!(valid(&h).cached_blocks, 8);
    let big = h.allocate(12000);
    assert_eq!(big, blocks[0], "served by the merged cached blocks");
    assert_eq!(h.source().pages(), pages, "without growing memory");
    valid(&h);
    h.flush_cache();
    assert_eq!(valid(&h).cached_blocks, 0);
}

/// The block just below the top does not grow memory to grow in place while a cached block
/// could hold it: the cache goes back first, as before any growth (I8), and the block moves
/// to the fit (`make bench`'s string building grew memory at its top string while the medium
/// bins held freed strings' memory: 640 KiB-1 MiB of heap, 128 KiB with this). With no fit,
/// it grows in place.
#[test]
fn the_block_at_the_top_moves_to_a_cached_fit_before_memory_grows() {
    if P::MEDIUM_CAP == 0 {
        return;
    }
    let mut h = heap(1, 8);
    let c = h.allocate(3000);
    let _guard = h.allocate(40);
    while h.top_room() > 2200 {
        h.allocate(1000);
    }
    let s = h.allocate(1000);
    fill(&h, s, 1000, 7);
    h.deallocate(c);
    assert_eq!(valid(&h).cached_blocks, 1);
    let pages = h.source().pages();
    let q = h.reallocate(s, 2500);
    assert_eq!(q, c, "moved to the cached block's place");
    assert_eq!(h.source().pages(), pages, "without growing memory");
    assert!(holds(&h, q, 1000, 7));
    let s = valid(&h);
    assert_eq!(s.cached_blocks, 0);
    // Nothing cached or listed holds it: the block at the top grows in place.
    let t = h.allocate(1000);
    assert_eq!(h.reallocate(t, 60_000), t);
    assert!(h.source().pages() > pages);
    valid(&h);
}

/// The give-back before the block at the top grows memory may free the block before it (a
/// cached block merged with a free one): the block then grows in place with its `PREV_FREE`
/// flag as the heap now has it (the shadow model found the stale flag).
#[test]
fn the_block_at_the_top_grows_with_its_flag_after_the_give_back() {
    if P::MEDIUM_CAP == 0 {
        return;
    }
    let mut h = heap(1, 8);
    let _guard = h.allocate(40);
    while h.top_room() > 30_000 {
        h.allocate(1000);
    }
    let f = h.allocate(17_000); // above the medium bins: freed, it is listed
    let c = h.allocate(2000);
    let s = h.allocate(1000);
    fill(&h, s, 1000, 3);
    h.deallocate(c); // cached: its left neighbour is used
    h.deallocate(f); // free: `c` now has a free left neighbour
    assert_eq!(valid(&h).cached_blocks, 1);
    // 30,000 bytes: more than the top's room and than `f` and `c` merged.
    assert_eq!(h.reallocate(s, 30_000), s, "grown in place");
    assert!(holds(&h, s, 1000, 3));
    let v = valid(&h);
    assert_eq!((v.cached_blocks, v.free_blocks), (0, 1), "`c` merged with `f`");
}
