/* Test reads in a child process: the child loads the manifest and runs
 * lc_test_read, writing each event as a JSON line to a pipe; the parent
 * assembles them as they come, so a hang (timeout) or a crash still leaves
 * every request seen so far, including the one that never got an answer. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "sluice/buf.h"
#include "sluice/json.h"

static void child_emit(void *ud, json_t *ev) {
  int fd = *(int *)ud;
  char *s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(ev);
  if (!s) return;
  size_t n = strlen(s);
  s[n] = '\n'; /* replaces the NUL; write n + 1 bytes */
  for (size_t off = 0; off < n + 1;) {
    ssize_t w = write(fd, s + off, n + 1 - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  free(s);
}

static void child_error(int fd, sl_code rc, const sl_err *err) {
  json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "event", "error", "message", err->msg, "failure_type",
                         sl_err_failure_type(rc), "code", sl_err_name(rc));
  json_t *loc = lc_tr_location(err->msg);
  if (loc) json_object_set_new(ev, "location", loc);
  child_emit(&fd, ev);
}

static void child_run(int fd, const char *yaml, size_t len, const char *name, const bld_test_opts *o) {
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_yaml(yaml, len, name, &err);
  if (!m) return child_error(fd, err.code ? err.code : SL_ECONFIG, &err);
  lc_source *src = lc_source_new(m, &err);
  if (!src) return child_error(fd, err.code, &err);
  json_t *cfg = o->config ? (json_t *)o->config : json_object();
  sl_code rc = lc_source_set_config(src, cfg, &err);
  if (!o->config) json_decref(cfg);
  if (rc) child_error(fd, rc, &err);
  else lc_test_read(src, o->stream, o->state, &o->limits, child_emit, &fd);
  lc_source_free(src);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void feed_lines(lc_tr_asm *a, sl_buf *b, bool *got_end) {
  size_t start = 0;
  for (size_t i = 0; i < b->len; i++) {
    if (b->data[i] != '\n') continue;
    json_t *ev = json_loadb(b->data + start, i - start, 0, NULL);
    if (ev) {
      const char *k = json_string_value(json_object_get(ev, "event"));
      if (k && (!strcmp(k, "end") || !strcmp(k, "error"))) *got_end = true;
      lc_tr_asm_event(a, ev);
      json_decref(ev);
    }
    start = i + 1;
  }
  sl_buf_consume(b, start);
}

static void set_error(json_t *res, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(json_t *res, const char *type, const char *fmt, ...) {
  if (json_object_get(res, "error")) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_object_set_new(res, "error", json_pack("{s:s,s:s}", "message", msg, "failure_type", type));
}

/* Inferred schema, its diff against the declared one, and warnings. */
void bld_annotate(json_t *res) {
  json_t *recs = bld_result_records(res);
  json_t *inferred = bld_infer_schema(recs);
  json_object_set_new(res, "inferred_datetime_formats", bld_datetime_formats(recs));
  json_decref(recs);
  const json_t *declared = json_object_get(res, "declared_schema");
  if (declared) json_object_set_new(res, "schema_diff", bld_schema_diff(declared, inferred));
  json_object_set_new(res, "inferred_schema", inferred);
  json_object_set_new(res, "warnings", bld_warnings(res, json_object_get(res, "stream_definition")));
  if (declared) bld_schema_warnings(json_object_get(res, "warnings"), json_object_get(res, "schema_diff"), declared);
  json_object_del(res, "stream_definition");
}

json_t *bld_test_read(const char *yaml, size_t len, const char *name, const bld_test_opts *o) {
  double timeout = o->timeout_s > 0 ? o->timeout_s : 60;
  lc_tr_asm *a = lc_tr_asm_new(o->stream);
  int fds[2];
  if (pipe(fds)) {
    json_t *res = lc_tr_asm_finish(a);
    set_error(res, "system_error", "cannot start the test read: %s", strerror(errno));
    return res;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    child_run(fds[1], yaml, len, name, o);
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    json_t *res = lc_tr_asm_finish(a);
    set_error(res, "system_error", "cannot start the test read: %s", strerror(errno));
    return res;
  }
  sl_buf b;
  sl_buf_init(&b, (size_t)64 << 20);
  bool got_end = false, timed_out = false, too_big = false;
  double deadline = now_s() + timeout;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    int pr = poll(&p, 1, (int)(left * 1000) + 1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    if (sl_buf_reserve(&b, 65536)) {
      too_big = true;
      break;
    }
    ssize_t r = read(fds[0], b.data + b.len, 65536);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    b.len += (size_t)r;
    feed_lines(a, &b, &got_end);
  }
  close(fds[0]);
  if (timed_out || too_big) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sl_buf_dispose(&b);
  json_t *res = lc_tr_asm_finish(a);
  if (timed_out)
    set_error(res, "transient_error",
              "the test read did not finish within %g s (the last request shown got no answer, or the API kept "
              "failing and the connector kept retrying)",
              timeout);
  else if (too_big)
    set_error(res, "system_error", "the test read produced more than 64 MiB of output; lower the limits");
  else if (WIFSIGNALED(status))
    set_error(res, "system_error", "the test read crashed (signal %d)", WTERMSIG(status));
  else if (!got_end)
    set_error(res, "system_error", "the test read ended without a result (exit status %d)", WEXITSTATUS(status));
  bld_annotate(res);
  const char *msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
  if (!o->limits.retries && msg && strstr(msg, "giving up after 1 attempt"))
    json_array_append_new(json_object_get(res, "warnings"),
                          json_pack("{s:s,s:s}", "code", "retries_disabled", "message",
                                    "retries and backoff waits are off in test reads: the error handler would "
                                    "retry this request in a sync"));
  return res;
}
