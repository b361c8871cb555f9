/* Generations, refreshes and clears of a connection's streams.
 *
 * Every stream has a generation in the store that only goes up: on a
 * refresh or clear and on each job of a full-refresh overwrite stream. The
 * configured catalog carries it as generation_id with the job id as
 * sync_id; minimum_generation_id equals it for a truncate refresh, a clear
 * or an overwrite (the destination drops older rows once the stream is
 * COMPLETE), else 0 (a merge keeps them). A refresh or clear stays pending
 * until a job carrying it succeeds, so a failed one is resumed, with the
 * same generation, by the next job. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "refresh_int.h"

static char **split(const char *list) {
  if (!list || !*list) return NULL;
  size_t n = 1;
  for (const char *p = list; *p; p++) n += *p == ',';
  char **out = calloc(n + 1, sizeof *out), *copy = strdup(list), *save = NULL;
  size_t k = 0;
  for (char *t = strtok_r(copy, ",", &save); out && t; t = strtok_r(NULL, ",", &save)) out[k++] = strdup(t);
  free(copy);
  return out;
}

static void split_free(char **v) {
  for (size_t i = 0; v && v[i]; i++) free(v[i]);
  free(v);
}

static const char *ns_of(const json_t *stream) {
  const char *ns = json_string_value(json_object_get(stream, "namespace"));
  return ns ? ns : "";
}

static bool is_target(const conn_catalog *cc, const json_t *stream) {
  size_t i;
  json_t *t;
  json_array_foreach(cc->targets, i, t) if (!strcmp(json_string_value(json_object_get(t, "name")), json_string_value(json_object_get(stream, "name"))) &&
                                            !strcmp(ns_of(t), ns_of(stream))) return true;
  return false;
}

/* generation_id, minimum_generation_id and sync_id from the store. */
static sl_code annotate(conn_catalog *cc, json_t *configured, sl_err *err) {
  char cb[24];
  json_t *rows;
  sl_code rc = sl_store_exec(cc->s, &rows, err, "SELECT namespace, stream, generation, pending FROM generations WHERE connection_id = ?", 1,
                             sl_store_i64(cb, sl_store_int(cc->conn, "id")));
  if (rc) return rc;
  size_t i, j;
  json_t *cs, *r;
  json_array_foreach(json_object_get(configured, "streams"), i, cs) {
    json_t *st = json_object_get(cs, "stream");
    int64_t gen = 0;
    const char *pending = NULL;
    json_array_foreach(rows, j, r) if (!strcmp(sl_store_str(r, "stream"), json_string_value(json_object_get(st, "name"))) &&
                                       !strcmp(sl_store_str(r, "namespace"), ns_of(st))) {
      gen = sl_store_int(r, "generation");
      pending = sl_store_str(r, "pending");
    }
    const char *sm = json_string_value(json_object_get(cs, "sync_mode"));
    const char *dm = json_string_value(json_object_get(cs, "destination_sync_mode"));
    bool truncate = (pending && strcmp(pending, "merge")) || (!strcmp(sm, "full_refresh") && !strncmp(dm, "overwrite", 9));
    json_object_set_new(cs, "generation_id", json_integer(gen));
    json_object_set_new(cs, "minimum_generation_id", json_integer(truncate ? gen : 0));
    json_object_set_new(cs, "sync_id", json_integer(cc->job_id));
  }
  json_decref(rows);
  return SL_EOK;
}

sl_code conn_configure(void *arg, const json_t *discovered, json_t **configured, sl_err *err) {
  conn_catalog *cc = arg;
  *configured = NULL;
  char **streams = split(sl_store_str(cc->conn, "streams"));
  sl_catalog_opts o = {(const char *const *)streams, cc->full_refresh};
  json_t *out = NULL, *settings = NULL;
  const char *st = sl_store_str(cc->conn, "catalog");
  sl_code rc = sl_catalog_configure(discovered, &o, &out, err);
  split_free(streams);
  if (!rc && st && *st) rc = sl_json_load_str(st, strlen(st), "the connection's stream settings", &settings, err);
  if (!rc && settings) rc = sl_catalog_apply_settings(discovered, out, settings, err);
  if (!rc && cc->req && !strcmp(cc->req->kind, "clear")) { /* a clear sends only its streams */
    json_t *keep = json_array(), *cs;
    size_t i;
    json_array_foreach(json_object_get(out, "streams"), i, cs) if (is_target(cc, json_object_get(cs, "stream"))) json_array_append(keep, cs);
    json_object_set_new(out, "streams", keep);
  }
  if (!rc) rc = annotate(cc, out, err);
  json_decref(settings);
  if (rc) {
    json_decref(out);
    return sl_err_wrap(err, "connection \"%s\"", sl_store_str(cc->conn, "name"));
  }
  json_decref(cc->sent);
  cc->sent = json_incref(out);
  *configured = out;
  return SL_EOK;
}

/* The streams a refresh or clear names, checked against the catalog the
 * connection syncs (an unknown name is an error naming it). */
static sl_code find_targets(conn_catalog *cc, const json_t *configured, sl_err *err) {
  cc->targets = json_array();
  size_t i;
  json_t *cs;
  for (const char *const *w = cc->req->streams; w && *w; w++) {
    bool found = false;
    json_array_foreach(json_object_get(configured, "streams"), i, cs) {
      json_t *st = json_object_get(cs, "stream");
      if (strcmp(json_string_value(json_object_get(st, "name")), *w)) continue;
      json_array_append_new(cc->targets, json_pack("{s:s, s:s}", "name", *w, "namespace", ns_of(st)));
      found = true;
    }
    if (!found)
      return sl_err_set(err, SL_EUSAGE, "--streams: connection \"%s\" syncs no stream \"%s\"", sl_store_str(cc->conn, "name"), *w);
  }
  if (!cc->req->streams)
    json_array_foreach(json_object_get(configured, "streams"), i, cs) {
      json_t *st = json_object_get(cs, "stream");
      json_array_append_new(cc->targets, json_pack("{s:O, s:s}", "name", json_object_get(st, "name"), "namespace", ns_of(st)));
    }
  return SL_EOK;
}

/* Drop one stream from the stored state (a STREAM row, or its entry in a
 * GLOBAL state's stream_states). */
static sl_code reset_state(conn_catalog *cc, const char *cb, const char *ns, const char *name, sl_err *err) {
  sl_code rc = sl_store_exec(cc->s, NULL, err, "DELETE FROM state WHERE connection_id = ? AND namespace = ? AND stream = ?", 3, cb, ns, name);
  json_t *row = NULL;
  if (rc || sl_store_one(cc->s, &row, err, "SELECT state FROM state WHERE connection_id = ? AND stream = ''", 1, cb)) return rc;
  json_t *g = json_loads(sl_store_str(row, "state"), 0, NULL), *ss = json_object_get(json_object_get(g, "global"), "stream_states");
  json_decref(row);
  size_t i;
  json_t *e;
  bool changed = false;
  for (i = json_array_size(ss); i-- > 0;) {
    e = json_object_get(json_array_get(ss, i), "stream_descriptor");
    if (!strcmp(json_string_value(json_object_get(e, "name")), name) && !strcmp(ns_of(e), ns)) {
      json_array_remove(ss, i);
      changed = true;
    }
  }
  char *text = changed ? sl_json_dumps(g) : NULL;
  if (text) rc = sl_store_exec(cc->s, NULL, err, "UPDATE state SET state = ? WHERE connection_id = ? AND stream = ''", 2, text, cb);
  free(text);
  json_decref(g);
  return rc;
}

sl_code conn_generations_start(conn_catalog *cc, sl_err *err) {
  json_t *row = NULL, *disc = NULL, *configured = NULL;
  bool asked = cc->req && strcmp(cc->req->kind, "sync");
  sl_code rc = sl_catalog_get(cc->s, sl_store_int(cc->conn, "source_id"), 0, &row, err);
  if (rc) /* a sync goes on (its own discover reports the problem); a refresh needs the streams */
    return asked ? sl_err_wrap(err, "connection \"%s\"", sl_store_str(cc->conn, "name")) : SL_EOK;
  const char *text = sl_store_str(row, "catalog");
  const job_req *req = cc->req;
  cc->req = NULL; /* the whole catalog, not only a clear's streams */
  if (!(rc = sl_json_load_str(text, strlen(text), "the stored catalog", &disc, err)))
    rc = conn_configure(cc, disc, &configured, err);
  cc->req = req;
  json_decref(row);
  json_decref(disc);
  if (!rc && asked) rc = find_targets(cc, configured, err);
  char cb[24];
  sl_store_i64(cb, sl_store_int(cc->conn, "id"));
  if (!rc && !(rc = sl_store_begin(cc->s, err))) {
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(configured, "streams"), i, cs) {
      json_t *st = json_object_get(cs, "stream");
      bool target = asked && is_target(cc, st);
      bool overwrite = !strcmp(json_string_value(json_object_get(cs, "sync_mode")), "full_refresh");
      if (!target && (!overwrite || (asked && !strcmp(req->kind, "clear")))) continue;
      const char *name = json_string_value(json_object_get(st, "name"));
      rc = sl_store_exec(cc->s, NULL, err,
                         "INSERT INTO generations (connection_id, namespace, stream, generation, pending) VALUES (?, ?, ?, 1, ?) "
                         "ON CONFLICT (connection_id, namespace, stream) DO UPDATE SET generation = generations.generation + 1, "
                         "pending = COALESCE(excluded.pending, generations.pending)",
                         4, cb, ns_of(st), name, target ? req->pending : NULL);
      if (!rc) rc = reset_state(cc, cb, ns_of(st), name, err);
      if (rc) break;
    }
    if (rc) sl_store_rollback(cc->s);
    else rc = sl_store_commit(cc->s, err);
  }
  json_decref(configured);
  return rc;
}

void conn_generations_done(conn_catalog *cc) {
  char cb[24], gb[24];
  sl_err e = SL_ERR_INIT;
  sl_store_i64(cb, sl_store_int(cc->conn, "id"));
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(cc->sent, "streams"), i, cs) {
    json_t *st = json_object_get(cs, "stream");
    sl_store_exec(cc->s, NULL, &e, "UPDATE generations SET pending = NULL WHERE connection_id = ? AND namespace = ? AND stream = ? AND generation = ?",
                  4, cb, ns_of(st), json_string_value(json_object_get(st, "name")),
                  sl_store_i64(gb, json_integer_value(json_object_get(cs, "generation_id"))));
  }
}

void conn_catalog_dispose(conn_catalog *cc) {
  json_decref(cc->targets);
  json_decref(cc->sent);
  cc->targets = cc->sent = NULL;
}

/* ---- the clear attempt ---- */

static sl_code write_json(const char *path, const json_t *v, sl_err *err) {
  return json_dump_file(v, path, JSON_COMPACT) ? sl_err_set(err, SL_EIO, "cannot write %s", path) : SL_EOK;
}

/* The destination's output: logs and errors into the job log (stderr). */
static void dest_output(int fd, char *first_error, size_t cap) {
  FILE *f = fdopen(fd, "r");
  if (!f) return;
  char *line = NULL;
  size_t n = 0;
  while (getline(&line, &n, f) > 0) {
    json_t *m = json_loads(line, 0, NULL);
    const char *type = json_string_value(json_object_get(m, "type"));
    if (type && !strcmp(type, "LOG")) {
      json_t *l = json_object_get(m, "log");
      fprintf(stderr, "destination: %s: %s\n", json_string_value(json_object_get(l, "level")), json_string_value(json_object_get(l, "message")));
    } else if (type && !strcmp(type, "TRACE")) {
      const char *msg = json_string_value(json_object_get(json_object_get(json_object_get(m, "trace"), "error"), "message"));
      if (msg && !first_error[0]) snprintf(first_error, cap, "%s", msg);
      if (msg) fprintf(stderr, "destination: error: %s\n", msg);
    }
    json_decref(m);
  }
  free(line);
  fclose(f);
}

sl_code conn_clear_run(conn_catalog *cc, const sl_sync_opts *so, sl_sync_result *res, sl_err *err) {
  memset(res, 0, sizeof *res);
  res->started_ms = sl_now_ms();
  char exe[4096], dir[] = "/tmp/sluice-clear-XXXXXX", cat_path[4200], first_error[SL_ERR_MSG_MAX] = "";
  json_t *disc = NULL, *configured = NULL, *dcat = NULL;
  sl_mapping *map = NULL;
  int code;
  sl_code rc = sl_connector_resolve(so->destination, exe, sizeof exe, err);
  if (rc) return rc;
  if (!mkdtemp(dir)) return sl_err_set(err, SL_EIO, "cannot create a temporary directory in /tmp: %s", strerror(errno));
  snprintf(cat_path, sizeof cat_path, "%s/catalog.json", dir);
  /* The streams as the source describes them now (their schemas). */
  char src_exe[4096];
  const char *dargs[] = {"discover", "--config", so->source_config, NULL};
  if ((rc = sl_connector_resolve(so->source, src_exe, sizeof src_exe, err)) ||
      (rc = sl_connector_call(so->source, src_exe, dargs, SL_MSG_CATALOG, &disc, &code, NULL, NULL, err)) ||
      (rc = conn_configure(cc, json_object_get(disc, "catalog"), &configured, err)) ||
      (rc = sl_mapping_new(so->namespace_format, so->stream_prefix, configured, &map, err)))
    goto out;
  dcat = map ? sl_mapping_catalog(map, configured) : json_incref(configured);
  size_t n = json_array_size(json_object_get(dcat, "streams"));
  if (!n) {
    rc = sl_err_set(err, SL_ECATALOG, "nothing to clear");
    goto out;
  }
  res->streams = calloc(n, sizeof *res->streams);
  res->n_streams = n;
  if ((rc = write_json(cat_path, dcat, err))) goto out;
  const char *wargs[] = {"write", "--config", so->destination_config, "--catalog", cat_path, NULL};
  sl_proc dst;
  if ((rc = sl_proc_spawn(&dst, so->destination, exe, wargs, true, err))) goto out;
  FILE *in = fdopen(dst.in_fd, "w");
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(dcat, "streams"), i, cs) { /* no records, then each stream is COMPLETE */
    json_t *st = json_object_get(cs, "stream"), *d = json_pack("{s:O}", "name", json_object_get(st, "name"));
    if (json_object_get(st, "namespace")) json_object_set(d, "namespace", json_object_get(st, "namespace"));
    json_t *m = json_pack("{s:s, s:{s:s, s:I, s:{s:o, s:s}}}", "type", "TRACE", "trace", "type", "STREAM_STATUS", "emitted_at",
                          (json_int_t)sl_now_ms(), "stream_status", "stream_descriptor", d, "status", "COMPLETE");
    char *t = sl_json_dumps(m);
    if (in && t) fprintf(in, "%s\n", t);
    free(t);
    json_decref(m);
    json_t *orig = json_object_get(json_array_get(json_object_get(configured, "streams"), i), "stream");
    res->streams[i].name = strdup(json_string_value(json_object_get(orig, "name")));
    res->streams[i].ns = json_object_get(orig, "namespace") ? strdup(ns_of(orig)) : NULL;
    res->streams[i].status = "COMPLETE";
  }
  if (in) fclose(in);
  else close(dst.in_fd);
  dest_output(dst.out_fd, first_error, sizeof first_error);
  res->destination_exit = sl_proc_wait(&dst);
  if (res->destination_exit)
    rc = sl_err_set(err, SL_EDESTINATION, "the destination %s exited with code %d%s%s", so->destination, res->destination_exit,
                    first_error[0] ? ": " : "", first_error);
  for (i = 0; rc && i < n; i++) res->streams[i].status = "INCOMPLETE";
out:
  res->finished_ms = sl_now_ms();
  unlink(cat_path);
  rmdir(dir);
  sl_mapping_free(map);
  json_decref(disc);
  json_decref(configured);
  json_decref(dcat);
  return rc;
}
