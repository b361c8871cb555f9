/* The JSON-Schema instance generator (platform/jsonschema_gen.c), driven by
 * tests/data/acceptance-compat/generator.json: every instance is valid,
 * the same seed gives the same instances, every listed value is reached,
 * and what cannot be generated fails with the named reason. */
#include <stdlib.h>

#include "sluice/acceptance.h"
#include "sluice/json.h"
#include "sluice/jsgen.h"
#include "sluice/schema.h"
#include "test.h"

#define COUNT 100

/* The value at a JSON pointer ("/a/b"), or NULL. */
static const json_t *at(const json_t *v, const char *ptr) {
  char seg[128];
  while (*ptr == '/' && v) {
    size_t n = 0;
    for (ptr++; *ptr && *ptr != '/' && n + 1 < sizeof seg; ptr++) seg[n++] = *ptr;
    seg[n] = 0;
    v = json_object_get(v, seg);
  }
  return v;
}

static json_t *cases(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/acceptance-compat/generator.json", sl_test_data_dir());
  json_t *v = NULL;
  sl_err e = SL_ERR_INIT;
  if (sl_json_load_file(path, &v, &e)) fprintf(stderr, "%s\n", e.msg);
  return v;
}

TEST(jsgen_data_cases) {
  json_t *all = cases();
  CHECK(json_array_size(all) >= 8);
  size_t i;
  json_t *c;
  json_array_foreach(all, i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const json_t *schema = json_object_get(c, "schema");
    const char *fails = json_string_value(json_object_get(c, "fails"));
    char why[600] = "";
    if (fails) {
      json_t *v = sl_jsgen_instance(schema, 7, 0, why, sizeof why);
      if (v || !strstr(why, fails)) {
        sl_test_fail(__FILE__, __LINE__, "%s: expected a failure naming \"%s\", got %s", name, fails, v ? "an instance" : why);
        json_decref(v);
      }
      continue;
    }
    json_t *seen = json_object(); /* pointer -> values seen */
    json_t *absent = json_object();
    for (unsigned k = 0; k < COUNT; k++) {
      json_t *v = sl_jsgen_instance(schema, 42, k, why, sizeof why);
      sl_err e = SL_ERR_INIT;
      if (!v || sl_schema_validate(schema, v, "instance", &e)) {
        sl_test_fail(__FILE__, __LINE__, "%s: instance %u: %s", name, k, v ? e.msg : why);
        json_decref(v);
        break;
      }
      json_t *again = sl_jsgen_instance(schema, 42, k, why, sizeof why);
      if (!json_equal(v, again)) sl_test_fail(__FILE__, __LINE__, "%s: instance %u differs for the same seed", name, k);
      json_decref(again);
      const char *p;
      json_t *vals;
      json_object_foreach(json_object_get(c, "covers"), p, vals) {
        const json_t *x = at(v, p);
        if (!x) continue;
        if (!json_object_get(seen, p)) json_object_set_new(seen, p, json_array());
        json_array_append(json_object_get(seen, p), (json_t *)x);
      }
      size_t j;
      json_t *ab;
      json_array_foreach(json_object_get(c, "sometimes_absent"), j, ab) if (!at(v, json_string_value(ab)))
          json_object_set_new(absent, json_string_value(ab), json_true());
      json_decref(v);
    }
    const char *p;
    json_t *vals;
    json_object_foreach(json_object_get(c, "covers"), p, vals) {
      size_t j;
      json_t *want;
      json_array_foreach(vals, j, want) {
        bool found = false;
        size_t m;
        json_t *got;
        json_array_foreach(json_object_get(seen, p), m, got) found |= json_equal(got, want);
        if (!found) {
          char *d = json_dumps(want, JSON_ENCODE_ANY);
          sl_test_fail(__FILE__, __LINE__, "%s: %s never was %s in %d instances", name, p, d, COUNT);
          free(d);
        }
      }
    }
    size_t j;
    json_t *ab;
    json_array_foreach(json_object_get(c, "sometimes_absent"), j, ab) {
      if (!json_object_get(absent, json_string_value(ab)))
        sl_test_fail(__FILE__, __LINE__, "%s: optional %s is never left out", name, json_string_value(ab));
    }
    json_decref(seen), json_decref(absent);
  }
  json_decref(all);
}

TEST(jsgen_seeds_differ) {
  json_t *s = json_pack("{s:s, s:{s:{s:s}}, s:[s]}", "type", "object", "properties", "name", "type", "string", "required", "name");
  char why[300];
  int differ = 0;
  for (unsigned k = 0; k < 10; k++) {
    json_t *a = sl_jsgen_instance(s, 1, k, why, sizeof why), *b = sl_jsgen_instance(s, 2, k, why, sizeof why);
    CHECK(a && b);
    differ += !json_equal(a, b);
    json_decref(a), json_decref(b);
  }
  CHECK(differ >= 5);
  json_decref(s);
}

TEST(jsgen_regex_constructs) {
  static const char *const ok[] = {"^[a-z]+$", "^\\d{2}:\\d{2}$", "^(a|bc|d)+x?$", "^$|^[0-9]+$", "^[^0-9]{3}$",
                                   "^https?://[\\w.-]+(:\\d+)?$", "^.{4,6}$", NULL};
  char out[300], why[300];
  for (size_t i = 0; ok[i]; i++) {
    if (!sl_jsgen_regex(ok[i], i, out, sizeof out, why, sizeof why)) sl_test_fail(__FILE__, __LINE__, "%s: %s", ok[i], why);
  }
  CHECK(!sl_jsgen_regex("^(a)\\1$", 1, out, sizeof out, why, sizeof why));
  CHECK_CONTAINS(why, "backreferences are not generated");
  CHECK(!sl_jsgen_regex("^[a-z", 1, out, sizeof out, why, sizeof why));
  CHECK_CONTAINS(why, "not a valid regular expression");
}

/* validate_data_points: tests/data/acceptance-compat/data-points.json gives
 * a schema, the records' data and the paths that must be reported. */
TEST(data_points_cases) {
  char path[1024];
  snprintf(path, sizeof path, "%s/acceptance-compat/data-points.json", sl_test_data_dir());
  json_t *all = NULL;
  sl_err e = SL_ERR_INIT;
  CHECK(sl_json_load_file(path, &all, &e) == SL_EOK);
  CHECK(json_array_size(all) >= 6);
  size_t i;
  json_t *c;
  json_array_foreach(all, i, c) {
    json_t *got = sl_at_missing_data_points(json_object_get(c, "schema"), json_object_get(c, "records"));
    if (!json_equal(got, json_object_get(c, "missing"))) {
      char *d = json_dumps(got, 0);
      sl_test_fail(__FILE__, __LINE__, "%s: reported %s", json_string_value(json_object_get(c, "name")), d);
      free(d);
    }
    json_decref(got);
  }
  json_decref(all);
}
