/* sluice generate <template> <name>: a new connector from templates/, with
 * metadata, changelog, icon, Dockerfile, acceptance tests and TODO markers. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct tmpl {
  const char *name, *type, *subtype, *language, *summary;
  bool c; /* also gets the common .c.in files (Dockerfile, Makefile) */
} tmpl;

static const tmpl templates[] = {
    {"source-c", "source", "api", "c", "a source in C on the sluice connector API", true},
    {"destination-c", "destination", "file", "c", "a destination in C on the sluice connector API", true},
    {"source-declarative", "source", "api", "manifest-only", "a declarative (low-code YAML manifest) source", false},
    {"source-singer", "source", "api", "python", "a source wrapping a Singer tap executable", false},
    {"generic", NULL, "custom", "shell", "any language: an executable (a shell script as the example)", false},
};
#define N_TEMPLATES (sizeof templates / sizeof templates[0])

typedef struct subst {
  const char *key;
  char val[1024];
} subst;

static bool valid_name(const char *n, const tmpl *t, char *why, size_t wl) {
  const char *rest = !strncmp(n, "source-", 7) ? n + 7 : !strncmp(n, "destination-", 12) ? n + 12 : NULL;
  if (!rest) return snprintf(why, wl, "it must start with source- or destination-"), false;
  if (t->type && strncmp(n, t->type, strlen(t->type)))
    return snprintf(why, wl, "the %s template makes a %s: name it %s-...", t->name, t->type, t->type), false;
  if (strlen(n) > 64) return snprintf(why, wl, "it is longer than 64 characters"), false;
  if (!*rest) return snprintf(why, wl, "it needs a name after the prefix"), false;
  for (const char *p = rest; *p; p++) {
    bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p == '-' && p[1] && p[1] != '-' && p != rest);
    if (!ok) return snprintf(why, wl, "only lower-case letters, digits and single inner dashes are allowed"), false;
  }
  return true;
}

static bool find_templates(const char *given, char *out, size_t n) {
  const char *env = getenv("SLUICE_TEMPLATES");
  char self[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
  self[k > 0 ? k : 0] = 0;
  if (strrchr(self, '/')) *strrchr(self, '/') = 0;
  const char *cands[] = {given, env, NULL, NULL, "templates"};
  char a[PATH_MAX + 40], b[PATH_MAX + 40];
  snprintf(a, sizeof a, "%s/../../templates", self); /* build/bin/sluice in a checkout */
  snprintf(b, sizeof b, "%s/../share/sluice/templates", self);
  cands[2] = a, cands[3] = b;
  for (size_t i = 0; i < 5; i++) {
    if (!cands[i]) continue;
    char probe[PATH_MAX + 40];
    snprintf(probe, sizeof probe, "%s/common/metadata.yaml", cands[i]);
    if (access(probe, R_OK) == 0) {
      snprintf(out, n, "%s", cands[i]);
      return true;
    }
    if (i < 2 && cands[i]) return false; /* an explicit choice that is wrong */
  }
  return false;
}

static char *substitute(const char *text, const subst *s, size_t ns) {
  size_t cap = strlen(text) * 2 + 4096, len = 0;
  char *out = malloc(cap);
  for (const char *p = text; out && *p;) {
    const subst *hit = NULL;
    if (*p == '@')
      for (size_t i = 0; i < ns && !hit; i++)
        if (!strncmp(p, s[i].key, strlen(s[i].key))) hit = &s[i];
    const char *add = hit ? hit->val : p;
    size_t al = hit ? strlen(hit->val) : 1;
    if (len + al + 1 > cap) {
      char *o = realloc(out, cap = (cap + al) * 2);
      if (!o) {
        free(out);
        return NULL;
      }
      out = o;
    }
    memcpy(out + len, add, al);
    len += al;
    p += hit ? strlen(hit->key) : 1;
  }
  if (out) out[len] = 0;
  return out;
}

/* Copy the tree src into dst, substituting; `c` selects *.c.in files. */
static sl_code copy_tree(const char *src, const char *dst, bool c, const subst *s, size_t ns, sl_err *err) {
  DIR *d = opendir(src);
  if (!d) return sl_err_set(err, SL_EIO, "%s: %s", src, strerror(errno));
  if (mkdir(dst, 0755) != 0 && errno != EEXIST) {
    closedir(d);
    return sl_err_set(err, SL_EIO, "%s: %s", dst, strerror(errno));
  }
  sl_code rc = SL_EOK;
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char from[PATH_MAX], to[PATH_MAX], name[NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", e->d_name);
    size_t l = strlen(name);
    if (l > 5 && !strcmp(name + l - 5, ".c.in")) {
      if (!c) continue;
      name[l - 5] = 0;
    }
    snprintf(from, sizeof from, "%s/%s", src, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dst, name);
    struct stat st;
    if (stat(from, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      rc = copy_tree(from, to, c, s, ns, err);
      continue;
    }
    FILE *f = fopen(from, "r");
    char *text = NULL;
    size_t cap = 0;
    if (!f || getdelim(&text, &cap, 0, f) < 0) {
      if (!text) text = strdup("");
    }
    if (f) fclose(f);
    char *out = substitute(text, s, ns);
    free(text);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (st.st_mode & 0111) ? 0755 : 0644);
    size_t ol = out ? strlen(out) : 0;
    if (!out || fd < 0 || write(fd, out, ol) != (ssize_t)ol) rc = sl_err_set(err, SL_EIO, "%s: %s", to, strerror(errno));
    if (fd >= 0) close(fd);
    free(out);
  }
  closedir(d);
  return rc;
}

static void uuid4(char *out) {
  unsigned char b[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, b, 16) != 16)
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)(rand() ^ time(NULL) >> i);
  if (fd >= 0) close(fd);
  b[6] = (b[6] & 0x0f) | 0x40, b[8] = (b[8] & 0x3f) | 0x80;
  sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
          b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static char *prompt(const char *q) {
  fprintf(stderr, "%s", q);
  char *line = NULL;
  size_t cap = 0;
  if (getline(&line, &cap, stdin) <= 0) {
    free(line);
    return NULL;
  }
  line[strcspn(line, "\r\n")] = 0;
  return line;
}

static int usage_error(const char *msg) {
  sl_err err = SL_ERR_INIT;
  sl_err_set(&err, SL_EUSAGE, "generate: %s", msg);
  fprintf(stderr, "templates:\n");
  for (size_t i = 0; i < N_TEMPLATES; i++) fprintf(stderr, "  %-20s %s\n", templates[i].name, templates[i].summary);
  return cli_fail(&err, "sluice generate <template> <name> [--out DIR], e.g. sluice generate source-c source-weather");
}

int cmd_generate(int argc, char **argv) {
  const char *tname = NULL, *name = NULL, *outdir = ".", *tdir_opt = NULL;
  char *asked_t = NULL, *asked_n = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) outdir = argv[++i];
    else if (!strcmp(argv[i], "--templates") && i + 1 < argc) tdir_opt = argv[++i];
    else if (argv[i][0] == '-') return usage_error("unknown option or missing value");
    else if (!tname) tname = argv[i];
    else if (!name) name = argv[i];
    else return usage_error("too many arguments");
  }
  if (!tname && isatty(STDIN_FILENO)) {
    fprintf(stderr, "Which template?\n");
    for (size_t i = 0; i < N_TEMPLATES; i++) fprintf(stderr, "  %zu) %-20s %s\n", i + 1, templates[i].name, templates[i].summary);
    asked_t = prompt("template (number or name): ");
    int k = asked_t ? atoi(asked_t) : 0;
    tname = k >= 1 && k <= (int)N_TEMPLATES ? templates[k - 1].name : asked_t;
    if (tname && !name) name = asked_n = prompt("connector name (e.g. source-weather): ");
  }
  int rc = 0;
  const tmpl *t = NULL;
  for (size_t i = 0; tname && i < N_TEMPLATES; i++)
    if (!strcmp(templates[i].name, tname)) t = &templates[i];
  char why[200], tdir[PATH_MAX], src[PATH_MAX + 40], dst[PATH_MAX + 300], buf[PATH_MAX + 340];
  sl_err err = SL_ERR_INIT;
  if (!tname || !name) {
    rc = usage_error("which template and name?");
    goto out;
  }
  if (!t) {
    snprintf(why, sizeof why, "unknown template \"%s\"", tname);
    rc = usage_error(why);
    goto out;
  }
  if (!valid_name(name, t, why, sizeof why)) {
    sl_err_set(&err, SL_EUSAGE, "generate: invalid connector name \"%s\": %s", name, why);
    rc = cli_fail(&err, "e.g. source-weather or destination-my-warehouse");
    goto out;
  }
  if (!find_templates(tdir_opt, tdir, sizeof tdir)) {
    sl_err_set(&err, SL_ENOTFOUND, "generate: templates not found (looked at --templates, $SLUICE_TEMPLATES, beside sluice, ./templates)");
    rc = cli_fail(&err, NULL);
    goto out;
  }
  snprintf(dst, sizeof dst, "%s/connectors", outdir);
  mkdir(outdir, 0755);
  mkdir(dst, 0755);
  snprintf(dst, sizeof dst, "%s/connectors/%s", outdir, name);
  if (access(dst, F_OK) == 0) {
    sl_err_set(&err, SL_EUSAGE, "generate: %s already exists; refusing to overwrite a connector", dst);
    rc = cli_fail(&err, "choose another name, or remove the directory first");
    goto out;
  }
  bool source = !strncmp(name, "source-", 7);
  const char *rest = source ? name + 7 : name + 12;
  char title[200] = "", upper[200], uuid[40], date[16];
  for (const char *p = rest; *p && strlen(title) < 150; p++) {
    size_t l = strlen(title);
    bool start = p == rest || p[-1] == '-';
    title[l] = *p == '-' ? ' ' : start ? (char)toupper((unsigned char)*p) : *p;
    title[l + 1] = 0;
  }
  snprintf(upper, sizeof upper, "%s", name);
  for (char *p = upper; *p; p++) *p = (char)toupper((unsigned char)*p);
  uuid4(uuid);
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
  subst s[] = {{"@NAME_UPPER@", ""}, {"@NAME@", ""}, {"@TITLE@", ""}, {"@REPO@", ""}, {"@UUID@", ""}, {"@DATE@", ""},
               {"@TYPE@", ""}, {"@SUBTYPE@", ""}, {"@LANGUAGE@", ""}, {"@TEMPLATE@", ""}, {"@INITIAL@", ""},
               {"@BUILD@", ""}, {"@RUNREF@", ""}, {"@RUN_MORE@", ""}, {"@VERSION@", ""}, {"@SHORT@", ""}};
  size_t ns = sizeof s / sizeof s[0];
  snprintf(s[0].val, sizeof s[0].val, "%s", upper);
  snprintf(s[1].val, sizeof s[1].val, "%s", name);
  snprintf(s[2].val, sizeof s[2].val, "%s", title);
  snprintf(s[3].val, sizeof s[3].val, "sluice/%s", name);
  snprintf(s[4].val, sizeof s[4].val, "%s", uuid);
  snprintf(s[5].val, sizeof s[5].val, "%s", date);
  snprintf(s[6].val, sizeof s[6].val, "%s", source ? "source" : "destination");
  snprintf(s[7].val, sizeof s[7].val, "%s", t->subtype);
  snprintf(s[8].val, sizeof s[8].val, "%s", t->language);
  snprintf(s[9].val, sizeof s[9].val, "%s", t->name);
  snprintf(s[10].val, sizeof s[10].val, "%c", (char)toupper((unsigned char)rest[0]));
  if (t->c)
    snprintf(s[11].val, sizeof s[11].val,
             "In the sluice tree, `make` builds `build/bin/%s` (every `connectors/*/main.c` is a\n"
             "connector; extra libraries go in `build.mk`). Outside it:\n\n"
             "```sh\nmake -C connectors/%s SLUICE=/path/to/sluice   # builds connectors/%s/%s\n```",
             name, name, name, name);
  else
    snprintf(s[11].val, sizeof s[11].val, "%s",
             !strcmp(t->name, "generic")        ? "Nothing to build: `connector` is an executable script. TODO: if you write the connector\nin a compiled language, say here how to build it; `sluice` runs any executable."
             : !strcmp(t->name, "source-singer") ? "Nothing to build: `connector` runs sluice's source-singer, which runs the Singer tap named\nby `singer_tap` in the config (see connectors/source-singer/README.md). TODO: install the tap."
                                                 : "Nothing to build: `manifest.yaml` is run by sluice's source-declarative-manifest\n(`sluice manifest validate manifest.yaml` checks it).");
  snprintf(s[12].val, sizeof s[12].val, "%s", t->c ? name : dst);
  snprintf(s[13].val, sizeof s[13].val, "%s",
           source ? "sluice discover @RUNREF@ --config integration_tests/sample_config.json\n"
                    "sluice read @RUNREF@ --config integration_tests/sample_config.json --catalog integration_tests/configured_catalog.json"
                  : "sluice sync --source source-faker --source-config faker.json --destination @RUNREF@ --destination-config integration_tests/sample_config.json");
  snprintf(s[14].val, sizeof s[14].val, "0.1.0");
  snprintf(s[15].val, sizeof s[15].val, "%s", rest);
  /* @RUN_MORE@ holds @RUNREF@: substitute it first */
  char *more = substitute(s[13].val, &s[12], 1);
  if (more) snprintf(s[13].val, sizeof s[13].val, "%s", more);
  free(more);
  snprintf(src, sizeof src, "%s/common", tdir);
  if (copy_tree(src, dst, t->c, s, ns, &err)) goto fail;
  snprintf(src, sizeof src, "%s/%s", tdir, t->name);
  if (copy_tree(src, dst, t->c, s, ns, &err)) goto fail;
  snprintf(buf, sizeof buf, "%s/secrets", dst);
  mkdir(buf, 0700);
  printf("%s: a new %s from the %s template\n", dst, source ? "source" : "destination", t->name);
  printf("next: read %s/README.md, fill in the TODOs (grep -rn TODO %s), then\n  sluice test %s\n", dst, dst, dst);
  goto out;
fail:
  rc = cli_fail(&err, NULL);
out:
  free(asked_t);
  free(asked_n);
  return rc;
}
