/* destination-postgres: one typed table per stream in a PostgreSQL schema.
 *
 * Columns come from the stream's JSON schema through the shared typing
 * module (lib/typing.c); records are turned into binary COPY rows (write.c)
 * and streamed into the table with COPY FROM STDIN inside one transaction
 * per batch; flush ends the COPY, merges dedup batches (table.c) and
 * COMMITs, and only then does the library echo the states before it.
 * Overwrite and truncate refreshes load a stage table that replaces the
 * old rows when the stream's COMPLETE arrives. Values travel only inside
 * COPY data or as statement parameters; identifiers are quoted by libpq. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pg_dest.h"
#include "../source-postgres/pg_ssl_spec.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    "\"title\":\"Postgres Destination Spec\",\"type\":\"object\","
    "\"required\":[\"host\",\"port\",\"database\",\"schema\",\"username\"],"
    "\"additionalProperties\":true,\"properties\":{"
    "\"host\":{\"type\":\"string\",\"title\":\"Host\",\"order\":0,"
    "\"description\":\"Hostname or IP address of the PostgreSQL server.\"},"
    "\"port\":{\"type\":\"integer\",\"title\":\"Port\",\"order\":1,\"minimum\":1,\"maximum\":65535,"
    "\"default\":5432,\"examples\":[5432]},"
    "\"database\":{\"type\":\"string\",\"title\":\"Database\",\"order\":2},"
    "\"schema\":{\"type\":\"string\",\"title\":\"Default schema\",\"order\":3,\"default\":\"public\","
    "\"description\":\"Schema for streams without a namespace (a stream's namespace names its schema). "
    "Created if missing.\",\"examples\":[\"public\"]},"
    "\"username\":{\"type\":\"string\",\"title\":\"User\",\"order\":4},"
    "\"password\":{\"type\":\"string\",\"title\":\"Password\",\"order\":5,\"airbyte_secret\":true},"
    "\"ssl_mode\":{\"type\":\"object\",\"title\":\"SSL mode\",\"order\":6,\"description\":\"libpq "
    "sslmode (default: prefer)\",\"oneOf\":["
    PG_SSL_MODE_OPTIONS "]},"
    "\"connect_timeout\":{\"type\":\"integer\",\"title\":\"Connect timeout (s)\",\"order\":7,"
    "\"minimum\":1,\"maximum\":600,\"default\":10}}}";

const char *const pgd_meta_names[PGD_N_META] = {"_airbyte_raw_id", "_airbyte_extracted_at",
                                                "_airbyte_meta", "_airbyte_generation_id"};

static const sl_name_rules pg_names = {.max_len = 63, .lower = true};

/* ---- connection ---- */

static const char *cfg_str(const json_t *c, const char *k, const char *def) {
  const char *v = json_string_value(json_object_get(c, k));
  return v ? v : def;
}

static sl_code pg_connect(const json_t *config, PGconn **out, sl_err *err) {
  char port[16], timeout[16];
  json_t *p = json_object_get(config, "port");
  snprintf(port, sizeof port, "%lld", json_is_integer(p) ? (long long)json_integer_value(p) : 5432LL);
  json_t *t = json_object_get(config, "connect_timeout");
  snprintf(timeout, sizeof timeout, "%lld", json_is_integer(t) ? (long long)json_integer_value(t) : 10LL);
  const json_t *ssl = json_object_get(config, "ssl_mode");
  const char *sslmode = json_is_object(ssl) ? cfg_str(ssl, "mode", "prefer") : json_string_value(ssl);
  const char *host = cfg_str(config, "host", ""), *db = cfg_str(config, "database", "");
  const char *keys[] = {"host", "port", "dbname", "user", "password", "sslmode", "connect_timeout",
                        "application_name", "client_encoding", "options", NULL};
  const char *vals[] = {host, port, db, cfg_str(config, "username", ""),
                        cfg_str(config, "password", NULL), sslmode ? sslmode : "prefer", timeout,
                        "sluice-destination-postgres", "UTF8",
                        "-c TimeZone=UTC -c DateStyle=ISO,YMD -c client_min_messages=warning", NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 0);
  if (PQstatus(c) != CONNECTION_OK) {
    char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) n--;
    sl_err_set(err, SL_ECONFIG, "cannot connect to PostgreSQL database \"%s\" at %s:%s: %.*s", db,
               host, port, (int)n, m);
    PQfinish(c);
    return SL_ECONFIG;
  }
  *out = c;
  return SL_EOK;
}

/* Errors a retry can get past: a lost connection, a server shutting down
 * or restarting (SQLSTATE classes 08 and 57P), resources running out (53),
 * serialisation failures and deadlocks (40001, 40P01). */
sl_code pgd_error_code(PGconn *c, const PGresult *r) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (PQstatus(c) == CONNECTION_BAD || !st) return PQstatus(c) == CONNECTION_BAD ? SL_ETRANSIENT : SL_EDESTINATION;
  if (!strncmp(st, "08", 2) || !strncmp(st, "57P", 3) || !strncmp(st, "53", 2) || !strcmp(st, "40001") ||
      !strcmp(st, "40P01"))
    return SL_ETRANSIENT;
  return SL_EDESTINATION;
}

sl_code pgd_error(pdb *d, const PGresult *r, const char *what, sl_err *err) {
  const char *m = r ? PQresultErrorMessage(r) : "";
  if (!m || !*m) m = PQerrorMessage(d->conn);
  size_t n = strlen(m);
  while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) n--;
  return sl_err_set(err, pgd_error_code(d->conn, r), "PostgreSQL: %s: %.*s", what, (int)n, m);
}

sl_code pgd_exec(pdb *d, const char *sql, sl_err *err) {
  PGresult *r = PQexec(d->conn, sql);
  ExecStatusType st = PQresultStatus(r);
  sl_code rc = SL_EOK;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    char what[256];
    snprintf(what, sizeof what, "while running %.200s", sql);
    rc = pgd_error(d, r, what, err);
  }
  PQclear(r);
  return rc;
}

/* A statement with text parameters; *out is the result (PQclear it). */
sl_code pgd_query(pdb *d, const char *sql, int n, const char *const *params, PGresult **out,
                  sl_err *err) {
  PGresult *r = PQexecParams(d->conn, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    char what[256];
    snprintf(what, sizeof what, "while running %.200s", sql);
    sl_code rc = pgd_error(d, r, what, err);
    PQclear(r);
    return rc;
  }
  *out = r;
  return SL_EOK;
}

void pgd_ident(pdb *d, sl_buf *b, const char *name) {
  char *q = PQescapeIdentifier(d->conn, name, strlen(name));
  if (q) {
    sl_buf_append(b, q, strlen(q));
    PQfreemem(q);
  } else { /* only on allocation failure: make the statement fail visibly */
    sl_buf_append(b, "\"\"", 2);
  }
}

sl_code pgd_begin(pdb *d, sl_err *err) {
  sl_code rc = pgd_exec(d, "BEGIN", err);
  if (!rc) d->in_tx = true;
  return rc;
}

/* ---- test hook ----
 * SLUICE_PGDST_TEST_PAUSE=<point>:<n> with SLUICE_PGDST_TEST_DIR=<dir>: at
 * the n-th time <point> ("record": after a record is written, "commit":
 * before a COMMIT) is reached, create <dir>/paused and wait (at most 120 s)
 * for <dir>/resume. Lets the fault tests restart the server or kill -9 the
 * process at an exact point. Never set outside tests. */
void pgd_test_pause(const char *point, uint64_t n) {
  static const char *spec_env;
  static int init;
  if (!init) {
    spec_env = getenv("SLUICE_PGDST_TEST_PAUSE");
    init = 1;
  }
  if (!spec_env) return;
  size_t pl = strlen(point);
  if (strncmp(spec_env, point, pl) || spec_env[pl] != ':' ||
      strtoull(spec_env + pl + 1, NULL, 10) != n)
    return;
  const char *dir = getenv("SLUICE_PGDST_TEST_DIR");
  if (!dir) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/paused", dir);
  FILE *f = fopen(path, "w");
  if (f) fclose(f);
  snprintf(path, sizeof path, "%s/resume", dir);
  struct stat sb;
  for (int i = 0; i < 2400 && stat(path, &sb) != 0; i++) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* ---- callbacks ---- */

static sl_code pg_check(const json_t *config, sl_err *err) {
  PGconn *c;
  sl_code rc = pg_connect(config, &c, err);
  if (rc) return rc;
  pdb d = {.conn = c};
  sl_buf q;
  sl_buf_init(&q, 1 << 16);
  char schema[64];
  const char *s = cfg_str(config, "schema", "public");
  sl_col_name_normalize(s, strlen(s), &pg_names, schema);
  /* DDL is transactional: prove the rights, then leave nothing behind. */
  sl_buf_appendf(&q, "BEGIN; CREATE SCHEMA IF NOT EXISTS ");
  pgd_ident(&d, &q, schema);
  sl_buf_appendf(&q, "; CREATE TABLE ");
  pgd_ident(&d, &q, schema);
  sl_buf_appendf(&q, "._airbyte_connection_test (x int); INSERT INTO ");
  pgd_ident(&d, &q, schema);
  sl_buf_appendf(&q, "._airbyte_connection_test VALUES (1)");
  rc = pgd_exec(&d, sl_buf_cstr(&q), err);
  if (rc) {
    err->code = rc = SL_ECONFIG;
    sl_err_wrap(err, "cannot create tables in schema \"%s\"", schema);
  }
  PQclear(PQexec(c, "ROLLBACK"));
  sl_buf_dispose(&q);
  PQfinish(c);
  return rc;
}

static void pg_close(void *h, bool ok);

static char *qualified(pdb *d, const char *schema, const char *table) {
  sl_buf b;
  sl_buf_init(&b, 1 << 12);
  pgd_ident(d, &b, schema);
  sl_buf_putc(&b, '.');
  pgd_ident(d, &b, table);
  char *s = strndup(b.data, b.len);
  sl_buf_dispose(&b);
  return s;
}

/* "_airbyte_tmp_<table>", cut with a hash of the table name when long. */
static char *derived_name(const char *prefix, const char *table) {
  char out[64];
  size_t pl = strlen(prefix), tl = strlen(table);
  if (pl + tl <= 63) {
    snprintf(out, sizeof out, "%s%s", prefix, table);
  } else {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < tl; i++) h = (h ^ (unsigned char)table[i]) * 16777619u;
    size_t keep = 63 - pl - 9;
    while (keep && ((unsigned char)table[keep] & 0xC0) == 0x80) keep--;
    snprintf(out, sizeof out, "%s%.*s_%08x", prefix, (int)keep, table, h);
  }
  return strdup(out);
}

static sl_code open_impl(pdb *d, const json_t *config, const sl_catalog *cat, sl_err *err) {
  sl_buf_init(&d->scratch, (size_t)1 << 30);
  sl_buf_init(&d->meta, (size_t)1 << 28);
  sl_buf_init(&d->fields, (size_t)1 << 31);
  sl_buf_init(&d->sql, (size_t)1 << 24);
  d->lim = (sl_typing_limits){.max_string = (size_t)256 << 20, .max_json = (size_t)255 << 20};
  d->n = cat->n;
  d->streams = calloc(cat->n ? cat->n : 1, sizeof *d->streams);
  if (!d->streams) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_rng_seed(&d->rng);
  sl_code rc = pg_connect(config, &d->conn, err);
  if (rc) return rc;
  static char schema[64];
  const char *cs = cfg_str(config, "schema", "public");
  sl_col_name_normalize(cs, strlen(cs), &pg_names, schema);
  d->schema = schema;
  for (size_t i = 0; i < cat->n; i++) {
    pstream *s = &d->streams[i];
    const sl_cstream *c = &cat->streams[i];
    char buf[64];
    sl_col_name_normalize(c->name, strlen(c->name), &pg_names, buf);
    if (c->ns && *c->ns) {
      char ns[64];
      sl_col_name_normalize(c->ns, strlen(c->ns), &pg_names, ns);
      if (!(s->schema = strdup(ns))) return SL_ENOMEM;
    } else if (!(s->schema = strdup(schema))) {
      return SL_ENOMEM;
    }
    if (!(s->table = strdup(buf)) || !(s->stage = derived_name("_airbyte_tmp_", buf)) ||
        !(s->pk_index = derived_name("_airbyte_pk_", buf)) ||
        asprintf(&s->batch, "_sl_batch_%zu", i) < 0 || !(s->qtable = qualified(d, s->schema, s->table)) ||
        !(s->qstage = qualified(d, s->schema, s->stage)))
      return sl_err_set(err, SL_ENOMEM, "out of memory");
    for (size_t j = 0; j < i; j++)
      if (!strcmp(d->streams[j].qtable, s->qtable))
        return sl_err_set(err, SL_ECATALOG, "streams \"%s\" and \"%s\" would both be stored in table %s",
                          cat->streams[j].name, c->name, s->qtable);
  }
  return SL_EOK;
}

static sl_code pg_open(const json_t *config, const sl_catalog *cat, void **handle, sl_err *err) {
  pdb *d = calloc(1, sizeof *d);
  *handle = NULL;
  if (!d) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = open_impl(d, config, cat, err);
  if (rc) {
    if (!err->msg[0]) sl_err_set(err, rc, "%s", sl_strerror(rc));
    pg_close(d, false);
    return rc;
  }
  *handle = d;
  return SL_EOK;
}

static sl_code pg_stream_open(void *h, sl_dstream *ds, sl_err *err) {
  pdb *d = h;
  const sl_cstream *cs = ds->cs;
  pstream *s = &d->streams[cs->index];
  s->ds = ds;
  ds->user = s;
  s->dedup = cs->dest_mode == SL_DEST_APPEND_DEDUP;
  s->truncate = cs->has_generation && cs->minimum_generation_id > 0;
  s->staged = cs->dest_mode == SL_DEST_OVERWRITE || s->truncate;
  if ((s->has_gen = cs->has_generation_id)) s->gen = cs->generation_id;
  if ((s->has_sync = cs->has_sync_id)) s->sync_id = cs->sync_id;
  sl_buf_init(&s->plain.rows, (size_t)1 << 30);
  sl_buf_init(&s->full.rows, (size_t)1 << 30);
  s->plain.s = s->full.s = s;
  if (s->has_sync ? asprintf(&s->meta_default, "{\"changes\":[],\"sync_id\":%lld}", (long long)s->sync_id) < 0
                  : !(s->meta_default = strdup("{\"changes\":[],\"sync_id\":null}")))
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = sl_col_set_build(&s->cols, cs->json_schema, &pg_names, pgd_meta_names, PGD_N_META,
                                "_airbyte_data", cs->name, err);
  if (rc) return rc;
  if (s->cols.n + PGD_N_META > 1600)
    return sl_err_set(err, SL_ECATALOG, "the schema has %zu properties; a PostgreSQL table holds at "
                      "most 1600 columns", s->cols.n);
  s->vals = calloc(s->cols.n, sizeof *s->vals);
  s->seen = calloc(s->cols.n, sizeof *s->seen);
  s->changes = calloc(s->cols.n, sizeof *s->changes);
  if (!s->vals || !s->seen || !s->changes) return sl_err_set(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < s->cols.n; i++)
    if (strncmp(s->cols.cols[i].name, s->cols.cols[i].prop, s->cols.cols[i].prop_len + 1))
      sl_dest_log("INFO", "stream \"%s\": property \"%s\" is stored in column \"%s\"", cs->name,
                  s->cols.cols[i].prop, s->cols.cols[i].name);
  return pgd_stream_setup(d, s, err);
}

static sl_code pg_flush(void *h, sl_err *err) {
  pdb *d = h;
  if (!d->in_tx) return SL_EOK;
  sl_code rc = pgd_copy_all(d, err);
  for (size_t i = 0; !rc && i < d->n; i++)
    if (d->streams[i].dedup && d->streams[i].batch_rows) rc = pgd_merge_batch(d, &d->streams[i], err);
  if (rc) return rc;
  pgd_test_pause("commit", ++d->commits);
  if ((rc = pgd_exec(d, "COMMIT", err))) return rc;
  d->in_tx = false;
  return SL_EOK;
}

static sl_code pg_stream_complete(void *h, sl_dstream *ds, sl_err *err) {
  pstream *s = ds->user;
  if (!s->staged) return SL_EOK;
  sl_code rc = pg_flush(h, err);
  return rc ? rc : pgd_swap(h, s, err);
}

/* A failed run rolls back its open transaction: the tables keep the last
 * commit, which is what the last echoed state describes. */
static void pg_close(void *h, bool ok) {
  pdb *d = h;
  if (!d) return;
  if (d->conn && PQstatus(d->conn) == CONNECTION_OK) {
    if (d->copying) pgd_copy_end(d, false, NULL);
    if (d->in_tx) PQclear(PQexec(d->conn, "ROLLBACK"));
  }
  for (size_t i = 0; d->streams && i < d->n; i++) pgd_stream_free(&d->streams[i]);
  PQfinish(d->conn);
  sl_buf_dispose(&d->scratch);
  sl_buf_dispose(&d->meta);
  sl_buf_dispose(&d->fields);
  sl_buf_dispose(&d->sql);
  free(d->streams);
  free(d);
  (void)ok;
}

static const sl_destination dest_pg = {
    .migrate_config = pg_ssl_migrate,
    .name = "destination-postgres",
    .version = "0.2.0",
    .spec_json = spec,
    .documentation_url = NULL,
    .dest_modes = SL_DEST_APPEND | SL_DEST_OVERWRITE | SL_DEST_APPEND_DEDUP,
    .check = pg_check,
    .open = pg_open,
    .stream_open = pg_stream_open,
    .write = pgd_write,
    .flush = pg_flush,
    .stream_complete = pg_stream_complete,
    .close = pg_close,
    .save_state = pgd_save_state,
    .load_states = pgd_load_states,
};

int main(int argc, char **argv) { return sl_destination_main(&dest_pg, argc, argv); }
