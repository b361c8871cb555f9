/* Record transformations: AddFields and RemoveFields (notes §6.9). */
#include <stdio.h>
#include <stdlib.h>

#include "lc.h"

typedef struct add_def {
  char **path;
  size_t n;
  sl_tmpl *value;
  sl_tmpl_accept accept;
} add_def;

typedef struct lc_tf {
  bool remove;
  const json_t *node;
  sl_tmpl *condition;
  add_def *defs;
  size_t n_defs;
  char ***ptrs; /* RemoveFields: pointers */
  size_t *ptr_len;
  size_t n_ptrs;
  lc_keytf *key; /* key transformations (keytransform.c) */
} lc_tf;

struct lc_transforms {
  lc_tf *t;
  size_t n;
};

static char **str_list(const json_t *a, size_t *n) {
  *n = json_array_size(a);
  char **out = calloc(*n + 1, sizeof *out);
  for (size_t i = 0; i < *n; i++) {
    const json_t *x = json_array_get(a, i);
    if (json_is_string(x)) out[i] = strdup(json_string_value(x));
    else {
      sl_buf b;
      sl_buf_init(&b, 1 << 16);
      lc_pystr(&b, x);
      out[i] = strdup(sl_buf_cstr(&b));
      sl_buf_dispose(&b);
    }
  }
  return out;
}

sl_code lc_transforms_build(lc_source *src, const json_t *list, lc_transforms **out, sl_err *err) {
  lc_transforms *ts = calloc(1, sizeof *ts);
  if (!ts) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = ts;
  size_t n = json_array_size(list);
  ts->t = calloc(n + 1, sizeof *ts->t);
  size_t i;
  json_t *node;
  sl_code rc;
  json_array_foreach(list, i, node) {
    lc_tf *t = &ts->t[ts->n++];
    t->node = node;
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type) type = "";
    if ((rc = lc_tmpl_field(src, node, "condition", &t->condition, err))) return rc;
    if (!strcmp(type, "AddFields")) {
      const json_t *fields = json_object_get(node, "fields");
      t->defs = calloc(json_array_size(fields) + 1, sizeof *t->defs);
      size_t k;
      json_t *f;
      json_array_foreach(fields, k, f) {
        add_def *d = &t->defs[t->n_defs++];
        d->path = str_list(json_object_get(f, "path"), &d->n);
        if (!d->n) return sl_err_set(err, SL_ECONFIG, "%s: an added field needs a path", LC_WHERE(src, f));
        const json_t *v = json_object_get(f, "value");
        if (!v) return sl_err_set(err, SL_ECONFIG, "%s: an added field needs a value", LC_WHERE(src, f));
        if ((rc = lc_tmpl_value(src, f, "value", v, &d->value, err))) return rc;
        const char *vt = json_string_value(json_object_get(f, "value_type"));
        d->accept = SL_TMPL_ANY;
        if (vt) {
          if (!strcmp(vt, "string")) d->accept = SL_TMPL_STRING;
          else if (!strcmp(vt, "integer")) d->accept = SL_TMPL_INT;
          else if (!strcmp(vt, "number")) d->accept = SL_TMPL_NUMBER;
          else if (!strcmp(vt, "boolean")) d->accept = SL_TMPL_BOOL;
          else return sl_err_set(err, SL_ECONFIG, "%s: unknown value_type \"%s\"", LC_WHERE(src, f), vt);
        }
      }
    } else if (!strcmp(type, "RemoveFields")) {
      t->remove = true;
      const json_t *ptrs = json_object_get(node, "field_pointers");
      size_t np = json_array_size(ptrs);
      t->ptrs = calloc(np + 1, sizeof *t->ptrs);
      t->ptr_len = calloc(np + 1, sizeof *t->ptr_len);
      for (size_t k = 0; k < np; k++) {
        t->ptrs[k] = str_list(json_array_get(ptrs, k), &t->ptr_len[k]);
        t->n_ptrs++;
      }
    } else if (lc_keytf_handles(type)) {
      if ((rc = lc_keytf_build(src, node, type, &t->key, err))) return rc;
    } else if (!strncmp(type, "Custom", 6)) {
      return sl_err_set(err, SL_ECONFIG, "%s: %s needs Python code, which sluice cannot run", LC_WHERE(src, node), type);
    } else {
      return sl_err_set(err, SL_ECONFIG, "%s: unsupported transformation \"%s\"", LC_WHERE(src, node), type);
    }
  }
  return SL_EOK;
}

void lc_transforms_free(lc_transforms *ts) {
  if (!ts) return;
  for (size_t i = 0; i < ts->n; i++) {
    lc_tf *t = &ts->t[i];
    sl_tmpl_free(t->condition);
    lc_keytf_free(t->key);
    for (size_t k = 0; k < t->n_defs; k++) {
      for (size_t j = 0; j < t->defs[k].n; j++) free(t->defs[k].path[j]);
      free(t->defs[k].path);
      sl_tmpl_free(t->defs[k].value);
    }
    free(t->defs);
    for (size_t k = 0; k < t->n_ptrs; k++) {
      for (size_t j = 0; j < t->ptr_len[k]; j++) free(t->ptrs[k][j]);
      free(t->ptrs[k]);
    }
    free(t->ptrs);
    free(t->ptr_len);
  }
  free(ts->t);
  free(ts);
}

/* dpath.new: set the value at path, creating objects on the way. */
static void put_path(json_t *rec, char *const *path, size_t n, json_t *v) {
  json_t *cur = rec;
  for (size_t i = 0; i + 1 < n; i++) {
    json_t *next = json_object_get(cur, path[i]);
    if (!json_is_object(next)) {
      next = json_object();
      json_object_set_new(cur, path[i], next);
    }
    cur = next;
  }
  json_object_set_new(cur, path[n - 1], v);
}

typedef struct rm_ctx {
  lc_source *src;
  const sl_tmpl *cond;
  json_t *ctx;
  sl_err *err;
  sl_code rc;
} rm_ctx;

static bool rm_allowed(rm_ctx *c, json_t *value) {
  if (!c->cond) return true;
  json_object_set(c->ctx, "property", value);
  bool b = false;
  sl_code rc = sl_tmpl_eval_bool(c->cond, c->ctx, &b, c->err);
  if (rc && !c->rc) c->rc = rc;
  return !rc && b;
}

/* dpath.delete with globs: '*' any one key/index, '**' any depth. */
static void rm_glob(rm_ctx *c, json_t *cur, char *const *p, size_t n) {
  if (!n || c->rc) return;
  bool last = n == 1;
  if (!strcmp(p[0], "**")) {
    rm_glob(c, cur, p + 1, n - 1); /* zero levels */
    if (json_is_object(cur)) {
      const char *k;
      json_t *x;
      json_object_foreach(cur, k, x) rm_glob(c, x, p, n);
    } else if (json_is_array(cur)) {
      size_t i;
      json_t *x;
      json_array_foreach(cur, i, x) rm_glob(c, x, p, n);
    }
    return;
  }
  bool star = !strcmp(p[0], "*");
  if (json_is_object(cur)) {
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(cur, tmp, k, x) {
      if (!star && strcmp(k, p[0])) continue;
      if (last) {
        if (rm_allowed(c, x)) json_object_del(cur, k);
      } else {
        rm_glob(c, x, p + 1, n - 1);
      }
    }
  } else if (json_is_array(cur)) {
    char *end;
    long idx = star ? -1 : strtol(p[0], &end, 10);
    if (!star && (*end || idx < 0)) return;
    for (size_t i = json_array_size(cur); i-- > 0;) {
      if (!star && (long)i != idx) continue;
      json_t *x = json_array_get(cur, i);
      if (last) {
        if (rm_allowed(c, x)) json_array_remove(cur, i);
      } else {
        rm_glob(c, x, p + 1, n - 1);
      }
    }
  }
}

sl_code lc_transforms_apply(lc_source *src, const lc_transforms *ts, json_t *record, json_t *ctx,
                            sl_err *err) {
  if (!ts) return SL_EOK;
  json_object_set(ctx, "record", record);
  for (size_t i = 0; i < ts->n; i++) {
    const lc_tf *t = &ts->t[i];
    if (t->key) {
      sl_code rc = lc_keytf_apply(src, t->key, record, ctx, err);
      if (rc) return rc;
      continue;
    }
    if (t->remove) {
      rm_ctx c = {src, t->condition, t->condition ? json_deep_copy(ctx) : NULL, err, SL_EOK};
      for (size_t k = 0; k < t->n_ptrs; k++) rm_glob(&c, record, t->ptrs[k], t->ptr_len[k]);
      json_decref(c.ctx);
      if (c.rc) return c.rc;
      continue;
    }
    for (size_t k = 0; k < t->n_defs; k++) {
      const add_def *d = &t->defs[k];
      json_t *v = NULL;
      sl_code rc = sl_tmpl_eval(d->value, ctx, d->accept, &v, err);
      if (rc) return sl_err_wrap(err, "AddFields at %s", LC_WHERE(src, t->node));
      if (!v) v = json_string("");
      if (t->condition) {
        json_t *cc = json_deep_copy(ctx);
        json_object_set(cc, "value", v);
        json_t *path = json_array();
        for (size_t j = 0; j < d->n; j++) json_array_append_new(path, json_string(d->path[j]));
        json_object_set_new(cc, "path", path);
        bool ok = false;
        rc = sl_tmpl_eval_bool(t->condition, cc, &ok, err);
        json_decref(cc);
        if (rc) {
          json_decref(v);
          return rc;
        }
        if (!ok) {
          json_decref(v);
          continue;
        }
      }
      put_path(record, d->path, d->n, v);
    }
  }
  return SL_EOK;
}
