/* REST API: what is done to a connection (sync, refresh, clear), its
 * committed state, a source's catalog versions, and jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* refresh/clear: kept in the store (table requests) until a server's
 * scheduler takes it and runs it as a job (a child `sluice connection
 * refresh|clear`) like any other: after the connection's running job, on
 * any server sharing the store, after a restart. */
static enum MHD_Result conn_enqueue(api_call *a, long long id, const char *verb) {
  static const char *const allowed[] = {"streams", "mode", NULL};
  enum MHD_Result sent;
  const char *mode = NULL;
  if (!api_body_ok(a, allowed, false, &sent) || !api_str(a, "mode", &mode, &sent)) return sent;
  if (mode && strcmp(verb, "refresh")) return api_error(a, 400, "invalid_input", "field \"mode\" is for refresh only");
  if (mode && strcmp(mode, "truncate") && strcmp(mode, "merge"))
    return api_error(a, 400, "invalid_input", "field \"mode\": \"%s\" is not truncate or merge", mode);
  json_t *streams = json_object_get(a->body, "streams");
  if (streams && !json_is_array(streams)) return api_error(a, 400, "invalid_input", "field \"streams\" must be an array of stream names");
  char list[4096];
  size_t k, n = 0;
  json_t *s;
  list[0] = 0;
  json_array_foreach(streams, k, s) {
    const char *name = json_string_value(s);
    if (!name || !*name || strchr(name, ','))
      return api_error(a, 400, "invalid_input", "field \"streams\": item %zu must be a stream name", k);
    n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", k ? "," : "", name);
    if (n >= sizeof list) return api_error(a, 400, "invalid_input", "field \"streams\" is too long");
  }
  int64_t rid;
  sl_err err = SL_ERR_INIT;
  if (sl_request_add(a->st, id, verb, mode, list, &rid, &err)) return api_fail(a, &err);
  return api_reply(a, 202, json_pack("{s:I,s:s,s:b,s:I}", "connection", (json_int_t)id, "kind", verb, "queued", 1, "request", (json_int_t)rid));
}

/* The state of a connection is changed only while none of its jobs runs. */
static bool not_running(api_call *a, const char *conn, enum MHD_Result *sent) {
  sl_err err = SL_ERR_INIT;
  sl_code rc = sl_job_idle(a->st, strtoll(conn, NULL, 10), &err);
  if (!rc) return true;
  *sent = rc != SL_ETRANSIENT ? api_fail(a, &err) : api_error(a, 409, "conflict", "%s; change the state when it is over", err.msg);
  return false;
}

static enum MHD_Result conn_state(api_call *a, const char *ib) {
  sl_err err = SL_ERR_INIT;
  enum MHD_Result sent;
  json_t *state = NULL;
  if (api_is(a, "GET"))
    return sl_store_state_get(a->st, strtoll(ib, NULL, 10), &state, &err) ? api_fail(a, &err) : api_reply(a, 200, state);
  if (api_is(a, "PUT")) {
    if (!a->body) return api_error(a, 400, "invalid_input", "the body is the state: an array of state messages or a legacy object");
    /* The same checks as a state file given to `sluice sync`. */
    if (!json_is_array(a->body) && !json_is_object(a->body))
      return api_error(a, 400, "invalid_input", "request body: a state is an array of state messages or an object");
    sl_state st;
    sl_code rc = sl_state_parse(a->body, "request body", NULL, &st, &err);
    sl_state_dispose(&st);
    if (rc) return api_fail(a, &err);
    if (!not_running(a, ib, &sent)) return sent;
    if (sl_store_state_put(a->st, strtoll(ib, NULL, 10), a->body, &err)) return api_fail(a, &err);
    return sl_store_state_get(a->st, strtoll(ib, NULL, 10), &state, &err) ? api_fail(a, &err) : api_reply(a, 200, state);
  }
  if (api_is(a, "DELETE")) {
    const char *stream = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, "stream");
    if (!not_running(a, ib, &sent)) return sent;
    sl_code rc = sl_job_reset_state(a->st, strtoll(ib, NULL, 10), stream, &err);
    return rc ? api_fail(a, &err) : api_reply(a, 200, json_pack("{s:s,s:s?}", "state", "reset", "stream", stream));
  }
  return api_error(a, 405, "method_not_allowed", "%s on a state: use GET, PUT or DELETE", a->method);
}

enum MHD_Result api_connection_op(api_call *a, long long id, const char *rest) {
  json_t *row = NULL;
  sl_err err = SL_ERR_INIT;
  char ib[24];
  if (sl_store_one(a->st, &row, &err, "SELECT id, name, status FROM connections WHERE id = ?", 1, sl_store_i64(ib, id)))
    return err.code == SL_ENOTFOUND ? api_error(a, 404, "not_found", "no connection %lld", id) : api_fail(a, &err);
  char name[256], status[32];
  snprintf(name, sizeof name, "%s", sl_store_str(row, "name"));
  snprintf(status, sizeof status, "%s", sl_store_str(row, "status"));
  json_decref(row);
  if (!strcmp(rest, "/state")) return conn_state(a, ib);
  if (!api_is(a, "POST")) return api_error(a, 405, "method_not_allowed", "%s %s: use POST", a->method, rest);
  /* The scheduler runs active connections only: a job asked for another would wait for ever. */
  if (strcmp(status, "active") && (!strcmp(rest, "/sync") || !strcmp(rest, "/refresh") || !strcmp(rest, "/clear")))
    return api_error(a, 409, "conflict", "connection \"%s\" is %s; PATCH it with {\"status\": \"active\"} to run it", name, status);
  if (!strcmp(rest, "/sync")) {
    char ts[24];
    if (sl_store_exec(a->st, NULL, &err, "UPDATE connections SET run_requested = ? WHERE id = ?", 2, sl_store_i64(ts, sl_now_ms()), ib))
      return api_fail(a, &err);
    return api_reply(a, 202, json_pack("{s:I,s:s,s:b}", "connection", (json_int_t)id, "kind", "sync", "queued", 1));
  }
  if (!strcmp(rest, "/refresh")) return conn_enqueue(a, id, "refresh");
  if (!strcmp(rest, "/clear")) return conn_enqueue(a, id, "clear");
  return api_error(a, 404, "not_found", "no such endpoint: POST /v1/connections/%lld%s", id, rest);
}

/* ---- catalogs ---- */

static sl_code catalog_load(api_call *a, long long src, const char *v, json_t **row, sl_err *err) {
  char *end;
  long long n = !v || !strcmp(v, "latest") ? 0 : strtoll(v, &end, 10);
  if (v && strcmp(v, "latest") && (*end || n < 1)) return sl_err_set(err, SL_EUSAGE, "\"%s\" is not a catalog version number", v);
  sl_code rc = sl_catalog_get(a->st, src, n, row, err);
  if (!rc) {
    json_t *cat = json_loads(sl_store_str(*row, "catalog"), 0, NULL);
    json_object_set_new(*row, "catalog", cat ? cat : json_null());
  }
  return rc;
}

enum MHD_Result api_catalogs(api_call *a, long long source_id, const char *rest) {
  if (!api_is(a, "GET")) return api_error(a, 405, "method_not_allowed", "catalogs are read with GET (POST .../discover adds one)");
  char sb[24];
  sl_store_i64(sb, source_id);
  if (!*rest)
    return api_rows(a, "SELECT version, created_at, length(catalog) AS bytes FROM catalogs WHERE source_id = ? ORDER BY version", 1, sb, NULL);
  sl_err err = SL_ERR_INIT;
  json_t *x = NULL, *y = NULL;
  if (!strcmp(rest, "/diff")) {
    const char *from = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, "from");
    const char *to = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, "to");
    if (!from || !to) return api_error(a, 400, "invalid_input", "a diff needs ?from=VERSION&to=VERSION");
    enum MHD_Result ret;
    if (catalog_load(a, source_id, from, &x, &err) || catalog_load(a, source_id, to, &y, &err)) ret = api_fail(a, &err);
    else ret = api_reply(a, 200, sl_catalog_diff(json_object_get(x, "catalog"), json_object_get(y, "catalog")));
    json_decref(x);
    json_decref(y);
    return ret;
  }
  if (rest[0] != '/') return api_error(a, 404, "not_found", "no such endpoint: catalogs%s", rest);
  return catalog_load(a, source_id, rest + 1, &x, &err) ? api_fail(a, &err) : api_reply(a, 200, x);
}

/* ---- jobs ---- */

enum MHD_Result api_jobs(api_call *a, long long id, const char *rest) {
  sl_err err = SL_ERR_INIT;
  char ib[24];
  if (!id) {
    if (!api_is(a, "GET")) return api_error(a, 405, "method_not_allowed", "jobs are listed with GET");
    const char *conn = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, "connection_id");
    return api_rows(a, "SELECT id, connection_id, kind, status, created_at, finished_at, failure_type, failure_reason FROM jobs "
                       "WHERE (CAST(? AS BIGINT) IS NULL OR connection_id = CAST(? AS BIGINT)) ORDER BY id DESC LIMIT 1000", 2, conn, conn);
  }
  sl_store_i64(ib, id);
  if (!strcmp(rest, "/cancel")) {
    if (!api_is(a, "POST")) return api_error(a, 405, "method_not_allowed", "a job is cancelled with POST");
    json_t *row = NULL;
    char ts[24];
    sl_code rc = sl_store_one(a->st, &row, &err, "UPDATE jobs SET cancel_requested = ? WHERE id = ? AND status = 'running' RETURNING id", 2,
                              sl_store_i64(ts, sl_now_ms()), ib);
    json_decref(row);
    if (rc == SL_ENOTFOUND) {
      rc = sl_store_one(a->st, &row, &err, "SELECT status FROM jobs WHERE id = ?", 1, ib);
      enum MHD_Result ret = rc == SL_ENOTFOUND ? api_error(a, 404, "not_found", "no job %lld", id)
                            : rc ? api_fail(a, &err)
                                 : api_error(a, 409, "not_running", "job %lld is not running (it is %s)", id, sl_store_str(row, "status"));
      json_decref(row);
      return ret;
    }
    return rc ? api_fail(a, &err) : api_reply(a, 202, json_pack("{s:I,s:b}", "job", (json_int_t)id, "cancel_requested", 1));
  }
  if (!strcmp(rest, "/logs") && api_is(a, "GET")) { /* ?attempt=N: one attempt */
    const char *n = MHD_lookup_connection_value(a->c, MHD_GET_ARGUMENT_KIND, "attempt");
    char *end;
    if (n && (!*n || (strtoll(n, &end, 10), *end)))
      return api_error(a, 400, "invalid_input", "attempt \"%.32s\": expected an attempt number", n);
    json_t *job = NULL;
    sl_code rc = sl_store_one(a->st, &job, &err, "SELECT id FROM jobs WHERE id = ?", 1, ib);
    json_decref(job);
    if (rc) return rc == SL_ENOTFOUND ? api_error(a, 404, "not_found", "no job %lld", id) : api_fail(a, &err);
    sl_buf b;
    sl_buf_init(&b, 256u << 20);
    if ((rc = sl_job_logs_json(a->st, ib, n, &b, &err))) {
      sl_buf_dispose(&b);
      return api_fail(a, &err);
    }
    return api_reply_buf(a, 200, &b);
  }
  if (*rest || !api_is(a, "GET")) return api_error(a, 404, "not_found", "no such endpoint: %s /v1/jobs/%lld%s", a->method, id, rest);
  json_t *job = NULL, *att = NULL;
  sl_code rc = sl_store_one(a->st, &job, &err, "SELECT * FROM jobs WHERE id = ?", 1, ib);
  if (rc) return rc == SL_ENOTFOUND ? api_error(a, 404, "not_found", "no job %lld", id) : api_fail(a, &err);
  if (sl_store_exec(a->st, &att, &err, "SELECT id, number, status, started_at, finished_at, failure_type, failure_reason, "
                    "states_committed FROM attempts WHERE job_id = ? ORDER BY number", 1, ib)) {
    json_decref(job);
    return api_fail(a, &err);
  }
  size_t i;
  json_t *at;
  json_array_foreach(att, i, at) {
    json_t *st = NULL;
    char ab[24];
    if (!sl_store_exec(a->st, &st, &err, "SELECT namespace, stream, emitted, committed, rejected, bytes, status, duration_ms "
                       "FROM stream_stats WHERE attempt_id = ? ORDER BY namespace, stream", 1, sl_store_i64(ab, sl_store_int(at, "id"))))
      json_object_set_new(at, "streams", st);
  }
  json_object_set_new(job, "attempts", att);
  return api_reply(a, 200, job);
}
