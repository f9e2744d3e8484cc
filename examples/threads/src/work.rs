//! The work each thread does, compiled twice: into the wasm module (with wall-e as global
//! allocator, under atomics) and natively into tests/threads_example.rs, which compares the
//! checksums.

/// The shared workload of tests/dependents (`rounds` rounds of Vec, String, Box and BTreeMap
/// work, every byte checked), then strings grown piecemeal and a sorted, deduplicated Vec of
/// boxed strings; a checksum of it all.
pub fn run(rounds: u32, seed: u32) -> u64 {
    let mut sum = workload::exercise(rounds);
    let mut text = String::new();
    let mut words: Vec<Box<str>> = Vec::new();
    for i in 0..2_000u32 {
        let word = format!("{}-{}", seed, i.wrapping_mul(2_654_435_761) % 10_007);
        text.push_str(&word);
        text.push(' ');
        words.push(word.into_boxed_str());
    }
    words.sort();
    words.dedup();
    sum += text.len() as u64 + words.len() as u64;
    sum += words.iter().map(|w| w.len() as u64).sum::<u64>();
    sum
}
