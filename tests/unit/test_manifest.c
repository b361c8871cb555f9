/* Manifest loading. The behaviour is data: tests/data/manifest/NAME.yaml with
 * either NAME.json (the resolved manifest, compared with key order) or
 * NAME.err (a substring the error message must contain). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lowcode/manifest.h"
#include "test.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Runs one data case; returns false (after reporting) on a mismatch. */
static bool run_case(const char *dir, const char *name) {
  char yaml[1024], want_path[1024];
  snprintf(yaml, sizeof yaml, "%s/%s.yaml", dir, name);
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_file(yaml, &err);
  snprintf(want_path, sizeof want_path, "%s/%s.err", dir, name);
  char *want_err = slurp(want_path);
  bool ok = true;
  if (want_err) {
    want_err[strcspn(want_err, "\n")] = 0;
    if (m) sl_test_fail(__FILE__, __LINE__, "%s: loaded, expected an error containing \"%s\"", name, want_err);
    else if (!strstr(err.msg, want_err))
      sl_test_fail(__FILE__, __LINE__, "%s: error \"%s\" does not contain \"%s\"", name, err.msg, want_err);
    ok = !m && strstr(err.msg, want_err);
    free(want_err);
    sl_manifest_free(m);
    return ok;
  }
  snprintf(want_path, sizeof want_path, "%s/%s.json", dir, name);
  json_error_t jerr;
  json_t *want = json_load_file(want_path, 0, &jerr);
  if (!want) {
    sl_test_fail(__FILE__, __LINE__, "%s: no .json or .err next to it (%s)", name, jerr.text);
    sl_manifest_free(m);
    return false;
  }
  if (!m) {
    sl_test_fail(__FILE__, __LINE__, "%s: %s", name, err.msg);
    json_decref(want);
    return false;
  }
  char *got_s = json_dumps(sl_manifest_root(m), JSON_COMPACT | JSON_REAL_PRECISION(17));
  char *want_s = json_dumps(want, JSON_COMPACT | JSON_REAL_PRECISION(17));
  if (!got_s || !want_s || strcmp(got_s, want_s)) {
    size_t i = 0;
    while (got_s && want_s && got_s[i] && got_s[i] == want_s[i]) i++;
    size_t from = i > 60 ? i - 60 : 0;
    sl_test_fail(__FILE__, __LINE__, "%s: resolved manifest differs at byte %zu:\n  got  ...%.140s\n  want ...%.140s",
                 name, i, got_s ? got_s + from : "(null)", want_s ? want_s + from : "(null)");
    ok = false;
  }
  free(got_s);
  free(want_s);
  json_decref(want);
  sl_manifest_free(m);
  return ok;
}

TEST(manifest_data_cases) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/manifest", sl_test_data_dir());
  struct dirent **ents;
  int n = scandir(dir, &ents, NULL, by_name);
  CHECK(n > 0);
  int cases = 0, good = 0;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(ents[i]->d_name);
    if (len > 5 && !strcmp(ents[i]->d_name + len - 5, ".yaml")) {
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)(len - 5), ents[i]->d_name);
      cases++;
      good += run_case(dir, name);
    }
    free(ents[i]);
  }
  free(ents);
  CHECK(cases >= 10);
  CHECK_INT(good, cases);
}

/* Locations: every resolved value maps back to file:line:col and its path;
 * values copied by a $ref name the $ref too. */
TEST(manifest_where) {
  char path[1024];
  snprintf(path, sizeof path, "%s/manifest/refs_override.yaml", sl_test_data_dir());
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_file(path, &err);
  CHECK(m);
  const json_t *root = sl_manifest_root(m);
  const json_t *s1 = json_array_get(json_object_get(root, "streams"), 1);
  const json_t *req = json_object_get(json_object_get(s1, "retriever"), "requester");
  char buf[512], want[1200];
  /* the mapping starts at its first key ($ref, line 30) */
  snprintf(want, sizeof want, "%s:30:9 streams[1].retriever.requester", path);
  CHECK_STR(sl_manifest_where(m, req, buf, sizeof buf), want);
  /* url_base comes from definitions.requester (line 6) via the $ref at 30:16 */
  snprintf(want, sizeof want, "%s:6:15 streams[1].retriever.requester.url_base (via $ref at 30:16)", path);
  CHECK_STR(sl_manifest_where(m, json_object_get(req, "url_base"), buf, sizeof buf), want);
  /* the overriding header mapping is the stream's own (line 33) */
  snprintf(want, sizeof want, "%s:33:11 streams[1].retriever.requester.request_headers", path);
  CHECK_STR(sl_manifest_where(m, json_object_get(req, "request_headers"), buf, sizeof buf), want);
  CHECK(sl_manifest_dir(m) && strstr(path, sl_manifest_dir(m)) == path);
  sl_manifest_free(m);
}

TEST(manifest_directory_and_json) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/m", sl_test_tmpdir());
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "mkdir -p %s && printf 'version: 1\\nstreams: []\\ncheck: {stream_names: [a]}\\n' > %s/manifest.yaml",
           dir, dir);
  CHECK(system(cmd) == 0);
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_file(dir, &err);
  CHECK(m);
  CHECK_STR(json_string_value(json_object_get(json_object_get(sl_manifest_root(m), "check"), "type")), "CheckStream");
  CHECK_STR(sl_manifest_dir(m), dir);
  sl_manifest_free(m);

  m = sl_manifest_load_file("/nonexistent/manifest.yaml", &err);
  CHECK(!m);
  CHECK_CONTAINS(err.msg, "/nonexistent/manifest.yaml: cannot open manifest");

  json_t *j = json_pack("{s:s, s:{s:{s:s}}, s:[{s:s, s:s}]}", "version", "6.0.0", "definitions", "req", "url_base",
                        "https://x", "streams", "$ref", "#/definitions/req", "path", "/p");
  m = sl_manifest_load_json(j, "config:__injected_declarative_manifest", &err);
  json_decref(j);
  CHECK(m);
  const json_t *s0 = json_array_get(json_object_get(sl_manifest_root(m), "streams"), 0);
  CHECK_STR(json_string_value(json_object_get(s0, "url_base")), "https://x");
  CHECK_STR(json_string_value(json_object_get(s0, "type")), "DeclarativeStream");
  char buf[256];
  CHECK_STR(sl_manifest_where(m, s0, buf, sizeof buf), "config:__injected_declarative_manifest streams[0]");
  sl_manifest_free(m);
}

/* Values JSON cannot hold the way PyYAML makes them stay text. */
TEST(manifest_yaml_scalar_edges) {
  static const char *yaml = "version: 1\nmetadata:\n  inf: .inf\n  nan: .NaN\n  big: 123456789012345678901234\n"
                            "  neg: -0x10\n  under: 1_0.5\n  sexneg: -1:00\n";
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_yaml(yaml, strlen(yaml), "edges.yaml", &err);
  CHECK(m);
  const json_t *md = json_object_get(sl_manifest_root(m), "metadata");
  CHECK_STR(json_string_value(json_object_get(md, "inf")), ".inf");
  CHECK_STR(json_string_value(json_object_get(md, "nan")), ".NaN");
  CHECK(json_is_real(json_object_get(md, "big")));
  CHECK(json_real_value(json_object_get(md, "big")) > 1.2e23);
  CHECK_INT(json_integer_value(json_object_get(md, "neg")), -16);
  CHECK(json_real_value(json_object_get(md, "under")) == 10.5);
  CHECK_INT(json_integer_value(json_object_get(md, "sexneg")), -60);
  sl_manifest_free(m);
}
