// `WallE` as the #[global_allocator] of a threaded Rust program in Node's worker_threads:
// examples/threads-bindgen (std built with atomics, nightly), bound by `wasm-bindgen --target
// nodejs`, one worker per thread over one shared memory, each set up by wasm-bindgen's own
// thread start-up. The scenarios of testing/walle-scenarios.js: the random stress with per-thread
// patterns, the cross-thread free storm, OOM under contention on a capped memory, 100 workers
// started and ended in turn; and the glue's own start-up on the main thread with workers joining
// it. `WALL_E_THREADS_BINDGEN_WASM` points the test at another build of
// the app (cargo's output, before wasm-bindgen), e.g. one against a wall-e without its caches'
// synchronisation, to see it fail.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { buildApp } from "../testing/walle-build.js";
import { scenarios, connect, importedMemory, newMemory, STACK } from "../testing/walle-scenarios.js";

let glue;
let module;
let limits;

before(() => {
  const dir = buildApp("nodejs");
  glue = join(dir, "threads_bindgen.js");
  const bytes = readFileSync(join(dir, "threads_bindgen_bg.wasm"));
  module = new WebAssembly.Module(bytes);
  limits = importedMemory(bytes);
});

/** Runs a scenario on a new memory of at most `maxPages`, every thread a Node worker. */
async function run(name, maxPages, args) {
  return runOn(newMemory(limits, maxPages), module, (spawn) => scenarios[name](spawn, args));
}

/** Calls `body(spawn)`, `spawn()` starting a worker over `memory`; terminates them all after. */
async function runOn(memory, module, body) {
  const started = [];
  const spawn = () => {
    const worker = new Worker(new URL("../testing/walle-node-worker.js", import.meta.url), {
      workerData: { glue, module, memory, stack: STACK },
    });
    started.push(worker);
    return connect({
      send: (m) => worker.postMessage(m),
      listen: (onMessage, onError) => {
        worker.on("message", onMessage);
        worker.on("error", onError);
        worker.on("exit", (code) => onError(new Error(`worker exited (${code})`)));
      },
      terminate: () => worker.terminate(),
    });
  };
  try {
    return await body(spawn);
  } finally {
    await Promise.all(started.map((w) => w.terminate()));
  }
}

test("Node workers: the random stress, blocks swapped between threads, patterns checked", { timeout: 300_000 }, async () => {
  const r = await run("stress", 16384, { n: 4, ops: 300_000 });
  console.log(`# ${r.n} workers x ${r.ops} operations in ${r.ms} ms, ${r.left} blocks left in the exchange`);
});

test("Node workers: the cross-thread free storm", { timeout: 300_000 }, async () => {
  const r = await run("storm", 16384, { n: 4, rounds: 100, batch: 256 });
  console.log(`# free storm: ${r.blocks} blocks in ${r.ms} ms`);
});

test("Node workers: out of memory under contention, nothing lost", { timeout: 300_000 }, async () => {
  const r = await run("oom", 512, { n: 4, rounds: 3 });
  assert.equal(r.pages, 512);
  console.log(`# OOM: 4 workers, 512-page cap: ${r.totals.join(" / ")} blocks of 200 B a round (${r.perRound.map((c) => c.join("+")).join(", ")}), ${r.ms} ms`);
});

test("Node workers: 100 started and ended in turn, live blocks freed by the next", { timeout: 300_000 }, async () => {
  const r = await run("generations", 16384, { n: 100, leave: 50 });
  console.log(`# ${r.n} workers in turn (${r.terminated} terminated, ${r.cachesKept} caches not handed back): ${r.firstPages} pages after the first, ${r.pages} after all (bound ${r.bound}), ${r.cached} blocks cached, ${r.ms} ms`);
});

test("Node: the glue's own start-up on the main thread, workers joining it with __wbg_wasm_module and __wbg_memory", { timeout: 300_000 }, async () => {
  // As a user's program does: `require` initialises the app on the main thread (wasm-bindgen's
  // thread 0, on a memory the glue makes), and each worker gets its module and memory.
  const app = createRequire(import.meta.url)(glue);
  const base = app.heap_stat(0);
  assert.ok(base >= 0, "heap walk on the main thread");
  const r = await runOn(app.__wbg_memory, app.__wbg_wasm_module, async (spawn) => {
    const workers = await Promise.all([0, 1, 2].map(() => spawn()));
    const freed = await Promise.all(workers.map((w, t) => w.call("storm", t, 3, 50, 256)));
    assert.deepEqual(freed, [12800, 12800, 12800]);
    // Every worker ends as it should; the main thread frees blocks too, on its own cache.
    for (const w of workers) {
      await w.call("release_thread_cache");
      await w.call("destroy");
    }
    return freed;
  });
  app.hand_over(0, 10);
  assert.equal(app.hand_over(1, 0), 10);
  app.release_thread_cache();
  app.flush_cache();
  assert.equal(app.heap_stat(0), base, "used blocks after the workers ended: as before them");
  assert.equal(app.heap_stat(1), 0, "nothing cached after every cache was handed back");
  console.log(`# main thread + 3 workers: ${r.reduce((a, b) => a + b)} blocks freed by another worker`);
});
