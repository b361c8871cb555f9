/* The destination runtime: argv to spec/check/write, and the write loop.
 *
 * write reads stdin in large chunks into one buffer, splits it into lines
 * and parses each line in place with one reused simdjson parser (a line in
 * the middle of the buffer is padded by the lines after it, the last one by
 * the buffer's own padding). RECORDs go to the destination's write callback
 * as views; nothing is allocated per record. A STATE is echoed only after
 * the flush that made every record before it durable, whole (unknown keys
 * such as the platform's "id" kept) with destinationStats added.
 *
 * Exactness: a commit (the destination's flush) happens only where every
 * record written so far is covered by a state or belongs to a completed
 * stream, so a crash anywhere leaves exactly what the last echoed state
 * describes, and the next sync, resuming from it, neither skips nor repeats
 * a record. Input that ends after records no state covers (the source or
 * the platform died mid-stream) is rolled back to the last commit. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dest_states.h"
#include "entry.h"

#define READ_CHUNK (256 * 1024)
#define DEFAULT_MAX_LINE ((size_t)64 << 20)
#define MAX_WARNINGS 20 /* per kind of bad line, then a summary at the end */

/* The one write of this process, for sl_dest_log. */
static sl_out *g_out;

void sl_dest_log(const char *level, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (g_out) sl_out_log(g_out, level, "%s", text);
  else fprintf(stderr, "%s: %s\n", level, text);
}

typedef struct dwrite {
  sl_entry *e;
  const sl_destination *dst;
  void *h;
  bool opened;
  sl_dstream *ds;
  size_t n;
  size_t *name_len, *ns_len;
  uint64_t *since_state; /* per stream, since its last STREAM state */
  bool *completed;
  uint64_t since_global; /* all streams, since the last GLOBAL/LEGACY state */
  uint64_t unflushed;    /* records since the last commit */
  /* Per stream: records written that no state covers yet; covered at least
   * once; completed but its stream_complete waits for a commit point. */
  bool *dirty, *had_state, *complete_waits;
  size_t n_dirty;        /* streams with dirty set and not completed */
  size_t n_complete_waits;
  size_t last;           /* index of the last stream matched (cache) */
  uint64_t lineno;
  uint64_t states;
  /* warnings, rate-limited */
  uint64_t bad_json, bad_msg, bad_data;
  char **unknown;        /* "name\0ns" of unknown streams already reported */
  size_t n_unknown;
  sl_jparser *parser;
  sl_dstates *kept; /* the destination's own record of committed states, or NULL */
  /* State echoes waiting for the next flush: a flush (a commit, an fsync)
   * per state would cost more than the records, so states are coalesced. */
  sl_buf echoes;
  size_t n_echoes;
  int64_t last_flush_ms;
  int64_t commit_interval_ms;
} dwrite;

/* Commit at most this often while states wait at commit points (unless
 * SLUICE_COMMIT_INTERVAL_MS says otherwise), and when this many wait. */
#define DEFAULT_COMMIT_INTERVAL_MS 1000
#define ECHO_MAX_PENDING 10000

/* ---- spec ---- */

static int cmd_spec(sl_entry *e, const sl_destination *dst) {
  json_t *modes = json_array();
  static const sl_dest_mode order[] = {SL_DEST_APPEND, SL_DEST_OVERWRITE, SL_DEST_APPEND_DEDUP,
                                       SL_DEST_UPDATE, SL_DEST_SOFT_DELETE};
  for (size_t i = 0; modes && i < sizeof order / sizeof order[0]; i++)
    if (dst->dest_modes & order[i]) json_array_append_new(modes, json_string(sl_dest_mode_name(order[i])));
  json_t *extra = json_pack("{s:o}", "supported_destination_sync_modes", modes);
  sl_code rc = extra ? sl__entry_spec(e, dst->documentation_url, extra) : SL_ENOMEM;
  json_decref(extra);
  return rc ? 1 : 0;
}

/* ---- helpers of the write loop ---- */

static sl_code mode_check(const sl_entry *e, const sl_destination *dst, const sl_cstream *cs,
                          sl_err *err) {
  unsigned ok = dst->dest_modes & ~(unsigned)SL_DEST_UNKNOWN;
  if (cs->dest_mode & ok) return SL_EOK;
  char supported[256] = "";
  size_t at = 0;
  for (unsigned bit = 1; bit < SL_DEST_UNKNOWN; bit <<= 1)
    if (ok & bit)
      at += (size_t)snprintf(supported + at, sizeof supported - at, "%s%s", at ? ", " : "",
                             sl_dest_mode_name((sl_dest_mode)bit));
  const char *given = json_string_value(json_object_get(cs->json, "destination_sync_mode"));
  return sl_err_set(err, SL_ECATALOG,
                    "%s: stream \"%s\": destination_sync_mode %s%s%s is not supported by %s "
                    "(supported: %s)",
                    e->catalog_path, cs->name, given ? "\"" : "", given ? given : "(missing)",
                    given ? "\"" : "", e->name, supported);
}

/* Find the stream by name and optional namespace; caches the last hit. */
static sl_dstream *find_stream(dwrite *w, const char *name, size_t len, const char *ns,
                               size_t nslen, size_t *idx) {
  for (size_t k = 0; k < w->n; k++) {
    size_t i = (w->last + k) % w->n;
    const sl_cstream *cs = w->ds[i].cs;
    if (w->name_len[i] != len || memcmp(cs->name, name, len) != 0) continue;
    if (ns ? (!cs->ns || w->ns_len[i] != nslen || memcmp(cs->ns, ns, nslen) != 0) : cs->ns != NULL)
      continue;
    w->last = i;
    *idx = i;
    return &w->ds[i];
  }
  return NULL;
}

/* Once per unknown stream: true the first time (up to 1000 names). */
static bool first_unknown(dwrite *w, const char *name, size_t len, const char *ns, size_t nslen) {
  if (w->n_unknown >= 1000) return false;
  for (size_t i = 0; i < w->n_unknown; i++) {
    const char *u = w->unknown[i];
    size_t ulen = strlen(u);
    const char *uns = u + ulen + 1;
    if (ulen == len && !memcmp(u, name, len) && strlen(uns) == nslen && !memcmp(uns, ns ? ns : "", nslen))
      return false;
  }
  char **nu = realloc(w->unknown, (w->n_unknown + 1) * sizeof *nu);
  char *s = malloc(len + nslen + 2);
  if (!nu || !s) {
    free(s);
    if (nu) w->unknown = nu;
    return true;
  }
  memcpy(s, name, len);
  s[len] = 0;
  if (nslen) memcpy(s + len + 1, ns, nslen);
  s[len + 1 + nslen] = 0;
  w->unknown = nu;
  w->unknown[w->n_unknown++] = s;
  return true;
}

static bool warn_more(uint64_t *count) { return ++*count <= MAX_WARNINGS; }

/* Printable, bounded copy of a name for a message. */
static void name_for_msg(char *out, size_t cap, const char *s, size_t len) {
  if (len > cap - 1) len = cap - 1;
  for (size_t i = 0; i < len; i++) out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
  out[len] = 0;
}

/* Error from a per-stream callback: name the stream (and what was going on)
 * in front of the callback's message. */
static sl_code stream_error(sl_code rc, const sl_cstream *cs, const char *what, sl_err *err) {
  if (!err->msg[0]) sl_err_set(err, rc, "%s", sl_strerror(rc));
  err->code = rc;
  sl_err_wrap(err, "stream \"%s\"%s%s%s%s%s", cs->name, cs->ns ? " (namespace \"" : "",
              cs->ns ? cs->ns : "", cs->ns ? "\")" : "", what ? ": " : "", what ? what : "");
  return err->code;
}

/* Commit: make the records written so far durable, echo the states that
 * were waiting for them in arrival order, then finish the streams whose
 * COMPLETE waited for a commit point. Called only where no record is
 * uncovered (n_dirty == 0) or at a clean end of input. */
static sl_code do_flush(dwrite *w, sl_err *err) {
  if (w->unflushed || sl__dstates_pending(w->kept)) {
    sl_code rc = sl__dstates_save(w->kept, err);
    if (!rc && w->dst->flush) rc = w->dst->flush(w->h, err);
    if (rc) {
      if (!err->msg[0]) sl_err_set(err, rc, "flush failed: %s", sl_strerror(rc));
      return rc;
    }
    w->unflushed = 0;
  }
  w->last_flush_ms = sl_now_ms();
  if (w->n_echoes) {
    if (sl_buf_put(&w->e->out.buf, w->echoes.data, w->echoes.len))
      return sl_err_set(err, SL_ENOMEM, "out of memory echoing states");
    w->echoes.len = 0;
    w->n_echoes = 0;
    /* Hand the echoes over now: a commit the platform never hears of would
     * be read again after a crash. */
    if (sl_out_flush(&w->e->out)) return sl_err_set(err, SL_EIO, "writing to stdout failed (is the reader gone?)");
  }
  for (size_t i = 0; w->n_complete_waits && i < w->n; i++) {
    if (!w->complete_waits[i]) continue;
    w->complete_waits[i] = false;
    w->n_complete_waits--;
    sl_code rc;
    if (w->dst->stream_complete && (rc = w->dst->stream_complete(w->h, &w->ds[i], err)))
      return stream_error(rc, w->ds[i].cs, "completing the stream", err);
  }
  return SL_EOK;
}

/* Stream i's records so far are covered (by a state, or by its COMPLETE). */
static void cover(dwrite *w, size_t i, bool by_state) {
  if (by_state) w->had_state[i] = true;
  if (!w->dirty[i]) return;
  w->dirty[i] = false;
  w->n_dirty--;
}

/* ---- messages ---- */

/* Hand one record to the destination: shared by the full parse and the
 * envelope-only path. data_ok: "data" is a JSON object. */
static sl_code deliver(dwrite *w, const char *name, size_t nlen, const char *ns, size_t nslen,
                       bool data_ok, bool has_emitted, sl_drecord r, const char *line, size_t len,
                       sl_err *err) {
  if (!name) {
    if (warn_more(&w->bad_msg))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu: RECORD without a \"stream\" name; skipped",
                 (unsigned long long)w->lineno);
    return SL_EOK;
  }
  size_t i;
  sl_dstream *s = find_stream(w, name, nlen, ns, nslen, &i);
  if (!s) {
    if (first_unknown(w, name, nlen, ns, nslen)) {
      char nm[256], nsm[256];
      name_for_msg(nm, sizeof nm, name, nlen);
      name_for_msg(nsm, sizeof nsm, ns ? ns : "", nslen);
      sl_out_log(&w->e->out, "WARN",
                 "stdin line %llu: RECORD for stream \"%s\"%s%s%s, which is not in the catalog; "
                 "its records are skipped",
                 (unsigned long long)w->lineno, nm, ns ? " (namespace \"" : "", nsm, ns ? "\")" : "");
    }
    return SL_EOK;
  }
  if (!data_ok) {
    if (warn_more(&w->bad_data))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu: stream \"%s\": RECORD data is not an object; skipped",
                 (unsigned long long)w->lineno, s->cs->name);
    return SL_EOK;
  }
  if (!has_emitted) r.emitted_at = sl_now_ms();
  r.line = line;
  r.line_len = len;
  sl_code rc;
  if (!w->dirty[i] && !w->completed[i]) {
    /* The first record after a commit point: if states have waited long
     * enough, commit them now, while nothing is uncovered, so that state
     * latency stays bounded while records keep flowing. */
    if (!w->n_dirty && w->n_echoes && sl_now_ms() - w->last_flush_ms >= w->commit_interval_ms &&
        (rc = do_flush(w, err)))
      return rc;
    w->dirty[i] = true;
    w->n_dirty++;
  }
  rc = w->dst->write ? w->dst->write(w->h, s, &r, err) : SL_EOK;
  if (rc) {
    char at[64];
    snprintf(at, sizeof at, "stdin line %llu", (unsigned long long)w->lineno);
    return stream_error(rc, s->cs, at, err);
  }
  s->records++;
  w->since_state[i]++;
  w->since_global++;
  w->unflushed++;
  return SL_EOK;
}


static sl_code on_record(dwrite *w, sl_jv root, const char *line, size_t len, sl_err *err) {
  sl_jv rec, v;
  if (!sl_jv_get(root, "record", &rec) || sl_jv_type(rec) != SL_JOBJECT) {
    if (warn_more(&w->bad_msg))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu: RECORD without a \"record\" object; skipped",
                 (unsigned long long)w->lineno);
    return SL_EOK;
  }
  const char *name = NULL, *ns = NULL;
  size_t nlen = 0, nslen = 0;
  sl_drecord r;
  memset(&r, 0, sizeof r);
  bool has_data = false, has_emitted = false;
  for (sl_jv k = sl_jv_first(rec); sl_jv_more(rec, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kl;
    const char *ks = sl_jv_str(k, &kl);
    v = sl_jv_val(k);
    switch (kl) {
      case 4:
        if (!memcmp(ks, "data", 4)) {
          r.data = v;
          has_data = true;
        } else if (!memcmp(ks, "meta", 4) && sl_jv_type(v) == SL_JOBJECT) {
          r.meta = v;
          r.has_meta = true;
        }
        break;
      case 6:
        if (!memcmp(ks, "stream", 6)) name = sl_jv_str(v, &nlen);
        break;
      case 9:
        if (!memcmp(ks, "namespace", 9)) ns = sl_jv_str(v, &nslen); /* null: none */
        break;
      case 10:
        if (!memcmp(ks, "emitted_at", 10)) {
          sl_jtype t = sl_jv_type(v);
          if (t == SL_JINT) r.emitted_at = sl_jv_int(v), has_emitted = true;
          else if (t == SL_JDOUBLE || t == SL_JUINT) {
            double d = sl_jv_num(v);
            r.emitted_at = d > 9e18 ? INT64_MAX : d < -9e18 ? INT64_MIN : (int64_t)d;
            has_emitted = true;
          }
        }
        break;
    }
  }
  return deliver(w, name, nlen, ns, nslen, has_data && sl_jv_type(r.data) == SL_JOBJECT, has_emitted, r,
                 line, len, err);
}

/* Destinations that do not look at the data (dev-null) get records read
 * On-Demand: only the envelope, no document tape. */
static sl_code on_record_envelope(dwrite *w, const sl_envelope *env, const char *line, size_t len,
                                  sl_err *err) {
  sl_drecord r;
  memset(&r, 0, sizeof r);
  return deliver(w, env->stream, env->stream_len, env->ns, env->ns_len, env->data_state != 0, false, r,
                 line, len, err);
}

/* ---- a STATE's shape (the protocol's AirbyteStateMessage) ---- */

/* o[key] has type t; absent is fine unless required, and so is null (a
 * missing namespace may come as null from other implementations). */
static bool jv_is(sl_jv o, const char *key, sl_jtype t, bool required) {
  sl_jv v;
  return sl_jv_get(o, key, &v) ? sl_jv_type(v) == t || (!required && sl_jv_type(v) == SL_JNULL) : !required;
}

static bool jv_is_number(sl_jv o, const char *key) {
  sl_jv v;
  if (!sl_jv_get(o, key, &v)) return true;
  sl_jtype t = sl_jv_type(v);
  return t == SL_JINT || t == SL_JUINT || t == SL_JDOUBLE;
}

/* An AirbyteStreamState: stream_descriptor {name, namespace?} and a
 * stream_state object. */
static const char *stream_state_problem(sl_jv s) {
  sl_jv sd;
  if (sl_jv_type(s) != SL_JOBJECT) return "a stream state is not an object";
  if (!sl_jv_get(s, "stream_descriptor", &sd) || sl_jv_type(sd) != SL_JOBJECT)
    return "a stream state has no stream_descriptor object";
  if (!jv_is(sd, "name", SL_JSTRING, true)) return "stream_descriptor.name is missing or not a string";
  if (!jv_is(sd, "namespace", SL_JSTRING, false)) return "stream_descriptor.namespace is not a string";
  if (!jv_is(s, "stream_state", SL_JOBJECT, false)) return "stream_state is not an object";
  return NULL;
}

/* Why a STATE's `state` breaks the protocol (NULL: it does not). Such a
 * state is not echoed: the platform would keep it and hand it back. */
static const char *state_problem(sl_jv st) {
  sl_jv v, g, ss;
  size_t tl = 0;
  const char *type = NULL;
  if (sl_jv_get(st, "type", &v) && !(type = sl_jv_str(v, &tl))) return "\"type\" is not a string";
  bool stream = type && tl == 6 && !memcmp(type, "STREAM", 6), global = type && tl == 6 && !memcmp(type, "GLOBAL", 6);
  if (type && !stream && !global && !(tl == 6 && !memcmp(type, "LEGACY", 6)))
    return "\"type\" is not STREAM, GLOBAL or LEGACY";
  const char *why;
  if (stream && !sl_jv_get(st, "stream", &v)) return "a STREAM state has no \"stream\"";
  if (sl_jv_get(st, "stream", &v) && (why = stream_state_problem(v))) return why;
  if (global && !sl_jv_get(st, "global", &g)) return "a GLOBAL state has no \"global\"";
  if (sl_jv_get(st, "global", &g)) {
    if (sl_jv_type(g) != SL_JOBJECT) return "\"global\" is not an object";
    if (!jv_is(g, "shared_state", SL_JOBJECT, false)) return "global.shared_state is not an object";
    if (!sl_jv_get(g, "stream_states", &ss) || sl_jv_type(ss) != SL_JARRAY) return "global.stream_states is not an array";
    for (sl_jv x = sl_jv_first(ss); sl_jv_more(ss, x); x = sl_jv_next(x))
      if ((why = stream_state_problem(x))) return why;
  }
  if (!jv_is(st, "data", SL_JOBJECT, false)) return "\"data\" is not an object";
  if (sl_jv_get(st, "sourceStats", &v) &&
      (sl_jv_type(v) != SL_JOBJECT || !jv_is_number(v, "recordCount") || !jv_is_number(v, "rejectedRecordCount")))
    return "sourceStats is not an object of numbers";
  return NULL;
}

static sl_code on_state(dwrite *w, sl_jv root, sl_err *err) {
  sl_jv st, v, sd, name;
  const char *why = NULL;
  if (!sl_jv_get(root, "state", &st) || sl_jv_type(st) != SL_JOBJECT || (why = state_problem(st))) {
    /* Skipped like any malformed line: its records stay uncovered until a
     * valid state, so a sync ending here leaves them uncommitted. */
    if (warn_more(&w->bad_msg))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu: STATE %s; skipped (not echoed)", (unsigned long long)w->lineno,
                 why ? why : "without a \"state\" object");
    return SL_EOK;
  }
  size_t tl = 0;
  const char *type = sl_jv_get(st, "type", &v) ? sl_jv_str(v, &tl) : NULL;
  uint64_t count;
  if (type && tl == 6 && !memcmp(type, "STREAM", 6)) {
    count = 0;
    if (sl_jv_get(st, "stream", &v) && sl_jv_get(v, "stream_descriptor", &sd) &&
        sl_jv_get(sd, "name", &name) && sl_jv_type(name) == SL_JSTRING) {
      size_t nlen, nslen = 0;
      const char *n = sl_jv_str(name, &nlen), *ns = NULL;
      sl_jv nsv;
      if (sl_jv_get(sd, "namespace", &nsv)) ns = sl_jv_str(nsv, &nslen);
      size_t i;
      if (find_stream(w, n, nlen, ns, nslen, &i)) {
        count = w->since_state[i];
        w->since_state[i] = 0;
        cover(w, i, true);
      }
    }
  } else { /* GLOBAL, LEGACY (or no type): everything since the last one */
    count = w->since_global;
    w->since_global = 0;
    for (size_t i = 0; i < w->n; i++) cover(w, i, true);
  }
  /* Queued; echoed only after the flush that makes the records before it
   * durable. The echo is the state exactly as received (every number
   * exact, unknown keys kept) plus destinationStats. */
  char stats[64];
  int sn = snprintf(stats, sizeof stats, "{\"recordCount\":");
  sn += (int)sl_json_fmt_double(stats + sn, (double)count, true);
  stats[sn++] = '}';
  if (sl_json_rewrite_member(&w->echoes, root, "state", "destinationStats", stats, (size_t)sn) ||
      sl_buf_putc(&w->echoes, '\n'))
    return sl_err_set(err, SL_ENOMEM, "stdin line %llu: cannot queue the state echo", (unsigned long long)w->lineno);
  w->n_echoes++;
  w->states++;
  sl_code rc = sl__dstates_note(w->kept, st, err);
  if (rc) return rc;
  /* A commit point when no record is uncovered; otherwise the state waits
   * for the next one (records of another stream are still open). */
  if (!w->n_dirty && (!w->unflushed || w->n_echoes >= ECHO_MAX_PENDING ||
                      sl_now_ms() - w->last_flush_ms >= w->commit_interval_ms))
    return do_flush(w, err);
  return SL_EOK;
}

static sl_code on_trace(dwrite *w, sl_jv root, sl_err *err) {
  sl_jv tr, v, ss, sd, name, nsv;
  size_t l;
  const char *s;
  if (!sl_jv_get(root, "trace", &tr) || !sl_jv_get(tr, "type", &v) || !(s = sl_jv_str(v, &l)) ||
      l != 13 || memcmp(s, "STREAM_STATUS", 13))
    return SL_EOK;
  if (!sl_jv_get(tr, "stream_status", &ss) || !sl_jv_get(ss, "status", &v) ||
      !(s = sl_jv_str(v, &l)) || l != 8 || memcmp(s, "COMPLETE", 8))
    return SL_EOK;
  if (!sl_jv_get(ss, "stream_descriptor", &sd) || !sl_jv_get(sd, "name", &name) ||
      sl_jv_type(name) != SL_JSTRING) {
    if (warn_more(&w->bad_msg))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu: STREAM_STATUS without a stream name; ignored",
                 (unsigned long long)w->lineno);
    return SL_EOK;
  }
  size_t nlen, nslen = 0;
  const char *n = sl_jv_str(name, &nlen), *ns = NULL;
  if (sl_jv_get(sd, "namespace", &nsv)) ns = sl_jv_str(nsv, &nslen);
  size_t i;
  if (!find_stream(w, n, nlen, ns, nslen, &i)) {
    char nm[256];
    name_for_msg(nm, sizeof nm, n, nlen);
    sl_out_log(&w->e->out, "WARN", "stdin line %llu: COMPLETE for stream \"%s\", which is not in the catalog; ignored",
               (unsigned long long)w->lineno, nm);
    return SL_EOK;
  }
  if (w->completed[i]) return SL_EOK; /* once per stream */
  w->completed[i] = true;
  cover(w, i, false);
  /* stream_complete (an overwrite's swap) runs at a commit point: now, or
   * once the records of other streams still open are covered. */
  w->complete_waits[i] = true;
  w->n_complete_waits++;
  return w->n_dirty ? SL_EOK : do_flush(w, err);
}

static sl_code on_line(dwrite *w, const char *line, size_t len, sl_err *err) {
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
  if (i == len) return SL_EOK; /* blank */
  sl_jv root, v;
  sl_err perr = SL_ERR_INIT;
  sl_envelope env;
  if (w->dst->envelope_only &&
      (sl_record_scan(line, len, &env) ||
       (sl_jparser_envelope(w->parser, line, len, &env, "stdin", NULL) == SL_EOK && env.type &&
        env.type_len == 6 && !memcmp(env.type, "RECORD", 6))))
    return on_record_envelope(w, &env, line, len, err);
  if (sl_jparser_parse(w->parser, line, len, &root, "stdin", &perr)) {
    if (warn_more(&w->bad_json))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu is not a JSON message and was skipped (%s)",
                 (unsigned long long)w->lineno,
                 strncmp(perr.msg, "stdin: ", 7) ? perr.msg : perr.msg + 7);
    return SL_EOK;
  }
  size_t tl;
  const char *type;
  if (sl_jv_type(root) != SL_JOBJECT || !sl_jv_get(root, "type", &v) || !(type = sl_jv_str(v, &tl))) {
    if (warn_more(&w->bad_msg))
      sl_out_log(&w->e->out, "WARN", "stdin line %llu is not an AirbyteMessage (no \"type\"); skipped",
                 (unsigned long long)w->lineno);
    return SL_EOK;
  }
  if (tl == 6 && !memcmp(type, "RECORD", 6)) return on_record(w, root, line, len, err);
  if (tl == 5 && !memcmp(type, "STATE", 5)) return on_state(w, root, err);
  if (tl == 5 && !memcmp(type, "TRACE", 5)) return on_trace(w, root, err);
  return SL_EOK; /* LOG, CONTROL, ...: not for a destination */
}

/* At the end of input: a stream whose last records no state covers, though
 * earlier ones were (so the source checkpoints it), and that did not
 * complete. Committing them would repeat them when the next sync resumes
 * from the last state. Streams never covered by any state (a source that
 * does not checkpoint) are committed whole, as the protocol expects.
 * Returns w->n when there is none. */
static size_t uncovered_tail(const dwrite *w) {
  for (size_t i = 0; i < w->n; i++)
    if (w->dirty[i] && w->had_state[i] && !w->completed[i]) return i;
  return w->n;
}

/* SLUICE_COMMIT_INTERVAL_MS: how long states may wait for a commit; 0
 * commits at every state (slower, but a failure re-reads the least). */
static sl_code commit_interval_from_env(int64_t *out, sl_err *err) {
  *out = DEFAULT_COMMIT_INTERVAL_MS;
  const char *s = getenv("SLUICE_COMMIT_INTERVAL_MS");
  if (!s || !*s) return SL_EOK;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < 0 || v > 3600000)
    return sl_err_set(err, SL_EUSAGE,
                      "SLUICE_COMMIT_INTERVAL_MS=\"%s\" is not a number of milliseconds between 0 and 3600000", s);
  *out = v;
  return SL_EOK;
}

static sl_code max_line_from_env(size_t *out, sl_err *err) {
  *out = DEFAULT_MAX_LINE;
  const char *s = getenv("SLUICE_MAX_MESSAGE_BYTES");
  if (!s || !*s) return SL_EOK;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  /* Bounded so that sizes fit an int (sqlite binds) and the output buffer. */
  if (errno || *end || v < 1 || v > ((size_t)1 << 30))
    return sl_err_set(err, SL_EUSAGE,
                      "SLUICE_MAX_MESSAGE_BYTES=\"%s\" is not a byte count between 1 and 1073741824", s);
  *out = (size_t)v;
  return SL_EOK;
}

static sl_code read_loop(dwrite *w, size_t max_line, sl_err *err) {
  sl_buf in;
  sl_buf_init(&in, max_line + READ_CHUNK + 1);
  sl_code rc = SL_EOK;
  size_t pos = 0, scan = 0;
  for (;;) {
    char *nl;
    while (scan < in.len && (nl = memchr(in.data + scan, '\n', in.len - scan))) {
      size_t len = (size_t)(nl - (in.data + pos));
      w->lineno++;
      if (len > max_line) {
        rc = sl_err_set(err, SL_ELIMIT,
                        "stdin line %llu is %zu bytes long, more than the maximum message size of "
                        "%zu bytes (SLUICE_MAX_MESSAGE_BYTES)",
                        (unsigned long long)w->lineno, len, max_line);
        goto out;
      }
      if ((rc = on_line(w, in.data + pos, len, err))) goto out;
      pos = scan = (size_t)(nl - in.data) + 1;
    }
    if (in.len - pos > max_line) {
      rc = sl_err_set(err, SL_ELIMIT,
                      "stdin line %llu is longer than the maximum message size of %zu bytes "
                      "(SLUICE_MAX_MESSAGE_BYTES)",
                      (unsigned long long)w->lineno + 1, max_line);
      goto out;
    }
    if (pos) { /* keep only the unfinished line, at the front */
      memmove(in.data, in.data + pos, in.len - pos);
      in.len -= pos;
      pos = 0;
    }
    scan = in.len;
    if (in.cap > 4 * READ_CHUNK && in.len < READ_CHUNK) sl_buf_shrink(&in, 2 * READ_CHUNK);
    if ((rc = sl_buf_ensure(&in, READ_CHUNK))) {
      rc = sl_err_set(err, SL_ENOMEM, "out of memory reading stdin line %llu",
                      (unsigned long long)w->lineno + 1);
      goto out;
    }
    /* States wait at most the commit interval: if no input comes before then,
     * commit and echo rather than sit on them. (Flushing whenever the pipe
     * is momentarily empty would commit far too often.) */
    if (w->n_echoes && !w->n_dirty) {
      int64_t wait = w->commit_interval_ms - (sl_now_ms() - w->last_flush_ms);
      struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
      if ((wait <= 0 || poll(&pfd, 1, (int)wait) == 0) && (rc = do_flush(w, err))) goto out;
    }
    /* Hand the echoed states over before waiting for more input. */
    if (w->e->out.buf.len && sl_out_flush(&w->e->out)) {
      rc = sl_err_set(err, SL_EIO, "writing to stdout failed (is the reader gone?)");
      goto out;
    }
    ssize_t n;
    do n = read(STDIN_FILENO, in.data + in.len, READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      rc = sl_err_set(err, SL_EIO, "reading stdin after line %llu: %s", (unsigned long long)w->lineno,
                      strerror(errno));
      goto out;
    }
    if (n == 0) break;
    in.len += (size_t)n;
  }
  if (in.len) { /* the last line, without '\n' */
    w->lineno++;
    rc = on_line(w, in.data, in.len, err);
  }
out:
  sl_buf_dispose(&in);
  return rc;
}

static int cmd_write(sl_entry *e, const sl_destination *dst, sl_err *err) {
  sl_code rc;
  size_t max_line;
  int64_t commit_interval;
  if ((rc = max_line_from_env(&max_line, err)) || (rc = commit_interval_from_env(&commit_interval, err)) || (rc = sl__entry_load_config(e, err)) ||
      (rc = sl__entry_load_catalog(e, err)))
    return sl__entry_fail(e, err, NULL);
  for (size_t i = 0; i < e->cat.n; i++)
    if ((rc = mode_check(e, dst, &e->cat.streams[i], err)))
      return sl__entry_fail(e, err, e->cat.streams[i].name);

  dwrite w;
  memset(&w, 0, sizeof w);
  w.e = e;
  w.dst = dst;
  w.n = e->cat.n;
  size_t nn = w.n ? w.n : 1;
  w.ds = calloc(nn, sizeof *w.ds);
  w.name_len = calloc(nn, sizeof *w.name_len);
  w.ns_len = calloc(nn, sizeof *w.ns_len);
  w.since_state = calloc(nn, sizeof *w.since_state);
  w.completed = calloc(nn, sizeof *w.completed);
  w.dirty = calloc(nn, sizeof *w.dirty);
  w.had_state = calloc(nn, sizeof *w.had_state);
  w.complete_waits = calloc(nn, sizeof *w.complete_waits);
  w.parser = sl_jparser_new(max_line);
  sl_buf_init(&w.echoes, (size_t)1 << 30);
  w.last_flush_ms = sl_now_ms();
  w.commit_interval_ms = commit_interval;
  int ret = 0;
  const char *fail_stream = NULL;
  if (!w.ds || !w.name_len || !w.ns_len || !w.since_state || !w.completed || !w.dirty || !w.had_state ||
      !w.complete_waits || !w.parser) {
    sl_err_set(err, SL_ENOMEM, "out of memory starting the write");
    ret = sl__entry_fail(e, err, NULL);
    goto done;
  }
  for (size_t i = 0; i < w.n; i++) {
    w.ds[i].cs = &e->cat.streams[i];
    w.name_len[i] = strlen(w.ds[i].cs->name);
    w.ns_len[i] = w.ds[i].cs->ns ? strlen(w.ds[i].cs->ns) : 0;
  }
  rc = dst->open ? dst->open(e->config, &e->cat, &w.h, err) : SL_EOK;
  if (rc) {
    if (!err->msg[0]) sl_err_set(err, rc, "opening the destination failed: %s", sl_strerror(rc));
    goto fail;
  }
  w.opened = true;
  if ((rc = sl__dstates_open(dst, w.h, &w.kept, err))) goto fail;
  for (size_t i = 0; i < w.n && dst->stream_open; i++) {
    if ((rc = dst->stream_open(w.h, &w.ds[i], err))) {
      stream_error(rc, w.ds[i].cs, "opening the stream", err);
      fail_stream = w.ds[i].cs->name;
      goto fail;
    }
  }
  if ((rc = read_loop(&w, max_line, err))) goto fail;
  size_t open_tail = uncovered_tail(&w);
  if (open_tail < w.n) {
    /* Not an error of this destination: what it committed is consistent
     * with the states it echoed. The tail is read again next time. */
    const sl_cstream *cs = w.ds[open_tail].cs;
    sl_out_log(&e->out, "WARN",
               "input ended after %llu records of stream \"%s\" that no state covers, without the stream's "
               "COMPLETE status (the source or the platform stopped mid-stream): rolled back to the last "
               "commit, which the last echoed state describes; the next sync resumes from that state",
               (unsigned long long)w.since_state[open_tail], cs->name);
    if (sl_out_flush(&e->out)) {
      sl_err_set(err, SL_EIO, "writing to stdout failed (is the reader gone?)");
      rc = SL_EIO;
      goto fail;
    }
    if (dst->close) dst->close(w.h, false);
    w.opened = false;
    goto done;
  }
  w.unflushed = 1; /* the final commit runs even when nothing is pending */
  if ((rc = do_flush(&w, err))) goto fail;
  if (w.bad_json > MAX_WARNINGS || w.bad_msg > MAX_WARNINGS || w.bad_data > MAX_WARNINGS)
    sl_out_log(&e->out, "WARN",
               "skipped in all: %llu non-JSON lines, %llu malformed messages, %llu records whose "
               "data is not an object (only the first %d of each were logged)",
               (unsigned long long)w.bad_json, (unsigned long long)w.bad_msg,
               (unsigned long long)w.bad_data, MAX_WARNINGS);
  uint64_t total = 0;
  for (size_t i = 0; i < w.n; i++) total += w.ds[i].records;
  sl_out_log(&e->out, "INFO", "%s: wrote %llu records in %zu streams; echoed %llu states", e->name,
             (unsigned long long)total, w.n, (unsigned long long)w.states);
  if (sl_out_flush(&e->out)) {
    sl_err_set(err, SL_EIO, "writing to stdout failed (is the reader gone?)");
    rc = SL_EIO;
    goto fail;
  }
  if (dst->close) dst->close(w.h, true);
  w.opened = false;
  goto done;
fail:
  if (!fail_stream && err->msg[0]) {
    /* Errors from stream callbacks name the stream in the message already;
     * find it again for the trace's stream_descriptor. */
    for (size_t i = 0; i < w.n; i++) {
      char pre[600];
      snprintf(pre, sizeof pre, "stream \"%s\"", w.ds[i].cs->name);
      if (!strncmp(err->msg, pre, strlen(pre))) fail_stream = w.ds[i].cs->name;
    }
  }
  ret = sl__entry_fail(e, err, fail_stream);
  if (w.opened && dst->close) dst->close(w.h, false);
  w.opened = false;
done:
  for (size_t i = 0; i < w.n_unknown; i++) free(w.unknown[i]);
  free(w.unknown);
  sl_jparser_free(w.parser);
  sl_buf_dispose(&w.echoes);
  free(w.ds);
  free(w.name_len);
  free(w.ns_len);
  free(w.since_state);
  free(w.completed);
  free(w.dirty);
  free(w.had_state);
  free(w.complete_waits);
  sl__dstates_free(w.kept);
  return ret;
}

int sl_destination_main(const sl_destination *dst, int argc, char **argv) {
  sl_entry e;
  sl_err err = SL_ERR_INIT;
  int ret = 0;
  if (sl__entry_init(&e, dst->name, dst->spec_json, argc, argv, &err)) {
    ret = sl__entry_fail(&e, &err, NULL);
    goto done;
  }
  e.migrate = dst->migrate_config;
  g_out = &e.out;
  if (!strcmp(e.cmd, "spec")) {
    ret = cmd_spec(&e, dst);
  } else if (!strcmp(e.cmd, "check")) {
    sl_code rc = sl__entry_load_config(&e, &err);
    if (rc == SL_EUSAGE || rc == SL_EIO) {
      ret = sl__entry_fail(&e, &err, NULL);
      goto done;
    }
    if (!rc && dst->check) rc = dst->check(e.config, &err);
    if (rc && !err.msg[0]) sl_err_set(&err, rc, "%s", sl_strerror(rc));
    sl_out_connection_status(&e.out, rc == SL_EOK, rc ? err.msg : NULL);
  } else if (!strcmp(e.cmd, "write")) {
    ret = cmd_write(&e, dst, &err);
  } else if (!strcmp(e.cmd, "state")) { /* a sluice extension: see dest_states.c */
    ret = sl__dest_cmd_state(&e, dst, &err);
  } else {
    sl_err_set(&err, SL_EUSAGE, "%s: unknown command \"%s\" (expected spec, check or write)",
               dst->name, e.cmd);
    ret = sl__entry_fail(&e, &err, NULL);
  }
done:
  sl_out_flush(&e.out);
  if (e.out.rc && !ret) ret = 1;
  g_out = NULL;
  sl__entry_dispose(&e);
  return ret;
}
