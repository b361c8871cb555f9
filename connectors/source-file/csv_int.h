/* source-file: CSV internals shared by the row assembly (csv.c) and the
 * hand-written scanner (csvscan.c). */
#ifndef SOURCE_FILE_CSV_INT_H
#define SOURCE_FILE_CSV_INT_H

#include "fsrc.h"

#define CHUNK (256u << 10)
#define MAX_FIELD (64u << 20) /* a longer field is almost surely an unclosed quote */
#define MAX_COLS 100000

enum { T_STR, T_INT, T_NUM, T_BOOL };

typedef struct ccol {
  char *name;
  char *key; /* "\"name\":" */
  size_t key_len;
  int type;
  inode *inf;
} ccol;

typedef struct cctx {
  femit *em;
  const fcsv_opts *o;
  sl_err *err;
  sl_code rc;
  sl_buf row;     /* the row's fields, each NUL-terminated */
  size_t *off;    /* field i starts at row.data + off[i] */
  size_t *len;
  bool *null;     /* unquoted empty */
  size_t nf, fcap;
  uint64_t rowno; /* rows of the file so far, header included */
  int64_t skip_before, skip_after;
  ccol *cols;
  size_t ncols;
  bool have_cols, check_utf8, text_nulls;
  int esc_state; /* fcsv_unescape's view of the quoting */
  bool esc_pending;
  sl_buf esc_out;
  struct cscan *scan; /* the hand-written scanner, or NULL with libcsv */
  uint64_t bad_utf8;
  char bad_where[200];
  sl_buf meta;
} cctx;

/* Row assembly: a field is begun, appended to (in pieces), ended. Inline:
 * they run for every field. */
sl_code crow_grow(cctx *c);
static inline sl_code crow_field_begin(cctx *c) {
  if (c->nf == c->fcap && crow_grow(c)) return c->rc;
  c->off[c->nf] = c->row.len;
  return SL_EOK;
}
static inline void crow_append(cctx *c, const char *p, size_t n) {
  if (sl_buf_put(&c->row, p, n) && !c->rc)
    c->rc = sl_err_set(c->err, SL_ELIMIT, "%s: row %llu is longer than %u MiB: an unclosed quote?", c->em->what,
                       (unsigned long long)c->rowno + 1, MAX_FIELD >> 20);
}
static inline void crow_field_end(cctx *c, bool null) {
  c->len[c->nf] = c->row.len - c->off[c->nf];
  c->null[c->nf] = null;
  if (sl_buf_putc(&c->row, 0) && !c->rc) crow_append(c, "", 1); /* reports the limit */
  c->nf++;
}
void crow_end(cctx *c);

/* The hand-written scanner (RFC 4180 plus libcsv's leniency). */
typedef struct cscan {
  int st;
  unsigned char delim, quote;
  bool special[256]; /* ends an unquoted run: delimiter, CR, LF */
} cscan;
void cscan_init(cscan *s, unsigned char delim, unsigned char quote);
void cscan_feed(cscan *s, cctx *c, const char *p, size_t n);
/* End of input: the last row; false if a quoted field is still open. */
bool cscan_finish(cscan *s, cctx *c);

#endif
