// The threaded module's cost, in V8: pkg/wall-e.threads.wasm (a spin lock around the heap, over a
// shared memory) against pkg/wall-e.wasm, driven by the benchmark's driver (bench/driver.wat, the
// same workloads and parameters as `make bench` at scale 1 except the two largest-block rows).
//   node --no-liftoff bench/threads.mjs [reps] [scale]   (defaults 7 and 4, the work of each row
//   times `scale`; after `make build` and `npm ci --prefix bench`)
// Columns: the single-threaded module and the threaded one on one thread (uncontended: every lock
// is free), CPU ns per allocator call, medians of `reps` runs taken in turn; then two workers
// running the same workload at once on the one shared heap (contended), wall ns per call of both
// together (lower is more throughput; the machine's other load shows up here).
import { readFileSync } from "node:fs";
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

/** One driver over an allocator instance: setup, then the timed call; CPU ns and ops. */
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

if (!isMainThread) {
  // A worker of the contended rows: its own driver instance over the shared heap.
  const { module, memory, driver, workload, seed, go } = workerData;
  const alloc = new WebAssembly.Instance(module, { env: { memory } }).exports;
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
  parentPort.postMessage(measure(driver, { ...alloc, memory }, workload, seed, wall));
} else {
  const reps = Number(process.argv[2] || 7);
  const single = new WebAssembly.Module(read("pkg/wall-e.wasm"));
  // WALL_E_THREADS_WASM: another threaded build to measure in its place.
  const threads = new WebAssembly.Module(process.env.WALL_E_THREADS_WASM ? readFileSync(process.env.WALL_E_THREADS_WASM) : read("pkg/wall-e.threads.wasm"));
  const plainDriver = await driverModule(false);
  const sharedDriver = await driverModule(true);
  const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  const newShared = () => new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });

  async function contended(workload, seed) {
    const memory = newShared();
    const go = new Int32Array(new SharedArrayBuffer(8));
    const runs = [0, 1].map((i) => new Promise((ok, fail) => {
      const w = new Worker(new URL(import.meta.url), {
        workerData: { module: threads, memory, driver: sharedDriver, workload, seed: seed + i, go },
      });
      w.once("message", (m) => { ok(m); w.terminate(); });
      w.once("error", fail);
    }));
    while (Atomics.load(go, 0) < 2) await new Promise((r) => setTimeout(r, 1));
    Atomics.store(go, 1, 1);
    Atomics.notify(go, 1);
    const [a, b] = await Promise.all(runs);
    return Math.max(a.ns, b.ns) / (a.ops + b.ops);
  }

  console.log(`| workload | wall-e.wasm ns/op | wall-e.threads.wasm ns/op, 1 thread | ratio | 2 workers, one heap: wall ns/op |`);
  console.log(`|---|--:|--:|--:|--:|`);
  const ratios = [];
  for (const workload of WORKLOADS) {
    const a = [];
    const b = [];
    const c = [];
    for (let rep = 0; rep < reps; rep++) {
      const seed = 1 + rep;
      // In turn, which one goes first alternating.
      const one = () => {
        const s = new WebAssembly.Instance(single, {}).exports;
        const m = measure(plainDriver, s, workload, seed, cpu);
        a.push(m.ns / m.ops);
      };
      const other = () => {
        const memory = newShared();
        const t = new WebAssembly.Instance(threads, { env: { memory } }).exports;
        const m = measure(sharedDriver, { ...t, memory }, workload, seed, cpu);
        b.push(m.ns / m.ops);
      };
      if (rep % 2) {
        other();
        one();
      } else {
        one();
        other();
      }
      // UNCONTENDED_ONLY=1: skip the two-worker column (e.g. for a build without its lock).
      if (!process.env.UNCONTENDED_ONLY) c.push(await contended(workload, seed));
    }
    const ratio = median(b) / median(a);
    ratios.push(ratio);
    console.log(`| ${workload[0]} | ${median(a).toFixed(1)} | ${median(b).toFixed(1)} | ×${ratio.toFixed(2)} | ${c.length ? median(c).toFixed(1) : "–"} |`);
  }
  const geo = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
  console.log(`\ngeometric mean of the uncontended ratios: ×${geo.toFixed(2)} (${reps} repetitions, scale ${k}, node ${process.version})`);
}
