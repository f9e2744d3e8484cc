//! Size classes and the bitmap of non-empty free lists.
//!
//! Effective sizes are multiples of 8. Below 128 bytes each size has its own class (exact fit);
//! from 128 bytes up, every power of two is cut into 8 classes of equal width, as in TLSF. So a
//! class's blocks differ by less than 1/8 of their size, and the first non-empty class above a
//! request's own class holds only blocks that fit it. The bitmap finds that class in a handful of
//! instructions however many blocks are free.

/// Classes in use: sizes up to 4 GiB map below this.
pub const CLASSES: usize = 216;

/// The class that holds free blocks of effective size `eff` (a multiple of 8, at least 8).
#[inline]
pub fn class_of(eff: u32) -> usize {
    let units = eff >> 3;
    if units < 16 {
        return units as usize;
    }
    let log = 31 - units.leading_zeros();
    (((log - 2) << 3) + ((units >> (log - 3)) & 7)) as usize
}

/// The lowest class whose every block is at least `eff` bytes: `eff` rounded up to a class start.
#[inline]
pub fn class_fitting(eff: u32) -> usize {
    let units = eff >> 3;
    if units < 16 {
        return units as usize;
    }
    let step = 1u32 << (31 - units.leading_zeros() - 3);
    let rounded = ((units as u64 + step as u64 - 1) & !(step as u64 - 1)).min(u32::MAX as u64 >> 3);
    class_of((rounded as u32) << 3)
}

/// Heads of the free lists (header addresses, 0 = empty) and a two-level bitmap of the
/// non-empty ones. Arrays are sized so a masked index never needs a bounds check.
pub struct FreeLists {
    pub heads: [u32; 256],
    words: [u32; 8],
    summary: u32,
}

impl FreeLists {
    pub const fn new() -> Self {
        FreeLists {
            heads: [0; 256],
            words: [0; 8],
            summary: 0,
        }
    }

    /// The first non-empty class at or above `class`, or `None`.
    #[inline]
    pub fn first_at_or_above(&self, class: usize) -> Option<usize> {
        let word = (class >> 5) & 7;
        let bits = self.words[word] & (u32::MAX << (class & 31));
        if bits != 0 {
            return Some((word << 5) + bits.trailing_zeros() as usize);
        }
        let above = self.summary & (u32::MAX << word << 1);
        if above == 0 {
            return None;
        }
        let word = above.trailing_zeros() as usize & 7;
        Some((word << 5) + self.words[word].trailing_zeros() as usize)
    }

    #[inline]
    pub fn mark_non_empty(&mut self, class: usize) {
        let word = (class >> 5) & 7;
        self.words[word] |= 1 << (class & 31);
        self.summary |= 1 << word;
    }

    #[inline]
    pub fn mark_empty(&mut self, class: usize) {
        let word = (class >> 5) & 7;
        self.words[word] &= !(1 << (class & 31));
        if self.words[word] == 0 {
            self.summary &= !(1 << word);
        }
    }

    /// Whether the bitmap says `class` is non-empty (for the heap walker).
    pub fn is_marked(&self, class: usize) -> bool {
        self.words[(class >> 5) & 7] & (1 << (class & 31)) != 0
    }

    /// Whether the summary bit of each word agrees with the word (for the heap walker).
    pub fn summary_agrees(&self) -> bool {
        (0..8).all(|w| (self.summary >> w & 1 != 0) == (self.words[w] != 0))
            && self.summary >> 8 == 0
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
        assert_eq!(class_of(u32::MAX & !7), CLASSES - 1);
    }

    #[test]
    fn fitting_class_holds_only_blocks_that_fit() {
        for eff in (8..200_000u32).step_by(8) {
            let c = class_fitting(eff);
            // Every block in class c (and above) is at least eff.
            for smaller in (eff.saturating_sub(4096).max(8)..eff).step_by(8) {
                assert!(
                    class_of(smaller) < c,
                    "block {smaller} in class {c} for request {eff}"
                );
            }
            assert!(c == class_of(eff) || c == class_of(eff) + 1);
        }
    }

    #[test]
    fn bitmap_finds_the_next_non_empty_class() {
        let mut lists = FreeLists::new();
        assert_eq!(lists.first_at_or_above(0), None);
        for c in [3, 40, 100, 215] {
            lists.mark_non_empty(c);
        }
        assert_eq!(lists.first_at_or_above(0), Some(3));
        assert_eq!(lists.first_at_or_above(4), Some(40));
        assert_eq!(lists.first_at_or_above(41), Some(100));
        assert_eq!(lists.first_at_or_above(101), Some(215));
        assert_eq!(lists.first_at_or_above(216), None);
        lists.mark_empty(100);
        assert_eq!(lists.first_at_or_above(41), Some(215));
        assert!(lists.summary_agrees());
    }
}
