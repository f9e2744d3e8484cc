//! The one shadow model of the allocator's ABI, shared by every suite that drives an allocator
//! with random operations:
//! - `tests/model.rs` (proptest, the host heap),
//! - the fuzz target `fuzz/fuzz_targets/heap_ops.rs`, whose input decoding is `fuzz/model.rs`,
//!   replayed by `tests/fuzz_corpus.rs` (the host heap),
//! - `tests/wasm_abi/random.rs` and its users (the real module under wasmtime, `Wall`).
//!
//! Each includes this file by `#[path]` (the host tests through `tests/common/mod.rs`). Here are
//! the only payload pattern ([`pattern`], [`fill_pattern`], [`pattern_mismatch`]), the only
//! header reader ([`Target::logical`], [`Target::effective`]), the allocator under test as a
//! trait ([`Target`], implemented for the host heap of every policy below and for `Wall` in
//! `tests/common/wasm.rs`) and the model ([`Shadow`]).
//!
//! The model knows every byte range of the memory as used (a live block: header and effective
//! payload, with its logical size, alignment and fill seed), known foreign (pages grown by
//! somebody else through the model) or neither (free, never used, or not the heap's). It checks:
//! - a new block: aligned; not below the heap; inside the memory; overlapping no live block and
//!   no known foreign page; `size()` and the header's logical size are the request; the 125%
//!   rule on the header's effective size (I5 in `src/heap.rs`); zero when asked zeroed;
//! - `reallocate`: the first `min(old, new)` bytes kept; a failure only when allowed, the block
//!   then intact; a shrink in place;
//! - `deallocate`: the contents intact before, `size` 0 after;
//! - bad pointers (the contract's kinds, see [`Shadow::covered`]): ignored, the heap unchanged;
//! - out of memory only when neither the top nor a free block had room (with a heap walk);
//! - after every step ([`Shadow::cheap_check`]), what the step touched: the allocator's own cheap
//!   checks where it has them ([`Target::check_shape`], [`Target::check_span`] from the live
//!   block before to the live block after), the touched block's size, alignment, header and the
//!   first and last [`EDGE`] bytes, the same of its live neighbours (where a header, footer or
//!   link written a word off lands), no overlap with them, the model's own bookkeeping;
//! - every `full_every` steps and at the end ([`Shadow::full_check`]): the allocator's full walk
//!   with its counts against the model's ([`Target::walk`]), every live block's size, header,
//!   alignment and whole contents, no overlap.
//!
//! Every byte is written by the model once when a block is handed out (or grows) and read once
//! whole when it is freed or moved, so the model's work is proportional to the allocator's own
//! copying; the per-step checks are O(touched blocks + log live).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use wall_e::{Stats, MAX_REQUEST};

// ---------------------------------------------------------------------------------------------
// The payload pattern.

/// The pattern repeats with this period (bytes; a multiple of 8).
const PATTERN_PERIOD: usize = 1 << 16;

/// Two periods of the pattern, so that any run of up to a period starting inside the first one
/// is one slice. Every byte at an index of 4 modulo 8 is odd.
fn pattern_table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut state: u64 = 0x7AB1E;
        let period: Vec<u8> = (0..PATTERN_PERIOD)
            .map(|j| {
                // SplitMix64.
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                let b = ((z ^ (z >> 31)) >> 32) as u8;
                if j % 8 == 4 {
                    b | 1
                } else {
                    b
                }
            })
            .collect();
        [period.clone(), period].concat().into_boxed_slice()
    })
}

/// Where the pattern of `seed` starts in the table: a multiple of 8.
fn pattern_start(seed: u32) -> usize {
    (seed as usize).wrapping_mul(0x9E37_79B1) % (PATTERN_PERIOD / 8) * 8
}

/// The byte at offset `i` of a payload filled with the pattern of `seed`. Every byte at an offset
/// of 4 modulo 8 is odd: payloads are 8-aligned, so any 8-aligned word pair of user data read as
/// a header carries the `FREE` flag, and a stale payload never looks like a used header to the
/// cheap header check (a pointer whose header lies in user data is one the contract covers).
pub fn pattern(seed: u32, i: u32) -> u8 {
    pattern_table()[(pattern_start(seed) + i as usize) % PATTERN_PERIOD]
}

/// Writes the pattern of `seed` for the payload offsets `from..from + bytes.len()`.
pub fn fill_pattern(bytes: &mut [u8], seed: u32, from: u32) {
    let table = pattern_table();
    let mut pos = (pattern_start(seed) + from as usize) % PATTERN_PERIOD;
    for chunk in bytes.chunks_mut(PATTERN_PERIOD) {
        chunk.copy_from_slice(&table[pos..pos + chunk.len()]);
        pos = (pos + chunk.len()) % PATTERN_PERIOD;
    }
}

/// The first payload offset (from `from`) where `bytes` differ from the pattern of `seed`.
pub fn pattern_mismatch(bytes: &[u8], seed: u32, from: u32) -> Option<u32> {
    let table = pattern_table();
    let mut pos = (pattern_start(seed) + from as usize) % PATTERN_PERIOD;
    let mut offset = from;
    for chunk in bytes.chunks(PATTERN_PERIOD) {
        let want = &table[pos..pos + chunk.len()];
        if chunk != want {
            let at = chunk.iter().zip(want).position(|(a, b)| a != b).unwrap();
            return Some(offset + at as u32);
        }
        offset += chunk.len() as u32;
        pos = (pos + chunk.len()) % PATTERN_PERIOD;
    }
    None
}

/// The request rounded as the allocator does: to 8, at least 8. What the 125% rule measures
/// against.
pub fn rounded(size: u32) -> u32 {
    size.div_ceil(8).max(1) * 8
}

/// Whether a block of effective size `eff` handed out for `size` bytes keeps the 125% rule (I5 in
/// `src/heap.rs`): a block resized in place (`resized`), or placed at an alignment above 8, may
/// keep an 8-byte tail too small to split off.
pub fn within_125(eff: u32, size: u32, resized: bool, align: u32) -> bool {
    let want = rounded(size);
    eff >= want
        && (eff as u64 * 4 <= want as u64 * 5 || ((resized || align > 8) && eff == want + 8))
}

// ---------------------------------------------------------------------------------------------
// The allocator under test.

/// An allocator with wall-e's ABI and block layout, and the memory it lives in. The optional
/// calls return `None` where the allocator has no such call (the raw module has no aligned
/// calls; a module without the `stats` feature has no walk).
pub trait Target {
    fn allocate(&mut self, size: u32) -> u32;
    fn deallocate(&mut self, p: u32);
    fn reallocate(&mut self, p: u32, size: u32) -> u32;
    fn size(&mut self, p: u32) -> u32;
    fn allocate_aligned(&mut self, _size: u32, _align: u32) -> Option<u32> {
        None
    }
    fn allocate_zeroed(&mut self, _size: u32, _align: u32) -> Option<u32> {
        None
    }
    fn reallocate_aligned(&mut self, _p: u32, _size: u32, _align: u32) -> Option<u32> {
        None
    }
    /// `deallocate` with the size the caller believes the block has (`WallE`'s `Layout`):
    /// `None` where the target has no such call.
    fn deallocate_sized(&mut self, _p: u32, _size: u32) -> Option<()> {
        None
    }
    /// `reallocate_aligned` with the size the caller believes the block has (`WallE`'s
    /// `Layout`): `None` where the target has no such call.
    fn reallocate_sized(&mut self, _p: u32, _old: u32, _size: u32, _align: u32) -> Option<u32> {
        None
    }

    /// The memory's size in bytes.
    fn memory_bytes(&self) -> u64;
    /// The `len` bytes at `addr` (panics outside the memory).
    fn bytes(&self, addr: u32, len: u32) -> &[u8];
    /// The same, to write.
    fn bytes_mut(&mut self, addr: u32, len: u32) -> &mut [u8];

    /// Whether the calls ignore the pointers the contract covers (freed, unaligned, outside the
    /// heap) rather than trap on them (the `checked` module traps).
    fn ignores_bad_pointers(&self) -> bool {
        true
    }
    /// The full heap walk and its figures.
    fn walk(&mut self) -> Option<Result<Stats, String>> {
        None
    }
    /// The cheap check of the heap's fields and list heads.
    fn check_shape(&mut self) -> Option<Result<(), String>> {
        None
    }
    /// The cheap check of the blocks from the header `from` to the first block at or above `to`.
    fn check_span(&mut self, _from: u32, _to: u32) -> Option<Result<(), String>> {
        None
    }
    /// The room between the bump pointer and the end of the current region.
    fn top_room(&mut self) -> Option<u32> {
        None
    }
    /// A digest of the heap's fields and list heads: equal when an operation changed nothing.
    fn shape_digest(&mut self) -> Option<u64> {
        None
    }
    /// Gives the cache of freed small blocks (I8) back to the heap; `None` where the target
    /// has no such call.
    fn flush_cache(&mut self) -> Option<()> {
        None
    }

    /// The little-endian word at `addr`.
    fn read_u32(&self, addr: u32) -> u32 {
        u32::from_le_bytes(self.bytes(addr, 4).try_into().unwrap())
    }
    /// A used block's logical size: the header's first word.
    fn logical(&self, p: u32) -> u32 {
        self.read_u32(p - 8)
    }
    /// A block's effective size: the header's second word without the flags.
    fn effective(&self, p: u32) -> u32 {
        self.read_u32(p - 4) & !7
    }
}

/// A host heap the model can make and whose memory it can steer (foreign growth, caps).
pub trait HostTarget: Target {
    fn with_memory(memory: wall_e::HostMemory) -> Self;
    fn memory(&self) -> &wall_e::HostMemory;
    fn memory_mut(&mut self) -> &mut wall_e::HostMemory;
}

/// The host heap of every policy: `Heap<HostMemory, Fast>` and `Heap<HostMemory, Small>`.
impl<P: wall_e::Policy> Target for wall_e::Heap<wall_e::HostMemory, P> {
    fn allocate(&mut self, size: u32) -> u32 {
        wall_e::Heap::allocate(self, size)
    }
    fn deallocate(&mut self, p: u32) {
        wall_e::Heap::deallocate(self, p)
    }
    fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        wall_e::Heap::reallocate(self, p, size)
    }
    fn size(&mut self, p: u32) -> u32 {
        wall_e::Heap::size(self, p)
    }
    fn allocate_aligned(&mut self, size: u32, align: u32) -> Option<u32> {
        Some(wall_e::Heap::allocate_aligned(self, size, align))
    }
    fn allocate_zeroed(&mut self, size: u32, align: u32) -> Option<u32> {
        Some(wall_e::Heap::allocate_zeroed(self, size, align))
    }
    fn reallocate_aligned(&mut self, p: u32, size: u32, align: u32) -> Option<u32> {
        Some(wall_e::Heap::reallocate_aligned(self, p, size, align))
    }
    fn deallocate_sized(&mut self, p: u32, size: u32) -> Option<()> {
        wall_e::Heap::deallocate_sized(self, p, size);
        Some(())
    }
    fn reallocate_sized(&mut self, p: u32, old: u32, size: u32, align: u32) -> Option<u32> {
        Some(wall_e::Heap::reallocate_sized(self, p, old, size, align))
    }
    fn memory_bytes(&self) -> u64 {
        self.source().pages() as u64 * wall_e::PAGE as u64
    }
    fn bytes(&self, addr: u32, len: u32) -> &[u8] {
        // SAFETY: `at` checks `[addr, addr + len)` against the memory's size (it panics
        // outside); the heap's memory is not borrowed by Rust (it sits behind the source's raw
        // pointer), and the slice is gone before the heap runs again.
        unsafe {
            std::slice::from_raw_parts(wall_e::Source::at(self.source(), addr, len), len as usize)
        }
    }
    fn bytes_mut(&mut self, addr: u32, len: u32) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `self` is borrowed mutably for the slice's life.
        unsafe {
            std::slice::from_raw_parts_mut(
                wall_e::Source::at(self.source(), addr, len),
                len as usize,
            )
        }
    }
    fn walk(&mut self) -> Option<Result<Stats, String>> {
        Some(self.validate().map_err(corruption))
    }
    fn check_shape(&mut self) -> Option<Result<(), String>> {
        Some(wall_e::Heap::check_shape(self).map_err(corruption))
    }
    fn check_span(&mut self, from: u32, to: u32) -> Option<Result<(), String>> {
        Some(self.validate_span(from, to).map_err(corruption))
    }
    fn top_room(&mut self) -> Option<u32> {
        Some(wall_e::Heap::top_room(self))
    }
    fn shape_digest(&mut self) -> Option<u64> {
        Some(wall_e::Heap::shape_digest(self))
    }
    fn flush_cache(&mut self) -> Option<()> {
        wall_e::Heap::flush_cache(self);
        Some(())
    }
}

impl<P: wall_e::Policy> HostTarget for wall_e::Heap<wall_e::HostMemory, P> {
    fn with_memory(memory: wall_e::HostMemory) -> Self {
        wall_e::Heap::new(memory)
    }
    fn memory(&self) -> &wall_e::HostMemory {
        self.source()
    }
    fn memory_mut(&mut self) -> &mut wall_e::HostMemory {
        self.source_mut()
    }
}

fn corruption(c: wall_e::Corruption) -> String {
    format!("heap corrupt at {:#x}: {}", c.at, c.what)
}

// ---------------------------------------------------------------------------------------------
// The model.

/// Bytes checked at each end of a touched block and of its live neighbours after a step.
pub const EDGE: u32 = 16;

/// A live block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// The payload's address.
    pub p: u32,
    /// The logical size.
    pub size: u32,
    /// The alignment asked for (at least 8).
    pub align: u32,
    /// The pattern's seed.
    pub seed: u32,
    /// The effective size when handed out (a live block's header never changes).
    pub eff: u32,
    /// The block's place in [`Shadow::pick`]'s order.
    slot: usize,
}

impl Block {
    /// Where the block's header starts.
    pub fn start(&self) -> u64 {
        self.p as u64 - 8
    }
    /// One past the block's payload.
    pub fn end(&self) -> u64 {
        self.p as u64 + self.eff as u64
    }
}

/// The allocator `T` and what it must hold.
pub struct Shadow<T: Target> {
    pub target: T,
    /// No heap address lies below this.
    pub low: u32,
    /// Live blocks by address.
    blocks: BTreeMap<u32, Block>,
    /// Their addresses in the order [`Shadow::pick`] sees them (`swap_remove` on removal).
    order: Vec<u32>,
    /// Sum of the live blocks' sizes.
    used: u64,
    /// The last 64 pointers freed (or moved away from), for bad-pointer calls.
    pub freed: Vec<u32>,
    /// Memory grown by somebody else through [`Shadow::grow_foreign`]: `[start, end)`.
    foreign: Vec<(u64, u64)>,
    next_seed: u32,
    /// The step, for messages.
    pub step: usize,
    /// A full check every this many steps (0: never between the ends).
    pub full_every: usize,
    since_full: usize,
    /// Payload addresses of blocks the current step allocated, moved or freed.
    touched: Vec<u32>,
    /// [`Target::top_room`] after the last step.
    top_room: Option<u32>,
    /// Whether out of memory is allowed (the memory is capped).
    pub may_fail: bool,
    /// Calls that ran out of memory.
    pub failures: u32,
    /// Calls made.
    pub ops: u64,
}

/// Panics with the step and the message.
macro_rules! fail {
    ($s:expr, $($arg:tt)*) => {
        panic!("step {}: {}", $s.step, format_args!($($arg)*))
    };
}

impl<T: Target> Shadow<T> {
    /// A model of `target`, an empty heap whose addresses all lie at or above `low`.
    pub fn new(target: T, low: u32, may_fail: bool) -> Self {
        let mut s = Shadow {
            target,
            low,
            blocks: BTreeMap::new(),
            order: Vec::new(),
            used: 0,
            freed: Vec::new(),
            foreign: Vec::new(),
            next_seed: 1,
            step: 0,
            full_every: 0,
            since_full: 0,
            touched: Vec::new(),
            top_room: None,
            may_fail,
            failures: 0,
            ops: 0,
        };
        s.top_room = s.target.top_room();
        s
    }

    /// Live blocks.
    pub fn len(&self) -> usize {
        self.order.len()
    }
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    /// Sum of the live blocks' logical sizes.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }
    /// The live block at `p`.
    pub fn block(&self, p: u32) -> Option<Block> {
        self.blocks.get(&p).copied()
    }
    /// Live blocks by address.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.blocks.values()
    }
    /// The live block `index % len` in allocation order (kept by `swap_remove`).
    pub fn pick(&self, index: usize) -> Option<u32> {
        (!self.order.is_empty()).then(|| self.order[index % self.order.len()])
    }
    /// The live block `index % len` by address.
    pub fn nth_by_address(&self, index: usize) -> Option<u32> {
        (!self.order.is_empty()).then(|| *self.blocks.keys().nth(index % self.order.len()).unwrap())
    }

    fn new_seed(&mut self) -> u32 {
        self.next_seed = self.next_seed.wrapping_add(0x2545_F491);
        self.next_seed
    }

    /// The live block whose header or payload holds `addr`.
    fn holder(&self, addr: u64) -> Option<&Block> {
        let key = (addr + 8).min(u32::MAX as u64) as u32;
        self.blocks
            .range(..=key)
            .next_back()
            .map(|(_, b)| b)
            .filter(|b| addr >= b.start() && addr < b.end())
    }

    /// The live blocks just below and just above `p` (the block at `p` itself excluded).
    fn neighbours(&self, p: u32) -> (Option<Block>, Option<Block>) {
        let before = self.blocks.range(..p).next_back().map(|(_, b)| *b);
        let after = self
            .blocks
            .range(p.saturating_add(1)..)
            .next()
            .map(|(_, b)| *b);
        (before, after)
    }

    // -- checks of single blocks

    /// Bytes `from..to` of a live block against its pattern.
    fn check_contents(&self, b: &Block, from: u32, to: u32, what: &str) {
        if from >= to {
            return;
        }
        let bytes = self.target.bytes(b.p + from, to - from);
        if let Some(at) = pattern_mismatch(bytes, b.seed, from) {
            fail!(
                self,
                "{what}: byte {at} of {:#x} (size {}) changed",
                b.p,
                b.size
            );
        }
    }

    /// The first and last [`EDGE`] bytes of a live block.
    fn check_edges(&self, b: &Block, what: &str) {
        self.check_contents(b, 0, b.size.min(EDGE), what);
        self.check_contents(
            b,
            b.size.saturating_sub(EDGE).max(EDGE.min(b.size)),
            b.size,
            what,
        );
    }

    /// A live block's size, header, alignment.
    fn check_block(&mut self, b: &Block) {
        let size = self.target.size(b.p);
        if size != b.size {
            fail!(self, "size({:#x}) is {size}, not {}", b.p, b.size);
        }
        let (logical, eff) = (self.target.logical(b.p), self.target.effective(b.p));
        if (logical, eff) != (b.size, b.eff) {
            fail!(
                self,
                "header of {:#x} is ({logical}, {eff}), not ({}, {})",
                b.p,
                b.size,
                b.eff
            );
        }
        if b.p % b.align != 0 {
            fail!(self, "{:#x} lost its alignment {}", b.p, b.align);
        }
    }

    /// Checks a block just handed out for `size` bytes aligned to `align`; returns its effective
    /// size.
    fn check_new(&mut self, p: u32, size: u32, align: u32, resized: bool) -> u32 {
        if p % align.max(8) != 0 {
            fail!(self, "{p:#x} not aligned to {align}");
        }
        if p < self.low.saturating_add(8) {
            fail!(self, "{p:#x} below the heap ({:#x})", self.low);
        }
        let got = self.target.size(p);
        if got != size {
            fail!(self, "size of new block {p:#x} is {got}, not {size}");
        }
        let logical = self.target.logical(p);
        if logical != size {
            fail!(
                self,
                "logical size in the header of {p:#x} is {logical}, not {size}"
            );
        }
        let eff = self.target.effective(p);
        if !within_125(eff, size, resized, align) {
            fail!(self, "effective {eff} for a request of {size} at {p:#x}");
        }
        let end = p as u64 + eff as u64;
        if end > self.target.memory_bytes() {
            fail!(self, "block {p:#x}+{eff} beyond memory");
        }
        let start = p as u64 - 8;
        if let Some(&(from, to)) = self
            .foreign
            .iter()
            .find(|&&(from, to)| start < to && end > from)
        {
            fail!(
                self,
                "block {p:#x}..{end:#x} in foreign memory {from:#x}..{to:#x}"
            );
        }
        let (before, after) = self.neighbours(p);
        if let Some(a) = before.filter(|a| a.end() > start) {
            fail!(
                self,
                "new block {p:#x} overlaps live {:#x}..{:#x}",
                a.p,
                a.end()
            );
        }
        if let Some(a) = after.filter(|a| a.start() < end) {
            fail!(self, "new block {p:#x}..{end:#x} overlaps live {:#x}", a.p);
        }
        eff
    }

    // -- the model's bookkeeping

    fn add(&mut self, mut b: Block) {
        b.slot = self.order.len();
        if self.blocks.insert(b.p, b).is_some() {
            fail!(self, "{:#x} handed out twice", b.p);
        }
        self.order.push(b.p);
        self.used += b.size as u64;
        self.touched.push(b.p);
    }

    fn remove(&mut self, p: u32) -> Block {
        let b = self.blocks.remove(&p).expect("a live block");
        self.order.swap_remove(b.slot);
        if let Some(&moved) = self.order.get(b.slot) {
            self.blocks.get_mut(&moved).unwrap().slot = b.slot;
        }
        self.used -= b.size as u64;
        self.touched.push(p);
        b
    }

    fn remember_freed(&mut self, p: u32) {
        if self.freed.len() >= 64 {
            self.freed.remove(0);
        }
        self.freed.push(p);
    }

    /// A fresh block `p` for `size` bytes: checked, filled, entered.
    fn admit(&mut self, p: u32, size: u32, align: u32, zeroed: bool) {
        let eff = self.check_new(p, size, align, false);
        if zeroed && self.target.bytes(p, size).iter().any(|&b| b != 0) {
            fail!(
                self,
                "zeroed block {p:#x} ({size} bytes, align {align}) not zero"
            );
        }
        let seed = self.new_seed();
        fill_pattern(self.target.bytes_mut(p, size), seed, 0);
        self.add(Block {
            p,
            size,
            align: align.max(8),
            seed,
            eff,
            slot: 0,
        });
    }

    /// Out of memory for `size` bytes aligned to `align`: allowed only under a cap, and only
    /// when neither the top nor a free block had room.
    fn check_out_of_memory(&mut self, size: u32, align: u32, what: &dyn Fn(u32) -> String) {
        let what = || what(size);
        self.failures += 1;
        if !self.may_fail {
            fail!(self, "{} failed without a cap", what());
        }
        let need = rounded(size) as u64;
        if let Some(top_room) = self.top_room {
            let slack = if align > 8 { align as u64 + 16 } else { 0 };
            if need + 8 + slack <= top_room as u64 {
                fail!(self, "{} failed with {top_room} bytes at the top", what());
            }
        }
        if align <= 8 {
            // The largest free block from a walk after the failure: the same as before it, or
            // (default core) the room left when a region was closed on the way, which was too
            // small for the request (checked above).
            if let Some(stats) = self.walk("out of memory") {
                if stats.largest_free as u64 >= 2 * (need + 16) {
                    fail!(
                        self,
                        "{} failed with a free block of {}",
                        what(),
                        stats.largest_free
                    );
                }
            }
        }
    }

    // -- operations

    /// `allocate(size)` (`align` 0: 8-aligned), `allocate_aligned(size, align)` or, when
    /// `zeroed`, `allocate_zeroed(size, align)`; returns the block or 0.
    pub fn allocate(&mut self, size: u32, align: u32, zeroed: bool) -> u32 {
        self.ops += 1;
        let p = if zeroed {
            self.target
                .allocate_zeroed(size, align)
                .expect("allocate_zeroed")
        } else if align == 0 {
            self.target.allocate(size)
        } else {
            self.target
                .allocate_aligned(size, align)
                .expect("allocate_aligned")
        };
        let what = |size: u32| {
            let zeroed = if zeroed { ", zeroed" } else { "" };
            format!("allocate({size}, {align}{zeroed})")
        };
        self.finish_allocation(p, size, align.max(8), zeroed, &what);
        p
    }

    /// `reallocate(0, size)`: an allocation.
    pub fn reallocate_nil(&mut self, size: u32) -> u32 {
        self.ops += 1;
        let p = self.target.reallocate(0, size);
        self.finish_allocation(p, size, 8, false, &|size| format!("reallocate(0, {size})"));
        p
    }

    /// The checks after an allocating call; `what` names the call (only built for a message).
    fn finish_allocation(
        &mut self,
        p: u32,
        size: u32,
        align: u32,
        zeroed: bool,
        what: &dyn Fn(u32) -> String,
    ) {
        if size == 0 || size > MAX_REQUEST {
            if p != 0 {
                fail!(self, "{} must be nil, is {p:#x}", what(size));
            }
        } else if p == 0 {
            self.check_out_of_memory(size, align, what);
        } else {
            self.admit(p, size, align, zeroed);
        }
    }

    /// Frees the live block `p`.
    pub fn deallocate(&mut self, p: u32) {
        self.ops += 1;
        let b = self.remove(p);
        self.check_contents(&b, 0, b.size, "before deallocate");
        // Every other free with the block's size (as `WallE` frees with its `Layout`), every
        // fourth of those with a wrong one (the header decides: the block is freed all the same).
        let sized = match self.ops % 8 {
            0 | 2 | 4 => self.target.deallocate_sized(p, b.size),
            6 => self.target.deallocate_sized(p, b.size.wrapping_add(8)),
            _ => None,
        };
        if sized.is_none() {
            self.target.deallocate(p);
        }
        if self.target.ignores_bad_pointers() {
            let size = self.target.size(p);
            if size != 0 {
                fail!(self, "freed block {p:#x} still has a size ({size})");
            }
        }
        self.remember_freed(p);
    }

    /// Resizes the live block `p` with `reallocate`, or with `reallocate_aligned` and the
    /// block's alignment when `keep_align` (and the target has it); returns the result.
    pub fn reallocate(&mut self, p: u32, size: u32, keep_align: bool) -> u32 {
        self.ops += 1;
        let b = self.blocks[&p];
        self.check_contents(&b, 0, b.size, "before reallocate");
        let aligned = if keep_align {
            // Half the time with the size the caller holds (`WallE`'s realloc), now and then a
            // wrong one (the header decides).
            let sized = match self.ops % 8 {
                0 | 2 | 4 => self.target.reallocate_sized(p, b.size, size, b.align),
                6 => self
                    .target
                    .reallocate_sized(p, b.size.wrapping_add(8), size, b.align),
                _ => None,
            };
            sized.or_else(|| self.target.reallocate_aligned(p, size, b.align))
        } else {
            None
        };
        let align = if aligned.is_some() { b.align } else { 8 };
        let q = aligned.unwrap_or_else(|| self.target.reallocate(p, size));
        if size == 0 {
            if q != 0 {
                fail!(self, "reallocate({p:#x}, 0) must return nil, is {q:#x}");
            }
            self.remove(p);
            if self.target.ignores_bad_pointers() && self.target.size(p) != 0 {
                fail!(self, "reallocate({p:#x}, 0) did not free");
            }
            self.remember_freed(p);
            return q;
        }
        if q == 0 {
            if size <= MAX_REQUEST {
                if !self.may_fail {
                    fail!(self, "reallocate({p:#x}, {size}) failed without a cap");
                }
                if rounded(size) <= b.eff {
                    fail!(
                        self,
                        "reallocate({p:#x}, {size}) failed though it fits in place"
                    );
                }
                self.failures += 1;
            }
            // The block must be intact.
            self.check_block(&b);
            self.check_contents(&b, 0, b.size, "after a failed reallocate");
            return 0;
        }
        if size > MAX_REQUEST {
            fail!(self, "reallocate({p:#x}, {size}) succeeded");
        }
        if rounded(size) <= b.eff && q != p {
            fail!(self, "a shrinking reallocate moved {p:#x} to {q:#x}");
        }
        self.remove(p);
        let eff = self.check_new(q, size, align, true);
        let keep = b.size.min(size);
        if let Some(at) = pattern_mismatch(self.target.bytes(q, keep), b.seed, 0) {
            fail!(
                self,
                "reallocate({p:#x}, {size}) = {q:#x} lost byte {at} of {keep}"
            );
        }
        if size > b.size {
            fill_pattern(
                self.target.bytes_mut(q + b.size, size - b.size),
                b.seed,
                b.size,
            );
        }
        if q != p {
            self.remember_freed(p);
        }
        self.add(Block {
            p: q,
            size,
            align: if q == p { b.align } else { align },
            seed: b.seed,
            eff,
            slot: 0,
        });
        q
    }

    /// `size(p)` of the live block `p`.
    pub fn check_size(&mut self, p: u32) {
        self.ops += 1;
        let b = self.blocks[&p];
        let size = self.target.size(p);
        if size != b.size {
            fail!(self, "size({p:#x}) is {size}, not {}", b.size);
        }
    }

    /// Whether `p` is a pointer the contract says every call ignores: nil, unaligned, outside
    /// the memory, below the heap, or one whose 8 bytes before lie outside every live block (a
    /// freed pointer, a free block, a region marker, above the bump pointer). Interior pointers
    /// (header inside a live block) are not covered: the default build's header check cannot
    /// see them.
    pub fn covered(&self, p: u32) -> bool {
        p == 0
            || p & 7 != 0
            || p < self.low.saturating_add(8)
            || p as u64 >= self.target.memory_bytes()
            || self.holder(p as u64 - 8).is_none()
    }

    /// The gaps between live blocks (and below the first, above the last, up to the end of the
    /// memory), from the heap's lowest aligned address: `[from, to)`.
    pub fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut from = (self.low as u64 + 7) & !7;
        for b in self.blocks.values() {
            if b.start() > from {
                gaps.push((from, b.start()));
            }
            from = from.max(b.end());
        }
        let end = self.target.memory_bytes();
        if end > from {
            gaps.push((from, end));
        }
        gaps
    }

    /// The two words before `p`, if they lie in memory.
    fn header_words(&self, p: u32) -> Option<(u32, u32)> {
        let ok = p >= 8 && p as u64 <= self.target.memory_bytes();
        ok.then(|| (self.target.read_u32(p - 8), self.target.read_u32(p - 4)))
    }

    /// `size`, `reallocate` (to `size`), `deallocate` and `deallocate_sized` of a pointer the contract covers (see
    /// [`Shadow::covered`]; others are skipped, as is `reallocate(0, _)`, an allocation): each
    /// must be ignored, the heap left as it was: its fields and list heads
    /// ([`Target::shape_digest`]) and the 8 bytes before `p`, where a used block's header would
    /// be (freeing writes its flags first); anything else is left to the next full check.
    /// Returns whether the calls were made.
    pub fn bad_pointer(&mut self, p: u32, size: u32, what: &dyn std::fmt::Debug) -> bool {
        if !self.covered(p) {
            return false;
        }
        self.ops += 1;
        let before = (self.target.shape_digest(), self.header_words(p));
        let got = self.target.size(p);
        if got != 0 {
            fail!(self, "size({p:#x}) of a bad pointer ({what:?}) is {got}");
        }
        if p != 0 {
            let q = self.target.reallocate(p, size);
            if q != 0 {
                fail!(
                    self,
                    "reallocate({p:#x}, {size}) of a bad pointer ({what:?}) is {q:#x}"
                );
            }
        }
        // With a size too: the header's own (a block freed, or a fake header the check must
        // refuse), the caller's, and the smallest.
        if let Some((logical, _)) = self.header_words(p) {
            if p != 0 {
                let q = self
                    .target
                    .reallocate_sized(p, logical, logical.wrapping_add(64), 8);
                if q.is_some_and(|q| q != 0) {
                    fail!(self, "reallocate_sized({p:#x}) of a bad pointer ({what:?})");
                }
            }
            self.target.deallocate_sized(p, logical);
        }
        self.target.deallocate_sized(p, size);
        self.target.deallocate_sized(p, 8);
        self.target.deallocate(p);
        if (self.target.shape_digest(), self.header_words(p)) != before {
            fail!(self, "bad pointer {p:#x} ({what:?}) changed the heap");
        }
        true
    }

    /// Grows the memory by `pages` on somebody else's behalf (through `grow`, which returns the
    /// old size in pages): the model then knows those pages are not the heap's.
    pub fn grow_foreign(&mut self, pages: u32, grow: impl FnOnce(&mut T) -> Option<u32>) {
        if let Some(old) = grow(&mut self.target) {
            let page = wall_e::PAGE as u64;
            self.foreign
                .push((old as u64 * page, (old + pages) as u64 * page));
        }
    }

    // -- checks of the whole

    /// After every step: the cheap checks, and every `full_every` steps the full one.
    pub fn after_step(&mut self) {
        self.since_full += 1;
        if self.full_every != 0 && self.since_full >= self.full_every {
            self.full_check();
        } else {
            self.cheap_check();
        }
        self.step += 1;
    }

    /// What the step touched (see the module docs): O(touched blocks + classes + log live).
    pub fn cheap_check(&mut self) {
        if let Some(Err(e)) = self.target.check_shape() {
            fail!(self, "{e}");
        }
        self.top_room = self.target.top_room();
        let touched = std::mem::take(&mut self.touched);
        for &p in &touched {
            // The live blocks around `p` (the block at `p` may be gone).
            let (before, after) = self.neighbours(p);
            let from = before.map_or(0, |b| b.p - 8);
            let to = after.map_or(u32::MAX, |b| b.p - 8);
            if let Some(Err(e)) = self.target.check_span(from, to) {
                fail!(self, "{e} (around {p:#x})");
            }
            for b in before
                .iter()
                .chain(self.blocks.get(&p))
                .chain(after.iter())
                .copied()
                .collect::<Vec<_>>()
            {
                self.check_block(&b);
                self.check_edges(&b, "edges");
            }
            if let Some(b) = self.blocks.get(&p) {
                if before.is_some_and(|a| a.end() > b.start())
                    || after.is_some_and(|a| b.end() > a.start())
                {
                    fail!(self, "block {p:#x} overlaps a neighbour");
                }
            }
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// The full walk and its figures against the model's.
    pub fn walk(&mut self, what: &str) -> Option<Stats> {
        let stats = match self.target.walk()? {
            Ok(stats) => stats,
            Err(e) => fail!(self, "{e} ({what})"),
        };
        if (stats.used_blocks as usize, stats.used_bytes as u64) != (self.len(), self.used) {
            fail!(
                self,
                "the walk finds {} used blocks of {} bytes, the model {} of {} ({what})",
                stats.used_blocks,
                stats.used_bytes,
                self.len(),
                self.used
            );
        }
        Some(stats)
    }

    /// Everything the model knows: the allocator's cheap checks and full walk, every live block
    /// whole, the model's own bookkeeping. Returns the walk's figures if the target walks.
    pub fn full_check(&mut self) -> Option<Stats> {
        self.since_full = 0;
        self.touched.clear();
        if let Some(Err(e)) = self.target.check_shape() {
            fail!(self, "{e}");
        }
        let stats = self.walk("full check");
        self.top_room = self.target.top_room();
        if let (Some(stats), Some(room)) = (stats, self.top_room) {
            if stats.top_room != room {
                fail!(
                    self,
                    "top room: the walk says {}, the heap {room}",
                    stats.top_room
                );
            }
        }
        let used: u64 = self.blocks.values().map(|b| b.size as u64).sum();
        assert_eq!(
            used, self.used,
            "step {}: the model's used bytes",
            self.step
        );
        assert_eq!(
            self.blocks.len(),
            self.order.len(),
            "step {}: the model's index",
            self.step
        );
        for (slot, p) in self.order.iter().enumerate() {
            assert_eq!(
                self.blocks[p].slot, slot,
                "step {}: the model's order",
                self.step
            );
        }
        let mut end = 0u64;
        let blocks: Vec<Block> = self.blocks.values().copied().collect();
        for b in &blocks {
            self.check_block(b);
            self.check_contents(b, 0, b.size, "full check");
            if end > b.start() {
                fail!(self, "block {:#x} overlaps the one before", b.p);
            }
            end = b.end();
        }
        stats
    }

    /// Frees every live block (newest first, with the cheap checks after each), checks
    /// everything, then gives the cache back (where the target can) and checks everything
    /// again: returns the last walk's figures, which must show no used block, and no cached
    /// one after the flush.
    pub fn free_all(&mut self) -> Option<Stats> {
        while let Some(&p) = self.order.last() {
            self.deallocate(p);
            self.after_step();
        }
        let mut stats = self.full_check();
        if self.flush_cache() {
            stats = self.full_check();
            if let Some(s) = stats {
                if s.cached_blocks != 0 {
                    fail!(self, "cached blocks left after the flush: {s:?}");
                }
            }
        }
        if let Some(s) = stats {
            if (s.used_blocks, s.used_bytes) != (0, 0) {
                fail!(self, "blocks left after freeing all: {s:?}");
            }
        }
        stats
    }

    /// Gives the target's cache back to its heap; false where the target has no such call.
    /// Every live block must stay as it was (the next full check sees to that).
    pub fn flush_cache(&mut self) -> bool {
        self.ops += 1;
        self.target.flush_cache().is_some()
    }
}
