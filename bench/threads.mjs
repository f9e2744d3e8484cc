// The threaded module's cost, in V8: pkg/wall-e.threads.wasm (a spin lock around the heap, over a
// shared memory) against pkg/wall-e.wasm, and against two threaded peers with the same raw ABI
// over a shared memory (bench/threads-peers, built by its build.sh into target/threads-peers/out):
// talc 5 behind its lock (`TalcLock` with spin's spin lock) and std's allocator built with
// atomics (dlmalloc behind std's global spin lock). All driven by the benchmark's driver
// (bench/driver.wat, the same workloads and parameters as `make bench` at scale 1 except the two
// largest-block rows).
//   node --no-liftoff bench/threads.mjs [reps] [scale]   (defaults 9 and 4, the work of each row
//   times `scale`; after `make build`, bench/threads-peers/build.sh and `npm ci --prefix bench`;
//   `make bench-threads` does all of it, and `make bench` runs it after bench/run). About a minute.
// Columns: uncontended (one instance on the main thread, every lock free), CPU ns per allocator
// call, medians of `reps` runs taken in turn (the order rotating); then two workers running the
// same workload at once on one shared heap (contended), wall ns per call of both together (lower
// is more throughput: Mops/s = 1000 / x; the machine's other load shows up here).
// Before timing, each threaded module passes a check on two workers over one heap: random
// allocate/reallocate/deallocate/size, every byte of every block filled with a pattern unique to
// its worker and slot and checked on every reallocate and free and at the end.
// The peers use their shadow stack (wall-e's threaded module has none): every instance of one
// memory but the first gets a stack (16 KiB) and TLS block of its own, allocated through the peer
// by the first instance on the main thread before the workers start, set through the exported
// `__stack_pointer` and `__wasm_init_tls`. As built, neither touches its stack where it matters:
// talc keeps one 16-byte frame, taken and released inside its lock, and std's only frames are on a
// panic path that ends in `unreachable` (so std's 8-byte TLS block goes unused too).
// SHARED_STACK=1 skips the per-instance stacks (all instances then share the linker's one): the
// check passes that way too, as that reading predicts; the stacks are kept as the safe default.
// WALL_E_THREADS_WASM: another threaded build of wall-e to measure in its place.
// UNCONTENDED_ONLY=1: skip the two-worker columns (e.g. for a build without its lock).
import { readFileSync, existsSync } from "node:fs";
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
  return Array.from({ length: n }, () => {
    if (!e.__stack_pointer || process.env.SHARED_STACK) return {};
    const tlsSize = e.__tls_size.value;
    return {
      stack: (block(STACK, 16) + STACK) & -16,
      tls: tlsSize ? block(tlsSize, Math.max(e.__tls_align.value, 8)) : 0,
    };
  });
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

if (!isMainThread) {
  // A worker: its own instance over the shared heap, its own stack, then a check or a driver.
  const { module, memory, driver, workload, seed, go, own, checkOps } = workerData;
  const alloc = instantiate(module, memory, own);
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
  if (checkOps) parentPort.postMessage(check(alloc, memory, seed, checkOps));
  else parentPort.postMessage(measure(driver, { ...alloc, memory }, workload, seed, wall));
} else {
  const reps = Number(process.argv[2] || 9);
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
  const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  const newShared = () => new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });

  /** Two workers on one new heap of `module`, started together; their messages. */
  async function twoWorkers(module, data) {
    const memory = newShared();
    const own = prepare(module, memory, 2);
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
    const t0 = performance.now();
    const { results } = await twoWorkers(module, (i) => ({ seed: i, checkOps: CHECK_OPS }));
    const blocks = results.flat().sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < blocks.length; i++) {
      if (blocks[i - 1][0] + blocks[i - 1][1] > blocks[i][0]) throw new Error(`${name}: blocks ${blocks[i - 1]} and ${blocks[i]} overlap`);
    }
    console.log(`check: ${name}, 2 workers × ${CHECK_OPS} random operations, every byte checked: ok (${blocks.length} blocks live, disjoint; ${Math.round(performance.now() - t0)} ms)`);
  }
  console.log();

  async function contended(module, workload, seed) {
    const { results: [a, b] } = await twoWorkers(module, (i) => ({ workload, seed: seed + i }));
    return Math.max(a.ns, b.ns) / (a.ops + b.ops);
  }

  const names = THREADED.map(([name]) => name);
  console.log(`| workload | wall-e.wasm, 1 thread | ${names.map((n) => `${n}, 1 thread`).join(" | ")} | wall-e.threads ÷ wall-e | ${names.map((n) => `${n}, 2 workers`).join(" | ")} |`);
  console.log(`|---|--:|${names.map(() => "--:|").join("")}--:|${names.map(() => "--:|").join("")}`);
  const ratios = [];
  const rel = names.map(() => ({ one: [], two: [] }));
  for (const workload of WORKLOADS) {
    const one = [[], ...names.map(() => [])];
    const two = names.map(() => []);
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
      // In turn, the order rotating from one repetition to the next.
      for (let i = 0; i < runs.length; i++) runs[(i + rep) % runs.length]();
      if (!process.env.UNCONTENDED_ONLY) {
        for (let i = 0; i < THREADED.length; i++) {
          const j = (i + rep) % THREADED.length;
          two[j].push(await contended(THREADED[j][1], workload, seed));
        }
      }
    }
    const m1 = one.map(median);
    const m2 = two.map((xs) => (xs.length ? median(xs) : NaN));
    ratios.push(m1[1] / m1[0]);
    names.forEach((_, i) => {
      rel[i].one.push(m1[i + 1] / m1[1]);
      rel[i].two.push(m2[i] / m2[0]);
    });
    const f = (x) => (Number.isNaN(x) ? "–" : x.toFixed(1));
    console.log(`| ${workload[0]} | ${m1.map(f).join(" | ")} | ×${(m1[1] / m1[0]).toFixed(2)} | ${m2.map(f).join(" | ")} |`);
  }
  const geo = (xs) => Math.exp(xs.reduce((s, r) => s + Math.log(r), 0) / xs.length);
  const g = (xs) => (xs.some(Number.isNaN) ? "–" : `×${geo(xs).toFixed(2)}`);
  console.log(`| **geometric mean** (peers: × wall-e.threads in the same mode) | – | ${rel.map((r) => g(r.one)).join(" | ")} | ×${geo(ratios).toFixed(2)} | ${rel.map((r) => g(r.two)).join(" | ")} |`);
  console.log(`\n1 thread: CPU ns per call; 2 workers: wall ns per call of both together (Mops/s = 1000 / x). ${reps} repetitions, scale ${k}, node ${process.version}.`);
}
