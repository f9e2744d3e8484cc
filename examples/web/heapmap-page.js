// The heap map page: runs the workload (workload.js) on the traced build step by step and draws
// the heap after each step with pkg/heapmap.js (layout + drawCanvas: the same rectangles
// scripts/heapmap.mjs writes as SVG), its figures and a growth chart. Query parameters: steps,
// seed, delay (ms between steps), corrupt=1 (at the end, write past a block from JS, as a buggy
// client would, and show what the map reports). The browser test reads window.heapMap.
import { load, layout, drawCanvas, describe, PAINTS } from "/pkg/wall-e.js";
import { workload } from "./workload.js";

const params = new URLSearchParams(location.search);
const steps = Number(params.get("steps") ?? 120);
const seed = Number(params.get("seed") ?? 1);
const delay = Number(params.get("delay") ?? 40);
const corrupt = params.get("corrupt") === "1";

const status = document.querySelector("#status");
const canvas = document.querySelector("#map");
const growth = document.querySelector("#growth");
window.heapMap = { done: false };

for (const [name, paint] of Object.entries(PAINTS)) {
  const li = document.createElement("li");
  li.innerHTML = `<span style="background:${paint.color}"></span>`;
  li.append(paint.label);
  document.querySelector("#legend").append(li);
}

function draw(map) {
  const pic = layout(map, { width: 512, maxHeight: 512 });
  if (canvas.height !== pic.height) canvas.height = pic.height;
  drawCanvas(canvas.getContext("2d"), pic);
  document.querySelector("#bpp").textContent = pic.bytesPerPixel;
  document.querySelector("#figures").textContent = describe(map).join("\n");
  return pic;
}

const samples = [];
function chart() {
  const ctx = growth.getContext("2d");
  ctx.clearRect(0, 0, growth.width, growth.height);
  const top = Math.max(...samples.map((s) => s.memory));
  for (const [key, color] of [["memory", "#000"], ["heap", "#868e96"], ["used", PAINTS.used.color]]) {
    ctx.strokeStyle = color;
    ctx.beginPath();
    samples.forEach((s, i) => {
      const x = (i / Math.max(1, samples.length - 1)) * (growth.width - 1);
      const y = growth.height - 1 - (s[key] / top) * (growth.height - 2);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  }
}

const tick = () => new Promise((ok) => (delay > 0 ? setTimeout(ok, delay) : requestAnimationFrame(ok)));

async function run() {
  const heap = await load("/pkg/wall-e.trace.wasm");
  const stat = (i) => heap.exports.stat(i) >>> 0;
  const work = workload(heap, { steps, seed });
  let map;
  while (!work.next().done) {
    map = heap.map();
    draw(map);
    samples.push({ memory: map.memoryBytes, heap: map.heapBytes, used: map.usedBytes });
    chart();
    await tick();
  }
  const result = { done: true, validate: heap.exports.validate() >>> 0, stats: [0, 1, 2, 3, 4, 5, 6, 7].map(stat) };
  if (corrupt) {
    // A client writes 12 bytes past the end of a block's payload: over the next block's header.
    const records = heap.map().records;
    const i = records.findIndex((r, k) => r.kind === "used" && records[k + 1] && records[k + 1].kind === "used");
    const victim = records[i];
    new Uint8Array(heap.memory.buffer).fill(0xab, victim.start + 8 + victim.size, victim.start + 8 + victim.size + 8);
    result.victim = victim.start + 8;
    result.validate = heap.exports.validate() >>> 0;
    map = heap.map();
    try {
      heap.live();
    } catch (e) {
      result.liveError = { code: e.code, at: e.at };
    }
    status.className = "corrupt";
    status.textContent = `CORRUPT at 0x${map.corrupt.toString(16)}`;
  } else {
    status.className = "done";
    status.textContent = `DONE after ${steps} steps`;
  }
  const pic = draw(map);
  Object.assign(result, { corrupt: map.corrupt, bytesPerPixel: pic.bytesPerPixel, width: pic.width, height: pic.height, pixels: pic.pixels, colors: Object.fromEntries(Object.entries(PAINTS).map(([k, v]) => [k, v.color])) });
  window.heapMap = result;
}

run().catch((e) => {
  status.className = "corrupt";
  status.textContent = `ERROR ${e && e.message}`;
  window.heapMap = { done: true, error: String(e && e.stack) };
});
