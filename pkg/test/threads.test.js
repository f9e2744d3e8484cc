// The threaded module, wall-e.threads.wasm, through the loader in Node's worker_threads: workers
// that load it over one shared memory share one heap, and a random run on all of them at once
// keeps every block's pattern and hands out no memory twice. Also the loader's checks of
// `{ memory }`. Needs pkg/wall-e.threads.wasm (`node scripts/build.mjs --threads`, `make build`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { pkgDir, wasmBytes, rejectsCode } from "../testing/helpers.js";
import { load, createSharedMemory } from "../wall-e.js";
import { checkAll } from "../testing/stress.js";
import { syncInts, THREAD_CACHE_BOUND } from "../testing/scenarios.js";

// WALL_E_THREADS_WASM: another threaded build to run the same tests on (e.g. one with its
// synchronisation taken out, to see them fail).
const threadsPath = process.env.WALL_E_THREADS_WASM ? resolve(process.env.WALL_E_THREADS_WASM) : resolve(pkgDir, "wall-e.threads.wasm");
function threadsBytes() {
  if (!existsSync(threadsPath)) throw new Error(`${threadsPath} is missing: build it with \`node scripts/build.mjs --threads\` (or \`make build\`)`);
  return readFileSync(threadsPath);
}
const WORKERS = 4;
const OPS = Number(process.env.WALL_E_WORKER_OPS || 100_000);

test("the threaded module imports a shared env.memory and exports the ABI without a memory", () => {
  const module = new WebAssembly.Module(threadsBytes());
  assert.deepEqual(WebAssembly.Module.imports(module), [{ module: "env", name: "memory", kind: "memory" }]);
  // The ABI, and `release_thread_cache` where the build has per-thread caches.
  const names = WebAssembly.Module.exports(module).map((e) => e.name).filter((n) => n !== "release_thread_cache");
  assert.deepEqual(names.sort(), ["allocate", "deallocate", "reallocate", "size"]);
});

test("load({ memory }) takes the threaded module beside the loader; a plain memory or module is refused", async () => {
  const memory = createSharedMemory({ initial: 1, maximum: 64 });
  const heap = await load(undefined, { memory });
  assert.equal(heap.shared, true);
  assert.equal(heap.memory, memory);
  assert.equal(heap.exports.memory, memory);
  assert.ok(heap.memory.buffer instanceof SharedArrayBuffer);
  const p = heap.allocFrom("shared");
  assert.equal(heap.readString(p), "shared");
  const other = await load(threadsBytes(), { memory });
  assert.equal(other.readString(p), "shared", "a second instance sees the first one's block");
  other.free(p);
  assert.equal(heap.isLive(p), false, "and frees it for both");
  await rejectsCode(assert, load(undefined, { memory: new WebAssembly.Memory({ initial: 1 }) }), "BAD_SOURCE");
  await rejectsCode(assert, load(wasmBytes(), { memory }), "BAD_MODULE");
  await rejectsCode(assert, load(threadsBytes()), "LOAD_FAILED");
  const plain = await load(wasmBytes());
  assert.equal(plain.shared, false);
});

test(`${WORKERS} worker_threads share one heap: ${OPS} random operations each, patterns and disjointness checked`, { timeout: 300_000 }, async () => {
  const memory = createSharedMemory({ initial: 1, maximum: 16384 });
  const module = new WebAssembly.Module(threadsBytes());
  const main = await load(module, { memory });
  const first = main.alloc(8); // the heap's first block: it comes back when everything is freed
  main.free(first);
  const start = new Int32Array(new SharedArrayBuffer(8));
  const url = new URL("../testing/node-worker.js", import.meta.url);
  const results = Array.from({ length: WORKERS }, (_, worker) => new Promise((ok, fail) => {
    const w = new Worker(url, { workerData: { module, memory, worker, ops: OPS, start } });
    w.once("message", ok);
    w.once("error", fail);
    w.once("exit", (code) => code !== 0 && fail(new Error(`worker ${worker} exited with ${code}`)));
  }));
  while (Atomics.load(start, 0) < WORKERS) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(start, 1, 1);
  Atomics.notify(start, 1);
  const done = await Promise.all(results);
  const blocks = done.flatMap((r) => r.blocks);
  for (const r of done) {
    assert.equal(r.counts.alloc + r.counts.free + r.counts.realloc + r.counts.size, OPS);
    assert.ok(r.counts.realloc > OPS / 10 && r.counts.free > OPS / 10, JSON.stringify(r.counts));
  }
  checkAll(main, blocks);
  console.log(`# ${WORKERS} workers x ${OPS} operations: ${done.map((r) => Math.round(r.ms)).join(", ")} ms; ${blocks.length} blocks live, ${memory.buffer.byteLength >> 16} pages`);
  for (const [p, len] of blocks) {
    assert.equal(main.sizeOf(p), len);
    main.free(p);
  }
  main.releaseThreadCache(); // the blocks it freed, where the module has per-thread caches
  // Freed small blocks may sit in the allocator's cache (docs/small-blocks.md): a request larger
  // than the heap makes it give them back first, and they all merge down to the heap's start.
  assert.equal(main.alloc(memory.buffer.byteLength), first, "every block freed: the heap is back at its start");
});

const workerUrl = new URL("../testing/node-worker.js", import.meta.url);
/** Runs `scenario` of testing/scenarios.js on `n` workers at once; their results. */
function runScenario(module, memory, scenario, n, args, perMail) {
  const sync = new Int32Array(new SharedArrayBuffer(4 * syncInts(n, perMail)));
  return Promise.all(Array.from({ length: n }, (_, worker) => new Promise((ok, fail) => {
    const w = new Worker(workerUrl, { workerData: { module, memory, scenario, sync, args: { ...args, worker, workers: n, perMail } } });
    w.once("message", ok);
    w.once("error", fail);
    w.once("exit", (code) => code !== 0 && fail(new Error(`worker ${worker} exited with ${code}`)));
  })));
}

test("a free storm: every block freed by another worker than the one that allocated it", { timeout: 120_000 }, async () => {
  const memory = createSharedMemory({ initial: 1, maximum: 16384 });
  const module = new WebAssembly.Module(threadsBytes());
  const main = await load(module, { memory });
  const first = main.alloc(8);
  main.free(first);
  const rounds = 100;
  const batch = 256;
  const began = performance.now();
  const done = await runScenario(module, memory, "storm", WORKERS, { rounds, batch }, batch);
  assert.equal(done.reduce((s, r) => s + r.freed, 0), WORKERS * rounds * batch);
  console.log(`# free storm: ${WORKERS} workers x ${rounds * batch} blocks, each freed by another, ${Math.round(performance.now() - began)} ms, ${memory.buffer.byteLength >> 16} pages`);
  main.releaseThreadCache(); // its own cache holds `first`
  assert.equal(main.alloc(memory.buffer.byteLength), first, "every block freed and every cache handed back: the heap is back at its start");
});

test("out of memory under contention: every worker gets nil, the blocks freed by others, the same capacity again", { timeout: 120_000 }, async () => {
  const memory = createSharedMemory({ initial: 1, maximum: 32 });
  const module = new WebAssembly.Module(threadsBytes());
  const main = await load(module, { memory });
  const first = main.alloc(8);
  main.free(first);
  const rounds = 3;
  const done = await runScenario(module, memory, "oom", WORKERS, { rounds }, 12_000);
  const totals = Array.from({ length: rounds }, (_, r) => done.reduce((s, d) => s + d.counts[r], 0));
  console.log(`# OOM: ${totals.join(", ")} blocks of 200 bytes in rounds of ${WORKERS} workers`);
  // The same capacity every round, give or take a block per worker: a refill's run starts on a
  // 64-byte line (docs/threads.md, "Lines of their own"), and the gap in front of one carved
  // while another worker's cache went back at the end of a round can cost a block. A cache
  // lost would cost a batch of blocks (32) or a chain (33) or more.
  for (const t of totals) assert.ok(Math.abs(t - totals[0]) <= WORKERS, `the same capacity every round (within ${WORKERS} blocks): nothing lost: ${totals}`);
  assert.ok(totals[0] * 208 > 32 * 65536 * 0.98, `${totals[0]} blocks of 200 bytes leave more than 2% of the memory unused`);
});

test("100 workers started and ended in turn, each freeing the blocks of the one before: the heap stays bounded", { timeout: 120_000 }, async () => {
  const memory = createSharedMemory({ initial: 1, maximum: 16384 });
  const module = new WebAssembly.Module(threadsBytes());
  const main = await load(module, { memory });
  const first = main.alloc(8);
  main.free(first);
  const pages = () => memory.buffer.byteLength >> 16;
  let left = [];
  let afterFirst = 0;
  let abandoned = 0;
  let hasCaches = false;
  const began = performance.now();
  for (let index = 0; index < 100; index++) {
    // Odd workers hand their cache back and end by themselves; even ones are terminated
    // without it, as a worker killed by its page would be.
    const release = index % 2 === 1;
    const w = new Worker(workerUrl, { workerData: { module, memory, scenario: "generation", args: { index, left, keep: 50, release } } });
    const exited = new Promise((ok) => w.once("exit", ok));
    const result = await new Promise((ok, fail) => {
      w.once("message", ok);
      w.once("error", fail);
    });
    if (release) w.unref();
    await w.terminate();
    await exited;
    left = result.blocks;
    hasCaches ||= result.released;
    if (!release) abandoned++;
    if (index === 0) afterFirst = pages();
  }
  for (const [p] of left) main.free(p);
  const bound = afterFirst + 1 + Math.ceil((abandoned * THREAD_CACHE_BOUND) / 65536);
  console.log(`# 100 workers in turn: ${afterFirst} pages after the first, ${pages()} after all (bound ${bound}), ${Math.round(performance.now() - began)} ms`);
  assert.ok(pages() <= bound, `the heap grew to ${pages()} pages with workers coming and going (at most ${bound})`);
  main.releaseThreadCache();
  if (!hasCaches) assert.equal(main.alloc(memory.buffer.byteLength), first, "no caches: everything freed, the heap is back at its start");
});
