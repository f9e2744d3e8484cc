//! Tells the crate whether it is compiled for wasm threads (`cfg(wall_e_atomics)`).
//!
//! rustc sets `cfg(target_feature = "atomics")` only on nightly (the feature is unstable), yet
//! stable compiles `wasm32-wasip1-threads` with atomics and a shared memory, and threads run
//! there: keyed on `target_feature` alone, `WallE` took no lock on that target and two threads
//! corrupted the heap. So the crate keys its lock on `wall_e_atomics`, set here from what cargo
//! knows: the target's features as rustc prints them, the target's name, and `RUSTFLAGS`.
//! Where only stable's view of the target is available (no `target_feature = "atomics"`), the
//! per-thread caches, which need nightly's wasm `asm!` for their per-instance slot, are left out
//! (`cfg(wall_e_lock_only)`): every call takes the lock.
//!
//! Where the caches are built is also decided here, once, for the code's many `cfg`s:
//! `wall_e_module_caches` (the threaded module's: not in its `checked` and `trace` builds) and
//! `wall_e_walle_caches` (`WallE`'s: not with `checked` or `small`). The code pairs each with
//! `wall_e_module` or its negation, and with `not(wall_e_lock_only)`, which tools pass to
//! rustc directly, out of this script's sight.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let seen_by_rustc = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|feature| feature == "atomics");
    let by_target = var("TARGET").starts_with("wasm32") && var("TARGET").ends_with("-threads");
    let by_flags = var("CARGO_ENCODED_RUSTFLAGS")
        .split('\x1f')
        .any(|flag| flag.contains("+atomics"));
    if seen_by_rustc || by_target || by_flags {
        println!("cargo:rustc-cfg=wall_e_atomics");
        if !seen_by_rustc {
            println!("cargo:rustc-cfg=wall_e_lock_only");
        } else if var("CARGO_CFG_TARGET_ARCH") == "wasm32" {
            let feature = |name: &str| env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
            if !feature("CHECKED") && !feature("TRACE") {
                println!("cargo:rustc-cfg=wall_e_module_caches");
            }
            if !feature("CHECKED") && !feature("SMALL") {
                println!("cargo:rustc-cfg=wall_e_walle_caches");
            }
        }
    }
}
