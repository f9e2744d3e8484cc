/* A C client that checks wall-e-libc.c's functions and then misuses the heap on purpose, so the
 * tests can show each build's documented outcome (docs/clients.md, "Bad input"):
 *  - alloc_checks(): malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign and
 *    malloc_usable_size against their contracts; 0 when all hold, else the failing check.
 *  - double_free(), free_stack(), write_past(n): the misuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static int aligned_ok(void *p, size_t align) { return p && ((uintptr_t)p & (align - 1)) == 0; }

EXPORT int alloc_checks(void) {
  /* malloc and malloc_usable_size: the size asked for, exactly. */
  char *a = malloc(100);
  if (!a || ((uintptr_t)a & 7) || malloc_usable_size(a) != 100) return 1;
  memset(a, 0xab, 100);
  /* calloc zeroes reused memory. */
  free(a);
  unsigned char *z = calloc(25, 4);
  if (!z || malloc_usable_size(z) != 100) return 2;
  for (int i = 0; i < 100; i++) if (z[i]) return 3;
  if (calloc((size_t)1 << 20, (size_t)1 << 20)) return 4; /* the product overflows: NULL */
  /* realloc keeps the contents. */
  for (int i = 0; i < 100; i++) z[i] = (unsigned char)i;
  z = realloc(z, 5000);
  if (!z || malloc_usable_size(z) != 5000) return 5;
  for (int i = 0; i < 100; i++) if (z[i] != i) return 6;
  free(z);
  /* malloc(0): a unique block. */
  void *m0 = malloc(0), *m1 = malloc(0);
  if (!m0 || !m1 || m0 == m1) return 7;
  free(m0);
  free(m1);
  /* Alignments 8 to 4096: aligned, usable, freed (the heap walk in the test proves the frees). */
  void *blocks[40];
  int n = 0;
  for (size_t align = 8; align <= 4096; align *= 2) {
    for (size_t size = 1; size <= 3000; size = size * 7 + 3) {
      char *p = aligned_alloc(align, size);
      if (!aligned_ok(p, align) || malloc_usable_size(p) < size) return 8;
      memset(p, 0x5a, size);
      if (n < 40) blocks[n++] = p; else free(p);
    }
  }
  /* realloc of an aligned block keeps its bytes. */
  char *r = aligned_alloc(64, 10);
  memcpy(r, "wall-e 64", 10);
  r = realloc(r, 100000);
  if (!r || strcmp(r, "wall-e 64") != 0 || malloc_usable_size(r) != 100000) return 9;
  free(r);
  for (int i = 0; i < n; i++) free(blocks[i]);
  /* posix_memalign and memalign. */
  void *out = NULL;
  if (posix_memalign(&out, 256, 1000) != 0 || !aligned_ok(out, 256)) return 10;
  free(out);
  if (posix_memalign(&out, 3, 8) != 22 || posix_memalign(&out, 2, 8) != 22) return 11; /* EINVAL */
  void *ma = memalign(32, 7);
  if (!aligned_ok(ma, 32)) return 12;
  free(ma);
  volatile size_t not_pow2 = 24;
  if (aligned_alloc(not_pow2, 8) != NULL) return 13; /* not a power of two */
  return 0;
}

/* Frees a block twice. */
EXPORT int double_free(void) {
  char *p = malloc(32);
  free(p);
  free(p);
  return 0;
}

/* Frees an address on the C stack (inside the stack block the loader allocated). */
EXPORT int free_stack(void) {
  struct { uint32_t before[2]; char buf[16]; } local; /* zeros before buf: no header look-alike */
  memset(&local, 0, sizeof local);
  __asm__ volatile("" : : "r"(&local) : "memory"); /* keep it in memory, on the stack */
  free(local.buf);
  return local.buf[0];
}

/* Writes `past` bytes past the end of a 24-byte block (onto the next block's header when
 * past > 0); with `then_free`, frees both blocks. Returns the first block's address. */
EXPORT uintptr_t write_past(int past, int then_free) {
  char *p = malloc(24);
  char *q = malloc(24);
  memset(p, 0x41, 24 + (size_t)past);
  if (then_free) {
    free(q);
    free(p);
  }
  return (uintptr_t)p;
}
