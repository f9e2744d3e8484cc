// The original WALL-E's API (an allocator written in AssemblyScript: `allocate(s: u32): ptr`,
// `deallocate(p: ptr)`, `reallocate(p: ptr, s: u32): ptr`, `size(p: ptr): u32`), now served by
// wall-e: the same names and types, imported from the "wall-e" module the loader links. Code
// written against the original calls these unchanged.
export type ptr = u32;
export const nil: ptr = 0;

// @ts-ignore: decorator
@external("wall-e", "allocate")
export declare function allocate(s: u32): ptr;
// @ts-ignore: decorator
@external("wall-e", "deallocate")
export declare function deallocate(p: ptr): void;
// @ts-ignore: decorator
@external("wall-e", "reallocate")
export declare function reallocate(p: ptr, s: u32): ptr;
// @ts-ignore: decorator
@external("wall-e", "size")
export declare function size(p: ptr): u32;
