/* sluice builder: the connector builder's server, and its engine on the
 * command line (test-read) so it can be used and tested without a browser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../builder/builder.h"
#include "cli.h"
#include "sluice/fsutil.h"
#include "sluice/json.h"

#define TR_USAGE                                                                                         \
  "usage: sluice builder test-read <manifest> --stream S [--config F] [--state F]\n"                    \
  "         [--max-records N] [--max-pages N] [--max-slices N] [--timeout SECONDS] [--retries yes|no]"

static bool parse_num(const char *s, double *out) {
  char *end;
  double d = strtod(s, &end);
  if (end == s || *end || d < 0) return false;
  *out = d;
  return true;
}

static int test_read(int argc, char **argv) {
  const char *manifest = NULL, *config = NULL, *statef = NULL;
  bld_test_opts o = {0};
  sl_err e = SL_ERR_INIT;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      if (manifest) {
        sl_err_set(&e, SL_EUSAGE, "builder test-read: one manifest (got %s and %s)", manifest, a);
        return cli_fail(&e, TR_USAGE);
      }
      manifest = a;
      continue;
    }
    if (i + 1 >= argc) {
      sl_err_set(&e, SL_EUSAGE, "builder test-read: %s needs a value", a);
      return cli_fail(&e, TR_USAGE);
    }
    const char *v = argv[++i];
    double d = 0;
    bool num = parse_num(v, &d);
    if (!strcmp(a, "--stream")) o.stream = v;
    else if (!strcmp(a, "--config")) config = v;
    else if (!strcmp(a, "--state")) statef = v;
    else if (!strcmp(a, "--max-records") && num && d >= 1) o.limits.max_records = (size_t)d;
    else if (!strcmp(a, "--max-pages") && num && d >= 1) o.limits.max_pages = (unsigned)d;
    else if (!strcmp(a, "--max-slices") && num && d >= 1) o.limits.max_slices = (unsigned)d;
    else if (!strcmp(a, "--timeout") && num && d > 0) o.timeout_s = d;
    else if (!strcmp(a, "--retries") && (!strcmp(v, "yes") || !strcmp(v, "no"))) o.limits.retries = !strcmp(v, "yes");
    else {
      sl_err_set(&e, SL_EUSAGE, "builder test-read: bad option or value: %s %s", a, v);
      return cli_fail(&e, TR_USAGE);
    }
  }
  if (!manifest || !o.stream) {
    sl_err_set(&e, SL_EUSAGE, "builder test-read: a manifest and --stream are required");
    return cli_fail(&e, TR_USAGE);
  }
  json_t *cfg = NULL, *state = NULL;
  if (config && sl_json_load_file(config, &cfg, &e)) return cli_fail(&e, NULL);
  if (statef && sl_json_load_file(statef, &state, &e)) {
    json_decref(cfg);
    return cli_fail(&e, NULL);
  }
  if (cfg && !json_is_object(cfg)) {
    json_decref(cfg);
    json_decref(state);
    sl_err_set(&e, SL_ECONFIG, "%s: the config must be a JSON object", config);
    return cli_fail(&e, NULL);
  }
  char path[4096];
  bld_manifest_path(manifest, path, sizeof path);
  size_t len = 0;
  char *text = bld_read_text(path, BLD_MAX_MANIFEST, &len, &e);
  if (!text) {
    json_decref(cfg);
    json_decref(state);
    return cli_fail(&e, NULL);
  }
  o.config = cfg;
  o.state = state;
  json_t *res = bld_test_read(text, len, path, &o);
  free(text);
  json_decref(cfg);
  json_decref(state);
  /* A rotated OAuth token is written back to the config file (the old one
   * is spent), not printed. */
  const json_t *upd = json_object_get(res, "config_update");
  if (json_is_object(upd) && config) {
    char *cs = json_dumps(upd, JSON_INDENT(2));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", config);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    if (!cs || sl_fs_replace(dir, config, cs, strlen(cs), &e))
      fprintf(stderr, "sluice builder test-read: cannot write the rotated token back to %s: %s\n", config,
              cs ? e.msg : "out of memory");
    else json_object_set_new(res, "config_updated", json_string(config));
    free(cs);
  }
  json_object_del(res, "config_update");
  char *s = json_dumps(res, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s) puts(s);
  free(s);
  int rc = json_object_get(res, "error") ? 1 : 0;
  json_decref(res);
  return rc;
}

int cmd_builder(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "test-read")) return test_read(argc - 1, argv + 1);
  return bld_serve_main(argc, argv);
}
