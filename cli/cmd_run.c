/* sluice spec|check|discover|read: run one connector command and show its
 * output readably on a terminal, or as raw JSON lines when piped (--json). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/sluice.h"

typedef struct run_opts {
  const char *verb;
  const char *connector, *config, *catalog, *state, *streams;
  bool json, validate, debug;
} run_opts;

typedef struct run_view {
  sl_catalog *validate; /* check records against their stream schemas */
  uint64_t invalid;
  bool pretty, color;
  bool check_failed, got_result;
  sl_msg_type want;
  uint64_t records, states, errors;
  char first_error[SL_ERR_MSG_MAX];
} run_view;

static int parse_args(run_opts *o, const char *verb, int argc, char **argv, sl_err *err) {
  memset(o, 0, sizeof *o);
  o->verb = verb;
  for (int i = 1; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--json")) {
      o->json = true;
      continue;
    }
    if (!strcmp(argv[i], "--validate")) {
      o->validate = true;
      continue;
    }
    if (!strcmp(argv[i], "--debug")) { /* passed on: the connector logs HTTP traffic */
      o->debug = true;
      continue;
    }
    if (!strcmp(argv[i], "--config")) slot = &o->config;
    else if (!strcmp(argv[i], "--catalog")) slot = &o->catalog;
    else if (!strcmp(argv[i], "--state")) slot = &o->state;
    else if (!strcmp(argv[i], "--streams")) slot = &o->streams;
    else if (argv[i][0] == '-')
      return sl_err_set(err, SL_EUSAGE, "%s: unknown option %s (see `sluice help %s`)", verb, argv[i], verb);
    else if (!o->connector) {
      o->connector = argv[i];
      continue;
    } else
      return sl_err_set(err, SL_EUSAGE, "%s: unexpected argument %s", verb, argv[i]);
    if (i + 1 >= argc) return sl_err_set(err, SL_EUSAGE, "%s: %s needs a value", verb, argv[i]);
    *slot = argv[++i];
  }
  if (!o->connector)
    return sl_err_set(err, SL_EUSAGE, "%s: which connector? (see `sluice help %s`)", verb, verb);
  if (strcmp(verb, "spec") && !o->config)
    return sl_err_set(err, SL_EUSAGE, "%s: --config FILE is required", verb);
  return SL_EOK;
}

static const char *c(const run_view *v, const char *code) { return v->color ? code : ""; }

static void show_spec(run_view *v, json_t *spec) {
  json_t *cs = json_object_get(spec, "connectionSpecification");
  json_t *req = json_object_get(cs, "required");
  printf("%s%s%s\n", c(v, "\033[1m"), json_string_value(json_object_get(cs, "title")) ?: "Configuration", c(v, "\033[0m"));
  const char *k;
  json_t *p;
  json_object_foreach(json_object_get(cs, "properties"), k, p) {
    bool required = false;
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) if (!strcmp(json_string_value(r) ?: "", k)) required = true;
    json_t *type = json_object_get(p, "type");
    char *ts = type ? sl_json_dumps(type) : strdup("\"any\"");
    json_t *def = json_object_get(p, "default");
    char *ds = def ? sl_json_dumps(def) : NULL;
    printf("  %s%-20s%s %-12s%s%s%s%s\n", c(v, "\033[36m"), k, c(v, "\033[0m"), ts ? ts : "",
           required ? " required" : "", json_is_true(json_object_get(p, "airbyte_secret")) ? " secret" : "",
           ds ? " default=" : "", ds ? ds : "");
    const char *d = json_string_value(json_object_get(p, "description"));
    if (d) printf("      %s\n", d);
    free(ts);
    free(ds);
  }
}

static void show_catalog(run_view *v, json_t *cat) {
  size_t i;
  json_t *s;
  printf("%s%-24s %-28s %-16s %-16s %s%s\n", c(v, "\033[1m"), "stream", "sync modes", "primary key", "cursor", "fields", c(v, "\033[0m"));
  json_array_foreach(json_object_get(cat, "streams"), i, s) {
    char *modes = sl_json_dumps(json_object_get(s, "supported_sync_modes"));
    json_t *pkj = json_object_get(s, "source_defined_primary_key");
    json_t *cur = json_object_get(s, "default_cursor_field");
    char *pk = pkj ? sl_json_dumps(pkj) : strdup("-");
    char *cu = cur ? sl_json_dumps(cur) : strdup("-");
    printf("%-24s %-28s %-16s %-16s %zu\n", json_string_value(json_object_get(s, "name")), modes ? modes : "",
           pk ? pk : "", cu ? cu : "", json_object_size(json_object_get(json_object_get(s, "json_schema"), "properties")));
    free(modes);
    free(pk);
    free(cu);
  }
}

static void validate_record(run_view *v, json_t *rec) {
  const char *name = json_string_value(json_object_get(rec, "stream"));
  sl_cstream *cs = name ? sl_catalog_find(v->validate, name, json_string_value(json_object_get(rec, "namespace"))) : NULL;
  if (!cs) return;
  char what[300];
  snprintf(what, sizeof what, "stream %s record %llu", name, (unsigned long long)v->records);
  sl_err err = SL_ERR_INIT;
  if (sl_schema_validate(cs->json_schema, json_object_get(rec, "data"), what, &err)) {
    if (v->invalid++ < 20) fprintf(stderr, "%sinvalid record:%s %s\n", c(v, "\033[1;31m"), c(v, "\033[0m"), err.msg);
  }
}

static void show_line(run_view *v, const char *line, size_t len) {
  static const char rec_prefix[] = "{\"type\":\"RECORD\"";
  if (!v->pretty && !v->validate && len > sizeof rec_prefix && !memcmp(line, rec_prefix, sizeof rec_prefix - 1)) {
    v->records++; /* raw mode: records pass through unparsed */
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
    return;
  }
  json_error_t je;
  json_t *m = json_loadb(line, len, 0, &je);
  const char *ts = json_string_value(json_object_get(m, "type"));
  sl_msg_type t = ts ? sl_msg_type_parse(ts, strlen(ts)) : SL_MSG_UNKNOWN;
  if (!m || !ts) {
    if (v->pretty) fprintf(stderr, "%s(not a protocol message)%s %.*s\n", c(v, "\033[33m"), c(v, "\033[0m"), (int)len, line);
    else fprintf(stderr, "sluice: connector printed a non-protocol line: %.*s\n", (int)len, line);
    json_decref(m);
    return;
  }
  if (t == v->want) v->got_result = true;
  json_t *p = json_object_get(m, sl_msg_payload_key(t) ? sl_msg_payload_key(t) : "");
  if (t == SL_MSG_RECORD) {
    v->records++;
    if (v->validate) validate_record(v, p);
  }
  if (t == SL_MSG_STATE) v->states++;
  if (t == SL_MSG_CONNECTION_STATUS && strcmp(json_string_value(json_object_get(p, "status")) ?: "", "SUCCEEDED")) {
    v->check_failed = true;
    snprintf(v->first_error, sizeof v->first_error, "%s", json_string_value(json_object_get(p, "message")) ?: "check failed");
  }
  json_t *err = json_object_get(p, "error");
  if (t == SL_MSG_TRACE && err) {
    v->errors++;
    if (!v->first_error[0])
      snprintf(v->first_error, sizeof v->first_error, "%s", json_string_value(json_object_get(err, "message")) ?: "");
  }
  if (!v->pretty) {
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
    json_decref(m);
    return;
  }
  switch (t) {
    case SL_MSG_SPEC: show_spec(v, p); break;
    case SL_MSG_CATALOG: show_catalog(v, p); break;
    case SL_MSG_CONNECTION_STATUS:
      if (v->check_failed) printf("%s✘ check failed:%s %s\n", c(v, "\033[1;31m"), c(v, "\033[0m"), v->first_error);
      else printf("%s✔ check succeeded%s\n", c(v, "\033[1;32m"), c(v, "\033[0m"));
      break;
    case SL_MSG_RECORD: {
      json_t *data = json_object_get(p, "data");
      char *d = data ? sl_json_dumps(data) : NULL;
      printf("%s%s%s %s\n", c(v, "\033[36m"), json_string_value(json_object_get(p, "stream")) ?: "?", c(v, "\033[0m"), d ? d : "");
      free(d);
      break;
    }
    case SL_MSG_STATE: {
      char *d = sl_json_dumps(p);
      printf("%sstate%s %s\n", c(v, "\033[35m"), c(v, "\033[0m"), d ? d : "");
      free(d);
      break;
    }
    case SL_MSG_LOG:
      fprintf(stderr, "%s%s%s %s\n", c(v, "\033[2m"), json_string_value(json_object_get(p, "level")) ?: "LOG", c(v, "\033[0m"),
              json_string_value(json_object_get(p, "message")) ?: "");
      break;
    case SL_MSG_TRACE:
      if (err)
        fprintf(stderr, "%serror (%s):%s %s\n", c(v, "\033[1;31m"), json_string_value(json_object_get(err, "failure_type")) ?: "?",
                c(v, "\033[0m"), json_string_value(json_object_get(err, "message")) ?: "");
      break;
    default: break;
  }
  json_decref(m);
}

static sl_code build_catalog(const run_opts *o, const char *exe, char *path, size_t len, sl_err *err) {
  json_t *disc, *configured;
  int code;
  const char *args[] = {"discover", "--config", o->config, NULL};
  sl_code rc = sl_connector_call(o->connector, exe, args, SL_MSG_CATALOG, &disc, &code, NULL, NULL, err);
  if (rc) return rc;
  char **streams = o->streams ? cli_split_list(o->streams) : NULL;
  sl_catalog_opts copts = {(const char *const *)streams, false};
  rc = sl_catalog_configure(json_object_get(disc, "catalog"), &copts, &configured, err);
  free(streams);
  json_decref(disc);
  if (rc) return rc;
  snprintf(path, len, "/tmp/sluice-catalog-XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0 || json_dumpfd(configured, fd, JSON_COMPACT) != 0) rc = sl_err_set(err, SL_EIO, "cannot write %s", path);
  if (fd >= 0) close(fd);
  json_decref(configured);
  return rc;
}

static int run(const char *verb, sl_msg_type want, int argc, char **argv) {
  run_opts o;
  sl_err err = SL_ERR_INIT;
  if (parse_args(&o, verb, argc, argv, &err)) return cli_fail(&err, NULL);
  char exe[PATH_MAX], tmp_catalog[64] = "";
  if (sl_connector_resolve(o.connector, exe, sizeof exe, &err)) return cli_fail(&err, NULL);
  if (!strcmp(verb, "read") && !o.catalog) {
    if (build_catalog(&o, exe, tmp_catalog, sizeof tmp_catalog, &err)) return cli_fail(&err, NULL);
    o.catalog = tmp_catalog;
  }
  const char *args[10];
  size_t n = 0;
  args[n++] = verb;
  if (o.config) args[n++] = "--config", args[n++] = o.config;
  if (o.catalog && !strcmp(verb, "read")) args[n++] = "--catalog", args[n++] = o.catalog;
  if (o.state && !strcmp(verb, "read")) args[n++] = "--state", args[n++] = o.state;
  if (o.debug) args[n++] = "--debug";
  args[n] = NULL;
  run_view v = {.pretty = !o.json && isatty(STDOUT_FILENO), .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR"), .want = want};
  sl_catalog vcat = {0};
  if (o.validate && o.catalog) {
    json_t *root;
    if (sl_json_load_file(o.catalog, &root, &err) || sl_catalog_parse(root, o.catalog, &vcat, &err)) return cli_fail(&err, NULL);
    json_decref(root);
    v.validate = &vcat;
  }
  sl_proc p;
  if (sl_proc_spawn(&p, o.connector, exe, args, false, &err)) return cli_fail(&err, NULL);
  FILE *f = fdopen(p.out_fd, "r");
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while (f && (len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') len--;
    if (len) show_line(&v, line, (size_t)len);
  }
  free(line);
  if (f) fclose(f);
  int code = sl_proc_wait(&p);
  if (tmp_catalog[0]) unlink(tmp_catalog);
  sl_catalog_dispose(&vcat);
  if (v.invalid) fprintf(stderr, "%llu record(s) do not match their stream schema\n", (unsigned long long)v.invalid);
  if (v.pretty && want == SL_MSG_RECORD)
    fprintf(stderr, "%llu record(s), %llu state(s), %llu error(s)\n", (unsigned long long)v.records,
            (unsigned long long)v.states, (unsigned long long)v.errors);
  if (code != 0) {
    sl_err_set(&err, SL_ECONNECTOR, "%s %s exited with code %d%s%s", o.connector, verb, code,
               v.first_error[0] ? ": " : "", v.first_error);
    return cli_fail(&err, NULL);
  }
  if (v.check_failed || v.invalid) return 1;
  if (want != SL_MSG_RECORD && !v.got_result) {
    sl_err_set(&err, SL_ECONNECTOR, "%s %s exited 0 without a %s message", o.connector, verb, sl_msg_type_name(want));
    return cli_fail(&err, NULL);
  }
  return 0;
}

int cmd_spec(int argc, char **argv) { return run("spec", SL_MSG_SPEC, argc, argv); }
int cmd_check(int argc, char **argv) { return run("check", SL_MSG_CONNECTION_STATUS, argc, argv); }
int cmd_discover(int argc, char **argv) { return run("discover", SL_MSG_CATALOG, argc, argv); }
int cmd_read(int argc, char **argv) { return run("read", SL_MSG_RECORD, argc, argv); }

int cmd_connectors(int argc, char **argv) {
  char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
  if (n <= 0) return 1;
  dir[n] = 0;
  *strrchr(dir, '/') = 0;
  DIR *d = opendir(dir);
  if (!d) return 1;
  struct dirent *e;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "source-", 7) || !strncmp(e->d_name, "destination-", 12)) printf("%s\n", e->d_name);
  closedir(d);
  return 0;
}
