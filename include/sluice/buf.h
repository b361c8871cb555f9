/* sluice: growable byte buffer with a mandatory maximum size.
 *
 * A buffer never grows past its max: appends fail with SL_ELIMIT instead, so a
 * connector printing a 2 GB line cannot take the process down. The buffer
 * always keeps SL_BUF_PAD zeroed-or-readable bytes after len so the JSON
 * parser can read past the end without a copy. */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sluice/err.h"

#define SL_BUF_PAD 64

typedef struct sl_buf {
  char *data;
  size_t len;
  size_t cap; /* usable capacity, excluding padding */
  size_t max;
} sl_buf;

void sl_buf_init(sl_buf *b, size_t max);
void sl_buf_dispose(sl_buf *b);
/* Make room for n more bytes. */
sl_code sl_buf_reserve(sl_buf *b, size_t n);
sl_code sl_buf_grow_slow(sl_buf *b, size_t n);
sl_code sl_buf_append(sl_buf *b, const void *p, size_t n);
sl_code sl_buf_appendf(sl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void sl_buf_consume(sl_buf *b, size_t n);
/* Release memory above keep bytes of capacity (after a huge line). */
void sl_buf_shrink(sl_buf *b, size_t keep);
/* NUL-terminate without counting the NUL in len. */
const char *sl_buf_cstr(sl_buf *b);

static inline sl_code sl_buf_ensure(sl_buf *b, size_t n) {
  if (b->cap - b->len >= n) return SL_EOK;
  return sl_buf_grow_slow(b, n);
}

static inline sl_code sl_buf_putc(sl_buf *b, char c) {
  if (b->len == b->cap && sl_buf_grow_slow(b, 1)) return SL_ELIMIT;
  b->data[b->len++] = c;
  return SL_EOK;
}

static inline sl_code sl_buf_put(sl_buf *b, const void *p, size_t n) {
  if (!n) return SL_EOK; /* a fresh buffer has no data: memcpy(NULL, p, 0) is undefined */
  if (b->cap - b->len < n && sl_buf_grow_slow(b, n)) return SL_ELIMIT;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return SL_EOK;
}

#endif
