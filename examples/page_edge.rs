//! Why large blocks are placed off the 4 KiB page edges (`Tuning::LARGE_OFF_EDGE`,
//! docs/large-blocks.md): the Rust-level benchmark's large-blocks pattern (blocks of 256 KiB,
//! 512 KiB, 1, 2 and 4 MiB in turn, all at one address, a byte written every 4 KiB, the first
//! and last bytes read back), natively, with the blocks' start moved through every 64-byte
//! offset of a page. Prints ns per block for each offset (the median of 5 passes) and the mean
//! within two cache lines of a page boundary against the mean elsewhere.
//!
//! ```text
//! cargo run --release --example page_edge
//! ```
//!
//! On the machine the rule was chosen on (2 vCPUs, "Intel(R) Xeon(R) Processor", 2 MiB of L2
//! per core), starts within 128 bytes of a boundary took 3,400–4,300 ns a block, every other
//! start 1,850–2,300: the same ratio, ×1.75, as wall-e (payload at page offset 0x20) against
//! talc (0x110) in Node, Chromium and wasmtime.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::time::Instant;

    const SIZES: [usize; 5] = [256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20];
    const BLOCKS: usize = 2_000;

    /// ns per block for `BLOCKS` blocks starting at `buf[at..]`.
    fn pass(buf: &mut [u8], at: usize) -> f64 {
        let start = Instant::now();
        let mut sum = 0u32;
        for i in 0..BLOCKS {
            let size = SIZES[i % SIZES.len()];
            let block = &mut buf[at..at + size];
            let mut off = 0;
            while off < size {
                block[off] = (off >> 12) as u8 ^ i as u8;
                off += 4096;
            }
            sum = sum.wrapping_add(block[0] as u32 + block[size - 1] as u32);
        }
        std::hint::black_box(sum);
        start.elapsed().as_nanos() as f64 / BLOCKS as f64
    }

    let mut memory = vec![1u8; (4 << 20) + (4 << 20)];
    // Start at a 2 MiB boundary, as wasm memories' bases are page-aligned.
    let skip = memory.as_ptr().align_offset(2 << 20);
    let buf = &mut memory[skip..];
    let mut edge = Vec::new();
    let mut inner = Vec::new();
    println!("| page offset of the block | ns per block |\n|--:|--:|");
    for at in (0..4096).step_by(64) {
        let mut ns: Vec<f64> = (0..5).map(|_| pass(buf, at)).collect();
        ns.sort_by(f64::total_cmp);
        let median = ns[2];
        println!("| {at:#05x} | {median:.0} |");
        if !(128..4096 - 128).contains(&at) {
            edge.push(median);
        } else {
            inner.push(median);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "within 128 bytes of a page boundary: {:.0} ns a block; elsewhere: {:.0} (×{:.2})",
        mean(&edge),
        mean(&inner),
        mean(&edge) / mean(&inner)
    );
}

#[cfg(target_arch = "wasm32")]
fn main() {}
