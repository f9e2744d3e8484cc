//! The `heap_ops` fuzz target's inputs and how they drive the shared shadow model
//! (`tests/shadow/mod.rs`, [`Shadow`]), for the fuzz target and the corpus replay test
//! (`tests/fuzz_corpus.rs`); both include this file and the model by `#[path]`.
//!
//! An input decodes (with `arbitrary`) into a heap configuration and a list of operations; each
//! runs against a host heap over a [`HostMemory`], and the model checks the heap against what it
//! knows, in two tiers:
//! - after every step, cheaply, what the step touched: the heap's fields and list heads
//!   (`Heap::check_shape`); the blocks from the live block before each touched block to the
//!   live block after it (`Heap::validate_span`: headers, flags, the neighbours' `PREV_FREE`
//!   and footers, the free blocks' list links); the touched block's and its live neighbours'
//!   size, header, alignment, overlap and first and last bytes (where a header, footer or link
//!   written one word off lands); the model's own bookkeeping; and every block's whole contents
//!   when it is freed or moved, and what a `reallocate` kept;
//! - every [`FULL_EVERY`] steps and at the end of every input, everything: the full walk
//!   (`Heap::validate`), every live block's exact size, header, alignment and whole contents, no
//!   overlap, and the walk's counts against the model's.
//!
//! User data is the model's pattern: any 8-aligned word pair of it read as a header carries the
//! `FREE` flag, so a pointer whose header lies in user data is one the cheap header check
//! refuses. Bad pointers are only of the kinds the contract covers: unaligned, out of range, and
//! pointers whose 8 bytes before lie outside every live block (freed pointers included).
#![allow(dead_code)]

use crate::shadow::{HostTarget, Shadow};
use arbitrary::{Arbitrary, Unstructured};
use wall_e::{HostMemory, MAX_REQUEST, PAGE};

const MAX_OPS: usize = 400;

/// Steps between two full checks (and one at the end of every input, after every block is
/// freed, so a corruption the cheap checks miss is still caught within its input, at most
/// `FULL_EVERY - 1` steps late).
///
/// Cost (perf, the fuzz build without ASan): a full check is O(heap) and dominated by
/// `Heap::validate`'s scan of fresh memory (I6: every word from the fresh mark to the end of
/// the region, up to 128 KiB and more once the memory grew), hundreds of µs with coverage
/// instrumentation, against a few µs for a step's cheap checks. Inputs run up to 400 steps and
/// most run 50-150: at 64 an input has one or two periodic walks besides the final one, the walks
/// stay about half of the run time at ~6,000 execs/s; at 16 they would be most of it (~3x
/// slower), at 256 most inputs would only have the final walk. Latency: a corruption the cheap
/// checks miss (away from every block a step touches: a link in the middle of a list, a bitmap
/// bit, a write into the middle of a live block) surfaces at most 63 steps later, in the same
/// input; the message names the step of the full check (shrink the input with `cargo fuzz tmin`
/// to find the operation).
pub const FULL_EVERY: usize = 64;

#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub config: Config,
    pub ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Config {
    /// Initial pages: `1 + value % 2`.
    pub initial_pages: u8,
    /// Pages the memory may grow by beyond that: `% 7`.
    pub extra_pages: u8,
    /// Heap base (address where the heap may start): `1 + value`.
    pub heap_base: u16,
    /// Every n-th growth is preceded by a foreign one: `% 4` (0 = never).
    pub interleave: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Size {
    Tiny(u8),
    Small(u8),
    Medium(u16),
    Large(u32),
    /// Near 4 GiB or near `MAX_REQUEST`: always refused.
    Huge(u8),
}

impl Size {
    pub fn bytes(self) -> u32 {
        match self {
            Size::Tiny(n) => (n % 33) as u32,
            Size::Small(n) => n as u32,
            Size::Medium(n) => (n % 8192) as u32,
            Size::Large(n) => n % (3 * PAGE),
            Size::Huge(n) => {
                let k = (n % 64) as u32;
                if n & 64 == 0 {
                    u32::MAX - k
                } else {
                    MAX_REQUEST + 1 + k
                }
            }
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum BadKind {
    /// A live block's pointer (or any address) plus 1..=7.
    Unaligned { offset: u8 },
    /// Below the lowest heap address (+ 8).
    Low { value: u16 },
    /// At or above the end of memory.
    High { value: u32 },
    /// A pointer freed before (double free), if no live block holds its header now.
    Freed,
    /// An 8-aligned pointer whose 8 bytes before lie between live blocks (free blocks, region
    /// markers, above the bump pointer).
    Gap { offset: u16 },
    /// The address of a live block's header, when the 8 bytes before lie outside every live
    /// block (a free block, a region's start).
    Header,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    Allocate {
        size: Size,
    },
    AllocateAligned {
        size: Size,
        align_log: u8,
    },
    AllocateZeroed {
        size: Size,
        align_log: u8,
    },
    Deallocate {
        index: u16,
    },
    /// `reallocate` (plain, 8-aligned) or `reallocate_aligned` with the block's alignment.
    Reallocate {
        index: u16,
        size: Size,
        keep_align: bool,
    },
    ReallocateNil {
        size: Size,
    },
    Size {
        index: u16,
    },
    Bad {
        kind: BadKind,
        index: u16,
    },
    ForeignGrowth {
        pages: u8,
    },
    SetMaxPages {
        pages: u8,
    },
    Interleave {
        every: u8,
    },
}

/// Decodes `data` as the fuzz target does and runs it on the host heap `H`; panics on the first
/// disagreement.
pub fn run_bytes<H: HostTarget>(data: &[u8]) {
    run_bytes_with::<H>(data, strict_from_env());
}

/// Whether to pass every covered pointer whose 8 bytes before lie in a free block (`true`, the
/// default), or to leave out those whose header word looks like a footer, a multiple of 8
/// without flags (`WALL_E_FUZZ_STRICT=0`): before c9aefe8 a free block's footer, or a stale one
/// inside a larger free block, read as a used header with the word before it (see
/// `tests/fuzz_corpus.rs`); the switch lets fuzzing go on past such a bug while it is open.
pub fn strict_from_env() -> bool {
    std::env::var_os("WALL_E_FUZZ_STRICT").is_none_or(|v| v != "0")
}

/// [`run_bytes`] with the strictness given.
pub fn run_bytes_with<H: HostTarget>(data: &[u8], strict: bool) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run::<H>(&input, strict);
}

/// Runs `input` on a fresh heap `H`.
pub fn run<H: HostTarget>(input: &Input, strict: bool) {
    let c = &input.config;
    let initial = 1 + (c.initial_pages % 2) as u32;
    let max = initial + (c.extra_pages % 7) as u32;
    // The heap starts at the base, or in the first page it grows when the base lies beyond the
    // initial memory: nothing below `low` is heap.
    let heap_base = 1 + c.heap_base as u32;
    let low = heap_base.min(initial * PAGE);
    let mut memory = HostMemory::new(initial, max, heap_base);
    memory.interleave_foreign_growth((c.interleave % 4) as u32);
    let mut m = Shadow::new(H::with_memory(memory), low, true);
    m.full_every = FULL_EVERY;
    m.full_check();
    // Under Miri a step costs a lot: only the first few.
    let max_ops = if cfg!(miri) { 8 } else { MAX_OPS };
    for op in input.ops.iter().take(max_ops) {
        apply(&mut m, *op, strict);
        m.after_step();
    }
    // Free everything, newest first, with the cheap checks after each (every block's whole
    // contents checked as it goes), then the full check: the heap must end empty and whole.
    m.free_all();
}

fn apply<H: HostTarget>(m: &mut Shadow<H>, op: Op, strict: bool) {
    match op {
        Op::Allocate { size } => {
            m.allocate(size.bytes(), 0, false);
        }
        Op::AllocateAligned { size, align_log } => {
            // `allocate` for 8, as before the shared model (the corpus keeps its meaning).
            let align = 1 << (align_log % 17);
            m.allocate(size.bytes(), if align == 8 { 0 } else { align }, false);
        }
        Op::AllocateZeroed { size, align_log } => {
            m.allocate(size.bytes(), 1 << (align_log % 17), true);
        }
        Op::Deallocate { index } => match m.pick(index as usize) {
            Some(p) => m.deallocate(p),
            None => {
                m.bad_pointer(0, 0, &"nil");
            }
        },
        Op::Reallocate {
            index,
            size,
            keep_align,
        } => {
            if let Some(p) = m.pick(index as usize) {
                m.reallocate(p, size.bytes(), keep_align);
            }
        }
        Op::ReallocateNil { size } => {
            m.reallocate_nil(size.bytes());
        }
        Op::Size { index } => match m.pick(index as usize) {
            Some(p) => m.check_size(p),
            None => {
                m.bad_pointer(0, 0, &"nil");
            }
        },
        Op::Bad { kind, index } => bad_pointer(m, kind, index, strict),
        Op::ForeignGrowth { pages } => {
            let pages = 1 + (pages % 2) as u32;
            m.grow_foreign(pages, |h| h.memory_mut().grow_foreign(pages));
        }
        Op::SetMaxPages { pages } => {
            let pages = m.target.memory().pages() + (pages % 4) as u32;
            m.target.memory_mut().set_max_pages(pages);
        }
        Op::Interleave { every } => m
            .target
            .memory_mut()
            .interleave_foreign_growth((every % 4) as u32),
    }
}

/// A bad pointer of the kind given, if there is one; the model checks it is ignored.
fn bad_pointer<H: HostTarget>(m: &mut Shadow<H>, kind: BadKind, index: u16, strict: bool) {
    let end = m.target.memory_bytes();
    let any_live = m.pick(index as usize);
    let p: u32 = match kind {
        BadKind::Unaligned { offset } => {
            let base = any_live.unwrap_or(m.low.wrapping_add(index as u32));
            base.wrapping_add(1 + (offset % 7) as u32)
        }
        BadKind::Low { value } => (value as u32) % (m.low + 8),
        BadKind::High { value } => {
            let room = (u32::MAX as u64 + 1 - end) as u32;
            if room == 0 {
                return;
            }
            (end + (value % room) as u64) as u32
        }
        BadKind::Freed => {
            if m.freed.is_empty() {
                return;
            }
            // Skipped by the model when reused: part of a live block now.
            m.freed[index as usize % m.freed.len()]
        }
        BadKind::Header => match any_live {
            Some(q) => q - 8,
            None => return,
        },
        BadKind::Gap { offset } => {
            // Between the end of one live block (or the heap's lowest address) and the next
            // header.
            let gaps = m.gaps();
            if gaps.is_empty() {
                return;
            }
            let (from, to) = gaps[index as usize % gaps.len()];
            // `p - 8` in [from, to): the header position lies in the gap.
            let slots = ((to - from) / 8).max(1);
            let p = from + 8 + 8 * (offset as u64 % slots);
            if p > u32::MAX as u64 {
                return;
            }
            p as u32
        }
    };
    if p == 0 {
        return; // nil is covered by ReallocateNil and by Deallocate on an empty model
    }
    let in_memory = p & 7 == 0 && p >= m.low + 8 && (p as u64) < end;
    if in_memory && !strict {
        let word = m.target.read_u32(p - 4);
        if word & 7 == 0 && word != 0 {
            return; // a footer (maybe stale) read as a used header, fixed in c9aefe8
        }
    }
    m.bad_pointer(p, 24, &kind);
}

/// The decoded input, for reading a crash: `{:#?}` of what `run_bytes` would run.
pub fn describe(data: &[u8]) -> String {
    match Input::arbitrary_take_rest(Unstructured::new(data)) {
        Ok(input) => format!("{:#?}", input),
        Err(e) => format!("undecodable: {e}"),
    }
}
