/* Authenticators (notes §6.7): NoAuth, ApiKey, Bearer, BasicHttp,
 * Selective, SessionToken, LegacySessionToken, Jwt (jwt.c),
 * RateLimitedMultipleToken (tokenpool.c) and OAuth (refresh token, client
 * credentials, JWT profile assertion, rotating refresh tokens written back
 * through CONTROL messages). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lc.h"

typedef enum { AU_NONE, AU_APIKEY, AU_BEARER, AU_BASIC, AU_OAUTH, AU_SESSION, AU_JWT, AU_LEGACY, AU_TOKENS } au_kind;

struct lc_auth {
  au_kind kind;
  lc_source *src;
  const json_t *node;
  /* ApiKey / Bearer / Basic */
  sl_tmpl *token, *user, *pass, *legacy_header;
  lc_reqopt opt;
  /* OAuth */
  sl_tmpl *endpoint, *client_id, *client_secret, *refresh_token, *access_token_value, *grant_type;
  sl_tmpl *expiry_date, *expiry_format;
  lc_ttree *refresh_body, *refresh_headers;
  json_t *scopes;
  const char *access_name, *expires_name, *client_id_name, *client_secret_name, *refresh_name,
      *grant_type_name;
  bool as_query;
  json_t *error_codes, *error_values;
  const char *error_key;
  /* rotating refresh tokens */
  bool rotating;
  json_t *rt_path, *at_path, *exp_path;
  const char *rt_response_name;
  /* current token */
  char *access;
  int64_t expires_us;
  /* SessionToken */
  lc_requester *login;
  json_t *token_path;
  int64_t session_ttl_us; /* 0: log in again for every request */
  bool session_bearer;
  /* Jwt, and OAuth's profile assertion (used when use_assertion renders true) */
  lc_jwt *jwt;
  sl_tmpl *use_assertion;
  /* LegacySessionToken: token/user/pass reused; api_url is the requester's url_base */
  sl_tmpl *header, *login_url, *validate_url, *response_key, *api_url;
  bool checked; /* the configured session token was validated once */
  lc_tokpool *pool; /* RateLimitedMultipleToken */
};

static json_t *auth_ctx(lc_source *src, const json_t *node) { return lc_ctx_new(src, node); }

static char *eval_text(lc_auth *a, const sl_tmpl *t, const char *extra_key, const char *extra_val,
                       sl_err *err, sl_code *rc) {
  json_t *ctx = auth_ctx(a->src, a->node);
  if (extra_key) json_object_set_new(ctx, extra_key, json_string(extra_val));
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_code r = lc_eval_text(t, ctx, &b, *rc ? &(sl_err){SL_EOK, {0}} : err);
  if (!*rc) *rc = r;
  json_decref(ctx);
  char *s = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return s;
}

/* ISO-8601 duration with days/hours/minutes/seconds (PT1H, P1D, PT30M). */
int64_t lc_parse_duration_us(const char *s) {
  if (!s || *s != 'P') return -1;
  double total = 0;
  bool t = false;
  for (const char *p = s + 1; *p;) {
    if (*p == 'T') {
      t = true;
      p++;
      continue;
    }
    char *end;
    double v = strtod(p, &end);
    if (end == p) return -1;
    switch (*end) {
      case 'W': total += v * 7 * 86400; break;
      case 'D': total += v * 86400; break;
      case 'H': total += v * 3600; break;
      case 'M': total += t ? v * 60 : v * 30 * 86400; break;
      case 'S': total += v; break;
      case 'Y': total += v * 365 * 86400; break;
      default: return -1;
    }
    p = end + 1;
  }
  return (int64_t)(total * 1e6);
}

/* "2024-01-01T00:00:00[.ffffff][Z|+00:00]" (naive = UTC) to µs, or -1. */
int64_t lc_parse_iso_us(const char *s) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
  if (!p) return -1;
  int64_t us = (int64_t)timegm(&tm) * 1000000;
  if (*p == '.') {
    double frac = strtod(p, (char **)&p);
    us += (int64_t)(frac * 1e6);
  }
  if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (sscanf(p + 1, "%d:%d", &hh, &mm) >= 1) us -= (*p == '-' ? -1 : 1) * ((int64_t)hh * 3600 + mm * 60) * 1000000;
  }
  return us;
}

static const char *str_or(const json_t *node, const char *k, const char *dflt) {
  const char *v = json_string_value(json_object_get(node, k));
  return v ? v : dflt;
}

static json_t *path_or(const json_t *node, const char *k, const char *a, const char *b) {
  const json_t *v = json_object_get(node, k);
  if (json_is_array(v)) return json_incref((json_t *)v);
  return json_pack("[s,s]", a, b);
}

/* Several template fields of node at once. */
typedef struct tfield {
  const char *name;
  sl_tmpl **out;
} tfield;
static sl_code tmpl_fields(lc_source *src, const json_t *node, const tfield *f, sl_err *err) {
  for (; f->name; f++) {
    sl_code rc = lc_tmpl_field(src, node, f->name, f->out, err);
    if (rc) return rc;
  }
  return SL_EOK;
}

sl_code lc_auth_build(lc_source *src, const json_t *node, lc_auth **out, sl_err *err) {
  *out = NULL;
  const char *type = json_string_value(json_object_get(node, "type"));
  if (!type) return sl_err_set(err, SL_ECONFIG, "%s: authenticator without a type", LC_WHERE(src, node));
  if (!strcmp(type, "SelectiveAuthenticator")) {
    const json_t *path = json_object_get(node, "authenticator_selection_path");
    size_t n = json_array_size(path);
    const json_t *cur = src->config;
    for (size_t i = 0; i < n && cur; i++) cur = json_object_get(cur, json_string_value(json_array_get(path, i)) ?: "");
    char *sel = NULL;
    if (cur) {
      sl_buf b;
      sl_buf_init(&b, 1 << 16);
      lc_pystr(&b, cur);
      sel = strdup(sl_buf_cstr(&b));
      sl_buf_dispose(&b);
    }
    char *ps = sl_json_dumps(path);
    sl_code rc;
    const json_t *chosen = sel ? json_object_get(json_object_get(node, "authenticators"), sel) : NULL;
    if (!sel)
      rc = sl_err_set(err, SL_ECONFIG, "%s: the config has no value at authenticator_selection_path %s",
                      LC_WHERE(src, node), ps ? ps : "");
    else if (!chosen)
      rc = sl_err_set(err, SL_ECONFIG, "%s: no authenticator named \"%s\" (the config value at %s)",
                      LC_WHERE(src, node), sel, ps ? ps : "");
    else
      rc = lc_auth_build(src, chosen, out, err);
    free(sel);
    free(ps);
    return rc;
  }
  lc_auth *a = calloc(1, sizeof *a);
  if (!a) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = a;
  a->src = src;
  a->node = node;
  sl_code rc = SL_EOK;
  if (!strcmp(type, "NoAuth")) {
    a->kind = AU_NONE;
  } else if (!strcmp(type, "ApiKeyAuthenticator")) {
    a->kind = AU_APIKEY;
    if ((rc = lc_tmpl_field(src, node, "api_token", &a->token, err)) ||
        (rc = lc_tmpl_field(src, node, "header", &a->legacy_header, err)) ||
        (rc = lc_reqopt_build(src, json_object_get(node, "inject_into"), &a->opt, err)))
      return rc;
    if (!a->opt.present && !a->legacy_header)
      return sl_err_set(err, SL_ECONFIG, "%s: ApiKeyAuthenticator needs inject_into (or header)", LC_WHERE(src, node));
  } else if (!strcmp(type, "BearerAuthenticator")) {
    a->kind = AU_BEARER;
    rc = lc_tmpl_field(src, node, "api_token", &a->token, err);
  } else if (!strcmp(type, "BasicHttpAuthenticator")) {
    a->kind = AU_BASIC;
    if (!(rc = lc_tmpl_field(src, node, "username", &a->user, err)))
      rc = lc_tmpl_field(src, node, "password", &a->pass, err);
  } else if (!strcmp(type, "OAuthAuthenticator")) {
    a->kind = AU_OAUTH;
    const tfield fs[] = {{"token_refresh_endpoint", &a->endpoint}, {"client_id", &a->client_id},
                         {"client_secret", &a->client_secret},      {"refresh_token", &a->refresh_token},
                         {"access_token_value", &a->access_token_value}, {"grant_type", &a->grant_type},
                         {"token_expiry_date", &a->expiry_date},    {"token_expiry_date_format", &a->expiry_format},
                         {NULL, NULL}};
    if ((rc = tmpl_fields(src, node, fs, err)) ||
        (rc = lc_ttree_build(src, node, "refresh_request_body", &a->refresh_body, err)) ||
        (rc = lc_ttree_build(src, node, "refresh_request_headers", &a->refresh_headers, err)))
      return rc;
    const json_t *pa = json_object_get(node, "profile_assertion"), *use = json_object_get(node, "use_profile_assertion");
    if (use && !json_is_false(use) && !json_is_null(use)) {
      if (!pa || !json_is_object(pa))
        return sl_err_set(err, SL_ECONFIG, "%s: use_profile_assertion needs a profile_assertion (a JwtAuthenticator)",
                          LC_WHERE(src, node));
      if (json_is_true(use)) a->use_assertion = sl_tmpl_compile("true", "use_profile_assertion", err);
      else if ((rc = lc_tmpl_field(src, node, "use_profile_assertion", &a->use_assertion, err))) return rc;
    }
    if (pa && json_is_object(pa) && (rc = lc_jwt_build(src, pa, &a->jwt, err))) return rc;
    a->scopes = json_incref(json_object_get(node, "scopes"));
    a->access_name = str_or(node, "access_token_name", "access_token");
    a->expires_name = str_or(node, "expires_in_name", "expires_in");
    a->client_id_name = str_or(node, "client_id_name", "client_id");
    a->client_secret_name = str_or(node, "client_secret_name", "client_secret");
    a->refresh_name = str_or(node, "refresh_token_name", "refresh_token");
    a->grant_type_name = str_or(node, "grant_type_name", "grant_type");
    a->as_query = json_is_true(json_object_get(node, "send_refresh_request_as_query_params"));
    const json_t *upd = json_object_get(node, "refresh_token_updater");
    a->error_codes = json_incref(json_object_get(upd ? upd : node, "refresh_token_error_status_codes"));
    a->error_values = json_incref(json_object_get(upd ? upd : node, "refresh_token_error_values"));
    a->error_key = json_string_value(json_object_get(upd ? upd : node, "refresh_token_error_key"));
    if (!json_array_size(a->error_codes)) {
      json_decref(a->error_codes);
      a->error_codes = json_pack("[i]", 400);
    }
    if (!json_array_size(a->error_values)) {
      json_decref(a->error_values);
      a->error_values = json_pack("[s,s]", "invalid_grant", "invalid_permissions");
    }
    if (!a->error_key || !*a->error_key) a->error_key = "error";
    if (upd && json_is_object(upd)) {
      a->rotating = true;
      a->rt_response_name = str_or(upd, "refresh_token_name", "refresh_token");
      a->rt_path = path_or(upd, "refresh_token_config_path", "credentials", "refresh_token");
      a->at_path = path_or(upd, "access_token_config_path", "credentials", "access_token");
      a->exp_path = path_or(upd, "token_expiry_date_config_path", "credentials", "token_expiry_date");
    }
    if (!a->endpoint && !a->access_token_value)
      return sl_err_set(err, SL_ECONFIG, "%s: OAuthAuthenticator needs token_refresh_endpoint (or access_token_value)",
                        LC_WHERE(src, node));
  } else if (!strcmp(type, "SessionTokenAuthenticator")) {
    a->kind = AU_SESSION;
    const json_t *lr = json_object_get(node, "login_requester");
    if (!lr) return sl_err_set(err, SL_ECONFIG, "%s: SessionTokenAuthenticator needs login_requester", LC_WHERE(src, node));
    if ((rc = lc_requester_build(src, lr, &a->login, err))) return rc;
    lc_requester_set_secret_response(a->login);
    a->token_path = json_incref(json_object_get(node, "session_token_path"));
    if (!json_array_size(a->token_path))
      return sl_err_set(err, SL_ECONFIG, "%s: SessionTokenAuthenticator needs session_token_path", LC_WHERE(src, node));
    const char *exp = json_string_value(json_object_get(node, "expiration_duration"));
    if (exp && (a->session_ttl_us = lc_parse_duration_us(exp)) < 0)
      return sl_err_set(err, SL_ECONFIG, "%s: expiration_duration \"%s\" is not an ISO-8601 duration", LC_WHERE(src, node), exp);
    const json_t *ra = json_object_get(node, "request_authentication");
    const char *rat = json_string_value(json_object_get(ra, "type"));
    if (rat && !strcmp(rat, "ApiKey")) {
      rc = lc_reqopt_build(src, json_object_get(ra, "inject_into"), &a->opt, err);
      if (!rc && !a->opt.present) return sl_err_set(err, SL_ECONFIG, "%s: ApiKey request_authentication needs inject_into", LC_WHERE(src, ra));
      if (!rc) rc = lc_tmpl_field(src, ra, "api_token", &a->token, err);
    } else if (rat && !strcmp(rat, "Bearer")) {
      a->session_bearer = true;
    } else {
      return sl_err_set(err, SL_ECONFIG, "%s: request_authentication must be Bearer or ApiKey", LC_WHERE(src, node));
    }
  } else if (!strcmp(type, "LegacySessionTokenAuthenticator")) {
    a->kind = AU_LEGACY;
    const tfield fs[] = {{"header", &a->header},           {"login_url", &a->login_url},
                         {"validate_session_url", &a->validate_url}, {"session_token", &a->token},
                         {"session_token_response_key", &a->response_key}, {"username", &a->user},
                         {"password", &a->pass},           {NULL, NULL}};
    if ((rc = tmpl_fields(src, node, fs, err))) return rc;
    const char *miss = !a->header ? "header" : !a->login_url ? "login_url" : !a->validate_url ? "validate_session_url" : NULL;
    if (miss) return sl_err_set(err, SL_ECONFIG, "%s: LegacySessionTokenAuthenticator needs %s", LC_WHERE(src, node), miss);
  } else if (!strcmp(type, "RateLimitedMultipleTokenAuthenticator")) {
    a->kind = AU_TOKENS;
    rc = lc_tokpool_build(src, node, &a->pool, err);
  } else if (!strcmp(type, "JwtAuthenticator")) {
    a->kind = AU_JWT;
    if ((rc = lc_jwt_build(src, node, &a->jwt, err))) return rc;
    rc = lc_reqopt_build(src, json_object_get(node, "request_option"), &a->opt, err);
  } else if (!strncmp(type, "Custom", 6)) {
    return sl_err_set(err, SL_ECONFIG, "%s: %s needs Python code (class_name), which sluice cannot run", LC_WHERE(src, node), type);
  } else {
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported authenticator \"%s\"", LC_WHERE(src, node), type);
  }
  return rc;
}

void lc_auth_free(lc_auth *a) {
  if (!a) return;
  sl_tmpl *ts[] = {a->token,      a->user,       a->pass,          a->legacy_header,      a->endpoint,
                   a->client_id,  a->client_secret, a->refresh_token, a->access_token_value, a->grant_type,
                   a->expiry_date, a->expiry_format, a->header,       a->login_url,          a->validate_url,
                   a->response_key, a->api_url};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) sl_tmpl_free(ts[i]);
  lc_reqopt_dispose(&a->opt);
  lc_ttree_free(a->refresh_body);
  lc_ttree_free(a->refresh_headers);
  json_decref(a->scopes);
  json_decref(a->error_codes);
  json_decref(a->error_values);
  json_decref(a->rt_path);
  json_decref(a->at_path);
  json_decref(a->exp_path);
  json_decref(a->token_path);
  lc_requester_free(a->login);
  lc_jwt_free(a->jwt);
  lc_tokpool_free(a->pool);
  sl_tmpl_free(a->use_assertion);
  free(a->access);
  free(a);
}

sl_code lc_auth_set_requester(lc_auth *a, const json_t *requester, sl_err *err) {
  if (!a || a->kind != AU_LEGACY) return SL_EOK;
  return lc_tmpl_field(a->src, requester, "url_base", &a->api_url, err);
}

sl_code lc_auth_route(lc_auth *a, sl_http *http, const char *method, const char *url, lc_reqopts *opts, sl_err *err) {
  return a && a->kind == AU_TOKENS ? lc_tokpool_apply(a->pool, http, method, url, opts, err) : SL_EOK;
}

bool lc_auth_routes(const lc_auth *a) { return a && a->kind == AU_TOKENS; }

void lc_auth_observe(lc_auth *a, const sl_http_resp *resp) {
  if (a && a->kind == AU_TOKENS) lc_tokpool_observe(a->pool, resp);
}

void lc_auth_invalidate(lc_auth *a) {
  if (!a) return;
  a->checked = false;
  a->expires_us = 0;
  free(a->access);
  a->access = NULL;
}

static sl_code set_header(lc_reqopts *o, const char *name, const char *value, sl_err *err) {
  if (json_object_get(o->headers, name))
    return sl_err_set(err, SL_ECONFIG, "header %s is set by both the authenticator and another component", name);
  json_object_set_new(o->headers, name, json_string(value));
  return SL_EOK;
}

/* ---- OAuth ---- */

static json_t *config_at(json_t *cfg, const json_t *path) {
  json_t *cur = cfg;
  size_t i;
  json_t *k;
  json_array_foreach(path, i, k) cur = json_object_get(cur, json_string_value(k) ?: "");
  return cur;
}

static void config_put(json_t *cfg, const json_t *path, json_t *v) {
  json_t *cur = cfg;
  size_t n = json_array_size(path);
  for (size_t i = 0; i + 1 < n; i++) {
    const char *k = json_string_value(json_array_get(path, i)) ?: "";
    json_t *next = json_object_get(cur, k);
    if (!json_is_object(next)) {
      next = json_object();
      json_object_set_new(cur, k, next);
    }
    cur = next;
  }
  if (n) json_object_set_new(cur, json_string_value(json_array_get(path, n - 1)) ?: "", v);
  else json_decref(v);
}

/* The CDK looks the token name up anywhere in the response. */
static const json_t *find_key(const json_t *v, const char *key, int depth) {
  if (depth > 8) return NULL;
  if (json_is_object(v)) {
    const json_t *x = json_object_get(v, key);
    if (x) return x;
    const char *k;
    json_t *c;
    json_object_foreach((json_t *)v, k, c) {
      if ((x = find_key(c, key, depth + 1))) return x;
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c) {
      const json_t *x = find_key(c, key, depth + 1);
      if (x) return x;
    }
  }
  return NULL;
}

static sl_code oauth_refresh(lc_auth *a, sl_http *http, sl_err *err) {
  lc_source *src = a->src;
  sl_code rc = SL_EOK;
  char *endpoint = eval_text(a, a->endpoint, NULL, NULL, err, &rc);
  char *grant = a->grant_type ? eval_text(a, a->grant_type, NULL, NULL, err, &rc) : strdup("refresh_token");
  char *cid = eval_text(a, a->client_id, NULL, NULL, err, &rc);
  char *csec = eval_text(a, a->client_secret, NULL, NULL, err, &rc);
  char *rtok;
  if (a->rotating && json_is_string(config_at(src->config, a->rt_path)))
    rtok = strdup(json_string_value(config_at(src->config, a->rt_path)));
  else rtok = eval_text(a, a->refresh_token, NULL, NULL, err, &rc);
  json_t *ctx = auth_ctx(src, a->node);
  json_t *extra = NULL, *hdrs = NULL;
  if (!rc) rc = lc_ttree_eval(a->refresh_body, ctx, SL_TMPL_ANY, &extra, err);
  if (!rc) rc = lc_ttree_eval(a->refresh_headers, ctx, SL_TMPL_ANY, &hdrs, err);
  json_decref(ctx);
  sl_http_add_secret(http, csec);
  sl_http_add_secret(http, rtok);
  json_t *args = json_object();
  const char *k;
  json_t *v;
  char *use = a->use_assertion && !rc ? eval_text(a, a->use_assertion, NULL, NULL, err, &rc) : NULL;
  if (use && (!strcmp(use, "true") || !strcmp(use, "True"))) {
    /* JWT bearer grant (RFC 7523): the assertion is the whole body */
    char *tok = NULL;
    bool fresh;
    if (!rc && !(rc = lc_jwt_token(a->jwt, true, &tok, &fresh, err))) {
      sl_http_add_secret(http, tok);
      json_object_set_new(args, "grant_type", json_string("urn:ietf:params:oauth:grant-type:jwt-bearer"));
      json_object_set_new(args, "assertion", json_string(tok));
    }
    free(tok);
  } else {
    json_object_set_new(args, a->grant_type_name, json_string(grant));
    if (!json_object_get(hdrs, "Authorization")) {
      if (*cid) json_object_set_new(args, a->client_id_name, json_string(cid));
      if (*csec) json_object_set_new(args, a->client_secret_name, json_string(csec));
    }
    if (*rtok) json_object_set_new(args, a->refresh_name, json_string(rtok));
    if (json_array_size(a->scopes)) json_object_set(args, "scopes", a->scopes);
    json_object_foreach(extra, k, v) if (!json_object_get(args, k)) json_object_set(args, k, v);
  }
  free(use);
  sl_buf url, body;
  sl_buf_init(&url, 1 << 20);
  sl_buf_init(&body, 1 << 20);
  sl_buf_append(&url, endpoint, strlen(endpoint));
  sl_buf *dst = a->as_query ? &url : &body;
  bool first = true;
  if (a->as_query) sl_buf_putc(&url, strchr(endpoint, '?') ? '&' : '?');
  json_object_foreach(args, k, v) {
    if (json_is_null(v)) continue;
    json_t *items = json_is_array(v) ? json_incref(v) : json_pack("[O]", v);
    size_t i;
    json_t *x;
    json_array_foreach(items, i, x) {
      if (!first) sl_buf_putc(dst, '&');
      first = false;
      sl_url_encode(dst, k, strlen(k), true);
      sl_buf_putc(dst, '=');
      sl_buf s;
      sl_buf_init(&s, 1 << 20);
      lc_pystr(&s, x);
      sl_url_encode(dst, s.data ? s.data : "", s.len, true);
      sl_buf_dispose(&s);
    }
    json_decref(items);
  }
  size_t nh = json_object_size(hdrs);
  char **hl = calloc(nh + 2, sizeof *hl);
  size_t h = 0;
  json_object_foreach(hdrs, k, v) {
    sl_buf s;
    sl_buf_init(&s, 1 << 20);
    sl_buf_appendf(&s, "%s: ", k);
    lc_pystr(&s, v);
    hl[h++] = strdup(sl_buf_cstr(&s));
    sl_buf_dispose(&s);
  }
  if (!a->as_query) hl[h++] = strdup("Content-Type: application/x-www-form-urlencoded");
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  char *murl = sl_http_mask(http, endpoint);
  double waited = 0;
  for (int attempt = 1; !rc; attempt++) {
    sl_http_req req = {"POST", sl_buf_cstr(&url), (const char *const *)hl, sl_buf_cstr(&body), body.len, true};
    sl_err terr = SL_ERR_INIT;
    sl_code trc = sl_http_send(http, &req, &resp, &terr);
    bool retry = (trc && resp.transient) || resp.status == 429 || resp.status >= 500;
    if (trc && !resp.transient) {
      rc = sl_err_set(err, trc, "OAuth token refresh failed: %s (authenticator at %s)", terr.msg, LC_WHERE(src, a->node));
      break;
    }
    if (retry) {
      double wait = (double)(1u << (attempt - 1 < 10 ? attempt - 1 : 10));
      if (waited + wait > 300 || src->no_retries) {
        rc = sl_err_set(err, SL_ETRANSIENT, "OAuth token refresh failed: POST %s returned %s%ld after %d attempts (authenticator at %s)",
                        murl, resp.status ? "HTTP " : "", resp.status, attempt, LC_WHERE(src, a->node));
        break;
      }
      lc_log(src, "INFO", "OAuth token refresh: POST %s: %s; retrying in %.0f s", murl,
             resp.status ? "server error" : resp.error, wait);
      waited += wait;
      lc_sleep(wait);
      continue;
    }
    json_error_t je;
    json_t *j = resp.body.len ? json_loadb(resp.body.data, resp.body.len, JSON_DECODE_ANY, &je) : NULL;
    if (resp.status >= 400) {
      bool invalid = false;
      size_t i;
      json_t *c;
      json_array_foreach(a->error_codes, i, c) if (json_integer_value(c) == resp.status) invalid = true;
      const char *ev = json_string_value(json_object_get(j, a->error_key));
      bool val = false;
      json_array_foreach(a->error_values, i, c) if (ev && !strcmp(ev, json_string_value(c) ?: "")) val = true;
      if (invalid && val)
        rc = sl_err_set(err, SL_ECONFIG, "Refresh token is invalid or expired (POST %s returned HTTP %ld, %s=%s); "
                        "please re-authenticate (authenticator at %s)", murl, resp.status, a->error_key, ev, LC_WHERE(src, a->node));
      else
        rc = sl_err_set(err, SL_ECONFIG, "OAuth token refresh failed: POST %s returned HTTP %ld: %.300s (authenticator at %s)",
                        murl, resp.status, resp.body.data ? resp.body.data : "", LC_WHERE(src, a->node));
      json_decref(j);
      break;
    }
    const json_t *tok = find_key(j, a->access_name, 0);
    if (!json_is_string(tok) || !json_string_length(tok)) {
      rc = sl_err_set(err, SL_ESOURCE, "OAuth token refresh: the response of POST %s has no \"%s\" (authenticator at %s)",
                      murl, a->access_name, LC_WHERE(src, a->node));
      json_decref(j);
      break;
    }
    free(a->access);
    a->access = strdup(json_string_value(tok));
    sl_http_add_secret(http, a->access);
    const json_t *exp = find_key(j, a->expires_name, 0);
    int64_t now = lc_now_us();
    a->expires_us = now + (int64_t)3600 * 1000000;
    if (json_is_number(exp)) a->expires_us = now + (int64_t)(json_number_value(exp) * 1e6);
    else if (json_is_string(exp)) {
      int64_t t = a->expiry_format ? lc_parse_iso_us(json_string_value(exp)) : -1;
      if (t >= 0) a->expires_us = t;
      else {
        char *end;
        double d = strtod(json_string_value(exp), &end);
        if (end != json_string_value(exp) && !*end) a->expires_us = now + (int64_t)(d * 1e6);
      }
    }
    if (a->rotating) {
      const json_t *nrt = find_key(j, a->rt_response_name, 0);
      config_put(src->config, a->at_path, json_string(a->access));
      if (json_is_string(nrt)) {
        config_put(src->config, a->rt_path, json_incref((json_t *)nrt));
        sl_http_add_secret(http, json_string_value(nrt));
      }
      time_t secs = (time_t)(a->expires_us / 1000000);
      struct tm tm;
      gmtime_r(&secs, &tm);
      char when[64];
      strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
      config_put(src->config, a->exp_path, json_string(when));
      if (src->control_config) rc = src->control_config(src->out_ud, src->config);
    }
    json_decref(j);
    break;
  }
  free(murl);
  sl_http_resp_dispose(&resp);
  for (size_t i = 0; i < h; i++) free(hl[i]);
  free(hl);
  sl_buf_dispose(&url);
  sl_buf_dispose(&body);
  json_decref(args);
  json_decref(extra);
  json_decref(hdrs);
  free(endpoint);
  free(grant);
  free(cid);
  free(csec);
  free(rtok);
  return rc;
}

static sl_code oauth_token(lc_auth *a, sl_http *http, sl_err *err) {
  sl_code rc = SL_EOK;
  int64_t now = lc_now_us();
  if (a->access && now < a->expires_us) return SL_EOK;
  if (!a->access && a->rotating) {
    /* A still-valid access token saved in the config by a previous run. */
    const json_t *at = config_at(a->src->config, a->at_path), *ex = config_at(a->src->config, a->exp_path);
    int64_t until = json_is_string(ex) ? lc_parse_iso_us(json_string_value(ex)) : -1;
    if (json_is_string(at) && json_string_length(at) && until > now) {
      a->access = strdup(json_string_value(at));
      a->expires_us = until;
      sl_http_add_secret(http, a->access);
      return SL_EOK;
    }
  }
  if (!a->endpoint) {
    free(a->access);
    a->access = eval_text(a, a->access_token_value, NULL, NULL, err, &rc);
    a->expires_us = INT64_MAX;
    sl_http_add_secret(http, a->access);
    return rc;
  }
  if (!a->access && !a->rotating && a->access_token_value) {
    char *v = eval_text(a, a->access_token_value, NULL, NULL, err, &rc);
    char *exp = a->expiry_date ? eval_text(a, a->expiry_date, NULL, NULL, err, &rc) : NULL;
    int64_t until = exp ? lc_parse_iso_us(exp) : -1;
    free(exp);
    if (!rc && *v && until > now) {
      a->access = v;
      a->expires_us = until;
      sl_http_add_secret(http, v);
      return SL_EOK;
    }
    free(v);
  }
  return oauth_refresh(a, http, err);
}

/* ---- SessionToken ---- */

static sl_code session_login(lc_auth *a, sl_http *http, sl_err *err) {
  lc_source *src = a->src;
  int64_t now = lc_now_us();
  if (a->access && a->session_ttl_us > 0 && now < a->expires_us) return SL_EOK;
  json_t *ctx = auth_ctx(src, a->node);
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  lc_resolution res;
  sl_code rc = lc_requester_send(a->login, http, ctx, NULL, NULL, &resp, &res, err);
  json_decref(ctx);
  if (!rc && res.action != LC_ACT_SUCCESS)
    rc = sl_err_set(err, SL_ECONFIG, "session token login was not successful (HTTP %ld; authenticator at %s)",
                    resp.status, LC_WHERE(src, a->node));
  json_t *j = NULL;
  if (!rc) {
    json_error_t je;
    j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, JSON_DECODE_ANY, &je);
    size_t n = json_array_size(a->token_path);
    const char **keys = calloc(n + 1, sizeof *keys);
    for (size_t i = 0; i < n; i++) keys[i] = json_string_value(json_array_get(a->token_path, i)) ?: "";
    const json_t *tok = j ? lc_json_path(j, keys, n) : NULL;
    free(keys);
    if (!tok || json_is_null(tok)) {
      char *ps = sl_json_dumps(a->token_path);
      rc = sl_err_set(err, SL_ECONFIG, "session token login: no token at session_token_path %s in the response (authenticator at %s)",
                      ps ? ps : "", LC_WHERE(src, a->node));
      free(ps);
    } else {
      sl_buf b;
      sl_buf_init(&b, 1 << 20);
      lc_pystr(&b, tok);
      free(a->access);
      a->access = strdup(sl_buf_cstr(&b));
      sl_buf_dispose(&b);
      a->expires_us = now + a->session_ttl_us;
      sl_http_add_secret(http, a->access);
    }
  }
  json_decref(j);
  sl_http_resp_dispose(&resp);
  return rc;
}

/* ---- LegacySessionToken: the configured token if the API still takes it
 * (checked once per run; the CDK checks before every request), else a login
 * with username and password (once per run, as the CDK caches it). ---- */

/* GET or POST url (api_url + path template); *resp filled. */
static sl_code legacy_call(lc_auth *a, sl_http *http, const char *method, const sl_tmpl *path, const char *hdr,
                           const char *body, sl_http_resp *resp, char **murl, sl_err *err) {
  sl_code rc = SL_EOK;
  char *base = eval_text(a, a->api_url, NULL, NULL, err, &rc), *p = eval_text(a, path, NULL, NULL, err, &rc);
  char *url = NULL;
  if (!rc && asprintf(&url, "%s%s", base, p) < 0) url = NULL;
  free(base);
  free(p);
  if (rc || !url) {
    free(url);
    return rc ? rc : sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  const char *hl[] = {hdr, NULL};
  sl_http_req req = {method, url, hl, body, body ? strlen(body) : 0, true};
  sl_err terr = SL_ERR_INIT;
  *murl = sl_http_mask(http, url);
  if (sl_http_send(http, &req, resp, &terr) && !resp->status)
    rc = sl_err_set(err, SL_ETRANSIENT, "session token: %s %s failed: %s (authenticator at %s)", method, *murl, terr.msg,
                    LC_WHERE(a->src, a->node));
  free(url);
  return rc;
}

static sl_code legacy_token(lc_auth *a, sl_http *http, sl_err *err) {
  if (a->access) return SL_EOK;
  sl_code rc = SL_EOK;
  char *name = eval_text(a, a->header, NULL, NULL, err, &rc);
  char *tok = a->token ? eval_text(a, a->token, NULL, NULL, err, &rc) : strdup("");
  sl_http_add_secret(http, tok);
  if (!rc && *tok && !a->checked) {
    char *h = NULL, *murl = NULL;
    if (asprintf(&h, "%s: %s", name, tok) < 0) h = NULL;
    sl_http_resp resp;
    sl_http_resp_init(&resp);
    rc = legacy_call(a, http, "GET", a->validate_url, h, NULL, &resp, &murl, err);
    if (!rc && resp.status >= 200 && resp.status < 400) {
      a->access = strdup(tok);
      lc_log(a->src, "INFO", "session token: the configured token is valid (GET %s)", murl);
    } else if (!rc && resp.status == 401) {
      lc_log(a->src, "INFO", "session token: the configured token was refused (GET %s: HTTP 401); logging in", murl);
    } else if (!rc) {
      rc = sl_err_set(err, SL_ECONFIG, "session token: validating the configured token failed: GET %s returned HTTP %ld (authenticator at %s)",
                      murl, resp.status, LC_WHERE(a->src, a->node));
    }
    a->checked = true;
    sl_http_resp_dispose(&resp);
    free(murl);
    free(h);
  }
  if (!rc && !a->access) {
    char *u = a->user ? eval_text(a, a->user, NULL, NULL, err, &rc) : strdup("");
    char *pw = a->pass ? eval_text(a, a->pass, NULL, NULL, err, &rc) : strdup("");
    sl_http_add_secret(http, pw);
    if (!rc && (!*u || !*pw))
      rc = sl_err_set(err, SL_ECONFIG, "session token: the configured session token is %s and there is no username and password to log in with (authenticator at %s)",
                      *tok ? "not valid" : "empty", LC_WHERE(a->src, a->node));
    if (!rc) {
      json_t *body = json_pack("{s:s,s:s}", "username", u, "password", pw);
      char *bs = json_dumps(body, 0), *murl = NULL;
      json_decref(body);
      sl_http_resp resp;
      sl_http_resp_init(&resp);
      rc = legacy_call(a, http, "POST", a->login_url, "Content-Type: application/json", bs, &resp, &murl, err);
      char *key = eval_text(a, a->response_key, NULL, NULL, err, &rc);
      if (!rc && (resp.status < 200 || resp.status >= 400))
        rc = sl_err_set(err, SL_ECONFIG, "session token: login failed: POST %s returned HTTP %ld (authenticator at %s)", murl,
                        resp.status, LC_WHERE(a->src, a->node));
      if (!rc) {
        json_t *j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, JSON_DECODE_ANY, NULL);
        const json_t *t = json_object_get(j, key);
        if (!t || json_is_null(t))
          rc = sl_err_set(err, SL_ECONFIG, "session token: the login response of POST %s has no \"%s\" (session_token_response_key; authenticator at %s)",
                          murl, key, LC_WHERE(a->src, a->node));
        else {
          sl_buf b;
          sl_buf_init(&b, 1 << 20);
          lc_pystr(&b, t);
          a->access = strdup(sl_buf_cstr(&b));
          sl_buf_dispose(&b);
          sl_http_add_secret(http, a->access);
        }
        json_decref(j);
      }
      free(key);
      free(bs);
      free(murl);
      sl_http_resp_dispose(&resp);
    }
    free(u);
    free(pw);
  }
  free(name);
  free(tok);
  return rc;
}

/* t through the authenticator's RequestOption. */
static sl_code inject_token(lc_auth *a, const char *t, lc_reqopts *opts, sl_err *err) {
  json_t *ctx = auth_ctx(a->src, a->node);
  json_t *v = json_string(t);
  sl_code rc = lc_reqopt_inject(a->src, &a->opt, v, ctx, opts, err);
  json_decref(v);
  json_decref(ctx);
  return rc;
}

sl_code lc_auth_apply(lc_auth *a, sl_http *http, lc_reqopts *opts, sl_err *err) {
  sl_code rc = SL_EOK;
  switch (a->kind) {
    case AU_NONE: return SL_EOK;
    case AU_BEARER: {
      char *t = eval_text(a, a->token, NULL, NULL, err, &rc);
      sl_http_add_secret(http, t);
      char *h = NULL;
      if (!rc && asprintf(&h, "Bearer %s", t) > 0) rc = set_header(opts, "Authorization", h, err);
      free(h);
      free(t);
      return rc;
    }
    case AU_BASIC: {
      char *u = eval_text(a, a->user, NULL, NULL, err, &rc);
      char *p = a->pass ? eval_text(a, a->pass, NULL, NULL, err, &rc) : strdup("");
      sl_http_add_secret(http, p);
      size_t n = strlen(u) + strlen(p) + 1;
      char *raw = malloc(n + 1);
      snprintf(raw, n + 1, "%s:%s", u, p);
      static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      sl_buf h;
      sl_buf_init(&h, 1 << 20);
      sl_buf_append(&h, "Basic ", 6);
      for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)raw[i + 2];
        sl_buf_putc(&h, b64[(v >> 18) & 63]);
        sl_buf_putc(&h, b64[(v >> 12) & 63]);
        sl_buf_putc(&h, i + 1 < n ? b64[(v >> 6) & 63] : '=');
        sl_buf_putc(&h, i + 2 < n ? b64[v & 63] : '=');
      }
      if (!rc) rc = set_header(opts, "Authorization", sl_buf_cstr(&h), err);
      sl_buf_dispose(&h);
      free(raw);
      free(u);
      free(p);
      return rc;
    }
    case AU_APIKEY: {
      char *t = eval_text(a, a->token, NULL, NULL, err, &rc);
      sl_http_add_secret(http, t);
      if (!rc) {
        if (a->opt.present) {
          rc = inject_token(a, t, opts, err);
        } else {
          char *name = eval_text(a, a->legacy_header, NULL, NULL, err, &rc);
          if (!rc) rc = set_header(opts, name, t, err);
          free(name);
        }
      }
      free(t);
      return rc;
    }
    case AU_OAUTH: {
      if ((rc = oauth_token(a, http, err))) return rc;
      char *h = NULL;
      if (asprintf(&h, "Bearer %s", a->access) > 0) rc = set_header(opts, "Authorization", h, err);
      free(h);
      return rc;
    }
    case AU_LEGACY: {
      if ((rc = legacy_token(a, http, err))) return rc;
      char *name = eval_text(a, a->header, NULL, NULL, err, &rc);
      if (!rc) rc = set_header(opts, name, a->access, err);
      free(name);
      return rc;
    }
    case AU_TOKENS: return SL_EOK; /* lc_auth_route, once the URL is known */
    case AU_JWT: {
      char *t = NULL;
      bool fresh = false;
      if ((rc = lc_jwt_token(a->jwt, true, &t, &fresh, err))) return rc;
      if (fresh) sl_http_add_secret(http, lc_jwt_current(a->jwt));
      if (a->opt.present) {
        rc = inject_token(a, t, opts, err);
      } else {
        rc = set_header(opts, "Authorization", t, err);
      }
      free(t);
      return rc;
    }
    case AU_SESSION: {
      if ((rc = session_login(a, http, err))) return rc;
      if (a->session_bearer) {
        char *h = NULL;
        if (asprintf(&h, "Bearer %s", a->access) > 0) rc = set_header(opts, "Authorization", h, err);
        free(h);
        return rc;
      }
      char *t = a->token ? eval_text(a, a->token, "session_token", a->access, err, &rc) : strdup(a->access);
      if (!rc) {
        rc = inject_token(a, t, opts, err);
      }
      free(t);
      return rc;
    }
  }
  return SL_EOK;
}
