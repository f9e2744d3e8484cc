//! Random operation sequences through the exports against a model of what the heap should hold.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    size: u32,
    seed: u32,
}

/// wall-e plus a model of what it should hold.
pub(crate) struct Run {
    pub(crate) wall: Wall,
    pub(crate) live: BTreeMap<u32, Block>,
    pub(crate) freed: Vec<u32>,
    pub(crate) seed: u32,
    /// Out of memory is allowed (under a cap).
    pub(crate) may_fail: bool,
    /// Check `validate()` and `stat` after each step (stats and checked builds).
    pub(crate) stats: bool,
    pub(crate) failures: u32,
    pub(crate) ops: u64,
}

impl Run {
    pub(crate) fn new(wall: Wall, may_fail: bool) -> Self {
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

    pub(crate) fn used_bytes(&self) -> u32 {
        self.live.values().map(|b| b.size).sum()
    }

    /// Checks a block just handed out and records it, filled with a fresh pattern.
    pub(crate) fn adopt(&mut self, p: u32, size: u32, reallocated: bool) {
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

    pub(crate) fn verify(&self, p: u32) {
        let b = self.live[&p];
        if let Some(at) = self.wall.mismatch(p, b.size, b.seed) {
            panic!(
                "live block {p:#x} ({} bytes) corrupted at offset {at}",
                b.size
            );
        }
    }

    pub(crate) fn verify_all(&self) {
        for &p in self.live.keys() {
            self.verify(p);
        }
    }

    pub(crate) fn allocate(&mut self, size: u32) -> u32 {
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

    pub(crate) fn deallocate(&mut self, p: u32) {
        self.ops += 1;
        self.verify(p);
        self.wall.deallocate(p);
        self.live.remove(&p);
        self.freed.push(p);
        if self.wall.variant != Variant::Checked {
            assert_eq!(self.wall.size(p), 0, "size of freed {p:#x}");
        }
    }

    pub(crate) fn reallocate(&mut self, p: u32, size: u32) -> u32 {
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
    pub(crate) fn bad_pointer(&mut self, rng: &mut Rng) -> u32 {
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

    pub(crate) fn bad_call(&mut self, rng: &mut Rng) {
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

    pub(crate) fn random_live(&self, rng: &mut Rng) -> Option<u32> {
        if self.live.is_empty() {
            return None;
        }
        let i = rng.below(self.live.len() as u32) as usize;
        self.live.keys().nth(i).copied()
    }

    /// One random operation; sizes up to `max`, live set kept near `target` blocks.
    pub(crate) fn step(&mut self, rng: &mut Rng, max: u32, target: usize, bad: bool) {
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

    pub(crate) fn assert_model(&mut self, context: &str) {
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

    pub(crate) fn free_all(&mut self) {
        let all: Vec<u32> = self.live.keys().copied().collect();
        for p in all {
            self.deallocate(p);
        }
        if self.stats {
            self.assert_model("all freed");
        }
    }
}

pub(crate) fn random_sequences(variant: Variant, seeds: u64, steps: usize) -> u64 {
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
pub(crate) fn random_sequences_stats_build() {
    let ops = random_sequences(Variant::Stats, 48, 1500);
    eprintln!("stats build: {ops} operations checked against the model");
}

#[test]
pub(crate) fn random_sequences_default_build() {
    let ops = random_sequences(Variant::Default, 24, 3000);
    eprintln!("default build: {ops} operations checked against the model");
}

#[test]
pub(crate) fn random_sequences_small_builds() {
    let ops = random_sequences(Variant::Small, 24, 3000);
    eprintln!("small build: {ops} operations checked against the model");
    let ops = random_sequences(Variant::SmallStats, 24, 1500);
    eprintln!("small stats build: {ops} operations checked against the model");
}

#[test]
pub(crate) fn random_sequences_checked_build_never_trap() {
    let ops = random_sequences(Variant::Checked, 9, 800);
    eprintln!("checked build: {ops} operations without a trap");
}
