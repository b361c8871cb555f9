/* destination-sqlite: columns from JSON schemas, tables, stages and swaps.
 * Everything here is cold: it runs once per stream. */
#include <stdio.h>
#include <stdlib.h>

#include "sqlite_dest.h"

const char *const meta_col_names[N_META_COLS] = {"_airbyte_raw_id", "_airbyte_extracted_at",
                                                 "_airbyte_meta", "_airbyte_generation_id"};
const char *const meta_col_types[N_META_COLS] = {"TEXT", "INTEGER", "TEXT", "INTEGER"};

static const char *sql_type(col_type t) {
  switch (t) {
    case COL_INTEGER:
    case COL_BOOLEAN: return "INTEGER";
    case COL_NUMBER: return "REAL";
    default: return "TEXT";
  }
}

static sl_code db_error(sdb *d, const char *what, sl_err *err) {
  return sl_err_set(err, SL_EDESTINATION, "%s: %s: %s", d->path, what, sqlite3_errmsg(d->db));
}

sl_code sq_exec(sdb *d, const char *sql, sl_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) == SQLITE_OK) return SL_EOK;
  sl_code rc = sl_err_set(err, SL_EDESTINATION, "%s: %s (while running: %.200s)", d->path,
                          msg ? msg : sqlite3_errmsg(d->db), sql);
  sqlite3_free(msg);
  return rc;
}

/* "name" with embedded quotes doubled. */
void sq_ident(sl_buf *b, const char *name) {
  sl_buf_putc(b, '"');
  for (const char *p = name; *p; p++) {
    if (*p == '"') sl_buf_putc(b, '"');
    sl_buf_putc(b, *p);
  }
  sl_buf_putc(b, '"');
}

/* ---- columns ---- */

static col_type type_of_ref(const char *ref) {
  const char *slash = strrchr(ref, '/');
  const char *n = slash ? slash + 1 : ref;
  if (!strcmp(n, "Integer")) return COL_INTEGER;
  if (!strcmp(n, "Number")) return COL_NUMBER;
  if (!strcmp(n, "Boolean")) return COL_BOOLEAN;
  if (!strcmp(n, "String") || !strcmp(n, "BinaryData") || !strcmp(n, "Date") ||
      !strncmp(n, "Timestamp", 9) || !strncmp(n, "Time", 4))
    return COL_STRING;
  return COL_JSON;
}

/* The column type of one property schema: "type" as a string or as an
 * array with one non-null type; anything else holds JSON. */
static col_type type_of(const json_t *prop) {
  if (!json_is_object(prop)) return COL_JSON;
  const json_t *t = json_object_get(prop, "type");
  const char *ty = NULL;
  if (json_is_string(t)) {
    ty = json_string_value(t);
  } else if (json_is_array(t)) {
    size_t i;
    const json_t *x;
    int n = 0;
    json_array_foreach(t, i, x) {
      const char *s = json_string_value(x);
      if (s && strcmp(s, "null")) {
        ty = s;
        n++;
      }
    }
    if (n != 1) return COL_JSON;
  } else {
    const char *ref = json_string_value(json_object_get(prop, "$ref"));
    return ref ? type_of_ref(ref) : COL_JSON;
  }
  const char *at = json_string_value(json_object_get(prop, "airbyte_type"));
  if (!strcmp(ty, "integer")) return COL_INTEGER;
  if (!strcmp(ty, "number")) return at && !strcmp(at, "integer") ? COL_INTEGER : COL_NUMBER;
  if (!strcmp(ty, "boolean")) return COL_BOOLEAN;
  if (!strcmp(ty, "string")) return COL_STRING;
  if (!strcmp(ty, "object")) return COL_OBJECT;
  if (!strcmp(ty, "array")) return COL_ARRAY;
  return COL_JSON;
}

static uint32_t hash_name(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* SQLite compares column names without regard to ASCII case. */
static bool name_taken(const sstream *s, size_t upto, const char *name) {
  for (size_t i = 0; i < N_META_COLS; i++)
    if (!sqlite3_stricmp(meta_col_names[i], name)) return true;
  for (size_t i = 0; i < upto; i++)
    if (!sqlite3_stricmp(s->cols[i].name, name)) return true;
  return false;
}

static int find_prop(const sstream *s, const char *prop) {
  for (size_t i = 0; i < s->ncols && !s->raw_data; i++)
    if (!strcmp(s->cols[i].prop, prop)) return (int)i;
  return -1;
}

sl_code sq_columns(sstream *s, const sl_cstream *cs, sl_err *err) {
  const json_t *props = json_object_get(cs->json_schema, "properties");
  size_t n = json_is_object(props) ? json_object_size(props) : 0;
  s->cols = calloc(n ? n : 1, sizeof *s->cols);
  if (!s->cols) return SL_ENOMEM;
  const char *k;
  size_t klen;
  json_t *v;
  json_object_keylen_foreach((json_t *)props, k, klen, v) {
    col *c = &s->cols[s->ncols];
    c->prop = k;
    c->prop_len = klen;
    c->type = type_of(v);
    c->name = strdup(k);
    if (!c->name) return SL_ENOMEM;
    /* Two properties that differ only in case, or one named like a meta
     * column: the later one gets a suffix. */
    for (int suffix = 2; name_taken(s, s->ncols, c->name); suffix++) {
      free(c->name);
      if (asprintf(&c->name, "%s_%d", k, suffix) < 0) {
        c->name = NULL;
        return SL_ENOMEM;
      }
    }
    if (strcmp(c->name, k))
      sl_dest_log("WARN", "stream \"%s\": property \"%s\" is stored in column \"%s\" (the name "
                  "clashes with another column)", cs->name, k, c->name);
    s->ncols++;
  }
  if (!s->ncols) {
    /* A schema without properties: keep the whole record as JSON. */
    col *c = &s->cols[s->ncols++];
    c->prop = "";
    c->type = COL_JSON;
    if (!(c->name = strdup("_airbyte_data"))) return SL_ENOMEM;
    s->raw_data = true;
  }
  size_t cap = 8;
  while (cap < 2 * s->ncols) cap *= 2;
  s->hash = calloc(cap, sizeof *s->hash);
  s->hmask = cap - 1;
  s->vals = calloc(s->ncols + 1, sizeof *s->vals);
  s->seen = calloc(s->ncols + 1, sizeof *s->seen);
  s->changed = calloc(s->ncols + 1, sizeof *s->changed);
  s->doff = calloc(s->ncols + 1, sizeof *s->doff);
  s->dlen = calloc(s->ncols + 1, sizeof *s->dlen);
  s->dcol = calloc(s->ncols + 1, sizeof *s->dcol);
  if (!s->hash || !s->vals || !s->seen || !s->changed || !s->doff || !s->dlen || !s->dcol)
    return SL_ENOMEM;
  for (size_t i = 0; i < s->ncols && !s->raw_data; i++) {
    size_t h = hash_name(s->cols[i].prop, s->cols[i].prop_len) & s->hmask;
    while (s->hash[h]) h = (h + 1) & s->hmask;
    s->hash[h] = (uint32_t)i + 1;
  }

  s->cursor = -1;
  if (!s->dedup) return SL_EOK;
  if (!cs->n_pk)
    return sl_err_set(err, SL_ECATALOG, "append_dedup needs a primary key, and the catalog gives none");
  s->pk = calloc(cs->n_pk, sizeof *s->pk);
  if (!s->pk) return SL_ENOMEM;
  for (size_t i = 0; i < cs->n_pk; i++) {
    const sl_path *p = &cs->pk[i];
    if (p->n != 1)
      return sl_err_set(err, SL_ECATALOG,
                        "primary key part %zu is %s; only top-level fields can be keys here", i + 1,
                        p->n ? "a nested field" : "empty");
    int c = find_prop(s, p->parts[0]);
    if (c < 0)
      return sl_err_set(err, SL_ECATALOG,
                        "primary key field \"%s\" is not a property of the stream's json_schema",
                        p->parts[0]);
    s->cols[c].is_pk = true;
    s->pk[s->npk++] = c;
  }
  if (cs->cursor.n == 1) s->cursor = find_prop(s, cs->cursor.parts[0]);
  if (cs->cursor.n && s->cursor < 0)
    sl_dest_log("WARN", "stream \"%s\": the cursor is not a top-level property; for equal keys the "
                "last record written wins", cs->name);
  return SL_EOK;
}

/* ---- tables ---- */

static sl_code table_exists(sdb *d, const char *table, bool *out, sl_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
                         -1, &st, NULL))
    return db_error(d, "looking for a table", err);
  sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  *out = rc == SQLITE_ROW;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(d, "looking for a table", err);
  return SL_EOK;
}

static const char *pk_index_name(sl_buf *b, const char *table) {
  b->len = 0;
  sl_buf_appendf(b, "_airbyte_pk_%s", table);
  return sl_buf_cstr(b);
}

/* Is the unique index idx exactly on the key columns, in order? */
static sl_code index_matches(sdb *d, const sstream *s, const char *idx, bool *exists, bool *same,
                             sl_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db, "SELECT name FROM pragma_index_info(?1) ORDER BY seqno", -1, &st, NULL))
    return db_error(d, "reading an index", err);
  sqlite3_bind_text(st, 1, idx, -1, SQLITE_STATIC);
  size_t i = 0;
  *same = true;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (i >= s->npk || !name || sqlite3_stricmp(name, s->cols[s->pk[i]].name)) *same = false;
    i++;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return db_error(d, "reading an index", err);
  *exists = i > 0;
  if (i != s->npk) *same = false;
  return SL_EOK;
}

/* Create the table, add the columns it lacks, and fit the key index. */
static sl_code ensure_table(sdb *d, sstream *s, const char *table, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "CREATE TABLE IF NOT EXISTS ");
  sq_ident(q, table);
  sl_buf_putc(q, '(');
  for (size_t i = 0; i < s->ncols + N_META_COLS; i++) {
    if (i) sl_buf_putc(q, ',');
    bool meta = i >= s->ncols;
    sq_ident(q, meta ? meta_col_names[i - s->ncols] : s->cols[i].name);
    sl_buf_appendf(q, " %s", meta ? meta_col_types[i - s->ncols] : sql_type(s->cols[i].type));
  }
  sl_buf_putc(q, ')');
  sl_code rc = sq_exec(d, sl_buf_cstr(q), err);
  if (rc) return rc;

  /* Schema evolution: columns are added, never dropped. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE",
                         -1, &st, NULL))
    return db_error(d, "reading a table's columns", err);
  for (size_t i = 0; i < s->ncols + N_META_COLS; i++) {
    bool meta = i >= s->ncols;
    const char *name = meta ? meta_col_names[i - s->ncols] : s->cols[i].name;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) continue;
    if (step != SQLITE_DONE) {
      sqlite3_finalize(st);
      return db_error(d, "reading a table's columns", err);
    }
    q->len = 0;
    sl_buf_appendf(q, "ALTER TABLE ");
    sq_ident(q, table);
    sl_buf_appendf(q, " ADD COLUMN ");
    sq_ident(q, name);
    sl_buf_appendf(q, " %s", meta ? meta_col_types[i - s->ncols] : sql_type(s->cols[i].type));
    if ((rc = sq_exec(d, sl_buf_cstr(q), err))) {
      sqlite3_finalize(st);
      return rc;
    }
    sl_dest_log("INFO", "table \"%s\": added column \"%s\" (new in the stream's schema)", table, name);
  }
  sqlite3_finalize(st);

  sl_buf idxb;
  sl_buf_init(&idxb, 1 << 20);
  const char *idx = pk_index_name(&idxb, table);
  bool exists = false, same = false;
  rc = index_matches(d, s, idx, &exists, &same, err);
  if (!rc && exists && !(s->dedup && same)) { /* a stale key, or no longer deduplicated */
    q->len = 0;
    sl_buf_appendf(q, "DROP INDEX ");
    sq_ident(q, idx);
    rc = sq_exec(d, sl_buf_cstr(q), err);
  }
  if (!rc && s->dedup && !(exists && same)) {
    q->len = 0;
    sl_buf_appendf(q, "CREATE UNIQUE INDEX ");
    sq_ident(q, idx);
    sl_buf_appendf(q, " ON ");
    sq_ident(q, table);
    sl_buf_putc(q, '(');
    for (size_t i = 0; i < s->npk; i++) {
      if (i) sl_buf_putc(q, ',');
      sq_ident(q, s->cols[s->pk[i]].name);
    }
    sl_buf_putc(q, ')');
    rc = sq_exec(d, sl_buf_cstr(q), err);
    if (rc)
      sl_err_wrap(err, "table \"%s\" cannot be deduplicated on its primary key (does it already "
                  "hold rows with equal keys?)", table);
  }
  sl_buf_dispose(&idxb);
  return rc;
}

static void column_list(sl_buf *q, const sstream *s, const char *prefix) {
  for (size_t i = 0; i < s->ncols + N_META_COLS; i++) {
    if (i) sl_buf_putc(q, ',');
    if (prefix) sl_buf_appendf(q, "%s", prefix);
    sq_ident(q, i < s->ncols ? s->cols[i].name : meta_col_names[i - s->ncols]);
  }
}

/* ON CONFLICT(pk) DO UPDATE: the newest cursor wins; without a cursor, the
 * last write. A NULL cursor in the table loses to anything. */
static void upsert_clause(sl_buf *q, const sstream *s, const char *table) {
  sl_buf_appendf(q, " ON CONFLICT(");
  for (size_t i = 0; i < s->npk; i++) {
    if (i) sl_buf_putc(q, ',');
    sq_ident(q, s->cols[s->pk[i]].name);
  }
  sl_buf_appendf(q, ") DO UPDATE SET ");
  for (size_t i = 0; i < s->ncols + N_META_COLS; i++) {
    const char *name = i < s->ncols ? s->cols[i].name : meta_col_names[i - s->ncols];
    if (i) sl_buf_putc(q, ',');
    sq_ident(q, name);
    sl_buf_appendf(q, "=excluded.");
    sq_ident(q, name);
  }
  if (s->cursor >= 0) {
    const char *c = s->cols[s->cursor].name;
    sl_buf_appendf(q, " WHERE ");
    sq_ident(q, table);
    sl_buf_putc(q, '.');
    sq_ident(q, c);
    sl_buf_appendf(q, " IS NULL OR excluded.");
    sq_ident(q, c);
    sl_buf_appendf(q, " >= ");
    sq_ident(q, table);
    sl_buf_putc(q, '.');
    sq_ident(q, c);
  }
}

sl_code sq_prepare_insert(sdb *d, sstream *s, const char *table, sl_err *err) {
  sqlite3_finalize(s->ins);
  s->ins = NULL;
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "INSERT INTO ");
  sq_ident(q, table);
  sl_buf_putc(q, '(');
  column_list(q, s, NULL);
  sl_buf_appendf(q, ") VALUES (");
  for (size_t i = 0; i < s->ncols + N_META_COLS; i++) sl_buf_appendf(q, "%s?%zu", i ? "," : "", i + 1);
  sl_buf_putc(q, ')');
  if (s->dedup) upsert_clause(q, s, table);
  if (sqlite3_prepare_v3(d->db, sl_buf_cstr(q), -1, SQLITE_PREPARE_PERSISTENT, &s->ins, NULL))
    return sl_err_set(err, SL_EDESTINATION, "%s: table \"%s\": cannot prepare the insert: %s", d->path,
                      table, sqlite3_errmsg(d->db));
  return SL_EOK;
}

/* Move every stage row into the final table (upserting for dedup), then
 * drop the stage. Runs inside the caller's transaction. */
static sl_code transfer(sdb *d, sstream *s, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "INSERT INTO ");
  sq_ident(q, s->table);
  sl_buf_putc(q, '(');
  column_list(q, s, NULL);
  sl_buf_appendf(q, ") SELECT ");
  column_list(q, s, NULL);
  sl_buf_appendf(q, " FROM ");
  sq_ident(q, s->stage);
  sl_buf_appendf(q, " WHERE true ORDER BY rowid");
  if (s->dedup) upsert_clause(q, s, s->table);
  sl_code rc = sq_exec(d, sl_buf_cstr(q), err);
  if (rc) return rc;
  q->len = 0;
  sl_buf_appendf(q, "DROP TABLE ");
  sq_ident(q, s->stage);
  return sq_exec(d, sl_buf_cstr(q), err);
}

static sl_code in_tx(sdb *d, sl_code rc, sl_err *err) {
  if (rc) {
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  return sq_exec(d, "COMMIT", err);
}

/* At stream_open: the final table (and the stage, for staged streams) fit
 * the schema; a stage left by an earlier attempt is kept when it holds this
 * generation, dropped when it holds another, and transferred when the
 * stream is no longer staged. */
sl_code sq_prepare_stream(sdb *d, sstream *s, sl_err *err) {
  sl_code rc = sq_exec(d, "BEGIN IMMEDIATE", err);
  if (rc) return rc;
  bool stage_exists = false;
  rc = ensure_table(d, s, s->table, err);
  if (!rc) rc = table_exists(d, s->stage, &stage_exists, err);
  if (!rc && stage_exists && s->staged && s->has_gen) {
    sl_buf *q = &d->sql;
    q->len = 0;
    sl_buf_appendf(q, "SELECT 1 FROM ");
    sq_ident(q, s->stage);
    sl_buf_appendf(q, " WHERE _airbyte_generation_id IS NOT ?1 LIMIT 1");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, sl_buf_cstr(q), -1, &st, NULL)) {
      rc = db_error(d, "reading the stage table", err);
    } else {
      sqlite3_bind_int64(st, 1, s->gen);
      int step = sqlite3_step(st);
      sqlite3_finalize(st);
      if (step == SQLITE_ROW) {
        q->len = 0;
        sl_buf_appendf(q, "DROP TABLE ");
        sq_ident(q, s->stage);
        rc = sq_exec(d, sl_buf_cstr(q), err);
        stage_exists = false;
        sl_dest_log("INFO", "table \"%s\": dropped the stage table of an earlier generation", s->table);
      } else if (step != SQLITE_DONE) {
        rc = db_error(d, "reading the stage table", err);
      }
    }
  }
  if (!rc && stage_exists && s->staged)
    sl_dest_log("INFO", "table \"%s\": resuming into the stage table left by an earlier attempt", s->table);
  if (!rc && (s->staged || stage_exists)) rc = ensure_table(d, s, s->stage, err);
  if (!rc && stage_exists && !s->staged) {
    rc = transfer(d, s, err);
    if (!rc)
      sl_dest_log("INFO", "table \"%s\": moved the rows staged by an earlier attempt into the table",
                  s->table);
  }
  if ((rc = in_tx(d, rc, err))) return rc;
  return sq_prepare_insert(d, s, s->staged ? s->stage : s->table, err);
}

/* The sorted column names of a table, into out (empty if unknown). */
static void column_names(sdb *d, const char *table, sl_buf *out) {
  out->len = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db,
                         "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_table_info(?1) ORDER BY name)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      sl_buf_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
  }
  sqlite3_finalize(st);
  sl_buf_cstr(out);
}

/* When the refresh left the final table empty and the stage has the same
 * columns, the stage takes its place (O(1)) instead of being copied row by
 * row. Runs inside the caller's transaction. */
static sl_code rename_swap(sdb *d, sstream *s, bool *swapped, sl_err *err) {
  *swapped = false;
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "SELECT EXISTS(SELECT 1 FROM ");
  sq_ident(q, s->table);
  sl_buf_putc(q, ')');
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(d->db, sl_buf_cstr(q), -1, &st, NULL)) return db_error(d, "checking the table", err);
  bool empty = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
  sqlite3_finalize(st);
  if (!empty) return SL_EOK;
  sl_buf a, b;
  sl_buf_init(&a, 1 << 20);
  sl_buf_init(&b, 1 << 20);
  column_names(d, s->table, &a);
  column_names(d, s->stage, &b);
  bool same = a.len && a.len == b.len && !memcmp(a.data, b.data, a.len);
  sl_buf_dispose(&a);
  sl_buf_dispose(&b);
  if (!same) return SL_EOK;
  q->len = 0;
  sl_buf_appendf(q, "DROP TABLE ");
  sq_ident(q, s->table);
  sl_buf_appendf(q, "; ALTER TABLE ");
  sq_ident(q, s->stage);
  sl_buf_appendf(q, " RENAME TO ");
  sq_ident(q, s->table);
  sl_code rc = sq_exec(d, sl_buf_cstr(q), err);
  *swapped = rc == SL_EOK;
  return rc;
}

/* At COMPLETE: in one transaction, drop the rows the refresh replaces, move
 * the stage in, drop the stage. Until then the old rows stay readable. */
sl_code sq_swap(sdb *d, sstream *s, sl_err *err) {
  sl_code rc;
  if (d->in_tx && (rc = sq_commit(d, err))) return rc;
  sqlite3_finalize(s->ins); /* it holds the stage */
  s->ins = NULL;
  if ((rc = sq_exec(d, "BEGIN IMMEDIATE", err))) return rc;
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "DELETE FROM ");
  sq_ident(q, s->table);
  if (s->truncate)
    sl_buf_appendf(q, " WHERE _airbyte_generation_id IS NULL OR _airbyte_generation_id < %lld",
                   (long long)s->ds->cs->minimum_generation_id);
  rc = sq_exec(d, sl_buf_cstr(q), err);
  int deleted = rc ? 0 : sqlite3_changes(d->db);
  bool swapped = false;
  if (!rc && !s->dedup) rc = rename_swap(d, s, &swapped, err);
  if (!rc && !swapped) rc = transfer(d, s, err);
  if ((rc = in_tx(d, rc, err))) return rc;
  sl_dest_log("INFO", "table \"%s\": replaced %d old rows with the new ones", s->table, deleted);
  s->staged = false;
  /* Records after COMPLETE (there should be none) go to the table itself. */
  return sq_prepare_insert(d, s, s->table, err);
}

void sq_stream_free(sstream *s) {
  sqlite3_finalize(s->ins);
  for (size_t i = 0; s->cols && i < s->ncols; i++) free(s->cols[i].name);
  free(s->cols);
  free(s->hash);
  free(s->pk);
  free(s->vals);
  free(s->seen);
  free(s->changed);
  free(s->doff);
  free(s->dlen);
  free(s->dcol);
  free(s->table);
  free(s->stage);
  memset(s, 0, sizeof *s);
}
