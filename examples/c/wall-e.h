/* wall-e.h: C's allocation functions on wall-e, for a client module that shares wall-e's memory.
 *
 * The client imports wall-e's raw ABI from the module "wall-e" (the loader passes wall-e's
 * exports there), and wall-e-libc.c implements malloc & co on top of it. A client built with
 * this header and wall-e-libc.c has no allocator of its own: every block it mallocs is a
 * wall-e block, visible to the host (`heap.sizeOf(p)`) and to every other module on the heap.
 *
 * Outcomes (C's contract, plus wall-e's for bad pointers):
 *  - malloc(0) returns a unique 1-byte block (as glibc does: C programs often read NULL as
 *    "out of memory"); NULL means out of memory, never anything else.
 *  - free(NULL) does nothing; a double free or a pointer malloc never returned is ignored by the
 *    default wall-e.wasm and traps with a reason (last_error_message) in the `checked` build.
 *  - aligned_alloc/posix_memalign/memalign accept any power-of-two alignment: up to 8 a plain
 *    block; above 8 an over-allocated block (see wall-e-libc.c for the layout). free, realloc
 *    and malloc_usable_size take either kind.
 */
#ifndef WALL_E_H
#define WALL_E_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WALL_E_IMPORT(name) __attribute__((import_module("wall-e"), import_name(#name)))

/* wall-e's raw ABI (pkg/wall-e.wasm's exports): 8-byte aligned blocks; 0 is nil. */
WALL_E_IMPORT(allocate) void *wall_e_allocate(size_t size);
WALL_E_IMPORT(deallocate) void wall_e_deallocate(void *ptr);
WALL_E_IMPORT(reallocate) void *wall_e_reallocate(void *ptr, size_t size);
WALL_E_IMPORT(size) size_t wall_e_size(const void *ptr);

/* The C allocation functions, implemented by wall-e-libc.c. */
void *malloc(size_t size);
void free(void *ptr);
void *calloc(size_t count, size_t size);
void *realloc(void *ptr, size_t size);
void *aligned_alloc(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size);
int posix_memalign(void **out, size_t alignment, size_t size);
size_t malloc_usable_size(void *ptr);

#ifdef __cplusplus
}
#endif

#endif
