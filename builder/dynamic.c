/* Stream templates in the builder (dynamic_streams): "preview endpoint" and
 * "generate streams", through the engine's own resolution (lowcode/dynamic.c)
 * so the page shows what a sync would generate. An HttpComponentsResolver's
 * endpoint is test-read in a child process (bounded, with every request and
 * response for the preview), and its records, with their slices, are the
 * values; the Config and Parametrized resolvers' values come from the engine.
 * Each value fills the template through the engine's lc_dyn_fill. The
 * generated streams are shown read-only; the page can test one by adding it
 * to a copy of the manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lowcode/lc.h"
#include "builder.h"

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

typedef struct gen {
  json_t *streams;
  size_t values;
  bool truncated;
} gen;

static sl_code add_generated(void *ud, lc_dyn_tmpl *t, const json_t *values, const json_t *slice, size_t n,
                             sl_err *err) {
  gen *g = ud;
  g->values++;
  if (json_array_size(g->streams) >= MAX_GENERATED) {
    g->truncated = true;
    return SL_EOK;
  }
  json_t *holder, *st;
  sl_code rc = lc_dyn_fill(t, values, slice, n, &holder, &st, err);
  if (rc) return rc;
  json_array_append(g->streams, st);
  json_decref(holder);
  return SL_EOK;
}

static json_t *error_of(sl_code rc, const sl_err *err) {
  return json_pack("{s:s,s:s}", "message", err->msg, "failure_type", sl_err_failure_type(rc));
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
  const json_t *res = json_object_get(dyn, "components_resolver");
  const char *rtype = json_string_value(json_object_get(res, "type"));
  if (!rtype || (strcmp(rtype, "HttpComponentsResolver") && strcmp(rtype, "ConfigComponentsResolver") &&
                 strcmp(rtype, "ParametrizedComponentsResolver"))) {
    json_decref(r);
    return bld_bad(status, 422, "the components resolver is not one the builder can run (HttpComponentsResolver, "
                                "ConfigComponentsResolver, ParametrizedComponentsResolver)");
  }
  json_t *cfg = config ? json_incref((json_t *)config) : bld_testing_values(srv);
  json_t *out = json_object();
  gen g = {json_array(), 0, false};
  sl_err err = SL_ERR_INIT;
  sl_code rc = SL_EOK;
  lc_source *src = NULL;
  lc_dyn_tmpl *t = NULL;
  sl_manifest *m = sl_manifest_load_yaml(yaml, len, "manifest.yaml", &err);
  if (!m) rc = err.code ? err.code : SL_ECONFIG;
  else if (!(src = lc_source_new(m, &err))) rc = err.code;
  if (!rc) rc = lc_source_set_config(src, cfg, &err);
  if (!rc) rc = lc_dyn_tmpl_new(src, index, &t, &err);
  if (!rc && !strcmp(rtype, "HttpComponentsResolver")) {
    /* the endpoint's records, each with the slice it came in */
    bld_test_opts o = {.config = cfg, .limits = {.max_records = 1000, .max_pages = 5, .max_slices = 5}};
    json_t *p = preview(resolved, lc_dyn_tmpl_name(t), json_object_get(res, "retriever"), &o);
    json_t *perr = json_object_get(p, "error");
    if (perr) json_object_set(out, "error", perr);
    size_t i, j, k;
    json_t *s, *pg, *rec;
    json_array_foreach(json_object_get(p, "slices"), i, s) {
      json_t *ctx = lc_slice_view_extra(json_object_get(s, "slice"));
      json_array_foreach(json_object_get(s, "pages"), j, pg) json_array_foreach(json_object_get(pg, "records"), k, rec) {
        if (!rc) rc = add_generated(&g, t, rec, ctx, g.values, &err);
      }
      json_decref(ctx);
    }
    if (want_preview) json_object_set(out, "preview", p);
    json_decref(p);
  } else if (!rc) {
    rc = lc_dyn_each_value(t, add_generated, &g, &err);
  }
  if (rc && !json_object_get(out, "error")) json_object_set_new(out, "error", error_of(rc, &err));
  if (rc) json_array_clear(g.streams);
  if (g.truncated) json_object_set_new(out, "truncated", json_true());
  json_object_set_new(out, "streams", g.streams);
  json_object_set_new(out, "values", json_integer((json_int_t)g.values));
  lc_dyn_tmpl_free(t);
  lc_source_free(src);
  json_decref(cfg);
  json_decref(r);
  return out;
}
