// `WallE` as the #[global_allocator] of a threaded wasm-bindgen app (examples/threads-bindgen),
// its scenarios driven from a main thread that never runs wasm itself: every thread is a worker
// (Node worker_threads in test/walle-threads.test.js, Web Workers in
// test/walle-threads-browser.test.js through walle-threads.html) that loads the app through its
// wasm-bindgen glue (`initSync({ module, memory, thread_stack_size })`) over one shared memory.
// The Rust side checks every block's pattern and traps on a byte out of place (scenarios.rs of
// examples/threads); this side checks counts, heap walks (`heap_stat`) and memory.
//
// `spawn()` (given by the engine) starts a worker and resolves, once its instance is set up,
// with `{ call(op, ...args), end() }`: `call` runs one of the app's exports (or "destroy":
// `__wbindgen_thread_destroy()`, "pages": the memory's size) in that worker; `end` terminates it.
// No browser-only or Node-only API here: the page imports this file as it is.

/** `ThreadCache::BOUND` (src/per_thread.rs): the bins of 8–272 bytes, 1,024 blocks each to 64
 * bytes and 64 above, each full of its largest blocks, headers included: what a thread that ends
 * without `release_thread_cache` keeps. */
export const CACHE_BOUND = 513_536;
/** Caches in `WallE`'s pool: threads beyond them work through the lock. */
export const SLOTS = 64;
/** Each worker's stack (wasm-bindgen's `thread_stack_size`, a multiple of 64 KiB). */
export const STACK = 256 * 1024;

/** The memory limits (in pages) the module imports, read from its import section. */
export function importedMemory(bytes) {
  const b = new Uint8Array(bytes);
  let at = 8;
  const leb = () => {
    let v = 0, shift = 0, byte;
    do { byte = b[at++]; v += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return v;
  };
  const name = () => { const n = leb(); at += n; };
  const limits = () => { const flags = b[at++]; const min = leb(); const max = flags & 1 ? leb() : undefined; return { min, max, shared: !!(flags & 2) }; };
  while (at < b.length) {
    const id = b[at++];
    const size = leb();
    const end = at + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        name(); name();
        const kind = b[at++];
        if (kind === 2) return limits();
        if (kind === 0) leb();
        else if (kind === 1) { at++; limits(); }
        else if (kind === 3) at += 2;
        else if (kind === 4) { at++; leb(); }
      }
    }
    at = end;
  }
  throw new Error("the module imports no memory");
}

/** A new shared memory for the app, of at most `maxPages` pages. */
export function newMemory(limits, maxPages) {
  return new WebAssembly.Memory({ initial: limits.min, maximum: Math.min(maxPages, limits.max), shared: true });
}

/** Calls `op` with `args(t)` in every worker, all starting at once (a barrier in the workers:
 * a message reaches each at another time): resolves with their results. */
function together(workers, op, args) {
  const gate = new Int32Array(new SharedArrayBuffer(8));
  gate[1] = workers.length;
  return Promise.all(workers.map((w, t) => w.callAt(gate, op, ...args(t))));
}

/** In a worker: waits at `gate` until all its workers arrive. */
export function pass(gate) {
  if (!gate) return;
  Atomics.add(gate, 0, 1);
  Atomics.notify(gate, 0);
  for (let c; (c = Atomics.load(gate, 0)) < gate[1];) Atomics.wait(gate, 0, c, 100);
}

function assert(ok, what) {
  if (!ok) throw new Error(what);
}

/** Starts the leader (the first instance: wasm-bindgen's thread 0, on the module's static stack)
 * and returns it with the heap's used blocks then, and how many one more worker adds (its stack
 * and TLS block, allocated through wall-e by wasm-bindgen's start function), given back by its
 * `__wbindgen_thread_destroy`. */
async function leader(spawn) {
  const lead = await spawn();
  const base = await lead.call("heap_stat", 0);
  const probe = await spawn();
  const perWorker = (await lead.call("heap_stat", 0)) - base;
  assert(perWorker >= 1, `a worker's stack and TLS block: ${perWorker} used blocks`);
  // Its cache first (the TLS block's allocation took a slot and a refill of its bin), as a
  // worker must before `__wbindgen_thread_destroy`: else the cache stays, for good.
  await probe.call("release_thread_cache");
  await probe.call("destroy");
  probe.end();
  assert((await lead.call("heap_stat", 0)) === base, "a destroyed worker's stack and TLS freed");
  return { lead, base, perWorker };
}

/** Every worker hands its cache back and ends through `__wbindgen_thread_destroy` (its stack and
 * TLS block freed through wall-e); then the leader hands its own back and flushes the heap's: the
 * walk must find as many used blocks as before the scenario (plus `leaked`) and nothing cached. */
async function endAll(lead, workers, base, { leaked = 0, cachesKept = false } = {}) {
  for (const w of workers) {
    await w.call("release_thread_cache");
    await w.call("destroy");
    w.end();
  }
  await lead.call("release_thread_cache");
  await lead.call("flush_cache");
  const used = await lead.call("heap_stat", 0);
  const cached = await lead.call("heap_stat", 1);
  assert(used === base + leaked, `used blocks after every worker ended: ${used}, expected ${base + leaked}`);
  if (cachesKept) assert(cached <= SLOTS * 64 * 32, `cached blocks: ${cached}`);
  else assert(cached === 0, `cached blocks after every cache was handed back: ${cached}`);
  return { used, cached };
}

/** The random stress: `n` workers × `ops` operations on 64 blocks each, 1 B–20 KB, alignment 8 or
 * 16, blocks swapped through 256 slots every worker uses (most are freed or resized by another
 * worker), every block patterned and checked, heap walks every 10k operations. */
export async function stress(spawn, { n = 4, ops = 100_000 } = {}) {
  const { lead, base } = await leader(spawn);
  const workers = await Promise.all(Array.from({ length: n }, () => spawn()));
  const began = Date.now();
  const checked = await together(workers, "stress", (t) => [t, 7, ops]);
  const ms = Date.now() - began;
  for (const c of checked) assert(BigInt(c) > 0n, "bytes checked");
  const left = await lead.call("drain");
  assert(left > 0, "blocks travelled between workers");
  await endAll(lead, workers, base);
  lead.end();
  return { n, ops, ms, left };
}

/** The cross-thread free storm: `n` workers, `rounds` batches of `batch` blocks (1 B–4 KiB) each
 * sent to the next worker, which checks and frees them while it goes on allocating. */
export async function storm(spawn, { n = 4, rounds = 100, batch = 256 } = {}) {
  const { lead, base } = await leader(spawn);
  const workers = await Promise.all(Array.from({ length: n }, () => spawn()));
  const began = Date.now();
  const freed = await together(workers, "storm", (t) => [t, n, rounds, batch]);
  const ms = Date.now() - began;
  freed.forEach((f, t) => assert(f === rounds * batch, `worker ${t} freed ${f} blocks, expected ${rounds * batch}`));
  for (const w of workers) assert((await w.call("heap_stat", 0)) >= 0, "heap walk after the storm");
  await endAll(lead, workers, base);
  lead.end();
  return { blocks: n * rounds * batch, ms };
}

/** Out of memory under contention, on a memory capped at `maxPages`: each round, `n` workers
 * allocate 200-byte blocks at once until each gets null; then each must get null again; then each
 * frees (checked) the blocks of the worker before it and hands its cache back. The same number of
 * blocks every round, give or take one per worker (nothing lost), and the heap walk clean. */
export async function oom(spawn, { n = 4, rounds = 3 } = {}) {
  const { lead, base, perWorker } = await leader(spawn);
  const workers = await Promise.all(Array.from({ length: n }, () => spawn()));
  const totals = [];
  const perRound = [];
  const began = Date.now();
  // Each worker's start-up left blocks of its TLS block's size in its cache (the refill of that
  // bin): handed back first, so that every round starts from the same heap.
  await Promise.all(workers.map((w) => w.call("release_thread_cache")));
  for (let round = 0; round < rounds; round++) {
    const counts = await together(workers, "oom_fill", (t) => [t]);
    const again = await Promise.all(workers.map((w) => w.call("oom_again")));
    again.forEach((nil, t) => assert(nil, `worker ${t}: a block after the memory was full (round ${round})`));
    const freed = await Promise.all(workers.map((w, t) => w.call("oom_free", (t + n - 1) % n)));
    freed.forEach((f, t) => assert(f === counts[(t + n - 1) % n], `worker ${t} freed ${f} of ${counts[(t + n - 1) % n]} blocks`));
    await Promise.all(workers.map((w) => w.call("release_thread_cache")));
    assert((await lead.call("heap_stat", 0)) === base + perWorker * n, `used blocks after round ${round}: the workers' stacks and TLS only`);
    totals.push(counts.reduce((a, b) => a + b, 0));
    perRound.push(counts);
  }
  const ms = Date.now() - began;
  // Give or take a block per worker: the gap in front of a refill's run, carved while another
  // worker's cache went back (docs/threads.md, "Lines of their own"); a lost cache would cost a
  // batch (32 blocks) or more, and the used blocks after each round (above) show nothing kept.
  assert(totals.every((t) => Math.abs(t - totals[0]) <= n), `blocks each round: ${totals.join(", ")} (memory lost)`);
  const pages = await lead.call("pages");
  await endAll(lead, workers, base);
  lead.end();
  assert(totals[0] > 0, "blocks before the memory was full");
  return { totals, perRound, pages, ms };
}

/** `n` workers started and ended in turn: each frees (checked) the `leave` blocks the one before
 * left, churns 1,000 blocks, leaves `leave` of its own; then a quarter hand their cache back and
 * end through `__wbindgen_thread_destroy`, a quarter end through it without handing the cache
 * back, and half are terminated with neither (stack, TLS block and cache left behind, as a
 * worker terminated from outside). Memory after all ≤ memory after the first + 1 page + what the
 * ended workers may keep: a cache each (at most 64: the later ones have no slot), and the stack
 * and TLS of each terminated one. */
export async function generations(spawn, { n = 100, leave = 50 } = {}) {
  const { lead, base, perWorker } = await leader(spawn);
  let firstPages = 0, cachesKept = 0, terminated = 0;
  const began = Date.now();
  for (let i = 0; i < n; i++) {
    const w = await spawn();
    const freed = await w.call("hand_over", i, leave);
    assert(freed === (i === 0 ? 0 : leave), `worker ${i} freed ${freed}`);
    if (i % 4 === 1) {
      await w.call("release_thread_cache");
      await w.call("destroy");
    } else if (i % 4 === 3) {
      cachesKept++;
      await w.call("destroy");
    } else {
      cachesKept++;
      terminated++;
    }
    w.end();
    assert((await lead.call("heap_stat", 0)) >= 0, `heap walk after worker ${i}`);
    if (i === 0) firstPages = await lead.call("pages");
  }
  const last = await spawn();
  assert((await last.call("hand_over", n, 0)) === leave, "the last worker frees what the one before left");
  const pages = await lead.call("pages");
  const kept = Math.min(cachesKept, SLOTS) * CACHE_BOUND + terminated * (STACK + 4096);
  const bound = firstPages + 1 + Math.ceil(kept / 65536);
  assert(pages <= bound, `${pages} pages after ${n} workers: beyond the bound ${bound}`);
  // The terminated ones leave their stack and TLS block live; the caches not handed back stay.
  const end = await endAll(lead, [last], base, { leaked: perWorker * terminated, cachesKept: true });
  lead.end();
  return { n, firstPages, pages, bound, cachesKept, terminated, used: end.used, cached: end.cached, ms: Date.now() - began };
}

export const scenarios = { stress, storm, oom, generations };

/** A worker as `spawn()` resolves it: `send(message)` posts to it, `listen(onMessage, onError)`
 * subscribes to it, `terminate()` ends it. Resolves once its first message (ready) arrives. */
export function connect({ send, listen, terminate }) {
  const waiting = new Map();
  let next = 0;
  let failed = null;
  const ready = new Promise((ok, fail) => waiting.set(0, { ok, fail }));
  listen(
    ({ id, value, error }) => {
      const w = waiting.get(id);
      waiting.delete(id);
      if (error) w.fail(new Error(error));
      else w.ok(value);
    },
    (e) => {
      failed = e;
      for (const w of waiting.values()) w.fail(e);
      waiting.clear();
    },
  );
  const handle = {
    call(op, ...args) {
      return handle.callAt(undefined, op, ...args);
    },
    /** `call`, started once every worker given the same `gate` got there (`together`). */
    callAt(gate, op, ...args) {
      if (failed) return Promise.reject(failed);
      const id = ++next;
      const p = new Promise((ok, fail) => waiting.set(id, { ok, fail }));
      send({ id, op, args, gate });
      return p;
    },
    end: terminate,
  };
  return ready.then(() => handle);
}
