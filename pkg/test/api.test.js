// Every WallEHeap call and every error, on the real pkg/wall-e.wasm.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { wasmBytes, throwsCode } from "../testing/helpers.js";
import { load, WallEError, WallEHeap, Block } from "../wall-e.js";

const MiB = 1 << 20;
let heap;
before(async () => {
  heap = await load(wasmBytes());
});

describe("the raw ABI through the heap", () => {
  test("exports and memory are exposed", () => {
    assert.ok(heap instanceof WallEHeap);
    assert.deepEqual(Object.keys(heap.exports).sort(), ["allocate", "deallocate", "memory", "reallocate", "size"]);
    assert.equal(heap.memory, heap.exports.memory);
    assert.ok(heap.memory instanceof WebAssembly.Memory);
    assert.equal(heap.via, "bytes");
  });

  test("raw contract edge cases hold", () => {
    const e = heap.exports;
    assert.equal(e.allocate(0), 0);
    e.deallocate(0);
    assert.equal(e.size(0), 0);
    assert.equal(e.allocate(0xffffffff) >>> 0, 0, "a size near 4 GiB fails");
    assert.equal(e.allocate(0xfffffff8) >>> 0, 0);
    const p = e.reallocate(0, 24) >>> 0;
    assert.notEqual(p, 0);
    assert.equal(e.size(p), 24);
    assert.equal(e.reallocate(p, 0xffffffff) >>> 0, 0, "failed realloc returns 0");
    assert.equal(e.size(p), 24, "and keeps the block");
    assert.equal(e.reallocate(p, 0), 0, "realloc to 0 frees");
    assert.equal(e.size(p), 0);
  });
});

describe("alloc / free / realloc / sizeOf / isLive", () => {
  test("alloc returns distinct 8-aligned live blocks of the size asked", () => {
    const ptrs = [1, 7, 8, 9, 100, 4096, 70000].map((n) => [heap.alloc(n), n]);
    for (const [p, n] of ptrs) {
      assert.equal(p % 8, 0);
      assert.equal(heap.sizeOf(p), n);
      assert.ok(heap.isLive(p));
    }
    const sorted = ptrs.slice().sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1][0] + sorted[i - 1][1] <= sorted[i][0], "blocks overlap");
    for (const [p] of ptrs) heap.free(p);
    for (const [p] of ptrs) assert.equal(heap.isLive(p), false);
  });

  test("free(0) is a no-op; free of a freed block throws NOT_LIVE", () => {
    heap.free(0);
    const p = heap.alloc(16);
    heap.free(p);
    throwsCode(assert, () => heap.free(p), "NOT_LIVE");
  });

  test("realloc keeps contents, may move, and follows the ABI for 0", () => {
    const p = heap.alloc(8);
    heap.write(p, [1, 2, 3, 4, 5, 6, 7, 8]);
    const blocker = heap.alloc(8); // likely forces the grown block to move
    const q = heap.realloc(p, 5000);
    assert.equal(heap.sizeOf(q), 5000);
    assert.deepEqual([...heap.read(q, 0, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
    const r = heap.realloc(q, 3);
    assert.equal(heap.sizeOf(r), 3, "size is the size last asked for");
    assert.deepEqual([...heap.read(r)], [1, 2, 3]);
    assert.equal(heap.realloc(r, 0), 0, "realloc(p, 0) frees");
    assert.equal(heap.isLive(r), false);
    const s = heap.realloc(0, 12);
    assert.equal(heap.sizeOf(s), 12, "realloc(0, n) allocates");
    assert.equal(heap.realloc(0, 0), 0);
    heap.free(s);
    heap.free(blocker);
  });

  test("isLive never throws", () => {
    for (const bad of [0, -1, 1.5, NaN, "8", null, undefined, 2 ** 33, 3, 0xfffffff8]) assert.equal(heap.isLive(bad), false);
  });

  test("allocFrom copies data into an exactly sized block", () => {
    const p = heap.allocFrom("héllo");
    assert.equal(heap.sizeOf(p), 6);
    assert.equal(heap.readString(p), "héllo");
    const q = heap.allocFrom(new Uint8Array(0));
    assert.equal(heap.sizeOf(q), 1, "empty data still gets a (1-byte) block");
    heap.free(p);
    heap.free(q);
  });
});

describe("bytes / write / read / view / dataView / block", () => {
  test("bytes is bounded by size(p) and aliases the block", () => {
    const p = heap.alloc(13);
    const b = heap.bytes(p);
    assert.equal(b.length, 13);
    assert.equal(b.byteOffset, p);
    b.fill(0xab);
    assert.deepEqual([...heap.read(p)], new Array(13).fill(0xab));
    heap.free(p);
  });

  test("write accepts strings, arrays, typed arrays, DataViews, ArrayBuffers and offsets", () => {
    const p = heap.alloc(32);
    assert.equal(heap.write(p, "abc"), 3);
    assert.equal(heap.write(p, [100, 101], 3), 2);
    assert.equal(heap.write(p, new Uint16Array([0x6766]), 5), 2);
    assert.equal(heap.write(p, new DataView(new Uint8Array([0x68]).buffer), 7), 1);
    assert.equal(heap.write(p, new Uint8Array([0x69]).buffer, 8), 1);
    assert.equal(heap.write(p, Buffer.from("j"), 9), 1);
    assert.equal(heap.readString(p, 0, 10), "abcdefghij");
    assert.equal(heap.write(p, new Uint8Array(32)), 32, "exactly the block's size fits");
    heap.free(p);
  });

  test("read returns a copy, not a view", () => {
    const p = heap.allocFrom([1, 2, 3]);
    const copy = heap.read(p);
    heap.write(p, [9, 9, 9]);
    assert.deepEqual([...copy], [1, 2, 3]);
    assert.notEqual(copy.buffer, heap.memory.buffer);
    assert.deepEqual([...heap.read(p, 1)], [9, 9]);
    assert.deepEqual([...heap.read(p, 3)], [], "an empty range at the end is fine");
    heap.free(p);
  });

  test("view gives typed arrays bounded by the block", () => {
    const p = heap.alloc(8 * 10 + 4);
    const f = heap.view(p, Float64Array);
    assert.equal(f.length, 10, "only whole elements");
    f.set([1.5, 2.5]);
    assert.equal(heap.view(p, Float64Array, 8, 1)[0], 2.5);
    const i32 = heap.view(p, Int32Array, 80);
    assert.equal(i32.length, 1);
    const big = heap.view(p, BigUint64Array, 0, 2);
    assert.equal(big.length, 2);
    const dv = heap.dataView(p);
    assert.equal(dv.byteLength, 84);
    assert.equal(dv.getFloat64(0, true), 1.5);
    heap.free(p);
  });

  test("errors: nil, freed, foreign, out of bounds, misaligned, bad sizes", () => {
    const p = heap.alloc(16);
    const freed = heap.alloc(16);
    heap.free(freed);
    for (const op of ["sizeOf", "bytes", "read", "readString", "dataView", "block"]) {
      throwsCode(assert, () => heap[op](0), "NIL_POINTER");
      throwsCode(assert, () => heap[op](freed), "NOT_LIVE");
      throwsCode(assert, () => heap[op](p + 8), "NOT_LIVE"); // inside a block
      throwsCode(assert, () => heap[op](p + 1), "NOT_LIVE"); // misaligned
      throwsCode(assert, () => heap[op](0x7ffffff8), "NOT_LIVE"); // beyond memory
      throwsCode(assert, () => heap[op](-8), "BAD_POINTER");
      throwsCode(assert, () => heap[op]("16"), "BAD_POINTER");
    }
    throwsCode(assert, () => heap.write(0, "x"), "NIL_POINTER");
    throwsCode(assert, () => heap.write(freed, "x"), "NOT_LIVE");
    throwsCode(assert, () => heap.view(freed, Uint8Array), "NOT_LIVE");
    throwsCode(assert, () => heap.free(p + 8), "NOT_LIVE");
    throwsCode(assert, () => heap.realloc(freed, 32), "NOT_LIVE");
    throwsCode(assert, () => heap.realloc(p + 8, 32), "NOT_LIVE");
    // Writes and reads past the block's size, even by one byte, throw and write nothing.
    heap.write(p, new Uint8Array(16).fill(7));
    throwsCode(assert, () => heap.write(p, new Uint8Array(17)), "OUT_OF_BOUNDS");
    throwsCode(assert, () => heap.write(p, "x", 16), "OUT_OF_BOUNDS");
    throwsCode(assert, () => heap.write(p, [1, 2], 15), "OUT_OF_BOUNDS");
    assert.deepEqual([...heap.read(p)], new Array(16).fill(7), "a failed write wrote nothing");
    throwsCode(assert, () => heap.read(p, 0, 17), "OUT_OF_BOUNDS");
    throwsCode(assert, () => heap.read(p, 17), "OUT_OF_BOUNDS");
    throwsCode(assert, () => heap.view(p, Float64Array, 8, 2), "OUT_OF_BOUNDS");
    throwsCode(assert, () => heap.view(p, Uint8Array, 17), "OUT_OF_BOUNDS");
    throwsCode(assert, () => heap.view(p, Float64Array, 4), "MISALIGNED");
    throwsCode(assert, () => heap.view(p, {}), "BAD_SIZE");
    throwsCode(assert, () => heap.write(p, 42), "BAD_SIZE");
    throwsCode(assert, () => heap.write(p, "x", -1), "BAD_SIZE");
    throwsCode(assert, () => heap.alloc(0), "BAD_SIZE");
    throwsCode(assert, () => heap.alloc(-1), "BAD_SIZE");
    throwsCode(assert, () => heap.alloc(1.5), "BAD_SIZE");
    throwsCode(assert, () => heap.alloc(2 ** 32), "BAD_SIZE");
    throwsCode(assert, () => heap.realloc(p, -1), "BAD_SIZE");
    heap.free(p);
  });

  test("an interior pointer of a zero-filled block is refused before wall-e sees it", () => {
    // The raw header check accepts p+8 when the block's first 8 payload bytes are zero (a zero
    // "header" looks like a used block of size 0), and raw deallocate(p+8) then writes into the
    // live block. size(p+8) is 0, so the checked API refuses it without calling deallocate.
    const p = heap.alloc(40);
    heap.write(p, new Uint8Array(40));
    throwsCode(assert, () => heap.free(p + 8), "NOT_LIVE");
    throwsCode(assert, () => heap.realloc(p + 8, 10), "NOT_LIVE");
    assert.deepEqual([...heap.read(p)], new Array(40).fill(0), "the live block was not written");
    heap.free(p);
  });

  test("alloc and realloc failing throw OUT_OF_MEMORY; the old block is kept", () => {
    throwsCode(assert, () => heap.alloc(0xffffffff), "OUT_OF_MEMORY");
    throwsCode(assert, () => heap.alloc(0xfffffff0), "OUT_OF_MEMORY");
    const p = heap.allocFrom("keep me");
    let err;
    try {
      heap.realloc(p, 0xffffffff);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof WallEError);
    assert.equal(err.code, "OUT_OF_MEMORY");
    assert.equal(err.ptr, p);
    assert.match(err.message, /kept/);
    assert.equal(heap.readString(p), "keep me");
    const b = heap.block(p);
    throwsCode(assert, () => b.realloc(0xffffffff), "OUT_OF_MEMORY");
    assert.equal(b.ptr, p);
    heap.free(p);
  });

  test("WallEError is an Error with a code", () => {
    const e = new WallEError("NOT_LIVE", "msg", { ptr: 8 });
    assert.ok(e instanceof Error);
    assert.equal(e.name, "WallEError");
    assert.equal(e.code, "NOT_LIVE");
    assert.equal(e.ptr, 8);
  });
});

describe("memory growth", () => {
  test("Block views survive memory.grow; plain views are re-derived per call", () => {
    const p = heap.alloc(64);
    heap.write(p, "before growth");
    const blk = heap.block(p);
    assert.ok(blk instanceof Block);
    const plain = heap.bytes(p);
    const blockBytes = blk.bytes;
    const f64 = blk.view(Float64Array, 16, 2);
    f64[0] = Math.PI;
    const bufferBefore = heap.memory.buffer;
    const sizeBefore = bufferBefore.byteLength;
    // Several MiB force memory.grow, which detaches the old ArrayBuffer.
    const bigs = [heap.alloc(3 * MiB), heap.alloc(5 * MiB)];
    assert.ok(heap.memory.buffer.byteLength > sizeBefore, "memory grew");
    assert.notEqual(heap.memory.buffer, bufferBefore);
    assert.equal(bufferBefore.byteLength, 0, "the old buffer is detached");
    assert.equal(plain.length, 0, "a plain typed array from before the growth is detached");
    assert.equal(blockBytes.length, 0);
    // Re-derived views see the data.
    assert.equal(heap.readString(p, 0, 13), "before growth");
    assert.equal(heap.bytes(p).length, 64);
    assert.equal(blk.bytes.length, 64, "the Block getter rebuilt its view");
    assert.equal(new TextDecoder().decode(blk.bytes.subarray(0, 13)), "before growth");
    assert.equal(blk.view(Float64Array, 16, 2)[0], Math.PI);
    blk.write("after", 0);
    assert.equal(blk.readString(0, 5), "after");
    // The big blocks are usable end to end.
    for (const b of bigs) {
      const bytes = heap.bytes(b);
      bytes[0] = 1;
      bytes[bytes.length - 1] = 2;
      assert.deepEqual([...heap.read(b, bytes.length - 1)], [2]);
    }
    for (const b of bigs) heap.free(b);
    assert.equal(blk.size, 64);
    blk.realloc(2 * MiB);
    assert.equal(blk.size, 2 * MiB);
    assert.equal(blk.readString(0, 5), "after", "realloc kept the contents");
    assert.equal(blk.bytes.length, 2 * MiB);
    blk.free();
    throwsCode(assert, () => blk.bytes, "NOT_LIVE");
    throwsCode(assert, () => blk.size, "NOT_LIVE");
    throwsCode(assert, () => blk.realloc(0), "BAD_SIZE");
  });

  test("many blocks survive a grow with their contents", () => {
    const blocks = [];
    for (let i = 0; i < 200; i++) blocks.push(heap.allocFrom(`block ${i}`));
    const big = heap.alloc(6 * MiB);
    for (let i = 0; i < 200; i++) assert.equal(heap.readString(blocks[i]), `block ${i}`);
    heap.free(big);
    for (const p of blocks) heap.free(p);
  });
});
