#!/usr/bin/env node
// Drops the linker's `__heap_base` and `__data_end` exports from a wasm module: used by
// scripts/build.mjs for wall-e and by bench/run for the peers, so all are sized on equal terms.
//   node scripts/strip-exports.mjs file.wasm   (in place)
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dropped = new Set(["__heap_base", "__data_end"]);

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(byte & 0x80)) return [value, at];
  }
}

function leb(value) {
  const out = [];
  do {
    out.push((value & 0x7f) | (value >= 0x80 ? 0x80 : 0));
    value = Math.floor(value / 128);
  } while (value);
  return Buffer.from(out);
}

/** The module `wasm` (a Buffer) without the linker's exports. */
export function stripExports(wasm) {
  const out = [wasm.subarray(0, 8)];
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [length, start] = readLeb(wasm, at + 1);
    const end = start + length;
    if (id === 7) {
      // export section: count, then (name, kind byte, index) entries
      let [count, p] = readLeb(wasm, start);
      const keep = [];
      while (count--) {
        const entry = p;
        const [nameLength, name] = readLeb(wasm, p);
        const text = wasm.subarray(name, name + nameLength).toString();
        p = readLeb(wasm, name + nameLength + 1)[1];
        if (!dropped.has(text)) keep.push(wasm.subarray(entry, p));
      }
      const body = Buffer.concat([leb(keep.length), ...keep]);
      out.push(Buffer.from([7]), leb(body.length), body);
    } else {
      out.push(wasm.subarray(at, end));
    }
    at = end;
  }
  return Buffer.concat(out);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  writeFileSync(file, stripExports(readFileSync(file)));
  new WebAssembly.Module(readFileSync(file));
}
