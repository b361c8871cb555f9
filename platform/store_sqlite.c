/* The SQLite backend of the store: WAL, a busy timeout, and a clear error
 * when another process holds the lock past it. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* How long to wait for another process's lock (SLUICE_STORE_BUSY_MS). */
static int store_busy_ms(void) {
  const char *e = getenv("SLUICE_STORE_BUSY_MS");
  return e && *e ? atoi(e) : STORE_BUSY_MS;
}

static json_t *column(sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL: return json_null();
    default: return json_stringn((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
  }
}

static sl_code db_error(sqlite3 *db, int rc, const char *sql, sl_err *err) {
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return sl_err_set(err, SL_ETRANSIENT, "the store %s is locked by another process (waited %d ms): %s",
                      sqlite3_db_filename(db, "main"), store_busy_ms(), sqlite3_errmsg(db));
  if (rc == SQLITE_CONSTRAINT) return sl_err_set(err, SL_ECONFIG, "%s", sqlite3_errmsg(db));
  return sl_err_set(err, SL_EIO, "store %s: %s (in: %.80s)", sqlite3_db_filename(db, "main"), sqlite3_errmsg(db), sql);
}

static sl_code lite_exec(void *h, const char *sql, int np, const char *const *p, json_t **rows, sl_err *err) {
  sqlite3 *db = h;
  sqlite3_stmt *st = NULL;
  const char *tail = sql;
  if (rows) *rows = json_array();
  /* Several statements (migrations) run one after the other; parameters
   * bind to the single statement of ordinary queries. */
  while (tail && *tail) {
    int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) return db_error(db, rc, sql, err);
    if (!st) break; /* trailing whitespace */
    for (int i = 0; i < np && i < sqlite3_bind_parameter_count(st); i++)
      p[i] ? sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (!rows) continue;
      json_t *row = json_object();
      for (int i = 0; i < sqlite3_column_count(st); i++) json_object_set_new(row, sqlite3_column_name(st, i), column(st, i));
      json_array_append_new(*rows, row);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_error(db, rc, sql, err);
  }
  return SL_EOK;
}

/* The API's lists: each row goes from SQLite's columns straight to JSON text. */
static sl_code lite_exec_json(void *h, const char *sql, int np, const char *const *p, sl_buf *out, sl_err *err) {
  sqlite3 *db = h;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK || !st) return db_error(db, rc, sql, err);
  for (int i = 0; i < np && i < sqlite3_bind_parameter_count(st); i++)
    p[i] ? sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC) : sqlite3_bind_null(st, i + 1);
  /* The keys, quoted once: "\"name\":" for every column. */
  int nc = sqlite3_column_count(st);
  sl_buf keys;
  size_t *koff = calloc((size_t)nc + 1, sizeof *koff);
  sl_buf_init(&keys, 1u << 20);
  for (int i = 0; i < nc && koff; i++) {
    const char *name = sqlite3_column_name(st, i);
    koff[i] = keys.len;
    sl_json_escape(&keys, name, strlen(name));
    sl_buf_putc(&keys, ':');
  }
  if (koff) koff[nc] = keys.len;
  sl_jw w;
  sl_jw_init(&w, out);
  if (!koff) w.rc = SL_ENOMEM;
  sl_jw_arr_open(&w);
  while (!w.rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    sl_jw_obj_open(&w);
    for (int i = 0; i < nc; i++) {
      sl_jw_key_raw(&w, keys.data + koff[i], koff[i + 1] - koff[i]);
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: sl_jw_int(&w, sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: sl_jw_double(&w, sqlite3_column_double(st, i), false); break;
        case SQLITE_NULL: sl_jw_null(&w); break;
        default: sl_jw_str(&w, (const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
      }
    }
    sl_jw_obj_close(&w);
  }
  sqlite3_finalize(st);
  free(koff);
  sl_buf_dispose(&keys);
  if (!w.rc && rc != SQLITE_DONE) return db_error(db, rc, sql, err);
  sl_jw_arr_close(&w);
  return w.rc ? sl_err_set(err, w.rc, "store: a result of %zu bytes is too large", out->len) : SL_EOK;
}

static void lite_close(void *h) { sqlite3_close(h); }

static const sl_store_backend lite = {"sqlite", "INTEGER PRIMARY KEY", lite_exec, lite_close, NULL, "", lite_exec_json};

sl_code sl_store_sqlite_open(const char *path, void **db, const sl_store_backend **be, sl_err *err) {
  sqlite3 *h = NULL;
  /* NOMUTEX: a connection is only ever used by one thread (the API's
   * threads and the job's heartbeat each open their own), so SQLite's
   * per-call locking is pure cost (a fifth of a list request's CPU). */
  if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    sl_err_set(err, SL_EIO, "cannot open the store %s: %s", path, h ? sqlite3_errmsg(h) : "out of memory");
    sqlite3_close(h);
    return err->code;
  }
  sqlite3_busy_timeout(h, store_busy_ms());
  sl_code rc = lite_exec(h, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;", 0, NULL, NULL, err);
  if (rc) {
    sqlite3_close(h);
    return sl_err_wrap(err, "opening the store");
  }
  *db = h;
  *be = &lite;
  return SL_EOK;
}
