/* Unit tests of lib/dbsrc.c: enum labels, table filters, the stream of a
 * table, value writers (numbers, dates, base64) and the keyset condition. */
#include <stdlib.h>

#include "sluice/dbsrc.h"
#include "test.h"

TEST(dbsrc_enum_labels) {
  sl_dbcol c;
  memset(&c, 0, sizeof c);
  CHECK(sl_dbcol_parse_enum(&c, "enum('a','it''s','x,y','')") == SL_EOK);
  CHECK_INT(c.n_enum, 4);
  CHECK_STR(c.enum_vals[0], "a");
  CHECK_STR(c.enum_vals[1], "it's");
  CHECK_STR(c.enum_vals[2], "x,y");
  CHECK_STR(c.enum_vals[3], "");
  for (size_t i = 0; i < c.n_enum; i++) free(c.enum_vals[i]);
  free(c.enum_vals);
}

TEST(dbsrc_filters) {
  json_t *cfg = json_pack("{s:s, s:s}", "include_tables", "^(users|events|ev_log)$", "exclude_tables", "^ev");
  sl_dbfilter f;
  sl_err err = SL_ERR_INIT;
  CHECK(sl_dbfilter_init(&f, cfg, &err) == SL_EOK);
  CHECK(sl_dbfilter_match(&f, "users"));
  CHECK(!sl_dbfilter_match(&f, "events"));
  CHECK(!sl_dbfilter_match(&f, "orders"));
  sl_dbfilter_dispose(&f);
  json_decref(cfg);
  cfg = json_pack("{s:s}", "exclude_tables", "(");
  CHECK(sl_dbfilter_init(&f, cfg, &err) == SL_ECONFIG);
  CHECK(strstr(err.msg, "exclude_tables") != NULL);
  sl_dbfilter_dispose(&f);
  json_decref(cfg);
}

TEST(dbsrc_stream_of_table) {
  sl_dbtable t;
  memset(&t, 0, sizeof t);
  t.name = strdup("t");
  sl_dbtable_add_col(&t, "id", SL_DB_INT, false);
  sl_dbcol *e = sl_dbtable_add_col(&t, "mood", SL_DB_ENUM, true);
  sl_dbcol_add_enum(e, "ok", 2);
  sl_dbtable_add_col(&t, "at", SL_DB_TIMESTAMPTZ, true);
  t.pk = malloc(sizeof *t.pk);
  t.pk[0] = 0;
  t.npk = 1;
  json_t *s = sl_dbtable_stream(&t);
  char *txt = sl_json_dumps(json_object_get(json_object_get(s, "json_schema"), "properties"));
  CHECK_STR(txt, "{\"id\":{\"type\":\"integer\"},\"mood\":{\"type\":[\"null\",\"string\"],\"enum\":[\"ok\",null]},"
                 "\"at\":{\"type\":[\"null\",\"string\"],\"format\":\"date-time\",\"airbyte_type\":\"timestamp_with_timezone\"}}");
  free(txt);
  txt = sl_json_dumps(json_object_get(s, "source_defined_primary_key"));
  CHECK_STR(txt, "[[\"id\"]]");
  free(txt);
  CHECK(json_is_true(json_object_get(s, "is_resumable")));
  json_decref(s);
  sl_dbtable_free(&t);
}

static const char *write_val(sl_buf *b, sl_dbtype t, const char *s) {
  b->len = 0;
  sl_jw w;
  sl_jw_init(&w, b);
  sl_dbval_text(&w, t, s, strlen(s), "+00:00");
  return sl_buf_cstr(b);
}

TEST(dbsrc_values) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  CHECK_STR(write_val(&b, SL_DB_DECIMAL, "12345678901234567890.0123456789"), "12345678901234567890.0123456789");
  CHECK_STR(write_val(&b, SL_DB_DECIMAL, "-0.50"), "-0.50");
  CHECK_STR(write_val(&b, SL_DB_FLOAT, "-2.5e300"), "-2.5e300");
  CHECK_STR(write_val(&b, SL_DB_FLOAT, "NaN"), "\"NaN\""); /* not a JSON number: kept as text */
  CHECK_STR(write_val(&b, SL_DB_INT, "007"), "\"007\"");
  CHECK_STR(write_val(&b, SL_DB_DATETIME, "2024-01-02 10:00:00.5"), "\"2024-01-02T10:00:00.5\"");
  CHECK_STR(write_val(&b, SL_DB_TIMESTAMPTZ, "2024-01-02 10:00:00"), "\"2024-01-02T10:00:00+00:00\"");
  CHECK_STR(write_val(&b, SL_DB_BOOL, "0"), "false");
  CHECK_STR(write_val(&b, SL_DB_BOOL, "1"), "true");
  sl_buf scratch;
  sl_buf_init(&scratch, 1 << 20);
  static const struct {
    const char *in, *out;
  } b64[] = {{"", "\"\""}, {"f", "\"Zg==\""}, {"fo", "\"Zm8=\""}, {"foo", "\"Zm9v\""}, {"foob", "\"Zm9vYg==\""}};
  for (size_t i = 0; i < sizeof b64 / sizeof *b64; i++) {
    b.len = 0;
    sl_jw w;
    sl_jw_init(&w, &b);
    sl_dbval_base64(&w, &scratch, (const unsigned char *)b64[i].in, strlen(b64[i].in));
    CHECK_STR(sl_buf_cstr(&b), b64[i].out);
  }
  sl_buf_dispose(&scratch);
  sl_buf_dispose(&b);
}

static void q(sl_buf *b, const char *id) { sl_buf_appendf(b, "[%s]", id); }

TEST(dbsrc_keyset_condition) {
  sl_dbtable t;
  memset(&t, 0, sizeof t);
  t.name = strdup("t");
  sl_dbtable_add_col(&t, "a", SL_DB_INT, false);
  sl_dbtable_add_col(&t, "b", SL_DB_STRING, false);
  sl_dbplan p;
  memset(&p, 0, sizeof p);
  p.t = &t;
  int key[2] = {0, 1}, order[3];
  p.key = key;
  p.nkey = 2;
  p.last = json_pack("[i,s]", 1, "x");
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  size_t np;
  CHECK(sl_dbplan_where(&p, &b, q, NULL, order, &np) == SL_EOK);
  CHECK_STR(sl_buf_cstr(&b), "(([a] > ?) OR ([a] = ? AND [b] > ?))");
  CHECK_INT(np, 3);
  CHECK_INT(order[0], 0);
  CHECK_INT(order[1], 0);
  CHECK_INT(order[2], 1);
  json_decref(p.last);
  sl_buf_dispose(&b);
  sl_dbtable_free(&t);
}
