//! Soak test: hundreds of millions of mixed operations on the stats build of wall-e under
//! wasmtime, driven from inside wasm, checking that the heap plateaus.
//!
//! ```text
//! node scripts/build.mjs --features stats --out target/wall-e-stats.wasm
//! cargo run --example soak -- [OPS (100000000)] [--batch N (1000000)] [--slots N (4096)] [--seed N]
//! ```
//! (`make soak` does both.)
//!
//! A driver module (WAT, below) imports wall-e's memory and functions and runs a seeded workload
//! over a table of `slots` slots: an empty slot gets a new block; a full one is checked (a tag in
//! its first word and its last byte, written when it was allocated) and then freed (50%), reallocated
//! (40%) or asked its `size` (10%), so about two thirds of the slots are live at any time. Sizes:
//! 75% 1–128 B, 19% 1 B–4 KiB, 6% 1 B–64 KiB. Any mismatch or failed allocation traps.
//!
//! After each batch the host checks `validate()` and samples the heap through `stat`. It prints a
//! table of the samples and a verdict: the heap plateaus when it does not grow (by more than 1%)
//! in the second half of the run; the exit status is 1 otherwise.

use std::time::Instant;
use wasmtime::{Engine, Extern, Instance, Module, Store, TypedFunc};

const DRIVER: &str = r#"
(module
  (import "wall-e" "memory" (memory 1))
  (import "wall-e" "allocate" (func $allocate (param i32) (result i32)))
  (import "wall-e" "deallocate" (func $deallocate (param i32)))
  (import "wall-e" "reallocate" (func $reallocate (param i32 i32) (result i32)))
  (import "wall-e" "size" (func $size (param i32) (result i32)))
  (global $rng (mut i32) (i32.const 1))
  ;; The slot table, allocated from wall-e: per slot, the block's address and size.
  (global $table (mut i32) (i32.const 0))
  (global $slots (mut i32) (i32.const 0))

  (func $rand (result i32)
    (local $x i32)
    (local.set $x (global.get $rng))
    (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
    (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
    (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
    (global.set $rng (local.get $x))
    (local.get $x))

  (func $pick_size (result i32)
    (local $r i32)
    (local.set $r (call $rand))
    (i32.add (i32.const 1)
      (if (result i32) (i32.lt_u (i32.and (local.get $r) (i32.const 15)) (i32.const 12))
        (then (i32.and (i32.shr_u (local.get $r) (i32.const 4)) (i32.const 127)))
        (else
          (if (result i32) (i32.lt_u (i32.and (local.get $r) (i32.const 15)) (i32.const 15))
            (then (i32.and (i32.shr_u (local.get $r) (i32.const 4)) (i32.const 4095)))
            (else (i32.and (i32.shr_u (local.get $r) (i32.const 4)) (i32.const 65535))))))))

  ;; The tag of a block allocated at $p for $n bytes.
  (func $tag (param $p i32) (param $n i32) (result i32)
    (i32.xor (i32.mul (local.get $p) (i32.const 0x9E3779B1)) (local.get $n)))

  (func $write_tag (param $p i32) (param $n i32)
    (local $t i32)
    (local.set $t (call $tag (local.get $p) (local.get $n)))
    (if (i32.ge_u (local.get $n) (i32.const 8))
      (then (i32.store (local.get $p) (local.get $t))))
    (i32.store8 (i32.sub (i32.add (local.get $p) (local.get $n)) (i32.const 1)) (local.get $t)))

  ;; Traps unless the block at $at holds the tag of ($p, $n) over its first $keep bytes: the
  ;; first word (blocks of 8 bytes or more) and, when all $n bytes were kept, the last byte.
  (func $check (param $at i32) (param $p i32) (param $n i32) (param $keep i32)
    (local $t i32)
    (local.set $t (call $tag (local.get $p) (local.get $n)))
    (if (i32.ge_u (local.get $keep) (i32.const 8))
      (then
        (if (i32.ne (i32.load (local.get $at)) (local.get $t)) (then unreachable))))
    (if (i32.eq (local.get $keep) (local.get $n))
      (then
        (if (i32.ne
              (i32.load8_u (i32.sub (i32.add (local.get $at) (local.get $n)) (i32.const 1)))
              (i32.and (local.get $t) (i32.const 255)))
          (then unreachable)))))

  (func (export "init") (param $seed i32) (param $slots i32) (result i32)
    (global.set $rng (i32.or (local.get $seed) (i32.const 1)))
    (global.set $slots (local.get $slots))
    (global.set $table (call $allocate (i32.shl (local.get $slots) (i32.const 3))))
    (if (i32.eqz (global.get $table)) (then unreachable))
    (memory.fill (global.get $table) (i32.const 0) (i32.shl (local.get $slots) (i32.const 3)))
    (global.get $table))

  ;; Runs $ops operations.
  (func (export "run") (param $ops i32)
    (local $r i32) (local $slot i32) (local $p i32) (local $n i32) (local $q i32) (local $m i32)
    (local $op i32) (local $keep i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $ops)))
        (local.set $ops (i32.sub (local.get $ops) (i32.const 1)))
        (local.set $r (call $rand))
        (local.set $slot
          (i32.add (global.get $table)
            (i32.shl (i32.rem_u (i32.shr_u (local.get $r) (i32.const 8)) (global.get $slots))
                     (i32.const 3))))
        (local.set $p (i32.load (local.get $slot)))
        (local.set $op (i32.and (local.get $r) (i32.const 255)))
        (if (i32.eqz (local.get $p))
          (then
            (local.set $n (call $pick_size))
            (local.set $p (call $allocate (local.get $n)))
            (if (i32.eqz (local.get $p)) (then unreachable))
            (if (i32.and (local.get $p) (i32.const 7)) (then unreachable))
            (call $write_tag (local.get $p) (local.get $n))
            (i32.store (local.get $slot) (local.get $p))
            (i32.store offset=4 (local.get $slot) (local.get $n))
            (br $next)))
        (local.set $n (i32.load offset=4 (local.get $slot)))
        (call $check (local.get $p) (local.get $p) (local.get $n) (local.get $n))
        (if (i32.lt_u (local.get $op) (i32.const 128))
          (then
            (call $deallocate (local.get $p))
            (i32.store (local.get $slot) (i32.const 0))
            (br $next)))
        (if (i32.lt_u (local.get $op) (i32.const 230))
          (then
            (local.set $m (call $pick_size))
            (local.set $q (call $reallocate (local.get $p) (local.get $m)))
            (if (i32.eqz (local.get $q)) (then unreachable))
            (if (i32.and (local.get $q) (i32.const 7)) (then unreachable))
            (local.set $keep
              (select (local.get $n) (local.get $m) (i32.lt_u (local.get $n) (local.get $m))))
            (call $check (local.get $q) (local.get $p) (local.get $n) (local.get $keep))
            (call $write_tag (local.get $q) (local.get $m))
            (i32.store (local.get $slot) (local.get $q))
            (i32.store offset=4 (local.get $slot) (local.get $m))
            (br $next)))
        (if (i32.ne (call $size (local.get $p)) (local.get $n)) (then unreachable))
        (br $next))))

  ;; Frees every live block and the table.
  (func (export "finish")
    (local $slot i32) (local $end i32)
    (local.set $slot (global.get $table))
    (local.set $end (i32.add (global.get $table) (i32.shl (global.get $slots) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $slot) (local.get $end)))
        (call $deallocate (i32.load (local.get $slot)))
        (local.set $slot (i32.add (local.get $slot) (i32.const 8)))
        (br $next)))
    (call $deallocate (global.get $table))))
"#;

struct Sample {
    ops: u64,
    heap: u32,
    used: u32,
    used_blocks: u32,
    free_blocks: u32,
    largest_free: u32,
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a number")),
        None => default,
    }
}

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: u64 = match args.first() {
        Some(a) if !a.starts_with("--") => a.replace('_', "").parse().expect("OPS is a number"),
        _ => 100_000_000,
    };
    let batch = arg(&args, "--batch", 1_000_000).clamp(1, u32::MAX as u64);
    let slots = arg(&args, "--slots", 4096) as u32;
    let seed = arg(&args, "--seed", 0x5EED) as u32;

    let root = env!("CARGO_MANIFEST_DIR");
    let path = format!("{root}/target/wall-e-stats.wasm");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{path}: {e}: run `node scripts/build.mjs --features stats --out target/wall-e-stats.wasm` \
             (or `make soak`)"
        )
    });
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let wall_e = Instance::new(
        &mut store,
        &Module::new(&engine, &wasm).expect("wall-e"),
        &[],
    )
    .expect("instantiating wall-e");
    let imports: Vec<Extern> = ["memory", "allocate", "deallocate", "reallocate", "size"]
        .iter()
        .map(|name| wall_e.get_export(&mut store, name).expect(name))
        .collect();
    let driver = Instance::new(
        &mut store,
        &Module::new(&engine, DRIVER).expect("driver"),
        &imports,
    )
    .expect("instantiating the driver");
    let validate: TypedFunc<(), u32> = wall_e.get_typed_func(&mut store, "validate").unwrap();
    let stat: TypedFunc<u32, u32> = wall_e.get_typed_func(&mut store, "stat").unwrap();
    let init: TypedFunc<(u32, u32), u32> = driver.get_typed_func(&mut store, "init").unwrap();
    let run: TypedFunc<u32, ()> = driver.get_typed_func(&mut store, "run").unwrap();
    let finish: TypedFunc<(), ()> = driver.get_typed_func(&mut store, "finish").unwrap();

    println!(
        "soak: {total} operations in batches of {batch}, {slots} slots, seed {seed:#x} ({path})"
    );
    init.call(&mut store, (seed, slots)).expect("init");
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut done = 0u64;
    let mut wasm_time = 0f64;
    while done < total {
        let n = batch.min(total - done);
        let t = Instant::now();
        if let Err(e) = run.call(&mut store, n as u32) {
            panic!("the driver trapped after about {done} operations (a block lost its contents, or an allocation failed): {e:?}");
        }
        wasm_time += t.elapsed().as_secs_f64();
        done += n;
        let at = validate.call(&mut store, ()).unwrap();
        assert_eq!(at, 0, "heap invalid at {at:#x} after {done} operations");
        let mut s = |i| stat.call(&mut store, i).unwrap();
        samples.push(Sample {
            ops: done,
            heap: s(0),
            used: s(1),
            used_blocks: s(2),
            free_blocks: s(4),
            largest_free: s(5),
        });
    }
    let elapsed = started.elapsed().as_secs_f64();
    finish.call(&mut store, ()).expect("finish");
    assert_eq!(validate.call(&mut store, ()).unwrap(), 0);
    let (left_blocks, free_blocks) = (
        stat.call(&mut store, 2).unwrap(),
        stat.call(&mut store, 4).unwrap(),
    );

    // The table: at most ~25 rows, always the last one.
    println!();
    println!(
        "{:>13} {:>12} {:>12} {:>10} {:>11} {:>11} {:>13}",
        "ops",
        "heap bytes",
        "used bytes",
        "efficiency",
        "used blocks",
        "free blocks",
        "largest free"
    );
    let every = samples.len().div_ceil(25).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % every == every - 1 || i + 1 == samples.len() {
            println!(
                "{:>13} {:>12} {:>12} {:>9.1}% {:>11} {:>11} {:>13}",
                s.ops,
                s.heap,
                s.used,
                100.0 * s.used as f64 / s.heap as f64,
                s.used_blocks,
                s.free_blocks,
                s.largest_free
            );
        }
    }
    let mid = &samples[(samples.len() - 1) / 2];
    let peak_first = samples[..=(samples.len() - 1) / 2]
        .iter()
        .map(|s| s.heap)
        .max()
        .unwrap();
    let peak_second = samples.iter().map(|s| s.heap).max().unwrap();
    let last = samples.last().unwrap();
    let peak_used = samples.iter().map(|s| s.used).max().unwrap();
    let mean_eff = samples[samples.len() / 2..]
        .iter()
        .map(|s| s.used as f64 / s.heap as f64)
        .sum::<f64>()
        / (samples.len() - samples.len() / 2) as f64;
    let growth = peak_second as f64 / peak_first as f64 - 1.0;
    println!();
    println!(
        "{done} operations in {elapsed:.1} s ({:.1} M ops/s inside wasm; {} samples)",
        done as f64 / wasm_time / 1e6,
        samples.len()
    );
    println!(
        "heap: {} bytes at the midpoint ({} ops), peak {} in the first half, {} overall, {} at the end; \
         mean efficiency in the second half {:.1}%",
        mid.heap,
        mid.ops,
        peak_first,
        peak_second,
        last.heap,
        100.0 * mean_eff
    );
    println!(
        "peak sampled used bytes {peak_used}: {:.1}% of the final heap",
        100.0 * peak_used as f64 / last.heap as f64
    );
    println!("after freeing everything: {left_blocks} used blocks, {free_blocks} free blocks, heap valid");
    if growth <= 0.01 {
        println!(
            "verdict: PLATEAU (the heap grew {:.2}% in the second half)",
            100.0 * growth
        );
    } else {
        println!(
            "verdict: GROWING (the heap grew {:.2}% in the second half)",
            100.0 * growth
        );
        std::process::exit(1);
    }
}
