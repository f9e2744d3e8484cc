//! The block layout (see the top of heap.rs) as named offsets and accessors, and the rules about
//! sizes every path shares: the effective size of a request, the 125% rule, the smallest free
//! block.
//!
//! Reads are safe: the [`Source`] contract makes any address either readable or a trap (wasm)
//! / panic (host), never undefined behaviour. Writes are `unsafe fn`: a write to an address
//! that is not the heap's lands in memory somebody else owns (on wasm, the program's own stack,
//! statics or another allocator's heap), so each states what it needs, and debug builds assert
//! that the word lies inside the heap's span.

use crate::heap::Heap;
use crate::policy::Policy;
use crate::source::{Source, PAGE};

/// Bytes of a block's header; headers and payloads are 8-aligned.
pub(crate) const HEADER: u32 = 8;
/// Word 0 of a used block's header: its logical size (the size asked for).
const LOGICAL: u32 = 0;
/// Word 0 of a free block's header: the next block in its list (0: none).
const NEXT_LINK: u32 = 0;
/// Word 1 of every header: the effective size (a multiple of 8) and the flags in its low bits.
const SIZE_WORD: u32 = 4;
/// Payload word 0 of a free block: the previous block in its list (0: it is the head).
const PREV_LINK: u32 = HEADER;

/// Flag: the block is free.
pub(crate) const FREE: u32 = 1;
/// Flag: the block before is free, so the word before this header is that block's footer.
pub(crate) const PREV_FREE: u32 = 2;
/// Flag: a region's end marker, whose block spans up to the next region's start.
pub(crate) const LAST: u32 = 4;
/// All flag bits.
pub(crate) const FLAGS: u32 = 7;
/// The smallest block that can be free: a header and two words of payload (prev link, footer).
pub(crate) const MIN_FREE_BLOCK: u32 = 16;
/// Requests above this can never be met in a 4 GiB memory; refusing them early keeps every sum
/// in the core from overflowing.
pub const MAX_REQUEST: u32 = u32::MAX - 2 * PAGE;
/// What freed payloads are filled with in the checked build (between the links), so that the
/// heap walk catches writes to freed memory.
#[cfg(feature = "checked")]
pub(crate) const POISON: u8 = 0xDD;

/// Where a free block's poison starts (checked build): after its prev link; it runs `eff - 8`
/// bytes, up to the footer.
#[cfg(feature = "checked")]
pub(crate) fn poison_start(header: u32) -> u32 {
    header + PREV_LINK + 4
}

/// The effective size for a request of `size` bytes with `tail` bytes kept past it
/// (`Policy::TAIL`, I7; a constant, 0 but in the traced build), `None` for 0 or impossible
/// sizes.
#[inline(always)]
pub(crate) fn effective(size: u32, tail: u32) -> Option<u32> {
    if size.wrapping_sub(1) >= MAX_REQUEST - tail {
        return None;
    }
    Some(((size + tail + 7) & !7).max(8))
}

/// **The 125% rule (I5):** whether a free block of effective size `eff` may serve a request of
/// effective size `need`: it is large enough, and either the surplus can be split off as a free
/// block or the whole block is within 125% of the request. (Sizes are multiples of 8, so an
/// unsplittable surplus is 0 or 8, and 8 is over 125% below 32 bytes.)
#[inline(always)]
pub(crate) fn fits(eff: u32, need: u32) -> bool {
    let surplus = eff.wrapping_sub(need);
    // Surplus 0 fits, 16 or more splits; 8 is within 125% from 32 bytes up. (Written so as
    // fewer instructions: `surplus != 8 || need >= 32`, 4 bytes less in the size-tuned module.)
    debug_assert!(eff & 7 == 0 && need & 7 == 0);
    eff >= need && (surplus != HEADER || need >= 4 * HEADER)
}

/// [`fits`], and with no 8-byte tail: the block equals the request or splits (what a search
/// takes under a policy without `TAIL_OF_8`: a stricter test than the rule, fewer instructions).
#[inline(always)]
pub(crate) fn fits_without_tail(eff: u32, need: u32) -> bool {
    fits(eff, need) && eff.wrapping_sub(need) != HEADER
}

/// The effective size of a free block from its size word or its footer, which are exactly its
/// effective size with `FREE` (I3): a subtraction the compiler folds into the arithmetic around
/// it, where a mask of the flags stays (3 bytes a use in the size-tuned module).
#[inline(always)]
pub(crate) fn free_eff(word: u32) -> u32 {
    debug_assert!(
        word & FLAGS == FREE,
        "not a free block's size word: {word:#x}"
    );
    word - FREE
}

/// Bytes from `header` to the header of an `align`-aligned payload, 0 or at least 16 (a gap
/// must hold a free block).
#[inline]
pub(crate) fn aligned_gap(header: u32, align: u32) -> u32 {
    let align = align as u64;
    let payload = (header as u64 + HEADER as u64 + align - 1) & !(align - 1);
    let gap = (payload - HEADER as u64 - header as u64) as u32;
    if gap == HEADER {
        gap + align as u32
    } else {
        gap
    }
}

/// `a` if `cond`, else `b`, computed without a branch.
#[inline(always)]
pub(crate) fn select(cond: bool, a: u32, b: u32) -> u32 {
    let mask = (cond as u32).wrapping_neg();
    (a & mask) | (b & !mask)
}

impl<S: Source, P: Policy> Heap<S, P> {
    /// The word at `addr`. Safe: see the module's note.
    #[inline(always)]
    pub(crate) fn read(&self, addr: u32) -> u32 {
        // SAFETY: the source returns a pointer valid for 4 bytes at `addr` or does not return
        // (Source's contract); `addr` is 4-aligned wherever the core reads.
        unsafe { self.source.at(addr, 4).cast::<u32>().read() }
    }

    /// Whether the `len` bytes at `addr` lie inside the heap's span: from its first region's
    /// start to its current region's end (for debug assertions: the gaps between regions belong
    /// to others, but a write there is a bug these catch only in part).
    pub(crate) fn spans(&self, addr: u32, len: u32) -> bool {
        self.first != 0
            && addr >= self.first
            && addr as u64 + len as u64 <= self.limit as u64 + HEADER as u64
    }

    /// Writes the word at `addr`.
    ///
    /// # Safety
    /// - `addr` is 4-aligned and the word lies in memory the source gave this heap (a block,
    ///   a marker, or the room of the current region).
    #[inline(always)]
    pub(crate) unsafe fn write(&mut self, addr: u32, value: u32) {
        debug_assert!(
            addr & 3 == 0 && self.spans(addr, 4),
            "write outside the heap"
        );
        // SAFETY: the caller's promise; the source's pointer is valid for the word.
        unsafe { self.source.at(addr, 4).cast::<u32>().write(value) }
    }

    /// A pointer to the `len` bytes at `addr`, for copying or filling payloads. Dereferencing it
    /// outside a block of this heap is the caller's fault.
    #[inline(always)]
    pub(crate) fn at(&self, addr: u32, len: u32) -> *mut u8 {
        self.source.at(addr, len)
    }

    /// The size word (effective size and flags) of the block or marker at `header`.
    #[inline(always)]
    pub(crate) fn size_word(&self, header: u32) -> u32 {
        self.read(header + SIZE_WORD)
    }

    /// The effective size of the block at `header`.
    #[inline(always)]
    pub(crate) fn eff(&self, header: u32) -> u32 {
        self.size_word(header) & !FLAGS
    }

    /// The logical size of the used block at `header`.
    #[inline(always)]
    pub(crate) fn logical(&self, header: u32) -> u32 {
        self.read(header + LOGICAL)
    }

    /// The next link of the free block at `header`.
    #[inline(always)]
    pub(crate) fn next_link(&self, header: u32) -> u32 {
        self.read(header + NEXT_LINK)
    }

    /// The prev link of the free block at `header`.
    #[inline(always)]
    pub(crate) fn prev_link(&self, header: u32) -> u32 {
        self.read(header + PREV_LINK)
    }

    /// The footer (last payload word) of the free block at `header` of `eff` bytes.
    #[inline(always)]
    pub(crate) fn footer(&self, header: u32, eff: u32) -> u32 {
        self.read(header + SIZE_WORD + eff)
    }

    /// The sequence number of the used block at `header` of `eff` bytes, in its tail (I7): its
    /// last payload word, where a free block keeps its footer. Meaningful under a policy with a
    /// `TAIL` only.
    #[inline(always)]
    pub(crate) fn seq(&self, header: u32, eff: u32) -> u32 {
        self.read(header + SIZE_WORD + eff)
    }

    /// Writes the sequence number of the used block at `header` of `eff` bytes.
    ///
    /// # Safety
    /// `header` is a used block of this heap of `eff` bytes, under a policy with `TAIL >= 4`
    /// (so the word is past its logical size: I7).
    #[inline(always)]
    pub(crate) unsafe fn set_seq(&mut self, header: u32, eff: u32, seq: u32) {
        debug_assert!(P::TAIL >= 4 && self.logical(header) + P::TAIL <= eff);
        // SAFETY: the last payload word of a block of this heap (the caller's promise).
        unsafe { self.write(header + SIZE_WORD + eff, seq) }
    }

    /// The footer of the block before `header`: its effective size with `FREE` when it is free
    /// (`PREV_FREE` on `header`), meaningless otherwise.
    #[inline(always)]
    pub(crate) fn footer_before(&self, header: u32) -> u32 {
        self.read(header - SIZE_WORD)
    }

    /// Sets the size word of the block or marker at `header`.
    ///
    /// # Safety
    /// `header` is a block header or marker of this heap, or where one is being made (the
    /// current region's room, a part of a block being split).
    #[inline(always)]
    pub(crate) unsafe fn set_size_word(&mut self, header: u32, word: u32) {
        // SAFETY: the caller's promise: the header's words are the heap's.
        unsafe { self.write(header + SIZE_WORD, word) }
    }

    /// Sets the logical size of the used block at `header`.
    ///
    /// # Safety
    /// `header` is a used block of this heap.
    #[inline(always)]
    pub(crate) unsafe fn set_logical(&mut self, header: u32, size: u32) {
        // SAFETY: as in `set_size_word`.
        unsafe { self.write(header + LOGICAL, size) }
    }

    /// Sets the next link of the free block at `header`.
    ///
    /// # Safety
    /// `header` is a free block of this heap (or becoming one), at least `MIN_FREE_BLOCK` long.
    #[inline(always)]
    pub(crate) unsafe fn set_next_link(&mut self, header: u32, next: u32) {
        // SAFETY: as in `set_size_word`.
        unsafe { self.write(header + NEXT_LINK, next) }
    }

    /// Sets the prev link of the free block at `header`.
    ///
    /// # Safety
    /// As [`Heap::set_next_link`]: the prev link is the payload's first word.
    #[inline(always)]
    pub(crate) unsafe fn set_prev_link(&mut self, header: u32, prev: u32) {
        // SAFETY: a free block's payload is at least 8 bytes: the word is inside it.
        unsafe { self.write(header + PREV_LINK, prev) }
    }

    /// Writes a free block's size word and footer, both its effective size with `FREE` (the
    /// footer carries the flag too, so that a "header" made of a footer fails the pointer check),
    /// and in the checked build poisons its payload between the links. The links are left alone.
    ///
    /// # Safety
    /// `[header, header + 8 + eff)` is memory of this heap becoming one free block; `eff >= 8`.
    #[inline(always)]
    pub(crate) unsafe fn write_free(&mut self, header: u32, eff: u32) {
        debug_assert!(eff >= 8 && eff & FLAGS == 0 && self.spans(header, HEADER + eff));
        #[cfg(feature = "checked")]
        // SAFETY: the payload between the prev link and the footer is inside the block.
        unsafe {
            self.at(poison_start(header), eff - 8)
                .write_bytes(POISON, eff as usize - 8)
        };
        // SAFETY: the header and the last payload word (the footer) are inside the block (the
        // caller's promise).
        unsafe {
            self.set_size_word(header, eff | FREE);
            self.write(header + SIZE_WORD + eff, eff | FREE);
        }
    }
}
