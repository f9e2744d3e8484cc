//! Wasm instructions per allocator call of the threaded module against the single-threaded one,
//! counted as wasmtime's fuel (one unit per wasm operator executed: deterministic, unlike times
//! on a shared machine), for the uncontended rows of `bench/threads.mjs` (its part 1: the
//! driver bench/driver.wat, one instance, scale 1). Lock turns cost a few operators here and
//! far more in time (an atomic read-modify-write): read these counts beside the times.
//!
//!   cargo run --example threads_fuel [threaded.wasm [single.wasm]]
//!
//! Defaults: pkg/wall-e.threads.wasm and pkg/wall-e.wasm.
use wasmtime::{
    Config, Engine, Extern, Instance, Memory, MemoryType, Module, SharedMemory, Store, Val,
};

const ROWS: [(&str, u32, &str, &[i32]); 6] = [
    (
        "small-object churn",
        10_000,
        "churn",
        &[10_000, 1, 64, 0, 100_000],
    ),
    ("mixed sizes", 2_000, "churn", &[2_000, 0, 14, 1, 50_000]),
    ("LIFO", 100, "lifo", &[5_000, 100, 1, 256]),
    ("FIFO", 1_000, "fifo", &[1_000, 100_000, 1, 256]),
    ("parser tree", 10_066, "tree", &[10, 10_000]),
    ("string building", 128, "grow", &[64, 100_000, 0, 64, 4096]),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let thr = args.get(1).map_or("pkg/wall-e.threads.wasm", |s| s);
    let st = args.get(2).map_or("pkg/wall-e.wasm", |s| s);
    let mut config = Config::new();
    config
        .wasm_threads(true)
        .shared_memory(true)
        .consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let wat = std::fs::read_to_string("bench/driver.wat").unwrap();
    let plain = r#"(import "alloc" "memory" (memory 0))"#;
    let driver_plain = Module::new(&engine, &wat).unwrap();
    let driver_shared = Module::new(
        &engine,
        wat.replace(
            plain,
            r#"(import "alloc" "memory" (memory 0 65536 shared))"#,
        ),
    )
    .unwrap();
    let thr = Module::from_file(&engine, thr).unwrap();
    let st = Module::from_file(&engine, st).unwrap();
    for size in [24, 200] {
        let (sa, sf) = micro(&engine, &st, false, size);
        let (ta, tf) = micro(&engine, &thr, true, size);
        println!("{size} B from a warm cache: allocate {sa} / {ta}, deallocate {sf} / {tf} (single / threaded)");
    }
    println!("| row (wasm instructions a call) | single | threaded | ratio |");
    println!("|---|--:|--:|--:|");
    let mut product = 1.0f64;
    for (name, cap, call, params) in ROWS {
        let mut counts = [0f64; 2];
        for (i, count) in counts.iter_mut().enumerate() {
            let mut store = Store::new(&engine, ());
            store.set_fuel(u64::MAX).unwrap();
            let (alloc, mem): (Instance, Extern) = if i == 0 {
                let a = Instance::new(&mut store, &st, &[]).unwrap();
                let m: Memory = a.get_memory(&mut store, "memory").unwrap();
                (a, m.into())
            } else {
                let m = SharedMemory::new(&engine, MemoryType::shared(1, 65536)).unwrap();
                let a = Instance::new(&mut store, &thr, &[m.clone().into()]).unwrap();
                (a, m.into())
            };
            let get = |store: &mut Store<()>, n: &str| alloc.get_export(&mut *store, n).unwrap();
            let imports = [
                mem,
                get(&mut store, "allocate"),
                get(&mut store, "deallocate"),
                get(&mut store, "reallocate"),
            ];
            let driver = if i == 0 {
                &driver_plain
            } else {
                &driver_shared
            };
            let d = Instance::new(&mut store, driver, &imports).unwrap();
            let setup = d
                .get_typed_func::<(i32, i64), i32>(&mut store, "setup")
                .unwrap();
            assert_ne!(setup.call(&mut store, (cap as i32, 1)).unwrap(), 0);
            let ops = d.get_global(&mut store, "ops").unwrap();
            let ops0 = ops.get(&mut store).i64().unwrap();
            let f = d.get_func(&mut store, call).unwrap();
            let vals: Vec<Val> = params.iter().map(|&p| Val::I32(p)).collect();
            let fuel0 = store.get_fuel().unwrap();
            f.call(&mut store, &vals, &mut []).unwrap();
            let fuel = fuel0 - store.get_fuel().unwrap();
            let n = ops.get(&mut store).i64().unwrap() - ops0;
            let errors = d.get_global(&mut store, "errors").unwrap();
            assert_eq!(errors.get(&mut store).i32().unwrap(), 0, "{name}: errors");
            *count = fuel as f64 / n as f64;
        }
        product *= counts[1] / counts[0];
        println!(
            "| {name} | {:.1} | {:.1} | ×{:.2} |",
            counts[0],
            counts[1],
            counts[1] / counts[0]
        );
    }
    println!(
        "| geometric mean | | | ×{:.2} |",
        product.powf(1.0 / ROWS.len() as f64)
    );
}

/// Fuel of one `allocate` and one `deallocate` of `size` bytes from a warm cache (the mean over
/// 64 blocks allocated then freed, after the same once to warm it).
#[allow(dead_code)]
pub fn micro(engine: &Engine, m: &Module, shared: bool, size: u32) -> (f64, f64) {
    let mut store = Store::new(engine, ());
    store.set_fuel(u64::MAX).unwrap();
    let a = if shared {
        let mem = SharedMemory::new(engine, MemoryType::shared(1, 65536)).unwrap();
        Instance::new(&mut store, m, &[mem.into()]).unwrap()
    } else {
        Instance::new(&mut store, m, &[]).unwrap()
    };
    let alloc = a
        .get_typed_func::<u32, u32>(&mut store, "allocate")
        .unwrap();
    let free = a
        .get_typed_func::<u32, ()>(&mut store, "deallocate")
        .unwrap();
    let mut out = (0.0, 0.0);
    for round in 0..2 {
        let f0 = store.get_fuel().unwrap();
        let ps: Vec<u32> = (0..64)
            .map(|_| alloc.call(&mut store, size).unwrap())
            .collect();
        let f1 = store.get_fuel().unwrap();
        for &p in ps.iter().rev() {
            free.call(&mut store, p).unwrap();
        }
        let f2 = store.get_fuel().unwrap();
        if round == 1 {
            out = ((f0 - f1) as f64 / 64.0, (f1 - f2) as f64 / 64.0);
        }
    }
    out
}
