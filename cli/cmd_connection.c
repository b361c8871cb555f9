/* sluice connection create|list|show|edit|sync|delete: a source, a
 * destination, the streams to move and how; `sync` runs it as a job. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/store.h"

static const char *usage_conn =
    "sluice connection create NAME --source S --destination D [--streams a,b] [--schedule SPEC]\n"
    "            [--namespace-format F] [--prefix P] [--schema-policy POLICY] [--status active|inactive]\n"
    "sluice connection list | show NAME | delete NAME\n"
    "sluice connection edit NAME [same options as create] [--rename NEW] [--expect-version N]\n"
    "sluice connection create|edit NAME --stream S [--sync-mode incremental|full_refresh]\n"
    "            [--destination-sync-mode append|append_dedup|overwrite|overwrite_dedup] [--cursor-field a.b] [--primary-key id[,a.b]]\n"
    "            [--fields id,a.b | --all-fields]\n"
    "sluice connection create|edit NAME --catalog CONFIGURED_CATALOG.json   (streams and their modes, as edited)\n"
    "  --fields: sync only these fields of the stream (nested as a.b; the primary key and cursor must be among them);\n"
    "  fields the source adds later are not selected. --all-fields: every field again\n"
    "sluice connection sync NAME [--max-attempts N] [--backoff-ms MS] [--full-refresh]\n"
    "sluice connection refresh NAME [--streams a,b] [--mode truncate|merge] [--max-attempts N] [--backoff-ms MS]\n"
    "  re-read the streams from scratch under a new generation; truncate (default) drops the old rows\n"
    "  once the new read has succeeded, merge keeps them\n"
    "sluice connection clear NAME [--streams a,b]   (the destination drops the streams' data; their state is reset)\n"
    "  refresh/clear --queue: keep the request for a running `sluice server`, which runs it after the connection's\n"
    "  running job (as POST /v1/connections/ID/refresh|clear does); --request ID: the server running such a request\n"
    "  SPEC: manual (default), every N{s,m,h,d}, or cron \"MIN HOUR DAY MONTH WEEKDAY\" (UTC)\n"
    "  POLICY: propagate_columns (default), propagate_all, ignore, pause_on_breaking\n"
    "  --expect-version N: refuse the edit when someone changed the connection since version N\n"
    "  every subcommand takes --json and --store FILE\n";

/* Options of the connection's text fields, in sl_conn_values order. */
static const char *const opts[SL_CONN_CATALOG] = {"--streams", "--schedule", "--namespace-format", "--prefix", "--schema-policy", "--status"};

/* "a.b" -> ["a", "b"] */
static json_t *field_path(const char *text) {
  json_t *p = json_array();
  char *copy = strdup(text), *save = NULL;
  for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) json_array_append_new(p, json_string(t));
  free(copy);
  return p;
}

/* A list of field paths "a,b.c" -> [{"field_path": ["a"]}, {"field_path": ["b", "c"]}] */
static json_t *field_list(const char *text) {
  json_t *l = json_array();
  char *copy = strdup(text), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(l, json_pack("{s:o}", "field_path", field_path(t)));
  free(copy);
  return l;
}

/* A configured catalog file's streams as stream settings; *streams gets
 * their names (malloc'd). */
static sl_code settings_of_file(const char *file, json_t **settings, char **streams, sl_err *err) {
  json_t *cat = NULL;
  sl_code rc = sl_json_load_file(file, &cat, err);
  if (rc) return rc;
  *settings = json_pack("{s:[]}", "streams");
  sl_buf names;
  sl_buf_init(&names, 1 << 24);
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(cat, "streams"), i, cs) {
    json_t *st = json_object_get(cs, "stream"), *e = json_object();
    const char *n = json_string_value(json_object_get(st, "name"));
    if (!n) {
      json_decref(e);
      rc = sl_err_set(err, SL_ECATALOG, "%s: streams[%zu] has no stream.name", file, i);
      break;
    }
    json_object_set_new(e, "stream", json_pack("{s:s}", "name", n));
    if (json_object_get(st, "namespace")) json_object_set(json_object_get(e, "stream"), "namespace", json_object_get(st, "namespace"));
    static const char *const keys[] = {"sync_mode", "destination_sync_mode", "cursor_field", "primary_key", "field_selection_enabled",
                                       "selected_fields", "fieldSelectionEnabled", "selectedFields"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (json_object_get(cs, keys[k])) json_object_set(e, keys[k], json_object_get(cs, keys[k]));
    json_array_append_new(json_object_get(*settings, "streams"), e);
    if (names.len) sl_buf_putc(&names, ',');
    sl_buf_append(&names, n, strlen(n));
  }
  sl_buf_putc(&names, 0);
  *streams = names.data;
  if (!rc && !json_array_size(json_object_get(*settings, "streams"))) rc = sl_err_set(err, SL_ECATALOG, "%s: no streams", file);
  json_decref(cat);
  return rc;
}

/* New stream settings from --stream and its options, or --catalog FILE:
 * *text is the JSON to store (malloc'd), *streams the stream list a
 * catalog file sets (malloc'd) or NULL. Checked against the discovered
 * catalog so a bad mode, field or selection fails here, naming stream and
 * field. row: the connection's source_id, streams and catalog. */
static sl_code settings_edit(cli_ws *w, const json_t *row, char **text, char **streams, sl_err *err) {
  const char *stream = cli_ws_opt(w, "--stream"), *file = cli_ws_opt(w, "--catalog");
  const char *sm = cli_ws_opt(w, "--sync-mode"), *dm = cli_ws_opt(w, "--destination-sync-mode");
  const char *cf = cli_ws_opt(w, "--cursor-field"), *pk = cli_ws_opt(w, "--primary-key");
  const char *fl = cli_ws_opt(w, "--fields");
  bool all = cli_ws_flag(w, "--all-fields");
  *text = *streams = NULL;
  if (!stream && !file) {
    if (sm || dm || cf || pk || fl || all)
      return sl_err_set(err, SL_EUSAGE, "%s: --sync-mode, --destination-sync-mode, --cursor-field, --primary-key, --fields and --all-fields need --stream S", w->cmd);
    return SL_EOK;
  }
  if (fl && all) return sl_err_set(err, SL_EUSAGE, "%s: --fields and --all-fields do not go together", w->cmd);
  if (fl && (!*fl || strstr(fl, ",,") || strstr(fl, "..") || *fl == ',' || *fl == '.'))
    return sl_err_set(err, SL_EUSAGE, "%s: --fields \"%s\": expected field paths like id,meta.ts", w->cmd, fl);
  json_t *disc = NULL, *settings = NULL;
  const char *old = sl_store_str(row, "catalog");
  int64_t source_id = sl_store_int(row, "source_id");
  sl_code rc = SL_EOK;
  if (file) {
    rc = settings_of_file(file, &settings, streams, err);
  } else if (!(rc = sl_conn_source_catalog(w->store, source_id, &disc, err))) {
    settings = old && *old ? json_loads(old, 0, NULL) : NULL;
    if (!json_is_object(settings)) {
      json_decref(settings);
      settings = json_pack("{s:[]}", "streams");
    }
    json_t *ds = NULL, *e = NULL, *x;
    size_t i;
    json_array_foreach(json_object_get(disc, "streams"), i, x) if (!ds && !strcmp(json_string_value(json_object_get(x, "name")), stream)) ds = x;
    if (!ds) rc = sl_err_set(err, SL_ECATALOG, "--stream: the source has no stream \"%s\"", stream);
    json_array_foreach(json_object_get(settings, "streams"), i, x) if (!e && !strcmp(json_string_value(json_object_get(json_object_get(x, "stream"), "name")), stream)) e = x;
    if (!rc && !e) {
      e = json_pack("{s:{s:s}}", "stream", "name", stream);
      if (json_object_get(ds, "namespace")) json_object_set(json_object_get(e, "stream"), "namespace", json_object_get(ds, "namespace"));
      json_array_append_new(json_object_get(settings, "streams"), e);
    }
    if (!rc) {
      if (sm) json_object_set_new(e, "sync_mode", json_string(sm));
      if (sm && !dm) json_object_del(e, "destination_sync_mode"); /* the new mode's default */
      if (dm) json_object_set_new(e, "destination_sync_mode", json_string(dm));
      if (cf) json_object_set_new(e, "cursor_field", field_path(cf));
      if (pk) {
        json_t *keys = json_array();
        char *copy = strdup(pk), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) json_array_append_new(keys, field_path(t));
        free(copy);
        json_object_set_new(e, "primary_key", keys);
      }
      if (fl || all) {
        json_object_del(e, "fieldSelectionEnabled");
        json_object_del(e, "selectedFields");
        json_object_set_new(e, "field_selection_enabled", json_boolean(fl));
        if (fl) json_object_set_new(e, "selected_fields", field_list(fl));
        else json_object_del(e, "selected_fields");
      }
    }
  }
  if (!rc) rc = sl_conn_check_settings(w->store, source_id, *streams ? *streams : sl_store_str(row, "streams"), settings, err);
  if (!rc && !(*text = sl_json_dumps(settings))) rc = SL_ENOMEM;
  if (rc) {
    free(*streams);
    *streams = NULL;
  }
  json_decref(disc);
  json_decref(settings);
  return rc;
}

/* create (row NULL) or edit: the options over the row's values, saved by
 * sl_conn_save (compare-and-set on the version read, or --expect-version). */
static sl_code conn_save(cli_ws *w, const char *name, const json_t *row, int64_t *id, sl_err *err) {
  sl_store *s = w->store;
  json_t *src = NULL, *dst = NULL, *base = NULL;
  const char *sref = cli_ws_opt(w, "--source"), *dref = cli_ws_opt(w, "--destination");
  const char *expect = cli_ws_opt(w, "--expect-version"), *newname = cli_ws_opt(w, "--rename");
  char *settings = NULL, *streams = NULL;
  sl_conn_values v = {0};
  sl_code rc = SL_EOK;
  for (int i = 0; i < SL_CONN_CATALOG && !rc; i++) {
    v.f[i] = cli_ws_opt(w, opts[i]);
    if (v.f[i] && (rc = sl_conn_check_field(i, v.f[i], err))) sl_err_wrap(err, "%s", opts[i]);
    if (!v.f[i] && row) v.f[i] = sl_store_str(row, sl_conn_field_name(i));
  }
  if (rc) return rc;
  if (!row && (!sref || !dref)) return sl_err_set(err, SL_EUSAGE, "connection create: --source and --destination are required");
  if (!row && (newname || expect)) return sl_err_set(err, SL_EUSAGE, "connection create: --rename and --expect-version are for edit");
  if (sref && (rc = sl_actor_find(s, "source", sref, &src, err))) return rc;
  if (dref && (rc = sl_actor_find(s, "destination", dref, &dst, err))) goto out;
  v.id = row ? sl_store_int(row, "id") : 0;
  v.name = newname ? newname : name;
  v.source_id = src ? sl_store_int(src, "id") : sl_store_int(row, "source_id");
  v.destination_id = dst ? sl_store_int(dst, "id") : sl_store_int(row, "destination_id");
  if (expect) {
    char *end;
    v.version = strtoll(expect, &end, 10);
    if (!*expect || *end) {
      rc = sl_err_set(err, SL_EUSAGE, "--expect-version \"%s\": expected a version number (see `sluice connection show`)", expect);
      goto out;
    }
  } else if (row) {
    v.version = sl_store_int(row, "version");
  }
  /* Stream settings are checked against the source the connection will have. */
  base = json_pack("{s:I, s:s?, s:s?}", "source_id", (json_int_t)v.source_id, "streams", v.f[SL_CONN_STREAMS], "catalog",
                   row ? sl_store_str(row, "catalog") : NULL);
  if ((rc = settings_edit(w, base, &settings, &streams, err))) goto out;
  if (streams) v.f[SL_CONN_STREAMS] = streams;
  v.f[SL_CONN_CATALOG] = settings ? settings : row ? sl_store_str(row, "catalog") : NULL;
  sl_conn_saved res;
  if (!(rc = sl_conn_save(s, &v, &res, err))) *id = res.id;
out:
  free(settings);
  free(streams);
  json_decref(base);
  json_decref(src);
  json_decref(dst);
  return rc;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  g_stop = 1;
  sl_sync_interrupt();
}

/* refresh/clear --queue: a request for a running server (as the REST API
 * makes), run after the connection's running job if any. */
static sl_code conn_queue(cli_ws *w, const json_t *row, const char *what, sl_err *err) {
  const char *sv = cli_ws_opt(w, "--streams"), *mode = cli_ws_opt(w, "--mode"), *status = sl_store_str(row, "status");
  int64_t rid = 0;
  if (!strcmp(what, "sync") || (mode && strcmp(what, "refresh")))
    return sl_err_set(err, SL_EUSAGE, "%s: --queue is for refresh and clear (--mode for refresh only)", w->cmd);
  if (mode && strcmp(mode, "truncate") && strcmp(mode, "merge"))
    return sl_err_set(err, SL_EUSAGE, "%s: --mode \"%s\": expected truncate or merge", w->cmd, mode);
  if (strcmp(status, "active"))
    return sl_err_set(err, SL_ECONFIG, "connection \"%s\" is %s; `sluice connection edit %s --status active` to run it",
                      sl_store_str(row, "name"), status, sl_store_str(row, "name"));
  sl_code rc = sl_request_add(w->store, sl_store_int(row, "id"), what, mode, sv, &rid, err);
  if (!rc && w->json) printf("{\"request\": %lld, \"kind\": \"%s\", \"queued\": true}\n", (long long)rid, what);
  else if (!rc) printf("%s of connection %s queued as request %lld: a running `sluice server` starts it (after a running job)\n", what,
                       sl_store_str(row, "name"), (long long)rid);
  return rc;
}

static sl_code conn_sync(cli_ws *w, const json_t *row, const char *what, sl_err *err) {
  if (cli_ws_flag(w, "--queue")) return conn_queue(w, row, what, err);
  sl_job_opts o = {0};
  const char *v;
  if ((v = cli_ws_opt(w, "--max-attempts"))) o.max_attempts = atoi(v);
  o.backoff_ms = (v = cli_ws_opt(w, "--backoff-ms")) ? atoll(v) : 10000;
  o.full_refresh = cli_ws_flag(w, "--full-refresh");
  o.quiet = w->json;
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  int64_t job = 0;
  const char *sv = cli_ws_opt(w, "--streams"), *mode = cli_ws_opt(w, "--mode");
  char **streams = sv && *sv ? cli_split_list(sv) : NULL;
  sl_code rc;
  if (strcmp(what, "sync") && (sv || mode) && cli_ws_opt(w, "--stream"))
    rc = sl_err_set(err, SL_EUSAGE, "%s: --streams a,b names the streams (--stream is for edit)", w->cmd);
  else if (!strcmp(what, "sync"))
    rc = (sv || mode) ? sl_err_set(err, SL_EUSAGE, "%s: --streams and --mode are for refresh and clear", w->cmd)
                      : sl_job_run(w->store, row, &o, &job, err);
  else if (!strcmp(what, "clear"))
    rc = mode ? sl_err_set(err, SL_EUSAGE, "%s: --mode is for refresh", w->cmd)
              : sl_conn_clear(w->store, row, (const char *const *)streams, &o, &job, err);
  else if (mode && strcmp(mode, "truncate") && strcmp(mode, "merge"))
    rc = sl_err_set(err, SL_EUSAGE, "%s: --mode \"%s\": expected truncate or merge", w->cmd, mode);
  else
    rc = sl_conn_refresh(w->store, row, (const char *const *)streams, mode && !strcmp(mode, "merge") ? SL_REFRESH_MERGE : SL_REFRESH_TRUNCATE,
                         &o, &job, err);
  free(streams);
  /* A request from the REST API (the server passes its id): done once its
   * job has run; a busy connection leaves it for a later turn. */
  if ((v = cli_ws_opt(w, "--request"))) sl_request_finish(w->store, atoll(v), job || rc != SL_ETRANSIENT);
  if (job) {
    json_t *j = NULL;
    char jb[24];
    sl_err e2 = SL_ERR_INIT;
    if (!sl_store_one(w->store, &j, &e2, "SELECT id, status, failure_type, failure_reason, "
                      "(SELECT COUNT(*) FROM attempts a WHERE a.job_id = jobs.id) AS attempts FROM jobs WHERE id = ?",
                      1, sl_store_i64(jb, job))) {
      if (w->json) cli_print_json(j);
      else printf("job %lld %s after %lld attempt(s)\n", (long long)job, sl_store_str(j, "status"), (long long)sl_store_int(j, "attempts"));
    }
    json_decref(j);
  }
  return rc;
}

int cmd_connection(int argc, char **argv) {
  static const char *const vopts[] = {"--source", "--destination", "--streams", "--schedule", "--namespace-format", "--prefix",
                                      "--schema-policy", "--status", "--rename", "--expect-version", "--max-attempts",
                                      "--backoff-ms", "--stream", "--sync-mode", "--destination-sync-mode", "--cursor-field",
                                      "--primary-key", "--catalog", "--mode", "--fields", "--request", NULL};
  static const char *const flags[] = {"--full-refresh", "--all-fields", "--queue", NULL};
  cli_ws w;
  int rc = cli_ws_start(&w, argc, argv, "connection", usage_conn, vopts, flags, "connection (a name or an id)");
  if (rc >= 0) return rc;
  const char *sub = w.pos[0], *name = w.npos > 1 ? w.pos[1] : NULL, *cmd = w.cmd;
  sl_err err = SL_ERR_INIT;
  sl_code c = SL_EOK;
  json_t *row = NULL, *out = NULL;
  int64_t id = 0;
  if (!strcmp(sub, "list")) {
    if (!(c = sl_store_exec(w.store, &out, &err,
                            "SELECT c.id, c.name, s.name AS source, d.name AS destination, c.schedule, c.status, c.version FROM connections c "
                            "JOIN actors s ON s.id = c.source_id JOIN actors d ON d.id = c.destination_id ORDER BY c.name", 0))) {
      if (w.json) cli_print_json(out);
      else {
        printf("%-6s %-24s %-20s %-20s %-12s %s\n", "id", "name", "source", "destination", "schedule", "status");
        size_t i;
        json_t *r;
        json_array_foreach(out, i, r)
            printf("%-6lld %-24s %-20s %-20s %-12s %s\n", (long long)sl_store_int(r, "id"), sl_store_str(r, "name"),
                   sl_store_str(r, "source"), sl_store_str(r, "destination"), sl_store_str(r, "schedule"), sl_store_str(r, "status"));
      }
    }
  } else if (!strcmp(sub, "create")) {
    if (!(c = conn_save(&w, name, NULL, &id, &err))) {
      if (w.json) printf("{\"id\": %lld, \"name\": \"%s\"}\n", (long long)id, name);
      else printf("connection %s created (id %lld)\n", name, (long long)id);
    }
  } else if (!(c = sl_conn_find(w.store, name, &row, &err))) {
    if (!strcmp(sub, "show")) {
      if (w.json) cli_print_json(row);
      else {
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
          char *t = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
          printf("%-18s %s\n", k, t ? t : "");
          free(t);
        }
      }
    } else if (!strcmp(sub, "edit")) {
      if (!(c = conn_save(&w, name, row, &id, &err))) {
        if (w.json) printf("{\"id\": %lld}\n", (long long)id);
        else printf("connection %s updated\n", name);
      }
    } else if (!strcmp(sub, "delete")) {
      char ib[24];
      if (!(c = sl_store_exec(w.store, NULL, &err, "DELETE FROM connections WHERE id = ?", 1, sl_store_i64(ib, sl_store_int(row, "id"))))) {
        if (w.json) printf("{\"deleted\": %s}\n", ib);
        else printf("connection %s deleted\n", name);
      }
    } else if (!strcmp(sub, "sync") || !strcmp(sub, "refresh") || !strcmp(sub, "clear")) {
      c = conn_sync(&w, row, sub, &err);
    } else {
      c = sl_err_set(&err, SL_EUSAGE, "%s: unknown subcommand (see `sluice connection --help`)", cmd);
    }
  }
  json_decref(row);
  json_decref(out);
  cli_ws_close(&w);
  return c ? cli_fail(&err, NULL) : 0;
}
