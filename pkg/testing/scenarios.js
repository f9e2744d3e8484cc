// The threads scenarios beside the random stress (stress.js), run by Node's worker_threads
// (test/threads.test.js) and by Web Workers in Chromium (test/threads-browser.test.js), on the
// threaded module through the loader. Workers meet through a SharedArrayBuffer (`sync`, an
// Int32Array): a barrier, and one mailbox per worker in which it hands blocks to another worker.
// Every block carries a pattern (its worker, slot and round) that its receiver checks before
// it frees it.
import { rng, patternByte } from "./stress.js";

/** The most memory one thread's cache holds (bytes, headers included): what a worker that is
 * terminated without `releaseThreadCache()` leaves behind (src/per_thread.rs: the bins of 8–272
 * bytes, 1,024 blocks each to 64 bytes and 64 above, each full of its largest blocks). */
export const THREAD_CACHE_BOUND = 513_536;

export function fill(heap, p, len, tag) {
  const b = new Uint8Array(heap.memory.buffer, p, len);
  for (let i = 0; i < len; i++) b[i] = patternByte(tag, i);
}
export function check(heap, p, len, tag, what) {
  const b = new Uint8Array(heap.memory.buffer, p, len);
  for (let i = 0; i < len; i++) {
    if (b[i] !== patternByte(tag, i)) throw new Error(`${what}: block ${p}, byte ${i} of ${len} is ${b[i]}, expected ${patternByte(tag, i)}`);
  }
}

// The layout of `sync`: [0, 1] the barrier (count, generation), [2, 3] unused, then a mailbox
// per worker from MAIL: [full flag, count, then (pointer, size, tag) per block].
const MAIL = 4;
export const syncInts = (workers, perMail) => MAIL + workers * (2 + 3 * perMail);
const mailbox = (w, perMail) => MAIL + w * (2 + 3 * perMail);

/** Waits until all `n` workers arrive. */
export function barrier(sync, n) {
  const gen = Atomics.load(sync, 1);
  if (Atomics.add(sync, 0, 1) === n - 1) {
    Atomics.store(sync, 0, 0);
    Atomics.add(sync, 1, 1);
    Atomics.notify(sync, 1);
  } else {
    while (Atomics.load(sync, 1) === gen) Atomics.wait(sync, 1, gen, 1000);
  }
}

/** Puts `blocks` ([p, size, tag]) in worker `w`'s mailbox once it is empty. */
function post(sync, w, perMail, blocks) {
  const at = mailbox(w, perMail);
  while (Atomics.load(sync, at) !== 0) Atomics.wait(sync, at, 1, 1000);
  if (blocks.length > perMail) throw new Error("mailbox too small");
  blocks.forEach(([p, size, tag], i) => {
    sync[at + 2 + 3 * i] = p;
    sync[at + 3 + 3 * i] = size;
    sync[at + 4 + 3 * i] = tag;
  });
  sync[at + 1] = blocks.length;
  Atomics.store(sync, at, 1);
  Atomics.notify(sync, at);
}

/** Takes the blocks out of worker `w`'s mailbox once it is full; `meanwhile()` is called while
 * it is empty (busy: instead of sleeping). */
function take(sync, w, perMail, meanwhile) {
  const at = mailbox(w, perMail);
  while (Atomics.load(sync, at) !== 1) {
    if (meanwhile) meanwhile();
    else Atomics.wait(sync, at, 0, 1000);
  }
  const blocks = Array.from({ length: sync[at + 1] }, (_, i) => [sync[at + 2 + 3 * i] >>> 0, sync[at + 3 + 3 * i], sync[at + 4 + 3 * i] >>> 0]);
  Atomics.store(sync, at, 0);
  Atomics.notify(sync, at);
  return blocks;
}

/**
 * The free storm: each round, every worker allocates `batch` blocks (1–256 bytes, some up to
 * 4 KiB), posts them to its mailbox, takes the blocks of the worker before it and frees them:
 * every block is freed by another worker than the one that allocated it; while it waits for
 * that batch, it allocates and frees blocks of its own. Then it hands its
 * cache back. Returns the number of blocks it freed.
 */
export function storm(heap, sync, { worker, workers, rounds, batch }) {
  const below = rng(0x51ed ^ (worker * 7919 + 1));
  let freed = 0;
  barrier(sync, workers);
  for (let round = 0; round < rounds; round++) {
    const mine = Array.from({ length: batch }, (_, slot) => {
      const size = 1 + below(slot % 64 === 0 ? 4096 : 256);
      const p = heap.alloc(size);
      const tag = ((worker << 24) | (slot << 12) | (round & 0xfff)) >>> 0;
      fill(heap, p, size, tag);
      return [p, size, tag];
    });
    post(sync, worker, batch, mine);
    // Waiting for the other's batch, allocate and free: the heap stays busy on every worker.
    const meanwhile = () => heap.free(heap.alloc(1 + below(256)));
    for (const [p, size, tag] of take(sync, (worker + workers - 1) % workers, batch, meanwhile)) {
      check(heap, p, size, tag, `worker ${worker}, round ${round}: a block of another worker`);
      if (heap.sizeOf(p) !== size) throw new Error(`worker ${worker}: size(${p}) is ${heap.sizeOf(p)}, not ${size}`);
      heap.free(p);
      freed++;
    }
  }
  heap.releaseThreadCache();
  barrier(sync, workers);
  return { freed };
}

/**
 * Out of memory under contention, in `rounds` rounds: every worker allocates 200-byte blocks
 * until it gets nil (the raw export: 0), and once all have, each must get nil again; then each
 * frees the blocks of the worker before it (patterns checked) and hands its cache back. Returns
 * the number of blocks of each round (the same every round: nothing lost).
 */
export function oom(heap, sync, { worker, workers, rounds, perMail }) {
  const counts = [];
  for (let round = 0; round < rounds; round++) {
    barrier(sync, workers);
    const mine = [];
    for (;;) {
      const p = heap.exports.allocate(200) >>> 0;
      if (p === 0) break;
      const tag = ((worker << 24) | (mine.length << 4) | round) >>> 0;
      fill(heap, p, 8, tag);
      mine.push([p, 8, tag]);
    }
    counts.push(mine.length);
    barrier(sync, workers); // everybody got nil once
    const extra = heap.exports.allocate(200) >>> 0;
    if (extra !== 0) throw new Error(`worker ${worker}, round ${round}: a block (${extra}) after the memory was full (${heap.memory.buffer.byteLength >> 16} pages; ${mine.length} blocks here)`);
    barrier(sync, workers); // nobody frees before everybody has tried again
    post(sync, worker, perMail, mine);
    for (const [p, size, tag] of take(sync, (worker + workers - 1) % workers, perMail)) {
      check(heap, p, size, tag, `worker ${worker}, round ${round}: a block of another worker`);
      heap.free(p);
    }
    heap.releaseThreadCache();
    barrier(sync, workers);
  }
  return { counts };
}

/**
 * One of the workers started and ended in turn: it churns (1,000 blocks allocated and freed),
 * frees the blocks the worker before it left (patterns checked), and allocates `keep` blocks of
 * its own, which it leaves live for the next one. Hands its cache back if `release`.
 */
export function generation(heap, { index, left, keep, release }) {
  const below = rng(0x6e6e ^ (index * 7919 + 1));
  const churn = Array.from({ length: 1000 }, () => heap.alloc(1 + below(512)));
  for (const p of churn) heap.free(p);
  for (const [p, size, tag] of left) {
    check(heap, p, size, tag, `worker ${index}: a block of the worker before`);
    heap.free(p);
  }
  const mine = Array.from({ length: keep }, (_, slot) => {
    const size = 1 + below(512);
    const p = heap.alloc(size);
    const tag = ((index << 16) | slot) >>> 0;
    fill(heap, p, size, tag);
    return [p, size, tag];
  });
  const released = release ? heap.releaseThreadCache() : false;
  return { blocks: mine, released };
}
