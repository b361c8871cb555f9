/* The PostgreSQL backend of the store (libpq): the same SQL as SQLite, with
 * `?` placeholders numbered for PQexecParams and result columns typed from
 * their OIDs. Several `sluice server` processes can share one database. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* A connection and whether a transaction is open on it: a connection lost
 * between transactions is opened again (a server left running outlives a
 * restart of PostgreSQL); one lost inside a transaction is an error until
 * the caller's ROLLBACK. */
typedef struct pgdb {
  PGconn *c;
  bool in_tx;
} pgdb;

/* `?` -> `$n`, outside quoted strings. */
static char *number_params(const char *sql) {
  sl_buf b;
  sl_buf_init(&b, SIZE_MAX / 4);
  int n = 0;
  bool quoted = false;
  for (const char *p = sql; *p; p++) {
    if (*p == '\'') quoted = !quoted;
    if (*p == '?' && !quoted) sl_buf_appendf(&b, "$%d", ++n);
    else sl_buf_putc(&b, *p);
  }
  sl_buf_putc(&b, 0);
  return b.data;
}

static json_t *value(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return json_null();
  const char *v = PQgetvalue(r, row, col);
  switch (PQftype(r, col)) {
    case 20: case 21: case 23: return json_integer(strtoll(v, NULL, 10)); /* int8, int2, int4 */
    case 700: case 701: case 1700: return json_real(strtod(v, NULL));     /* float4, float8, numeric */
    case 16: return json_boolean(*v == 't');
    default: return json_string(v);
  }
}

static sl_code pg_error(PGconn *c, const PGresult *r, const char *sql, sl_err *err) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  char one[512];
  snprintf(one, sizeof one, "%s", msg ? msg : "");
  one[strcspn(one, "\n")] = 0;
  if (PQstatus(c) != CONNECTION_OK)
    return sl_err_set(err, SL_ETRANSIENT, "the store (PostgreSQL %s:%s) is unreachable: %s", PQhost(c), PQport(c), one);
  if (state && !strcmp(state, "23505")) return sl_err_set(err, SL_ECONFIG, "UNIQUE constraint failed: %s", one);
  if (state && !strncmp(state, "23", 2)) return sl_err_set(err, SL_ECONFIG, "%s", one);
  if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03")))
    return sl_err_set(err, SL_ETRANSIENT, "the store is busy (%s): %s", state, one);
  return sl_err_set(err, SL_EIO, "store (PostgreSQL): %s (in: %.80s)", one, sql);
}

/* Before a statement: a connection the server closed (PQconsumeInput reads
 * its goodbye) is reset when no transaction was open on it. *skip: a
 * ROLLBACK of a transaction that went with the old connection. */
static sl_code pg_ready(pgdb *d, const char *sql, bool *skip, sl_err *err) {
  *skip = false;
  /* Twice: the first read may take the server's goodbye message, the second its end of file. */
  if (PQstatus(d->c) == CONNECTION_OK && PQconsumeInput(d->c) && PQconsumeInput(d->c) && PQstatus(d->c) == CONNECTION_OK) return SL_EOK;
  bool rollback = !strcmp(sql, "ROLLBACK");
  if (d->in_tx && !rollback)
    return sl_err_set(err, SL_ETRANSIENT, "the store (PostgreSQL %s:%s) was lost in the middle of a transaction", PQhost(d->c), PQport(d->c));
  d->in_tx = false;
  PQreset(d->c);
  if (rollback) {
    *skip = true;
    return SL_EOK;
  }
  if (PQstatus(d->c) != CONNECTION_OK) return pg_error(d->c, NULL, sql, err);
  PQclear(PQexec(d->c, "SET client_min_messages = warning"));
  return SL_EOK;
}

/* After a statement: BEGIN opens a transaction, COMMIT and ROLLBACK end it
 * (failed or not). */
static void pg_track(pgdb *d, const char *sql, bool ok) {
  if (!strncmp(sql, "BEGIN", 5)) d->in_tx = ok;
  else if (!strcmp(sql, "COMMIT") || !strcmp(sql, "ROLLBACK")) d->in_tx = false;
}

static sl_code pg_exec(void *h, const char *sql, int np, const char *const *p, json_t **rows, sl_err *err) {
  pgdb *d = h;
  PGconn *c = d->c;
  PGresult *r;
  bool skip;
  sl_code rc0 = pg_ready(d, sql, &skip, err);
  if (rc0 || skip) return rc0;
  if (np == 0) {
    r = PQexec(c, sql); /* may hold several statements (migrations) */
  } else {
    char *q = number_params(sql);
    r = PQexecParams(c, q, np, NULL, p, NULL, NULL, 0);
    free(q);
  }
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  pg_track(d, sql, st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    sl_code rc = pg_error(c, r, sql, err);
    PQclear(r);
    return rc;
  }
  if (rows) {
    *rows = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
      json_t *row = json_object();
      for (int k = 0; k < PQnfields(r); k++) json_object_set_new(row, PQfname(r, k), value(r, i, k));
      json_array_append_new(*rows, row);
    }
  }
  PQclear(r);
  return SL_EOK;
}

/* The API's lists: the result's text values straight into JSON. */
static sl_code pg_exec_json(void *h, const char *sql, int np, const char *const *p, sl_buf *out, sl_err *err) {
  pgdb *d = h;
  PGconn *c = d->c;
  bool skip;
  sl_code rc0 = pg_ready(d, sql, &skip, err);
  if (rc0 || skip) return rc0;
  char *q = number_params(sql);
  PGresult *r = PQexecParams(c, q, np, NULL, p, NULL, NULL, 0);
  free(q);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
    sl_code rc = pg_error(c, r, sql, err);
    PQclear(r);
    return rc;
  }
  sl_jw w;
  sl_jw_init(&w, out);
  sl_jw_arr_open(&w);
  for (int i = 0; i < PQntuples(r); i++) {
    sl_jw_obj_open(&w);
    for (int k = 0; k < PQnfields(r); k++) {
      sl_jw_keyz(&w, PQfname(r, k));
      const char *v = PQgetvalue(r, i, k);
      if (PQgetisnull(r, i, k)) sl_jw_null(&w);
      else switch (PQftype(r, k)) {
          case 20: case 21: case 23: sl_jw_int(&w, strtoll(v, NULL, 10)); break;
          case 700: case 701: case 1700: sl_jw_double(&w, strtod(v, NULL), false); break;
          case 16: sl_jw_bool(&w, *v == 't'); break;
          default: sl_jw_str(&w, v, (size_t)PQgetlength(r, i, k));
        }
    }
    sl_jw_obj_close(&w);
  }
  sl_jw_arr_close(&w);
  PQclear(r);
  return w.rc ? sl_err_set(err, w.rc, "store: a result of %zu bytes is too large", out->len) : SL_EOK;
}

static void pg_close(void *h) {
  pgdb *d = h;
  if (d) PQfinish(d->c);
  free(d);
}

static const sl_store_backend pg = {"postgresql", "BIGSERIAL PRIMARY KEY", pg_exec, pg_close,
                                    "LOCK TABLE schema_migrations IN EXCLUSIVE MODE", " FOR UPDATE SKIP LOCKED", pg_exec_json};

sl_code sl_store_pg_open(const char *url, void **db, const sl_store_backend **be, sl_err *err) {
  PGconn *c = PQconnectdb(url);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    char one[512];
    snprintf(one, sizeof one, "%s", c ? PQerrorMessage(c) : "out of memory");
    one[strcspn(one, "\n")] = 0;
    PQfinish(c);
    /* Never echo the URL: it may hold a password. */
    return sl_err_set(err, SL_ETRANSIENT, "cannot reach the PostgreSQL store: %s", one);
  }
  pgdb *d = calloc(1, sizeof *d);
  if (!d) {
    PQfinish(c);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  d->c = c;
  sl_code rc = pg_exec(d, "SET client_min_messages = warning", 0, NULL, NULL, err);
  if (rc) {
    pg_close(d);
    return rc;
  }
  *db = d;
  *be = &pg;
  return SL_EOK;
}
