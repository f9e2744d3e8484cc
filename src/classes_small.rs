//! Size classes and the bitmap of non-empty free lists, size-tuned build (feature `small`; the
//! default build's are in `classes.rs`).
//!
//! One class per power of two: class `c` holds the free blocks whose effective size is in
//! `[2^c, 2^(c+1))`. Finding a class is one `clz`, the bitmap is one `u32`, and every block of a
//! class above a request's own class fits it. The price is memory: a block found in a class
//! above the request's may be up to twice as large, and is split (see `heap_small.rs`).

/// Classes in use: effective sizes up to 4 GiB map below this (classes 0 to 2 stay empty, as
/// no block is smaller than 8 bytes).
pub const CLASSES: usize = 32;

/// The class that holds free blocks of effective size `eff` (at least 8): its base-2 logarithm.
#[inline]
pub fn class_of(eff: u32) -> usize {
    (31 - eff.leading_zeros()) as usize
}

/// Heads of the free lists (header addresses, 0 = empty) and a bitmap of the non-empty ones.
/// Indexes are masked with 31, so they need no bounds check.
#[repr(C)]
pub struct FreeLists {
    /// Bit `c` is set exactly when list `c` is non-empty.
    pub bits: u32,
    pub heads: [u32; CLASSES],
}

impl FreeLists {
    pub const fn new() -> Self {
        FreeLists {
            bits: 0,
            heads: [0; CLASSES],
        }
    }

    /// Whether the bitmap says `class` is non-empty (for the heap walker).
    pub fn is_marked(&self, class: usize) -> bool {
        class < CLASSES && self.bits >> class & 1 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_class_per_power_of_two() {
        assert_eq!(class_of(8), 3);
        assert_eq!(class_of(16), 4);
        assert_eq!(class_of(24), 4);
        assert_eq!(class_of(32), 5);
        assert_eq!(class_of(4088), 11);
        assert_eq!(class_of(!7), CLASSES - 1);
        let mut eff = 8u32;
        while eff < u32::MAX - 8 {
            let c = class_of(eff);
            assert!(eff >> c == 1, "eff {eff} class {c}");
            eff = eff.saturating_add((eff / 64).max(8) & !7);
        }
    }
}
