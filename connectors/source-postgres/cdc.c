/* source-postgres: CDC through logical replication (pgoutput).
 *
 * A sync pins an end position E (pg_current_wal_flush_lsn() at its start) and,
 * per CDC stream, first reads the initial snapshot when the stream has none
 * yet (read.c, resumable by key), then decodes the slot from the LSN of the
 * input state up to E, emitting the stream's inserts, updates and deletes.
 * Every stream reads the same range [lsn, E): only transactions whose commit
 * record starts before E count, so all streams agree and the next sync
 * starts exactly at E. The server skips what the slot has confirmed; we
 * confirm (flush) only the input state's LSN, which the platform committed
 * after the destination made its data durable: a failed sync loses nothing.
 *
 * State (GLOBAL, since one slot serves every stream):
 *   shared_state:  {"lsn":"0/1A2B3C8","slot":"s","publication":"p"}
 *   stream_states: [{"stream_descriptor":{...},"stream_state":{"snapshot_done":true}}, ...]
 * A stream's state is its snapshot's key position until the snapshot ends. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pgsrc.h"

#define PG_EPOCH_OFFSET_S 946684800LL /* 2000-01-01 in Unix time */

static struct {
  bool init;
  json_t *shared;  /* shared_state being built */
  json_t *streams; /* AirbyteStreamState of every configured stream */
  uint64_t start, end;
  char ts[40];     /* sync start, for snapshot records */
} g;

static void cdc_free(void) {
  json_decref(g.shared);
  json_decref(g.streams);
  memset(&g, 0, sizeof g);
}

static bool lsn_parse(const char *s, uint64_t *out) {
  unsigned hi, lo;
  if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2) return false;
  *out = (uint64_t)hi << 32 | lo;
  return true;
}

static void lsn_fmt(char *b, size_t n, uint64_t v) {
  snprintf(b, n, "%X/%X", (unsigned)(v >> 32), (unsigned)v);
}

static void iso_us(char *b, size_t n, int64_t unix_us) {
  time_t s = (time_t)(unix_us / 1000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t k = strftime(b, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(b + k, n - k, ".%06lld+00:00", (long long)(unix_us % 1000000));
}

static void globals_init(sl_read *rd);

static sl_code emit_global(sl_read *rd) {
  return sl_read_checkpoint_global(rd, g.shared, g.streams);
}

sl_code cdc_checkpoint(sl_read *rd, const sl_cstream *cs, json_t *stream_state) {
  globals_init(rd);
  size_t i;
  json_t *s;
  json_array_foreach(g.streams, i, s) {
    json_t *d = json_object_get(s, "stream_descriptor");
    const char *ns = json_string_value(json_object_get(d, "namespace"));
    if (strcmp(json_string_value(json_object_get(d, "name")), cs->name)) continue;
    if ((ns == NULL) != (cs->ns == NULL) || (ns && strcmp(ns, cs->ns))) continue;
    json_object_set_new(s, "stream_state", stream_state);
    return emit_global(rd);
  }
  json_decref(stream_state);
  return SL_EINTERNAL; /* every configured stream is in g.streams */
}

/* Every stream's state and the shared state, from the input: a GLOBAL
 * state replaces all of them, so each checkpoint lists them all. */
static void globals_init(sl_read *rd) {
  if (g.streams) return;
  atexit(cdc_free);
  const sl_catalog *cat = sl_read_catalog(rd);
  g.streams = json_array();
  for (size_t i = 0; i < cat->n; i++) {
    const sl_cstream *cs = &cat->streams[i];
    json_t *d = json_pack("{s:s}", "name", cs->name);
    if (cs->ns) json_object_set_new(d, "namespace", json_string(cs->ns));
    json_t *s = json_pack("{s:o}", "stream_descriptor", d);
    if (cs->state) json_object_set(s, "stream_state", cs->state);
    json_array_append_new(g.streams, s);
  }
  const json_t *in = sl_read_shared_state(rd);
  g.shared = json_is_object(in) ? json_deep_copy(in) : json_object();
}

/* The range of this sync: from the state's LSN (or the slot's) to the
 * server's flushed WAL now. */
static sl_code cdc_init(sl_read *rd, const pg_cfg *c, sl_err *err) {
  if (g.init) return SL_EOK;
  globals_init(rd);
  g.init = true;
  json_object_set_new(g.shared, "slot", json_string(c->slot));
  json_object_set_new(g.shared, "publication", json_string(c->publication));
  iso_us(g.ts, sizeof g.ts, sl_now_ms() * 1000);

  PGconn *conn;
  sl_code rc = pg_connect(c, false, &conn, err);
  if (rc) return rc;
  const char *p[] = {c->slot};
  PGresult *r = PQexecParams(conn,
                             "SELECT pg_current_wal_flush_lsn()::text, (SELECT confirmed_flush_lsn::text || ' ' || plugin"
                             " FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database())",
                             1, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    rc = pg_fail(conn, r, err, "reading the replication slot %s", c->slot);
  } else if (PQgetisnull(r, 0, 1)) {
    rc = sl_err_set(err, SL_ECONFIG, "config field replication_method.replication_slot: slot \"%s\" does not "
                    "exist in database \"%s\"; create it with SELECT pg_create_logical_replication_slot('%s', "
                    "'pgoutput')", c->slot, c->database, c->slot);
  } else {
    char slot_lsn[64] = "", plugin[64] = "";
    sscanf(PQgetvalue(r, 0, 1), "%63s %63s", slot_lsn, plugin);
    uint64_t confirmed = 0;
    lsn_parse(slot_lsn, &confirmed);
    lsn_parse(PQgetvalue(r, 0, 0), &g.end);
    if (strcmp(plugin, "pgoutput"))
      rc = sl_err_set(err, SL_ECONFIG, "replication slot \"%s\" uses plugin %s; CDC needs pgoutput", c->slot, plugin);
    else if (!lsn_parse(json_string_value(json_object_get(g.shared, "lsn")), &g.start)) {
      g.start = confirmed; /* first sync: from where the slot stands */
    } else if (g.start < confirmed) {
      char a[32], b[32];
      lsn_fmt(a, sizeof a, g.start);
      lsn_fmt(b, sizeof b, confirmed);
      sl_read_log(rd, "WARN", "replication slot %s was advanced to %s past the state's %s by someone else: "
                  "changes in between are lost; reset the connection to snapshot again", c->slot, b, a);
      g.start = confirmed;
    }
    if (!rc && g.end < g.start) g.end = g.start;
    char b[32];
    lsn_fmt(b, sizeof b, g.start);
    if (!rc) json_object_set_new(g.shared, "lsn", json_string(b));
  }
  PQclear(r);
  /* Write (and flush) a commit record past the end position, so the
   * walsender reads beyond it and its keepalive tells us we are there even
   * on an idle server. */
  if (!rc) rc = pg_exec(conn, "SELECT pg_current_xact_id()", "marking the end of this sync's WAL range", err);
  PQfinish(conn);
  return rc;
}

/* ---- the replication stream ---- */

typedef struct rd_buf {
  const unsigned char *p, *end;
  bool bad;
} rd_buf;

static uint64_t get_n(rd_buf *b, int n) {
  if (b->end - b->p < n) {
    b->bad = true;
    b->p = b->end;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | *b->p++;
  return v;
}
static const char *get_str(rd_buf *b) {
  const unsigned char *z = memchr(b->p, 0, (size_t)(b->end - b->p));
  if (!z) {
    b->bad = true;
    b->p = b->end;
    return "";
  }
  const char *s = (const char *)b->p;
  b->p = z + 1;
  return s;
}

typedef struct relation {
  uint32_t id;
  bool ours; /* the stream's table */
  size_t ncols;
  const pg_col **cols; /* per relation column: our column, or NULL (unknown: string) */
  char **names;
  char **keys;
  size_t *key_lens;
} relation;

typedef struct cdc_run {
  sl_read *rd;
  const sl_cstream *cs;
  pg_table *tab;
  relation *rels;
  size_t nrels;
  conv_ctx conv;
  uint64_t commit_lsn;
  int64_t commit_ts_us; /* Unix µs */
  bool in_xact, done;
  uint64_t flushed;     /* what we confirm to the server */
} cdc_run;

static void rel_free(relation *r) {
  for (size_t i = 0; i < r->ncols; i++) {
    free(r->names[i]);
    free(r->keys[i]);
  }
  free(r->names);
  free(r->keys);
  free(r->key_lens);
  free(r->cols);
}

static relation *rel_find(cdc_run *x, uint32_t id) {
  for (size_t i = 0; i < x->nrels; i++)
    if (x->rels[i].id == id) return &x->rels[i];
  return NULL;
}

static sl_code on_relation(cdc_run *x, rd_buf *b) {
  uint32_t id = (uint32_t)get_n(b, 4);
  const char *ns = get_str(b), *name = get_str(b);
  get_n(b, 1); /* replica identity */
  size_t n = (size_t)get_n(b, 2);
  relation *r = rel_find(x, id);
  if (r) rel_free(r);
  else {
    relation *nr = realloc(x->rels, (x->nrels + 1) * sizeof *nr);
    if (!nr) return SL_ENOMEM;
    x->rels = nr;
    r = &x->rels[x->nrels++];
  }
  memset(r, 0, sizeof *r);
  r->id = id;
  r->ours = !strcmp(ns, x->tab->schema) && !strcmp(name, x->tab->name);
  r->ncols = n;
  r->cols = calloc(n + 1, sizeof *r->cols);
  r->names = calloc(n + 1, sizeof *r->names);
  r->keys = calloc(n + 1, sizeof *r->keys);
  r->key_lens = calloc(n + 1, sizeof *r->key_lens);
  if (!r->cols || !r->names || !r->keys || !r->key_lens) return SL_ENOMEM;
  for (size_t i = 0; i < n && !b->bad; i++) {
    get_n(b, 1); /* flags */
    r->names[i] = strdup(get_str(b));
    get_n(b, 4); /* type oid */
    get_n(b, 4); /* typmod */
    r->cols[i] = pg_table_col(x->tab, r->names[i]);
    sl_buf k;
    sl_buf_init(&k, 1 << 20);
    sl_json_escape(&k, r->names[i], strlen(r->names[i]));
    sl_buf_putc(&k, ':');
    r->key_lens[i] = k.len;
    r->keys[i] = strndup(k.data, k.len);
    sl_buf_dispose(&k);
  }
  return b->bad ? SL_EPROTOCOL : SL_EOK;
}

/* TupleData as record fields; unchanged TOAST values ('u') are left out. */
static void put_tuple(cdc_run *x, relation *r, sl_jw *w, rd_buf *b) {
  size_t n = (size_t)get_n(b, 2);
  for (size_t i = 0; i < n && !b->bad; i++) {
    int kind = (int)get_n(b, 1);
    if (kind == 'u') continue;
    const pg_col *col = i < r->ncols ? r->cols[i] : NULL;
    if (i < r->ncols) sl_jw_key_raw(w, r->keys[i], r->key_lens[i]);
    else sl_jw_keyz(w, "_unknown");
    if (kind == 'n') {
      sl_jw_null(w);
      continue;
    }
    size_t len = (size_t)get_n(b, 4);
    if ((size_t)(b->end - b->p) < len) {
      b->bad = true;
      sl_jw_null(w);
      return;
    }
    const char *s = (const char *)b->p;
    b->p += len;
    if (col) conv_value(w, &x->conv, col->kind, col->elem, s, len);
    else sl_jw_str(w, s, len);
  }
}

static sl_code on_change(cdc_run *x, char type, rd_buf *b) {
  relation *r = rel_find(x, (uint32_t)get_n(b, 4));
  if (!r) return SL_EPROTOCOL; /* a change before its Relation message */
  if (!r->ours) return SL_EOK;
  char ts[40];
  iso_us(ts, sizeof ts, x->commit_ts_us);
  sl_jw *w = sl_read_record_begin(x->rd);
  int tag = (int)get_n(b, 1);
  if (type == 'U' && (tag == 'K' || tag == 'O')) { /* old key/row: skip to the new tuple */
    sl_buf scratch;
    sl_buf_init(&scratch, (size_t)1 << 31);
    sl_jw tmp;
    sl_jw_init(&tmp, &scratch);
    sl_jw_obj_open(&tmp);
    put_tuple(x, r, &tmp, b);
    sl_buf_dispose(&scratch);
    tag = (int)get_n(b, 1);
  }
  put_tuple(x, r, w, b);
  sl_rec_int(w, "_ab_cdc_lsn", (int64_t)x->commit_lsn);
  sl_rec_str(w, "_ab_cdc_updated_at", ts);
  if (type == 'D') sl_rec_str(w, "_ab_cdc_deleted_at", ts);
  else sl_rec_null(w, "_ab_cdc_deleted_at");
  (void)tag;
  if (b->bad) return SL_EPROTOCOL;
  return sl_read_record_end(x->rd);
}

static sl_code on_xlogdata(cdc_run *x, rd_buf *b, sl_err *err) {
  char type = (char)get_n(b, 1);
  switch (type) {
    case 'B': {
      uint64_t final_lsn = get_n(b, 8);
      int64_t ts = (int64_t)get_n(b, 8);
      get_n(b, 4);
      if (final_lsn >= g.end) { /* committed after this sync's end: next time */
        x->done = true;
        return SL_EOK;
      }
      x->in_xact = true;
      x->commit_lsn = final_lsn;
      x->commit_ts_us = ts + PG_EPOCH_OFFSET_S * 1000000LL;
      return SL_EOK;
    }
    case 'C': x->in_xact = false; return SL_EOK;
    case 'R': return on_relation(x, b);
    case 'I':
    case 'U':
    case 'D': {
      sl_code rc = on_change(x, type, b);
      if (rc == SL_EPROTOCOL)
        return sl_err_set(err, rc, "a malformed pgoutput %c message", type);
      if (rc) return sl_err_set(err, rc, "writing a change: %s", sl_strerror(rc));
      return SL_EOK;
    }
    case 'T': {
      uint32_t nrel = (uint32_t)get_n(b, 4);
      get_n(b, 1);
      for (uint32_t i = 0; i < nrel; i++) {
        relation *r = rel_find(x, (uint32_t)get_n(b, 4));
        if (r && r->ours)
          sl_read_log(x->rd, "WARN", "stream %s: table %s.%s was truncated at LSN %llX; CDC cannot express "
                      "that as records: refresh the stream", x->cs->name, x->tab->schema, x->tab->name,
                      (unsigned long long)x->commit_lsn);
      }
      return SL_EOK;
    }
    default: return SL_EOK; /* Origin, Type, Message */
  }
}

static sl_code send_status(PGconn *conn, uint64_t flushed, sl_err *err) {
  unsigned char m[34];
  m[0] = 'r';
  uint64_t now = (uint64_t)(sl_now_ms() * 1000 - PG_EPOCH_OFFSET_S * 1000000LL);
  uint64_t v[4] = {flushed, flushed, flushed, now};
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 8; i++) m[1 + k * 8 + i] = (unsigned char)(v[k] >> (56 - 8 * i));
  m[33] = 0;
  if (PQputCopyData(conn, (const char *)m, sizeof m) != 1 || PQflush(conn))
    return pg_fail(conn, NULL, err, "sending a standby status update");
  return SL_EOK;
}

static sl_code stream_log(cdc_run *x, const pg_cfg *c, sl_err *err) {
  PGconn *conn;
  sl_code rc = pg_connect(c, true, &conn, err);
  if (rc) return rc;
  char start[32], sql[1024];
  lsn_fmt(start, sizeof start, g.start);
  char *slot = pg_ident(conn, c->slot);
  char *pub = PQescapeLiteral(conn, c->publication, strlen(c->publication));
  snprintf(sql, sizeof sql, "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names %s)",
           slot ? slot : "", start, pub ? pub : "''");
  free(slot);
  PQfreemem(pub);
  sl_read_flush(x->rd); /* decoding may take a while before the first message */
  PGresult *r = PQexec(conn, sql);
  if (PQresultStatus(r) != PGRES_COPY_BOTH) rc = pg_fail(conn, r, err, "starting replication");
  PQclear(r);
  /* Confirm what the platform has committed: the input state's position. */
  x->flushed = g.start;
  if (!rc) rc = send_status(conn, x->flushed, err);
  int idle_s = 0, max_idle = (int)json_integer_value(json_object_get(
                                      json_object_get(c->json, "replication_method"), "initial_waiting_seconds"));
  if (max_idle <= 0) max_idle = 30;
  while (!rc && !x->done) {
    char *buf = NULL;
    int n = PQgetCopyData(conn, &buf, 1);
    if (n == 0) { /* nothing buffered: flush what we have after 100 ms, wait up to a second */
      bool ready = pg_wait_readable(conn, 100);
      if (!ready) {
        sl_read_flush(x->rd);
        ready = pg_wait_readable(conn, 900);
      }
      if (!ready) {
        if (++idle_s >= max_idle) {
          sl_read_log(x->rd, "WARN", "stream %s: the server sent nothing for %d s before reaching the "
                      "sync's end position; stopping here", x->cs->name, idle_s);
          break;
        }
        rc = send_status(conn, x->flushed, err);
      } else if (!PQconsumeInput(conn)) {
        rc = pg_fail(conn, NULL, err, "reading the replication stream");
      }
      continue;
    }
    if (n == -1) break; /* the server ended the stream */
    if (n < 0) {
      rc = pg_fail(conn, NULL, err, "reading the replication stream");
      break;
    }
    idle_s = 0;
    rd_buf b = {(const unsigned char *)buf, (const unsigned char *)buf + n, false};
    char kind = (char)get_n(&b, 1);
    if (kind == 'w') {
      get_n(&b, 8 * 3); /* dataStart, walEnd, sendTime */
      rc = on_xlogdata(x, &b, err);
    } else if (kind == 'k') {
      uint64_t wal_end = get_n(&b, 8);
      get_n(&b, 8);
      bool reply = get_n(&b, 1) != 0;
      if (wal_end >= g.end && !x->in_xact) x->done = true; /* caught up */
      else if (reply) rc = send_status(conn, x->flushed, err);
    }
    PQfreemem(buf);
  }
  PQputCopyEnd(conn, NULL);
  PQfinish(conn);
  return rc;
}

static bool is_last_cdc_stream(sl_read *rd, const sl_cstream *cs) {
  const sl_catalog *cat = sl_read_catalog(rd);
  for (size_t i = cat->n; i-- > 0;)
    if (cat->streams[i].sync_mode == SL_SYNC_INCREMENTAL) return &cat->streams[i] == cs;
  return false;
}

sl_code cdc_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  pg_cfg c;
  sl_code rc = pg_cfg_load(sl_read_config(rd), &c, err);
  if (!rc) rc = cdc_init(rd, &c, err);
  const json_t *st = sl_read_state(rd);
  if (!rc && !json_is_true(json_object_get(st, "snapshot_done"))) {
    pg_cdc_snap snap = {g.start, g.ts};
    rc = pg_read_table(rd, cs, &snap, err);
    if (!rc) rc = cdc_checkpoint(rd, cs, json_pack("{s:b}", "snapshot_done", 1));
  }
  cdc_run x;
  memset(&x, 0, sizeof x);
  x.rd = rd;
  x.cs = cs;
  conv_init(&x.conv);
  PGconn *conn = NULL;
  size_t ntab = 0;
  if (!rc) rc = pg_connect(&c, false, &conn, err);
  const char *schema = cs->ns ? cs->ns : c.schemas[0];
  if (!rc) rc = pg_tables_load(conn, &c, schema, cs->name, &x.tab, &ntab, err);
  if (!rc && !ntab)
    rc = sl_err_set(err, SL_ECONFIG, "table %s.%s not found; run discover", schema, cs->name);
  if (conn) PQfinish(conn);
  if (!rc) rc = stream_log(&x, &c, err);
  if (!rc && is_last_cdc_stream(rd, cs)) { /* every stream has read up to the end */
    char b[32];
    lsn_fmt(b, sizeof b, g.end);
    json_object_set_new(g.shared, "lsn", json_string(b));
  }
  if (!rc) rc = cdc_checkpoint(rd, cs, json_pack("{s:b}", "snapshot_done", 1));
  for (size_t i = 0; i < x.nrels; i++) rel_free(&x.rels[i]);
  free(x.rels);
  conv_dispose(&x.conv);
  pg_tables_free(x.tab, ntab);
  pg_cfg_dispose(&c);
  return rc;
}
