// The wall-e runtime for AssemblyScript: asc's own garbage collector (ITCMS, the default
// runtime's) over wall-e's allocator instead of TLSF. Build with `--runtime ./rt/wall-e.ts`
// (see build.mjs and docs/clients.md, AssemblyScript section).
//
// Only the memory manager is replaced: __alloc, __realloc and __free, which the collector calls.
// Their contract (std/assembly/rt/README.md): __alloc's result is 16-aligned, and the u32 just
// before it (BLOCK.mmInfo) holds the block's capacity in its bits above 1, which the collector
// reads (`mmInfo & ~3`) to count memory and to resize in place. wall-e's blocks are 8-aligned,
// so each is asked 16 bytes larger and the pointer handed out is the first 16-aligned address at
// least 8 bytes in (wall-e block p, pointer p + 8 or p + 16):
//
//   p (wall-e block)                   ptr (16-aligned)
//   | pad: 4 or 12 bytes | mmInfo u32 | the collector's object header, then the payload ...
//
// mmInfo = capacity | (1 when ptr = p + 16): __free and __realloc find p from it.
import { BLOCK_MAXSIZE } from "rt/common";
import { E_ALLOCATION_TOO_LARGE } from "util/error";

// @ts-ignore: decorator
@external("wall-e", "allocate")
declare function wall_e_allocate(size: usize): usize;
// @ts-ignore: decorator
@external("wall-e", "deallocate")
declare function wall_e_deallocate(ptr: usize): void;
// @ts-ignore: decorator
@external("wall-e", "reallocate")
declare function wall_e_reallocate(ptr: usize, size: usize): usize;

// @ts-ignore: decorator
@inline const PAD: usize = 16;

// @ts-ignore: decorator
@inline function capacity(size: usize): usize {
  return (size + 3) & ~3;
}

// @ts-ignore: decorator
@inline function place(p: usize, cap: usize): usize {
  // Every dynamic object must sit above __heap_base: the collector takes anything below it for
  // static data. The loader reserves [--memoryBase, __heap_base) before instantiating, in a
  // fresh wall-e, so wall-e never hands out memory there; this check makes a violation trap.
  if (p < __heap_base) unreachable();
  let shifted: usize = (p & 15) == 0 ? 1 : 0; // p + 16 when p is already 16-aligned
  let ptr = p + 8 + (shifted << 3);
  store<u32>(ptr - 4, <u32>(cap | shifted));
  return ptr;
}

// @ts-ignore: decorator
@inline function base(ptr: usize): usize {
  return ptr - 8 - ((<usize>load<u32>(ptr - 4) & 1) << 3);
}

// @ts-ignore: decorator
@global @unsafe
export function __alloc(size: usize): usize {
  if (size > BLOCK_MAXSIZE) throw new Error(E_ALLOCATION_TOO_LARGE);
  let cap = capacity(size);
  let p = wall_e_allocate(cap + PAD);
  if (!p) unreachable(); // out of memory, as asc's TLSF
  return place(p, cap);
}

// @ts-ignore: decorator
@global @unsafe
export function __realloc(ptr: usize, size: usize): usize {
  if (size > BLOCK_MAXSIZE) throw new Error(E_ALLOCATION_TOO_LARGE);
  let old = base(ptr);
  let oldCap = <usize>load<u32>(ptr - 4) & ~3;
  let cap = capacity(size);
  let p = wall_e_reallocate(old, cap + PAD);
  if (!p) unreachable();
  let shift = ptr - old;
  let newPtr = place(p, cap);
  // wall-e kept the bytes from p; move them if the new block's alignment shifts the pointer.
  if (newPtr - p != shift) memory.copy(newPtr, p + shift, min(oldCap, cap));
  return newPtr;
}

// @ts-ignore: decorator
@global @unsafe
export function __free(ptr: usize): void {
  wall_e_deallocate(base(ptr));
}

// The collector: asc's own incremental mark & sweep, unchanged.
import "rt/itcms";

// Where the module's fixed range ends (its static data and shadow stack): the loader reads it
// from a scratch instance before reserving the range in wall-e's heap (pkg/clients.js).
export function __wall_e_heap_base(): usize {
  return __heap_base;
}
