/* HttpRequester and RequestOption: URL (url_base + path, urljoin), query
 * parameters, headers, JSON, form and text bodies (also the typed
 * request_body), and the send loop that asks the
 * error handler what to do with each response (notes §6.5, §6.6, §6.13). */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <strings.h>

#include "lc.h"

struct lc_requester {
  lc_source *src;
  const json_t *node;
  sl_tmpl *url_base, *path, *url;
  char method[16];
  lc_ttree *params, *headers, *body_json, *body_data;
  lc_auth *auth;
  lc_errh *errh;
  bool secret_response; /* a login requester: its responses carry tokens */
};

void lc_requester_set_secret_response(lc_requester *r) { r->secret_response = true; }

/* ---- request options ---- */

void lc_reqopts_init(lc_reqopts *o) {
  memset(o, 0, sizeof *o);
  o->params = json_object();
  o->headers = json_object();
}

void lc_reqopts_dispose(lc_reqopts *o) {
  json_decref(o->params);
  json_decref(o->headers);
  json_decref(o->form);
  json_decref(o->json);
  free(o->body_text);
  memset(o, 0, sizeof *o);
}

sl_code lc_reqopts_merge(json_t *into, const json_t *from, const char *what, sl_err *err) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)from, k, v) {
    if (json_object_get(into, k))
      return sl_err_set(err, SL_ECONFIG, "%s: \"%s\" is also set by another component", what, k);
    json_object_set(into, k, v);
  }
  return SL_EOK;
}

/* JSON bodies: nested objects merge, equal values are tolerated. */
static sl_code merge_json(json_t *into, const json_t *from, const char *what, sl_err *err) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)from, k, v) {
    json_t *have = json_object_get(into, k);
    if (!have) json_object_set(into, k, v);
    else if (json_is_object(have) && json_is_object(v)) {
      sl_code rc = merge_json(have, v, what, err);
      if (rc) return rc;
    } else if (!json_equal(have, v))
      return sl_err_set(err, SL_ECONFIG, "%s: JSON body field \"%s\" is set to different values by two components", what, k);
  }
  return SL_EOK;
}

sl_code lc_reqopt_build(lc_source *src, const json_t *node, lc_reqopt *o, sl_err *err) {
  memset(o, 0, sizeof *o);
  if (!node || json_is_null(node)) return SL_EOK;
  o->node = node;
  o->present = true;
  const char *inj = json_string_value(json_object_get(node, "inject_into"));
  if (!inj) return sl_err_set(err, SL_ECONFIG, "%s: RequestOption needs inject_into", LC_WHERE(src, node));
  if (!strcmp(inj, "request_parameter")) o->into = LC_INJ_PARAM;
  else if (!strcmp(inj, "header")) o->into = LC_INJ_HEADER;
  else if (!strcmp(inj, "body_data")) o->into = LC_INJ_FORM;
  else if (!strcmp(inj, "body_json")) o->into = LC_INJ_JSON;
  else return sl_err_set(err, SL_ECONFIG, "%s: unknown inject_into \"%s\"", LC_WHERE(src, node), inj);
  const json_t *fp = json_object_get(node, "field_path");
  if (json_is_array(fp) && json_array_size(fp)) {
    if (o->into != LC_INJ_JSON)
      return sl_err_set(err, SL_ECONFIG, "%s: field_path is only allowed with inject_into: body_json", LC_WHERE(src, node));
    o->field_path = calloc(json_array_size(fp), sizeof *o->field_path);
    size_t i;
    json_t *x;
    json_array_foreach(fp, i, x) o->field_path[o->n_path++] = strdup(json_string_value(x) ? json_string_value(x) : "");
    return SL_EOK;
  }
  sl_code rc = lc_tmpl_field(src, node, "field_name", &o->field_name, err);
  if (rc) return rc;
  if (!o->field_name)
    return sl_err_set(err, SL_ECONFIG, "%s: RequestOption needs field_name or field_path", LC_WHERE(src, node));
  return SL_EOK;
}

void lc_reqopt_dispose(lc_reqopt *o) {
  sl_tmpl_free(o->field_name);
  for (size_t i = 0; i < o->n_path; i++) free(o->field_path[i]);
  free(o->field_path);
  memset(o, 0, sizeof *o);
}

sl_code lc_reqopt_inject(lc_source *src, const lc_reqopt *o, const json_t *value,
                         const json_t *ctx, lc_reqopts *opts, sl_err *err) {
  if (!o->present || !value) return SL_EOK;
  char what[400];
  snprintf(what, sizeof what, "%s", LC_WHERE(src, o->node));
  if (o->into == LC_INJ_JSON && o->n_path) {
    if (!opts->json) opts->json = json_object();
    json_t *cur = opts->json;
    for (size_t i = 0; i + 1 < o->n_path; i++) {
      json_t *next = json_object_get(cur, o->field_path[i]);
      if (!json_is_object(next)) {
        next = json_object();
        json_object_set_new(cur, o->field_path[i], next);
      }
      cur = next;
    }
    if (json_object_get(cur, o->field_path[o->n_path - 1]))
      return sl_err_set(err, SL_ECONFIG, "%s: body field %s is also set by another component", what,
                        o->field_path[o->n_path - 1]);
    json_object_set(cur, o->field_path[o->n_path - 1], (json_t *)value);
    return SL_EOK;
  }
  sl_buf name;
  sl_buf_init(&name, 1 << 16);
  json_t *cfg = json_pack("{s:O}", "config", json_object_get(ctx, "config"));
  const json_t *params = json_object_get(ctx, "parameters");
  json_object_set_new(cfg, "parameters", params ? json_incref((json_t *)params) : json_object());
  sl_code rc = lc_eval_text(o->field_name, cfg, &name, err);
  json_decref(cfg);
  if (rc) {
    sl_buf_dispose(&name);
    return rc;
  }
  json_t *into = NULL;
  switch (o->into) {
    case LC_INJ_PARAM: into = opts->params; break;
    case LC_INJ_HEADER: into = opts->headers; break;
    case LC_INJ_FORM:
      if (!opts->form) opts->form = json_object();
      into = opts->form;
      break;
    case LC_INJ_JSON:
      if (!opts->json) opts->json = json_object();
      into = opts->json;
      break;
  }
  const char *k = sl_buf_cstr(&name);
  if (json_object_get(into, k)) rc = sl_err_set(err, SL_ECONFIG, "%s: \"%s\" is also set by another component", what, k);
  else json_object_set(into, k, (json_t *)value);
  sl_buf_dispose(&name);
  return rc;
}

/* ---- building ---- */

/* The typed request_body, as the CDK maps it: PlainText and UrlEncodedForm
 * are request_body_data (a raw text body; a form), JsonObject and GraphQL
 * (query plus e.g. variables) are request_body_json. */
static sl_code typed_body(lc_requester *r, const json_t *rb, sl_err *err) {
  lc_source *src = r->src;
  const json_t *node = r->node;
  if (json_object_get(node, "request_body_json") || json_object_get(node, "request_body_data"))
    return sl_err_set(err, SL_ECONFIG, "%s: request_body cannot be combined with request_body_json or request_body_data",
                      LC_WHERE(src, rb));
  const char *t = json_string_value(json_object_get(rb, "type"));
  const json_t *v = json_object_get(rb, "value");
  bool text = t && !strcmp(t, "RequestBodyPlainText"), form = t && !strcmp(t, "RequestBodyUrlEncodedForm");
  bool obj = t && !strcmp(t, "RequestBodyJsonObject"), gql = t && !strcmp(t, "RequestBodyGraphQL");
  if (!json_is_object(rb) || !(text || form || obj || gql))
    return sl_err_set(err, SL_ECONFIG, "%s: request_body must be a RequestBodyPlainText, RequestBodyUrlEncodedForm, "
                      "RequestBodyJsonObject or RequestBodyGraphQL (type %s)", LC_WHERE(src, rb), t ? t : "missing");
  if (text ? !json_is_string(v) : !json_is_object(v))
    return sl_err_set(err, SL_ECONFIG, "%s: %s needs a value that is %s", LC_WHERE(src, v ? v : rb), t,
                      text ? "a string" : "a mapping");
  if (gql && !json_is_string(json_object_get(v, "query")))
    return sl_err_set(err, SL_ECONFIG, "%s: RequestBodyGraphQL needs value.query (the GraphQL text)", LC_WHERE(src, v));
  if (form) {
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x) if (json_is_object(x) || json_is_array(x))
      return sl_err_set(err, SL_ECONFIG, "%s: RequestBodyUrlEncodedForm field \"%s\" must be a string", LC_WHERE(src, x), k);
  }
  return lc_ttree_build(src, rb, "value", (text || form) ? &r->body_data : &r->body_json, err);
}

sl_code lc_requester_build(lc_source *src, const json_t *node, lc_requester **out, sl_err *err) {
  lc_requester *r = calloc(1, sizeof *r);
  if (!r) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = r;
  r->src = src;
  r->node = node;
  const char *type = json_string_value(json_object_get(node, "type"));
  if (type && strcmp(type, "HttpRequester"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported requester \"%s\"", LC_WHERE(src, node), type);
  const char *m = json_string_value(json_object_get(node, "http_method"));
  snprintf(r->method, sizeof r->method, "%s", m ? m : "GET");
  for (char *p = r->method; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
  sl_code rc;
  const json_t *rb = json_object_get(node, "request_body");
  if (rb && !json_is_null(rb) && (rc = typed_body(r, rb, err))) return rc;
  if ((rc = lc_tmpl_field(src, node, "url_base", &r->url_base, err)) ||
      (rc = lc_tmpl_field(src, node, "path", &r->path, err)) ||
      (rc = lc_tmpl_field(src, node, "url", &r->url, err)) ||
      (rc = lc_ttree_build(src, node, "request_parameters", &r->params, err)) ||
      (rc = lc_ttree_build(src, node, "request_headers", &r->headers, err)) ||
      (!r->body_json && (rc = lc_ttree_build(src, node, "request_body_json", &r->body_json, err))) ||
      (!r->body_data && (rc = lc_ttree_build(src, node, "request_body_data", &r->body_data, err))))
    return rc;
  if (!r->url_base && !r->url)
    return sl_err_set(err, SL_ECONFIG, "%s: HttpRequester needs url_base (or url)", LC_WHERE(src, node));
  const json_t *auth = json_object_get(node, "authenticator");
  if (auth && !json_is_null(auth) &&
      ((rc = lc_auth_build(src, auth, &r->auth, err)) || (rc = lc_auth_set_requester(r->auth, node, err))))
    return rc;
  const json_t *eh = json_object_get(node, "error_handler");
  return lc_errh_build(src, eh && !json_is_null(eh) ? eh : NULL, &r->errh, err);
}

void lc_requester_free(lc_requester *r) {
  if (!r) return;
  sl_tmpl_free(r->url_base);
  sl_tmpl_free(r->path);
  sl_tmpl_free(r->url);
  lc_ttree_free(r->params);
  lc_ttree_free(r->headers);
  lc_ttree_free(r->body_json);
  lc_ttree_free(r->body_data);
  lc_auth_free(r->auth);
  lc_errh_free(r->errh);
  free(r);
}

const char *lc_requester_method(const lc_requester *r) { return r->method; }

/* The requester's own options, evaluated. */
static sl_code own_options(lc_requester *r, const json_t *ctx, lc_reqopts *o, sl_err *err) {
  char what[400];
  snprintf(what, sizeof what, "%s", LC_WHERE(r->src, r->node));
  json_t *v = NULL;
  sl_code rc;
  if (r->params) {
    if ((rc = lc_ttree_eval(r->params, ctx, SL_TMPL_STR_OR_LIST, &v, err))) return rc;
    if (v && !json_is_object(v)) {
      json_decref(v);
      return sl_err_set(err, SL_ECONFIG, "%s: request_parameters must be a mapping", what);
    }
    rc = v ? lc_reqopts_merge(o->params, v, what, err) : SL_EOK;
    json_decref(v);
    if (rc) return rc;
  }
  if (r->headers) {
    if ((rc = lc_ttree_eval(r->headers, ctx, SL_TMPL_ANY, &v, err))) return rc;
    rc = json_is_object(v) ? lc_reqopts_merge(o->headers, v, what, err) : SL_EOK;
    json_decref(v);
    if (rc) return rc;
  }
  if (r->body_json) {
    if ((rc = lc_ttree_eval(r->body_json, ctx, SL_TMPL_ANY, &v, err))) return rc;
    if (json_is_object(v)) {
      if (!o->json) o->json = json_object();
      rc = merge_json(o->json, v, what, err);
    } else if (v && !json_is_null(v)) {
      rc = sl_err_set(err, SL_ECONFIG, "%s: request_body_json must evaluate to a mapping", what);
    }
    json_decref(v);
    if (rc) return rc;
  }
  if (r->body_data) {
    bool text = lc_ttree_is_string(r->body_data);
    if ((rc = lc_ttree_eval(r->body_data, ctx, text ? SL_TMPL_TEXT : SL_TMPL_STR_OR_LIST, &v, err))) return rc;
    if (json_is_object(v)) {
      if (!o->form) o->form = json_object();
      rc = lc_reqopts_merge(o->form, v, what, err);
    } else if (json_is_string(v) && json_string_length(v)) {
      o->body_text = strdup(json_string_value(v));
    }
    json_decref(v);
    if (rc) return rc;
  }
  return SL_EOK;
}

/* ---- the request ---- */

static sl_code append_pair(sl_buf *q, const char *k, const json_t *v, const char *what, sl_err *err) {
  if (json_is_object(v))
    return sl_err_set(err, SL_ECONFIG, "%s: parameter \"%s\" is a mapping; only strings and lists can be sent", what, k);
  if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      sl_code rc = append_pair(q, k, x, what, err);
      if (rc) return rc;
    }
    return SL_EOK;
  }
  if (json_is_null(v)) return SL_EOK;
  if (q->len) sl_buf_putc(q, '&');
  sl_url_encode(q, k, strlen(k), true);
  sl_buf_putc(q, '=');
  sl_buf s;
  sl_buf_init(&s, (size_t)1 << 30);
  lc_pystr(&s, v);
  sl_url_encode(q, s.data ? s.data : "", s.len, true);
  sl_buf_dispose(&s);
  return SL_EOK;
}

static char *pct_decode(const char *s, size_t n) {
  char *out = malloc(n + 1), *w = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') *w++ = ' ';
    else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      char hx[3] = {s[i + 1], s[i + 2], 0};
      *w++ = (char)strtol(hx, NULL, 16);
      i += 2;
    } else *w++ = s[i];
  }
  *w = 0;
  return out;
}

/* First value of key in the URL's query, decoded (for dedupe), or NULL. */
static char *url_query_value(const char *url, const char *key) {
  const char *q = strchr(url, '?');
  if (!q) return NULL;
  q++;
  size_t kl = strlen(key);
  while (*q && *q != '#') {
    const char *end = q + strcspn(q, "&#");
    const char *eq = memchr(q, '=', (size_t)(end - q));
    const char *kend = eq ? eq : end;
    char *dec = pct_decode(q, (size_t)(kend - q));
    bool match = dec && strlen(dec) == kl && !memcmp(dec, key, kl);
    free(dec);
    if (match) return eq ? pct_decode(eq + 1, (size_t)(end - eq - 1)) : strdup("");
    q = *end == '&' ? end + 1 : end;
  }
  return NULL;
}

static sl_code build_url(lc_requester *r, const json_t *ctx, const char *path_override,
                         const lc_reqopts *o, sl_buf *url, sl_err *err) {
  sl_buf base, path;
  sl_buf_init(&base, 1 << 20);
  sl_buf_init(&path, 1 << 20);
  sl_code rc = lc_eval_text(r->url_base ? r->url_base : r->url, ctx, &base, err);
  if (!rc) {
    if (path_override) sl_buf_append(&path, path_override, strlen(path_override));
    else if (r->url_base && r->path) {
      rc = lc_eval_text(r->path, ctx, &path, err);
      size_t skip = 0;
      while (skip < path.len && path.data[skip] == '/') skip++;
      sl_buf_consume(&path, skip);
    }
  }
  if (!rc) {
    const char *b = sl_buf_cstr(&base), *p = sl_buf_cstr(&path);
    char *joined = NULL;
    if (!*p) joined = strdup(b);
    else if (!base.len) joined = strdup(p); /* url_base "" and a whole URL as the path, as urljoin */
    else {
      if (base.len && b[base.len - 1] != '/') sl_buf_putc(&base, '/');
      joined = sl_url_join(sl_buf_cstr(&base), p, err);
      if (!joined) rc = sl_err_wrap(err, "%s", LC_WHERE(r->src, r->node));
    }
    if (joined) {
      if (!strstr(joined, "://"))
        rc = sl_err_set(err, SL_ECONFIG, "%s: \"%s\" is not an absolute URL (url_base renders as \"%s\")",
                        LC_WHERE(r->src, r->node), joined, b);
      sl_buf_append(url, joined, strlen(joined));
      free(joined);
    }
  }
  sl_buf_dispose(&base);
  sl_buf_dispose(&path);
  if (rc) return rc;
  /* Query: parameters already in the URL with the same value are not repeated. */
  sl_buf q;
  sl_buf_init(&q, (size_t)1 << 30);
  const char *k;
  json_t *v;
  char what[400];
  snprintf(what, sizeof what, "%s", LC_WHERE(r->src, r->node));
  const char *u = sl_buf_cstr(url);
  json_object_foreach(o->params, k, v) {
    char *have = url_query_value(u, k);
    if (have) {
      sl_buf s;
      sl_buf_init(&s, 1 << 20);
      lc_pystr(&s, v);
      bool same = !strcmp(sl_buf_cstr(&s), have);
      sl_buf_dispose(&s);
      free(have);
      if (same) continue;
    }
    if ((rc = append_pair(&q, k, v, what, err))) break;
  }
  if (!rc && q.len) {
    char *hash = strchr(sl_buf_cstr(url), '#');
    if (hash) url->len = (size_t)(hash - url->data);
    sl_buf_putc(url, strchr(sl_buf_cstr(url), '?') ? '&' : '?');
    sl_buf_append(url, q.data, q.len);
  }
  sl_buf_dispose(&q);
  sl_buf_cstr(url);
  return rc;
}

static sl_code build_body(lc_requester *r, const lc_reqopts *o, sl_buf *body, const char **ctype,
                          bool *has_body, sl_err *err) {
  *has_body = false;
  *ctype = NULL;
  bool methods = !strcmp(r->method, "GET") || !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
                 !strcmp(r->method, "PATCH");
  if (!methods) return SL_EOK;
  bool json = o->json && json_object_size(o->json), form = o->form && json_object_size(o->form);
  if (json && (form || o->body_text))
    return sl_err_set(err, SL_ECONFIG, "%s: a request cannot have both a JSON and a form body", LC_WHERE(r->src, r->node));
  if (json) {
    char *s = json_dumps(o->json, JSON_ENSURE_ASCII); /* json.dumps(): ", " and ": " separators */
    if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
    sl_buf_append(body, s, strlen(s));
    free(s);
    *ctype = "Content-Type: application/json";
    *has_body = true;
  } else if (form) {
    const char *k;
    json_t *v;
    json_object_foreach(o->form, k, v) {
      sl_code rc = append_pair(body, k, v, LC_WHERE(r->src, r->node), err);
      if (rc) return rc;
    }
    *ctype = "Content-Type: application/x-www-form-urlencoded";
    *has_body = true;
  } else if (o->body_text) {
    sl_buf_append(body, o->body_text, strlen(o->body_text));
    *has_body = true;
  }
  return SL_EOK;
}

static sl_code failure_code(const char *ft) {
  if (ft && !strcmp(ft, "config_error")) return SL_ECONFIG;
  if (ft && !strcmp(ft, "transient_error")) return SL_ETRANSIENT;
  return SL_ESOURCE;
}

static const char *action_name(lc_action a) {
  static const char *n[] = {"SUCCESS", "FAIL", "RETRY", "IGNORE", "RATE_LIMITED", "RESET_PAGINATION",
                            "REFRESH_TOKEN_THEN_RETRY"};
  return n[a];
}

/* prefetch: build the request as the first attempt would (auth included)
 * and start it on the client's prefetch thread; no response is resolved. */
static sl_code send_impl(lc_requester *r, sl_http *http, const json_t *ctx, lc_reqopts *extra, const char *path_override,
                         sl_http_resp *resp, lc_resolution *res, bool prefetch, sl_err *err) {
  lc_source *src = r->src;
  lc_reqopts o;
  lc_reqopts_init(&o);
  char what[400];
  snprintf(what, sizeof what, "%s", LC_WHERE(src, r->node));
  sl_code rc = own_options(r, ctx, &o, err);
  if (!rc && extra) {
    if (!(rc = lc_reqopts_merge(o.params, extra->params, what, err)) &&
        !(rc = lc_reqopts_merge(o.headers, extra->headers, what, err))) {
      if (extra->form) {
        if (!o.form) o.form = json_object();
        rc = lc_reqopts_merge(o.form, extra->form, what, err);
      }
      if (!rc && extra->json) {
        if (!o.json) o.json = json_object();
        rc = merge_json(o.json, extra->json, what, err);
      }
    }
  }
  int max_retries = lc_errh_max_retries(src, r->errh);
  double max_time = lc_errh_max_time(r->errh);
  double waited = 0, rl_waited = 0;
  int attempt = 0;
  sl_buf url, body;
  sl_buf_init(&url, 1 << 20);
  sl_buf_init(&body, (size_t)1 << 32);
  while (!rc) {
    attempt++;
    /* Authentication is applied on every attempt (a refreshed token is used). */
    lc_reqopts a;
    lc_reqopts_init(&a);
    json_object_update(a.params, o.params);
    json_object_update(a.headers, o.headers);
    a.form = o.form ? json_incref(o.form) : NULL;
    a.json = o.json ? json_incref(o.json) : NULL;
    a.body_text = o.body_text ? strdup(o.body_text) : NULL;
    if (r->auth) rc = lc_auth_apply(r->auth, http, &a, err);
    url.len = body.len = 0;
    const char *ctype = NULL;
    bool has_body = false;
    if (!rc) rc = build_url(r, ctx, path_override, &a, &url, err);
    if (!rc && r->auth) rc = lc_auth_route(r->auth, http, r->method, sl_buf_cstr(&url), &a, err);
    if (!rc) rc = build_body(r, &a, &body, &ctype, &has_body, err);
    if (rc) {
      lc_reqopts_dispose(&a);
      break;
    }
    size_t nh = json_object_size(a.headers) + 2;
    char **hl = calloc(nh + 1, sizeof *hl);
    size_t k = 0;
    const char *hk;
    json_t *hv;
    json_object_foreach(a.headers, hk, hv) {
      sl_buf s;
      sl_buf_init(&s, 1 << 20);
      sl_buf_appendf(&s, "%s: ", hk);
      lc_pystr(&s, hv);
      hl[k++] = strdup(sl_buf_cstr(&s));
      sl_buf_dispose(&s);
    }
    if (ctype) hl[k++] = strdup(ctype);
    sl_http_req req = {r->method, sl_buf_cstr(&url), (const char *const *)hl, has_body ? sl_buf_cstr(&body) : NULL,
                       has_body ? body.len : 0, r->secret_response};
    if (prefetch) {
      sl_http_prefetch(http, &req);
      for (size_t i = 0; i < k; i++) free(hl[i]);
      free(hl);
      lc_reqopts_dispose(&a);
      break;
    }
    sl_err terr = SL_ERR_INIT;
    char *murl = sl_http_mask(http, sl_buf_cstr(&url));
    /* the source's api_budget may delay (never fail) the request */
    sl_code trc = lc_budget_acquire(src, src->budget, r->method, sl_buf_cstr(&url), a.headers, murl, err);
    if (trc) {
      for (size_t i = 0; i < k; i++) free(hl[i]);
      free(hl);
      lc_reqopts_dispose(&a);
      free(murl);
      rc = trc;
      break;
    }
    trc = sl_http_send(http, &req, resp, &terr);
    lc_budget_update(src->budget, r->method, sl_buf_cstr(&url), a.headers, resp);
    if (r->auth) lc_auth_observe(r->auth, resp);
    for (size_t i = 0; i < k; i++) free(hl[i]);
    free(hl);
    lc_reqopts_dispose(&a);
    if (trc && !resp->transient) {
      /* Not retryable: size limit, redirect loop, bad URL, TLS. */
      rc = sl_err_set(err, trc, "%s (requester at %s)", terr.msg, what);
      free(murl);
      break;
    }
    if ((rc = lc_errh_resolve(src, r->errh, resp, res, err))) {
      free(murl);
      break;
    }
    if (res->action == LC_ACT_SUCCESS || res->action == LC_ACT_IGNORE || res->action == LC_ACT_RESET_PAGINATION) {
      if (res->action == LC_ACT_IGNORE)
        lc_log(src, "INFO", "Ignoring response for '%s' request to '%s' with response code '%ld'%s%s", r->method,
               murl, resp->status, res->message[0] ? ": " : "", res->message);
      free(murl);
      break;
    }
    char status[600];
    if (resp->status) snprintf(status, sizeof status, "HTTP %ld", resp->status);
    else snprintf(status, sizeof status, "%s", resp->error);
    if (res->action == LC_ACT_FAIL) {
      sl_buf apimsg;
      sl_buf_init(&apimsg, 1 << 16);
      if (resp->body.len) sl_buf_append(&apimsg, resp->body.data, resp->body.len > 300 ? 300 : resp->body.len);
      rc = sl_err_set(err, failure_code(res->failure_type), "%s (%s %s returned %s%s%s; requester at %s)",
                      res->message[0] ? res->message : "request failed", r->method, murl, status,
                      apimsg.len ? ": " : "", sl_buf_cstr(&apimsg), what);
      sl_buf_dispose(&apimsg);
      free(murl);
      break;
    }
    /* RETRY, RATE_LIMITED, REFRESH_TOKEN_THEN_RETRY */
    bool rate = res->action == LC_ACT_RATE_LIMITED;
    if (rate) lc_rate_limited(src, 0);
    if (res->action == LC_ACT_REFRESH_TOKEN_THEN_RETRY && r->auth) lc_auth_invalidate(r->auth);
    double wait = lc_errh_backoff(src, r->errh, resp, attempt, err);
    if (wait == -2) {
      rc = err->code;
      sl_err_wrap(err, "%s %s", r->method, murl);
      free(murl);
      break;
    }
    /* No strategy opinion: a Retry-After header is honoured (sluice's
     * addition), else exponential 1, 2, 4... s as the CDK's default. */
    if (wait <= 0 && resp->status) wait = sl_http_retry_after(resp);
    if (wait > 0) wait += 1; /* the CDK sleeps one more second than asked */
    else wait = (double)(1u << (attempt - 1 < 20 ? attempt - 1 : 20));
    /* Builder test reads make one attempt (src->no_retries), as the CDK's disable_retries. */
    bool exhausted = (src->no_retries && res->action != LC_ACT_REFRESH_TOKEN_THEN_RETRY) || (rate ? rl_waited + wait > 86400 : (attempt > max_retries || waited + wait > max_time));
    if (exhausted) {
      rc = sl_err_set(err, rate ? SL_ETRANSIENT : failure_code(res->failure_type),
                      "%s %s: giving up after %d attempt(s): %s (%s%s%s; requester at %s)", r->method, murl, attempt,
                      rate ? "API rate limit exceeded" : "exhausted the available request attempts", status,
                      res->message[0] ? ": " : "", res->message, what);
      free(murl);
      break;
    }
    char lim[48];
    if (rate) snprintf(lim, sizeof lim, "no limit while rate limited");
    else snprintf(lim, sizeof lim, "at most %d", max_retries + 1);
    lc_log(src, "INFO", "%s %s: %s (%s); retrying in %.1f s (attempt %d, %s)", r->method, murl, status,
           action_name(res->action), wait, attempt + 1, lim);
    free(murl);
    if (rate) rl_waited += wait;
    else waited += wait;
    lc_sleep(wait);
  }
  sl_buf_dispose(&url);
  sl_buf_dispose(&body);
  lc_reqopts_dispose(&o);
  return rc;
}

sl_code lc_requester_send(lc_requester *r, sl_http *http, const json_t *ctx, lc_reqopts *extra,
                          const char *path_override, sl_http_resp *resp, lc_resolution *res,
                          sl_err *err) {
  return send_impl(r, http, ctx, extra, path_override, resp, res, false, err);
}

sl_code lc_requester_prefetch(lc_requester *r, sl_http *http, const json_t *ctx, lc_reqopts *extra,
                              const char *path_override, sl_err *err) {
  /* Plain GETs only (no side effects), not under an API budget (the wait
   * belongs before the request), nor with the debug log (kept in order),
   * nor with a token pool (it counts and picks the token per request). */
  if (strcmp(r->method, "GET") || r->src->budget || r->src->debug || lc_auth_routes(r->auth)) return SL_EOK;
  lc_resolution res = {0};
  return send_impl(r, http, ctx, extra, path_override, NULL, &res, true, err);
}
