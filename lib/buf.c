#include "sluice/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sl_buf_init(sl_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void sl_buf_dispose(sl_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

sl_code sl_buf_grow_slow(sl_buf *b, size_t n) {
  if (b->cap - b->len >= n) return SL_EOK;
  if (n > b->max || b->len > b->max - n) return SL_ELIMIT;
  size_t want = b->len + n;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < want) ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
  if (ncap > b->max) ncap = b->max;
  char *p = realloc(b->data, ncap + SL_BUF_PAD);
  if (!p) return SL_ENOMEM;
  memset(p + ncap, 0, SL_BUF_PAD);
  b->data = p;
  b->cap = ncap;
  return SL_EOK;
}

sl_code sl_buf_reserve(sl_buf *b, size_t n) { return sl_buf_ensure(b, n); }

sl_code sl_buf_append(sl_buf *b, const void *p, size_t n) { return sl_buf_put(b, p, n); }

sl_code sl_buf_appendf(sl_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return SL_EINTERNAL;
  if ((size_t)n < sizeof tmp) return sl_buf_put(b, tmp, (size_t)n);
  sl_code rc = sl_buf_ensure(b, (size_t)n + 1);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SL_EOK;
}

void sl_buf_consume(sl_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void sl_buf_shrink(sl_buf *b, size_t keep) {
  if (b->cap <= keep || b->len > keep) return;
  char *p = realloc(b->data, keep + SL_BUF_PAD);
  if (!p) return;
  memset(p + keep, 0, SL_BUF_PAD);
  b->data = p;
  b->cap = keep;
}

const char *sl_buf_cstr(sl_buf *b) {
  if (!b->data) {
    if (sl_buf_grow_slow(b, 1)) return "";
  }
  b->data[b->len] = 0; /* padding guarantees room */
  return b->data;
}
