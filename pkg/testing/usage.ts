// Type-checked (never run) by package.test.js with `tsc --noEmit`: the declarations must accept
// ordinary use and reject misuse (each @ts-expect-error line must really be an error).
import { load, createSharedMemory, WallEError, WallEHeap, Block, type Pointer, type WallEErrorCode, type Source, type LoadOptions, renderSvg, layout, type HeapMap, type MapPicture, type LiveBlock, type BlockKind } from "wall-e";
import loadDefault from "wall-e";

export async function usage(): Promise<string> {
  const heap: WallEHeap = await load();
  await loadDefault(new Uint8Array(8));
  const sources: Source[] = [
    "wall-e.wasm",
    new URL("https://example.com/wall-e.wasm"),
    fetch("wall-e.wasm"),
    new Response(null),
    new ArrayBuffer(8),
    new Uint8Array(8),
    new DataView(new ArrayBuffer(8)),
    new WebAssembly.Module(new Uint8Array(8)),
  ];
  void sources;

  const p: Pointer = heap.alloc(64);
  heap.write(p, "hello");
  heap.write(p, [1, 2, 3], 5);
  heap.write(p, new Float32Array([1]), 8);
  const bytes: Uint8Array = heap.bytes(p);
  const copy: Uint8Array = heap.read(p, 0, 5);
  const f64: Float64Array = heap.view(p, Float64Array);
  const big: BigInt64Array = heap.view(p, BigInt64Array, 8, 1);
  const dv: DataView = heap.dataView(p);
  const n: number = heap.sizeOf(p);
  const live: boolean = heap.isLive(p);
  const q: Pointer = heap.realloc(p, 128);
  const blk: Block = heap.block(q);
  const again: Uint8Array = blk.bytes;
  const i32: Int32Array = blk.view(Int32Array);
  blk.realloc(256).write("x");
  const mem: WebAssembly.Memory = heap.memory;
  // The threaded module over a shared memory, e.g. in a worker given `memory` and `module`.
  const memory: WebAssembly.Memory = createSharedMemory({ initial: 1, maximum: 1024 });
  const options: LoadOptions = { memory };
  const threaded: WallEHeap = await load(null, options);
  const inWorker: WallEHeap = await load(new WebAssembly.Module(new Uint8Array(8)), { memory });
  const isShared: boolean = threaded.shared && inWorker.shared;
  void isShared;
  const raw: number = heap.exports.allocate(8);
  heap.exports.deallocate(raw);
  try {
    heap.free(heap.allocFrom("bye"));
  } catch (e) {
    if (e instanceof WallEError) {
      const code: WallEErrorCode = e.code;
      void code;
    }
  }
  void [bytes, copy, f64, big, dv, n, live, again, i32, mem];
  blk.free();

  // @ts-expect-error sizes are numbers
  heap.alloc("8");
  // @ts-expect-error view needs a typed array constructor
  heap.view(p, Array);
  // @ts-expect-error a view of Float64Array is not an Int8Array
  const wrong: Int8Array = heap.view(p, Float64Array);
  // @ts-expect-error not an error code
  const badCode: WallEErrorCode = "SEGFAULT";
  // @ts-expect-error load takes one source, then options (lib.dom's WebAssembly.Module is an
  // empty interface, so any object type-checks as a source; load() rejects it with BAD_SOURCE)
  await load("a.wasm", "b.wasm");
  // @ts-expect-error the memory option is a WebAssembly.Memory
  await load(null, { memory: new SharedArrayBuffer(8) });
  // @ts-expect-error shared is read-only
  heap.shared = true;
  // @ts-expect-error via is read-only
  heap.via = "bytes";
  void [wrong, badCode];
  // The heap map (the traced build).
  const map: HeapMap = heap.map();
  const svg: string = renderSvg(map, { width: 256, title: "heap" });
  const pic: MapPicture = layout(map);
  const used: number = pic.pixels.used * pic.bytesPerPixel + map.usedBytes;
  const since: number = heap.mark();
  const leaked: LiveBlock[] = heap.leaks(since);
  const first: BlockKind | undefined = map.records[0]?.kind;
  // @ts-expect-error not a block kind
  const notKind: BlockKind = "cached-later";
  void [svg, used, leaked, first, notKind];
  return heap.readString(p);
}

// Client modules beside a heap (clients.js).
async function clients(heap: import("wall-e").WallEHeap, cBytes: Uint8Array, cModule: WebAssembly.Module, asBytes: ArrayBuffer): Promise<string | null> {
  const { loadClient, loadAssemblyScript, dylinkInfo } = await import("wall-e");
  const info = dylinkInfo(cModule);
  const c = await loadClient(heap, cBytes, { stackSize: info ? 32768 : 65536 });
  const top: number = c.stackTop;
  c.dispose();
  const as = await loadAssemblyScript(heap, asBytes);
  return top > as.heapBase ? as.string(0) : null;
}
void clients;
