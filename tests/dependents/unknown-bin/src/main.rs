//! A Rust binary for `wasm32-unknown-unknown` with wall-e as its global allocator: `main` runs the
//! shared workload and checks the heap; any failure panics, which traps.

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();

fn main() {
    let sum = workload::exercise(3);
    assert_eq!(
        sum,
        workload::exercise(3),
        "the same work, another checksum"
    );
    assert!(workload::deep(200) == workload::deep_expected(200));
    let stats = A.validate().expect("wall-e's heap is consistent");
    assert!(stats.heap_bytes > 0, "wall-e served the allocations");
}
