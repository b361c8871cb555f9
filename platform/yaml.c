/* YAML to JSON with line numbers (libfyaml). */
#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/yaml.h"

typedef struct yloc {
  const json_t *node, *parent; /* parent/key set for object members */
  const char *key;             /* borrowed from the parent object's key */
  int line;
} yloc;

struct sl_yaml {
  char *path;
  json_t *root;
  yloc *locs;
  size_t n, cap;
};

static void add_loc(sl_yaml *y, const json_t *node, const json_t *parent, const char *key, int line) {
  if (y->n == y->cap) {
    size_t cap = y->cap ? y->cap * 2 : 64;
    yloc *l = realloc(y->locs, cap * sizeof *l);
    if (!l) return; /* locations are best effort */
    y->locs = l, y->cap = cap;
  }
  y->locs[y->n++] = (yloc){node, parent, key, line};
}

/* libfyaml 0.7 marks tokens, not nodes: a collection's line is that of its
 * first scalar. */
static int node_line(struct fy_node *fyn) {
  for (int guard = 0; fyn && guard < 100; guard++) {
    void *it = NULL;
    if (fy_node_is_scalar(fyn)) {
      struct fy_token *t = fy_node_get_scalar_token(fyn);
      const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
      return m ? m->line + 1 : 0;
    } else if (fy_node_is_mapping(fyn)) {
      struct fy_node_pair *p = fy_node_mapping_iterate(fyn, &it);
      fyn = p ? fy_node_pair_key(p) : NULL;
    } else if (fy_node_is_sequence(fyn)) {
      fyn = fy_node_sequence_iterate(fyn, &it);
    } else {
      return 0;
    }
  }
  return 0;
}

/* YAML 1.2 core schema for plain scalars. */
static json_t *plain_scalar(const char *s, size_t len) {
  char buf[64];
  if (len == 0 || (len == 1 && s[0] == '~') || (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4))))
    return json_null();
  if (len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) return json_true();
  if (len == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) return json_false();
  if (len < sizeof buf) {
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    const char *digits = buf + (buf[0] == '-' || buf[0] == '+');
    if (*digits >= '0' && *digits <= '9') {
      long long v;
      if (!strncmp(buf, "0x", 2)) v = strtoll(buf + 2, &end, 16);
      else if (!strncmp(buf, "0o", 2)) v = strtoll(buf + 2, &end, 8);
      else v = strtoll(buf, &end, 10);
      if (!*end && !errno) return json_integer(v);
    }
    if (strpbrk(buf, "0123456789") || strstr(buf, "inf") || strstr(buf, "nan") || strstr(buf, "Inf")) {
      if (!strcmp(digits, ".inf") || !strcmp(digits, ".Inf") || !strcmp(digits, ".nan") || !strcmp(digits, ".NaN"))
        return json_stringn(s, len); /* JSON has no inf/nan: keep the text */
      double d = strtod(buf, &end);
      if (!*end && end != buf && isfinite(d) && strspn(buf, "+-.0123456789eE") == len) return json_real(d);
    }
  }
  return json_stringn(s, len);
}

static json_t *convert(sl_yaml *y, struct fy_node *fyn, int depth) {
  if (!fyn) return json_null();
  if (depth > 200) return NULL;
  json_t *out = NULL;
  switch (fy_node_get_type(fyn)) {
  case FYNT_SCALAR: {
    size_t len;
    const char *s = fy_node_get_scalar(fyn, &len);
    if (!s) s = "", len = 0;
    out = fy_node_get_style(fyn) == FYNS_PLAIN ? plain_scalar(s, len) : json_stringn(s, len);
    break;
  }
  case FYNT_SEQUENCE: {
    out = json_array();
    void *it = NULL;
    struct fy_node *item;
    while (out && (item = fy_node_sequence_iterate(fyn, &it))) {
      json_t *v = convert(y, item, depth + 1);
      if (!v || json_array_append_new(out, v)) {
        json_decref(out);
        return NULL;
      }
    }
    break;
  }
  case FYNT_MAPPING: {
    out = json_object();
    void *it = NULL;
    struct fy_node_pair *pair;
    while (out && (pair = fy_node_mapping_iterate(fyn, &it))) {
      struct fy_node *k = fy_node_pair_key(pair);
      size_t klen;
      const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar(k, &klen) : NULL;
      char key[512];
      if (!ks) ks = "", klen = 0;
      snprintf(key, sizeof key, "%.*s", (int)klen, ks);
      json_t *v = convert(y, fy_node_pair_value(pair), depth + 1);
      if (!v || json_object_set_new(out, key, v)) {
        json_decref(out);
        return NULL;
      }
      /* the key string lives in the object: look it up to borrow it */
      void *iter = json_object_iter_at(out, key);
      add_loc(y, NULL, out, iter ? json_object_iter_key(iter) : NULL, node_line(k ? k : fyn));
    }
    break;
  }
  }
  if (out && !json_is_null(out) && !json_is_boolean(out)) add_loc(y, out, NULL, NULL, node_line(fyn));
  return out;
}

static sl_yaml *load(struct fy_document *(*build)(const struct fy_parse_cfg *, const void *, size_t),
                     const void *arg, size_t len, const char *what, sl_err *err) {
  sl_yaml *y = calloc(1, sizeof *y);
  if (!y || !(y->path = strdup(what))) {
    free(y);
    sl_err_set(err, SL_ENOMEM, "%s: out of memory", what);
    return NULL;
  }
  struct fy_diag_cfg dcfg;
  fy_diag_cfg_default(&dcfg);
  dcfg.fp = NULL;
  struct fy_diag *diag = fy_diag_create(&dcfg);
  if (diag) fy_diag_set_collect_errors(diag, true);
  struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT, .diag = diag};
  struct fy_document *doc = build(&cfg, arg, len);
  if (!doc || (diag && fy_diag_got_error(diag))) {
    void *it = NULL;
    struct fy_diag_error *e = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
    /* libfyaml's collected errors count lines and columns from 1 */
    if (e) sl_err_set(err, SL_ECONFIG, "%s:%d:%d: invalid YAML: %s", what, e->line, e->column, e->msg);
    else sl_err_set(err, SL_ECONFIG, "%s: cannot read or parse the YAML file", what);
    fy_document_destroy(doc);
    if (diag) fy_diag_destroy(diag);
    sl_yaml_free(y);
    return NULL;
  }
  y->root = convert(y, fy_document_root(doc), 0);
  fy_document_destroy(doc);
  if (diag) fy_diag_destroy(diag);
  if (!y->root) {
    sl_err_set(err, SL_ECONFIG, "%s: document too deep or out of memory", what);
    sl_yaml_free(y);
    return NULL;
  }
  return y;
}

static struct fy_document *build_file(const struct fy_parse_cfg *cfg, const void *path, size_t len) {
  (void)len;
  return fy_document_build_from_file(cfg, path);
}

static struct fy_document *build_str(const struct fy_parse_cfg *cfg, const void *text, size_t len) {
  return fy_document_build_from_string(cfg, text, len);
}

sl_yaml *sl_yaml_load_file(const char *path, sl_err *err) {
  FILE *f = fopen(path, "r");
  if (!f) {
    sl_err_set(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, "%s: %s", path, strerror(errno));
    return NULL;
  }
  fclose(f);
  return load(build_file, path, 0, path, err);
}

sl_yaml *sl_yaml_load_str(const char *text, size_t len, const char *what, sl_err *err) {
  return load(build_str, text, len, what, err);
}

void sl_yaml_free(sl_yaml *y) {
  if (!y) return;
  json_decref(y->root);
  free(y->locs);
  free(y->path);
  free(y);
}

json_t *sl_yaml_root(const sl_yaml *y) { return y->root; }
const char *sl_yaml_path(const sl_yaml *y) { return y->path; }

int sl_yaml_line(const sl_yaml *y, const json_t *node) {
  for (size_t i = 0; node && i < y->n; i++)
    if (y->locs[i].node == node) return y->locs[i].line;
  return 0;
}

int sl_yaml_key_line(const sl_yaml *y, const json_t *obj, const char *key) {
  for (size_t i = 0; obj && i < y->n; i++)
    if (y->locs[i].parent == obj && y->locs[i].key && !strcmp(y->locs[i].key, key)) return y->locs[i].line;
  return 0;
}
