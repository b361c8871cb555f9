/* Spec.config_normalization_rules (the SHOULD tier, notes §5.2/§6.14):
 * config_migrations (ConfigAddFields, ConfigRemapField, ConfigRemoveFields),
 * then transformations (the same three), then validations (DpathValidator,
 * PredicateValidator with ValidateAdheresToSchema). As in the Python CDK, a
 * migration that changed the config is announced with a CONTROL
 * connectorConfig message carrying the whole migrated config; the
 * transformations only change the config this run uses. */
#include <stdio.h>
#include <stdlib.h>

#include "lc.h"
#include "sluice/schema.h"

static json_t *cfg_ctx(const json_t *config) { return json_pack("{s:O, s:{}}", "config", config, "parameters"); }

/* A template field rendered to a value (ANY: literal-evaluated). */
static sl_code eval_value(lc_source *src, const json_t *node, const char *field, const json_t *v, const json_t *ctx,
                          sl_tmpl_accept accept, json_t **out, sl_err *err) {
  *out = NULL;
  if (!json_is_string(v)) {
    *out = json_deep_copy(v);
    return SL_EOK;
  }
  sl_tmpl *t = NULL;
  sl_code rc = lc_tmpl_value(src, node, field, v, &t, err);
  if (!rc) rc = lc_eval(t, ctx, accept, out, err);
  sl_tmpl_free(t);
  return rc;
}

static sl_code eval_bool(lc_source *src, const json_t *node, const json_t *ctx, bool *ok, sl_err *err) {
  *ok = true;
  sl_tmpl *t = NULL;
  sl_code rc = lc_tmpl_field(src, node, "condition", &t, err);
  if (!rc && t) rc = sl_tmpl_eval_bool(t, ctx, ok, err);
  sl_tmpl_free(t);
  return rc;
}

/* A path of templates rendered with ctx (malloc'd strings). */
static sl_code eval_path(lc_source *src, const json_t *node, const char *field, const json_t *ctx, char ***out,
                         size_t *n, sl_err *err) {
  const json_t *fp = json_object_get(node, field);
  *n = json_array_size(fp);
  *out = calloc(*n + 1, sizeof **out);
  if (!*out) return sl_err_set(err, SL_ENOMEM, "out of memory");
  if (!*n) return sl_err_set(err, SL_ECONFIG, "%s: `%s` must be a non-empty list", LC_WHERE(src, node), field);
  for (size_t i = 0; i < *n; i++) {
    const json_t *seg = json_array_get(fp, i);
    sl_tmpl *t = NULL;
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    sl_code rc = lc_tmpl_value(src, node, field, seg, &t, err);
    if (!rc) rc = lc_eval_text(t, ctx, &b, err);
    sl_tmpl_free(t);
    if (!rc) (*out)[i] = strdup(sl_buf_cstr(&b));
    sl_buf_dispose(&b);
    if (rc) return rc;
  }
  return SL_EOK;
}

static void free_path(char **p, size_t n) {
  for (size_t i = 0; p && i < n; i++) free(p[i]);
  free(p);
}

/* ---- transformations ---- */

static sl_code add_fields(lc_source *src, const json_t *node, json_t *config, sl_err *err) {
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(node, "fields"), i, f) {
    const json_t *path = json_object_get(f, "path");
    if (!json_array_size(path))
      return sl_err_set(err, SL_ECONFIG, "%s: an added field needs a non-empty path", LC_WHERE(src, f));
    const char *vt = json_string_value(json_object_get(f, "value_type"));
    sl_tmpl_accept acc = !vt                      ? SL_TMPL_ANY
                         : !strcmp(vt, "string")  ? SL_TMPL_STRING
                         : !strcmp(vt, "integer") ? SL_TMPL_INT
                         : !strcmp(vt, "number")  ? SL_TMPL_NUMBER
                         : !strcmp(vt, "boolean") ? SL_TMPL_BOOL
                                                  : SL_TMPL_ANY;
    json_t *ctx = cfg_ctx(config), *v = NULL;
    sl_code rc = eval_value(src, f, "value", json_object_get(f, "value"), ctx, acc, &v, err);
    bool ok = true;
    if (!rc) {
      json_object_set(ctx, "value", v ? v : json_null());
      json_object_set(ctx, "path", (json_t *)path);
      rc = eval_bool(src, node, ctx, &ok, err);
    }
    json_decref(ctx);
    if (rc || !ok) { /* a false condition skips the field */
      json_decref(v);
      if (rc) return rc;
      continue;
    }
    json_t *cur = config;
    for (size_t k = 0; k + 1 < json_array_size(path); k++) {
      const char *key = json_string_value(json_array_get(path, k));
      json_t *next = json_object_get(cur, key ? key : "");
      if (!json_is_object(next)) json_object_set_new(cur, key ? key : "", next = json_object());
      cur = next;
    }
    const char *last = json_string_value(json_array_get(path, json_array_size(path) - 1));
    json_object_set_new(cur, last ? last : "", v ? v : json_string(""));
  }
  return SL_EOK;
}

/* The value at field_path is replaced when it is a key of `map` (keys and
 * values rendered with config; keys compared as values, as Python does). */
static sl_code remap_field(lc_source *src, const json_t *node, json_t *config, sl_err *err) {
  json_t *ctx = cfg_ctx(config);
  char **path = NULL;
  size_t n = 0;
  sl_code rc = eval_path(src, node, "field_path", ctx, &path, &n, err);
  json_t *cur = config;
  for (size_t i = 0; !rc && i + 1 < n && cur; i++) {
    cur = json_object_get(cur, path[i]);
    if (!json_is_object(cur)) cur = NULL;
  }
  json_t *have = !rc && cur ? json_object_get(cur, path[n - 1]) : NULL;
  const char *k;
  json_t *mv;
  const json_t *map = json_object_get(node, "map");
  if (have) {
    json_object_foreach((json_t *)map, k, mv) {
      json_t *kv = NULL, *vv = NULL;
      json_t *ks = json_string(k);
      rc = eval_value(src, node, "map", ks, ctx, SL_TMPL_ANY, &kv, err);
      json_decref(ks);
      if (rc) break;
      bool hit = kv && json_equal(kv, have);
      json_decref(kv);
      if (!hit) continue;
      if ((rc = eval_value(src, node, "map", mv, ctx, SL_TMPL_ANY, &vv, err))) break;
      json_object_set_new(cur, path[n - 1], vv ? vv : json_null());
      break;
    }
  }
  free_path(path, n);
  json_decref(ctx);
  return rc;
}

/* dpath.delete of each pointer ('*' matches any key); missing paths skipped. */
static void delete_ptr(json_t *cur, const json_t *ptr, size_t i) {
  const char *seg = json_string_value(json_array_get(ptr, i));
  if (!seg) return;
  bool last = i + 1 == json_array_size(ptr);
  if (json_is_object(cur)) {
    const char *k;
    json_t *x;
    void *tmp;
    json_object_foreach_safe(cur, tmp, k, x) {
      if (strcmp(seg, "*") && strcmp(seg, k)) continue;
      if (last) json_object_del(cur, k);
      else delete_ptr(x, ptr, i + 1);
    }
  } else if (json_is_array(cur)) { /* an element pointed at becomes None */
    char *end;
    long idx = strtol(seg, &end, 10);
    for (size_t j = 0; j < json_array_size(cur); j++) {
      if (strcmp(seg, "*") && (*end || idx < 0 || (size_t)idx != j)) continue;
      if (last) json_array_set_new(cur, j, json_null());
      else delete_ptr(json_array_get(cur, j), ptr, i + 1);
    }
  }
}

static sl_code remove_fields(lc_source *src, const json_t *node, json_t *config, sl_err *err) {
  json_t *ctx = cfg_ctx(config);
  bool ok = true;
  sl_code rc = eval_bool(src, node, ctx, &ok, err);
  json_decref(ctx);
  if (rc || !ok) return rc;
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(node, "field_pointers"), i, p) if (json_array_size(p)) delete_ptr(config, p, 0);
  return SL_EOK;
}

static sl_code transform(lc_source *src, const json_t *list, json_t *config, sl_err *err) {
  size_t i;
  json_t *t;
  json_array_foreach(list, i, t) {
    const char *type = json_string_value(json_object_get(t, "type"));
    sl_code rc;
    if (!type) type = "";
    if (!strcmp(type, "ConfigAddFields")) rc = add_fields(src, t, config, err);
    else if (!strcmp(type, "ConfigRemapField")) rc = remap_field(src, t, config, err);
    else if (!strcmp(type, "ConfigRemoveFields")) rc = remove_fields(src, t, config, err);
    else
      return sl_err_set(err, SL_ECONFIG, "%s: config transformation %s is not supported%s", LC_WHERE(src, t), type,
                        !strncmp(type, "Custom", 6) ? " (it needs Python code)" : "");
    if (rc) return sl_err_wrap(err, "%s at %s", type, LC_WHERE(src, t));
  }
  return SL_EOK;
}

/* ---- validations ---- */

/* ValidateAdheresToSchema: a string value is JSON text; the schema is an
 * object, or JSON text (rendered with config). */
static sl_code adheres(lc_source *src, const json_t *strategy, const json_t *config, const json_t *value,
                       const char *what, sl_err *err) {
  const char *type = json_string_value(json_object_get(strategy, "type"));
  if (!type || strcmp(type, "ValidateAdheresToSchema"))
    return sl_err_set(err, SL_ECONFIG, "%s: validation strategy %s is not supported", LC_WHERE(src, strategy),
                      type ? type : "(none)");
  json_t *parsed = NULL, *schema = NULL;
  if (json_is_string(value)) {
    json_error_t je;
    if (!(parsed = json_loads(json_string_value(value), JSON_DECODE_ANY, &je)))
      return sl_err_set(err, SL_ECONFIG, "%s: invalid JSON string: %s", what, json_string_value(value));
    value = parsed;
  }
  const json_t *bs = json_object_get(strategy, "base_schema");
  sl_code rc = SL_EOK;
  if (json_is_string(bs)) {
    json_t *ctx = cfg_ctx(config);
    sl_tmpl *t = NULL;
    sl_buf b;
    sl_buf_init(&b, 1 << 24);
    rc = lc_tmpl_value(src, strategy, "base_schema", bs, &t, err);
    if (!rc) rc = sl_tmpl_render(t, ctx, &b, err) ? err->code : SL_EOK; /* the text, not its str() */
    sl_tmpl_free(t);
    json_decref(ctx);
    if (!rc && !(schema = json_loads(sl_buf_cstr(&b), 0, NULL)))
      rc = sl_err_set(err, SL_ECONFIG, "%s: base_schema is not a JSON object: %.200s", LC_WHERE(src, strategy), sl_buf_cstr(&b));
    sl_buf_dispose(&b);
  } else if (json_is_object(bs)) {
    schema = json_incref((json_t *)bs);
  } else {
    rc = sl_err_set(err, SL_ECONFIG, "%s: ValidateAdheresToSchema needs a base_schema", LC_WHERE(src, strategy));
  }
  if (!rc) {
    sl_err verr = SL_ERR_INIT;
    if (sl_schema_validate(schema, value, what, &verr))
      rc = sl_err_set(err, SL_ECONFIG, "JSON schema validation error: %s", verr.msg);
  }
  json_decref(schema);
  json_decref(parsed);
  return rc;
}

/* Every match of a path with '*' segments (dpath.values). */
static void matches(json_t *cur, char **path, size_t n, json_t *out) {
  if (!n) {
    json_array_append(out, cur);
    return;
  }
  if (json_is_object(cur)) {
    if (strcmp(path[0], "*")) {
      json_t *x = json_object_get(cur, path[0]);
      if (x) matches(x, path + 1, n - 1, out);
      return;
    }
    const char *k;
    json_t *x;
    json_object_foreach(cur, k, x) matches(x, path + 1, n - 1, out);
  } else if (json_is_array(cur)) {
    size_t i;
    json_t *x;
    char *end;
    long idx = strtol(path[0], &end, 10);
    json_array_foreach(cur, i, x) if (!strcmp(path[0], "*") || (!*end && idx >= 0 && (size_t)idx == i))
        matches(x, path + 1, n - 1, out);
  }
}

static sl_code validate(lc_source *src, const json_t *list, json_t *config, sl_err *err) {
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    const char *type = json_string_value(json_object_get(v, "type"));
    const json_t *strategy = json_object_get(v, "validation_strategy");
    sl_code rc = SL_EOK;
    if (type && !strcmp(type, "DpathValidator")) {
      json_t *ctx = json_pack("{s:{}, s:{}}", "config", "parameters"); /* rendered with an empty config */
      char **path = NULL;
      size_t n = 0;
      rc = eval_path(src, v, "field_path", ctx, &path, &n, err);
      json_decref(ctx);
      json_t *found = json_array();
      if (!rc) matches(config, path, n, found);
      char what[512];
      size_t w = (size_t)snprintf(what, sizeof what, "config");
      for (size_t k = 0; k < n && w < sizeof what; k++) w += (size_t)snprintf(what + w, sizeof what - w, ".%s", path[k]);
      if (!rc && !json_array_size(found)) lc_log(src, "INFO", "Validation skipped. Key not found: %s", what);
      size_t j;
      json_t *x;
      json_array_foreach(found, j, x) if ((rc = adheres(src, strategy, config, x, what, err))) break;
      json_decref(found);
      free_path(path, n);
    } else if (type && !strcmp(type, "PredicateValidator")) {
      rc = adheres(src, strategy, config, json_object_get(v, "value"), "value", err);
    } else {
      return sl_err_set(err, SL_ECONFIG, "%s: config validation %s is not supported", LC_WHERE(src, v),
                        type ? type : "(none)");
    }
    if (rc) return sl_err_wrap(err, "%s at %s", type, LC_WHERE(src, v));
  }
  return SL_EOK;
}

sl_code lc_config_normalize(lc_source *src, json_t *config, bool *migrated, sl_err *err) {
  *migrated = false;
  const json_t *rules = json_object_get(json_object_get(src->root, "spec"), "config_normalization_rules");
  if (!json_is_object(rules)) return SL_EOK;
  json_t *before = json_deep_copy(config);
  sl_code rc = SL_EOK;
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(rules, "config_migrations"), i, m) {
    if ((rc = transform(src, json_object_get(m, "transformations"), config, err))) break;
  }
  if (!rc) *migrated = !json_equal(before, config);
  json_decref(before);
  return rc;
}

sl_code lc_config_transform_validate(lc_source *src, json_t *config, sl_err *err) {
  const json_t *rules = json_object_get(json_object_get(src->root, "spec"), "config_normalization_rules");
  if (!json_is_object(rules)) return SL_EOK;
  sl_code rc = transform(src, json_object_get(rules, "transformations"), config, err);
  if (!rc) rc = validate(src, json_object_get(rules, "validations"), config, err);
  return rc;
}
