// How many cache lines move between two cores when 2 workers churn on one heap of the threaded
// module: the figure that `make bench-threads` cannot give on a shared machine, where a second
// core is rarely free (docs/threads.md, "Churn that scales").
//   node bench/threads-lines.mjs [module.wasm] [steps] [runs]
// (default pkg/wall-e.threads.wasm, 200,000 steps a worker, 3 runs; needs binaryen's wasm-opt.)
// ROW=lifo: the LIFO row instead (stacks of 1-100 blocks of 1-256 bytes, steps / 100 of them).
//
// The module and bench/driver.wat are instrumented by `wasm-opt --instrument-memory`: every
// load and store (atomic ones included; a compare-and-swap and memory.fill/copy are not seen)
// calls back into JavaScript with its address. Two workers run bench/threads.mjs's same-thread
// churn row (5,000 live blocks of 1-64 bytes each: a warm-up on a tenth, then the timed churn,
// which fills its blocks, churns and frees them all) over one shared memory, started together;
// during the timed churn every access updates a per-line state shared by both workers (its last
// writer, the workers that read it since), as a cache-coherence protocol would: a read of a
// line the other worker wrote since this one last had it, or a write to a line the other holds,
// counts one transfer. The instrumented code runs ~50x slower, so the interleaving is not the
// real one, but it is the same for every module: compare modules, not absolute figures. Lines
// below 0x2000 are the module's statics (the lock at 0x1000, the heap's state after it, the
// pool of caches).
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
import { sameThreadRow } from "./threads-row.mjs";

const LINES = 1 << 18; // lines of 64 bytes watched: the first 16 MiB
const LIVE = 5_000;

/** Hooks for every import of an instrumented module: addresses go to `seen(line, write)`. */
function hooks(bytes, seen) {
  const h = {
    load_ptr: (id, align, offset, addr) => (seen((addr + offset) >>> 6, false), addr),
    store_ptr: (id, align, offset, addr) => (seen((addr + offset) >>> 6, true), addr),
  };
  for (const i of WebAssembly.Module.imports(new WebAssembly.Module(bytes))) {
    if (i.kind === "function" && !h[i.name]) h[i.name] = (id, v) => v; // the values' hooks
  }
  return h;
}

if (!isMainThread) {
  const { alloc, driver, memory, index, steps, go, state } = workerData;
  const writer = new Int32Array(state.writer);
  const readers = new Int32Array(state.readers);
  const moved = new Int32Array(state.moved);
  const perLine = new Int32Array(state.perLine);
  const me = 1 << index;
  let on = false;
  const seen = (line, write) => {
    if (!on || line >= LINES) return;
    const w = writer[line];
    const other = w !== 0 && w !== index + 1;
    if (write ? other || (readers[line] & ~me) !== 0 : other && (readers[line] & me) === 0) {
      Atomics.add(moved, index, 1);
      Atomics.add(perLine, line, 1);
    }
    if (write) {
      writer[line] = index + 1;
      readers[line] = me;
    } else {
      Atomics.or(readers, line, me);
    }
  };
  const a = new WebAssembly.Instance(new WebAssembly.Module(alloc), { env: { memory, ...hooks(alloc, seen) } }).exports;
  const d = new WebAssembly.Module(driver);
  const imports = { alloc: { ...a, memory }, env: hooks(driver, seen) };
  const { timed, run } = sameThreadRow(d, imports, { index, live: LIVE, steps, lifoPer: 100 });
  Atomics.add(go, 0, 1);
  while (Atomics.load(go, 0) < 2);
  const ops0 = Number(timed.ops.value);
  on = true;
  run();
  on = false;
  parentPort.postMessage({ ops: Number(timed.ops.value) - ops0, bad: timed.errors.value + timed.nils.value });
} else {
  const root = new URL("..", import.meta.url).pathname;
  const module = process.argv[2] || join(root, "pkg/wall-e.threads.wasm");
  const steps = Number(process.argv[3] || 200_000);
  const runs = Number(process.argv[4] || 3);
  const dir = mkdtempSync(join(tmpdir(), "threads-lines-"));
  const wabt = await (await import("wabt")).default();
  const wat = readFileSync(join(root, "bench/driver.wat"), "utf8")
    .replace('(import "alloc" "memory" (memory 0))', '(import "alloc" "memory" (memory 0 65536 shared))');
  const parsed = wabt.parseWat("driver.wat", wat, { threads: true });
  writeFileSync(join(dir, "driver.wasm"), Buffer.from(parsed.toBinary({}).buffer));
  parsed.destroy();
  const instrument = (from, to) => {
    execFileSync("wasm-opt", ["--all-features", "--instrument-memory", from, "-o", to]);
    return readFileSync(to);
  };
  const alloc = instrument(module, join(dir, "alloc.wasm"));
  const driver = instrument(join(dir, "driver.wasm"), join(dir, "driver.inst.wasm"));
  for (let run = 0; run < runs; run++) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    // The first instance on the main thread (it zeroes the statics), hooks that watch nothing.
    new WebAssembly.Instance(new WebAssembly.Module(alloc), { env: { memory, ...hooks(alloc, () => {}) } });
    const go = new Int32Array(new SharedArrayBuffer(8));
    const state = {
      writer: new SharedArrayBuffer(4 * LINES),
      readers: new SharedArrayBuffer(4 * LINES),
      moved: new SharedArrayBuffer(8),
      perLine: new SharedArrayBuffer(4 * LINES),
    };
    const results = await Promise.all([0, 1].map((index) => new Promise((ok, fail) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { alloc, driver, memory, index, steps, go, state } });
      w.once("message", (m) => { ok(m); w.terminate(); });
      w.once("error", fail);
    })));
    if (results.some((r) => r.bad)) throw new Error("the driver found errors or nils");
    const calls = results.reduce((s, r) => s + r.ops, 0);
    const moved = new Int32Array(state.moved);
    const perLine = new Int32Array(state.perLine);
    let statics = 0;
    let heap = 0;
    let heapLines = 0;
    for (let line = 0; line < LINES; line++) {
      if (!perLine[line]) continue;
      if (line * 64 < 0x2000) statics += perLine[line];
      else {
        heap += perLine[line];
        heapLines++;
      }
    }
    console.log(`${module}: ${((moved[0] + moved[1]) / calls * 1000).toFixed(2)} line transfers per 1,000 calls (${moved[0] + moved[1]} over ${calls} calls; statics ${statics}, heap ${heap} on ${heapLines} lines)`);
  }
}
