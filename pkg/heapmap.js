// wall-e's heap map and leak list: what the stats build's `blocks` and `sequence` exports say,
// turned into records (`heap.map()`), live blocks (`heap.live()`, `heap.leaks(since)`) and a
// picture: `layout()` turns a map into rectangles once; `renderSvg()` and `drawCanvas()` only
// paint them, so the SVG a command writes and the canvas a page draws are the same map.
// Needs the stats build (`blocks`): pkg/wall-e.trace.wasm (stats + allocation sequence numbers).
// See docs/heap-map.md.
import { WallEError } from "./wall-e.js";

/** Bytes of a block header (src/block.rs HEADER). */
const HEADER = 8;
/** Words per record and of the page header written by `blocks` (src/exports.rs, src/blocks.rs). */
const RECORD_WORDS = 5;
const PAGE_HEADER_WORDS = 3;

/**
 * How the map paints each part of the memory. `outside`: not the heap's (below it: the module's
 * stack and statics; the gaps between regions: memory grown by somebody else; above it).
 */
export const PAINTS = {
  used: { color: "#e8590c", label: "used (bytes asked for)" },
  overhead: { color: "#868e96", label: "headers and slack" },
  free: { color: "#1c7ed6", label: "free" },
  spare: { color: "#74c0fc", label: "spare (free, for small requests)" },
  cached: { color: "#a5d8ff", label: "cached (freed, kept for the next request of its size)" },
  room: { color: "#b2f2bb", label: "fresh room above the bump pointer" },
  outside: { color: "#f1f3f5", label: "not the heap's" },
  corrupt: { color: "#e03131", label: "corruption" },
};
const PAINT_NAMES = Object.keys(PAINTS);
const PAINT_INDEX = Object.fromEntries(PAINT_NAMES.map((name, i) => [name, i]));

/**
 * The record kinds of src/blocks.rs `Kind`, by number: the name and the byte ranges a record of
 * that kind paints, `[length, paint]` in address order from `start`, covering its
 * `8 + size` bytes. **To add a kind**: one entry here (and its variant in src/blocks.rs).
 */
export const KINDS = [
  { name: "used", paint: (r) => [[HEADER, "overhead"], [r.logical, "used"], [r.size - r.logical, "overhead"]] },
  { name: "free", paint: (r) => [[HEADER, "overhead"], [r.size, "free"]] },
  { name: "spare", paint: (r) => [[HEADER, "overhead"], [r.size, "spare"]] },
  { name: "marker", paint: (r) => [[HEADER, "overhead"], [r.size, "outside"]] },
  // The room runs from the bump pointer to `limit`; the region's last 8 bytes are its marker's.
  { name: "room", paint: (r) => [[r.size, "room"], [HEADER, "overhead"]] },
  { name: "cached", paint: (r) => [[HEADER, "overhead"], [r.size, "cached"]] },
];

const KIND_BY_NAME = Object.fromEntries(KINDS.map((kind) => [kind.name, kind]));

function kindOf(code) {
  const kind = KINDS[code];
  if (!kind) throw new WallEError("BAD_MODULE", `the module reports a block kind ${code} this loader does not know`);
  return kind;
}

function corruptError(at) {
  const error = new WallEError("CORRUPT", `the heap is corrupt at ${hex(at)} (validate() reports ${at}): a write out of bounds or into freed memory`, { ptr: at });
  error.at = at;
  return error;
}

const hex = (n) => "0x" + n.toString(16);

/**
 * Every block of the heap, read through the `blocks` export without allocating: `records` in
 * address order (`start`, `size`, `kind` name, `logical`, `seq`), the figures they add up to, and
 * `corrupt` (0, or the address `validate()` reports, then no records). Never throws for a corrupt
 * heap. Throws BAD_MODULE for a module without `blocks` (not the stats build).
 * @param {import("./wall-e.js").WallEHeap} heap
 */
export function readMap(heap) {
  const e = heap.exports;
  if (typeof e.blocks !== "function") {
    throw new WallEError("BAD_MODULE", "the heap map needs the stats build: load wall-e.trace.wasm (the module has no `blocks` export)");
  }
  const records = [];
  let cursor = 0;
  let corrupt = 0;
  // A heap's records are finite and each call moves on; the bound guards against a module bug.
  for (let calls = 0; ; calls++) {
    const at = e.blocks(cursor) >>> 0;
    const words = new Uint32Array(heap.memory.buffer, at, PAGE_HEADER_WORDS);
    const [count, next] = words;
    corrupt = words[2];
    if (corrupt) {
      records.length = 0;
      break;
    }
    const page = new Uint32Array(heap.memory.buffer, at + PAGE_HEADER_WORDS * 4, count * RECORD_WORDS);
    for (let i = 0; i < count; i++) {
      const w = page.subarray(i * RECORD_WORDS, (i + 1) * RECORD_WORDS);
      records.push({ start: w[0], size: w[1], kind: kindOf(w[2]).name, logical: w[3], seq: w[4] });
    }
    if (next === 0) break;
    if (next === cursor || calls > 1 << 24) throw new WallEError("BAD_MODULE", "the blocks export does not advance");
    cursor = next;
  }
  const memoryBytes = heap.memory.buffer.byteLength;
  return { records, corrupt, memoryBytes, sequence: typeof e.sequence === "function" ? e.sequence() >>> 0 : 0, ...figures(records) };
}

/**
 * The figures of a map's records, as `stat(i)` gives them: heap bytes, used bytes (logical) and
 * blocks, free bytes (the spare included) and blocks, the largest free block, the room above the
 * bump pointer, regions; with the fragmentation (1 − largest free / free bytes).
 */
export function figures(records) {
  const f = { heapBytes: 0, usedBytes: 0, usedBlocks: 0, freeBytes: 0, freeBlocks: 0, largestFree: 0, room: 0, regions: 0 };
  let regionStart = records.length ? records[0].start : 0;
  for (const r of records) {
    if (r.kind === "used") {
      f.usedBlocks++;
      f.usedBytes += r.logical;
    } else if (r.kind === "free" || r.kind === "spare") {
      f.freeBlocks++;
      f.freeBytes += r.size;
      f.largestFree = Math.max(f.largestFree, r.size);
    } else if (r.kind === "marker") {
      f.heapBytes += r.start + HEADER - regionStart;
      f.regions++;
      regionStart = r.start + HEADER + r.size;
    } else if (r.kind === "room") {
      f.heapBytes += r.start + r.size + HEADER - regionStart;
      f.regions++;
      f.room = r.size;
    }
  }
  f.fragmentation = f.freeBytes ? 1 - f.largestFree / f.freeBytes : 0;
  return f;
}

/**
 * The used blocks still live, in allocation order when the module numbers them (the traced
 * build; else in address order, `seq` 0): `{ ptr, size, seq }`. Throws CORRUPT (with `at`, the
 * address `validate()` reports) on a corrupt heap.
 * @param {import("./wall-e.js").WallEHeap} heap
 */
export function liveBlocks(heap) {
  const map = readMap(heap);
  if (map.corrupt) throw corruptError(map.corrupt);
  return map.records
    .filter((r) => r.kind === "used")
    .map((r) => ({ ptr: r.start + HEADER, size: r.logical, seq: r.seq }))
    .sort((a, b) => a.seq - b.seq || a.ptr - b.ptr);
}

/** The bytes to paint, `[from, to, paint]`, covering `[0, map.memoryBytes)`. */
function ranges(map) {
  const out = [];
  let at = 0;
  const push = (to, paint) => {
    if (to > at) out.push([at, to, paint]);
    at = Math.max(at, to);
  };
  if (map.records.length) push(map.records[0].start, "outside");
  for (const r of map.records) {
    for (const [length, paint] of KIND_BY_NAME[r.kind].paint(r)) push(at + length, paint);
  }
  push(map.memoryBytes, "outside");
  return out;
}

/**
 * The map as rectangles, in pixels: memory laid out row by row, `width` pixels a row,
 * `bytesPerPixel` bytes a pixel (default: the smallest power of two from 8 that keeps the
 * picture within `maxHeight` rows). A byte range covers the pixels from its rounded start to its
 * rounded end, so the ranges tile the picture and each kind's pixels times `bytesPerPixel` are its
 * bytes within half a pixel per range. `rects`: `{ x, y, w, h, paint }`, runs of one paint in a
 * row, merged down rows; `pixels`: the count of each paint; `corrupt`: the pixel of the corruption
 * address, if any.
 */
export function layout(map, { width = 512, maxHeight = 512, bytesPerPixel } = {}) {
  let bpp = bytesPerPixel;
  if (!bpp) {
    bpp = 8;
    while (Math.ceil(map.memoryBytes / bpp / width) > maxHeight) bpp *= 2;
  }
  const height = Math.max(1, Math.ceil(map.memoryBytes / bpp / width));
  const cells = new Uint8Array(width * height).fill(PAINT_INDEX.outside);
  const px = (byte) => Math.min(Math.round(byte / bpp), cells.length);
  for (const [from, to, paint] of ranges(map)) cells.fill(PAINT_INDEX[paint], px(from), px(to));
  let corrupt = null;
  if (map.corrupt) {
    const at = Math.min(Math.floor(map.corrupt / bpp), cells.length - 1);
    corrupt = { x: at % width, y: Math.floor(at / width), address: map.corrupt };
  }
  const pixels = Object.fromEntries(PAINT_NAMES.map((name) => [name, 0]));
  for (const cell of cells) pixels[PAINT_NAMES[cell]]++;
  // Runs of one paint per row; a run the same as one just above extends that rectangle down.
  const rects = [];
  let open = new Map();
  for (let y = 0; y < height; y++) {
    const row = cells.subarray(y * width, (y + 1) * width);
    const still = new Map();
    for (let x = 0; x < width; ) {
      let end = x + 1;
      while (end < width && row[end] === row[x]) end++;
      const key = `${x},${end},${row[x]}`;
      let rect = open.get(key);
      if (rect) rect.h++;
      else rects.push((rect = { x, y, w: end - x, h: 1, paint: PAINT_NAMES[row[x]] }));
      still.set(key, rect);
      x = end;
    }
    open = still;
  }
  return { width, height, bytesPerPixel: bpp, rects, pixels, corrupt };
}

/** The figures of a map as lines of text (for the legend). */
export function describe(map) {
  if (map.corrupt) return [`heap corrupt at ${hex(map.corrupt)} (validate() = ${map.corrupt})`];
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  return [
    `memory ${kib(map.memoryBytes)}, heap ${kib(map.heapBytes)} in ${map.regions} region(s)`,
    `used ${kib(map.usedBytes)} in ${map.usedBlocks} blocks; free ${kib(map.freeBytes)} in ${map.freeBlocks} blocks`,
    `largest free block ${kib(map.largestFree)}, fragmentation ${(map.fragmentation * 100).toFixed(1)}%, room ${kib(map.room)}`,
  ];
}

const escapeXml = (s) => String(s).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);

/**
 * The map as an SVG document: the rectangles of {@link layout}, a legend and the figures.
 * `options`: those of `layout`, and `title`.
 */
export function renderSvg(map, options = {}) {
  const pic = layout(map, options);
  const legend = PAINT_NAMES.filter((name) => name !== "corrupt" || map.corrupt);
  const lines = [...(options.title ? [options.title] : []), ...describe(map), `${pic.bytesPerPixel} bytes per pixel, ${pic.width} pixels a row, from address 0`];
  const top = pic.height + 12;
  const height = top + legend.length * 16 + lines.length * 16 + 8;
  // Room for the text beside a narrow map.
  const width = Math.max(pic.width, 480);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<g shape-rendering="crispEdges">`,
    ...pic.rects.map((r) => `<rect x="${r.x}" y="${r.y}" width="${r.w}" height="${r.h}" fill="${PAINTS[r.paint].color}"/>`),
    `</g>`,
  ];
  if (pic.corrupt) out.push(`<circle cx="${pic.corrupt.x + 0.5}" cy="${pic.corrupt.y + 0.5}" r="6" fill="none" stroke="${PAINTS.corrupt.color}" stroke-width="2"/>`);
  legend.forEach((name, i) => {
    const y = top + i * 16;
    out.push(`<rect x="0" y="${y}" width="12" height="12" fill="${PAINTS[name].color}" stroke="#495057" stroke-width="0.5"/>`);
    out.push(`<text x="18" y="${y + 10}">${escapeXml(PAINTS[name].label)}: ${(pic.pixels[name] * pic.bytesPerPixel / 1024).toFixed(1)} KiB</text>`);
  });
  lines.forEach((line, i) => out.push(`<text x="0" y="${top + legend.length * 16 + 12 + i * 16}">${escapeXml(line)}</text>`));
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/**
 * Paints the rectangles of {@link layout} on a 2D canvas context (sized `pic.width` ×
 * `pic.height` by the caller), with the corruption address circled.
 */
export function drawCanvas(ctx, pic) {
  for (const r of pic.rects) {
    ctx.fillStyle = PAINTS[r.paint].color;
    ctx.fillRect(r.x, r.y, r.w, r.h);
  }
  if (pic.corrupt) {
    ctx.strokeStyle = PAINTS.corrupt.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(pic.corrupt.x + 0.5, pic.corrupt.y + 0.5, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

/** The methods `heap.map()`, `heap.live()`, `heap.leaks(since)` and `heap.mark()` of WallEHeap. */
export const heapMapMethods = {
  /** The heap's blocks and figures; see {@link readMap}. */
  map() {
    return readMap(this);
  },
  /** The live blocks; see {@link liveBlocks}. */
  live() {
    return liveBlocks(this);
  },
  /**
   * The live blocks allocated (or reallocated) after the mark `since` ({@link mark}): those a
   * piece of code left behind. Needs the traced build (sequence numbers).
   */
  leaks(since = 0) {
    const live = liveBlocks(this);
    // The stats build without `trace` numbers nothing: it cannot tell old blocks from new ones.
    if (live.some((b) => b.seq === 0)) throw new WallEError("BAD_MODULE", "leaks need the traced build (sequence numbers): load wall-e.trace.wasm");
    return live.filter((b) => b.seq > since);
  },
  /** The sequence number of the last allocation: pass it to `leaks` later. */
  mark() {
    if (typeof this.exports.sequence !== "function") throw new WallEError("BAD_MODULE", "marks need the traced build: load wall-e.trace.wasm");
    return this.exports.sequence() >>> 0;
  },
};
