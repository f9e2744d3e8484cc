//! A `wasm32-wasip1` program with wall-e as its global allocator, doing what makes wasi-libc use
//! its own `malloc` heap (`[__heap_base, __heap_end)` and the pages it grows): reading the
//! environment, opening files through the preopened directory, and calling `malloc` directly.
//! Rust's blocks and libc's must never overlap, and neither may overwrite the other.
//!
//! Run it from this crate's directory with an environment and `.` preopened:
//! `WALL_E_DEPENDENT=wasi node --no-warnings ../../../scripts/wasi-run.mjs program.wasm [scratch]`.
//! It prints `wasi-program: ok ...` and exits 0, or panics (exit status non-zero).

use std::ops::Range;

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

fn block(id: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31) ^ id).collect()
}

fn range_of(v: &[u8]) -> Range<usize> {
    v.as_ptr() as usize..v.as_ptr() as usize + v.len()
}

fn main() {
    // Rust blocks first, so that libc's later allocations have live wall-e blocks to hit.
    let rust: Vec<Vec<u8>> = (0..64).map(|k| block(k, 100 + 61 * k as usize)).collect();

    // The environment (libc's `getenv` and std's `env::vars` copy it through libc).
    let value = std::env::var("WALL_E_DEPENDENT").expect("WALL_E_DEPENDENT is passed");
    assert_eq!(value, "wasi");
    let vars = std::env::vars().count();
    assert!(
        vars > 1,
        "the host's environment is passed ({vars} variables)"
    );

    // Files through the preopened directory (libc's preopen table and path lookup).
    let manifest = std::fs::read_to_string("Cargo.toml").expect("reads ./Cargo.toml");
    assert!(manifest.contains("name = \"wasi-program\""));
    // (WASI has no temporary directory: the scratch file goes into the preopened one, under the
    // name given as first argument, so that runs side by side do not share it.)
    let scratch = std::env::args()
        .nth(1)
        .unwrap_or("wall-e-wasi-program.scratch".into());
    let scratch = scratch.as_str();
    let text = "wall-e beside wasi-libc\n".repeat(500);
    std::fs::write(scratch, &text).expect("writes a file");
    assert_eq!(
        std::fs::read_to_string(scratch).expect("reads it back"),
        text
    );
    std::fs::remove_file(scratch).expect("removes it");

    // libc's malloc directly, interleaved with Rust allocations.
    let mut libc_blocks = Vec::new();
    let mut more_rust = Vec::new();
    for k in 0..200usize {
        let size = 16 + (k * 37) % 3000;
        // SAFETY: plain C malloc; the block is written within its size and freed below.
        let p = unsafe { malloc(size) };
        assert!(!p.is_null(), "malloc({size}) failed");
        // SAFETY: `p` points to `size` writable bytes.
        unsafe { p.write_bytes(0xAB, size) };
        libc_blocks.push((p, size));
        more_rust.push(block(k as u8, 50 + k));
    }
    let rust_ranges: Vec<Range<usize>> =
        rust.iter().chain(&more_rust).map(|v| range_of(v)).collect();
    for &(p, size) in &libc_blocks {
        let libc = p as usize..p as usize + size;
        for r in &rust_ranges {
            assert!(
                libc.end <= r.start || r.end <= libc.start,
                "libc's malloc({size}) at {libc:?} overlaps a wall-e block at {r:?}"
            );
        }
    }

    // Everything is intact.
    for (k, v) in rust.iter().enumerate() {
        assert_eq!(
            v,
            &block(k as u8, 100 + 61 * k),
            "Rust block {k} was overwritten"
        );
    }
    for (k, v) in more_rust.iter().enumerate() {
        assert_eq!(
            v,
            &block(k as u8, 50 + k),
            "Rust block {} was overwritten",
            64 + k
        );
    }
    for &(p, size) in &libc_blocks {
        // SAFETY: `p` points to `size` bytes written above and not freed yet.
        let bytes = unsafe { std::slice::from_raw_parts(p, size) };
        assert!(
            bytes.iter().all(|&b| b == 0xAB),
            "a libc block was overwritten"
        );
        // SAFETY: from `malloc`, freed once.
        unsafe { free(p) };
    }
    let sum = workload::exercise(3);
    let stats = A.validate().expect("wall-e's heap is consistent");
    println!(
        "wasi-program: ok: {vars} environment variables, {} libc blocks, checksum {sum}, wall-e {} used blocks",
        libc_blocks.len(),
        stats.used_blocks
    );
}
