/* RecordSelector: DpathExtractor over the parsed page (simdjson views, no
 * copies), RecordFilter, and the Default schema normalisation (notes §6.8). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "lc.h"

struct lc_selector {
  const json_t *node;
  sl_tmpl **path;
  size_t n_path;
  char **rendered; /* path for this run */
  bool star;
  sl_tmpl *filter;
  const json_t *filter_params; /* the filter's own $parameters (its ancestors' merged) */
  lc_keyset filter_keys; /* the members of `record` the filter reads */
  bool normalize;
  bool transform_first;
  json_t *schema;
};

sl_code lc_selector_build(lc_source *src, const json_t *node, const json_t *schema,
                          lc_selector **out, sl_err *err) {
  lc_selector *s = calloc(1, sizeof *s);
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = s;
  s->node = node;
  const char *type = json_string_value(json_object_get(node, "type"));
  if (type && strcmp(type, "RecordSelector"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported record selector \"%s\"", LC_WHERE(src, node), type);
  const json_t *ex = json_object_get(node, "extractor");
  const char *et = json_string_value(json_object_get(ex, "type"));
  if (et && strcmp(et, "DpathExtractor"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported extractor \"%s\"%s", LC_WHERE(src, ex), et,
                      !strncmp(et, "Custom", 6) ? " (it needs Python code)" : "");
  const json_t *fp = json_object_get(ex, "field_path");
  size_t n = json_array_size(fp);
  s->path = calloc(n + 1, sizeof *s->path);
  s->rendered = calloc(n + 1, sizeof *s->rendered);
  size_t i;
  json_t *seg;
  sl_code rc;
  json_array_foreach(fp, i, seg) {
    if ((rc = lc_tmpl_value(src, ex, "field_path", seg, &s->path[s->n_path++], err))) return rc;
  }
  const json_t *f = json_object_get(node, "record_filter");
  if (f && !json_is_null(f)) {
    const char *ft = json_string_value(json_object_get(f, "type"));
    if (ft && strcmp(ft, "RecordFilter"))
      return sl_err_set(err, SL_ECONFIG, "%s: unsupported record filter \"%s\"", LC_WHERE(src, f), ft);
    if ((rc = lc_tmpl_field(src, f, "condition", &s->filter, err))) return rc;
    s->filter_params = json_object_get(f, "$parameters");
    lc_keyset_scan(&s->filter_keys, s->filter, "record");
  }
  const json_t *norm = json_object_get(node, "schema_normalization");
  const char *ns = json_string_value(norm);
  if (ns && !strcmp(ns, "Default")) s->normalize = true;
  else if (json_is_object(norm))
    return sl_err_set(err, SL_ECONFIG, "%s: custom schema normalization needs Python code", LC_WHERE(src, node));
  s->transform_first = json_is_true(json_object_get(node, "transform_before_filtering"));
  s->schema = json_incref((json_t *)schema);
  return SL_EOK;
}

void lc_selector_free(lc_selector *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n_path; i++) {
    sl_tmpl_free(s->path[i]);
    free(s->rendered[i]);
  }
  free(s->path);
  free(s->rendered);
  sl_tmpl_free(s->filter);
  lc_keyset_dispose(&s->filter_keys);
  json_decref(s->schema);
  free(s);
}

bool lc_selector_is_plain(const lc_selector *s) { return !s->filter && !s->normalize; }
bool lc_selector_transform_first(const lc_selector *s) { return s->transform_first; }

sl_code lc_selector_prepare(lc_source *src, lc_selector *s, const json_t *ctx, sl_err *err) {
  s->star = false;
  for (size_t i = 0; i < s->n_path; i++) {
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    sl_code rc = lc_eval_text(s->path[i], ctx, &b, err);
    free(s->rendered[i]);
    s->rendered[i] = strdup(sl_buf_cstr(&b));
    sl_buf_dispose(&b);
    if (rc) return rc;
    if (!strcmp(s->rendered[i], "*")) s->star = true;
    else if (!strcmp(s->rendered[i], "**"))
      return sl_err_set(err, SL_ECONFIG, "%s: \"**\" in an extractor field_path is not supported", LC_WHERE(src, s->node));
  }
  return SL_EOK;
}

/* ---- extraction ---- */

static sl_code push(lc_jvvec *v, sl_jv x, sl_err *err) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 1024;
    sl_jv *nv = realloc(v->v, nc * sizeof *nv);
    if (!nv) return sl_err_set(err, SL_ENOMEM, "out of memory");
    v->v = nv;
    v->cap = nc;
  }
  v->v[v->n++] = x;
  return SL_EOK;
}

/* A child by key (objects) or index (arrays, for numeric segments). */
static bool child(sl_jv c, const char *key, sl_jv *out) {
  if (sl_jv_type(c) == SL_JOBJECT) return sl_jv_get(c, key, out);
  if (sl_jv_type(c) == SL_JARRAY) {
    char *end;
    long idx = strtol(key, &end, 10);
    if (!*key || *end || idx < 0) return false;
    long k = 0;
    for (sl_jv x = sl_jv_first(c); sl_jv_more(c, x); x = sl_jv_next(x), k++)
      if (k == idx) {
        *out = x;
        return true;
      }
  }
  return false;
}

/* dpath.values: every value matching the glob path. */
static sl_code glob(sl_jv cur, char *const *path, size_t n, lc_jvvec *out, sl_err *err) {
  if (n == 0) return push(out, cur, err);
  if (!strcmp(path[0], "*")) {
    sl_jtype t = sl_jv_type(cur);
    if (t == SL_JOBJECT) {
      for (sl_jv k = sl_jv_first(cur); sl_jv_more(cur, k); k = sl_jv_next(sl_jv_val(k))) {
        sl_code rc = glob(sl_jv_val(k), path + 1, n - 1, out, err);
        if (rc) return rc;
      }
    } else if (t == SL_JARRAY) {
      for (sl_jv x = sl_jv_first(cur); sl_jv_more(cur, x); x = sl_jv_next(x)) {
        sl_code rc = glob(x, path + 1, n - 1, out, err);
        if (rc) return rc;
      }
    }
    return SL_EOK;
  }
  sl_jv next;
  if (!child(cur, path[0], &next)) return SL_EOK;
  return glob(next, path + 1, n - 1, out, err);
}

static bool jv_truthy(sl_jv v) {
  switch (sl_jv_type(v)) {
    case SL_JNULL: return false;
    case SL_JBOOL: return sl_jv_bool(v);
    case SL_JINT: return sl_jv_int(v) != 0;
    case SL_JUINT: return true;
    case SL_JDOUBLE: return sl_jv_double_raw(v) != 0;
    case SL_JSTRING: {
      size_t l;
      sl_jv_str(v, &l);
      return l > 0;
    }
    case SL_JARRAY:
    case SL_JOBJECT: return sl_jv_count(v) > 0;
  }
  return false;
}

static sl_code extract_item(const lc_selector *s, sl_jv body, lc_jvvec *recs, sl_err *err) {
  sl_jv ex = body;
  if (s->n_path) {
    if (s->star) {
      /* every match is one record, lists included */
      return glob(body, s->rendered, s->n_path, recs, err);
    }
    for (size_t i = 0; i < s->n_path; i++)
      if (!child(ex, s->rendered[i], &ex)) return SL_EOK;
  }
  if (sl_jv_type(ex) == SL_JARRAY) {
    for (sl_jv x = sl_jv_first(ex); sl_jv_more(ex, x); x = sl_jv_next(x)) {
      sl_code rc = push(recs, x, err);
      if (rc) return rc;
    }
    return SL_EOK;
  }
  if (jv_truthy(ex)) return push(recs, ex, err);
  return SL_EOK;
}

sl_code lc_selector_extract(const lc_selector *s, sl_jv root, lc_jvvec *recs, sl_err *err) {
  /* JsonDecoder: a top-level array is decoded item by item. */
  if (sl_jv_type(root) == SL_JARRAY) {
    for (sl_jv x = sl_jv_first(root); sl_jv_more(root, x); x = sl_jv_next(x)) {
      sl_code rc = extract_item(s, x, recs, err);
      if (rc) return rc;
    }
    return SL_EOK;
  }
  return extract_item(s, root, recs, err);
}

/* ---- filter ---- */

/* The condition sees the filter's own parameters, as the CDK builds the
 * RecordFilter with them: they hold the retriever's and the selector's too,
 * which the stream's context (ctx) lacks. */
static sl_code eval_filter(const lc_selector *s, json_t *ctx, bool *keep, sl_err *err) {
  json_t *saved = NULL;
  if (s->filter_params && json_object_get(ctx, "parameters") != s->filter_params) {
    saved = json_incref(json_object_get(ctx, "parameters"));
    json_object_set(ctx, "parameters", (json_t *)s->filter_params);
  }
  sl_code rc = sl_tmpl_eval_bool(s->filter, ctx, keep, err);
  if (saved) json_object_set_new(ctx, "parameters", saved);
  return rc;
}

sl_code lc_selector_filter(lc_source *src, const lc_selector *s, json_t *ctx, bool *keep,
                           sl_err *err) {
  *keep = true;
  if (!s->filter) return SL_EOK;
  return eval_filter(s, ctx, keep, err);
}

bool lc_selector_filter_on_view(const lc_selector *s) { return !s->normalize && (!s->filter || !s->filter_keys.whole); }

sl_code lc_selector_filter_view(lc_source *src, const lc_selector *s, json_t *ctx, const lc_record *r, bool *keep,
                                sl_err *err) {
  *keep = true;
  if (!s->filter) return SL_EOK;
  json_t *part = json_object();
  if (!part) return sl_err_set(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < s->filter_keys.n; i++) {
    json_t *v = lc_record_get(r, s->filter_keys.k[i]);
    if (v) json_object_set_new(part, s->filter_keys.k[i], v);
  }
  json_object_set_new(ctx, "record", part);
  sl_code rc = eval_filter(s, ctx, keep, err);
  json_object_del(ctx, "record");
  return rc;
}

/* ---- Default schema normalisation (TypeTransformer) ---- */

static bool type_matches(const json_t *v, const char *t) {
  if (!strcmp(t, "null")) return json_is_null(v);
  if (!strcmp(t, "string")) return json_is_string(v);
  if (!strcmp(t, "boolean")) return json_is_boolean(v);
  if (!strcmp(t, "object")) return json_is_object(v);
  if (!strcmp(t, "array")) return json_is_array(v);
  if (!strcmp(t, "number")) return json_is_number(v);
  if (!strcmp(t, "integer"))
    return json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
  return true;
}

static bool valid_type(const json_t *v, const json_t *type) {
  if (json_is_string(type)) return type_matches(v, json_string_value(type));
  if (json_is_array(type)) {
    size_t i;
    json_t *t;
    json_array_foreach(type, i, t) if (json_is_string(t) && type_matches(v, json_string_value(t))) return true;
    return false;
  }
  return true;
}

static json_t *convert(const json_t *v, const json_t *schema) {
  const json_t *type = json_object_get(schema, "type");
  const char *target = NULL;
  if (json_is_null(v)) return NULL;
  if (json_is_string(type)) target = json_string_value(type);
  else if (json_is_array(type)) {
    size_t i, n = 0;
    json_t *t;
    json_array_foreach(type, i, t) if (json_is_string(t) && strcmp(json_string_value(t), "null")) {
      target = json_string_value(t);
      n++;
    }
    if (n != 1) return NULL;
  }
  if (!target) return NULL;
  if (!strcmp(target, "string")) {
    sl_buf b;
    sl_buf_init(&b, (size_t)1 << 30);
    lc_pystr(&b, v);
    json_t *r = json_stringn(b.data ? b.data : "", b.len);
    sl_buf_dispose(&b);
    return r;
  }
  if (!strcmp(target, "number") || !strcmp(target, "integer")) {
    bool integer = target[0] == 'i';
    if (json_is_boolean(v)) return integer ? json_integer(json_is_true(v)) : json_real(json_is_true(v));
    if (json_is_real(v) && integer) return isfinite(json_real_value(v)) ? json_integer((json_int_t)json_real_value(v)) : NULL;
    if (json_is_integer(v) && !integer) return json_real((double)json_integer_value(v));
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    while (isspace((unsigned char)*s)) s++;
    char *end;
    if (integer) {
      long long x = strtoll(s, &end, 10);
      if (end == s) return NULL;
      while (isspace((unsigned char)*end)) end++;
      return *end ? NULL : json_integer(x);
    }
    double d = strtod(s, &end);
    if (end == s) return NULL;
    while (isspace((unsigned char)*end)) end++;
    return *end ? NULL : json_real(d);
  }
  if (!strcmp(target, "boolean")) {
    if (json_is_string(v)) {
      static const char *t[] = {"y", "yes", "t", "true", "on", "1"}, *f[] = {"n", "no", "f", "false", "off", "0"};
      for (size_t i = 0; i < 6; i++) {
        if (!strcasecmp(json_string_value(v), t[i])) return json_true();
        if (!strcasecmp(json_string_value(v), f[i])) return json_false();
      }
      return NULL;
    }
    if (json_is_integer(v)) return json_boolean(json_integer_value(v) != 0);
    if (json_is_real(v)) return json_boolean(json_real_value(v) != 0);
    return NULL;
  }
  if (!strcmp(target, "array")) {
    const json_t *it = json_object_get(json_object_get(schema, "items"), "type");
    bool simple = it != NULL;
    const char *simple_types[] = {"string", "number", "integer", "boolean", "null"};
    json_t *types = json_is_string(it) ? json_pack("[O]", it) : json_incref((json_t *)it);
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
      bool ok = false;
      for (size_t k = 0; k < 5; k++) ok |= json_is_string(t) && !strcmp(json_string_value(t), simple_types[k]);
      simple &= ok;
    }
    json_decref(types);
    if (simple && (json_is_string(v) || json_is_number(v) || json_is_boolean(v)))
      return json_pack("[O]", v);
  }
  return NULL;
}

static void normalize(json_t *v, const json_t *schema, int depth) {
  if (!json_is_object(schema) || depth > 64) return;
  const json_t *props = json_object_get(schema, "properties");
  if (json_is_object(v) && json_is_object(props)) {
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, x) {
      const json_t *sub = json_object_get(props, k);
      if (!json_is_object(sub)) continue;
      const json_t *type = json_object_get(sub, "type");
      if (type && !valid_type(x, type)) {
        json_t *c = convert(x, sub);
        if (c) json_object_set_new(v, k, c);
      }
      normalize(json_object_get(v, k), sub, depth + 1);
    }
  }
  const json_t *items = json_object_get(schema, "items");
  if (json_is_array(v) && json_is_object(items)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      const json_t *type = json_object_get(items, "type");
      if (type && !valid_type(x, type)) {
        json_t *c = convert(x, items);
        if (c) json_array_set_new(v, i, c);
      }
      normalize(json_array_get(v, i), items, depth + 1);
    }
  }
}

sl_code lc_selector_normalize(const lc_selector *s, json_t *record) {
  if (s->normalize && s->schema) normalize(record, s->schema, 0);
  return SL_EOK;
}
