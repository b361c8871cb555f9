/* Reading the few things the checks need from a Dockerfile. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/acceptance.h"

/* Next word of s (double quotes group, backslash escapes); NULL at end. */
static char *word(char **s) {
  char *p = *s;
  while (isspace((unsigned char)*p)) p++;
  if (!*p) return NULL;
  char *out = p, *w = p;
  bool q = false;
  for (; *p && (q || !isspace((unsigned char)*p)); p++) {
    if (*p == '"') q = !q;
    else if (*p == '\\' && p[1]) *w++ = *++p;
    else *w++ = *p;
  }
  if (*p) p++;
  *w = 0;
  *s = p;
  return out;
}

/* KEY=VALUE pairs (LABEL, ENV), or the legacy `ENV KEY VALUE`. */
static void pairs(char *args, json_t *into, bool legacy_ok, int line, int *lines) {
  if (legacy_ok && !strchr(strtok(strdupa(args), " \t") ?: "", '=')) {
    char *k = word(&args);
    while (isspace((unsigned char)*args)) args++;
    if (k) json_object_set_new(into, k, json_string(args));
    return;
  }
  for (char *w; (w = word(&args));) {
    char *eq = strchr(w, '=');
    if (!eq) continue;
    *eq = 0;
    json_object_set_new(into, w, json_string(eq + 1));
    if (lines && !strcmp(w, "io.airbyte.name")) lines[0] = line;
    if (lines && !strcmp(w, "io.airbyte.version")) lines[1] = line;
  }
}

static char *entrypoint(const char *args) {
  while (isspace((unsigned char)*args)) args++;
  if (*args != '[') return strdup(args);
  json_error_t je;
  json_t *a = json_loads(args, 0, &je);
  if (!json_is_array(a)) {
    json_decref(a);
    return strdup(args);
  }
  size_t len = 0, i;
  json_t *v;
  json_array_foreach(a, i, v) len += strlen(json_string_value(v) ?: "") + 1;
  char *out = calloc(1, len + 1);
  json_array_foreach(a, i, v) {
    if (i) strcat(out, " ");
    strcat(out, json_string_value(v) ?: "");
  }
  json_decref(a);
  return out;
}

sl_code sl_dockerfile_read(const char *path, sl_dockerfile *df, sl_err *err) {
  memset(df, 0, sizeof *df);
  FILE *f = fopen(path, "r");
  if (!f) return sl_err_set(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, "%s: %s", path, strerror(errno));
  df->labels = json_object();
  df->env = json_object();
  char *line = NULL, *inst = NULL;
  size_t cap = 0, ilen = 0;
  int lineno = 0, start = 0;
  while (getline(&line, &cap, f) > 0) {
    lineno++;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (!inst) {
      char *p = line;
      while (isspace((unsigned char)*p)) p++;
      if (*p == '#' || !*p) continue;
      start = lineno;
    }
    bool more = n && line[n - 1] == '\\';
    if (more) line[--n] = 0;
    char *grown = realloc(inst, ilen + n + 2);
    if (!grown) break;
    inst = grown;
    memcpy(inst + ilen, line, n);
    ilen += n;
    inst[ilen++] = ' ';
    inst[ilen] = 0;
    if (more) continue;
    while (ilen && isspace((unsigned char)inst[ilen - 1])) inst[--ilen] = 0;
    char *args = inst;
    char *kw = word(&args);
    if (kw && !strcasecmp(kw, "LABEL")) pairs(args, df->labels, false, start, df->label_line);
    else if (kw && !strcasecmp(kw, "ENV")) pairs(args, df->env, true, start, NULL);
    else if (kw && !strcasecmp(kw, "ENTRYPOINT")) {
      free(df->entrypoint);
      df->entrypoint = entrypoint(args);
      size_t el = strlen(df->entrypoint);
      while (el && isspace((unsigned char)df->entrypoint[el - 1])) df->entrypoint[--el] = 0;
    }
    free(inst);
    inst = NULL, ilen = 0;
  }
  free(inst);
  free(line);
  fclose(f);
  return SL_EOK;
}

void sl_dockerfile_dispose(sl_dockerfile *df) {
  json_decref(df->labels);
  json_decref(df->env);
  free(df->entrypoint);
  memset(df, 0, sizeof *df);
}
