/* destination-mysql: tables, schema changes, stages, dedup merges and swaps.
 * Everything here is cold: once per stream, per flush or per COMPLETE.
 * Identifiers are quoted with backticks (my_ident); values never appear in
 * SQL text except integers we format (generation ids). */
#include <stdio.h>
#include <stdlib.h>

#include "mydest.h"

const char *const my_meta_names[N_META] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                           "_airbyte_generation_id"};
static const char *const meta_types[N_META] = {"VARCHAR(36) NOT NULL", "DATETIME(6) NOT NULL",
                                               "LONGTEXT NOT NULL", "BIGINT"};

const char *md_sql_type(sl_col_type t) {
  switch (t) {
    case SL_COL_INTEGER: return "BIGINT";
    case SL_COL_NUMBER: return "DECIMAL(38,9)";
    case SL_COL_BOOLEAN: return "BOOLEAN";
    case SL_COL_DATE: return "DATE";
    case SL_COL_TIME: return "TIME(6)";
    case SL_COL_TIME_TZ: return "VARCHAR(32)";
    case SL_COL_TIMESTAMP:
    case SL_COL_TIMESTAMP_TZ: return "DATETIME(6)"; /* with time zone: stored in UTC */
    case SL_COL_OBJECT:
    case SL_COL_ARRAY:
    case SL_COL_JSON: return "JSON";
    default: return "LONGTEXT";
  }
}

/* information_schema DATA_TYPE of each SQL type above. */
static const char *data_type(sl_col_type t) {
  switch (t) {
    case SL_COL_INTEGER: return "bigint";
    case SL_COL_NUMBER: return "decimal";
    case SL_COL_BOOLEAN: return "tinyint";
    case SL_COL_DATE: return "date";
    case SL_COL_TIME: return "time";
    case SL_COL_TIME_TZ: return "varchar";
    case SL_COL_TIMESTAMP:
    case SL_COL_TIMESTAMP_TZ: return "datetime";
    case SL_COL_STRING: return "longtext";
    default: return "json"; /* MariaDB reports JSON as longtext */
  }
}

static sl_code exec_sql(mdb *d, sl_err *err) {
  return my_exec(d->m, d->sql.data, d->sql.len, err);
}

static void col_list(sl_buf *q, const mstream *s, const char *alias) {
  for (size_t i = 0; i < s->cols.n + N_META; i++) {
    if (i) sl_buf_putc(q, ',');
    if (alias) sl_buf_appendf(q, "%s.", alias);
    my_ident(q, i < s->cols.n ? s->cols.cols[i].name : my_meta_names[i - s->cols.n]);
  }
}

/* "a.k1 <=> b.k1 AND ..." */
static void pk_match(sl_buf *q, const mstream *s, const char *a, const char *b) {
  for (size_t i = 0; i < s->npk; i++) {
    if (i) sl_buf_appendf(q, " AND ");
    const char *c = s->cols.cols[s->pk[i]].name;
    sl_buf_appendf(q, "%s.", a);
    my_ident(q, c);
    sl_buf_appendf(q, " <=> %s.", b);
    my_ident(q, c);
  }
}

static sl_code create_table(mdb *d, mstream *s, const char *name, bool dd, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "CREATE TABLE IF NOT EXISTS ");
  my_ident(q, name);
  sl_buf_putc(q, '(');
  for (size_t i = 0; i < s->cols.n; i++) {
    my_ident(q, s->cols.cols[i].name);
    sl_buf_appendf(q, " %s, ", md_sql_type(s->cols.cols[i].type));
  }
  for (size_t i = 0; i < N_META; i++) {
    my_ident(q, my_meta_names[i]);
    sl_buf_appendf(q, " %s%s", meta_types[i], i + 1 < N_META ? ", " : "");
  }
  if (dd) sl_buf_appendf(q, ", _sl_seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY");
  if (s->npk && s->npk <= 16) { /* an index for dedup joins; strings by prefix */
    sl_buf_appendf(q, ", KEY _airbyte_pk (");
    for (size_t i = 0; i < s->npk; i++) {
      const sl_col *c = &s->cols.cols[s->pk[i]];
      if (i) sl_buf_putc(q, ',');
      my_ident(q, c->name);
      if (c->type == SL_COL_STRING || sl_col_type_is_json(c->type)) sl_buf_appendf(q, "(%d)", 760 / (int)s->npk);
    }
    sl_buf_putc(q, ')');
  }
  sl_buf_appendf(q, ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  if (!q->data) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = exec_sql(d, err);
  return rc ? sl_err_wrap(err, "creating table %s", name) : SL_EOK;
}

static sl_code table_exists(mdb *d, const char *name, bool *yes, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ");
  my_lit(q, name, strlen(name));
  if (mysql_real_query(d->m, q->data, q->len)) return my_fail(d->m, err, "looking up table %s", name);
  MYSQL_RES *r = mysql_store_result(d->m);
  *yes = r && mysql_num_rows(r) > 0;
  mysql_free_result(r);
  return SL_EOK;
}

/* New columns are added; a changed type is widened without losing data:
 * integer to number becomes DECIMAL, anything else becomes LONGTEXT (every
 * value has a text form) and the column is then written as text. */
static sl_code evolve(mdb *d, mstream *s, const char *name, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                 "AND TABLE_NAME = ");
  my_lit(q, name, strlen(name));
  if (mysql_real_query(d->m, q->data, q->len)) return my_fail(d->m, err, "reading the columns of %s", name);
  MYSQL_RES *r = mysql_store_result(d->m);
  if (!r) return my_fail(d->m, err, "reading the columns of %s", name);
  size_t nrows = (size_t)mysql_num_rows(r);
  char **have = calloc(2 * nrows + 1, sizeof *have);
  MYSQL_ROW row;
  for (size_t i = 0; have && (row = mysql_fetch_row(r)); i++) {
    have[2 * i] = strdup(row[0] ? row[0] : "");
    have[2 * i + 1] = strdup(row[1] ? row[1] : "");
  }
  mysql_free_result(r);
  if (!have) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = SL_EOK;
  for (size_t c = 0; c < s->cols.n && !rc; c++) {
    sl_col *col = &s->cols.cols[c];
    const char *dt = NULL;
    for (size_t i = 0; i < nrows; i++)
      if (have[2 * i] && !strcasecmp(have[2 * i], col->name)) dt = have[2 * i + 1];
    q->len = 0;
    const char *want = data_type(col->type);
    if (!dt) {
      sl_buf_appendf(q, "ALTER TABLE ");
      my_ident(q, name);
      sl_buf_appendf(q, " ADD COLUMN ");
      my_ident(q, col->name);
      sl_buf_appendf(q, " %s", md_sql_type(col->type));
      sl_dest_log("INFO", "table %s: adding column %s (%s)", name, col->name, md_sql_type(col->type));
    } else if (!strcmp(dt, want) || (!strcmp(dt, "longtext") && sl_col_type_is_json(col->type)) ||
               (!strcmp(dt, "json") && sl_col_type_is_json(col->type))) {
      continue;
    } else if (!strcmp(dt, "longtext") || !strcmp(dt, "json")) {
      col->type = !strcmp(dt, "json") ? SL_COL_JSON : SL_COL_STRING; /* keep it; write text */
      continue;
    } else {
      bool widen = !strcmp(dt, "bigint") && col->type == SL_COL_NUMBER;
      sl_buf_appendf(q, "ALTER TABLE ");
      my_ident(q, name);
      sl_buf_appendf(q, " MODIFY COLUMN ");
      my_ident(q, col->name);
      sl_buf_appendf(q, " %s", widen ? "DECIMAL(38,9)" : "LONGTEXT");
      sl_dest_log("WARN", "table %s: column %s was %s and the stream now says %s; changed it to %s", name,
                  col->name, dt, sl_col_type_name(col->type), widen ? "DECIMAL(38,9)" : "LONGTEXT");
      if (!widen) col->type = SL_COL_STRING;
    }
    rc = exec_sql(d, err);
  }
  /* A table we did not create may lack the _airbyte_ columns. */
  for (size_t m = 0; m < N_META && !rc; m++) {
    bool found = false;
    for (size_t i = 0; i < nrows; i++) found |= have[2 * i] && !strcasecmp(have[2 * i], my_meta_names[m]);
    if (found) continue;
    q->len = 0;
    sl_buf_appendf(q, "ALTER TABLE ");
    my_ident(q, name);
    sl_buf_appendf(q, " ADD COLUMN ");
    my_ident(q, my_meta_names[m]);
    sl_buf_appendf(q, " %.*s", (int)strcspn(meta_types[m], " "), meta_types[m]); /* nullable: old rows have none */
    sl_dest_log("INFO", "table %s: adding column %s", name, my_meta_names[m]);
    rc = exec_sql(d, err);
  }
  for (size_t i = 0; i < 2 * nrows; i++) free(have[i]);
  free(have);
  return rc;
}

static sl_code drop(mdb *d, const char *name, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "DROP TABLE IF EXISTS ");
  my_ident(q, name);
  return exec_sql(d, err);
}

static sl_code commit(mdb *d, sl_err *err) {
  if (mysql_commit(d->m)) return my_fail(d->m, err, "COMMIT");
  d->in_tx = false;
  return SL_EOK;
}

/* INSERT INTO to (columns) SELECT columns FROM from [extra] */
static sl_code copy_rows(mdb *d, mstream *s, const char *to, const char *from, const char *extra, sl_err *err) {
  sl_buf *q = &d->sql;
  q->len = 0;
  sl_buf_appendf(q, "INSERT INTO ");
  my_ident(q, to);
  sl_buf_putc(q, '(');
  col_list(q, s, NULL);
  sl_buf_appendf(q, ") SELECT ");
  col_list(q, s, NULL);
  sl_buf_appendf(q, " FROM ");
  my_ident(q, from);
  sl_buf_appendf(q, "%s", extra);
  return exec_sql(d, err);
}

static void build_load_sql(mstream *s) {
  sl_buf *q = &s->load_sql;
  q->len = 0;
  sl_buf_appendf(q, "LOAD DATA LOCAL INFILE 'sluice-batch' INTO TABLE ");
  my_ident(q, s->load_into);
  sl_buf_appendf(q, " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                 "LINES TERMINATED BY '\\n' (");
  col_list(q, s, NULL);
  sl_buf_putc(q, ')');
}

static void set_targets(mstream *s) {
  s->target = s->staged ? s->stage : s->table;
  s->load_into = s->dedup ? s->dd : s->target;
  build_load_sql(s);
}

sl_code md_prepare_stream(mdb *d, mstream *s, sl_err *err) {
  sl_code rc;
  bool stage_exists = false;
  /* A table that the swap replaces whole keeps its columns until then. */
  const sl_cstream *cs = s->ds->cs;
  bool replaced = s->staged && (!s->truncate || cs->minimum_generation_id >= s->gen);
  if ((rc = create_table(d, s, s->table, false, err)) || (!replaced && (rc = evolve(d, s, s->table, err))) ||
      (rc = table_exists(d, s->stage, &stage_exists, err)))
    return rc;
  if (stage_exists && s->staged && s->has_gen) {
    /* A stage of another generation is stale: its sync was abandoned. */
    sl_buf *q = &d->sql;
    q->len = 0;
    sl_buf_appendf(q, "SELECT 1 FROM ");
    my_ident(q, s->stage);
    sl_buf_appendf(q, " WHERE NOT (_airbyte_generation_id <=> %lld) LIMIT 1", (long long)s->gen);
    if (mysql_real_query(d->m, q->data, q->len)) return my_fail(d->m, err, "reading stage table %s", s->stage);
    MYSQL_RES *r = mysql_store_result(d->m);
    bool stale = r && mysql_num_rows(r) > 0;
    mysql_free_result(r);
    if (stale) {
      if ((rc = drop(d, s->stage, err))) return rc;
      stage_exists = false;
      sl_dest_log("INFO", "table %s: dropped the stage table of an earlier generation", s->table);
    }
  }
  if (stage_exists && s->staged)
    sl_dest_log("INFO", "table %s: resuming into the stage table left by an earlier attempt", s->table);
  if (s->staged || stage_exists) {
    if ((rc = create_table(d, s, s->stage, false, err)) || (rc = evolve(d, s, s->stage, err))) return rc;
  }
  if (stage_exists && !s->staged) {
    /* Rows an earlier overwrite attempt committed (and whose states were
     * echoed) must not be lost when the stream is now appended. */
    if ((rc = copy_rows(d, s, s->table, s->stage, "", err)) || (rc = commit(d, err)) ||
        (rc = drop(d, s->stage, err)))
      return rc;
    sl_dest_log("INFO", "table %s: moved the rows staged by an earlier attempt into the table", s->table);
  }
  if (s->dedup && ((rc = drop(d, s->dd, err)) || (rc = create_table(d, s, s->dd, true, err)))) return rc;
  set_targets(s);
  return SL_EOK;
}

/* Runs inside the flush's transaction, after this batch was loaded into
 * the dd table: newest cursor wins (ties: the later record), CDC deletes
 * remove the row. */
sl_code md_merge(mdb *d, mstream *s, sl_err *err) {
  sl_buf *q = &d->sql;
  sl_code rc;
  const char *cur = s->cursor >= 0 ? s->cols.cols[s->cursor].name : NULL;
  /* 1. one row per key within the batch */
  q->len = 0;
  sl_buf_appendf(q, "DELETE FROM ");
  my_ident(q, s->dd);
  sl_buf_appendf(q, " WHERE _sl_seq IN (SELECT _sl_seq FROM (SELECT _sl_seq, ROW_NUMBER() OVER (PARTITION BY ");
  for (size_t i = 0; i < s->npk; i++) {
    if (i) sl_buf_putc(q, ',');
    my_ident(q, s->cols.cols[s->pk[i]].name);
  }
  sl_buf_appendf(q, " ORDER BY ");
  if (cur) {
    my_ident(q, cur);
    sl_buf_appendf(q, " DESC, ");
  }
  sl_buf_appendf(q, "_sl_seq DESC) AS rn FROM ");
  my_ident(q, s->dd);
  sl_buf_appendf(q, ") AS x WHERE rn > 1)");
  if ((rc = exec_sql(d, err))) return rc;
  /* 2. batch rows older than the table's row lose */
  if (cur) {
    q->len = 0;
    sl_buf_appendf(q, "DELETE n FROM ");
    my_ident(q, s->dd);
    sl_buf_appendf(q, " AS n JOIN ");
    my_ident(q, s->target);
    sl_buf_appendf(q, " AS o ON ");
    pk_match(q, s, "n", "o");
    sl_buf_appendf(q, " WHERE o.");
    my_ident(q, cur);
    sl_buf_appendf(q, " IS NOT NULL AND (n.");
    my_ident(q, cur);
    sl_buf_appendf(q, " IS NULL OR o.");
    my_ident(q, cur);
    sl_buf_appendf(q, " > n.");
    my_ident(q, cur);
    sl_buf_putc(q, ')');
    if ((rc = exec_sql(d, err))) return rc;
  }
  /* 3. the table's rows that the batch replaces (or deletes) go */
  q->len = 0;
  sl_buf_appendf(q, "DELETE o FROM ");
  my_ident(q, s->target);
  sl_buf_appendf(q, " AS o JOIN ");
  my_ident(q, s->dd);
  sl_buf_appendf(q, " AS n ON ");
  pk_match(q, s, "o", "n");
  if ((rc = exec_sql(d, err))) return rc;
  /* 4. the batch's rows move in, except CDC deletions */
  char extra[200] = " ORDER BY _sl_seq";
  if (s->cdc_deleted >= 0) {
    sl_buf b;
    sl_buf_init(&b, 1 << 12);
    sl_buf_appendf(&b, " WHERE ");
    my_ident(&b, s->cols.cols[s->cdc_deleted].name);
    sl_buf_appendf(&b, " IS NULL ORDER BY _sl_seq");
    snprintf(extra, sizeof extra, "%s", sl_buf_cstr(&b));
    sl_buf_dispose(&b);
  }
  if ((rc = copy_rows(d, s, s->target, s->dd, extra, err))) return rc;
  q->len = 0;
  sl_buf_appendf(q, "DELETE FROM ");
  my_ident(q, s->dd);
  return exec_sql(d, err);
}

/* At COMPLETE (after the flush that committed every row): the stage
 * replaces the table. RENAME TABLE swaps both names in one atomic step, so
 * readers see the old rows or the new ones, never a mix or nothing. */
sl_code md_swap(mdb *d, mstream *s, sl_err *err) {
  sl_code rc;
  const sl_cstream *cs = s->ds->cs;
  if (!s->truncate || cs->minimum_generation_id >= s->gen) {
    char old[MY_NAME_MAX + 1];
    char base[MY_NAME_MAX + 1];
    snprintf(base, sizeof base, "%s", s->table);
    snprintf(old, sizeof old, "_airbyte_old_%.*s", MY_NAME_MAX - 13, base);
    if ((rc = drop(d, old, err))) return rc;
    sl_buf *q = &d->sql;
    q->len = 0;
    sl_buf_appendf(q, "RENAME TABLE ");
    my_ident(q, s->table);
    sl_buf_appendf(q, " TO ");
    my_ident(q, old);
    sl_buf_appendf(q, ", ");
    my_ident(q, s->stage);
    sl_buf_appendf(q, " TO ");
    my_ident(q, s->table);
    if ((rc = exec_sql(d, err)) || (rc = drop(d, old, err))) return rc;
    sl_dest_log("INFO", "table %s: replaced by the rows of this sync", s->table);
  } else {
    /* Keep the generations from minimum_generation_id on. */
    sl_buf *q = &d->sql;
    q->len = 0;
    sl_buf_appendf(q, "DELETE FROM ");
    my_ident(q, s->table);
    sl_buf_appendf(q, " WHERE _airbyte_generation_id IS NULL OR _airbyte_generation_id < %lld",
                   (long long)cs->minimum_generation_id);
    if ((rc = exec_sql(d, err)) || (rc = copy_rows(d, s, s->table, s->stage, "", err)) ||
        (rc = commit(d, err)) || (rc = drop(d, s->stage, err)))
      return rc;
  }
  s->staged = false;
  set_targets(s); /* records after COMPLETE (there should be none) go to the table */
  return SL_EOK;
}

void md_stream_free(mstream *s) {
  sl_col_set_dispose(&s->cols);
  free(s->pk);
  free(s->vals);
  free(s->seen);
  free(s->changes);
  sl_buf_dispose(&s->rows);
  sl_buf_dispose(&s->load_sql);
  memset(s, 0, sizeof *s);
}
