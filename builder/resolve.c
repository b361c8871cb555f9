/* The manifest as the page sees it: YAML text -> raw JSON (what the form
 * edits) and resolved JSON (refs, parameters) with validation issues; JSON
 * back to block YAML (libfyaml's emitter), so the page needs no YAML code. */
#include <ctype.h>
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder.h"
#include "sluice/yaml.h"

static void add_issue(const sl_manifest_issue *is, void *ud) {
  json_t *o = json_pack("{s:s,s:s,s:s}", "level", is->level == SL_MANIFEST_ERROR ? "error" : "warning", "where",
                        is->where, "message", is->message);
  json_t *loc = lc_tr_location(is->where);
  if (loc) json_object_set_new(o, "location", loc);
  json_array_append_new(ud, o);
}

json_t *bld_error_json(const sl_err *err) {
  json_t *e = json_pack("{s:s,s:s}", "message", err->msg, "failure_type", sl_err_failure_type(err->code));
  json_t *loc = lc_tr_location(err->msg);
  if (loc) json_object_set_new(e, "location", loc);
  return json_pack("{s:o}", "error", e);
}

json_t *bld_resolve(const char *yaml, size_t len, const char *name) {
  sl_err err = SL_ERR_INIT;
  sl_yaml *y = sl_yaml_load_str(yaml, len, name, &err);
  if (!y) return bld_error_json(&err);
  json_t *raw = json_incref(sl_yaml_root(y));
  sl_yaml_free(y);
  if (!json_is_object(raw)) {
    json_decref(raw);
    sl_err_set(&err, SL_ECONFIG, "%s:1:1 : the manifest must be a mapping (type: DeclarativeSource, streams: ...)",
               name);
    return bld_error_json(&err);
  }
  sl_manifest *m = sl_manifest_load_yaml(yaml, len, name, &err);
  if (!m) {
    json_t *res = bld_error_json(&err);
    json_object_set_new(res, "manifest", raw);
    return res;
  }
  const json_t *root = sl_manifest_root(m);
  json_t *streams = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(root, "streams"), i, s) {
    const char *n = json_string_value(json_object_get(s, "name"));
    json_array_append_new(streams, json_string(n ? n : ""));
  }
  json_t *issues = json_array();
  sl_manifest_validate(m, add_issue, issues, NULL);
  const json_t *spec = json_object_get(json_object_get(root, "spec"), "connection_specification");
  json_t *res = json_pack("{s:o,s:O,s:o,s:O,s:o}", "manifest", raw, "resolved", root, "streams", streams, "spec",
                          spec ? spec : json_null(), "issues", issues);
  sl_manifest_free(m);
  return res;
}

/* Whether s may be written as a plain scalar and read back as the same
 * string by YAML 1.2 and by PyYAML (YAML 1.1: yes/no/on/off are booleans,
 * 2024-01-01 a date): it starts with a letter, holds only quiet characters
 * and is not a boolean or null word. Everything else is double-quoted. */
bool bld_plain_ok(const char *s, size_t n) {
  if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == '/') || s[n - 1] == ' ') return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr(" _-./()@+=?&%$~,;*!^", s[i])) return false;
  static const char *const words[] = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strlen(words[i]) == n && !strncasecmp(s, words[i], n)) return false;
  return true;
}

static struct fy_node *to_node(struct fy_document *fyd, const json_t *v, int depth) {
  if (depth > 256) return NULL;
  if (json_is_object(v)) {
    struct fy_node *m = fy_node_create_mapping(fyd);
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)v, k, sub) {
      json_t *ks = json_string(k);
      struct fy_node *kn = to_node(fyd, ks, depth + 1), *vn = to_node(fyd, sub, depth + 1);
      json_decref(ks);
      if (!m || !kn || !vn || fy_node_mapping_append(m, kn, vn)) return NULL;
    }
    return m;
  }
  if (json_is_array(v)) {
    struct fy_node *q = fy_node_create_sequence(fyd);
    size_t i;
    json_t *sub;
    json_array_foreach(v, i, sub) {
      struct fy_node *n = to_node(fyd, sub, depth + 1);
      if (!q || !n || fy_node_sequence_append(q, n)) return NULL;
    }
    return q;
  }
  if (json_is_string(v) && bld_plain_ok(json_string_value(v), json_string_length(v)))
    return fy_node_create_scalar_copy(fyd, json_string_value(v), json_string_length(v));
  /* Numbers, booleans, null and quoted strings: JSON is YAML. */
  char *js = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
  /* The document keeps the text (and frees it): its scalars point into it. */
  struct fy_node *n = js ? fy_node_build_from_malloc_string(fyd, js, strlen(js)) : NULL;
  if (!n) free(js);
  return n;
}

char *bld_to_yaml(const json_t *v, sl_err *err) {
  struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
  struct fy_document *fyd = fy_document_create(&cfg);
  struct fy_node *root = fyd ? to_node(fyd, v, 0) : NULL;
  char *out = NULL;
  if (root && !fy_document_set_root(fyd, root))
    out = fy_emit_document_to_string(fyd, FYECF_MODE_BLOCK | FYECF_INDENT_2 | FYECF_WIDTH_INF |
                                              FYECF_DOC_START_MARK_OFF);
  if (fyd) fy_document_destroy(fyd);
  if (!out) sl_err_set(err, SL_EINTERNAL, "cannot write the manifest as YAML");
  return out;
}
