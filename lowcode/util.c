/* Shared helpers of the declarative runtime: locations, templates, Python
 * value text, template trees (request mappings and bodies), clock. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lc.h"

const char *lc_where(const lc_source *src, const json_t *node, char *buf, size_t n) {
  return sl_manifest_where(src->m, node, buf, n);
}

void lc_log(lc_source *src, const char *level, const char *fmt, ...) {
  char text[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (src->log) src->log(src->out_ud, level, text);
  else fprintf(stderr, "%s %s\n", level, text);
}

sl_code lc_tmpl_value(lc_source *src, const json_t *node, const char *field, const json_t *v,
                      sl_tmpl **out, sl_err *err) {
  char where[600];
  char at[320];
  snprintf(where, sizeof where, "%s%s%s", lc_where(src, node, at, sizeof at),
           field ? " field " : "", field ? field : "");
  char *text = NULL;
  if (json_is_string(v)) text = strdup(json_string_value(v));
  else if (v) {
    sl_buf b;
    sl_buf_init(&b, 1 << 20);
    lc_pystr(&b, v);
    text = strdup(sl_buf_cstr(&b));
    sl_buf_dispose(&b);
  }
  if (!text) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = sl_tmpl_compile(text, where, err);
  free(text);
  if (!*out) return err->code ? err->code : SL_ECONFIG;
  return SL_EOK;
}

sl_code lc_tmpl_field(lc_source *src, const json_t *node, const char *field, sl_tmpl **out,
                      sl_err *err) {
  *out = NULL;
  const json_t *v = json_object_get(node, field);
  if (!v || json_is_null(v)) return SL_EOK;
  if (json_is_object(v) || json_is_array(v)) {
    char at[320];
    return sl_err_set(err, SL_ECONFIG, "%s: field %s must be a string, not %s",
                      lc_where(src, node, at, sizeof at), field, json_is_object(v) ? "a mapping" : "a list");
  }
  return lc_tmpl_value(src, node, field, v, out, err);
}

sl_code lc_eval(const sl_tmpl *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out,
                sl_err *err) {
  *out = NULL;
  if (!t) return SL_EOK;
  return sl_tmpl_eval(t, ctx, accept, out, err);
}

sl_code lc_eval_text(const sl_tmpl *t, const json_t *ctx, sl_buf *out, sl_err *err) {
  if (!t) return SL_EOK;
  json_t *v = NULL;
  sl_code rc = sl_tmpl_eval(t, ctx, SL_TMPL_ANY, &v, err);
  if (rc) return rc;
  if (v) lc_pystr(out, v);
  json_decref(v);
  return SL_EOK;
}

/* ---- Python str()/repr() of JSON values ---- */

static void py_float(sl_buf *out, double d) {
  if (isnan(d)) {
    sl_buf_append(out, "nan", 3);
    return;
  }
  if (isinf(d)) {
    sl_buf_appendf(out, "%sinf", d < 0 ? "-" : "");
    return;
  }
  char tmp[64];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    if (strtod(tmp, NULL) == d) break;
  }
  /* tmp = [-]D.DDDDe[+-]XX: digits and exponent, then Python's repr rule. */
  char digits[32];
  size_t nd = 0;
  const char *p = tmp;
  bool neg = *p == '-';
  if (neg) p++;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  int exp = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  if (neg) sl_buf_putc(out, '-');
  if (exp < -4 || exp >= 16) {
    sl_buf_putc(out, digits[0]);
    if (nd > 1) sl_buf_appendf(out, ".%s", digits + 1);
    sl_buf_appendf(out, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
  } else if (exp < 0) {
    sl_buf_append(out, "0.", 2);
    for (int i = -1; i > exp; i--) sl_buf_putc(out, '0');
    sl_buf_append(out, digits, nd);
  } else {
    for (int i = 0; i <= exp; i++) sl_buf_putc(out, (size_t)i < nd ? digits[i] : '0');
    sl_buf_putc(out, '.');
    if ((size_t)exp + 1 < nd) sl_buf_append(out, digits + exp + 1, nd - (size_t)exp - 1);
    else sl_buf_putc(out, '0');
  }
}

static void py_repr_str(sl_buf *out, const char *s) {
  bool has_sq = strchr(s, '\'') != NULL, has_dq = strchr(s, '"') != NULL;
  char q = has_sq && !has_dq ? '"' : '\'';
  sl_buf_putc(out, q);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\\') sl_buf_append(out, "\\\\", 2);
    else if (*p == (unsigned char)q) sl_buf_appendf(out, "\\%c", q);
    else if (*p == '\n') sl_buf_append(out, "\\n", 2);
    else if (*p == '\r') sl_buf_append(out, "\\r", 2);
    else if (*p == '\t') sl_buf_append(out, "\\t", 2);
    else if (*p < 0x20 || *p == 0x7f) sl_buf_appendf(out, "\\x%02x", *p);
    else sl_buf_putc(out, (char)*p);
  }
  sl_buf_putc(out, q);
}

static void py_text(sl_buf *out, const json_t *v, bool repr) {
  switch (json_typeof(v)) {
    case JSON_STRING:
      if (repr) py_repr_str(out, json_string_value(v));
      else sl_buf_append(out, json_string_value(v), json_string_length(v));
      break;
    case JSON_INTEGER: sl_buf_appendf(out, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: py_float(out, json_real_value(v)); break;
    case JSON_TRUE: sl_buf_append(out, "True", 4); break;
    case JSON_FALSE: sl_buf_append(out, "False", 5); break;
    case JSON_NULL: sl_buf_append(out, "None", 4); break;
    case JSON_ARRAY: {
      sl_buf_putc(out, '[');
      size_t i;
      json_t *x;
      json_array_foreach(v, i, x) {
        if (i) sl_buf_append(out, ", ", 2);
        py_text(out, x, true);
      }
      sl_buf_putc(out, ']');
      break;
    }
    case JSON_OBJECT: {
      sl_buf_putc(out, '{');
      const char *k;
      json_t *x;
      bool first = true;
      json_object_foreach((json_t *)v, k, x) {
        if (!first) sl_buf_append(out, ", ", 2);
        first = false;
        py_repr_str(out, k);
        sl_buf_append(out, ": ", 2);
        py_text(out, x, true);
      }
      sl_buf_putc(out, '}');
      break;
    }
  }
}

void lc_pystr(sl_buf *out, const json_t *v) { py_text(out, v, false); }

/* ---- template trees ---- */

typedef enum { TT_TMPL, TT_LIT, TT_OBJ, TT_ARR } tt_kind;

struct lc_ttree {
  tt_kind kind;
  sl_tmpl *t;        /* TT_TMPL */
  json_t *lit;       /* TT_LIT */
  size_t n;          /* TT_OBJ / TT_ARR */
  sl_tmpl **keys;    /* TT_OBJ: compiled keys */
  lc_ttree **kids;
};

static sl_code tt_build(lc_source *src, const json_t *node, const char *field, const json_t *v,
                        lc_ttree **out, sl_err *err) {
  lc_ttree *t = calloc(1, sizeof *t);
  if (!t) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = t;
  if (json_is_string(v)) {
    t->kind = TT_TMPL;
    return lc_tmpl_value(src, node, field, v, &t->t, err);
  }
  if (json_is_object(v)) {
    t->kind = TT_OBJ;
    size_t n = json_object_size(v);
    t->keys = calloc(n ? n : 1, sizeof *t->keys);
    t->kids = calloc(n ? n : 1, sizeof *t->kids);
    if (!t->keys || !t->kids) return sl_err_set(err, SL_ENOMEM, "out of memory");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      json_t *ks = json_string(k);
      sl_code rc = lc_tmpl_value(src, v, field, ks, &t->keys[t->n], err);
      json_decref(ks);
      if (rc) return rc;
      rc = tt_build(src, v, k, x, &t->kids[t->n++], err);
      if (rc) return rc;
    }
    return SL_EOK;
  }
  if (json_is_array(v)) {
    t->kind = TT_ARR;
    size_t n = json_array_size(v);
    t->kids = calloc(n ? n : 1, sizeof *t->kids);
    if (!t->kids) return sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      sl_code rc = tt_build(src, v, field, x, &t->kids[t->n++], err);
      if (rc) return rc;
    }
    return SL_EOK;
  }
  t->kind = TT_LIT;
  t->lit = json_incref((json_t *)v);
  return SL_EOK;
}

sl_code lc_ttree_build(lc_source *src, const json_t *node, const char *field, lc_ttree **out,
                       sl_err *err) {
  *out = NULL;
  const json_t *v = json_object_get(node, field);
  if (!v || json_is_null(v)) return SL_EOK;
  sl_code rc = tt_build(src, node, field, v, out, err);
  if (rc) {
    lc_ttree_free(*out);
    *out = NULL;
  }
  return rc;
}

bool lc_ttree_is_string(const lc_ttree *t) { return t && t->kind == TT_TMPL; }

void lc_ttree_free(lc_ttree *t) {
  if (!t) return;
  sl_tmpl_free(t->t);
  json_decref(t->lit);
  for (size_t i = 0; i < t->n; i++) {
    if (t->keys) sl_tmpl_free(t->keys[i]);
    lc_ttree_free(t->kids[i]);
  }
  free(t->keys);
  free(t->kids);
  free(t);
}

/* None-valued members are dropped at every depth (the CDK's nested mapping). */
static sl_code tt_eval(const lc_ttree *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out,
                       sl_err *err) {
  *out = NULL;
  switch (t->kind) {
    case TT_TMPL: return sl_tmpl_eval(t->t, ctx, accept, out, err);
    case TT_LIT: *out = json_incref(t->lit); return SL_EOK;
    case TT_ARR: {
      json_t *a = json_array();
      for (size_t i = 0; i < t->n; i++) {
        json_t *x;
        sl_code rc = tt_eval(t->kids[i], ctx, accept, &x, err);
        if (rc) {
          json_decref(a);
          return rc;
        }
        json_array_append_new(a, x ? x : json_null());
      }
      *out = a;
      return SL_EOK;
    }
    case TT_OBJ: {
      json_t *o = json_object();
      sl_buf kb;
      sl_buf_init(&kb, 1 << 20);
      for (size_t i = 0; i < t->n; i++) {
        json_t *x;
        sl_code rc = tt_eval(t->kids[i], ctx, accept, &x, err);
        kb.len = 0;
        if (!rc) rc = lc_eval_text(t->keys[i], ctx, &kb, err);
        if (rc) {
          json_decref(o);
          sl_buf_dispose(&kb);
          return rc;
        }
        if (x && !json_is_null(x)) json_object_set_new(o, sl_buf_cstr(&kb), x);
        else json_decref(x);
      }
      sl_buf_dispose(&kb);
      *out = o;
      return SL_EOK;
    }
  }
  return SL_EOK;
}

sl_code lc_ttree_eval(const lc_ttree *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out,
                      sl_err *err) {
  *out = NULL;
  if (!t) return SL_EOK;
  return tt_eval(t, ctx, accept, out, err);
}

json_t *lc_json_path(const json_t *root, const char *const *keys, size_t n) {
  const json_t *cur = root;
  for (size_t i = 0; i < n && cur; i++) {
    if (json_is_object(cur)) cur = json_object_get(cur, keys[i]);
    else if (json_is_array(cur)) {
      char *end;
      long idx = strtol(keys[i], &end, 10);
      cur = (*end || idx < 0) ? NULL : json_array_get(cur, (size_t)idx);
    } else cur = NULL;
  }
  return (json_t *)cur;
}

json_t *lc_ctx_new(const lc_source *src, const json_t *node) {
  const json_t *p = json_object_get(node, "$parameters");
  json_t *ctx = json_pack("{s:O}", "config", src->config);
  json_object_set_new(ctx, "parameters", p ? json_incref((json_t *)p) : json_object());
  return ctx;
}

sl_code lc_eval_text_at(const lc_source *src, const json_t *node, const sl_tmpl *t, sl_buf *out,
                        sl_err *err) {
  json_t *ctx = lc_ctx_new(src, node);
  sl_code rc = lc_eval_text(t, ctx, out, err);
  json_decref(ctx);
  return rc;
}

sl_code lc_render_field(lc_source *src, const json_t *node, const char *field, char **out, sl_err *err) {
  *out = NULL;
  sl_tmpl *t = NULL;
  sl_code rc = lc_tmpl_field(src, node, field, &t, err);
  if (rc || !t) return rc;
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  rc = lc_eval_text_at(src, node, t, &b, err);
  sl_tmpl_free(t);
  if (!rc && !(*out = strdup(sl_buf_cstr(&b)))) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_buf_dispose(&b);
  return rc;
}

int64_t lc_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void lc_sleep(double seconds) {
  static double scale = -1;
  if (scale < 0) {
    const char *s = getenv("SLUICE_BACKOFF_SCALE");
    scale = s && *s ? strtod(s, NULL) : 1.0;
    if (!(scale >= 0)) scale = 1.0;
  }
  double d = seconds * scale;
  if (d <= 0) return;
  struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}
