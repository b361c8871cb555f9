/* HTTP client on libcurl: one easy handle per client, reset per request
 * (curl_easy_reset keeps live connections, so keep-alive survives). */
#include "sluice/http.h"

#include <ctype.h>
#include <pthread.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#define DEBUG_BODY_MAX 4096

struct sl_http {
  CURL *curl;
  sl_http_opts o;
  const char *ca;
  sl_http_debug_fn debug;
  void *debug_ud;
  char **secrets;
  size_t n_secrets;
  sl_http_resp *cur; /* response being received */
  bool over_limit;
  /* A prefetch: the next request, sent on this handle by a thread while the
   * caller works on the previous response (see sl_http_prefetch). */
  bool pf_running;
  pthread_t pf_thread;
  char *pf_method, *pf_url, *pf_body, **pf_headers;
  size_t pf_body_len;
  sl_http_resp pf_resp;
  sl_code pf_rc;
  sl_err pf_err;
};

static sl_code send_now(sl_http *h, const sl_http_req *req, sl_http_resp *r, sl_err *err);
static void pf_finish(sl_http *h);
static void pf_clear(sl_http *h);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

sl_http *sl_http_new(const sl_http_opts *opts, sl_err *err) {
  pthread_once(&g_once, global_init);
  sl_http *h = calloc(1, sizeof *h);
  if (!h) return sl_err_set(err, SL_ENOMEM, "HTTP client: out of memory"), NULL;
  if (opts) h->o = *opts;
  if (!h->o.connect_timeout_ms) h->o.connect_timeout_ms = 30000;
  if (!h->o.timeout_ms) h->o.timeout_ms = 600000;
  if (!h->o.max_redirects) h->o.max_redirects = 10;
  if (!h->o.max_body) h->o.max_body = (size_t)256 << 20;
  if (!h->o.user_agent) h->o.user_agent = "sluice";
  const char *vars[] = {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"};
  for (size_t i = 0; i < 3 && !h->ca; i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) h->ca = v;
  }
  h->curl = curl_easy_init();
  if (!h->curl) {
    free(h);
    sl_err_set(err, SL_EINTERNAL, "HTTP client: curl_easy_init failed");
    return NULL;
  }
  return h;
}

void sl_http_free(sl_http *h) {
  if (!h) return;
  pf_finish(h);
  pf_clear(h);
  if (h->pf_resp.body.max) sl_http_resp_dispose(&h->pf_resp);
  curl_easy_cleanup(h->curl);
  for (size_t i = 0; i < h->n_secrets; i++) free(h->secrets[i]);
  free(h->secrets);
  free(h);
}

void sl_http_resp_init(sl_http_resp *r) {
  memset(r, 0, sizeof *r);
  sl_buf_init(&r->body, (size_t)1 << 40);
  sl_buf_init(&r->headers, 1 << 20);
}

void sl_http_resp_dispose(sl_http_resp *r) {
  sl_buf_dispose(&r->body);
  sl_buf_dispose(&r->headers);
}

void sl_http_set_debug(sl_http *h, sl_http_debug_fn fn, void *ud) {
  h->debug = fn;
  h->debug_ud = ud;
}

static void add_secret_str(sl_http *h, const char *s) {
  if (!s || strlen(s) < 2) return;
  for (size_t i = 0; i < h->n_secrets; i++)
    if (!strcmp(h->secrets[i], s)) return;
  char **nv = realloc(h->secrets, (h->n_secrets + 1) * sizeof *nv);
  if (!nv) return;
  h->secrets = nv;
  if ((nv[h->n_secrets] = strdup(s))) h->n_secrets++;
}

void sl_http_add_secret(sl_http *h, const char *secret) {
  if (!secret) return;
  add_secret_str(h, secret);
  /* The forms a secret takes inside a URL or a form body. */
  for (int plus = 0; plus < 2; plus++) {
    sl_buf b;
    sl_buf_init(&b, 1 << 20);
    if (sl_url_encode(&b, secret, strlen(secret), plus) == SL_EOK) add_secret_str(h, sl_buf_cstr(&b));
    sl_buf_dispose(&b);
  }
}

char *sl_http_mask(const sl_http *h, const char *text) {
  sl_buf b;
  sl_buf_init(&b, (size_t)1 << 40);
  for (const char *p = text; *p;) {
    size_t best = 0;
    for (size_t i = 0; h && i < h->n_secrets; i++) {
      size_t n = strlen(h->secrets[i]);
      if (n > best && !strncmp(p, h->secrets[i], n)) best = n;
    }
    if (best) {
      sl_buf_append(&b, "**********", 10);
      p += best;
    } else {
      sl_buf_putc(&b, *p++);
    }
  }
  sl_buf_cstr(&b);
  return b.data ? b.data : strdup("");
}

/* Header names whose values never appear in logs. */
static bool sensitive_header(const char *name, size_t n) {
  static const char *names[] = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                                "x-api-key", "api-key", "apikey", "x-auth-token", "x-access-token"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && !strncasecmp(name, names[i], n)) return true;
  return false;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  sl_http *h = ud;
  size_t len = sz * n;
  if (h->cur->body.len + len > h->o.max_body) {
    h->over_limit = true;
    return 0;
  }
  if (sl_buf_put(&h->cur->body, p, len)) return 0;
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  sl_http *h = ud;
  size_t len = sz * n;
  sl_http_resp *r = h->cur;
  if (len >= 5 && !memcmp(p, "HTTP/", 5)) { /* a new response (after a redirect or 100) */
    r->headers.len = 0;
    r->n_headers = 0;
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (!colon) return len;
  size_t nl = (size_t)(colon - p);
  const char *v = colon + 1, *end = p + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  for (size_t i = 0; i < nl; i++) sl_buf_putc(&r->headers, (char)tolower((unsigned char)p[i]));
  sl_buf_putc(&r->headers, 0);
  sl_buf_put(&r->headers, v, (size_t)(end - v));
  sl_buf_putc(&r->headers, 0);
  r->n_headers++;
  return len;
}

bool sl_http_header_at(const sl_http_resp *r, size_t i, const char **name, const char **value) {
  if (i >= r->n_headers) return false;
  const char *p = r->headers.data;
  for (size_t k = 0; k < i; k++) {
    p += strlen(p) + 1;
    p += strlen(p) + 1;
  }
  *name = p;
  *value = p + strlen(p) + 1;
  return true;
}

const char *sl_http_header(const sl_http_resp *r, const char *name) {
  const char *p = r->headers.data;
  for (size_t k = 0; k < r->n_headers; k++) {
    const char *v = p + strlen(p) + 1;
    if (!strcasecmp(p, name)) return v;
    p = v + strlen(v) + 1;
  }
  return NULL;
}

/* Repeated headers become one, values joined with ", " (as requests does). */
static void join_repeated(sl_http_resp *r) {
  sl_buf nb;
  sl_buf_init(&nb, r->headers.max);
  size_t n = 0;
  const char *p = r->headers.data;
  bool dup = false;
  for (size_t k = 0; k < r->n_headers && !dup; k++) {
    const char *v = p + strlen(p) + 1;
    if (sl_http_header(r, p) != v) dup = true;
    p = v + strlen(v) + 1;
  }
  if (!dup) {
    sl_buf_dispose(&nb);
    return;
  }
  p = r->headers.data;
  for (size_t k = 0; k < r->n_headers; k++) {
    const char *v = p + strlen(p) + 1;
    const char *next = v + strlen(v) + 1;
    if (sl_http_header(r, p) == v) { /* first occurrence: gather the others */
      sl_buf_append(&nb, p, strlen(p) + 1);
      sl_buf_append(&nb, v, strlen(v));
      const char *q = next;
      for (size_t j = k + 1; j < r->n_headers; j++) {
        const char *w = q + strlen(q) + 1;
        if (!strcmp(q, p)) {
          sl_buf_append(&nb, ", ", 2);
          sl_buf_append(&nb, w, strlen(w));
        }
        q = w + strlen(w) + 1;
      }
      sl_buf_putc(&nb, 0);
      n++;
    }
    p = next;
  }
  sl_buf_dispose(&r->headers);
  r->headers = nb;
  r->n_headers = n;
}

double sl_http_retry_after(const sl_http_resp *r) {
  const char *v = sl_http_header(r, "retry-after");
  if (!v || !*v) return -1;
  char *end;
  double d = strtod(v, &end);
  if (end != v && *end == 0) return d < 0 ? 0 : d;
  time_t t = curl_getdate(v, NULL);
  if (t < 0) return -1;
  double wait = difftime(t, time(NULL));
  return wait < 0 ? 0 : wait;
}

/* ---- debug log ---- */

static void debug_emit(sl_http *h, sl_buf *b) {
  char *m = sl_http_mask(h, sl_buf_cstr(b));
  h->debug(h->debug_ud, m);
  free(m);
}

static void debug_body(sl_buf *b, const char *body, size_t len) {
  if (!body || !len) return;
  sl_buf_append(b, "\n", 1);
  size_t n = len > DEBUG_BODY_MAX ? DEBUG_BODY_MAX : len;
  sl_buf_append(b, body, n);
  if (n < len) sl_buf_appendf(b, "... (%zu bytes in all)", len);
}

static void debug_request(sl_http *h, const sl_http_req *req) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_buf_appendf(&b, "HTTP request: %s %s", req->method ? req->method : "GET", req->url);
  for (const char *const *hp = req->headers; hp && *hp; hp++) {
    const char *colon = strchr(*hp, ':');
    if (colon && sensitive_header(*hp, (size_t)(colon - *hp)))
      sl_buf_appendf(&b, "\n%.*s: **********", (int)(colon - *hp), *hp);
    else
      sl_buf_appendf(&b, "\n%s", *hp);
  }
  debug_body(&b, req->body, req->body_len);
  debug_emit(h, &b);
  sl_buf_dispose(&b);
}

static void debug_response(sl_http *h, const sl_http_resp *r, bool withhold) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  if (r->status)
    sl_buf_appendf(&b, "HTTP response: %ld from %s (%.3f s, %zu bytes)", r->status, r->url, r->seconds,
                   r->body.len);
  else
    sl_buf_appendf(&b, "HTTP response: none from %s: %s", r->url, r->error);
  const char *name, *value;
  for (size_t i = 0; sl_http_header_at(r, i, &name, &value); i++)
    sl_buf_appendf(&b, "\n%s: %s", name, sensitive_header(name, strlen(name)) ? "**********" : value);
  if (withhold && r->body.len) sl_buf_appendf(&b, "\n(body withheld: it carries credentials)");
  else debug_body(&b, r->body.data, r->body.len);
  debug_emit(h, &b);
  sl_buf_dispose(&b);
}

/* ---- sending ---- */

/* ---- prefetch ---- */

static void pf_clear(sl_http *h) {
  free(h->pf_method);
  free(h->pf_url);
  free(h->pf_body);
  for (char **p = h->pf_headers; p && *p; p++) free(*p);
  free(h->pf_headers);
  h->pf_method = h->pf_url = h->pf_body = NULL;
  h->pf_headers = NULL;
}

static void *pf_main(void *ud) {
  sl_http *h = ud;
  sl_http_req req = {h->pf_method, h->pf_url, (const char *const *)h->pf_headers, h->pf_body, h->pf_body_len, false};
  h->pf_err = (sl_err)SL_ERR_INIT;
  h->pf_rc = send_now(h, &req, &h->pf_resp, &h->pf_err);
  return NULL;
}

/* Waits for a running prefetch (its result stays in pf_*). */
static void pf_finish(sl_http *h) {
  if (!h->pf_running) return;
  pthread_join(h->pf_thread, NULL);
  h->pf_running = false;
}

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* Whether req is the request prefetched. */
static bool pf_same(const sl_http *h, const sl_http_req *req) {
  if (!str_eq(req->method ? req->method : "GET", h->pf_method) || !str_eq(req->url, h->pf_url)) return false;
  if ((req->body != NULL) != (h->pf_body != NULL)) return false;
  if (req->body && (req->body_len != h->pf_body_len || memcmp(req->body, h->pf_body, req->body_len))) return false;
  size_t i = 0;
  for (; req->headers && req->headers[i]; i++)
    if (!h->pf_headers[i] || strcmp(req->headers[i], h->pf_headers[i])) return false;
  return !h->pf_headers[i];
}

void sl_http_prefetch(sl_http *h, const sl_http_req *req) {
  if (h->debug || req->secret_response) return; /* the debug log is written in order, by the caller's thread */
  pf_finish(h);
  pf_clear(h);
  size_t nh = 0;
  while (req->headers && req->headers[nh]) nh++;
  h->pf_method = strdup(req->method ? req->method : "GET");
  h->pf_url = strdup(req->url);
  h->pf_headers = calloc(nh + 1, sizeof *h->pf_headers);
  h->pf_body_len = req->body_len;
  if (req->body && (h->pf_body = malloc(req->body_len + 1))) memcpy(h->pf_body, req->body, req->body_len);
  bool ok = h->pf_method && h->pf_url && h->pf_headers && (!req->body || h->pf_body);
  for (size_t i = 0; ok && i < nh; i++) ok = (h->pf_headers[i] = strdup(req->headers[i])) != NULL;
  if (!h->pf_resp.body.max) sl_http_resp_init(&h->pf_resp);
  if (ok && !pthread_create(&h->pf_thread, NULL, pf_main, h)) h->pf_running = true;
  else pf_clear(h);
}

sl_code sl_http_send(sl_http *h, const sl_http_req *req, sl_http_resp *r, sl_err *err) {
  if (h->pf_method) {
    pf_finish(h);
    bool same = pf_same(h, req);
    pf_clear(h);
    if (same) { /* the prefetched response is this request's */
      sl_http_resp t = *r;
      *r = h->pf_resp;
      h->pf_resp = t;
      if (h->pf_rc) sl_err_set(err, h->pf_rc, "%s", h->pf_err.msg);
      return h->pf_rc;
    }
  }
  return send_now(h, req, r, err);
}

static sl_code send_now(sl_http *h, const sl_http_req *req, sl_http_resp *r, sl_err *err) {
  CURL *c = h->curl;
  const char *method = req->method ? req->method : "GET";
  r->body.len = 0;
  r->headers.len = 0;
  r->n_headers = 0;
  r->status = 0;
  r->error[0] = 0;
  r->transient = false;
  snprintf(r->url, sizeof r->url, "%s", req->url);
  h->cur = r;
  h->over_limit = false;

  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, req->url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_USERAGENT, h->o.user_agent);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (h->o.max_redirects > 0) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, h->o.max_redirects);
  }
  if (h->ca) curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
  if (req->body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    if (strcmp(method, "POST")) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (!strcmp(method, "POST")) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
  } else if (!strcmp(method, "HEAD")) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET")) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  struct curl_slist *hl = NULL;
  bool has_ct = false;
  for (const char *const *hp = req->headers; hp && *hp; hp++) {
    if (!strncasecmp(*hp, "content-type:", 13)) has_ct = true;
    hl = curl_slist_append(hl, *hp);
  }
  /* libcurl would label a body form-encoded; requests sends no type. */
  if (req->body && !has_ct) hl = curl_slist_append(hl, "Content-Type:");
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

  if (h->debug) debug_request(h, req);
  CURLcode cc = curl_easy_perform(c);
  curl_slist_free_all(hl);
  h->cur = NULL;
  double secs = 0;
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &secs);
  r->seconds = secs;
  char *eff = NULL;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
    snprintf(r->url, sizeof r->url, "%s", eff);
  sl_buf_cstr(&r->body);
  join_repeated(r);
  sl_code rc = SL_EOK;
  if (cc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  } else {
    r->status = 0;
    snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(cc));
    switch (cc) {
      case CURLE_WRITE_ERROR:
        if (h->over_limit) {
          snprintf(r->error, sizeof r->error, "response body larger than %zu bytes", h->o.max_body);
          rc = SL_ELIMIT;
        } else {
          rc = SL_ENOMEM;
        }
        break;
      case CURLE_TOO_MANY_REDIRECTS:
        snprintf(r->error, sizeof r->error, "more than %ld redirects (a redirect loop?)", h->o.max_redirects);
        rc = SL_ESOURCE;
        break;
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        rc = SL_ECONFIG;
        break;
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_COULDNT_CONNECT:
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
      case CURLE_BAD_CONTENT_ENCODING:
        r->transient = true;
        rc = SL_ETRANSIENT;
        break;
      default:
        rc = SL_ESOURCE;
        break;
    }
  }
  if (h->debug) debug_response(h, r, req->secret_response);
  if (rc) {
    char *murl = sl_http_mask(h, req->url);
    sl_err_set(err, rc, "%s %s: %s", method, murl, r->error);
    free(murl);
  }
  return rc;
}

/* ---- URLs ---- */

sl_code sl_url_encode(sl_buf *out, const char *s, size_t len, bool plus) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == '~') {
      if (sl_buf_putc(out, (char)ch)) return SL_ELIMIT;
    } else if (ch == ' ' && plus) {
      if (sl_buf_putc(out, '+')) return SL_ELIMIT;
    } else {
      char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
      if (sl_buf_put(out, e, 3)) return SL_ELIMIT;
    }
  }
  return SL_EOK;
}

char *sl_url_join(const char *base, const char *ref, sl_err *err) {
  CURLU *u = curl_url();
  if (!u) return sl_err_set(err, SL_ENOMEM, "out of memory"), NULL;
  char *out = NULL;
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE);
  if (uc) {
    sl_err_set(err, SL_ECONFIG, "invalid base URL \"%s\": %s", base, curl_url_strerror(uc));
  } else if (ref && *ref &&
             (uc = curl_url_set(u, CURLUPART_URL, ref, CURLU_NON_SUPPORT_SCHEME | CURLU_URLENCODE))) {
    sl_err_set(err, SL_ECONFIG, "invalid URL \"%s\" (relative to \"%s\"): %s", ref, base, curl_url_strerror(uc));
  } else if ((uc = curl_url_get(u, CURLUPART_URL, &out, 0))) {
    sl_err_set(err, SL_ECONFIG, "invalid URL \"%s\": %s", base, curl_url_strerror(uc));
  }
  curl_url_cleanup(u);
  if (!out) return NULL;
  char *copy = strdup(out);
  curl_free(out);
  return copy;
}
