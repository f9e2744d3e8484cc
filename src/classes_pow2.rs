//! The size-tuned class scheme ([`crate::Small`]): one class per power of two, and a one-word
//! bitmap of the non-empty lists.
//!
//! Class `c` holds the free blocks whose effective size is in `[2^c, 2^(c+1))`: finding it is
//! one `clz`, and the first non-empty class at or above a request's is one `ctz` of the bitmap.
//! (Without the bitmap a search read the heads from its class up, up to 29 words, on every
//! request that found nothing listed: LIFO 403 -> 275 instructions a call, see
//! docs/module.md.) The price is memory: a class spans a factor of 2, so a block found in a
//! class above the request's may be up to twice as large (it is split), and a block of the
//! request's own class that would fit may sit behind a head that does not.

use crate::classes::Classes;

/// The bitmap (bit `c` set exactly when the list of class `c` is non-empty) and the heads of the
/// free lists by power of two; classes 0 to 2 stay empty (no block is smaller than 8 bytes).
/// 64 heads, of which 32 are used: `class & 63` indexes them with no bounds check, and a class
/// from a `clz` or a `ctz` (at most 63, 32) with no mask at all (6 bytes less in the size-tuned
/// module than `& 31`; 128 bytes of statics). (The bitmap comes first: in the size-tuned module
/// it is a scalar static, which scripts/small-post.mjs turns into a wasm global.)
#[repr(C)]
pub struct PowersOfTwo {
    bits: u32,
    heads: [u32; 64],
}

impl Classes for PowersOfTwo {
    const OWN_CLASS_FITS: bool = false;
    const ABOVE_FITS: bool = false;
    const CLASSES: usize = 32;
    const EMPTY: Self = PowersOfTwo {
        bits: 0,
        heads: [0; 64],
    };

    #[inline(always)]
    fn class_of(eff: u32) -> usize {
        (eff.leading_zeros() ^ 31) as usize
    }

    #[inline(always)]
    fn head(&self, class: usize) -> u32 {
        self.heads[class & 63]
    }

    #[inline(always)]
    fn set_head(&mut self, class: usize, head: u32) {
        self.heads[class & 63] = head;
        // Without a branch: the class's bit is cleared if `head` is 0 (a branch made LLVM write
        // the head twice, 14 bytes more); flipped, as the list was non-empty, so set (3 bytes
        // less than a mask).
        debug_assert!(self.is_marked(class));
        self.bits ^= ((head == 0) as u32) << (class & 31);
    }

    #[inline(always)]
    fn push_head(&mut self, class: usize, head: u32) {
        self.heads[class & 63] = head;
        self.bits |= 1 << (class & 31);
    }

    /// The next class: its blocks are at least twice the own class's smallest, but a head 8
    /// bytes above a request below 32 bytes (16 for 8) fails the rule, so heads are checked.
    #[inline(always)]
    fn above(own: usize, _need: u32) -> usize {
        own + 1
    }

    /// (`class` is at most 32, which finds nothing.)
    #[inline(always)]
    fn first_at_or_above(&self, class: usize) -> Option<usize> {
        debug_assert!((1..=32).contains(&class));
        // The bits from `class` up, by a mask shifted in two steps, each below 32 (`class` is
        // at least 1), not in one that must be tested for 32; their `ctz` is the class found,
        // at most 32, which indexes the heads with no mask (6 bytes less in the size-tuned
        // module).
        // (`bits` read anew at each step of a search, a volatile read only to tell the compiler:
        // kept in a local, it cost the size-tuned module 4 bytes, where it is a wasm global.)
        // SAFETY: a read of an initialised, aligned field of `self`.
        let bits = unsafe { core::ptr::read_volatile(&self.bits) };
        let above = bits & ((u32::MAX << 1) << ((class as u32).wrapping_sub(1) & 31));
        if above == 0 {
            return None;
        }
        Some(above.trailing_zeros() as usize)
    }

    #[inline(always)]
    fn any(&self) -> bool {
        self.bits != 0
    }

    fn is_marked(&self, class: usize) -> bool {
        class < 32 && self.bits & (1 << class) != 0
    }

    fn heads(&self) -> &[u32] {
        &self.heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_class_per_power_of_two() {
        let class_of = PowersOfTwo::class_of;
        assert_eq!(class_of(8), 3);
        assert_eq!(class_of(16), 4);
        assert_eq!(class_of(24), 4);
        assert_eq!(class_of(32), 5);
        assert_eq!(class_of(4088), 11);
        assert_eq!(class_of(!7), 31);
        let mut eff = 8u32;
        while eff < u32::MAX - 8 {
            let c = class_of(eff);
            assert!(eff >> c == 1, "eff {eff} class {c}");
            eff = eff.saturating_add((eff / 64).max(8) & !7);
        }
    }

    #[test]
    fn bitmap_finds_the_first_non_empty_class() {
        let mut lists = PowersOfTwo::EMPTY;
        assert_eq!(lists.first_at_or_above(3), None);
        assert!(!lists.any());
        lists.push_head(7, 128);
        lists.push_head(20, 256);
        lists.push_head(31, 512);
        assert!(lists.any());
        assert_eq!(lists.first_at_or_above(3), Some(7));
        assert_eq!(lists.first_at_or_above(8), Some(20));
        assert_eq!(lists.first_at_or_above(21), Some(31));
        assert_eq!(lists.first_at_or_above(32), None);
        lists.set_head(31, 0);
        assert_eq!(lists.first_at_or_above(21), None);
        lists.set_head(7, 136); // another head: still marked
        assert!(lists.is_marked(7) && !lists.is_marked(8) && !lists.is_marked(40));
    }
}
