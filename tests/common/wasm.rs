//! Helpers for the wasmtime integration tests: loading the real `wall-e.wasm` variants, calling
//! their exports, reading and writing their memory, and a second module that grows the same
//! memory behind wall-e's back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

#[allow(unused_imports)] // used by some of the suites that include this module
pub use super::shadow::{self, rounded, Target};
use wasmtime::{
    Engine, Extern, Instance, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, Trap,
    TypedFunc,
};

/// Bytes in a wasm page.
pub const PAGE: u32 = 65_536;

/// A build of the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `pkg/wall-e.wasm`, built by `node scripts/build.mjs` (`make build`).
    Default,
    /// `target/wall-e-stats.wasm` (`--features stats`): adds `validate` and `stat`.
    Stats,
    /// `target/wall-e-checked.wasm` (`--features checked`): adds those and `last_error*`.
    Checked,
    /// `pkg/wall-e.small.wasm` (`--small`): the size-tuned core, same ABI as `Default`.
    Small,
    /// `target/wall-e-small-stats.wasm` (`--small --features stats`): the size-tuned core with
    /// `validate` and `stat`.
    SmallStats,
}

/// Every variant, in `Variant as usize` order.
const VARIANTS: usize = 5;

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; VARIANTS] = [
        Variant::Default,
        Variant::Stats,
        Variant::Checked,
        Variant::Small,
        Variant::SmallStats,
    ];

    /// The arguments of `node scripts/build.mjs` that build it (besides `--out`); `None` for the
    /// default build, which must be built beforehand.
    fn build_args(self) -> Option<&'static [&'static str]> {
        match self {
            Variant::Default => None,
            Variant::Stats => Some(&["--features", "stats"]),
            Variant::Checked => Some(&["--features", "checked"]),
            Variant::Small => Some(&["--small"]),
            Variant::SmallStats => Some(&["--small", "--features", "stats"]),
        }
    }

    /// Whether the module exports `validate` and `stat`.
    pub fn has_stats(self) -> bool {
        matches!(
            self,
            Variant::Stats | Variant::Checked | Variant::SmallStats
        )
    }

    /// Where the module file lives.
    pub fn path(self) -> PathBuf {
        let root = root();
        match self {
            Variant::Default => root.join("pkg/wall-e.wasm"),
            Variant::Stats => root.join("target/wall-e-stats.wasm"),
            Variant::Checked => root.join("target/wall-e-checked.wasm"),
            Variant::Small => root.join("pkg/wall-e.small.wasm"),
            Variant::SmallStats => root.join("target/wall-e-small-stats.wasm"),
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The newest modification time among the files the module is built from.
fn newest_source() -> SystemTime {
    fn walk(dir: &Path, newest: &mut SystemTime) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                *newest = (*newest).max(modified);
            }
        }
    }
    let root = root();
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(&root.join("src"), &mut newest);
    for file in ["Cargo.toml", "scripts/build.mjs"] {
        if let Ok(modified) = std::fs::metadata(root.join(file)).and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    }
    newest
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Builds a feature variant with `node scripts/build.mjs` when its file is missing or older than
/// the sources. The build writes a private file that is then renamed into place, so concurrent
/// test processes never read a half-written module.
fn build_variant(variant: Variant) {
    let Some(args) = variant.build_args() else {
        return;
    };
    let out = variant.path();
    if modified(&out).is_some_and(|m| m >= newest_source()) {
        return;
    }
    let tmp = root().join(format!(
        "target/tmp/wall-e-{variant:?}-{}.wasm",
        std::process::id()
    ));
    let status = Command::new("node")
        .arg("scripts/build.mjs")
        .args(args)
        .arg("--out")
        .arg(&tmp)
        .current_dir(root())
        .status()
        .unwrap_or_else(|e| panic!("cannot run `node scripts/build.mjs`: {e}"));
    assert!(
        status.success(),
        "`node scripts/build.mjs {}` failed",
        args.join(" ")
    );
    std::fs::rename(&tmp, &out).expect("moving the built module into place");
}

/// The module file's bytes. The default build must exist; the feature variants are (re)built
/// here when missing or stale.
pub fn module_bytes(variant: Variant) -> Vec<u8> {
    static BUILT: Mutex<[bool; VARIANTS]> = Mutex::new([false; VARIANTS]);
    {
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        if !built[variant as usize] {
            build_variant(variant);
            built[variant as usize] = true;
        }
    }
    let path = variant.path();
    match std::fs::read(&path) {
        Ok(bytes) => {
            if variant == Variant::Default && modified(&path).is_some_and(|m| m < newest_source()) {
                eprintln!(
                    "warning: {} is older than src/; run `node scripts/build.mjs` (or `make build`)",
                    path.display()
                );
            }
            bytes
        }
        Err(_) if variant == Variant::Default => panic!(
            "{} is missing: run `node scripts/build.mjs` (or `make build`)",
            path.display()
        ),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// One engine for every test.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(Engine::default)
}

/// The compiled module of a variant (compiled once per test process).
pub fn module(variant: Variant) -> Module {
    static MODULES: [OnceLock<Module>; VARIANTS] = [const { OnceLock::new() }; VARIANTS];
    MODULES[variant as usize]
        .get_or_init(|| Module::new(engine(), module_bytes(variant)).expect("compiling wall-e"))
        .clone()
}

/// The store's data: the memory cap.
pub struct Host {
    pub limits: StoreLimits,
}

/// A store with an optional cap on the memory's size in pages.
pub fn store(cap_pages: Option<u32>) -> Store<Host> {
    let limits = match cap_pages {
        Some(pages) => StoreLimitsBuilder::new()
            .memory_size(pages as usize * PAGE as usize)
            .build(),
        None => StoreLimitsBuilder::new().build(),
    };
    let mut store = Store::new(engine(), Host { limits });
    store.limiter(|host| &mut host.limits);
    store
}

/// What a call that trapped left behind (checked build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `last_error()`.
    pub code: u32,
    /// `last_error_at()`.
    pub at: u32,
    /// The string at `last_error_message()`.
    pub message: String,
}

/// An instance of wall-e and typed handles to its exports.
pub struct Wall {
    pub store: Store<Host>,
    pub instance: Instance,
    pub memory: Memory,
    pub variant: Variant,
    allocate_fn: TypedFunc<u32, u32>,
    deallocate_fn: TypedFunc<u32, ()>,
    reallocate_fn: TypedFunc<(u32, u32), u32>,
    size_fn: TypedFunc<u32, u32>,
    validate_fn: Option<TypedFunc<(), u32>>,
    stat_fn: Option<TypedFunc<u32, u32>>,
    flush_cache_fn: Option<TypedFunc<(), ()>>,
    last_error_fn: Option<TypedFunc<(), u32>>,
    last_error_at_fn: Option<TypedFunc<(), u32>>,
    last_error_message_fn: Option<TypedFunc<(), u32>>,
}

/// Panics with the trap's description.
fn ok<T>(result: wasmtime::Result<T>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what} trapped: {e:?}"))
}

impl Wall {
    /// A fresh instance without a memory cap.
    pub fn new(variant: Variant) -> Self {
        Self::capped(variant, None)
    }

    /// A fresh instance whose memory may grow to at most `cap_pages` pages.
    pub fn capped(variant: Variant, cap_pages: Option<u32>) -> Self {
        let mut store = store(cap_pages);
        let instance =
            Instance::new(&mut store, &module(variant), &[]).expect("instantiating wall-e");
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("memory export");
        let has_stats = variant.has_stats();
        let checked = variant == Variant::Checked;
        let allocate_fn = instance
            .get_typed_func(&mut store, "allocate")
            .expect("allocate");
        let deallocate_fn = instance
            .get_typed_func(&mut store, "deallocate")
            .expect("deallocate");
        let reallocate_fn = instance
            .get_typed_func(&mut store, "reallocate")
            .expect("reallocate");
        let size_fn = instance.get_typed_func(&mut store, "size").expect("size");
        let opt = |store: &mut Store<Host>, name: &str, want: bool| {
            want.then(|| {
                instance
                    .get_typed_func::<(), u32>(&mut *store, name)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
        };
        let validate_fn = opt(&mut store, "validate", has_stats);
        let last_error_fn = opt(&mut store, "last_error", checked);
        let last_error_at_fn = opt(&mut store, "last_error_at", checked);
        let last_error_message_fn = opt(&mut store, "last_error_message", checked);
        let stat_fn = has_stats.then(|| {
            instance
                .get_typed_func::<u32, u32>(&mut store, "stat")
                .expect("stat")
        });
        let flush_cache_fn = has_stats.then(|| {
            instance
                .get_typed_func::<(), ()>(&mut store, "flush_cache")
                .expect("flush_cache")
        });
        Wall {
            store,
            instance,
            memory,
            variant,
            allocate_fn,
            deallocate_fn,
            reallocate_fn,
            size_fn,
            validate_fn,
            stat_fn,
            flush_cache_fn,
            last_error_fn,
            last_error_at_fn,
            last_error_message_fn,
        }
    }

    pub fn try_allocate(&mut self, size: u32) -> wasmtime::Result<u32> {
        self.allocate_fn.call(&mut self.store, size)
    }
    pub fn try_deallocate(&mut self, p: u32) -> wasmtime::Result<()> {
        self.deallocate_fn.call(&mut self.store, p)
    }
    pub fn try_reallocate(&mut self, p: u32, size: u32) -> wasmtime::Result<u32> {
        self.reallocate_fn.call(&mut self.store, (p, size))
    }
    pub fn try_size(&mut self, p: u32) -> wasmtime::Result<u32> {
        self.size_fn.call(&mut self.store, p)
    }

    pub fn allocate(&mut self, size: u32) -> u32 {
        ok(self.try_allocate(size), &format!("allocate({size})"))
    }
    pub fn deallocate(&mut self, p: u32) {
        ok(self.try_deallocate(p), &format!("deallocate({p:#x})"))
    }
    pub fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        ok(
            self.try_reallocate(p, size),
            &format!("reallocate({p:#x}, {size})"),
        )
    }
    pub fn size(&mut self, p: u32) -> u32 {
        ok(self.try_size(p), &format!("size({p:#x})"))
    }

    /// `validate()`: 0 when every invariant holds (stats and checked builds).
    pub fn validate(&mut self) -> u32 {
        let f = self
            .validate_fn
            .as_ref()
            .expect("validate needs the stats build");
        ok(f.call(&mut self.store, ()), "validate()")
    }

    /// Panics unless `validate()` is 0.
    pub fn assert_valid(&mut self, context: &str) {
        let at = self.validate();
        assert_eq!(at, 0, "heap invalid at {at:#x} ({context})");
    }

    /// `flush_cache()` (stats and checked builds): the cache given back to the heap.
    pub fn flush_cache(&mut self) {
        let f = self
            .flush_cache_fn
            .as_ref()
            .expect("flush_cache needs the stats build");
        ok(f.call(&mut self.store, ()), "flush_cache()")
    }

    /// `stat(i)`.
    pub fn stat(&mut self, i: u32) -> u32 {
        let f = self.stat_fn.as_ref().expect("stat needs the stats build");
        ok(f.call(&mut self.store, i), "stat()")
    }

    /// All ten figures of `stat`.
    pub fn stats(&mut self) -> Stats {
        let s: Vec<u32> = (0..10).map(|i| self.stat(i)).collect();
        Stats {
            heap_bytes: s[0],
            used_bytes: s[1],
            used_blocks: s[2],
            free_bytes: s[3],
            free_blocks: s[4],
            largest_free: s[5],
            top_room: s[6],
            regions: s[7],
            cached_bytes: s[8],
            cached_blocks: s[9],
        }
    }

    /// `last_error`, `last_error_at` and the message (checked build).
    pub fn failure(&mut self) -> Failure {
        let call = |f: &Option<TypedFunc<(), u32>>, store: &mut Store<Host>| {
            ok(
                f.as_ref().expect("needs the checked build").call(store, ()),
                "last_error*",
            )
        };
        let code = call(&self.last_error_fn, &mut self.store);
        let at = call(&self.last_error_at_fn, &mut self.store);
        let message_at = call(&self.last_error_message_fn, &mut self.store);
        let data = self.memory.data(&self.store);
        let tail = &data[message_at as usize..];
        let len = tail
            .iter()
            .position(|&b| b == 0)
            .expect("message is NUL-terminated");
        Failure {
            code,
            at,
            message: String::from_utf8(tail[..len].to_vec()).expect("UTF-8 message"),
        }
    }

    /// Memory size in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    /// Memory size in pages.
    pub fn pages(&self) -> u64 {
        self.memory.size(&self.store)
    }

    pub fn bytes(&self, addr: u32, len: u32) -> &[u8] {
        &self.memory.data(&self.store)[addr as usize..addr as usize + len as usize]
    }

    pub fn bytes_mut(&mut self, addr: u32, len: u32) -> &mut [u8] {
        &mut self.memory.data_mut(&mut self.store)[addr as usize..addr as usize + len as usize]
    }

    pub fn write_u32(&mut self, addr: u32, value: u32) {
        self.bytes_mut(addr, 4)
            .copy_from_slice(&value.to_le_bytes());
    }

    /// Fills `len` bytes at `p` with the pattern of `seed` ([`shadow::pattern`]).
    pub fn fill(&mut self, p: u32, len: u32, seed: u32) {
        shadow::fill_pattern(self.bytes_mut(p, len), seed, 0);
    }

    /// The first offset where the pattern of `seed` differs, if any.
    pub fn mismatch(&self, p: u32, len: u32, seed: u32) -> Option<usize> {
        shadow::pattern_mismatch(self.bytes(p, len), seed, 0).map(|at| at as usize)
    }

    /// Whether the cheap header check of the default build would take `p` for a live block,
    /// judged conservatively (the whole memory counts as the heap): used for deciding which
    /// "bad pointers" the contract says are ignored.
    pub fn looks_used(&self, p: u32) -> bool {
        if p & 7 != 0 || p < 16 || p as u64 >= self.memory_bytes() {
            return false;
        }
        let word = self.read_u32(p - 4);
        let eff = word & !7;
        word & 5 == 0 && eff as u64 <= self.memory_bytes() - p as u64 && self.read_u32(p - 8) <= eff
    }
}

/// The figures of `stat`, by name: the same as a host heap walk's.
pub use wall_e::Stats;

/// The module as the shadow model's allocator under test (header reader included:
/// [`Target::effective`], [`Target::read_u32`]).
impl Target for Wall {
    fn allocate(&mut self, size: u32) -> u32 {
        Wall::allocate(self, size)
    }
    fn deallocate(&mut self, p: u32) {
        Wall::deallocate(self, p)
    }
    fn reallocate(&mut self, p: u32, size: u32) -> u32 {
        Wall::reallocate(self, p, size)
    }
    fn size(&mut self, p: u32) -> u32 {
        Wall::size(self, p)
    }
    fn memory_bytes(&self) -> u64 {
        Wall::memory_bytes(self)
    }
    fn bytes(&self, addr: u32, len: u32) -> &[u8] {
        Wall::bytes(self, addr, len)
    }
    fn bytes_mut(&mut self, addr: u32, len: u32) -> &mut [u8] {
        Wall::bytes_mut(self, addr, len)
    }
    fn ignores_bad_pointers(&self) -> bool {
        self.variant != Variant::Checked
    }
    /// `validate()`, then the figures of `stat` (stats and checked builds).
    fn walk(&mut self) -> Option<Result<Stats, String>> {
        self.variant.has_stats().then(|| match self.validate() {
            0 => Ok(self.stats()),
            at => Err(format!("heap invalid at {at:#x}")),
        })
    }
    fn top_room(&mut self) -> Option<u32> {
        self.variant.has_stats().then(|| self.stat(6))
    }
    fn flush_cache(&mut self) -> Option<()> {
        self.variant.has_stats().then(|| Wall::flush_cache(self))
    }
}

/// A tiny deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.next_u32() as u64 * n as u64) >> 32) as u32
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
    /// A size from 1 to `max`, log-uniformly distributed (many small, some large).
    pub fn size(&mut self, max: u32) -> u32 {
        let bits = 32 - max.leading_zeros();
        let b = self.range(1, bits);
        let hi = if b >= 32 { u32::MAX } else { (1u32 << b) - 1 };
        self.range(1, hi.min(max))
    }
}

/// A second module sharing wall-e's memory: it grows it with `memory.grow` behind wall-e's back
/// and fills the pages it grew with a byte, then checks them.
pub const GROWER_WAT: &str = r#"
(module
  (import "wall-e" "memory" (memory 1))
  ;; Grows the memory by $pages and fills the new pages with $byte: the old size in pages,
  ;; or -1 when the memory cannot grow.
  (func (export "grow") (param $pages i32) (param $byte i32) (result i32)
    (local $old i32)
    (local.set $old (memory.grow (local.get $pages)))
    (if (i32.ne (local.get $old) (i32.const -1))
      (then
        (memory.fill
          (i32.shl (local.get $old) (i32.const 16))
          (local.get $byte)
          (i32.shl (local.get $pages) (i32.const 16)))))
    (local.get $old))
  ;; Grows the memory by $pages without touching the new pages: the old size or -1.
  (func (export "grow_only") (param $pages i32) (result i32)
    (memory.grow (local.get $pages)))
  ;; 1 when every byte of [$addr, $addr + $len) is $byte, else 0.
  (func (export "check") (param $addr i32) (param $len i32) (param $byte i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $addr) (local.get $len)))
    (block $bad
      (loop $next
        (if (i32.lt_u (local.get $addr) (local.get $end))
          (then
            (br_if $bad (i32.ne (i32.load8_u (local.get $addr)) (local.get $byte)))
            (local.set $addr (i32.add (local.get $addr) (i32.const 1)))
            (br $next))))
      (return (i32.const 1)))
    (i32.const 0)))
"#;

/// An instance of [`GROWER_WAT`] over a wall-e instance's memory, and the pages it grew.
pub struct Grower {
    grow_fn: TypedFunc<(u32, u32), i32>,
    check_fn: TypedFunc<(u32, u32, u32), u32>,
    grow_only_fn: TypedFunc<u32, i32>,
    /// `(first page, pages, fill byte)` of every successful growth.
    pub grown: Vec<(u32, u32, u8)>,
}

impl Grower {
    pub fn new(wall: &mut Wall) -> Self {
        let module = Module::new(engine(), GROWER_WAT).expect("compiling the grower");
        let instance = Instance::new(&mut wall.store, &module, &[Extern::Memory(wall.memory)])
            .expect("instantiating the grower");
        Grower {
            grow_fn: instance
                .get_typed_func(&mut wall.store, "grow")
                .expect("grow"),
            check_fn: instance
                .get_typed_func(&mut wall.store, "check")
                .expect("check"),
            grow_only_fn: instance
                .get_typed_func(&mut wall.store, "grow_only")
                .expect("grow_only"),
            grown: Vec::new(),
        }
    }

    /// Grows the memory by `pages` without writing to them (they stay zero, and a host memory
    /// reservation stays virtual); the first new page. Not recorded in `grown`.
    pub fn grow_only(&mut self, wall: &mut Wall, pages: u32) -> Option<u32> {
        let old = ok(self.grow_only_fn.call(&mut wall.store, pages), "grow_only");
        (old >= 0).then_some(old as u32)
    }

    /// Grows the memory by `pages` and fills them with `byte`; the first new page, or `None`
    /// when the memory could not grow.
    pub fn grow(&mut self, wall: &mut Wall, pages: u32, byte: u8) -> Option<u32> {
        let old = ok(
            self.grow_fn.call(&mut wall.store, (pages, byte as u32)),
            "grow",
        );
        (old >= 0).then(|| {
            self.grown.push((old as u32, pages, byte));
            old as u32
        })
    }

    /// Panics unless every page the grower grew still holds its fill byte.
    pub fn assert_intact(&self, wall: &mut Wall) {
        for &(page, pages, byte) in &self.grown {
            let (addr, len) = (page * PAGE, pages * PAGE);
            let good = ok(
                self.check_fn
                    .call(&mut wall.store, (addr, len, byte as u32)),
                "check",
            );
            assert_eq!(
                good,
                1,
                "wall-e wrote into pages {page}..{} that another module grew",
                page + pages
            );
        }
    }
}

/// Whether a call trapped on `unreachable` (the checked build's way to stop).
pub fn is_unreachable(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<Trap>() == Some(&Trap::UnreachableCodeReached)
}
