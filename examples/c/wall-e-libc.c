/* malloc & co on wall-e's raw ABI (declared in wall-e.h).
 *
 * Plain blocks are wall-e's blocks as they are: malloc(n) is allocate(n), free is deallocate,
 * realloc is reallocate (in place when wall-e can), malloc_usable_size is size() (the size last
 * asked for, so a program never writes past what wall-e knows it asked for).
 *
 * Alignment above 8 (wall-e's own): aligned_alloc over-allocates `size + alignment` bytes at p
 * and returns the first multiple of the alignment `a` above p (a > p, so a - p >= 8). The eight
 * bytes before `a` hold a tag and p:
 *
 *     p                                      a = align_up(p + 8)
 *     | ...unused... | ALIGNED_TAG | p |      payload (size bytes) ...        |
 *
 * free/realloc/malloc_usable_size recognise such a pointer by the tag. The word eight bytes
 * before a *plain* block's payload is wall-e's header, whose first word is the block's logical
 * size (src/heap.rs, "Layout"): at most wall-e's largest request, 4 GiB - 128 KiB, so it is never
 * ALIGNED_TAG. Reading it is a read of wall-e's memory, never a write.
 * When p itself happens to be aligned, the block is plain (no tag, no waste beyond the over-ask,
 * which is trimmed by an in-place reallocate).
 */
#include "wall-e.h"

#include <stdint.h>

#define ALIGNED_TAG 0xFFFFFFF1u /* > any logical size wall-e keeps (<= 0xFFFE0000) */
#define MIN_ALIGN 8u

static uint32_t *tag_of(void *ptr) { return (uint32_t *)ptr - 2; }

/* The wall-e block an aligned pointer lives in, or NULL for a plain block. */
static void *aligned_base(void *ptr) {
  uint32_t *tag = tag_of(ptr);
  return tag[0] == ALIGNED_TAG ? (void *)(uintptr_t)tag[1] : NULL;
}

void *malloc(size_t size) { return wall_e_allocate(size ? size : 1); }

void free(void *ptr) {
  if (!ptr) return;
  void *base = aligned_base(ptr);
  if (base) {
    tag_of(ptr)[0] = 0; /* a second free of the aligned pointer must not find the tag again */
    ptr = base;
  }
  wall_e_deallocate(ptr);
}

void *calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return NULL;
  void *p = malloc(total);
  /* wall-e may hand out reused memory: zero it (wasm's memory.fill with -mbulk-memory). */
  if (p) __builtin_memset(p, 0, total);
  return p;
}

size_t malloc_usable_size(void *ptr) {
  if (!ptr) return 0;
  void *base = aligned_base(ptr);
  if (!base) return wall_e_size(ptr);
  size_t n = wall_e_size(base);
  size_t skip = (size_t)((char *)ptr - (char *)base);
  return n > skip ? n - skip : 0;
}

void *realloc(void *ptr, size_t size) {
  if (!ptr) return malloc(size);
  if (!aligned_base(ptr)) return wall_e_reallocate(ptr, size ? size : 1);
  /* An aligned block moves to a plain one (realloc need not keep an alignment above 8's). */
  size_t old = malloc_usable_size(ptr);
  void *q = malloc(size);
  if (!q) return NULL; /* the old block is kept, as C requires */
  __builtin_memcpy(q, ptr, old < size ? old : size);
  free(ptr);
  return q;
}

void *aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return NULL;
  if (alignment <= MIN_ALIGN) return malloc(size);
  size_t total;
  if (__builtin_add_overflow(size ? size : 1, alignment, &total)) return NULL;
  char *p = wall_e_allocate(total);
  if (!p) return NULL;
  uintptr_t a = (uintptr_t)p;
  if ((a & (alignment - 1)) == 0) {
    /* Already aligned: give back the extra (wall-e shrinks in place, so q == p; should it
     * ever move the block, q must still be aligned, else that copy is dropped). */
    char *q = wall_e_reallocate(p, size ? size : 1);
    if (!q) return p; /* the over-sized block is kept */
    if (((uintptr_t)q & (alignment - 1)) == 0) return q;
    wall_e_deallocate(q);
    return NULL;
  }
  a = (a + 8 + alignment - 1) & ~(uintptr_t)(alignment - 1);
  uint32_t *tag = tag_of((void *)a);
  tag[0] = ALIGNED_TAG;
  tag[1] = (uint32_t)(uintptr_t)p;
  return (void *)a;
}

void *memalign(size_t alignment, size_t size) { return aligned_alloc(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return 22; /* EINVAL */
  void *p = aligned_alloc(alignment, size);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
