/* A workload of the vendored cJSON 1.7.19, built both as a wall-e client module (wasm, malloc on
 * wall-e, libc from libc/) and natively (gcc or clang with glibc): both must print the same text.
 *
 *  - cjson_example(text): cJSON's own parse_examples test: parse one of tests/inputs/testN and
 *    print it formatted (the test compares that with testN.expected).
 *  - cjson_workload(seed, rounds): random documents (nested objects and arrays, strings with
 *    escapes and non-ASCII, integers and doubles of every magnitude), 24 of them alive at a time
 *    and replaced at random, each printed formatted and unformatted, parsed back, compared,
 *    duplicated, edited, minified and deleted: thousands of malloc/realloc/free of sizes from a
 *    few bytes to tens of KiB. Returns a report: per round, the FNV-1a hash of everything printed
 *    and counts, never an address.
 * Both return a malloc'd, NUL-terminated string the caller frees.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"

#ifdef __wasm__
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif

static uint64_t rng;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static uint32_t fnv(uint32_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x01000193u;
  return h;
}

static double random_double(void) {
  for (;;) {
    uint64_t bits = ((uint64_t)next() << 32) | next();
    double d;
    memcpy(&d, &bits, 8);
    if (d == d && d - d == 0) return d; /* finite */
  }
}

static cJSON *random_value(int depth);

static char *random_string(void) {
  static const char *pieces[] = {"a", "wall-e", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\xc3\xa9",
                                 "\xe2\x82\xac", "\xf0\x9f\xa4\x96", "key", "0123456789", "{}[],:"};
  uint32_t n = next() % 12;
  size_t cap = 1;
  char *s = malloc(cap);
  s[0] = 0;
  size_t len = 0;
  for (uint32_t i = 0; i < n; i++) {
    const char *p = pieces[next() % (sizeof pieces / sizeof *pieces)];
    size_t pl = strlen(p);
    if (len + pl + 1 > cap) {
      cap = (len + pl + 1) * 2;
      s = realloc(s, cap);
    }
    memcpy(s + len, p, pl + 1);
    len += pl;
  }
  return s;
}

static cJSON *random_value(int depth) {
  uint32_t kind = next() % (depth > 4 ? 6 : 8);
  switch (kind) {
    case 0: return cJSON_CreateNull();
    case 1: return cJSON_CreateBool(next() & 1);
    case 2: return cJSON_CreateNumber((double)(int32_t)next());
    case 3: return cJSON_CreateNumber(random_double());
    case 4: return cJSON_CreateNumber((double)(int32_t)next() / 1000.0);
    case 5: {
      char *s = random_string();
      cJSON *v = cJSON_CreateString(s);
      free(s);
      return v;
    }
    case 6: {
      cJSON *a = cJSON_CreateArray();
      for (uint32_t i = next() % 9; i > 0; i--) cJSON_AddItemToArray(a, random_value(depth + 1));
      return a;
    }
    default: {
      cJSON *o = cJSON_CreateObject();
      for (uint32_t i = next() % 9; i > 0; i--) {
        char key[24];
        snprintf(key, sizeof key, "k%u_%u", i, next() % 50); /* unique in the object */
        cJSON_AddItemToObject(o, key, random_value(depth + 1));
      }
      return o;
    }
  }
}

/* A growable report. */
typedef struct { char *text; size_t len, cap; } report;
static void say(report *r, const char *line) {
  size_t n = strlen(line);
  if (r->len + n + 1 > r->cap) {
    r->cap = (r->len + n + 1) * 2;
    r->text = realloc(r->text, r->cap);
  }
  memcpy(r->text + r->len, line, n + 1);
  r->len += n;
}

EXPORT char *cjson_example(const char *text) {
  cJSON *tree = cJSON_Parse(text);
  char *printed = tree ? cJSON_Print(tree) : NULL;
  cJSON_Delete(tree);
  if (!printed) {
    printed = malloc(sizeof "(not parsed)");
    memcpy(printed, "(not parsed)", sizeof "(not parsed)");
  }
  return printed;
}

#define LIVE 24

EXPORT char *cjson_workload(uint32_t seed, uint32_t rounds) {
  rng = 0x9E3779B97F4A7C15ull ^ seed;
  report r = {0};
  say(&r, "");
  cJSON *live[LIVE] = {0};
  for (uint32_t round = 0; round < rounds; round++) {
    uint32_t hash = 0x811c9dc5u, items = 0, equal = 0, bytes = 0;
    for (int step = 0; step < 8; step++) {
      int slot = (int)(next() % LIVE);
      cJSON_Delete(live[slot]);
      live[slot] = random_value(0);
      char *flat = cJSON_PrintUnformatted(live[slot]);
      char *pretty = cJSON_Print(live[slot]);
      hash = fnv(fnv(hash, flat), pretty);
      bytes += (uint32_t)(strlen(flat) + strlen(pretty));
      cJSON *back = cJSON_Parse(pretty);
      /* Printed numbers round-trip exactly (cJSON prints 17 digits when 15 do not). */
      equal += (uint32_t)cJSON_Compare(back, live[slot], 1);
      cJSON *copy = cJSON_Duplicate(back, 1);
      if (cJSON_IsObject(copy) || cJSON_IsArray(copy)) {
        int n = cJSON_GetArraySize(copy);
        items += (uint32_t)n;
        if (n > 0) cJSON_DeleteItemFromArray(copy, (int)(next() % (uint32_t)n));
        cJSON_AddItemToArray(copy, cJSON_CreateString("added"));
      }
      char *edited = cJSON_Print(copy);
      cJSON_Minify(edited);
      hash = fnv(hash, edited);
      free(edited);
      cJSON_Delete(copy);
      cJSON_Delete(back);
      free(pretty);
      free(flat);
    }
    char line[96];
    snprintf(line, sizeof line, "round %u: hash %08x items %u equal %u bytes %u\n", round, hash, items, equal, bytes);
    say(&r, line);
  }
  /* One document of every live one, printed: the last line is its hash. */
  cJSON *all = cJSON_CreateArray();
  for (int i = 0; i < LIVE; i++) cJSON_AddItemToArray(all, live[i] ? live[i] : cJSON_CreateNull());
  char *text = cJSON_PrintBuffered(all, 256, 1);
  char line[96];
  snprintf(line, sizeof line, "all: %u bytes, hash %08x, version %s\n", (unsigned)strlen(text), fnv(0x811c9dc5u, text), cJSON_Version());
  say(&r, line);
  free(text);
  cJSON_Delete(all);
  return r.text;
}

#ifndef __wasm__
/* The native reference: prints what the wasm hosts assemble from the same calls. */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (fread(s, 1, (size_t)n, f) != (size_t)n) exit(2);
  s[n] = 0;
  fclose(f);
  return s;
}

int main(int argc, char **argv) {
  /* usage: cjson_native SEED ROUNDS [input files...] */
  if (argc < 3) return 2;
  for (int i = 3; i < argc; i++) {
    char *text = read_file(argv[i]);
    char *out = cjson_example(text);
    printf("== %s\n%s\n", strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i], out);
    free(out);
    free(text);
  }
  char *rep = cjson_workload((uint32_t)strtoul(argv[1], NULL, 10), (uint32_t)strtoul(argv[2], NULL, 10));
  printf("== workload %s %s\n%s", argv[1], argv[2], rep);
  free(rep);
  return 0;
}
#endif
