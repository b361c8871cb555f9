/* source-file: CSV with libcsv.
 *
 * The scanner (csvscan.c, or libcsv with format.csv_parser "libcsv")
 * splits the bytes into fields and rows (crow_* below); a row's
 * fields are gathered NUL-terminated in one buffer, then either typed by the
 * stream's configured schema and written as a record, or fed to inference.
 * Rows of the wrong width are kept (missing fields null, extra ones dropped,
 * both listed in the record's meta.changes) or fail the stream. */
#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv_int.h"

/* ---- cells ---- */

bool fcell_int(const char *s, size_t len, int64_t *out) {
  const char *p = s, *e = s + len;
  bool neg = false;
  if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
  if (p == e || e - p > 19) return false;
  uint64_t v = 0;
  for (; p < e; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (d > 9) return false;
    v = v * 10 + d;
  }
  if (len - (size_t)(neg || *s == '+') == 19 && v > (uint64_t)INT64_MAX + neg) return false;
  if (v > (uint64_t)INT64_MAX + neg) return false;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
bool fcell_num_json(const char *s, size_t len) {
  const char *p = s, *e = s + len;
  if (p < e && *p == '-') p++;
  if (p == e) return false;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9')
    while (p < e && *p >= '0' && *p <= '9') p++;
  else return false;
  if (p < e && *p == '.') {
    const char *q = ++p;
    while (p < e && *p >= '0' && *p <= '9') p++;
    if (p == q) return false;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    const char *q = p;
    while (p < e && *p >= '0' && *p <= '9') p++;
    if (p == q) return false;
  }
  return p == e;
}

/* s is NUL-terminated at s[len]. */
bool fcell_num(const char *s, size_t len, double *out) {
  if (!len || len > 64 || s[0] == ' ' || s[0] == '\t') return false;
  char *end;
  errno = 0;
  double d = strtod(s, &end);
  if (end != s + len || !isfinite(d)) return false;
  /* strtod also takes hex and "infinity"; keep to decimal numbers. */
  for (size_t i = 0; i < len; i++)
    if (s[i] == 'x' || s[i] == 'X' || s[i] == 'n' || s[i] == 'N' || s[i] == 'i' || s[i] == 'I') return false;
  *out = d;
  return true;
}

bool fcell_in(const fstrs *set, const char *s, size_t len) {
  for (size_t i = 0; i < set->n; i++)
    if (strlen(set->v[i]) == len && !strncasecmp(set->v[i], s, len)) return true;
  return false;
}

int fcell_bool(const char *s, size_t len, const fcsv_opts *o) {
  if (!len || len > 16) return -1;
  if (fcell_in(&o->trues, s, len)) return 1;
  if (fcell_in(&o->falses, s, len)) return 0;
  return -1;
}

/* ---- columns ---- */

static int col_type(const sl_cstream *cs, const char *name) {
  json_t *p = json_object_get(json_object_get(cs ? cs->json_schema : NULL, "properties"), name);
  json_t *t = json_object_get(p, "type");
  bool i = false, n = false, b = false, s = false;
  size_t k;
  json_t *x;
  if (json_is_string(t)) t = json_pack("[O]", t);
  else json_incref(t);
  json_array_foreach(t, k, x) {
    const char *v = json_string_value(x);
    if (!v) continue;
    if (!strcmp(v, "integer")) i = true;
    else if (!strcmp(v, "number")) n = true;
    else if (!strcmp(v, "boolean")) b = true;
    else if (strcmp(v, "null")) s = true;
  }
  json_decref(t);
  if (s || i + n + b != 1) return n && !s && !b ? T_NUM : T_STR;
  return i ? T_INT : n ? T_NUM : T_BOOL;
}

static sl_code set_columns(cctx *c, char **names, size_t n) {
  if (!n) return sl_err_set(c->err, SL_ESOURCE, "%s: the header row is empty", c->em->what);
  if (n > MAX_COLS) return sl_err_set(c->err, SL_ELIMIT, "%s: more than %d columns", c->em->what, MAX_COLS);
  if (!(c->cols = calloc(n, sizeof *c->cols))) return SL_ENOMEM;
  c->ncols = n;
  for (size_t i = 0; i < n; i++) {
    ccol *col = &c->cols[i];
    if (!names[i][0] && asprintf(&col->name, "_col%zu", i + 1) < 0) return SL_ENOMEM;
    if (names[i][0] && !(col->name = strdup(names[i]))) return SL_ENOMEM;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(c->cols[j].name, col->name))
        return sl_err_set(c->err, SL_ESOURCE,
                          "%s: the header has the column \"%s\" twice (columns %zu and %zu); give "
                          "format.column_names to name them",
                          c->em->what, col->name, j + 1, i + 1);
    sl_buf kb;
    sl_buf_init(&kb, 1 << 20);
    sl_json_escape(&kb, col->name, strlen(col->name));
    sl_buf_putc(&kb, ':');
    col->key_len = kb.len;
    col->key = strndup(kb.data, kb.len);
    sl_buf_dispose(&kb);
    if (!col->key) return SL_ENOMEM;
    col->type = col_type(c->em->cs, col->name);
    if (c->em->infer && !(col->inf = inode_child(c->em->infer, col->name, strlen(col->name)))) return SL_ENOMEM;
  }
  c->have_cols = true;
  return SL_EOK;
}

static sl_code columns_from_row(cctx *c) {
  const fcsv_opts *o = c->o;
  if (o->columns.n) return set_columns(c, o->columns.v, o->columns.n);
  char **names = calloc(c->nf ? c->nf : 1, sizeof *names);
  if (!names) return SL_ENOMEM;
  sl_code rc = SL_EOK;
  for (size_t i = 0; i < c->nf && !rc; i++) {
    if (o->header) names[i] = c->row.data + c->off[i];
    else if (asprintf(&names[i], "f%zu", i) < 0) rc = SL_ENOMEM;
  }
  if (!rc) rc = set_columns(c, names, c->nf);
  if (!o->header)
    for (size_t i = 0; i < c->nf; i++) free(names[i]);
  free(names);
  return rc;
}

/* ---- records ---- */

static void note_bad_utf8(cctx *c, size_t col) {
  if (!c->bad_utf8++)
    snprintf(c->bad_where, sizeof c->bad_where, "row %llu, column %s", (unsigned long long)c->rowno,
             col < c->ncols ? c->cols[col].name : "(extra)");
}

static void meta_change(cctx *c, const char *field, const char *change, const char *msg) {
  sl_buf *m = &c->meta;
  sl_buf_put(m, m->len ? "," : "{\"changes\":[", m->len ? 1 : 12);
  sl_buf_put(m, "{\"field\":", 9);
  sl_json_escape(m, field, strlen(field));
  sl_buf_appendf(m, ",\"change\":\"%s\",\"reason\":\"SOURCE_SERIALIZATION_ERROR\",\"message\":", change);
  sl_json_escape(m, msg, strlen(msg));
  sl_buf_putc(m, '}');
}

static void write_cell(cctx *c, sl_jw *w, const ccol *col, size_t i) {
  const char *s = c->row.data + c->off[i];
  size_t len = c->len[i];
  if ((c->null[i] && c->o->null_empty) || (c->text_nulls && fcell_in(&c->o->nulls, s, len))) {
    sl_jw_null(w);
    return;
  }
  int64_t iv;
  double dv;
  int bv;
  switch (col->type) {
    case T_INT:
      if (fcell_int(s, len, &iv)) return sl_jw_int(w, iv);
      break;
    case T_NUM:
      if (fcell_num_json(s, len)) return sl_jw_raw(w, s, len);
      if (fcell_num(s, len, &dv)) return sl_jw_double(w, dv, false);
      break;
    case T_BOOL:
      if ((bv = fcell_bool(s, len, c->o)) >= 0) return sl_jw_bool(w, bv);
      break;
  }
  /* A string, or a value that does not parse as its type: kept as text
   * (the destination decides; nothing is dropped here). */
  if (c->check_utf8 && !sl_utf8_valid(s, len)) note_bad_utf8(c, i);
  sl_jw_str(w, s, len);
}

static sl_code emit_row(cctx *c) {
  femit *em = c->em;
  size_t n = c->nf < c->ncols ? c->nf : c->ncols;
  if (c->nf != c->ncols && c->o->ragged_fail)
    return sl_err_set(c->err, SL_ESOURCE, "%s: row %llu has %zu fields but the header has %zu columns "
                      "(format.ragged_rows is \"fail\")",
                      em->what, (unsigned long long)c->rowno, c->nf, c->ncols);
  if (em->infer) {
    for (size_t i = 0; i < n; i++) {
      const char *s = c->row.data + c->off[i];
      if ((c->null[i] && c->o->null_empty) || (c->text_nulls && fcell_in(&c->o->nulls, s, c->len[i])))
        inode_null(c->cols[i].inf);
      else inode_text(c->cols[i].inf, s, c->len[i], c->o);
    }
    for (size_t i = n; i < c->ncols; i++) inode_null(c->cols[i].inf);
  } else {
    sl_jw *w = sl_read_record_begin(em->rd);
    for (size_t i = 0; i < n; i++) {
      sl_jw_key_raw(w, c->cols[i].key, c->cols[i].key_len);
      write_cell(c, w, &c->cols[i], i);
    }
    c->meta.len = 0;
    if (c->nf != c->ncols) {
      char msg[160];
      if (c->nf < c->ncols) {
        snprintf(msg, sizeof msg, "row %llu has %zu of %zu fields", (unsigned long long)c->rowno, c->nf, c->ncols);
        for (size_t i = n; i < c->ncols; i++) {
          sl_jw_key_raw(w, c->cols[i].key, c->cols[i].key_len);
          sl_jw_null(w);
          meta_change(c, c->cols[i].name, "NULLED", msg);
        }
      } else {
        snprintf(msg, sizeof msg, "row %llu has %zu fields for %zu columns; the %zu extra were dropped",
                 (unsigned long long)c->rowno, c->nf, c->ncols, c->nf - c->ncols);
        meta_change(c, c->cols[c->ncols - 1].name, "TRUNCATED", msg);
      }
      sl_buf_put(&c->meta, "]}", 2);
    }
    if (c->bad_utf8 && c->o->utf8_fail) { /* this record is not emitted */
      sl_read_record_abort(em->rd);
      return sl_err_set(c->err, SL_ESOURCE, "%s: invalid UTF-8 at %s (format.invalid_utf8 is \"fail\"; use "
                        "encoding latin-1 if the file is Latin-1)", em->what, c->bad_where);
    }
    femit_file_fields(em, w);
    sl_code rc = sl_read_record_end_meta(em->rd, c->meta.data, c->meta.len);
    if (rc) return sl_err_set(c->err, rc, "%s: row %llu: writing the record failed (%s)", em->what,
                              (unsigned long long)c->rowno, sl_strerror(rc));
  }
  em->records++;
  if (em->limit && (int64_t)em->records >= em->limit) em->stop = true;
  return SL_EOK;
}

sl_code crow_grow(cctx *c) {
  size_t nc = c->fcap * 2;
  if (nc > MAX_COLS + 1)
    return c->rc = sl_err_set(c->err, SL_ELIMIT, "%s: row %llu has more than %d fields", c->em->what,
                              (unsigned long long)c->rowno + 1, MAX_COLS);
  size_t *no = realloc(c->off, nc * sizeof *no);
  if (no) c->off = no;
  size_t *nl = realloc(c->len, nc * sizeof *nl);
  if (nl) c->len = nl;
  bool *nn = realloc(c->null, nc * sizeof *nn);
  if (nn) c->null = nn;
  if (!no || !nl || !nn) return c->rc = SL_ENOMEM;
  c->fcap = nc;
  return SL_EOK;
}

static void cb_field(void *s, size_t len, void *data) {
  cctx *c = data;
  if (c->rc || c->em->stop || crow_field_begin(c)) return;
  if (s) crow_append(c, s, len);
  crow_field_end(c, s == NULL);
}

void crow_end(cctx *c) {
  if (c->rc || c->em->stop) return;
  c->rowno++;
  if (c->skip_before > 0) c->skip_before--;
  else if (!c->have_cols) {
    c->rc = columns_from_row(c);
    if (!c->rc && !c->o->header) c->rc = emit_row(c);
  } else if (c->skip_after > 0) c->skip_after--;
  else c->rc = emit_row(c);
  c->nf = 0;
  c->row.len = 0;
}

static void cb_row(int term, void *data) { crow_end(data); }

/* Bytes at the end of p[0..n) that start an incomplete UTF-8 sequence. */
static size_t utf8_tail(const char *p, size_t n) {
  for (size_t back = 1; back <= 3 && back <= n; back++) {
    unsigned char b = (unsigned char)p[n - back];
    if ((b & 0xc0) == 0x80) continue;
    size_t need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

static int no_space(unsigned char ch) {
  (void)ch;
  return 0;
}

/* An escape character (format.escape_char) is not something libcsv knows:
 * rewrite escaped quotes inside quoted fields as doubled quotes and drop
 * the escape before any other character. Outside quotes an escaped
 * delimiter still splits the field (documented). */
enum { E_START, E_PLAIN, E_QUOTED, E_QUOTE_SEEN };

static const char *fcsv_unescape(cctx *c, const char *in, size_t *n) {
  const fcsv_opts *o = c->o;
  sl_buf *b = &c->esc_out;
  b->len = 0;
  if (sl_buf_ensure(b, 2 * *n + 2)) return NULL;
  char *out = b->data;
  size_t k = 0;
  int st = c->esc_state;
  bool pend = c->esc_pending;
  for (size_t i = 0; i < *n; i++) {
    unsigned char ch = (unsigned char)in[i];
    if (pend) {
      pend = false;
      if (st == E_QUOTED && ch == o->quote) out[k++] = (char)ch;
      else if (st == E_START) st = E_PLAIN;
      out[k++] = (char)ch;
      continue;
    }
    bool end = ch == o->delim || ch == '\n' || ch == '\r';
    if (st == E_QUOTED) {
      if (ch == o->escape) {
        pend = true;
        continue;
      }
      if (ch == o->quote) st = E_QUOTE_SEEN;
    } else if (st == E_QUOTE_SEEN) {
      st = ch == o->quote ? E_QUOTED : end ? E_START : E_PLAIN;
    } else {
      if (ch == o->escape) {
        pend = true;
        continue;
      }
      st = end ? E_START : st == E_START && ch == o->quote ? E_QUOTED : E_PLAIN;
    }
    out[k++] = (char)ch;
  }
  c->esc_state = st;
  c->esc_pending = pend;
  *n = k;
  return out;
}

static sl_code parse_chunk(cctx *c, struct csv_parser *p, const char *buf, size_t n) {
  if (c->o->escape && !(buf = fcsv_unescape(c, buf, &n)))
    return sl_err_set(c->err, SL_ENOMEM, "out of memory");
  if (c->scan) cscan_feed(c->scan, c, buf, n);
  else if (csv_parse(p, buf, n, cb_field, cb_row, c) != n && !c->rc)
    return sl_err_set(c->err, SL_ESOURCE, "%s: after row %llu: %s", c->em->what, (unsigned long long)c->rowno,
                      csv_strerror(csv_error(p)));
  if (!c->rc && !c->scan && csv_get_buffer_size(p) > MAX_FIELD)
    return sl_err_set(c->err, SL_ESOURCE, "%s: row %llu has a field longer than %u MiB: an unclosed quote?",
                      c->em->what, (unsigned long long)c->rowno + 1, MAX_FIELD >> 20);
  return c->rc;
}

sl_code fcsv_run(fin *in, femit *em, sl_err *err) {
  cctx c = {.em = em, .o = &em->st->csv, .err = err, .fcap = 64};
  c.skip_before = c.o->skip_before;
  c.skip_after = c.o->skip_after;
  c.text_nulls = c.o->nulls.n > (size_t)c.o->null_empty;
  sl_buf_init(&c.row, MAX_FIELD + (1u << 20));
  sl_buf_init(&c.meta, 1 << 20);
  sl_buf_init(&c.esc_out, 2 * CHUNK + 64);
  c.off = malloc(c.fcap * sizeof *c.off);
  c.len = malloc(c.fcap * sizeof *c.len);
  c.null = malloc(c.fcap * sizeof *c.null);
  char *buf = malloc(CHUNK + 8);
  struct csv_parser p;
  cscan scan;
  bool parser = false;
  sl_code rc = SL_EOK;
  if (!c.off || !c.len || !c.null || !buf) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  else if (!c.o->libcsv) {
    cscan_init(&scan, c.o->delim, c.o->quote);
    c.scan = &scan;
  } else if (csv_init(&p, CSV_APPEND_NULL | CSV_EMPTY_IS_NULL))
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  else {
    parser = true;
    csv_set_delim(&p, c.o->delim);
    csv_set_quote(&p, c.o->quote);
    /* libcsv trims spaces and tabs around unquoted fields by default: data
     * must come through as written. */
    csv_set_space_func(&p, no_space);
  }
  size_t carry = 0, got;
  bool latin1 = c.o->enc == FIN_LATIN1;
  while (!rc && !em->stop) {
    if ((rc = fin_read(in, buf + carry, CHUNK - carry, &got, err))) break;
    /* A character cut by the chunk's end waits for the next chunk (a read
     * may return a single byte); at the end of the file it goes as it is. */
    size_t n = carry + got, keep = got ? utf8_tail(buf, n) : 0, use = n - keep;
    if (use) {
      c.check_utf8 = !latin1 && !sl_utf8_valid(buf, use);
      if ((rc = parse_chunk(&c, &p, buf, use))) break;
      memmove(buf, buf + use, keep);
    }
    carry = keep;
    if (!got) break;
  }
  if (!rc && !em->stop) {
    /* libcsv's own state: a quoted field still open at the end of the file. */
    if (c.scan ? !cscan_finish(c.scan, &c) : p.quoted && p.pstate == 2)
      rc = sl_err_set(err, SL_ESOURCE, "%s: row %llu: a quoted field is not closed at the end of the file",
                      em->what, (unsigned long long)c.rowno + 1);
    else if (!c.scan && csv_fini(&p, cb_field, cb_row, &c) && !c.rc)
      rc = sl_err_set(err, SL_ESOURCE, "%s: %s", em->what, csv_strerror(csv_error(&p)));
    else rc = c.rc;
  }
  if (!rc && c.bad_utf8 && em->rd) {
    if (!c.o->utf8_fail) /* (with fail, the bad row already failed the read) */
      sl_read_log(em->rd, "WARN", "%s: %llu field(s) had invalid UTF-8, replaced by U+FFFD (first at %s); set "
                  "format.encoding to latin-1 if the file is Latin-1", em->what,
                  (unsigned long long)c.bad_utf8, c.bad_where);
  }
  if (!rc && !c.have_cols && !em->infer && c.o->header && !c.o->columns.n)
    sl_read_log(em->rd, "WARN", "%s: the file is empty (no header row); no records", em->what);
  if (!rc && !c.have_cols && em->infer && !c.o->columns.n)
    rc = sl_err_set(err, SL_ESOURCE, "%s: the file is empty: no header row to infer a schema from (give "
                    "format.column_names or a schema)", em->what);
  if (!rc && !c.have_cols && em->infer && c.o->columns.n) rc = set_columns(&c, c.o->columns.v, c.o->columns.n);
  if (parser) csv_free(&p);
  for (size_t i = 0; i < c.ncols; i++) {
    free(c.cols[i].name);
    free(c.cols[i].key);
  }
  free(c.cols);
  free(c.off);
  free(c.len);
  free(c.null);
  free(buf);
  sl_buf_dispose(&c.row);
  sl_buf_dispose(&c.meta);
  sl_buf_dispose(&c.esc_out);
  return rc;
}
