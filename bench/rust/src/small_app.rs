//! The size row: a small program that uses the heap as most do (a `Vec` that grows, a `Box`, a
//! `String` built up), so that its module size after `wasm-opt -Oz` less the floor's is the code
//! an allocator adds to an app.

/// Builds and drops a few collections of `n` elements; a checksum of their contents.
#[no_mangle]
pub extern "C" fn run_small_app(n: u32) -> u32 {
    let mut numbers: Vec<u32> = Vec::new();
    for i in 0..n {
        numbers.push(i.wrapping_mul(2_654_435_761));
    }
    let boxed = Box::new(numbers.iter().fold(0u32, |a, &b| a ^ b));
    let mut text = String::from("wall-e");
    for i in 0..n {
        text.push(char::from(b'a' + (i % 26) as u8));
    }
    numbers.truncate(n as usize / 2);
    numbers.shrink_to_fit();
    *boxed ^ text.len() as u32 ^ numbers.len() as u32 ^ text.as_bytes()[text.len() - 1] as u32
}
