//! The standalone module's ABI (feature `exports`): `u32` pointers, 0 is nil.

use crate::wasm::WallE;

static HEAP: WallE = WallE::new();

/// Allocates `size` bytes (8-aligned); 0 for `size == 0` or when memory is exhausted.
#[no_mangle]
pub extern "C" fn allocate(size: u32) -> u32 {
    // SAFETY: exports run one at a time and never re-enter each other.
    unsafe { HEAP.heap() }.allocate(size)
}

/// Frees a block; nil, foreign pointers and double frees are ignored (see the README).
#[no_mangle]
pub extern "C" fn deallocate(ptr: u32) {
    // SAFETY: as in `allocate`.
    unsafe { HEAP.heap() }.deallocate(ptr)
}

/// Resizes a block, in place when possible; 0 on failure with the old block kept.
#[no_mangle]
pub extern "C" fn reallocate(ptr: u32, size: u32) -> u32 {
    // SAFETY: as in `allocate`.
    unsafe { HEAP.heap() }.reallocate(ptr, size)
}

/// The size last asked for of a live block; 0 for nil or a pointer that is not one.
#[no_mangle]
pub extern "C" fn size(ptr: u32) -> u32 {
    // SAFETY: as in `allocate`.
    unsafe { HEAP.heap() }.size(ptr)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
