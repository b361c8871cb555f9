/* The sync pump: source stdout -> destination stdin, destination stdout ->
 * committed state. Every STATE forwarded to the destination gets an integer
 * "id" (as Airbyte's platform does) so its echo can be matched exactly; a
 * state is committed only when echoed, so the records before it are durable. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sluice/platform.h"

#define READ_CHUNK (256 * 1024)
#define FORWARD_HIGH_WATER (8u << 20) /* stop reading the source above this */

static volatile sig_atomic_t g_interrupt;
void sl_sync_interrupt(void) { g_interrupt = 1; }

typedef struct pending {
  int64_t id;
  uint64_t *snapshot; /* records forwarded per stream when the state was sent */
} pending;

typedef struct sync {
  const sl_sync_opts *o;
  sl_sync_result *res;
  sl_catalog cat;
  sl_proc src, dst;
  sl_buf src_in, dst_in, to_dst;
  size_t to_dst_off;             /* bytes of to_dst already written */
  size_t src_scanned, dst_scanned; /* leading bytes known to hold no '\n' */
  sl_jparser *jp;
  uint64_t src_line, dst_line;
  pending *q;
  size_t qhead, qlen, qcap;
  int64_t next_id;
  sl_statefile sf;
  bool have_sf, sf_dirty;
  const char *record;  /* the sync record's path, or NULL */
  const char *rec_id;  /* the sync id it names: the interrupted one until the destination starts */
  char *digest;        /* of the saved state as last saved */
  char sync_id[33];
  int64_t last_progress_ms;
  FILE *plog;
  sl_mapping *map; /* namespace/prefix mapping toward the destination, or NULL */
  size_t last_stream; /* cache for the record stream lookup */
  bool *complete_sent; /* per stream: COMPLETE forwarded to the destination */
  bool src_eof, src_exited, dst_eof, src_failed, dst_failed;
  sl_err fatal; /* first fatal error */
  char src_error[SL_ERR_MSG_MAX], dst_error[SL_ERR_MSG_MAX];
} sync_t;

static void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warnf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr); /* clear the progress line */
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void set_fatal(sync_t *s, sl_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_fatal(sync_t *s, sl_code code, const char *fmt, ...) {
  if (s->fatal.code) return;
  va_list ap;
  va_start(ap, fmt);
  sl_err_vset(&s->fatal, code, fmt, ap);
  va_end(ap);
}

static void plog_line(sync_t *s, const char *line, size_t len) {
  if (!s->plog) return;
  fwrite(line, 1, len, s->plog);
  fputc('\n', s->plog);
}

static const char *jv_strz(sl_jv v, char *buf, size_t cap) {
  size_t n;
  const char *p = sl_jv_str(v, &n);
  if (!p) return NULL;
  if (n >= cap) n = cap - 1;
  memcpy(buf, p, n);
  buf[n] = 0;
  return buf;
}

static sl_code forward(sync_t *s, const char *line, size_t len) {
  if (sl_buf_put(&s->to_dst, line, len) || sl_buf_putc(&s->to_dst, '\n')) {
    set_fatal(s, SL_ELIMIT, "the buffer to the destination is full");
    return SL_ELIMIT;
  }
  return SL_EOK;
}

static void handle_log(const char *who, sl_jv msg, bool verbose) {
  sl_jv log, level, text;
  char lv[16] = "INFO", tx[4096] = "";
  if (!sl_jv_get(msg, "log", &log)) return;
  if (sl_jv_get(log, "level", &level)) jv_strz(level, lv, sizeof lv);
  if (sl_jv_get(log, "message", &text)) jv_strz(text, tx, sizeof tx);
  bool loud = !strcmp(lv, "WARN") || !strcmp(lv, "ERROR") || !strcmp(lv, "FATAL");
  if (loud || verbose) warnf("%s: %s: %s", who, lv, tx);
}

static void send_complete(sync_t *s, size_t i);

/* TRACE from either side: errors are reported, stream statuses tracked; a
 * source's COMPLETE goes on to the destination. */
/* The configured stream a TRACE's stream_descriptor names (namespace
 * included; a destination's names mapped back), or NULL. */
static sl_cstream *trace_stream(sync_t *s, const char *who, sl_jv sd) {
  sl_jv nm, nsv;
  size_t nlen = 0, nslen = 0;
  const char *name = sl_jv_get(sd, "name", &nm) ? sl_jv_str(nm, &nlen) : NULL;
  const char *ns = sl_jv_get(sd, "namespace", &nsv) ? sl_jv_str(nsv, &nslen) : NULL;
  if (!name) return NULL;
  const char *sn, *sns;
  if (s->map && strcmp(who, "source") && sl_mapping_back(s->map, name, nlen, ns, nslen, &sn, &sns))
    return sl_catalog_find(&s->cat, sn, sns);
  return sl_catalog_findn(&s->cat, name, nlen, ns, nslen);
}

static void handle_trace(sync_t *s, const char *who, sl_jv msg, char *first_error) {
  sl_jv trace, type, e, m;
  char t[32] = "";
  if (!sl_jv_get(msg, "trace", &trace) || !sl_jv_get(trace, "type", &type)) return;
  jv_strz(type, t, sizeof t);
  if (!strcmp(t, "ERROR") && sl_jv_get(trace, "error", &e)) {
    char text[SL_ERR_MSG_MAX] = "", ft[32] = "system_error";
    if (sl_jv_get(e, "message", &m)) jv_strz(m, text, sizeof text);
    if (sl_jv_get(e, "failure_type", &m)) jv_strz(m, ft, sizeof ft);
    sl_jv sd;
    sl_cstream *cs = sl_jv_get(e, "stream_descriptor", &sd) ? trace_stream(s, who, sd) : NULL;
    if (cs) s->res->streams[cs->index].errors++;
    warnf("%s: error (%s): %s", who, ft, text);
    if (!first_error[0]) snprintf(first_error, SL_ERR_MSG_MAX, "%s", text);
  } else if (!strcmp(t, "STREAM_STATUS") && sl_jv_get(trace, "stream_status", &e)) {
    sl_jv sd, st;
    char status[32];
    if (!sl_jv_get(e, "stream_descriptor", &sd) || !sl_jv_get(e, "status", &st)) return;
    sl_cstream *cs = trace_stream(s, who, sd);
    if (!cs) return;
    jv_strz(st, status, sizeof status);
    sl_stream_stats *ss = &s->res->streams[cs->index];
    static const char *const known[] = {"STARTED", "RUNNING", "COMPLETE", "INCOMPLETE"};
    for (size_t i = 0; i < 4; i++)
      if (!strcmp(status, known[i])) ss->status = known[i];
    if (!strcmp(status, "STARTED") && !ss->started_ms) ss->started_ms = sl_now_ms();
    if (!strcmp(status, "COMPLETE") && !strcmp(who, "source")) send_complete(s, cs->index);
    if (!strcmp(status, "COMPLETE") || !strcmp(status, "INCOMPLETE")) ss->finished_ms = sl_now_ms();
  }
}

/* CONTROL CONNECTOR_CONFIG: the connector's new config goes to on_config
 * (a job keeps it in the store); a standalone sync says it did not keep it. */
static void handle_control(sync_t *s, const char *who, sl_jv msg) {
  json_t *m = sl_jv_to_json(msg), *c = json_object_get(m, "control");
  json_t *cfg = json_object_get(json_object_get(c, "connectorConfig"), "config");
  const char *type = json_string_value(json_object_get(c, "type"));
  const char *file = strcmp(who, "source") ? s->o->destination_config : s->o->source_config;
  sl_err e = SL_ERR_INIT;
  if (!type || strcmp(type, "CONNECTOR_CONFIG") || !json_is_object(cfg))
    warnf("%s: a CONTROL message that is not a CONNECTOR_CONFIG with a config object; ignored", who);
  else if (!s->o->on_config)
    warnf("%s: emitted a new connector config (CONTROL); sluice does not rewrite %s, update it by hand", who, file);
  else if (s->o->on_config(s->o->on_config_arg, who, cfg, &e))
    warnf("%s: emitted a new connector config (CONTROL) that could not be kept: %s", who, e.msg);
  else
    warnf("%s: emitted a new connector config (CONTROL); kept it for the next runs", who);
  json_decref(m);
}

static void forward_state(sync_t *s, sl_jv msg) {
  sl_jv st;
  if (!sl_jv_get(msg, "state", &st) || sl_jv_type(st) != SL_JOBJECT) {
    warnf("source: stdout line %llu: STATE message without a \"state\" object; dropped",
          (unsigned long long)s->src_line);
    return;
  }
  /* The state goes on exactly as the source wrote it, plus our id. */
  int64_t id = ++s->next_id;
  char idtext[24];
  size_t idlen = sl_json_fmt_int(idtext, id);
  size_t start = s->to_dst.len;
  if (s->map ? sl_mapping_state_out(s->map, msg, idtext, idlen, &s->to_dst) != SL_EOK
             : (sl_json_rewrite_member(&s->to_dst, msg, "state", "id", idtext, idlen) || sl_buf_putc(&s->to_dst, '\n'))) {
    s->to_dst.len = start;
    set_fatal(s, SL_ELIMIT, "the buffer to the destination is full");
    return;
  }
  if (s->qlen == s->qcap) {
    size_t ncap = s->qcap ? s->qcap * 2 : 64;
    pending *nq = malloc(ncap * sizeof *nq);
    if (!nq) {
      set_fatal(s, SL_ENOMEM, "out of memory queueing a state");
      return;
    }
    for (size_t i = 0; i < s->qlen; i++) nq[i] = s->q[(s->qhead + i) % s->qcap];
    free(s->q);
    s->q = nq;
    s->qhead = 0;
    s->qcap = ncap;
  }
  pending *p = &s->q[(s->qhead + s->qlen) % s->qcap];
  p->id = id;
  p->snapshot = malloc(s->cat.n * sizeof *p->snapshot);
  for (size_t i = 0; p->snapshot && i < s->cat.n; i++) p->snapshot[i] = s->res->streams[i].records_read;
  s->qlen++;
}

/* RECORDs take the fast path: only the envelope is read (the destination
 * parses the data anyway); every other message is parsed whole. */
static const char *src_what(const sync_t *s, char *buf, size_t cap) {
  snprintf(buf, cap, "source stdout line %llu", (unsigned long long)s->src_line);
  return buf;
}

static void source_record(sync_t *s, const char *line, size_t len, const sl_envelope *env) {
  char what[64];
  if (!env->stream) {
    warnf("%s: RECORD without record.stream; dropped", src_what(s, what, sizeof what));
    return;
  }
  sl_cstream *cs = NULL;
  if (s->last_stream < s->cat.n) {
    sl_cstream *c = &s->cat.streams[s->last_stream];
    if (strlen(c->name) == env->stream_len && !memcmp(c->name, env->stream, env->stream_len) &&
        !env->ns == !c->ns && (!env->ns || (strlen(c->ns) == env->ns_len && !memcmp(c->ns, env->ns, env->ns_len))))
      cs = c;
  }
  if (!cs) cs = sl_catalog_findn(&s->cat, env->stream, env->stream_len, env->ns, env->ns_len);
  if (!cs) {
    set_fatal(s, SL_EPROTOCOL, "%s: RECORD for stream \"%.*s\", which is not in the configured catalog",
              src_what(s, what, sizeof what), (int)env->stream_len, env->stream);
    return;
  }
  s->last_stream = cs->index;
  if (env->data_state != 2) {
    warnf("%s: RECORD for \"%s\" without a non-empty data object; dropped", src_what(s, what, sizeof what), cs->name);
    return;
  }
  sl_stream_stats *ss = &s->res->streams[cs->index];
  ss->records_read++;
  ss->bytes_read += len + 1;
  if (!ss->started_ms) ss->started_ms = sl_now_ms();
  plog_line(s, line, len);
  if (!s->map) {
    forward(s, line, len);
    return;
  }
  sl_err e = SL_ERR_INIT; /* mapped: re-written with the destination's stream name */
  if (sl_mapping_record_line(s->map, line, len, env, s->jp, src_what(s, what, sizeof what), &s->to_dst, &e))
    set_fatal(s, e.code, "%s", e.msg);
}

static void source_line(sync_t *s, const char *line, size_t len) {
  s->src_line++;
  if (!len || s->fatal.code) return; /* after a fatal error nothing more is forwarded */
  sl_envelope fast;
  if (sl_record_scan(line, len, &fast)) {
    source_record(s, line, len, &fast);
    return;
  }
  char what[64] = "";
#define WHAT() (what[0] ? what : (snprintf(what, sizeof what, "source stdout line %llu", \
                                            (unsigned long long)s->src_line), what))
  sl_err err = SL_ERR_INIT;
  sl_envelope env;
  sl_jv root, type;
  if (sl_jparser_envelope(s->jp, line, len, &env, "", NULL) ||
      (!(env.type && env.type_len == 6 && !memcmp(env.type, "RECORD", 6)) &&
       sl_jparser_parse(s->jp, line, len, &root, WHAT(), &err))) {
    sl_jparser_parse(s->jp, line, len, &root, WHAT(), &err); /* the message, with its offset */
    warnf("%s; dropped (not a protocol message)", err.msg[0] ? err.msg : WHAT());
    return;
  }
  if (env.type && env.type_len == 6 && !memcmp(env.type, "RECORD", 6)) {
    source_record(s, line, len, &env);
    return;
  }
  plog_line(s, line, len);
  size_t tl;
  const char *ts = sl_jv_get(root, "type", &type) ? sl_jv_str(type, &tl) : NULL;
  switch (ts ? sl_msg_type_parse(ts, tl) : SL_MSG_UNKNOWN) {
    case SL_MSG_STATE: forward_state(s, root); break;
    case SL_MSG_LOG: handle_log("source", root, s->o->log_all); break;
    case SL_MSG_TRACE: handle_trace(s, "source", root, s->src_error); break;
    case SL_MSG_CONTROL: handle_control(s, "source", root); break;
    default:
      warnf("%s: unexpected %.*s message from a source; ignored", WHAT(), ts ? (int)tl : 7, ts ? ts : "untyped");
  }
#undef WHAT
}

/* Save the state the destination echoed as soon as its output has been
 * read (the destination commits at most about once a second, and echoes
 * a commit's states together): the window in which committed data has no
 * saved state, which a kill of sluice turns into records read again,
 * stays a few milliseconds. */
static void save_state(sync_t *s) {
  if (!s->have_sf || !s->sf_dirty) return;
  sl_err err = SL_ERR_INIT;
  s->sf_dirty = false;
  if (sl_statefile_save(&s->sf, &err) || (s->o->on_commit && s->o->on_commit(s->o->on_commit_arg, s->sf.root, &err))) {
    set_fatal(s, err.code, "%s", err.msg);
    return;
  }
  /* Then the record, naming the state just saved (where it is kept: the
   * store's, for a connection). A crash before it voids the record. */
  if (!s->record) return;
  free(s->digest);
  if (!(s->digest = sl_state_digest(s->sf.root, &s->cat))) set_fatal(s, SL_ENOMEM, "out of memory saving the state");
  else if (sl_sync_record_write(s->record, s->rec_id, s->digest, &err)) set_fatal(s, err.code, "%s", err.msg);
}

static void echoed_state(sync_t *s, sl_jv root, const char *what) {
  sl_jv st, idv;
  if (!sl_jv_get(root, "state", &st) || !sl_jv_get(st, "id", &idv) || sl_jv_type(idv) != SL_JINT) {
    set_fatal(s, SL_EPROTOCOL, "%s: the destination echoed a STATE without the \"id\" sluice gave it; "
              "destinations must echo states unchanged", what);
    return;
  }
  int64_t id = sl_jv_int(idv);
  if (!s->qlen || s->q[s->qhead].id != id) {
    set_fatal(s, SL_EPROTOCOL, "%s: the destination echoed state %lld out of order (expected %lld)",
              what, (long long)id, s->qlen ? (long long)s->q[s->qhead].id : -1LL);
    return;
  }
  pending *p = &s->q[s->qhead];
  for (size_t i = 0; p->snapshot && i < s->cat.n; i++) s->res->streams[i].records_committed = p->snapshot[i];
  free(p->snapshot);
  s->qhead = (s->qhead + 1) % s->qcap;
  s->qlen--;
  s->res->states_committed++;
  if (s->have_sf) {
    json_t *m = sl_jv_to_json(st);
    if (m && s->map) sl_mapping_state(s->map, m, false); /* kept in source terms */
    sl_err err = SL_ERR_INIT;
    if (!m || sl_statefile_apply(&s->sf, m, &err)) set_fatal(s, err.code ? err.code : SL_ENOMEM, "%s", err.msg);
    json_decref(m);
    s->sf_dirty = true;
  }
}

static void destination_line(sync_t *s, const char *line, size_t len) {
  s->dst_line++;
  if (!len) return;
  sl_jv root, type;
  char what[64];
  snprintf(what, sizeof what, "destination stdout line %llu", (unsigned long long)s->dst_line);
  sl_err err = SL_ERR_INIT;
  if (sl_jparser_parse(s->jp, line, len, &root, what, &err)) {
    warnf("%s; dropped (not a protocol message)", err.msg);
    return;
  }
  plog_line(s, line, len);
  size_t tl;
  const char *ts = sl_jv_get(root, "type", &type) ? sl_jv_str(type, &tl) : NULL;
  switch (ts ? sl_msg_type_parse(ts, tl) : SL_MSG_UNKNOWN) {
    case SL_MSG_STATE: echoed_state(s, root, what); break;
    case SL_MSG_LOG: handle_log("destination", root, s->o->log_all); break;
    case SL_MSG_TRACE: handle_trace(s, "destination", root, s->dst_error); break;
    case SL_MSG_CONTROL: handle_control(s, "destination", root); break;
    default: break;
  }
}

/* Split complete lines out of b; at eof a trailing partial line counts too.
 * *scanned remembers how much of a partial line was already searched, so a
 * huge line costs one pass, not one per read. */
static void drain_lines(sync_t *s, sl_buf *b, size_t *scanned, bool eof,
                        void (*fn)(sync_t *, const char *, size_t)) {
  size_t start = 0, from = *scanned < b->len ? *scanned : b->len;
  for (;;) {
    char *nl = memchr(b->data + from, '\n', b->len - from);
    if (!nl) break;
    fn(s, b->data + start, (size_t)(nl - (b->data + start)));
    start = from = (size_t)(nl - b->data) + 1;
  }
  if (eof && start < b->len) {
    fn(s, b->data + start, b->len - start);
    start = b->len;
  }
  sl_buf_consume(b, start);
  *scanned = b->len;
  if (b->len == 0 && b->cap > 4 * READ_CHUNK) sl_buf_shrink(b, 4 * READ_CHUNK);
}

static size_t to_dst_pending(const sync_t *s) { return s->to_dst.len - s->to_dst_off; }

/* Read what is available; returns false at EOF. */
static bool read_some(sync_t *s, int fd, sl_buf *b, const char *who, uint64_t line_no) {
  if (sl_buf_ensure(b, READ_CHUNK)) {
    set_fatal(s, SL_ELIMIT, "%s stdout line %llu is longer than the maximum message size of %zu bytes; "
              "raise it with --max-message-size", who, (unsigned long long)line_no + 1, b->max - READ_CHUNK);
    return false;
  }
  ssize_t n = read(fd, b->data + b->len, READ_CHUNK);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  b->len += (size_t)n;
  return true;
}

/* Tell the destination that stream i is complete (once): it may then swap an
 * overwrite in, and commit records no state covers. */
static void send_complete(sync_t *s, size_t i) {
  if (s->complete_sent[i]) return;
  s->complete_sent[i] = true;
  {
    json_t *d = json_pack("{s:s}", "name", s->cat.streams[i].name);
    if (s->cat.streams[i].ns) json_object_set_new(d, "namespace", json_string(s->cat.streams[i].ns));
    if (s->map) sl_mapping_descriptor(s->map, d, true);
    json_t *m = json_pack("{s:s, s:{s:s, s:I, s:{s:o, s:s}}}", "type", "TRACE", "trace", "type",
                          "STREAM_STATUS", "emitted_at", (json_int_t)sl_now_ms(), "stream_status",
                          "stream_descriptor", d, "status", "COMPLETE");
    char *t = sl_json_dumps(m);
    if (t) {
      forward(s, t, strlen(t));
      plog_line(s, t, strlen(t));
    }
    free(t);
    json_decref(m);
  }
}

/* The source exited 0: every stream it did not report is complete too. */
static void send_completes(sync_t *s) {
  for (size_t i = 0; i < s->cat.n; i++) send_complete(s, i);
}

static void progress(sync_t *s, bool force) {
  if (!s->o->progress) return;
  int64_t now = sl_now_ms();
  if (!force && now - s->last_progress_ms < 200) return;
  s->last_progress_ms = now;
  uint64_t recs = 0, bytes = 0, committed = 0;
  char line[512];
  size_t off = 0;
  for (size_t i = 0; i < s->res->n_streams; i++) {
    sl_stream_stats *ss = &s->res->streams[i];
    recs += ss->records_read;
    bytes += ss->bytes_read;
    committed += ss->records_committed;
    if (off < 300)
      off += (size_t)snprintf(line + off, sizeof line - off, "%s %llu  ", ss->name,
                              (unsigned long long)ss->records_read);
  }
  double secs = (double)(now - s->res->started_ms) / 1000.0;
  fprintf(stderr, "\r\033[K%s| %.1f MB | %.0f rec/s | committed %llu", line, (double)bytes / 1e6,
          secs > 0 ? (double)recs / secs : 0.0, (unsigned long long)committed);
  fflush(stderr);
}

static sl_code write_temp_json(const char *dir, const char *name, const json_t *v, char *path,
                               size_t len, sl_err *err) {
  snprintf(path, len, "%s/%s", dir, name);
  if (json_dump_file(v, path, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
    return sl_err_set(err, SL_EIO, "cannot write %s", path);
  return SL_EOK;
}

static void sync_log(void *payload, const char *who, const char *level, const char *msg) {
  if (level && (!strcmp(level, "WARN") || !strcmp(level, "ERROR") || !strcmp(level, "FATAL")))
    warnf("%s: %s: %s", who, level, msg ? msg : "");
}

static sl_code pump(sync_t *s, sl_err *err) {
  bool dst_in_open = true, completes_sent = false;
  while (!s->dst_eof) {
    if (g_interrupt && !s->src_failed) {
      s->res->interrupted = true;
      s->src_failed = true;
      sl_proc_kill(&s->src, SIGTERM);
      set_fatal(s, SL_EINTERRUPTED, "interrupted; stopping the source and keeping what the destination committed");
    }
    if (s->fatal.code && !s->src_failed) {
      s->src_failed = true;
      sl_proc_kill(&s->src, SIGTERM);
    }
    /* Source finished and everything forwarded: tell the destination. */
    if (s->src_eof && dst_in_open) {
      if (!s->src_exited) {
        s->res->source_exit = sl_proc_wait(&s->src);
        s->src_exited = true;
        if (s->res->source_exit != 0 && !s->fatal.code)
          set_fatal(s, SL_ESOURCE, "the source %s exited with code %d%s%s", s->o->source,
                    s->res->source_exit, s->src_error[0] ? ": " : "", s->src_error);
      }
      if (!s->fatal.code && !completes_sent) {
        send_completes(s);
        completes_sent = true;
      }
      if (to_dst_pending(s) == 0 || s->fatal.code) {
        close(s->dst.in_fd);
        s->dst.in_fd = -1;
        dst_in_open = false;
      }
    }
    struct pollfd fds[3];
    int nfds = 0, isrc = -1, iout = -1, idst = -1;
    if (!s->src_eof && to_dst_pending(s) < FORWARD_HIGH_WATER) {
      isrc = nfds;
      fds[nfds++] = (struct pollfd){.fd = s->src.out_fd, .events = POLLIN};
    }
    if (dst_in_open && to_dst_pending(s)) {
      iout = nfds;
      fds[nfds++] = (struct pollfd){.fd = s->dst.in_fd, .events = POLLOUT};
    }
    idst = nfds;
    fds[nfds++] = (struct pollfd){.fd = s->dst.out_fd, .events = POLLIN};
    int pr = poll(fds, (nfds_t)nfds, 200);
    if (pr < 0 && errno != EINTR) return sl_err_set(err, SL_EIO, "poll: %s", strerror(errno));
    progress(s, false);
    if (pr <= 0) continue;
    if (isrc >= 0 && fds[isrc].revents) {
      bool more = read_some(s, s->src.out_fd, &s->src_in, "source", s->src_line);
      drain_lines(s, &s->src_in, &s->src_scanned, !more, source_line);
      if (!more) {
        s->src_eof = true;
        close(s->src.out_fd);
      }
    }
    if (iout >= 0 && fds[iout].revents) {
      ssize_t n = write(s->dst.in_fd, s->to_dst.data + s->to_dst_off, to_dst_pending(s));
      if (n > 0) {
        /* Advance an offset; compact only when the written part dominates. */
        s->to_dst_off += (size_t)n;
        if (s->to_dst_off == s->to_dst.len) s->to_dst.len = s->to_dst_off = 0;
        else if (s->to_dst_off > (1u << 20) && s->to_dst_off > s->to_dst.len / 2) {
          sl_buf_consume(&s->to_dst, s->to_dst_off);
          s->to_dst_off = 0;
        }
      }
      else if (n < 0 && errno != EINTR && errno != EAGAIN) {
        s->dst_failed = true;
        set_fatal(s, SL_EDESTINATION, "the destination %s stopped reading its input (%s)",
                  s->o->destination, strerror(errno));
        close(s->dst.in_fd);
        s->dst.in_fd = -1;
        dst_in_open = false;
        s->to_dst.len = s->to_dst_off = 0;
      }
    }
    if (fds[idst].revents) {
      bool more = read_some(s, s->dst.out_fd, &s->dst_in, "destination", s->dst_line);
      drain_lines(s, &s->dst_in, &s->dst_scanned, !more, destination_line);
      save_state(s);
      if (!more) s->dst_eof = true;
    }
  }
  /* The destination is done: stop the source if it is still going. */
  if (dst_in_open) {
    close(s->dst.in_fd);
    s->dst.in_fd = -1;
  }
  s->res->destination_exit = sl_proc_wait(&s->dst);
  if (!s->src_exited) {
    if (!s->src_eof) sl_proc_kill(&s->src, SIGTERM);
    s->res->source_exit = sl_proc_wait(&s->src);
    s->src_exited = true;
    if (!s->fatal.code)
      set_fatal(s, SL_EDESTINATION, "the destination %s exited before the source finished", s->o->destination);
  }
  if (s->res->destination_exit != 0 && !s->fatal.code)
    set_fatal(s, SL_EDESTINATION, "the destination %s exited with code %d%s%s", s->o->destination,
              s->res->destination_exit, s->dst_error[0] ? ": " : "", s->dst_error);
  else if (s->res->destination_exit != 0 && s->fatal.code != SL_EDESTINATION && s->dst_error[0])
    warnf("destination: exited with code %d: %s", s->res->destination_exit, s->dst_error);
  if (s->qlen && !s->fatal.code)
    set_fatal(s, SL_EDESTINATION, "the destination %s exited without echoing %zu state(s); they are not committed",
              s->o->destination, s->qlen);
  /* A source that exits 0 finished every stream, status traces or not. */
  for (size_t i = 0; !s->fatal.code && i < s->res->n_streams; i++)
    if (strcmp(s->res->streams[i].status, "INCOMPLETE")) s->res->streams[i].status = "COMPLETE";
  save_state(s);
  progress(s, true);
  if (s->o->progress) fputc('\n', stderr);
  if (s->fatal.code) {
    *err = s->fatal;
    return s->fatal.code;
  }
  return SL_EOK;
}

sl_code sl_sync_run(const sl_sync_opts *o, sl_sync_result *res, sl_err *err) {
  memset(res, 0, sizeof *res);
  res->started_ms = sl_now_ms();
  sync_t s;
  memset(&s, 0, sizeof s);
  s.o = o;
  s.res = res;
  s.src.pid = s.dst.pid = 0;
  size_t max_msg = o->max_message_bytes ? o->max_message_bytes : (64u << 20);
  char src_exe[4096], dst_exe[4096], tmpdir[] = "/tmp/sluice-sync-XXXXXX";
  char cat_path[4200] = "", state_path[4200] = "", dcat_path[4200] = "", record[4200];
  char *prev_sync = NULL;
  json_t *discovered = NULL, *configured = NULL;
  bool with_state = false, have_tmpdir = false;
  sl_code rc;
  signal(SIGPIPE, SIG_IGN);
  if ((rc = sl_connector_resolve(o->source, src_exe, sizeof src_exe, err)) ||
      (rc = sl_connector_resolve(o->destination, dst_exe, sizeof dst_exe, err)))
    return rc;
  if (o->state_file) {
    if ((rc = sl_statefile_load(&s.sf, o->state_file, err))) {
      sl_statefile_dispose(&s.sf);
      return rc;
    }
    s.have_sf = true;
  }
  if (!mkdtemp(tmpdir)) {
    rc = sl_err_set(err, SL_EIO, "cannot create a temporary directory in /tmp: %s", strerror(errno));
    goto out;
  }
  have_tmpdir = true;
  int code;
  const char *dargs[] = {"discover", "--config", o->source_config, NULL};
  if ((rc = sl_connector_call(o->source, src_exe, dargs, SL_MSG_CATALOG, &discovered, &code, sync_log, NULL, err))) {
    sl_err_wrap(err, "discover");
    goto out;
  }
  sl_catalog_opts copts = {o->streams, o->full_refresh};
  if ((rc = o->configure ? o->configure(o->configure_arg, json_object_get(discovered, "catalog"), &configured, err)
                         : sl_catalog_configure(json_object_get(discovered, "catalog"), &copts, &configured, err)) ||
      (rc = sl_mapping_new(o->namespace_format, o->stream_prefix, configured, &s.map, err)))
    goto out;
  sl_fields_strip(configured); /* the selection now lives in the mapping */
  if ((rc = write_temp_json(tmpdir, "catalog.json", configured, cat_path, sizeof cat_path, err)) ||
      (rc = sl_catalog_parse(configured, cat_path, &s.cat, err)))
    goto out;
  if (s.map) { /* the destination sees the mapped names (and selected fields) */
    json_t *dcat = sl_mapping_catalog(s.map, configured);
    rc = write_temp_json(tmpdir, "dest-catalog.json", dcat, dcat_path, sizeof dcat_path, err);
    json_decref(dcat);
    if (rc) goto out;
  }
  res->streams = calloc(s.cat.n ? s.cat.n : 1, sizeof *res->streams);
  s.complete_sent = calloc(s.cat.n ? s.cat.n : 1, sizeof *s.complete_sent);
  if (!res->streams || !s.complete_sent) {
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    goto out;
  }
  res->n_streams = s.cat.n;
  for (size_t i = 0; i < s.cat.n; i++) {
    res->streams[i].name = strdup(s.cat.streams[i].name);
    res->streams[i].ns = s.cat.streams[i].ns ? strdup(s.cat.streams[i].ns) : NULL;
    res->streams[i].status = "PENDING";
  }
  /* Which sync ran last from this state, if the state is still the one it
   * left and no generation changed since. */
  const char *prev_record = o->prev_record;
  s.record = s.have_sf ? o->record : NULL;
  if (s.have_sf && !prev_record && !s.record) {
    snprintf(record, sizeof record, "%s.sync", o->state_file);
    prev_record = s.record = record;
  }
  if (s.record && !(s.digest = sl_state_digest(s.sf.root, &s.cat))) {
    rc = sl_err_set(err, SL_ENOMEM, "out of memory reading the state");
    goto out;
  }
  prev_sync = s.record ? sl_sync_record_prev(prev_record, s.digest) : NULL;
  sl_sync_id_new(s.sync_id);
  s.rec_id = prev_sync ? prev_sync : s.sync_id;
  if (s.have_sf && sl_state_catch_up(&s.sf, s.map, &s.cat, prev_sync, o->destination, dst_exe, o->destination_config,
                                     dcat_path[0] ? dcat_path : cat_path, sync_log, NULL)) {
    s.sf_dirty = true;
    save_state(&s);
  }
  /* From here on the destination may commit states of this sync: the
   * record names it before the destination starts. */
  s.rec_id = s.sync_id;
  if (s.record && !s.fatal.code && sl_sync_record_write(s.record, s.sync_id, s.digest, err)) set_fatal(&s, err->code, "%s", err->msg);
  if (s.fatal.code) {
    *err = s.fatal;
    rc = s.fatal.code;
    goto out;
  }
  setenv("SLUICE_SYNC_ID", s.sync_id, 1); /* the destination keeps it with its states */
  with_state = s.have_sf && (json_is_object(s.sf.root) ? json_object_size(s.sf.root) : json_array_size(s.sf.root));
  if (with_state && (rc = write_temp_json(tmpdir, "state.json", s.sf.root, state_path, sizeof state_path, err)))
    goto out;
  if (o->protocol_log) s.plog = fopen(o->protocol_log, "a");
  sl_buf_init(&s.src_in, max_msg + READ_CHUNK);
  sl_buf_init(&s.dst_in, max_msg + READ_CHUNK);
  sl_buf_init(&s.to_dst, max_msg + 2 * FORWARD_HIGH_WATER);
  s.jp = sl_jparser_new(max_msg);
  s.last_stream = SIZE_MAX;
  if (!s.jp) {
    rc = sl_err_set(err, SL_ENOMEM, "cannot allocate the JSON parser");
    goto out;
  }
  if (o->max_message_bytes) { /* the destination runtime reads the same limit */
    char lim[32];
    snprintf(lim, sizeof lim, "%zu", o->max_message_bytes);
    setenv("SLUICE_MAX_MESSAGE_BYTES", lim, 1);
  }
  const char *wargs[] = {"write", "--config", o->destination_config, "--catalog", dcat_path[0] ? dcat_path : cat_path, NULL};
  if ((rc = sl_proc_spawn(&s.dst, o->destination, dst_exe, wargs, true, err))) goto out;
  const char *rargs[] = {"read", "--config", o->source_config, "--catalog", cat_path,
                         with_state ? "--state" : NULL, state_path, NULL};
  if ((rc = sl_proc_spawn(&s.src, o->source, src_exe, rargs, false, err))) {
    close(s.dst.in_fd);
    close(s.dst.out_fd);
    sl_proc_wait(&s.dst);
    goto out;
  }
  fcntl(s.dst.in_fd, F_SETFL, fcntl(s.dst.in_fd, F_GETFL) | O_NONBLOCK);
  rc = pump(&s, err);
  close(s.dst.out_fd);
  if (!s.src_eof) close(s.src.out_fd);
out:
  res->finished_ms = sl_now_ms();
  while (s.qlen) {
    free(s.q[s.qhead].snapshot);
    s.qhead = (s.qhead + 1) % (s.qcap ? s.qcap : 1);
    s.qlen--;
  }
  free(s.q);
  if (s.plog) fclose(s.plog);
  sl_jparser_free(s.jp);
  sl_buf_dispose(&s.src_in);
  sl_buf_dispose(&s.dst_in);
  sl_buf_dispose(&s.to_dst);
  sl_catalog_dispose(&s.cat);
  free(s.complete_sent);
  sl_mapping_free(s.map);
  if (s.have_sf) sl_statefile_dispose(&s.sf);
  free(s.digest);
  free(prev_sync);
  json_decref(discovered);
  json_decref(configured);
  if (have_tmpdir) {
    if (cat_path[0]) unlink(cat_path);
    if (dcat_path[0]) unlink(dcat_path);
    if (with_state) unlink(state_path);
    rmdir(tmpdir);
  }
  return rc;
}

void sl_sync_result_dispose(sl_sync_result *res) {
  for (size_t i = 0; i < res->n_streams; i++) {
    free(res->streams[i].name);
    free(res->streams[i].ns);
  }
  free(res->streams);
  memset(res, 0, sizeof *res);
}
