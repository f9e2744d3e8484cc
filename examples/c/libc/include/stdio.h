/* The freestanding libc shim's stdio.h: formatting into memory only (no FILE, no output). */
#ifndef WALL_E_STDIO_H
#define WALL_E_STDIO_H
#include <stddef.h>
#include <stdarg.h>
int vsnprintf(char *restrict out, size_t n, const char *restrict fmt, va_list ap);
int snprintf(char *restrict out, size_t n, const char *restrict fmt, ...);
int sprintf(char *restrict out, const char *restrict fmt, ...);
int sscanf(const char *restrict s, const char *restrict fmt, ...);
#endif
