//! The speed-tuned class scheme ([`crate::Fast`]): quarter classes and a bitmap.
//!
//! Effective sizes are multiples of 8. Below 64 bytes each size has its own class (exact fit:
//! small objects are the common case); from 64 bytes up, every power of two is cut into 4
//! classes of equal width. A class's blocks therefore differ by less than a quarter of their
//! size, every block of a class above a request's own class fits it, and one 128-bit bitmap
//! finds the first non-empty such class in a few instructions however many blocks are free.

use crate::classes::Classes;

/// Classes in use: effective sizes up to 4 GiB map below this.
const CLASSES: usize = 112;

/// The class that holds free blocks of effective size `eff` (a multiple of 8, at least 8).
#[inline(always)]
fn class_of(eff: u32) -> usize {
    let units = eff >> 3;
    // One formula for every size, without a branch: sizes on either side of a threshold come
    // in random order in real programs, and a mispredicted branch costs more than this.
    // `shift` is 0 below 64 bytes (exact classes), then grows by one per power of two, each cut
    // into 4 by the two bits below the leading one.
    // (`| 4`: below 8 units, the leading one is taken to be bit 2, which makes `shift` 0.)
    let shift = 29 - (units | 4).leading_zeros();
    ((units >> shift) + (shift << 2)) as usize
}

/// Heads of the free lists and a bitmap of the non-empty ones. Arrays are sized so that a
/// masked index needs no bounds check.
#[repr(C)]
pub struct Quarters {
    words: [u64; 2],
    heads: [u32; 128],
}

impl Classes for Quarters {
    const OWN_CLASS_FITS: bool = true;
    const ABOVE_FITS: bool = true;
    const CLASSES: usize = CLASSES;
    const EMPTY: Self = Quarters {
        words: [0; 2],
        heads: [0; 128],
    };

    #[inline(always)]
    fn class_of(eff: u32) -> usize {
        class_of(eff)
    }

    #[inline(always)]
    fn head(&self, class: usize) -> u32 {
        self.heads[class & 127]
    }

    /// Without a branch (whether a list runs empty is random): the class's bit is cleared if
    /// `head` is 0.
    #[inline(always)]
    fn set_head(&mut self, class: usize, head: u32) {
        self.heads[class & 127] = head;
        self.words[(class >> 6) & 1] &= !(((head == 0) as u64) << (class & 63));
    }

    #[inline(always)]
    fn push_head(&mut self, class: usize, head: u32) {
        self.heads[class & 127] = head;
        self.words[(class >> 6) & 1] |= 1 << (class & 63);
    }

    /// Below 32 bytes the classes are exact, and the class just above holds blocks 8 bytes
    /// larger: unsplittable and over 125%, so the search starts one class higher. Above that,
    /// every block of a higher class is within the rule or splittable (tested below).
    #[inline(always)]
    fn above(own: usize, need: u32) -> usize {
        own + 1 + (need < 32) as usize
    }

    #[inline]
    fn first_at_or_above(&self, class: usize) -> Option<usize> {
        let mut word = class >> 6;
        let mut mask = u64::MAX << (class & 63);
        while word < 2 {
            let bits = self.words[word] & mask;
            if bits != 0 {
                return Some((word << 6) + bits.trailing_zeros() as usize);
            }
            word += 1;
            mask = u64::MAX;
        }
        None
    }

    #[inline(always)]
    fn any(&self) -> bool {
        self.words[0] | self.words[1] != 0
    }

    /// Both words masked, without a loop or a branch.
    #[inline(always)]
    fn any_at_or_above(&self, class: usize) -> bool {
        let class = class & 127;
        let from = u64::MAX << (class & 63);
        let (low, high) = if class < 64 {
            (from, u64::MAX)
        } else {
            (0, from)
        };
        self.words[0] & low | self.words[1] & high != 0
    }

    fn is_marked(&self, class: usize) -> bool {
        self.words[(class >> 6) & 1] >> (class & 63) & 1 != 0
    }

    fn heads(&self) -> &[u32] {
        &self.heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_monotonic_and_bounded() {
        let mut last = 0;
        let mut eff = 8u32;
        while eff < u32::MAX - 8 {
            let c = class_of(eff);
            assert!(c >= last && c < CLASSES, "eff {eff} class {c}");
            last = c;
            eff = eff.saturating_add((eff / 64).max(8) & !7);
        }
        assert_eq!(class_of(!7), CLASSES - 1);
    }

    #[test]
    fn classes_are_exact_below_64_bytes_then_a_quarter_wide() {
        let mut lowest = 8;
        for eff in (8..1_000_000u32).step_by(8) {
            if class_of(eff) != class_of(lowest) {
                assert_eq!(
                    class_of(eff),
                    class_of(lowest) + 1,
                    "classes are consecutive"
                );
                lowest = eff;
            }
            if eff < 64 {
                assert_eq!(lowest, eff, "exact below 64 bytes");
            }
            // Every block of the class is within 125% of its smallest: any of them fits a
            // request that rounds up to the class above.
            assert!(
                (eff - lowest) * 4 < lowest,
                "class {}: {lowest}..{eff}",
                class_of(eff)
            );
        }
    }

    #[test]
    fn every_block_of_the_own_class_at_least_as_large_fits() {
        for need in (8..100_000u32).step_by(8) {
            let mut eff = need;
            while class_of(eff) == class_of(need) {
                assert!(crate::block::fits(eff, need), "need {need} eff {eff}");
                eff += 8;
            }
        }
    }

    #[test]
    fn every_block_from_the_class_above_fits() {
        for need in (8..4096u32).step_by(8) {
            let start = Quarters::above(class_of(need), need);
            let mut eff = need;
            while eff < 8192 {
                if class_of(eff) >= start {
                    assert!(crate::block::fits(eff, need), "need {need} eff {eff}");
                }
                eff += 8;
            }
        }
    }

    #[test]
    fn bitmap_finds_the_next_non_empty_class() {
        let mut lists = Quarters::EMPTY;
        assert_eq!(lists.first_at_or_above(1), None);
        for c in [3, 40, 100, 115] {
            lists.push_head(c, 8 * c as u32);
        }
        assert_eq!(lists.first_at_or_above(1), Some(3));
        assert_eq!(lists.first_at_or_above(4), Some(40));
        assert_eq!(lists.first_at_or_above(41), Some(100));
        assert_eq!(lists.first_at_or_above(101), Some(115));
        assert_eq!(lists.first_at_or_above(116), None);
        assert_eq!(lists.first_at_or_above(300), None);
        lists.set_head(100, 0);
        assert_eq!(lists.first_at_or_above(41), Some(115));
        assert!(lists.is_marked(115) && !lists.is_marked(100));
    }
}
