//! Unit tests of the core over a host memory source; the heap is validated after every step.
//! One suite (tests/core/suite.rs), run over both policies.
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs the host memory source or wasmtime

mod common;

/// The suite's tests in a module per policy, with `P`, `HostHeap` and `heap` for that policy.
macro_rules! suite_per_policy {
    ($($module:ident: $policy:ty),*) => {$(
        mod $module {
            #[allow(unused_imports)]
            use super::common::{bytes, fill, holds, pattern, valid};
            #[allow(unused_imports)]
            use wall_e::{Heap, HostMemory, Place, Policy, Source, Tuning, MAX_REQUEST, PAGE};
            type P = $policy;
            type HostHeap = Heap<HostMemory, P>;
            /// A heap over a host memory of `initial` pages (heap base at 1 KiB) that may grow to
            /// `max`.
            fn heap(initial: u32, max: u32) -> HostHeap {
                Heap::new(HostMemory::new(initial, max, 1024))
            }
            include!("core/suite.rs");
        }
    )*};
}

suite_per_policy!(fast: wall_e::Fast, small: wall_e::Small);
