/* The store: opening, versioned migrations, query helpers and committed
 * state per connection and stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/fsutil.h"
#include "store_int.h"

/* Migrations, in order; never edited once released, only appended. "@ID@"
 * becomes the backend's auto-increment primary key. Times are Unix ms. */
static const char *const migrations[] = {
    /* 1: the workspace */
    "CREATE TABLE actors (id @ID@, kind TEXT NOT NULL CHECK (kind IN ('source','destination')),"
    " name TEXT NOT NULL, connector TEXT NOT NULL, config TEXT NOT NULL, spec TEXT,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (kind, name));"
    "CREATE TABLE connections (id @ID@, name TEXT NOT NULL UNIQUE,"
    " source_id BIGINT NOT NULL REFERENCES actors (id), destination_id BIGINT NOT NULL REFERENCES actors (id),"
    " streams TEXT, catalog TEXT, schedule TEXT, namespace_format TEXT, stream_prefix TEXT,"
    " schema_policy TEXT NOT NULL DEFAULT 'propagate_columns', status TEXT NOT NULL DEFAULT 'active',"
    " version BIGINT NOT NULL DEFAULT 1, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE TABLE jobs (id @ID@, connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL, status TEXT NOT NULL, owner TEXT, lease_until BIGINT,"
    " created_at BIGINT NOT NULL, started_at BIGINT, finished_at BIGINT,"
    " failure_type TEXT, failure_reason TEXT);"
    "CREATE INDEX jobs_connection ON jobs (connection_id, id);"
    "CREATE TABLE attempts (id @ID@, job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL, status TEXT NOT NULL, started_at BIGINT NOT NULL, finished_at BIGINT,"
    " failure_type TEXT, failure_reason TEXT, states_committed BIGINT, log_path TEXT, UNIQUE (job_id, number));"
    "CREATE TABLE stream_stats (attempt_id BIGINT NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,"
    " namespace TEXT NOT NULL DEFAULT '', stream TEXT NOT NULL, emitted BIGINT NOT NULL DEFAULT 0,"
    " bytes BIGINT NOT NULL DEFAULT 0, committed BIGINT NOT NULL DEFAULT 0, rejected BIGINT NOT NULL DEFAULT 0,"
    " status TEXT, duration_ms BIGINT, PRIMARY KEY (attempt_id, namespace, stream));"
    "CREATE TABLE state (connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,"
    " namespace TEXT NOT NULL DEFAULT '', stream TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL, PRIMARY KEY (connection_id, namespace, stream));"
    "CREATE TABLE catalogs (id @ID@, source_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL, catalog TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (source_id, version));"
    "CREATE TABLE generations (connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,"
    " namespace TEXT NOT NULL DEFAULT '', stream TEXT NOT NULL, generation BIGINT NOT NULL,"
    " PRIMARY KEY (connection_id, namespace, stream));",
    /* 2: schema changes seen before syncs */
    "ALTER TABLE connections ADD COLUMN catalog_version BIGINT;"
    "CREATE TABLE schema_changes (id @ID@, connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,"
    " job_id BIGINT, from_version BIGINT, to_version BIGINT NOT NULL, diff TEXT NOT NULL, breaking INTEGER NOT NULL,"
    " action TEXT NOT NULL, created_at BIGINT NOT NULL);",
    /* 3: a sync asked for through the API, run by the server */
    "ALTER TABLE connections ADD COLUMN run_requested BIGINT;",
    /* 4: `sluice job cancel` */
    "ALTER TABLE jobs ADD COLUMN cancel_requested BIGINT;",
    /* 5: a refresh or clear asked for and not yet completed by a job
     * ('truncate', 'merge' or 'clear'); generations counts up per stream */
    "ALTER TABLE generations ADD COLUMN pending TEXT;",
    /* 6: compare-and-set edits of sources and destinations */
    "ALTER TABLE actors ADD COLUMN version BIGINT NOT NULL DEFAULT 1;",
    /* 7: refresh and clear requests (REST), kept until a server's job takes
     * them; claimed_until: a claim not followed up in time is free again */
    "CREATE TABLE requests (id @ID@, connection_id BIGINT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,"
    " verb TEXT NOT NULL, mode TEXT, streams TEXT, created_at BIGINT NOT NULL, claimed_by TEXT, claimed_until BIGINT);"
    "CREATE INDEX requests_connection ON requests (connection_id, id);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

const char *sl_store_i64(char *buf, int64_t v) {
  snprintf(buf, 24, "%lld", (long long)v);
  return buf;
}

int64_t sl_store_int(const json_t *row, const char *col) {
  json_t *v = json_object_get(row, col);
  if (json_is_integer(v)) return json_integer_value(v);
  if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
  return 0;
}

const char *sl_store_str(const json_t *row, const char *col) { return json_string_value(json_object_get(row, col)); }

sl_code sl_store_vexec(sl_store *s, json_t **rows, sl_err *err, const char *sql, int np, va_list ap) {
  const char *p[32];
  if (np > 32) return sl_err_set(err, SL_EINTERNAL, "store: too many parameters");
  for (int i = 0; i < np; i++) p[i] = va_arg(ap, const char *);
  if (rows) *rows = NULL;
  sl_code rc = s->be->exec(s->db, sql, np, p, rows, err);
  if (rc && rows) {
    json_decref(*rows);
    *rows = NULL;
  }
  return rc;
}

sl_code sl_store_exec(sl_store *s, json_t **rows, sl_err *err, const char *sql, int np, ...) {
  va_list ap;
  va_start(ap, np);
  sl_code rc = sl_store_vexec(s, rows, err, sql, np, ap);
  va_end(ap);
  return rc;
}

sl_code sl_store_exec_json(sl_store *s, sl_buf *out, sl_err *err, const char *sql, int np, ...) {
  const char *p[32];
  va_list ap;
  if (np > 32) return sl_err_set(err, SL_EINTERNAL, "store: too many parameters");
  va_start(ap, np);
  for (int i = 0; i < np; i++) p[i] = va_arg(ap, const char *);
  va_end(ap);
  if (s->be->exec_json) return s->be->exec_json(s->db, sql, np, p, out, err);
  json_t *rows = NULL;
  sl_code rc = s->be->exec(s->db, sql, np, p, &rows, err);
  if (!rc) {
    sl_jw w;
    sl_jw_init(&w, out);
    sl_jw_json(&w, rows);
    rc = w.rc;
  }
  json_decref(rows);
  return rc;
}

sl_code sl_store_one(sl_store *s, json_t **row, sl_err *err, const char *sql, int np, ...) {
  va_list ap;
  json_t *rows;
  *row = NULL;
  va_start(ap, np);
  sl_code rc = sl_store_vexec(s, &rows, err, sql, np, ap);
  va_end(ap);
  if (rc) return rc;
  if (json_array_size(rows)) *row = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  return *row ? SL_EOK : sl_err_set(err, SL_ENOTFOUND, "not found");
}

sl_code sl_store_begin(sl_store *s, sl_err *err) {
  return s->be->exec(s->db, strcmp(s->be->name, "sqlite") ? "BEGIN" : "BEGIN IMMEDIATE", 0, NULL, NULL, err);
}
sl_code sl_store_commit(sl_store *s, sl_err *err) { return s->be->exec(s->db, "COMMIT", 0, NULL, NULL, err); }
void sl_store_rollback(sl_store *s) {
  sl_err e = SL_ERR_INIT;
  s->be->exec(s->db, "ROLLBACK", 0, NULL, NULL, &e);
}

const char *sl_store_home(const sl_store *s) { return s->home; }
sl_code sl_store_reopen(const sl_store *s, sl_store **out, sl_err *err) { return sl_store_open(s->where, out, err); }
const sl_store_backend *sl_store_backend_of(const sl_store *s) { return s->be; }
int sl_store_schema_version(const sl_store *s) { return s->version; }

static char *expand(const char *sql, const char *id) {
  sl_buf b;
  sl_buf_init(&b, SIZE_MAX / 4);
  for (const char *p = sql; *p;) {
    if (!strncmp(p, "@ID@", 4)) {
      sl_buf_append(&b, id, strlen(id));
      p += 4;
    } else {
      sl_buf_putc(&b, *p++);
    }
  }
  sl_buf_putc(&b, 0);
  return b.data;
}

static sl_code migrate(sl_store *s, sl_err *err) {
  sl_code rc = sl_store_exec(s, NULL, err, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)", 0);
  if (rc) return rc;
  json_t *row = NULL;
  /* Up to date (every open but the first): no write lock. Each job and
   * its heartbeat open the store, and under many jobs at once that lock
   * queued behind every other writer. */
  if (!sl_store_one(s, &row, err, "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", 0)) {
    s->version = (int)sl_store_int(row, "v");
    json_decref(row);
    row = NULL;
    if (s->version == N_MIGRATIONS) return SL_EOK;
  }
  /* Otherwise the version check runs inside the transaction, so two
   * processes opening a new store at once apply each migration once. */
  if ((rc = sl_store_begin(s, err))) return rc;
  if (s->be->migrate_lock && (rc = s->be->exec(s->db, s->be->migrate_lock, 0, NULL, NULL, err))) goto fail;
  if ((rc = sl_store_one(s, &row, err, "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", 0))) goto fail;
  s->version = (int)sl_store_int(row, "v");
  json_decref(row);
  if (s->version > N_MIGRATIONS) {
    rc = sl_err_set(err, SL_ECONFIG, "the store is at schema version %d, newer than this sluice knows (%d); upgrade sluice",
                    s->version, N_MIGRATIONS);
    goto fail;
  }
  char ts[24], vb[24];
  for (int v = s->version + 1; v <= N_MIGRATIONS; v++) {
    char *sql = expand(migrations[v - 1], s->be->id_column);
    rc = sql ? s->be->exec(s->db, sql, 0, NULL, NULL, err) : SL_ENOMEM;
    free(sql);
    if (rc || (rc = sl_store_exec(s, NULL, err, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", 2,
                                  sl_store_i64(vb, v), sl_store_i64(ts, sl_now_ms())))) {
      sl_err_wrap(err, "store migration %d", v);
      goto fail;
    }
    s->version = v;
  }
  return sl_store_commit(s, err);
fail:
  sl_store_rollback(s);
  return rc;
}

sl_code sl_store_open(const char *where, sl_store **out, sl_err *err) {
  *out = NULL;
  char home[4096], path[4200];
  const char *h = getenv("SLUICE_HOME");
  if (h && *h) snprintf(home, sizeof home, "%s", h);
  else snprintf(home, sizeof home, "%s/.sluice", getenv("HOME") ? getenv("HOME") : ".");
  if (!where || !*where) where = getenv("SLUICE_STORE");
  if (where && !*where) where = NULL;
  bool pg = where && (!strncmp(where, "postgresql://", 13) || !strncmp(where, "postgres://", 11));
  sl_code rc = sl_fs_mkdirs(home, err);
  if (rc) return sl_err_wrap(err, "SLUICE_HOME");
  chmod(home, 0700); /* job logs and the secrets file live here */
  snprintf(path, sizeof path, "%s/sluice.db", home);
  sl_store *s = calloc(1, sizeof *s);
  if (!s) return SL_ENOMEM;
  s->home = strdup(home);
  s->where = where ? strdup(where) : NULL;
  if ((rc = pg ? sl_store_pg_open(where, &s->db, &s->be, err) : sl_store_sqlite_open(where ? where : path, &s->db, &s->be, err)) ||
      (rc = migrate(s, err))) {
    sl_store_close(s);
    return rc;
  }
  *out = s;
  return SL_EOK;
}

void sl_store_close(sl_store *s) {
  if (!s) return;
  if (s->be) s->be->close(s->db);
  free(s->home);
  free(s->where);
  free(s);
}

/* ---- committed state ---- */

sl_code sl_store_state_get(sl_store *s, int64_t conn, json_t **state, sl_err *err) {
  char cb[24];
  json_t *rows;
  *state = NULL;
  sl_code rc = sl_store_exec(s, &rows, err, "SELECT namespace, stream, state FROM state WHERE connection_id = ? ORDER BY namespace, stream",
                             1, sl_store_i64(cb, conn));
  if (rc) return rc;
  json_t *arr = json_array();
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    json_error_t je;
    json_t *m = json_loads(sl_store_str(r, "state"), 0, &je);
    if (!m) {
      json_decref(arr);
      json_decref(rows);
      return sl_err_set(err, SL_ESTATE, "store: state of connection %lld stream \"%s\": %s", (long long)conn,
                        sl_store_str(r, "stream"), je.text);
    }
    if (!json_object_get(m, "type")) { /* LEGACY: the object itself */
      json_decref(arr);
      arr = m;
      break;
    }
    json_array_append_new(arr, m);
  }
  json_decref(rows);
  *state = arr;
  return SL_EOK;
}

sl_code sl_store_state_put(sl_store *s, int64_t conn, const json_t *state, sl_err *err) {
  char cb[24], ts[24];
  sl_store_i64(cb, conn);
  sl_store_i64(ts, sl_now_ms());
  sl_code rc = sl_store_begin(s, err);
  if (rc) return rc;
  if ((rc = sl_store_exec(s, NULL, err, "DELETE FROM state WHERE connection_id = ?", 1, cb))) goto fail;
  size_t i, n = json_is_array(state) ? json_array_size(state) : 1;
  for (i = 0; i < n; i++) {
    const json_t *m = json_is_array(state) ? json_array_get(state, i) : state;
    if (json_is_object(m) && !json_object_size(m)) continue;
    const json_t *d = json_object_get(json_object_get(m, "stream"), "stream_descriptor");
    const char *ns = json_string_value(json_object_get(d, "namespace"));
    const char *name = json_string_value(json_object_get(d, "name"));
    char *text = sl_json_dumps(m);
    rc = text ? sl_store_exec(s, NULL, err, "INSERT INTO state (connection_id, namespace, stream, state, updated_at) VALUES (?, ?, ?, ?, ?)",
                              5, cb, ns ? ns : "", name ? name : "", text, ts)
              : SL_ENOMEM;
    free(text);
    if (rc) goto fail;
  }
  return sl_store_commit(s, err);
fail:
  sl_store_rollback(s);
  return rc;
}

sl_code sl_store_write_private(const char *path, const json_t *v, sl_err *err) {
  char *text = sl_json_dumps(v);
  if (!text) return SL_ENOMEM;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  sl_code rc = fd < 0 ? sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno)) : sl_fs_write_all(fd, text, strlen(text), path, err);
  if (fd >= 0) close(fd);
  free(text);
  return rc;
}
