//! Integration tests of the real `wall-e.wasm` under wasmtime, one module per topic: the module's
//! interface, the ABI contract end to end, random operation sequences against a model, out of
//! memory at every page cap, memory grown by another module in between, and the checked build on
//! every bad input.
//!
//! `pkg/wall-e.wasm` must be built first (`node scripts/build.mjs`, or `make build`); the stats and
//! checked variants (`target/wall-e-stats.wasm`, `target/wall-e-checked.wasm`) and the size-tuned
//! module (`pkg/wall-e.small.wasm`, and `target/wall-e-small-stats.wasm` with the heap walk) are
//! built by the tests themselves with `node scripts/build.mjs --features ...` / `--small` when
//! missing or older than src/.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs wasmtime

#[path = "../common/mod.rs"]
mod common;

use common::wasm::*;
use wasmtime::{ExternType, ValType};

/// `MAX_REQUEST` of the core: larger requests are refused before any arithmetic.
pub(crate) const MAX_REQUEST: u32 = u32::MAX - 2 * PAGE;

mod bad_inputs;
mod contract;
mod foreign_growth;
mod interface;
mod oom;
mod random;

use interface::*;
use oom::*;
use random::*;
