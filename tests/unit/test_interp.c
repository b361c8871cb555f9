/* Interpolation: table-driven cases from the .txt files in tests/data/interp. Each
 * case was rendered by real jinja2 + ast.literal_eval (tests/data/interp/gen.py);
 * the C engine must give the same text, value, boolean or error.
 *
 * Case format (blocks separated by "=== name"):
 *   template: raw text to end of line, or a JSON string
 *   context:  JSON object (default {"config": {}})
 *   accept:   any | str_or_list | text | int | number | bool | string
 *   render:   JSON string: the rendered text
 *   expect:   JSON value of sl_tmpl_eval, or NULL (empty / undefined)
 *   bool:     true | false (sl_tmpl_eval_bool)
 *   error:    a substring of the error message (render and eval fail) */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/interp_int.h"
#include "sluice/interp.h"
#include "test.h"

/* 2024-03-15T10:20:30.123456Z, the clock gen.py pins too */
#define FAKE_NOW INT64_C(1710498030123456)

typedef struct tcase {
  char name[200];
  char *tmpl, *ctx, *accept, *render, *expect, *boolv, *error;
  int line;
} tcase;

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static void free_case(tcase *c) {
  free(c->tmpl), free(c->ctx), free(c->accept), free(c->render), free(c->expect), free(c->boolv), free(c->error);
  memset(c, 0, sizeof *c);
}

static sl_tmpl_accept accept_of(const char *a) {
  if (!a || !strcmp(a, "any")) return SL_TMPL_ANY;
  if (!strcmp(a, "str_or_list")) return SL_TMPL_STR_OR_LIST;
  if (!strcmp(a, "text")) return SL_TMPL_TEXT;
  if (!strcmp(a, "int")) return SL_TMPL_INT;
  if (!strcmp(a, "number")) return SL_TMPL_NUMBER;
  if (!strcmp(a, "bool")) return SL_TMPL_BOOL;
  return SL_TMPL_STRING;
}

static int run_case(const char *file, tcase *c) {
  char where[256];
  snprintf(where, sizeof where, "%s:%d", file, c->line);
  int bad = 0;
#define FAIL(...)                                                    \
  do {                                                               \
    fprintf(stderr, "    %s case '%s': ", where, c->name);           \
    fprintf(stderr, __VA_ARGS__);                                    \
    fprintf(stderr, "\n      template: %s\n", c->tmpl);             \
    bad = 1;                                                         \
  } while (0)
  char *tmpl = c->tmpl;
  json_t *tj = NULL;
  if (!c->render && !c->expect && !c->boolv && !c->error) {
    FAIL("no expectation (run tests/data/interp/gen.py)");
    return 1;
  }
  if (tmpl[0] == '"') {
    tj = json_loads(tmpl, JSON_DECODE_ANY, NULL);
    if (!json_is_string(tj)) {
      FAIL("bad JSON template");
      json_decref(tj);
      return 1;
    }
    tmpl = (char *)json_string_value(tj);
  }
  json_error_t je;
  json_t *ctx = json_loads(c->ctx ? c->ctx : "{\"config\": {}}", 0, &je);
  if (!ctx) {
    FAIL("bad context JSON: %s", je.text);
    json_decref(tj);
    return 1;
  }
  sl_err err = SL_ERR_INIT;
  sl_tmpl *t = sl_tmpl_compile(tmpl, "test.yaml:1:1 field", &err);
  if (!t) {
    if (!c->error) FAIL("compile failed: %s", err.msg);
    else if (!strstr(err.msg, c->error)) FAIL("error '%s' does not contain '%s'", err.msg, c->error);
    else if (!strstr(err.msg, "test.yaml:1:1 field")) FAIL("error '%s' does not name the location", err.msg);
    goto out;
  }
  if (c->render && !c->error) {
    sl_buf b;
    sl_buf_init(&b, 1u << 26);
    sl_err_clear(&err);
    int rc = sl_tmpl_render(t, ctx, &b, &err);
    json_t *want = json_loads(c->render, JSON_DECODE_ANY, NULL);
    if (rc < 0) FAIL("render failed: %s", err.msg);
    else if (rc == 0 && (!json_is_string(want) || b.len != json_string_length(want) ||
                         memcmp(b.data ? b.data : "", json_string_value(want), b.len)))
      FAIL("rendered '%.*s', expected %s", (int)b.len, b.data ? b.data : "", c->render);
    json_decref(want);
    sl_buf_dispose(&b);
  }
  if (c->expect || c->error) {
    json_t *out = NULL;
    sl_err_clear(&err);
    int rc = sl_tmpl_eval(t, ctx, accept_of(c->accept), &out, &err);
    if (c->error) {
      if (rc == 0) FAIL("expected an error containing '%s', got success", c->error);
      else if (!strstr(err.msg, c->error)) FAIL("error '%s' does not contain '%s'", err.msg, c->error);
      else if (!strstr(err.msg, "test.yaml:1:1 field")) FAIL("error '%s' does not name the location", err.msg);
    } else if (rc) {
      FAIL("eval failed: %s", err.msg);
    } else if (!strcmp(c->expect, "NULL")) {
      if (out) {
        char *got = json_dumps(out, JSON_ENCODE_ANY);
        FAIL("expected NULL, got %s", got);
        free(got);
      }
    } else {
      json_t *want = json_loads(c->expect, JSON_DECODE_ANY, &je);
      if (!want) FAIL("bad expect JSON: %s", je.text);
      else if (!out || !json_equal(out, want) || json_typeof(out) != json_typeof(want)) {
        char *got = out ? json_dumps(out, JSON_ENCODE_ANY) : strdup("NULL");
        FAIL("got %s, expected %s", got, c->expect);
        free(got);
      }
      json_decref(want);
    }
    json_decref(out);
  }
  if (c->boolv && !c->error) {
    bool bv = false;
    sl_err_clear(&err);
    if (sl_tmpl_eval_bool(t, ctx, &bv, &err)) FAIL("eval_bool failed: %s", err.msg);
    else if (bv != !strcmp(c->boolv, "true")) FAIL("eval_bool gave %s, expected %s", bv ? "true" : "false", c->boolv);
  }
  sl_tmpl_free(t);
out:
  json_decref(ctx);
  json_decref(tj);
  return bad;
}

static int run_file(const char *path, int *count) {
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  tcase c = {0};
  int fails = 0, lineno = 0;
  bool have = false;
  for (;;) {
    len = getline(&line, &cap, f);
    lineno++;
    if (len >= 0 && len && line[len - 1] == '\n') line[--len] = 0;
    if (len < 0 || !strncmp(line, "=== ", 4)) {
      if (have && c.tmpl) {
        fails += run_case(path, &c);
        (*count)++;
      }
      free_case(&c);
      if (len < 0) break;
      have = true;
      snprintf(c.name, sizeof c.name, "%s", line + 4);
      c.line = lineno;
      continue;
    }
    char *colon = strchr(line, ':');
    if (!colon || line[0] == '#') continue;
    *colon = 0;
    const char *v = colon + 1;
    if (*v == ' ') v++;
    if (!strcmp(line, "template")) c.tmpl = dupstr(v);
    else if (!strcmp(line, "context")) c.ctx = dupstr(v);
    else if (!strcmp(line, "accept")) c.accept = dupstr(v);
    else if (!strcmp(line, "render")) c.render = dupstr(v);
    else if (!strcmp(line, "expect")) c.expect = dupstr(v);
    else if (!strcmp(line, "bool")) c.boolv = dupstr(v);
    else if (!strcmp(line, "error")) c.error = dupstr(v);
  }
  free(line);
  fclose(f);
  return fails;
}

TEST(interp_data_cases) {
  sl_tmpl_set_clock(FAKE_NOW);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/interp", sl_test_data_dir());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *de;
  int fails = 0, count = 0, files = 0;
  char *names[256];
  while ((de = readdir(d)) && files < 256) {
    size_t l = strlen(de->d_name);
    if (l > 4 && !strcmp(de->d_name + l - 4, ".txt")) names[files++] = strdup(de->d_name);
  }
  closedir(d);
  for (int i = 0; i < files; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    fails += run_file(path, &count);
    free(names[i]);
  }
  sl_tmpl_set_clock(0);
  fprintf(stderr, "    interp: %d cases in %d files, %d failed\n", count, files, fails);
  CHECK(count >= 100);
  CHECK_INT(fails, 0);
}

TEST(interp_static_and_source) {
  sl_err err = SL_ERR_INIT;
  sl_tmpl *t = sl_tmpl_compile("plain text", "m.yaml:1:1 path", &err);
  CHECK(t != NULL);
  CHECK(sl_tmpl_is_static(t));
  CHECK_STR(sl_tmpl_source(t), "plain text");
  sl_tmpl_free(t);
  t = sl_tmpl_compile("{{ 1 }}", "m.yaml:1:1 path", &err);
  CHECK(t != NULL);
  CHECK(!sl_tmpl_is_static(t));
  sl_tmpl_free(t);
}

TEST(interp_error_names_location) {
  sl_err err = SL_ERR_INIT;
  sl_tmpl *t = sl_tmpl_compile("a\n{{ config[ }}", "manifest.yaml:12:7 streams[0].path", &err);
  CHECK(t == NULL);
  CHECK_CONTAINS(err.msg, "manifest.yaml:12:7 streams[0].path");
  CHECK_CONTAINS(err.msg, "line 2");
  t = sl_tmpl_compile("{{ response.x }}", "m.yaml:3:1 path", &err);
  CHECK(t != NULL);
  json_t *ctx = json_pack("{s:{}}", "config");
  json_t *out = NULL;
  CHECK(sl_tmpl_eval(t, ctx, SL_TMPL_ANY, &out, &err) != 0);
  CHECK_CONTAINS(err.msg, "undeclared variable 'response'");
  CHECK_CONTAINS(err.msg, "m.yaml:3:1 path");
  json_decref(ctx);
  sl_tmpl_free(t);
}

TEST(interp_empty_result_says_why) {
  sl_err err = SL_ERR_INIT;
  json_t *ctx = json_pack("{s:{}}", "config"), *out = NULL;
  sl_tmpl *t = sl_tmpl_compile("{{ config['api_key'] }}", "m.yaml:9:3 api_token", &err);
  CHECK(t != NULL);
  CHECK_INT(sl_tmpl_eval(t, ctx, SL_TMPL_ANY, &out, &err), 0);
  CHECK(out == NULL);
  CHECK_INT(err.code, SL_EOK);
  CHECK_CONTAINS(err.msg, "m.yaml:9:3 api_token");
  CHECK_CONTAINS(err.msg, "'api_key'");
  CHECK_CONTAINS(err.msg, "line 1 column 10");
  sl_tmpl_free(t);
  t = sl_tmpl_compile("{{ config.creds.token }}", "m.yaml:9:3 api_token", &err);
  CHECK(t != NULL);
  CHECK_INT(sl_tmpl_eval(t, ctx, SL_TMPL_ANY, &out, &err), 0);
  CHECK(out == NULL);
  CHECK_INT(err.code, SL_EOK);
  CHECK_CONTAINS(err.msg, "has no attribute 'creds'");
  sl_tmpl_free(t);
  json_decref(ctx);
}

TEST(interp_fake_now_env) {
  /* sl_tmpl_set_clock wins over SLUICE_FAKE_NOW; 0 means the real clock */
  sl_tmpl_set_clock(FAKE_NOW);
  sl_err err = SL_ERR_INIT;
  sl_tmpl *t = sl_tmpl_compile("{{ now_utc().strftime('%Y-%m-%d %H:%M:%S.%f') }}", "x", &err);
  CHECK(t != NULL);
  json_t *ctx = json_pack("{s:{}}", "config");
  json_t *out = NULL;
  CHECK(sl_tmpl_eval(t, ctx, SL_TMPL_TEXT, &out, &err) == 0);
  CHECK_STR(json_string_value(out), "2024-03-15 10:20:30.123456");
  json_decref(out);
  json_decref(ctx);
  sl_tmpl_free(t);
  sl_tmpl_set_clock(0);
}

/* Differential check against real manifests (tests/data/interp/corpus_diff.py
 * writes the file; the corpus is not in the repository, so this runs only
 * when SLUICE_INTERP_CORPUS names it). */
TEST(interp_corpus) {
  const char *path = getenv("SLUICE_INTERP_CORPUS");
  if (!path) {
    fprintf(stderr, "    interp_corpus: SLUICE_INTERP_CORPUS not set, nothing to compare\n");
    return;
  }
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  sl_tmpl_set_clock(FAKE_NOW);
  char *line = NULL;
  size_t cap = 0;
  int n = 0, bad = 0;
  while (getline(&line, &cap, f) > 0) {
    json_t *j = json_loads(line, 0, NULL);
    if (!j) continue;
    const char *src = json_string_value(json_object_get(j, "src"));
    sl_err err = SL_ERR_INIT;
    sl_tmpl *t = sl_tmpl_compile(src, json_string_value(json_object_get(j, "file")), &err);
    n++;
    const char *why = NULL;
    if (json_object_get(j, "parse_error")) {
      if (t) why = "jinja2 refuses it, sluice compiles it";
    } else if (!t) {
      why = err.msg;
    } else {
      json_t *und = json_object_get(j, "und"), *res = json_object_get(j, "res"), *out = NULL, *v;
      size_t i;
      bool same = json_array_size(und) == t->nnames;
      json_array_foreach(und, i, v) {
        bool found = false;
        for (size_t k = 0; k < t->nnames; k++) found |= !strcmp(t->names[k], json_string_value(v));
        same &= found;
      }
      if (!same) why = "undeclared names differ";
      int rc = sl_tmpl_eval(t, json_object_get(j, "ctx"), SL_TMPL_ANY, &out, &err);
      if (!why && json_object_get(res, "error") && rc == 0) why = "Python raised, sluice did not";
      if (!why && json_object_get(res, "null") && (rc || out)) why = rc ? err.msg : "Python gave NULL";
      if (!why && json_object_get(res, "value") && (rc || !out || !json_equal(out, json_object_get(res, "value"))))
        why = rc ? err.msg : "values differ";
      json_decref(out);
    }
    if (why && bad++ < 20) fprintf(stderr, "    %s: %s\n      %s\n", json_string_value(json_object_get(j, "file")), src, why);
    sl_tmpl_free(t);
    json_decref(j);
  }
  free(line);
  fclose(f);
  sl_tmpl_set_clock(0);
  fprintf(stderr, "    interp_corpus: %d templates, %d differ\n", n, bad);
  CHECK(n > 0);
  CHECK_INT(bad, 0);
}
