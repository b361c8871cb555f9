/* Typing for SQL destinations: the cases are data in tests/data/typing/
 * (schema_types.json, values.json, names.json, columns.json); the TESTs run
 * them, plus the _airbyte_meta writer and date parsing checked directly. */
#include <stdio.h>
#include <stdlib.h>

#include "sluice/typing.h"
#include "test.h"

static json_t *load_cases(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/typing/%s", sl_test_data_dir(), name);
  json_error_t je;
  json_t *doc = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
  if (!json_is_array(doc) || !json_array_size(doc)) {
    sl_test_fail(__FILE__, __LINE__, "%s:%d: not a non-empty JSON array: %s", path, je.line, je.text);
    json_decref(doc);
    return NULL;
  }
  return doc;
}

TEST(typing_schema_types) {
  json_t *doc = load_cases("schema_types.json");
  if (!doc) return;
  size_t i;
  json_t *c;
  json_array_foreach(doc, i, c) {
    const char *d = json_string_value(json_object_get(c, "description"));
    const char *want = json_string_value(json_object_get(c, "type"));
    sl_col_type wt;
    if (!d || !want || !sl_col_type_parse(want, &wt)) {
      sl_test_fail(__FILE__, __LINE__, "schema_types.json case %zu is malformed", i);
      continue;
    }
    sl_col_type got = sl_typing_from_schema(json_object_get(c, "schema"));
    if (got != wt)
      sl_test_fail(__FILE__, __LINE__, "%s: got %s, expected %s", d, sl_col_type_name(got), want);
  }
  json_decref(doc);
}

TEST(typing_values) {
  json_t *doc = load_cases("values.json");
  if (!doc) return;
  sl_jparser *p = sl_jparser_new(1 << 20);
  sl_buf text, scratch;
  sl_buf_init(&text, 1 << 20);
  sl_buf_init(&scratch, 1 << 20);
  const sl_typing_limits lim = {.max_string = 32, .max_json = 64, .allow_nul = false};
  size_t i;
  json_t *c;
  json_array_foreach(doc, i, c) {
    const char *d = json_string_value(json_object_get(c, "description"));
    const char *tn = json_string_value(json_object_get(c, "type"));
    /* "json": the value as raw JSON text (jansson cannot hold integers
     * above INT64_MAX); else "value". */
    json_t *value = json_object_get(c, "value");
    const char *raw = json_string_value(json_object_get(c, "json"));
    const char *want = json_string_value(json_object_get(c, "text"));
    const char *reason = json_string_value(json_object_get(c, "reason"));
    sl_col_type t;
    if (!d || !tn || !(value || raw) || !sl_col_type_parse(tn, &t)) {
      sl_test_fail(__FILE__, __LINE__, "values.json case %zu is malformed", i);
      continue;
    }
    char *js = raw ? strdup(raw) : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    text.len = 0;
    sl_buf_append(&text, js, strlen(js));
    free(js);
    sl_jv v;
    sl_err err = SL_ERR_INIT;
    if (sl_jparser_parse(p, text.data, text.len, &v, d, &err)) {
      sl_test_fail(__FILE__, __LINE__, "%s: %s", d, err.msg);
      continue;
    }
    scratch.len = 0;
    const char *out;
    size_t len;
    sl_typing_reason r = sl_typing_text(t, v, &lim, &scratch, &out, &len);
    if (strcmp(sl_typing_reason_name(r), reason ? reason : ""))
      sl_test_fail(__FILE__, __LINE__, "%s: reason %s, expected %s", d, sl_typing_reason_name(r),
                   reason ? reason : "none");
    else if (want && (!out || len != strlen(want) || memcmp(out, want, len)))
      sl_test_fail(__FILE__, __LINE__, "%s: text \"%.*s\", expected \"%s\"", d, out ? (int)len : 6,
                   out ? out : "(null)", want);
    else if (!want && out)
      sl_test_fail(__FILE__, __LINE__, "%s: text \"%.*s\", expected NULL", d, (int)len, out);
  }
  sl_buf_dispose(&text);
  sl_buf_dispose(&scratch);
  sl_jparser_free(p);
  json_decref(doc);
}

TEST(typing_names) {
  json_t *doc = load_cases("names.json");
  if (!doc) return;
  size_t i;
  json_t *c;
  json_array_foreach(doc, i, c) {
    const char *d = json_string_value(json_object_get(c, "description"));
    json_t *in = json_object_get(c, "in");
    const char *want = json_string_value(json_object_get(c, "out"));
    if (!d || !json_is_string(in) || !want) {
      sl_test_fail(__FILE__, __LINE__, "names.json case %zu is malformed", i);
      continue;
    }
    json_t *ml = json_object_get(c, "max_len"), *lo = json_object_get(c, "lower");
    sl_name_rules r = {.max_len = ml ? (size_t)json_integer_value(ml) : 63,
                       .lower = lo ? json_is_true(lo) : true,
                       .ascii_only = json_is_true(json_object_get(c, "ascii_only"))};
    char out[128];
    size_t n = sl_col_name_normalize(json_string_value(in), json_string_length(in), &r, out);
    if (n != strlen(out) || strcmp(out, want))
      sl_test_fail(__FILE__, __LINE__, "%s: got \"%s\", expected \"%s\"", d, out, want);
  }
  json_decref(doc);
}

TEST(typing_columns) {
  json_t *doc = load_cases("columns.json");
  if (!doc) return;
  static const char *const reserved[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                         "_airbyte_generation_id"};
  size_t i;
  json_t *c;
  json_array_foreach(doc, i, c) {
    const char *d = json_string_value(json_object_get(c, "description"));
    json_t *cols = json_object_get(c, "columns");
    sl_name_rules r = {.max_len = (size_t)json_integer_value(json_object_get(c, "max_len")),
                       .lower = json_is_true(json_object_get(c, "lower")),
                       .ci = json_is_true(json_object_get(c, "ci"))};
    sl_col_set s;
    sl_err err = SL_ERR_INIT;
    if (sl_col_set_build(&s, json_object_get(c, "schema"), &r, reserved, 4, "_airbyte_data", d, &err)) {
      sl_test_fail(__FILE__, __LINE__, "%s: %s", d, err.msg);
      continue;
    }
    if (s.n != json_array_size(cols)) {
      sl_test_fail(__FILE__, __LINE__, "%s: %zu columns, expected %zu", d, s.n, json_array_size(cols));
    } else {
      for (size_t k = 0; k < s.n; k++) {
        json_t *w = json_array_get(cols, k);
        const char *prop = json_string_value(json_array_get(w, 0));
        const char *name = json_string_value(json_array_get(w, 1));
        const char *type = json_string_value(json_array_get(w, 2));
        if (!prop || strcmp(s.cols[k].prop, prop) || strcmp(s.cols[k].name, name) ||
            strcmp(sl_col_type_name(s.cols[k].type), type))
          sl_test_fail(__FILE__, __LINE__, "%s: column %zu is %s/%s/%s, expected %s/%s/%s", d, k,
                       s.cols[k].prop, s.cols[k].name, sl_col_type_name(s.cols[k].type), prop, name,
                       type);
        if (!s.raw && sl_col_set_find(&s, prop, strlen(prop)) != (int)k)
          sl_test_fail(__FILE__, __LINE__, "%s: property %s not found at %zu", d, prop, k);
      }
      if (sl_col_set_find(&s, "nope", 4) != -1) sl_test_fail(__FILE__, __LINE__, "%s: found nope", d);
    }
    sl_col_set_dispose(&s);
  }
  json_decref(doc);
}

TEST(typing_meta) {
  sl_col_set s;
  sl_name_rules r = {.max_len = 63, .lower = true};
  json_t *schema = json_pack("{s:{s:{s:s},s:{s:s}}}", "properties", "a", "type", "integer", "b",
                             "type", "string");
  sl_err err = SL_ERR_INIT;
  CHECK(sl_col_set_build(&s, schema, &r, NULL, 0, NULL, "t", &err) == SL_EOK);
  sl_jparser *p = sl_jparser_new(1 << 16);
  sl_buf in, out;
  sl_buf_init(&in, 1 << 16);
  sl_buf_init(&out, 1 << 16);
  const char *meta = "{\"changes\":[{\"field\":\"x\",\"change\":\"TRUNCATED\",\"reason\":\"SOURCE_FIELD_SIZE_LIMITATION\"}]}";
  sl_buf_append(&in, meta, strlen(meta));
  sl_jv mv;
  CHECK(sl_jparser_parse(p, in.data, in.len, &mv, "meta", &err) == SL_EOK);
  sl_typing_change ch[2] = {{0, SL_TYPING_TYPECAST}, {1, SL_TYPING_SERIALIZATION}};
  sl_jw w;
  sl_jw_init(&w, &out);
  sl_typing_meta(&w, &mv, &s, ch, 2, true, 77);
  CHECK(w.rc == SL_EOK);
  CHECK_STR(sl_buf_cstr(&out),
            "{\"changes\":[{\"field\":\"x\",\"change\":\"TRUNCATED\",\"reason\":\"SOURCE_FIELD_SIZE_"
            "LIMITATION\"},{\"field\":\"a\",\"change\":\"NULLED\",\"reason\":\"DESTINATION_TYPECAST_"
            "ERROR\"},{\"field\":\"b\",\"change\":\"NULLED\",\"reason\":\"DESTINATION_SERIALIZATION_"
            "ERROR\"}],\"sync_id\":77}");
  out.len = 0;
  sl_jw_init(&w, &out);
  sl_typing_meta(&w, NULL, &s, NULL, 0, false, 0);
  CHECK_STR(sl_buf_cstr(&out), "{\"changes\":[],\"sync_id\":null}");
  sl_buf_dispose(&in);
  sl_buf_dispose(&out);
  sl_jparser_free(p);
  sl_col_set_dispose(&s);
  json_decref(schema);
}

TEST(typing_datetime_fields) {
  sl_datetime dt;
  CHECK(sl_typing_parse_datetime(SL_COL_TIMESTAMP_TZ, "1999-12-31T23:59:59.999999-08:00", 32, &dt));
  CHECK_INT(dt.year, 1999);
  CHECK_INT(dt.month, 12);
  CHECK_INT(dt.day, 31);
  CHECK_INT(dt.hour, 23);
  CHECK_INT(dt.usec, 999999);
  CHECK(dt.has_tz);
  CHECK_INT(dt.tz_min, -480);
  CHECK(!sl_typing_parse_datetime(SL_COL_DATE, "1999-12-31T00:00", 16, &dt));
  CHECK(!sl_typing_parse_datetime(SL_COL_TIME, "", 0, &dt));
  CHECK(!sl_typing_parse_datetime(SL_COL_STRING, "1999-12-31", 10, &dt));
}

TEST(typing_days_and_typed_reads) {
  sl_datetime dt = {.year = 1970, .month = 1, .day = 1};
  CHECK_INT(sl_datetime_days(&dt), 0);
  dt = (sl_datetime){.year = 2000, .month = 1, .day = 1};
  CHECK_INT(sl_datetime_days(&dt), 10957);
  dt = (sl_datetime){.year = 2024, .month = 2, .day = 29};
  CHECK_INT(sl_datetime_days(&dt), 19782);
  dt = (sl_datetime){.year = 1, .month = 1, .day = 1};
  CHECK_INT(sl_datetime_days(&dt), -719162);
  sl_jparser *p = sl_jparser_new(1 << 12);
  sl_buf in;
  sl_buf_init(&in, 1 << 12);
  const char *doc = "[\"-12\",12.0,\"FALSE\",\"2000-01-01T00:00:00+01:00\",1.5]";
  sl_buf_append(&in, doc, strlen(doc));
  sl_jv a;
  sl_err err = SL_ERR_INIT;
  CHECK(sl_jparser_parse(p, in.data, in.len, &a, "doc", &err) == SL_EOK);
  sl_jv x = sl_jv_first(a);
  int64_t i;
  bool b;
  CHECK(sl_typing_int(x, &i) == SL_TYPING_OK);
  CHECK_INT(i, -12);
  x = sl_jv_next(x);
  CHECK(sl_typing_int(x, &i) == SL_TYPING_OK);
  CHECK_INT(i, 12);
  x = sl_jv_next(x);
  CHECK(sl_typing_bool(x, &b) == SL_TYPING_OK);
  CHECK(!b);
  x = sl_jv_next(x);
  CHECK(sl_typing_datetime(SL_COL_TIMESTAMP_TZ, x, &dt) == SL_TYPING_OK);
  CHECK_INT(dt.tz_min, 60);
  CHECK(sl_typing_datetime(SL_COL_DATE, x, &dt) == SL_TYPING_TYPECAST);
  x = sl_jv_next(x);
  CHECK(sl_typing_int(x, &i) == SL_TYPING_TYPECAST);
  sl_buf_dispose(&in);
  sl_jparser_free(p);
}
