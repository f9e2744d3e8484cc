//! Size classes and free lists, size-tuned build (feature `small`; the default build's are in
//! `classes.rs`).
//!
//! One class per power of two, numbered by the number of leading zeros of the size: class `c`
//! holds the free blocks whose effective size is in `[2^(31-c), 2^(32-c))`, so *lower* classes
//! hold *larger* blocks. Finding a class is one `clz`, and every block of a class below a
//! request's own class fits it. There is no bitmap of the non-empty lists: a search looks at
//! the heads from the request's class down, at most 29 words (bounded work, and code that is
//! smaller than the bitmap's upkeep). The price is memory: a block found in a class above the
//! request's may be up to twice as large, and is split (see `heap_small.rs`).

/// Classes in use: effective sizes up to 4 GiB map below this (classes 29 to 31 stay empty, as
/// no block is smaller than 8 bytes). The lists have one more head, for class 32 (size 0, no
/// block): `leading_zeros` then indexes them with no bounds check.
pub const CLASSES: usize = 32;

/// The class that holds free blocks of effective size `eff` (at least 8): its leading zeros.
#[inline]
pub fn class_of(eff: u32) -> usize {
    eff.leading_zeros() as usize
}

/// Heads of the free lists (header addresses, 0 = empty). `heads[32]` stays 0.
#[repr(C)]
pub struct FreeLists {
    pub heads: [u32; CLASSES + 1],
}

impl FreeLists {
    pub const fn new() -> Self {
        FreeLists {
            heads: [0; CLASSES + 1],
        }
    }

    /// Whether `class` is a class in use with a non-empty list (for the heap walker, which
    /// checks the default build's bitmap with it).
    pub fn is_marked(&self, class: usize) -> bool {
        class < CLASSES && self.heads[class] != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_class_per_power_of_two() {
        assert_eq!(class_of(8), 28);
        assert_eq!(class_of(16), 27);
        assert_eq!(class_of(24), 27);
        assert_eq!(class_of(32), 26);
        assert_eq!(class_of(4088), 20);
        assert_eq!(class_of(!7), 0);
        let mut eff = 8u32;
        while eff < u32::MAX - 8 {
            let c = class_of(eff);
            assert!(eff >> (31 - c) == 1, "eff {eff} class {c}");
            eff = eff.saturating_add((eff / 64).max(8) & !7);
        }
    }
}
