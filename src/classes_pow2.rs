//! The size-tuned class scheme ([`crate::Small`]): one class per power of two, no bitmap.
//!
//! Class `c` holds the free blocks whose effective size is in `[2^c, 2^(c+1))`: finding it is
//! one `clz`. Without a bitmap a search reads the heads from its class up, at most 29 words
//! (bounded work, and less code than a bitmap's upkeep). The price is memory: a class spans a
//! factor of 2, so a block found in a class above the request's may be up to twice as large
//! (it is split), and a block of the request's own class that would fit may sit behind a head
//! that does not.

use crate::classes::Classes;

/// Heads of the free lists by power of two; classes 0 to 2 stay empty (no block is smaller than
/// 8 bytes). `class & 31` indexes them with no bounds check.
#[repr(C)]
pub struct PowersOfTwo {
    heads: [u32; 32],
}

impl Classes for PowersOfTwo {
    const INDEXED: bool = false;
    const OWN_CLASS_FITS: bool = false;
    const ABOVE_FITS: bool = false;
    const CLASSES: usize = 32;
    const EMPTY: Self = PowersOfTwo { heads: [0; 32] };

    #[inline(always)]
    fn class_of(eff: u32) -> usize {
        (eff.leading_zeros() ^ 31) as usize
    }

    #[inline(always)]
    fn head(&self, class: usize) -> u32 {
        self.heads[class & 31]
    }

    #[inline(always)]
    fn set_head(&mut self, class: usize, head: u32) {
        self.heads[class & 31] = head;
    }

    #[inline(always)]
    fn push_head(&mut self, class: usize, head: u32) {
        self.heads[class & 31] = head;
    }

    /// The next class: its blocks are at least twice the own class's smallest, but a head 8
    /// bytes above a request below 32 bytes (16 for 8) fails the rule, so heads are checked.
    #[inline(always)]
    fn above(own: usize, _need: u32) -> usize {
        own + 1
    }

    #[inline(always)]
    fn first_at_or_above(&self, class: usize) -> Option<usize> {
        // (A plain loop: a range iterator is kept on the stack at opt-level "z".)
        let mut class = class;
        while class < 32 {
            if self.heads[class & 31] != 0 {
                return Some(class);
            }
            class += 1;
        }
        None
    }

    #[inline(always)]
    fn any(&self) -> bool {
        true
    }

    fn is_marked(&self, class: usize) -> bool {
        class < 32 && self.heads[class] != 0
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
    fn search_reads_heads_upwards() {
        let mut lists = PowersOfTwo::EMPTY;
        assert_eq!(lists.first_at_or_above(3), None);
        lists.set_head(7, 128);
        lists.set_head(20, 256);
        assert_eq!(lists.first_at_or_above(3), Some(7));
        assert_eq!(lists.first_at_or_above(8), Some(20));
        assert_eq!(lists.first_at_or_above(21), None);
        assert!(lists.is_marked(7) && !lists.is_marked(8) && !lists.is_marked(40));
    }
}
