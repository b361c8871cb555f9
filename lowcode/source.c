/* DeclarativeSource: spec, check (CheckStream), discover and read over the
 * manifest's streams (notes §6.3). */
#include <stdio.h>
#include <stdlib.h>

#include "lc.h"
#include "sluice/pydt.h"

lc_source *lc_source_new(sl_manifest *m, sl_err *err) {
  lc_source *src = calloc(1, sizeof *src);
  if (!src) {
    sl_manifest_free(m);
    sl_err_set(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  src->m = m;
  src->root = sl_manifest_root(m);
  src->spec = json_object_get(json_object_get(src->root, "spec"), "connection_specification");
  src->config = json_object();
  /* Unsupported or invalid manifests fail here, before any command runs,
   * naming every problem, rather than halfway through a read. */
  if (sl_manifest_check(m, err)) {
    lc_source_free(src);
    return NULL;
  }
  return src;
}

void lc_source_free(lc_source *src) {
  if (!src) return;
  for (size_t i = 0; i < src->n_secrets; i++) free(src->secrets[i]);
  free(src->secrets);
  json_decref(src->config);
  lc_budget_free(src->budget);
  lc_dyn_free(src->dyn);
  sl_manifest_free(src->m);
  free(src);
}

const json_t *lc_source_conn_spec(const lc_source *src) { return src->spec; }

json_t *lc_source_spec_extra(const lc_source *src) {
  const json_t *spec = json_object_get(src->root, "spec");
  json_t *extra = json_object();
  const json_t *aa = json_object_get(spec, "advanced_auth");
  if (aa) json_object_set(extra, "advanced_auth", (json_t *)aa);
  const json_t *doc = json_object_get(spec, "documentation_url");
  if (json_is_string(doc)) json_object_set(extra, "documentationUrl", (json_t *)doc);
  return extra;
}

void lc_source_set_debug(lc_source *src, bool on) { src->debug = on; }

void lc_source_set_output(lc_source *src, void (*log)(void *ud, const char *level, const char *msg),
                          sl_code (*control_config)(void *ud, const json_t *config), void *ud) {
  src->log = log;
  src->control_config = control_config;
  src->out_ud = ud;
}

static void add_secret(lc_source *src, const json_t *v) {
  char *s = json_is_string(v) ? strdup(json_string_value(v)) : sl_json_dumps(v);
  if (!s || strlen(s) < 2) {
    free(s);
    return;
  }
  char **nv = realloc(src->secrets, (src->n_secrets + 1) * sizeof *nv);
  if (!nv) {
    free(s);
    return;
  }
  src->secrets = nv;
  nv[src->n_secrets++] = s;
}

/* Values of airbyte_secret fields (through properties, items, *Of). */
static void walk_secrets(lc_source *src, const json_t *schema, const json_t *v, int depth) {
  if (!json_is_object(schema) || !v || depth > 32) return;
  if (json_is_true(json_object_get(schema, "airbyte_secret")) && !json_is_object(v) && !json_is_array(v) &&
      !json_is_null(v))
    add_secret(src, v);
  const json_t *props = json_object_get(schema, "properties");
  if (json_is_object(v) && props) {
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)props, k, sub) walk_secrets(src, sub, json_object_get(v, k), depth + 1);
  }
  const json_t *items = json_object_get(schema, "items");
  if (json_is_array(v) && items) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) walk_secrets(src, items, x, depth + 1);
  }
  const char *alts[] = {"oneOf", "anyOf", "allOf"};
  for (size_t a = 0; a < 3; a++) {
    size_t i;
    json_t *sub;
    json_array_foreach(json_object_get(schema, alts[a]), i, sub) walk_secrets(src, sub, v, depth + 1);
  }
}

sl_code lc_source_set_config(lc_source *src, const json_t *config, sl_err *err) {
  json_decref(src->config);
  lc_dyn_free(src->dyn); /* the streams in effect depend on the config */
  src->dyn = NULL;
  src->config = json_deep_copy(config);
  if (!src->config) return sl_err_set(err, SL_ENOMEM, "out of memory");
  /* Spec config_normalization_rules (config_norm.c): a migrated config is
   * announced whole, as the CDK does, before anything else runs. */
  bool migrated = false;
  sl_code rc = lc_config_normalize(src, src->config, &migrated, err);
  if (!rc && migrated && src->control_config) rc = src->control_config(src->out_ud, src->config);
  if (rc) return rc;
  /* The manifest itself is not part of what templates see as config. */
  json_object_del(src->config, "__injected_declarative_manifest");
  json_object_del(src->config, "__injected_components_py");
  json_object_del(src->config, "__injected_components_py_checksums");
  for (size_t i = 0; i < src->n_secrets; i++) free(src->secrets[i]);
  src->n_secrets = 0;
  walk_secrets(src, src->spec, src->config, 0);
  if ((rc = lc_config_transform_validate(src, src->config, err))) return rc;
  /* api_budget: shared by every stream of the source (limits may use config) */
  lc_budget_free(src->budget);
  src->budget = NULL;
  rc = lc_budget_build(src, json_object_get(src->root, "api_budget"), &src->budget, err);
  /* concurrency_level is read and honoured as 1: streams run one at a time */
  const json_t *cl = json_object_get(src->root, "concurrency_level");
  if (!rc && cl) lc_log(src, "DEBUG", "concurrency_level at %s: streams are read sequentially", LC_WHERE(src, cl));
  return rc;
}

const json_t *lc_source_streams(const lc_source *src) { return lc_dyn_streams(src); }

/* The stream entry of that name (a StateDelegatingStream stays whole). */
static const json_t *find_entry(const lc_source *src, const char *name) {
  size_t i;
  json_t *s;
  json_array_foreach(lc_source_streams(src), i, s) {
    const char *n = json_string_value(json_object_get(s, "name"));
    if (n && !strcmp(n, name)) return s;
  }
  return NULL;
}

/* For callers without a state (builder test reads), a StateDelegatingStream
 * is its full_refresh_stream. */
const json_t *lc_source_find_stream(const lc_source *src, const char *name) {
  const json_t *s = find_entry(src, name);
  const char *type = json_string_value(json_object_get(s, "type"));
  const json_t *fr = json_object_get(s, "full_refresh_stream");
  return type && !strcmp(type, "StateDelegatingStream") && json_is_object(fr) ? fr : s;
}

/* ---- schemas ---- */

static sl_code load_schema_file(lc_source *src, const json_t *at, const char *rel, json_t **out, bool must,
                                sl_err *err) {
  char path[4096];
  const char *dir = sl_manifest_dir(src->m);
  while (rel[0] == '.' && rel[1] == '/') rel += 2;
  if (rel[0] == '/' || !dir) snprintf(path, sizeof path, "%s", rel);
  else snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!must) {
      *out = json_object();
      return SL_EOK;
    }
    return sl_err_set(err, SL_ECONFIG, "%s: schema file %s cannot be read", LC_WHERE(src, at), path);
  }
  fclose(f);
  sl_code rc = sl_json_load_file(path, out, err);
  if (rc) return sl_err_set(err, SL_ECONFIG, "%s: %s", LC_WHERE(src, at), err->msg);
  return SL_EOK;
}

sl_code lc_stream_schema(lc_source *src, const json_t *node, json_t **out, sl_err *err) {
  *out = NULL;
  const json_t *sl = json_object_get(node, "schema_loader");
  const char *name = json_string_value(json_object_get(node, "name"));
  char rel[1024];
  if (!sl || json_is_null(sl)) {
    snprintf(rel, sizeof rel, "schemas/%s.json", name ? name : "");
    return load_schema_file(src, node, rel, out, false, err);
  }
  const char *type = json_string_value(json_object_get(sl, "type"));
  if (json_is_array(sl) || !type)
    return sl_err_set(err, SL_ECONFIG, "%s: this schema_loader form is not supported (use one InlineSchemaLoader or JsonFileSchemaLoader)",
                      LC_WHERE(src, sl));
  if (!strcmp(type, "InlineSchemaLoader")) {
    const json_t *s = json_object_get(sl, "schema");
    *out = s ? json_deep_copy(s) : json_object();
    return SL_EOK;
  }
  if (!strcmp(type, "JsonFileSchemaLoader")) {
    sl_tmpl *t = NULL;
    sl_code rc = lc_tmpl_field(src, sl, "file_path", &t, err);
    if (rc) return rc;
    if (!t) {
      snprintf(rel, sizeof rel, "schemas/%s.json", name ? name : "");
      return load_schema_file(src, sl, rel, out, false, err);
    }
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    rc = lc_eval_text_at(src, sl, t, &b, err);
    sl_tmpl_free(t);
    if (!rc) rc = load_schema_file(src, sl, sl_buf_cstr(&b), out, true, err);
    sl_buf_dispose(&b);
    return rc;
  }
  if (!strcmp(type, "DynamicSchemaLoader")) return lc_dynschema_load(src, sl, name ? name : "", out, err);
  return sl_err_set(err, SL_ECONFIG, "%s: schema loader %s is not supported", LC_WHERE(src, sl), type);
}

/* ---- discover ---- */

static json_t *primary_key(const json_t *pk) {
  if (json_is_string(pk)) return json_pack("[[O]]", pk);
  if (!json_is_array(pk) || !json_array_size(pk)) return NULL;
  json_t *out = json_array();
  size_t i;
  json_t *x;
  json_array_foreach(pk, i, x) {
    if (json_is_array(x)) json_array_append(out, x);
    else json_array_append_new(out, json_pack("[O]", x));
  }
  return out;
}

/* StateDelegatingStream: the incremental_stream when the stream has a
 * state, else the full_refresh_stream (and at discover and check, which have
 * no state); a state whose cursor is older than api_retention_period falls
 * back to the full refresh, as the API no longer has what came after it. */
static sl_code pick_stream(lc_source *src, const json_t *node, const json_t *state, const json_t **out, sl_err *err) {
  *out = node;
  const char *type = json_string_value(json_object_get(node, "type"));
  if (!type || strcmp(type, "StateDelegatingStream")) return SL_EOK;
  const char *name = json_string_value(json_object_get(node, "name"));
  const json_t *fr = json_object_get(node, "full_refresh_stream"), *inc = json_object_get(node, "incremental_stream");
  const json_t *both[2] = {fr, inc};
  for (int i = 0; i < 2; i++) {
    const char *n = json_string_value(json_object_get(both[i], "name"));
    if (!json_is_object(both[i]) || !n || !name || strcmp(n, name))
      return sl_err_set(err, SL_ECONFIG, "%s: the %s of StateDelegatingStream %s must be a stream named \"%s\" (it is \"%s\")",
                        LC_WHERE(src, both[i] ? both[i] : node), i ? "incremental_stream" : "full_refresh_stream",
                        name ? name : "?", name ? name : "?", n ? n : "");
  }
  *out = fr;
  if (!json_is_object(state) || !json_object_size(state)) return SL_EOK;
  *out = inc;
  const char *period = json_string_value(json_object_get(node, "api_retention_period"));
  if (!period) return SL_EOK;
  sl_dur dur;
  char emsg[200];
  if (sl_dur_parse(period, strlen(period), &dur, emsg, sizeof emsg))
    return sl_err_set(err, SL_ECONFIG, "%s: api_retention_period \"%s\": %s", LC_WHERE(src, node), period, emsg);
  char *cursor = NULL;
  sl_code rc = lc_render_field(src, json_object_get(inc, "incremental_sync"), "cursor_field", &cursor, err);
  if (rc) return rc;
  const json_t *v = cursor ? json_object_get(state, cursor) : NULL;
  free(cursor);
  /* the value read as the incremental cursor reads it: cursor_datetime_formats, then
   * datetime_format (Stripe's "%s" epoch strings), else ISO 8601 */
  char num[32];
  const char *sv = json_string_value(v);
  if (json_is_integer(v)) snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), sv = num;
  if (!sv) return SL_EOK; /* no cursor value to judge by: the state stands */
  const json_t *isync = json_object_get(inc, "incremental_sync");
  json_t *fmts = json_array();
  json_array_extend(fmts, json_object_get(isync, "cursor_datetime_formats"));
  json_array_append(fmts, json_object_get(isync, "datetime_format"));
  sl_dt at;
  bool parsed = false;
  size_t fi;
  json_t *f;
  json_array_foreach(fmts, fi, f) {
    if (!parsed && json_is_string(f) && !sl_dt_parse_cdk(sv, strlen(sv), json_string_value(f), &at, emsg, sizeof emsg))
      parsed = true;
  }
  json_decref(fmts);
  if (!parsed && sl_dt_isoparse(sv, strlen(sv), &at, emsg, sizeof emsg)) return SL_EOK;
  sl_dt now = {.us = lc_now_us(), .aware = true}, oldest;
  if (sl_dt_add_dur(&now, &dur, -1, &oldest) && sl_dt_utc_us(&at) < sl_dt_utc_us(&oldest)) {
    lc_log(src, "WARN", "stream %s: the state's cursor %s is older than api_retention_period %s: reading the full refresh stream",
           name, sv, period);
    *out = fr;
  }
  return SL_EOK;
}

sl_code lc_source_discover(lc_source *src, json_t *streams, sl_err *err) {
  size_t i;
  json_t *s;
  sl_code rc = lc_dyn_resolve(src, err);
  if (rc) return rc;
  json_array_foreach(lc_source_streams(src), i, s) {
    const char *name = json_string_value(json_object_get(s, "name"));
    if (!name) return sl_err_set(err, SL_ECONFIG, "%s: a stream without a name", LC_WHERE(src, s));
    if ((rc = pick_stream(src, s, NULL, (const json_t **)&s, err))) return rc;
    json_t *schema;
    rc = lc_stream_schema(src, s, &schema, err);
    if (rc) return rc;
    const json_t *inc = json_object_get(s, "incremental_sync");
    bool incremental = inc && !json_is_null(inc);
    json_t *as = json_pack("{s:s, s:o, s:[s]}", "name", name, "json_schema", schema, "supported_sync_modes", "full_refresh");
    if (incremental) {
      json_array_append_new(json_object_get(as, "supported_sync_modes"), json_string("incremental"));
      sl_tmpl *t = NULL;
      if ((rc = lc_tmpl_field(src, inc, "cursor_field", &t, err))) {
        json_decref(as);
        return rc;
      }
      if (t) {
        sl_buf b;
        sl_buf_init(&b, 1 << 16);
        rc = lc_eval_text_at(src, inc, t, &b, err);
        sl_tmpl_free(t);
        if (!rc) {
          json_object_set_new(as, "source_defined_cursor", json_true());
          json_object_set_new(as, "default_cursor_field", json_pack("[s]", sl_buf_cstr(&b)));
        }
        sl_buf_dispose(&b);
        if (rc) {
          json_decref(as);
          return rc;
        }
      }
    }
    json_t *pk = primary_key(json_object_get(s, "primary_key"));
    if (pk) json_object_set_new(as, "source_defined_primary_key", pk);
    json_object_set_new(as, "is_resumable", json_boolean(incremental));
    json_array_append_new(streams, as);
  }
  return SL_EOK;
}

/* ---- check ---- */

/* The first slice's first page of one stream. */
static sl_code check_one(lc_source *src, const json_t *node, const char *name, sl_err *err) {
  lc_stream *st = NULL;
  lc_slicer *sl = NULL;
  sl_code rc = pick_stream(src, node, NULL, &node, err);
  if (!rc) rc = lc_stream_open(src, node, &st, err);
  if (!rc) rc = lc_slicer_build(st, NULL, false, &sl, err);
  if (!rc) rc = lc_stream_check(st, sl, err); /* an AsyncRetriever's first job, too */
  if (sl) sl->ops->free(sl);
  lc_stream_close(st);
  if (rc) return sl_err_wrap(err, "Unable to connect to stream %s", name);
  return SL_EOK;
}

/* dynamic_streams_check_configs: the first stream_count (default all)
 * streams generated by each named dynamic definition. */
static sl_code check_dynamic(lc_source *src, const json_t *cfgs, sl_err *err) {
  size_t i;
  json_t *c;
  json_array_foreach(cfgs, i, c) {
    const char *want = json_string_value(json_object_get(c, "dynamic_stream_name"));
    const json_t *cnt = json_object_get(c, "stream_count");
    bool found = false;
    size_t k;
    json_t *d;
    json_array_foreach(json_object_get(src->root, "dynamic_streams"), k, d) {
      char nb[64];
      if (want && !strcmp(lc_dyn_name(d, k, nb, sizeof nb), want)) found = true;
    }
    if (!found)
      return sl_err_set(err, SL_ECONFIG, "%s: dynamic stream \"%s\" is not found in the manifest", LC_WHERE(src, c),
                        want ? want : "?");
    if (cnt && (!json_is_integer(cnt) || json_integer_value(cnt) < 1))
      return sl_err_set(err, SL_ECONFIG, "%s: stream_count must be a positive integer", LC_WHERE(src, c));
    json_int_t left = cnt ? json_integer_value(cnt) : -1;
    json_t *s;
    json_array_foreach(lc_source_streams(src), k, s) {
      const char *name = json_string_value(json_object_get(s, "name"));
      const char *origin = lc_dyn_origin(src, name);
      if (!left || !origin || strcmp(origin, want)) continue;
      sl_code rc = check_one(src, s, name, err);
      if (rc) return rc;
      if (left > 0) left--;
    }
  }
  return SL_EOK;
}

sl_code lc_source_check(lc_source *src, sl_err *err) {
  const json_t *check = json_object_get(src->root, "check");
  const char *type = json_string_value(json_object_get(check, "type"));
  if (!check) return sl_err_set(err, SL_ECONFIG, "the manifest has no check component");
  if (type && strcmp(type, "CheckStream") && strcmp(type, "CheckDynamicStream"))
    return sl_err_set(err, SL_ECONFIG, "%s: check type %s is not supported yet", LC_WHERE(src, check), type);
  sl_code rc = lc_dyn_resolve(src, err);
  if (rc) return sl_err_wrap(err, "Encountered an error while discovering streams");
  const json_t *all = lc_source_streams(src);
  if (type && !strcmp(type, "CheckDynamicStream")) {
    /* the first stream_count streams of the source, static ones first */
    const json_t *cnt = json_object_get(check, "stream_count");
    if (!json_is_integer(cnt) || json_integer_value(cnt) < 0)
      return sl_err_set(err, SL_ECONFIG, "%s: CheckDynamicStream needs stream_count (an integer)", LC_WHERE(src, check));
    if (!json_array_size(all)) return sl_err_set(err, SL_ESOURCE, "No streams to connect to from the source");
    for (size_t i = 0; i < json_array_size(all) && i < (size_t)json_integer_value(cnt) && !rc; i++) {
      const json_t *s = json_array_get(all, i);
      rc = check_one(src, s, json_string_value(json_object_get(s, "name")), err);
    }
    return rc;
  }
  const json_t *names = json_object_get(src->config, "__airbyte_check_stream_names");
  const json_t *dyn = json_object_get(check, "dynamic_streams_check_configs");
  if (!json_array_size(names)) names = json_object_get(check, "stream_names");
  if (!json_array_size(names) && !json_array_size(dyn))
    return sl_err_set(err, SL_ECONFIG, "%s: CheckStream needs stream_names", LC_WHERE(src, check));
  size_t i;
  json_t *n;
  json_array_foreach(names, i, n) {
    const char *name = json_string_value(n);
    const json_t *node = name ? find_entry(src, name) : NULL;
    if (!node)
      return sl_err_set(err, SL_ECONFIG, "%s: check stream \"%s\" is not a stream of the manifest", LC_WHERE(src, check),
                        name ? name : "?");
    if ((rc = check_one(src, node, name, err))) return rc;
  }
  return check_dynamic(src, dyn, err);
}

/* ---- read ---- */

sl_code lc_source_read(lc_source *src, sl_read *rd, const sl_cstream *cs, sl_err *err) {
  sl_code rc = lc_dyn_resolve(src, err);
  if (rc) return rc;
  const json_t *node = find_entry(src, cs->name);
  if (!node) return sl_err_set(err, SL_ECATALOG, "stream %s is not a stream of the manifest", cs->name);
  if ((rc = pick_stream(src, node, sl_read_state(rd), &node, err))) return rc;
  lc_stream *st = NULL;
  rc = lc_stream_open(src, node, &st, err);
  if (!rc) rc = lc_stream_read(st, rd, cs, err);
  lc_stream_close(st);
  return rc;
}
