/* Where each value of a manifest came from: an open-addressing table keyed by
 * the value's address, location-preserving deep copies, and component paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_int.h"

bool sl_json_is_singleton(const json_t *v) {
  return !v || json_is_true(v) || json_is_false(v) || json_is_null(v);
}

/* Fibonacci hashing of the address (allocations are 16-byte aligned). */
static size_t slot_of(const json_t *v, size_t cap) {
  uint64_t h = ((uint64_t)(uintptr_t)v >> 4) * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> (64 - __builtin_ctzll(cap)));
}

sl_mloc *sl_mlocs_get(const sl_mlocs *t, const json_t *v) {
  if (!t->cap || sl_json_is_singleton(v)) return NULL;
  for (size_t i = slot_of(v, t->cap);; i = (i + 1) & (t->cap - 1)) {
    if (t->slot[i].node == v) return &t->slot[i];
    if (!t->slot[i].node) return NULL;
  }
}

static int grow(sl_mlocs *t) {
  size_t cap = t->cap ? t->cap * 2 : 1024;
  sl_mloc *s = calloc(cap, sizeof *s);
  if (!s) return -1;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->slot[i].node) continue;
    size_t j = slot_of(t->slot[i].node, cap);
    while (s[j].node) j = (j + 1) & (cap - 1);
    s[j] = t->slot[i];
  }
  free(t->slot);
  t->slot = s, t->cap = cap;
  return 0;
}

int sl_mlocs_put(sl_mlocs *t, const json_t *v, int line, int col, int via_line, int via_col) {
  if (sl_json_is_singleton(v)) return 0;
  if ((t->n + 1) * 4 > t->cap * 3 && grow(t)) return -1;
  size_t i = slot_of(v, t->cap);
  while (t->slot[i].node && t->slot[i].node != v) i = (i + 1) & (t->cap - 1);
  if (!t->slot[i].node) t->n++;
  t->slot[i] = (sl_mloc){.node = v, .line = line, .col = col, .via_line = via_line, .via_col = via_col};
  return 0;
}

void sl_mlocs_dispose(sl_mlocs *t) {
  free(t->slot);
  *t = (sl_mlocs){0};
}

json_t *sl_manifest_copy(sl_mlocs *locs, const json_t *v, int via_line, int via_col) {
  if (sl_json_is_singleton(v)) return (json_t *)v; /* singletons are never freed */
  const sl_mloc *l = sl_mlocs_get(locs, v);
  int line = l ? l->line : 0, col = l ? l->col : 0;
  int vl = via_line ? via_line : (l ? l->via_line : 0), vc = via_line ? via_col : (l ? l->via_col : 0);
  json_t *out;
  if (json_is_object(v)) {
    out = json_object();
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      json_t *c = sl_manifest_copy(locs, m, via_line, via_col);
      if (!c || json_object_set_new(out, k, c)) {
        json_decref(out);
        return NULL;
      }
    }
  } else if (json_is_array(v)) {
    out = json_array();
    for (size_t i = 0; i < json_array_size(v); i++) {
      json_t *c = sl_manifest_copy(locs, json_array_get(v, i), via_line, via_col);
      if (!c || json_array_append_new(out, c)) {
        json_decref(out);
        return NULL;
      }
    }
  } else {
    out = json_copy((json_t *)v);
  }
  if (out && sl_mlocs_put(locs, out, line, col, vl, vc)) {
    json_decref(out);
    return NULL;
  }
  return out;
}

bool sl_json_truthy(const json_t *v) {
  if (!v) return false;
  switch (json_typeof(v)) {
  case JSON_OBJECT: return json_object_size(v) > 0;
  case JSON_ARRAY: return json_array_size(v) > 0;
  case JSON_STRING: return json_string_length(v) > 0;
  case JSON_INTEGER: return json_integer_value(v) != 0;
  case JSON_REAL: return json_real_value(v) != 0;
  case JSON_TRUE: return true;
  default: return false;
  }
}

/* Writes the step from parent to child (".key" or "[i]"). */
static int step(const json_t *parent, const json_t *child, bool first, char *buf, size_t n) {
  if (json_is_array(parent)) {
    for (size_t i = 0; i < json_array_size(parent); i++)
      if (json_array_get(parent, i) == child) return snprintf(buf, n, "[%zu]", i);
  } else {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)parent, k, v) if (v == child) return snprintf(buf, n, "%s%s", first ? "" : ".", k);
  }
  return snprintf(buf, n, "%s?", first ? "" : ".");
}

const char *sl_manifest_path(const sl_manifest *m, const json_t *v, char *buf, size_t n) {
  const json_t *chain[129];
  size_t depth = 0;
  chain[0] = v;
  for (const sl_mloc *l = sl_mlocs_get(&m->locs, v); l && l->parent && depth < 128;
       l = sl_mlocs_get(&m->locs, l->parent))
    chain[++depth] = l->parent;
  size_t k = 0;
  buf[0] = 0;
  for (; depth > 0 && k + 1 < n; depth--) {
    int w = step(chain[depth], chain[depth - 1], k == 0, buf + k, n - k);
    k += w > 0 ? (size_t)w : 0;
    if (k >= n) k = n - 1;
  }
  return buf;
}

const char *sl_manifest_where(const sl_manifest *m, const json_t *node, char *buf, size_t n) {
  if (!n) return buf;
  const sl_mloc *l = sl_mlocs_get(&m->locs, node);
  char path[512];
  sl_manifest_path(m, node, path, sizeof path);
  if (!l || !l->line) {
    snprintf(buf, n, "%s%s%s", m->file, *path ? " " : "", path);
  } else if (l->via_line) {
    snprintf(buf, n, "%s:%d:%d%s%s (via $ref at %d:%d)", m->file, l->line, l->col, *path ? " " : "", path,
             l->via_line, l->via_col);
  } else {
    snprintf(buf, n, "%s:%d:%d%s%s", m->file, l->line, l->col, *path ? " " : "", path);
  }
  return buf;
}

const char *sl_manifest_where_member(const sl_manifest *m, const json_t *container, const char *key, size_t index,
                                     char *buf, size_t n) {
  const json_t *v = key ? json_object_get(container, key) : json_array_get(container, index);
  if (!sl_json_is_singleton(v)) return sl_manifest_where(m, v, buf, n);
  if (!n) return buf;
  const sl_mloc *l = sl_mlocs_get(&m->locs, container);
  char path[512];
  sl_manifest_path(m, container, path, sizeof path);
  size_t k = strlen(path);
  if (key) snprintf(path + k, sizeof path - k, "%s%s", k ? "." : "", key);
  else snprintf(path + k, sizeof path - k, "[%zu]", index);
  if (l && l->line) snprintf(buf, n, "%s:%d:%d %s", m->file, l->line, l->col, path);
  else snprintf(buf, n, "%s %s", m->file, path);
  return buf;
}
