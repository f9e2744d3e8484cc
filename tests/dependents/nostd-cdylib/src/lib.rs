//! A `no_std` Rust wasm module with its own `#[panic_handler]` and wall-e as its global allocator.
#![no_std]

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Runs the shared workload; its checksum (it traps on any corrupted byte).
#[no_mangle]
pub extern "C" fn run(rounds: u32) -> u64 {
    workload::exercise(rounds)
}

/// Recursion with 1 KiB frames: 1 if it returned the right checksum.
#[no_mangle]
pub extern "C" fn recurse(depth: u32) -> u32 {
    (workload::deep(depth) == workload::deep_expected(depth)) as u32
}

/// 1 if wall-e was built to take a lock (a threads target: `wasm32-wasip1-threads`), else 0.
#[no_mangle]
pub extern "C" fn thread_safe() -> u32 {
    wall_e::WallE::THREAD_SAFE as u32
}

/// Walks wall-e's heap: the number of used blocks, or -1 if an invariant is broken.
#[no_mangle]
pub extern "C" fn heap_check() -> i32 {
    match A.validate() {
        Ok(stats) => stats.used_blocks as i32,
        Err(_) => -1,
    }
}
