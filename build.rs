// Memory flags for the standalone module only (cdylib link args do not reach test binaries):
// a 4 KiB shadow stack (the allocator's frames are tiny), so the module starts with one page.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-cdylib-link-arg=-zstack-size=4096");
        println!("cargo::rustc-cdylib-link-arg=--initial-memory=65536");
        // The size-tuned module puts its statics (the heap's state) at the bottom of memory,
        // below the stack: their addresses fit in one-byte immediates.
        if std::env::var_os("CARGO_FEATURE_SMALL").is_some() {
            println!("cargo::rustc-cdylib-link-arg=--no-stack-first");
            println!("cargo::rustc-cdylib-link-arg=--global-base=8");
        }
    }
}
