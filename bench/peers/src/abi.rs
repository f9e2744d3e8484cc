// The raw ABI over a `GlobalAlloc` named `PEER` in the including module (which also imports
// `core::alloc::{GlobalAlloc, Layout}`): included by bench/peers/src/lib.rs and by
// bench/threads-peers/src/lib.rs, so every peer, threaded or not, gets the same wrapper.
//
// Each block has an 8-byte header in front holding the size asked for, so that `size` and
// `deallocate` can rebuild the `Layout`; blocks are 8-aligned.

/// Bytes in front of each block: the requested size (u32) and 4 bytes of padding.
const HEADER: usize = 8;
const ALIGN: usize = 8;

/// The layout of a block whose caller asked for `size` bytes; `None` when it overflows.
fn layout(size: u32) -> Option<Layout> {
    let total = (size as usize).checked_add(HEADER)?;
    Layout::from_size_align(total, ALIGN).ok()
}

/// The pointer (a linear-memory offset) as a Rust pointer.
fn ptr(addr: u32) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(addr as usize)
}

/// Writes the header of a block the peer returned at `base` and returns the payload's address.
///
/// # Safety
/// `base` is null or a block of at least `HEADER` bytes, 8-aligned.
unsafe fn finish(base: *mut u8, size: u32) -> u32 {
    if base.is_null() {
        return 0;
    }
    // SAFETY: per this function's contract, `base` is 8-aligned with room for the header.
    unsafe { base.cast::<u32>().write(size) };
    base.expose_provenance() as u32 + HEADER as u32
}

/// The size stored in the header of the live block at payload address `p` (not 0).
///
/// # Safety
/// `p` was returned by `allocate` or `reallocate` and not freed since.
unsafe fn stored(p: u32) -> u32 {
    // SAFETY: a live block's header lies `HEADER` bytes before its payload.
    unsafe { ptr(p - HEADER as u32).cast::<u32>().read() }
}

/// Allocates `size` bytes, 8-aligned; 0 for `size == 0` or when memory is exhausted.
#[no_mangle]
pub extern "C" fn allocate(size: u32) -> u32 {
    if size == 0 {
        return 0;
    }
    let Some(layout) = layout(size) else {
        return 0;
    };
    // SAFETY: `layout` has a non-zero size; the result is null or fits `layout`.
    unsafe { finish(PEER.alloc(layout), size) }
}

/// Frees a live block; nil is ignored.
#[no_mangle]
pub extern "C" fn deallocate(p: u32) {
    if p == 0 {
        return;
    }
    // SAFETY: the ABI's contract: `p` is a live block; the layout is the one it was allocated
    // with (the header keeps the size).
    unsafe {
        let size = stored(p);
        if let Some(layout) = layout(size) {
            PEER.dealloc(ptr(p - HEADER as u32), layout);
        }
    }
}

/// Resizes a live block through `GlobalAlloc::realloc`; `p == 0` allocates, `size == 0` frees
/// and returns 0; 0 on failure with the old block kept.
#[no_mangle]
pub extern "C" fn reallocate(p: u32, size: u32) -> u32 {
    if p == 0 {
        return allocate(size);
    }
    if size == 0 {
        deallocate(p);
        return 0;
    }
    let Some(new_layout) = layout(size) else {
        return 0;
    };
    // SAFETY: `p` is a live block (the ABI's contract) allocated with `layout(old)`; the new
    // size is non-zero and does not overflow when rounded to the alignment (checked by
    // `layout`). `realloc` returns null or a block fitting the new layout.
    unsafe {
        let old = stored(p);
        let Some(old_layout) = layout(old) else {
            return 0;
        };
        finish(
            PEER.realloc(ptr(p - HEADER as u32), old_layout, new_layout.size()),
            size,
        )
    }
}

/// The size asked for of a live block; 0 for nil.
#[no_mangle]
pub extern "C" fn size(p: u32) -> u32 {
    if p == 0 {
        return 0;
    }
    // SAFETY: the ABI's contract: `p` is a live block.
    unsafe { stored(p) }
}
