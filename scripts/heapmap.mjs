#!/usr/bin/env node
// Writes the heap map of wall-e's traced build as an SVG: runs the workload of the heap map page
// (examples/web/workload.js) for `--steps` steps on pkg/wall-e.trace.wasm and draws the heap as
// it is then, with pkg/heapmap.js (the same layout the page paints on its canvas).
//   node scripts/heapmap.mjs [--steps 60] [--seed 1] [--width 512] [--out heap-map.svg] [--module path]
// Prints the figures. Build the module first: `make build` (or
// `node scripts/build.mjs --features trace --out pkg/wall-e.trace.wasm`).
// For another program's heap: `import { renderSvg } from "wall-e"` and write
// `renderSvg(heap.map())` whenever you want a picture.
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { load, renderSvg, describe } from "../pkg/wall-e.js";
import { workload } from "../examples/web/workload.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const steps = Number(option("--steps", 60));
const seed = Number(option("--seed", 1));
const width = Number(option("--width", 512));
const out = resolve(option("--out", "heap-map.svg"));
const modulePath = resolve(root, option("--module", "pkg/wall-e.trace.wasm"));

const heap = await load(modulePath);
const run = workload(heap, { steps, seed });
while (!run.next().done);
const map = heap.map();
const title = `wall-e heap after ${steps} steps of the heap-map workload (seed ${seed})`;
writeFileSync(out, renderSvg(map, { width, title }));
console.log(`${out}: ${title}`);
for (const line of describe(map)) console.log(`  ${line}`);
if (map.corrupt) process.exitCode = 1;
