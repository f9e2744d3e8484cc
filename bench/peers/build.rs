// The same memory layout as wall-e's module (see `linkArgs` in scripts/build.mjs): a 16 KiB shadow
// stack and one initial page, so every module starts the benchmark from the same memory size.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-cdylib-link-arg=-zstack-size=16384");
        println!("cargo::rustc-cdylib-link-arg=--initial-memory=65536");
    }
}
