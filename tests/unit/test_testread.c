/* The builder's test-read assembly (lowcode/testread.h): event streams in
 * tests/data/builder/asm/<case>.events.jsonl must assemble into
 * <case>.expected.json; and locations found in error messages. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lowcode/testread.h"
#include "sluice/json.h"
#include "test.h"

static json_t *assemble(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  lc_tr_asm *a = lc_tr_asm_new("s");
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_t *ev = json_loads(line, 0, NULL);
    if (ev) lc_tr_asm_event(a, ev);
    json_decref(ev);
  }
  free(line);
  fclose(f);
  return lc_tr_asm_finish(a);
}

TEST(testread_assembly_cases) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/builder/asm", sl_test_data_dir());
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  int cases = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *suffix = strstr(e->d_name, ".events.jsonl");
    if (!suffix || suffix[13]) continue;
    char ev[1400], ex[1400];
    snprintf(ev, sizeof ev, "%s/%s", dir, e->d_name);
    snprintf(ex, sizeof ex, "%s/%.*s.expected.json", dir, (int)(suffix - e->d_name), e->d_name);
    json_t *got = assemble(ev), *want = json_load_file(ex, 0, NULL);
    bool same = got && want && json_equal(got, want);
    if (!same) {
      char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
      fprintf(stderr, "%s: assembled %s\n", e->d_name, g ? g : "(nothing)");
      free(g);
    }
    json_decref(got);
    json_decref(want);
    if (!same) closedir(d);
    CHECK(same);
    cases++;
  }
  closedir(d);
  CHECK_INT(cases, 3);
}

TEST(testread_location_in_message) {
  json_t *l = lc_tr_location("the response of GET http://h:80/x: bad (decoder of the retriever at dir/m.yaml:34:7 "
                             "streams[0].retriever)");
  CHECK(l != NULL);
  CHECK_STR(json_string_value(json_object_get(l, "file")), "dir/m.yaml");
  CHECK_INT(json_integer_value(json_object_get(l, "line")), 34);
  CHECK_INT(json_integer_value(json_object_get(l, "column")), 7);
  CHECK_STR(json_string_value(json_object_get(l, "path")), "streams[0].retriever");
  json_decref(l);
  l = lc_tr_location("m.yaml:3:1 streams[0].primary_key[1]: YAML syntax error");
  CHECK(l != NULL);
  CHECK_STR(json_string_value(json_object_get(l, "path")), "streams[0].primary_key[1]");
  json_decref(l);
  /* A URL's port is not a location; no location at all gives NULL. */
  CHECK(lc_tr_location("GET http://127.0.0.1:8080/a: connection refused") == NULL);
  CHECK(lc_tr_location("no location here") == NULL);
}
