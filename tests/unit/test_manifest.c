/* Manifest loading. The behaviour is data: tests/data/manifest/NAME.yaml with
 * NAME.json (the resolved manifest, compared with key order), NAME.err (a
 * substring the load error must contain) or NAME.issues (the validation
 * report, every line). */
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

static void add_issue(const sl_manifest_issue *is, void *ud) {
  char line[2048];
  snprintf(line, sizeof line, "%s: %s: %s\n", is->where, is->level == SL_MANIFEST_ERROR ? "error" : "warning",
           is->message);
  size_t n = strlen(ud), k = strlen(line);
  if (n + k < 65536) memcpy((char *)ud + n, line, k + 1);
}

/* Validation issues of a loaded manifest against NAME.issues: every line, in
 * order; an expected line ending in "..." only has to start the actual one
 * (for messages another module words). */
static bool lines_match(const char *got, const char *want) {
  while (*got || *want) {
    size_t gl = strcspn(got, "\n"), wl = strcspn(want, "\n");
    bool prefix = wl >= 3 && !strncmp(want + wl - 3, "...", 3);
    if (prefix ? (gl < wl - 3 || strncmp(got, want, wl - 3)) : (gl != wl || strncmp(got, want, wl))) return false;
    got += gl + (got[gl] == '\n');
    want += wl + (want[wl] == '\n');
  }
  return true;
}

static bool check_issues(const sl_manifest *m, const char *name, const char *want) {
  char *got = calloc(1, 65536);
  if (!got) return false;
  sl_manifest_validate(m, add_issue, got, NULL);
  bool ok = lines_match(got, want);
  if (!ok) sl_test_fail(__FILE__, __LINE__, "%s: validation issues differ:\n--- got\n%s--- want\n%s", name, got, want);
  free(got);
  return ok;
}

/* Runs one data case; returns false (after reporting) on a mismatch. The
 * manifest is named by its bare file name so locations do not depend on
 * where the data directory is. */
static bool run_case(const char *dir, const char *name) {
  char yaml[1024], want_path[1024], shown[300];
  snprintf(yaml, sizeof yaml, "%s/%s.yaml", dir, name);
  snprintf(shown, sizeof shown, "%s.yaml", name);
  sl_err err = SL_ERR_INIT;
  char *text = slurp(yaml);
  sl_manifest *m = text ? sl_manifest_load_yaml(text, strlen(text), shown, &err) : NULL;
  free(text);
  snprintf(want_path, sizeof want_path, "%s/%s.issues", dir, name);
  char *want_issues = slurp(want_path);
  if (want_issues) {
    bool ok = m ? check_issues(m, name, want_issues) : false;
    if (!m) sl_test_fail(__FILE__, __LINE__, "%s: %s", name, err.msg);
    free(want_issues);
    sl_manifest_free(m);
    return ok;
  }
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

/* true/false/null are shared by jansson: their place comes from the member. */
TEST(manifest_where_member) {
  static const char *yaml = "version: 1\nmetadata:\n  name: x\n  on_off: yes\n  items: [1, ~]\n";
  sl_err err = SL_ERR_INIT;
  sl_manifest *m = sl_manifest_load_yaml(yaml, strlen(yaml), "m.yaml", &err);
  CHECK(m);
  const json_t *md = json_object_get(sl_manifest_root(m), "metadata");
  char buf[256];
  CHECK_STR(sl_manifest_where_member(m, md, "name", 0, buf, sizeof buf), "m.yaml:3:9 metadata.name");
  CHECK_STR(sl_manifest_where_member(m, md, "on_off", 0, buf, sizeof buf), "m.yaml:3:3 metadata.on_off");
  CHECK_STR(sl_manifest_where_member(m, json_object_get(md, "items"), NULL, 1, buf, sizeof buf),
            "m.yaml:5:10 metadata.items[1]");
  CHECK_STR(sl_manifest_where(m, json_array_get(json_object_get(md, "items"), 0), buf, sizeof buf),
            "m.yaml:5:11 metadata.items[0]");
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

/* ---- the component table against the contract ---- */

#include "../../lowcode/components.h"
#include "../../lowcode/manifest_int.h"

typedef struct derive_ctx {
  const json_t *defs;
  json_t *inline_defs; /* name -> schema of components defined inline */
} derive_ctx;

/* The field spec the table should hold for property schema p (the rules of
 * lowcode/components_gen.py, written again here so the two must agree). */
static void derive(derive_ctx *d, const json_t *p, char *out, size_t n) {
  const json_t *tenum = json_object_get(json_object_get(json_object_get(p, "properties"), "type"), "enum");
  const json_t *ref = json_object_get(p, "$ref"), *any = json_object_get(p, "anyOf"), *t = json_object_get(p, "type");
  out[0] = 0;
  if (json_array_size(tenum)) {
    const char *name = json_string_value(json_array_get(tenum, 0));
    json_object_set(d->inline_defs, name, (json_t *)p);
    snprintf(out, n, "@%s", name);
  } else if (json_is_string(ref)) {
    const char *name = strrchr(json_string_value(ref), '/') + 1;
    const json_t *def = json_object_get(d->defs, name);
    const json_t *dt = json_object_get(def, "type");
    if ((json_is_string(dt) && !strcmp(json_string_value(dt), "object")) || json_object_get(def, "properties"))
      snprintf(out, n, "@%s", name);
    else
      derive(d, def, out, n);
  } else if (json_is_array(any)) {
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(any) && k < n; i++) {
      char sub[1024];
      derive(d, json_array_get(any, i), sub, sizeof sub);
      k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "|" : "", sub);
    }
  } else if (json_is_array(t)) {
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(t) && k < n; i++) {
      const char *x = json_string_value(json_array_get(t, i));
      k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "|" : "", !strcmp(x, "array") ? "[any]" : x);
    }
  } else if (json_is_string(t) && !strcmp(json_string_value(t), "array")) {
    char sub[1024] = "any";
    const json_t *items = json_object_get(p, "items");
    if (json_object_size(items)) derive(d, items, sub, sizeof sub);
    snprintf(out, n, "[%s]", sub);
  } else if (json_is_string(t) && !strcmp(json_string_value(t), "string")) {
    snprintf(out, n, "%s", json_object_get(p, "interpolation_context") ? "template" : "string");
  } else {
    snprintf(out, n, "%s", json_is_string(t) ? json_string_value(t) : "any");
  }
}

static void derive_enum(const derive_ctx *d, const json_t *p, char *out, size_t n) {
  const json_t *ref = json_object_get(p, "$ref");
  const json_t *e = json_object_get(p, "enum");
  if (json_is_string(ref)) {
    const json_t *def = json_object_get(d->defs, strrchr(json_string_value(ref), '/') + 1);
    if (json_object_get(def, "enum")) e = json_object_get(def, "enum");
  }
  size_t k = 0;
  out[0] = 0;
  for (size_t i = 0; i < json_array_size(e) && k < n; i++) {
    const json_t *v = json_array_get(e, i);
    if (json_is_string(v)) k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "," : "", json_string_value(v));
    else k += (size_t)snprintf(out + k, n - k, "%s%" JSON_INTEGER_FORMAT, i ? "," : "", json_integer_value(v));
  }
}

/* Compares one schema definition with its table entry; counts mismatches. */
static int compare_def(derive_ctx *d, const char *name, const json_t *def) {
  const sl_lc_component *c = sl_lc_by_name(name);
  if (!c) {
    sl_test_fail(__FILE__, __LINE__, "schema definition %s is missing from the component table", name);
    return 1;
  }
  int bad = 0;
  const json_t *props = json_object_get(def, "properties");
  const json_t *tenum = json_object_get(json_object_get(props, "type"), "enum");
  const char *tname = json_string_value(json_array_get(tenum, 0));
  if ((tname == NULL) != (c->type_name == NULL) || (tname && strcmp(tname, c->type_name))) {
    sl_test_fail(__FILE__, __LINE__, "%s: type %s in the schema, %s in the table", name, tname ? tname : "(none)",
                 c->type_name ? c->type_name : "(none)");
    bad++;
  }
  if (json_is_true(json_object_get(def, "additionalProperties")) != c->open) {
    sl_test_fail(__FILE__, __LINE__, "%s: additionalProperties differs", name);
    bad++;
  }
  const sl_lc_field *f = c->fields;
  const char *k;
  json_t *p;
  json_object_foreach((json_t *)props, k, p) {
    if (!strcmp(k, "type")) continue;
    if (!f->name || strcmp(f->name, k)) {
      sl_test_fail(__FILE__, __LINE__, "%s: property %s in the schema, %s in the table", name, k,
                   f->name ? f->name : "(end)");
      return bad + 1;
    }
    char spec[2048], en[1024];
    derive(d, p, spec, sizeof spec);
    derive_enum(d, p, en, sizeof en);
    bool req = false;
    const json_t *required = json_object_get(def, "required");
    for (size_t i = 0; i < json_array_size(required); i++)
      req |= !strcmp(json_string_value(json_array_get(required, i)), k);
    if (strcmp(spec, f->spec) || strcmp(en, f->enumv ? f->enumv : "") || req != !!(f->flags & SL_LC_REQUIRED)) {
      sl_test_fail(__FILE__, __LINE__, "%s.%s: schema says %s%s [%s], table %s%s [%s]", name, k, spec,
                   req ? " (required)" : "", en, f->spec, (f->flags & SL_LC_REQUIRED) ? " (required)" : "",
                   f->enumv ? f->enumv : "");
      bad++;
    }
    f++;
  }
  if (f->name) {
    sl_test_fail(__FILE__, __LINE__, "%s: the table has %s, the schema does not", name, f->name);
    bad++;
  }
  const json_t *required = json_object_get(def, "required");
  for (size_t i = 0; i < json_array_size(required); i++) {
    const char *r = json_string_value(json_array_get(required, i));
    if (strcmp(r, "type") && !sl_lc_field_of(c, r)) {
      sl_test_fail(__FILE__, __LINE__, "%s: required %s is not a field in the table", name, r);
      bad++;
    }
  }
  return bad;
}

/* The table (lowcode/components_table.c) must say what the contract says:
 * every definition, its properties in order, kinds, enums and required list.
 * Regenerate with lowcode/components_gen.py when this fails. */
TEST(manifest_component_table_matches_schema) {
  const char *path = getenv("SLUICE_DECLARATIVE_SCHEMA");
  if (!path) path = "../shared/spec/declarative_component_schema.yaml";
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "    (manifest_component_table_matches_schema: %s not found, set SLUICE_DECLARATIVE_SCHEMA; skipped)\n",
            path);
    return;
  }
  fclose(f);
  sl_mlocs locs = {0};
  sl_err err = SL_ERR_INIT;
  json_t *schema = sl_manifest_yaml_parse(path, path, NULL, 0, &locs, &err);
  sl_mlocs_dispose(&locs);
  CHECK(schema);
  derive_ctx d = {json_object_get(schema, "definitions"), json_object()};
  int bad = compare_def(&d, "DeclarativeSource", schema), defs = 1;
  const char *k;
  json_t *def;
  json_object_foreach((json_t *)d.defs, k, def) {
    const json_t *t = json_object_get(def, "type");
    if ((json_is_string(t) && !strcmp(json_string_value(t), "object")) || json_object_get(def, "properties"))
      bad += compare_def(&d, k, def), defs++;
  }
  json_object_foreach(d.inline_defs, k, def) bad += compare_def(&d, k, def), defs++;
  size_t table = 0;
  for (const sl_lc_component *c = SL_LC_COMPONENTS; c->name; c++) table++;
  json_decref(d.inline_defs);
  json_decref(schema);
  CHECK_INT(bad, 0);
  CHECK_INT(table, defs);
  CHECK(defs > 130);
}
