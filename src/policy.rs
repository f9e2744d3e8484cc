//! What the speed-tuned and the size-tuned builds spend differently: a [`Policy`] is a type
//! parameter of [`crate::Heap`], so both compile (and are tested) in every build, and every rule
//! they share (block layout, links, merging, the 125% rule, the pointer check, growth) is
//! written once in heap.rs. The constants are known at compile time: a feature a policy turns
//! off leaves no code behind.

use crate::cache::{Bins, CacheBins, NoCache};
use crate::classes::{Classes, PowersOfTwo, Quarters};

/// The choices of one build: [`Fast`] (the default), [`Small`] or [`Traced`]. What a policy
/// tunes (`Tuning`) is internal: hidden from the API, named only by the crate and its tests.
pub trait Policy: Tuning {}

impl Policy for Fast {}
impl Policy for Small {}
impl<P: Policy> Policy for Traced<P> {}

/// What a policy tunes (re-exported `#[doc(hidden)]` for the crate's tests: not public API).
pub trait Tuning: 'static {
    /// The size classes and the index of non-empty lists.
    type Lists: Classes;
    /// Keep the rest of a block split for a small request, up to `SPARE_KEEP` bytes, out of the
    /// lists as the *spare*, carved by the next small requests with no list work (FIFO-like
    /// patterns free the block next to it).
    const SPARE: bool;
    /// When the head of a request's own class is too small, how many blocks after it are looked
    /// at for the smallest that fits (0: only the head).
    const FIT_LOOKS: u32;
    /// A block that grows by a little and must move gets headroom for the next little growths,
    /// and a block shrunk in place keeps a slack within 125%.
    const HEADROOM: bool;
    /// When a region is left behind (memory grown by somebody else in between), the room above
    /// its top becomes a listed free block; otherwise its end marker spans that room.
    const LIST_REGION_REST: bool;
    /// Merging keeps a free block's place in its list when its class does not change (links
    /// move, no unlink and push): faster, more code.
    const KEEP_LIST_PLACE: bool;
    /// `allocate` and `deallocate` are `reallocate(0, size)` and `reallocate(p, 0)`: the
    /// standalone module then has one function for the three calls.
    const ONE_ENTRY: bool;
    /// The commonest cases (a block freed just below `top`) are inlined at every call site;
    /// otherwise each path exists once.
    const INLINE_FAST_PATHS: bool;
    /// Linking and unlinking write a missing neighbour's link into the block's own words
    /// rather than branch (no mispredicted branch); with branches the code is smaller.
    const BRANCHLESS_LINKS: bool;
    /// A search may take a free block 8 bytes larger than a request of 32 bytes or more (the
    /// 125% rule allows it, `block::fits`); without, it takes only a block that equals
    /// the request or splits (fewer instructions: 6 bytes in the size-tuned module).
    const TAIL_OF_8: bool;
    /// The cache of freed small blocks in front of the heap (cache.rs, I8): `Bins` of the
    /// effective sizes it caches, or `NoCache` (no bytes, no code).
    type Cache: CacheBins;
    /// Blocks a bin holds at most; a block freed into a full bin goes to the heap.
    const CACHE_CAP: u32;
    /// Blocks a medium bin (cache.rs: 1-16 KiB, 16 bins an octave) holds at most.
    const MEDIUM_CAP: u32 = 0;
    /// Every request above 64 bytes is given an odd multiple of 8 bytes (as the small cache
    /// classes are), and the heap's first payload is 16-aligned: a block of such a size
    /// keeps the next block's payload in its own 16-byte phase, so that payloads are
    /// 16-aligned but where a smaller block or a gap changed the phase.
    const ODD_SIZES: bool = false;
    /// A large block (`LARGE_MIN` bytes or more, alignment up to `PAGE_EDGE`) never starts
    /// within `PAGE_EDGE` bytes of a 4 KiB boundary: a gap of at most 264 bytes goes in front,
    /// as a free block (heap.rs, `Heap::placement_gap`). Writing one byte per 4 KiB of a
    /// block placed that close to a boundary takes 1.8x the time of one placed farther in, on
    /// this machine's CPU (docs/large-blocks.md).
    const LARGE_OFF_EDGE: bool;
    /// Bytes every used block keeps past its logical size, at the end of its payload (I7): 0, or
    /// 4 under [`Traced`], whose last payload word holds the allocation's sequence number.
    const TAIL: u32 = 0;
}

/// The policy `P` with a tail word on every used block (I7): the traced module (feature
/// `trace`, `pkg/wall-e.trace.wasm`) writes each allocation's sequence number there, so that
/// the heap walk can list the live blocks in the order they were allocated (leaks, blocks.rs).
/// Every other choice is `P`'s. The cost: a request of `n` bytes takes `n + 4` rounded up to 8,
/// so 8 bytes more when `n % 8` is 0 or above 4, nothing otherwise; the 125% rule (I5) holds
/// for that larger request.
pub struct Traced<P>(P);

impl<P: Policy> Tuning for Traced<P> {
    type Lists = P::Lists;
    const SPARE: bool = P::SPARE;
    const FIT_LOOKS: u32 = P::FIT_LOOKS;
    const HEADROOM: bool = P::HEADROOM;
    const LIST_REGION_REST: bool = P::LIST_REGION_REST;
    const KEEP_LIST_PLACE: bool = P::KEEP_LIST_PLACE;
    const ONE_ENTRY: bool = P::ONE_ENTRY;
    const INLINE_FAST_PATHS: bool = P::INLINE_FAST_PATHS;
    const BRANCHLESS_LINKS: bool = P::BRANCHLESS_LINKS;
    const TAIL_OF_8: bool = P::TAIL_OF_8;
    const LARGE_OFF_EDGE: bool = P::LARGE_OFF_EDGE;
    // No cache: a cached block handed out again would get no new sequence number, and the
    // traced build is for seeing every block as the heap holds it.
    type Cache = NoCache;
    const CACHE_CAP: u32 = 0;
    const TAIL: u32 = 4;
}

/// The speed-tuned policy (the default): the cache of freed small blocks, quarter classes with
/// a bitmap, the spare, a bounded look for a closer fit, realloc headroom, region rests reused.
/// Each extra reviewed with the cache in front (docs/small-blocks.md), switched off alone: the
/// spare costs realloc growth 2,594 -> 2,687 instructions a call and mixed sizes 4.3 -> 4.4 MiB
/// when off; the closer fit, mixed sizes 4.3 -> 4.5 MiB; headroom, string building 371 -> 518.
/// The closer fit costs talc's random actions (Rust-level, 1-10,000 B) ~5%: without it x1.61-1.67
/// wasmalloc's time in wasmtime against x1.70-1.80, but `make bench`'s mixed sizes grow 4.2 ->
/// 4.4 MiB, past dlmalloc's 4.2 (docs/small-blocks.md, "talc's random actions").
pub struct Fast;

impl Tuning for Fast {
    type Lists = Quarters;
    const SPARE: bool = true;
    const FIT_LOOKS: u32 = 4;
    const HEADROOM: bool = true;
    const LIST_REGION_REST: bool = true;
    const KEEP_LIST_PLACE: bool = true;
    const ONE_ENTRY: bool = false;
    const INLINE_FAST_PATHS: bool = true;
    const BRANCHLESS_LINKS: bool = true;
    const TAIL_OF_8: bool = true;
    // Large blocks 256 KiB-4 MiB, a byte written per 4 KiB (make bench-rust, Node): 3,330 ->
    // ~1,900 ns a block, talc's time; at most 264 bytes of gap, a free block (docs/large-blocks.md).
    const LARGE_OFF_EDGE: bool = true;
    type Cache = Bins<CACHE_BINS>;
    const CACHE_CAP: u32 = CACHE_CAP;
    const MEDIUM_CAP: u32 = MEDIUM_CAP;
    // talc's random actions (Rust-level, 1-10,000 B, align 8-2,048) under wasmtime: 225.6 ->
    // 217.7 instructions an action (wasmalloc 181.0), over-aligned requests through the heap
    // 6,120 -> 3,439 in 100,000 natively; with realloc 342.6 -> 349.3 (not explained); memory
    // equal, `pkg/wall-e.wasm` +19 bytes (docs/small-blocks.md, "The 16-byte phase").
    const ODD_SIZES: bool = true;
}

/// `Fast`'s cache: 69 bins, requests up to 1,032 bytes (Rust programs' small objects reach
/// 1,024; bins of one size to 64 bytes, then of two: cache.rs). Against bins up to 256 bytes, on the raw benchmark: mixed sizes 297 ->
/// 285 instructions a call, but 4.2 -> 4.4 MiB of heap, realloc growth 2,576 -> 2,663. See
/// docs/small-blocks.md.
///
/// Then 64 medium bins (1-16 KiB, 16 an octave, cache.rs): talc's random actions (Rust-level,
/// 1-10,000 B) under wasmtime 326 -> 233 instructions an action (wasmalloc 181), x1.69-1.71 ->
/// x1.29-1.32 wasmalloc's time; `make bench`'s mixed sizes 309 -> 270 instructions a call.
/// Memory: random actions 2,880 -> 3,008 KiB (x1.07 dlmalloc's), mixed sizes (full scale)
/// 4.4 -> 4.7 MiB (x1.07); medium bins only to 4 KiB: 4.5 MiB natively, but most of the random
/// actions' sizes uncached (docs/small-blocks.md, "Medium blocks").
const CACHE_BINS: usize = 69 + 64;
/// `Fast`'s bound on each medium bin: natively, talc's random actions 273 / 267 / 273 / 274
/// instructions an action at caps 4 / 8 / 16 / 32, pages within one of each other;
/// `bench/replay mixed` 72-73 pages at caps 2-16 (main: 69).
const MEDIUM_CAP: u32 = 16;
/// `Fast`'s bound on each bin: a large one costs no memory (the cache gives blocks back before
/// the heap grows), and a structure freed whole comes back from the cache (parser tree: 269,
/// 255, 218 instructions a call at caps 64, 256, 1,024 then; 239 -> 199 from 1,024 to 2,048,
/// its 10,000 nodes fitting six bins: 17.6 -> 12.8 ns/op under wasmtime, 20.8 -> 15.4 in V8,
/// ×1.28 -> ×0.93 wasmalloc's time. The price: a flush before growth walks up to twice the
/// isolated holes, scaling 100k 467 -> 604 instructions a call, 105 -> 112 ns/op; heaps
/// unchanged on every row. docs/small-blocks.md, "Misfits among cached holes". Since then a
/// bin's walk stops after a run of isolated holes, cache.rs `ISOLATED_RUN`: 521 -> 320.)
const CACHE_CAP: u32 = 2048;

/// The size-tuned policy (feature `small` for the standalone module and `WallE`): a class per
/// power of two with a one-word bitmap, none of `Fast`'s extras, one entry point, every path
/// once and out of line (`release`, `ensure`), links written with branches, a search that takes
/// no 8-byte tail: pkg/wall-e.small.wasm 1,363 -> 1,129 bytes, step by step in docs/design.md,
/// then 1,149 with the bitmap (docs/module.md, "The size-tuned module: what each byte buys"),
/// then 1,020 (docs/design.md, "Since then").
pub struct Small;

impl Tuning for Small {
    type Lists = PowersOfTwo;
    const SPARE: bool = false;
    const FIT_LOOKS: u32 = 0;
    const HEADROOM: bool = false;
    const LIST_REGION_REST: bool = false;
    const KEEP_LIST_PLACE: bool = false;
    const ONE_ENTRY: bool = true;
    const INLINE_FAST_PATHS: bool = false;
    const BRANCHLESS_LINKS: bool = false;
    const TAIL_OF_8: bool = false;
    const LARGE_OFF_EDGE: bool = false;
    type Cache = NoCache;
    const CACHE_CAP: u32 = 0;
}

/// The policy of the standalone module and of `WallE`: [`Small`] with the feature `small`, else
/// [`Fast`].
#[cfg(not(feature = "small"))]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub type Chosen = Fast;
/// The policy of the standalone module and of `WallE`: [`Small`] with the feature `small`, else
/// [`Fast`].
#[cfg(feature = "small")]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub type Chosen = Small;
