/* basic_read options on the records read: validate_data_points (every
 * schema field non-null somewhere) and file_types (file-based connectors
 * read every supported file type); the incremental suite's cursor_format. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "acceptance_int.h"

/* ---- field paths: "/a/b", arrays as "/a/[]", oneOf options as "/a(1)" ----
 * As CAT's get_expected_schema_structure(annotate_one_of=True): the leaves
 * of the schema (an object with properties is its leaves; one without is a
 * leaf; an array is its items; a oneOf/anyOf field is each option, an
 * option read as an object unless it says otherwise). A record covers a
 * leaf when the leaf's path holds a non-null value (arrays: the first
 * item, as CAT), and a oneOf field is covered once any option's leaf is. */

#define MAX_PATH_DEPTH 32

/* expected: annotated path -> [plain path, the plain path of its outermost
 * oneOf field or null] */
static void schema_paths(const json_t *s, const char *annot, const char *plain, const char *group, int depth, json_t *out) {
  if (depth > MAX_PATH_DEPTH) return;
  char a[1100], p[1100];
  const json_t *opts = json_object_get(s, "oneOf");
  if (!json_array_size(opts)) opts = json_object_get(s, "anyOf");
  if (json_array_size(opts)) {
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o) {
      json_t *branch = json_is_object(o) ? json_copy(o) : json_object();
      if (!json_object_get(branch, "type")) json_object_set_new(branch, "type", json_string("object"));
      snprintf(a, sizeof a, "%s(%zu)", annot, i);
      schema_paths(branch, a, plain, group ? group : plain, depth + 1, out);
      json_decref(branch);
    }
    return;
  }
  const json_t *t = json_object_get(s, "type");
  bool obj = !t || at_type_has(s, "object"), arr = t && at_type_has(s, "array");
  const json_t *props = json_object_get(s, "properties");
  if (obj && json_object_size(props)) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v) {
      snprintf(a, sizeof a, "%s/%s", annot, k);
      snprintf(p, sizeof p, "%s/%s", plain, k);
      schema_paths(v, a, p, group, depth + 1, out);
    }
    return;
  }
  if (!obj && arr) {
    const json_t *it = json_object_get(s, "items");
    json_t *empty = json_object();
    snprintf(a, sizeof a, "%s/[]", annot);
    snprintf(p, sizeof p, "%s/[]", plain);
    schema_paths(json_is_object(it) ? it : empty, a, p, group, depth + 1, out);
    json_decref(empty);
    return;
  }
  if (*annot) json_object_set_new(out, annot, json_pack("[s, s?]", plain, group));
}

static void value_paths(const json_t *v, const char *prefix, int depth, json_t *out) {
  if (depth > MAX_PATH_DEPTH || json_is_null(v)) return;
  if (*prefix) json_object_set_new(out, prefix, json_true());
  char sub[1100];
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      snprintf(sub, sizeof sub, "%s/%s", prefix, k);
      value_paths(x, sub, depth + 1, out);
    }
  } else if (json_array_size(v)) {
    snprintf(sub, sizeof sub, "%s/[]", prefix);
    value_paths(json_array_get(v, 0), sub, depth + 1, out);
  }
}

json_t *sl_at_missing_data_points(const json_t *schema, const json_t *records) {
  json_t *want = json_object();
  schema_paths(schema, "", "", NULL, 0, want);
  size_t i;
  json_t *rec;
  json_array_foreach(records, i, rec) {
    if (!json_object_size(want)) break;
    json_t *seen = json_object();
    value_paths(rec, "", 0, seen);
    const char *k;
    json_t *v;
    void *tmp;
    json_t *groups = json_array();
    json_object_foreach_safe(want, tmp, k, v) {
      if (!json_object_get(seen, json_string_value(json_array_get(v, 0)))) continue;
      if (json_is_string(json_array_get(v, 1))) json_array_append(groups, json_array_get(v, 1));
      json_object_del(want, k);
    }
    /* a covered option covers its whole oneOf field */
    size_t g;
    json_t *grp;
    json_array_foreach(groups, g, grp) {
      json_object_foreach_safe(want, tmp, k, v) if (json_equal(json_array_get(v, 1), grp)) json_object_del(want, k);
    }
    json_decref(groups), json_decref(seen);
  }
  json_t *out = json_array();
  const char *k;
  json_t *v;
  json_object_foreach(want, k, v) json_array_append_new(out, json_string(k));
  json_decref(want);
  /* sorted, as CAT reports them */
  size_t n = json_array_size(out);
  for (size_t a = 1; a < n; a++)
    for (size_t b = a; b > 0 && strcmp(json_string_value(json_array_get(out, b - 1)), json_string_value(json_array_get(out, b))) > 0; b--) {
      json_t *x = json_incref(json_array_get(out, b - 1));
      json_array_set(out, b - 1, json_array_get(out, b));
      json_array_set_new(out, b, x);
    }
  return out;
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
    json_t *data = json_array();
    json_array_foreach(recs, j, m) if (rec_of(m, s)) json_array_append(data, json_object_get(json_object_get(m, "record"), "data"));
    /* a stream without records is reported by streams_have_records */
    json_t *missing = json_array_size(data) ? sl_at_missing_data_points(json_object_get(s, "json_schema"), data) : json_array();
    size_t at = 0, k;
    json_t *x;
    char list[900] = "";
    json_array_foreach(missing, k, x) if (k < 8 && at < sizeof list)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", k ? ", " : "", json_string_value(x));
    if (json_array_size(missing) && !why[0])
      snprintf(why, sizeof why, "stream %s: %zu schema field(s) are null or absent in all %zu records: %s%s", at_sname(s),
               json_array_size(missing), json_array_size(data), list, json_array_size(missing) > 8 ? ", ..." : "");
    json_decref(missing), json_decref(data);
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
