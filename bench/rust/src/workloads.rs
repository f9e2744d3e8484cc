//! The workloads, written once for every allocator. Each goes through `std::alloc` (so the
//! `__rust_alloc` shims and the `#[global_allocator]` are what a Rust program calls), writes a
//! tag into the first and last byte of every block it gets, reads the tags back before it frees
//! or moves the block, and folds what it read into the checksum it returns. The checksum depends
//! only on the workload: an allocator that hands out overlapping blocks, loses contents on
//! `realloc`, returns null or a misaligned block makes it differ (or traps), and the host fails
//! the run. Block addresses never enter the checksum.
//!
//! Each block's address is also stored to a global (`got`), with a volatile store: LLVM removes an
//! allocation whose pointer is used only by stores into it, loads from it and the free, and it
//! removes a global that is only ever stored to (with an ordinary store, std's build lost its
//! 32-byte pairs altogether). The volatile store (one `i32.store` per block) keeps every
//! allocation real.
//!
//! The workloads' own tables (slots, sizes) are statics, not heap blocks, so only the workload's
//! blocks go through the allocator. One thread: the statics are never shared.

use crate::rng::Rng;
use core::cell::UnsafeCell;
use core::hint::black_box;
use std::alloc::{alloc, dealloc, realloc, Layout};

/// Where every block's address is stored (see the module's comment).
static SINK: Global<usize> = Global::new(0);

/// Stores `p` to `SINK` (volatile: never removed).
#[inline(always)]
fn sink(p: *const u8) {
    // SAFETY: `SINK` is a valid, aligned `usize` that nothing else references.
    unsafe { core::ptr::write_volatile(SINK.0.get(), p as usize) };
}

/// A static the single thread of the module owns.
struct Global<T>(UnsafeCell<T>);

// SAFETY: a wasm32-unknown-unknown module without the atomics feature runs one thread, and no
// export is re-entered while another runs.
unsafe impl<T> Sync for Global<T> {}

impl<T> Global<T> {
    const fn new(value: T) -> Self {
        Global(UnsafeCell::new(value))
    }

    /// # Safety
    /// No other reference to the value is alive (each export takes it once, at its start).
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self) -> &mut T {
        // SAFETY: per this function's contract.
        unsafe { &mut *self.0.get() }
    }
}

/// A failed run: the engine reports the trap, the host fails the allocator loudly.
#[cold]
#[inline(never)]
fn fail() -> ! {
    core::arch::wasm32::unreachable()
}

/// Checks a block the allocator returned (not null, aligned) and keeps it from being optimised
/// away.
#[inline(always)]
fn got(p: *mut u8, layout: Layout) -> *mut u8 {
    if p.is_null() || (p as usize) & (layout.align() - 1) != 0 {
        fail();
    }
    sink(p);
    p
}

/// Folds `value` into the checksum.
#[inline(always)]
fn mix(sum: u32, value: u32) -> u32 {
    (sum.rotate_left(5) ^ value).wrapping_mul(0x9E37_79B1)
}

/// Writes `tag` into the first and the last byte of the `size`-byte block at `p`.
///
/// # Safety
/// `p` is a live block of at least `size` (> 0) bytes.
#[inline(always)]
unsafe fn tag(p: *mut u8, size: usize, tag: u32) {
    // SAFETY: both bytes lie in the block (the contract).
    unsafe {
        *p = tag as u8;
        *p.add(size - 1) = (tag >> 8) as u8;
    }
}

/// What `tag` wrote (the first and last byte) as one value.
///
/// # Safety
/// `p` is a live block of at least `size` (> 0) bytes.
#[inline(always)]
unsafe fn read(p: *const u8, size: usize) -> u32 {
    // SAFETY: both bytes lie in the block (the contract).
    unsafe { *p as u32 | (*p.add(size - 1) as u32) << 8 }
}

/// The layout of `size` bytes aligned to `align` (a power of two; sizes here are far below the
/// limit).
#[inline(always)]
fn layout(size: usize, align: usize) -> Layout {
    match Layout::from_size_align(size, align) {
        Ok(layout) => layout,
        Err(_) => fail(),
    }
}

// ---- 32-byte alloc + free ----------------------------------------------------------------

/// `n` times: allocate 32 bytes aligned to `align`, tag, read back, free. One op = one pair.
#[inline(always)]
fn alloc_free_32(n: u32, align: usize) -> u32 {
    let l = layout(32, align);
    let mut sum = 0;
    for i in 0..n {
        // SAFETY: `l` has a non-zero size; `got` checks the block, which is 32 bytes.
        unsafe {
            let p = got(alloc(l), l);
            tag(p, 32, i);
            sum = mix(sum, read(p, 32));
            dealloc(p, l);
        }
    }
    sum
}

#[no_mangle]
pub extern "C" fn run_alloc_free_32_a8(n: u32) -> u32 {
    alloc_free_32(n, 8)
}

#[no_mangle]
pub extern "C" fn run_alloc_free_32_a16(n: u32) -> u32 {
    alloc_free_32(n, 16)
}

// ---- 1,000-block batches -----------------------------------------------------------------

const BATCH: usize = 1000;
static BATCH_SLOTS: Global<[usize; BATCH]> = Global::new([0; BATCH]);

/// `rounds` times: allocate 1,000 blocks of 32 bytes (align 8), then free them all, newest
/// first (`lifo`) or oldest first. One op = one block allocated and freed.
fn batches(rounds: u32, lifo: bool) -> u32 {
    let l = layout(32, 8);
    // SAFETY: the only reference to the slots while this export runs.
    let slots = unsafe { BATCH_SLOTS.get() };
    let mut sum = 0;
    for r in 0..rounds {
        for (i, slot) in slots.iter_mut().enumerate() {
            // SAFETY: `l` has a non-zero size; `got` checks the 32-byte block.
            unsafe {
                let p = got(alloc(l), l);
                tag(p, 32, r ^ i as u32);
                *slot = p as usize;
            }
        }
        let mut free = |p: usize| {
            // SAFETY: every slot holds a live 32-byte block allocated with `l` this round.
            unsafe {
                sum = mix(sum, read(p as *const u8, 32));
                dealloc(p as *mut u8, l);
            }
        };
        if lifo {
            slots.iter().rev().for_each(|&p| free(p));
        } else {
            slots.iter().for_each(|&p| free(p));
        }
    }
    sum
}

#[no_mangle]
pub extern "C" fn run_lifo_1000(rounds: u32) -> u32 {
    batches(rounds, true)
}

#[no_mangle]
pub extern "C" fn run_fifo_1000(rounds: u32) -> u32 {
    batches(rounds, false)
}

// ---- churn over 10,000 live objects --------------------------------------------------------

const CHURN_LIVE: usize = 10_000;

struct Churn {
    rng: Rng,
    /// Address and size of each live block.
    blocks: [(usize, usize); CHURN_LIVE],
}

static CHURN: Global<Churn> = Global::new(Churn {
    rng: Rng::new(0),
    blocks: [(0, 0); CHURN_LIVE],
});

/// A size uniform in 16..=1,024 bytes.
#[inline(always)]
fn churn_size(rng: &mut Rng) -> usize {
    rng.between(16, 1024) as usize
}

/// Allocates the 10,000 live objects (untimed).
#[no_mangle]
pub extern "C" fn setup_churn() {
    // SAFETY: the only reference to the state while this export runs.
    let c = unsafe { CHURN.get() };
    c.rng = Rng::new(0xC4_0122);
    for (i, block) in c.blocks.iter_mut().enumerate() {
        let size = churn_size(&mut c.rng);
        let l = layout(size, 8);
        // SAFETY: `l` has a non-zero size; `got` checks the block of `size` bytes.
        unsafe {
            let p = got(alloc(l), l);
            tag(p, size, i as u32);
            *block = (p as usize, size);
        }
    }
}

/// `steps` times: free a random live object, allocate one of a new random size in its place.
/// One op = one free and one allocation.
#[no_mangle]
pub extern "C" fn run_churn(steps: u32) -> u32 {
    // SAFETY: the only reference to the state while this export runs.
    let c = unsafe { CHURN.get() };
    let mut sum = 0;
    for step in 0..steps {
        let i = c.rng.below(CHURN_LIVE as u32) as usize;
        let (p, size) = c.blocks[i];
        let new_size = churn_size(&mut c.rng);
        let l = layout(new_size, 8);
        // SAFETY: `blocks[i]` is a live block of `size` bytes allocated with align 8 (by
        // `setup_churn` or an earlier step); the new layout has a non-zero size.
        unsafe {
            sum = mix(sum, read(p as *const u8, size));
            dealloc(p as *mut u8, layout(size, 8));
            let q = got(alloc(l), l);
            tag(q, new_size, step);
            c.blocks[i] = (q as usize, new_size);
        }
    }
    sum
}

/// Frees the live objects (untimed); the checksum of what they held.
#[no_mangle]
pub extern "C" fn teardown_churn() -> u32 {
    // SAFETY: the only reference to the state while this export runs.
    let c = unsafe { CHURN.get() };
    let mut sum = 0;
    for &(p, size) in c.blocks.iter() {
        // SAFETY: every entry is a live block of `size` bytes, align 8.
        unsafe {
            sum = mix(sum, read(p as *const u8, size));
            dealloc(p as *mut u8, layout(size, 8));
        }
    }
    sum
}

// ---- talc's random actions -----------------------------------------------------------------

/// Successful actions per run, as in talc's wasm benchmark.
const ACTIONS: u32 = 100_000;
/// Below this many live blocks every action allocates (talc's minimum).
const MIN_LIVE: usize = 50;
/// Room for the live set: a random walk from 50 over 100,000 steps stays far below it (a run
/// that reaches it fails).
const MAX_LIVE: usize = 8_192;

struct Random {
    rng: Rng,
    /// Address, size and alignment of each live block.
    blocks: [(usize, u32, u32); MAX_LIVE],
}

static RANDOM: Global<Random> = Global::new(Random {
    rng: Rng::new(0x7A1C),
    blocks: [(0, 0, 0); MAX_LIVE],
});

/// talc's random-actions benchmark for wasm (its `wasm-perf`), reproduced: each of `runs` runs
/// performs 100,000 successful actions on a set of live blocks, then frees the blocks left. An
/// action is drawn uniformly from four (without realloc) or five (with): two allocate, two free
/// a random live block, the fifth reallocates a random live block to a new random size; while
/// fewer than 50 blocks are live every action allocates. Sizes are uniform in 1..=10,000 bytes;
/// the alignment is 8 shifted left by half the number of trailing zeros of a random 16-bit
/// number (8 half the time, 16 a quarter, … up to 2,048). One op = one action.
fn random_actions(runs: u32, with_realloc: bool) -> u32 {
    // SAFETY: the only reference to the state while this export runs.
    let st = unsafe { RANDOM.get() };
    let rng = &mut st.rng;
    let blocks = &mut st.blocks;
    let choices = if with_realloc { 5 } else { 4 };
    let mut sum = 0;
    for _ in 0..runs {
        let mut live = 0usize;
        for action in 0..ACTIONS {
            let choice = rng.below(choices);
            if live < MIN_LIVE || choice < 2 {
                let size = rng.between(1, 10_000);
                let align = 8u32 << ((rng.next_u64() as u16).trailing_zeros() / 2);
                let l = layout(size as usize, align as usize);
                if live == MAX_LIVE {
                    fail();
                }
                // SAFETY: `l` has a non-zero size; `got` checks the block.
                unsafe {
                    let p = got(alloc(l), l);
                    tag(p, size as usize, action);
                    blocks[live] = (p as usize, size, align);
                }
                live += 1;
            } else if choice < 4 {
                let i = rng.below(live as u32) as usize;
                let (p, size, align) = blocks[i];
                // SAFETY: `blocks[i]` is live, of `size` bytes, aligned to `align`.
                unsafe {
                    sum = mix(sum, read(p as *const u8, size as usize));
                    dealloc(p as *mut u8, layout(size as usize, align as usize));
                }
                live -= 1;
                blocks[i] = blocks[live];
            } else {
                let i = rng.below(live as u32) as usize;
                let (p, size, align) = blocks[i];
                let new_size = rng.between(1, 10_000);
                // SAFETY: `blocks[i]` is live, of `size` bytes, aligned to `align`; the new size
                // is non-zero and far from overflowing when rounded up to `align`. The first
                // byte survives the move (both sizes are at least 1).
                unsafe {
                    sum = mix(sum, *(p as *const u8) as u32);
                    let q = realloc(
                        p as *mut u8,
                        layout(size as usize, align as usize),
                        new_size as usize,
                    );
                    let q = got(q, layout(new_size as usize, align as usize));
                    sum = mix(sum, *q as u32);
                    tag(q, new_size as usize, action);
                    blocks[i] = (q as usize, new_size, align);
                }
            }
        }
        for &(p, size, align) in &blocks[..live] {
            // SAFETY: the first `live` entries are live blocks.
            unsafe {
                sum = mix(sum, read(p as *const u8, size as usize));
                dealloc(p as *mut u8, layout(size as usize, align as usize));
            }
        }
    }
    sum
}

#[no_mangle]
pub extern "C" fn run_random_actions(runs: u32) -> u32 {
    random_actions(runs, false)
}

#[no_mangle]
pub extern "C" fn run_random_actions_realloc(runs: u32) -> u32 {
    random_actions(runs, true)
}

// ---- growth ------------------------------------------------------------------------------------

const MIB: usize = 1 << 20;

/// `n` times: push bytes one by one onto an empty `Vec<u8>` until it holds 1 MiB, then drop it.
/// One op = one Vec grown to 1 MiB (about 20 reallocations, and a million pushes).
#[no_mangle]
pub extern "C" fn run_vec_growth(n: u32) -> u32 {
    let mut sum = 0;
    for g in 0..n {
        let mut v: Vec<u8> = Vec::new();
        for i in 0..MIB {
            v.push(i as u8 ^ g as u8);
        }
        let v = black_box(v);
        sink(v.as_ptr());
        sum = mix(
            sum,
            v[0] as u32 | (v[MIB / 2] as u32) << 8 | (v[MIB - 1] as u32) << 16,
        );
    }
    sum
}

/// `n` times: allocate 16 bytes, reallocate to twice the size until 1 MiB (16 reallocations),
/// writing the last byte after each, then free. One op = one chain.
#[no_mangle]
pub extern "C" fn run_realloc_doubling(n: u32) -> u32 {
    let mut sum = 0;
    for c in 0..n {
        let mut size = 16;
        let mut l = layout(size, 8);
        // SAFETY: non-zero sizes, align 8; each `realloc` gets the block's current layout and
        // `got` checks what it returns; the first byte survives every move.
        unsafe {
            let mut p = got(alloc(l), l);
            tag(p, size, c);
            while size < MIB {
                p = realloc(p, l, size * 2);
                size *= 2;
                l = layout(size, 8);
                p = got(p, l);
                *p.add(size - 1) = size.trailing_zeros() as u8;
            }
            sum = mix(sum, read(p, size));
            dealloc(p, l);
        }
    }
    sum
}

/// The large blocks' sizes, in turn.
const LARGE: [usize; 5] = [256 << 10, 512 << 10, MIB, 2 * MIB, 4 * MIB];

/// `n` times: allocate a block of 256 KiB, 512 KiB, 1, 2 or 4 MiB in turn (align 16), write a
/// byte in every 4 KiB of it, read two back, free. One op = one block.
#[no_mangle]
pub extern "C" fn run_large_blocks(n: u32) -> u32 {
    let mut sum = 0;
    for i in 0..n {
        let size = LARGE[i as usize % LARGE.len()];
        let l = layout(size, 16);
        // SAFETY: `l` has a non-zero size; `got` checks the block; every offset is below `size`.
        unsafe {
            let p = got(alloc(l), l);
            let mut at = 0;
            while at < size {
                *p.add(at) = (at >> 12) as u8 ^ i as u8;
                at += 4096;
            }
            tag(p, size, i);
            sum = mix(sum, read(p, size) ^ (*p.add(size / 2) as u32) << 16);
            dealloc(p, l);
        }
    }
    sum
}
