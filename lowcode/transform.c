/* Record transformations: AddFields and RemoveFields (notes §6.9), on a
 * jansson record, or as a patch over a record view (the fast path: see
 * lc_transforms_patchable). */
#include <stdio.h>
#include <stdlib.h>

#include "lc.h"

typedef struct add_def {
  char **path;
  size_t n;
  sl_tmpl *value;
  sl_tmpl_accept accept;
  json_t *konst;     /* the value of a constant template, computed once */
  bool reads_record; /* the value template reads `record` */
  /* A template that neither reads `record` nor calls anything (now_utc()
   * and the like) gives the same value for every record of a page: it is
   * kept with the records' context it was computed in (a reference, so the
   * address is not reused by another page's context). */
  bool per_page;
  json_t *page_ctx, *page_val;
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
        lc_keyset ks = {0};
        lc_keyset_scan(&ks, d->value, "record");
        d->reads_record = ks.used;
        d->per_page = !ks.used && !strchr(sl_tmpl_source(d->value), '(');
        lc_keyset_dispose(&ks);
        if (sl_tmpl_is_static(d->value)) { /* literal text: the same value for every record */
          json_t *empty = json_object();
          rc = sl_tmpl_eval(d->value, empty, d->accept, &d->konst, err);
          json_decref(empty);
          if (rc) return sl_err_wrap(err, "AddFields at %s", LC_WHERE(src, node));
          if (!d->konst) d->konst = json_string("");
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
      json_decref(t->defs[k].konst);
      json_decref(t->defs[k].page_ctx);
      json_decref(t->defs[k].page_val);
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

/* An added field's value for one record (new reference). Constant values
 * are shared when immutable and copied when a later step could change them. */
static json_t *share(json_t *v) { return json_is_object(v) || json_is_array(v) ? json_deep_copy(v) : json_incref(v); }

static sl_code add_value(lc_source *src, const lc_tf *t, const add_def *cd, json_t *ctx, json_t **v, sl_err *err) {
  add_def *d = (add_def *)cd; /* the per-page value is a cache */
  if (d->konst || (d->per_page && d->page_ctx == ctx)) {
    *v = share(d->konst ? d->konst : d->page_val);
    return *v ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  *v = NULL;
  if (sl_tmpl_eval(d->value, ctx, d->accept, v, err)) return sl_err_wrap(err, "AddFields at %s", LC_WHERE(src, t->node));
  if (!*v) *v = json_string("");
  if (d->per_page && *v) {
    json_decref(d->page_ctx);
    json_decref(d->page_val);
    d->page_ctx = json_incref(ctx);
    d->page_val = share(*v);
  }
  return SL_EOK;
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
      sl_code rc = add_value(src, t, d, ctx, &v, err);
      if (rc) return rc;
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

/* ---- the patch path ---- */

bool lc_transforms_patchable(const lc_transforms *ts) {
  if (!ts) return false;
  for (size_t i = 0; i < ts->n; i++) {
    const lc_tf *t = &ts->t[i];
    if (t->key || t->condition) return false;
    for (size_t k = 0; k < t->n_defs; k++)
      if (t->defs[k].n != 1 || t->defs[k].reads_record) return false;
    for (size_t k = 0; k < t->n_ptrs; k++)
      if (t->ptr_len[k] != 1 || !strcmp(t->ptrs[k][0], "*") || !strcmp(t->ptrs[k][0], "**")) return false;
  }
  return true;
}

/* A patch is a list of top-level edits in the order made. REPLACED and
 * REMOVED stand at the key's place in the record; APPENDED keys follow the
 * record's members in order (a Python dict: a replaced key keeps its place,
 * a key deleted and added again moves to the end). */
enum { P_REPLACED, P_REMOVED, P_APPENDED, P_DEAD };

typedef struct pentry {
  const char *key; /* the transformation's string */
  int st;
  json_t *v;
} pentry;

struct lc_patch {
  pentry *e;
  size_t n, cap;
};

lc_patch *lc_patch_new(void) { return calloc(1, sizeof(lc_patch)); }

static void patch_reset(lc_patch *p) {
  for (size_t i = 0; i < p->n; i++) json_decref(p->e[i].v);
  p->n = 0;
}

void lc_patch_free(lc_patch *p) {
  if (!p) return;
  patch_reset(p);
  free(p->e);
  free(p);
}

static pentry *latest(const lc_patch *p, const char *k) {
  for (size_t i = p->n; i-- > 0;)
    if (p->e[i].st != P_DEAD && !strcmp(p->e[i].key, k)) return &p->e[i];
  return NULL;
}

static sl_code push(lc_patch *p, const char *k, int st, json_t *v, sl_err *err) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    pentry *n = realloc(p->e, cap * sizeof *n);
    if (!n) {
      json_decref(v);
      return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    p->e = n;
    p->cap = cap;
  }
  p->e[p->n++] = (pentry){k, st, v};
  return SL_EOK;
}

static bool has_member(sl_jv rec, const char *k) {
  sl_jv v;
  return sl_jv_get(rec, k, &v);
}

static sl_code patch_add(lc_patch *p, sl_jv rec, const char *k, json_t *v, sl_err *err) {
  pentry *e = latest(p, k);
  if (e && e->st != P_REMOVED) {
    json_decref(e->v);
    e->v = v;
    return SL_EOK;
  }
  return push(p, k, e || !has_member(rec, k) ? P_APPENDED : P_REPLACED, v, err);
}

static sl_code patch_remove(lc_patch *p, sl_jv rec, const char *k, sl_err *err) {
  pentry *e = latest(p, k);
  if (!e) return has_member(rec, k) ? push(p, k, P_REMOVED, NULL, err) : SL_EOK;
  if (e->st != P_REMOVED) {
    json_decref(e->v);
    e->v = NULL;
    e->st = e->st == P_REPLACED ? P_REMOVED : P_DEAD;
  }
  return SL_EOK;
}

sl_code lc_transforms_patch(lc_source *src, const lc_transforms *ts, sl_jv rec, json_t *ctx, lc_patch *p, sl_err *err) {
  patch_reset(p);
  for (size_t i = 0; i < ts->n; i++) {
    const lc_tf *t = &ts->t[i];
    sl_code rc = SL_EOK;
    for (size_t k = 0; !rc && k < t->n_ptrs; k++) rc = patch_remove(p, rec, t->ptrs[k][0], err);
    for (size_t k = 0; !rc && k < t->n_defs; k++) {
      json_t *v;
      if (!(rc = add_value(src, t, &t->defs[k], ctx, &v, err))) rc = patch_add(p, rec, t->defs[k].path[0], v, err);
    }
    if (rc) return rc;
  }
  return SL_EOK;
}

int lc_patch_get(const lc_patch *p, const char *key, const json_t **out) {
  const pentry *e = latest(p, key);
  if (!e) return -1;
  *out = e->v;
  return e->st == P_REMOVED ? 0 : 1;
}

/* The edit standing at an original member's place, or NULL. */
static const pentry *in_place(const lc_patch *p, const char *k, size_t kl) {
  for (size_t i = 0; i < p->n; i++) {
    const pentry *e = &p->e[i];
    if ((e->st == P_REPLACED || e->st == P_REMOVED) && strlen(e->key) == kl && !memcmp(e->key, k, kl)) return e;
  }
  return NULL;
}

void lc_patch_write(const lc_patch *p, sl_jv rec, sl_jw *w) {
  for (sl_jv k = sl_jv_first(rec); sl_jv_more(rec, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kl;
    const char *ks = sl_jv_str(k, &kl);
    const pentry *e = p->n ? in_place(p, ks, kl) : NULL;
    if (e && e->st == P_REMOVED) continue;
    sl_jw_key(w, ks, kl);
    if (e) sl_jw_json(w, e->v);
    else sl_jw_jv(w, sl_jv_val(k));
  }
  for (size_t i = 0; i < p->n; i++)
    if (p->e[i].st == P_APPENDED) {
      sl_jw_keyz(w, p->e[i].key);
      sl_jw_json(w, p->e[i].v);
    }
}
