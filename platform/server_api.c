/* The REST API of `sluice server`: JSON over HTTP (libmicrohttpd), bound to
 * loopback by default, every request needs "Authorization: Bearer TOKEN".
 * A pool of threads, each with its own store connection. This file: the
 * request plumbing (bodies, replies, errors) and the routing. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define API_THREADS 4
#define API_MAX_BODY (4u << 20) /* a request body larger than this is refused (413) */

enum MHD_Result api_reply_buf(api_call *a, unsigned status, sl_buf *b) {
  struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->data ? b->data : (char *)"", b->data ? MHD_RESPMEM_MUST_FREE
                                                                                                          : MHD_RESPMEM_PERSISTENT);
  b->data = NULL;
  b->len = b->cap = 0;
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  if (a->etag > 0) {
    char tag[32];
    snprintf(tag, sizeof tag, "\"%lld\"", (long long)a->etag);
    MHD_add_response_header(r, "ETag", tag);
  }
  enum MHD_Result ret = MHD_queue_response(a->c, status, r);
  MHD_destroy_response(r);
  return ret;
}

enum MHD_Result api_reply(api_call *a, unsigned status, json_t *body) {
  sl_buf b;
  sl_buf_init(&b, SIZE_MAX / 4);
  sl_jw w;
  sl_jw_init(&w, &b);
  sl_jw_json(&w, body);
  json_decref(body);
  if (w.rc) {
    sl_buf_dispose(&b);
    return MHD_NO;
  }
  return api_reply_buf(a, status, &b);
}

enum MHD_Result api_error(api_call *a, unsigned status, const char *code, const char *fmt, ...) {
  char msg[SL_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return api_reply(a, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

enum MHD_Result api_fail(api_call *a, const sl_err *err) {
  switch (err->code) {
    case SL_ENOTFOUND: return api_error(a, 404, "not_found", "%s", err->msg);
    case SL_EUSAGE: case SL_EJSON: case SL_ESCHEMA: case SL_ESTATE: case SL_ECATALOG:
      return api_error(a, 400, "invalid_input", "%s", err->msg);
    case SL_ECONFIG: /* a name in use, an actor still used: the request conflicts with what exists */
      if (strstr(err->msg, "exists already") || strstr(err->msg, "is used by") || strstr(err->msg, "changed by someone else"))
        return api_error(a, 409, "conflict", "%s", err->msg);
      return api_error(a, 400, "invalid_input", "%s", err->msg);
    case SL_ECONNECTOR: case SL_ESOURCE: case SL_EDESTINATION: case SL_EPROTOCOL:
      return api_error(a, 502, "connector_failed", "%s", err->msg);
    case SL_ETRANSIENT: return api_error(a, 503, "unavailable", "%s", err->msg);
    default: return api_error(a, 500, "internal", "%s", err->msg);
  }
}

enum MHD_Result api_rows(api_call *a, const char *sql, int np, const char *p1, const char *p2) {
  sl_buf b;
  sl_buf_init(&b, 256u << 20);
  sl_err err = SL_ERR_INIT;
  if (sl_store_exec_json(a->st, &b, &err, sql, np, p1, p2)) {
    sl_buf_dispose(&b);
    return api_fail(a, &err);
  }
  return api_reply_buf(a, 200, &b);
}

void api_children_begin(sigset_t *saved) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_UNBLOCK, &chld, saved);
}
void api_children_end(const sigset_t *saved) { pthread_sigmask(SIG_SETMASK, saved, NULL); }

bool api_is(const api_call *a, const char *method) { return !strcmp(a->method, method); }

bool api_version(api_call *a, int64_t *version, enum MHD_Result *sent) {
  json_t *v = json_object_get(a->body, "version");
  const char *h = MHD_lookup_connection_value(a->c, MHD_HEADER_KIND, "If-Match");
  if (v && !json_is_integer(v)) {
    *sent = api_error(a, 400, "invalid_input", "field \"version\" must be an integer");
    return false;
  }
  if (v) {
    *version = json_integer_value(v);
    return true;
  }
  if (!h) return true;
  const char *p = h;
  if (!strncmp(p, "W/", 2)) p += 2;
  if (*p == '"') p++;
  char *end;
  long long n = strtoll(p, &end, 10);
  if (end == p || n < 1 || (*end == '"' ? end[1] : *end)) {
    *sent = api_error(a, 400, "invalid_input", "If-Match \"%.64s\": expected the version to edit from, e.g. \"3\"", h);
    return false;
  }
  *version = n;
  return true;
}

bool api_body_ok(api_call *a, const char *const *allowed, bool required, enum MHD_Result *sent) {
  if (!a->body) {
    if (!required) return true;
    *sent = api_error(a, 400, "invalid_input", "this request needs a JSON object as its body");
    return false;
  }
  if (!json_is_object(a->body)) {
    *sent = api_error(a, 400, "invalid_input", "the request body must be a JSON object");
    return false;
  }
  const char *k;
  json_t *v;
  json_object_foreach(a->body, k, v) {
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(allowed[i], k);
    if (!ok) {
      *sent = api_error(a, 400, "invalid_input", "unknown field \"%s\" in the request body", k);
      return false;
    }
  }
  return true;
}

bool api_str(api_call *a, const char *key, const char **out, enum MHD_Result *sent) {
  json_t *v = json_object_get(a->body, key);
  *out = json_string_value(v);
  if (!v || json_is_null(v) || json_is_string(v)) return true;
  *sent = api_error(a, 400, "invalid_input", "field \"%s\" must be a string", key);
  return false;
}

/* Each thread of the pool has its own store connection, opened on its
 * first request (SQLite and libpq connections are not shared). */
static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;
static void store_free(void *p) { sl_store_close(p); } /* at the thread's exit */
static void store_key_init(void) { pthread_key_create(&store_key, store_free); }

static sl_store *api_store(sl_server *sv, sl_err *err) {
  pthread_once(&store_once, store_key_init);
  sl_store *s = pthread_getspecific(store_key);
  if (!s) {
    if (sl_store_reopen(sv->store, &s, err)) return NULL;
    pthread_setspecific(store_key, s);
  }
  return s;
}

/* "/v1/jobs/12/cancel" with prefix "/v1/jobs" -> 12, rest "/cancel"; the
 * collection itself -> 0; anything else -> -1. */
static long long route(const char *url, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(url, prefix, n)) return -1;
  if (!url[n]) {
    *rest = url + n;
    return 0;
  }
  if (url[n] != '/') return -1;
  char *end;
  long long id = strtoll(url + n + 1, &end, 10);
  if (end == url + n + 1 || id < 1 || (*end && *end != '/')) return -1;
  *rest = end;
  return id;
}

/* The body of a request, collected over the upload calls. */
typedef struct api_upload {
  sl_buf body;
  bool too_big;
} api_upload;

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  api_upload *u = *con_cls;
  if (u) {
    sl_buf_dispose(&u->body);
    free(u);
  }
  *con_cls = NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                              const char *upload_data, size_t *upload_size, void **con_cls) {
  sl_server *sv = cls;
  api_upload *u = *con_cls;
  if (!u) { /* first call: headers only */
    if (!(u = calloc(1, sizeof *u))) return MHD_NO;
    sl_buf_init(&u->body, API_MAX_BODY);
    *con_cls = u;
    return MHD_YES;
  }
  if (*upload_size) {
    if (!u->too_big && sl_buf_append(&u->body, upload_data, *upload_size)) u->too_big = true;
    *upload_size = 0;
    return MHD_YES;
  }
  api_call a = {c, sv, NULL, method, NULL, 0};
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!auth || strncmp(auth, "Bearer ", 7) || strcmp(auth + 7, sv->opts.token))
    return api_error(&a, 401, "unauthorized", "a valid bearer token is required");
  if (u->too_big) return api_error(&a, 413, "too_large", "the request body is larger than %u bytes", API_MAX_BODY);
  if (!strcmp(url, "/v1/health")) return api_reply(&a, 200, json_pack("{s:s}", "status", "ok"));
  if (u->body.len) {
    json_error_t je;
    a.body = json_loadb(u->body.data, u->body.len, 0, &je);
    if (!a.body) return api_error(&a, 400, "invalid_json", "the request body is not JSON: line %d column %d: %s", je.line, je.column, je.text);
  }
  sl_err serr = SL_ERR_INIT;
  enum MHD_Result ret;
  if (!(a.st = api_store(sv, &serr))) ret = api_error(&a, 503, "unavailable", "%s", serr.msg);
  else {
    const char *rest = NULL;
    long long id;
    if ((id = route(url, "/v1/sources", &rest)) >= 0) ret = api_actor(&a, "source", id, rest);
    else if ((id = route(url, "/v1/destinations", &rest)) >= 0) ret = api_actor(&a, "destination", id, rest);
    else if ((id = route(url, "/v1/connections", &rest)) >= 0)
      ret = id && *rest ? api_connection_op(&a, id, rest) : api_connection(&a, id, rest);
    else if ((id = route(url, "/v1/jobs", &rest)) >= 0) ret = api_jobs(&a, id, rest);
    else ret = api_error(&a, 404, "not_found", "no such endpoint: %s %s (see docs/platform.md)", method, url);
  }
  json_decref(a.body);
  return ret;
}

sl_code sl_server_api_start(sl_server *sv, sl_err *err) {
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)sv->opts.port);
  if (inet_pton(AF_INET, sv->opts.listen ? sv->opts.listen : "127.0.0.1", &addr.sin_addr) != 1)
    return sl_err_set(err, SL_EUSAGE, "server: --listen \"%s\" is not an IPv4 address", sv->opts.listen);
  sv->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, sv, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS,
                             MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
  if (!sv->mhd) return sl_err_set(err, SL_EIO, "server: cannot listen on %s:%d (in use?)", sv->opts.listen ? sv->opts.listen : "127.0.0.1",
                                  sv->opts.port);
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(sv->mhd, MHD_DAEMON_INFO_BIND_PORT);
  sv->bound_port = info ? info->port : sv->opts.port;
  return SL_EOK;
}

void sl_server_api_stop(sl_server *sv) {
  if (sv->mhd) MHD_stop_daemon(sv->mhd);
  sv->mhd = NULL;
}
