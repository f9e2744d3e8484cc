// Memory flags for the standalone module only (cdylib link args do not reach test binaries):
// a 4 KiB shadow stack (the allocator's frames are tiny), so the module starts with one page.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-cdylib-link-arg=-zstack-size=4096");
        println!("cargo::rustc-cdylib-link-arg=--initial-memory=65536");
    }
}
