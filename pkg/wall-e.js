// wall-e: the ES module way in. Loads wall-e.wasm and wraps its raw u32 ABI
// (allocate/deallocate/reallocate/size over an exported memory) in a checked API:
// every pointer is validated with `size(p)` before its memory is touched, and every
// write is bounded by the block's size. See wall-e.d.ts for the types.
//
// Threads: `load(source, { memory })` instantiates the threaded module, wall-e.threads.wasm,
// over a given shared `WebAssembly.Memory` (its one import, `env.memory`). Every worker that
// loads it over the same memory shares one heap; see `createSharedMemory`.
//
// Views and memory growth: `memory.grow` (which any alloc/realloc may trigger) detaches
// the old ArrayBuffer, and every typed array over it becomes empty. Therefore
//  - `heap.bytes(p)` / `heap.view(p, Type)` build a fresh typed array over the *current*
//    `memory.buffer` on each call: call them again after anything that may allocate;
//  - `heap.block(p)` returns a Block whose `bytes` getter and `view()` method rebuild the
//    typed array whenever `memory.buffer` has changed, so a Block stays valid across growth.

import { heapMapMethods } from "./heapmap.js";
export * from "./heapmap.js";

const WASM_MIME = "application/wasm";
const MAX_U32 = 0xffff_ffff;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * The error every checked operation throws. `code` is one of
 * `"NIL_POINTER"`, `"NOT_LIVE"`, `"BAD_POINTER"`, `"BAD_SIZE"`, `"OUT_OF_BOUNDS"`,
 * `"MISALIGNED"`, `"OUT_OF_MEMORY"`, `"BAD_SOURCE"`, `"LOAD_FAILED"`, `"BAD_MODULE"`.
 */
export class WallEError extends Error {
  /**
   * @param {string} code machine-readable reason
   * @param {string} message human-readable explanation
   * @param {{ptr?: number, size?: number, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "WallEError";
    /** @type {string} */
    this.code = code;
    if (details.ptr !== undefined) this.ptr = details.ptr;
    if (details.size !== undefined) this.size = details.size;
  }
}

const isNode = typeof process !== "undefined" && !!process.versions && !!process.versions.node;

function fail(code, message, details) {
  throw new WallEError(code, message, details);
}

function checkSize(n, what = "size") {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_U32) {
    fail("BAD_SIZE", `${what} must be an integer in 0..${MAX_U32}, got ${String(n)}`, { size: n });
  }
  return n;
}

function checkPointerValue(p) {
  if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > MAX_U32) {
    fail("BAD_POINTER", `a pointer is an integer in 0..${MAX_U32}, got ${String(p)}`, { ptr: p });
  }
  return p;
}

/** Turns bytes-like data (or a string, UTF-8 encoded) into a Uint8Array without copying. */
function toBytes(data) {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (typeof SharedArrayBuffer !== "undefined" && data instanceof SharedArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data)) return Uint8Array.from(data);
  fail("BAD_SIZE", "data must be a string, an ArrayBuffer, a typed array, a DataView or an array of bytes");
}

/**
 * A live block of a {@link WallEHeap}, held by pointer. Its `bytes` getter and `view()` rebuild
 * their typed array when `memory.buffer` changed (after `memory.grow`), and every access checks
 * the block is still live, so a Block never hands out a detached or stale view.
 */
export class Block {
  /** @param {WallEHeap} heap @param {number} ptr */
  constructor(heap, ptr) {
    this.heap = heap;
    this.ptr = ptr;
    this._buffer = null;
    this._bytes = null;
  }

  /** The block's size (the size last asked for); throws if the block is no longer live. */
  get size() {
    return this.heap.sizeOf(this.ptr);
  }

  /** A Uint8Array over the whole block, rebuilt whenever `memory.buffer` has changed. */
  get bytes() {
    const size = this.heap.sizeOf(this.ptr);
    const buffer = this.heap.memory.buffer;
    if (this._buffer !== buffer || this._bytes.length !== size) {
      this._buffer = buffer;
      this._bytes = new Uint8Array(buffer, this.ptr, size);
    }
    return this._bytes;
  }

  /** A typed array over (part of) the block; see {@link WallEHeap#view}. */
  view(Type, byteOffset = 0, length) {
    return this.heap.view(this.ptr, Type, byteOffset, length);
  }

  /** Copies data into the block; see {@link WallEHeap#write}. */
  write(data, offset = 0) {
    return this.heap.write(this.ptr, data, offset);
  }

  /** A copy of the block's bytes; see {@link WallEHeap#read}. */
  read(offset = 0, length) {
    return this.heap.read(this.ptr, offset, length);
  }

  /** The block's bytes decoded as UTF-8; see {@link WallEHeap#readString}. */
  readString(offset = 0, length) {
    return this.heap.readString(this.ptr, offset, length);
  }

  /** Resizes the block (it may move: `ptr` is updated); throws OUT_OF_MEMORY keeping it. */
  realloc(size) {
    if (checkSize(size) === 0) fail("BAD_SIZE", "Block.realloc needs a size > 0; use free()", { ptr: this.ptr, size });
    this.ptr = this.heap.realloc(this.ptr, size);
    this._buffer = null;
    return this;
  }

  /** Frees the block; the Block may not be used afterwards. */
  free() {
    this.heap.free(this.ptr);
    this._buffer = null;
    this._bytes = null;
  }
}

/**
 * A wall-e instance with a checked API. Pointers are u32 offsets into `memory`; 0 is nil.
 * Obtain one with {@link load}.
 */
export class WallEHeap {
  /**
   * @param {WebAssembly.Instance} instance
   * @param {string} via how it was instantiated
   * @param {WebAssembly.Memory} [memory] the shared memory it imports (threaded module)
   */
  constructor(instance, via, memory) {
    const e = instance.exports;
    for (const name of ["allocate", "deallocate", "reallocate", "size"]) {
      if (typeof e[name] !== "function") fail("BAD_MODULE", `the module does not export the function "${name}": not wall-e`);
    }
    if (memory) {
      if (e.memory !== undefined && e.memory !== memory) {
        fail("BAD_MODULE", "the module has its own memory: load the threaded module, wall-e.threads.wasm, with { memory }");
      }
    } else if (!(e.memory instanceof WebAssembly.Memory)) {
      fail("BAD_MODULE", 'the module does not export "memory": not wall-e (the threaded module needs { memory })');
    }
    /** The raw exports: `allocate`, `deallocate`, `reallocate`, `size` (and `memory`, except threaded). */
    this.exports = memory ? { ...e, memory } : e;
    /**
     * The wasm memory; its `buffer` is replaced (the old one detached) when memory grows. A
     * shared memory's buffer is a SharedArrayBuffer, never detached, re-read for its new length.
     */
    this.memory = memory || e.memory;
    /** Whether the heap is the threaded module's, over a shared memory. */
    this.shared = !!memory;
    /** The instance, e.g. to hand its exports to another module as imports. */
    this.instance = instance;
    /** How the module was instantiated: "streaming", "arraybuffer", "bytes", "module" or "instance". */
    this.via = via;
  }

  /** Allocates `size` bytes (8-byte aligned, contents unspecified) and returns the pointer. */
  alloc(size) {
    if (checkSize(size) === 0) fail("BAD_SIZE", "alloc needs a size > 0 (allocate(0) is nil)", { size });
    const p = this.exports.allocate(size) >>> 0;
    if (p === 0) fail("OUT_OF_MEMORY", `out of memory allocating ${size} bytes`, { size });
    return p;
  }

  /** Frees a live block. `free(0)` is a no-op; a freed or foreign pointer throws NOT_LIVE. */
  free(p) {
    if (checkPointerValue(p) === 0) return;
    this.sizeOf(p);
    this.exports.deallocate(p);
  }

  /**
   * Resizes a block, keeping its contents up to the smaller size, and returns the (possibly
   * moved) pointer. `realloc(0, n)` is `alloc(n)`; `realloc(p, 0)` frees `p` and returns 0.
   * On OUT_OF_MEMORY the old block is kept, unchanged.
   */
  realloc(p, size) {
    checkPointerValue(p);
    checkSize(size);
    if (p === 0) return size === 0 ? 0 : this.alloc(size);
    const old = this.sizeOf(p);
    if (size === 0) {
      this.exports.deallocate(p);
      return 0;
    }
    const q = this.exports.reallocate(p, size) >>> 0;
    if (q === 0) fail("OUT_OF_MEMORY", `out of memory resizing block ${p} (${old} bytes) to ${size} bytes; the block is kept`, { ptr: p, size });
    return q;
  }

  /**
   * Hands this thread's cache of small freed blocks back to the shared heap: call it in a worker
   * that is about to end (threaded module). A worker that ends without it leaves at most one
   * cache's worth of memory behind, for good (docs/threads.md). Returns whether the module has
   * per-thread caches (false: nothing to hand back, e.g. the single-threaded module).
   */
  releaseThreadCache() {
    const release = this.exports.release_thread_cache;
    if (typeof release !== "function") return false;
    release();
    return true;
  }

  /** Whether `p` is a live block (`size(p) > 0`). Never throws for an integer pointer. */
  isLive(p) {
    if (typeof p !== "number" || !Number.isInteger(p) || p <= 0 || p > MAX_U32 || p % 8 !== 0) return false;
    if (p >= this.memory.buffer.byteLength) return false;
    return (this.exports.size(p) >>> 0) > 0;
  }

  /** The size last asked for of the live block `p`; throws NIL_POINTER / NOT_LIVE otherwise. */
  sizeOf(p) {
    checkPointerValue(p);
    if (p === 0) fail("NIL_POINTER", "nil pointer (0)", { ptr: p });
    if (p % 8 !== 0 || p >= this.memory.buffer.byteLength) {
      fail("NOT_LIVE", `${p} is not a block wall-e allocated`, { ptr: p });
    }
    const n = this.exports.size(p) >>> 0;
    if (n === 0) fail("NOT_LIVE", `${p} is not a live block (freed, or never returned by alloc)`, { ptr: p });
    return n;
  }

  /**
   * A Uint8Array over the whole block, built on the current `memory.buffer`. It is detached by
   * the next memory growth: call `bytes(p)` again after alloc/realloc, or hold a {@link Block}.
   */
  bytes(p) {
    const n = this.sizeOf(p);
    return new Uint8Array(this.memory.buffer, p, n);
  }

  /**
   * A typed array of `Type` over the block from `byteOffset` (default 0), `length` elements
   * (default: as many whole elements as fit). Built on the current `memory.buffer` like `bytes`.
   * Throws OUT_OF_BOUNDS past the block and MISALIGNED when `p + byteOffset` is not a multiple
   * of `Type.BYTES_PER_ELEMENT`.
   */
  view(p, Type, byteOffset = 0, length) {
    const n = this.sizeOf(p);
    const width = Type && Type.BYTES_PER_ELEMENT;
    if (!Number.isInteger(width) || width <= 0) fail("BAD_SIZE", "view needs a typed array constructor such as Float64Array");
    checkSize(byteOffset, "byteOffset");
    if (byteOffset > n) fail("OUT_OF_BOUNDS", `offset ${byteOffset} is past the end of block ${p} (${n} bytes)`, { ptr: p, size: n });
    if ((p + byteOffset) % width !== 0) fail("MISALIGNED", `${Type.name} needs ${width}-byte alignment; ${p}+${byteOffset} is not`, { ptr: p });
    const count = length === undefined ? Math.floor((n - byteOffset) / width) : checkSize(length, "length");
    if (byteOffset + count * width > n) {
      fail("OUT_OF_BOUNDS", `${count} × ${width} bytes from offset ${byteOffset} overrun block ${p} (${n} bytes)`, { ptr: p, size: n });
    }
    return new Type(this.memory.buffer, p + byteOffset, count);
  }

  /** A DataView over the whole block (little-endian like wasm), built like `bytes`. */
  dataView(p) {
    const n = this.sizeOf(p);
    return new DataView(this.memory.buffer, p, n);
  }

  /** A handle that keeps valid views of `p` across memory growth; see {@link Block}. */
  block(p) {
    this.sizeOf(p);
    return new Block(this, p);
  }

  /**
   * Copies `data` (bytes, a typed array, an ArrayBuffer, an array of bytes, or a string as UTF-8)
   * into block `p` at `offset` (default 0). Returns the number of bytes written. Throws
   * OUT_OF_BOUNDS, writing nothing, when it would not fit in the block.
   */
  write(p, data, offset = 0) {
    const n = this.sizeOf(p);
    checkSize(offset, "offset");
    const src = toBytes(data);
    if (offset + src.length > n) {
      fail("OUT_OF_BOUNDS", `writing ${src.length} bytes at offset ${offset} overruns block ${p} (${n} bytes)`, { ptr: p, size: n });
    }
    new Uint8Array(this.memory.buffer, p, n).set(src, offset);
    return src.length;
  }

  /** A copy of the block's bytes from `offset` (default 0), `length` bytes (default: to the end). */
  read(p, offset = 0, length) {
    const n = this.sizeOf(p);
    checkSize(offset, "offset");
    const len = length === undefined ? n - offset : checkSize(length, "length");
    if (offset > n || offset + len > n) {
      fail("OUT_OF_BOUNDS", `reading ${len} bytes at offset ${offset} overruns block ${p} (${n} bytes)`, { ptr: p, size: n });
    }
    return new Uint8Array(this.memory.buffer, p + offset, len).slice();
  }

  /** The block's bytes (or a range of them) decoded as UTF-8. */
  readString(p, offset = 0, length) {
    return decoder.decode(this.read(p, offset, length));
  }

  /** Allocates a block exactly the size of `data` (at least 1 byte) and copies `data` into it. */
  allocFrom(data) {
    const src = toBytes(data);
    const p = this.alloc(Math.max(src.length, 1));
    this.write(p, src);
    return p;
  }
}

// heap.map(), heap.live(), heap.leaks(since), heap.mark() (pkg/heapmap.js; the stats build).
Object.assign(WallEHeap.prototype, heapMapMethods);

/** Reads a `file:` URL with Node's fs (fetch does not support file: URLs). */
async function readFileUrl(url) {
  if (!isNode) fail("BAD_SOURCE", `cannot read ${url.href} outside Node: serve it over http(s)`);
  const fs = await import(/* webpackIgnore: true */ "node:fs/promises");
  try {
    return await fs.readFile(url);
  } catch (cause) {
    const hint = url.pathname.endsWith("/wall-e.wasm") ? " (build it with `node scripts/build.mjs`)" : "";
    fail("LOAD_FAILED", `cannot read ${url.href}${hint}: ${cause && cause.message}`, { cause });
  }
}

function toUrl(source) {
  if (source instanceof URL) return source;
  // A Windows path ("C:\\x") or any string that is not an absolute URL is a path/relative URL.
  if (!/^[a-zA-Z]:[\\/]/.test(source)) {
    try {
      return new URL(source);
    } catch {
      /* relative */
    }
  }
  if (typeof location !== "undefined" && location.href) return new URL(source, location.href);
  if (isNode) {
    return (async () => {
      const { pathToFileURL } = await import(/* webpackIgnore: true */ "node:url");
      return pathToFileURL(source);
    })();
  }
  fail("BAD_SOURCE", `cannot resolve "${source}" to a URL`);
}

/** What the module is given: nothing, or the shared memory for the threaded module. */
const importsFor = (memory) => (memory ? { env: { memory } } : {});

/** Instantiates bytes or a Module, turning compile and link errors into LOAD_FAILED. */
async function instantiate(what, via, where, memory) {
  let result;
  try {
    result = await WebAssembly.instantiate(what, importsFor(memory));
  } catch (cause) {
    const hint = memory ? " (with { memory }, load the threaded module: wall-e.threads.wasm)" : "";
    fail("LOAD_FAILED", `${where} is not a wasm module wall-e can run${hint}: ${cause && cause.message}`, { cause });
  }
  return new WallEHeap(result instanceof WebAssembly.Instance ? result : result.instance, via, memory);
}

async function fromResponse(response, memory) {
  if (typeof Response === "undefined" || !(response instanceof Response)) {
    fail("BAD_SOURCE", "the promise did not resolve to a Response");
  }
  if (!response.ok) fail("LOAD_FAILED", `fetching ${response.url || "wall-e.wasm"} failed: HTTP ${response.status}`);
  const type = (response.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  if (type === WASM_MIME && typeof WebAssembly.instantiateStreaming === "function") {
    let instance;
    try {
      ({ instance } = await WebAssembly.instantiateStreaming(response, importsFor(memory)));
    } catch (cause) {
      // A TypeError before the body is read is a refused response (e.g. a Content-Type with
      // parameters, which the Web API rejects): fall back to the bytes. Anything else is fatal.
      if (response.bodyUsed || !(cause instanceof TypeError)) {
        fail("LOAD_FAILED", `instantiating ${response.url || "wall-e.wasm"} failed: ${cause && cause.message}`, { cause });
      }
    }
    if (instance) return new WallEHeap(instance, "streaming", memory);
  }
  // Wrong Content-Type (instantiateStreaming would reject it) or no streaming support.
  return instantiate(await response.arrayBuffer(), "arraybuffer", response.url || "the response", memory);
}

/**
 * Loads and instantiates wall-e.
 *
 * `source` may be:
 *  - omitted: the `wall-e.wasm` next to this file (`new URL("./wall-e.wasm", import.meta.url)`),
 *    read with fs in Node and fetched elsewhere;
 *  - a URL or a string: `file:` URLs (and, in Node, plain paths) are read with fs, others fetched;
 *  - a `Response` or a promise of one: instantiated with `WebAssembly.instantiateStreaming` when
 *    its Content-Type is `application/wasm`, else from its bytes with `WebAssembly.instantiate`;
 *  - bytes: an ArrayBuffer, a typed array, a DataView or a Node Buffer;
 *  - a compiled `WebAssembly.Module` (or an already instantiated `WebAssembly.Instance`).
 *
 * With `options.memory`, a shared `WebAssembly.Memory` (see {@link createSharedMemory}), it loads
 * the threaded module instead (default source: the `wall-e.threads.wasm` beside this file) and
 * gives it that memory, its one import (`env.memory`). Every instance over the same memory — one
 * per worker: post the memory and the compiled `WebAssembly.Module` to each — shares one heap.
 *
 * Resolves to a {@link WallEHeap}; rejects with a {@link WallEError} (`BAD_SOURCE`,
 * `LOAD_FAILED` or `BAD_MODULE`) when the module cannot be loaded or is not wall-e.
 *
 * @param {string | URL | Response | PromiseLike<Response> | ArrayBuffer | ArrayBufferView | WebAssembly.Module | WebAssembly.Instance} [source]
 * @param {{ memory?: WebAssembly.Memory }} [options]
 * @returns {Promise<WallEHeap>}
 */
export async function load(source, options = {}) {
  const memory = options && options.memory;
  if (memory !== undefined && memory !== null) {
    const shared = typeof SharedArrayBuffer !== "undefined" && memory instanceof WebAssembly.Memory && memory.buffer instanceof SharedArrayBuffer;
    if (!shared) fail("BAD_SOURCE", "options.memory must be a shared WebAssembly.Memory (see createSharedMemory)");
  }
  if (source === undefined || source === null) source = new URL(memory ? "./wall-e.threads.wasm" : "./wall-e.wasm", import.meta.url);
  if (source instanceof WebAssembly.Instance) return new WallEHeap(source, "instance", memory || undefined);
  if (source instanceof WebAssembly.Module) return instantiate(source, "module", "the module", memory);
  if (ArrayBuffer.isView(source)) {
    // Some engines refuse a DataView as a BufferSource: hand them a Uint8Array over the same bytes.
    const view = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return instantiate(view, "bytes", "the bytes", memory);
  }
  if (source instanceof ArrayBuffer) return instantiate(source, "bytes", "the bytes", memory);
  if (typeof source === "string" || source instanceof URL) {
    const url = await toUrl(source);
    if (url.protocol === "file:") {
      return instantiate(await readFileUrl(url), "bytes", url.href, memory);
    }
    let response;
    try {
      response = await fetch(url);
    } catch (cause) {
      fail("LOAD_FAILED", `fetching ${url.href} failed: ${cause && cause.message}`, { cause });
    }
    return fromResponse(response, memory);
  }
  if (typeof Response !== "undefined" && source instanceof Response) return fromResponse(source, memory);
  if (source && typeof source.then === "function") return fromResponse(await source, memory);
  fail("BAD_SOURCE", "load() takes a URL or string, a Response or a promise of one, bytes, or a WebAssembly.Module");
}

/**
 * A shared memory for the threaded module: `initial` pages (default 1, the module's minimum) that
 * may grow to `maximum` (default 16384: 1 GiB; a shared memory must have a maximum, and engines
 * may reserve it up front). Needs `SharedArrayBuffer`: in browsers, a cross-origin isolated page
 * (`Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Embedder-Policy: require-corp`).
 * It must be new (zero): wall-e's heap starts in it, and nothing else may use it but through
 * the heap.
 *
 * @param {{ initial?: number, maximum?: number }} [options]
 * @returns {WebAssembly.Memory}
 */
export function createSharedMemory({ initial = 1, maximum = 16384 } = {}) {
  if (typeof SharedArrayBuffer === "undefined") {
    fail("BAD_SOURCE", "SharedArrayBuffer is not available (in a browser the page must be cross-origin isolated: COOP/COEP headers)");
  }
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}

export default load;
export { dylinkInfo, loadClient, reserveRange, loadAssemblyScript, asString } from "./clients.js";
