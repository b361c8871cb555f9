/* Stream templates in the builder (dynamic_streams): "preview endpoint" and
 * "generate streams". The components resolver gives a list of values (an
 * HttpComponentsResolver's records, read by a test read of its retriever; a
 * ConfigComponentsResolver's list from the config; a
 * ParametrizedComponentsResolver's list), and each value fills a copy of
 * the stream template through components_mapping, templates evaluated by
 * the engine's interpolation with components_values, config and
 * stream_template_config. The generated streams are shown read-only; the
 * page can test one by adding it to a copy of the manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "sluice/interp.h"

#define MAX_GENERATED 100

/* The resolver's endpoint as a one-stream manifest, test-read. */
static json_t *preview(const json_t *resolved, const char *name, const json_t *retriever, const bld_test_opts *base) {
  json_t *m = json_deep_copy(resolved);
  json_object_del(m, "dynamic_streams");
  char sname[300];
  snprintf(sname, sizeof sname, "%s (endpoint)", name);
  json_object_set_new(m, "streams",
                      json_pack("[{s:s,s:s,s:[],s:O,s:{s:s,s:{s:s}}}]", "type", "DeclarativeStream", "name", sname,
                                "primary_key", "retriever", retriever, "schema_loader", "type", "InlineSchemaLoader",
                                "schema", "type", "object"));
  json_object_set_new(m, "check", json_pack("{s:s,s:[s]}", "type", "CheckStream", "stream_names", sname));
  sl_err err = SL_ERR_INIT;
  char *y = bld_to_yaml(m, &err);
  json_decref(m);
  if (!y) return bld_error_json(&err);
  bld_test_opts o = *base;
  o.stream = sname;
  json_t *res = bld_test_read(y, strlen(y), "template-endpoint.yaml", &o);
  free(y);
  return res;
}

static sl_tmpl_accept accept_of(const char *value_type) {
  if (!value_type) return SL_TMPL_ANY;
  if (!strcmp(value_type, "string")) return SL_TMPL_STRING;
  if (!strcmp(value_type, "integer")) return SL_TMPL_INT;
  if (!strcmp(value_type, "number")) return SL_TMPL_NUMBER;
  if (!strcmp(value_type, "boolean")) return SL_TMPL_BOOL;
  return SL_TMPL_ANY;
}

/* One template string evaluated; NULL with err when it fails. */
static json_t *eval(const char *src, const char *where, const json_t *ctx, sl_tmpl_accept acc, sl_err *err) {
  sl_tmpl *t = sl_tmpl_compile(src, where, err);
  if (!t) return NULL;
  json_t *out = NULL;
  int rc = sl_tmpl_eval(t, ctx, acc, &out, err);
  sl_tmpl_free(t);
  if (rc) return NULL;
  return out ? out : json_string("");
}

/* Applies the mappings to a copy of the template for one value; NULL with err. */
static json_t *generate(const json_t *tmpl, const json_t *mappings, const json_t *ctx, size_t n, sl_err *err) {
  json_t *st = json_deep_copy(tmpl);
  size_t i;
  json_t *m;
  json_array_foreach(mappings, i, m) {
    char where[160];
    snprintf(where, sizeof where, "components_mapping[%zu] (value %zu)", i, n);
    const json_t *cond = json_object_get(m, "condition");
    if (json_is_string(cond)) {
      json_t *c = eval(json_string_value(cond), where, ctx, SL_TMPL_BOOL, err);
      bool skip = c && !json_is_true(c);
      json_decref(c);
      if (err->code) break;
      if (skip) continue;
    }
    const json_t *path = json_object_get(m, "field_path"), *v = json_object_get(m, "value");
    json_t *val = json_is_string(v) ? eval(json_string_value(v), where, ctx,
                                           accept_of(json_string_value(json_object_get(m, "value_type"))), err)
                                    : json_incref((json_t *)v);
    if (!val || !json_array_size(path)) {
      json_decref(val);
      if (!err->code) sl_err_set(err, SL_ECONFIG, "%s: needs field_path and value", where);
      break;
    }
    json_t *at = st;
    size_t k, np = json_array_size(path);
    json_t *key;
    json_array_foreach(path, k, key) {
      json_t *kv = json_is_string(key) && strstr(json_string_value(key), "{{")
                       ? eval(json_string_value(key), where, ctx, SL_TMPL_STRING, err)
                       : json_incref(key);
      const char *ks = json_string_value(kv);
      if (!ks || !strcmp(ks, "*")) {
        if (!err->code)
          sl_err_set(err, SL_ECONFIG, "%s: field_path element %zu is not a plain key (wildcards are not supported)",
                     where, k);
        json_decref(kv);
        break;
      }
      if (k + 1 == np) {
        json_object_set(at, ks, val);
      } else {
        json_t *sub = json_object_get(at, ks);
        if (!json_is_object(sub)) json_object_set_new(at, ks, sub = json_object());
        at = sub;
      }
      json_decref(kv);
    }
    json_decref(val);
    if (err->code) break;
  }
  if (err->code) {
    json_decref(st);
    return NULL;
  }
  return st;
}

json_t *bld_generate_streams(bld_server *srv, const char *yaml, size_t len, size_t index, const json_t *config,
                             bool want_preview, unsigned *status) {
  json_t *r = bld_resolve(yaml, len, "manifest.yaml");
  if (json_object_get(r, "error")) {
    *status = 422;
    return r;
  }
  const json_t *resolved = json_object_get(r, "resolved");
  const json_t *dyn = json_array_get(json_object_get(resolved, "dynamic_streams"), index);
  if (!json_is_object(dyn)) {
    json_decref(r);
    return bld_bad(status, 404, "no such stream template (dynamic_streams index)");
  }
  const char *name = json_string_value(json_object_get(dyn, "name"));
  char tname[64];
  snprintf(tname, sizeof tname, "template %zu", index + 1);
  if (!name) name = tname;
  const json_t *res = json_object_get(dyn, "components_resolver"), *tmpl = json_object_get(dyn, "stream_template");
  const char *rtype = json_string_value(json_object_get(res, "type"));
  json_t *cfg = config ? json_incref((json_t *)config) : bld_testing_values(srv);
  json_t *out = json_object(), *values = NULL;
  bld_test_opts o = {.config = cfg, .limits = {.max_records = 1000, .max_pages = 5, .max_slices = 5}};
  if (rtype && !strcmp(rtype, "HttpComponentsResolver")) {
    json_t *p = preview(resolved, name, json_object_get(res, "retriever"), &o);
    values = bld_result_records(p);
    json_t *perr = json_object_get(p, "error");
    if (perr) json_object_set(out, "error", perr);
    if (want_preview) json_object_set(out, "preview", p);
    json_decref(p);
  } else if (rtype && !strcmp(rtype, "ConfigComponentsResolver")) {
    const json_t *sc = json_object_get(res, "stream_config");
    if (json_is_array(sc)) sc = json_array_get(sc, 0);
    const json_t *v = cfg;
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(sc, "configs_pointer"), i, k) v = json_object_get(v, json_string_value(k));
    values = json_is_array(v) ? json_incref((json_t *)v) : v ? json_pack("[O]", v) : json_array();
  } else if (rtype && !strcmp(rtype, "ParametrizedComponentsResolver")) {
    const json_t *l = json_object_get(json_object_get(res, "stream_parameters"), "list_of_parameters_for_stream");
    values = json_is_array(l) ? json_incref((json_t *)l) : json_array();
  } else {
    json_decref(out);
    json_decref(cfg);
    json_decref(r);
    return bld_bad(status, 422, "the components resolver is not one the builder can run (HttpComponentsResolver, "
                            "ConfigComponentsResolver, ParametrizedComponentsResolver)");
  }
  json_t *streams = json_array();
  size_t i;
  json_t *v;
  sl_err err = SL_ERR_INIT;
  json_array_foreach(values, i, v) {
    if (i >= MAX_GENERATED) {
      json_object_set_new(out, "truncated", json_true());
      break;
    }
    json_t *ctx = json_pack("{s:O,s:O,s:O}", "components_values", v, "config", cfg, "stream_template_config", tmpl);
    json_t *st = generate(tmpl, json_object_get(res, "components_mapping"), ctx, i, &err);
    json_decref(ctx);
    if (!st) {
      json_object_set_new(out, "error", json_pack("{s:s,s:s}", "message", err.msg, "failure_type", "config_error"));
      break;
    }
    json_array_append_new(streams, st);
  }
  json_object_set_new(out, "streams", streams);
  json_object_set_new(out, "values", json_integer((json_int_t)json_array_size(values)));
  json_decref(values);
  json_decref(cfg);
  json_decref(r);
  return out;
}
