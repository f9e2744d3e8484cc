//! What every dependent crate does with its global allocator: collections allocated, grown,
//! shrunk and freed in a mixed order, every byte checked against a pattern unique to its block,
//! and zeroed allocations checked to be zero after the memory under them was dirtied. Any
//! mismatch panics (a trap on wasm), so a run that returns proves the data stayed intact.
#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write as _;

/// The byte at `i` of block `id`: different blocks, different bytes.
fn pattern(id: u32, i: usize) -> u8 {
    (id.wrapping_mul(31) as usize ^ i.wrapping_mul(7)) as u8 | 1
}

fn filled(id: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern(id, i)).collect()
}

fn check(id: u32, block: &[u8]) {
    for (i, &b) in block.iter().enumerate() {
        assert_eq!(b, pattern(id, i), "block {id} changed at byte {i}");
    }
}

/// Runs `rounds` rounds of mixed work; returns a checksum of what it built (the same for every
/// allocator).
pub fn exercise(rounds: u32) -> u64 {
    let mut sum = 0u64;
    for round in 0..rounds {
        // 64 live blocks of many sizes, some freed and replaced, some grown in place or moved.
        let mut live: Vec<(u32, Vec<u8>)> = (0..64)
            .map(|k| {
                let id = round * 1000 + k;
                (id, filled(id, 1 + (k as usize * 97) % 3000))
            })
            .collect();
        for k in (0..64).step_by(3) {
            let id = round * 1000 + 500 + k as u32;
            live[k] = (id, filled(id, 5 + (k * 13) % 700));
        }
        for (id, block) in live.iter_mut().step_by(2) {
            check(*id, block);
            let more = block.len() * 2 + 17;
            block.extend((block.len()..more).map(|i| pattern(*id, i)));
            block.truncate(more - 9);
            block.shrink_to_fit();
        }
        // Zeroed memory after dirty memory: free 0xFF-filled blocks, then ask for zeroed ones
        // of the same sizes (they may land on the same bytes).
        for len in [24usize, 4000, 70_000] {
            drop(vec![0xFFu8; len]);
            let zeroed = vec![0u8; len];
            assert!(zeroed.iter().all(|&b| b == 0), "vec![0; {len}] is not zero");
        }
        // Maps, strings and boxes.
        let mut map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for i in 0..300u32 {
            let mut key = String::new();
            let _ = write!(key, "key-{}", (i * 7919) % 1000);
            map.entry(key).or_default().push(i);
        }
        let boxes: Vec<Box<[u64; 4]>> = (0..200).map(|i| Box::new([i; 4])).collect();
        sum += boxes.iter().map(|b| b[3]).sum::<u64>();
        sum += map.values().map(|v| v.len() as u64).sum::<u64>();
        for (id, block) in &live {
            check(*id, block);
            sum += block.len() as u64;
        }
    }
    sum
}

/// Recurses `depth` times with a 1 KiB frame; returns a checksum (so that the frames are real).
/// With a 4 KiB shadow stack, a depth of 16 already runs off its end.
#[inline(never)]
pub fn deep(depth: u32) -> u32 {
    let mut frame = [0u8; 1024];
    frame[(depth as usize * 13) % 1024] = depth as u8;
    let frame = core::hint::black_box(frame);
    if depth == 0 {
        return 1;
    }
    deep(depth - 1).wrapping_add(frame.iter().map(|&b| b as u32).sum::<u32>())
}

/// What [`deep`] returns for `depth`.
pub fn deep_expected(depth: u32) -> u32 {
    1 + (1..=depth).map(|d| d as u8 as u32).sum::<u32>()
}
