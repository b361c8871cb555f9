/* JSON Schema validator: the keyword cases live as data in
 * the .json files in tests/data/schema/ (groups of {schema, tests[{data, valid, error}]});
 * the TESTs here run them and check messages and defaults directly. */
#include <dirent.h>
#include <stdlib.h>
#include <time.h>

#include "sluice/schema.h"
#include "test.h"

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every case of one file; returns the number of cases run. */
static int run_case_file(const char *path) {
  json_error_t je;
  json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &je);
  int cases = 0;
  if (!json_is_array(doc)) {
    sl_test_fail(__FILE__, __LINE__, "%s:%d: not a JSON array of groups: %s", path, je.line, je.text);
    json_decref(doc);
    return 0;
  }
  size_t gi, ti;
  json_t *g, *t;
  json_array_foreach(doc, gi, g) {
    const char *gdesc = json_string_value(json_object_get(g, "description"));
    json_t *schema = json_object_get(g, "schema"), *tests = json_object_get(g, "tests");
    if (!gdesc || !schema || !json_array_size(tests)) {
      sl_test_fail(__FILE__, __LINE__, "%s: group %zu lacks description, schema or tests", path, gi);
      continue;
    }
    json_array_foreach(tests, ti, t) {
      const char *tdesc = json_string_value(json_object_get(t, "description"));
      json_t *data = json_object_get(t, "data"), *valid = json_object_get(t, "valid");
      const char *want = json_string_value(json_object_get(t, "error"));
      if (!tdesc || !data || !json_is_boolean(valid)) {
        sl_test_fail(__FILE__, __LINE__, "%s: %s: test %zu is malformed", path, gdesc, ti);
        continue;
      }
      cases++;
      sl_err err = SL_ERR_INIT;
      sl_code rc = sl_schema_validate(schema, data, "case", &err);
      if (rc != SL_EOK && rc != SL_ESCHEMA)
        sl_test_fail(__FILE__, __LINE__, "%s: %s / %s: code %d", path, gdesc, tdesc, rc);
      else if ((rc == SL_EOK) != json_is_true(valid))
        sl_test_fail(__FILE__, __LINE__, "%s: %s / %s: expected %s, got %s%s", path, gdesc, tdesc,
                     json_is_true(valid) ? "valid" : "invalid", rc ? "invalid: " : "valid",
                     rc ? err.msg : "");
      else if (rc && strncmp(err.msg, "case: /", 7) != 0)
        sl_test_fail(__FILE__, __LINE__, "%s: %s / %s: message lacks prefix and pointer: %s", path,
                     gdesc, tdesc, err.msg);
      else if (rc && want && !strstr(err.msg, want))
        sl_test_fail(__FILE__, __LINE__, "%s: %s / %s: message \"%s\" does not contain \"%s\"", path,
                     gdesc, tdesc, err.msg, want);
    }
  }
  json_decref(doc);
  return cases;
}

TEST(schema_case_files) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/schema", sl_test_data_dir());
  DIR *d = opendir(dir);
  CHECK(d);
  char *names[256];
  int n = 0, cases = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < 256) {
    size_t len = strlen(de->d_name);
    if (len > 5 && !strcmp(de->d_name + len - 5, ".json")) names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_names);
  for (int i = 0; i < n; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    cases += run_case_file(path);
    free(names[i]);
  }
  /* guard against the data silently going missing */
  CHECK(n >= 12);
  CHECK(cases >= 250);
}

static json_t *J(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
  if (!v) fprintf(stderr, "bad test JSON: %s: %s\n", text, je.text);
  return v;
}

/* Validate text against schema text; returns the code, message in err. */
static sl_code check(const char *schema, const char *data, const char *what, sl_err *err) {
  json_t *s = J(schema), *v = J(data);
  sl_code rc = s && v ? sl_schema_validate(s, v, what, err) : SL_EINTERNAL;
  json_decref(s);
  json_decref(v);
  return rc;
}

TEST(schema_message_names_input_pointer_and_expectation) {
  sl_err err = SL_ERR_INIT;
  const char *s = "{\"type\":\"object\",\"required\":[\"host\"],"
                  "\"properties\":{\"host\":{\"type\":\"string\"},\"port\":{\"type\":\"integer\"}}}";
  CHECK_INT(check(s, "{\"host\":\"h\",\"port\":\"5432\"}", "config.json", &err), SL_ESCHEMA);
  CHECK_INT(err.code, SL_ESCHEMA);
  CHECK_STR(err.msg, "config.json: /port: expected integer, got string");
  CHECK_INT(check(s, "{\"port\":1}", "config.json", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "config.json: /: missing required property \"host\"");
  CHECK_INT(check("{\"properties\":{\"mode\":{\"enum\":[\"a\",\"b\"]}}}", "{\"mode\":\"x\"}", "c", &err),
            SL_ESCHEMA);
  CHECK_STR(err.msg, "c: /mode: \"x\" is not one of [\"a\",\"b\"]");
  CHECK_INT(check("{\"properties\":{\"name\":{\"pattern\":\"^\\\\d+$\"}}}", "{\"name\":\"abc\"}", "c", &err),
            SL_ESCHEMA);
  CHECK_STR(err.msg, "c: /name: \"abc\" does not match pattern \"^\\d+$\"");
  CHECK_INT(check("{\"properties\":{\"n\":{\"minimum\":1}}}", "{\"n\":0}", "c", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "c: /n: 0 is less than minimum 1");
}

TEST(schema_valid_leaves_err_untouched) {
  sl_err err = SL_ERR_INIT;
  CHECK_INT(check("{\"type\":\"integer\"}", "3", "x", &err), SL_EOK);
  CHECK_INT(err.code, SL_EOK);
  CHECK_STR(err.msg, "");
  /* a NULL err is allowed */
  json_t *s = J("{\"type\":\"string\"}"), *v = J("1");
  CHECK_INT(sl_schema_validate(s, v, "x", NULL), SL_ESCHEMA);
  json_decref(s);
  json_decref(v);
}

TEST(schema_without_what_starts_with_pointer) {
  sl_err err = SL_ERR_INIT;
  CHECK_INT(check("{\"items\":{\"type\":\"string\"}}", "[\"a\",1]", NULL, &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "/1: expected string, got integer");
  CHECK_INT(check("{\"type\":\"string\"}", "1", "", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "/: expected string, got integer");
}

TEST(schema_pointer_escapes_and_deep_paths) {
  sl_err err = SL_ERR_INIT;
  CHECK_INT(check("{\"additionalProperties\":{\"additionalProperties\":{\"items\":{\"type\":\"null\"}}}}",
                  "{\"a/b\":{\"~x\":[null,null,0]}}", "rec", &err),
            SL_ESCHEMA);
  CHECK_STR(err.msg, "rec: /a~1b/~0x/2: expected null, got integer");
}

TEST(schema_secret_values_stay_out_of_messages) {
  sl_err err = SL_ERR_INIT;
  const char *s = "{\"properties\":{\"password\":{\"type\":\"string\",\"airbyte_secret\":true,"
                  "\"pattern\":\"^[a-z]+$\",\"minLength\":3}}}";
  CHECK_INT(check(s, "{\"password\":\"Hunter2\"}", "config.json", &err), SL_ESCHEMA);
  CHECK_CONTAINS(err.msg, "/password:");
  CHECK(!strstr(err.msg, "Hunter2"));
  CHECK_INT(check(s, "{\"password\":\"xy\"}", "config.json", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "config.json: /password: string has 2 characters, fewer than minLength 3");
}

TEST(schema_oneof_names_the_discriminated_option) {
  sl_err err = SL_ERR_INIT;
  const char *s =
      "{\"properties\":{\"auth\":{\"oneOf\":["
      "{\"title\":\"Key\",\"required\":[\"type\",\"key\"],\"properties\":{\"type\":{\"const\":\"key\"},\"key\":{\"type\":\"string\"}}},"
      "{\"title\":\"OAuth\",\"required\":[\"type\",\"token\"],\"properties\":{\"type\":{\"const\":\"oauth\"},\"token\":{\"type\":\"string\"}}}"
      "]}}}";
  CHECK_INT(check(s, "{\"auth\":{\"type\":\"oauth\",\"token\":7}}", "config.json", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "config.json: /auth: matches none of the 2 oneOf options "
                     "(option \"OAuth\": /auth/token: expected string, got integer)");
  CHECK_INT(check(s, "{\"auth\":{\"type\":\"basic\"}}", "config.json", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "config.json: /auth: matches none of the 2 oneOf options");
}

/* Nested arrays n deep: [[[...]]]. */
static json_t *nested_arrays(int n) {
  json_t *v = json_array();
  for (int i = 0; i < n; i++) {
    json_t *outer = json_array();
    json_array_append_new(outer, v);
    v = outer;
  }
  return v;
}

TEST(schema_depth_is_capped) {
  json_t *s = J("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
  sl_err err = SL_ERR_INIT;
  json_t *ok = nested_arrays(60), *deep = nested_arrays(400);
  CHECK(s && ok && deep);
  CHECK_INT(sl_schema_validate(s, ok, "x", &err), SL_EOK);
  CHECK_INT(sl_schema_validate(s, deep, "x", &err), SL_ESCHEMA);
  CHECK_CONTAINS(err.msg, "schema nesting deeper than 256 levels");
  CHECK_CONTAINS(err.msg, "x: /0/0/0/");
  json_decref(s);
  json_decref(ok);
  json_decref(deep);
}

TEST(schema_exponential_schemas_terminate) {
  /* each level tries both options of anyOf twice over: 2^30 paths if unbounded */
  char buf[8192];
  size_t o = 0;
  o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"definitions\":{");
  for (int i = 0; i < 30; i++)
    o += (size_t)snprintf(buf + o, sizeof buf - o,
                          "\"d%d\":{\"anyOf\":[{\"allOf\":[{\"$ref\":\"#/definitions/d%d\"},false]},"
                          "{\"allOf\":[{\"$ref\":\"#/definitions/d%d\"},false]}]},",
                          i, i + 1, i + 1);
  o += (size_t)snprintf(buf + o, sizeof buf - o, "\"d30\":true},\"$ref\":\"#/definitions/d0\"}");
  sl_err err = SL_ERR_INIT;
  time_t t0 = time(NULL);
  CHECK_INT(check(buf, "1", "x", &err), SL_ESCHEMA);
  CHECK(time(NULL) - t0 < 60);
  CHECK_STR(err.msg, "x: /: schema too complex to evaluate");
}

TEST(schema_null_arguments_are_tolerated) {
  json_t *v = json_integer(1);
  CHECK_INT(sl_schema_validate(NULL, v, "x", NULL), SL_EOK);
  sl_schema_apply_defaults(NULL, v);
  sl_schema_apply_defaults(v, NULL);
  json_decref(v);
}

TEST(schema_defaults_fill_absent_properties) {
  json_t *s = J("{\"properties\":{"
                "\"port\":{\"type\":\"integer\",\"default\":5432},"
                "\"host\":{\"type\":\"string\",\"default\":\"localhost\"},"
                "\"schemas\":{\"default\":[\"public\"]},"
                "\"nodef\":{\"type\":\"string\"},"
                "\"ssl\":{\"type\":\"object\",\"properties\":{\"mode\":{\"default\":\"prefer\"},\"x\":{\"default\":1}}},"
                "\"tunnel\":{\"type\":\"object\",\"default\":{},\"properties\":{\"method\":{\"default\":\"NO_TUNNEL\"}}},"
                "\"auth\":{\"oneOf\":[{\"properties\":{\"k\":{\"default\":\"v\"}}}]}"
                "}}");
  json_t *v = J("{\"host\":\"db\",\"ssl\":{\"x\":2},\"auth\":{}}");
  CHECK(s && v);
  sl_schema_apply_defaults(s, v);
  char *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
  CHECK(out);
  CHECK_STR(out, "{\"auth\":{},\"host\":\"db\",\"port\":5432,\"schemas\":[\"public\"],"
                 "\"ssl\":{\"mode\":\"prefer\",\"x\":2},\"tunnel\":{\"method\":\"NO_TUNNEL\"}}");
  free(out);
  /* defaults are deep copies: changing the instance leaves the schema alone */
  json_array_append_new(json_object_get(v, "schemas"), json_string("other"));
  json_t *def = json_object_get(json_object_get(json_object_get(s, "properties"), "schemas"), "default");
  CHECK_INT(json_array_size(def), 1);
  json_t *tdef = json_object_get(json_object_get(json_object_get(s, "properties"), "tunnel"), "default");
  CHECK_INT(json_object_size(tdef), 0);
  json_decref(s);
  json_decref(v);
}

TEST(schema_defaults_follow_refs_and_ignore_non_objects) {
  json_t *s = J("{\"definitions\":{\"p\":{\"default\":80}},\"properties\":{\"port\":{\"$ref\":\"#/definitions/p\"},"
                "\"junk\":5}}");
  json_t *v = J("{}"), *arr = J("[1]");
  CHECK(s && v && arr);
  sl_schema_apply_defaults(s, v);
  CHECK_INT(json_integer_value(json_object_get(v, "port")), 80);
  CHECK_INT(json_object_size(v), 1);
  sl_schema_apply_defaults(s, arr);
  CHECK_INT(json_array_size(arr), 1);
  json_decref(s);
  json_decref(v);
  json_decref(arr);
}

TEST(schema_pattern_cache_overflow) {
  /* more patterns than the compiled-pattern cache holds: each still matches as itself */
  sl_err err = SL_ERR_INIT;
  for (int i = 0; i < 600; i++) {
    char sch[128], ok[64], bad[64];
    snprintf(sch, sizeof sch, "{\"pattern\":\"^p%d-[0-9]+$\"}", i);
    snprintf(ok, sizeof ok, "\"p%d-12\"", i);
    snprintf(bad, sizeof bad, "\"p%d-x\"", i);
    CHECK_INT(check(sch, ok, "x", &err), SL_EOK);
    CHECK_INT(check(sch, bad, "x", &err), SL_ESCHEMA);
  }
}

TEST(schema_unique_items_scales) {
  json_t *s = J("{\"uniqueItems\":true,\"items\":{\"type\":\"integer\"}}"), *v = json_array();
  for (int i = 0; i < 200000; i++) json_array_append_new(v, json_integer(i));
  sl_err err = SL_ERR_INIT;
  time_t t0 = time(NULL);
  CHECK_INT(sl_schema_validate(s, v, "x", &err), SL_EOK);
  json_array_append_new(v, json_real(199998.0));
  CHECK_INT(sl_schema_validate(s, v, "x", &err), SL_ESCHEMA);
  CHECK_STR(err.msg, "x: /: array items 199998 and 200000 are equal (uniqueItems)");
  CHECK(time(NULL) - t0 < 20);
  json_decref(s);
  json_decref(v);
}
