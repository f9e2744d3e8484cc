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
        }
    }
}
