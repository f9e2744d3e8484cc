// Type declarations for wall-e.js, the ES module loader of wall-e.wasm.

/** A u32 offset into `memory`; 0 is nil. */
export type Pointer = number;

/** Why a checked operation failed. */
export type WallEErrorCode =
  | "NIL_POINTER" // the pointer is 0
  | "NOT_LIVE" // freed, or never returned by alloc (size(p) == 0)
  | "BAD_POINTER" // not an integer in 0..2^32-1
  | "BAD_SIZE" // a size/offset/length that is not an integer in 0..2^32-1, or alloc(0)
  | "OUT_OF_BOUNDS" // a read, write or view past the block's size
  | "MISALIGNED" // a typed view whose start is not a multiple of its element size
  | "OUT_OF_MEMORY" // allocate/reallocate returned 0 (a failed realloc keeps the old block)
  | "BAD_SOURCE" // load() was given something it cannot load from
  | "LOAD_FAILED" // fetching, reading, compiling or instantiating failed
  | "BAD_MODULE" // the module does not export wall-e's ABI (or, for the heap map, not the stats build)
  | "CORRUPT"; // heap.live()/leaks(): the heap walk found a broken invariant (`at`: validate()'s address)

/** The error every checked operation throws. */
export class WallEError extends Error {
  constructor(code: WallEErrorCode, message: string, details?: { ptr?: number; size?: number; cause?: unknown });
  readonly name: "WallEError";
  readonly code: WallEErrorCode;
  /** The pointer involved, when there is one. */
  readonly ptr?: number;
  /** The size involved, when there is one. */
  readonly size?: number;
  /** CORRUPT: the address `validate()` reports. */
  readonly at?: number;
}

/**
 * wall-e.wasm's raw exports. Raw calls are unchecked: prefer the {@link WallEHeap} methods. The
 * threaded module exports no memory; the loader puts the shared memory it was given here.
 */
export interface WallEExports {
  readonly memory: WebAssembly.Memory;
  allocate(size: number): number;
  deallocate(ptr: number): void;
  reallocate(ptr: number, size: number): number;
  size(ptr: number): number;
}

/** Anything {@link WallEHeap.write} copies from; a string is written as UTF-8. */
export type Data = string | ArrayBuffer | ArrayBufferView | ArrayLike<number>;

/** A typed array constructor usable with {@link WallEHeap.view}. */
export interface TypedArrayConstructor<T> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** How {@link load} instantiated the module. */
export type LoadedVia = "streaming" | "arraybuffer" | "bytes" | "module" | "instance";

/**
 * A live block held by pointer. `bytes` and `view()` rebuild their typed array whenever
 * `memory.buffer` has changed, so a Block keeps working after `memory.grow`; every access
 * checks the block is still live.
 */
export class Block {
  private constructor();
  readonly heap: WallEHeap;
  /** The block's current address (updated by {@link Block.realloc}). */
  readonly ptr: Pointer;
  /** The block's size; throws NOT_LIVE once freed. */
  readonly size: number;
  /** A Uint8Array over the block, valid across memory growth when re-read from the getter. */
  readonly bytes: Uint8Array;
  view<T>(type: TypedArrayConstructor<T>, byteOffset?: number, length?: number): T;
  write(data: Data, offset?: number): number;
  read(offset?: number, length?: number): Uint8Array;
  readString(offset?: number, length?: number): string;
  /** Resizes (maybe moving) the block; on OUT_OF_MEMORY it is kept. */
  realloc(size: number): this;
  free(): void;
}

/**
 * A wall-e instance with a checked API. Typed arrays returned by `bytes` and `view` are built on
 * the current `memory.buffer` and are detached by the next memory growth (which any alloc or
 * realloc may cause): call them again afterwards, or hold a {@link Block}.
 */
export class WallEHeap {
  private constructor();
  readonly exports: WallEExports;
  readonly memory: WebAssembly.Memory;
  readonly instance: WebAssembly.Instance;
  readonly via: LoadedVia;
  /** Whether this is the threaded module over a shared memory (loaded with `{ memory }`). */
  readonly shared: boolean;
  /** Allocates `size` (> 0) bytes, 8-byte aligned; throws OUT_OF_MEMORY instead of returning 0. */
  alloc(size: number): Pointer;
  /** Frees a live block; `free(0)` is a no-op; a freed or foreign pointer throws NOT_LIVE. */
  free(ptr: Pointer): void;
  /** Resizes a block; `realloc(0, n)` allocates, `realloc(p, 0)` frees and returns 0. */
  realloc(ptr: Pointer, size: number): Pointer;
  /**
   * Hands this thread's cache of small freed blocks back to the shared heap (threaded module):
   * call it in a worker that is about to end. Returns whether the module has per-thread caches.
   */
  releaseThreadCache(): boolean;
  /** Whether `ptr` is a live block. Never throws. */
  isLive(ptr: Pointer): boolean;
  /** The size last asked for of a live block. */
  sizeOf(ptr: Pointer): number;
  /** A Uint8Array over the whole block (on the current buffer). */
  bytes(ptr: Pointer): Uint8Array;
  /** A typed array over the block, e.g. `heap.view(p, Float64Array)`. */
  view<T>(ptr: Pointer, type: TypedArrayConstructor<T>, byteOffset?: number, length?: number): T;
  /** A DataView over the whole block (on the current buffer). */
  dataView(ptr: Pointer): DataView;
  /** A handle whose views survive memory growth. */
  block(ptr: Pointer): Block;
  /** Copies data into the block at `offset`; returns the bytes written; OUT_OF_BOUNDS if it does not fit. */
  write(ptr: Pointer, data: Data, offset?: number): number;
  /** A copy of (a range of) the block. */
  read(ptr: Pointer, offset?: number, length?: number): Uint8Array;
  /** (A range of) the block decoded as UTF-8. */
  readString(ptr: Pointer, offset?: number, length?: number): string;
  /** Allocates a block exactly the size of `data` (at least 1 byte) holding a copy of it. */
  allocFrom(data: Data): Pointer;
  /**
   * Every block of the heap and its figures, read without allocating (the stats build:
   * `wall-e.trace.wasm`; BAD_MODULE otherwise). A corrupt heap gives `corrupt` (validate()'s
   * address) and no records; it never throws for that.
   */
  map(): HeapMap;
  /** The live blocks, in allocation order (traced build). Throws CORRUPT on a corrupt heap. */
  live(): LiveBlock[];
  /** The live blocks allocated or reallocated after `mark()` returned `since` (traced build). */
  leaks(since?: number): LiveBlock[];
  /** The sequence number of the last allocation, for {@link WallEHeap.leaks}. */
  mark(): number;
}

/** What a record of the heap map is (src/blocks.rs `Kind`). */
export type BlockKind = "used" | "free" | "spare" | "marker" | "room";

/** One block, or a region's end marker, or the room above the bump pointer: `[start, start + 8 + size)`. */
export interface BlockRecord {
  /** The header's address (the room: the bump pointer). */
  start: number;
  /** Bytes after the header: a block's capacity; a marker's gap to the next region; the room's bytes. */
  size: number;
  kind: BlockKind;
  /** A used block's size asked for. */
  logical: number;
  /** A used block's allocation sequence number (traced build; else 0). */
  seq: number;
}

/** The figures of a heap map, as `stat(i)` gives them. */
export interface HeapFigures {
  heapBytes: number;
  usedBytes: number;
  usedBlocks: number;
  freeBytes: number;
  freeBlocks: number;
  largestFree: number;
  room: number;
  regions: number;
  /** 1 - largestFree / freeBytes (0 when nothing is free). */
  fragmentation: number;
}

/** What {@link WallEHeap.map} returns. */
export interface HeapMap extends HeapFigures {
  records: BlockRecord[];
  /** 0, or the address validate() reports (then `records` is empty). */
  corrupt: number;
  memoryBytes: number;
  /** The last allocation's sequence number. */
  sequence: number;
}

/** A live block: its pointer, size asked for, allocation sequence number. */
export interface LiveBlock {
  ptr: Pointer;
  size: number;
  seq: number;
}

/** How the map paints memory. */
export type Paint = "used" | "overhead" | "free" | "spare" | "room" | "outside" | "corrupt";
export const PAINTS: Record<Paint, { color: string; label: string }>;
export const KINDS: ReadonlyArray<{ name: BlockKind; paint(record: BlockRecord): Array<[number, Paint]> }>;

/** A heap map laid out as rectangles of pixels (see {@link layout}). */
export interface MapPicture {
  width: number;
  height: number;
  bytesPerPixel: number;
  rects: Array<{ x: number; y: number; w: number; h: number; paint: Paint }>;
  pixels: Record<Paint, number>;
  corrupt: { x: number; y: number; address: number } | null;
}

export interface LayoutOptions {
  /** Pixels a row (default 512). */
  width?: number;
  /** Rows at most when choosing the scale (default 512). */
  maxHeight?: number;
  /** Bytes a pixel (default: the smallest power of two from 8 within maxHeight). */
  bytesPerPixel?: number;
}

/** The heap's blocks and figures (what heap.map() returns). */
export function readMap(heap: WallEHeap): HeapMap;
/** The live blocks (what heap.live() returns). */
export function liveBlocks(heap: WallEHeap): LiveBlock[];
/** The figures of a list of records. */
export function figures(records: BlockRecord[]): HeapFigures;
/** Memory as rows of pixels, each byte range a run of its paint; rectangles for both renderers. */
export function layout(map: HeapMap, options?: LayoutOptions): MapPicture;
/** The figures as lines of text. */
export function describe(map: HeapMap): string[];
/** The map as an SVG document (layout, legend, figures). */
export function renderSvg(map: HeapMap, options?: LayoutOptions & { title?: string }): string;
/** Paints a layout on a canvas context sized width × height. */
export function drawCanvas(ctx: CanvasRenderingContext2D, picture: MapPicture): void;
/** The WallEHeap methods map/live/leaks/mark (installed by wall-e.js). */
export const heapMapMethods: Pick<WallEHeap, "map" | "live" | "leaks" | "mark">;

/** Where {@link load} can take wall-e.wasm from. */
export type Source =
  | string
  | URL
  | Response
  | PromiseLike<Response>
  | ArrayBuffer
  | ArrayBufferView
  | WebAssembly.Module
  | WebAssembly.Instance;

/** Options of {@link load}. */
export interface LoadOptions {
  /**
   * A shared memory (see {@link createSharedMemory}): loads the threaded module,
   * `wall-e.threads.wasm` (the default source then), which imports it as `env.memory`. Every
   * instance over the same memory, one per worker, shares one heap.
   */
  memory?: WebAssembly.Memory;
}

/**
 * Loads and instantiates wall-e: with no argument the `wall-e.wasm` beside the loader; a URL or
 * string (fetched, or read with fs for `file:` URLs and paths in Node); a Response (streamed when
 * its Content-Type is `application/wasm`, else instantiated from its bytes); bytes; or a Module.
 * With `{ memory }`, the threaded module over that shared memory (in a worker too).
 */
export function load(source?: Source | null, options?: LoadOptions): Promise<WallEHeap>;

/**
 * A new shared memory for the threaded module: `initial` pages (default 1) up to `maximum`
 * (default 16384, 1 GiB). Needs SharedArrayBuffer (browsers: a cross-origin isolated page).
 */
export function createSharedMemory(options?: { initial?: number; maximum?: number }): WebAssembly.Memory;
export default load;

// ---- Client modules beside a heap (clients.js; docs/clients.md) ----------------------------

/** What a position-independent module's `dylink.0` section asks for (alignments in bytes). */
export interface DylinkInfo {
  memorySize: number;
  memoryAlign: number;
  tableSize: number;
  tableAlign: number;
}

/** The memory and table a PIC module needs, or null when it has no `dylink.0` section. */
export function dylinkInfo(module: WebAssembly.Module): DylinkInfo | null;

/** Options of {@link loadClient}. */
export interface ClientOptions {
  /** Bytes of C stack, a multiple of 16 (default 65536), in a wall-e block. */
  stackSize?: number;
  /** A function table to add the client's functions to (default: a new one, slot 0 empty). */
  table?: WebAssembly.Table;
  /** More imports, merged per module over the loader's (`env`, `"wall-e"`). */
  imports?: WebAssembly.Imports;
}

/** A client module linked beside a heap by {@link loadClient}. */
export interface Client {
  readonly instance: WebAssembly.Instance;
  readonly exports: WebAssembly.Exports;
  /** Where its static data starts (`__memory_base`), inside a wall-e block. */
  readonly memoryBase: Pointer;
  readonly memorySize: number;
  /** Its first slot in the table (`__table_base`). */
  readonly tableBase: number;
  readonly table: WebAssembly.Table | undefined;
  /** The wall-e block holding its stack, and the stack's 16-aligned top. */
  readonly stackBase: Pointer;
  readonly stackTop: Pointer;
  /** Its `__stack_pointer` global. */
  readonly stackPointer: WebAssembly.Global;
  /** Frees its data and stack blocks; the client must not be called afterwards. */
  dispose(): void;
}

/**
 * Links a position-independent module (clang `--target=wasm32-unknown-emscripten -fPIC`,
 * `wasm-ld --experimental-pic -shared`) beside `heap`: its data and stack in wall-e blocks, its
 * `"wall-e"` imports bound to wall-e's exports (examples/c/wall-e.h). Rejects with BAD_MODULE when
 * the module has no `dylink.0` section or imports `GOT.*` entries.
 */
export function loadClient(heap: WallEHeap, source: ArrayBuffer | ArrayBufferView | WebAssembly.Module, options?: ClientOptions): Promise<Client>;

/**
 * Makes one wall-e block cover [start, end) and returns its pointer; throws BAD_MODULE when the
 * heap already handed out memory there. With `fromProbe`, the block starts at the heap's next
 * block (nothing below the range is left free); otherwise a filler below is freed afterwards.
 */
export function reserveRange(heap: WallEHeap, start: number, end: number, options?: { fromProbe?: boolean }): Pointer;

/** An AssemblyScript module loaded beside a heap by {@link loadAssemblyScript}. */
export interface AssemblyScriptClient {
  readonly instance: WebAssembly.Instance;
  readonly exports: WebAssembly.Exports;
  /** The start of its fixed static range (asc `--memoryBase`, 16-aligned). */
  readonly memoryBase: Pointer;
  /** Its `__heap_base`: every object it allocates lies above. */
  readonly heapBase: Pointer;
  /** The wall-e block that holds the static range (never freed). */
  readonly reserved: Pointer;
  /** The asc string at `ptr` (null for 0). */
  string(ptr: Pointer): string | null;
}

/**
 * Loads an AssemblyScript module built with examples/assemblyscript/rt/wall-e.ts (`--runtime`,
 * `--importMemory`, `--exportStart _start`, `--memoryBase 8192`) beside a fresh `heap`: reserves
 * its fixed range [--memoryBase, __heap_base) first, then instantiates it and runs `_start`.
 */
export function loadAssemblyScript(heap: WallEHeap, source: ArrayBuffer | ArrayBufferView, options?: { imports?: WebAssembly.Imports }): Promise<AssemblyScriptClient>;

/** The asc string at `ptr` in `memory` (UTF-16, its byte length in the u32 before it). */
export function asString(memory: WebAssembly.Memory, ptr: Pointer): string | null;
