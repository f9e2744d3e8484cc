//! Random operation sequences through the exports against the shared shadow model
//! (`tests/shadow/mod.rs`) of what the heap should hold.

use super::*;
use common::shadow::Shadow;

/// wall-e under the shadow model, with the random steps of these tests.
pub(crate) struct Run {
    pub(crate) m: Shadow<Wall>,
    /// Walk the heap (`validate()` and `stat`) after each step (stats and checked builds).
    pub(crate) stats: bool,
}

impl Run {
    /// `may_fail`: out of memory is allowed (under a cap).
    pub(crate) fn new(wall: Wall, may_fail: bool) -> Self {
        let stats = wall.variant.has_stats();
        // The module's heap starts above its stack and statics: at least 16.
        Run {
            m: Shadow::new(wall, 8, may_fail),
            stats,
        }
    }

    pub(crate) fn wall(&mut self) -> &mut Wall {
        &mut self.m.target
    }

    pub(crate) fn failures(&self) -> u32 {
        self.m.failures
    }

    pub(crate) fn ops(&self) -> u64 {
        self.m.ops
    }

    /// Every live block whole, and the walk where the module has one.
    pub(crate) fn verify_all(&mut self) {
        self.m.full_check();
    }

    pub(crate) fn allocate(&mut self, size: u32) -> u32 {
        self.m.allocate(size, 0, false)
    }

    /// A pointer the contract says must be ignored: nil, unaligned, beyond the heap, or freed
    /// (when its stale header does not look used; the model also skips it when a live block
    /// holds its header).
    pub(crate) fn bad_pointer(&mut self, rng: &mut Rng) -> u32 {
        let end = self.m.target.memory_bytes();
        loop {
            match rng.below(5) {
                0 => return 0,
                1 => {
                    let len = self.m.len();
                    if let Some(p) = self.m.nth_by_address(rng.below(len.max(1) as u32) as usize) {
                        return p + rng.range(1, 7);
                    }
                }
                2 => return (end - 8) as u32,
                3 => {
                    let beyond = end + 8 * rng.range(0, 100_000) as u64;
                    return beyond.min(0xFFFF_FFF8) as u32;
                }
                _ => {
                    if !self.m.freed.is_empty() {
                        let p = self.m.freed[rng.below(self.m.freed.len() as u32) as usize];
                        if self.m.block(p).is_none() && !self.m.target.looks_used(p) {
                            return p;
                        }
                    }
                }
            }
        }
    }

    /// `size`, `reallocate` and `deallocate` of a bad pointer: ignored, the heap unchanged.
    pub(crate) fn bad_call(&mut self, rng: &mut Rng) {
        let p = self.bad_pointer(rng);
        let size = rng.size(1000);
        self.m.bad_pointer(p, size, &"bad pointer");
    }

    /// One random operation; sizes up to `max`, live set kept near `target` blocks.
    pub(crate) fn step(&mut self, rng: &mut Rng, max: u32, target: usize, bad: bool) {
        let roll = rng.below(100);
        let grow = self.m.len() < target;
        let len = self.m.len();
        let live = (len > 0)
            .then(|| self.m.nth_by_address(rng.below(len as u32) as usize))
            .flatten();
        match (roll, live) {
            (0..=2, _) if bad => self.bad_call(rng),
            (3, _) => {
                self.allocate(0);
            }
            (4..=6, Some(p)) => self.m.check_size(p),
            (7..=26, Some(p)) => {
                let size = if rng.chance(5) { 0 } else { rng.size(max) };
                self.m.reallocate(p, size, false);
            }
            (27..=62, Some(p)) if !grow => self.m.deallocate(p),
            _ => {
                let size = rng.size(max);
                self.allocate(size);
            }
        }
        self.m.after_step();
        if self.stats {
            self.m.walk("step");
        }
    }

    /// Frees every block, checking each and the whole heap after.
    pub(crate) fn free_all(&mut self) {
        self.m.free_all();
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
            let s = run.wall().stats();
            assert_eq!((s.used_blocks, s.free_blocks), (0, 0), "seed {seed}");
            assert_eq!(s.top_room + 8, s.heap_bytes, "seed {seed}: all memory back");
        }
        ops += run.ops();
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
