// A workload for the heap map (the page examples/web/heapmap.html and scripts/heapmap.mjs run the
// same one): a program's life in steps. Each step makes short-lived strings and records, grows a
// few vectors by doubling (realloc), sometimes takes a large buffer, and frees most of what it
// made, at random; a few objects per step live on (a cache that only grows), so the heap grows,
// holes open between long-lived blocks, and the free space fragments.
//   for (const step of workload(heap, { steps: 60, seed: 1 })) { ...draw... }

/** A small deterministic PRNG (xorshift32), so a seed gives the same heap every time. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/**
 * Runs `steps` steps on `heap` (a WallEHeap), yielding the step number after each. Returns the
 * blocks still live at the end: `{ kept, temporary }` (kept: the long-lived ones).
 */
export function* workload(heap, { steps = 60, seed = 1, opsPerStep = 300 } = {}) {
  const random = rng(seed);
  const pick = (n) => Math.floor(random() * n);
  const kept = []; // long-lived: never freed
  let temporary = []; // freed at random
  const vectors = []; // grown by doubling, freed when large
  for (let step = 1; step <= steps; step++) {
    for (let op = 0; op < opsPerStep; op++) {
      const r = random();
      if (r < 0.4) {
        // A string or a small record: 1..200 bytes, mostly short.
        const size = 1 + Math.floor(random() ** 3 * 200);
        const p = heap.alloc(size);
        heap.bytes(p).fill(step & 0xff);
        temporary.push(p);
      } else if (r < 0.82 && temporary.length) {
        const i = pick(temporary.length);
        heap.free(temporary[i]);
        temporary[i] = temporary[temporary.length - 1];
        temporary.pop();
      } else if (r < 0.9) {
        // A vector that doubles; a long one is dropped.
        if (vectors.length < 8) vectors.push({ p: heap.alloc(16), size: 16 });
        const v = vectors[pick(vectors.length)];
        if (v.size >= 16384) {
          heap.free(v.p);
          vectors.splice(vectors.indexOf(v), 1);
        } else {
          v.size *= 2;
          v.p = heap.realloc(v.p, v.size);
        }
      } else if (r < 0.905) {
        // Now and then a large buffer, freed a little later.
        temporary.push(heap.alloc(4096 + pick(60_000)));
      } else if (r < 0.93) {
        // The cache that only grows.
        kept.push(heap.alloc(8 + pick(120)));
      }
    }
    yield step;
  }
  return { kept, temporary, vectors: vectors.map((v) => v.p) };
}
