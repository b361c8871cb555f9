/* destination-postgres: schemas, tables, columns, key indexes, stages,
 * swaps and dedup merges. Everything here is cold: once per stream or once
 * per flush. Identifiers are quoted by libpq; the only values (generation
 * ids, names looked up in the catalog) are statement parameters. */
#include <stdio.h>
#include <stdlib.h>

#include "pg_dest.h"

static const char *const meta_types[PGD_N_META] = {"character varying(36)", "timestamp with time zone",
                                                   "jsonb", "bigint"};

/* Spelled as format_type() prints them, so existing columns compare. */
const char *pgd_sql_type(sl_col_type t) {
  switch (t) {
    case SL_COL_STRING: return "text";
    case SL_COL_INTEGER: return "bigint";
    case SL_COL_NUMBER: return "numeric";
    case SL_COL_BOOLEAN: return "boolean";
    case SL_COL_DATE: return "date";
    case SL_COL_TIME_TZ: return "time with time zone";
    case SL_COL_TIME: return "time without time zone";
    case SL_COL_TIMESTAMP_TZ: return "timestamp with time zone";
    case SL_COL_TIMESTAMP: return "timestamp without time zone";
    default: return "jsonb";
  }
}

static const char *col_name(const pstream *s, size_t i) {
  return i < s->cols.n ? s->cols.cols[i].name : pgd_meta_names[i - s->cols.n];
}
static const char *col_type(const pstream *s, size_t i) {
  return i < s->cols.n ? pgd_sql_type(s->cols.cols[i].type) : meta_types[i - s->cols.n];
}
#define NCOLS(s) ((s)->cols.n + PGD_N_META)

static void column_list(pdb *d, sl_buf *q, const pstream *s, const char *prefix) {
  for (size_t i = 0; i < NCOLS(s); i++) {
    if (i) sl_buf_putc(q, ',');
    if (prefix) sl_buf_appendf(q, "%s", prefix);
    pgd_ident(d, q, col_name(s, i));
  }
}

static void key_list(pdb *d, sl_buf *q, const pstream *s, const char *prefix) {
  for (size_t i = 0; i < s->npk; i++) {
    if (i) sl_buf_putc(q, ',');
    if (prefix) sl_buf_appendf(q, "%s", prefix);
    pgd_ident(d, q, s->cols.cols[s->pk[i]].name);
  }
}

static sl_code exec_buf(pdb *d, sl_err *err) { return pgd_exec(d, sl_buf_cstr(&d->sql), err); }

/* ---- key, cursor and delete columns ---- */

static int find_prop(const pstream *s, const char *prop) {
  return s->cols.raw ? -1 : sl_col_set_find(&s->cols, prop, strlen(prop));
}

static sl_code resolve_keys(pstream *s, sl_err *err) {
  const sl_cstream *cs = s->ds->cs;
  s->cursor = s->deleted = -1;
  free(s->pk); /* set up again after a swap */
  s->pk = NULL;
  s->npk = 0;
  if (!s->dedup) return SL_EOK;
  if (!cs->n_pk)
    return sl_err_set(err, SL_ECATALOG, "append_dedup needs a primary key, and the catalog gives none");
  if (!(s->pk = calloc(cs->n_pk, sizeof *s->pk))) return sl_err_set(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < cs->n_pk; i++) {
    const sl_path *p = &cs->pk[i];
    int c = p->n == 1 ? find_prop(s, p->parts[0]) : -1;
    if (c < 0)
      return sl_err_set(err, SL_ECATALOG,
                        "primary key part %zu (%s) is not a top-level property of the stream's "
                        "json_schema", i + 1, p->n ? p->parts[0] : "empty");
    s->pk[s->npk++] = c;
  }
  if (cs->cursor.n == 1) s->cursor = find_prop(s, cs->cursor.parts[0]);
  if (cs->cursor.n && s->cursor < 0)
    sl_dest_log("WARN", "stream \"%s\": the cursor is not a top-level property; for equal keys the "
                "last record written wins", cs->name);
  s->deleted = find_prop(s, "_ab_cdc_deleted_at");
  return SL_EOK;
}

/* ---- tables ---- */

static sl_code exists(pdb *d, const char *qname, bool *out, sl_err *err) {
  PGresult *r;
  const char *p[1] = {qname};
  sl_code rc = pgd_query(d, "SELECT to_regclass($1) IS NOT NULL", 1, p, &r, err);
  if (rc) return rc;
  *out = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
  PQclear(r);
  return SL_EOK;
}

/* Only conversions that cannot lose a value are done in place. */
static bool widening(const char *from, const char *to) {
  if (!strcmp(to, "text") || !strcmp(to, "jsonb")) return true;
  if (!strcmp(from, "bigint") && !strcmp(to, "numeric")) return true;
  if (!strcmp(from, "date") && !strncmp(to, "timestamp", 9)) return true;
  if (!strncmp(from, "timestamp", 9) && !strncmp(to, "timestamp", 9)) return true;
  if (!strcmp(from, "time without time zone") && !strcmp(to, "time with time zone")) return true;
  return false;
}

/* A column whose type changed: converted in place when no value can be
 * lost; otherwise the old column is renamed (<name>_old, _old_2, ...) and
 * keeps its data, and a new column takes the name. */
static sl_code change_type(pdb *d, const char *qname, const char *col, const char *from,
                           const char *to, PGresult *cur, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "ALTER TABLE %s ", qname);
  if (widening(from, to)) {
    sl_buf_appendf(q, "ALTER COLUMN ");
    pgd_ident(d, q, col);
    sl_buf_appendf(q, " TYPE %s USING ", to);
    if (!strcmp(to, "jsonb")) {
      sl_buf_appendf(q, "to_jsonb(");
      pgd_ident(d, q, col);
      sl_buf_putc(q, ')');
    } else if (!strcmp(from, "jsonb")) { /* JSON strings lose their quotes, as when loaded */
      sl_buf_appendf(q, "(");
      pgd_ident(d, q, col);
      sl_buf_appendf(q, " #>> '{}')");
    } else {
      pgd_ident(d, q, col);
      sl_buf_appendf(q, "::%s", to);
    }
    sl_code rc = exec_buf(d, err);
    if (!rc) sl_dest_log("INFO", "table %s: column \"%s\" changed from %s to %s", qname, col, from, to);
    return rc;
  }
  char old[80];
  for (int k = 1;; k++) {
    char suf[16];
    snprintf(suf, sizeof suf, k == 1 ? "_old" : "_old_%d", k);
    size_t keep = strlen(col), sl = strlen(suf);
    if (keep + sl > 63) keep = 63 - sl;
    while (keep && ((unsigned char)col[keep] & 0xC0) == 0x80) keep--;
    snprintf(old, sizeof old, "%.*s%s", (int)keep, col, suf);
    bool taken = false;
    for (int i = 0; i < PQntuples(cur); i++) taken |= !strcmp(PQgetvalue(cur, i, 0), old);
    if (!taken) break;
  }
  sl_buf_appendf(q, "RENAME COLUMN ");
  pgd_ident(d, q, col);
  sl_buf_appendf(q, " TO ");
  pgd_ident(d, q, old);
  sl_buf_appendf(q, "; ALTER TABLE %s ADD COLUMN ", qname);
  pgd_ident(d, q, col);
  sl_buf_appendf(q, " %s", to);
  sl_code rc = exec_buf(d, err);
  if (!rc)
    sl_dest_log("WARN", "table %s: column \"%s\" changes from %s to %s, which could lose values: "
                "the old values stay in column \"%s\"", qname, col, from, to, old);
  return rc;
}

/* Create the table, or add the columns it lacks and fit changed types. */
static sl_code ensure_table(pdb *d, pstream *s, const char *qname, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "CREATE TABLE IF NOT EXISTS %s (", qname);
  for (size_t i = 0; i < NCOLS(s); i++) {
    if (i) sl_buf_putc(q, ',');
    pgd_ident(d, q, col_name(s, i));
    sl_buf_appendf(q, " %s%s", col_type(s, i), i >= s->cols.n && i < s->cols.n + 3 ? " NOT NULL" : "");
  }
  sl_buf_putc(q, ')');
  sl_code rc = exec_buf(d, err);
  if (rc) return rc;
  PGresult *cur;
  const char *p[1] = {qname};
  if ((rc = pgd_query(d, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                      "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                      1, p, &cur, err)))
    return rc;
  for (size_t i = 0; i < NCOLS(s) && !rc; i++) {
    const char *name = col_name(s, i), *type = col_type(s, i);
    int row = -1;
    for (int k = 0; k < PQntuples(cur) && row < 0; k++)
      if (!strcmp(PQgetvalue(cur, k, 0), name)) row = k;
    if (row >= 0) {
      const char *have = PQgetvalue(cur, row, 1);
      if (strcmp(have, type)) rc = change_type(d, qname, name, have, type, cur, err);
      continue;
    }
    q->len = 0;
    sl_buf_appendf(q, "ALTER TABLE %s ADD COLUMN ", qname);
    pgd_ident(d, q, name);
    sl_buf_appendf(q, " %s", type);
    if (!(rc = exec_buf(d, err)))
      sl_dest_log("INFO", "table %s: added column \"%s\" (%s)", qname, name, type);
  }
  PQclear(cur);
  return rc;
}

/* The unique key index (dedup only): NULLS NOT DISTINCT, so that
 * INSERT ... ON CONFLICT treats a NULL key part like any value. */
static sl_code ensure_index(pdb *d, pstream *s, const char *qname, const char *idx, sl_err *err) {
  PGresult *r;
  const char *p[2] = {qname, idx};
  sl_code rc = pgd_query(d,
                         "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                         "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                         "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                         "WHERE i.indrelid = $1::regclass AND c.relname = $2 ORDER BY k.ord",
                         2, p, &r, err);
  if (rc) return rc;
  bool found = PQntuples(r) > 0, same = (size_t)PQntuples(r) == s->npk;
  for (size_t i = 0; same && i < s->npk; i++) same = !strcmp(PQgetvalue(r, (int)i, 0), s->cols.cols[s->pk[i]].name);
  PQclear(r);
  sl_buf *q = &d->sql;
  if (found && !(s->dedup && same)) {
    q->len = 0;
    sl_buf_appendf(q, "DROP INDEX ");
    pgd_ident(d, q, s->schema);
    sl_buf_putc(q, '.');
    pgd_ident(d, q, idx);
    if ((rc = exec_buf(d, err))) return rc;
  }
  if (!s->dedup || (found && same)) return SL_EOK;
  q->len = 0;
  sl_buf_appendf(q, "CREATE UNIQUE INDEX ");
  pgd_ident(d, q, idx);
  sl_buf_appendf(q, " ON %s (", qname);
  key_list(d, q, s, NULL);
  sl_buf_appendf(q, ") NULLS NOT DISTINCT");
  if ((rc = exec_buf(d, err)))
    sl_err_wrap(err, "table %s cannot be deduplicated on its primary key (does it already hold "
                "rows with equal keys?)", qname);
  return rc;
}

/* INSERT INTO dst (cols) SELECT cols FROM src [ON CONFLICT upsert]. */
static void upsert_sql(pdb *d, pstream *s, const char *dst, const char *select_tail) {
  sl_buf *q = &d->sql;
  sl_buf_appendf(q, "INSERT INTO %s AS t (", dst);
  column_list(d, q, s, NULL);
  sl_buf_appendf(q, ") SELECT ");
  column_list(d, q, s, "b.");
  sl_buf_appendf(q, " %s", select_tail);
  if (!s->dedup) return;
  sl_buf_appendf(q, " ON CONFLICT (");
  key_list(d, q, s, NULL);
  sl_buf_appendf(q, ") DO UPDATE SET ");
  for (size_t i = 0; i < NCOLS(s); i++) {
    if (i) sl_buf_putc(q, ',');
    pgd_ident(d, q, col_name(s, i));
    sl_buf_appendf(q, "=excluded.");
    pgd_ident(d, q, col_name(s, i));
  }
  if (s->cursor >= 0) { /* the newest cursor wins; a NULL in the table loses to anything */
    const char *c = s->cols.cols[s->cursor].name;
    sl_buf_appendf(q, " WHERE t.");
    pgd_ident(d, q, c);
    sl_buf_appendf(q, " IS NULL OR excluded.");
    pgd_ident(d, q, c);
    sl_buf_appendf(q, " >= t.");
    pgd_ident(d, q, c);
  }
}

static sl_code transfer(pdb *d, pstream *s, sl_err *err) {
  d->sql.len = 0;
  char tail[600];
  snprintf(tail, sizeof tail, "FROM %s b", s->qstage);
  upsert_sql(d, s, s->qtable, tail);
  sl_code rc = exec_buf(d, err);
  if (rc) return rc;
  d->sql.len = 0;
  sl_buf_appendf(&d->sql, "DROP TABLE %s", s->qstage);
  return exec_buf(d, err);
}

static sl_code in_tx(pdb *d, sl_code rc, sl_err *err) {
  if (rc) {
    PQclear(PQexec(d->conn, "ROLLBACK"));
    d->in_tx = false;
    return rc;
  }
  rc = pgd_exec(d, "COMMIT", err);
  d->in_tx = false;
  return rc;
}

static sl_code ensure_schema(pdb *d, pstream *s, sl_err *err) {
  PGresult *r;
  const char *p[1] = {s->schema};
  sl_code rc = pgd_query(d, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, p, &r, err);
  if (rc) return rc;
  bool have = PQntuples(r) > 0;
  PQclear(r);
  if (have) return SL_EOK;
  d->sql.len = 0;
  sl_buf_appendf(&d->sql, "CREATE SCHEMA IF NOT EXISTS ");
  pgd_ident(d, &d->sql, s->schema);
  if ((rc = exec_buf(d, err))) return sl_err_wrap(err, "schema \"%s\" is missing and cannot be created", s->schema);
  sl_dest_log("INFO", "created schema \"%s\"", s->schema);
  return SL_EOK;
}

static sl_code setup_tables(pdb *d, pstream *s, sl_err *err) {
  sl_code rc;
  bool stage_exists = false;
  char *stage_idx = NULL;
  if ((rc = ensure_schema(d, s, err)) || (rc = ensure_table(d, s, s->qtable, err)) ||
      (rc = ensure_index(d, s, s->qtable, s->pk_index, err)) ||
      (rc = exists(d, s->qstage, &stage_exists, err)))
    return rc;
  if (stage_exists && s->staged && s->has_gen) {
    /* A stage of another generation is stale; of this one, a retry's. */
    PGresult *r;
    char gen[32];
    snprintf(gen, sizeof gen, "%lld", (long long)s->gen);
    const char *p[1] = {gen};
    d->sql.len = 0;
    sl_buf_appendf(&d->sql, "SELECT 1 FROM %s WHERE _airbyte_generation_id IS DISTINCT FROM $1::bigint LIMIT 1",
                   s->qstage);
    if ((rc = pgd_query(d, sl_buf_cstr(&d->sql), 1, p, &r, err))) return rc;
    bool stale = PQntuples(r) > 0;
    PQclear(r);
    if (stale) {
      d->sql.len = 0;
      sl_buf_appendf(&d->sql, "DROP TABLE %s", s->qstage);
      if ((rc = exec_buf(d, err))) return rc;
      stage_exists = false;
      sl_dest_log("INFO", "table %s: dropped the stage of an earlier generation", s->qtable);
    }
  }
  if (stage_exists && s->staged)
    sl_dest_log("INFO", "table %s: resuming into the stage left by an earlier attempt", s->qtable);
  if (s->staged || stage_exists) {
    if (!(stage_idx = strdup(s->pk_index))) return sl_err_set(err, SL_ENOMEM, "out of memory");
    stage_idx[strlen("_airbyte_")] = 'S'; /* _airbyte_Sk_<table>: its own name */
    rc = ensure_table(d, s, s->qstage, err);
    if (!rc) rc = ensure_index(d, s, s->qstage, stage_idx, err);
    free(stage_idx);
    if (rc) return rc;
  }
  if (stage_exists && !s->staged) {
    if ((rc = transfer(d, s, err))) return rc;
    sl_dest_log("INFO", "table %s: moved the rows staged by an earlier attempt into the table", s->qtable);
  }
  return SL_EOK;
}

/* At stream_open: tables fit the schema (one transaction), then the COPY
 * statement and, for dedup, the session's batch table. */
sl_code pgd_stream_setup(pdb *d, pstream *s, sl_err *err) {
  sl_code rc = resolve_keys(s, err);
  if (rc) return rc;
  if ((rc = pgd_begin(d, err))) return rc;
  if ((rc = in_tx(d, setup_tables(d, s, err), err))) return rc;
  const char *target = s->staged ? s->qstage : s->qtable;
  sl_buf *q = &d->sql;
  if (s->dedup) {
    q->len = 0;
    sl_buf_appendf(q, "CREATE TEMP TABLE ");
    pgd_ident(d, q, s->batch);
    sl_buf_appendf(q, " ON COMMIT DELETE ROWS AS SELECT * FROM %s WITH NO DATA; ALTER TABLE ", target);
    pgd_ident(d, q, s->batch);
    sl_buf_appendf(q, " ADD COLUMN _sl_seq bigint");
    if ((rc = exec_buf(d, err))) return rc;
  }
  /* The common _airbyte_meta as the column's default on the COPY target. */
  char *lit = PQescapeLiteral(d->conn, s->meta_default, strlen(s->meta_default));
  if (!lit) return sl_err_set(err, SL_ENOMEM, "out of memory");
  q->len = 0;
  sl_buf_appendf(q, "ALTER TABLE ");
  if (s->dedup) {
    sl_buf_appendf(q, "pg_temp.");
    pgd_ident(d, q, s->batch);
  } else {
    sl_buf_appendf(q, "%s", target);
  }
  sl_buf_appendf(q, " ALTER COLUMN _airbyte_meta SET DEFAULT %s::jsonb", lit);
  PQfreemem(lit);
  if ((rc = exec_buf(d, err))) return rc;
  for (int full = 0; full < 2; full++) {
    q->len = 0;
    sl_buf_appendf(q, "COPY ");
    if (s->dedup) pgd_ident(d, q, s->batch);
    else sl_buf_appendf(q, "%s", target);
    sl_buf_putc(q, '(');
    for (size_t i = 0; i < NCOLS(s); i++) {
      if (!full && i == s->cols.n + 2) continue; /* _airbyte_meta */
      if (i) sl_buf_putc(q, ',');
      pgd_ident(d, q, col_name(s, i));
    }
    sl_buf_appendf(q, "%s) FROM STDIN WITH (FORMAT binary)", s->dedup ? ",_sl_seq" : "");
    pcopy *c = full ? &s->full : &s->plain;
    free(c->sql);
    if (!(c->sql = strdup(sl_buf_cstr(q)))) return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  return SL_EOK;
}

/* Fold the dedup batch into the table: per key the newest cursor wins (ties:
 * the later record); a newest record with _ab_cdc_deleted_at set deletes
 * the row. One statement: the DELETE and the upsert touch different keys. */
sl_code pgd_merge_batch(pdb *d, pstream *s, sl_err *err) {
  const char *target = s->staged ? s->qstage : s->qtable;
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "WITH b AS (SELECT DISTINCT ON (");
  key_list(d, q, s, NULL);
  sl_buf_appendf(q, ") * FROM pg_temp.");
  pgd_ident(d, q, s->batch);
  sl_buf_appendf(q, " ORDER BY ");
  key_list(d, q, s, NULL);
  if (s->cursor >= 0) {
    sl_buf_putc(q, ',');
    pgd_ident(d, q, s->cols.cols[s->cursor].name);
    sl_buf_appendf(q, " DESC NULLS LAST");
  }
  sl_buf_appendf(q, ", _sl_seq DESC)");
  char tail[256] = "FROM b";
  if (s->deleted >= 0) {
    const char *del = s->cols.cols[s->deleted].name;
    sl_buf_appendf(q, ", del AS (DELETE FROM %s t USING b WHERE b.", target);
    pgd_ident(d, q, del);
    sl_buf_appendf(q, " IS NOT NULL");
    for (size_t i = 0; i < s->npk; i++) {
      const char *k = s->cols.cols[s->pk[i]].name;
      sl_buf_appendf(q, " AND t.");
      pgd_ident(d, q, k);
      sl_buf_appendf(q, " = b.");
      pgd_ident(d, q, k);
    }
    if (s->cursor >= 0) {
      const char *c = s->cols.cols[s->cursor].name;
      sl_buf_appendf(q, " AND (t.");
      pgd_ident(d, q, c);
      sl_buf_appendf(q, " IS NULL OR b.");
      pgd_ident(d, q, c);
      sl_buf_appendf(q, " >= t.");
      pgd_ident(d, q, c);
      sl_buf_putc(q, ')');
    }
    sl_buf_putc(q, ')');
    sl_buf b;
    sl_buf_init(&b, sizeof tail);
    pgd_ident(d, &b, del);
    snprintf(tail, sizeof tail, "FROM b WHERE b.%s IS NULL", sl_buf_cstr(&b));
    sl_buf_dispose(&b);
  }
  sl_buf_putc(q, ' ');
  upsert_sql(d, s, target, tail);
  sl_code rc = exec_buf(d, err);
  if (rc) return rc;
  s->batch_rows = 0;
  s->seq = 0;
  return SL_EOK;
}

/* At COMPLETE, in one transaction: drop the rows the refresh replaces and
 * move the stage in. When no old row survives, the stage is renamed into
 * place (O(1)); if the table cannot be dropped (a view depends on it) the
 * rows are copied instead. Until the commit the old rows stay readable. */
sl_code pgd_swap(pdb *d, pstream *s, sl_err *err) {
  sl_code rc = pgd_begin(d, err);
  if (rc) return rc;
  char min[32];
  snprintf(min, sizeof min, "%lld", (long long)s->ds->cs->minimum_generation_id);
  const char *p[1] = {min};
  sl_buf *q = &d->sql;
  PGresult *r = NULL;
  q->len = 0;
  sl_buf_appendf(q, "SELECT EXISTS (SELECT 1 FROM %s WHERE %s)", s->qtable,
                 s->truncate ? "_airbyte_generation_id >= $1::bigint" : "$1::bigint IS NULL");
  if ((rc = pgd_query(d, sl_buf_cstr(q), 1, p, &r, err))) return in_tx(d, rc, err);
  bool survivors = !strcmp(PQgetvalue(r, 0, 0), "t");
  PQclear(r);
  bool renamed = false;
  if (!survivors) {
    q->len = 0;
    sl_buf_appendf(q, "SAVEPOINT sl_swap; DROP TABLE %s; ALTER TABLE %s RENAME TO ", s->qtable, s->qstage);
    pgd_ident(d, q, s->table);
    if (s->dedup) {
      char *stage_idx = strdup(s->pk_index);
      if (!stage_idx) return in_tx(d, sl_err_set(err, SL_ENOMEM, "out of memory"), err);
      stage_idx[strlen("_airbyte_")] = 'S';
      sl_buf_appendf(q, "; ALTER INDEX ");
      pgd_ident(d, q, s->schema);
      sl_buf_putc(q, '.');
      pgd_ident(d, q, stage_idx);
      sl_buf_appendf(q, " RENAME TO ");
      pgd_ident(d, q, s->pk_index);
      free(stage_idx);
    }
    sl_err e2 = SL_ERR_INIT;
    if (exec_buf(d, &e2) == SL_EOK) {
      renamed = true;
    } else {
      sl_dest_log("INFO", "table %s: cannot be replaced by renaming (%s); copying the rows", s->qtable, e2.msg);
      if ((rc = pgd_exec(d, "ROLLBACK TO SAVEPOINT sl_swap", err))) return in_tx(d, rc, err);
    }
  }
  long long deleted = 0;
  if (!renamed) {
    q->len = 0;
    sl_buf_appendf(q, "DELETE FROM %s", s->qtable);
    if (s->truncate) sl_buf_appendf(q, " WHERE _airbyte_generation_id IS NULL OR _airbyte_generation_id < $1::bigint");
    if ((rc = pgd_query(d, sl_buf_cstr(q), s->truncate ? 1 : 0, p, &r, err))) return in_tx(d, rc, err);
    deleted = atoll(PQcmdTuples(r));
    PQclear(r);
    if ((rc = transfer(d, s, err))) return in_tx(d, rc, err);
  }
  if ((rc = in_tx(d, SL_EOK, err))) return rc;
  if (renamed) sl_dest_log("INFO", "table %s: replaced by the rows of this sync", s->qtable);
  else sl_dest_log("INFO", "table %s: replaced %lld old rows with the rows of this sync", s->qtable, deleted);
  s->staged = false;
  /* Records after COMPLETE (there should be none) go to the table itself. */
  if (s->dedup) {
    d->sql.len = 0;
    sl_buf_appendf(&d->sql, "DROP TABLE pg_temp.");
    pgd_ident(d, &d->sql, s->batch);
    if ((rc = exec_buf(d, err))) return rc;
  }
  return pgd_stream_setup(d, s, err);
}

void pgd_stream_free(pstream *s) {
  sl_col_set_dispose(&s->cols);
  sl_buf_dispose(&s->plain.rows);
  sl_buf_dispose(&s->full.rows);
  free(s->plain.sql);
  free(s->full.sql);
  free(s->meta_default);
  free(s->pk);
  free(s->vals);
  free(s->seen);
  free(s->changes);
  free(s->schema);
  free(s->table);
  free(s->stage);
  free(s->batch);
  free(s->pk_index);
  free(s->qtable);
  free(s->qstage);
  memset(s, 0, sizeof *s);
}
