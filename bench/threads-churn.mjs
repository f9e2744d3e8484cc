// Same-thread churn on 1 worker, on 2 workers over one shared memory, and on 2 workers with a
// memory each, back to back: bench/threads.mjs's churn row (10,000 live blocks of 1-64 bytes, the
// same total work split over the workers, each warmed up on a tenth first, wall time from the
// first start to the last end), in a few seconds, for A/B runs of builds and for telling the
// harness from the allocator (docs/threads.md, "Churn that scales").
//   node --no-liftoff bench/threads-churn.mjs [module.wasm | standin] [reps] [scale]
// (default pkg/wall-e.threads.wasm, 5 repetitions, scale 4; MIN=1 prints the best run of each
// rather than the median: on a shared machine, the one a second core was free for; ROW=lifo: the
// LIFO row instead, bench/threads-row.mjs.)
// `standin` is not an allocator worth the name: a free list of 64-byte slots per instance, in a
// region of its own of the memory (2 MiB apart), its head in a wasm global: two workers on one
// shared memory that share nothing else. It scales as on a memory each (x2.03 and x2.02 on an
// idle minute): one `WebAssembly.Memory` for both workers costs V8 nothing.
// Also prints on-CPU ns a call of all workers (/proc/thread-self/schedstat).
import { readFileSync } from "node:fs";
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
import { sameThreadRow } from "./threads-row.mjs";

const oncpu = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
const root = new URL("..", import.meta.url).pathname;
const STANDIN = `(module
  (import "alloc" "memory" (memory 0 65536 shared))
  (import "env" "base" (global $base i32))
  (global $bump (mut i32) (i32.const 0))
  (global $big (mut i32) (i32.const 0))
  (global $free (mut i32) (i32.const 0))
  (func (export "allocate") (param $n i32) (result i32) (local $p i32)
    (if (i32.gt_u (local.get $n) (i32.const 64)) (then
       (local.set $p (i32.add (global.get $base) (i32.add (i32.const 0x100000) (global.get $big))))
       (global.set $big (i32.add (global.get $big) (i32.and (i32.add (local.get $n) (i32.const 63)) (i32.const -64))))
       (return (local.get $p))))
    (if (global.get $free) (then
       (local.set $p (global.get $free))
       (global.set $free (i32.load (local.get $p)))
       (return (local.get $p))))
    (local.set $p (i32.add (global.get $base) (global.get $bump)))
    (global.set $bump (i32.add (global.get $bump) (i32.const 64)))
    (local.get $p))
  (func (export "deallocate") (param $p i32)
    (if (i32.lt_u (local.get $p) (i32.add (global.get $base) (i32.const 0x100000))) (then
      (i32.store (local.get $p) (global.get $free))
      (global.set $free (local.get $p)))))
  (func (export "reallocate") (param i32 i32) (result i32) (i32.const 0))
  (func (export "size") (param i32) (result i32) (i32.const 0)))`;

async function wat(text, shared = true) {
  const wabt = await (await import("wabt")).default();
  const parsed = wabt.parseWat("x.wat", text, { threads: true });
  const bytes = parsed.toBinary({}).buffer;
  parsed.destroy();
  return new WebAssembly.Module(bytes);
}

if (!isMainThread) {
  const { alloc: kind, module, driver, memory, index, live, steps, go } = workerData;
  const base = 4 * 1048576 + index * 2 * 1048576;
  const alloc = kind === "standin"
    ? new WebAssembly.Instance(module, { alloc: { memory }, env: { base: new WebAssembly.Global({ value: "i32" }, base) } }).exports
    : new WebAssembly.Instance(module, { env: { memory } }).exports;
  const imports = { alloc: { ...alloc, memory } };
  const { timed: d, run } = sameThreadRow(driver, imports, { index, live, steps, lifoPer: 40 });
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
  const ops0 = Number(d.ops.value);
  const c0 = oncpu();
  const start = performance.timeOrigin + performance.now();
  run();
  const end = performance.timeOrigin + performance.now();
  const cpu = oncpu() - c0;
  parentPort.postMessage({ start, end, cpu, ops: Number(d.ops.value) - ops0, errors: d.errors.value + d.nils.value });
} else {
  const kind = process.argv[2] || root + "pkg/wall-e.threads.wasm";
  const reps = Number(process.argv[3] || 5);
  const k = Number(process.argv[4] || 4);
  let driverText = readFileSync(root + "bench/driver.wat", "utf8").replace('(import "alloc" "memory" (memory 0))', '(import "alloc" "memory" (memory 0 65536 shared))');
  const driver = await wat(driverText);
  const module = kind === "standin" ? await wat(STANDIN)
    : new WebAssembly.Module(readFileSync(kind));
  const newMem = () => new WebAssembly.Memory({ initial: kind === "standin" ? 256 : 1, maximum: 65536, shared: true });
  async function run(workers, separate) {
    const shared = newMem();
    if (kind !== "standin") new WebAssembly.Instance(module, { env: { memory: shared } });
    const go = new Int32Array(new SharedArrayBuffer(8));
    const LIVE = 10000, STEPS = 100000 * k;
    const runs = Array.from({ length: workers }, (_, index) => new Promise((ok, fail) => {
      let memory = shared;
      if (separate && index > 0) {
        memory = newMem();
        if (kind !== "standin") new WebAssembly.Instance(module, { env: { memory } });
      }
      const w = new Worker(new URL(import.meta.url), { workerData: { alloc: kind === "standin" ? "standin" : "walle", module, driver, memory, index, live: LIVE / workers, steps: STEPS / workers, go } });
      w.once("message", (m) => { ok(m); w.terminate(); });
      w.once("error", fail);
    }));
    while (Atomics.load(go, 0) < workers) await new Promise((r) => setTimeout(r, 1));
    Atomics.store(go, 1, 1);
    Atomics.notify(go, 1);
    const rs = await Promise.all(runs);
    if (rs.some((r) => r.errors)) console.log("errors", rs.map((r) => r.errors));
    const ns = (Math.max(...rs.map((r) => r.end)) - Math.min(...rs.map((r) => r.start))) * 1e6;
    const ops = rs.reduce((a, r) => a + r.ops, 0);
    cpus.push(rs.reduce((a, r) => a + r.cpu, 0) / ops);
    return ns / ops;
  }
  const cfgs = [[1, false], [2, false], [2, true]];
  let cpus = [];
  const cpuT = cfgs.map(() => []);
  const t = cfgs.map(() => []);
  for (let rep = 0; rep < reps; rep++) for (let i = 0; i < cfgs.length; i++) { cpus = cpuT[i]; t[i].push(await run(...cfgs[i])); }
  const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  const m = process.env.MIN ? t.map((x) => Math.min(...x)) : t.map(med);
  const cm = cpuT.map(med);
  console.log(`${kind}: on-CPU ns/op (all workers): 1 worker ${cm[0].toFixed(1)}, 2 shared ${cm[1].toFixed(1)} (x${(cm[1] / cm[0]).toFixed(2)}), 2 separate ${cm[2].toFixed(1)} (x${(cm[2] / cm[0]).toFixed(2)})`);
  console.log(`${kind}: 1 worker ${m[0].toFixed(1)}, 2 shared ${m[1].toFixed(1)} (x${(m[0] / m[1]).toFixed(2)}), 2 separate ${m[2].toFixed(1)} (x${(m[0] / m[2]).toFixed(2)})  all: ${t.map((x) => x.map((y) => y.toFixed(1)).join(",")).join(" | ")}`);
}
