/* The declarative runtime's Python-compatible helpers, against the table in
 * tests/data/lowcode-runtime.json: urljoin, str() of values, quote_plus and
 * Link header parsing. */
#include <stdio.h>
#include <stdlib.h>

#include "../../lowcode/lc.h"
#include "test.h"

static json_t *table(const char *key) {
  char path[1024];
  snprintf(path, sizeof path, "%s/lowcode-runtime.json", sl_test_data_dir());
  json_t *root = NULL;
  sl_err err = SL_ERR_INIT;
  if (sl_json_load_file(path, &root, &err)) return NULL;
  json_t *t = json_incref(json_object_get(root, key));
  json_decref(root);
  return t;
}

TEST(lowcode_urljoin) {
  json_t *t = table("urljoin");
  CHECK(json_array_size(t) > 0);
  size_t i;
  json_t *row;
  json_array_foreach(t, i, row) {
    sl_err err = SL_ERR_INIT;
    char *got = sl_url_join(json_string_value(json_array_get(row, 0)), json_string_value(json_array_get(row, 1)), &err);
    const char *want = json_string_value(json_array_get(row, 2));
    bool ok = got && !strcasecmp(got, want);
    if (!ok) sl_test_fail(__FILE__, __LINE__, "urljoin row %zu: got %s, expected %s", i, got ? got : err.msg, want);
    free(got);
  }
  json_decref(t);
}

TEST(lowcode_pystr) {
  json_t *t = table("pystr");
  CHECK(json_array_size(t) > 0);
  size_t i;
  json_t *row;
  json_array_foreach(t, i, row) {
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    lc_pystr(&b, json_array_get(row, 0));
    const char *want = json_string_value(json_array_get(row, 1));
    if (strcmp(sl_buf_cstr(&b), want)) sl_test_fail(__FILE__, __LINE__, "str() row %zu: got %s, expected %s", i, b.data, want);
    sl_buf_dispose(&b);
  }
  json_decref(t);
}

TEST(lowcode_quote_plus) {
  json_t *t = table("quote_plus");
  CHECK(json_array_size(t) > 0);
  size_t i;
  json_t *row;
  json_array_foreach(t, i, row) {
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    const char *in = json_string_value(json_array_get(row, 0));
    sl_url_encode(&b, in, strlen(in), true);
    const char *want = json_string_value(json_array_get(row, 1));
    if (strcmp(sl_buf_cstr(&b), want)) sl_test_fail(__FILE__, __LINE__, "quote_plus row %zu: got %s, expected %s", i, b.data, want);
    sl_buf_dispose(&b);
  }
  json_decref(t);
}

TEST(lowcode_link_header) {
  json_t *t = table("links");
  CHECK(json_array_size(t) > 0);
  size_t i;
  json_t *row;
  json_array_foreach(t, i, row) {
    sl_http_resp r;
    sl_http_resp_init(&r);
    const char *v = json_string_value(json_array_get(row, 0));
    if (*v) {
      sl_buf_append(&r.headers, "link", 5);
      sl_buf_append(&r.headers, v, strlen(v) + 1);
      r.n_headers = 1;
    }
    json_t *h = lc_headers_json(&r);
    json_t *got = json_object_get(h, "link");
    if (!json_equal(got, json_array_get(row, 1))) {
      char *g = sl_json_dumps(got);
      sl_test_fail(__FILE__, __LINE__, "Link row %zu: got %s", i, g ? g : "?");
      free(g);
    }
    json_decref(h);
    sl_http_resp_dispose(&r);
  }
  json_decref(t);
}
