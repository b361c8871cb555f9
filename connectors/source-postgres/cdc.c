/* source-postgres: CDC through logical replication (pgoutput).
 *
 * A sync pins an end position E (pg_current_wal_flush_lsn() at its start) and,
 * per CDC stream, first reads the initial snapshot when the stream has none
 * yet (read.c, resumable by key), then emits the stream's inserts, updates
 * and deletes in [lsn, E): the first CDC stream read decodes the slot from
 * the LSN of the input state up to E once for all of them (cdc_decode.c),
 * the later ones replay what that pass kept for them. Only transactions
 * whose commit record starts before E count, so the next sync starts
 * exactly at E. The server skips what the slot has confirmed; we
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
  bool decoded;    /* the range was decoded (by the first CDC stream read) */
  bool failed;     /* a CDC stream failed: the LSN stays */
  sl_code decode_rc;
  char decode_msg[SL_ERR_MSG_MAX];
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

void cdc_lsn_fmt(char *b, size_t n, uint64_t v) {
  snprintf(b, n, "%X/%X", (unsigned)(v >> 32), (unsigned)v);
}

void cdc_iso_us(char *b, size_t n, int64_t unix_us) {
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
  cdc_iso_us(g.ts, sizeof g.ts, sl_now_ms() * 1000);

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
      cdc_lsn_fmt(a, sizeof a, g.start);
      cdc_lsn_fmt(b, sizeof b, confirmed);
      sl_read_log(rd, "WARN", "replication slot %s was advanced to %s past the state's %s by someone else: "
                  "changes in between are lost; reset the connection to snapshot again", c->slot, b, a);
      g.start = confirmed;
    }
    if (!rc && g.end < g.start) g.end = g.start;
    char b[32];
    cdc_lsn_fmt(b, sizeof b, g.start);
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

/* Decode [start, end) once, for every CDC stream (cdc_decode.c); rd is
 * the stream being read now. The slot is confirmed only up to start. */
static sl_code decode_range(sl_read *rd, const sl_cstream *live, const pg_cfg *c, sl_err *err) {
  cdc_pass *x = NULL;
  sl_code rc = cdc_pass_new(rd, live, c, g.end, &x, err);
  PGconn *conn = NULL;
  if (!rc) rc = pg_connect(c, true, &conn, err);
  if (rc) {
    cdc_pass_free(x);
    return rc;
  }
  char start[32], sql[1024];
  cdc_lsn_fmt(start, sizeof start, g.start);
  char *slot = pg_ident(conn, c->slot);
  char *pub = PQescapeLiteral(conn, c->publication, strlen(c->publication));
  snprintf(sql, sizeof sql, "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names %s)",
           slot ? slot : "", start, pub ? pub : "''");
  free(slot);
  PQfreemem(pub);
  sl_read_flush(rd); /* decoding may take a while before the first message */
  PGresult *r = PQexec(conn, sql);
  if (PQresultStatus(r) != PGRES_COPY_BOTH) rc = pg_fail(conn, r, err, "starting replication");
  PQclear(r);
  /* Confirm what the platform has committed: the input state's position. */
  uint64_t flushed = g.start;
  if (!rc) rc = send_status(conn, flushed, err);
  int idle_s = 0, max_idle = (int)json_integer_value(json_object_get(
                                      json_object_get(c->json, "replication_method"), "initial_waiting_seconds"));
  if (max_idle <= 0) max_idle = 30;
  bool caught_up = false;
  while (!rc && !caught_up && !cdc_pass_done(x)) {
    char *buf = NULL;
    int n = PQgetCopyData(conn, &buf, 1);
    if (n == 0) { /* nothing buffered: flush what we have after 100 ms, wait up to a second */
      bool ready = pg_wait_readable(conn, 100);
      if (!ready) {
        sl_read_flush(rd);
        ready = pg_wait_readable(conn, 900);
      }
      if (!ready) {
        if (++idle_s >= max_idle) {
          sl_read_log(rd, "WARN", "CDC: the server sent nothing for %d s before reaching the sync's end "
                      "position; stopping here", idle_s);
          break;
        }
        rc = send_status(conn, flushed, err);
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
    char kind = (char)rd_n(&b, 1);
    if (kind == 'w') {
      rd_n(&b, 8 * 3); /* dataStart, walEnd, sendTime */
      rc = cdc_pass_message(x, &b, err);
    } else if (kind == 'k') {
      uint64_t wal_end = rd_n(&b, 8);
      rd_n(&b, 8);
      bool reply = rd_n(&b, 1) != 0;
      if (wal_end >= g.end && !cdc_pass_in_xact(x)) caught_up = true;
      else if (reply) rc = send_status(conn, flushed, err);
    }
    PQfreemem(buf);
  }
  PQputCopyEnd(conn, NULL);
  PQfinish(conn);
  if (!rc) rc = cdc_pass_finish(x, err);
  cdc_pass_free(x);
  return rc;
}

static bool is_last_cdc_stream(sl_read *rd, const sl_cstream *cs) {
  const sl_catalog *cat = sl_read_catalog(rd);
  for (size_t i = cat->n; i-- > 0;)
    if (cat->streams[i].sync_mode == SL_SYNC_INCREMENTAL) return &cat->streams[i] == cs;
  return false;
}

/* A CDC stream: its snapshot if not done, then its changes. The first CDC
 * stream read decodes the range for all of them; the others replay theirs.
 * The state's LSN moves to the end only when every CDC stream got its
 * changes out: a failed stream reads the same range again next time. */
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
  if (!rc && !g.decoded) {
    g.decoded = true;
    rc = decode_range(rd, cs, &c, err);
    if (rc) {
      g.decode_rc = rc;
      snprintf(g.decode_msg, sizeof g.decode_msg, "%s", err->msg);
    }
  } else if (!rc && g.decode_rc) {
    rc = sl_err_set(err, g.decode_rc, "%s", g.decode_msg);
  }
  if (!rc) rc = cdc_replay(rd, cs, err);
  if (rc) g.failed = true;
  if (!rc && is_last_cdc_stream(rd, cs) && !g.failed) { /* every stream has read up to the end */
    char b[32];
    cdc_lsn_fmt(b, sizeof b, g.end);
    json_object_set_new(g.shared, "lsn", json_string(b));
  }
  if (!rc) rc = cdc_checkpoint(rd, cs, json_pack("{s:b}", "snapshot_done", 1));
  pg_cfg_dispose(&c);
  return rc;
}
