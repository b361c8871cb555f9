/* "Authenticate your account for testing": the declarative OAuth consent
 * flow run from the builder. The consent URL comes from the manifest's
 * spec.advanced_auth (oauth_connector_input_specification), with this
 * server's loopback /oauth/callback as the redirect URI; the callback checks
 * the state, exchanges the code at access_token_url, and writes the
 * extracted outputs into the project's testing values (never the manifest).
 * The page polls GET /api/oauth/result for the outcome. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "builder.h"
#include "sluice/buf.h"
#include "sluice/http.h"

#define MASK "**********"

static const char *str_or(const json_t *o, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, key));
  return s && *s ? s : dflt;
}

/* The config path (path_in_connector_config) for name in an output spec. */
static json_t *out_path(const json_t *spec, const char *name) {
  const json_t *p = json_object_get(json_object_get(json_object_get(spec, "properties"), name), "path_in_connector_config");
  return json_is_array(p) && json_array_size(p) ? json_incref((json_t *)p) : json_pack("[s]", name);
}

static const json_t *at_path(const json_t *v, const json_t *path) {
  size_t i;
  json_t *k;
  json_array_foreach(path, i, k) v = json_object_get(v, json_string_value(k));
  return v;
}

static void set_path(json_t *v, const json_t *path, json_t *val) {
  size_t n = json_array_size(path);
  for (size_t i = 0; i + 1 < n; i++) {
    const char *k = json_string_value(json_array_get(path, i));
    json_t *sub = json_object_get(v, k);
    if (!json_is_object(sub)) json_object_set_new(v, k, sub = json_object());
    v = sub;
  }
  json_object_set_new(v, json_string_value(json_array_get(path, n - 1)), val);
}

/* The value of one template expression: a variable of the flow
 * (client_id_value, redirect_uri_key, ...), config['x'], or a literal;
 * "| urlEncoder" (or urlencode) percent-encodes it. */
static char *eval(const json_t *vars, const json_t *config, const char *expr, size_t n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%.*s", (int)n, expr);
  char *bar = strchr(buf, '|');
  bool enc = false;
  if (bar) {
    char *f = bar + 1;
    while (*f == ' ') f++;
    enc = !strncmp(f, "urlEncoder", 10) || !strncmp(f, "urlencode", 9);
    *bar = 0;
  }
  char *s = buf, *e = buf + strlen(buf);
  while (*s == ' ') s++;
  while (e > s && e[-1] == ' ') *--e = 0;
  const char *val = json_string_value(json_object_get(vars, s));
  char key[256];
  if (!val && sscanf(s, "config['%255[^']']", key) == 1) val = json_string_value(json_object_get(config, key));
  if (!val) val = s;
  if (!enc) return strdup(val);
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  sl_url_encode(&b, val, strlen(val), false);
  char *out = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return out;
}

/* Renders {{ ... }} innermost first ({{ {{redirect_uri_value}} | urlEncoder }} works). */
static char *render(const char *tmpl, const json_t *vars, const json_t *config) {
  char *s = strdup(tmpl ? tmpl : "");
  for (int round = 0; s && round < 64; round++) {
    char *close = strstr(s, "}}");
    if (!close) break;
    char *open = NULL;
    for (char *p = s; p + 1 < close; p++)
      if (p[0] == '{' && p[1] == '{') open = p;
    if (!open) break;
    while (open + 2 < close && open[2] == '{') open++; /* "{{{{x}}": the innermost pair */
    char *v = eval(vars, config, open + 2, (size_t)(close - open - 2));
    size_t pre = (size_t)(open - s), vl = strlen(v), post = strlen(close + 2);
    char *ns = malloc(pre + vl + post + 1);
    memcpy(ns, s, pre);
    memcpy(ns + pre, v, vl);
    memcpy(ns + pre + vl, close + 2, post + 1);
    free(v);
    free(s);
    s = ns;
  }
  return s;
}

/* The DeclarativeOAuth part of the manifest's spec, or NULL. */
static const json_t *oauth_spec(const json_t *resolved, const json_t **cfgspec) {
  const json_t *aa = json_object_get(json_object_get(resolved, "spec"), "advanced_auth");
  *cfgspec = json_object_get(aa, "oauth_config_specification");
  const json_t *in = json_object_get(*cfgspec, "oauth_connector_input_specification");
  return json_is_object(in) && json_string_value(json_object_get(in, "consent_url")) ? in : NULL;
}

json_t *bld_oauth_consent(bld_server *srv, const char *yaml, size_t len, const json_t *config, unsigned *status) {
  json_t *r = bld_resolve(yaml, len, "manifest.yaml");
  if (json_object_get(r, "error")) {
    *status = 422;
    return r;
  }
  const json_t *cfgspec, *in = oauth_spec(json_object_get(r, "resolved"), &cfgspec);
  if (!in) {
    json_decref(r);
    return bld_bad(status, 422,
               "the manifest's spec has no declarative OAuth (advanced_auth.oauth_config_specification."
               "oauth_connector_input_specification.consent_url)");
  }
  json_t *cfg = config ? json_deep_copy(config) : bld_testing_values(srv);
  const json_t *server_out = json_object_get(cfgspec, "complete_oauth_server_output_specification");
  json_t *idp = out_path(server_out, "client_id"), *secp = out_path(server_out, "client_secret");
  unsigned char rnd[16];
  char state[33];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0x5a, sizeof rnd);
  for (size_t i = 0; i < sizeof rnd; i++) snprintf(state + 2 * i, 3, "%02x", rnd[i]);
  char redirect[128];
  snprintf(redirect, sizeof redirect, "http://127.0.0.1:%u/oauth/callback", srv->port);
  const char *cid = json_string_value(at_path(cfg, idp)), *csec = json_string_value(at_path(cfg, secp));
  json_t *vars = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "client_id_key",
                           str_or(in, "client_id_key", "client_id"), "client_id_value", cid ? cid : "",
                           "client_secret_key", str_or(in, "client_secret_key", "client_secret"),
                           "client_secret_value", csec ? csec : "", "redirect_uri_key",
                           str_or(in, "redirect_uri_key", "redirect_uri"), "redirect_uri_value", redirect, "state_key",
                           str_or(in, "state_key", "state"), "state_value", state, "scope_key",
                           str_or(in, "scope_key", "scope"), "scope_value", str_or(in, "scope", ""), "auth_code_key",
                           str_or(in, "auth_code_key", "code"));
  json_decref(idp);
  json_decref(secp);
  char *url = render(json_string_value(json_object_get(in, "consent_url")), vars, cfg);
  json_t *flow = json_pack("{s:s,s:o,s:o,s:O,s:O}", "state", state, "vars", vars, "config", cfg, "input", in,
                           "output_spec", json_object_get(cfgspec, "complete_oauth_output_specification") ?: json_null());
  pthread_mutex_lock(&srv->lock);
  json_decref(srv->oauth);
  srv->oauth = flow;
  json_decref(srv->oauth_result);
  srv->oauth_result = json_pack("{s:s,s:b}", "state", state, "pending", 1);
  pthread_mutex_unlock(&srv->lock);
  json_t *res = json_pack("{s:s,s:s,s:s}", "url", url, "state", state, "redirect_uri", redirect);
  free(url);
  json_decref(r);
  return res;
}

json_t *bld_oauth_result(bld_server *srv) {
  pthread_mutex_lock(&srv->lock);
  json_t *r = srv->oauth_result ? json_deep_copy(srv->oauth_result) : json_pack("{s:n}", "state");
  pthread_mutex_unlock(&srv->lock);
  return r;
}

/* Adds every string of v (tokens, codes) as a secret of h. */
static void secrets_of(sl_http *h, const json_t *v) {
  const char *k;
  json_t *sub;
  if (json_is_string(v) && json_string_length(v) >= 4) sl_http_add_secret(h, json_string_value(v));
  if (json_is_object(v)) json_object_foreach((json_t *)v, k, sub) secrets_of(h, sub);
}

/* The token exchange; fills result (request, response, written paths). */
static void exchange(bld_server *srv, json_t *flow, const char *code, json_t *result) {
  json_t *vars = json_object_get(flow, "vars"), *cfg = json_object_get(flow, "config");
  const json_t *in = json_object_get(flow, "input");
  json_object_set_new(vars, "auth_code_value", json_string(code));
  sl_err err = SL_ERR_INIT;
  sl_http *h = sl_http_new(&(sl_http_opts){.timeout_ms = 60000}, &err);
  if (!h) {
    json_object_set_new(result, "error", json_string(err.msg));
    return;
  }
  sl_http_add_secret(h, code);
  sl_http_add_secret(h, json_string_value(json_object_get(vars, "client_secret_value")));
  char *url = render(json_string_value(json_object_get(in, "access_token_url")), vars, cfg);
  /* access_token_params: the body (JSON when a header says so, else a form). */
  const json_t *params = json_object_get(in, "access_token_params"), *hdrs = json_object_get(in, "access_token_headers");
  bool as_json = false;
  const char *k;
  json_t *v;
  sl_buf body;
  sl_buf_init(&body, 1 << 20);
  json_t *jbody = json_object();
  json_object_foreach((json_t *)params, k, v) {
    char *key = render(k, vars, cfg), *val = render(json_is_string(v) ? json_string_value(v) : "", vars, cfg);
    json_object_set_new(jbody, key, json_string(val));
    if (body.len) sl_buf_putc(&body, '&');
    sl_url_encode(&body, key, strlen(key), true);
    sl_buf_putc(&body, '=');
    sl_url_encode(&body, val, strlen(val), true);
    free(key);
    free(val);
  }
  const char *lines[34] = {0};
  char *owned[32] = {0};
  size_t nl = 0;
  json_t *shown_headers = json_object();
  json_object_foreach((json_t *)hdrs, k, v) {
    if (nl >= 32) break;
    char *val = render(json_is_string(v) ? json_string_value(v) : "", vars, cfg);
    if (!strcasecmp(k, "Content-Type") && strstr(val, "json")) as_json = true;
    if (asprintf(&owned[nl], "%s: %s", k, val) < 0) owned[nl] = NULL;
    json_object_set_new(shown_headers, k, json_string(val));
    free(val);
    if (owned[nl]) lines[nl] = owned[nl], nl++;
  }
  char *json_text = as_json ? json_dumps(jbody, JSON_COMPACT) : NULL;
  if (!as_json && json_object_size(params) && nl < 32) {
    lines[nl++] = "Content-Type: application/x-www-form-urlencoded";
    json_object_set_new(shown_headers, "Content-Type", json_string("application/x-www-form-urlencoded"));
  }
  const char *b = json_text ? json_text : json_object_size(params) ? sl_buf_cstr(&body) : "";
  sl_http_req req = {.method = "POST", .url = url, .headers = lines, .body = b, .body_len = strlen(b),
                     .secret_response = true};
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  sl_code rc = sl_http_send(h, &req, &resp, &err);
  json_t *out = json_object(), *written = json_array();
  json_t *tokens = NULL;
  if (!rc && resp.status >= 200 && resp.status < 300) {
    tokens = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    secrets_of(h, tokens);
  }
  char *murl = sl_http_mask(h, url), *mbody = sl_http_mask(h, b);
  char *mresp = rc ? NULL : sl_http_mask(h, resp.body.data ? (const char *)resp.body.data : "");
  json_object_set_new(result, "request", json_pack("{s:s,s:s,s:o,s:s}", "method", "POST", "url", murl, "headers",
                                                   shown_headers, "body", mbody));
  if (!rc) json_object_set_new(result, "response", json_pack("{s:I,s:s}", "status", (json_int_t)resp.status, "body", mresp));
  free(murl);
  free(mbody);
  free(mresp);
  if (rc) {
    json_object_set_new(result, "error", json_string(err.msg));
  } else if (!json_is_object(tokens)) {
    char msg[160];
    snprintf(msg, sizeof msg, "the token exchange answered HTTP %ld%s", resp.status,
             resp.status >= 200 && resp.status < 300 ? " without a JSON object" : "");
    json_object_set_new(result, "error", json_string(msg));
  } else {
    /* extract_output: the names taken from the token response (a.b for nested ones). */
    const json_t *names = json_object_get(in, "extract_output");
    json_t *dflt = json_pack("[ss]", "access_token", "refresh_token");
    size_t i;
    json_t *nm;
    json_array_foreach(json_is_array(names) ? names : dflt, i, nm) {
      const char *name = json_string_value(nm);
      if (!name) continue;
      const json_t *val = tokens;
      char part[256];
      for (const char *p = name; val && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        val = json_object_get(val, part);
        p += n + (p[n] == '.');
      }
      if (!val) continue;
      const char *leaf = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
      json_t *path = out_path(json_object_get(flow, "output_spec"), leaf);
      set_path(cfg, path, json_deep_copy(val));
      json_array_append_new(written, path);
      json_object_set_new(out, leaf, json_string(MASK));
    }
    json_decref(dflt);
    if (!json_array_size(written)) {
      json_object_set_new(result, "error", json_string("the token response has none of the outputs (extract_output)"));
    } else if (bld_testing_values_save(srv, cfg, &err)) {
      json_object_set_new(result, "error", json_string(err.msg));
    } else {
      json_object_set(result, "config", cfg);
    }
  }
  json_object_set_new(result, "outputs", out);
  json_object_set_new(result, "written", written);
  json_decref(tokens);
  json_decref(jbody);
  free(json_text);
  for (size_t i = 0; i < 32; i++) free(owned[i]);
  sl_buf_dispose(&body);
  sl_http_resp_dispose(&resp);
  free(url);
  sl_http_free(h);
}

bool bld_oauth_waiting(bld_server *srv, const char *state) {
  pthread_mutex_lock(&srv->lock);
  bool yes = srv->oauth && state && !strcmp(state, json_string_value(json_object_get(srv->oauth, "state")) ?: "");
  pthread_mutex_unlock(&srv->lock);
  return yes;
}

/* GET /oauth/callback?code=..&state=..: the page shown in the consent tab. */
const char *bld_oauth_callback(bld_server *srv, const char *code, const char *state, const char *error,
                               unsigned *status) {
  pthread_mutex_lock(&srv->lock);
  json_t *flow = srv->oauth;
  bool ok = flow && state && !strcmp(state, json_string_value(json_object_get(flow, "state")));
  if (ok) srv->oauth = NULL; /* one use */
  pthread_mutex_unlock(&srv->lock);
  if (!ok) {
    *status = 400;
    return "<!doctype html><title>sluice builder</title><p>This OAuth answer does not belong to a consent flow the "
           "builder started (unknown or used state): nothing was written.</p>";
  }
  json_t *result = json_pack("{s:s,s:b}", "state", state, "pending", 0);
  if (error || !code) {
    json_object_set_new(result, "error", json_sprintf("the provider refused: %s", error ? error : "no code"));
  } else {
    exchange(srv, flow, code, result);
  }
  bool failed = json_object_get(result, "error") != NULL;
  pthread_mutex_lock(&srv->lock);
  json_decref(srv->oauth_result);
  srv->oauth_result = result;
  pthread_mutex_unlock(&srv->lock);
  json_decref(flow);
  *status = failed ? 502 : 200;
  return failed ? "<!doctype html><title>sluice builder</title><p>The OAuth flow failed: the builder page shows "
                  "why.</p>"
                : "<!doctype html><title>sluice builder</title><p>Authenticated: the tokens are in the builder's "
                  "testing values (not in the manifest). You can close this tab.</p>";
}
