/* sluice manifest validate|coverage: check declarative (low-code) manifests
 * against the component schema and against what sluice's engine runs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lowcode/manifest.h"
#include "cli.h"

#define MAX_FILES 100000

/* ---- validate ---- */

/* Unsupported component types of one manifest, each once, in order. */
typedef struct cov {
  char names[1024];
  int unsupported, other;
  char first_other[SL_ERR_MSG_MAX];
} cov;

static void note_issue(const sl_manifest_issue *is, void *ud) {
  cov *c = ud;
  if (is->level != SL_MANIFEST_ERROR) return;
  if (!is->component) {
    if (!c->other++) snprintf(c->first_other, sizeof c->first_other, "%s: %s", is->where, is->message);
    return;
  }
  c->unsupported++;
  size_t nl = strlen(is->component), len = strlen(c->names);
  for (const char *p = c->names; (p = strstr(p, is->component)); p += nl)
    if ((p == c->names || p[-1] == ' ') && (p[nl] == ',' || p[nl] == 0)) return;
  snprintf(c->names + len, sizeof c->names - len, "%s%s", len ? ", " : "", is->component);
}


typedef struct vshow {
  bool warnings, color;
  cov c;
} vshow;

static void show_issue(const sl_manifest_issue *is, void *ud) {
  vshow *s = ud;
  note_issue(is, &s->c);
  bool err = is->level == SL_MANIFEST_ERROR;
  if (!err && !s->warnings) return;
  const char *on = !s->color ? "" : err ? "\033[1;31m" : "\033[1;33m", *off = s->color ? "\033[0m" : "";
  printf("%s: %s%s%s: %s\n", is->where, on, err ? "error" : "warning", off, is->message);
}

static int validate(int argc, char **argv) {
  vshow s = {.warnings = true, .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR")};
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--no-warnings")) s.warnings = false;
    else if (argv[i][0] == '-' && argv[i][1]) {
      sl_err e;
      sl_err_set(&e, SL_EUSAGE, "manifest validate: unknown option %s", argv[i]);
      return cli_fail(&e, "usage: sluice manifest validate <manifest.yaml> [--no-warnings]");
    } else if (path) {
      sl_err e;
      sl_err_set(&e, SL_EUSAGE, "manifest validate: one manifest at a time (got %s and %s)", path, argv[i]);
      return cli_fail(&e, NULL);
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    sl_err e;
    sl_err_set(&e, SL_EUSAGE, "manifest validate: which manifest?");
    return cli_fail(&e, "usage: sluice manifest validate <manifest.yaml> [--no-warnings]");
  }
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_file(path, &err);
  if (!m) return cli_fail(&err, NULL);
  int warnings = 0;
  int errors = sl_manifest_validate(m, show_issue, &s, &warnings);
  printf("%s: %d error%s, %d warning%s%s\n", sl_manifest_file(m), errors, errors == 1 ? "" : "s", warnings,
         warnings == 1 ? "" : "s", errors ? "" : ": supported by sluice");
  if (s.c.unsupported) printf("%s: sluice cannot run it: it uses %s\n", sl_manifest_file(m), s.c.names);
  sl_manifest_free(m);
  return errors ? SL_ECONFIG : 0;
}

/* ---- coverage ---- */

typedef struct files {
  char **v;
  size_t n, cap;
} files;

static int by_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_manifest_name(const char *name) {
  size_t n = strlen(name);
  return (n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int collect(const char *dir, files *out, int depth, sl_err *err) {
  DIR *d = opendir(dir);
  if (!d) return sl_err_set(err, SL_EIO, "%s: cannot read directory: %m", dir);
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *p;
    if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) {
      rc = sl_err_set(err, SL_ENOMEM, "out of memory");
      break;
    }
    struct stat st;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth < 16) {
      rc = collect(p, out, depth + 1, err);
      free(p);
    } else if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && is_manifest_name(e->d_name)) {
      if (out->n == MAX_FILES) {
        free(p);
        rc = sl_err_set(err, SL_ELIMIT, "%s: more than %d manifests", dir, MAX_FILES);
      } else {
        if (out->n == out->cap) {
          size_t cap = out->cap ? out->cap * 2 : 256;
          char **v = realloc(out->v, cap * sizeof *v);
          if (!v) {
            free(p);
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
            break;
          }
          out->v = v, out->cap = cap;
        }
        out->v[out->n++] = p;
      }
    } else {
      free(p);
    }
  }
  closedir(d);
  return rc;
}

static int coverage(int argc, char **argv) {
  if (argc != 2) {
    sl_err e;
    sl_err_set(&e, SL_EUSAGE, "manifest coverage: give one directory");
    return cli_fail(&e, "usage: sluice manifest coverage <dir>");
  }
  sl_err err = SL_ERR_INIT;
  files fs = {0};
  struct stat st;
  if (stat(argv[1], &st) || !S_ISDIR(st.st_mode)) {
    sl_err_set(&err, SL_EIO, "%s: not a directory", argv[1]);
    return cli_fail(&err, "usage: sluice manifest coverage <dir>");
  }
  if (collect(argv[1], &fs, 0, &err)) {
    for (size_t i = 0; i < fs.n; i++) free(fs.v[i]);
    free(fs.v);
    return cli_fail(&err, NULL);
  }
  qsort(fs.v, fs.n, sizeof *fs.v, by_path);
  size_t ok = 0, unsupported = 0, invalid = 0, failed = 0;
  for (size_t i = 0; i < fs.n; i++) {
    const char *name = fs.v[i] + strlen(argv[1]) + (argv[1][strlen(argv[1]) - 1] == '/' ? 0 : 1);
    sl_manifest *m = sl_manifest_load_file(fs.v[i], &err);
    if (!m) {
      printf("%s: error: %s\n", name, err.msg);
      failed++;
    } else {
      cov c = {{0}, 0, 0, {0}};
      sl_manifest_validate(m, note_issue, &c, NULL);
      if (c.unsupported) {
        printf("%s: unsupported: %s\n", name, c.names);
        unsupported++;
      } else if (c.other) {
        printf("%s: invalid: %s%s\n", name, c.first_other, c.other > 1 ? " (and more)" : "");
        invalid++;
      } else {
        printf("%s: ok\n", name);
        ok++;
      }
      sl_manifest_free(m);
    }
    free(fs.v[i]);
  }
  free(fs.v);
  printf("%zu ok, %zu use unsupported components, %zu invalid, %zu fail to load\n", ok, unsupported, invalid, failed);
  printf("%zu of %zu manifests supported\n", ok, fs.n);
  return 0;
}

int cmd_manifest(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "validate")) return validate(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "coverage")) return coverage(argc - 1, argv + 1);
  sl_err e;
  sl_err_set(&e, SL_EUSAGE, "manifest: expected `validate` or `coverage`%s%s", argc >= 2 ? ", got " : "",
             argc >= 2 ? argv[1] : "");
  return cli_fail(&e, "usage: sluice manifest validate <manifest.yaml> | sluice manifest coverage <dir>");
}
