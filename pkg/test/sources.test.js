// Every kind of `source` load() takes, the Content-Type fallback over real HTTP, and load errors.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { wasmBytes, wasmPath, rejectsCode } from "../testing/helpers.js";
import { load, WallEHeap } from "../wall-e.js";
import defaultLoad from "../wall-e.js";

const bytes = wasmBytes(); // fails clearly when pkg/wall-e.wasm has not been built

/** A quick round trip proving the instance works. */
function works(heap) {
  assert.ok(heap instanceof WallEHeap);
  const p = heap.allocFrom("round trip");
  assert.equal(heap.readString(p), "round trip");
  heap.free(p);
  assert.equal(heap.isLive(p), false);
  return heap;
}

let server;
let base;
const requests = [];
before(async () => {
  // Serves wall-e.wasm with the right, a wrong, or no Content-Type, and 404 otherwise.
  server = createServer((req, res) => {
    requests.push(req.url);
    const type = { "/right.wasm": "application/wasm", "/params.wasm": "application/wasm; charset=binary",
      "/wrong.wasm": "application/octet-stream", "/text.wasm": "text/plain" }[req.url];
    if (type) {
      res.writeHead(200, { "content-type": type, "content-length": bytes.length });
      res.end(bytes);
    } else if (req.url === "/untyped.wasm") {
      res.writeHead(200, { "content-length": bytes.length });
      res.end(bytes);
    } else if (req.url === "/empty-module.wasm") {
      res.writeHead(200, { "content-type": "application/wasm" });
      res.end(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => new Promise((resolve) => server.close(resolve)));

describe("sources", () => {
  test("no argument: the wall-e.wasm beside the loader, read with fs in Node", async () => {
    const heap = works(await load());
    assert.equal(heap.via, "bytes");
    works(await defaultLoad());
  });

  test("bytes: Buffer, Uint8Array, ArrayBuffer, other views", async () => {
    assert.equal(works(await load(bytes)).via, "bytes");
    assert.equal(works(await load(new Uint8Array(bytes))).via, "bytes");
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    assert.equal(works(await load(ab)).via, "bytes");
    // A view at an offset inside a larger buffer.
    const padded = new Uint8Array(bytes.length + 16);
    padded.set(bytes, 16);
    works(await load(new Uint8Array(padded.buffer, 16, bytes.length)));
    works(await load(new DataView(padded.buffer, 16, bytes.length)));
  });

  test("a compiled WebAssembly.Module (and an Instance)", async () => {
    const module = await WebAssembly.compile(bytes);
    assert.equal(works(await load(module)).via, "module");
    const again = works(await load(module));
    const instance = await WebAssembly.instantiate(module);
    assert.equal(works(await load(instance)).via, "instance");
    // Each instantiation of the module is a separate heap.
    assert.notEqual(again.memory, (await load(module)).memory);
  });

  test("URL and string: file: URL, path, http URL", async () => {
    works(await load(pathToFileURL(wasmPath)));
    works(await load(pathToFileURL(wasmPath).href));
    works(await load(wasmPath));
    assert.equal(works(await load(`${base}/right.wasm`)).via, "streaming");
    assert.equal(works(await load(new URL(`${base}/right.wasm`))).via, "streaming");
  });

  test("Response and promise of a Response", async () => {
    assert.equal(works(await load(await fetch(`${base}/right.wasm`))).via, "streaming");
    assert.equal(works(await load(fetch(`${base}/right.wasm`))).via, "streaming");
    // The Web API wants exactly "application/wasm": with parameters streaming refuses the
    // response before reading it, and load() falls back to its bytes.
    assert.equal(works(await load(fetch(`${base}/params.wasm`))).via, "arraybuffer");
    // A Response built in memory (no URL, no server).
    const made = new Response(bytes, { headers: { "content-type": "application/wasm" } });
    assert.equal(works(await load(made)).via, "streaming");
  });

  test("Content-Type fallback: a wrong or missing type is instantiated from an ArrayBuffer", async () => {
    for (const path of ["/wrong.wasm", "/text.wasm", "/untyped.wasm"]) {
      // instantiateStreaming itself refuses these responses ...
      await assert.rejects(WebAssembly.instantiateStreaming(fetch(`${base}${path}`)), TypeError);
      // ... and load() falls back, whichever way the response is given.
      assert.equal(works(await load(`${base}${path}`)).via, "arraybuffer", path);
      assert.equal(works(await load(fetch(`${base}${path}`))).via, "arraybuffer", path);
      assert.equal(works(await load(await fetch(`${base}${path}`))).via, "arraybuffer", path);
    }
    assert.ok(requests.includes("/wrong.wasm"), "the files really went over HTTP");
  });
});

describe("load errors", () => {
  test("HTTP errors, missing files, and unfetchable URLs reject with LOAD_FAILED", async () => {
    await rejectsCode(assert, load(`${base}/missing.wasm`), "LOAD_FAILED");
    await rejectsCode(assert, load(fetch(`${base}/missing.wasm`)), "LOAD_FAILED");
    await rejectsCode(assert, load(pathToFileURL(wasmPath + ".missing")), "LOAD_FAILED");
    await rejectsCode(assert, load("http://127.0.0.1:1/wall-e.wasm"), "LOAD_FAILED");
  });

  test("bytes that are not wasm reject with LOAD_FAILED", async () => {
    await rejectsCode(assert, load(new Uint8Array([1, 2, 3, 4])), "LOAD_FAILED");
    await rejectsCode(assert, load(new Response(new Uint8Array([1, 2, 3]), { headers: { "content-type": "application/wasm" } })), "LOAD_FAILED");
    await rejectsCode(assert, load(new Response("hello", { headers: { "content-type": "text/plain" } })), "LOAD_FAILED");
  });

  test("a wasm module that is not wall-e rejects with BAD_MODULE", async () => {
    await rejectsCode(assert, load(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), "BAD_MODULE");
    await rejectsCode(assert, load(`${base}/empty-module.wasm`), "BAD_MODULE");
  });

  test("things that are not a source reject with BAD_SOURCE", async () => {
    for (const bad of [42, {}, true, Promise.resolve("not a response")]) {
      await rejectsCode(assert, load(bad), "BAD_SOURCE");
    }
  });
});
