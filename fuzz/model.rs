//! The model the `heap_ops` fuzz target and the corpus replay test (`tests/fuzz_corpus.rs`) share.
//!
//! An input decodes (with `arbitrary`) into a heap configuration and a list of operations; each
//! runs against a [`Heap`] over a [`HostMemory`], and the model checks the heap against what it
//! knows, in two tiers:
//! - after every step, cheaply, what the step touched: the heap's fields and list heads
//!   ([`Heap::check_shape`]); the blocks from the live block before each touched block to the
//!   live block after it ([`Heap::validate_span`]: headers, flags, the neighbours' `PREV_FREE`
//!   and footers, the free blocks' list links); the touched block's size, alignment, whole
//!   contents and overlap with its neighbours; the first and last bytes of the neighbouring
//!   live blocks (where a header, footer or link written one word off lands); the model's own
//!   bookkeeping;
//! - every [`FULL_EVERY`] steps and at the end of every input, everything: the full walk
//!   ([`Heap::validate`]), every live block's exact size, alignment and whole contents, no
//!   overlap, and the walk's counts against the model's.
//!
//! User data is a pattern of odd bytes: any 8 bytes of it read as a header carry the `FREE` flag,
//! so a pointer whose header lies in user data is one the cheap header check refuses. Bad
//! pointers are only of the kinds the contract covers: unaligned, out of range, and pointers
//! whose 8 bytes before lie outside every live block (freed pointers included).
#![allow(dead_code)]

use arbitrary::{Arbitrary, Unstructured};
use std::collections::BTreeMap;
use wall_e::{Heap, HostMemory, Source, Stats, MAX_REQUEST, PAGE};

const MAX_OPS: usize = 400;

/// Steps between two full checks (and one after the last operation and one at the end of every
/// input, so a corruption the cheap checks miss is still caught within its input, at most
/// `FULL_EVERY - 1` steps late).
///
/// Cost (perf, the instrumented fuzz build): a full check is O(heap), ~100 µs — `validate` reads
/// every word from the fresh mark to the end of the region (up to 512 KiB here), and the model
/// compares every live byte — against ~1–2 µs for a step's cheap checks and about as much for
/// the operation itself with its fill. At 64 the periodic full checks add ~1.5 µs a step, as
/// much as the cheap checks; at 16 they would cost ~6 µs a step, more than everything else; at
/// 256 they would save ~1 µs a step but leave inputs of up to 400 operations with only the
/// end-of-input checks. Latency: a corruption the cheap checks miss (away from every block a step
/// touches: a link in the middle of a list, a bitmap bit, a write into the middle of a live
/// block) surfaces at most 63 steps later, in the same input; the message names the step of the
/// full check (shrink the input with `cargo fuzz tmin` to find the operation).
pub const FULL_EVERY: usize = 64;

/// Bytes checked at each end of a neighbouring live block after a step.
const EDGE: u32 = 16;

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

#[derive(Debug, Clone, Copy)]
struct Block {
    p: u32,
    size: u32,
    align: u32,
    seed: u32,
}

/// Decodes `data` as the fuzz target does and runs it; panics on the first disagreement.
pub fn run_bytes(data: &[u8]) {
    run_bytes_with(data, strict_from_env());
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
pub fn run_bytes_with(data: &[u8], strict: bool) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(&input, strict);
}

/// The byte at offset `i` of a block filled with `seed`: always odd (see the module docs).
pub fn pattern(seed: u32, i: u32) -> u8 {
    let x = seed.wrapping_mul(0x9E37_79B9) ^ i.wrapping_mul(0x85EB_CA6B);
    ((x >> 13) as u8) | 1
}

struct Model {
    heap: Heap<HostMemory>,
    /// No heap address lies below this.
    low: u32,
    /// Live blocks in the order operations pick them (`index % len`, `swap_remove`).
    live: Vec<Block>,
    /// The same blocks by address: the neighbours of a touched block.
    by_addr: BTreeMap<u32, Block>,
    /// Sum of the live blocks' sizes.
    used: u64,
    freed: Vec<u32>,
    next_seed: u32,
    step: usize,
    /// Steps since the last full check.
    since_full: usize,
    /// Payload addresses of blocks the current step allocated, moved or freed (the old and the
    /// new place): what the cheap checks look at.
    touched: Vec<u32>,
    /// See [`strict_from_env`].
    strict: bool,
    /// [`Heap::top_room`] after the last step (the heap has not changed since).
    top_room: u32,
}

pub fn run(input: &Input, strict: bool) {
    let c = &input.config;
    let initial = 1 + (c.initial_pages % 2) as u32;
    let max = initial + (c.extra_pages % 7) as u32;
    // The heap starts at the base, or in the first page it grows when the base lies beyond the
    // initial memory: nothing below `low` is heap.
    let heap_base = 1 + c.heap_base as u32;
    let low = heap_base.min(initial * PAGE);
    let mut memory = HostMemory::new(initial, max, heap_base);
    memory.interleave_foreign_growth((c.interleave % 4) as u32);
    let mut m = Model {
        heap: Heap::new(memory),
        low,
        live: Vec::new(),
        by_addr: BTreeMap::new(),
        used: 0,
        freed: Vec::new(),
        next_seed: 1,
        step: 0,
        since_full: 0,
        touched: Vec::new(),
        strict,
        top_room: 0,
    };
    m.check();
    // Under Miri a step costs a lot: only the first few.
    let max_ops = if cfg!(miri) { 8 } else { MAX_OPS };
    let mut step = 0;
    for op in input.ops.iter().take(max_ops) {
        m.step = step;
        m.apply(*op);
        m.after_step();
        step += 1;
    }
    m.check();
    // Free everything: the heap must end empty and whole.
    while !m.live.is_empty() {
        m.step = step;
        m.deallocate(m.live.len() - 1);
        m.after_step();
        step += 1;
    }
    let stats = m.check();
    assert_eq!(
        (stats.used_blocks, stats.used_bytes),
        (0, 0),
        "blocks left after freeing all"
    );
}

/// Rounded request: what the 125% rule measures against.
fn rounded(size: u32) -> u32 {
    ((size + 7) & !7).max(8)
}

impl Model {
    fn mem(&self, addr: u32, len: u32) -> *mut u8 {
        self.heap.source().at(addr, len)
    }

    fn memory_end(&self) -> u64 {
        self.heap.source().pages() as u64 * PAGE as u64
    }

    fn read_u32(&self, addr: u32) -> u32 {
        let mut b = [0u8; 4];
        // SAFETY: callers pass addresses inside the heap's memory (headers of live blocks, or
        // checked against the memory's bounds), inside the host buffer.
        unsafe { core::ptr::copy_nonoverlapping(self.mem(addr, 4), b.as_mut_ptr(), 4) };
        u32::from_le_bytes(b)
    }

    /// The effective size of a live block, from its header (see the layout in `heap.rs`).
    fn effective(&self, p: u32) -> u32 {
        self.read_u32(p - 4) & !7
    }

    fn payload(&self, p: u32, len: u32) -> &[u8] {
        assert!(
            p as u64 + len as u64 <= self.memory_end(),
            "step {}: block {p:#x}+{len} beyond memory",
            self.step
        );
        // SAFETY: `[p, p + len)` is inside the host buffer (checked above) and belongs to a live
        // block; the slice is dropped before the heap or the model writes memory again.
        unsafe { core::slice::from_raw_parts(self.mem(p, len), len as usize) }
    }

    fn fill(&mut self, p: u32, from: u32, to: u32, seed: u32) {
        assert!(
            p as u64 + to as u64 <= self.memory_end(),
            "step {}: block {p:#x}+{to} beyond memory",
            self.step
        );
        // SAFETY: `[p + from, p + to)` is inside the host buffer (checked above), in a live
        // block's payload, and no other reference to it is alive.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(
                self.mem(p + from, to.saturating_sub(from)),
                to.saturating_sub(from) as usize,
            )
        };
        for (byte, i) in bytes.iter_mut().zip(from..) {
            *byte = pattern(seed, i);
        }
    }

    fn valid(&self) -> Stats {
        match self.heap.validate() {
            Ok(stats) => stats,
            Err(c) => panic!(
                "step {}: heap corrupt at {:#x}: {}",
                self.step, c.at, c.what
            ),
        }
    }

    fn pick(&self, index: u16) -> Option<usize> {
        if self.live.is_empty() {
            None
        } else {
            Some(index as usize % self.live.len())
        }
    }

    /// Checks a block just handed out for `size` bytes aligned to `align`.
    fn check_fresh(&self, p: u32, size: u32, align: u32, realloc: bool) {
        let step = self.step;
        assert!(
            p % align.max(8) == 0,
            "step {step}: {p:#x} not aligned to {align}"
        );
        assert!(p >= self.low + 8, "step {step}: {p:#x} below the heap");
        assert_eq!(
            self.heap.size(p),
            size,
            "step {step}: size of fresh block {p:#x}"
        );
        let (eff, want) = (self.effective(p), rounded(size));
        // I5 in heap.rs: a block resized in place, or placed at an alignment above 8, may keep
        // an 8-byte tail too small to split off.
        let within = eff * 4 <= want * 5 || ((realloc || align > 8) && eff == want + 8);
        assert!(
            eff >= want && within,
            "step {step}: effective {eff} for a request of {size}"
        );
    }

    fn new_seed(&mut self) -> u32 {
        self.next_seed = self.next_seed.wrapping_add(0x2545_F491);
        self.next_seed
    }

    fn allocate(&mut self, size: u32, align: u32, zeroed: bool) {
        let top_room = self.top_room;
        let p = if zeroed {
            self.heap.allocate_zeroed(size, align)
        } else if align == 8 {
            self.heap.allocate(size)
        } else {
            self.heap.allocate_aligned(size, align)
        };
        if size == 0 || size > MAX_REQUEST {
            assert_eq!(p, 0, "step {}: allocate({size}) must be nil", self.step);
            return;
        }
        if p == 0 {
            // Out of memory is only allowed when neither the top nor a free block has room.
            let need = rounded(size) as u64;
            let slack = if align > 8 { align as u64 + 16 } else { 0 };
            assert!(
                need + 8 + slack > top_room as u64,
                "step {}: allocate({size}, {align}) failed with {top_room} bytes at the top",
                self.step,
            );
            if align <= 8 {
                // The largest free block from a walk after the failure: the same as before it,
                // or (default core) the room left when a region was closed on the way, which
                // was too small for the request (asserted above).
                let largest_free = self.valid().largest_free;
                assert!(
                    (largest_free as u64) < 2 * (need + 16),
                    "step {}: allocate({size}) failed with a free block of {largest_free}",
                    self.step,
                );
            }
            return;
        }
        self.check_fresh(p, size, align, false);
        if zeroed {
            assert!(
                self.payload(p, size).iter().all(|&b| b == 0),
                "step {}: allocate_zeroed({size}, {align}) at {p:#x} not zero",
                self.step
            );
        }
        let seed = self.new_seed();
        self.fill(p, 0, size, seed);
        self.add(Block {
            p,
            size,
            align: align.max(8),
            seed,
        });
    }

    /// Enters `b` in the address index; no other live block may start where it does.
    fn index(&mut self, b: Block) {
        let clash = self.by_addr.insert(b.p, b);
        assert!(
            clash.is_none(),
            "step {}: {:#x} handed out twice",
            self.step,
            b.p
        );
    }

    /// A new live block.
    fn add(&mut self, b: Block) {
        self.live.push(b);
        self.index(b);
        self.used += b.size as u64;
        self.touched.push(b.p);
    }

    /// Takes the live block `i` out of the model (it was freed).
    fn remove(&mut self, i: usize) -> Block {
        let b = self.live.swap_remove(i);
        self.by_addr.remove(&b.p);
        self.used -= b.size as u64;
        self.touched.push(b.p);
        b
    }

    /// The live block `i` is `b` now (resized, maybe moved).
    fn replace(&mut self, i: usize, b: Block) {
        let old = self.live[i];
        self.by_addr.remove(&old.p);
        self.index(b);
        self.used = self.used - old.size as u64 + b.size as u64;
        self.live[i] = b;
        self.touched.push(old.p);
        if b.p != old.p {
            self.touched.push(b.p);
        }
    }

    fn deallocate(&mut self, i: usize) {
        let b = self.remove(i);
        self.heap.deallocate(b.p);
        assert_eq!(
            self.heap.size(b.p),
            0,
            "step {}: freed block {:#x} still has a size",
            self.step,
            b.p
        );
        self.remember_freed(b.p);
    }

    fn remember_freed(&mut self, p: u32) {
        if self.freed.len() >= 64 {
            self.freed.remove(0);
        }
        self.freed.push(p);
    }

    fn reallocate(&mut self, i: usize, size: u32, keep_align: bool) {
        let b = self.live[i];
        let align = if keep_align { b.align } else { 8 };
        let old_eff = self.effective(b.p);
        let q = if keep_align {
            self.heap.reallocate_aligned(b.p, size, align)
        } else {
            self.heap.reallocate(b.p, size)
        };
        let step = self.step;
        if size == 0 {
            assert_eq!(q, 0, "step {step}: reallocate(p, 0) must return nil");
            self.remove(i);
            assert_eq!(
                self.heap.size(b.p),
                0,
                "step {step}: reallocate(p, 0) did not free"
            );
            self.remember_freed(b.p);
            return;
        }
        if q == 0 {
            assert!(
                size > MAX_REQUEST || rounded(size) > old_eff,
                "step {step}: reallocate({:#x}, {size}) failed though it fits in place",
                b.p
            );
            self.touched.push(b.p); // the block must be intact
            return;
        }
        assert!(
            size <= MAX_REQUEST,
            "step {step}: reallocate to {size} succeeded"
        );
        if rounded(size) <= old_eff {
            assert_eq!(q, b.p, "step {step}: a shrinking reallocate moved");
        }
        self.check_fresh(q, size, align, true);
        let keep = b.size.min(size);
        let moved = self.payload(q, keep);
        for (j, &byte) in moved.iter().enumerate() {
            assert_eq!(
                byte,
                pattern(b.seed, j as u32),
                "step {step}: reallocate lost byte {j} of {:#x} -> {q:#x}",
                b.p
            );
        }
        if size > b.size {
            self.fill(q, b.size, size, b.seed);
        }
        if q != b.p {
            self.remember_freed(b.p);
        }
        self.replace(
            i,
            Block {
                p: q,
                size,
                align: if q == b.p { b.align } else { align },
                seed: b.seed,
            },
        );
    }

    /// Whether an 8-aligned `p` is a pointer the contract covers: its header (8 bytes before)
    /// lies in no live block, header included.
    fn outside_live(&self, p: u32) -> bool {
        let h = p as u64 - 8;
        self.live.iter().all(|b| {
            let start = b.p as u64 - 8;
            let end = b.p as u64 + self.effective(b.p) as u64;
            h < start || h >= end
        })
    }

    fn bad_pointer(&mut self, kind: BadKind, index: u16) {
        let end = self.memory_end();
        let any_live = self.pick(index).map(|i| self.live[i].p);
        let p: u32 = match kind {
            BadKind::Unaligned { offset } => {
                let base = any_live.unwrap_or(self.low.wrapping_add(index as u32));
                base.wrapping_add(1 + (offset % 7) as u32)
            }
            BadKind::Low { value } => (value as u32) % (self.low + 8),
            BadKind::High { value } => {
                let room = (u32::MAX as u64 + 1 - end) as u32;
                if room == 0 {
                    return;
                }
                (end + (value % room) as u64) as u32
            }
            BadKind::Freed => {
                if self.freed.is_empty() {
                    return;
                }
                let p = self.freed[index as usize % self.freed.len()];
                if !self.outside_live(p) {
                    return; // reused: part of a live block now
                }
                p
            }
            BadKind::Header => match any_live {
                Some(q) => q - 8,
                None => return,
            },
            BadKind::Gap { offset } => {
                // Between the end of one live block (or the heap's lowest address) and the next header.
                let mut bounds: Vec<(u64, u64)> = self
                    .live
                    .iter()
                    .map(|b| (b.p as u64 - 8, b.p as u64 + self.effective(b.p) as u64))
                    .collect();
                bounds.sort_unstable();
                let mut gaps = Vec::new();
                let mut from = (self.low as u64 + 7) & !7;
                for (start, stop) in bounds {
                    if start > from {
                        gaps.push((from, start));
                    }
                    from = from.max(stop);
                }
                if end > from {
                    gaps.push((from, end));
                }
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
        if p & 7 == 0 && !self.outside_live(p) {
            return; // only the covered kinds
        }
        let in_memory = p & 7 == 0 && p >= self.low + 8 && (p as u64) < end;
        if in_memory && !self.strict {
            let word = self.read_u32(p - 4);
            if word & 7 == 0 && word != 0 {
                return; // a footer (maybe stale) read as a used header, fixed in c9aefe8
            }
        }
        // The heap must stay as it is: its fields and list heads, and the 8 bytes before `p`,
        // where a used block's header would be (freeing writes its flags first); anything
        // else is left to the next full check.
        let before = (self.heap.shape_digest(), self.header_words(p));
        let step = self.step;
        assert_eq!(
            self.heap.size(p),
            0,
            "step {step}: size({p:#x}) of a bad pointer ({kind:?})"
        );
        assert_eq!(
            self.heap.reallocate(p, 24),
            0,
            "step {step}: reallocate({p:#x}) of a bad pointer ({kind:?})"
        );
        self.heap.deallocate(p);
        assert_eq!(
            (self.heap.shape_digest(), self.header_words(p)),
            before,
            "step {step}: bad pointer {p:#x} ({kind:?}) changed the heap"
        );
    }

    /// The two words before `p` if they lie in memory.
    fn header_words(&self, p: u32) -> Option<(u32, u32)> {
        let ok = p >= 8 && p as u64 <= self.memory_end();
        ok.then(|| (self.read_u32(p - 8), self.read_u32(p - 4)))
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Allocate { size } => self.allocate(size.bytes(), 8, false),
            Op::AllocateAligned { size, align_log } => {
                self.allocate(size.bytes(), 1 << (align_log % 17), false)
            }
            Op::AllocateZeroed { size, align_log } => {
                self.allocate(size.bytes(), 1 << (align_log % 17), true)
            }
            Op::Deallocate { index } => match self.pick(index) {
                Some(i) => self.deallocate(i),
                None => self.heap.deallocate(0),
            },
            Op::Reallocate {
                index,
                size,
                keep_align,
            } => {
                if let Some(i) = self.pick(index) {
                    self.reallocate(i, size.bytes(), keep_align);
                }
            }
            Op::ReallocateNil { size } => {
                let size = size.bytes();
                let top_room = self.top_room;
                let p = self.heap.reallocate(0, size);
                if p == 0 {
                    let ok = size == 0 || size > MAX_REQUEST || rounded(size) + 8 > top_room;
                    assert!(ok, "step {}: reallocate(0, {size}) failed", self.step);
                } else {
                    self.check_fresh(p, size, 8, false);
                    let seed = self.new_seed();
                    self.fill(p, 0, size, seed);
                    self.add(Block {
                        p,
                        size,
                        align: 8,
                        seed,
                    });
                }
            }
            Op::Size { index } => {
                if let Some(i) = self.pick(index) {
                    let b = self.live[i];
                    assert_eq!(
                        self.heap.size(b.p),
                        b.size,
                        "step {}: size({:#x})",
                        self.step,
                        b.p
                    );
                } else {
                    assert_eq!(self.heap.size(0), 0);
                }
            }
            Op::Bad { kind, index } => self.bad_pointer(kind, index),
            Op::ForeignGrowth { pages } => {
                let _ = self.heap.source_mut().grow_foreign(1 + (pages % 2) as u32);
            }
            Op::SetMaxPages { pages } => {
                let pages = self.heap.source().pages() + (pages % 4) as u32;
                self.heap.source_mut().set_max_pages(pages);
            }
            Op::Interleave { every } => self
                .heap
                .source_mut()
                .interleave_foreign_growth((every % 4) as u32),
        }
    }

    /// [`Heap::check_shape`], failing the step on a corruption.
    fn check_shape(&self) {
        match self.heap.check_shape() {
            Ok(()) => {}
            Err(c) => panic!(
                "step {}: heap corrupt at {:#x}: {}",
                self.step, c.at, c.what
            ),
        }
    }

    /// After every step: the cheap checks, and every `FULL_EVERY` steps the full one.
    fn after_step(&mut self) {
        self.since_full += 1;
        if self.since_full >= FULL_EVERY {
            self.touched.clear();
            self.check();
        } else {
            self.cheap_check();
        }
    }

    /// What the step touched (see the module docs): O(touched blocks + classes + log live).
    fn cheap_check(&mut self) {
        let step = self.step;
        self.check_shape();
        self.top_room = self.heap.top_room();
        assert_eq!(
            self.by_addr.len(),
            self.live.len(),
            "step {step}: the model's block index disagrees with its list"
        );
        let touched = std::mem::take(&mut self.touched);
        for &p in &touched {
            // The live blocks around `p` (the block at `p` may be gone).
            let before = self.by_addr.range(..p).next_back().map(|(_, b)| *b);
            let after = self.by_addr.range(p + 1..).next().map(|(_, b)| *b);
            let from = before.map_or(0, |b| b.p - 8);
            let to = after.map_or(u32::MAX, |b| b.p - 8);
            if let Err(c) = self.heap.validate_span(from, to) {
                panic!(
                    "step {step}: heap corrupt at {:#x}: {} (around {p:#x})",
                    c.at, c.what
                );
            }
            if let Some(&b) = self.by_addr.get(&p) {
                self.check_block(&b);
                self.check_contents(&b, 0, b.size);
                let end = b.p as u64 + self.effective(b.p) as u64;
                if let Some(a) = before {
                    let a_end = a.p as u64 + self.effective(a.p) as u64;
                    assert!(
                        a_end <= b.p as u64 - 8,
                        "step {step}: blocks {:#x} and {:#x} overlap",
                        a.p,
                        b.p
                    );
                }
                if let Some(a) = after {
                    assert!(
                        end <= a.p as u64 - 8,
                        "step {step}: blocks {:#x} and {:#x} overlap",
                        b.p,
                        a.p
                    );
                }
            }
            for b in before.iter().chain(after.iter()) {
                self.check_block(b);
                self.check_contents(b, 0, b.size.min(EDGE));
                self.check_contents(b, b.size.saturating_sub(EDGE), b.size);
            }
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// A live block's size, alignment and effective size.
    fn check_block(&self, b: &Block) {
        let step = self.step;
        assert_eq!(self.heap.size(b.p), b.size, "step {step}: size({:#x})", b.p);
        assert!(
            b.p % b.align == 0,
            "step {step}: {:#x} lost its alignment {}",
            b.p,
            b.align
        );
        let eff = self.effective(b.p);
        assert!(
            eff >= b.size,
            "step {step}: {:#x} effective {eff} below size {}",
            b.p,
            b.size
        );
    }

    /// Bytes `from..to` of a live block against its pattern.
    fn check_contents(&self, b: &Block, from: u32, to: u32) {
        let bytes = &self.payload(b.p, to)[from as usize..];
        // In chunks without an early exit (vectorised) first, then the byte that differs.
        let differs = |(k, chunk): (usize, &[u8])| {
            let at = from + 256 * k as u32;
            let diff = chunk
                .iter()
                .zip(at..)
                .fold(0, |acc, (&byte, j)| acc | (byte ^ pattern(b.seed, j)));
            diff != 0
        };
        if !bytes.chunks(256).enumerate().any(differs) {
            return;
        }
        for (&byte, j) in bytes.iter().zip(from..) {
            assert_eq!(
                byte,
                pattern(b.seed, j),
                "step {}: byte {j} of {:#x} (size {}) changed",
                self.step,
                b.p,
                b.size
            );
        }
    }

    /// Everything the model knows: the full walk, every live block whole; at the start, every
    /// `FULL_EVERY` steps and at the end of every input.
    fn check(&mut self) -> Stats {
        let step = self.step;
        self.since_full = 0;
        let stats = self.valid();
        self.check_shape();
        self.top_room = self.heap.top_room();
        assert_eq!(stats.top_room, self.top_room, "step {step}: top room");
        let used: u64 = self.live.iter().map(|b| b.size as u64).sum();
        assert_eq!(used, self.used, "step {step}: the model's used bytes");
        assert_eq!(
            stats.used_blocks as usize,
            self.live.len(),
            "step {step}: used blocks"
        );
        assert_eq!(stats.used_bytes as u64, used, "step {step}: used bytes");
        assert_eq!(
            self.by_addr.len(),
            self.live.len(),
            "step {step}: the model's block index disagrees with its list"
        );
        for b in &self.live {
            assert_eq!(
                self.by_addr.get(&b.p).map(|a| (a.size, a.seed, a.align)),
                Some((b.size, b.seed, b.align)),
                "step {step}: the model's block index disagrees at {:#x}",
                b.p
            );
        }
        let mut end = 0u64;
        for b in self.by_addr.values() {
            self.check_block(b);
            self.check_contents(b, 0, b.size);
            assert!(
                end <= b.p as u64 - 8,
                "step {step}: block {:#x} overlaps the one before",
                b.p
            );
            end = b.p as u64 + self.effective(b.p) as u64;
        }
        stats
    }
}

/// The decoded input, for reading a crash: `{:#?}` of what `run_bytes` would run.
pub fn describe(data: &[u8]) -> String {
    match Input::arbitrary_take_rest(Unstructured::new(data)) {
        Ok(input) => format!("{:#?}", input),
        Err(e) => format!("undecodable: {e}"),
    }
}
