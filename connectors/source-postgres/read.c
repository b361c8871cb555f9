/* source-postgres: full refresh and incremental reads.
 *
 * One COPY (SELECT ... ORDER BY key) TO STDOUT per stream: a single
 * snapshot, streamed by the server while we convert (the server and this
 * process work in parallel, unlike FETCH round trips). Rows come in key
 * order, so a checkpoint every chunk_rows rows names the last key read and
 * an interrupted read resumes after it:
 *   full refresh, primary key:  {"key":["id"],"last":[1200]}
 *   full refresh, no key:       {"ctid":"(57,12)","filenode":"16390"}
 *   full refresh, finished:     {"__ab_no_cursor_state_message":true}
 *   incremental:                {"cursor_field":"updated_at","cursor":"2024-05-01 10:00:00",
 *                                "key":["id"],"last":[77]}
 * Key values are JSON integers for integer columns and PostgreSQL's text
 * otherwise; the cursor is always that text, so it round-trips exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>

#include "pgsrc.h"

typedef enum rmode { RM_KEY, RM_CTID, RM_PLAIN } rmode;

typedef struct reader {
  sl_read *rd;
  const sl_cstream *cs;
  pg_cfg cfg;
  PGconn *conn;
  pg_table *tab;
  size_t ntab;
  rmode mode;
  bool incremental;
  const pg_col **sel; /* emitted columns, in SELECT order */
  size_t nsel;
  const pg_col **key; /* order key columns: [cursor,] pk... */
  size_t nkey;
  size_t *key_at;     /* position of each key column in the SELECT list */
  size_t ctid_at;
  bool has_cursor;
  json_t *last;       /* resume point from the state: array of nkey texts/ints */
  char *filenode;
  conv_ctx conv;
  sl_buf sql;
  const pg_cdc_snap *snap; /* CDC initial snapshot: add the _ab_cdc_ fields */
} reader;

static void reader_dispose(reader *r) {
  conv_dispose(&r->conv);
  sl_buf_dispose(&r->sql);
  free(r->sel);
  free(r->key);
  free(r->key_at);
  free(r->filenode);
  json_decref(r->last);
  pg_tables_free(r->tab, r->ntab);
  if (r->conn) PQfinish(r->conn);
  pg_cfg_dispose(&r->cfg);
}

/* A JSON state value for key column col from its text. */
static json_t *key_json(const pg_col *col, const char *s, size_t n) {
  if (col->kind == PGK_INT && n && n < 20) {
    char b[24];
    memcpy(b, s, n);
    b[n] = 0;
    char *end;
    long long v = strtoll(b, &end, 10);
    if (!*end) return json_integer(v);
  }
  return json_stringn(s, n);
}

/* The SQL literal of a state value, cast to the column's type. */
static sl_code put_literal(reader *r, const pg_col *col, const json_t *v, sl_err *err) {
  char num[32];
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (json_is_integer(v)) {
    n = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    s = num;
  }
  if (!s)
    return sl_err_set(err, SL_ESTATE, "state value for column %s must be a string or integer",
                      col->name);
  char *lit = PQescapeLiteral(r->conn, s, n);
  if (!lit) return pg_fail(r->conn, NULL, err, "quoting a state value");
  sl_buf_appendf(&r->sql, "%s::%s", lit, col->type);
  PQfreemem(lit);
  return SL_EOK;
}

static sl_code append_ident(reader *r, const char *name) {
  char *q = pg_ident(r->conn, name);
  if (!q) return SL_ENOMEM;
  sl_code rc = sl_buf_append(&r->sql, q, strlen(q));
  free(q);
  return rc;
}

/* Reads the input state into r->last (or a ctid start); a state of
 * another shape (a changed key) restarts the read with a warning. */
static sl_code load_resume(reader *r, sl_err *err) {
  const json_t *st = sl_read_state(r->rd);
  if (!json_is_object(st)) return SL_EOK;
  if (r->mode == RM_CTID) {
    const char *ctid = json_string_value(json_object_get(st, "ctid"));
    const char *fn = json_string_value(json_object_get(st, "filenode"));
    if (!ctid) return SL_EOK;
    if (!fn || strcmp(fn, r->filenode)) {
      sl_read_log(r->rd, "WARN", "stream %s: the table was rewritten since the last checkpoint "
                  "(VACUUM FULL, CLUSTER, TRUNCATE); reading it again from the start", r->cs->name);
      return SL_EOK;
    }
    r->last = json_pack("[s]", ctid);
    return SL_EOK;
  }
  if (r->mode != RM_KEY) return SL_EOK;
  json_t *last = json_array();
  size_t k0 = 0;
  if (r->incremental) {
    const char *cf = json_string_value(json_object_get(st, "cursor_field"));
    json_t *cur = json_object_get(st, "cursor");
    if (!cur) cur = json_object_get(st, r->key[0]->name); /* {"<cursor>": value} */
    else if (cf && strcmp(cf, r->key[0]->name)) cur = NULL;
    if (!cur) {
      if (cf) sl_read_log(r->rd, "WARN", "stream %s: the cursor changed from %s to %s; reading everything",
                          r->cs->name, cf, r->key[0]->name);
      json_decref(last);
      return SL_EOK;
    }
    json_array_append(last, cur);
    k0 = 1;
  }
  const json_t *keys = json_object_get(st, "key"), *vals = json_object_get(st, "last");
  bool same = json_array_size(keys) == r->nkey - k0 && json_array_size(vals) == r->nkey - k0;
  for (size_t i = k0; same && i < r->nkey; i++)
    same = json_is_string(json_array_get(keys, i - k0)) &&
           !strcmp(json_string_value(json_array_get(keys, i - k0)), r->key[i]->name);
  if (same) {
    for (size_t i = k0; i < r->nkey; i++) json_array_append(last, json_array_get(vals, i - k0));
  } else if (!r->incremental) {
    if (keys) sl_read_log(r->rd, "WARN", "stream %s: the state's key differs from the table's; reading from the start",
                          r->cs->name);
    json_decref(last);
    return SL_EOK;
  }
  (void)err;
  r->last = last;
  return SL_EOK;
}

static sl_code build_query(reader *r, sl_err *err) {
  sl_buf *q = &r->sql;
  sl_buf_append(q, "COPY (SELECT ", 13);
  size_t at = 0;
  for (size_t i = 0; i < r->nsel; i++, at++) {
    if (i) sl_buf_putc(q, ',');
    append_ident(r, r->sel[i]->name);
  }
  for (size_t k = 0; k < r->nkey; k++) { /* key columns outside the selection */
    r->key_at[k] = SIZE_MAX;
    for (size_t i = 0; i < r->nsel; i++)
      if (r->sel[i] == r->key[k]) r->key_at[k] = i;
    if (r->key_at[k] != SIZE_MAX) continue;
    if (at) sl_buf_putc(q, ',');
    append_ident(r, r->key[k]->name);
    r->key_at[k] = at++;
  }
  if (r->mode == RM_CTID) {
    if (at) sl_buf_putc(q, ',');
    sl_buf_append(q, "ctid", 4);
    r->ctid_at = at++;
  }
  if (!at) sl_buf_append(q, "1", 1); /* a table without columns */
  char *table = pg_qualified(r->conn, r->tab);
  sl_buf_appendf(q, " FROM %s", table);
  free(table);
  sl_code rc = SL_EOK;
  if (r->mode == RM_CTID) {
    /* A TID range scan reads pages in order: a plain scan may start mid-table
     * (synchronized scans). */
    const char *from = r->last ? json_string_value(json_array_get(r->last, 0)) : NULL;
    char *lit = PQescapeLiteral(r->conn, from ? from : "(0,0)", strlen(from ? from : "(0,0)"));
    sl_buf_appendf(q, " WHERE ctid %s %s::tid", from ? ">" : ">=", lit ? lit : "'(0,0)'");
    PQfreemem(lit);
  } else if (r->mode == RM_KEY && r->last) {
    size_t n = json_array_size(r->last);
    sl_buf_append(q, " WHERE (", 8);
    for (size_t k = 0; k < n; k++) {
      if (k) sl_buf_putc(q, ',');
      append_ident(r, r->key[k]->name);
    }
    sl_buf_append(q, ") > (", 5);
    for (size_t k = 0; k < n && !rc; k++) {
      if (k) sl_buf_putc(q, ',');
      rc = put_literal(r, r->key[k], json_array_get(r->last, k), err);
    }
    sl_buf_putc(q, ')');
  }
  if (r->mode == RM_KEY) {
    sl_buf_append(q, " ORDER BY ", 10);
    for (size_t k = 0; k < r->nkey; k++) {
      if (k) sl_buf_putc(q, ',');
      append_ident(r, r->key[k]->name);
    }
  }
  sl_buf_append(q, ") TO STDOUT", 11);
  if (!rc && !sl_buf_cstr(q)) rc = SL_ENOMEM;
  return rc;
}

/* The state of the position after the row in fields[]. */
static json_t *position(reader *r, const char **f, const size_t *l) {
  if (r->mode == RM_CTID) {
    return json_pack("{s:s%, s:s}", "ctid", f[r->ctid_at], l[r->ctid_at], "filenode", r->filenode);
  }
  json_t *st = json_object();
  size_t k0 = 0;
  if (r->incremental) {
    size_t n;
    const char *s = conv_text(&r->conv, f[r->key_at[0]], l[r->key_at[0]], &n);
    json_object_set_new(st, "cursor_field", json_string(r->key[0]->name));
    json_object_set_new(st, "cursor", s ? key_json(r->key[0], s, n) : json_null());
    k0 = 1;
  }
  if (r->nkey > k0) {
    json_t *keys = json_array(), *vals = json_array();
    for (size_t k = k0; k < r->nkey; k++) {
      size_t n;
      const char *s = conv_text(&r->conv, f[r->key_at[k]], l[r->key_at[k]], &n);
      json_array_append_new(keys, json_string(r->key[k]->name));
      json_array_append_new(vals, s ? key_json(r->key[k], s, n) : json_null());
    }
    json_object_set_new(st, "key", keys);
    json_object_set_new(st, "last", vals);
  }
  return st;
}

static sl_code checkpoint(reader *r, json_t *st) {
  if (!st) return SL_ENOMEM;
  if (r->cfg.cdc) return cdc_checkpoint(r->rd, r->cs, st); /* every state is GLOBAL */
  sl_code rc = sl_read_checkpoint(r->rd, st);
  json_decref(st);
  return rc;
}

/* Waits until the connection's socket is readable, up to ms (-1: forever);
 * false on timeout. */
bool pg_wait_readable(PGconn *conn, int ms) {
  int fd = PQsocket(conn);
  fd_set fds;
  FD_ZERO(&fds);
  FD_SET(fd, &fds);
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  return select(fd + 1, &fds, NULL, NULL, ms < 0 ? NULL : &tv) != 0;
}

/* The next COPY row (as PQgetCopyData). When the server makes us wait more
 * than 100 ms, what we have produced is flushed first: a stalled query must
 * not hold back the records and states before it. */
static int next_row(reader *r, char **row) {
  int n;
  while ((n = PQgetCopyData(r->conn, row, 1)) == 0) {
    if (!pg_wait_readable(r->conn, 100)) {
      sl_read_flush(r->rd);
      pg_wait_readable(r->conn, -1);
    }
    if (!PQconsumeInput(r->conn)) return -2;
  }
  return n;
}

static bool is_null_field(const char *f, size_t n) { return n == 2 && f[0] == '\\' && f[1] == 'N'; }

static sl_code stream_rows(reader *r, sl_err *err) {
  /* The server may take long to send the first row (a sort, a slow view):
   * what earlier streams produced goes out first. */
  sl_read_flush(r->rd);
  PGresult *res = PQexec(r->conn, sl_buf_cstr(&r->sql));
  if (PQresultStatus(res) != PGRES_COPY_OUT) {
    sl_code rc = pg_fail(r->conn, res, err, "reading table %s.%s", r->tab->schema, r->tab->name);
    PQclear(res);
    return rc;
  }
  PQclear(res);
  size_t ncols = r->nsel + r->nkey + 1;
  const char **f = calloc(ncols + 1, sizeof *f);
  size_t *l = calloc(ncols + 1, sizeof *l);
  if (!f || !l) {
    free(f);
    free(l);
    return SL_ENOMEM;
  }
  sl_code rc = SL_EOK;
  int64_t since = 0;
  char *row = NULL;
  json_t *pending = NULL; /* incremental without a key: checkpoint once the cursor moves on */
  sl_buf prev, lastrow; /* the previous row's cursor field; the last row with a cursor */
  sl_buf_init(&prev, (size_t)1 << 30);
  sl_buf_init(&lastrow, (size_t)1 << 30);
  bool plain_cursor = r->incremental && r->nkey == 1;
  int n;
  while ((n = next_row(r, &row)) > 0) {
    size_t len = (size_t)n;
    if (len && row[len - 1] == '\n') len--;
    size_t nf = conv_split(row, len, f, l, ncols);
    size_t want = r->nsel + (r->mode == RM_CTID ? 1 : 0);
    for (size_t k = 0; k < r->nkey; k++)
      if (r->key_at[k] + 1 > want) want = r->key_at[k] + 1;
    if (nf != want && !(want == 0 && nf == 1)) {
      rc = sl_err_set(err, SL_ESOURCE, "a COPY row has %zu fields, expected %zu",
                      nf, want);
      PQfreemem(row);
      break;
    }
    if (plain_cursor && pending) {
      size_t at = r->key_at[0];
      if (l[at] != prev.len || memcmp(f[at], prev.data, prev.len)) { /* the cursor moved on */
        if ((rc = checkpoint(r, pending))) break;
        pending = NULL;
      }
    }
    sl_jw *w = sl_read_record_begin(r->rd);
    for (size_t i = 0; i < r->nsel; i++) conv_field(w, &r->conv, r->sel[i], f[i], l[i]);
    if (r->snap) {
      sl_rec_int(w, "_ab_cdc_lsn", (int64_t)r->snap->lsn);
      sl_rec_str(w, "_ab_cdc_updated_at", r->snap->ts);
      sl_rec_null(w, "_ab_cdc_deleted_at");
    }
    rc = sl_read_record_end(r->rd);
    if (rc) {
      sl_err_set(err, rc, "writing a record: %s", sl_strerror(rc));
      PQfreemem(row);
      break;
    }
    if (plain_cursor) {
      prev.len = 0;
      sl_buf_append(&prev, f[r->key_at[0]], l[r->key_at[0]]);
    }
    bool cursor_null = r->incremental && is_null_field(f[r->key_at[0]], l[r->key_at[0]]);
    if (++since >= r->cfg.chunk_rows && r->mode != RM_PLAIN && !cursor_null) {
      since = 0;
      json_t *st = position(r, f, l);
      if (plain_cursor) {
        json_decref(pending);
        pending = st;
      } else if ((rc = checkpoint(r, st))) {
        PQfreemem(row);
        break;
      }
    }
    if (r->incremental && !cursor_null) { /* the final state: the last row with a cursor */
      lastrow.len = 0;
      sl_buf_append(&lastrow, row, len);
    }
    PQfreemem(row);
  }
  json_decref(pending);
  if (!rc && lastrow.len) {
    conv_split(lastrow.data, lastrow.len, f, l, ncols);
    json_decref(r->last);
    r->last = position(r, f, l);
  }
  sl_buf_dispose(&lastrow);
  sl_buf_dispose(&prev);
  free(f);
  free(l);
  if (!rc && n == -2) rc = pg_fail(r->conn, NULL, err, "reading rows");
  /* Drain the COPY's final result (an error if the server failed mid-way). */
  while ((res = PQgetResult(r->conn))) {
    if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
      rc = pg_fail(r->conn, res, err, "reading table %s.%s", r->tab->schema, r->tab->name);
    PQclear(res);
  }
  if (!rc && PQstatus(r->conn) != CONNECTION_OK)
    rc = pg_fail(r->conn, NULL, err, "connection lost");
  return rc;
}

/* Columns to emit: those of the configured schema that the table still
 * has (a dropped column is logged and left out). */
static sl_code select_columns(reader *r, sl_err *err) {
  const json_t *props = json_object_get(r->cs->json_schema, "properties");
  r->sel = calloc(r->tab->n_cols + 1, sizeof *r->sel);
  if (!r->sel) return SL_ENOMEM;
  for (size_t i = 0; i < r->tab->n_cols; i++)
    if (!json_is_object(props) || json_object_get(props, r->tab->cols[i].name))
      r->sel[r->nsel++] = &r->tab->cols[i];
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)props, name, v) {
    if (!pg_table_col(r->tab, name) && strncmp(name, "_ab_cdc_", 8))
      sl_read_log(r->rd, "WARN", "stream %s: column \"%s\" is in the catalog but no longer in table "
                  "%s.%s; it is left out of the records", r->cs->name, name, r->tab->schema, r->tab->name);
  }
  (void)err;
  return SL_EOK;
}

static sl_code plan_key(reader *r, sl_err *err) {
  const sl_cstream *cs = r->cs;
  r->key = calloc(r->tab->n_cols + 2, sizeof *r->key);
  r->key_at = calloc(r->tab->n_cols + 2, sizeof *r->key_at);
  if (!r->key || !r->key_at) return SL_ENOMEM;
  if (r->incremental) {
    if (cs->cursor.n != 1)
      return sl_err_set(err, SL_ECATALOG, "incremental sync needs a cursor_field in the catalog "
                        "(a column of %s.%s); or read it as full refresh (sluice sync --full-refresh), "
                        "or use CDC", r->tab->schema, r->tab->name);
    const pg_col *c = pg_table_col(r->tab, cs->cursor.parts[0]);
    if (!c)
      return sl_err_set(err, SL_ECATALOG, "cursor column \"%s\" is not a column of %s.%s",
                        cs->cursor.parts[0], r->tab->schema, r->tab->name);
    if (c->kind == PGK_JSON || c->kind == PGK_ARRAY || c->kind == PGK_BOOL)
      return sl_err_set(err, SL_ECATALOG, "column \"%s\" (%s) cannot be a cursor",
                        c->name, c->type);
    r->key[r->nkey++] = c;
  }
  /* The configured primary key, else the table's. */
  size_t k0 = r->nkey;
  for (size_t i = 0; i < cs->n_pk; i++) {
    if (cs->pk[i].n != 1) break;
    const pg_col *c = pg_table_col(r->tab, cs->pk[i].parts[0]);
    if (!c)
      return sl_err_set(err, SL_ECATALOG, "primary key column \"%s\" is not a column of %s.%s",
                        cs->pk[i].parts[0], r->tab->schema, r->tab->name);
    if (c != r->key[0] || !r->incremental) r->key[r->nkey++] = c;
  }
  if (r->nkey == k0)
    for (size_t i = 0; i < r->tab->n_pk; i++) {
      const pg_col *c = pg_table_col(r->tab, r->tab->pk[i]);
      if (c && (c != r->key[0] || !r->incremental)) r->key[r->nkey++] = c;
    }
  if (r->nkey) r->mode = RM_KEY;
  else if (r->tab->kind == 'r' || r->tab->kind == 'm') r->mode = RM_CTID;
  else r->mode = RM_PLAIN; /* a view without a key: no resume point */
  return SL_EOK;
}

sl_code pg_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  const json_t *rm = json_object_get(sl_read_config(rd), "replication_method");
  const char *method = json_string_value(json_object_get(rm, "method"));
  if (cs->sync_mode == SL_SYNC_INCREMENTAL && method && !strcmp(method, "CDC"))
    return cdc_read_stream(rd, cs, err);
  return pg_read_table(rd, cs, NULL, err);
}

sl_code pg_read_table(sl_read *rd, const sl_cstream *cs, const pg_cdc_snap *snap, sl_err *err) {
  reader r;
  memset(&r, 0, sizeof r);
  r.rd = rd;
  r.cs = cs;
  r.snap = snap;
  conv_init(&r.conv);
  sl_buf_init(&r.sql, 1 << 24);
  r.incremental = cs->sync_mode == SL_SYNC_INCREMENTAL && !snap;
  sl_code rc = pg_cfg_load(sl_read_config(rd), &r.cfg, err);
  if (!rc) rc = pg_connect(&r.cfg, false, &r.conn, err);
  const char *schema = cs->ns ? cs->ns : r.cfg.schemas[0];
  if (!rc) rc = pg_tables_load(r.conn, &r.cfg, schema, cs->name, &r.tab, &r.ntab, err);
  if (!rc && !r.ntab)
    rc = sl_err_set(err, SL_ECONFIG, "table %s.%s not found (dropped, renamed, or no "
                    "SELECT privilege); run discover", schema, cs->name);
  if (!rc) rc = select_columns(&r, err);
  if (!rc) rc = plan_key(&r, err);
  if (!rc && r.mode == RM_CTID) {
    char *table = pg_qualified(r.conn, r.tab);
    char q[1200];
    snprintf(q, sizeof q, "SELECT pg_relation_filenode('%s'::regclass)::text", table ? table : "");
    free(table);
    PGresult *res = PQexec(r.conn, q);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
      r.filenode = strdup(PQgetvalue(res, 0, 0));
    else rc = pg_fail(r.conn, res, err, "reading the table's file node");
    PQclear(res);
  }
  if (!rc) rc = load_resume(&r, err);
  if (!rc) rc = build_query(&r, err);
  if (!rc) rc = stream_rows(&r, err);
  if (!rc) {
    /* Finished: a full refresh starts over next time; incremental keeps its
     * position (the input state's when nothing new was read). */
    if (snap) rc = SL_EOK; /* cdc.c goes on with the log */
    else if (!r.incremental) rc = checkpoint(&r, json_pack("{s:b}", "__ab_no_cursor_state_message", 1));
    else if (json_is_object(r.last)) rc = checkpoint(&r, json_incref(r.last));
    else if (json_is_object(sl_read_state(rd))) rc = checkpoint(&r, json_deep_copy(sl_read_state(rd)));
    else rc = checkpoint(&r, json_object());
  }
  reader_dispose(&r);
  return rc;
}
