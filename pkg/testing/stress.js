// The random run every worker of the thread tests does (Node's worker_threads in
// test/threads.test.js, browser workers in test/threads-browser.test.js), through the loader's
// checked API on the threaded module: allocate, free, reallocate and size at random over `slots`
// slots, each block filled with a pattern unique to its worker, slot and generation, checked on
// every free and reallocate and at the end. Throws on the first difference.

/** xorshift32: deterministic per worker. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** The pattern's byte at `i` for a tag (worker, slot, generation). */
export const patternByte = (tag, i) => (Math.imul(tag ^ (i >>> 8), 0x9e3779b1) >>> 24) ^ (i & 0xff);

function fill(bytes, tag, len) {
  for (let i = 0; i < len; i++) bytes[i] = patternByte(tag, i);
}

function check(bytes, tag, len, what) {
  for (let i = 0; i < len; i++) {
    if (bytes[i] !== patternByte(tag, i)) throw new Error(`${what}: byte ${i} of ${len} is ${bytes[i]}, expected ${patternByte(tag, i)}`);
  }
}

/**
 * Runs `ops` random operations on `heap` as worker `worker`. Returns the live blocks
 * `[ptr, size, tag]` and the number of each operation done.
 */
export function stress(heap, worker, ops, slots = 128) {
  const below = rng(0x9e3779b9 ^ (worker * 7919 + 1));
  const live = new Array(slots).fill(null);
  const counts = { alloc: 0, free: 0, realloc: 0, size: 0 };
  let generation = 0;
  for (let op = 0; op < ops; op++) {
    const slot = below(slots);
    const size = below(100) === 0 ? 1 + below(20000) : 1 + below(1 << (1 + below(10)));
    const tag = ((worker << 24) | (slot << 16) | (++generation & 0xffff)) >>> 0;
    const b = live[slot];
    if (b === null) {
      const p = heap.alloc(size);
      fill(heap.bytes(p), tag, size);
      live[slot] = [p, size, tag];
      counts.alloc++;
      continue;
    }
    const [p, len, oldTag] = b;
    const r = below(10);
    if (r < 4) {
      check(heap.bytes(p), oldTag, len, `worker ${worker} slot ${slot}: free of ${p}`);
      heap.free(p);
      live[slot] = null;
      counts.free++;
    } else if (r < 8) {
      check(heap.bytes(p), oldTag, len, `worker ${worker} slot ${slot}: reallocate of ${p} (before)`);
      const q = heap.realloc(p, size);
      check(heap.bytes(q), oldTag, Math.min(len, size), `worker ${worker} slot ${slot}: reallocate of ${p} to ${q} (kept bytes)`);
      fill(heap.bytes(q), tag, size);
      live[slot] = [q, size, tag];
      counts.realloc++;
    } else {
      if (heap.sizeOf(p) !== len) throw new Error(`worker ${worker}: size(${p}) is ${heap.sizeOf(p)}, expected ${len}`);
      counts.size++;
    }
  }
  const blocks = live.filter((b) => b !== null);
  for (const [p, len, tag] of blocks) check(heap.bytes(p), tag, len, `worker ${worker}: block ${p} at the end`);
  return { blocks, counts };
}

/** Checks blocks of all workers, `[ptr, size, tag]`, never overlap and still hold their patterns. */
export function checkAll(heap, blocks) {
  const sorted = blocks.slice().sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1][0] + sorted[i - 1][1] > sorted[i][0]) throw new Error(`blocks ${sorted[i - 1][0]} and ${sorted[i][0]} overlap`);
  }
  for (const [p, len, tag] of blocks) check(heap.bytes(p), tag, len, `block ${p} after the run`);
}
