/* platform/mapping.c: namespace and stream-prefix mapping. */
#include <stdlib.h>

#include "sluice/platform.h"
#include "test.h"

static json_t *catalog(void) {
  return json_loads("{\"streams\":[{\"stream\":{\"name\":\"orders\",\"namespace\":\"shop\",\"json_schema\":{}},\"sync_mode\":\"incremental\","
                    "\"destination_sync_mode\":\"append\"},{\"stream\":{\"name\":\"notes\",\"json_schema\":{}},\"sync_mode\":\"full_refresh\","
                    "\"destination_sync_mode\":\"overwrite\"}]}",
                    0, NULL);
}

/* Map one RECORD line into a string (malloc'd), NULL on failure: parsed and
 * given to sl_mapping_record, or (by_line) through sl_mapping_record_line
 * with its envelope. */
static char *map_any(const sl_mapping *m, const char *line, bool by_line) {
  sl_jparser *p = sl_jparser_new(1 << 20);
  sl_jv root;
  sl_envelope env;
  sl_err err = SL_ERR_INIT;
  sl_buf out;
  sl_buf_init(&out, 1 << 20);
  char *res = NULL;
  size_t n = strlen(line);
  bool ok = by_line ? (sl_record_scan(line, n, &env) || !sl_jparser_envelope(p, line, n, &env, "test", &err)) &&
                          !sl_mapping_record_line(m, line, n, &env, p, "test line", &out, &err)
                    : !sl_jparser_parse(p, line, n, &root, "test", &err) && !sl_mapping_record(m, root, &out);
  if (ok && !sl_buf_putc(&out, 0)) res = strdup(out.data);
  sl_buf_dispose(&out);
  sl_jparser_free(p);
  return res;
}
static char *map_record(const sl_mapping *m, const char *line) { return map_any(m, line, false); }
static char *map_line(const sl_mapping *m, const char *line) { return map_any(m, line, true); }

TEST(mapping_identity_is_null) {
  json_t *cat = catalog();
  sl_mapping *m = (sl_mapping *)1;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_mapping_new(NULL, NULL, cat, &m, &err), SL_EOK);
  CHECK(m == NULL);
  CHECK_INT(sl_mapping_new("source", "", cat, &m, &err), SL_EOK);
  CHECK(m == NULL);
  json_decref(cat);
}

TEST(mapping_catalog_and_record) {
  json_t *cat = catalog();
  sl_mapping *m = NULL;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_mapping_new("x_${SOURCE_NAMESPACE}_y", "pre_", cat, &m, &err), SL_EOK);
  CHECK(m != NULL);
  json_t *d = sl_mapping_catalog(m, cat);
  json_t *s0 = json_object_get(json_array_get(json_object_get(d, "streams"), 0), "stream");
  json_t *s1 = json_object_get(json_array_get(json_object_get(d, "streams"), 1), "stream");
  CHECK_STR(json_string_value(json_object_get(s0, "name")), "pre_orders");
  CHECK_STR(json_string_value(json_object_get(s0, "namespace")), "x_shop_y");
  CHECK_STR(json_string_value(json_object_get(s1, "name")), "pre_notes");
  CHECK_STR(json_string_value(json_object_get(s1, "namespace")), "x__y"); /* no source namespace: empty */
  /* the source's catalog is left as it was */
  CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(cat, "streams"), 0), "stream"), "name")), "orders");
  json_decref(d);
  /* every other member goes through exactly, big integers included */
  char *r = map_record(m, "{\"type\":\"RECORD\",\"record\":{\"namespace\":\"shop\",\"stream\":\"orders\",\"data\":{\"id\":1,"
                          "\"big\":18446744073709551615,\"x\":1.5e300},\"emitted_at\":5,\"meta\":{\"changes\":[]}}}");
  CHECK_STR(r, "{\"type\":\"RECORD\",\"record\":{\"data\":{\"id\":1,\"big\":18446744073709551615,\"x\":1.5e+300},\"emitted_at\":5,"
               "\"meta\":{\"changes\":[]},\"stream\":\"pre_orders\",\"namespace\":\"x_shop_y\"}}\n");
  free(r);
  /* a stream the mapping does not know is not re-written */
  CHECK(map_record(m, "{\"type\":\"RECORD\",\"record\":{\"stream\":\"ghosts\",\"data\":{}}}") == NULL);
  sl_mapping_free(m);
  json_decref(cat);
}

TEST(mapping_destination_format_drops_namespace) {
  json_t *cat = catalog();
  sl_mapping *m = NULL;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_mapping_new("destination", NULL, cat, &m, &err), SL_EOK);
  char *r = map_record(m, "{\"type\":\"RECORD\",\"record\":{\"namespace\":\"shop\",\"stream\":\"orders\",\"data\":{\"a\":1}}}");
  CHECK_STR(r, "{\"type\":\"RECORD\",\"record\":{\"data\":{\"a\":1},\"stream\":\"orders\"}}\n");
  free(r);
  sl_mapping_free(m);
  json_decref(cat);
}

TEST(mapping_state_round_trip) {
  json_t *cat = catalog();
  sl_mapping *m = NULL;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_mapping_new("dst", "p_", cat, &m, &err), SL_EOK);
  const char *text = "{\"type\":\"STATE\",\"state\":{\"type\":\"GLOBAL\",\"global\":{\"shared_state\":{\"lsn\":7},\"stream_states\":["
                     "{\"stream_descriptor\":{\"name\":\"orders\",\"namespace\":\"shop\"},\"stream_state\":{\"c\":1}},"
                     "{\"stream_descriptor\":{\"name\":\"notes\"},\"stream_state\":{}}]}}}";
  json_t *msg = json_loads(text, 0, NULL), *orig = json_deep_copy(msg);
  sl_mapping_state(m, msg, true);
  json_t *ss = json_object_get(json_object_get(json_object_get(msg, "state"), "global"), "stream_states");
  json_t *d0 = json_object_get(json_array_get(ss, 0), "stream_descriptor");
  CHECK_STR(json_string_value(json_object_get(d0, "name")), "p_orders");
  CHECK_STR(json_string_value(json_object_get(d0, "namespace")), "dst");
  sl_mapping_state(m, msg, false);
  CHECK(json_equal(msg, orig));
  /* a STREAM state with the pump's id added */
  sl_jparser *p = sl_jparser_new(1 << 20);
  sl_jv root;
  const char *st = "{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"notes\"},\"stream_state\":{\"n\":2}}}}";
  CHECK_INT(sl_jparser_parse(p, st, strlen(st), &root, "test", &err), SL_EOK);
  sl_buf out;
  sl_buf_init(&out, 1 << 20);
  CHECK_INT(sl_mapping_state_out(m, root, "42", 2, &out), SL_EOK);
  sl_buf_putc(&out, 0);
  json_t *got = json_loads(out.data, 0, NULL);
  CHECK_INT(json_integer_value(json_object_get(json_object_get(got, "state"), "id")), 42);
  CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(got, "state"), "stream"), "stream_descriptor"), "name")),
            "p_notes");
  json_decref(got);
  sl_buf_dispose(&out);
  sl_jparser_free(p);
  json_decref(msg);
  json_decref(orig);
  sl_mapping_free(m);
  json_decref(cat);
}

TEST(mapping_collision_names_both) {
  json_t *cat = json_loads("{\"streams\":[{\"stream\":{\"name\":\"t\",\"namespace\":\"a\"}},{\"stream\":{\"name\":\"t\",\"namespace\":\"b\"}}]}", 0, NULL);
  sl_mapping *m = NULL;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_mapping_new("destination", NULL, cat, &m, &err), SL_ECONFIG);
  CHECK(m == NULL);
  CHECK_CONTAINS(err.msg, "\"a.t\" and \"b.t\" both to \"t\"");
  json_decref(cat);
}

/* Through sl_mapping_record_line: a line in the canonical layout is spliced, others parsed. */
TEST(mapping_record_line_splice_and_parse) {
  json_t *cat = catalog();
  sl_mapping *m = NULL;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_mapping_new("d\"q", "p_", cat, &m, &err), SL_EOK);
  sl_envelope env;
  const char *canon = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"notes\",\"data\":{\"a\":1.50},\"emitted_at\":3}}";
  CHECK(sl_record_scan(canon, strlen(canon), &env));
  char *r = map_line(m, canon);
  /* spliced: the rest of the line is kept byte for byte (1.50 stays) */
  CHECK_STR(r, "{\"type\":\"RECORD\",\"record\":{\"stream\":\"p_notes\",\"namespace\":\"d\\\"q\",\"data\":{\"a\":1.50},\"emitted_at\":3}}\n");
  free(r);
  r = map_line(m, "{\"type\":\"RECORD\",\"record\":{\"namespace\":\"shop\",\"stream\":\"orders\",\"data\":{\"a\":1}}}");
  CHECK_STR(r, "{\"type\":\"RECORD\",\"record\":{\"data\":{\"a\":1},\"stream\":\"p_orders\",\"namespace\":\"d\\\"q\"}}\n");
  free(r);
  sl_mapping_free(m);
  json_decref(cat);
}
