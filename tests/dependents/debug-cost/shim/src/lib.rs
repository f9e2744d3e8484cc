//! The `#[global_allocator]` static, outside the program's crate. The attribute expands to the
//! allocator shim (`__rust_alloc`, `__rust_dealloc`, ...: a `Layout` built from the size and
//! alignment, then the `GlobalAlloc` call), compiled in the crate that holds the static and with
//! its profile; here that crate can be given `opt-level = 3` in a debug build.
#![no_std]

#[global_allocator]
static A: wall_e::WallE = wall_e::WallE::new();
