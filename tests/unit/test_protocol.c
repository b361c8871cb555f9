#include <stdlib.h>

#include "sluice/sluice.h"
#include "test.h"

static json_t *load(const char *text) {
  json_t *v = NULL;
  sl_json_load_str(text, strlen(text), "test", &v, NULL);
  return v;
}

#define STREAM(name, extra) \
  "{\"stream\":{\"name\":\"" name "\",\"json_schema\":{},\"supported_sync_modes\":[\"full_refresh\",\"incremental\"]" extra "}"

TEST(catalog_resolves_cursor_pk_and_generations) {
  json_t *c = load("{\"streams\":[" STREAM("users", ",\"default_cursor_field\":[\"updated_at\"],\"source_defined_primary_key\":[[\"id\"]]")
                   ",\"sync_mode\":\"incremental\",\"destination_sync_mode\":\"append_dedup\","
                   "\"generation_id\":3,\"minimum_generation_id\":3,\"sync_id\":77,\"x-unknown\":1}]}");
  sl_catalog cat;
  sl_err err = SL_ERR_INIT;
  CHECK(sl_catalog_parse(c, "cat.json", &cat, &err) == SL_EOK);
  CHECK_INT(cat.n, 1);
  sl_cstream *cs = sl_catalog_find(&cat, "users", NULL);
  CHECK(cs);
  CHECK_INT(cs->sync_mode, SL_SYNC_INCREMENTAL);
  CHECK_INT(cs->dest_mode, SL_DEST_APPEND_DEDUP);
  CHECK_INT(cs->cursor.n, 1);
  CHECK_STR(cs->cursor.parts[0], "updated_at");
  CHECK_INT(cs->n_pk, 1);
  CHECK_STR(cs->pk[0].parts[0], "id");
  CHECK(cs->has_generation);
  CHECK_INT(cs->generation_id, 3);
  CHECK_INT(cs->sync_id, 77);
  sl_catalog_dispose(&cat);
  json_decref(c);
}

TEST(catalog_errors_name_file_and_stream) {
  sl_catalog cat;
  sl_err err = SL_ERR_INIT;
  json_t *c = load("{\"streams\":[" STREAM("users", "") ",\"sync_mode\":\"sideways\",\"destination_sync_mode\":\"append\"}]}");
  CHECK(sl_catalog_parse(c, "cat.json", &cat, &err) == SL_ECATALOG);
  CHECK_CONTAINS(err.msg, "cat.json");
  CHECK_CONTAINS(err.msg, "\"users\"");
  CHECK_CONTAINS(err.msg, "sideways");
  json_decref(c);
  c = load("{\"streams\":[{\"sync_mode\":\"full_refresh\"}]}");
  CHECK(sl_catalog_parse(c, "cat.json", &cat, &err) == SL_ECATALOG);
  CHECK_CONTAINS(err.msg, "streams[0]");
  json_decref(c);
  /* Lenient on destination modes outside the schema. */
  c = load("{\"streams\":[" STREAM("u", "") ",\"sync_mode\":\"full_refresh\",\"destination_sync_mode\":\"INVALID\"}]}");
  CHECK(sl_catalog_parse(c, "cat.json", &cat, &err) == SL_EOK);
  CHECK_INT(cat.streams[0].dest_mode, SL_DEST_UNKNOWN);
  sl_catalog_dispose(&cat);
  json_decref(c);
}

TEST(state_forms_attach_to_streams) {
  json_t *c = load("{\"streams\":[" STREAM("a", "") ",\"sync_mode\":\"incremental\",\"destination_sync_mode\":\"append\"},"
                   STREAM("b", "") ",\"sync_mode\":\"incremental\",\"destination_sync_mode\":\"append\"}]}");
  sl_catalog cat;
  sl_err err = SL_ERR_INIT;
  CHECK(sl_catalog_parse(c, "cat", &cat, &err) == SL_EOK);
  json_t *s = load("[{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"a\"},\"stream_state\":{\"c\":5}}},"
                   "{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{\"name\":\"b\"},\"stream_state\":null}}]");
  sl_state st;
  CHECK(sl_state_parse(s, "state.json", &cat, &st, &err) == SL_EOK);
  CHECK_INT(st.type, SL_STATE_STREAM);
  CHECK_INT(json_integer_value(json_object_get(cat.streams[0].state, "c")), 5);
  CHECK(cat.streams[1].state == NULL); /* null means reset */
  sl_state_dispose(&st);
  json_decref(s);
  s = load("[{\"type\":\"GLOBAL\",\"global\":{\"shared_state\":{\"lsn\":9},\"stream_states\":"
           "[{\"stream_descriptor\":{\"name\":\"b\"},\"stream_state\":{\"c\":2}}]}}]");
  CHECK(sl_state_parse(s, "state.json", &cat, &st, &err) == SL_EOK);
  CHECK_INT(st.type, SL_STATE_GLOBAL);
  CHECK_INT(json_integer_value(json_object_get(st.shared, "lsn")), 9);
  CHECK_INT(json_integer_value(json_object_get(cat.streams[1].state, "c")), 2);
  sl_state_dispose(&st);
  json_decref(s);
  s = load("{\"cursor\":1}");
  CHECK(sl_state_parse(s, "state.json", &cat, &st, &err) == SL_EOK);
  CHECK_INT(st.type, SL_STATE_LEGACY);
  sl_state_dispose(&st);
  json_decref(s);
  s = load("[{\"type\":\"WEIRD\"}]");
  CHECK(sl_state_parse(s, "state.json", &cat, &st, &err) == SL_ESTATE);
  CHECK_CONTAINS(err.msg, "state.json");
  CHECK_CONTAINS(err.msg, "WEIRD");
  json_decref(s);
  sl_catalog_dispose(&cat);
  json_decref(c);
}

TEST(secrets_are_scrubbed_including_nested_oneof) {
  json_t *spec = load("{\"type\":\"object\",\"properties\":{\"password\":{\"type\":\"string\",\"airbyte_secret\":true},"
                      "\"auth\":{\"oneOf\":[{\"properties\":{\"token\":{\"type\":\"string\",\"airbyte_secret\":true}}}]},"
                      "\"host\":{\"type\":\"string\"}}}");
  json_t *cfg = load("{\"password\":\"hunter22\",\"auth\":{\"token\":\"tok-123\"},\"host\":\"db.local\"}");
  sl_secrets *s = sl_secrets_collect(spec, cfg);
  char *t = sl_secrets_scrub(s, "login hunter22@db.local with tok-123");
  CHECK_STR(t, "login **********@db.local with **********");
  free(t);
  sl_secrets_free(s);
  json_decref(spec);
  json_decref(cfg);
}

TEST(every_error_code_is_documented) {
  FILE *f = fopen("docs/errors.md", "r");
  CHECK(f);
  static char doc[65536];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = 0;
#define DOC_CHECK(name, value, ft, desc) CHECK_CONTAINS(doc, "| " #name " |");
  SL_ERR_MAP(DOC_CHECK)
#undef DOC_CHECK
}

TEST(message_type_names_roundtrip) {
  const char *names[] = {"RECORD", "STATE", "LOG", "SPEC", "CONNECTION_STATUS", "CATALOG", "TRACE", "CONTROL", "DESTINATION_CATALOG"};
  for (size_t i = 0; i < 9; i++) {
    sl_msg_type t = sl_msg_type_parse(names[i], strlen(names[i]));
    CHECK(t != SL_MSG_UNKNOWN);
    CHECK_STR(sl_msg_type_name(t), names[i]);
  }
  CHECK_STR(sl_msg_payload_key(SL_MSG_CONNECTION_STATUS), "connectionStatus");
  CHECK_INT(sl_msg_type_parse("record", 6), SL_MSG_UNKNOWN);
}

TEST(err_set_may_reuse_its_own_message) {
  sl_err err = SL_ERR_INIT;
  sl_err_set(&err, SL_EJSON, "cfg.json:1:2: bad");
  sl_err_set(&err, SL_ECONFIG, "%s", err.msg);
  CHECK_INT(err.code, SL_ECONFIG);
  CHECK_STR(err.msg, "cfg.json:1:2: bad");
  sl_err_wrap(&err, "stream %s", "users");
  CHECK_STR(err.msg, "stream users: cfg.json:1:2: bad");
}

TEST(uuid4_has_version_variant_and_shape) {
  sl_rng r;
  sl_rng_seed(&r);
  char a[37], b[37];
  sl_uuid4(&r, a);
  sl_uuid4(&r, b);
  CHECK_INT(strlen(a), 36);
  CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
  CHECK(a[14] == '4');
  CHECK(strchr("89ab", a[19]) != NULL);
  for (int i = 0; i < 36; i++) CHECK(a[i] == '-' || strchr("0123456789abcdef", a[i]));
  CHECK(strcmp(a, b) != 0);
}

static bool scan(const char *line, sl_envelope *env) { return sl_record_scan(line, strlen(line), env); }

TEST(record_scan_takes_only_the_canonical_layout) {
  sl_envelope env;
  CHECK(scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"emitted_at\":1,\"data\":{\"id\":1}}}", &env));
  CHECK(env.stream_len == 5 && !memcmp(env.stream, "users", 5));
  CHECK_INT(env.data_state, 2);
  CHECK(env.ns == NULL);
  /* Python CDK order: data before emitted_at. */
  CHECK(scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":\"x\"},\"emitted_at\":1}}", &env));
  /* Everything else goes to the parser. */
  CHECK(!scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"namespace\":\"n\",\"data\":{\"a\":1}}}", &env));
  CHECK(!scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"emitted_at\":1,\"data\":{}}}", &env));
  CHECK(!scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\\\"b\",\"data\":{\"a\":1}}}", &env));
  CHECK(!scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":\"\xff\xfe\"},\"emitted_at\":1}}", &env));
  /* The body is not validated here (the destination parses it and drops a
   * malformed line): a record cut short after its data still routes. */
  CHECK(scan("{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"a\":1}}", &env));
  CHECK(!scan("{\"type\": \"RECORD\", \"record\": {\"stream\": \"s\", \"data\": {\"a\": 1}}}", &env));
  CHECK(!scan("{\"type\":\"STATE\",\"state\":{}}", &env));
}
