/* Acceptance-test support: the YAML loader, Dockerfile reading, and the
 * embedded protocol schema, which is compared with the official
 * airbyte_protocol.yaml whenever that file is present (so the two cannot
 * drift apart without this test failing). */
#include <stdlib.h>
#include <unistd.h>

#include "sluice/acceptance.h"
#include "sluice/metadata.h"
#include "sluice/yaml.h"
#include "test.h"

TEST(yaml_types_and_lines) {
  const char *text = "a: 1\nb: \"1\"\nc: true\nd: ~\ne: 1.5\nf: [x, 'y']\ng:\n  h: 0x10\n  i: yes\n";
  sl_err err = SL_ERR_INIT;
  sl_yaml *y = sl_yaml_load_str(text, strlen(text), "t.yml", &err);
  CHECK(y);
  json_t *r = sl_yaml_root(y);
  CHECK(json_is_integer(json_object_get(r, "a")));
  CHECK_STR(json_string_value(json_object_get(r, "b")), "1");
  CHECK(json_is_true(json_object_get(r, "c")));
  CHECK(json_is_null(json_object_get(r, "d")));
  CHECK(json_is_real(json_object_get(r, "e")));
  CHECK_STR(json_string_value(json_array_get(json_object_get(r, "f"), 1)), "y");
  json_t *g = json_object_get(r, "g");
  CHECK_INT(json_integer_value(json_object_get(g, "h")), 16);
  CHECK_STR(json_string_value(json_object_get(g, "i")), "yes"); /* YAML 1.2: not a boolean */
  CHECK_INT(sl_yaml_key_line(y, r, "c"), 3);
  CHECK_INT(sl_yaml_key_line(y, g, "i"), 9);
  CHECK_INT(sl_yaml_line(y, json_object_get(r, "f")), 6);
  sl_yaml_free(y);
}

TEST(yaml_syntax_error_names_line) {
  const char *text = "a: 1\nb: [1, 2\nc: 3\n";
  sl_err err = SL_ERR_INIT;
  sl_yaml *y = sl_yaml_load_str(text, strlen(text), "bad.yml", &err);
  CHECK(!y);
  CHECK_CONTAINS(err.msg, "bad.yml:");
  CHECK_CONTAINS(err.msg, "invalid YAML");
  const char *dup = "a: 1\na: 2\n";
  y = sl_yaml_load_str(dup, strlen(dup), "dup.yml", &err);
  CHECK(!y);
  CHECK_CONTAINS(err.msg, "dup.yml:2");
}

TEST(dockerfile_labels_env_entrypoint) {
  char path[512];
  snprintf(path, sizeof path, "%s/Dockerfile", sl_test_tmpdir());
  FILE *f = fopen(path, "w");
  CHECK(f);
  fputs("# comment\nFROM debian\nLABEL io.airbyte.name=sluice/x \\\n  io.airbyte.version=\"1.2.3\"\n"
        "ENV AIRBYTE_ENTRYPOINT=\"/app/x run\"\nENV LEGACY some value\nENTRYPOINT [\"/app/x\", \"run\"]\n", f);
  fclose(f);
  sl_dockerfile df;
  sl_err err = SL_ERR_INIT;
  CHECK(sl_dockerfile_read(path, &df, &err) == SL_EOK);
  CHECK_STR(json_string_value(json_object_get(df.labels, "io.airbyte.name")), "sluice/x");
  CHECK_STR(json_string_value(json_object_get(df.labels, "io.airbyte.version")), "1.2.3");
  CHECK_INT(df.label_line[1], 3);
  CHECK_STR(json_string_value(json_object_get(df.env, "AIRBYTE_ENTRYPOINT")), "/app/x run");
  CHECK_STR(json_string_value(json_object_get(df.env, "LEGACY")), "some value");
  CHECK_STR(df.entrypoint, "/app/x run");
  sl_dockerfile_dispose(&df);
}

/* Every line of good.jsonl conforms, every line of bad.jsonl does not. */
TEST(protocol_conform_data_files) {
  const char *files[] = {"good", "bad"};
  for (int k = 0; k < 2; k++) {
    char path[512];
    snprintf(path, sizeof path, "%s/protocol/%s.jsonl", sl_test_data_dir(), files[k]);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
      n++;
      if (strspn(line, " \t\r\n") == strlen(line)) continue;
      json_error_t je;
      json_t *m = json_loads(line, 0, &je);
      sl_err err = SL_ERR_INIT;
      bool ok = m && sl_protocol_conform(m, "line", &err) == SL_EOK;
      json_decref(m);
      if (ok != (k == 0)) {
        sl_test_fail(__FILE__, __LINE__, "%s:%d: expected %s: %s", path, n, k ? "invalid" : "valid", line);
        break;
      }
    }
    free(line);
    fclose(f);
    CHECK(n > 10);
  }
}

static const char *official_path(void) {
  const char *p = getenv("SLUICE_PROTOCOL_SPEC");
  if (p) return p;
  static char buf[512];
  snprintf(buf, sizeof buf, "%s/../../../shared/spec/airbyte_protocol.yaml", sl_test_data_dir());
  return buf;
}

static const char *ref_name(const json_t *s) {
  const char *r = json_string_value(json_object_get(s, "$ref"));
  return r && strrchr(r, '/') ? strrchr(r, '/') + 1 : r;
}

/* The keywords that make a difference to validation, compared one by one. */
static bool same_keyword(const json_t *a, const json_t *b, const char *kw) {
  const json_t *x = json_object_get(a, kw), *y = json_object_get(b, kw);
  if (!x && !y) return true;
  return x && y && json_equal(x, y);
}

static bool same_node(const json_t *ours, const json_t *theirs, char *why, size_t n, const char *where) {
  static const char *const kws[] = {"type", "enum", "format", "minItems", "const", NULL};
  for (size_t i = 0; kws[i]; i++)
    if (!same_keyword(ours, theirs, kws[i])) return snprintf(why, n, "%s: %s differs", where, kws[i]), false;
  const char *ra = ref_name(ours), *rb = ref_name(theirs);
  if ((ra || rb) && !(ra && rb && !strcmp(ra, rb))) return snprintf(why, n, "%s: $ref differs", where), false;
  const json_t *ia = json_object_get(ours, "items"), *ib = json_object_get(theirs, "items");
  if ((ia || ib) && !(ia && ib && same_node(ia, ib, why, n, where))) return false;
  return true;
}

static bool same_required(const json_t *a, const json_t *b) {
  if (json_array_size(a) != json_array_size(b)) return false;
  size_t i, j;
  json_t *x, *y;
  json_array_foreach(a, i, x) {
    bool found = false;
    json_array_foreach(b, j, y) found |= json_equal(x, y);
    if (!found) return false;
  }
  return true;
}

TEST(protocol_schema_matches_official) {
  const char *path = official_path();
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "  (skipped: no official protocol schema at %s)\n", path);
    return;
  }
  sl_err err = SL_ERR_INIT;
  sl_yaml *y = sl_yaml_load_file(path, &err);
  CHECK(y);
  const json_t *theirs = json_object_get(sl_yaml_root(y), "definitions");
  const json_t *ours = json_object_get(sl_protocol_schema(&err), "definitions");
  CHECK(ours && theirs);
  char why[512];
  const char *name;
  json_t *od;
  size_t compared = 0;
  json_object_foreach((json_t *)ours, name, od) {
    const json_t *td = json_object_get(theirs, name);
    if (!td) {
      sl_test_fail(__FILE__, __LINE__, "definition %s is not in the official schema", name);
      break;
    }
    if (!same_node(od, td, why, sizeof why, name) ||
        !same_required(json_object_get(od, "required"), json_object_get(td, "required"))) {
      sl_test_fail(__FILE__, __LINE__, "%s: %s", name, why[0] ? why : "required differs");
      break;
    }
    /* the same property names, each with the same validating keywords */
    const char *pn;
    json_t *ps;
    json_object_foreach(json_object_get(td, "properties"), pn, ps) {
      const json_t *mine = json_object_get(json_object_get(od, "properties"), pn);
      char where[256];
      snprintf(where, sizeof where, "%s.%s", name, pn);
      if (!mine) sl_test_fail(__FILE__, __LINE__, "%s: missing from protocol_schema.json", where);
      else if (!same_node(mine, ps, why, sizeof why, where)) sl_test_fail(__FILE__, __LINE__, "%s", why);
      compared++;
    }
    json_object_foreach(json_object_get(od, "properties"), pn, ps) {
      if (!json_object_get(json_object_get(td, "properties"), pn))
        sl_test_fail(__FILE__, __LINE__, "%s.%s: not in the official schema", name, pn);
    }
  }
  /* every official definition AirbyteMessage reaches is ours too */
  const char *reach[] = {"AirbyteMessage", "AirbyteRecordMessage", "AirbyteStateMessage", "AirbyteTraceMessage",
                         "AirbyteControlMessage", "AirbyteCatalog", "AirbyteStream", "ConnectorSpecification",
                         "DestinationCatalog", "AirbyteStreamStatusTraceMessage", NULL};
  for (size_t i = 0; reach[i]; i++) CHECK(json_object_get(ours, reach[i]) != NULL);
  CHECK(compared > 80);
  sl_yaml_free(y);
}

TEST(semver_parse_and_order) {
  sl_semver a, b;
  CHECK(sl_semver_parse("1.2.3", &a));
  CHECK(sl_semver_parse("1.10.0", &b));
  CHECK(sl_semver_cmp(&a, &b) < 0);
  CHECK(sl_semver_parse("1.10.0-rc.1", &a));
  CHECK(sl_semver_cmp(&a, &b) < 0); /* a release candidate comes before its release */
  CHECK(!sl_semver_parse("1.2", &a));
  CHECK(!sl_semver_parse("1.2.3.4", &a));
  CHECK(!sl_semver_parse("v1.2.3", &a));
  CHECK(!sl_semver_parse("1.2.3-", &a));
  char s[64];
  CHECK(sl_semver_parse("0.0.7-beta", &a));
  sl_semver_format(&a, s, sizeof s);
  CHECK_STR(s, "0.0.7-beta");
}

TEST(registry_entry_shape) {
  json_error_t je;
  json_t *data = json_loads("{\"name\":\"X\",\"definitionId\":\"d\",\"connectorType\":\"destination\",\"connectorSubtype\":\"file\","
                            "\"dockerRepository\":\"r\",\"dockerImageTag\":\"1.0.0\",\"tags\":[\"language:c\"],"
                            "\"registryOverrides\":{\"oss\":{\"enabled\":true,\"dockerImageTag\":\"1.0.1\"},\"cloud\":{\"enabled\":false}}}",
                            0, &je);
  json_t *spec = json_pack("{s{}}", "connectionSpecification");
  json_t *e = sl_meta_registry_entry(data, spec, NULL);
  CHECK(e);
  CHECK_STR(json_string_value(json_object_get(e, "destinationDefinitionId")), "d");
  CHECK_STR(json_string_value(json_object_get(e, "dockerImageTag")), "1.0.1"); /* the oss override */
  CHECK_STR(json_string_value(json_object_get(e, "language")), "c");
  CHECK(!json_object_get(e, "registryOverrides") && !json_object_get(e, "connectorType") && !json_object_get(e, "definitionId"));
  CHECK(json_object_get(e, "spec") == spec);
  CHECK(json_is_false(json_object_get(e, "tombstone")));
  json_decref(e);
  json_object_set_new(json_object_get(json_object_get(data, "registryOverrides"), "oss"), "enabled", json_false());
  CHECK(!sl_meta_registry_entry(data, spec, NULL));
  json_decref(spec);
  json_decref(data);
}
