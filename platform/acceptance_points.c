/* basic_read options on the records read: validate_data_points (every
 * schema field non-null somewhere) and file_types (file-based connectors
 * read every supported file type); the incremental suite's cursor_format. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "acceptance_int.h"

/* ---- field paths: "/a/b", arrays as "/a/[]" ---- */

#define MAX_PATH_DEPTH 32

static void schema_paths(const json_t *schema, const char *prefix, int depth, json_t *out) {
  if (!json_is_object(schema) || depth > MAX_PATH_DEPTH) return;
  const char *k;
  json_t *p;
  char sub[1024];
  json_object_foreach(json_object_get(schema, "properties"), k, p) {
    snprintf(sub, sizeof sub, "%s/%s", prefix, k);
    json_object_set_new(out, sub, json_true());
    /* a oneOf/anyOf field counts when any option is used: only the field
     * itself is required, not every option's sub-fields */
    if (json_object_get(p, "oneOf") || json_object_get(p, "anyOf")) continue;
    schema_paths(p, sub, depth + 1, out);
    const json_t *it = json_object_get(p, "items");
    if (json_is_object(it) && at_type_has(p, "array")) {
      char arr[1100];
      snprintf(arr, sizeof arr, "%s/[]", sub);
      schema_paths(it, arr, depth + 1, out);
    }
  }
}

static void value_paths(const json_t *v, const char *prefix, int depth, json_t *out) {
  if (depth > MAX_PATH_DEPTH) return;
  char sub[1100];
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      if (json_is_null(x)) continue;
      snprintf(sub, sizeof sub, "%s/%s", prefix, k);
      json_object_set_new(out, sub, json_true());
      value_paths(x, sub, depth + 1, out);
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    snprintf(sub, sizeof sub, "%s/[]", prefix);
    json_array_foreach(v, i, x) value_paths(x, sub, depth + 1, out);
  }
}

static bool rec_of(const json_t *m, const json_t *s) {
  const json_t *rec = json_object_get(m, "record");
  return at_same_stream(json_string_value(json_object_get(rec, "stream")), json_string_value(json_object_get(rec, "namespace")),
                        at_sname(s), at_sns(s));
}

void at_check_data_points(at_ctx *c, at_input *in, const json_t *catalog, const json_t *recs) {
  char nm[96], why[1200] = "";
  at_name(in, "test_read:data_points", nm, sizeof nm);
  if (!json_is_true(json_object_get(in->in, "validate_data_points"))) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "validate_data_points is not set");
    return;
  }
  size_t i, j;
  json_t *cs, *m;
  json_array_foreach(json_object_get(catalog, "streams"), i, cs) {
    const json_t *s = json_object_get(cs, "stream");
    if (at_listed(json_object_get(in->in, "empty_streams"), at_sname(s))) continue;
    json_t *want = json_object(), *seen = json_object();
    schema_paths(json_object_get(s, "json_schema"), "", 0, want);
    size_t n = 0;
    json_array_foreach(recs, j, m) if (rec_of(m, s)) {
      value_paths(json_object_get(json_object_get(m, "record"), "data"), "", 0, seen);
      n++;
    }
    /* a stream without records is reported by streams_have_records */
    const char *k;
    json_t *v;
    size_t missing = 0, at = 0;
    char list[900] = "";
    json_object_foreach(want, k, v) {
      if (!n || json_object_get(seen, k)) continue;
      if (missing++ < 8) at += (size_t)snprintf(list + at, at < sizeof list ? sizeof list - at : 0, "%s%s", missing > 1 ? ", " : "", k);
    }
    if (missing && !why[0])
      snprintf(why, sizeof why, "stream %s: %zu schema field(s) are null or absent in all %zu records: %s%s", at_sname(s), missing, n,
               list, missing > 8 ? ", ..." : "");
    json_decref(want), json_decref(seen);
  }
  at_result(c, in->suite, nm, why[0] ? SL_AT_FAIL : SL_AT_PASS, NULL, why[0] ? "%s" : NULL, why);
}

/* ---- file_types ---- */

static const char *const structured[] = {".avro", ".csv", ".jsonl", ".parquet", NULL};
static const char *const unstructured[] = {".pdf", ".doc", ".docx", ".ppt", ".pptx", ".md", NULL};

/* Does a file name carry ext as one of its suffixes (a.csv.gz has .csv)? */
static bool has_suffix(const char *url, const char *ext) {
  const char *base = strrchr(url, '/') ? strrchr(url, '/') + 1 : url;
  size_t n = strlen(ext);
  for (const char *p = strchr(base, '.'); p; p = strchr(p + 1, '.'))
    if (!strncasecmp(p, ext, n) && (p[n] == 0 || p[n] == '.')) return true;
  return false;
}

static bool unsupported(const json_t *ft, const char *ext) {
  size_t i;
  json_t *u;
  json_array_foreach(json_object_get(ft, "unsupported_types"), i, u)
      if (!strcasecmp(json_string_value(json_object_get(u, "extension")) ?: "", ext)) return true;
  return false;
}

void at_check_file_types(at_ctx *c, at_input *in, const json_t *recs) {
  char nm[96];
  at_name(in, "test_all_supported_file_types_present", nm, sizeof nm);
  const json_t *ft = json_object_get(in->in, "file_types");
  const char *sub = json_string_value(json_object_get(c->metadata, "connectorSubtype"));
  int ql = (int)json_integer_value(json_object_get(json_object_get(c->metadata, "ab_internal"), "ql"));
  if (!sub || strcmp(sub, "file") || ql < 400) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL,
              "only for certified file-based connectors (metadata.yaml connectorSubtype: file and ab_internal.ql >= 400)");
    return;
  }
  if (json_is_true(json_object_get(ft, "skip_test"))) {
    const char *br = json_string_value(json_object_get(ft, "bypass_reason"));
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "file_types.skip_test%s%s", br ? ": " : "", br ?: "");
    return;
  }
  /* the file types seen in _ab_source_file_url */
  char missing[300] = "";
  size_t at = 0, i;
  json_t *m;
  for (size_t k = 0; structured[k]; k++) {
    if (unsupported(ft, structured[k])) continue;
    bool seen = false;
    json_array_foreach(recs, i, m) {
      const char *u = json_string_value(json_object_get(json_object_get(json_object_get(m, "record"), "data"), "_ab_source_file_url"));
      seen |= u && has_suffix(u, structured[k]);
    }
    if (!seen) at += (size_t)snprintf(missing + at, sizeof missing - at, "%s%s", at ? ", " : "", structured[k]);
  }
  bool any_un = false, all_exempt = true;
  for (size_t k = 0; unstructured[k]; k++) {
    if (unsupported(ft, unstructured[k])) continue;
    all_exempt = false;
    json_array_foreach(recs, i, m) {
      const char *u = json_string_value(json_object_get(json_object_get(json_object_get(m, "record"), "data"), "_ab_source_file_url"));
      any_un |= u && has_suffix(u, unstructured[k]);
    }
  }
  if (!any_un && !all_exempt && at < sizeof missing)
    snprintf(missing + at, sizeof missing - at, "%sone of .pdf .doc .docx .ppt .pptx .md", at ? ", " : "");
  if (missing[0])
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL,
              "no record read from a file of type %s (_ab_source_file_url); list a type the connector does not support in "
              "file_types.unsupported_types with a bypass_reason",
              missing);
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
}

/* ---- cursor_format ---- */

const char *at_cursor_format(const json_t *future_state_cfg, const char *stream) {
  const json_t *cf = json_object_get(future_state_cfg, "cursor_format");
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(cf, "streams"), i, s)
      if (!strcmp(json_string_value(json_object_get(s, "name")) ?: "", stream)) return json_string_value(json_object_get(s, "format"));
  return json_string_value(json_object_get(cf, "format"));
}

bool at_regex_match(const char *re, const char *value, char *why, size_t n) {
  int ec;
  PCRE2_SIZE off;
  /* anchored at the start, as Python's re.match */
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_ANCHORED, &ec, &off, NULL);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    snprintf(why, n, "cursor_format \"%s\" is not a valid regular expression (offset %zu: %s)", re, (size_t)off, (const char *)msg);
    return false;
  }
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
  int rc = md ? pcre2_match(code, (PCRE2_SPTR)value, strlen(value), 0, 0, md, NULL) : -1;
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  if (rc < 0) snprintf(why, n, "cursor value \"%s\" does not match cursor_format \"%s\"", value, re);
  return rc >= 0;
}

/* ---- test_strictness_level: high ---- */

/* Every empty stream and every ignored field carries a bypass_reason. */
void at_check_high_strictness(at_ctx *c, at_input *in) {
  if (!c->high) return;
  char nm[96], why[600] = "";
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(in->in, "empty_streams"), i, e) if (!why[0] && !json_object_get(e, "bypass_reason"))
      snprintf(why, sizeof why, "empty_streams: %s has no bypass_reason (required with test_strictness_level: high)",
               json_string_value(json_object_get(e, "name")) ?: "?");
  const char *k;
  json_t *l;
  json_object_foreach(json_object_get(in->in, "ignored_fields"), k, l) {
    json_array_foreach(l, i, e) if (!why[0] && !json_object_get(e, "bypass_reason"))
        snprintf(why, sizeof why, "ignored_fields: %s.%s has no bypass_reason (required with test_strictness_level: high)", k,
                 json_string_value(json_object_get(e, "name")) ?: "?");
  }
  at_result(c, in->suite, at_name(in, "test_read:strictness", nm, sizeof nm), why[0] ? SL_AT_FAIL : SL_AT_PASS, NULL,
            why[0] ? "%s" : NULL, why);
}

/* With high strictness the future state covers every incremental stream,
 * or the stream is in missing_streams with a bypass_reason. */
const char *at_future_state_coverage(at_ctx *c, const json_t *fs, const json_t *state, const json_t *catalog, char *why, size_t n) {
  if (!c->high) return NULL;
  size_t i, j;
  json_t *cs, *m;
  json_array_foreach(json_object_get(catalog, "streams"), i, cs) {
    const json_t *s = json_object_get(cs, "stream");
    bool have = false;
    json_array_foreach(state, j, m) {
      const json_t *sd = json_object_get(json_object_get(m, "stream"), "stream_descriptor");
      have |= at_same_stream(json_string_value(json_object_get(sd, "name")), json_string_value(json_object_get(sd, "namespace")),
                             at_sname(s), at_sns(s));
    }
    json_array_foreach(json_object_get(fs, "missing_streams"), j, m)
        have |= !strcmp(json_string_value(json_object_get(m, "name")) ?: "", at_sname(s) ?: "") && json_object_get(m, "bypass_reason");
    if (!have) {
      snprintf(why, n, "stream %s has no future state (required with test_strictness_level: high; or list it in "
               "future_state.missing_streams with a bypass_reason)", at_sname(s));
      return why;
    }
  }
  return NULL;
}
