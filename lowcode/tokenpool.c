/* RateLimitedMultipleTokenAuthenticator: interchangeable tokens, each with
 * per-pool call quotas (TokenQuota) seeded from a quota status endpoint.
 * A request is classified into the first pool whose matchers hit (a pool
 * without matchers is the default), signed with the active token while it
 * has calls left in that pool, else with the next one that has; when none
 * has, the pool waits for the earliest reset (at most max_wait_time), then
 * every token is seeded again. Below the reserve on every token, requests
 * are spread over the time left to the reset. Requesters open at the same
 * time (a parent stream and its substream) that share one authenticator
 * definition (a $ref) share its tokens and quotas. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

typedef struct pool_def {
  const json_t *node;
  const char *name;
  json_t *remaining_path, *reset_path, *limit_path;
  lc_matcher **m;
  size_t n_m;
  const char *remaining_header, *reset_header;
} pool_def;

typedef struct tok_state {
  char *token;
  bool untracked;      /* the status endpoint said quota tracking is off */
  int64_t *remaining;  /* per pool */
  int64_t *limit;      /* per pool (-1 unknown) */
  int64_t *reset_us;   /* per pool (0 unknown) */
} tok_state;

struct lc_tokpool {
  lc_source *src;
  char *key; /* the definition's file:line:col */
  int refs;
  lc_tokpool *next;
  const json_t *node, *status_node;
  sl_tmpl *url, *auth_method, *header, *max_wait, *tokens_str;
  sl_tmpl **tokens;
  size_t n_tmpl;
  char *delim;
  char method[8];
  lc_ttree *status_headers;
  json_t *unavailable;
  pool_def *pools;
  size_t n_pools;
  tok_state *toks;
  size_t n_toks, active;
  bool seeded, any_untracked;
  double reserve_frac;
  int64_t min_reserve;
  int last_tok, last_pool; /* of the request apply() prepared */
};

#define WHERE(t) LC_WHERE((t)->src, (t)->node)

static json_t *path_field(const json_t *node, const char *k) {
  const json_t *v = json_object_get(node, k);
  return json_is_array(v) ? json_incref((json_t *)v) : NULL;
}

/* The pools built, by source and definition (the builder's server builds
 * sources on several threads, hence the lock). */
static lc_tokpool *shared;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

sl_code lc_tokpool_build(lc_source *src, const json_t *node, lc_tokpool **out, sl_err *err) {
  char at[320];
  lc_where(src, node, at, sizeof at);
  at[strcspn(at, " ")] = 0;
  pthread_mutex_lock(&shared_lock);
  for (lc_tokpool *s = shared; s; s = s->next)
    if (s->src == src && !strcmp(s->key, at)) {
      s->refs++;
      *out = s;
      pthread_mutex_unlock(&shared_lock);
      return SL_EOK;
    }
  lc_tokpool *t = calloc(1, sizeof *t);
  if (t) {
    t->src = src;
    t->node = node;
    t->key = strdup(at);
    t->refs = 1;
    t->next = shared;
    shared = t;
  }
  pthread_mutex_unlock(&shared_lock);
  *out = t;
  if (!t) return sl_err_set(err, SL_ENOMEM, "out of memory");
  t->last_tok = t->last_pool = -1;
  sl_code rc;
  const json_t *toks = json_object_get(node, "tokens"), *qs = json_object_get(node, "quota_status_source");
  const json_t *pools = json_object_get(node, "quotas");
  t->status_node = qs;
  if (json_is_array(toks) && json_array_size(toks)) {
    t->tokens = calloc(json_array_size(toks), sizeof *t->tokens);
    size_t i;
    const json_t *x;
    json_array_foreach(toks, i, x) {
      t->n_tmpl++;
      if ((rc = lc_tmpl_value(src, toks, "tokens", x, &t->tokens[i], err))) return rc;
    }
  } else if (json_is_string(toks)) {
    if ((rc = lc_tmpl_field(src, node, "tokens", &t->tokens_str, err))) return rc;
  } else {
    return sl_err_set(err, SL_ECONFIG, "%s: RateLimitedMultipleTokenAuthenticator needs tokens (a list, or one string)", WHERE(t));
  }
  const char *d = json_string_value(json_object_get(node, "token_delimiter"));
  t->delim = strdup(d && *d ? d : ",");
  if (!json_is_object(qs))
    return sl_err_set(err, SL_ECONFIG, "%s: RateLimitedMultipleTokenAuthenticator needs quota_status_source", WHERE(t));
  if (!json_array_size(pools))
    return sl_err_set(err, SL_ECONFIG, "%s: RateLimitedMultipleTokenAuthenticator needs quotas (at least one TokenQuota)", WHERE(t));
  const char *m = json_string_value(json_object_get(qs, "http_method"));
  snprintf(t->method, sizeof t->method, "%s", m ? m : "GET");
  if ((rc = lc_tmpl_field(src, qs, "url", &t->url, err)) ||
      (rc = lc_ttree_build(src, qs, "request_headers", &t->status_headers, err)) ||
      (rc = lc_tmpl_field(src, node, "auth_method", &t->auth_method, err)) ||
      (rc = lc_tmpl_field(src, node, "header", &t->header, err)) ||
      (rc = lc_tmpl_field(src, node, "max_wait_time", &t->max_wait, err)))
    return rc;
  if (!t->url) return sl_err_set(err, SL_ECONFIG, "%s: QuotaStatusSource needs url", LC_WHERE(src, qs));
  t->unavailable = json_incref(json_object_get(qs, "unavailable_status_codes"));
  const json_t *f = json_object_get(node, "budget_reserve_fraction"), *mr = json_object_get(node, "budget_min_reserve");
  t->reserve_frac = json_is_number(f) ? json_number_value(f) : 0.1;
  t->min_reserve = json_is_integer(mr) ? json_integer_value(mr) : 50;
  t->pools = calloc(json_array_size(pools), sizeof *t->pools);
  size_t i;
  const json_t *pn;
  json_array_foreach(pools, i, pn) {
    pool_def *p = &t->pools[t->n_pools++];
    p->node = pn;
    p->name = json_string_value(json_object_get(pn, "name"));
    p->remaining_path = path_field(pn, "remaining_path");
    p->reset_path = path_field(pn, "reset_path");
    p->limit_path = path_field(pn, "limit_path");
    p->remaining_header = json_string_value(json_object_get(pn, "remaining_header"));
    p->reset_header = json_string_value(json_object_get(pn, "reset_header"));
    if (!p->name || !p->remaining_path || !p->reset_path)
      return sl_err_set(err, SL_ECONFIG, "%s: TokenQuota needs name, remaining_path and reset_path", LC_WHERE(src, pn));
    const json_t *ms = json_object_get(pn, "matchers"), *mn;
    size_t k;
    p->m = calloc(json_array_size(ms) + 1, sizeof *p->m);
    json_array_foreach(ms, k, mn) {
      p->n_m++;
      if ((rc = lc_matcher_build(src, mn, &p->m[k], err))) return rc;
    }
  }
  return SL_EOK;
}

static void toks_free(lc_tokpool *t) {
  for (size_t i = 0; i < t->n_toks; i++) {
    free(t->toks[i].token);
    free(t->toks[i].remaining);
    free(t->toks[i].limit);
    free(t->toks[i].reset_us);
  }
  free(t->toks);
  t->toks = NULL;
  t->n_toks = 0;
}

void lc_tokpool_free(lc_tokpool *t) {
  if (!t) return;
  pthread_mutex_lock(&shared_lock);
  bool last = --t->refs <= 0;
  if (last)
    for (lc_tokpool **pp = &shared; *pp; pp = &(*pp)->next)
      if (*pp == t) {
        *pp = t->next;
        break;
      }
  pthread_mutex_unlock(&shared_lock);
  if (!last) return;
  free(t->key);
  toks_free(t);
  for (size_t i = 0; i < t->n_tmpl; i++) sl_tmpl_free(t->tokens[i]);
  free(t->tokens);
  sl_tmpl *ts[] = {t->url, t->auth_method, t->header, t->max_wait, t->tokens_str};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) sl_tmpl_free(ts[i]);
  free(t->delim);
  lc_ttree_free(t->status_headers);
  json_decref(t->unavailable);
  for (size_t i = 0; i < t->n_pools; i++) {
    pool_def *p = &t->pools[i];
    json_decref(p->remaining_path);
    json_decref(p->reset_path);
    json_decref(p->limit_path);
    for (size_t k = 0; k < p->n_m; k++) lc_matcher_free(p->m[k]);
    free(p->m);
  }
  free(t->pools);
  free(t);
}

static char *render(lc_tokpool *t, const sl_tmpl *tm, const char *dflt, sl_err *err, sl_code *rc) {
  if (!tm) return strdup(dflt);
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  if (!*rc) *rc = lc_eval_text_at(t->src, t->node, tm, &b, err);
  char *s = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return s;
}

static void add_token(lc_tokpool *t, const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (!n) return;
  tok_state *ts = &t->toks[t->n_toks++];
  ts->token = strndup(s, n);
  ts->remaining = calloc(t->n_pools, sizeof *ts->remaining);
  ts->limit = calloc(t->n_pools, sizeof *ts->limit);
  ts->reset_us = calloc(t->n_pools, sizeof *ts->reset_us);
}

static sl_code load_tokens(lc_tokpool *t, sl_http *http, sl_err *err) {
  sl_code rc = SL_EOK;
  size_t cap = t->n_tmpl + 1;
  char *whole = t->tokens_str ? render(t, t->tokens_str, "", err, &rc) : NULL;
  if (whole)
    for (const char *p = whole; (p = strstr(p, t->delim)); p += strlen(t->delim)) cap++;
  t->toks = calloc(cap, sizeof *t->toks);
  if (whole) {
    const char *p = whole, *q;
    while ((q = strstr(p, t->delim))) {
      add_token(t, p, (size_t)(q - p));
      p = q + strlen(t->delim);
    }
    add_token(t, p, strlen(p));
  }
  for (size_t i = 0; i < t->n_tmpl && !rc; i++) {
    char *s = render(t, t->tokens[i], "", err, &rc);
    add_token(t, s, strlen(s));
    free(s);
  }
  free(whole);
  for (size_t i = 0; i < t->n_toks; i++) sl_http_add_secret(http, t->toks[i].token);
  if (!rc && !t->n_toks) rc = sl_err_set(err, SL_ECONFIG, "%s: tokens render to no token", WHERE(t));
  return rc;
}

/* "<auth_method> <token>" (just the token when auth_method is empty). */
static char *auth_value(lc_tokpool *t, const char *token, sl_err *err, sl_code *rc) {
  char *am = render(t, t->auth_method, "Bearer", err, rc), *v = NULL;
  if (asprintf(&v, "%s%s%s", am, *am ? " " : "", token) < 0) v = NULL;
  free(am);
  return v;
}

/* Epoch seconds (number or numeric text) or ISO 8601, to µs; 0 if neither. */
static int64_t reset_us(const json_t *v) {
  if (json_is_number(v)) return (int64_t)(json_number_value(v) * 1e6);
  const char *s = json_string_value(v);
  if (!s) return 0;
  char *end;
  double d = strtod(s, &end);
  if (end != s && !*end) return (int64_t)(d * 1e6);
  int64_t us = lc_parse_iso_us(s);
  return us > 0 ? us : 0;
}

static const json_t *at_path(const json_t *root, const json_t *path) {
  size_t n = json_array_size(path);
  const char **keys = calloc(n + 1, sizeof *keys);
  for (size_t i = 0; i < n; i++) keys[i] = json_string_value(json_array_get(path, i)) ?: "";
  const json_t *v = lc_json_path(root, keys, n);
  free(keys);
  return v;
}

/* One token's quota status from quota_status_source. */
static sl_code seed_token(lc_tokpool *t, sl_http *http, tok_state *ts, sl_err *err) {
  if (ts->untracked) return SL_EOK;
  sl_code rc = SL_EOK;
  char *url = render(t, t->url, "", err, &rc), *name = render(t, t->header, "Authorization", err, &rc);
  char *val = auth_value(t, ts->token, err, &rc);
  json_t *ctx = lc_ctx_new(t->src, t->status_node), *hdrs = NULL;
  if (!rc) rc = lc_ttree_eval(t->status_headers, ctx, SL_TMPL_ANY, &hdrs, err);
  json_decref(ctx);
  size_t nh = json_object_size(hdrs) + 2, k = 0;
  char **hl = calloc(nh, sizeof *hl);
  if (asprintf(&hl[k], "%s: %s", name, val) >= 0) k++;
  const char *hk;
  json_t *hv;
  json_object_foreach(hdrs, hk, hv) if (json_is_string(hv) && asprintf(&hl[k], "%s: %s", hk, json_string_value(hv)) >= 0) k++;
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  char *murl = sl_http_mask(http, url);
  if (!rc) {
    sl_http_req req = {t->method, url, (const char *const *)hl, NULL, 0, false};
    sl_err terr = SL_ERR_INIT;
    if (sl_http_send(http, &req, &resp, &terr) && !resp.status)
      rc = sl_err_set(err, SL_ETRANSIENT, "token quota status: %s %s failed: %s (authenticator at %s)", t->method, murl,
                      terr.msg, WHERE(t));
  }
  bool unavailable = false;
  size_t i;
  json_t *c;
  json_array_foreach(t->unavailable, i, c) unavailable = unavailable || json_integer_value(c) == resp.status;
  if (!rc && unavailable) {
    ts->untracked = t->any_untracked = true;
    lc_log(t->src, "INFO", "token quota status: %s %s returned HTTP %ld (unavailable_status_codes): quota tracking is off for this token",
           t->method, murl, resp.status);
  } else if (!rc && (resp.status < 200 || resp.status >= 300)) {
    rc = sl_err_set(err, SL_ECONFIG, "token quota status: %s %s returned HTTP %ld (authenticator at %s)", t->method, murl,
                    resp.status, WHERE(t));
  } else if (!rc) {
    json_t *j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    for (size_t p = 0; p < t->n_pools && !rc; p++) {
      pool_def *pd = &t->pools[p];
      const json_t *rem = j ? at_path(j, pd->remaining_path) : NULL, *rst = j ? at_path(j, pd->reset_path) : NULL;
      const json_t *lim = j && pd->limit_path ? at_path(j, pd->limit_path) : NULL;
      if (!json_is_number(rem)) {
        char *ps = sl_json_dumps(pd->remaining_path);
        rc = sl_err_set(err, SL_ECONFIG, "token quota status: the response of %s %s has no number at remaining_path %s (TokenQuota %s at %s)",
                        t->method, murl, ps ? ps : "", pd->name, LC_WHERE(t->src, pd->node));
        free(ps);
        break;
      }
      ts->remaining[p] = (int64_t)json_number_value(rem);
      ts->reset_us[p] = reset_us(rst);
      /* the reserve's base: the limit, else the first remaining count seen */
      if (json_is_number(lim)) ts->limit[p] = (int64_t)json_number_value(lim);
      else if (!ts->limit[p]) ts->limit[p] = ts->remaining[p];
    }
    json_decref(j);
  }
  free(murl);
  sl_http_resp_dispose(&resp);
  for (size_t h = 0; h < k; h++) free(hl[h]);
  free(hl);
  json_decref(hdrs);
  free(url);
  free(name);
  free(val);
  return rc;
}

static sl_code seed_all(lc_tokpool *t, sl_http *http, sl_err *err) {
  for (size_t i = 0; i < t->n_toks; i++) {
    sl_code rc = seed_token(t, http, &t->toks[i], err);
    if (rc) return rc;
  }
  t->seeded = true;
  return SL_EOK;
}

static int pool_of(lc_tokpool *t, const char *method, const char *url, const json_t *headers) {
  for (size_t p = 0; p < t->n_pools; p++) {
    pool_def *pd = &t->pools[p];
    if (!pd->n_m) return (int)p;
    for (size_t k = 0; k < pd->n_m; k++)
      if (lc_matcher_hit(pd->m[k], method, url, headers)) return (int)p;
  }
  return -1;
}

static int64_t reserve(lc_tokpool *t, const tok_state *ts, int p) {
  int64_t r = (int64_t)(t->reserve_frac * (double)ts->limit[p]);
  return r > t->min_reserve ? r : t->min_reserve;
}

/* The token to use for pool p, or -1 when every tracked token is spent. */
static int pick(lc_tokpool *t, int p) {
  for (size_t k = 0; k < t->n_toks; k++) {
    size_t i = (t->active + k) % t->n_toks;
    if (t->toks[i].untracked || p < 0 || t->toks[i].remaining[p] > 0) return (int)i;
  }
  return -1;
}

sl_code lc_tokpool_apply(lc_tokpool *t, sl_http *http, const char *method, const char *url, lc_reqopts *opts,
                         sl_err *err) {
  sl_code rc = SL_EOK;
  if (!t->toks && (rc = load_tokens(t, http, err))) return rc;
  if (!t->seeded && (rc = seed_all(t, http, err))) return rc;
  int p = pool_of(t, method, url, opts->headers);
  int i = pick(t, p);
  if (i < 0) {
    /* every token spent for this pool: wait for the earliest reset */
    int64_t now = lc_now_us(), first = 0;
    for (size_t k = 0; k < t->n_toks; k++)
      if (t->toks[k].reset_us[p] && (!first || t->toks[k].reset_us[p] < first)) first = t->toks[k].reset_us[p];
    char *mw = render(t, t->max_wait, "PT2H", err, &rc);
    int64_t max_us = lc_parse_duration_us(mw);
    if (!rc && max_us < 0) rc = sl_err_set(err, SL_ECONFIG, "%s: max_wait_time \"%s\" is not an ISO-8601 duration", WHERE(t), mw);
    free(mw);
    if (rc) return rc;
    int64_t wait = first > now ? first - now : 0;
    if (t->any_untracked || wait > max_us)
      return sl_err_set(err, SL_ETRANSIENT, "all %zu tokens have spent their quota \"%s\"%s (authenticator at %s)", t->n_toks,
                        t->pools[p].name,
                        t->any_untracked ? "" : "; the earliest reset is later than max_wait_time", WHERE(t));
    lc_log(t->src, "INFO", "all %zu tokens have spent their quota \"%s\"; waiting %.0f s for the earliest reset", t->n_toks,
           t->pools[p].name, (double)wait / 1e6);
    lc_rate_limited(t->src, wait / 1000);
    lc_sleep((double)wait / 1e6);
    if ((rc = seed_all(t, http, err))) return rc;
    if ((i = pick(t, p)) < 0)
      return sl_err_set(err, SL_ETRANSIENT, "all %zu tokens still have no quota \"%s\" after its reset (authenticator at %s)",
                        t->n_toks, t->pools[p].name, WHERE(t));
  }
  if (p >= 0 && !t->any_untracked) {
    /* below the reserve on every token: spread what is left until the reset */
    int64_t left = 0, first = 0;
    bool all_low = true;
    for (size_t k = 0; k < t->n_toks; k++) {
      tok_state *ts = &t->toks[k];
      all_low = all_low && ts->remaining[p] < reserve(t, ts, p);
      left += ts->remaining[p];
      if (ts->reset_us[p] && (!first || ts->reset_us[p] < first)) first = ts->reset_us[p];
    }
    int64_t now = lc_now_us();
    if (all_low && (t->reserve_frac > 0 || t->min_reserve > 0) && first > now && left > 0) {
      double secs = (double)(first - now) / 1e6 / (double)left;
      lc_log(t->src, "INFO", "token quota \"%s\" below its reserve on every token (%lld calls left): waiting %.1f s",
             t->pools[p].name, (long long)left, secs);
      lc_sleep(secs);
    }
  }
  t->active = (size_t)i;
  tok_state *ts = &t->toks[i];
  if (p >= 0 && !ts->untracked) ts->remaining[p]--;
  t->last_tok = i;
  t->last_pool = p;
  char *name = render(t, t->header, "Authorization", err, &rc), *val = auth_value(t, ts->token, err, &rc);
  if (!rc) {
    if (json_object_get(opts->headers, name))
      rc = sl_err_set(err, SL_ECONFIG, "header %s is set by both the authenticator and another component", name);
    else json_object_set_new(opts->headers, name, json_string(val));
  }
  free(name);
  free(val);
  return rc;
}

void lc_tokpool_observe(lc_tokpool *t, const sl_http_resp *resp) {
  if (!t || t->last_tok < 0 || !resp) return;
  tok_state *ts = &t->toks[t->last_tok];
  int p = t->last_pool;
  if (p >= 0 && !ts->untracked) {
    pool_def *pd = &t->pools[p];
    const char *rem = pd->remaining_header ? sl_http_header(resp, pd->remaining_header) : NULL;
    const char *rst = pd->reset_header ? sl_http_header(resp, pd->reset_header) : NULL;
    if (rst) {
      json_t *v = json_string(rst);
      int64_t r = reset_us(v);
      json_decref(v);
      /* a later reset: the window rolled over, the pool is full again */
      if (r > ts->reset_us[p] && ts->reset_us[p]) ts->remaining[p] = ts->limit[p];
      if (r) ts->reset_us[p] = r;
    }
    char *end;
    long long n = rem ? strtoll(rem, &end, 10) : 0;
    if (rem && end != rem) ts->remaining[p] = n;
  }
  /* a rate-limited answer: a retry goes out with the next token */
  if (resp->status == 429 || resp->status == 403) t->active = ((size_t)t->last_tok + 1) % t->n_toks;
  t->last_tok = -1;
}
