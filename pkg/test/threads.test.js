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

const threadsPath = resolve(pkgDir, "wall-e.threads.wasm");
function threadsBytes() {
  if (!existsSync(threadsPath)) throw new Error(`${threadsPath} is missing: build it with \`node scripts/build.mjs --threads\` (or \`make build\`)`);
  return readFileSync(threadsPath);
}
const WORKERS = 4;
const OPS = Number(process.env.WALL_E_WORKER_OPS || 100_000);

test("the threaded module imports a shared env.memory and exports the ABI without a memory", () => {
  const module = new WebAssembly.Module(threadsBytes());
  assert.deepEqual(WebAssembly.Module.imports(module), [{ module: "env", name: "memory", kind: "memory" }]);
  assert.deepEqual(WebAssembly.Module.exports(module).map((e) => e.name).sort(), ["allocate", "deallocate", "reallocate", "size"]);
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
  // Freed small blocks may sit in the allocator's cache (docs/small-blocks.md): a request larger
  // than the heap makes it give them back first, and they all merge down to the heap's start.
  assert.equal(main.alloc(memory.buffer.byteLength), first, "every block freed: the heap is back at its start");
});
