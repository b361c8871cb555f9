/* source-mysql: tables and views of a MySQL or MariaDB database.
 *
 * Discovery reads information_schema (tables, columns, primary keys) for
 * the configured database; types map as the README says. Reads are chunked
 * keyset queries in key order through the text protocol, streamed with
 * mysql_use_result (read.c). The state format is the database sources'
 * (include/sluice/dbsrc.h). */
#include <stdio.h>
#include <stdlib.h>

#include "mysrc.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"MySQL Source Spec\","
    "\"type\":\"object\",\"required\":[" MY_CONN_REQUIRED "],\"additionalProperties\":true,"
    "\"properties\":{" MY_CONN_SPEC "," SL_DBSRC_FILTER_SPEC "}}";

static sl_dbtype map_type(const char *dt, const char *ct, unsigned *native, int *width) {
  *native = MYN_PLAIN;
  *width = 0;
  const char *paren = strchr(ct, '(');
  if (paren) *width = atoi(paren + 1);
  if (!strcmp(dt, "tinyint") && !strncmp(ct, "tinyint(1)", 10)) return SL_DB_BOOL;
  if (!strcmp(dt, "tinyint") || !strcmp(dt, "smallint") || !strcmp(dt, "mediumint") ||
      !strcmp(dt, "int") || !strcmp(dt, "bigint") || !strcmp(dt, "year"))
    return SL_DB_INT;
  if (!strcmp(dt, "bit")) {
    *native = MYN_BIT;
    return *width == 1 ? SL_DB_BOOL : SL_DB_INT;
  }
  if (!strcmp(dt, "float") || !strcmp(dt, "double") || !strcmp(dt, "real")) return SL_DB_FLOAT;
  if (!strcmp(dt, "decimal") || !strcmp(dt, "numeric")) return SL_DB_DECIMAL;
  if (!strcmp(dt, "date")) return SL_DB_DATE;
  if (!strcmp(dt, "time")) return SL_DB_TIME;
  if (!strcmp(dt, "datetime")) return SL_DB_DATETIME;
  if (!strcmp(dt, "timestamp")) return SL_DB_TIMESTAMPTZ;
  if (!strcmp(dt, "json")) return SL_DB_JSON;
  if (!strcmp(dt, "enum")) return SL_DB_ENUM;
  if (strstr(dt, "binary") || strstr(dt, "blob") || !strcmp(dt, "geometry") || strstr(dt, "point") ||
      strstr(dt, "linestring") || strstr(dt, "polygon") || !strcmp(dt, "geometrycollection"))
    return SL_DB_BINARY;
  return SL_DB_STRING; /* char, varchar, text, set, uuid, inet, ... */
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const sl_dbtable *)a)->name, ((const sl_dbtable *)b)->name);
}

static sl_dbtable *find(sl_dbtable *t, size_t n, const char *name) {
  sl_dbtable key = {.name = (char *)name};
  return bsearch(&key, t, n, sizeof *t, by_name);
}

/* Runs a catalog query and hands each row to fn. */
static sl_code query_rows(MYSQL *m, sl_buf *q, sl_code (*fn)(void *ctx, MYSQL_ROW row), void *ctx,
                          sl_err *err) {
  if (mysql_real_query(m, q->data, q->len)) return my_fail(m, err, "reading information_schema");
  MYSQL_RES *res = mysql_store_result(m);
  if (!res) return my_fail(m, err, "reading information_schema");
  sl_code rc = SL_EOK;
  MYSQL_ROW row;
  while (!rc && (row = mysql_fetch_row(res))) rc = fn(ctx, row);
  mysql_free_result(res);
  return rc;
}

typedef struct loader {
  sl_dbtable *t;
  size_t n, cap;
  sl_dbfilter f;
  const char *db;
} loader;

static sl_code add_table(void *ctx, MYSQL_ROW row) {
  loader *l = ctx;
  if (!row[0] || !sl_dbfilter_match(&l->f, row[0])) return SL_EOK;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    sl_dbtable *t = realloc(l->t, cap * sizeof *t);
    if (!t) return SL_ENOMEM;
    l->t = t;
    l->cap = cap;
  }
  sl_dbtable *t = &l->t[l->n++];
  memset(t, 0, sizeof *t);
  t->name = strdup(row[0]);
  t->ns = strdup(l->db);
  t->is_view = row[1] && !strcmp(row[1], "VIEW");
  return t->name && t->ns ? SL_EOK : SL_ENOMEM;
}

static sl_code add_col(void *ctx, MYSQL_ROW row) {
  loader *l = ctx;
  sl_dbtable *t = find(l->t, l->n, row[0]);
  if (!t || !row[1] || !row[2] || !row[3]) return SL_EOK;
  unsigned native;
  int width;
  sl_dbtype ty = map_type(row[2], row[3], &native, &width);
  sl_dbcol *c = sl_dbtable_add_col(t, row[1], ty, !row[4] || strcmp(row[4], "NO"));
  if (!c) return SL_ENOMEM;
  c->native = native;
  c->width = width;
  c->is_unsigned = strstr(row[3], "unsigned") != NULL;
  return ty == SL_DB_ENUM ? sl_dbcol_parse_enum(c, row[3]) : SL_EOK;
}

static sl_code add_pk(void *ctx, MYSQL_ROW row) {
  loader *l = ctx;
  sl_dbtable *t = find(l->t, l->n, row[0]);
  int c = t && row[1] ? sl_dbtable_col(t, row[1]) : -1;
  if (c < 0) return SL_EOK;
  int *pk = realloc(t->pk, (t->npk + 1) * sizeof *pk);
  if (!pk) return SL_ENOMEM;
  t->pk = pk;
  pk[t->npk++] = c;
  return SL_EOK;
}

sl_code my_load_tables(MYSQL *m, const json_t *config, const char *only_table, sl_dbtable **out,
                       size_t *n, sl_err *err) {
  loader l = {.db = json_string_value(json_object_get(config, "database"))};
  sl_buf q;
  sl_buf_init(&q, 1 << 20);
  sl_code rc = sl_dbfilter_init(&l.f, config, err);
  /* The same condition for the three queries: this database (and table). */
  sl_buf cond;
  sl_buf_init(&cond, 1 << 20);
  sl_buf_appendf(&cond, " WHERE TABLE_SCHEMA = DATABASE()");
  if (only_table) {
    sl_buf_appendf(&cond, " AND TABLE_NAME = ");
    my_lit(&cond, only_table, strlen(only_table));
  }
  sl_buf_cstr(&cond);
  if (!rc) {
    sl_buf_appendf(&q, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES%s", cond.data);
    rc = query_rows(m, &q, add_table, &l, err);
  }
  if (!rc) {
    qsort(l.t, l.n, sizeof *l.t, by_name);
    q.len = 0;
    sl_buf_appendf(&q, "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM "
                   "information_schema.COLUMNS%s ORDER BY TABLE_NAME, ORDINAL_POSITION", cond.data);
    rc = query_rows(m, &q, add_col, &l, err);
  }
  if (!rc) {
    q.len = 0;
    sl_buf_appendf(&q, "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS%s AND "
                   "INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX", cond.data);
    rc = query_rows(m, &q, add_pk, &l, err);
  }
  if (rc == SL_ENOMEM && !err->msg[0]) sl_err_set(err, rc, "out of memory");
  sl_dbfilter_dispose(&l.f);
  sl_buf_dispose(&q);
  sl_buf_dispose(&cond);
  if (rc) {
    for (size_t i = 0; i < l.n; i++) sl_dbtable_free(&l.t[i]);
    free(l.t);
    return rc;
  }
  *out = l.t;
  *n = l.n;
  return SL_EOK;
}

static sl_code check(const json_t *config, sl_err *err) {
  MYSQL *m;
  sl_code rc = my_connect(config, &m, err);
  if (rc) return rc;
  sl_dbfilter f;
  if (!(rc = sl_dbfilter_init(&f, config, err))) sl_dbfilter_dispose(&f);
  mysql_close(m);
  return rc;
}

static sl_code discover(const json_t *config, json_t *streams, sl_err *err) {
  MYSQL *m;
  sl_code rc = my_connect(config, &m, err);
  if (rc) return rc;
  sl_dbtable *t = NULL;
  size_t n = 0;
  rc = my_load_tables(m, config, NULL, &t, &n, err);
  for (size_t i = 0; i < n; i++) {
    json_t *s = rc ? NULL : sl_dbtable_stream(&t[i]);
    if (!rc && !s) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (s) json_array_append_new(streams, s);
    sl_dbtable_free(&t[i]);
  }
  free(t);
  mysql_close(m);
  return rc;
}

static const sl_source source_mysql = {
    .name = "source-mysql",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/source-mysql",
    .check = check,
    .discover = discover,
    .read = my_read_stream,
};

int main(int argc, char **argv) {
  if (mysql_library_init(0, NULL, NULL)) {
    fprintf(stderr, "source-mysql: cannot initialise the MySQL client library\n");
    return 1;
  }
  int rc = sl_source_main(&source_mysql, argc, argv);
  mysql_library_end();
  return rc;
}
