//! Integration tests of the real `wall-e.wasm` under wasmtime: the module's interface, the ABI
//! contract end to end, random operation sequences against a model, out of memory at every page
//! cap, memory grown by another module in between, and the checked build on every bad input.
//!
//! `pkg/wall-e.wasm` must be built first (`node scripts/build.mjs`, or `make build`); the stats and
//! checked variants (`target/wall-e-stats.wasm`, `target/wall-e-checked.wasm`) and the size-tuned
//! module (`pkg/wall-e.small.wasm`, and `target/wall-e-small-stats.wasm` with the heap walk) are
//! built by the tests themselves with `node scripts/build.mjs --features ...` / `--small` when
//! missing or older than src/.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::wasm::*;
use std::collections::BTreeMap;
use wasmtime::{ExternType, ValType};

/// `MAX_REQUEST` of the core: larger requests are refused before any arithmetic.
const MAX_REQUEST: u32 = u32::MAX - 2 * PAGE;

// --- the module's interface ---------------------------------------------------------------------

fn describe(ty: &ExternType) -> String {
    fn val(v: &ValType) -> &'static str {
        match v {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            _ => "other",
        }
    }
    match ty {
        ExternType::Func(f) => {
            let params: Vec<_> = f.params().map(|p| val(&p)).collect();
            let results: Vec<_> = f.results().map(|r| val(&r)).collect();
            format!("func({}) -> ({})", params.join(","), results.join(","))
        }
        ExternType::Memory(m) => format!(
            "memory(min {}, max {:?}, 64-bit {}, shared {})",
            m.minimum(),
            m.maximum(),
            m.is_64(),
            m.is_shared()
        ),
        ExternType::Global(_) => "global".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}

fn exports_of(variant: Variant) -> Vec<(String, String)> {
    let module = module(variant);
    let mut exports: Vec<_> = module
        .exports()
        .map(|e| (e.name().to_string(), describe(&e.ty())))
        .collect();
    exports.sort();
    exports
}

#[test]
fn interface_of_every_variant() {
    let memory = "memory(min 1, max None, 64-bit false, shared false)";
    let abi = [
        ("allocate", "func(i32) -> (i32)"),
        ("deallocate", "func(i32) -> ()"),
        ("memory", memory),
        ("reallocate", "func(i32,i32) -> (i32)"),
        ("size", "func(i32) -> (i32)"),
    ];
    let stats = [
        ("stat", "func(i32) -> (i32)"),
        ("validate", "func() -> (i32)"),
    ];
    let checked = [
        ("last_error", "func() -> (i32)"),
        ("last_error_at", "func() -> (i32)"),
        ("last_error_message", "func() -> (i32)"),
    ];
    let expect = |parts: &[&[(&str, &str)]]| {
        let mut all: Vec<(String, String)> = parts
            .iter()
            .flat_map(|p| p.iter())
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        all.sort();
        all
    };
    for (variant, want) in [
        (Variant::Default, expect(&[&abi])),
        (Variant::Stats, expect(&[&abi, &stats])),
        (Variant::Checked, expect(&[&abi, &stats, &checked])),
        (Variant::Small, expect(&[&abi])),
        (Variant::SmallStats, expect(&[&abi, &stats])),
    ] {
        let module = module(variant);
        assert_eq!(
            module.imports().count(),
            0,
            "{variant:?} imports nothing: {:?}",
            module
                .imports()
                .map(|i| i.name().to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(exports_of(variant), want, "exports of {variant:?}");
    }
}

#[test]
fn initial_memory_is_one_page_and_module_is_small() {
    let bytes = module_bytes(Variant::Default);
    // The speed-tuned module (4,825 bytes now): a guard against growth; the size-tuned one has
    // its own budget below.
    assert!(
        bytes.len() <= 5120,
        "pkg/wall-e.wasm is {} bytes, over 5 KiB",
        bytes.len()
    );
    for variant in Variant::ALL {
        let wall = Wall::new(variant);
        assert_eq!(wall.pages(), 1, "{variant:?} starts with one page");
    }
    // The first allocations fit in the initial page: no growth.
    for variant in [Variant::Stats, Variant::SmallStats] {
        let mut wall = Wall::new(variant);
        let p = wall.allocate(1000);
        assert_ne!(p, 0);
        assert_eq!(wall.pages(), 1, "a small first allocation needs no growth");
        let s = wall.stats();
        assert_eq!(s.regions, 1);
        assert_eq!(s.heap_bytes + heap_start(variant), PAGE);
    }
}

/// The size budget of the size-tuned module, `pkg/wall-e.small.wasm`: the goal, 1,024 bytes
/// (1,014 now, with rustc 1.95 and binaryen 108's `wasm-opt`).
const SMALL_BUDGET: usize = 1_024;

#[test]
fn small_module_is_within_its_budget() {
    let bytes = module_bytes(Variant::Small);
    assert!(
        bytes.len() <= SMALL_BUDGET,
        "pkg/wall-e.small.wasm is {} bytes, over its budget of {SMALL_BUDGET}",
        bytes.len()
    );
}

/// Where the heap starts (the first block's header) in a fresh instance of `variant`.
fn heap_start(variant: Variant) -> u32 {
    let mut wall = Wall::new(variant);
    let p = wall.allocate(8);
    assert_ne!(p, 0);
    p - 8
}

// --- the ABI contract ---------------------------------------------------------------------------

/// Checks the 125% rule for a block handed out for `size` bytes.
fn assert_effective(wall: &Wall, p: u32, size: u32, reallocated: bool) {
    let eff = wall.effective(p);
    let want = rounded(size);
    let ok = eff >= want && (eff * 4 <= want * 5 || (reallocated && eff <= want + 8));
    assert!(
        ok,
        "block {p:#x} for {size} bytes has effective size {eff} (rounded request {want})"
    );
}

fn abi_edge_cases(variant: Variant) {
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
fn abi_edge_cases_default_build() {
    abi_edge_cases(Variant::Default);
}

#[test]
fn abi_edge_cases_stats_build() {
    abi_edge_cases(Variant::Stats);
}

#[test]
fn abi_edge_cases_small_builds() {
    abi_edge_cases(Variant::Small);
    abi_edge_cases(Variant::SmallStats);
}

#[test]
fn huge_requests_fail_cleanly_under_a_cap() {
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
fn contents_survive_reallocate() {
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

// --- random sequences against a model -----------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Block {
    size: u32,
    seed: u32,
}

/// wall-e plus a model of what it should hold.
struct Run {
    wall: Wall,
    live: BTreeMap<u32, Block>,
    freed: Vec<u32>,
    seed: u32,
    /// Out of memory is allowed (under a cap).
    may_fail: bool,
    /// Check `validate()` and `stat` after each step (stats and checked builds).
    stats: bool,
    failures: u32,
    ops: u64,
}

impl Run {
    fn new(wall: Wall, may_fail: bool) -> Self {
        let stats = wall.variant.has_stats();
        Run {
            wall,
            live: BTreeMap::new(),
            freed: Vec::new(),
            seed: 1,
            may_fail,
            stats,
            failures: 0,
            ops: 0,
        }
    }

    fn used_bytes(&self) -> u32 {
        self.live.values().map(|b| b.size).sum()
    }

    /// Checks a block just handed out and records it, filled with a fresh pattern.
    fn adopt(&mut self, p: u32, size: u32, reallocated: bool) {
        let w = &self.wall;
        assert_eq!(p % 8, 0, "{p:#x} is not 8-aligned");
        assert!(p >= 16);
        assert_eq!(
            self.wall.read_u32(p - 8),
            size,
            "logical size in the header"
        );
        assert_effective(w, p, size, reallocated);
        let eff = w.effective(p);
        assert!(
            (p + eff) as u64 <= w.memory_bytes(),
            "block {p:#x}+{eff} beyond memory"
        );
        let (start, end) = (p - 8, p + eff);
        if let Some((&q, _)) = self.live.range(..p).next_back() {
            let q_end = q + w.effective(q);
            assert!(
                q_end <= start,
                "new block {p:#x} overlaps live {q:#x}..{q_end:#x}"
            );
        }
        if let Some((&q, _)) = self.live.range(p..).next() {
            assert!(
                end <= q - 8,
                "new block {p:#x}..{end:#x} overlaps live {q:#x}"
            );
        }
        self.seed += 1;
        let seed = self.seed;
        self.wall.fill(p, size, seed);
        self.live.insert(p, Block { size, seed });
        self.freed.retain(|&f| f != p);
    }

    fn verify(&self, p: u32) {
        let b = self.live[&p];
        if let Some(at) = self.wall.mismatch(p, b.size, b.seed) {
            panic!(
                "live block {p:#x} ({} bytes) corrupted at offset {at}",
                b.size
            );
        }
    }

    fn verify_all(&self) {
        for &p in self.live.keys() {
            self.verify(p);
        }
    }

    fn allocate(&mut self, size: u32) -> u32 {
        self.ops += 1;
        let p = self.wall.allocate(size);
        if size == 0 {
            assert_eq!(p, 0, "allocate(0)");
        } else if p == 0 {
            assert!(self.may_fail, "allocate({size}) failed without a cap");
            self.failures += 1;
        } else {
            assert!(!self.live.contains_key(&p), "{p:#x} handed out twice");
            self.adopt(p, size, false);
        }
        p
    }

    fn deallocate(&mut self, p: u32) {
        self.ops += 1;
        self.verify(p);
        self.wall.deallocate(p);
        self.live.remove(&p);
        self.freed.push(p);
        if self.wall.variant != Variant::Checked {
            assert_eq!(self.wall.size(p), 0, "size of freed {p:#x}");
        }
    }

    fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        self.ops += 1;
        self.verify(p);
        let old = self.live[&p];
        let q = self.wall.reallocate(p, size);
        if size == 0 {
            assert_eq!(q, 0, "reallocate(p, 0)");
            self.live.remove(&p);
            self.freed.push(p);
            if self.wall.variant != Variant::Checked {
                assert_eq!(self.wall.size(p), 0);
            }
        } else if q == 0 {
            assert!(
                self.may_fail,
                "reallocate({p:#x}, {size}) failed without a cap"
            );
            self.failures += 1;
            assert_eq!(
                self.wall.size(p),
                old.size,
                "failed reallocate keeps the size"
            );
            self.verify(p);
        } else {
            let keep = old.size.min(size);
            if let Some(at) = self.wall.mismatch(q, keep, old.seed) {
                panic!("reallocate({p:#x}, {size}) = {q:#x} lost byte {at} of {keep}");
            }
            self.live.remove(&p);
            if q != p {
                self.freed.push(p);
            }
            self.adopt(q, size, true);
        }
        q
    }

    /// A pointer the contract says must be ignored: nil, unaligned, beyond the heap, or freed
    /// (when its stale header does not look used).
    fn bad_pointer(&mut self, rng: &mut Rng) -> u32 {
        let end = self.wall.memory_bytes();
        loop {
            match rng.below(5) {
                0 => return 0,
                1 => {
                    if let Some((&p, _)) = self
                        .live
                        .iter()
                        .nth(rng.below(self.live.len().max(1) as u32) as usize)
                    {
                        return p + rng.range(1, 7);
                    }
                }
                2 => return (end - 8) as u32,
                3 => {
                    let beyond = end + 8 * rng.range(0, 100_000) as u64;
                    return beyond.min(0xFFFF_FFF8) as u32;
                }
                _ => {
                    if !self.freed.is_empty() {
                        let p = self.freed[rng.below(self.freed.len() as u32) as usize];
                        if !self.live.contains_key(&p) && !self.wall.looks_used(p) {
                            return p;
                        }
                    }
                }
            }
        }
    }

    fn bad_call(&mut self, rng: &mut Rng) {
        self.ops += 1;
        let p = self.bad_pointer(rng);
        match rng.below(3) {
            0 => self.wall.deallocate(p),
            1 => assert_eq!(self.wall.size(p), 0, "size({p:#x}) of a bad pointer"),
            _ if p != 0 => {
                let size = rng.size(1000);
                assert_eq!(
                    self.wall.reallocate(p, size),
                    0,
                    "reallocate({p:#x}, {size}) of a bad pointer"
                )
            }
            _ => self.wall.deallocate(0),
        }
    }

    fn random_live(&self, rng: &mut Rng) -> Option<u32> {
        if self.live.is_empty() {
            return None;
        }
        let i = rng.below(self.live.len() as u32) as usize;
        self.live.keys().nth(i).copied()
    }

    /// One random operation; sizes up to `max`, live set kept near `target` blocks.
    fn step(&mut self, rng: &mut Rng, max: u32, target: usize, bad: bool) {
        let roll = rng.below(100);
        let grow = self.live.len() < target;
        match (roll, self.random_live(rng)) {
            (0..=2, _) if bad => self.bad_call(rng),
            (3, _) => {
                self.allocate(0);
            }
            (4..=6, Some(p)) => {
                let size = self.live[&p].size;
                assert_eq!(self.wall.size(p), size, "size({p:#x})");
                self.ops += 1;
            }
            (7..=26, Some(p)) => {
                let size = if rng.chance(5) { 0 } else { rng.size(max) };
                self.reallocate(p, size);
            }
            (27..=62, Some(p)) if !grow => self.deallocate(p),
            _ => {
                let size = rng.size(max);
                self.allocate(size);
            }
        }
        if self.stats {
            self.assert_model("step");
        }
    }

    fn assert_model(&mut self, context: &str) {
        self.wall.assert_valid(context);
        assert_eq!(
            self.wall.stat(2) as usize,
            self.live.len(),
            "used blocks ({context})"
        );
        assert_eq!(
            self.wall.stat(1),
            self.used_bytes(),
            "used bytes ({context})"
        );
    }

    fn free_all(&mut self) {
        let all: Vec<u32> = self.live.keys().copied().collect();
        for p in all {
            self.deallocate(p);
        }
        if self.stats {
            self.assert_model("all freed");
        }
    }
}

fn random_sequences(variant: Variant, seeds: u64, steps: usize) -> u64 {
    let mut ops = 0;
    for seed in 0..seeds {
        let mut rng = Rng::new(seed);
        let mut run = Run::new(Wall::new(variant), false);
        let max = [64, 1024, 65536][seed as usize % 3];
        let target = [8, 64, 300][(seed as usize / 3) % 3];
        // Bad pointers make the checked build trap: they have tests of their own.
        let bad = variant != Variant::Checked;
        for i in 0..steps {
            run.step(&mut rng, max, target, bad);
            if i % 97 == 0 {
                run.verify_all();
            }
        }
        run.verify_all();
        run.free_all();
        if run.stats {
            let s = run.wall.stats();
            assert_eq!((s.used_blocks, s.free_blocks), (0, 0), "seed {seed}");
            assert_eq!(s.top_room + 8, s.heap_bytes, "seed {seed}: all memory back");
        }
        ops += run.ops;
    }
    ops
}

#[test]
fn random_sequences_stats_build() {
    let ops = random_sequences(Variant::Stats, 48, 1500);
    eprintln!("stats build: {ops} operations checked against the model");
}

#[test]
fn random_sequences_default_build() {
    let ops = random_sequences(Variant::Default, 24, 3000);
    eprintln!("default build: {ops} operations checked against the model");
}

#[test]
fn random_sequences_small_builds() {
    let ops = random_sequences(Variant::Small, 24, 3000);
    eprintln!("small build: {ops} operations checked against the model");
    let ops = random_sequences(Variant::SmallStats, 24, 1500);
    eprintln!("small stats build: {ops} operations checked against the model");
}

#[test]
fn random_sequences_checked_build_never_trap() {
    let ops = random_sequences(Variant::Checked, 9, 800);
    eprintln!("checked build: {ops} operations without a trap");
}

// --- out of memory ------------------------------------------------------------------------------

#[test]
fn out_of_memory_under_a_cap_then_recovery() {
    for variant in [Variant::Stats, Variant::SmallStats] {
        out_of_memory_then_recovery(variant);
    }
}

fn out_of_memory_then_recovery(variant: Variant) {
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

/// Frees nothing; checks the heap accounting says every byte is back: one free block per old
/// region (up to 8 bytes kept by a marker), the rest above the bump pointer.
fn assert_all_recovered(wall: &mut Wall, context: &str) -> Stats {
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
fn oom_at_cap(variant: Variant, cap: u32, start: u32) -> u32 {
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
    assert!(run.wall.pages() <= cap as u64);
    let failures = run.failures;
    assert!(
        failures > 0,
        "cap {cap}: the workload never ran out of memory"
    );
    run.free_all();
    let s = assert_all_recovered(&mut run.wall, &format!("cap {cap}"));
    assert_eq!(s.regions, 1);
    let wall = &mut run.wall;
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
fn out_of_memory_at_every_cap() {
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
fn out_of_memory_at_every_cap_small_build() {
    let start = heap_start(Variant::Small);
    for cap in 1..=32u32 {
        let mut run = Run::new(Wall::capped(Variant::Small, Some(cap)), true);
        let mut rng = Rng::new(cap as u64 * 7919);
        let target = 16 * cap as usize + 16;
        for i in 0..2 * target + 200 {
            run.step(&mut rng, 65536, target, i % 3 == 0);
        }
        run.verify_all();
        assert!(run.wall.pages() <= cap as u64);
        assert!(run.failures > 0, "cap {cap}: never ran out of memory");
        run.free_all();
        let wall = &mut run.wall;
        let capacity = cap * PAGE - start - 16;
        assert_eq!(wall.allocate(capacity + 8), 0, "cap {cap}: over capacity");
        let p = wall.allocate(capacity);
        assert_ne!(p, 0, "cap {cap}: the whole capacity in one block");
        assert_eq!(wall.allocate(1), 0, "cap {cap}: nothing left");
        wall.deallocate(p);
    }
}

// --- memory grown by another module -------------------------------------------------------------

#[test]
fn memory_grown_by_another_module_in_between() {
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
        let mut grower = Grower::new(&mut run.wall);
        run.allocate(100);
        for i in 0..600 {
            if rng.chance(4) {
                let pages = rng.range(1, 3);
                let byte = rng.range(0, 255) as u8;
                grower
                    .grow(&mut run.wall, pages, byte)
                    .expect("uncapped growth");
            }
            run.step(&mut rng, 40_000, 60, bad && i % 4 == 0);
            if i % 50 == 0 {
                grower.assert_intact(&mut run.wall);
                run.verify_all();
            }
        }
        grower.assert_intact(&mut run.wall);
        run.verify_all();
        if !variant.has_stats() {
            run.free_all();
            grower.assert_intact(&mut run.wall);
            continue;
        }
        let regions = run.wall.stat(7);
        if variant == Variant::SmallStats {
            // Its workload differs with the classes: a seed may peak before the first growth
            // by the other module. Some must not.
            small_regions = small_regions.max(regions);
        } else {
            assert!(regions > 1, "seed {seed}: {regions} regions");
        }
        run.free_all();
        grower.assert_intact(&mut run.wall);
        let s = assert_all_recovered(&mut run.wall, &format!("seed {seed}"));
        // The current region is usable whole, without growth.
        let pages = run.wall.pages();
        let p = run.wall.allocate(s.top_room - 8);
        assert_ne!(p, 0);
        assert_eq!(run.wall.pages(), pages);
        run.wall.deallocate(p);
        grower.assert_intact(&mut run.wall);
        assert_all_recovered(&mut run.wall, "again");
    }
    assert!(
        small_regions > 1,
        "the small build never opened a second region"
    );
}

#[test]
fn memory_grown_by_another_module_under_caps() {
    let mut failures = 0;
    let mut max_regions = 0;
    for (variant, cap) in (2..=40)
        .map(|cap| (Variant::Stats, cap))
        .chain((2..=40).map(|cap| (Variant::SmallStats, cap)))
    {
        let mut rng = Rng::new(cap as u64);
        let mut run = Run::new(Wall::capped(variant, Some(cap)), true);
        let mut grower = Grower::new(&mut run.wall);
        for i in 0..250 {
            if rng.chance(5) {
                let byte = rng.range(0, 255) as u8;
                let _ = grower.grow(&mut run.wall, rng.range(1, 2), byte);
            }
            run.step(&mut rng, 65536, 30, i % 3 == 0);
            if i % 50 == 0 {
                grower.assert_intact(&mut run.wall);
                run.verify_all();
            }
        }
        grower.assert_intact(&mut run.wall);
        run.verify_all();
        assert!(run.wall.pages() <= cap as u64);
        failures += run.failures;
        max_regions = max_regions.max(run.wall.stat(7));
        run.free_all();
        grower.assert_intact(&mut run.wall);
        assert_all_recovered(&mut run.wall, &format!("cap {cap}"));
    }
    assert!(failures > 100, "{failures} failures");
    assert!(max_regions > 2, "{max_regions} regions at most");
}

/// Memory another module grows before wall-e's first call is not wall-e's: its initial memory
/// is the module's own initial page(s) only.
#[test]
fn memory_grown_before_the_first_call_is_left_alone() {
    for variant in [Variant::Stats, Variant::SmallStats] {
        grown_before_the_first_call(variant);
    }
}

fn grown_before_the_first_call(variant: Variant) {
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
fn at_the_top_of_4_gib(variant: Variant) {
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
fn allocations_at_the_top_of_a_4_gib_memory() {
    for variant in Variant::ALL {
        at_the_top_of_4_gib(variant);
    }
}

// --- bad inputs ---------------------------------------------------------------------------------

/// Ways to break the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    DoubleFree,
    DoubleFreeOfTopBlock,
    ReallocateFreed,
    SizeOfFreed,
    Interior,
    InteriorUnaligned,
    BelowTheHeap,
    BeyondTheHeap,
    BeyondMemory,
    InForeignPages,
    WritePastEnd,
    WritePastEndIntoFlags,
    WriteIntoFreed,
    WriteIntoFreedLink,
}

/// What a call on a bad input should report in the checked build: `(last_error, message)`.
fn expected(bad: Bad) -> (u32, &'static str) {
    match bad {
        Bad::DoubleFree | Bad::ReallocateFreed | Bad::SizeOfFreed => (1, "pointer already freed"),
        Bad::DoubleFreeOfTopBlock => (1, "pointer already freed"),
        Bad::Interior | Bad::InteriorUnaligned => (2, "pointer into the middle of a block"),
        Bad::BelowTheHeap | Bad::BeyondTheHeap | Bad::BeyondMemory | Bad::InForeignPages => {
            (3, "pointer not from this heap")
        }
        Bad::WritePastEnd
        | Bad::WritePastEndIntoFlags
        | Bad::WriteIntoFreed
        | Bad::WriteIntoFreedLink => (4, ""),
    }
}

/// A heap with a few live blocks (filled with `0xFF`: their words look free to the cheap check),
/// some pages grown by another module and a freed block in the middle.
struct Scene {
    wall: Wall,
    grower: Grower,
    a: u32,
    freed: u32,
    c: u32,
    top_block: u32,
    foreign: u32,
}

fn scene(variant: Variant) -> Scene {
    let mut wall = Wall::new(variant);
    let mut grower = Grower::new(&mut wall);
    let a = wall.allocate(64);
    let freed = wall.allocate(48);
    let c = wall.allocate(24);
    // A big block makes wall-e grow; then another module grows, then wall-e again: a new region.
    let big = wall.allocate(70_000);
    let foreign = grower.grow(&mut wall, 1, 0xAB).unwrap() * PAGE + 4096;
    let top_block = wall.allocate(60_000);
    for (p, n) in [
        (a, 64),
        (freed, 48),
        (c, 24),
        (big, 70_000),
        (top_block, 60_000),
    ] {
        wall.bytes_mut(p, n).fill(0xFF);
    }
    wall.deallocate(freed);
    if variant.has_stats() {
        wall.assert_valid("scene");
        assert_eq!(wall.stat(7), 2, "two regions");
    }
    Scene {
        wall,
        grower,
        a,
        freed,
        c,
        top_block,
        foreign,
    }
}

/// Performs the bad input; `Err` is the trap.
fn commit(s: &mut Scene, bad: Bad) -> wasmtime::Result<u32> {
    let w = &mut s.wall;
    match bad {
        Bad::DoubleFree => w.try_deallocate(s.freed).map(|_| 0),
        Bad::DoubleFreeOfTopBlock => {
            w.deallocate(s.top_block);
            w.try_deallocate(s.top_block).map(|_| 0)
        }
        Bad::ReallocateFreed => w.try_reallocate(s.freed, 100),
        Bad::SizeOfFreed => w.try_size(s.freed),
        Bad::Interior => w.try_deallocate(s.a + 16).map(|_| 0),
        Bad::InteriorUnaligned => w.try_size(s.a + 4),
        Bad::BelowTheHeap => w.try_deallocate(1024).map(|_| 0),
        Bad::BeyondTheHeap => {
            let end = w.memory_bytes() as u32;
            w.try_size(end - 8)
        }
        Bad::BeyondMemory => w.try_reallocate(0xFFFF_FFF8, 8),
        Bad::InForeignPages => w.try_deallocate(s.foreign).map(|_| 0),
        Bad::WritePastEnd => {
            // One byte past `c`'s effective size: the low byte of the next (used) block's
            // logical size, which then exceeds its effective size.
            let eff = w.effective(s.c);
            w.bytes_mut(s.c + eff, 1)[0] = 0x7F;
            w.try_allocate(8)
        }
        Bad::WritePastEndIntoFlags => {
            // Five bytes past `c`'s end: the next block's effective size grows by 8.
            let eff = w.effective(s.c);
            let word = w.read_u32(s.c + eff + 4);
            w.write_u32(s.c + eff + 4, word + 8);
            w.try_deallocate(s.a).map(|_| 0)
        }
        Bad::WriteIntoFreed => {
            // Into the poisoned part of a freed payload.
            w.bytes_mut(s.freed + 8, 1)[0] = 0x42;
            w.try_size(s.c)
        }
        Bad::WriteIntoFreedLink => {
            // Use after free: the first payload word of a freed block (its list link).
            w.write_u32(s.freed, 0x1234_5678);
            w.try_reallocate(s.a, 100)
        }
    }
}

const ALL_BAD: [Bad; 14] = [
    Bad::DoubleFree,
    Bad::DoubleFreeOfTopBlock,
    Bad::ReallocateFreed,
    Bad::SizeOfFreed,
    Bad::Interior,
    Bad::InteriorUnaligned,
    Bad::BelowTheHeap,
    Bad::BeyondTheHeap,
    Bad::BeyondMemory,
    Bad::InForeignPages,
    Bad::WritePastEnd,
    Bad::WritePastEndIntoFlags,
    Bad::WriteIntoFreed,
    Bad::WriteIntoFreedLink,
];

#[test]
fn checked_build_traps_on_every_bad_input() {
    let mut wrong = Vec::new();
    for bad in ALL_BAD {
        let mut s = scene(Variant::Checked);
        assert_eq!(s.wall.failure().code, 0, "no error before");
        let result = commit(&mut s, bad);
        let Err(e) = result else {
            panic!("{bad:?}: the checked build did not trap ({result:?})");
        };
        assert!(is_unreachable(&e), "{bad:?}: trap {e:?}");
        let f = s.wall.failure();
        let (code, message) = expected(bad);
        eprintln!(
            "{bad:?}: last_error {} at {:#x}: {:?}",
            f.code, f.at, f.message
        );
        if f.code != code || (!message.is_empty() && f.message != message) || f.message.is_empty() {
            wrong.push(format!("{bad:?}: got {f:?}, want code {code} {message:?}"));
        }
        if code == 4 {
            // The heap stays corrupt: every later call traps too.
            assert!(s.wall.try_allocate(8).is_err(), "{bad:?}: allocate");
            assert!(s.wall.try_deallocate(0).is_err(), "{bad:?}: deallocate(0)");
            assert!(s.wall.try_size(s.c).is_err(), "{bad:?}: size");
            assert!(
                s.wall.try_reallocate(s.c, 8).is_err(),
                "{bad:?}: reallocate"
            );
            assert_eq!(s.wall.failure().code, 4);
            assert_ne!(s.wall.validate(), 0, "validate() reports the corruption");
        } else {
            // The heap is untouched: good calls still work.
            s.wall.assert_valid("after a refused call");
            assert_eq!(s.wall.size(s.c), 24);
            s.grower.assert_intact(&mut s.wall);
        }
    }
    assert!(wrong.is_empty(), "wrong diagnoses:\n{}", wrong.join("\n"));
}

/// The checked build diagnoses a double free of the block just below the bump pointer (given
/// back to it when freed) as a freed pointer.
#[test]
fn checked_build_double_free_of_the_topmost_block() {
    let mut wall = Wall::new(Variant::Checked);
    let p = wall.allocate(16);
    wall.deallocate(p);
    assert!(wall.try_deallocate(p).is_err());
    let f = wall.failure();
    assert_eq!(
        (f.code, f.message.as_str()),
        (1, "pointer already freed"),
        "{f:?}"
    );
}

/// The default build ignores the bad inputs the contract covers; the stats build (same core)
/// shows the heap is still valid and unchanged.
#[test]
fn default_build_ignores_bad_pointers() {
    let covered = [
        Bad::DoubleFree,
        Bad::DoubleFreeOfTopBlock,
        Bad::ReallocateFreed,
        Bad::SizeOfFreed,
        // Their blocks are filled with 0xFF, so the word before looks free: the cheap check sees it.
        Bad::Interior,
        Bad::InteriorUnaligned,
        Bad::BelowTheHeap,
        Bad::BeyondTheHeap,
        Bad::BeyondMemory,
        // The other module's pages hold 0xAB: the word before looks free.
        Bad::InForeignPages,
    ];
    for variant in [
        Variant::Default,
        Variant::Stats,
        Variant::Small,
        Variant::SmallStats,
    ] {
        for bad in covered {
            let mut s = scene(variant);
            let before = variant.has_stats().then(|| {
                if bad == Bad::DoubleFreeOfTopBlock {
                    None
                } else {
                    Some(s.wall.stats())
                }
            });
            let result = commit(&mut s, bad);
            let value = result.unwrap_or_else(|e| panic!("{variant:?} {bad:?} trapped: {e:?}"));
            assert_eq!(value, 0, "{variant:?} {bad:?} returns 0");
            assert_eq!(s.wall.size(s.a), 64);
            assert_eq!(s.wall.size(s.c), 24);
            assert!(s.wall.bytes(s.a, 64).iter().all(|&b| b == 0xFF));
            s.grower.assert_intact(&mut s.wall);
            if let Some(before) = before {
                s.wall.assert_valid(&format!("{bad:?}"));
                if let Some(before) = before {
                    assert_eq!(s.wall.stats(), before, "{bad:?} changed the heap");
                }
            }
            // Still fully working.
            let p = s.wall.allocate(48);
            assert_ne!(p, 0);
            s.wall.deallocate(p);
        }
    }
}
