/* The freestanding libc shim's stdlib.h: the allocation functions come from wall-e.h. */
#ifndef WALL_E_STDLIB_H
#define WALL_E_STDLIB_H
#include <stddef.h>
#include "../../wall-e.h"
double strtod(const char *restrict s, char **restrict end);
long strtol(const char *restrict s, char **restrict end, int base);
int abs(int x);
_Noreturn void abort(void);
#endif
