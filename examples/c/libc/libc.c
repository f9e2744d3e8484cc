/* A minimal freestanding libc for C clients of wall-e: the string, ctype, number parsing and
 * formatting functions the vendored code needs, nothing else (no FILE, no locale, no errno).
 * Allocation is wall-e's (../wall-e-libc.c). Compile with -mbulk-memory: memcpy, memmove and
 * memset are then single wasm instructions (memory.copy / memory.fill).
 *
 * Numbers are exact: strtod is correctly rounded (round half to even) and "%g" prints the
 * correctly rounded digits, both through a small decimal bignum, so a client prints and parses
 * numbers exactly as glibc does (tests compare against a native build linked with glibc).
 * Anything unsupported (a printf conversion other than d i u x X s c g %, a scanf conversion
 * other than a double's) traps rather than printing something wrong.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <ctype.h>

_Noreturn void abort(void) { __builtin_trap(); }
int abs(int x) { return x < 0 ? -x : x; }

/* ---- string.h ---------------------------------------------------------------------------- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n) { __builtin_memcpy(dst, src, n); return dst; }
void *memmove(void *dst, const void *src, size_t n) { __builtin_memmove(dst, src, n); return dst; }
void *memset(void *dst, int c, size_t n) { __builtin_memset(dst, c, n); return dst; }
int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n; n--, x++, y++) if (*x != *y) return *x - *y;
  return 0;
}
size_t strlen(const char *s) { const char *e = s; while (*e) e++; return (size_t)(e - s); }
int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}
int strncmp(const char *a, const char *b, size_t n) {
  for (; n; n--, a++, b++) {
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    if (!*a) return 0;
  }
  return 0;
}
char *strcpy(char *restrict dst, const char *restrict src) { return memcpy(dst, src, strlen(src) + 1); }
char *strncpy(char *restrict dst, const char *restrict src, size_t n) {
  size_t i = 0;
  for (; i < n && src[i]; i++) dst[i] = src[i];
  for (; i < n; i++) dst[i] = 0;
  return dst;
}
char *strchr(const char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return (char *)s;
    if (!*s) return NULL;
  }
}
char *strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  return d ? memcpy(d, s, n) : NULL;
}

/* ---- a decimal bignum: base 10^9 limbs, least significant first ---------------------------- */
#define LIMBS 320 /* 2,880 digits: 10^350 x 2^1130 x an 800-digit mantissa fits */
#define BASE 1000000000u
typedef struct { int n; uint32_t d[LIMBS]; } big;

static void big_set(big *b, uint64_t v) {
  b->n = 0;
  while (v) { b->d[b->n++] = (uint32_t)(v % BASE); v /= BASE; }
}
static void big_mul_add(big *b, uint32_t m, uint32_t add) {
  uint64_t carry = add;
  for (int i = 0; i < b->n; i++) {
    uint64_t t = (uint64_t)b->d[i] * m + carry;
    b->d[i] = (uint32_t)(t % BASE);
    carry = t / BASE;
  }
  while (carry) {
    if (b->n == LIMBS) abort(); /* cannot happen within the limits strtod/%g keep */
    b->d[b->n++] = (uint32_t)(carry % BASE);
    carry /= BASE;
  }
}
static void big_mul_pow2(big *b, int e) { for (; e > 0; e -= 29) big_mul_add(b, 1u << (e < 29 ? e : 29), 0); }
static void big_mul_pow5(big *b, int e) {
  static const uint32_t pow5[14] = {1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125,
    9765625, 48828125, 244140625, 1220703125};
  for (; e > 0; e -= 13) big_mul_add(b, pow5[e < 13 ? e : 13], 0);
}
static void big_mul_pow10(big *b, int e) { big_mul_pow5(b, e); big_mul_pow2(b, e); }
static int big_cmp(const big *a, const big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int i = a->n - 1; i >= 0; i--) if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
  return 0;
}
/* Writes the decimal digits (no leading zeros; "" for 0); returns their count. */
static int big_digits(const big *b, char *out) {
  int len = 0;
  for (int i = b->n - 1; i >= 0; i--) {
    char tmp[9];
    uint32_t v = b->d[i];
    for (int j = 8; j >= 0; j--) { tmp[j] = (char)('0' + v % 10); v /= 10; }
    int j = 0;
    if (i == b->n - 1) while (j < 8 && tmp[j] == '0') j++;
    for (; j < 9; j++) out[len++] = tmp[j];
  }
  return len;
}

/* A finite double >= 0 as m x 2^k with m < 2^53 (k = -1074 for subnormals). */
static void split(double v, uint64_t *m, int *k) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  int exp = (int)((bits >> 52) & 0x7ff);
  *m = bits & ((1ull << 52) - 1);
  if (exp) { *m |= 1ull << 52; *k = exp - 1075; } else { *k = -1074; }
}

/* ---- strtod: correctly rounded ------------------------------------------------------------ */
#define MAX_DIGITS 800

static double from_bits(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t to_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

/* Compares digits x 10^e with the midpoint between x (finite, >= 0) and the next double up. */
static int cmp_upper_midpoint(const char *digits, int nd, int e, double x) {
  uint64_t m; int k;
  split(x, &m, &k);
  big lhs, rhs;
  big_set(&lhs, 0);
  for (int i = 0; i < nd; i++) big_mul_add(&lhs, 10, (uint32_t)(digits[i] - '0'));
  big_set(&rhs, 2 * m + 1); /* the midpoint is (2m + 1) x 2^(k - 1) */
  int two = k - 1;
  if (e > 0) big_mul_pow10(&lhs, e); else big_mul_pow10(&rhs, -e);
  if (two > 0) big_mul_pow2(&rhs, two); else big_mul_pow2(&lhs, -two);
  return big_cmp(&lhs, &rhs);
}

double strtod(const char *restrict s, char **restrict end) {
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  char digits[MAX_DIGITS];
  int nd = 0, e = 0, seen = 0, dropped_nonzero = 0;
  for (; isdigit((unsigned char)*p); p++) {
    seen = 1;
    if (nd == 0 && *p == '0') continue;
    if (nd < MAX_DIGITS) digits[nd++] = *p; else { e++; dropped_nonzero |= *p != '0'; }
  }
  if (*p == '.') {
    for (p++; isdigit((unsigned char)*p); p++) {
      seen = 1;
      if (nd == 0 && *p == '0') { e--; continue; }
      if (nd < MAX_DIGITS) { digits[nd++] = *p; e--; } else dropped_nonzero |= *p != '0';
    }
  }
  if (!seen) { if (end) *end = (char *)s; return 0; }
  if (*p == 'e' || *p == 'E') {
    const char *q = p + 1;
    int eneg = 0, ev = 0;
    if (*q == '+' || *q == '-') eneg = *q++ == '-';
    if (isdigit((unsigned char)*q)) {
      for (; isdigit((unsigned char)*q); q++) if (ev < 100000) ev = ev * 10 + (*q - '0');
      e += eneg ? -ev : ev;
      p = q;
    }
  }
  if (end) *end = (char *)p;
  /* Past MAX_DIGITS digits only whether the rest is zero matters for rounding: one extra 1. */
  if (dropped_nonzero && nd == MAX_DIGITS) { digits[nd - 1] |= 1; }
  while (nd > 0 && digits[nd - 1] == '0') { nd--; e++; }
  double r;
  if (nd == 0) r = 0;
  else if (nd + e > 310) r = __builtin_huge_val();
  else if (nd + e < -324) r = 0;
  else {
    static const double exact[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    uint64_t lead = 0;
    int nl = nd < 19 ? nd : 19;
    for (int i = 0; i < nl; i++) lead = lead * 10 + (uint64_t)(digits[i] - '0');
    int le = e + (nd - nl); /* the value is about lead x 10^le */
    if (nd <= 15 && le >= -22 && le <= 22) {
      /* Both operands exact, one rounding: correctly rounded (Clinger's fast path). */
      r = le >= 0 ? (double)lead * exact[le] : (double)lead / exact[-le];
    } else {
      /* An estimate within a few units in the last place, then exact comparisons with the
       * midpoints around it move it to the correctly rounded double. */
      r = (double)lead;
      for (int x = le; x > 0; x -= 22) r *= exact[x < 22 ? x : 22];
      for (int x = -le; x > 0; x -= 22) {
        /* Divide in two steps near the bottom so the estimate does not flush to zero early. */
        r /= exact[x < 22 ? x : 22];
      }
      if (r > 1.7976931348623157e308) r = 1.7976931348623157e308;
      if (r == 0) r = from_bits(1);
      for (int step = 0;; step++) {
        if (step > 4000) abort();
        int up = cmp_upper_midpoint(digits, nd, e, r);
        if (up > 0) {
          if (to_bits(r) == 0x7fefffffffffffffull) { r = __builtin_huge_val(); break; }
          r = from_bits(to_bits(r) + 1);
          continue;
        }
        if (up == 0) { if (to_bits(r) & 1) r = from_bits(to_bits(r) + 1); break; }
        if (to_bits(r) == 0) break;
        double below = from_bits(to_bits(r) - 1);
        int down = cmp_upper_midpoint(digits, nd, e, below);
        if (down < 0) { r = below; continue; }
        if (down == 0 && (to_bits(r) & 1)) r = below;
        break;
      }
    }
  }
  return neg ? -r : r;
}

long strtol(const char *restrict s, char **restrict end, int base) {
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  if (base == 0) base = 10;
  long v = 0;
  const char *start = p;
  for (;; p++) {
    int c = *p, d = isdigit(c) ? c - '0' : isalpha(c) ? (c | 32) - 'a' + 10 : 99;
    if (d >= base) break;
    v = v * base + d;
  }
  if (end) *end = (char *)(p == start ? s : p);
  return neg ? -v : v;
}

/* ---- printf ----------------------------------------------------------------------------- */
typedef struct { char *out; size_t cap, len; } sink;
static void put(sink *s, char c) { if (s->len + 1 < s->cap) s->out[s->len] = c; s->len++; }
static void put_padded(sink *s, const char *text, size_t n, int width, int left, char pad) {
  /* A '0' pad goes after the sign. */
  if (!left && pad == '0' && n && (text[0] == '-' || text[0] == '+')) { put(s, *text++); n--; width--; }
  if (!left) for (int i = (int)n; i < width; i++) put(s, pad);
  for (size_t i = 0; i < n; i++) put(s, text[i]);
  if (left) for (int i = (int)n; i < width; i++) put(s, ' ');
}

/* "%.<precision>g" of a double into out (at least 32 + precision bytes); returns the length. */
static int format_g(char *out, double v, int precision) {
  int len = 0;
  if (__builtin_signbit(v)) { out[len++] = '-'; v = -v; }
  if (__builtin_isnan(v)) { memcpy(out + len, "nan", 3); return len + 3; }
  if (__builtin_isinf(v)) { memcpy(out + len, "inf", 3); return len + 3; }
  int P = precision == 0 ? 1 : precision;
  if (P > 40) P = 40;
  char sig[48];
  int X; /* the decimal exponent of the rounded value, as in d.ddd x 10^X */
  if (v == 0) { memset(sig, '0', (size_t)P); X = 0; }
  else {
    /* The exact decimal expansion of v = m x 2^k, then rounding half to even at P digits. */
    uint64_t m; int k;
    split(v, &m, &k);
    big b;
    big_set(&b, m);
    if (k >= 0) big_mul_pow2(&b, k); else big_mul_pow5(&b, -k);
    static char all[LIMBS * 9];
    int L = big_digits(&b, all);
    X = L - 1 + (k < 0 ? k : 0);
    for (int i = 0; i < P; i++) sig[i] = i < L ? all[i] : '0';
    if (L > P) {
      int rest = 0;
      for (int i = P + 1; i < L; i++) if (all[i] != '0') { rest = 1; break; }
      int up = all[P] > '5' || (all[P] == '5' && (rest || ((sig[P - 1] - '0') & 1)));
      if (up) {
        int i = P - 1;
        while (i >= 0 && sig[i] == '9') sig[i--] = '0';
        if (i >= 0) sig[i]++; else { sig[0] = '1'; X++; } /* 99.9 -> 100: the rest are zeros */
      }
    }
  }
  if (X < -4 || X >= P) {
    out[len++] = sig[0];
    int last = P - 1;
    while (last > 0 && sig[last] == '0') last--;
    if (last > 0) { out[len++] = '.'; for (int i = 1; i <= last; i++) out[len++] = sig[i]; }
    out[len++] = 'e';
    out[len++] = X < 0 ? '-' : '+';
    int ax = X < 0 ? -X : X;
    if (ax >= 100) out[len++] = (char)('0' + ax / 100);
    out[len++] = (char)('0' + ax / 10 % 10);
    out[len++] = (char)('0' + ax % 10);
  } else {
    char frac[64];
    int nf = 0;
    if (X >= 0) {
      for (int i = 0; i <= X; i++) out[len++] = sig[i];
      for (int i = X + 1; i < P; i++) frac[nf++] = sig[i];
    } else {
      out[len++] = '0';
      for (int i = 0; i < -X - 1; i++) frac[nf++] = '0';
      for (int i = 0; i < P; i++) frac[nf++] = sig[i];
    }
    while (nf > 0 && frac[nf - 1] == '0') nf--;
    if (nf) { out[len++] = '.'; memcpy(out + len, frac, (size_t)nf); len += nf; }
  }
  return len;
}

int vsnprintf(char *restrict out, size_t n, const char *restrict fmt, va_list ap) {
  sink s = {out, n, 0};
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') { put(&s, *f); continue; }
    f++;
    int left = 0, width = 0, precision = -1, longs = 0;
    char pad = ' ';
    for (;; f++) {
      if (*f == '-') left = 1;
      else if (*f == '0') pad = '0';
      else break;
    }
    while (isdigit((unsigned char)*f)) width = width * 10 + (*f++ - '0');
    if (*f == '.') { precision = 0; f++; while (isdigit((unsigned char)*f)) precision = precision * 10 + (*f++ - '0'); }
    while (*f == 'l' || *f == 'z') { longs++; f++; }
    char buf[96];
    int len = 0;
    switch (*f) {
      case '%': put(&s, '%'); continue;
      case 'c': buf[0] = (char)va_arg(ap, int); len = 1; break;
      case 's': {
        const char *str = va_arg(ap, const char *);
        size_t sl = strlen(str);
        if (precision >= 0 && (size_t)precision < sl) sl = (size_t)precision;
        put_padded(&s, str, sl, width, left, ' ');
        continue;
      }
      case 'd': case 'i': case 'u': case 'x': case 'X': {
        /* On wasm32, long and size_t are 32 bits like int; long long is 64. */
        int64_t sv = 0;
        uint64_t uv;
        int is_signed = *f == 'd' || *f == 'i';
        if (longs >= 2) { if (is_signed) sv = va_arg(ap, long long); else uv = va_arg(ap, unsigned long long); }
        else { if (is_signed) sv = va_arg(ap, int); else uv = va_arg(ap, unsigned int); }
        if (is_signed) uv = sv < 0 ? (uint64_t)0 - (uint64_t)sv : (uint64_t)sv;
        unsigned radix = (*f == 'x' || *f == 'X') ? 16 : 10;
        const char *hex = *f == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        char tmp[24];
        int t = 0;
        do { tmp[t++] = hex[uv % radix]; uv /= radix; } while (uv);
        if (is_signed && sv < 0) buf[len++] = '-';
        while (t) buf[len++] = tmp[--t];
        break;
      }
      case 'g': len = format_g(buf, va_arg(ap, double), precision < 0 ? 6 : precision); break;
      default: abort(); /* a conversion this shim does not have: never print something wrong */
    }
    put_padded(&s, buf, (size_t)len, width, left, pad);
  }
  if (s.cap) s.out[s.len < s.cap ? s.len : s.cap - 1] = 0;
  return (int)s.len;
}

int snprintf(char *restrict out, size_t n, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(out, n, fmt, ap);
  va_end(ap);
  return r;
}

int sprintf(char *restrict out, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(out, (size_t)-1 / 2, fmt, ap);
  va_end(ap);
  return r;
}

/* sscanf: whitespace, literal characters and double conversions (%lg %lf %le, %g etc. into a
 * float) only: what the vendored code asks of it. */
int sscanf(const char *restrict s, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int count = 0;
  for (const char *f = fmt; *f; f++) {
    if (isspace((unsigned char)*f)) { while (isspace((unsigned char)*s)) s++; continue; }
    if (*f != '%') { if (*s != *f) break; s++; continue; }
    f++;
    int is_long = 0;
    while (*f == 'l') { is_long = 1; f++; }
    if (*f != 'g' && *f != 'f' && *f != 'e') abort();
    char *end;
    double d = strtod(s, &end);
    if (end == s) break;
    s = end;
    if (is_long) *va_arg(ap, double *) = d; else *va_arg(ap, float *) = (float)d;
    count++;
  }
  va_end(ap);
  return count;
}
