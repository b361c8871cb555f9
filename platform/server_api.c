/* The REST API of `sluice server`: JSON over HTTP (libmicrohttpd), bound to
 * loopback by default, every request needs "Authorization: Bearer TOKEN".
 * One internal polling thread, which alone uses its store handle. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define API_THREADS 4

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(body);
  if (!text) return MHD_NO;
  size_t n = strlen(text);
  text[n] = 0;
  struct MHD_Response *r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result error(struct MHD_Connection *c, unsigned status, const char *msg) {
  return reply(c, status, json_pack("{s:s}", "error", msg));
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

/* A query whose np (0 to 2) parameters are all p1. */
static enum MHD_Result rows(struct MHD_Connection *c, sl_server *sv, const char *sql, int np, const char *p1) {
  json_t *out = NULL;
  sl_err err = SL_ERR_INIT;
  sl_store *st = api_store(sv, &err);
  if (!st || sl_store_exec(st, &out, &err, sql, np, p1, p1)) return error(c, 500, err.msg);
  return reply(c, 200, out);
}

/* "/v1/jobs/12" -> 12 after prefix, or -1. */
static long long id_after(const char *url, const char *prefix, const char **rest) {
  size_t n = strlen(prefix);
  if (strncmp(url, prefix, n)) return -1;
  char *end;
  long long id = strtoll(url + n, &end, 10);
  if (end == url + n || id < 1) return -1;
  *rest = end;
  return id;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                              const char *upload_data, size_t *upload_size, void **con_cls) {
  sl_server *sv = cls;
  if (!*con_cls) { /* first call: headers only */
    *con_cls = sv;
    return MHD_YES;
  }
  if (*upload_size) { /* bodies are not used; drain them */
    *upload_size = 0;
    return MHD_YES;
  }
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!auth || strncmp(auth, "Bearer ", 7) || strcmp(auth + 7, sv->opts.token)) return error(c, 401, "a valid bearer token is required");
  bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
  const char *rest = NULL;
  char ib[24];
  long long id;
  if (get && !strcmp(url, "/v1/health")) return reply(c, 200, json_pack("{s:s}", "status", "ok"));
  sl_err serr = SL_ERR_INIT;
  sl_store *st = api_store(sv, &serr);
  if (!st) return error(c, 503, serr.msg);
  if (get && !strcmp(url, "/v1/sources"))
    return rows(c, sv, "SELECT id, name, connector, created_at, updated_at FROM actors WHERE kind = 'source' ORDER BY name", 0, NULL);
  if (get && !strcmp(url, "/v1/destinations"))
    return rows(c, sv, "SELECT id, name, connector, created_at, updated_at FROM actors WHERE kind = 'destination' ORDER BY name", 0, NULL);
  if (get && !strcmp(url, "/v1/connections"))
    return rows(c, sv, "SELECT c.id, c.name, s.name AS source, d.name AS destination, c.schedule, c.status, c.schema_policy, c.version "
                       "FROM connections c JOIN actors s ON s.id = c.source_id JOIN actors d ON d.id = c.destination_id ORDER BY c.name",
                0, NULL);
  if ((id = id_after(url, "/v1/connections/", &rest)) > 0) {
    sl_store_i64(ib, id);
    if (get && !*rest) {
      json_t *row = NULL;
      sl_err err = SL_ERR_INIT;
      sl_code rc = sl_store_one(st, &row, &err, "SELECT * FROM connections WHERE id = ?", 1, ib);
      return rc == SL_ENOTFOUND ? error(c, 404, "no such connection") : rc ? error(c, 500, err.msg) : reply(c, 200, row);
    }
    if (post && !strcmp(rest, "/sync")) {
      json_t *row = NULL;
      sl_err err = SL_ERR_INIT;
      char ts[24];
      sl_code rc = sl_store_one(st, &row, &err, "UPDATE connections SET run_requested = ? WHERE id = ? RETURNING id", 2,
                                sl_store_i64(ts, sl_now_ms()), ib);
      json_decref(row);
      return rc == SL_ENOTFOUND ? error(c, 404, "no such connection") : rc ? error(c, 500, err.msg)
                                : reply(c, 202, json_pack("{s:I,s:b}", "connection", (json_int_t)id, "queued", 1));
    }
  }
  if (get && !strcmp(url, "/v1/jobs")) {
    const char *conn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "connection_id");
    return rows(c, sv, "SELECT id, connection_id, kind, status, created_at, finished_at, failure_type, failure_reason FROM jobs "
                       "WHERE (CAST(? AS BIGINT) IS NULL OR connection_id = CAST(? AS BIGINT)) ORDER BY id DESC LIMIT 1000", 2, conn);
  }
  if (get && (id = id_after(url, "/v1/jobs/", &rest)) > 0 && !*rest) {
    json_t *job = NULL, *att = NULL;
    sl_err err = SL_ERR_INIT;
    sl_store_i64(ib, id);
    sl_code rc = sl_store_one(st, &job, &err, "SELECT * FROM jobs WHERE id = ?", 1, ib);
    if (rc) return rc == SL_ENOTFOUND ? error(c, 404, "no such job") : error(c, 500, err.msg);
    if (sl_store_exec(st, &att, &err, "SELECT id, number, status, started_at, finished_at, failure_type, failure_reason, "
                      "states_committed FROM attempts WHERE job_id = ? ORDER BY number", 1, ib)) {
      json_decref(job);
      return error(c, 500, err.msg);
    }
    json_object_set_new(job, "attempts", att);
    return reply(c, 200, job);
  }
  return error(c, 404, "no such endpoint (see docs/platform.md)");
}

sl_code sl_server_api_start(sl_server *sv, sl_err *err) {
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)sv->opts.port);
  if (inet_pton(AF_INET, sv->opts.listen ? sv->opts.listen : "127.0.0.1", &addr.sin_addr) != 1)
    return sl_err_set(err, SL_EUSAGE, "server: --listen \"%s\" is not an IPv4 address", sv->opts.listen);
  sv->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, sv, MHD_OPTION_SOCK_ADDR, &addr,
                             MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS, MHD_OPTION_END);
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
