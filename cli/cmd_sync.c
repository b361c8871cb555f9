/* sluice sync: source -> destination with committed state, live progress
 * on a terminal and a per-stream summary at the end. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/sluice.h"

static void on_signal(int sig) { sl_sync_interrupt(); }

static void summary(const sl_sync_result *r, bool color) {
  const char *b = color ? "\033[1m" : "", *z = color ? "\033[0m" : "";
  fprintf(stderr, "%s%-24s %12s %12s %10s %8s  %s%s\n", b, "stream", "read", "committed", "seconds", "errors", "status", z);
  uint64_t tr = 0, tc = 0;
  for (size_t i = 0; i < r->n_streams; i++) {
    const sl_stream_stats *s = &r->streams[i];
    int64_t end = s->finished_ms ? s->finished_ms : r->finished_ms;
    double secs = s->started_ms ? (double)(end - s->started_ms) / 1000.0 : 0.0;
    fprintf(stderr, "%-24s %12llu %12llu %10.2f %8llu  %s\n", s->name, (unsigned long long)s->records_read,
            (unsigned long long)s->records_committed, secs, (unsigned long long)s->errors, s->status);
    tr += s->records_read;
    tc += s->records_committed;
  }
  double total = (double)(r->finished_ms - r->started_ms) / 1000.0;
  fprintf(stderr, "%-24s %12llu %12llu %10.2f %8s  %llu state(s) committed, %.0f records/s\n", "total",
          (unsigned long long)tr, (unsigned long long)tc, total, "", (unsigned long long)r->states_committed,
          total > 0 ? (double)tr / total : 0.0);
}

/* --catalog FILE: the streams and per-stream settings of a configured
 * catalog (an Airbyte configured_catalog.json), checked against what the
 * source discovers now. */
typedef struct file_catalog {
  const char *path;
  json_t *root;
  char **names; /* the selection, NULL-terminated */
} file_catalog;

static sl_code file_catalog_load(file_catalog *fc, sl_err *err) {
  json_error_t je;
  if (!(fc->root = json_load_file(fc->path, 0, &je)))
    return sl_err_set(err, SL_ECATALOG, "%s:%d:%d: %s", fc->path, je.line, je.column, je.text);
  json_t *streams = json_object_get(fc->root, "streams");
  if (!json_array_size(streams))
    return sl_err_set(err, SL_ECATALOG, "%s: a configured catalog needs a non-empty \"streams\" array", fc->path);
  size_t i, n = json_array_size(streams);
  json_t *cs;
  if (!(fc->names = calloc(n + 1, sizeof *fc->names))) return sl_err_set(err, SL_ENOMEM, "out of memory");
  json_array_foreach(streams, i, cs) {
    const char *name = json_string_value(json_object_get(json_object_get(cs, "stream"), "name"));
    if (!name) return sl_err_set(err, SL_ECATALOG, "%s: streams[%zu] has no stream.name", fc->path, i);
    fc->names[i] = (char *)name;
  }
  return SL_EOK;
}

static sl_code file_catalog_configure(void *arg, const json_t *discovered, json_t **configured, sl_err *err) {
  file_catalog *fc = arg;
  size_t i, j;
  json_t *cs, *ds;
  json_array_foreach(json_object_get(fc->root, "streams"), i, cs) {
    json_t *d = json_object_get(cs, "stream");
    const char *name = json_string_value(json_object_get(d, "name")), *ns = json_string_value(json_object_get(d, "namespace"));
    bool found = false;
    json_array_foreach(json_object_get(discovered, "streams"), j, ds) {
      const char *dns = json_string_value(json_object_get(ds, "namespace"));
      const char *dname = json_string_value(json_object_get(ds, "name"));
      found |= dname && !strcmp(dname, name) && (!ns || (dns && !strcmp(ns, dns)));
    }
    if (!found)
      return sl_err_set(err, SL_ECATALOG, "%s: streams[%zu]: the source has no stream \"%s\"%s%s%s (discover lists its streams)",
                        fc->path, i, name, ns ? " in namespace \"" : "", ns ? ns : "", ns ? "\"" : "");
  }
  sl_catalog_opts copts = {(const char *const *)fc->names, false};
  sl_code rc = sl_catalog_configure(discovered, &copts, configured, err);
  if (!rc) rc = sl_catalog_apply_settings(discovered, *configured, fc->root, err);
  if (rc) sl_err_wrap(err, "%s", fc->path);
  return rc;
}

int cmd_sync(int argc, char **argv) {
  sl_sync_opts o = {0};
  sl_err err = SL_ERR_INIT;
  char **streams = NULL;
  bool no_progress = false;
  file_catalog fc = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--full-refresh")) {
      o.full_refresh = true;
      continue;
    }
    if (!strcmp(a, "--no-progress")) {
      no_progress = true;
      continue;
    }
    if (i + 1 >= argc) {
      sl_err_set(&err, SL_EUSAGE, "sync: %s needs a value (see `sluice help sync`)", a);
      return cli_fail(&err, NULL);
    }
    const char *val = argv[++i];
    if (!strcmp(a, "--source")) o.source = val;
    else if (!strcmp(a, "--source-config")) o.source_config = val;
    else if (!strcmp(a, "--destination")) o.destination = val;
    else if (!strcmp(a, "--destination-config")) o.destination_config = val;
    else if (!strcmp(a, "--state-file")) o.state_file = val;
    else if (!strcmp(a, "--protocol-log")) o.protocol_log = val;
    else if (!strcmp(a, "--catalog")) fc.path = val;
    else if (!strcmp(a, "--streams")) {
      free(streams);
      streams = cli_split_list(val);
      o.streams = (const char *const *)streams;
    } else if (!strcmp(a, "--max-message-size")) {
      char *end;
      unsigned long long v = strtoull(val, &end, 10);
      if (*end || v < 1024) {
        sl_err_set(&err, SL_EUSAGE, "sync: --max-message-size wants a byte count of at least 1024, got \"%s\"", val);
        return cli_fail(&err, NULL);
      }
      o.max_message_bytes = (size_t)v;
    } else {
      sl_err_set(&err, SL_EUSAGE, "sync: unknown option %s (see `sluice help sync`)", a);
      return cli_fail(&err, NULL);
    }
  }
  const char *missing = !o.source ? "--source" : !o.source_config ? "--source-config"
                        : !o.destination ? "--destination" : !o.destination_config ? "--destination-config" : NULL;
  if (missing) {
    sl_err_set(&err, SL_EUSAGE, "sync: %s is required (see `sluice help sync`)", missing);
    return cli_fail(&err, NULL);
  }
  if (fc.path && (o.streams || o.full_refresh)) {
    sl_err_set(&err, SL_EUSAGE, "sync: --catalog chooses the streams and their modes; it does not go with --streams or --full-refresh");
    free(streams);
    return cli_fail(&err, NULL);
  }
  if (fc.path) {
    if (file_catalog_load(&fc, &err)) {
      json_decref(fc.root);
      free(fc.names);
      return cli_fail(&err, NULL);
    }
    o.configure = file_catalog_configure;
    o.configure_arg = &fc;
  }
  o.progress = !no_progress && isatty(STDERR_FILENO);
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sl_sync_result res;
  sl_code rc = sl_sync_run(&o, &res, &err);
  if (res.n_streams) summary(&res, cli_color());
  int ret = 0;
  if (rc) {
    const char *hint = rc == SL_EINTERRUPTED ? "the state file keeps the last committed state; run the same command to resume"
                       : o.state_file ? "the state file holds only what the destination committed; fix the cause and rerun to resume"
                                      : NULL;
    ret = cli_fail(&err, hint);
  }
  sl_sync_result_dispose(&res);
  free(streams);
  json_decref(fc.root);
  free(fc.names);
  return ret;
}
