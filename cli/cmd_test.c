/* sluice test: a connector's acceptance tests (platform/acceptance*.c). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/acceptance.h"

typedef struct view {
  bool color, verbose;
} view;

static void show(void *payload, const sl_at_result *r) {
  const view *v = payload;
  static const char *const tag[] = {"pass", "FAIL", "skip"};
  static const char *const col[] = {"\033[32m", "\033[1;31m", "\033[33m"};
  printf("%s%s%s %s/%s", v->color ? col[r->status] : "", tag[r->status], v->color ? "\033[0m" : "", r->suite, r->name);
  if (r->reason) printf(": %s", r->reason);
  printf("\n");
  if (r->offending && r->status == SL_AT_FAIL) printf("     offending message: %s\n", r->offending);
  fflush(stdout);
}

/* The config of a connector reference: --config, else
 * <dir>/acceptance-test-config.yml for a directory, else
 * connectors/<name>/acceptance-test-config.yml under the current directory. */
static bool find_config(const char *ref, char *out, size_t n) {
  struct stat st;
  if (ref && stat(ref, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(out, n, "%s/acceptance-test-config.yml", ref);
    return access(out, F_OK) == 0;
  }
  if (ref && !strchr(ref, '/')) {
    snprintf(out, n, "connectors/%s/acceptance-test-config.yml", ref);
    return access(out, F_OK) == 0;
  }
  return false;
}

/* `sluice test compat spec|catalog OLD NEW`: the backward-compatibility
 * rules on two files (SPEC/CATALOG messages or payloads); exit 1 when the
 * new one breaks the old one. */
/* The old and the new file of `sluice test compat`. */
static sl_code load_two(const char *a, const char *b, json_t **o, json_t **n, sl_err *err) {
  *o = *n = NULL;
  if (sl_json_load_file(a, o, err) || sl_json_load_file(b, n, err)) {
    json_decref(*o);
    return err->code;
  }
  return SL_EOK;
}

/* `sluice test compat configs OLD NEW [--count N] [--seed S]`: CAT's
 * generated configs (100 by default) from the old spec against the new;
 * exit 1 when one is rejected, 11 (schema) when none could be generated. */
static int compat_configs(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  unsigned count = 100;
  unsigned long long seed = 20240701;
  const char *files[2] = {NULL, NULL};
  size_t nf = 0;
  for (int i = 3; i < argc; i++) {
    if ((!strcmp(argv[i], "--count") || !strcmp(argv[i], "--seed")) && i + 1 < argc) {
      char *end;
      unsigned long long v = strtoull(argv[i + 1], &end, 10);
      if (*end || (argv[i][2] == 'c' && (v == 0 || v > 100000))) {
        sl_err_set(&err, SL_EUSAGE, "test compat configs: %s needs a number (count 1..100000)", argv[i]);
        return cli_fail(&err, NULL);
      }
      if (argv[i][2] == 'c') count = (unsigned)v;
      else seed = v;
      i++;
    } else if (argv[i][0] != '-' && nf < 2) {
      files[nf++] = argv[i];
    } else {
      nf = 3;
      break;
    }
  }
  if (nf != 2) {
    sl_err_set(&err, SL_EUSAGE, "test compat: usage: sluice test compat configs OLD.json NEW.json [--count N] [--seed S]");
    return cli_fail(&err, NULL);
  }
  json_t *o, *n;
  if (load_two(files[0], files[1], &o, &n, &err)) return cli_fail(&err, NULL);
  unsigned made;
  char skip[700];
  json_t *d = sl_at_compat_configs(o, n, count, seed, &made, skip, sizeof skip);
  size_t i;
  json_t *x;
  json_array_foreach(d, i, x) printf("breaking: %s\n", json_string_value(x));
  if (!json_array_size(d) && made) printf("compatible: %u configs generated from the old spec are valid for the new one\n", made);
  if (made < count) printf("%s: %u of %u configs could not be generated: %s\n", made ? "note" : "untested", count - made, count, skip);
  int code = json_array_size(d) ? 1 : made ? 0 : SL_ESCHEMA; /* untested: the old spec admits no generated config */
  json_decref(d), json_decref(o), json_decref(n);
  return code;
}

static int compat(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  if (argc >= 3 && !strcmp(argv[2], "configs")) return compat_configs(argc, argv);
  if (argc != 5 || (strcmp(argv[2], "spec") && strcmp(argv[2], "catalog"))) {
    sl_err_set(&err, SL_EUSAGE, "test compat: usage: sluice test compat spec|catalog|configs OLD.json NEW.json");
    return cli_fail(&err, NULL);
  }
  json_t *o, *n;
  if (load_two(argv[3], argv[4], &o, &n, &err)) return cli_fail(&err, NULL);
  json_t *d = sl_at_compat_diff(!strcmp(argv[2], "spec") ? SL_AT_COMPAT_SPEC : SL_AT_COMPAT_CATALOG, o, n);
  size_t i;
  json_t *x;
  json_array_foreach(d, i, x) printf("breaking: %s\n", json_string_value(x));
  if (!json_array_size(d)) printf("compatible\n");
  int code = json_array_size(d) ? 1 : 0;
  json_decref(d), json_decref(o), json_decref(n);
  return code;
}

int cmd_test(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "compat")) return compat(argc, argv);
  const char *connector = NULL, *config = NULL, *junit = NULL, *suites = NULL, *mode = getenv("SLUICE_DEPLOYMENT_MODE");
  int timeout = 0;
  sl_err err = SL_ERR_INIT;
  for (int i = 1; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--config")) slot = &config;
    else if (!strcmp(argv[i], "--junit")) slot = &junit;
    else if (!strcmp(argv[i], "--suites")) slot = &suites;
    else if (!strcmp(argv[i], "--deployment-mode")) slot = &mode;
    else if (!strcmp(argv[i], "--timeout")) {
      if (i + 1 >= argc || (timeout = atoi(argv[i + 1])) <= 0) {
        sl_err_set(&err, SL_EUSAGE, "test: --timeout needs a number of seconds > 0");
        return cli_fail(&err, NULL);
      }
      i++;
      continue;
    } else if (argv[i][0] == '-') {
      sl_err_set(&err, SL_EUSAGE, "test: unknown option %s (see `sluice help test`)", argv[i]);
      return cli_fail(&err, NULL);
    } else if (!connector) {
      connector = argv[i];
      continue;
    } else {
      sl_err_set(&err, SL_EUSAGE, "test: unexpected argument %s", argv[i]);
      return cli_fail(&err, NULL);
    }
    if (i + 1 >= argc) {
      sl_err_set(&err, SL_EUSAGE, "test: %s needs a value", argv[i]);
      return cli_fail(&err, NULL);
    }
    *slot = argv[++i];
  }
  if (mode && *mode && strcmp(mode, "cloud") && strcmp(mode, "oss")) {
    sl_err_set(&err, SL_EUSAGE, "test: --deployment-mode (or SLUICE_DEPLOYMENT_MODE) is cloud or oss, not \"%s\"", mode);
    return cli_fail(&err, NULL);
  }
  char found[PATH_MAX];
  if (!config) {
    if (!connector) {
      sl_err_set(&err, SL_EUSAGE, "test: which connector? (sluice test <connector> [--config acceptance-test-config.yml])");
      return cli_fail(&err, NULL);
    }
    if (!find_config(connector, found, sizeof found)) {
      sl_err_set(&err, SL_ENOTFOUND, "test: no acceptance-test-config.yml for %s (looked at %s)", connector, found);
      return cli_fail(&err, "give one with --config FILE; docs/acceptance-tests.md shows the format");
    }
    config = found;
    /* a directory or a name found under connectors/: the config says what to run */
    struct stat st;
    if (stat(connector, &st) == 0 && S_ISDIR(st.st_mode)) connector = NULL;
    else if (!strchr(connector, '/') && access(connector, F_OK) != 0) connector = NULL;
  }
  char **list = suites ? cli_split_list(suites) : NULL;
  view v = {.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
  sl_at_opts o = {.connector = connector, .config_path = config, .suites = (const char *const *)list,
                  .timeout_s = timeout, .deployment_mode = mode && *mode ? mode : NULL, .on_result = show, .payload = &v};
  sl_at_report rep;
  sl_code rc = sl_at_run(&o, &rep, &err);
  free(list);
  if (rc) {
    sl_at_report_dispose(&rep);
    return cli_fail(&err, NULL);
  }
  printf("%s: %zu passed, %zu failed, %zu skipped\n", config, rep.passed, rep.failed, rep.skipped);
  if (junit && sl_at_write_junit(&rep, connector ? connector : config, junit, &err)) {
    sl_at_report_dispose(&rep);
    return cli_fail(&err, NULL);
  }
  int code = rep.failed ? 1 : 0;
  sl_at_report_dispose(&rep);
  return code;
}
