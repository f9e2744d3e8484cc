// The modules' memory layout, the same for every allocator: a 64 KiB shadow stack (not Rust's
// default 1 MiB), so that a module's initial memory is small beside what its allocator grows and
// the peak memory the benchmark reports is mostly the allocator's. The workloads recurse nowhere.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-cdylib-link-arg=-zstack-size=65536");
    }
}
