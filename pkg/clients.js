// Client modules beside a wall-e heap: compiled C (the dynamic-linking convention) and
// AssemblyScript (a fixed static range). Re-exported by wall-e.js; types in wall-e.d.ts; the
// recipes in docs/clients.md.
//
// C, C++, Rust or Zig built position-independent (clang: `--target=wasm32-unknown-emscripten
// -fPIC`, `wasm-ld --experimental-pic -shared`) import `env.memory`, `env.__memory_base`,
// `env.__table_base`, `env.__stack_pointer` and maybe `env.__indirect_function_table`, and say in
// their `dylink.0` custom section how much memory (and at what alignment) and how many table
// slots their static data needs. `loadClient` gives them wall-e's memory, puts their data in a
// wall-e block, their stack in another, and links their `"wall-e"` imports to wall-e's ABI.
//
// AssemblyScript (asc) has no relocatable output: its static data sits at fixed addresses from
// `--memoryBase` up to its `__heap_base`. `loadAssemblyScript` reserves exactly that range in the
// heap with a wall-e block before instantiating (see `reserveRange`).
import { WallEError } from "./wall-e.js";

const fail = (code, message, details) => {
  throw new WallEError(code, message, details);
};

/** Reads an unsigned LEB128 at `at`; returns [value, next offset]. */
function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    if (at >= bytes.length) fail("BAD_MODULE", "dylink.0: truncated LEB128");
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

/**
 * The memory and table a position-independent module needs, from its `dylink.0` custom section
 * (subsection 1, WASM_DYLINK_MEM_INFO), or null when it has none (not a PIC module).
 * @param {WebAssembly.Module} module
 * @returns {{ memorySize: number, memoryAlign: number, tableSize: number, tableAlign: number } | null}
 */
export function dylinkInfo(module) {
  const sections = WebAssembly.Module.customSections(module, "dylink.0");
  if (sections.length === 0) return null;
  const bytes = new Uint8Array(sections[0]);
  const info = { memorySize: 0, memoryAlign: 1, tableSize: 0, tableAlign: 1 };
  let at = 0;
  while (at < bytes.length) {
    const kind = bytes[at++];
    let size;
    [size, at] = leb(bytes, at);
    const end = at + size;
    if (kind === 1) {
      let v;
      [v, at] = leb(bytes, at);
      info.memorySize = v;
      [v, at] = leb(bytes, at);
      info.memoryAlign = 2 ** v; // stored as log2
      [v, at] = leb(bytes, at);
      info.tableSize = v;
      [v, at] = leb(bytes, at);
      info.tableAlign = 2 ** v;
    }
    at = end; // other subsections (needed libraries, export/import info) are not used here
  }
  return info;
}

const alignUp = (n, align) => Math.ceil(n / align) * align;

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  try {
    return await WebAssembly.compile(source);
  } catch (cause) {
    fail("LOAD_FAILED", `the client is not a wasm module: ${cause && cause.message}`, { cause });
  }
}

/** Allocates `size` bytes aligned to `align` (a power of two) from wall-e: [block, aligned]. */
function allocAligned(heap, size, align) {
  const block = heap.alloc(size + Math.max(align, 8) - 8);
  return [block, alignUp(block, Math.max(align, 8))];
}

/** Merges the caller's imports over ours, module by module. */
function mergeImports(ours, theirs = {}) {
  const all = { ...theirs };
  for (const [mod, fields] of Object.entries(ours)) all[mod] = { ...fields, ...(theirs[mod] || {}) };
  return all;
}

/**
 * Loads a position-independent client module beside `heap` (see the file's header). Its static
 * data goes in a zeroed wall-e block aligned as `dylink.0` asks, its stack (`stackSize` bytes,
 * default 64 KiB) in another whose top is 16-aligned, as the C ABI wants; `__stack_pointer`,
 * `__memory_base` and `__table_base` are new globals; its function table is `options.table` or a
 * new one whose slot 0 stays empty (a null function pointer traps). Imports: `env.memory` and the
 * above, `"wall-e"` = wall-e's exports (what examples/c/wall-e.h declares), then
 * `options.imports` (merged per module). Runs `__wasm_apply_data_relocs` and `__wasm_call_ctors`
 * when exported (clang 14 applies data relocations in the start function).
 *
 * `dispose()` frees both blocks; the client must not be called afterwards. Blocks the client
 * malloc'd are wall-e blocks like any other: free them through the client (or `heap.free`).
 *
 * @param {import("./wall-e.js").WallEHeap} heap
 * @param {BufferSource | WebAssembly.Module} source
 * @param {{ stackSize?: number, table?: WebAssembly.Table, imports?: WebAssembly.Imports }} [options]
 */
export async function loadClient(heap, source, options = {}) {
  const module = await compile(source);
  const info = dylinkInfo(module);
  if (!info) fail("BAD_MODULE", "the client has no dylink.0 section: build it position-independent (-fPIC, wasm-ld --experimental-pic -shared)");
  const stackSize = options.stackSize ?? 64 * 1024;
  if (!Number.isInteger(stackSize) || stackSize < 16 || stackSize % 16 !== 0) fail("BAD_SIZE", "stackSize must be a positive multiple of 16");
  const wants = (mod, name) => WebAssembly.Module.imports(module).some((i) => i.module === mod && i.name === name);

  const blocks = [];
  try {
    // Static data: wall-e may hand out reused memory, and .bss is not in the data segments.
    let memoryBase = 0;
    if (info.memorySize > 0) {
      const [block, base] = allocAligned(heap, info.memorySize, info.memoryAlign);
      blocks.push(block);
      memoryBase = base;
      new Uint8Array(heap.memory.buffer, memoryBase, info.memorySize).fill(0);
    }
    // The stack grows down from a 16-aligned top; the block is 8 bytes larger so it still holds
    // stackSize bytes below the top (wall-e's blocks are 8-aligned).
    const stackBase = heap.alloc(stackSize + 8);
    blocks.push(stackBase);
    const stackTop = (stackBase + stackSize + 8) & ~15;

    let table = options.table;
    let tableBase = 0;
    if (wants("env", "__indirect_function_table") || info.tableSize > 0) {
      if (table) {
        tableBase = alignUp(table.length, info.tableAlign);
        table.grow(tableBase + info.tableSize - table.length);
      } else {
        tableBase = alignUp(1, info.tableAlign); // slot 0 is the null function pointer
        table = new WebAssembly.Table({ initial: tableBase + info.tableSize, element: "anyfunc" });
      }
    }
    const env = {
      memory: heap.memory,
      __stack_pointer: new WebAssembly.Global({ value: "i32", mutable: true }, stackTop),
      __memory_base: new WebAssembly.Global({ value: "i32", mutable: false }, memoryBase),
      __table_base: new WebAssembly.Global({ value: "i32", mutable: false }, tableBase),
    };
    if (table) env.__indirect_function_table = table;
    for (const i of WebAssembly.Module.imports(module)) {
      if (i.module === "GOT.mem" || i.module === "GOT.func") {
        fail("BAD_MODULE", `the client imports ${i.module}.${i.name}: build it with -fvisibility=hidden so its own symbols are not preemptible`);
      }
    }
    let instance;
    try {
      instance = await WebAssembly.instantiate(module, mergeImports({ env, "wall-e": heap.exports }, options.imports));
    } catch (cause) {
      fail("LOAD_FAILED", `instantiating the client failed: ${cause && cause.message}`, { cause });
    }
    const e = instance.exports;
    if (typeof e.__wasm_apply_data_relocs === "function") e.__wasm_apply_data_relocs();
    if (typeof e.__wasm_call_ctors === "function") e.__wasm_call_ctors();
    let disposed = false;
    return {
      instance,
      exports: e,
      memoryBase,
      memorySize: info.memorySize,
      tableBase,
      table,
      stackBase,
      stackTop,
      stackPointer: env.__stack_pointer,
      dispose() {
        if (disposed) return;
        disposed = true;
        for (const b of blocks) heap.free(b);
      },
    };
  } catch (error) {
    for (const b of blocks) if (heap.isLive(b)) heap.free(b);
    throw error;
  }
}

/**
 * Makes one wall-e block cover the fixed range [start, end) and returns it, or throws
 * `BAD_MODULE` when the heap has already handed out memory there. A probe allocation finds where
 * the heap's next block starts (`probe`, the payload address, at the top of a fresh heap); that
 * must be at or below `start`. Then:
 *  - by default, the probe grows in place into a filler that takes the room up to `start`, the
 *    covering block is allocated next (its payload starts exactly at `start`), and the filler is
 *    freed: a free block below the range (or a cached one, given back to the lists before
 *    memory grows), for later allocations;
 *  - with `{ fromProbe: true }`, the probe grows in place to cover [probe, end): nothing below
 *    the range is left free (what an AssemblyScript client needs: see `loadAssemblyScript`).
 * The result is checked: the block must start at or below `start` and reach `end`. A fresh wall-e
 * instance (one whose heap has not yet reached `start`) always passes.
 * @param {import("./wall-e.js").WallEHeap} heap
 * @param {number} start
 * @param {number} end
 * @param {{ fromProbe?: boolean }} [options]
 */
export function reserveRange(heap, start, end, { fromProbe = false } = {}) {
  const HEADER = 8; // wall-e's block header (src/heap.rs, "Layout")
  if (start % 8 !== 0 || end <= start) fail("BAD_SIZE", `cannot reserve [${start}, ${end}): start must be 8-aligned and end above it`);
  const probe = heap.alloc(8);
  if (probe > start) {
    heap.free(probe);
    fail("BAD_MODULE", `the heap has already handed out memory at ${start} (its next block is at ${probe}): load this client first, into a fresh wall-e, or build it with a higher --memoryBase`);
  }
  // The probe is kept and grown in place (it is the top block): freed, it could stay in
  // wall-e's cache of small blocks rather than go back to the top (docs/small-blocks.md).
  let cover;
  if (!fromProbe && start - probe >= HEADER + 8) {
    // A filler whose payload ends exactly where the covering block's header must go.
    const filler = heap.realloc(probe, start - probe - HEADER);
    cover = heap.alloc(end - start);
    heap.free(filler);
  } else {
    cover = heap.realloc(probe, end - probe);
  }
  if (cover > start || cover + heap.sizeOf(cover) < end) {
    heap.free(cover);
    fail("BAD_MODULE", `wall-e could not place a block over [${start}, ${end}) (got ${cover}): load the client into a fresh wall-e`);
  }
  return cover;
}

/** The sections of a wasm binary: [{ id, start, end }] (payload offsets). */
function sections(bytes) {
  const out = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = leb(bytes, at);
    out.push({ id, start: at, end: at + size });
    at += size;
  }
  return out;
}

/**
 * What an AssemblyScript module puts at fixed addresses before any of its code runs: the extent
 * of its active data segments (`--memoryBase` up to the end of its static data) and the minimum
 * pages of its imported memory.
 */
function staticLayout(bytes) {
  let dataStart = Infinity;
  let dataEnd = 0;
  let minPages = 0;
  const name = (at) => {
    let n;
    [n, at] = leb(bytes, at);
    return [new TextDecoder().decode(bytes.subarray(at, at + n)), at + n];
  };
  const limits = (at) => {
    const flags = bytes[at++];
    let min;
    [min, at] = leb(bytes, at);
    if (flags & 1) [, at] = leb(bytes, at);
    return [min, at];
  };
  for (const s of sections(bytes)) {
    let at = s.start;
    let count;
    if (s.id === 2) { // imports
      [count, at] = leb(bytes, at);
      for (let i = 0; i < count; i++) {
        let mod, field;
        [mod, at] = name(at);
        [field, at] = name(at);
        const kind = bytes[at++];
        if (kind === 0) [, at] = leb(bytes, at);
        else if (kind === 1) [, at] = limits(at + 1);
        else if (kind === 2) {
          let min;
          [min, at] = limits(at);
          if (mod === "env" && field === "memory") minPages = min;
        } else if (kind === 3) at += 2;
        else fail("BAD_MODULE", `unknown import kind ${kind}`);
      }
    } else if (s.id === 11) { // data
      [count, at] = leb(bytes, at);
      for (let i = 0; i < count; i++) {
        let flags;
        [flags, at] = leb(bytes, at);
        if (flags === 1) { // passive: not placed at instantiation
          let n;
          [n, at] = leb(bytes, at);
          at += n;
          continue;
        }
        if (flags === 2) [, at] = leb(bytes, at); // memory index
        if (bytes[at++] !== 0x41) fail("BAD_MODULE", "a data segment's offset is not an i32.const: not a fixed address");
        let offset;
        [offset, at] = leb(bytes, at); // asc's offsets are positive: the unsigned reading is right
        if (bytes[at++] !== 0x0b) fail("BAD_MODULE", "a data segment's offset is not a constant");
        let n;
        [n, at] = leb(bytes, at);
        at += n;
        dataStart = Math.min(dataStart, offset);
        dataEnd = Math.max(dataEnd, offset + n);
      }
    }
  }
  return { dataStart, dataEnd, minPages };
}

/** The UTF-16 string asc keeps at `p` (its byte length in the u32 before it). */
export function asString(memory, p) {
  if (!p) return null;
  const bytes = new Uint32Array(memory.buffer, p - 4, 1)[0];
  return String.fromCharCode(...new Uint16Array(memory.buffer, p, bytes >>> 1));
}

/**
 * Loads an AssemblyScript module built with the wall-e runtime (examples/assemblyscript/rt/wall-e.ts:
 * asc `--runtime ./rt/wall-e --importMemory --exportStart _start --memoryBase 12288`) beside `heap`,
 * which must be fresh (nothing allocated yet) or at least not have reached `--memoryBase`.
 *
 * asc has no relocatable output: the module's static data and its shadow stack sit at fixed
 * addresses, from `--memoryBase` up to its `__heap_base`, and its collector takes every object
 * below `__heap_base` for static data. So, before anything of the module runs:
 *  1. `__heap_base` is read from a scratch instance over a scratch memory (`--exportStart` keeps
 *     its start function from running; the runtime exports `__wall_e_heap_base`);
 *  2. one wall-e block is made to cover [the heap's next block, `__heap_base`) (`reserveRange`
 *     with `fromProbe`): wall-e will never hand out memory below `__heap_base` again, so every
 *     object the runtime allocates lies above it (the runtime traps otherwise);
 *  3. the module is instantiated over wall-e's memory, with wall-e's exports as its `"wall-e"`
 *     imports, and `_start` runs (top-level code: the first allocations).
 * The reserved block is never freed: the module's statics live there as long as the heap does.
 *
 * `env.abort` throws an Error with asc's message, file and position unless `options.imports`
 * gives one; other imports (e.g. `env.seed`, console) come from `options.imports`.
 *
 * @param {import("./wall-e.js").WallEHeap} heap
 * @param {BufferSource | WebAssembly.Module} source
 * @param {{ imports?: WebAssembly.Imports }} [options]
 */
export async function loadAssemblyScript(heap, source, options = {}) {
  if (source instanceof WebAssembly.Module) fail("BAD_SOURCE", "loadAssemblyScript needs the module's bytes (it reads its data segments)");
  const bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  const module = await compile(bytes);
  const exportNames = WebAssembly.Module.exports(module).map((e) => e.name);
  if (!exportNames.includes("__wall_e_heap_base") || !exportNames.includes("_start")) {
    fail("BAD_MODULE", "not built for wall-e: asc needs --runtime <examples/assemblyscript/rt/wall-e> --exportStart _start --importMemory");
  }
  const { dataStart, minPages } = staticLayout(bytes);
  // 1. __heap_base, from a scratch instance that runs no code.
  const stub = () => {
    throw new Error("the scratch instance must not run");
  };
  const scratchImports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    if (i.kind === "function") (scratchImports[i.module] ||= {})[i.name] = stub;
  }
  (scratchImports.env ||= {}).memory = new WebAssembly.Memory({ initial: minPages });
  const scratch = await WebAssembly.instantiate(module, scratchImports);
  const heapBase = scratch.exports.__wall_e_heap_base() >>> 0;
  const start = Number.isFinite(dataStart) ? Math.min(dataStart & ~15, heapBase) : heapBase;
  // 2. The fixed range, in one wall-e block with nothing free below it.
  const reserved = reserveRange(heap, start & ~7, heapBase, { fromProbe: true });
  // 3. The module itself, over wall-e's memory.
  const abort = (message, file, line, column) => {
    const text = `${asString(heap.memory, message) ?? "abort"} at ${asString(heap.memory, file) ?? "?"}:${line}:${column}`;
    throw new Error(`AssemblyScript: ${text}`);
  };
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, mergeImports({ env: { memory: heap.memory, abort }, "wall-e": heap.exports }, options.imports));
  } catch (cause) {
    heap.free(reserved);
    fail("LOAD_FAILED", `instantiating the AssemblyScript module failed: ${cause && cause.message}`, { cause });
  }
  instance.exports._start();
  return { instance, exports: instance.exports, memoryBase: start, heapBase, reserved, string: (p) => asString(heap.memory, p) };
}
