#!/usr/bin/env node
// Quick start: wall-e from JavaScript through the ES module loader (pkg/wall-e.js).
//   node scripts/build.mjs && node examples/demo.mjs      (or: make demo)
// Prints each step; exits 0, or 1 on any surprise.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { load, WallEError } from "../pkg/wall-e.js";

const wasm = fileURLToPath(new URL("../pkg/wall-e.wasm", import.meta.url));
if (!existsSync(wasm)) {
  console.error(`${wasm} is missing: build it first with \`node scripts/build.mjs\` (or \`make build\`).`);
  process.exit(1);
}

let surprises = 0;
function step(what, value, ok = true) {
  console.log(`${ok ? "  ok " : "  !! "} ${what.padEnd(44)} ${value}`);
  if (!ok) surprises++;
}

try {
  const heap = await load(); // the wall-e.wasm beside the loader
  console.log(`wall-e loaded (${heap.via}); memory ${heap.memory.buffer.byteLength / 65536} page(s)`);

  const text = "Hello, wall-e! Safe views over wasm memory.";
  const p = heap.alloc(64);
  step("alloc(64)", `-> ptr ${p} (8-aligned: ${p % 8 === 0})`, p !== 0 && p % 8 === 0);
  const n = heap.write(p, text);
  step("write(p, string)", `${n} UTF-8 bytes`, n === text.length);
  const back = heap.readString(p, 0, n);
  step("readString(p, 0, n)", JSON.stringify(back), back === text);

  const q = heap.realloc(p, 1 << 20);
  step("realloc(p, 1 MiB)", `-> ptr ${q}, memory now ${heap.memory.buffer.byteLength / 65536} pages`, q !== 0);
  step("contents kept across realloc", JSON.stringify(heap.readString(q, 0, n)), heap.readString(q, 0, n) === text);
  step("sizeOf(q)", heap.sizeOf(q), heap.sizeOf(q) === 1 << 20);

  const v = heap.view(q, Float64Array, 0, 3);
  v.set([1.25, 2.5, 5]);
  step("view(q, Float64Array, 0, 3)", `[${[...heap.view(q, Float64Array, 0, 3)]}]`, heap.view(q, Float64Array)[2] === 5);

  heap.free(q);
  step("free(q)", `isLive(q) = ${heap.isLive(q)}`, !heap.isLive(q));

  try {
    heap.read(q);
    step("read(q) after free", "no error!", false);
  } catch (e) {
    step("read(q) after free throws", `${e.name} ${e.code}: ${e.message}`, e instanceof WallEError && e.code === "NOT_LIVE");
  }
  const small = heap.alloc(4);
  try {
    heap.write(small, "too long for four bytes");
    step("write past the end", "no error!", false);
  } catch (e) {
    step("write past the end throws", `${e.name} ${e.code}`, e instanceof WallEError && e.code === "OUT_OF_BOUNDS");
  }
  heap.free(small);
} catch (e) {
  console.error("unexpected error:", e);
  surprises++;
}

if (surprises) {
  console.error(`demo: ${surprises} surprise(s)`);
  process.exit(1);
}
console.log("demo: all good");
