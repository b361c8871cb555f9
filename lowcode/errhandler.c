/* DefaultErrorHandler, CompositeErrorHandler, HttpResponseFilter and the
 * backoff strategies (notes §6.13). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

typedef struct lc_filter {
  lc_action action;
  bool has_action;
  const char *failure_type; /* NULL: from the default mapping */
  long *codes;
  size_t n_codes;
  sl_tmpl *predicate, *error_message;
  char *contains;
} lc_filter;

typedef enum { BO_EXPO, BO_CONST, BO_WAIT_HEADER, BO_WAIT_UNTIL } bo_kind;

typedef struct lc_backoff {
  bo_kind kind;
  sl_tmpl *value;      /* factor / backoff_time_in_seconds */
  double jitter;
  sl_tmpl *header, *regex, *max_wait, *min_wait;
  const json_t *node;
} lc_backoff;

struct lc_errh {
  bool composite;
  lc_errh **kids;
  size_t n_kids;
  lc_filter *filters;
  size_t n_filters;
  lc_backoff *backoffs;
  size_t n_backoffs;
  sl_tmpl *max_retries;
  bool needs_body;
  const json_t *node;
};

static const struct {
  const char *name;
  lc_action a;
} actions[] = {{"SUCCESS", LC_ACT_SUCCESS}, {"FAIL", LC_ACT_FAIL}, {"RETRY", LC_ACT_RETRY},
               {"IGNORE", LC_ACT_IGNORE}, {"RATE_LIMITED", LC_ACT_RATE_LIMITED},
               {"RESET_PAGINATION", LC_ACT_RESET_PAGINATION},
               {"REFRESH_TOKEN_THEN_RETRY", LC_ACT_REFRESH_TOKEN_THEN_RETRY}};

static sl_code build_filter(lc_source *src, const json_t *n, lc_filter *f, sl_err *err) {
  const char *act = json_string_value(json_object_get(n, "action"));
  if (act) {
    size_t i;
    for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
      if (!strcmp(actions[i].name, act)) break;
    if (i == sizeof actions / sizeof actions[0])
      return sl_err_set(err, SL_ECONFIG, "%s: unknown response filter action \"%s\"", LC_WHERE(src, n), act);
    f->action = actions[i].a;
    f->has_action = true;
  }
  const char *ft = json_string_value(json_object_get(n, "failure_type"));
  if (ft) {
    if (strcmp(ft, "config_error") && strcmp(ft, "system_error") && strcmp(ft, "transient_error"))
      return sl_err_set(err, SL_ECONFIG, "%s: unknown failure_type \"%s\"", LC_WHERE(src, n), ft);
    f->failure_type = ft;
  }
  const json_t *codes = json_object_get(n, "http_codes");
  if (json_is_array(codes)) {
    f->codes = calloc(json_array_size(codes) + 1, sizeof *f->codes);
    size_t i;
    json_t *c;
    json_array_foreach(codes, i, c) {
      if (!json_is_integer(c))
        return sl_err_set(err, SL_ECONFIG, "%s: http_codes must be integers", LC_WHERE(src, n));
      f->codes[f->n_codes++] = (long)json_integer_value(c);
    }
  }
  const char *contains = json_string_value(json_object_get(n, "error_message_contains"));
  if (contains && *contains) f->contains = strdup(contains);
  sl_code rc;
  if ((rc = lc_tmpl_field(src, n, "predicate", &f->predicate, err)) ||
      (rc = lc_tmpl_field(src, n, "error_message", &f->error_message, err)))
    return rc;
  return SL_EOK;
}

static sl_code build_backoff(lc_source *src, const json_t *n, lc_backoff *b, sl_err *err) {
  const char *type = json_string_value(json_object_get(n, "type"));
  b->node = n;
  sl_code rc = SL_EOK;
  if (!type) type = "";
  if (!strcmp(type, "ExponentialBackoffStrategy")) {
    b->kind = BO_EXPO;
    rc = lc_tmpl_field(src, n, "factor", &b->value, err);
    json_t *j = json_object_get(n, "jitter_range_in_seconds");
    if (json_is_number(j)) b->jitter = json_number_value(j);
  } else if (!strcmp(type, "ConstantBackoffStrategy")) {
    b->kind = BO_CONST;
    rc = lc_tmpl_field(src, n, "backoff_time_in_seconds", &b->value, err);
  } else if (!strcmp(type, "WaitTimeFromHeader") || !strcmp(type, "WaitUntilTimeFromHeader")) {
    b->kind = type[4] == 'T' ? BO_WAIT_HEADER : BO_WAIT_UNTIL;
    if ((rc = lc_tmpl_field(src, n, "header", &b->header, err)) ||
        (rc = lc_tmpl_field(src, n, "regex", &b->regex, err)) ||
        (rc = lc_tmpl_field(src, n, "max_waiting_time_in_seconds", &b->max_wait, err)) ||
        (rc = lc_tmpl_field(src, n, "min_wait", &b->min_wait, err)))
      return rc;
    if (!b->header) return sl_err_set(err, SL_ECONFIG, "%s: %s needs a header", LC_WHERE(src, n), type);
  } else {
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported backoff strategy \"%s\"", LC_WHERE(src, n), type);
  }
  return rc;
}

sl_code lc_errh_build(lc_source *src, const json_t *node, lc_errh **out, sl_err *err) {
  lc_errh *e = calloc(1, sizeof *e);
  if (!e) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = e;
  e->node = node;
  if (!node) return SL_EOK; /* the default handler */
  const char *type = json_string_value(json_object_get(node, "type"));
  sl_code rc;
  if (type && !strcmp(type, "CompositeErrorHandler")) {
    e->composite = true;
    const json_t *list = json_object_get(node, "error_handlers");
    size_t n = json_array_size(list);
    if (!n) return sl_err_set(err, SL_ECONFIG, "%s: CompositeErrorHandler needs error_handlers", LC_WHERE(src, node));
    e->kids = calloc(n, sizeof *e->kids);
    size_t i;
    json_t *k;
    json_array_foreach(list, i, k) {
      if ((rc = lc_errh_build(src, k, &e->kids[e->n_kids++], err))) return rc;
      e->needs_body |= e->kids[i]->needs_body;
    }
    return SL_EOK;
  }
  if (type && strcmp(type, "DefaultErrorHandler"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported error handler \"%s\"", LC_WHERE(src, node), type);
  const json_t *filters = json_object_get(node, "response_filters");
  e->filters = calloc(json_array_size(filters) + 1, sizeof *e->filters);
  size_t i;
  json_t *f;
  json_array_foreach(filters, i, f) {
    lc_filter *lf = &e->filters[e->n_filters++];
    if ((rc = build_filter(src, f, lf, err))) return rc;
    if (lf->predicate || lf->error_message || lf->contains) e->needs_body = true;
  }
  const json_t *bos = json_object_get(node, "backoff_strategies");
  e->backoffs = calloc(json_array_size(bos) + 1, sizeof *e->backoffs);
  json_array_foreach(bos, i, f) {
    if ((rc = build_backoff(src, f, &e->backoffs[e->n_backoffs++], err))) return rc;
  }
  return lc_tmpl_field(src, node, "max_retries", &e->max_retries, err);
}

void lc_errh_free(lc_errh *e) {
  if (!e) return;
  for (size_t i = 0; i < e->n_kids; i++) lc_errh_free(e->kids[i]);
  free(e->kids);
  for (size_t i = 0; i < e->n_filters; i++) {
    free(e->filters[i].codes);
    free(e->filters[i].contains);
    sl_tmpl_free(e->filters[i].predicate);
    sl_tmpl_free(e->filters[i].error_message);
  }
  free(e->filters);
  for (size_t i = 0; i < e->n_backoffs; i++) {
    lc_backoff *b = &e->backoffs[i];
    sl_tmpl_free(b->value);
    sl_tmpl_free(b->header);
    sl_tmpl_free(b->regex);
    sl_tmpl_free(b->max_wait);
    sl_tmpl_free(b->min_wait);
  }
  free(e->backoffs);
  sl_tmpl_free(e->max_retries);
  free(e);
}

/* ---- resolution ---- */

typedef struct mapped {
  long code;
  lc_action a;
  const char *ft, *msg;
} mapped;

static const mapped default_map[] = {
    {400, LC_ACT_FAIL, "system_error", "HTTP Status Code: 400. Error: Bad request. Please check your request parameters."},
    {401, LC_ACT_FAIL, "config_error", "HTTP Status Code: 401. Error: Unauthorized. Please ensure you are authenticated correctly."},
    {403, LC_ACT_FAIL, "config_error", "HTTP Status Code: 403. Error: Forbidden. You don't have permission to access this resource."},
    {404, LC_ACT_FAIL, "system_error", "HTTP Status Code: 404. Error: Not found. The requested resource was not found on the server."},
    {405, LC_ACT_FAIL, "system_error", "HTTP Status Code: 405. Error: Method not allowed. Please check your request method."},
    {408, LC_ACT_RETRY, "transient_error", "HTTP Status Code: 408. Error: Request timeout."},
    {429, LC_ACT_RATE_LIMITED, "transient_error", "HTTP Status Code: 429. Error: Too many requests."},
    {500, LC_ACT_RETRY, "transient_error", "HTTP Status Code: 500. Error: Internal server error."},
    {502, LC_ACT_RETRY, "transient_error", "HTTP Status Code: 502. Error: Bad gateway."},
    {503, LC_ACT_RETRY, "transient_error", "HTTP Status Code: 503. Error: Service unavailable."},
    {504, LC_ACT_RETRY, "transient_error", "HTTP Status Code: 504. Error: Gateway timeout."},
    /* status 0: a transport error (requests' RequestException) */
    {0, LC_ACT_RETRY, "transient_error", "An exception occurred when making the request."},
};

static const mapped *lookup_default(long status) {
  for (size_t i = 0; i < sizeof default_map / sizeof default_map[0]; i++)
    if (default_map[i].code == status) return &default_map[i];
  return NULL;
}

/* The decoded body (JSON, {} when not JSON), built once per resolution. */
typedef struct body_cache {
  json_t *json;
  json_t *headers;
} body_cache;

static const json_t *body_json(const sl_http_resp *r, body_cache *bc) {
  if (!bc->json) {
    json_error_t je;
    bc->json = r->body.len ? json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY, &je) : NULL;
    if (!bc->json) bc->json = json_object();
  }
  return bc->json;
}

static const json_t *headers_json(const sl_http_resp *r, body_cache *bc) {
  if (!bc->headers) bc->headers = lc_headers_json(r);
  return bc->headers;
}

static void error_text(const json_t *v, sl_buf *out, int depth) {
  static const char *keys[] = {"message", "messages", "error", "errors", "failures", "failure", "detail",
                               "err", "error_message", "msg", "reason", "status_message"};
  if (depth > 16 || !v) return;
  if (json_is_string(v)) {
    sl_buf_append(out, json_string_value(v), json_string_length(v));
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    bool first = true;
    json_array_foreach(v, i, x) {
      size_t before = out->len;
      if (!first) sl_buf_append(out, ", ", 2);
      size_t mark = out->len;
      error_text(x, out, depth + 1);
      if (out->len == mark) out->len = before;
      else first = false;
    }
  } else if (json_is_object(v)) {
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      json_t *x = json_object_get(v, keys[i]);
      /* Python `or`: the first truthy value */
      if (!x || json_is_null(x) || json_is_false(x) || (json_is_string(x) && !json_string_length(x)) ||
          (json_is_array(x) && !json_array_size(x)) || (json_is_object(x) && !json_object_size(x)) ||
          (json_is_integer(x) && !json_integer_value(x)))
        continue;
      error_text(x, out, depth + 1);
      return;
    }
  }
}

/* The API's own error message from a body (JsonErrorMessageParser). */
static void api_error_message(const sl_http_resp *r, sl_buf *out) {
  json_error_t je;
  json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, JSON_DECODE_ANY, &je) : NULL;
  if (j) error_text(j, out, 0);
  else sl_buf_append(out, r->body.data ? r->body.data : "", r->body.len);
  json_decref(j);
}

static sl_code filter_match(lc_source *src, const lc_filter *f, const sl_http_resp *r, body_cache *bc,
                            bool *hit, lc_resolution *res, sl_err *err) {
  *hit = false;
  if (r->status == 0) return SL_EOK; /* filters look at responses only */
  bool m = false;
  for (size_t i = 0; i < f->n_codes && !m; i++) m = f->codes[i] == r->status;
  if (!m && f->predicate) {
    json_t *ctx = json_pack("{s:O, s:O, s:{}}", "response", body_json(r, bc), "headers", headers_json(r, bc),
                            "parameters");
    bool b = false;
    sl_code rc = sl_tmpl_eval_bool(f->predicate, ctx, &b, err);
    json_decref(ctx);
    if (rc) return rc;
    m = b;
  }
  if (!m && f->contains) {
    sl_buf t;
    sl_buf_init(&t, (size_t)1 << 30);
    api_error_message(r, &t);
    m = strstr(sl_buf_cstr(&t), f->contains) != NULL;
    sl_buf_dispose(&t);
  }
  const mapped *dm = lookup_default(r->status);
  if (m && f->has_action) {
    *hit = true;
    res->action = f->action;
    res->message[0] = 0;
    if (f->error_message) {
      json_t *ctx = json_pack("{s:O, s:O, s:O}", "config", src->config, "response", body_json(r, bc),
                              "headers", headers_json(r, bc));
      sl_buf t;
      sl_buf_init(&t, 1 << 20);
      sl_code rc = lc_eval_text(f->error_message, ctx, &t, err);
      json_decref(ctx);
      if (!rc) snprintf(res->message, sizeof res->message, "%s", sl_buf_cstr(&t));
      sl_buf_dispose(&t);
      if (rc) return rc;
    }
    if (!res->message[0] && dm) snprintf(res->message, sizeof res->message, "%s", dm->msg);
    res->failure_type = f->failure_type && f->action == LC_ACT_FAIL ? f->failure_type
                        : dm                                      ? dm->ft
                                                                  : "system_error";
    return SL_EOK;
  }
  if (!f->n_codes && !f->predicate && !f->contains && dm) {
    *hit = true;
    res->action = dm->a;
    res->failure_type = dm->ft;
    snprintf(res->message, sizeof res->message, "%s", dm->msg);
  }
  return SL_EOK;
}

static sl_code resolve_default(lc_source *src, const lc_errh *e, const sl_http_resp *r, body_cache *bc,
                               lc_resolution *res, sl_err *err) {
  for (size_t i = 0; i < e->n_filters; i++) {
    bool hit;
    sl_code rc = filter_match(src, &e->filters[i], r, bc, &hit, res, err);
    if (rc || hit) return rc;
  }
  if (r->status >= 200 && r->status < 400) {
    res->action = LC_ACT_SUCCESS;
    res->failure_type = NULL;
    res->message[0] = 0;
    return SL_EOK;
  }
  const mapped *dm = lookup_default(r->status);
  if (dm) {
    res->action = dm->a;
    res->failure_type = dm->ft;
    if (r->status == 0) snprintf(res->message, sizeof res->message, "%s", r->error);
    else snprintf(res->message, sizeof res->message, "%s", dm->msg);
    return SL_EOK;
  }
  res->action = LC_ACT_RETRY;
  res->failure_type = "system_error";
  snprintf(res->message, sizeof res->message, "Unexpected response with HTTP status %ld", r->status);
  return SL_EOK;
}

static sl_code resolve(lc_source *src, const lc_errh *e, const sl_http_resp *r, body_cache *bc,
                       lc_resolution *res, sl_err *err) {
  if (!e->composite) return resolve_default(src, e, r, bc, res, err);
  for (size_t i = 0; i < e->n_kids; i++) {
    sl_code rc = resolve(src, e->kids[i], r, bc, res, err);
    if (rc) return rc;
    if (res->action == LC_ACT_SUCCESS || res->action == LC_ACT_RETRY || res->action == LC_ACT_IGNORE ||
        res->action == LC_ACT_RESET_PAGINATION)
      return SL_EOK;
  }
  return SL_EOK; /* the last child's answer */
}

sl_code lc_errh_resolve(lc_source *src, const lc_errh *e, const sl_http_resp *resp,
                        lc_resolution *res, sl_err *err) {
  body_cache bc = {NULL, NULL};
  memset(res, 0, sizeof *res);
  sl_code rc = resolve(src, e, resp, &bc, res, err);
  json_decref(bc.json);
  json_decref(bc.headers);
  return rc;
}

/* ---- backoff ---- */

static double eval_number(lc_source *src, const sl_tmpl *t, double dflt, sl_err *err) {
  if (!t) return dflt;
  json_t *ctx = json_pack("{s:O}", "config", src->config);
  json_t *v = NULL;
  double d = dflt;
  if (lc_eval(t, ctx, SL_TMPL_ANY, &v, err) == SL_EOK && v) {
    if (json_is_number(v)) d = json_number_value(v);
    else if (json_is_string(v)) {
      char *end;
      double x = strtod(json_string_value(v), &end);
      if (end != json_string_value(v) && !*end) d = x;
    }
  }
  json_decref(v);
  json_decref(ctx);
  return d;
}

static char *eval_str(lc_source *src, const sl_tmpl *t) {
  if (!t) return NULL;
  json_t *ctx = json_pack("{s:O}", "config", src->config);
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_err e = SL_ERR_INIT;
  lc_eval_text(t, ctx, &b, &e);
  json_decref(ctx);
  char *s = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return s;
}

/* Numeric header value; a regex (Python re.match: anchored) picks the part. */
static bool header_number(lc_source *src, const lc_backoff *b, const sl_http_resp *r, double *out) {
  char *name = eval_str(src, b->header);
  const char *v = name ? sl_http_header(r, name) : NULL;
  free(name);
  if (!v || !*v) return false;
  char *picked = NULL;
  char *re = eval_str(src, b->regex);
  if (re && *re) {
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    if (code) {
      pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
      if (pcre2_match(code, (PCRE2_SPTR)v, strlen(v), 0, PCRE2_ANCHORED, md, NULL) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        picked = strndup(v + ov[0], ov[1] - ov[0]);
      }
      pcre2_match_data_free(md);
      pcre2_code_free(code);
    }
  }
  free(re);
  const char *s = picked ? picked : v;
  char *end;
  double d = strtod(s, &end);
  while (*end == ' ') end++;
  bool ok = end != s && !*end;
  free(picked);
  if (ok) *out = d;
  return ok;
}

static double backoff_one(lc_source *src, const lc_backoff *b, const sl_http_resp *r, int attempt,
                          sl_err *err) {
  switch (b->kind) {
    case BO_EXPO: {
      double f = eval_number(src, b->value, 5, err) * pow(2, attempt);
      if (b->jitter > 0) f += (double)rand() / RAND_MAX * b->jitter * 2;
      return f;
    }
    case BO_CONST: return eval_number(src, b->value, 5, err);
    case BO_WAIT_HEADER: {
      double v;
      if (!r->status || !header_number(src, b, r, &v)) return -1;
      double max = eval_number(src, b->max_wait, -1, err);
      if (max >= 0 && v > 0 && v >= max) {
        sl_err_set(err, SL_ETRANSIENT,
                   "the rate limit wait time (%g s, header of %s) is longer than the %g s this stream "
                   "may wait (max_waiting_time_in_seconds at %s)",
                   v, r->url, max, LC_WHERE(src, b->node));
        return -2;
      }
      return v > 0 ? v : -1;
    }
    case BO_WAIT_UNTIL: {
      double until = 0, min = eval_number(src, b->min_wait, 0, err);
      bool have = r->status && header_number(src, b, r, &until) && until != 0;
      double wait;
      if (!have) wait = min > 0 ? min : -1;
      else {
        wait = until - (double)lc_now_us() / 1e6;
        if (min > 0) wait = wait > min ? wait : min;
        else if (wait < 0) wait = -1;
      }
      double max = eval_number(src, b->max_wait, -1, err);
      if (wait >= 0 && max >= 0 && wait >= max) {
        sl_err_set(err, SL_ETRANSIENT, "the rate limit wait time (%g s) is longer than the %g s this stream may wait (%s)",
                   wait, max, LC_WHERE(src, b->node));
        return -2;
      }
      return wait;
    }
  }
  return -1;
}

double lc_errh_backoff(lc_source *src, const lc_errh *e, const sl_http_resp *resp, int attempt,
                       sl_err *err) {
  if (e->composite) {
    for (size_t i = 0; i < e->n_kids; i++) {
      double d = lc_errh_backoff(src, e->kids[i], resp, attempt, err);
      if (d != -1) return d;
    }
    return -1;
  }
  for (size_t i = 0; i < e->n_backoffs; i++) {
    double d = backoff_one(src, &e->backoffs[i], resp, attempt, err);
    if (d == -2) return -2; /* refuses to wait: err is set */
    if (d > 0) return d;    /* Python truthiness: 0 is no opinion */
  }
  return -1;
}

int lc_errh_max_retries(lc_source *src, const lc_errh *e) {
  if (e->composite) return e->n_kids ? lc_errh_max_retries(src, e->kids[0]) : 5;
  sl_err err = SL_ERR_INIT;
  double d = eval_number(src, e->max_retries, 5, &err);
  return d < 0 ? 0 : (int)d;
}

double lc_errh_max_time(const lc_errh *e) { return 600; }
