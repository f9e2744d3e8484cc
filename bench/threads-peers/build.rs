// The memory layout of the threaded modules: an imported shared memory (maximum 4 GiB, so any
// shared memory fits the import, as pkg/wall-e.threads.wasm), one initial page, the 16 KiB shadow
// stack of bench/peers' modules, and the globals a host needs to give each instance its own stack
// and TLS block (`__stack_pointer`, `__wasm_init_tls`, `__tls_size`, `__tls_align`).
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        for arg in [
            "-zstack-size=16384",
            "--initial-memory=65536",
            "--import-memory",
            "--shared-memory",
            "--max-memory=4294967296",
            "--export=__stack_pointer",
            "--export=__wasm_init_tls",
            "--export=__tls_size",
            "--export=__tls_align",
        ] {
            println!("cargo::rustc-cdylib-link-arg={arg}");
        }
    }
}
