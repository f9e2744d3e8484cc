//! Size classes: how the free lists divide effective sizes, and how a search finds a non-empty
//! list. Two schemes, one per policy (see policy.rs): [`Quarters`] (the speed-tuned one: exact
//! classes below 64 bytes, then four per power of two, and a bitmap) and [`PowersOfTwo`] (the
//! size-tuned one: a class per power of two, and a one-word bitmap).
//!
//! In both, classes are numbered by size: every block of a class above a request's own class is
//! larger than the request, so a search takes the first non-empty class above its own.

pub use crate::classes_pow2::PowersOfTwo;
pub use crate::classes_quarter::Quarters;

/// The heads of the free lists (header addresses, 0 = empty) of one class scheme, and the index
/// (a bitmap) that tells which lists are non-empty.
pub trait Classes {
    /// Whether every block of a request's own class that is at least as large as the request
    /// also serves it under the 125% rule (the class is narrower than a quarter of its sizes).
    const OWN_CLASS_FITS: bool;
    /// Classes in use: every effective size up to 4 GiB maps below this.
    const CLASSES: usize;
    /// No list is non-empty.
    const EMPTY: Self;
    /// The class that holds free blocks of effective size `eff` (a multiple of 8, at least 8);
    /// flags in its low 3 bits change nothing (a size word may be passed as it is).
    fn class_of(eff: u32) -> usize;
    /// The head of the list of `class` (0 if empty). `class` is below `CLASSES`.
    fn head(&self, class: usize) -> u32;
    /// Sets the head of the non-empty list of `class` (0: the list is empty now), and the index
    /// with it.
    fn set_head(&mut self, class: usize, head: u32);
    /// [`Classes::set_head`] for a head that is not 0 (a block pushed): the index only gains.
    fn push_head(&mut self, class: usize, head: u32);
    /// The first class above `own` (a request's own class, for `need` bytes) whose every block
    /// may serve the request under the 125% rule ([`crate::block::fits`]): a search starts there.
    fn above(own: usize, need: u32) -> usize;
    /// Whether every block from [`Classes::above`] up does serve the request (then the first
    /// non-empty class found there needs no check).
    const ABOVE_FITS: bool;
    /// The first class at or above `class` whose list may be non-empty, or `None`. `class` is
    /// at least 1: no block is in class 0 (every block holds 8 bytes or more).
    fn first_at_or_above(&self, class: usize) -> Option<usize>;
    /// False when every list is empty.
    fn any(&self) -> bool;
    /// Whether a list at or above `class` may be non-empty (`first_at_or_above` is some).
    #[inline(always)]
    fn any_at_or_above(&self, class: usize) -> bool {
        self.first_at_or_above(class).is_some()
    }
    /// Whether the index of non-empty lists marks `class` (for the heap walker).
    fn is_marked(&self, class: usize) -> bool;
    /// The heads' storage, for the heap walker (its length may exceed `CLASSES`).
    fn heads(&self) -> &[u32];
}
