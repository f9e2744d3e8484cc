// One allocator's module, every workload of a plan, in V8: used as it is by bench/rust/node-run.mjs
// (Node) and, as source text, inside the Chromium page (bench/rust/run.mjs), so that both engines
// run exactly this. examples/bench_rust.rs does the same under wasmtime.
//
// Per workload: a FRESH instance of the compiled module (so its memory is this workload's
// alone), `setup_<w>()` when the module has it, `run_<w>(n)` once untimed (the warm-up: caches,
// the memory the workload needs, and the optimizing tier if the engine had not compiled with it
// already), then `run_<w>(n)` timed, then `teardown_<w>()` when the module has it. The answer per
// workload: `{ work, ns, sums: [warm-up, timed, teardown], pages0, pages }` (pages = the memory's
// size in 64 KiB pages at instantiation and at the end: wasm memory never shrinks, so the latter
// is the peak), or `{ work, error }` when the module traps.
//
// `clock()` returns nanoseconds, or a promise of them: process CPU time in Node; in the page the
// renderer thread's CPU time (asked from the host through DevTools) or performance.now().
// Self-contained (no imports, no closures over module scope): its source text is evaluated in
// the page.
export async function measureAll(module, plan, clock) {
  const out = [];
  for (const { work, n } of plan) {
    try {
      const exports = new WebAssembly.Instance(module, {}).exports;
      const memory = exports.memory;
      const pages0 = memory.buffer.byteLength / 65536;
      const run = exports["run_" + work];
      if (typeof run !== "function") throw new Error(`no export run_${work}`);
      const setup = exports["setup_" + work];
      const teardown = exports["teardown_" + work];
      if (setup) setup();
      const warm = run(n) >>> 0;
      const t0 = await clock();
      const sum = run(n) >>> 0;
      const ns = (await clock()) - t0;
      const last = teardown ? teardown() >>> 0 : 0;
      out.push({ work, ns, sums: [warm, sum, last], pages0, pages: memory.buffer.byteLength / 65536 });
    } catch (e) {
      out.push({ work, error: String(e && e.stack ? e.stack.split("\n")[0] : e) });
    }
  }
  return out;
}
