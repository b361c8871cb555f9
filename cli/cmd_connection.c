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
    "sluice connection edit NAME --stream S [--sync-mode incremental|full_refresh]\n"
    "            [--destination-sync-mode append|append_dedup|overwrite|overwrite_dedup] [--cursor-field a.b] [--primary-key id[,a.b]]\n"
    "sluice connection edit NAME --catalog CONFIGURED_CATALOG.json   (streams and their modes, as edited)\n"
    "sluice connection sync NAME [--max-attempts N] [--backoff-ms MS] [--full-refresh]\n"
    "sluice connection refresh NAME [--streams a,b] [--mode truncate|merge] [--max-attempts N] [--backoff-ms MS]\n"
    "  re-read the streams from scratch under a new generation; truncate (default) drops the old rows\n"
    "  once the new read has succeeded, merge keeps them\n"
    "sluice connection clear NAME [--streams a,b]   (the destination drops the streams' data; their state is reset)\n"
    "  SPEC: manual (default), every N{s,m,h,d}, or cron \"MIN HOUR DAY MONTH WEEKDAY\" (UTC)\n"
    "  POLICY: propagate_columns (default), propagate_all, ignore, pause_on_breaking\n"
    "  --expect-version N: refuse the edit when someone changed the connection since version N\n"
    "  every subcommand takes --json and --store FILE\n";

static const char *const fields[][2] = {
    {"--streams", "streams"}, {"--schedule", "schedule"}, {"--namespace-format", "namespace_format"},
    {"--prefix", "stream_prefix"}, {"--schema-policy", "schema_policy"}, {"--status", "status"},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static sl_code check_value(const char *opt, const char *v, sl_err *err) {
  if (!strcmp(opt, "--schedule")) {
    sl_schedule sc;
    return sl_schedule_parse(v, &sc, err);
  }
  if (!strcmp(opt, "--schema-policy") && strcmp(v, "propagate_columns") && strcmp(v, "propagate_all") && strcmp(v, "ignore") &&
      strcmp(v, "pause_on_breaking"))
    return sl_err_set(err, SL_EUSAGE, "--schema-policy \"%s\": expected propagate_columns, propagate_all, ignore or pause_on_breaking", v);
  if (!strcmp(opt, "--status") && strcmp(v, "active") && strcmp(v, "inactive") && strcmp(v, "paused"))
    return sl_err_set(err, SL_EUSAGE, "--status \"%s\": expected active, inactive or paused", v);
  return SL_EOK;
}

static sl_code conn_find(sl_store *s, const char *ref, json_t **row, sl_err *err) {
  char *end;
  long long id = strtoll(ref, &end, 10);
  char ib[24];
  const char *q = "SELECT c.*, s.name AS source, d.name AS destination FROM connections c "
                  "JOIN actors s ON s.id = c.source_id JOIN actors d ON d.id = c.destination_id WHERE ";
  char sql[512];
  snprintf(sql, sizeof sql, "%s%s", q, *ref && !*end ? "c.id = ?" : "c.name = ?");
  sl_code rc = sl_store_one(s, row, err, sql, 1, *ref && !*end ? sl_store_i64(ib, id) : ref);
  if (rc == SL_ENOTFOUND) sl_err_set(err, SL_ENOTFOUND, "no connection named \"%s\" (see `sluice connection list`)", ref);
  return rc;
}

/* "a.b" -> ["a", "b"] */
static json_t *field_path(const char *text) {
  json_t *p = json_array();
  char *copy = strdup(text), *save = NULL;
  for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) json_array_append_new(p, json_string(t));
  free(copy);
  return p;
}

/* The source's latest discovered catalog (discovering it if none is stored). */
static sl_code discovered_of(sl_store *s, const json_t *row, json_t **cat, sl_err *err) {
  json_t *c = NULL, *src = NULL;
  char ib[24];
  bool changed;
  int64_t version;
  sl_code rc = sl_catalog_get(s, sl_store_int(row, "source_id"), 0, &c, err);
  if (!rc) {
    const char *t = sl_store_str(c, "catalog");
    rc = sl_json_load_str(t, strlen(t), "the stored catalog", cat, err);
  } else if (rc == SL_ENOTFOUND && !(rc = sl_actor_find(s, "source", sl_store_i64(ib, sl_store_int(row, "source_id")), &src, err))) {
    rc = sl_source_discover(s, src, cat, &version, &changed, err);
  }
  json_decref(c);
  json_decref(src);
  return rc;
}

/* New stream settings from --stream and its options, or --catalog FILE:
 * *text is the JSON to store (malloc'd), *streams the stream list a
 * catalog file sets (malloc'd) or NULL. Checked against the discovered
 * catalog so a bad mode or field fails here, naming stream and field. */
static sl_code settings_edit(cli_ws *w, const json_t *row, char **text, char **streams, sl_err *err) {
  const char *stream = cli_ws_opt(w, "--stream"), *file = cli_ws_opt(w, "--catalog");
  const char *sm = cli_ws_opt(w, "--sync-mode"), *dm = cli_ws_opt(w, "--destination-sync-mode");
  const char *cf = cli_ws_opt(w, "--cursor-field"), *pk = cli_ws_opt(w, "--primary-key");
  *text = *streams = NULL;
  if (!stream && !file) {
    if (sm || dm || cf || pk) return sl_err_set(err, SL_EUSAGE, "%s: --sync-mode, --destination-sync-mode, --cursor-field and --primary-key need --stream S", w->cmd);
    return SL_EOK;
  }
  json_t *disc = NULL, *settings = NULL, *configured = NULL;
  const char *old = sl_store_str(row, "catalog");
  sl_code rc = discovered_of(w->store, row, &disc, err);
  if (rc) return rc;
  if (file) {
    json_t *cat = NULL;
    if (!(rc = sl_json_load_file(file, &cat, err))) {
      settings = json_pack("{s:[]}", "streams");
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
        static const char *const keys[] = {"sync_mode", "destination_sync_mode", "cursor_field", "primary_key"};
        for (size_t k = 0; k < 4; k++)
          if (json_object_get(cs, keys[k])) json_object_set(e, keys[k], json_object_get(cs, keys[k]));
        json_array_append_new(json_object_get(settings, "streams"), e);
        if (names.len) sl_buf_putc(&names, ',');
        sl_buf_append(&names, n, strlen(n));
      }
      sl_buf_putc(&names, 0);
      *streams = names.data;
      if (!rc && !json_array_size(json_object_get(settings, "streams"))) rc = sl_err_set(err, SL_ECATALOG, "%s: no streams", file);
    }
    json_decref(cat);
  } else {
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
    }
  }
  /* The whole thing as a sync would build it. */
  if (!rc) {
    const char *sel = *streams ? *streams : sl_store_str(row, "streams");
    char **list = sel && *sel ? cli_split_list(sel) : NULL;
    sl_catalog_opts o = {(const char *const *)list, false};
    if (!(rc = sl_catalog_configure(disc, &o, &configured, err))) rc = sl_catalog_apply_settings(disc, configured, settings, err);
    free(list);
  }
  if (!rc && !(*text = sl_json_dumps(settings))) rc = SL_ENOMEM;
  if (rc) {
    free(*streams);
    *streams = NULL;
  }
  json_decref(disc);
  json_decref(settings);
  json_decref(configured);
  return rc;
}

static sl_code conn_save(cli_ws *w, const char *name, json_t *row, int64_t *id, sl_err *err) {
  sl_store *s = w->store;
  json_t *src = NULL, *dst = NULL, *out = NULL;
  char ts[24], sb[24], db[24], ib[24], vb[24];
  const char *sref = cli_ws_opt(w, "--source"), *dref = cli_ws_opt(w, "--destination");
  sl_code rc = SL_EOK;
  for (size_t i = 0; i < N_FIELDS && !rc; i++) {
    const char *v = cli_ws_opt(w, fields[i][0]);
    if (v) rc = check_value(fields[i][0], v, err);
  }
  if (rc) return rc;
  if (!row && (!sref || !dref)) return sl_err_set(err, SL_EUSAGE, "connection create: --source and --destination are required");
  if (sref && (rc = sl_actor_find(s, "source", sref, &src, err))) return rc;
  if (dref && (rc = sl_actor_find(s, "destination", dref, &dst, err))) goto out;
  sl_store_i64(sb, src ? sl_store_int(src, "id") : sl_store_int(row, "source_id"));
  sl_store_i64(db, dst ? sl_store_int(dst, "id") : sl_store_int(row, "destination_id"));
  const char *val[N_FIELDS];
  for (size_t i = 0; i < N_FIELDS; i++) {
    val[i] = cli_ws_opt(w, fields[i][0]);
    if (!val[i] && row) val[i] = sl_store_str(row, fields[i][1]);
  }
  const char *policy = val[4] ? val[4] : "propagate_columns", *status = val[5] ? val[5] : "active";
  const char *sched = val[1] ? val[1] : "manual";
  sl_store_i64(ts, sl_now_ms());
  if (!row) {
    rc = sl_store_one(s, &out, err,
                      "INSERT INTO connections (name, source_id, destination_id, streams, schedule, namespace_format, stream_prefix, "
                      "schema_policy, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                      11, name, sb, db, val[0], sched, val[2], val[3], policy, status, ts, ts);
    if (rc == SL_ECONFIG && strstr(err->msg, "UNIQUE")) sl_err_set(err, SL_ECONFIG, "a connection named \"%s\" exists already", name);
  } else {
    /* Optimistic concurrency: the update applies to the version read. */
    const char *expect = cli_ws_opt(w, "--expect-version");
    const char *newname = cli_ws_opt(w, "--rename");
    char *settings = NULL, *streams = NULL;
    if ((rc = settings_edit(w, row, &settings, &streams, err))) goto out;
    if (streams) val[0] = streams;
    rc = sl_store_one(s, &out, err,
                      "UPDATE connections SET name = ?, source_id = ?, destination_id = ?, streams = ?, schedule = ?, namespace_format = ?, "
                      "stream_prefix = ?, schema_policy = ?, status = ?, catalog = ?, updated_at = ?, version = version + 1 "
                      "WHERE id = ? AND version = ? RETURNING id",
                      13, newname ? newname : name, sb, db, val[0], sched, val[2], val[3], policy, status,
                      settings ? settings : sl_store_str(row, "catalog"), ts,
                      sl_store_i64(ib, sl_store_int(row, "id")), expect ? expect : sl_store_i64(vb, sl_store_int(row, "version")));
    free(settings);
    free(streams);
    if (rc == SL_ENOTFOUND)
      sl_err_set(err, SL_ECONFIG, "connection \"%s\" was changed by someone else (now at a version other than %s); show it and edit again",
                 name, expect ? expect : vb);
  }
  if (!rc) *id = sl_store_int(out, "id");
out:
  json_decref(src);
  json_decref(dst);
  json_decref(out);
  return rc;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
  g_stop = 1;
  sl_sync_interrupt();
}

static sl_code conn_sync(cli_ws *w, const json_t *row, const char *what, sl_err *err) {
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
                                      "--primary-key", "--catalog", "--mode", NULL};
  static const char *const flags[] = {"--full-refresh", NULL};
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
  } else if (!(c = conn_find(w.store, name, &row, &err))) {
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
