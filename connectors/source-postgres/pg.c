/* source-postgres: config, connections and the system catalog. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "pgsrc.h"

sl_code pg_cfg_load(const json_t *config, pg_cfg *c, sl_err *err) {
  memset(c, 0, sizeof *c);
  c->json = config;
  c->host = json_string_value(json_object_get(config, "host"));
  c->port = (int)json_integer_value(json_object_get(config, "port"));
  c->database = json_string_value(json_object_get(config, "database"));
  c->username = json_string_value(json_object_get(config, "username"));
  c->password = json_string_value(json_object_get(config, "password"));
  /* ssl_mode: a string, or Airbyte's {"mode": "..."} object */
  const json_t *ssl = json_object_get(config, "ssl_mode");
  c->ssl_mode = json_is_object(ssl) ? json_string_value(json_object_get(ssl, "mode"))
                                    : json_string_value(ssl);
  if (!c->ssl_mode) c->ssl_mode = "prefer";
  c->chunk_rows = json_integer_value(json_object_get(config, "chunk_rows"));
  if (c->chunk_rows < 1) c->chunk_rows = 10000;
  if (!c->port) c->port = 5432;
  if (!c->host || !c->database || !c->username)
    return sl_err_set(err, SL_ECONFIG, "config: host, database and username are required");
  const json_t *sch = json_object_get(config, "schemas");
  size_t n = json_is_array(sch) ? json_array_size(sch) : 0;
  c->schemas = calloc(n + 2, sizeof *c->schemas);
  if (!c->schemas) return SL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *s = json_string_value(json_array_get(sch, i));
    if (!s) return sl_err_set(err, SL_ECONFIG, "config field schemas[%zu]: expected a string", i);
    c->schemas[i] = strdup(s);
  }
  if (!n) c->schemas[0] = strdup("public");
  const json_t *rm = json_object_get(config, "replication_method");
  const char *method = json_string_value(json_object_get(rm, "method"));
  if (method && !strcmp(method, "CDC")) {
    c->cdc = true;
    c->slot = json_string_value(json_object_get(rm, "replication_slot"));
    c->publication = json_string_value(json_object_get(rm, "publication"));
    if (!c->slot || !*c->slot || !c->publication || !*c->publication)
      return sl_err_set(err, SL_ECONFIG,
                        "config field replication_method: CDC needs replication_slot and publication");
  }
  return sl_dbfilter_init(&c->filter, config, err);
}

void pg_cfg_dispose(pg_cfg *c) {
  for (size_t i = 0; c->schemas && c->schemas[i]; i++) free(c->schemas[i]);
  free(c->schemas);
  sl_dbfilter_dispose(&c->filter);
  memset(c, 0, sizeof *c);
}

static bool table_selected(const pg_cfg *c, const char *schema, const char *name) {
  char full[1024];
  snprintf(full, sizeof full, "%s.%s", schema, name);
  return sl_dbfilter_match(&c->filter, full);
}

sl_code pg_fail(PGconn *conn, const PGresult *res, sl_err *err, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *msg = res ? PQresultErrorMessage(res) : "";
  if (!msg || !*msg) msg = PQerrorMessage(conn);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  char clean[700];
  snprintf(clean, sizeof clean, "%s", msg);
  size_t l = strlen(clean);
  while (l && (clean[l - 1] == '\n' || clean[l - 1] == ' ')) clean[--l] = 0;
  sl_code code = SL_ESOURCE;
  if (PQstatus(conn) != CONNECTION_OK) code = SL_ETRANSIENT; /* server gone or restarting */
  else if (state && (!strncmp(state, "42", 2) || !strncmp(state, "3F", 2))) code = SL_ECONFIG;
  else if (state && (!strncmp(state, "57P", 3) || !strncmp(state, "08", 2))) code = SL_ETRANSIENT;
  return sl_err_set(err, code, "%s: %s", what, clean);
}

sl_code pg_exec(PGconn *conn, const char *sql, const char *what, sl_err *err) {
  PGresult *r = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(r);
  sl_code rc = SL_EOK;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) rc = pg_fail(conn, r, err, "%s", what);
  PQclear(r);
  return rc;
}

sl_code pg_connect(const pg_cfg *c, bool replication, PGconn **out, sl_err *err) {
  char port[16];
  snprintf(port, sizeof port, "%d", c->port);
  /* Values come back in the forms conv.c expects, on both kinds of
   * connection (logical decoding formats with the walsender's settings). */
  const char *opts = "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601 "
                     "-c extra_float_digits=1 -c bytea_output=hex -c statement_timeout=0";
  const char *keys[] = {"host", "port", "dbname", "user", "password", "sslmode",
                        "connect_timeout", "application_name", "client_encoding", "options",
                        replication ? "replication" : NULL, NULL};
  const char *vals[] = {c->host, port, c->database, c->username, c->password ? c->password : "",
                        c->ssl_mode, "10", "sluice-source-postgres", "UTF8", opts,
                        replication ? "database" : NULL, NULL};
  *out = NULL;
  PGconn *conn = PQconnectdbParams(keys, vals, 0);
  if (!conn) return SL_ENOMEM;
  if (PQstatus(conn) != CONNECTION_OK) {
    char msg[700];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
    size_t l = strlen(msg);
    while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' ')) msg[--l] = 0;
    PQfinish(conn);
    bool auth = strstr(msg, "password authentication failed") || strstr(msg, "no password") ||
                strstr(msg, "does not exist") || strstr(msg, "no pg_hba.conf entry");
    return sl_err_set(err, auth ? SL_ECONFIG : SL_ETRANSIENT,
                      "cannot connect to PostgreSQL at %s:%d, database \"%s\" as \"%s\": %s",
                      c->host, c->port, c->database, c->username, msg);
  }
  *out = conn;
  return SL_EOK;
}

char *pg_ident(PGconn *conn, const char *name) {
  char *q = PQescapeIdentifier(conn, name, strlen(name));
  char *s = q ? strdup(q) : NULL;
  PQfreemem(q);
  return s;
}

char *pg_qualified(PGconn *conn, const pg_table *t) {
  char *a = pg_ident(conn, t->schema), *b = pg_ident(conn, t->name), *s = NULL;
  if (a && b && asprintf(&s, "%s.%s", a, b) < 0) s = NULL;
  free(a);
  free(b);
  return s;
}

static pg_kind kind_of(const char *typname, char typtype, char category) {
  static const struct {
    const char *n;
    pg_kind k;
  } m[] = {{"int2", PGK_INT},       {"int4", PGK_INT},         {"int8", PGK_INT},
           {"oid", PGK_INT},        {"float4", PGK_FLOAT},     {"float8", PGK_FLOAT},
           {"numeric", PGK_NUMERIC}, {"bool", PGK_BOOL},       {"date", PGK_DATE},
           {"time", PGK_TIME},      {"timetz", PGK_TIMETZ},    {"timestamp", PGK_TIMESTAMP},
           {"timestamptz", PGK_TIMESTAMPTZ}, {"json", PGK_JSON}, {"jsonb", PGK_JSON},
           {"bytea", PGK_BYTEA}};
  (void)typtype;
  (void)category;
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
    if (!strcmp(typname, m[i].n)) return m[i].k;
  return PGK_STRING; /* text, varchar, uuid, enums, inet, interval, money, ... */
}

/* One row per column: the base type (through domains) and, for arrays, the
 * element's base type. */
static const char tables_sql[] =
    "SELECT n.nspname, c.relname, c.relkind::text, a.attname, format_type(a.atttypid, a.atttypmod),"
    " bt.typname, bt.typtype::text, bt.typcategory::text, coalesce(et.typname, ''), a.attnotnull,"
    " coalesce((SELECT array_to_string(array_agg(ka.attname ORDER BY k.ord), chr(1))"
    "   FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord), pg_attribute ka"
    "   WHERE i.indrelid = c.oid AND i.indisprimary AND ka.attrelid = c.oid"
    "   AND ka.attnum = k.attnum), '')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " JOIN pg_type t ON t.oid = a.atttypid"
    " JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
    " LEFT JOIN pg_type et0 ON et0.oid = bt.typelem AND bt.typcategory = 'A'"
    " LEFT JOIN pg_type et ON et.oid = CASE WHEN et0.typtype = 'd' THEN et0.typbasetype ELSE et0.oid END"
    " WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname = ANY($1::text[])"
    " AND ($2::text IS NULL OR c.relname = $2) AND has_table_privilege(c.oid, 'SELECT')"
    " ORDER BY n.nspname, c.relname, a.attnum";

static char *pg_array_literal(const char *const *items) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_buf_putc(&b, '{');
  for (size_t i = 0; items[i]; i++) {
    if (i) sl_buf_putc(&b, ',');
    sl_buf_putc(&b, '"');
    for (const char *p = items[i]; *p; p++) {
      if (*p == '"' || *p == '\\') sl_buf_putc(&b, '\\');
      sl_buf_putc(&b, *p);
    }
    sl_buf_putc(&b, '"');
  }
  sl_buf_putc(&b, '}');
  char *s = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return s;
}

static char *make_key(const char *name, size_t *len) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_json_escape(&b, name, strlen(name));
  sl_buf_putc(&b, ':');
  *len = b.len;
  char *k = malloc(b.len + 1);
  if (k) memcpy(k, b.data, b.len + 1);
  sl_buf_dispose(&b);
  return k;
}

sl_code pg_tables_load(PGconn *conn, const pg_cfg *c, const char *schema, const char *name,
                       pg_table **out, size_t *n, sl_err *err) {
  *out = NULL;
  *n = 0;
  const char *one[] = {schema, NULL};
  char *arr = pg_array_literal(schema ? one : (const char *const *)c->schemas);
  const char *params[] = {arr, name};
  PGresult *r = PQexecParams(conn, tables_sql, 2, NULL, params, NULL, NULL, 0);
  free(arr);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    sl_code rc = pg_fail(conn, r, err, "reading the table list");
    PQclear(r);
    return rc;
  }
  int rows = PQntuples(r);
  pg_table *ts = calloc((size_t)rows + 1, sizeof *ts);
  size_t nt = 0;
  for (int i = 0; i < rows; i++) {
    const char *sch = PQgetvalue(r, i, 0), *tab = PQgetvalue(r, i, 1);
    if (!schema && !table_selected(c, sch, tab)) continue;
    pg_table *t = nt ? &ts[nt - 1] : NULL;
    if (!t || strcmp(t->schema, sch) || strcmp(t->name, tab)) {
      t = &ts[nt++];
      t->schema = strdup(sch);
      t->name = strdup(tab);
      t->kind = PQgetvalue(r, i, 2)[0];
      t->cols = calloc((size_t)rows, sizeof *t->cols);
      const char *pk = PQgetvalue(r, i, 10);
      size_t np = *pk ? 1 : 0;
      for (const char *p = pk; *p; p++) np += *p == 1;
      t->pk = calloc(np + 1, sizeof *t->pk);
      char *copy = strdup(pk), *save = NULL;
      for (char *tok = strtok_r(copy, "\001", &save); tok; tok = strtok_r(NULL, "\001", &save))
        t->pk[t->n_pk++] = strdup(tok);
      free(copy);
    }
    pg_col *col = &t->cols[t->n_cols++];
    col->name = strdup(PQgetvalue(r, i, 3));
    col->type = strdup(PQgetvalue(r, i, 4));
    col->kind = kind_of(PQgetvalue(r, i, 5), PQgetvalue(r, i, 6)[0], PQgetvalue(r, i, 7)[0]);
    if (PQgetvalue(r, i, 7)[0] == 'A') {
      col->kind = PGK_ARRAY;
      col->elem = kind_of(PQgetvalue(r, i, 8), 0, 0);
    }
    col->not_null = PQgetvalue(r, i, 9)[0] == 't';
    col->key = make_key(col->name, &col->key_len);
  }
  PQclear(r);
  *out = ts;
  *n = nt;
  return SL_EOK;
}

void pg_tables_free(pg_table *ts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    pg_table *t = &ts[i];
    for (size_t j = 0; j < t->n_cols; j++) {
      free(t->cols[j].name);
      free(t->cols[j].type);
      free(t->cols[j].key);
    }
    for (size_t j = 0; j < t->n_pk; j++) free(t->pk[j]);
    free(t->pk);
    free(t->cols);
    free(t->schema);
    free(t->name);
  }
  free(ts);
}

const pg_col *pg_table_col(const pg_table *t, const char *name) {
  for (size_t i = 0; i < t->n_cols; i++)
    if (!strcmp(t->cols[i].name, name)) return &t->cols[i];
  return NULL;
}

static json_t *kind_schema(pg_kind k) {
  switch (k) {
    case PGK_INT: return json_pack("{s:s}", "type", "integer");
    case PGK_FLOAT:
    case PGK_NUMERIC: return json_pack("{s:s}", "type", "number");
    case PGK_BOOL: return json_pack("{s:s}", "type", "boolean");
    case PGK_DATE: return json_pack("{s:s, s:s}", "type", "string", "format", "date");
    case PGK_TIME:
      return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "time", "airbyte_type",
                       "time_without_timezone");
    case PGK_TIMETZ:
      return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "time", "airbyte_type",
                       "time_with_timezone");
    case PGK_TIMESTAMP:
      return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time", "airbyte_type",
                       "timestamp_without_timezone");
    case PGK_TIMESTAMPTZ:
      return json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time", "airbyte_type",
                       "timestamp_with_timezone");
    case PGK_JSON: return json_object(); /* any JSON value */
    case PGK_BYTEA: return json_pack("{s:s, s:s}", "type", "string", "contentEncoding", "base64");
    case PGK_ARRAY:
    case PGK_STRING: break;
  }
  return json_pack("{s:s}", "type", "string");
}

/* Nullable columns (and every value that may come out as null: NaN) get
 * ["null", type]. */
json_t *pg_col_schema(const pg_col *col) {
  json_t *s;
  if (col->kind == PGK_ARRAY) {
    json_t *items = kind_schema(col->elem);
    if (json_object_get(items, "type"))
      json_object_set_new(items, "type", json_pack("[s,O]", "null", json_object_get(items, "type")));
    s = json_pack("{s:s, s:o}", "type", "array", "items", items);
  } else {
    s = kind_schema(col->kind);
  }
  const json_t *type = json_object_get(s, "type");
  bool nullable = !col->not_null || col->kind == PGK_FLOAT || col->kind == PGK_NUMERIC;
  if (type && nullable) json_object_set_new(s, "type", json_pack("[s,O]", "null", type));
  return s;
}
