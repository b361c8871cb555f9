/* Implicit component types and `$parameters` propagation (notes/lowcode.md
 * 6.1), the same walk the CDK's component transformer makes:
 *   - a mapping without `type` takes the default for "<ParentType>.<field>"
 *     (a custom one when it has `class_name`);
 *   - parameters accumulate from ancestors, the nearer `$parameters` winning;
 *   - a typed component gets every accumulated parameter as a field value
 *     unless it already has a truthy value there, keeps the accumulated map
 *     as `$parameters`, and while descending into field f a parameter named
 *     f is withheld (restored afterwards only if truthy, as in the CDK);
 *   - JSON-schema mappings (`type: object` or `[null, object]`) are left
 *     alone; an untyped mapping only passes parameters to its direct children
 *     that have a truthy `type`.
 * Works in place: after reference resolution every value occurs once. */
#include <stdio.h>
#include <string.h>

#include "components.h"
#include "manifest_int.h"

#define MAX_DEPTH 256

typedef struct pctx {
  sl_manifest *m;
  sl_err *err;
  char path[1024]; /* of the component being processed, for errors */
  size_t plen;
} pctx;

static size_t push(pctx *c, const char *key, size_t index) {
  size_t old = c->plen;
  int w = key ? snprintf(c->path + old, sizeof c->path - old, "%s%s", old ? "." : "", key)
              : snprintf(c->path + old, sizeof c->path - old, "[%zu]", index);
  if (w > 0) c->plen = old + (size_t)w < sizeof c->path ? old + (size_t)w : sizeof c->path - 1;
  return old;
}

static void pop(pctx *c, size_t old) {
  c->plen = old;
  c->path[old] = 0;
}

static int nomem(pctx *c) {
  sl_err_set(c->err, SL_ENOMEM, "%s: out of memory", c->m->file);
  return -1;
}

static bool is_json_schema(const json_t *comp) {
  const json_t *t = json_object_get(comp, "type");
  if (json_is_string(t)) return !strcmp(json_string_value(t), "object");
  return json_is_array(t) && json_array_size(t) == 2 && json_is_string(json_array_get(t, 0)) &&
         json_is_string(json_array_get(t, 1)) && !strcmp(json_string_value(json_array_get(t, 0)), "null") &&
         !strcmp(json_string_value(json_array_get(t, 1)), "object");
}

static int propagate(pctx *c, json_t *comp, const char *field_id, const json_t *parent_params, int depth);

static void field_id(char *buf, size_t n, const json_t *comp, const char *field) {
  const json_t *t = json_object_get(comp, "type");
  snprintf(buf, n, "%s.%s", json_is_string(t) ? json_string_value(t) : "?", field);
}

/* Descends into one field value (object or list) with `params`, withholding
 * the parameter of the same name. */
static int descend(pctx *c, json_t *comp, const char *field, json_t *value, json_t *params, int depth) {
  json_t *withheld = json_incref(json_object_get(params, field));
  json_object_del(params, field);
  char id[256];
  field_id(id, sizeof id, comp, field);
  int rc = 0;
  size_t mark = push(c, field, 0);
  const char *extra = json_is_object(value) ? sl_lc_additional_props_type(id) : NULL;
  if (extra) { /* name -> component mapping (stream_groups) */
    const char *k;
    json_t *v;
    json_object_foreach(value, k, v) {
      if (!json_is_object(v)) continue;
      if (!json_object_get(v, "type")) {
        json_t *t = json_string(extra);
        const sl_mloc *l = sl_mlocs_get(&c->m->locs, v);
        if (!t || sl_mlocs_put(&c->m->locs, t, l ? l->line : 0, l ? l->col : 0, 0, 0) ||
            json_object_set_new(v, "type", t)) {
          rc = nomem(c);
          break;
        }
      }
      size_t m2 = push(c, k, 0);
      rc = propagate(c, v, id, params, depth + 1);
      pop(c, m2);
      if (rc) break;
    }
  } else if (json_is_object(value)) {
    rc = propagate(c, value, id, params, depth + 1);
  } else {
    for (size_t i = 0; i < json_array_size(value) && !rc; i++) {
      json_t *el = json_array_get(value, i);
      size_t m2 = push(c, NULL, i);
      if (json_is_object(el)) rc = propagate(c, el, id, params, depth + 1);
      pop(c, m2);
    }
  }
  pop(c, mark);
  if (withheld && sl_json_truthy(withheld)) json_object_set(params, field, withheld);
  json_decref(withheld);
  return rc;
}

static int propagate(pctx *c, json_t *comp, const char *fid, const json_t *parent_params, int depth) {
  const sl_mloc *cl = sl_mlocs_get(&c->m->locs, comp);
  int line = cl ? cl->line : 0, col = cl ? cl->col : 0;
  if (depth > MAX_DEPTH) {
    sl_err_set(c->err, SL_ECONFIG, "%s:%d:%d %s: components nested too deeply", c->m->file, line, col, c->path);
    return -1;
  }
  if (!json_object_get(comp, "type")) {
    const char *t = json_object_get(comp, "class_name") ? sl_lc_custom_type(fid) : sl_lc_default_type(fid);
    if (t) {
      json_t *s = json_string(t);
      if (!s || sl_mlocs_put(&c->m->locs, s, line, col, 0, 0) || json_object_set_new(comp, "type", s))
        return nomem(c);
    }
  }
  json_t *params = json_object();
  if (!params) return nomem(c);
  json_object_update(params, (json_t *)parent_params);
  json_t *own = json_incref(json_object_get(comp, "$parameters"));
  const sl_mloc *ol = sl_mlocs_get(&c->m->locs, own);
  int pline = ol ? ol->line : line, pcol = ol ? ol->col : col;
  if (own) {
    json_object_del(comp, "$parameters");
    if (!json_is_object(own)) {
      sl_err_set(c->err, SL_ECONFIG, "%s:%d:%d %s%s$parameters: must be a mapping", c->m->file, pline, pcol, c->path,
                 c->plen ? "." : "");
      json_decref(own);
      json_decref(params);
      return -1;
    }
    json_object_update(params, own);
  }
  json_decref(own);
  int rc = 0;
  if (is_json_schema(comp)) goto out;
  if (!json_object_get(comp, "type")) {
    const char *k;
    json_t *v;
    json_object_foreach(comp, k, v) {
      if (json_is_object(v) && sl_json_truthy(json_object_get(v, "type"))) {
        size_t m2 = push(c, k, 0);
        rc = propagate(c, v, fid, params, depth + 1);
        pop(c, m2);
        if (rc) goto out;
      }
    }
    goto out;
  }
  /* Parameters fill the component's missing or falsy fields. */
  const char *k;
  json_t *v;
  json_object_foreach(params, k, v) {
    if (sl_json_truthy(json_object_get(comp, k))) continue;
    json_t *copy = sl_manifest_copy(&c->m->locs, v, 0, 0);
    if (!copy || json_object_set_new(comp, k, copy)) {
      rc = nomem(c);
      goto out;
    }
  }
  json_object_foreach(comp, k, v) {
    if (json_is_object(v) || json_is_array(v))
      if ((rc = descend(c, comp, k, v, params, depth))) goto out;
  }
  if (json_object_size(params)) {
    json_t *copy = sl_manifest_copy(&c->m->locs, params, 0, 0);
    if (!copy || sl_mlocs_put(&c->m->locs, copy, pline, pcol, 0, 0) || json_object_set_new(comp, "$parameters", copy))
      rc = nomem(c);
  }
out:
  json_decref(params);
  return rc;
}

int sl_manifest_propagate(sl_manifest *m, json_t *root, sl_err *err) {
  pctx c = {.m = m, .err = err};
  json_t *none = json_object();
  if (!none) return nomem(&c);
  int rc = propagate(&c, root, "", none, 0);
  json_decref(none);
  return rc;
}
