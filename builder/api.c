/* The builder's JSON API (docs/builder.md): one function per endpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "sluice/yaml.h"

json_t *bld_bad(unsigned *status, unsigned code, const char *msg) {
  *status = code;
  return json_pack("{s:{s:s,s:s}}", "error", "message", msg, "failure_type", "config_error");
}

/* body.yaml as text (the manifest being edited). */
static const char *yaml_of(const json_t *body, size_t *len) {
  const json_t *y = json_object_get(body, "yaml");
  if (!json_is_string(y)) return NULL;
  *len = json_string_length(y);
  return json_string_value(y);
}

#define NEED_YAML(body, len, status)                                                                 \
  size_t len = 0;                                                                                    \
  const char *yaml = yaml_of(body, &len);                                                            \
  if (!yaml) return bld_bad(status, 400, "the request needs \"yaml\": the manifest text");               \
  if (len > BLD_MAX_MANIFEST) return bld_bad(status, 413, "the manifest is larger than 4 MiB")

static json_t *api_resolve(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  return bld_resolve(yaml, len, "manifest.yaml");
}

/* One component's YAML (the form's in-place YAML editor): any value, or the
 * error located in that text. Empty text is null (the component removed). */
static json_t *api_parse_yaml(const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  size_t i = 0;
  while (i < len && strchr(" \t\r\n", yaml[i])) i++;
  if (i == len) return json_pack("{s:n}", "value");
  sl_err err = SL_ERR_INIT;
  sl_yaml *y = sl_yaml_load_str(yaml, len, "component.yaml", &err);
  if (!y) return bld_error_json(&err);
  json_t *res = json_pack("{s:O}", "value", sl_yaml_root(y));
  sl_yaml_free(y);
  return res;
}

static json_t *api_to_yaml(const json_t *body, unsigned *status) {
  const json_t *m = json_object_get(body, "manifest");
  const json_t *value = json_object_get(body, "value");
  if (!m && value) { /* one component, as block YAML */
    sl_err err = SL_ERR_INIT;
    char *y = bld_to_yaml(value, &err);
    if (!y) {
      *status = 500;
      return bld_error_json(&err);
    }
    json_t *res = json_pack("{s:s,s:b}", "yaml", y, "in_place", 0);
    free(y);
    return res;
  }
  if (!json_is_object(m)) return bld_bad(status, 400, "the request needs \"manifest\": the manifest as a JSON object");
  /* With the text the manifest came from: edited in place (comments kept). */
  size_t len = 0;
  const char *old = yaml_of(body, &len);
  char *y = old && len <= BLD_MAX_MANIFEST ? bld_yaml_update(old, len, m) : NULL;
  bool kept = y != NULL;
  sl_err err = SL_ERR_INIT;
  if (!y) y = bld_to_yaml(m, &err);
  if (!y) {
    *status = 500;
    return bld_error_json(&err);
  }
  json_t *res = json_pack("{s:s,s:b}", "yaml", y, "in_place", kept);
  free(y);
  return res;
}

static unsigned limit_of(const json_t *body, const char *key, unsigned max) {
  json_int_t v = json_integer_value(json_object_get(body, key));
  return v <= 0 ? 0 : v > (json_int_t)max ? max : (unsigned)v;
}

static json_t *api_test_read(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  const char *stream = json_string_value(json_object_get(body, "stream"));
  if (!stream) return bld_bad(status, 400, "the request needs \"stream\": the stream to test");
  const json_t *cfg = json_object_get(body, "config");
  if (cfg && !json_is_object(cfg)) return bld_bad(status, 400, "\"config\" must be an object (the testing values)");
  json_t *saved = cfg ? NULL : bld_testing_values(srv);
  const json_t *state = json_object_get(body, "state");
  bld_test_opts o = {.stream = stream, .config = cfg ? cfg : saved, .state = json_is_null(state) ? NULL : state};
  o.limits.max_records = limit_of(body, "max_records", 5000);
  o.limits.max_pages = limit_of(body, "max_pages", 100);
  o.limits.max_slices = limit_of(body, "max_slices", 100);
  o.timeout_s = limit_of(body, "timeout", 600);
  o.limits.retries = json_is_true(json_object_get(body, "retries"));
  json_t *res = bld_test_read(yaml, len, "manifest.yaml", &o);
  json_decref(saved);
  /* A rotated OAuth token: the old one is spent, so the new config becomes
   * the testing values (the page takes "config_update" too). */
  const json_t *upd = json_object_get(res, "config_update");
  sl_err err = SL_ERR_INIT;
  if (json_is_object(upd) && bld_testing_values_save(srv, upd, &err))
    json_array_append_new(json_object_get(res, "warnings"),
                          json_pack("{s:s,s:s}", "code", "config_not_saved", "message", err.msg));
  return res;
}

static json_t *api_spec_form(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  json_t *r = bld_resolve(yaml, len, "manifest.yaml");
  if (json_object_get(r, "error")) {
    *status = 422;
    return r;
  }
  json_t *spec = json_object_get(r, "spec");
  json_t *schema = json_is_object(spec) ? json_incref(spec) : json_object();
  json_t *res = json_pack("{s:o,s:o}", "schema", schema, "values", bld_testing_values(srv));
  json_decref(r);
  return res;
}

static json_t *api_testing_values(bld_server *srv, const json_t *body, unsigned *status) {
  const json_t *v = json_object_get(body, "values");
  if (!json_is_object(v)) return bld_bad(status, 400, "the request needs \"values\": an object");
  sl_err err = SL_ERR_INIT;
  if (bld_testing_values_save(srv, v, &err)) {
    *status = 500;
    return bld_error_json(&err);
  }
  return json_pack("{s:b}", "saved", 1);
}

static json_t *api_infer(const json_t *body, unsigned *status) {
  const json_t *recs = json_object_get(body, "records");
  if (!json_is_array(recs)) return bld_bad(status, 400, "the request needs \"records\": an array of records");
  json_t *schema = bld_infer_schema(recs);
  const json_t *declared = json_object_get(body, "declared");
  json_t *res = json_pack("{s:o}", "schema", schema);
  if (json_is_object(declared)) json_object_set_new(res, "diff", bld_schema_diff(declared, schema));
  return res;
}

static json_t *api_save(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  (void)len;
  const char *base = json_string_value(json_object_get(body, "base_version"));
  return bld_project_save(srv, yaml, base, json_is_true(json_object_get(body, "force")), status);
}

static json_t *api_draft(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  return bld_draft_save(srv, yaml, len, status);
}

static json_t *api_oauth_consent(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  const json_t *cfg = json_object_get(body, "config");
  if (cfg && !json_is_object(cfg)) return bld_bad(status, 400, "\"config\" must be an object (the testing values)");
  return bld_oauth_consent(srv, yaml, len, cfg, status);
}

static json_t *api_generate(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  const json_t *cfg = json_object_get(body, "config"), *idx = json_object_get(body, "template");
  if (cfg && !json_is_object(cfg)) return bld_bad(status, 400, "\"config\" must be an object (the testing values)");
  if (!json_is_integer(idx) || json_integer_value(idx) < 0)
    return bld_bad(status, 400, "the request needs \"template\": the index of the stream template in dynamic_streams");
  return bld_generate_streams(srv, yaml, len, (size_t)json_integer_value(idx), cfg,
                              json_is_true(json_object_get(body, "preview")), status);
}

static json_t *api_publish(bld_server *srv, const json_t *body, unsigned *status) {
  NEED_YAML(body, len, status);
  const char *name = json_string_value(json_object_get(body, "name"));
  if (!name) return bld_bad(status, 400, "the request needs \"name\": source-<name>");
  const json_t *d = json_object_get(body, "description");
  if (d && !json_is_string(d)) return bld_bad(status, 400, "\"description\" must be a string (what this version changes)");
  return bld_publish(srv, yaml, len, name, json_string_value(d), status);
}

json_t *bld_api(bld_server *srv, const char *method, const char *path, const json_t *body, unsigned *status) {
  *status = 200;
  bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
  if (get && !strcmp(path, "/project")) return bld_project_get(srv);
  if (get && !strcmp(path, "/versions")) return json_pack("{s:o}", "versions", bld_versions(srv));
  if (get && !strncmp(path, "/versions/", 10)) {
    char *end;
    long n = strtol(path + 10, &end, 10);
    if (*end) return bld_bad(status, 404, "no such version");
    return bld_version_get(srv, n, status);
  }
  if (post && !strcmp(path, "/resolve")) return api_resolve(srv, body, status);
  if (post && !strcmp(path, "/to_yaml")) return api_to_yaml(body, status);
  if (post && !strcmp(path, "/parse_yaml")) return api_parse_yaml(body, status);
  if (post && !strcmp(path, "/draft")) return api_draft(srv, body, status);
  if (post && !strcmp(path, "/oauth/consent_url")) return api_oauth_consent(srv, body, status);
  if (get && !strcmp(path, "/oauth/result")) return bld_oauth_result(srv);
  if (post && !strcmp(path, "/generate_streams")) return api_generate(srv, body, status);
  if (post && !strcmp(path, "/test_read")) return api_test_read(srv, body, status);
  if (post && !strcmp(path, "/spec_form")) return api_spec_form(srv, body, status);
  if (post && !strcmp(path, "/testing_values")) return api_testing_values(srv, body, status);
  if (post && !strcmp(path, "/infer_schema")) return api_infer(body, status);
  if (post && !strcmp(path, "/save")) return api_save(srv, body, status);
  if (post && !strcmp(path, "/publish")) return api_publish(srv, body, status);
  if (get && !strcmp(path, "/published")) return bld_published(srv);
  if (get && !strncmp(path, "/published/", 11)) { /* one published version's text */
    char *end;
    long n = strtol(path + 11, &end, 10);
    json_t *entry = NULL;
    sl_err err = SL_ERR_INIT;
    char *text = *end ? NULL : bld_published_text(srv, n, &entry, &err);
    if (!text) return *end ? bld_bad(status, 404, "no such published version") : (*status = 404, bld_error_json(&err));
    json_t *res = json_pack("{s:I,s:s,s:o}", "n", (json_int_t)n, "yaml", text, "version", entry);
    free(text);
    return res;
  }
  if (post && !strcmp(path, "/published/active")) {
    const json_t *v = json_object_get(body, "version");
    if (!json_is_integer(v)) return bld_bad(status, 400, "the request needs \"version\": a published version number");
    return bld_publish_activate(srv, (long)json_integer_value(v), status);
  }
  return bld_bad(status, 404, "no such API endpoint (docs/builder.md lists them)");
}
