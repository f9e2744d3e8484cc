//! wasm-bindgen's threads support finds the TLS base through an export of `__tls_base`. Passed
//! here, to this crate's link alone, rather than in `.cargo/config.toml`'s rustflags, which
//! would then differ from examples/threads's and rebuild std in the target dir both share.
fn main() {
    println!("cargo:rustc-link-arg-cdylib=--export=__tls_base");
}
