/* The source's api_budget (HTTPAPIBudget, the SHOULD tier, notes §5.2/§6.14):
 * call-rate policies (MovingWindowCallRatePolicy with its Rates,
 * FixedWindowCallRatePolicy, UnlimitedCallRatePolicy) picked by the first
 * policy whose HttpRequestRegexMatcher matches the request. A request that
 * would exceed its policy waits (it is never failed for it); responses update
 * the policy from the rate-limit headers and status codes, as the CDK's
 * HttpAPIBudget does. While waiting, the stream reports RATE_LIMITED.
 *
 * Time: the budget's clock is the wall clock; when waits are scaled to zero
 * (SLUICE_BACKOFF_SCALE=0, the tests) it is virtual and moves only by the
 * waits, so the computed waits are exact and can be checked in the log. */
#include <math.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <strings.h>

#include "lc.h"
#include "sluice/pydt.h"

#define MAX_ACQUIRE 100000

typedef struct matcher {
  char *method, *url_base;
  pcre2_code *path_re;
  json_t *params, *headers; /* name -> string */
  int weight;               /* 0: not set (1) */
} matcher;

typedef enum { P_UNLIMITED, P_FIXED, P_MOVING } pkind;

typedef struct rate {
  int64_t limit, interval_ms;
} rate;

typedef struct policy {
  pkind k;
  const json_t *node;
  matcher *m;
  size_t n_m;
  /* fixed window */
  int64_t call_limit, calls, period_ms, next_reset_ms;
  /* moving window: timestamps (ms) of the calls, oldest first */
  rate *rates;
  size_t n_rates;
  int64_t *ts;
  size_t n_ts, cap_ts;
} policy;

struct lc_budget {
  const json_t *node;
  policy *p;
  size_t n;
  char *reset_header, *remaining_header;
  json_t *ratelimit_codes;
  bool virt;
  int64_t vnow_ms;
};

static int64_t now_ms(const lc_budget *b) { return b->virt ? b->vnow_ms : lc_now_us() / 1000; }

static sl_code duration_ms(lc_source *src, const json_t *node, const char *field, int64_t *out, sl_err *err) {
  const char *s = json_string_value(json_object_get(node, field));
  sl_dur d;
  char emsg[200];
  if (!s || sl_dur_parse(s, strlen(s), &d, emsg, sizeof emsg))
    return sl_err_set(err, SL_ECONFIG, "%s: `%s` must be an ISO-8601 duration such as PT1M%s%s", LC_WHERE(src, node),
                      field, s ? ", not " : "", s ? s : "");
  /* calendar months and years as 30 and 365 days (a window length) */
  *out = d.us / 1000 + (d.months * 30 + d.years * 365) * INT64_C(86400000);
  if (*out <= 0) return sl_err_set(err, SL_ECONFIG, "%s: `%s` must be a positive duration", LC_WHERE(src, node), field);
  return SL_EOK;
}

/* An integer field that may be a template rendered with config. */
static sl_code int_field(lc_source *src, const json_t *node, const char *field, int64_t *out, sl_err *err) {
  const json_t *v = json_object_get(node, field);
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return SL_EOK;
  }
  char *s = NULL;
  sl_code rc = lc_render_field(src, node, field, &s, err);
  if (rc) return rc;
  char *end = NULL;
  long long x = s ? strtoll(s, &end, 10) : 0;
  bool ok = s && *s && end && !*end;
  free(s);
  if (!ok) return sl_err_set(err, SL_ECONFIG, "%s: `%s` must be an integer", LC_WHERE(src, node), field);
  *out = x;
  return SL_EOK;
}

static json_t *str_map(const json_t *o) {
  json_t *m = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    lc_pystr(&b, v);
    json_object_set_new(m, k, json_string(sl_buf_cstr(&b)));
    sl_buf_dispose(&b);
  }
  return m;
}

static sl_code build_matcher(lc_source *src, const json_t *node, matcher *m, sl_err *err) {
  const char *s;
  if ((s = json_string_value(json_object_get(node, "method")))) {
    m->method = strdup(s);
    for (char *c = m->method; *c; c++) *c = (char)toupper((unsigned char)*c);
  }
  if ((s = json_string_value(json_object_get(node, "url_base")))) {
    m->url_base = strdup(s);
    size_t n = strlen(m->url_base);
    while (n && m->url_base[n - 1] == '/') m->url_base[--n] = 0;
  }
  if ((s = json_string_value(json_object_get(node, "url_path_pattern")))) {
    int ec;
    PCRE2_SIZE eo;
    m->path_re = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    if (!m->path_re) {
      PCRE2_UCHAR msg[200];
      pcre2_get_error_message(ec, msg, sizeof msg);
      return sl_err_set(err, SL_ECONFIG, "%s: url_path_pattern is not a valid regular expression: %s at offset %zu",
                        LC_WHERE(src, node), (const char *)msg, (size_t)eo);
    }
  }
  m->params = str_map(json_object_get(node, "params"));
  json_t *h = str_map(json_object_get(node, "headers"));
  m->headers = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(h, k, v) {
    char *lk = strdup(k);
    for (char *c = lk; *c; c++) *c = (char)tolower((unsigned char)*c);
    json_object_set(m->headers, lk, v);
    free(lk);
  }
  json_decref(h);
  if (json_object_get(node, "weight")) {
    int64_t w;
    sl_code rc = int_field(src, node, "weight", &w, err);
    if (rc) return rc;
    if (w < 1) return sl_err_set(err, SL_ECONFIG, "%s: weight must be >= 1, got %lld", LC_WHERE(src, node), (long long)w);
    m->weight = (int)w;
  }
  return SL_EOK;
}

sl_code lc_budget_build(lc_source *src, const json_t *node, lc_budget **out, sl_err *err) {
  *out = NULL;
  if (!json_is_object(node)) return SL_EOK;
  lc_budget *b = calloc(1, sizeof *b);
  if (!b) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = b;
  b->node = node;
  const char *scale = getenv("SLUICE_BACKOFF_SCALE");
  b->virt = scale && *scale && strtod(scale, NULL) == 0;
  b->vnow_ms = lc_now_us() / 1000;
  const char *s = json_string_value(json_object_get(node, "ratelimit_reset_header"));
  b->reset_header = strdup(s ? s : "ratelimit-reset");
  s = json_string_value(json_object_get(node, "ratelimit_remaining_header"));
  b->remaining_header = strdup(s ? s : "ratelimit-remaining");
  const json_t *codes = json_object_get(node, "status_codes_for_ratelimit_hit");
  b->ratelimit_codes = json_array_size(codes) ? json_incref((json_t *)codes) : json_pack("[i]", 429);
  for (char *c = b->reset_header; *c; c++) *c = (char)tolower((unsigned char)*c);
  for (char *c = b->remaining_header; *c; c++) *c = (char)tolower((unsigned char)*c);
  const json_t *pols = json_object_get(node, "policies");
  b->p = calloc(json_array_size(pols) + 1, sizeof *b->p);
  if (!b->p) return sl_err_set(err, SL_ENOMEM, "out of memory");
  size_t i;
  json_t *pn;
  sl_code rc;
  json_array_foreach(pols, i, pn) {
    policy *p = &b->p[b->n++];
    p->node = pn;
    const char *type = json_string_value(json_object_get(pn, "type"));
    if (!type) type = "";
    if (!strcmp(type, "UnlimitedCallRatePolicy")) {
      p->k = P_UNLIMITED;
    } else if (!strcmp(type, "FixedWindowCallRatePolicy")) {
      p->k = P_FIXED;
      if ((rc = duration_ms(src, pn, "period", &p->period_ms, err))) return rc;
      if ((rc = int_field(src, pn, "call_limit", &p->call_limit, err))) return rc;
      /* as the CDK: the first window ends in 10 days unless a response says when */
      p->next_reset_ms = now_ms(b) + INT64_C(10) * 86400000;
    } else if (!strcmp(type, "MovingWindowCallRatePolicy")) {
      p->k = P_MOVING;
      const json_t *rates = json_object_get(pn, "rates");
      if (!json_array_size(rates))
        return sl_err_set(err, SL_ECONFIG, "%s: the list of rates can not be empty", LC_WHERE(src, pn));
      p->rates = calloc(json_array_size(rates), sizeof *p->rates);
      size_t j;
      json_t *rn;
      json_array_foreach(rates, j, rn) {
        rate *r = &p->rates[p->n_rates++];
        if ((rc = int_field(src, rn, "limit", &r->limit, err))) return rc;
        if ((rc = duration_ms(src, rn, "interval", &r->interval_ms, err))) return rc;
        if (r->limit < 1) return sl_err_set(err, SL_ECONFIG, "%s: a rate's limit must be >= 1", LC_WHERE(src, rn));
      }
    } else {
      return sl_err_set(err, SL_ECONFIG, "%s: call rate policy %s is not supported", LC_WHERE(src, pn),
                        *type ? type : "(no type)");
    }
    const json_t *ms = json_object_get(pn, "matchers");
    p->m = calloc(json_array_size(ms) + 1, sizeof *p->m);
    size_t j;
    json_t *mn;
    json_array_foreach(ms, j, mn) {
      if ((rc = build_matcher(src, mn, &p->m[p->n_m++], err))) return rc;
    }
  }
  return SL_EOK;
}

void lc_budget_free(lc_budget *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    policy *p = &b->p[i];
    for (size_t j = 0; j < p->n_m; j++) {
      free(p->m[j].method);
      free(p->m[j].url_base);
      pcre2_code_free(p->m[j].path_re);
      json_decref(p->m[j].params);
      json_decref(p->m[j].headers);
    }
    free(p->m);
    free(p->rates);
    free(p->ts);
  }
  free(b->p);
  free(b->reset_header);
  free(b->remaining_header);
  json_decref(b->ratelimit_codes);
  free(b);
}

/* ---- matching ---- */

typedef struct req {
  const char *method, *url;
  const json_t *headers; /* name -> value as sent */
} req;

/* parse_qsl's unquote_plus: '+' is a space, %XX a byte. */
static char *url_decode(const char *s, size_t n) {
  char *out = malloc(n + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    unsigned hi, lo;
    if (s[i] == '+') *o++ = ' ';
    else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2]) &&
             sscanf(s + i + 1, "%1x%1x", &hi, &lo) == 2) {
      *o++ = (char)(hi * 16 + lo);
      i += 2;
    } else *o++ = s[i];
  }
  *o = 0;
  return out;
}

static bool query_has(const char *query, const char *name, const char *value) {
  /* dict(parse_qsl(query)): the last occurrence of a name wins */
  bool found = false, eq = false;
  const char *p = query;
  while (p && *p) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    const char *e = memchr(p, '=', len);
    if (e) {
      char *k = url_decode(p, (size_t)(e - p)), *v = url_decode(e + 1, len - (size_t)(e - p) - 1);
      if (k && !strcmp(k, name)) {
        found = true;
        eq = v && !strcmp(v, value);
      }
      free(k);
      free(v);
    }
    p = amp ? amp + 1 : NULL;
  }
  return found && eq;
}

static bool matcher_hit(const matcher *m, const req *r) {
  if (m->method && strcasecmp(m->method, r->method)) return false;
  const char *sep = strstr(r->url, "://");
  const char *path = sep ? strchr(sep + 3, '/') : NULL;
  const char *q = strchr(r->url, '?');
  if (q && path && q < path) path = NULL;
  size_t base_len = path ? (size_t)(path - r->url) : q ? (size_t)(q - r->url) : strlen(r->url);
  if (m->url_base && (strlen(m->url_base) != base_len || strncmp(m->url_base, r->url, base_len))) return false;
  if (m->path_re) {
    size_t plen = path ? (q ? (size_t)(q - path) : strlen(path)) : 0;
    while (plen && path[plen - 1] == '/') plen--; /* the CDK strips trailing slashes */
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->path_re, NULL);
    int rc = pcre2_match(m->path_re, (PCRE2_SPTR)(path ? path : ""), plen, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc < 0) return false;
  }
  const char *k;
  json_t *v;
  json_object_foreach(m->params, k, v) if (!query_has(q ? q + 1 : "", k, json_string_value(v))) return false;
  json_object_foreach(m->headers, k, v) {
    bool ok = false;
    const char *hk;
    json_t *hv;
    json_object_foreach((json_t *)r->headers, hk, hv) {
      if (strcasecmp(hk, k)) continue;
      sl_buf b;
      sl_buf_init(&b, 1 << 16);
      lc_pystr(&b, hv);
      ok = !strcmp(sl_buf_cstr(&b), json_string_value(v));
      sl_buf_dispose(&b);
    }
    if (!ok) return false;
  }
  return true;
}

static policy *matching(lc_budget *b, const req *r, int *weight) {
  for (size_t i = 0; i < b->n; i++) {
    policy *p = &b->p[i];
    if (!p->n_m) {
      *weight = 1;
      return p;
    }
    for (size_t j = 0; j < p->n_m; j++)
      if (matcher_hit(&p->m[j], r)) {
        *weight = p->m[j].weight ? p->m[j].weight : 1;
        return p;
      }
  }
  return NULL;
}

/* ---- policies ---- */

static void fixed_window(lc_budget *b, policy *p) {
  if (now_ms(b) > p->next_reset_ms) { /* one period on, as the CDK */
    p->next_reset_ms += p->period_ms;
    p->calls = 0;
  }
}

static sl_code put_ts(policy *p, int64_t t, int64_t n) {
  if (p->n_ts + (size_t)n > p->cap_ts) {
    size_t nc = p->cap_ts ? p->cap_ts : 64;
    while (nc < p->n_ts + (size_t)n) nc *= 2;
    int64_t *nt = realloc(p->ts, nc * sizeof *nt);
    if (!nt) return SL_ENOMEM;
    p->ts = nt;
    p->cap_ts = nc;
  }
  for (int64_t i = 0; i < n; i++) p->ts[p->n_ts++] = t;
  return SL_EOK;
}

/* Milliseconds to wait before `weight` calls fit (0: now), as pyrate_limiter:
 * the first failing rate decides, waiting until its bound item leaves the window. */
static int64_t moving_wait(lc_budget *b, policy *p, int64_t weight, const rate **failing) {
  int64_t now = now_ms(b), longest = 0;
  for (size_t i = 0; i < p->n_rates; i++) longest = p->rates[i].interval_ms > longest ? p->rates[i].interval_ms : longest;
  size_t drop = 0; /* leak what no window can see any more */
  while (drop < p->n_ts && p->ts[drop] <= now - longest) drop++;
  if (drop) {
    memmove(p->ts, p->ts + drop, (p->n_ts - drop) * sizeof *p->ts);
    p->n_ts -= drop;
  }
  for (size_t i = 0; i < p->n_rates; i++) {
    const rate *r = &p->rates[i];
    int64_t in = 0;
    for (size_t j = p->n_ts; j-- > 0 && p->ts[j] > now - r->interval_ms;) in++;
    if (in + weight <= r->limit) continue;
    *failing = r;
    size_t idx = (size_t)(r->limit - weight); /* peek from the latest */
    if (idx >= p->n_ts) return 0;
    int64_t bound = p->ts[p->n_ts - 1 - idx];
    int64_t w = bound - (now - r->interval_ms);
    return w > 0 ? w : 0;
  }
  return 0;
}

static void fmt_rate(char *buf, size_t n, int64_t limit, int64_t ms) {
  sl_buf b;
  sl_buf_init(&b, 256);
  sl_td_str(ms * 1000, &b);
  snprintf(buf, n, "%lld per %s", (long long)limit, sl_buf_cstr(&b));
  sl_buf_dispose(&b);
}

sl_code lc_budget_acquire(lc_source *src, lc_budget *b, const char *method, const char *url, const json_t *headers,
                          const char *murl, sl_err *err) {
  if (!b) return SL_EOK;
  req r = {method, url, headers};
  int weight = 1;
  policy *p = matching(b, &r, &weight);
  if (!p || p->k == P_UNLIMITED) return SL_EOK;
  if (p->k == P_FIXED && weight > p->call_limit)
    return sl_err_set(err, SL_ECONFIG, "%s: a request's weight %d exceeds the call limit %lld", LC_WHERE(src, p->node),
                      weight, (long long)p->call_limit);
  if (p->k == P_MOVING) {
    int64_t lowest = INT64_MAX;
    for (size_t i = 0; i < p->n_rates; i++) lowest = p->rates[i].limit < lowest ? p->rates[i].limit : lowest;
    if (weight > lowest)
      return sl_err_set(err, SL_ECONFIG, "%s: a request's weight %d exceeds the lowest configured rate limit (%lld)",
                        LC_WHERE(src, p->node), weight, (long long)lowest);
  }
  for (int attempt = 1; attempt < MAX_ACQUIRE; attempt++) {
    int64_t wait = 0;
    char what[200];
    if (p->k == P_FIXED) {
      fixed_window(b, p);
      if (p->calls + weight <= p->call_limit) {
        p->calls += weight;
        return SL_EOK;
      }
      wait = p->next_reset_ms - now_ms(b);
      fmt_rate(what, sizeof what, p->call_limit, p->period_ms);
    } else {
      const rate *failing = NULL;
      wait = moving_wait(b, p, weight, &failing);
      if (!failing) {
        if (put_ts(p, now_ms(b), weight)) return sl_err_set(err, SL_ENOMEM, "out of memory");
        return SL_EOK;
      }
      fmt_rate(what, sizeof what, failing->limit, failing->interval_ms);
    }
    if (wait < 0) wait = 0;
    lc_log(src, "INFO", "%s %s: the API budget allows %s (%s at %s); waiting %.1f s (attempt %d)", method, murl, what,
           p->k == P_FIXED ? "FixedWindowCallRatePolicy" : "MovingWindowCallRatePolicy", LC_WHERE(src, p->node),
           (double)wait / 1000, attempt);
    lc_rate_limited(src, p->k == P_FIXED ? p->next_reset_ms : 0);
    lc_sleep((double)wait / 1000);
    if (b->virt) b->vnow_ms += wait ? wait : 1;
  }
  return sl_err_set(err, SL_ETRANSIENT, "%s %s: no call credit from the API budget after %d attempts", method, murl,
                    MAX_ACQUIRE);
}

void lc_budget_update(lc_budget *b, const char *method, const char *url, const json_t *headers,
                      const sl_http_resp *resp) {
  if (!b || !resp->status) return;
  req r = {method, url, headers};
  int weight;
  policy *p = matching(b, &r, &weight);
  if (!p) return;
  const char *rem = sl_http_header(resp, b->remaining_header);
  const char *rst = sl_http_header(resp, b->reset_header);
  bool have_avail = false, have_reset = false;
  int64_t avail = 0, reset_ms = 0;
  if (rem && *rem) {
    have_avail = true;
    avail = strtoll(rem, NULL, 10);
  } else {
    size_t i;
    json_t *c;
    json_array_foreach(b->ratelimit_codes, i, c) if (json_integer_value(c) == resp->status) have_avail = true;
  }
  if (rst && *rst) {
    have_reset = true;
    reset_ms = strtoll(rst, NULL, 10) * 1000; /* epoch seconds */
  }
  if (p->k == P_FIXED) {
    fixed_window(b, p);
    /* more calls than our own limit allows are ignored, as the CDK */
    if (have_avail && p->call_limit - p->calls > avail) p->calls = p->call_limit - avail;
    if (have_reset) p->next_reset_ms = reset_ms;
  } else if (p->k == P_MOVING && have_avail && !have_reset && avail == 0) {
    /* the CDK's "best effort" sync: one call is added while the bucket holds
     * fewer than the first rate's limit */
    if ((int64_t)p->n_ts < p->rates[0].limit) put_ts(p, now_ms(b), 1);
  }
}

/* ---- STREAM_STATUS RUNNING with reason RATE_LIMITED ---- */

void lc_rate_limited(lc_source *src, int64_t quota_reset_ms) {
  if (!src->cur_read || !src->cur_stream) return; /* only while reading a stream */
  sl_read_flush(src->cur_read); /* the status follows what was read before it */
  json_t *reason = json_pack("{s:s}", "type", "RATE_LIMITED");
  if (quota_reset_ms > 0) json_object_set_new(reason, "rate_limited", json_pack("{s:I}", "quota_reset", (json_int_t)quota_reset_ms));
  json_t *m = json_pack("{s:s, s:{s:s, s:I, s:{s:{s:s}, s:s, s:[o]}}}", "type", "TRACE", "trace", "type", "STREAM_STATUS",
                        "emitted_at", (json_int_t)(lc_now_us() / 1000), "stream_status", "stream_descriptor", "name",
                        src->cur_stream, "status", "RUNNING", "reasons", reason);
  char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  }
  free(s);
  json_decref(m);
}

/* ---- HttpRequestRegexMatcher for other components (tokenpool.c's quota
 * pools classify requests with it) ---- */

sl_code lc_matcher_build(lc_source *src, const json_t *node, lc_matcher **out, sl_err *err) {
  matcher *m = calloc(1, sizeof *m);
  *out = (lc_matcher *)m;
  return m ? build_matcher(src, node, m, err) : sl_err_set(err, SL_ENOMEM, "out of memory");
}

bool lc_matcher_hit(const lc_matcher *lm, const char *method, const char *url, const json_t *headers) {
  req r = {method, url, headers};
  return matcher_hit((const matcher *)lm, &r);
}

void lc_matcher_free(lc_matcher *lm) {
  matcher *m = (matcher *)lm;
  if (!m) return;
  free(m->method);
  free(m->url_base);
  pcre2_code_free(m->path_re);
  json_decref(m->params);
  json_decref(m->headers);
  free(m);
}
