/* source-mysql: reading one stream.
 *
 * A full refresh of a table with a primary key is read in chunks of
 * chunk_rows rows:
 *   SELECT <columns>, <key> FROM t WHERE <after the last key> ORDER BY <key> LIMIT n
 * each streamed with mysql_use_result (nothing is buffered client side), so
 * memory stays flat, no query runs for long, and a state names the last key
 * read. Incremental reads, and tables without a key (and views), are one
 * streamed query (see chunked()). The resume point is written as literals:
 * integers as digits, other values as _utf8mb4 X'<hex>' (no escaping, no
 * injection, the column's collation decides the comparison). Values arrive
 * as text (the text protocol): integers, decimals and floats are copied as
 * JSON numbers, dates become ISO 8601. */
#include <stdio.h>
#include <stdlib.h>

#include "mysrc.h"

typedef struct reader {
  MYSQL *m;
  sl_dbtable *tables;
  size_t ntables;
  sl_dbplan plan;
  sl_buf sql, scratch;
} reader;

static void quote(sl_buf *b, const char *name) { my_ident(b, name); }

static void lit(sl_buf *b, const json_t *v) {
  if (json_is_integer(v)) sl_buf_appendf(b, "%lld", (long long)json_integer_value(v));
  else if (json_is_string(v)) my_lit(b, json_string_value(v), json_string_length(v));
  else if (json_is_real(v)) sl_buf_appendf(b, "%.17g", json_real_value(v));
  else sl_buf_appendf(b, "NULL");
}

static bool zero_date(const char *s, size_t n) { return n >= 10 && !memcmp(s, "0000-00-00", 10); }

/* BIT(n) arrives as n/8 big-endian bytes. */
static uint64_t bits(const char *s, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | (unsigned char)s[i];
  return v;
}

static void put_value(reader *r, sl_jw *w, const sl_dbcol *c, const char *s, size_t n) {
  if (!s) {
    sl_jw_null(w);
    return;
  }
  switch (c->type) {
    case SL_DB_INT:
      if (c->native == MYN_BIT) sl_jw_uint(w, bits(s, n));
      else sl_jw_raw(w, s, n); /* the server's digits */
      return;
    case SL_DB_BOOL:
      sl_jw_bool(w, c->native == MYN_BIT ? bits(s, n) != 0 : !(n == 1 && s[0] == '0'));
      return;
    case SL_DB_DATE:
    case SL_DB_DATETIME:
    case SL_DB_TIMESTAMPTZ:
      if (zero_date(s, n)) { /* MySQL's "zero date" is no date */
        sl_jw_null(w);
        return;
      }
      sl_dbval_text(w, c->type, s, n, "+00:00");
      return;
    case SL_DB_BINARY:
      sl_dbval_base64(w, &r->scratch, (const unsigned char *)s, n);
      return;
    default:
      sl_dbval_text(w, c->type, s, n, NULL);
  }
}

/* Full refreshes of keyed tables go in LIMIT chunks: ordered by the
 * primary key each chunk is a range of the clustered index. An incremental
 * read is ordered by its cursor, which may have no index: chunks would each
 * sort the rest of the table, so it is one streamed query, checkpointed as
 * it goes. */
static bool chunked(const sl_dbplan *p) { return p->unique && p->cursor < 0; }

static void build_query(reader *r) {
  size_t np;
  sl_dbplan_query(&r->plan, &r->sql, quote, lit, NULL, &np);
  if (chunked(&r->plan)) sl_buf_appendf(&r->sql, " LIMIT %zu", r->plan.chunk);
}

/* One query; *rows gets how many rows it returned. */
static sl_code read_chunk(reader *r, sl_read *rd, const sl_cstream *cs, uint64_t *rows, sl_err *err) {
  sl_dbplan *p = &r->plan;
  build_query(r);
  *rows = 0;
  if (!r->sql.data) return sl_err_set(err, SL_ENOMEM, "out of memory");
  if (mysql_real_query(r->m, r->sql.data, r->sql.len))
    return my_fail(r->m, err, "querying table %s", p->t->name);
  MYSQL_RES *res = mysql_use_result(r->m);
  if (!res) return my_fail(r->m, err, "querying table %s", p->t->name);
  sl_code rc = SL_EOK;
  MYSQL_ROW row;
  const char *kv[64];
  size_t kl[64];
  while ((row = mysql_fetch_row(res))) {
    unsigned long *len = mysql_fetch_lengths(res);
    for (size_t i = 0; i < p->nkey; i++) {
      kv[i] = row[p->nsel + i];
      kl[i] = len[p->nsel + i];
    }
    if ((rc = sl_dbplan_row(p, rd, cs, kv, kl))) break;
    sl_jw *w = sl_read_record_begin(rd);
    for (size_t i = 0; i < p->nsel; i++) {
      sl_jw_key_raw(w, p->qkeys[i], p->qlens[i]);
      put_value(r, w, &p->t->cols[p->sel[i]], row[i], len[i]);
    }
    if ((rc = sl_read_record_end(rd))) {
      sl_err_set(err, rc, "writing a record: %s", sl_strerror(rc));
      break;
    }
    ++*rows;
  }
  if (!rc && mysql_errno(r->m)) rc = my_fail(r->m, err, "reading table %s", p->t->name);
  mysql_free_result(res); /* reads and drops what is left after an error */
  return rc;
}

static sl_code read_all(reader *r, sl_read *rd, const sl_cstream *cs, sl_err *err) {
  sl_dbplan *p = &r->plan;
  if (p->nkey > 64) return sl_err_set(err, SL_ESOURCE, "table %s: more than 64 key columns", p->t->name);
  for (;;) {
    uint64_t rows;
    sl_code rc = read_chunk(r, rd, cs, &rows, err);
    if (rc) return rc;
    if (!chunked(p) || rows < p->chunk) break;
    if ((rc = sl_dbplan_advance(p))) return rc;
  }
  return sl_dbplan_finish(p, rd, cs);
}

sl_code my_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  reader r;
  memset(&r, 0, sizeof r);
  sl_buf_init(&r.sql, (size_t)1 << 24);
  sl_buf_init(&r.scratch, (size_t)1 << 31);
  const json_t *config = sl_read_config(rd);
  sl_code rc = my_connect(config, &r.m, err);
  if (!rc) rc = my_load_tables(r.m, config, cs->name, &r.tables, &r.ntables, err);
  if (!rc && !r.ntables)
    rc = sl_err_set(err, SL_ENOTFOUND, "table %s does not exist in database %s", cs->name, json_string_value(json_object_get(config, "database")));
  if (!rc && !r.tables[0].ncols)
    rc = sl_err_set(err, SL_ESOURCE, "cannot read the columns of table %s", cs->name);
  if (!rc) rc = sl_dbplan_init(&r.plan, &r.tables[0], rd, cs, err);
  if (!rc) rc = read_all(&r, rd, cs, err);
  sl_dbplan_dispose(&r.plan);
  for (size_t i = 0; i < r.ntables; i++) sl_dbtable_free(&r.tables[i]);
  free(r.tables);
  sl_buf_dispose(&r.sql);
  sl_buf_dispose(&r.scratch);
  if (r.m) mysql_close(r.m);
  return rc;
}
