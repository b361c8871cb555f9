/* source-sqlite: tables and views of a SQLite file.
 *
 * Discovery reads sqlite_schema and pragma_table_info; a column's type
 * follows SQLite's own affinity rules on its declared type. A stream is one
 * SELECT in key order (primary key; cursor first for incremental reads),
 * stepped row by row, so memory stays flat; checkpoints every chunk_rows
 * rows name the last key read (include/sluice/dbsrc.h). The file is opened
 * read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>

#include "sluice/dbsrc.h"
#include "sluice/sluice.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"SQLite Source Spec\","
    "\"type\":\"object\",\"required\":[\"path\"],\"additionalProperties\":true,\"properties\":{"
    "\"path\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Database file\",\"description\":"
    "\"Path of the SQLite database file (opened read-only)\",\"order\":0}," SL_DBSRC_FILTER_SPEC
    "}}";

static sl_code open_db(const json_t *config, sqlite3 **db, sl_err *err) {
  const char *path = json_string_value(json_object_get(config, "path"));
  if (!path || !*path) return sl_err_set(err, SL_ECONFIG, "config path: the SQLite file is required");
  int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(*db, 30000);
    /* Opening is lazy: make sure this is a database file now. */
    rc = sqlite3_exec(*db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return SL_EOK;
  }
  sl_err_set(err, SL_ECONFIG, "cannot open the SQLite database %s: %s", path,
             *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
  sqlite3_close(*db);
  *db = NULL;
  return SL_ECONFIG;
}

/* SQLite's affinity rules (https://sqlite.org/datatype3.html, 3.1) with the
 * common date, time, boolean, decimal and JSON spellings recognised first. */
static sl_dbtype map_type(const char *decl) {
  char u[64];
  size_t n = 0;
  for (; decl && decl[n] && n < sizeof u - 1; n++) u[n] = (char)(decl[n] >= 'a' && decl[n] <= 'z' ? decl[n] - 32 : decl[n]);
  u[n] = 0;
  if (strstr(u, "BOOL")) return SL_DB_BOOL;
  if (strstr(u, "INT")) return SL_DB_INT;
  if (strstr(u, "DATETIME") || strstr(u, "TIMESTAMP")) return SL_DB_DATETIME;
  if (strstr(u, "DATE")) return SL_DB_DATE;
  if (strstr(u, "TIME")) return SL_DB_TIME;
  if (strstr(u, "JSON")) return SL_DB_JSON;
  if (strstr(u, "CHAR") || strstr(u, "CLOB") || strstr(u, "TEXT")) return SL_DB_STRING;
  if (strstr(u, "BLOB")) return SL_DB_BINARY;
  if (strstr(u, "REAL") || strstr(u, "FLOA") || strstr(u, "DOUB")) return SL_DB_FLOAT;
  if (!u[0]) return SL_DB_STRING; /* no declared type: values shown as text */
  return SL_DB_DECIMAL;           /* NUMERIC affinity */
}

static sl_code load_table(sqlite3 *db, const char *name, bool is_view, sl_dbtable *t, sl_err *err) {
  memset(t, 0, sizeof *t);
  t->is_view = is_view;
  if (!(t->name = strdup(name))) return SL_ENOMEM;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
                         -1, &st, NULL))
    return sl_err_set(err, SL_ESOURCE, "table %s: reading its columns: %s", name, sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int pkpos[4096] = {0};
  size_t npk = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *cn = (const char *)sqlite3_column_text(st, 0);
    /* Any value may sit in any column: every column is nullable. */
    if (!cn || !sl_dbtable_add_col(t, cn, map_type((const char *)sqlite3_column_text(st, 1)), true)) {
      sqlite3_finalize(st);
      return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    int k = sqlite3_column_int(st, 3);
    if (k > 0 && k < 4096 && t->ncols < 4096) {
      pkpos[k] = (int)t->ncols;
      npk++;
    }
  }
  sqlite3_finalize(st);
  if (!t->ncols) return sl_err_set(err, SL_ENOTFOUND, "table %s does not exist in the database", name);
  if (npk && !(t->pk = calloc(npk, sizeof *t->pk))) return SL_ENOMEM;
  for (size_t k = 1; k <= npk && k < 4096; k++) t->pk[t->npk++] = pkpos[k] - 1;
  return SL_EOK;
}

/* Calls fn for every table and view the filters let through. */
static sl_code each_table(sqlite3 *db, const json_t *config,
                          sl_code (*fn)(void *ctx, sl_dbtable *t, sl_err *err), void *ctx,
                          sl_err *err) {
  sl_dbfilter f;
  sl_code rc = sl_dbfilter_init(&f, config, err);
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(db,
                                "SELECT name, type = 'view' FROM sqlite_schema WHERE type IN ('table','view') "
                                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                                -1, &st, NULL))
    rc = sl_err_set(err, SL_ESOURCE, "listing tables: %s", sqlite3_errmsg(db));
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (!sl_dbfilter_match(&f, name)) continue;
    sl_dbtable t;
    rc = load_table(db, name, sqlite3_column_int(st, 1), &t, err);
    if (!rc) rc = fn(ctx, &t, err);
    sl_dbtable_free(&t);
  }
  sqlite3_finalize(st);
  sl_dbfilter_dispose(&f);
  return rc;
}

static sl_code add_stream(void *ctx, sl_dbtable *t, sl_err *err) {
  json_t *s = sl_dbtable_stream(t);
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  json_array_append_new(ctx, s);
  return SL_EOK;
}

static sl_code discover(const json_t *config, json_t *streams, sl_err *err) {
  sqlite3 *db;
  sl_code rc = open_db(config, &db, err);
  if (rc) return rc;
  rc = each_table(db, config, add_stream, streams, err);
  sqlite3_close(db);
  return rc;
}

static sl_code check(const json_t *config, sl_err *err) {
  sqlite3 *db;
  sl_code rc = open_db(config, &db, err);
  sl_dbfilter f;
  if (!rc && !(rc = sl_dbfilter_init(&f, config, err))) sl_dbfilter_dispose(&f);
  sqlite3_close(db);
  return rc;
}

static void quote(sl_buf *b, const char *name) {
  sl_buf_putc(b, '"');
  for (const char *p = name; *p; p++) {
    if (*p == '"') sl_buf_putc(b, '"');
    sl_buf_putc(b, *p);
  }
  sl_buf_putc(b, '"');
}

typedef struct reader {
  sqlite3 *db;
  sl_dbplan plan;
  sl_buf sql, scratch;
  uint64_t *mismatch; /* per selected column: values not of the column's type, written null */
} reader;

/* One value by its storage class; a value the column's type cannot hold
 * is written null and counted. */
static void put_value(reader *r, sl_jw *w, sqlite3_stmt *st, int i, sl_dbtype t) {
  int sc = sqlite3_column_type(st, i);
  if (sc == SQLITE_NULL) {
    sl_jw_null(w);
    return;
  }
  switch (t) {
    case SL_DB_INT:
    case SL_DB_FLOAT:
    case SL_DB_DECIMAL:
      if (sc == SQLITE_INTEGER) sl_jw_int(w, sqlite3_column_int64(st, i));
      else if (sc == SQLITE_FLOAT && t != SL_DB_INT) sl_jw_double(w, sqlite3_column_double(st, i), false);
      else if (sc == SQLITE_FLOAT && sqlite3_column_double(st, i) == (double)sqlite3_column_int64(st, i))
        sl_jw_int(w, sqlite3_column_int64(st, i));
      else {
        sl_jw_null(w);
        r->mismatch[i]++;
      }
      return;
    case SL_DB_BOOL:
      if (sc == SQLITE_INTEGER || sc == SQLITE_FLOAT) sl_jw_bool(w, sqlite3_column_double(st, i) != 0);
      else {
        sl_jw_null(w);
        r->mismatch[i]++;
      }
      return;
    case SL_DB_BINARY:
      if (sc == SQLITE_BLOB) {
        const void *p = sqlite3_column_blob(st, i);
        sl_dbval_base64(w, &r->scratch, p, (size_t)sqlite3_column_bytes(st, i));
        return;
      }
      break;
    default:
      if (sc == SQLITE_BLOB) {
        /* A blob in a text column: its bytes when they are text, else base64. */
        const char *p = sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        if (sl_utf8_valid(p, n)) sl_jw_str(w, p, n);
        else sl_dbval_base64(w, &r->scratch, (const unsigned char *)p, n);
        return;
      }
      break;
  }
  const char *s = (const char *)sqlite3_column_text(st, i);
  sl_dbval_text(w, sc == SQLITE_TEXT ? t : SL_DB_STRING, s, (size_t)sqlite3_column_bytes(st, i), NULL);
}

static sl_code build_query(reader *r, const sl_cstream *cs, sqlite3_stmt **st, sl_err *err) {
  sl_dbplan *p = &r->plan;
  const sl_dbtable *t = p->t;
  sl_buf *q = &r->sql;
  int order[64 * 65 / 2];
  size_t np = 0;
  if (p->nkey > 64) return sl_err_set(err, SL_ESOURCE, "table %s: more than 64 key columns", t->name);
  sl_dbplan_query(p, q, quote, NULL, order, &np);
  if (sqlite3_prepare_v2(r->db, sl_buf_cstr(q), -1, st, NULL))
    return sl_err_set(err, SL_ESOURCE, "cannot query table %s: %s", t->name,
                      sqlite3_errmsg(r->db));
  for (size_t i = 0; i < np; i++) {
    json_t *v = json_array_get(p->last, (size_t)order[i]);
    if (json_is_integer(v)) sqlite3_bind_int64(*st, (int)i + 1, json_integer_value(v));
    else if (json_is_string(v)) sqlite3_bind_text(*st, (int)i + 1, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
    else if (json_is_real(v)) sqlite3_bind_double(*st, (int)i + 1, json_real_value(v));
    else sqlite3_bind_null(*st, (int)i + 1);
  }
  return SL_EOK;
}

static sl_code read_rows(reader *r, sl_read *rd, const sl_cstream *cs, sl_err *err) {
  sl_dbplan *p = &r->plan;
  sqlite3_stmt *st;
  sl_code rc = build_query(r, cs, &st, err);
  if (rc) return rc;
  const char *kv[64];
  size_t kl[64];
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    for (size_t i = 0; i < p->nkey; i++) {
      int c = (int)(p->nsel + i);
      kv[i] = sqlite3_column_type(st, c) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, c);
      kl[i] = (size_t)sqlite3_column_bytes(st, c);
    }
    if ((rc = sl_dbplan_row(p, rd, cs, kv, kl))) break;
    sl_jw *w = sl_read_record_begin(rd);
    for (size_t i = 0; i < p->nsel; i++) {
      sl_jw_key_raw(w, p->qkeys[i], p->qlens[i]);
      put_value(r, w, st, (int)i, p->t->cols[p->sel[i]].type);
    }
    if ((rc = sl_read_record_end(rd))) {
      sl_err_set(err, rc, "writing a record: %s", sl_strerror(rc));
      break;
    }
  }
  if (!rc && step != SQLITE_DONE)
    rc = sl_err_set(err, SL_ESOURCE, "reading table %s: %s", p->t->name, sqlite3_errmsg(r->db));
  sqlite3_finalize(st);
  if (!rc) rc = sl_dbplan_finish(p, rd, cs);
  for (size_t i = 0; !rc && i < p->nsel; i++)
    if (r->mismatch[i])
      sl_read_log(rd, "WARN", "stream %s: %llu value(s) of column \"%s\" did not fit its type and were read as null",
                  cs->name, (unsigned long long)r->mismatch[i], p->t->cols[p->sel[i]].name);
  return rc;
}

static sl_code read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  reader r;
  memset(&r, 0, sizeof r);
  sl_dbtable t;
  memset(&t, 0, sizeof t);
  sl_buf_init(&r.sql, (size_t)1 << 24);
  sl_buf_init(&r.scratch, (size_t)1 << 31);
  sl_code rc = open_db(sl_read_config(rd), &r.db, err);
  if (!rc) {
    sqlite3_stmt *st;
    bool view = false;
    if (sqlite3_prepare_v2(r.db, "SELECT type = 'view' FROM sqlite_schema WHERE name = ?1", -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, cs->name, -1, SQLITE_STATIC);
      if (sqlite3_step(st) == SQLITE_ROW) view = sqlite3_column_int(st, 0);
      sqlite3_finalize(st);
    }
    rc = load_table(r.db, cs->name, view, &t, err);
  }
  if (!rc) rc = sl_dbplan_init(&r.plan, &t, rd, cs, err);
  if (!rc && !(r.mismatch = calloc(r.plan.nsel, sizeof *r.mismatch))) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  if (!rc) rc = read_rows(&r, rd, cs, err);
  free(r.mismatch);
  sl_dbplan_dispose(&r.plan);
  sl_dbtable_free(&t);
  sl_buf_dispose(&r.sql);
  sl_buf_dispose(&r.scratch);
  sqlite3_close(r.db);
  return rc;
}

static const sl_source source_sqlite = {
    .name = "source-sqlite",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/source-sqlite",
    .check = check,
    .discover = discover,
    .read = read_stream,
};

int main(int argc, char **argv) { return sl_source_main(&source_sqlite, argc, argv); }
