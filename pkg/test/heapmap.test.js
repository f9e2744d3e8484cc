// The heap map and the leak list in Node, on the real traced build (pkg/wall-e.trace.wasm):
// the records tile the heap and add up to stat(i); live()/leaks(since) find exactly the blocks
// left behind; a heap corrupted from JS is reported at validate()'s address by map, live and
// leaks; the SVG command writes the map.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { load, layout, renderSvg, figures } from "../wall-e.js";
import { pkgDir, rootDir, wasmBytes, throwsCode } from "../testing/helpers.js";
import { rng } from "../../examples/web/workload.js";

const traced = () => load(resolve(pkgDir, "wall-e.trace.wasm"));
const stats = (heap) => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => heap.exports.stat(i) >>> 0);

/** The records cover the heap without gaps, and add up to the module's own figures. */
function checkMap(heap) {
  const map = heap.map();
  assert.equal(map.corrupt, 0);
  for (let i = 1; i < map.records.length; i++) {
    const [a, b] = [map.records[i - 1], map.records[i]];
    assert.equal(a.start + 8 + a.size, b.start, `record ${i} follows record ${i - 1}`);
  }
  const last = map.records.at(-1);
  assert.equal(last.kind, "room");
  const [heapBytes, usedBytes, usedBlocks, freeBytes, freeBlocks, largestFree, room, regions] = stats(heap);
  assert.deepEqual(
    { heapBytes, usedBytes, usedBlocks, freeBytes, freeBlocks, largestFree, room, regions },
    (({ fragmentation, ...f }) => f)(figures(map.records)),
  );
  // Every byte of the heap is painted as the heap's, at 8 bytes a pixel exactly.
  const pic = layout(map, { bytesPerPixel: 8 });
  assert.equal((pic.pixels.free + pic.pixels.spare) * 8, freeBytes);
  assert.equal((pic.width * pic.height - pic.pixels.outside) * 8, heapBytes);
  return map;
}

test("map(): records tile the heap and add up to stat(i), through random work and foreign growth", async () => {
  const heap = await traced();
  const random = rng(42);
  const live = [];
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 2000; i++) {
      if (random() < 0.55 || !live.length) live.push(heap.alloc(1 + Math.floor(random() ** 4 * 20000)));
      else {
        const k = Math.floor(random() * live.length);
        if (random() < 0.3) live[k] = heap.realloc(live[k], 1 + Math.floor(random() * 3000));
        else heap.free(live.splice(k, 1)[0]);
      }
    }
    // Somebody else grows the memory: the heap's next growth opens a new region.
    if (round === 2) heap.memory.grow(1);
    checkMap(heap);
  }
  const map = checkMap(heap);
  assert.ok(map.regions >= 2, "a region marker was walked");
  assert.ok(map.records.length > 128 * 3, "several pages of records");
});

test("live() and leaks(since) find exactly the blocks left behind, in allocation order", async () => {
  const heap = await traced();
  const before = [heap.alloc(10), heap.alloc(300)];
  const mark = heap.mark();
  const random = rng(5);
  const made = [];
  for (let i = 0; i < 3000; i++) made.push(heap.alloc(1 + Math.floor(random() * 500)));
  // Keep a known set; reallocate some (a reallocation counts as new), free the rest.
  const kept = new Map();
  for (let i = 0; i < made.length; i++) {
    if (i % 97 === 0) kept.set(made[i], heap.sizeOf(made[i]));
    else if (i % 211 === 1) {
      const q = heap.realloc(made[i], 700);
      kept.set(q, 700);
    } else heap.free(made[i]);
  }
  const leaks = heap.leaks(mark);
  assert.deepEqual(new Map(leaks.map((b) => [b.ptr, b.size])), kept);
  assert.equal(leaks.length, kept.size);
  const seqs = leaks.map((b) => b.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in allocation order");
  assert.ok(seqs.every((s) => s > mark && s <= heap.mark()));
  const live = heap.live();
  assert.deepEqual(live.slice(0, 2).map((b) => [b.ptr, b.size]), [[before[0], 10], [before[1], 300]]);
  assert.equal(live.length, kept.size + 2);
  for (const p of kept.keys()) heap.free(p);
  assert.deepEqual(heap.leaks(mark), [], "nothing left behind after freeing the set");
  assert.equal(heap.leaks(0).length, 2);
});

test("a heap corrupted by a write past a block: map, live and leaks report validate()'s address", async () => {
  const heap = await traced();
  const blocks = Array.from({ length: 50 }, (_, i) => heap.alloc(24 + i));
  const mark = heap.mark();
  const victim = blocks[20];
  const eff = heap.map().records.find((r) => r.start + 8 === victim).size;
  // A client writes 8 bytes past the block's capacity: over the next block's header.
  new Uint8Array(heap.memory.buffer).fill(0xee, victim + eff, victim + eff + 8);
  const at = heap.exports.validate() >>> 0;
  assert.equal(at, victim + eff, "validate() finds the next header");
  const map = heap.map();
  assert.equal(map.corrupt, at);
  assert.deepEqual(map.records, []);
  for (const call of [() => heap.live(), () => heap.leaks(mark)]) {
    assert.throws(call, (e) => e.code === "CORRUPT" && e.at === at && e.ptr === at);
  }
  const pic = layout(map);
  assert.ok(pic.corrupt && pic.corrupt.address === at);
  assert.match(renderSvg(map), /heap corrupt at 0x/);
});

test("the default module has no map: BAD_MODULE", async () => {
  const heap = await load(wasmBytes());
  throwsCode(assert, () => heap.map(), "BAD_MODULE");
  throwsCode(assert, () => heap.mark(), "BAD_MODULE");
});

test("scripts/heapmap.mjs writes the map of a workload as SVG", () => {
  const out = join(mkdtempSync(join(tmpdir(), "heapmap-")), "map.svg");
  const printed = execFileSync("node", [join(rootDir, "scripts/heapmap.mjs"), "--steps", "20", "--out", out], { encoding: "utf8" });
  const svg = readFileSync(out, "utf8");
  assert.match(svg, /^<svg [^>]*width="512"/);
  assert.ok((svg.match(/<rect /g) || []).length > 100);
  assert.match(printed, /used [\d.]+ KiB in \d+ blocks/);
});
