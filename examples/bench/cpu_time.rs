//! This thread's CPU time, for the benchmark hosts (examples/bench, examples/bench_rust.rs).

use std::time::Duration;

/// This thread's CPU time (user + system): unlike wall time, it leaves out the time the thread
/// waits for a core, which on a busy shared machine is most of the noise. Wall time elsewhere.
#[cfg(target_os = "linux")]
pub fn cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: glibc's and musl's `clock_gettime`, with a valid clock id and a pointer to a
    // `struct timespec` (two 64-bit fields on 64-bit Linux) that lives across the call.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.sec as u64, t.nsec as u32)
}

#[cfg(not(target_os = "linux"))]
pub fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
