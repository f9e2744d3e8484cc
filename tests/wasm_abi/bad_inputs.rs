//! Bad inputs: the checked build traps on each with its reason; the default build ignores them.

use super::*;

/// Ways to break the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
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
pub(crate) fn expected(bad: Bad) -> (u32, &'static str) {
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
pub(crate) struct Scene {
    wall: Wall,
    grower: Grower,
    a: u32,
    freed: u32,
    c: u32,
    top_block: u32,
    foreign: u32,
}

pub(crate) fn scene(variant: Variant) -> Scene {
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
pub(crate) fn commit(s: &mut Scene, bad: Bad) -> wasmtime::Result<u32> {
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

pub(crate) const ALL_BAD: [Bad; 14] = [
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
pub(crate) fn checked_build_traps_on_every_bad_input() {
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
pub(crate) fn checked_build_double_free_of_the_topmost_block() {
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
pub(crate) fn default_build_ignores_bad_pointers() {
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
