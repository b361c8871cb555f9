/* sluice bump <connector> patch|minor|major --message "...": a new version
 * in metadata.yaml, the Dockerfile's io.airbyte.version label and a
 * CHANGELOG.md row; a major also records its breaking change. Files are
 * edited as text (comments and layout stay) and replaced atomically. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/metadata.h"

static char *slurp(const char *path, sl_err *err) {
  FILE *f = fopen(path, "r");
  if (!f) {
    sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  size_t cap = 0;
  if (getdelim(&buf, &cap, 0, f) < 0) {
    free(buf);
    buf = strdup("");
  }
  fclose(f);
  return buf;
}

static sl_code replace_file(const char *path, const char *text, sl_err *err) {
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f || fputs(text, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
    if (f) fclose(f);
    unlink(tmp);
    return sl_err_set(err, SL_EIO, "%s: %s", tmp, strerror(errno));
  }
  fclose(f);
  if (rename(tmp, path) != 0) return sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno));
  return SL_EOK;
}

/* text with [at, at+len) replaced by with (new string) */
static char *splice(const char *text, size_t at, size_t len, const char *with) {
  size_t n = strlen(text), w = strlen(with);
  char *out = malloc(n - len + w + 1);
  if (!out) return NULL;
  memcpy(out, text, at);
  memcpy(out + at, with, w);
  memcpy(out + at + w, text + at + len, n - at - len + 1);
  return out;
}

/* Start of the line holding `key` as a YAML key (after indentation). */
static const char *find_key_line(const char *text, const char *key, int *indent) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    const char *q = p;
    while (*q == ' ') q++;
    if (!strncmp(q, key, kl) && q[kl] == ':') {
      if (indent) *indent = (int)(q - p);
      return p;
    }
  }
  return NULL;
}

static void yaml_quote(const char *s, char *out, size_t n) {
  size_t o = 0;
  out[o++] = '"';
  for (; *s && o + 3 < n; s++) {
    if (*s == '"' || *s == '\\') out[o++] = '\\';
    if (*s == '\n') {
      out[o++] = ' ';
      continue;
    }
    out[o++] = *s;
  }
  out[o++] = '"';
  out[o] = 0;
}

static char *ask(const char *prompt) {
  if (!isatty(STDIN_FILENO)) return NULL;
  fprintf(stderr, "%s", prompt);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n <= 1) {
    free(line);
    return NULL;
  }
  line[strcspn(line, "\n")] = 0;
  return line;
}

int cmd_bump(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  const char *ref = NULL, *part = NULL, *message = NULL, *breaking = NULL, *deadline = NULL;
  for (int i = 1; i < argc; i++) {
    const char **slot = !strcmp(argv[i], "--message") ? &message : !strcmp(argv[i], "--breaking-message") ? &breaking
                        : !strcmp(argv[i], "--upgrade-deadline") ? &deadline : NULL;
    if (slot) {
      if (i + 1 >= argc) {
        sl_err_set(&err, SL_EUSAGE, "bump: %s needs a value", argv[i]);
        return cli_fail(&err, NULL);
      }
      *slot = argv[++i];
    } else if (argv[i][0] == '-') {
      sl_err_set(&err, SL_EUSAGE, "bump: unknown option %s", argv[i]);
      return cli_fail(&err, NULL);
    } else if (!ref) ref = argv[i];
    else if (!part) part = argv[i];
    else {
      sl_err_set(&err, SL_EUSAGE, "bump: unexpected argument %s", argv[i]);
      return cli_fail(&err, NULL);
    }
  }
  if (!ref || !part || (strcmp(part, "patch") && strcmp(part, "minor") && strcmp(part, "major")) || !message || !*message) {
    sl_err_set(&err, SL_EUSAGE, "bump: usage: sluice bump <connector> patch|minor|major --message \"what changed\"");
    return cli_fail(&err, NULL);
  }
  char dir[PATH_MAX], mpath[PATH_MAX + 20], dpath[PATH_MAX + 20], cpath[PATH_MAX + 20];
  if (!cli_connector_dir(ref, dir, sizeof dir)) {
    sl_err_set(&err, SL_ENOTFOUND, "bump: %s: no such connector directory", ref);
    return cli_fail(&err, NULL);
  }
  snprintf(mpath, sizeof mpath, "%s/metadata.yaml", dir);
  snprintf(dpath, sizeof dpath, "%s/Dockerfile", dir);
  snprintf(cpath, sizeof cpath, "%s/CHANGELOG.md", dir);
  sl_yaml *y = sl_meta_load(dir, &err);
  if (!y) return cli_fail(&err, NULL);
  const char *tag = json_string_value(json_object_get(json_object_get(sl_yaml_root(y), "data"), "dockerImageTag"));
  sl_semver v;
  if (!tag || !sl_semver_parse(tag, &v)) {
    sl_err_set(&err, SL_ECONFIG, "%s:%d: data.dockerImageTag is not a semantic version", mpath,
               sl_yaml_key_line(y, json_object_get(sl_yaml_root(y), "data"), "dockerImageTag"));
    sl_yaml_free(y);
    return cli_fail(&err, NULL);
  }
  char old[96], neu[96];
  sl_semver_format(&v, old, sizeof old);
  sl_yaml_free(y);
  if (!strcmp(part, "major")) v.major++, v.minor = 0, v.patch = 0;
  else if (!strcmp(part, "minor")) v.minor++, v.patch = 0;
  else if (!v.pre[0]) v.patch++;
  v.pre[0] = 0;
  sl_semver_format(&v, neu, sizeof neu);

  char *asked_msg = NULL, *asked_deadline = NULL;
  if (v.major > 0 && !strcmp(part, "major")) {
    if (!breaking) breaking = asked_msg = ask("Breaking change: what must users do? ");
    if (breaking && !deadline) deadline = asked_deadline = ask("Upgrade deadline (YYYY-MM-DD): ");
    if (!breaking || !deadline) {
      sl_err_set(&err, SL_EUSAGE, "bump: a major version needs its breaking-change entry");
      return cli_fail(&err, "give --breaking-message \"...\" --upgrade-deadline YYYY-MM-DD (or run it on a terminal to be asked)");
    }
    int yy, mm, dd, n = 0;
    if (strlen(deadline) != 10 || sscanf(deadline, "%4d-%2d-%2d%n", &yy, &mm, &dd, &n) != 3 || n != 10) {
      sl_err_set(&err, SL_EUSAGE, "bump: --upgrade-deadline \"%s\" is not a date YYYY-MM-DD", deadline);
      free(asked_msg), free(asked_deadline);
      return cli_fail(&err, NULL);
    }
  }

  /* metadata.yaml: the tag, and for a major the breaking change after it */
  char *meta = slurp(mpath, &err), *docker = meta ? slurp(dpath, &err) : NULL, *log = docker ? slurp(cpath, &err) : NULL;
  int rc = 0;
  if (!log) {
    rc = cli_fail(&err, NULL);
    goto out;
  }
  int indent = 0;
  const char *line = find_key_line(meta, "dockerImageTag", &indent);
  const char *eol = line ? strchrnul(line, '\n') : NULL;
  char buf[2048], q[1200];
  snprintf(buf, sizeof buf, "%*sdockerImageTag: %s", indent, "", neu);
  if (breaking) {
    yaml_quote(breaking, q, sizeof q);
    int bi = 0;
    const char *bc = find_key_line(meta, "breakingChanges", &bi);
    char entry[1800];
    if (bc) {
      snprintf(entry, sizeof entry, "%*s%s:\n%*smessage: %s\n%*supgradeDeadline: \"%s\"\n", bi + 2, "", neu, bi + 4, "", q, bi + 4, "", deadline);
      const char *after = strchrnul(bc, '\n');
      size_t at = (size_t)(after - meta) + (*after ? 1 : 0);
      char *m2 = splice(meta, at, 0, entry);
      line = find_key_line(m2, "dockerImageTag", &indent);
      eol = strchrnul(line, '\n');
      free(meta);
      meta = m2;
    } else if (find_key_line(meta, "releases", NULL)) {
      sl_err_set(&err, SL_ECONFIG, "%s: data.releases exists without breakingChanges; add the entry for %s by hand", mpath, neu);
      rc = cli_fail(&err, NULL);
      goto out;
    } else {
      snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "\n%*sreleases:\n%*sbreakingChanges:\n%*s%s:\n%*smessage: %s\n%*supgradeDeadline: \"%s\"",
               indent, "", indent + 2, "", indent + 4, "", neu, indent + 6, "", q, indent + 6, "", deadline);
    }
  }
  char *meta2 = line ? splice(meta, (size_t)(line - meta), (size_t)(eol - line), buf) : NULL;
  /* Dockerfile: the label value */
  char *lab = strstr(docker, "io.airbyte.version=");
  char *docker2 = NULL;
  if (lab) {
    char *v0 = lab + strlen("io.airbyte.version=");
    size_t vl = strcspn(v0, " \t\\\n");
    docker2 = splice(docker, (size_t)(v0 - docker), vl, neu);
  }
  /* CHANGELOG.md: a row after the table's separator line, else a new table */
  char row[2048], date[16], msg[1200];
  time_t now = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
  size_t o = 0;
  for (const char *s = message; *s && o + 2 < sizeof msg; s++) {
    if (*s == '|') msg[o++] = '\\';
    msg[o++] = *s == '\n' ? ' ' : *s;
  }
  msg[o] = 0;
  snprintf(row, sizeof row, "| %s | %s | | %s |\n", neu, date, msg);
  const char *sep = strstr(log, "\n|--");
  if (!sep) sep = strstr(log, "\n| --");
  char *log2;
  if (sep) {
    const char *after = strchrnul(sep + 1, '\n');
    log2 = splice(log, (size_t)(after - log) + (*after ? 1 : 0), 0, row);
  } else {
    char table[2300];
    snprintf(table, sizeof table, "\n| Version | Date | Pull Request | Subject |\n|---------|------|--------------|---------|\n%s", row);
    log2 = splice(log, strlen(log), 0, table);
  }
  if (!meta2) sl_err_set(&err, SL_ECONFIG, "%s: no dockerImageTag line to change", mpath);
  else if (!docker2) sl_err_set(&err, SL_ECONFIG, "%s: no LABEL io.airbyte.version=... to change", dpath);
  if (!meta2 || !docker2 || !log2 || replace_file(mpath, meta2, &err) || replace_file(dpath, docker2, &err) ||
      replace_file(cpath, log2, &err)) {
    rc = cli_fail(&err, NULL);
  } else {
    printf("%s: %s -> %s (metadata.yaml, Dockerfile, CHANGELOG.md%s)\n", dir, old, neu, breaking ? ", breaking change recorded" : "");
  }
  free(meta2), free(docker2), free(log2);
out:
  free(meta), free(docker), free(log), free(asked_msg), free(asked_deadline);
  return rc;
}
