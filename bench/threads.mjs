// Threads in V8: pkg/wall-e.threads.wasm (over a shared memory) against pkg/wall-e.wasm, and
// against two threaded peers with the same raw ABI over a shared memory (bench/threads-peers,
// built by its build.sh into target/threads-peers/out): talc 5 behind its lock (`TalcLock` with
// spin's spin lock) and std's allocator built with atomics (dlmalloc behind std's global spin
// lock). `make bench-threads` builds everything and runs it (`make bench` runs it after bench/run).
//   node --no-liftoff bench/threads.mjs [reps] [scale]   (defaults 9 and 4; the work of each row
//   times `scale`). A few minutes.
//
// Part 1, uncontended: the benchmark's driver (bench/driver.wat, the workloads of `make bench`
// at scale 1 but the two largest-block rows), one instance on the main thread, every lock free:
// CPU ns per allocator call, medians of `reps` runs taken in turn (the order rotating).
//
// Part 2, scaling: the same total work done by 1, 2 and 4 workers (worker_threads) on one heap
// (4 on this 2-core machine is oversubscribed), each worker doing its share (1/k of the steps,
// 1/k of the live blocks, so that the live memory is the same): same-thread churn, mixed sizes
// and LIFO through bench/driver.wat, and producer/consumer through bench/ring.wat, where every
// block is allocated by one worker and freed by another (a ring of 4,096 slots in the shared
// memory per pair, published 64 blocks at a time, its counters and sleep flags on lines of their
// own, so the figure is the allocator's: see bench/ring.wat; with 1,024 slots the ring's own
// ceiling read ×0.13–×0.18 of one worker, with 4,096 ×0.43–×0.45, in the same runs);
// with 1 worker, that worker does both (64 blocks at a time, allocated then freed). And a
// ceiling: what this machine allows now (see STAND_IN). The single-threaded
// module runs as 1 worker with its own memory, the same way. Every worker first warms up on a
// tenth of its share (V8 compiles per isolate), counts itself in and waits on a shared flag
// (Atomics.wait); the clock runs from the first worker's start to the last one's end (wall
// time, `performance.timeOrigin + now()`), reported as wall ns per allocator call of all workers
// together (Mops/s = 1000 / x). Then the heap's growth: pages `memory.size` gained from before
// the workers start to after they end (warm-ups included; a peer's stacks are allocated before).
// Medians of `reps` (at least 5).
//
// Before timing, each threaded module passes a check on two workers over one heap: random
// allocate/reallocate/deallocate/size, every byte of every block filled with a pattern unique to
// its worker and slot and checked on every reallocate and free and at the end.
// The peers use their shadow stack (wall-e's threaded module has none): every instance of one
// memory but the first gets a stack (16 KiB) and TLS block of its own, allocated through the peer
// by the first instance on the main thread before the workers start, set through the exported
// `__stack_pointer` and `__wasm_init_tls`. As built, neither touches its stack where it matters:
// talc keeps one 16-byte frame, taken and released inside its lock, and std's only frames are on a
// panic path that ends in `unreachable` (so std's 8-byte TLS block goes unused too).
// SHARED_STACK=1 skips the per-instance stacks (all instances then share the linker's one).
// WALL_E_THREADS_WASM: another threaded build of wall-e to measure in its place.
// PARTS=1 or PARTS=2: only that part. For quick runs while tuning (bench/RESULTS.md is then left
// alone): PEERS=0 skips talc and std, ROWS=churn,pc only those rows of part 2 (kinds: churn,
// lifo, pc; or words of a row's name, "mixed"), RING_CAP the ring's slots (default 4,096), BEST=1
// the fastest run of each rather than the median (part 2).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";

const root = new URL("..", import.meta.url);
const read = (path) => readFileSync(new URL(path, root));

/** The driver compiled by wabt, importing a plain or a shared memory. */
async function driverModule(shared) {
  const wabt = await (await import("wabt")).default();
  let wat = read("bench/driver.wat").toString();
  const plain = '(import "alloc" "memory" (memory 0))';
  if (!wat.includes(plain)) throw new Error("bench/driver.wat: memory import not found");
  if (shared) wat = wat.replace(plain, '(import "alloc" "memory" (memory 0 65536 shared))');
  // wabt's validate() refuses shared memories whatever the features; V8 validates the binary.
  const parsed = wabt.parseWat("driver.wat", wat, { threads: true });
  const bytes = parsed.toBinary({}).buffer;
  parsed.destroy();
  return new WebAssembly.Module(bytes);
}

const k = Number(process.argv[3] || 4);
const WORKLOADS = [
  ["small-object churn (1–64 B, 10k live)", 10_000, "churn", [10_000, 1, 64, 0, 100_000 * k]],
  ["mixed sizes (1 B–16 KiB log-uniform, 2k live)", 2_000, "churn", [2_000, 0, 14, 1, 50_000 * k]],
  ["LIFO (stacks of 1–100 blocks, 1–256 B)", 100, "lifo", [5_000 * k, 100, 1, 256]],
  ["FIFO (queue of 1000, 1–256 B)", 1_000, "fifo", [1_000, 100_000 * k, 1, 256]],
  ["parser tree (10k nodes of 20–64 B + tokens)", 10_066, "tree", [10 * k, 10_000]],
  ["string building (64 strings, +1–16 B reallocs)", 128, "grow", [64, 100_000 * k, 0, 64, 4096]],
];
const STACK = 16 * 1024;
const CHECK_OPS = 100_000;

/** One driver over an allocator instance: setup, then the timed call; ns and ops. */
function measure(driver, exportsOfAlloc, [, cap, call, args], seed, clock) {
  const d = new WebAssembly.Instance(driver, { alloc: exportsOfAlloc }).exports;
  if (d.setup(cap, BigInt(seed)) === 0) throw new Error("setup: no memory");
  const ops0 = d.ops.value;
  const t0 = clock();
  d[call](...args);
  const ns = clock() - t0;
  if (Number(d.errors.value) !== 0) throw new Error(`${call}: ${d.errors.value} errors`);
  return { ns, ops: Number(d.ops.value - ops0) };
}

const cpu = () => {
  const t = process.cpuUsage();
  return (t.user + t.system) * 1000;
};
const wall = () => performance.now() * 1e6;

/** An instance over `memory` on a stack and TLS block of its own (`own`: from `prepare`). */
function instantiate(module, memory, own) {
  const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
  if (own?.stack) e.__stack_pointer.value = own.stack;
  if (own?.tls) e.__wasm_init_tls(own.tls);
  return e;
}

/** The first instance over a new memory, on the main thread: it allocates `n` stacks and TLS
 * blocks for the instances to come (none for a module without a shadow stack). */
function prepare(module, memory, n) {
  const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const align = (p, a) => (p + a - 1) & -a;
  const block = (size, a) => {
    const p = e.allocate(size + a);
    if (p === 0) throw new Error("no memory for a stack or TLS block");
    return align(p, a);
  };
  const own = Array.from({ length: n }, () => {
    if (!e.__stack_pointer || process.env.SHARED_STACK) return {};
    const tlsSize = e.__tls_size.value;
    return {
      stack: (block(STACK, 16) + STACK) & -16,
      tls: tlsSize ? block(tlsSize, Math.max(e.__tls_align.value, 8)) : 0,
    };
  });
  return { own, e };
}

/** The check run in each worker: random operations, every byte of every block checked. */
function check(alloc, memory, worker, ops) {
  const SLOTS = 512;
  const ptrs = new Uint32Array(SLOTS);
  const lens = new Uint32Array(SLOTS);
  const pats = new Uint8Array(SLOTS);
  let x = 0x9e3779b9 ^ (worker * 0x85ebca6b);
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  let view = new Uint8Array(memory.buffer);
  const bytes = (p, n) => {
    if (p + n > view.length) view = new Uint8Array(memory.buffer);
    return view.subarray(p, p + n);
  };
  const fail = (what, j) => {
    throw new Error(`worker ${worker}: ${what} (slot ${j}, block ${ptrs[j]}, ${lens[j]} B)`);
  };
  const verify = (j, n) => {
    const b = bytes(ptrs[j], n);
    for (let i = 0; i < n; i++) if (b[i] !== pats[j]) fail(`byte ${i} is ${b[i]}, not ${pats[j]}`, j);
  };
  const fill = (j, gen) => {
    pats[j] = ((j * 7 + gen) & 0x7f) | (worker << 7);
    bytes(ptrs[j], lens[j]).fill(pats[j]);
  };
  for (let i = 0; i < ops; i++) {
    const j = rand() % SLOTS;
    if (ptrs[j] === 0) {
      lens[j] = 1 + (rand() % 512);
      ptrs[j] = alloc.allocate(lens[j]);
      if (ptrs[j] === 0 || ptrs[j] % 8) fail("allocate", j);
      fill(j, i);
      continue;
    }
    verify(j, lens[j]);
    if (alloc.size(ptrs[j]) !== lens[j]) fail("size", j);
    if (rand() % 3 === 0) {
      const n = 1 + (rand() % 1024);
      const q = alloc.reallocate(ptrs[j], n);
      if (q === 0) fail("reallocate", j);
      ptrs[j] = q;
      verify(j, Math.min(n, lens[j]));
      lens[j] = n;
      fill(j, i);
    } else {
      alloc.deallocate(ptrs[j]);
      ptrs[j] = 0;
    }
  }
  for (let j = 0; j < SLOTS; j++) if (ptrs[j]) verify(j, lens[j]);
  return Array.from(ptrs.keys()).filter((j) => ptrs[j]).map((j) => [ptrs[j], lens[j]]);
}


const RING_CAP = Number(process.env.RING_CAP || 4096); // slots, a power of two
const RING_BATCH = 64;
/** A ring's bytes (bench/ring.wat: counters and flags on lines of their own, then 4-byte slots),
 * and its start: 64-aligned inside a block of 64 more. */
const RING_BYTES = 256 + 4 * RING_CAP;
const ringAt = (block) => (block + 63) & -64;
/** What this machine allows, measured in the same run: the rows but producer/consumer on
 * wall-e.wasm with a heap and memory of its own per worker (nothing shared: k workers can do no
 * better); producer/consumer through the same rings with no allocator, each producer cycling
 * through a pool of 2 × RING_CAP slots of 64 bytes of its own (more than a ring holds) and `deallocate`
 * doing nothing (what the ring and the hand-off alone cost). */
const STAND_IN = "ceiling (nothing shared)";
const STAND_IN_POOL = 2 * RING_CAP;
const STAND_IN_WAT = `(module
  (import "alloc" "memory" (memory 0 65536 shared))
  (import "env" "base" (global $base i32))
  (global $n (mut i32) (i32.const 0))
  (func (export "allocate") (param i32) (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (i32.add (global.get $base) (i32.shl (i32.and (global.get $n) (i32.const ${STAND_IN_POOL - 1})) (i32.const 6))))
  (func (export "deallocate") (param i32)))`;
const WARM = 10; // a worker warms up on 1/WARM of its share

/** The rows of part 2: the total work of each, split over the workers. */
const SCALING = [
  { name: "same-thread churn (1–64 B, 10k live)", kind: "churn", live: 10_000, lo: 1, hi: 64, log: 0, steps: 100_000 * k },
  { name: "mixed sizes (1 B–16 KiB log-uniform, 2k live)", kind: "churn", live: 2_000, lo: 0, hi: 14, log: 1, steps: 25_000 * k },
  { name: "LIFO (stacks of 1–100 blocks, 1–256 B)", kind: "lifo", rounds: 2_500 * k, depth: 100, lo: 1, hi: 256 },
  { name: "producer/consumer (1–64 B, every block freed by another worker)", kind: "pc", n: 100_000 * k, lo: 1, hi: 64 },
];

/** A scaling worker's share of `row`: its driver work, warm-up first, then timed after the barrier. */
function scalingWorker({ module, single, standIn, memory, own, drivers, row, workers, index, ring, warmRing, go, seed }) {
  const alloc = standIn
    ? new WebAssembly.Instance(module, { alloc: { memory }, env: { base: new WebAssembly.Global({ value: "i32" }, standIn[index]) } }).exports
    : single ? new WebAssembly.Instance(module, {}).exports : instantiate(module, memory, own);
  const mem = single ? alloc.memory : memory;
  const imports = { alloc: { ...alloc, memory: mem } };
  // `memory.grow 0` in wasm: the memory's size as every thread sees it (a SharedArrayBuffer's
  // length in this isolate may lag behind another worker's growth).
  const pages = new WebAssembly.Instance(single ? drivers.plainRing : drivers.ring, imports).exports.pages;
  const pages0 = pages();
  let run;
  let ops;
  let bad;
  if (row.kind === "pc") {
    const r = () => {
      const p = alloc.allocate(RING_BYTES + 64);
      if (!p) throw new Error("no memory for a ring");
      new Uint8Array(mem.buffer, ringAt(p), RING_BYTES).fill(0);
      return ringAt(p);
    };
    if (single) {
      ring = r();
      warmRing = r();
    }
    const d = new WebAssembly.Instance(single ? drivers.plainRing : drivers.ring, imports).exports;
    d.seed(BigInt(seed));
    const pairs = Math.max(1, workers >> 1);
    const n = Math.floor(row.n / pairs);
    d.both(warmRing, RING_BATCH, Math.floor(n / WARM), row.lo, row.hi);
    if (workers === 1) run = () => d.both(ring, RING_BATCH, n, row.lo, row.hi);
    else if (index % 2 === 0) run = () => d.produce(ring, RING_CAP, RING_BATCH, n, row.lo, row.hi);
    else run = () => d.consume(ring, RING_CAP, RING_BATCH, n);
    ops = () => Number(d.ops.value);
    bad = () => Number(d.errors.value) + Number(d.nils.value);
  } else {
    const driver = single ? drivers.plain : drivers.shared;
    const warm = new WebAssembly.Instance(driver, imports).exports;
    const d = new WebAssembly.Instance(driver, imports).exports;
    if (row.kind === "churn") {
      const live = Math.floor(row.live / workers);
      const steps = Math.floor(row.steps / workers);
      if (!warm.setup(live, BigInt(seed + 1000))) throw new Error("setup: no memory");
      warm.churn(live, row.lo, row.hi, row.log, Math.floor(steps / WARM));
      if (!d.setup(live, BigInt(seed))) throw new Error("setup: no memory");
      run = () => d.churn(live, row.lo, row.hi, row.log, steps);
    } else {
      const rounds = Math.floor(row.rounds / workers);
      if (!warm.setup(row.depth, BigInt(seed + 1000))) throw new Error("setup: no memory");
      warm.lifo(Math.floor(rounds / WARM), row.depth, row.lo, row.hi);
      if (!d.setup(row.depth, BigInt(seed))) throw new Error("setup: no memory");
      run = () => d.lifo(rounds, row.depth, row.lo, row.hi);
    }
    const ops0 = Number(d.ops.value);
    ops = () => Number(d.ops.value) - ops0;
    bad = () => Number(d.errors.value) + Number(d.nils.value) + Number(warm.errors.value) + Number(warm.nils.value);
  }
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
  const start = performance.timeOrigin + performance.now();
  run();
  const end = performance.timeOrigin + performance.now();
  if (bad() !== 0) throw new Error(`${row.name}: worker ${index}: errors or nils`);
  return { start, end, ops: ops(), pages0, pages: pages() };
}

if (!isMainThread) {
  // A worker: its own instance over the shared heap, its own stack, then a check or a driver.
  const { module, memory, driver, workload, seed, go, own, checkOps, scaling } = workerData;
  if (scaling) {
    parentPort.postMessage(scalingWorker(scaling));
  } else {
    const alloc = instantiate(module, memory, own);
    Atomics.add(go, 0, 1);
    Atomics.notify(go, 0);
    while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
    if (checkOps) parentPort.postMessage(check(alloc, memory, seed, checkOps));
    else parentPort.postMessage(measure(driver, { ...alloc, memory }, workload, seed, wall));
  }
} else {
  const reps = Number(process.argv[2] || 9);
  const parts = process.env.PARTS || "12";
  // Everything printed after the checks also goes into bench/RESULTS.md, section "Threads"
  // (a whole run only: both parts; RESULTS=0 to leave the file alone).
  const printed = [];
  const print = console.log;
  console.log = (...args) => {
    printed.push(args.join(" "));
    print(...args);
  };
  const single = new WebAssembly.Module(read("pkg/wall-e.wasm"));
  const peerPath = (name) => new URL(`target/threads-peers/out/${name}.wasm`, root);
  for (const name of ["talc", "std"]) {
    if (!existsSync(peerPath(name))) throw new Error(`${peerPath(name).pathname} is missing: run bench/threads-peers/build.sh`);
  }
  const THREADED = [
    ["wall-e.threads", new WebAssembly.Module(process.env.WALL_E_THREADS_WASM ? readFileSync(process.env.WALL_E_THREADS_WASM) : read("pkg/wall-e.threads.wasm"))],
    ["talc + lock", new WebAssembly.Module(readFileSync(peerPath("talc")))],
    ["std dlmalloc + lock", new WebAssembly.Module(readFileSync(peerPath("std")))],
  ];
  const plainDriver = await driverModule(false);
  const sharedDriver = await driverModule(true);
  const ringDriver = await ringModule(true);
  const plainRingDriver = await ringModule(false);
  const standInModule = await (async () => {
    const wabt = await (await import("wabt")).default();
    const parsed = wabt.parseWat("stand-in.wat", STAND_IN_WAT, { threads: true });
    const bytes = parsed.toBinary({}).buffer;
    parsed.destroy();
    return new WebAssembly.Module(bytes);
  })();
  const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  const newShared = () => new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const geo = (xs) => Math.exp(xs.reduce((s, r) => s + Math.log(r), 0) / xs.length);

  /** Two workers on one new heap of `module`, started together; their messages. */
  async function twoWorkers(module, data) {
    const memory = newShared();
    const own = prepare(module, memory, 2).own;
    const go = new Int32Array(new SharedArrayBuffer(8));
    const runs = [0, 1].map((i) => new Promise((ok, fail) => {
      const w = new Worker(new URL(import.meta.url), {
        workerData: { module, memory, driver: sharedDriver, go, own: own[i], ...data(i) },
      });
      w.once("message", (m) => { ok(m); w.terminate(); });
      w.once("error", fail);
    }));
    while (Atomics.load(go, 0) < 2) await new Promise((r) => setTimeout(r, 1));
    Atomics.store(go, 1, 1);
    Atomics.notify(go, 1);
    return { memory, results: await Promise.all(runs) };
  }

  // The check: two workers, then the blocks of both disjoint.
  for (const [name, module] of THREADED) {
    if (process.env.PEERS === "0" && name !== "wall-e.threads") continue;
    const t0 = performance.now();
    const { results } = await twoWorkers(module, (i) => ({ seed: i, checkOps: CHECK_OPS }));
    const blocks = results.flat().sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < blocks.length; i++) {
      if (blocks[i - 1][0] + blocks[i - 1][1] > blocks[i][0]) throw new Error(`${name}: blocks ${blocks[i - 1]} and ${blocks[i]} overlap`);
    }
    console.log(`check: ${name}, 2 workers × ${CHECK_OPS} random operations, every byte checked: ok (${blocks.length} blocks live, disjoint; ${Math.round(performance.now() - t0)} ms)`);
  }
  console.log();

  const names = THREADED.map(([name]) => name);
  let uncontendedGeo = NaN;
  if (parts.includes("1")) {
    console.log("Part 1, uncontended: CPU ns per call, one instance on the main thread.\n");
    console.log(`| workload | wall-e.wasm | ${names.join(" | ")} | wall-e.threads ÷ wall-e.wasm |`);
    console.log(`|---|--:|${names.map(() => "--:|").join("")}--:|`);
    const ratios = [];
    const rel = names.map(() => []);
    for (const workload of WORKLOADS) {
      const one = [[], ...names.map(() => [])];
      for (let rep = 0; rep < reps; rep++) {
        const seed = 1 + rep;
        const runs = [
          () => {
            const s = new WebAssembly.Instance(single, {}).exports;
            const m = measure(plainDriver, s, workload, seed, cpu);
            one[0].push(m.ns / m.ops);
          },
          ...THREADED.map(([, module], i) => () => {
            const memory = newShared();
            const t = new WebAssembly.Instance(module, { env: { memory } }).exports;
            const m = measure(sharedDriver, { ...t, memory }, workload, seed, cpu);
            one[i + 1].push(m.ns / m.ops);
          }),
        ];
        for (let i = 0; i < runs.length; i++) runs[(i + rep) % runs.length]();
      }
      const m1 = one.map(median);
      ratios.push(m1[1] / m1[0]);
      names.forEach((_, i) => rel[i].push(m1[i + 1] / m1[1]));
      console.log(`| ${workload[0]} | ${m1.map((x) => x.toFixed(1)).join(" | ")} | ×${(m1[1] / m1[0]).toFixed(2)} |`);
    }
    uncontendedGeo = geo(ratios);
    console.log(`| **geometric mean** (peers: × wall-e.threads) | – | ${rel.map((r) => `×${geo(r).toFixed(2)}`).join(" | ")} | ×${uncontendedGeo.toFixed(2)} |`);
    console.log(`\n${reps} repetitions, scale ${k}, node ${process.version}.\n`);
  }

  /** A worker per share of a scaling row (`scalingWorker`'s data but the drivers and the start
   * flag), started together once every one has warmed up and counted itself in: their results. */
  async function runWorkers(shares) {
    const go = new Int32Array(new SharedArrayBuffer(8));
    const drivers = { plain: plainDriver, shared: sharedDriver, ring: ringDriver, plainRing: plainRingDriver };
    const runs = shares.map((share) => new Promise((ok, fail) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { scaling: { ...share, drivers, go } } });
      w.once("message", (m) => { ok(m); w.terminate(); });
      w.once("error", fail);
    }));
    while (Atomics.load(go, 0) < shares.length) await new Promise((r) => setTimeout(r, 1));
    Atomics.store(go, 1, 1);
    Atomics.notify(go, 1);
    return Promise.all(runs);
  }

  /** `workers` workers doing `row` on one new heap of `module` (or the single-threaded module). */
  async function scalingRun(module, isSingle, row, workers, seed, isStandIn) {
    // SEPARATE=1 (a quick-run option, docs/threads.md): every worker of the threaded module gets
    // a shared memory and heap of its own, so its 2- and 4-worker columns show what the rows
    // would take with nothing shared inside one heap (producer/consumer, which must share, is
    // left as it is); heap growth is not measured then (0).
    if (process.env.SEPARATE === "1" && !isSingle && !isStandIn && workers > 1 && row.kind !== "pc") {
      const parts = await Promise.all(Array.from({ length: workers }, async (_, index) => {
        const memory = newShared();
        const p = prepare(module, memory, 1);
        return { memory, own: p.own[0], pages0: new WebAssembly.Instance(ringDriver, { alloc: { ...p.e, memory } }).exports.pages() };
      }));
      const results = await runWorkers(parts.map((part, index) => (
        { module, single: false, standIn: null, memory: part.memory, own: part.own, row, workers, index, ring: 0, warmRing: 0, seed: seed * 16 + index })));
      const ns = (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) * 1e6;
      return { nsPerOp: ns / results.reduce((a, r) => a + r.ops, 0), grown: 0 };
    }
    const memory = isSingle ? null : newShared();
    let own = Array.from({ length: workers }, () => ({}));
    let rings = [];
    let warmRings = [];
    let pages0 = 0;
    let standIn = null;
    if (!isSingle) {
      // The stand-in's rings and pools come from wall-e.
      const p = prepare(isStandIn ? THREADED[0][1] : module, memory, workers);
      own = p.own;
      if (row.kind === "pc") {
        const ring = () => {
          const r = p.e.allocate(RING_BYTES + 64);
          if (!r) throw new Error("no memory for a ring");
          new Uint8Array(memory.buffer, ringAt(r), RING_BYTES).fill(0);
          return ringAt(r);
        };
        rings = Array.from({ length: Math.max(1, workers >> 1) }, ring);
        warmRings = Array.from({ length: workers }, ring);
        if (isStandIn) {
          const pool = () => {
            const b = p.e.allocate(STAND_IN_POOL * 64 + 64);
            if (!b) throw new Error("no memory for a pool");
            return (b + 63) & -64;
          };
          standIn = Array.from({ length: workers }, pool);
        }
      }
      pages0 = new WebAssembly.Instance(ringDriver, { alloc: { ...p.e, memory } }).exports.pages();
    }
    const results = await runWorkers(Array.from({ length: workers }, (_, index) => (
      { module, single: isSingle, standIn, memory, own: own[index], row, workers, index, ring: rings[index >> 1] ?? 0, warmRing: warmRings[index] ?? 0, seed: seed * 16 + index })));
    const ns = (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) * 1e6;
    const ops = results.reduce((s, r) => s + r.ops, 0);
    // The memory only grows: the largest size a worker saw at its end is the final one.
    const grown = isSingle
      ? results.reduce((sum, r) => sum + r.pages - r.pages0, 0) // a memory each
      : Math.max(...results.map((r) => r.pages)) - pages0;
    return { nsPerOp: ns / ops, grown };
  }

  if (parts.includes("2")) {
    const scalingReps = Math.max(5, Math.min(reps, 7));
    const KS = [1, 2, 4];
    const configs = [
      { name: "wall-e.wasm", module: single, single: true, k: 1 },
      ...THREADED.flatMap(([name, module]) => KS.map((w) => ({ name, module, single: false, k: w }))),
      ...KS.map((w) => ({ name: STAND_IN, k: w, ceiling: true })),
    ];
    // PEERS=0: the peers' columns are skipped (printed as –), for quick runs while tuning.
    const skip = (c) => process.env.PEERS === "0" && (c.name === "talc + lock" || c.name === "std dlmalloc + lock");
    const table = [];
    // ROWS=churn,pc (the rows' kinds, or words of their names): only those rows.
    const rows = process.env.ROWS ? SCALING.filter((r) => process.env.ROWS.split(",").some((w) => r.kind === w || r.name.includes(w))) : SCALING;
    for (const row of rows) {
      const times = configs.map(() => []);
      const grown = configs.map(() => []);
      for (let rep = 0; rep < scalingReps; rep++) {
        for (let i = 0; i < configs.length; i++) {
          const j = (i + rep) % configs.length;
          const c = configs[j];
          if (skip(c)) {
            times[j].push(NaN);
            grown[j].push(NaN);
            continue;
          }
          const r = c.ceiling
            ? row.kind === "pc"
              ? await scalingRun(standInModule, false, row, c.k, rep + 1, true)
              : await scalingRun(single, true, row, c.k, rep + 1)
            : await scalingRun(c.module, c.single, row, c.k, rep + 1);
          times[j].push(r.nsPerOp);
          grown[j].push(r.grown);
        }
      }
      // BEST=1 (a quick-run option): the fastest run of each rather than the median: on a shared
      // machine, the run a second core was free for (the ceiling's column says whether it was).
      const pick = process.env.BEST === "1" ? (xs) => Math.min(...xs.filter((x) => !Number.isNaN(x))) : median;
      table.push({ row, t: times.map((xs) => (xs.every(Number.isNaN) ? NaN : pick(xs))), g: grown.map(median) });
    }
    const col = (name, w) => configs.findIndex((c) => c.name === name && c.k === w);
    const f = (x) => (Number.isNaN(x) ? "–" : x.toFixed(1));
    console.log("Part 2, scaling: wall ns per allocator call of all workers together (the same total work).\n");
    console.log(`| workload | wall-e.wasm, 1 | ${[...names, STAND_IN].flatMap((n) => KS.map((w) => `${n}, ${w}`)).join(" | ")} |`);
    console.log(`|---|--:|${configs.slice(1).map(() => "--:|").join("")}`);
    for (const { row, t } of table) console.log(`| ${row.name} | ${t.map(f).join(" | ")} |`);
    console.log("\nThroughput ratios (from the medians above):\n");
    console.log(`| workload | wall-e.threads 1 ÷ wall-e.wasm (time) | ${[...names, STAND_IN].map((n) => `${n}: 2 workers ÷ 1 (throughput)`).join(" | ")} | ${names.map((n) => `${n}: 4 workers ÷ 2`).join(" | ")} | wall-e.threads ÷ talc + lock, 2 workers (throughput) | wall-e.threads ÷ std + lock, 2 workers |`);
    console.log(`|---|--:|${names.map(() => "--:|").join("")}--:|${names.map(() => "--:|").join("")}--:|--:|`);
    for (const { row, t } of table) {
      const x = (a) => `×${a.toFixed(2)}`;
      const w = (n, k2) => t[col(n, k2)];
      const xs = (a) => (Number.isNaN(a) ? "–" : x(a));
      console.log(`| ${row.name} | ${x(w("wall-e.threads", 1) / t[0])} | ${[...names, STAND_IN].map((n) => xs(w(n, 1) / w(n, 2))).join(" | ")} | ${names.map((n) => x(w(n, 2) / w(n, 4))).join(" | ")} | ${x(w("talc + lock", 2) / w("wall-e.threads", 2))} | ${x(w("std dlmalloc + lock", 2) / w("wall-e.threads", 2))} |`);
    }
    console.log("\nHeap growth, pages of 64 KiB gained during the run (warm-ups included), and k workers ÷ 1 worker:\n");
    const heapCols = configs.filter((c) => !c.ceiling).length;
    console.log(`| workload | wall-e.wasm, 1 | ${names.flatMap((n) => KS.map((w) => `${n}, ${w}`)).join(" | ")} | wall-e.threads: 2 ÷ 1 | 4 ÷ 1 |`);
    console.log(`|---|--:|${configs.slice(1, heapCols).map(() => "--:|").join("")}--:|--:|`);
    for (const { row, g: all } of table) {
      const g = all.slice(0, heapCols);
      const one = g[col("wall-e.threads", 1)];
      const r = (a) => (one ? `×${(a / one).toFixed(2)}` : "–");
      console.log(`| ${row.name} | ${g.join(" | ")} | ${r(g[col("wall-e.threads", 2)])} | ${r(g[col("wall-e.threads", 4)])} |`);
    }
    console.log(`\n${process.env.BEST === "1" ? "Fastest" : "Medians"} of ${scalingReps}, scale ${k}, node ${process.version}, ${(await import("node:os")).cpus().length} CPUs, load average ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")}.`);
  }
  if (parts === "12" && process.env.RESULTS !== "0" && !process.env.WALL_E_THREADS_WASM && !process.env.PEERS && !process.env.ROWS && !process.env.BEST) {
    const file = new URL("bench/RESULTS.md", root);
    const old = existsSync(file) ? readFileSync(file, "utf8") : "";
    const body = printed.slice(printed.findIndex((l) => l.startsWith("Part 1")));
    const section = [
      "## Threads",
      "",
      `Generated by \`make bench-threads\` (\`node --no-liftoff bench/threads.mjs ${reps} ${k}\`) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; see the header of bench/threads.mjs for what each figure is.`,
      "",
      ...body,
      "",
    ].join("\n");
    const at = old.indexOf("\n## Threads\n");
    let next = at < 0 ? -1 : old.indexOf("\n## ", at + 1);
    const updated = at < 0 ? `${old.trimEnd()}\n\n${section}` : `${old.slice(0, at + 1)}${section}${next < 0 ? "" : old.slice(next + 1)}`;
    writeFileSync(file, updated.endsWith("\n") ? updated : `${updated}\n`);
    print("\n(written to bench/RESULTS.md, section Threads)");
  }
}

/** bench/ring.wat compiled by wabt, over a shared memory or (for the single-threaded module, which
 * only runs `both`) a plain one. */
async function ringModule(shared) {
  const wabt = await (await import("wabt")).default();
  let wat = read("bench/ring.wat").toString();
  if (!shared) wat = wat.replace("(memory 0 65536 shared)", "(memory 0)");
  const parsed = wabt.parseWat("ring.wat", wat, { threads: true });
  const bytes = parsed.toBinary({}).buffer;
  parsed.destroy();
  return new WebAssembly.Module(bytes);
}
