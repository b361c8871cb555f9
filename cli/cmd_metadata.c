/* sluice metadata validate: metadata.yaml and the publishing checks. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glob.h>

#include "cli.h"
#include "sluice/metadata.h"

bool cli_connector_dir(const char *ref, char *out, size_t n) {
  struct stat st;
  if (stat(ref, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(out, n, "%s", ref);
    size_t l = strlen(out);
    while (l > 1 && out[l - 1] == '/') out[--l] = 0;
    return true;
  }
  if (strchr(ref, '/')) return false;
  snprintf(out, n, "connectors/%s", ref);
  return stat(out, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dockerImageTag of <dir>/metadata.yaml at git revision rev, or NULL. */
static char *version_at(const char *dir, const char *rev) {
  if (strchr(dir, '\'') || strchr(rev, '\'')) return NULL;
  char cmd[PATH_MAX + 200];
  snprintf(cmd, sizeof cmd, "git -C '%s' show '%s:./metadata.yaml' 2>/dev/null", dir, rev);
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  char *text = NULL;
  size_t cap = 0;
  ssize_t n = getdelim(&text, &cap, 0, p);
  pclose(p);
  char *out = NULL;
  sl_err e = SL_ERR_INIT;
  sl_yaml *y = n > 0 ? sl_yaml_load_str(text, (size_t)n, "metadata.yaml", &e) : NULL;
  const char *tag = y ? json_string_value(json_object_get(json_object_get(sl_yaml_root(y), "data"), "dockerImageTag")) : NULL;
  if (tag) out = strdup(tag);
  sl_yaml_free(y);
  free(text);
  return out;
}

static int validate_one(const char *dir, const char *previous, const char *base) {
  char *prev = previous ? strdup(previous) : version_at(dir, base ? base : "HEAD");
  sl_meta_opts o = {.previous_version = prev};
  sl_meta_problems pr;
  sl_err err = SL_ERR_INIT;
  int rc = 0;
  if (sl_meta_validate(dir, &o, &pr, &err)) {
    rc = cli_fail(&err, NULL);
  } else if (pr.n) {
    for (size_t i = 0; i < pr.n; i++) fprintf(stderr, "%s\n", pr.msg[i]);
    fprintf(stderr, "%s: %zu problem(s)\n", dir, pr.n);
    rc = 1;
  } else {
    printf("%s: metadata.yaml valid%s%s%s\n", dir, prev ? " (published version " : "", prev ? prev : "", prev ? ")" : "");
  }
  sl_meta_problems_dispose(&pr);
  free(prev);
  return rc;
}

int cmd_metadata(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  if (argc < 2 || strcmp(argv[1], "validate")) {
    sl_err_set(&err, SL_EUSAGE, "metadata: expected `sluice metadata validate <connector>... | --all`");
    return cli_fail(&err, NULL);
  }
  const char *previous = NULL, *base = NULL;
  bool all = false;
  int n = 0, failed = 0;
  char dir[PATH_MAX];
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--all")) all = true;
    else if ((!strcmp(argv[i], "--previous-version") || !strcmp(argv[i], "--base")) && i + 1 < argc) {
      if (argv[i][2] == 'p') previous = argv[++i];
      else base = argv[++i];
    } else if (argv[i][0] == '-') {
      sl_err_set(&err, SL_EUSAGE, "metadata validate: unknown option %s", argv[i]);
      return cli_fail(&err, NULL);
    }
  }
  for (int i = 2; i < argc; i++) {
    if (argv[i][0] == '-') {
      if (strcmp(argv[i], "--all")) i++;
      continue;
    }
    n++;
    if (!cli_connector_dir(argv[i], dir, sizeof dir)) {
      fprintf(stderr, "sluice: error: %s: no such connector directory\n", argv[i]);
      failed++;
      continue;
    }
    failed += validate_one(dir, previous, base) != 0;
  }
  if (all) {
    glob_t g;
    /* Every connector directory: one without metadata.yaml is a failure,
     * not something to skip. */
    if (glob("connectors/*/", GLOB_MARK, NULL, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; i++) {
        snprintf(dir, sizeof dir, "%s", g.gl_pathv[i]);
        dir[strlen(dir) - 1] = 0;
        n++;
        char meta[PATH_MAX + 16];
        snprintf(meta, sizeof meta, "%s/metadata.yaml", dir);
        if (access(meta, F_OK) != 0) {
          fprintf(stderr, "%s: no metadata.yaml (every connector needs one: see docs/connector-dev.md)\n", dir);
          failed++;
          continue;
        }
        failed += validate_one(dir, previous, base) != 0;
      }
      globfree(&g);
    }
  }
  if (!n) {
    sl_err_set(&err, SL_EUSAGE, "metadata validate: which connector? (a directory, a name under connectors/, or --all)");
    return cli_fail(&err, NULL);
  }
  return failed ? 1 : 0;
}
