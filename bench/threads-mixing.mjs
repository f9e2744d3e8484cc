// How interleaved two workers' live blocks are on 64-byte lines (docs/threads.md, `CHAIN_ROOM`
// in src/heap.rs): 2 workers on one heap each churn 5,000 blocks of 1-64 B, free them all, then
// allocate 5,000 again and churn; printed: the fraction of the 64-byte lines their live blocks
// (headers and payloads) touch that hold blocks of both, and the memory's pages. It varies with how much the two workers
// overlap in time (a loaded machine runs them in turn): repeat it.
//   node bench/threads-mixing.mjs [pkg/wall-e.threads.wasm]
import { readFileSync } from "node:fs";
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
if (isMainThread) {
  const file = process.argv[2] || new URL("../pkg/wall-e.threads.wasm", import.meta.url).pathname;
  const module = new WebAssembly.Module(readFileSync(file));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  new WebAssembly.Instance(module, { env: { memory } });
  const go = new Int32Array(new SharedArrayBuffer(8));
  const runs = [0, 1].map((i) => new Promise((ok) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { module, memory, go, seed: i + 1 } });
    w.once("message", (m) => { ok(m); w.terminate(); });
  }));
  while (Atomics.load(go, 0) < 2) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(go, 1, 1); Atomics.notify(go, 1);
  const res = await Promise.all(runs);
  const owner = new Map();
  let both = 0, lines = 0;
  res.forEach((blocks, w) => {
    for (const [p, n] of blocks) {
      for (let l = (p - 8) >> 6; l <= (p + n - 1) >> 6; l++) {
        const o = owner.get(l);
        if (o === undefined) owner.set(l, 1 << w); else owner.set(l, o | (1 << w));
      }
    }
  });
  for (const v of owner.values()) { lines++; if (v === 3) both++; }
  const pages = memory.buffer.byteLength >> 16;
  console.log(`${file}: ${lines} lines, ${both} shared by both workers (${(100 * both / lines).toFixed(1)}%), ${pages} pages`);
} else {
  const { module, memory, go, seed } = workerData;
  const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
  let x = seed * 2654435761 >>> 0;
  const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
  const size = () => 1 + (rand() % 64);
  Atomics.add(go, 0, 1); Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
  const N = 5000;
  let live = Array.from({ length: N }, () => { const n = size(); return [e.allocate(n), n]; });
  for (let s = 0; s < 20000; s++) { const i = rand() % N; e.deallocate(live[i][0]); const n = size(); live[i] = [e.allocate(n), n]; }
  for (const [p] of live) e.deallocate(p);
  live = Array.from({ length: N }, () => { const n = size(); return [e.allocate(n), n]; });
  for (let s = 0; s < 50000; s++) { const i = rand() % N; e.deallocate(live[i][0]); const n = size(); live[i] = [e.allocate(n), n]; }
  parentPort.postMessage(live);
}
