// The original WALL-E's usage: raw blocks through allocate / deallocate / reallocate / size,
// written against its API (assembly/wall-e.ts), exported for the host to check.
import { allocate, deallocate, reallocate, size, ptr, nil } from "./wall-e";

/** Allocates `n` blocks of 1..n u32s, fills them, resizes each, frees every other one, and
 *  returns the sum of what is left (the host recomputes it). */
export function blocks(n: u32): u64 {
  let list = allocate(n * 4);
  for (let i: u32 = 0; i < n; i++) {
    let p = allocate((i + 1) * 4);
    for (let j: u32 = 0; j <= i; j++) store<u32>(p + j * 4, i * 1000 + j);
    store<ptr>(list + i * 4, p);
  }
  for (let i: u32 = 0; i < n; i++) {
    let p = load<ptr>(list + i * 4);
    // grow to twice the size: the first (i + 1) u32s are kept
    p = reallocate(p, size(p) * 2);
    store<ptr>(list + i * 4, p);
  }
  let sum: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    let p = load<ptr>(list + i * 4);
    if (i % 2) {
      deallocate(p);
      store<ptr>(list + i * 4, nil);
      continue;
    }
    for (let j: u32 = 0; j <= i; j++) sum += load<u32>(p + j * 4);
    sum += size(p);
  }
  for (let i: u32 = 0; i < n; i++) {
    let p = load<ptr>(list + i * 4);
    if (p != nil) deallocate(p);
  }
  // the contract's edge cases, as the original documents them
  if (allocate(0) != nil) return 0;
  if (reallocate(allocate(8), 0) != nil) return 0;
  deallocate(list);
  return sum;
}
