/* DefaultPaginator with CursorPagination, PageIncrement, OffsetIncrement,
 * and NoPagination (notes §6.10); Link headers parsed as requests does. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "lc.h"

typedef enum { PG_NONE, PG_CURSOR, PG_PAGE, PG_OFFSET } pg_kind;

struct lc_paginator {
  pg_kind kind;
  const json_t *node, *strategy;
  lc_reqopt token_opt, size_opt;
  bool token_path;
  sl_tmpl *cursor_value, *stop_condition, *page_size;
  long start_from_page;
  bool inject_first;
  bool needs_response, needs_last_record;
  /* The top-level members of `response` the templates read, when they only
   * read members (response.x, response['x'], response.get('x')): the page
   * is then not converted whole (resp.whole: some other use). */
  lc_keyset resp;
};

bool lc_paginator_response_keys(const lc_paginator *p, const char *const **keys, size_t *n) {
  if (p->resp.whole) return false;
  *keys = (const char *const *)p->resp.k;
  *n = p->resp.n;
  return true;
}

static bool mentions(const sl_tmpl *t, const char *name) {
  return t && strstr(sl_tmpl_source(t), name) != NULL;
}

sl_code lc_paginator_build(lc_source *src, const json_t *node, lc_paginator **out, sl_err *err) {
  lc_paginator *p = calloc(1, sizeof *p);
  if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = p;
  p->node = node;
  const char *type = node ? json_string_value(json_object_get(node, "type")) : NULL;
  if (!node || !type || !strcmp(type, "NoPagination")) return SL_EOK;
  if (strcmp(type, "DefaultPaginator"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported paginator \"%s\"", LC_WHERE(src, node), type);
  const json_t *s = json_object_get(node, "pagination_strategy");
  p->strategy = s;
  const char *st = json_string_value(json_object_get(s, "type"));
  if (!st) return sl_err_set(err, SL_ECONFIG, "%s: DefaultPaginator needs a pagination_strategy", LC_WHERE(src, node));
  sl_code rc;
  if (!strcmp(st, "CursorPagination")) {
    p->kind = PG_CURSOR;
    if ((rc = lc_tmpl_field(src, s, "cursor_value", &p->cursor_value, err)) ||
        (rc = lc_tmpl_field(src, s, "stop_condition", &p->stop_condition, err)))
      return rc;
    if (!p->cursor_value) return sl_err_set(err, SL_ECONFIG, "%s: CursorPagination needs cursor_value", LC_WHERE(src, s));
  } else if (!strcmp(st, "PageIncrement")) {
    p->kind = PG_PAGE;
    const json_t *sf = json_object_get(s, "start_from_page");
    p->start_from_page = json_is_integer(sf) ? (long)json_integer_value(sf) : 0;
    p->inject_first = json_is_true(json_object_get(s, "inject_on_first_request"));
  } else if (!strcmp(st, "OffsetIncrement")) {
    p->kind = PG_OFFSET;
    p->inject_first = json_is_true(json_object_get(s, "inject_on_first_request"));
  } else if (!strncmp(st, "Custom", 6)) {
    return sl_err_set(err, SL_ECONFIG, "%s: %s needs Python code, which sluice cannot run", LC_WHERE(src, s), st);
  } else {
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported pagination strategy \"%s\"", LC_WHERE(src, s), st);
  }
  if ((rc = lc_tmpl_field(src, s, "page_size", &p->page_size, err))) return rc;
  const json_t *to = json_object_get(node, "page_token_option");
  const char *tot = json_string_value(json_object_get(to, "type"));
  if (tot && !strcmp(tot, "RequestPath")) p->token_path = true;
  else if ((rc = lc_reqopt_build(src, to, &p->token_opt, err))) return rc;
  if ((rc = lc_reqopt_build(src, json_object_get(node, "page_size_option"), &p->size_opt, err))) return rc;
  if (p->size_opt.present && !p->page_size)
    return sl_err_set(err, SL_ECONFIG, "%s: page_size_option needs a page_size in the pagination strategy", LC_WHERE(src, node));
  p->needs_response = mentions(p->cursor_value, "response") || mentions(p->stop_condition, "response") ||
                      mentions(p->page_size, "response");
  p->needs_last_record = mentions(p->cursor_value, "last_record") || mentions(p->stop_condition, "last_record");
  lc_keyset_scan(&p->resp, p->cursor_value, "response");
  lc_keyset_scan(&p->resp, p->stop_condition, "response");
  lc_keyset_scan(&p->resp, p->page_size, "response");
  return SL_EOK;
}

void lc_paginator_free(lc_paginator *p) {
  if (!p) return;
  lc_reqopt_dispose(&p->token_opt);
  lc_reqopt_dispose(&p->size_opt);
  sl_tmpl_free(p->cursor_value);
  sl_tmpl_free(p->stop_condition);
  sl_tmpl_free(p->page_size);
  lc_keyset_dispose(&p->resp);
  free(p);
}

bool lc_paginator_needs_response(const lc_paginator *p) { return p->needs_response; }
bool lc_paginator_needs_last_record(const lc_paginator *p) { return p->needs_last_record; }

void lc_paginator_start(const lc_paginator *p, lc_page_state *ps) {
  json_decref(ps->token);
  ps->token = NULL;
  ps->done = false;
  if (p->kind == PG_PAGE && p->inject_first) ps->token = json_integer(p->start_from_page);
  if (p->kind == PG_OFFSET && p->inject_first) ps->token = json_integer(0);
}

/* The page size (templates see config, parameters and, for offsets, the
 * response), or -1 when there is none. */
static sl_code page_size(const lc_paginator *p, const json_t *ctx, long *out, sl_err *err) {
  *out = -1;
  if (!p->page_size) return SL_EOK;
  json_t *v = NULL;
  sl_code rc = lc_eval(p->page_size, ctx, SL_TMPL_ANY, &v, err);
  if (rc) return rc;
  if (json_is_integer(v)) *out = (long)json_integer_value(v);
  else if (json_is_real(v)) *out = (long)json_real_value(v);
  else if (json_is_string(v)) {
    char *end;
    long n = strtol(json_string_value(v), &end, 10);
    if (end != json_string_value(v) && !*end) *out = n;
  }
  json_decref(v);
  return SL_EOK;
}

sl_code lc_paginator_options(lc_source *src, const lc_paginator *p, const lc_page_state *ps,
                             const json_t *ctx, lc_reqopts *opts, char **path, sl_err *err) {
  *path = NULL;
  sl_code rc;
  if (p->size_opt.present) {
    long n;
    if ((rc = page_size(p, ctx, &n, err))) return rc;
    if (n > 0) {
      json_t *v = json_integer(n);
      rc = lc_reqopt_inject(src, &p->size_opt, v, ctx, opts, err);
      json_decref(v);
      if (rc) return rc;
    }
  }
  if (!ps->token || json_is_null(ps->token)) return SL_EOK;
  if (p->token_path) {
    sl_buf b;
    sl_buf_init(&b, 1 << 20);
    lc_pystr(&b, ps->token);
    *path = strdup(sl_buf_cstr(&b));
    sl_buf_dispose(&b);
    return SL_EOK;
  }
  return lc_reqopt_inject(src, &p->token_opt, ps->token, ctx, opts, err);
}

static bool py_truthy(const json_t *v) {
  if (!v || json_is_null(v) || json_is_false(v)) return false;
  if (json_is_string(v)) return json_string_length(v) > 0;
  if (json_is_integer(v)) return json_integer_value(v) != 0;
  if (json_is_real(v)) return json_real_value(v) != 0;
  if (json_is_array(v)) return json_array_size(v) > 0;
  if (json_is_object(v)) return json_object_size(v) > 0;
  return true;
}

sl_code lc_paginator_next(lc_source *src, const lc_paginator *p, lc_page_state *ps,
                          const json_t *ctx_base, const json_t *response, const json_t *headers,
                          size_t count, const json_t *last_record, sl_err *err) {
  if (p->kind == PG_NONE) {
    ps->done = true;
    return SL_EOK;
  }
  json_t *ctx = json_deep_copy(ctx_base);
  json_object_set_new(ctx, "response", response ? json_incref((json_t *)response) : json_object());
  json_object_set_new(ctx, "headers", headers ? json_incref((json_t *)headers) : json_object());
  json_object_set_new(ctx, "last_record", last_record ? json_incref((json_t *)last_record) : json_null());
  json_object_set_new(ctx, "last_page_size", json_integer((json_int_t)count));
  json_object_set_new(ctx, "last_page_token_value", ps->token ? json_incref(ps->token) : json_null());
  sl_code rc = SL_EOK;
  json_t *next = NULL;
  switch (p->kind) {
    case PG_CURSOR: {
      bool stop = false;
      if (p->stop_condition && (rc = sl_tmpl_eval_bool(p->stop_condition, ctx, &stop, err))) break;
      if (stop) break;
      if ((rc = lc_eval(p->cursor_value, ctx, SL_TMPL_ANY, &next, err))) break;
      if (!py_truthy(next)) {
        json_decref(next);
        next = NULL;
      }
      break;
    }
    case PG_PAGE:
    case PG_OFFSET: {
      long n;
      if ((rc = page_size(p, ctx, &n, err))) break;
      if ((n > 0 && (long)count < n) || count == 0) break;
      json_int_t prev = json_is_integer(ps->token) ? json_integer_value(ps->token) : -1;
      if (p->kind == PG_PAGE) next = json_integer(prev >= 0 ? prev + 1 : p->start_from_page + 1);
      else next = json_integer((prev >= 0 ? prev : 0) + (json_int_t)count);
      break;
    }
    case PG_NONE: break;
  }
  json_decref(ctx);
  json_decref(ps->token);
  ps->token = next;
  ps->done = next == NULL;
  if (rc) sl_err_wrap(err, "paginator at %s", LC_WHERE(src, p->node));
  return rc;
}

/* ---- response headers ---- */

/* requests.utils.parse_header_links: `<url>; rel="next"; x=y, <url2>; ...` */
static json_t *parse_links(const char *v) {
  json_t *links = json_object();
  const char *replace = " '\"";
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    /* one link runs to the next ", <" (or the end) */
    const char *end = strstr(p, ", <");
    if (!end) end = strstr(p, ",<");
    if (!end) end = p + strlen(p);
    char *item = strndup(p, (size_t)(end - p));
    char *semi = strchr(item, ';');
    char *url = item;
    char *params = NULL;
    if (semi) {
      *semi = 0;
      params = semi + 1;
    }
    while (*url && strchr("<> '\"", *url)) url++;
    size_t ul = strlen(url);
    while (ul && strchr("<> '\"", url[ul - 1])) url[--ul] = 0;
    json_t *link = json_pack("{s:s}", "url", url);
    for (char *tok = params ? strtok(params, ";") : NULL; tok; tok = strtok(NULL, ";")) {
      char *eq = strchr(tok, '=');
      if (!eq) break;
      *eq = 0;
      char *k = tok, *val = eq + 1;
      while (*k && strchr(replace, *k)) k++;
      size_t kl = strlen(k);
      while (kl && strchr(replace, k[kl - 1])) k[--kl] = 0;
      while (*val && strchr(replace, *val)) val++;
      size_t vl = strlen(val);
      while (vl && strchr(replace, val[vl - 1])) val[--vl] = 0;
      json_object_set_new(link, k, json_string(val));
    }
    const char *key = json_string_value(json_object_get(link, "rel"));
    if (!key) key = url;
    json_object_set_new(links, key, link);
    free(item);
    p = *end ? end + 1 : end;
  }
  return links;
}

json_t *lc_headers_json(const sl_http_resp *resp) {
  json_t *h = json_object();
  const char *name, *value;
  for (size_t i = 0; sl_http_header_at(resp, i, &name, &value); i++) json_object_set_new(h, name, json_string(value));
  const char *link = sl_http_header(resp, "link");
  json_object_set_new(h, "link", link ? parse_links(link) : json_object());
  return h;
}
