/* sl_store_exec_json (the API's lists, rows written straight to JSON text)
 * gives the same values as sl_store_exec's jansson rows: integers at the
 * int64 edges, reals, NULL, and text that needs escaping. */
#include <stdlib.h>
#include <unistd.h>

#include "sluice/store.h"
#include "test.h"

TEST(store_exec_json_matches_exec) {
  char dir[] = "/tmp/sluice-unit-store-XXXXXX", path[256];
  CHECK(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/s.db", dir);
  const char *old = getenv("SLUICE_HOME");
  char *saved = old ? strdup(old) : NULL;
  setenv("SLUICE_HOME", dir, 1);
  sl_store *s = NULL;
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_store_open(path, &s, &err), SL_EOK);
  CHECK_INT(sl_store_exec(s, NULL, &err, "CREATE TABLE t (i BIGINT, r REAL, x TEXT)", 0), SL_EOK);
  static const char *const texts[] = {"plain", "quote \" and \\ backslash", "line\nbreak\ttab", "ctl \x01\x1f",
                                      "unicode \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "", NULL};
  static const char *const ints[] = {"0", "-9223372036854775808", "9223372036854775807", "42", "-1", "7", NULL};
  static const char *const reals[] = {"0.5", "-1e300", "3.25", NULL, "1e-7", "2", "0"};
  for (int i = 0; i < 7; i++)
    CHECK_INT(sl_store_exec(s, NULL, &err, "INSERT INTO t VALUES (CAST(? AS INTEGER), CAST(? AS REAL), ?)", 3, ints[i], reals[i], texts[i]),
              SL_EOK);
  json_t *rows = NULL;
  CHECK_INT(sl_store_exec(s, &rows, &err, "SELECT i, r, x AS \"odd \"\"key\" FROM t WHERE i <> ? ORDER BY rowid", 1, "7"), SL_EOK);
  sl_buf b;
  sl_buf_init(&b, 1u << 20);
  CHECK_INT(sl_store_exec_json(s, &b, &err, "SELECT i, r, x AS \"odd \"\"key\" FROM t WHERE i <> ? ORDER BY rowid", 1, "7"), SL_EOK);
  json_error_t je;
  json_t *got = json_loadb(b.data, b.len, 0, &je);
  CHECK(got);
  CHECK_INT(json_array_size(got), 5); /* the row with i 7 and the one with i NULL are left out */
  CHECK(json_equal(got, rows));
  /* A failing statement is an error naming the store, not a partial reply. */
  b.len = 0;
  CHECK(sl_store_exec_json(s, &b, &err, "SELECT nothing FROM nowhere", 0) != SL_EOK);
  CHECK_CONTAINS(err.msg, "nowhere");
  json_decref(got);
  json_decref(rows);
  sl_buf_dispose(&b);
  sl_store_close(s);
  if (saved) setenv("SLUICE_HOME", saved, 1);
  else unsetenv("SLUICE_HOME");
  free(saved);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK_INT(system(cmd), 0);
}
