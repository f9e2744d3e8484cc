//! A plain Rust wasm module (`cdylib`, std) with wall-e as its global allocator, 96 KiB of static
//! data and deep recursion: the module's memory layout must be its own (rustc's 1 MiB stack, an
//! initial memory that holds its data), not wall-e's standalone one-page layout.

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

/// 96 KiB of nonzero static data (a data segment larger than one page).
static TABLE: [u32; 24 * 1024] = {
    let mut table = [0u32; 24 * 1024];
    let mut i = 0;
    while i < table.len() {
        table[i] = (i as u32).wrapping_mul(2_654_435_761) | 1;
        i += 1;
    }
    table
};

/// The address of a local: where the shadow stack is when an export is entered.
#[no_mangle]
pub extern "C" fn stack_address() -> u32 {
    let local = 0u8;
    core::hint::black_box(&local) as *const u8 as u32
}

/// Recursion with 1 KiB frames: 1 if it returned the right checksum.
#[no_mangle]
pub extern "C" fn recurse(depth: u32) -> u32 {
    (workload::deep(depth) == workload::deep_expected(depth)) as u32
}

/// Whether the static data is intact (every entry recomputed).
#[no_mangle]
pub extern "C" fn statics_intact() -> u32 {
    let table = core::hint::black_box(&TABLE);
    table
        .iter()
        .enumerate()
        .all(|(i, &v)| v == (i as u32).wrapping_mul(2_654_435_761) | 1) as u32
}

/// Runs the shared workload; its checksum (it traps on any corrupted byte).
#[no_mangle]
pub extern "C" fn run(rounds: u32) -> u64 {
    workload::exercise(rounds)
}

/// Walks wall-e's heap: the number of used blocks, or -1 if an invariant is broken.
#[no_mangle]
pub extern "C" fn heap_check() -> i32 {
    match A.validate() {
        Ok(stats) => stats.used_blocks as i32,
        Err(_) => -1,
    }
}
