//! The threaded module, `pkg/wall-e.threads.wasm`, on real host threads under wasmtime: several
//! instances of it, one per thread, over one `wasmtime::SharedMemory`, share one heap.
//!
//! - Its interface: it imports exactly a shared `env.memory` and exports exactly `allocate`,
//!   `deallocate`, `reallocate`, `size` and (with per-thread caches) `release_thread_cache`; it
//!   has no data segment, and without caches no global at all (so no `__stack_pointer`: no
//!   shadow stack that two instances could share; with caches, the instance's cache slot is a
//!   global, and no function keeps a frame: docs/threads.md).
//! - A later instantiation over a memory in use re-initialises nothing.
//! - Stress: every thread runs random allocate/deallocate/reallocate/size at once (1M operations
//!   per thread by default, `WALL_E_THREAD_OPS` to change), each block filled with a pattern
//!   unique to its thread and slot and verified on every free and reallocate and at the end;
//!   the blocks of all threads must never overlap. Once on the shipped module; once on the stats
//!   variant (`target/wall-e-threads-stats.wasm`, built here), whose heap walk (`validate`) one
//!   thread runs now and then while the others work, and once at the end.
//! - Out of memory under contention: a memory capped at a few MiB, every thread allocating until
//!   it gets 0, all freeing, then allocating again: the same capacity, nothing lost, and no
//!   deadlock (every run has a deadline); once more with every block freed by another thread.
//! - For the per-thread caches: a free storm (every block freed by another thread), a double
//!   free from two threads at once (no block handed out twice), and threads that end with live
//!   blocks the next one frees, half of them without handing their cache back (the heap's growth
//!   bounded by the abandoned caches).
//!
//! `pkg/wall-e.threads.wasm` must be built first (`node scripts/build.mjs --threads`, or
//! `make build`).
#![cfg(not(target_arch = "wasm32"))] // host-side: it needs wasmtime

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use wasmtime::{
    Config, Engine, Extern, Instance, MemoryType, Module, SharedMemory, Store, TypedFunc,
};

const PAGE: u32 = 65_536;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped module (`make build`) or the stats variant (built here when missing or stale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Build {
    Shipped,
    Stats,
}

impl Build {
    fn path(self) -> PathBuf {
        match self {
            // WALL_E_THREADS_WASM: another build to run the same tests on (e.g. one with its lock
            // taken out, to see the stress fail).
            Build::Shipped => std::env::var_os("WALL_E_THREADS_WASM")
                .map_or_else(|| root().join("pkg/wall-e.threads.wasm"), PathBuf::from),
            Build::Stats => root().join("target/wall-e-threads-stats.wasm"),
        }
    }
}

fn newest_source() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(m) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(m);
            }
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(&root().join("src"), &mut newest);
    for file in ["Cargo.toml", "scripts/build.mjs"] {
        if let Ok(m) = std::fs::metadata(root().join(file)).and_then(|m| m.modified()) {
            newest = newest.max(m);
        }
    }
    newest
}

fn bytes_of(build: Build) -> Vec<u8> {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let path = build.path();
    if build == Build::Stats {
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        let stale = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_or(true, |m| m < newest_source());
        if !*built && stale {
            let tmp = root().join(format!(
                "target/tmp/wall-e-threads-stats-{}.wasm",
                std::process::id()
            ));
            let status = Command::new("node")
                .args([
                    "scripts/build.mjs",
                    "--threads",
                    "--features",
                    "stats",
                    "--out",
                ])
                .arg(&tmp)
                .current_dir(root())
                .status()
                .expect("running node scripts/build.mjs");
            assert!(
                status.success(),
                "building the threaded stats module failed"
            );
            std::fs::rename(&tmp, &path).expect("moving the module into place");
        }
        *built = true;
    }
    let stale = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|m| m < newest_source());
    if build == Build::Shipped && stale && std::env::var_os("WALL_E_THREADS_WASM").is_none() {
        eprintln!(
            "warning: {} is older than src/; run `node scripts/build.mjs --threads` (or `make build`)",
            path.display()
        );
    }
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (build it with `node scripts/build.mjs --threads` or `make build`)",
            path.display()
        )
    })
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.wasm_threads(true).shared_memory(true);
        Engine::new(&config).expect("an engine with threads")
    })
}

fn module(build: Build) -> Module {
    static MODULES: [OnceLock<Module>; 2] = [OnceLock::new(), OnceLock::new()];
    MODULES[build as usize]
        .get_or_init(|| Module::new(engine(), bytes_of(build)).expect("compiling the module"))
        .clone()
}

/// A shared memory of `initial` pages that may grow to `max`.
fn shared_memory(initial: u32, max: u32) -> SharedMemory {
    SharedMemory::new(engine(), MemoryType::shared(initial, max)).expect("a shared memory")
}

/// One instance of the module over the shared memory, in its own store (one per thread).
struct Wall {
    store: Store<()>,
    memory: SharedMemory,
    allocate_fn: TypedFunc<u32, u32>,
    deallocate_fn: TypedFunc<u32, ()>,
    reallocate_fn: TypedFunc<(u32, u32), u32>,
    size_fn: TypedFunc<u32, u32>,
    validate_fn: Option<TypedFunc<(), u32>>,
    stat_fn: Option<TypedFunc<u32, u32>>,
    flush_cache_fn: Option<TypedFunc<(), ()>>,
    /// `release_thread_cache`, where the build has per-thread caches (without: a thread holds
    /// nothing of its own and there is nothing to hand back).
    release_fn: Option<TypedFunc<(), ()>>,
}

impl Wall {
    fn new(build: Build, memory: &SharedMemory) -> Self {
        let mut store = Store::new(engine(), ());
        let instance = Instance::new(
            &mut store,
            &module(build),
            &[Extern::SharedMemory(memory.clone())],
        )
        .expect("instantiating the threaded module");
        let stats = build == Build::Stats;
        Wall {
            allocate_fn: instance.get_typed_func(&mut store, "allocate").unwrap(),
            deallocate_fn: instance.get_typed_func(&mut store, "deallocate").unwrap(),
            reallocate_fn: instance.get_typed_func(&mut store, "reallocate").unwrap(),
            size_fn: instance.get_typed_func(&mut store, "size").unwrap(),
            validate_fn: stats.then(|| instance.get_typed_func(&mut store, "validate").unwrap()),
            stat_fn: stats.then(|| instance.get_typed_func(&mut store, "stat").unwrap()),
            flush_cache_fn: stats
                .then(|| instance.get_typed_func(&mut store, "flush_cache").unwrap()),
            release_fn: instance
                .get_typed_func(&mut store, "release_thread_cache")
                .ok(),
            memory: memory.clone(),
            store,
        }
    }
    fn allocate(&mut self, size: u32) -> u32 {
        self.allocate_fn.call(&mut self.store, size).unwrap()
    }
    fn deallocate(&mut self, p: u32) {
        self.deallocate_fn.call(&mut self.store, p).unwrap()
    }
    fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        self.reallocate_fn.call(&mut self.store, (p, size)).unwrap()
    }
    fn size(&mut self, p: u32) -> u32 {
        self.size_fn.call(&mut self.store, p).unwrap()
    }
    /// Hands this thread's cache back to the shared heap (`release_thread_cache`), where the
    /// build has one.
    fn release(&mut self) {
        if let Some(f) = &self.release_fn {
            f.call(&mut self.store, ()).unwrap()
        }
    }
    /// `validate()` of the stats build: 0 when the heap walk finds nothing wrong.
    fn validate(&mut self) -> u32 {
        let f = self.validate_fn.as_ref().expect("the stats build");
        f.call(&mut self.store, ()).unwrap()
    }
    /// `flush_cache()` of the stats build: the cache of freed small blocks back to the heap.
    fn flush_cache(&mut self) {
        let f = self.flush_cache_fn.as_ref().expect("the stats build");
        f.call(&mut self.store, ()).unwrap()
    }
    /// `stat(i)` of the stats build (1 bytes in use, 2 used blocks, 3 free bytes, 4 free blocks).
    fn stat(&mut self, i: u32) -> u32 {
        let f = self.stat_fn.as_ref().expect("the stats build");
        f.call(&mut self.store, i).unwrap()
    }
    /// The block `[p, p + len)` of the shared memory as bytes. Blocks the allocator hands out are
    /// disjoint, so the thread that owns one is the only one touching it; if the allocator broke
    /// that, the patterns below would show it.
    #[allow(clippy::mut_from_ref)]
    fn block(&self, p: u32, len: u32) -> &mut [u8] {
        let data = self.memory.data();
        let end = p as usize + len as usize;
        assert!(
            p % 8 == 0 && p != 0 && end <= data.len(),
            "block {p:#x}+{len} is unaligned or outside the memory ({} bytes)",
            data.len()
        );
        // SAFETY: in bounds (checked); the bytes are `UnsafeCell`s, and only this thread uses
        // this block while it is live.
        unsafe { std::slice::from_raw_parts_mut(data[p as usize].get(), len as usize) }
    }
    /// Whether the live block `b` still holds the pattern it was filled with.
    fn holds(&self, b: &Live) -> bool {
        intact(self.block(b.p, b.filled), b.tag, b.filled)
    }
}

/// SplitMix64.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * n as u64) >> 32) as u32
    }
    /// Log-uniform in 1..=max: many small sizes, some large.
    fn size(&mut self, max: u32) -> u32 {
        let bits = 32 - max.leading_zeros();
        let b = 1 + self.below(bits);
        let hi = ((1u64 << b) - 1).min(max as u64) as u32;
        1 + self.below(hi)
    }
}

/// Random bytes the patterns are cut from (the test crate is built at opt-level 0, so a block is
/// filled and checked with `memcpy`/`memcmp`, not byte by byte).
const NOISE: usize = 1 << 16;
fn noise() -> &'static [u8] {
    static NOISE_BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    NOISE_BYTES.get_or_init(|| {
        let mut rng = Rng(42);
        (0..NOISE * 3).map(|_| rng.next() as u8).collect()
    })
}

/// The pattern of a block: its first 8 bytes are the tag (thread, slot, generation), the rest
/// is noise from an offset that depends on the tag. Unique to the thread and the slot.
fn tag(thread: u32, slot: u32, generation: u32) -> u64 {
    ((thread as u64) << 56) | ((slot as u64) << 32) | generation as u64
}
fn expected(tag: u64, len: u32) -> (&'static [u8], [u8; 8]) {
    let offset = (tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize;
    let body = len.saturating_sub(8) as usize;
    // Blocks larger than the noise table repeat it (sizes stay below 2 * NOISE here).
    (&noise()[offset..offset + body], tag.to_le_bytes())
}
fn fill(bytes: &mut [u8], tag: u64) {
    let (body, head) = expected(tag, bytes.len() as u32);
    let n = bytes.len().min(8);
    bytes[..n].copy_from_slice(&head[..n]);
    if bytes.len() > 8 {
        bytes[8..].copy_from_slice(body);
    }
}
/// Whether the first `len` bytes of a block filled with `tag` are intact.
fn intact(bytes: &[u8], tag: u64, filled: u32) -> bool {
    let (body, head) = expected(tag, filled);
    let len = bytes.len();
    let n = len.min(8);
    bytes[..n] == head[..n] && (len <= 8 || bytes[8..] == body[..len - 8])
}

/// A live block of the stress run: address, size asked, tag, and the size it was filled at.
#[derive(Clone, Copy)]
struct Live {
    p: u32,
    len: u32,
    tag: u64,
    filled: u32,
}

/// The most a block grows to in the stress runs.
const MAX_SIZE: u32 = 20_000;

/// One thread's random run: `ops` operations over `slots` slots; every `walk_every` operations
/// (0: never) it walks the heap while the others run. Returns its live blocks at the end.
fn stress_thread(
    build: Build,
    memory: &SharedMemory,
    thread: u32,
    ops: u32,
    slots: u32,
    walk_every: u32,
    start: &Barrier,
) -> Vec<Live> {
    let mut wall = Wall::new(build, memory);
    let mut rng = Rng(0xC0FFEE ^ ((thread as u64) << 40));
    let mut live: Vec<Option<Live>> = vec![None; slots as usize];
    let mut generation = 0u32;
    start.wait();
    for op in 0..ops {
        if walk_every != 0 && op % walk_every == walk_every - 1 {
            assert_eq!(
                wall.validate(),
                0,
                "thread {thread}: heap walk failed at op {op}"
            );
        }
        let slot = rng.below(slots);
        let size = if rng.below(100) == 0 {
            rng.size(MAX_SIZE)
        } else {
            rng.size(1024)
        };
        generation += 1;
        let t = tag(thread, slot, generation);
        match live[slot as usize] {
            None => {
                let p = wall.allocate(size);
                assert_ne!(p, 0, "thread {thread}: allocate({size}) failed");
                fill(wall.block(p, size), t);
                live[slot as usize] = Some(Live {
                    p,
                    len: size,
                    tag: t,
                    filled: size,
                });
            }
            Some(b) => {
                let check = |wall: &Wall, b: &Live, what: &str| {
                    assert!(
                        intact(wall.block(b.p, b.len.min(b.filled)), b.tag, b.filled),
                        "thread {thread} slot {slot}: block {:#x} ({} bytes) overwritten, seen at {what}",
                        b.p,
                        b.len
                    );
                };
                match rng.below(10) {
                    0..=3 => {
                        check(&wall, &b, "free");
                        wall.deallocate(b.p);
                        live[slot as usize] = None;
                    }
                    4..=7 => {
                        check(&wall, &b, "reallocate (before)");
                        let q = wall.reallocate(b.p, size);
                        assert_ne!(q, 0, "thread {thread}: reallocate to {size} failed");
                        let kept = Live {
                            p: q,
                            len: b.len.min(size),
                            ..b
                        };
                        check(&wall, &kept, "reallocate (after: the kept prefix)");
                        fill(wall.block(q, size), t);
                        live[slot as usize] = Some(Live {
                            p: q,
                            len: size,
                            tag: t,
                            filled: size,
                        });
                    }
                    _ => {
                        assert_eq!(wall.size(b.p), b.len, "thread {thread}: size({:#x})", b.p);
                        check(&wall, &b, "size");
                    }
                }
            }
        }
    }
    let live: Vec<Live> = live.into_iter().flatten().collect();
    // A thread that ends hands its cache back (where the build has one).
    wall.release();
    for b in &live {
        assert!(
            intact(wall.block(b.p, b.len), b.tag, b.filled),
            "thread {thread}: block {:#x} overwritten, seen at the end",
            b.p
        );
        assert_eq!(wall.size(b.p), b.len);
    }
    live
}

/// Joins `n` threads running `work(i)`, failing the test after `limit` (a deadlock, or a machine
/// far too slow) instead of hanging.
fn run_threads<T: Send + 'static>(
    n: u32,
    limit: Duration,
    work: impl Fn(u32) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let work = Arc::new(work);
    let (done, results) = mpsc::channel();
    for i in 0..n {
        let (work, done) = (work.clone(), done.clone());
        std::thread::Builder::new()
            .name(format!("wall-e-{i}"))
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i)));
                let _ = done.send((i, result));
            })
            .unwrap();
    }
    let deadline = Instant::now() + limit;
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for _ in 0..n {
        let left = deadline.saturating_duration_since(Instant::now());
        match results.recv_timeout(left) {
            Ok((i, Ok(value))) => out[i as usize] = Some(value),
            Ok((i, Err(panic))) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("thread {i} failed: {message}");
            }
            Err(_) => panic!("threads still running after {limit:?}: deadlock?"),
        }
    }
    out.into_iter().map(Option::unwrap).collect()
}

fn ops_per_thread() -> u32 {
    std::env::var("WALL_E_THREAD_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// No two live blocks of any thread overlap.
fn assert_disjoint(all: &mut [Live]) {
    all.sort_by_key(|b| b.p);
    for w in all.windows(2) {
        assert!(
            w[0].p + w[0].len <= w[1].p,
            "blocks {:#x}+{} and {:#x} overlap",
            w[0].p,
            w[0].len,
            w[1].p
        );
    }
}

fn stress(build: Build, threads: u32, walk_every: u32) {
    let memory = shared_memory(1, 16_384);
    let ops = ops_per_thread();
    let start = Arc::new(Barrier::new(threads as usize));
    let began = Instant::now();
    let mem = memory.clone();
    let live = run_threads(threads, Duration::from_secs(900), move |i| {
        stress_thread(build, &mem, i, ops, 512, walk_every, &start)
    });
    eprintln!(
        "{build:?}: {threads} threads x {ops} operations in {:.1} s, {} pages",
        began.elapsed().as_secs_f64(),
        memory.size()
    );
    let mut all: Vec<Live> = live.iter().flatten().copied().collect();
    assert_disjoint(&mut all);
    let mut wall = Wall::new(build, &memory);
    if build == Build::Stats {
        assert_eq!(wall.validate(), 0, "heap walk after the run");
        assert_eq!(wall.stat(2), all.len() as u32, "used blocks = live blocks");
        let used: u32 = all.iter().map(|b| b.len).sum();
        assert_eq!(wall.stat(1), used, "bytes in use = the live blocks' sizes");
    }
    // Another instance frees every thread's blocks: one heap.
    for b in &all {
        assert!(intact(wall.block(b.p, b.len), b.tag, b.filled));
        wall.deallocate(b.p);
    }
    wall.release();
    if build == Build::Stats {
        assert_eq!(wall.validate(), 0, "heap walk after freeing everything");
        wall.flush_cache();
        assert_eq!(
            wall.validate(),
            0,
            "heap walk after the cache is given back"
        );
        assert_eq!((wall.stat(1), wall.stat(2)), (0, 0), "nothing in use");
        assert_eq!(
            (wall.stat(3), wall.stat(4)),
            (0, 0),
            "all back to the bump pointer"
        );
    }
}

/// The file's sections: `(id, contents)`.
fn sections(wasm: &[u8]) -> Vec<(u8, &[u8])> {
    assert_eq!(&wasm[..8], b"\0asm\x01\0\0\0");
    let mut at = 8;
    let mut out = Vec::new();
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let byte = wasm[at];
            at += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        out.push((id, &wasm[at..at + len]));
        at += len;
    }
    out
}

/// The offset in `code` of a shadow-stack prologue, `global.get g` (0x23 g), `i32.const n`
/// (0x41, a LEB128), `i32.sub` (0x6b), `local.tee l` (0x22, a LEB128), `global.set g`
/// (0x24 g) with the same one-byte global index; `None` if there is none.
fn frame_prologue(code: &[u8]) -> Option<usize> {
    let leb = |at: usize| -> Option<usize> {
        let mut at = at;
        while *code.get(at)? & 0x80 != 0 {
            at += 1;
        }
        Some(at + 1)
    };
    (0..code.len()).find(|&at| {
        let step = || -> Option<bool> {
            if code[at] != 0x23 || code.get(at + 2) != Some(&0x41) {
                return Some(false);
            }
            let g = *code.get(at + 1)?;
            let after = leb(at + 3)?;
            if code.get(after) != Some(&0x6b) || code.get(after + 1) != Some(&0x22) {
                return Some(false);
            }
            let set = leb(after + 2)?;
            Some(code.get(set) == Some(&0x24) && code.get(set + 1) == Some(&g))
        };
        step() == Some(true)
    })
}

#[test]
fn imports_a_shared_memory_exports_the_abi_and_has_no_stack_and_no_data() {
    let wasm = bytes_of(Build::Shipped);
    let module = module(Build::Shipped);
    let imports: Vec<_> = module
        .imports()
        .map(|i| (i.module().to_string(), i.name().to_string()))
        .collect();
    assert_eq!(imports, [("env".to_string(), "memory".to_string())]);
    let ty = module.imports().next().unwrap().ty();
    let memory = ty.memory().expect("env.memory is a memory");
    assert!(memory.is_shared(), "env.memory is shared");
    assert_eq!(memory.minimum(), 1, "at least one page");
    assert_eq!(
        memory.maximum(),
        Some(65_536),
        "any shared memory fits: 4 GiB"
    );
    let mut exports: Vec<_> = module.exports().map(|e| e.name().to_string()).collect();
    exports.sort();
    // The ABI, and `release_thread_cache` where the build has per-thread caches.
    exports.retain(|e| e != "release_thread_cache");
    assert_eq!(exports, ["allocate", "deallocate", "reallocate", "size"]);
    let ids: Vec<u8> = sections(&wasm).iter().map(|&(id, _)| id).collect();
    // 6: globals. A shadow stack needs a mutable global (`__stack_pointer`): with none, no
    // function can keep a frame in memory, so instances cannot share one.
    // With per-thread caches (`release_thread_cache`), a global holds the instance's cache; what
    // must not be there is a frame in memory (no function moves a stack pointer: checked below,
    // and by the stress runs).
    if module.exports().all(|e| e.name() != "release_thread_cache") {
        assert!(!ids.contains(&6), "the module has globals: {ids:?}");
    }
    // No function keeps a frame in the shared memory: none moves a global down as LLVM's
    // prologue moves the shadow stack pointer (`global.get g; i32.const n; i32.sub;
    // local.tee l; global.set g`), which every instance would do from the same address.
    let code = sections(&wasm)
        .into_iter()
        .find(|&(id, _)| id == 10)
        .expect("a code section")
        .1;
    assert_eq!(
        frame_prologue(code),
        None,
        "a function keeps a frame in memory"
    );
    // 11: data, 12: data count. No segment can be re-run over live blocks.
    assert!(
        !ids.contains(&11) && !ids.contains(&12),
        "the module has data segments: {ids:?}"
    );
}

#[test]
fn a_later_instance_shares_the_heap_and_reinitialises_nothing() {
    let memory = shared_memory(1, 1024);
    let mut a = Wall::new(Build::Stats, &memory);
    let blocks: Vec<(u32, u64)> = (0..200u32)
        .map(|i| {
            let len = 8 + i * 24;
            let p = a.allocate(len);
            fill(a.block(p, len), tag(0, i, 1));
            (p, tag(0, i, 1))
        })
        .collect();
    let used = a.stat(1);
    // A second instance, instantiated while the heap is in use (its start function must not
    // zero the heap's state again, and it has no data segment to re-run).
    let mut b = Wall::new(Build::Stats, &memory);
    for (i, &(p, t)) in blocks.iter().enumerate() {
        let len = 8 + i as u32 * 24;
        assert!(
            intact(b.block(p, len), t, len),
            "block {i} changed by an instantiation"
        );
        assert_eq!(b.size(p), len);
    }
    assert_eq!(b.validate(), 0);
    assert_eq!(b.stat(1), used, "the new instance sees the same heap");
    let q = b.allocate(100);
    for (i, &(p, _)) in blocks.iter().enumerate() {
        let len = 8 + i as u32 * 24;
        assert!(
            q + 100 <= p || p + len <= q,
            "the new instance handed out live memory"
        );
    }
    // One instance frees what another allocated.
    for &(p, _) in &blocks {
        b.deallocate(p);
    }
    a.deallocate(q);
    // Both hand their caches back (where the build has per-thread caches).
    a.release();
    b.release();
    assert_eq!((a.stat(1), a.stat(2)), (0, 0));
    assert_eq!(a.validate(), 0);
}

#[test]
fn stress_shipped_module_on_four_threads() {
    stress(Build::Shipped, 4, 0);
}

#[test]
fn stress_stats_module_on_three_threads_with_heap_walks_during_the_run() {
    stress(Build::Stats, 3, 100_000);
}

/// Every thread allocates `size`-byte blocks (or random sizes) until it gets 0; returns them.
fn fill_up(wall: &mut Wall, thread: u32, rng: &mut Rng, fixed: Option<u32>) -> Vec<Live> {
    let mut live = Vec::new();
    let mut failures = 0;
    while failures < 8 {
        let len = fixed.unwrap_or_else(|| rng.size(4096));
        let p = wall.allocate(len);
        if p == 0 {
            // Fixed sizes: the first 0 is the end; random sizes: a few misses in a row.
            failures += if fixed.is_some() { 8 } else { 1 };
            continue;
        }
        failures = 0;
        let t = tag(thread, live.len() as u32, 0);
        fill(wall.block(p, len.min(64)), t);
        live.push(Live {
            p,
            len,
            tag: t,
            filled: len.min(64),
        });
    }
    live
}

#[test]
fn out_of_memory_under_contention_loses_nothing_and_never_deadlocks() {
    const THREADS: u32 = 4;
    const CAP: u32 = 64; // pages: 4 MiB
    for fixed in [Some(1000), None] {
        let memory = shared_memory(1, CAP);
        let rounds = 3;
        let barrier = Arc::new(Barrier::new(THREADS as usize));
        let mem = memory.clone();
        let counts = run_threads(THREADS, Duration::from_secs(300), move |i| {
            let mut wall = Wall::new(Build::Stats, &mem);
            let mut rng = Rng(7 + i as u64);
            let mut counts = Vec::new();
            for round in 0..rounds {
                barrier.wait();
                let live = fill_up(&mut wall, i, &mut rng, fixed);
                counts.push((
                    live.len() as u32,
                    live.iter().map(|b| b.len as u64).sum::<u64>(),
                ));
                barrier.wait(); // everybody is full
                if i == 0 {
                    assert_eq!(wall.validate(), 0, "heap walk when full (round {round})");
                    assert_eq!(mem.size(), CAP as u64, "the memory reached its cap");
                }
                barrier.wait();
                for b in &live {
                    assert!(wall.holds(b), "thread {i}: block overwritten");
                    wall.deallocate(b.p);
                }
                wall.release();
                barrier.wait(); // everybody freed everything
                if i == 0 {
                    assert_eq!(wall.validate(), 0);
                    wall.flush_cache();
                    assert_eq!(wall.validate(), 0);
                    assert_eq!(
                        (wall.stat(1), wall.stat(2), wall.stat(3), wall.stat(4)),
                        (0, 0, 0, 0),
                        "round {round}: blocks or free bytes left after freeing everything"
                    );
                }
            }
            counts
        });
        for round in 0..rounds {
            let blocks: u32 = counts.iter().map(|c| c[round].0).sum();
            let bytes: u64 = counts.iter().map(|c| c[round].1).sum();
            eprintln!("OOM {fixed:?}: round {round}: {blocks} blocks, {bytes} bytes");
            if let Some(size) = fixed {
                let first: u32 = counts.iter().map(|c| c[0].0).sum();
                // Give or take a block per thread: the gap in front of a refill's run, carved
                // while another thread's cache went back (docs/threads.md, "Lines of their
                // own"); a cache lost would cost a batch (32) or more.
                assert!(
                    blocks.abs_diff(first) <= THREADS,
                    "round {round}: the same capacity again ({blocks}, first {first})"
                );
                let heap = (CAP * PAGE) as u64;
                assert!(
                    blocks as u64 * (size as u64 + 8) > heap - heap / 50,
                    "round {round}: {blocks} blocks of {size} bytes leave more than 2% of {heap} bytes unused"
                );
            } else {
                assert!(
                    bytes > (CAP * PAGE) as u64 * 7 / 10,
                    "round {round}: only {bytes} bytes allocated in a {CAP}-page memory"
                );
            }
        }
    }
}

/// Walks the heap with a new instance (stats build) and checks that nothing is in use and
/// nothing is free: every block went back to the bump pointer.
fn assert_all_back(memory: &SharedMemory, what: &str) {
    let mut wall = Wall::new(Build::Stats, memory);
    assert_eq!(wall.validate(), 0, "{what}: heap walk");
    // The heap's own cache of small blocks (issue 21) gives them back first.
    wall.flush_cache();
    assert_eq!(
        (wall.stat(1), wall.stat(2), wall.stat(3), wall.stat(4)),
        (0, 0, 0, 0),
        "{what}: blocks in use or free blocks left after freeing everything"
    );
}

/// Out of memory with the blocks freed by other threads: every thread fills the capped memory
/// until it gets 0, and then every one of them gets 0 again; each frees its neighbour's blocks
/// (pattern checked), hands its cache back, and the next round finds the same capacity.
#[test]
fn out_of_memory_under_contention_with_cross_thread_frees_every_thread_gets_nil() {
    const THREADS: u32 = 4;
    const CAP: u32 = 32; // pages: 2 MiB
    const ROUNDS: usize = 3;
    let memory = shared_memory(1, CAP);
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handed: Arc<Mutex<Vec<Vec<Live>>>> =
        Arc::new(Mutex::new(vec![Vec::new(); THREADS as usize]));
    let mem = memory.clone();
    let counts = run_threads(THREADS, Duration::from_secs(300), move |i| {
        let mut wall = Wall::new(Build::Stats, &mem);
        let mut rng = Rng(99 + i as u64);
        let mut counts = Vec::new();
        for round in 0..ROUNDS {
            barrier.wait();
            let live = fill_up(&mut wall, i, &mut rng, Some(200));
            counts.push(live.len() as u32);
            barrier.wait(); // everybody got 0 once
            assert_eq!(
                wall.allocate(200),
                0,
                "thread {i}, round {round}: a block after the memory was full"
            );
            if i == 0 {
                assert_eq!(wall.validate(), 0, "heap walk when full (round {round})");
            }
            handed.lock().unwrap()[i as usize] = live;
            barrier.wait();
            let theirs = std::mem::take(&mut handed.lock().unwrap()[((i + 1) % THREADS) as usize]);
            for b in &theirs {
                assert!(
                    wall.holds(b),
                    "thread {i}: another thread's block overwritten"
                );
                wall.deallocate(b.p);
            }
            wall.release();
            barrier.wait(); // everybody freed everything
            if i == 0 {
                assert_all_back(&mem, &format!("OOM round {round}"));
            }
        }
        counts
    });
    let first: u32 = counts.iter().map(|c| c[0]).sum();
    for round in 0..ROUNDS {
        let blocks: u32 = counts.iter().map(|c| c[round]).sum();
        eprintln!("OOM with cross-thread frees: round {round}: {blocks} blocks of 200 bytes");
        // Give or take a block per thread (above).
        assert!(
            blocks.abs_diff(first) <= THREADS,
            "round {round}: the same capacity again ({blocks}, first {first})"
        );
        let heap = (CAP * PAGE) as u64;
        assert!(
            blocks as u64 * 208 > heap - heap / 50,
            "round {round}: {blocks} blocks of 200 bytes leave more than 2% of the memory unused"
        );
    }
}

/// The free storm: every thread allocates batches of small blocks and sends each batch to
/// another thread, which checks every block's pattern and frees it, while it receives and frees
/// the batches of the others: every block is freed by a thread other than the one that
/// allocated it. At the end every thread hands its cache back and the heap is back at its
/// bump pointer.
#[test]
fn cross_thread_free_storm_every_block_freed_by_another_thread() {
    const THREADS: u32 = 4;
    const BATCH: u32 = 256;
    let rounds: u32 = (ops_per_thread() / 2_000).clamp(10, 400);
    let memory = shared_memory(1, 16_384);
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel::<Vec<Live>>()).unzip();
    // Each thread takes its own receiver out.
    type Inboxes = Mutex<Vec<Option<mpsc::Receiver<Vec<Live>>>>>;
    let receivers: Arc<Inboxes> = Arc::new(Mutex::new(receivers.into_iter().map(Some).collect()));
    let senders = Arc::new(senders);
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let mem = memory.clone();
    let began = Instant::now();
    let freed = run_threads(THREADS, Duration::from_secs(300), move |i| {
        let mut wall = Wall::new(Build::Stats, &mem);
        let inbox = receivers.lock().unwrap()[i as usize].take().unwrap();
        let mut rng = Rng(0x5EED ^ ((i as u64) << 32));
        let mut freed = 0u32;
        let mut free_batch = |wall: &mut Wall, batch: Vec<Live>| {
            for b in batch {
                assert!(
                    wall.holds(&b),
                    "thread {i}: block {:#x} from thread {} overwritten",
                    b.p,
                    b.tag >> 56
                );
                assert_eq!(wall.size(b.p), b.len, "thread {i}: size of a sent block");
                wall.deallocate(b.p);
                freed += 1;
            }
        };
        barrier.wait();
        for round in 0..rounds {
            let batch: Vec<Live> = (0..BATCH)
                .map(|slot| {
                    let len = rng.size(if slot % 64 == 0 { 4096 } else { 256 });
                    let p = wall.allocate(len);
                    assert_ne!(p, 0, "thread {i}: allocate({len})");
                    let t = tag(i, slot, round);
                    fill(wall.block(p, len), t);
                    Live {
                        p,
                        len,
                        tag: t,
                        filled: len,
                    }
                })
                .collect();
            // Mostly to the next thread, sometimes to the one after (a thread's batches then
            // reach two others).
            let to = (i + 1 + (round % 4 == 3) as u32) % THREADS;
            senders[to as usize].send(batch).unwrap();
            // Free what has arrived, without waiting: the sender goes on allocating.
            while let Ok(batch) = inbox.try_recv() {
                free_batch(&mut wall, batch);
            }
        }
        barrier.wait(); // everybody has sent everything
        while let Ok(batch) = inbox.try_recv() {
            free_batch(&mut wall, batch);
        }
        wall.release();
        freed
    });
    let total: u32 = freed.iter().sum();
    assert_eq!(
        total,
        THREADS * rounds * BATCH,
        "every block sent was freed"
    );
    eprintln!(
        "free storm: {THREADS} threads, {total} blocks each freed by another thread in {:.1} s, {} pages",
        began.elapsed().as_secs_f64(),
        memory.size()
    );
    assert_all_back(&memory, "after the free storm");
}

/// A double free from two threads at once: both free the same blocks at the same time. At most
/// one of the two frees may take effect; then both threads allocate, and no block may be
/// handed out twice (a block freed twice would sit in two caches or twice in a list).
#[test]
fn double_free_from_two_threads_at_once_has_one_winner() {
    const BLOCKS: u32 = 2_000;
    let memory = shared_memory(1, 4_096);
    for round in 0..5u32 {
        let mut owner = Wall::new(Build::Stats, &memory);
        let mut rng = Rng(round as u64);
        let blocks: Arc<Vec<u32>> = Arc::new(
            (0..BLOCKS)
                .map(|_| {
                    let p = owner.allocate(rng.size(300));
                    assert_ne!(p, 0);
                    p
                })
                .collect(),
        );
        let barrier = Arc::new(Barrier::new(2));
        let mem = memory.clone();
        let after = run_threads(2, Duration::from_secs(120), move |i| {
            let mut wall = Wall::new(Build::Stats, &mem);
            barrier.wait();
            for &p in blocks.iter() {
                wall.deallocate(p);
            }
            barrier.wait();
            // Both allocate the same sizes again: these must all be distinct blocks.
            let mut rng = Rng(1_000 + i as u64);
            let mine: Vec<Live> = (0..BLOCKS)
                .map(|slot| {
                    let len = rng.size(300);
                    let p = wall.allocate(len);
                    assert_ne!(p, 0);
                    let t = tag(i, slot, round);
                    fill(wall.block(p, len), t);
                    Live {
                        p,
                        len,
                        tag: t,
                        filled: len,
                    }
                })
                .collect();
            barrier.wait();
            for b in &mine {
                assert!(
                    wall.holds(b),
                    "thread {i}: block {:#x} overwritten: handed out twice?",
                    b.p
                );
            }
            barrier.wait();
            for b in &mine {
                wall.deallocate(b.p);
            }
            wall.release();
            mine
        });
        let mut all: Vec<Live> = after.into_iter().flatten().collect();
        assert_disjoint(&mut all);
        owner.release();
        assert_all_back(&memory, &format!("double free round {round}"));
    }
}

/// Threads that end with live blocks: 24 threads one after another, each allocating blocks,
/// freeing (after checking them) the blocks the thread before it left behind, and ending with
/// its own still live; the ones with an even number hand their cache back, the others end
/// without (as a terminated worker would). The last blocks are freed by the main thread. A
/// thread that ended without handing its cache back leaves at most its cache behind: the heap
/// grows no more than the first thread's heap plus those caches' bound; the threads that
/// handed theirs back leave nothing.
#[test]
fn threads_that_end_leave_live_blocks_that_others_free_later() {
    const THREADS: u32 = 24;
    const KEEP: u32 = 300;
    let memory = shared_memory(1, 4_096);
    let mut left: Vec<Live> = Vec::new();
    let mut pages_after_first = 0;
    for i in 0..THREADS {
        let mem = memory.clone();
        let theirs = std::mem::take(&mut left);
        left = std::thread::spawn(move || {
            let mut wall = Wall::new(Build::Stats, &mem);
            let mut rng = Rng(0xE0D0 ^ i as u64);
            // Some churn of its own, then the previous thread's blocks, then its own to keep.
            let churn: Vec<u32> = (0..2_000).map(|_| wall.allocate(rng.size(512))).collect();
            for p in churn {
                wall.deallocate(p);
            }
            for b in &theirs {
                assert!(
                    wall.holds(b),
                    "thread {i}: a block of an ended thread overwritten"
                );
                wall.deallocate(b.p);
            }
            let mine: Vec<Live> = (0..KEEP)
                .map(|slot| {
                    let len = rng.size(512);
                    let p = wall.allocate(len);
                    assert_ne!(p, 0);
                    let t = tag(i, slot, 0);
                    fill(wall.block(p, len), t);
                    Live {
                        p,
                        len,
                        tag: t,
                        filled: len,
                    }
                })
                .collect();
            if i % 2 == 0 {
                wall.release();
            }
            mine
        })
        .join()
        .expect("a thread failed");
        if i == 0 {
            pages_after_first = memory.size();
        }
    }
    let mut main = Wall::new(Build::Stats, &memory);
    for b in &left {
        assert!(intact(main.block(b.p, b.filled), b.tag, b.filled));
        main.deallocate(b.p);
    }
    main.release();
    assert_eq!(main.validate(), 0, "heap walk after all threads ended");
    let pages = memory.size();
    eprintln!(
        "{THREADS} threads in turn: {pages_after_first} pages after the first, {pages} after all"
    );
    // Today's module (one lock, no cache) leaves nothing behind: the heap stays where the first
    // thread left it (+1 page of slack for a different fit). With per-thread caches, each of the
    // threads that ended without handing back leaves at most one cache (`THREAD_CACHE_BOUND`).
    let abandoned = (THREADS / 2) as u64;
    let bound = pages_after_first + 1 + (abandoned * THREAD_CACHE_BOUND).div_ceil(PAGE as u64);
    assert!(
        pages <= bound,
        "the heap grew to {pages} pages with threads coming and going (at most {bound})"
    );
    if main.release_fn.is_none() {
        assert_all_back(&memory, "after the threads ended");
    }
}

/// The most memory one thread's cache holds (bytes, headers included): what a thread that
/// ends without `release_thread_cache` leaves behind (`ThreadCache::BOUND` of the module's
/// cache in src/per_thread.rs: the bins of 8–272 bytes, 1,024 blocks each to 64 bytes and 64
/// above, each full of its largest blocks).
const THREAD_CACHE_BOUND: u64 = 513_536;
