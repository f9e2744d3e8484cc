//! Where the heap's memory comes from.
//!
//! The allocator never touches memory it was not given: the initial range its source hands it
//! (empty for a library's `LinearMemory`: see wasm.rs), and the pages it grew itself.

/// Bytes in a WebAssembly page, the unit in which linear memory grows.
pub const PAGE: u32 = 65_536;

/// A linear memory the heap can grow, with `memory.grow` semantics.
///
/// Addresses are `u32` offsets into one address space; address 0 is never part of the heap.
///
/// # Safety
/// An implementation promises that:
/// - `initial` returns `(start, end)` such that bytes `[start, end)` exist, are zero, and belong
///   to the heap alone (the range may be empty, as `(0, 0)`); `start > 0` unless it is empty;
///   under `INITIAL_HOLDS_A_REGION`, `start > 0` and the range holds a region (see there);
/// - a successful `grow(n)` returns the previous size in pages `old`, and bytes
///   `[old * PAGE, (old + n) * PAGE)` then exist, are zero, and belong to the heap alone;
///   `old > 0`: the memory is never empty (a wasm module's always holds its stack or data), so
///   grown pages never start at address 0, which the heap takes for "no region";
/// - `at(addr, len)` is a pointer valid for reads and writes of the `len` bytes from `addr` when
///   they exist, for as long as the source lives; when they do not, it does not return (a host
///   source panics; wasm memory traps on the access itself). So no call, however wrong its
///   addresses (links read from memory a caller overwrote), reaches outside the memory.
pub unsafe trait Source {
    /// The heap's share of the memory the module started with: its first and one-past-last
    /// address. Called before the first growth (again if the range was too small to use).
    /// Pages grown since, by anyone, are not part of it: they may belong to somebody else.
    fn initial(&mut self) -> (u32, u32);
    /// Whether `initial`'s range always holds a region (at least 24 bytes between its ends
    /// rounded in to 8): then the heap starts there, before it grows memory, and its first
    /// growth needs no case of its own (no region yet). True only for the standalone module's
    /// memory, whose initial range its own build sets (wasm.rs; scripts/small-post.mjs checks
    /// the values it evaluates).
    const INITIAL_HOLDS_A_REGION: bool = false;
    /// Grows the memory by `pages` pages; returns the previous size in pages, or `None` when the
    /// memory cannot grow (out of memory).
    fn grow(&mut self, pages: u32) -> Option<u32>;
    /// A pointer to the `len` bytes at `addr`.
    fn at(&self, addr: u32, len: u32) -> *mut u8;
}
