// A second wasm module (examples/client/client.wat) that imports wall-e's memory and allocator,
// compiled with wabt and instantiated with wall-e's exports as its imports.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import initWabt from "wabt";
import { rootDir, wasmBytes } from "../testing/helpers.js";
import { load } from "../wall-e.js";

const watPath = join(rootDir, "examples/client/client.wat");
let clientModule;
let clientBinary;

before(async () => {
  wasmBytes(); // fails clearly when pkg/wall-e.wasm has not been built
  const wabt = await initWabt();
  const parsed = wabt.parseWat("client.wat", readFileSync(watPath, "utf8"));
  try {
    parsed.validate();
    clientBinary = parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
  clientModule = await WebAssembly.compile(clientBinary);
});

/** wall-e plus a client instance linked to it. */
async function pair() {
  const heap = await load(wasmBytes());
  const client = (await WebAssembly.instantiate(clientModule, { "wall-e": heap.exports })).exports;
  return { heap, client };
}

/** The section ids of a wasm binary. */
function sections(bytes) {
  const ids = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[at++];
      size |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    ids.push(id);
    at += size;
  }
  return ids;
}

function fnv1a(bytes) {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

const expected = (n) => Array.from({ length: n }, (_, i) => n - i).join(",");

test("the client imports wall-e's memory and functions and has no memory or data of its own", () => {
  const imports = WebAssembly.Module.imports(clientModule).map((i) => `${i.module}.${i.name}:${i.kind}`);
  assert.deepEqual(imports.sort(), ["wall-e.allocate:function", "wall-e.deallocate:function", "wall-e.memory:memory",
    "wall-e.reallocate:function", "wall-e.size:function"]);
  const ids = sections(new Uint8Array(clientBinary));
  assert.ok(!ids.includes(5), "no memory section");
  assert.ok(!ids.includes(11), "no data section");
  assert.ok(!ids.includes(12), "no data count section");
  assert.ok(!WebAssembly.Module.exports(clientModule).some((e) => e.kind === "memory"), "exports no memory");
});

test("run(n) builds a list and a string in wall-e blocks; the host agrees with every byte", async () => {
  const { heap, client } = await pair();
  // A canary block the host owns: the client must never write it.
  const canary = heap.allocFrom(new Uint8Array(256).fill(0xc3));
  for (const n of [0, 1, 9, 10, 1000]) {
    const hash = client.run(n) >>> 0;
    const text = expected(n);
    assert.equal(client.list_len(), n);
    assert.equal(client.list_sum(), (n * (n + 1)) / 2);
    assert.equal(client.list_bad_nodes(), 0);
    assert.equal(client.str_len(), text.length);
    if (n === 0) {
      assert.equal(client.str_ptr(), 0);
      continue;
    }
    const str = client.str_ptr();
    assert.equal(heap.sizeOf(str), client.str_cap(), "wall-e's size() is the capacity the client asked for");
    assert.equal(heap.readString(str, 0, client.str_len()), text);
    assert.equal(hash, fnv1a(new TextEncoder().encode(text)));
    // Walk the list from the host: every node is a live 8-byte block.
    let node = client.list_head();
    for (let v = n; v >= 1; v--) {
      assert.equal(heap.sizeOf(node), 8);
      const [next, value] = heap.view(node, Uint32Array);
      assert.equal(value, v);
      node = next;
    }
    assert.equal(node, 0);
  }
  assert.deepEqual([...heap.read(canary)], new Array(256).fill(0xc3), "the client did not touch the host's block");
});

test("the client grows memory; host views are re-derived afterwards", async () => {
  const { heap, client } = await pair();
  const before = heap.memory.buffer.byteLength;
  const blk = heap.block(heap.allocFrom("host data"));
  const stale = heap.bytes(blk.ptr);
  const n = 100_000; // ~100k 8-byte nodes and a ~600 KB string: memory must grow
  const hash = client.run(n) >>> 0;
  assert.ok(heap.memory.buffer.byteLength > before, "memory grew during the client's calls");
  assert.equal(stale.length, 0, "a view taken before the call is detached");
  assert.equal(new TextDecoder().decode(blk.bytes), "host data", "a Block re-derives its view");
  const text = expected(n);
  assert.equal(hash, fnv1a(new TextEncoder().encode(text)));
  assert.equal(heap.readString(client.str_ptr(), 0, client.str_len()), text);
  assert.equal(client.list_bad_nodes(), 0);
});

test("str_finish hands the host an exactly sized block; clears free everything", async () => {
  const { heap, client } = await pair();
  for (const b of new TextEncoder().encode("answer=")) assert.equal(client.str_push(b), 1);
  assert.equal(client.str_push_u32(42), 1);
  assert.equal(client.str_push_u32(0), 1);
  assert.equal(client.str_push_u32(4294967295), 1);
  const p = client.str_finish();
  assert.equal(heap.sizeOf(p), "answer=4204294967295".length, "size() is the length after the shrinking reallocate");
  assert.equal(heap.readString(p), "answer=4204294967295");
  assert.equal(client.str_ptr(), 0);
  assert.equal(client.str_finish(), 0, "an empty string finishes as nil");
  heap.free(p);

  client.run(50);
  const head = client.list_head();
  const str = client.str_ptr();
  client.list_clear();
  client.str_clear();
  assert.equal(heap.isLive(head), false);
  assert.equal(heap.isLive(str), false);
  assert.equal(client.list_len(), 0);
  // The freed memory is reused.
  client.run(50);
  assert.equal(client.list_bad_nodes(), 0);
});

test("out of memory in the client is reported, not garbage", async () => {
  // wall-e only runs out at 4 GiB, so link the client to an allocator that fails on demand.
  const heap = await load(wasmBytes());
  let failing = false;
  const imports = {
    ...heap.exports,
    allocate: (n) => (failing ? 0 : heap.exports.allocate(n)),
    reallocate: (p, n) => (failing ? 0 : heap.exports.reallocate(p, n)),
  };
  const client = (await WebAssembly.instantiate(clientModule, { "wall-e": imports })).exports;
  for (const b of new TextEncoder().encode("12345678")) assert.equal(client.str_push(b), 1);
  assert.equal(client.list_push(7), 1);
  const str = client.str_ptr();
  failing = true;
  assert.equal(client.str_push(57), 0, "a full string cannot grow");
  assert.equal(client.str_push_u32(123), 0);
  assert.equal(client.list_push(8), 0);
  assert.equal(client.str_ptr(), str, "the string is unchanged");
  assert.equal(client.str_len(), 8);
  assert.equal(heap.readString(str), "12345678");
  assert.equal(client.list_len(), 1);
  assert.equal(client.list_sum(), 7);
  assert.throws(() => client.run(3), WebAssembly.RuntimeError, "run traps (unreachable) when out of memory");
  failing = false;
  assert.equal(client.run(3) >>> 0, fnv1a(new TextEncoder().encode("3,2,1")));
});
