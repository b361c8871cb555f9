#include <stdlib.h>

#include "sluice/json.h"
#include "test.h"

static sl_jparser *parser(void) { return sl_jparser_new(1 << 20); }

/* Parse text (copied into a padded buffer) and re-serialise the root. */
static char *roundtrip(const char *text, sl_err *err) {
  sl_jparser *p = parser();
  sl_buf in, out;
  sl_buf_init(&in, 1 << 20);
  sl_buf_init(&out, 1 << 20);
  sl_buf_append(&in, text, strlen(text));
  sl_jv root;
  char *res = NULL;
  if (sl_jparser_parse(p, in.data, in.len, &root, "input", err) == SL_EOK) {
    sl_jw w;
    sl_jw_init(&w, &out);
    sl_jw_jv(&w, root);
    res = strdup(sl_buf_cstr(&out));
  }
  sl_buf_dispose(&in);
  sl_buf_dispose(&out);
  sl_jparser_free(p);
  return res;
}

TEST(json_roundtrip_keeps_int64_exact) {
  sl_err err = SL_ERR_INIT;
  char *s = roundtrip("{\"a\":9223372036854775807,\"b\":-9223372036854775808,"
                      "\"c\":18446744073709551615,\"d\":1.5,\"e\":[true,false,null],"
                      "\"f\":\"x\\\"y\\n\\u00e9\"}", &err);
  CHECK(s);
  CHECK_STR(s, "{\"a\":9223372036854775807,\"b\":-9223372036854775808,"
               "\"c\":18446744073709551615,\"d\":1.5,\"e\":[true,false,null],"
               "\"f\":\"x\\\"y\\n\xc3\xa9\"}");
  free(s);
}

TEST(json_parse_error_names_input_and_offset) {
  sl_err err = SL_ERR_INIT;
  char *s = roundtrip("{\"a\":1,,}", &err);
  CHECK(!s);
  CHECK_INT(err.code, SL_EJSON);
  CHECK_CONTAINS(err.msg, "input:");
  CHECK_CONTAINS(err.msg, "byte offset 7");
}

TEST(json_rejects_invalid_utf8) {
  sl_err err = SL_ERR_INIT;
  char *s = roundtrip("{\"a\":\"\xff\xfe\"}", &err);
  CHECK(!s);
  CHECK_INT(err.code, SL_EJSON);
}

TEST(json_get_and_iterate) {
  sl_jparser *p = parser();
  sl_buf in;
  sl_buf_init(&in, 1024);
  const char *t = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"data\":{\"id\":7,\"tags\":[1,2,3]}}}";
  sl_buf_append(&in, t, strlen(t));
  sl_jv root, rec, data, id, tags, stream;
  CHECK(sl_jparser_parse(p, in.data, in.len, &root, "line", NULL) == SL_EOK);
  CHECK(sl_jv_get(root, "record", &rec));
  CHECK(sl_jv_get(rec, "stream", &stream));
  size_t n;
  const char *sv = sl_jv_str(stream, &n);
  CHECK(n == 5 && memcmp(sv, "users", 5) == 0);
  CHECK(sl_jv_get(rec, "data", &data));
  CHECK(sl_jv_get(data, "id", &id));
  CHECK_INT(sl_jv_type(id), SL_JINT);
  CHECK_INT(sl_jv_int(id), 7);
  CHECK(sl_jv_get(data, "tags", &tags));
  int64_t sum = 0;
  int count = 0;
  for (sl_jv x = sl_jv_first(tags); sl_jv_more(tags, x); x = sl_jv_next(x)) {
    sum += sl_jv_int(x);
    count++;
  }
  CHECK_INT(count, 3);
  CHECK_INT(sum, 6);
  CHECK(!sl_jv_get(data, "missing", &id));
  sl_buf_dispose(&in);
  sl_jparser_free(p);
}

TEST(json_escape_replaces_invalid_utf8_and_controls) {
  sl_buf b;
  sl_buf_init(&b, 1024);
  CHECK(sl_json_escape(&b, "a\x01\xff\"\\", 5) == SL_EOK);
  CHECK_STR(sl_buf_cstr(&b), "\"a\\u0001\xef\xbf\xbd\\\"\\\\\"");
  sl_buf_dispose(&b);
}

TEST(json_double_format) {
  char p[40];
  size_t n = sl_json_fmt_double(p, 12.0, true);
  p[n] = 0;
  CHECK_STR(p, "12.0");
  n = sl_json_fmt_double(p, 0.1, false);
  p[n] = 0;
  CHECK_STR(p, "0.1");
  n = sl_json_fmt_double(p, 1.0 / 0.0, false);
  p[n] = 0;
  CHECK_STR(p, "null");
}

TEST(buf_respects_max) {
  sl_buf b;
  sl_buf_init(&b, 10);
  CHECK(sl_buf_append(&b, "0123456789", 10) == SL_EOK);
  CHECK(sl_buf_append(&b, "x", 1) == SL_ELIMIT);
  CHECK_INT(b.len, 10);
  sl_buf_dispose(&b);
}

TEST(json_double_fast_path_roundtrips) {
  const double vals[] = {1.88, -2.5, 123456.789, 0.1, 0.3, 1e-7, 1e21, 5e-324, 9007199254740993.0, 0.000123};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    char p[40];
    size_t n = sl_json_fmt_double(p, vals[i], false);
    p[n] = 0;
    CHECK(strtod(p, NULL) == vals[i]);
  }
  char p[40];
  p[sl_json_fmt_double(p, 1.88, false)] = 0;
  CHECK_STR(p, "1.88");
  p[sl_json_fmt_double(p, -2.5, true)] = 0;
  CHECK_STR(p, "-2.5");
  p[sl_json_fmt_double(p, 3.0, true)] = 0;
  CHECK_STR(p, "3.0");
}

TEST(json_envelope_reads_record_stream_and_data) {
  sl_jparser *p = parser();
  sl_buf in;
  sl_buf_init(&in, 4096);
  const char *t = "{\"type\":\"RECORD\",\"record\":{\"namespace\":\"n\",\"stream\":\"u\\u0073ers\",\"data\":{\"id\":1},\"emitted_at\":1}}";
  sl_buf_append(&in, t, strlen(t));
  sl_envelope env;
  CHECK(sl_jparser_envelope(p, in.data, in.len, &env, "line", NULL) == SL_EOK);
  CHECK(env.type_len == 6 && !memcmp(env.type, "RECORD", 6));
  CHECK(env.stream_len == 5 && !memcmp(env.stream, "users", 5));
  CHECK(env.ns_len == 1 && env.ns[0] == 'n');
  CHECK_INT(env.data_state, 2);
  in.len = 0;
  t = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"u\",\"data\":{}}}";
  sl_buf_append(&in, t, strlen(t));
  CHECK(sl_jparser_envelope(p, in.data, in.len, &env, "line", NULL) == SL_EOK);
  CHECK_INT(env.data_state, 1);
  in.len = 0;
  t = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"\xff\"}}";
  sl_buf_append(&in, t, strlen(t));
  sl_err err = SL_ERR_INIT;
  CHECK(sl_jparser_envelope(p, in.data, in.len, &env, "line 9", &err) == SL_EJSON);
  CHECK_CONTAINS(err.msg, "line 9");
  sl_buf_dispose(&in);
  sl_jparser_free(p);
}

TEST(json_int_format_edges) {
  const int64_t vals[] = {0, 9, 10, 99, 100, 101, 999, 1000, -1, -10, 1234567890123456789LL, INT64_MIN, INT64_MAX};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    char p[32], q[32];
    p[sl_json_fmt_int(p, vals[i])] = 0;
    snprintf(q, sizeof q, "%lld", (long long)vals[i]);
    CHECK_STR(p, q);
  }
  char p[40];
  p[sl_json_fmt_double(p, 1e21, false)] = 0;
  CHECK(strtod(p, NULL) == 1e21);
  p[sl_json_fmt_double(p, 0.1 + 0.2, false)] = 0;
  CHECK_STR(p, "0.30000000000000004");
}

/* Literals a double or a 64-bit integer would not keep come back as written. */
TEST(json_long_literals_keep_their_text) {
  sl_err err = SL_ERR_INIT;
  const char *in = "{\"big\":123456789012345678901234567890,\"neg\":-99999999999999999999,"
                   "\"dec\":3.14159265358979323846264338327950288,\"exp\":1.2345678901234567e300,"
                   "\"id\":1234567890123456789,\"u\":18446744073709551615,\"small\":0.1,"
                   "\"arr\":[1,2.5,[12345678901234567890.5]],\"s\":\"99999999999999999999999\"}";
  char *s = roundtrip(in, &err);
  CHECK(s);
  CHECK_STR(s, in);
  free(s);
  s = roundtrip("123456789012345678901234567890", &err); /* a number as the whole document */
  CHECK(s);
  CHECK_STR(s, "123456789012345678901234567890");
  free(s);
}

TEST(json_long_literals_values) {
  sl_jparser *p = parser();
  sl_buf in;
  sl_buf_init(&in, 1024);
  const char *text = "{\"big\":123456789012345678901234567890,\"id\":1234567890123456789,\"d\":2.5}";
  sl_buf_append(&in, text, strlen(text));
  sl_jv root, v;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_jparser_parse(p, in.data, in.len, &root, "in", &err), SL_EOK);
  CHECK(sl_jv_get(root, "big", &v));
  CHECK_INT(sl_jv_type(v), SL_JDOUBLE); /* the nearest double, the text kept */
  CHECK(sl_jv_num(v) > 1.2345678901234e29 && sl_jv_num(v) < 1.2345678901235e29);
  size_t n;
  const char *t = sl_jv_num_text(v, &n);
  CHECK(t);
  CHECK_INT((int)n, 30);
  CHECK(sl_jv_get(root, "id", &v)); /* a 64-bit integer on the same line stays exact */
  CHECK_INT(sl_jv_type(v), SL_JINT);
  CHECK(sl_jv_int(v) == 1234567890123456789LL);
  /* an ordinary line keeps no texts */
  in.len = 0;
  sl_buf_append(&in, "{\"a\":1,\"b\":2.5}", 15);
  CHECK_INT(sl_jparser_parse(p, in.data, in.len, &root, "in", &err), SL_EOK);
  CHECK(sl_jv_get(root, "b", &v));
  CHECK(!sl_jv_num_text(v, &n));
  /* a malformed line with a long literal is still an error with its place */
  in.len = 0;
  sl_buf_append(&in, "{\"a\":123456789012345678901234567890,,}", 38);
  CHECK_INT(sl_jparser_parse(p, in.data, in.len, &root, "line 3", &err), SL_EJSON);
  CHECK_CONTAINS(err.msg, "line 3");
  sl_buf_dispose(&in);
  sl_jparser_free(p);
}

/* Digits inside strings are not literals: such lines keep the fast path. */
TEST(json_digits_in_strings_are_not_literals) {
  sl_jparser *p = parser();
  sl_buf in;
  sl_buf_init(&in, 1024);
  const char *text = "{\"padded\":\"00000000000000001234\",\"x\":1.5,\"id\":\"12345678901234567890123\"}";
  sl_buf_append(&in, text, strlen(text));
  sl_jv root, v;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_jparser_parse(p, in.data, in.len, &root, "in", &err), SL_EOK);
  CHECK(sl_jv_get(root, "x", &v));
  CHECK(!sl_jv_num_text(v, NULL)); /* not marked: the slow path did not run */
  sl_buf_dispose(&in);
  sl_jparser_free(p);
}
