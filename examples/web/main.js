// The example page's script: a tour of the loader in a real browser. Each step adds a table row;
// the last line says PASS when every check held (the browser test reads the DOM and
// window.wallE.results).
import { load, WallEError } from "/pkg/wall-e.js";

const tbody = document.querySelector("#results tbody");
const status = document.querySelector("#status");
const results = [];
window.wallE = { results, done: false };

function row(step, value, ok) {
  results.push({ step, value: String(value), ok });
  const tr = document.createElement("tr");
  for (const [text, cls] of [[results.length, ""], [step, ""], [value, "value"], [ok ? "ok" : "FAILED", ok ? "ok" : "bad"]]) {
    const td = document.createElement("td");
    td.textContent = String(text);
    if (cls) td.className = cls;
    tr.append(td);
  }
  tbody.append(tr);
}

function check(step, value, ok) {
  row(step, value, !!ok);
}

async function tour() {
  // 1. Streaming: the server sends application/wasm.
  const heap = await load();
  check("load() the wall-e.wasm beside the loader", `via ${heap.via}`, heap.via === "streaming");
  const pages = () => heap.memory.buffer.byteLength / 65536;
  check("initial memory", `${pages()} page(s)`, pages() >= 1);

  // 2. Allocate, write, read.
  const p = heap.alloc(64);
  check("alloc(64)", `ptr ${p}, sizeOf ${heap.sizeOf(p)}`, p % 8 === 0 && heap.sizeOf(p) === 64);
  const greeting = "Hello from wall-e in the browser! ✓";
  const written = heap.write(p, greeting);
  const back = heap.readString(p, 0, written);
  check("write + readString", back, back === greeting);

  // 3. Typed views.
  const q = heap.alloc(8 * 4);
  const f = heap.view(q, Float64Array);
  f.set([Math.PI, Math.E, Math.SQRT2, 1.5]);
  const sum = heap.view(q, Float64Array).reduce((a, b) => a + b, 0);
  check("view(q, Float64Array)", `${f.length} doubles, sum ${sum.toFixed(6)}`, f.length === 4 && Math.abs(sum - (Math.PI + Math.E + Math.SQRT2 + 1.5)) < 1e-12);

  // 4. Realloc keeps contents.
  const r = heap.realloc(p, 4096);
  check("realloc(p, 4096)", `ptr ${r}, sizeOf ${heap.sizeOf(r)}`, heap.sizeOf(r) === 4096 && heap.readString(r, 0, written) === greeting);

  // 5. Grow memory: several MiB detach the old ArrayBuffer; a Block re-derives its view.
  const blk = heap.block(r);
  const stale = heap.bytes(r);
  const before = pages();
  const big = heap.alloc(6 * 1024 * 1024);
  heap.bytes(big).fill(0x5a);
  const grown = pages();
  check("alloc(6 MiB) grows memory", `${before} → ${grown} pages`, grown > before);
  check("old Uint8Array detached by memory.grow", `length ${stale.length}`, stale.length === 0);
  const again = new TextDecoder().decode(blk.bytes.subarray(0, written));
  check("Block view after growth", again, again === greeting && blk.bytes.length === 4096);
  const tail = heap.read(big, 6 * 1024 * 1024 - 4);
  check("read the end of the 6 MiB block", [...tail].join(","), tail.every((b) => b === 0x5a));

  // 6. Free, and errors are exceptions rather than garbage.
  heap.free(big);
  heap.free(q);
  blk.free();
  check("free ×3", `isLive(r) = ${heap.isLive(r)}`, !heap.isLive(r) && !heap.isLive(q) && !heap.isLive(big));
  let code = "none";
  try {
    heap.read(r);
  } catch (e) {
    code = e instanceof WallEError ? e.code : String(e);
  }
  check("read a freed block", `WallEError ${code}`, code === "NOT_LIVE");
  code = "none";
  const small = heap.alloc(4);
  try {
    heap.write(small, "too long");
  } catch (e) {
    code = e instanceof WallEError ? e.code : String(e);
  }
  check("write past a 4-byte block", `WallEError ${code}`, code === "OUT_OF_BOUNDS");
  heap.free(small);
  code = "none";
  try {
    heap.alloc(0xffffffff);
  } catch (e) {
    code = e instanceof WallEError ? e.code : String(e);
  }
  check("alloc(4 GiB − 1)", `WallEError ${code}`, code === "OUT_OF_MEMORY");

  // 7. Fallback: the same file served with a wrong Content-Type.
  const fallback = await load(new URL("/wrong-type/wall-e.wasm", location.href));
  const t = fallback.allocFrom("fallback works");
  check("load() with Content-Type application/octet-stream", `via ${fallback.via}: ${fallback.readString(t)}`,
    fallback.via === "arraybuffer" && fallback.readString(t) === "fallback works");
}

try {
  await tour();
} catch (e) {
  row("unexpected exception", `${e && e.name}: ${e && e.message}`, false);
}
const pass = results.length > 0 && results.every((r) => r.ok);
status.textContent = pass ? `PASS (${results.length} checks)` : `FAIL (${results.filter((r) => !r.ok).length} of ${results.length} checks failed)`;
status.className = pass ? "pass" : "fail";
window.wallE.pass = pass;
window.wallE.done = true;
