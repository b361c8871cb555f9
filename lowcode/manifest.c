/* Manifest loading: YAML or JSON in, the resolved DeclarativeSource out,
 * preprocessed the way the Airbyte CDK does before it builds components
 * (notes/lowcode.md 6.1):
 *   1. a missing top-level `type` is DeclarativeSource;
 *   2. references: a mapping with `$ref: "#/a/b"` becomes a copy of the
 *      resolved target with the mapping's other keys overriding (one level);
 *      any string starting with "#/" is replaced by its target. A path is
 *      looked up by trying the whole remainder as one key first, then the
 *      first segment (an integer indexes a list) and so on;
 *      Values under a `config_overrides` key are left as written;
 *   3. implicit types and $parameters (components.c holds the table). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "components.h"
#include "manifest_int.h"

#define MAX_REF_DEPTH 64

/* ---- references ---- */

typedef struct refctx {
  sl_manifest *m;
  const json_t *raw; /* the unresolved root: references point into it */
  json_t *memo;      /* ref string -> resolved value (each use copies it) */
  const char *active[MAX_REF_DEPTH];
  int nactive;
  char path[1024];
  size_t plen;
  sl_err *err;
} refctx;

static size_t path_push_key(refctx *c, const char *k) {
  size_t old = c->plen;
  int w = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s%s", c->plen ? "." : "", k);
  if (w > 0) c->plen = c->plen + (size_t)w < sizeof c->path ? c->plen + (size_t)w : sizeof c->path - 1;
  return old;
}

static size_t path_push_index(refctx *c, size_t i) {
  size_t old = c->plen;
  int w = snprintf(c->path + c->plen, sizeof c->path - c->plen, "[%zu]", i);
  if (w > 0) c->plen = c->plen + (size_t)w < sizeof c->path ? c->plen + (size_t)w : sizeof c->path - 1;
  return old;
}

static void path_pop(refctx *c, size_t old) {
  c->plen = old;
  c->path[old] = 0;
}

static int ref_fail(refctx *c, const json_t *at, const char *fmt, const char *a, const char *b) {
  const sl_mloc *l = sl_mlocs_get(&c->m->locs, at);
  char msg[700], where[128];
  snprintf(msg, sizeof msg, fmt, a, b ? b : "");
  if (l && l->line) snprintf(where, sizeof where, "%s:%d:%d", c->m->file, l->line, l->col);
  else snprintf(where, sizeof where, "%s", c->m->file);
  sl_err_set(c->err, SL_ECONFIG, "%s%s%s: %s", where, c->plen ? " " : "", c->path, msg);
  return -1;
}

/* Python int() of a path segment: optional sign, digits, '_' between digits. */
static bool parse_index(const char *s, size_t n, long *out) {
  char buf[32];
  size_t k = 0;
  size_t i = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) buf[k++] = s[i++];
  if (i == n) return false;
  for (; i < n; i++) {
    if (s[i] >= '0' && s[i] <= '9') {
      if (k + 1 >= sizeof buf) return false;
      buf[k++] = s[i];
    } else if (s[i] != '_' || i + 1 == n || !(s[i - 1] >= '0' && s[i - 1] <= '9')) {
      return false;
    }
  }
  buf[k] = 0;
  *out = strtol(buf, NULL, 10);
  return true;
}

/* The CDK's lookup of "a/b/c" below `node`; NULL when missing. */
static const json_t *ref_lookup(const json_t *node, const char *ref) {
  while (*ref) {
    if (json_is_object(node)) {
      const json_t *whole = json_object_get(node, ref);
      if (whole) return whole;
    }
    const char *slash = strchr(ref, '/');
    size_t hl = slash ? (size_t)(slash - ref) : strlen(ref);
    const char *rest = slash ? slash + 1 : ref + hl;
    long idx;
    bool is_int = parse_index(ref, hl, &idx);
    if (json_is_object(node)) {
      char key[512];
      if (is_int) snprintf(key, sizeof key, "%ld", idx); /* an int key was written as its number */
      else snprintf(key, sizeof key, "%.*s", (int)(hl < 511 ? hl : 511), ref);
      node = json_object_get(node, key);
    } else if (json_is_array(node) && is_int) {
      long n = (long)json_array_size(node);
      if (idx < 0) idx += n; /* Python negative indexing */
      node = idx >= 0 && idx < n ? json_array_get(node, (size_t)idx) : NULL;
    } else {
      node = NULL;
    }
    if (!node) return NULL;
    ref = rest;
  }
  return node;
}

static json_t *resolve(refctx *c, const json_t *node);

static json_t *resolve_ref_string(refctx *c, const json_t *node) {
  const char *ref = json_string_value(node);
  for (int i = 0; i < c->nactive; i++)
    if (!strcmp(c->active[i], ref)) {
      char chain[600];
      size_t k = 0;
      chain[0] = 0;
      for (int j = i; j < c->nactive && k + 1 < sizeof chain; j++) {
        int w = snprintf(chain + k, sizeof chain - k, "%s -> ", c->active[j]);
        if (w > 0) k = k + (size_t)w < sizeof chain ? k + (size_t)w : sizeof chain - 1;
      }
      ref_fail(c, node, "$ref cycle: %s%s", chain, ref);
      return NULL;
    }
  const sl_mloc *at = sl_mlocs_get(&c->m->locs, node);
  int line = at ? at->line : 0, col = at ? at->col : 0;
  json_t *done = json_object_get(c->memo, ref);
  if (done) return sl_manifest_copy(&c->m->locs, done, line, col);
  const json_t *target = ref_lookup(c->raw, ref + 2);
  if (!target) {
    ref_fail(c, node, "reference \"%s\" not found (no such path in the manifest)%s", ref, NULL);
    return NULL;
  }
  if (c->nactive == MAX_REF_DEPTH) {
    ref_fail(c, node, "references nested too deeply at \"%s\"%s", ref, NULL);
    return NULL;
  }
  c->active[c->nactive++] = ref;
  /* Errors inside the target are reported at the target's own path. */
  char saved[sizeof c->path];
  size_t saved_len = c->plen;
  memcpy(saved, c->path, saved_len + 1);
  c->plen = 0;
  c->path[0] = 0;
  for (const char *p = ref + 2; *p && c->plen + 1 < sizeof c->path; p++) c->path[c->plen++] = *p == '/' ? '.' : *p;
  c->path[c->plen] = 0;
  json_t *v = resolve(c, target);
  memcpy(c->path, saved, saved_len + 1);
  c->plen = saved_len;
  c->nactive--;
  if (!v) return NULL;
  if (json_object_set_new(c->memo, ref, v)) return NULL;
  return sl_manifest_copy(&c->m->locs, v, line, col);
}

static json_t *resolve(refctx *c, const json_t *node) {
  const sl_mloc *l = sl_mlocs_get(&c->m->locs, node);
  int line = l ? l->line : 0, col = l ? l->col : 0, vl = l ? l->via_line : 0, vc = l ? l->via_col : 0;
  if (json_is_object(node)) {
    json_t *out = json_object();
    if (!out || sl_mlocs_put(&c->m->locs, out, line, col, vl, vc)) goto nomem_obj;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)node, k, v) {
      if (!strcmp(k, "$ref")) continue;
      size_t old = path_push_key(c, k);
      /* CheckStream's config_overrides are used as-is: no references. */
      bool verbatim = !strcmp(k, "config_overrides");
      json_t *r = verbatim ? sl_manifest_copy(&c->m->locs, v, 0, 0) : resolve(c, v);
      if (!r && verbatim) sl_err_set(c->err, SL_ENOMEM, "%s: out of memory", c->m->file);
      path_pop(c, old);
      if (!r) {
        json_decref(out);
        return NULL;
      }
      json_object_set_new(out, k, r);
    }
    const json_t *ref = json_object_get(node, "$ref");
    if (!ref) return out;
    size_t old = path_push_key(c, "$ref");
    json_t *target = resolve(c, ref);
    path_pop(c, old);
    if (!target || !json_is_object(target)) { /* a non-mapping target replaces the mapping */
      json_decref(out);
      return target;
    }
    json_object_update(target, out); /* the mapping's own keys win */
    json_decref(out);
    if (sl_mlocs_put(&c->m->locs, target, line, col, vl, vc)) {
      json_decref(target);
      return NULL;
    }
    return target;
  nomem_obj:
    json_decref(out);
    sl_err_set(c->err, SL_ENOMEM, "%s: out of memory", c->m->file);
    return NULL;
  }
  if (json_is_array(node)) {
    json_t *out = json_array();
    if (!out || sl_mlocs_put(&c->m->locs, out, line, col, vl, vc)) {
      json_decref(out);
      sl_err_set(c->err, SL_ENOMEM, "%s: out of memory", c->m->file);
      return NULL;
    }
    for (size_t i = 0; i < json_array_size(node); i++) {
      size_t old = path_push_index(c, i);
      json_t *r = resolve(c, json_array_get(node, i));
      path_pop(c, old);
      if (!r) {
        json_decref(out);
        return NULL;
      }
      json_array_append_new(out, r);
    }
    return out;
  }
  if (json_is_string(node) && !strncmp(json_string_value(node), "#/", 2)) return resolve_ref_string(c, node);
  json_t *out = sl_manifest_copy(&c->m->locs, node, 0, 0);
  if (!out) sl_err_set(c->err, SL_ENOMEM, "%s: out of memory", c->m->file);
  return out;
}

/* ---- the resolved tree's parent links ---- */

static int link_tree(sl_mlocs *locs, const json_t *v, const json_t *parent) {
  if (sl_json_is_singleton(v)) return 0;
  sl_mloc *l = sl_mlocs_get(locs, v);
  if (!l) {
    if (sl_mlocs_put(locs, v, 0, 0, 0, 0)) return -1;
    l = sl_mlocs_get(locs, v);
  }
  l->parent = parent;
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) if (link_tree(locs, m, v)) return -1;
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (link_tree(locs, json_array_get(v, i), v)) return -1;
  }
  return 0;
}

/* ---- loading ---- */

static sl_manifest *finish(sl_manifest *m, json_t *raw, sl_err *err) {
  if (!json_is_object(raw)) {
    const sl_mloc *l = sl_mlocs_get(&m->locs, raw);
    if (l && l->line)
      sl_err_set(err, SL_ECONFIG, "%s:%d:%d: a manifest must be a mapping (DeclarativeSource), not %s", m->file,
                 l->line, l->col, json_is_array(raw) ? "a list" : "a scalar");
    else
      sl_err_set(err, SL_ECONFIG, "%s: a manifest must be a mapping (DeclarativeSource)%s", m->file,
                 json_is_null(raw) ? ", the document is empty" : "");
    goto fail;
  }
  if (!json_object_get(raw, "type")) {
    json_t *t = json_string("DeclarativeSource");
    const sl_mloc *l = sl_mlocs_get(&m->locs, raw);
    if (!t || sl_mlocs_put(&m->locs, t, l ? l->line : 0, l ? l->col : 0, 0, 0) || json_object_set_new(raw, "type", t))
      goto nomem;
  }
  refctx rc = {.m = m, .raw = raw, .memo = json_object(), .err = err};
  if (!rc.memo) goto nomem;
  json_t *resolved = resolve(&rc, raw);
  json_decref(rc.memo);
  if (!resolved) goto fail;
  json_decref(raw);
  raw = NULL;
  if (sl_manifest_propagate(m, resolved, err)) {
    json_decref(resolved);
    goto fail;
  }
  /* Entries of freed values stay behind unused: every value gets its own
   * entry when it is created, so a reused address never inherits one. */
  if (link_tree(&m->locs, resolved, NULL)) {
    json_decref(resolved);
    goto nomem;
  }
  m->root = resolved;
  return m;
nomem:
  sl_err_set(err, SL_ENOMEM, "%s: out of memory", m->file);
fail:
  json_decref(raw);
  sl_manifest_free(m);
  return NULL;
}

static sl_manifest *new_manifest(const char *file, const char *dir) {
  sl_manifest *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->file = strdup(file);
  m->dir = dir ? strdup(dir) : NULL;
  if (!m->file || (dir && !m->dir)) {
    sl_manifest_free(m);
    return NULL;
  }
  return m;
}

sl_manifest *sl_manifest_load_file(const char *path, sl_err *err) {
  struct stat st;
  char *file = NULL;
  if (stat(path, &st)) {
    sl_err_set(err, SL_EIO, "%s: cannot open manifest: %m", path);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    if (asprintf(&file, "%s/manifest.yaml", path) < 0) file = NULL;
    if (file && stat(file, &st)) {
      sl_err_set(err, SL_EIO, "%s: no manifest.yaml in this directory", path);
      free(file);
      return NULL;
    }
  } else {
    file = strdup(path);
  }
  if (!file) return sl_err_set(err, SL_ENOMEM, "out of memory"), NULL;
  char *dcopy = strdup(file);
  sl_manifest *m = dcopy ? new_manifest(file, dirname(dcopy)) : NULL;
  free(dcopy);
  if (!m) {
    free(file);
    return sl_err_set(err, SL_ENOMEM, "out of memory"), NULL;
  }
  json_t *raw = sl_manifest_yaml_parse(m->file, file, NULL, 0, &m->locs, err);
  free(file);
  if (!raw) {
    sl_manifest_free(m);
    return NULL;
  }
  return finish(m, raw, err);
}

sl_manifest *sl_manifest_load_yaml(const char *text, size_t len, const char *name, sl_err *err) {
  sl_manifest *m = new_manifest(name ? name : "<manifest>", NULL);
  if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory"), NULL;
  json_t *raw = sl_manifest_yaml_parse(m->file, NULL, text, len, &m->locs, err);
  if (!raw) {
    sl_manifest_free(m);
    return NULL;
  }
  return finish(m, raw, err);
}

sl_manifest *sl_manifest_load_json(const json_t *manifest, const char *name, sl_err *err) {
  sl_manifest *m = new_manifest(name ? name : "<manifest>", NULL);
  if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory"), NULL;
  json_t *raw = json_deep_copy(manifest);
  if (!raw) {
    sl_manifest_free(m);
    return sl_err_set(err, SL_ENOMEM, "out of memory"), NULL;
  }
  return finish(m, raw, err);
}

void sl_manifest_free(sl_manifest *m) {
  if (!m) return;
  json_decref(m->root);
  sl_mlocs_dispose(&m->locs);
  free(m->file);
  free(m->dir);
  free(m);
}

const json_t *sl_manifest_root(const sl_manifest *m) { return m->root; }
const char *sl_manifest_dir(const sl_manifest *m) { return m->dir; }
const char *sl_manifest_file(const sl_manifest *m) { return m->file; }
