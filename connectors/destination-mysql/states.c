/* The runtime's record of committed states (lib/dest_states.c): a table
 * _sluice_state (k, v), written in the transaction of the records the
 * states describe. It is created when the destination opens: DDL would
 * commit the open transaction in MySQL. */
#include <stdio.h>

#include "mydest.h"

sl_code md_state_table(mdb *d, sl_err *err) {
  static const char ddl[] = "CREATE TABLE IF NOT EXISTS _sluice_state (k VARCHAR(700) NOT NULL PRIMARY KEY, "
                            "v LONGTEXT NOT NULL) CHARACTER SET utf8mb4";
  if (mysql_real_query(d->m, ddl, sizeof ddl - 1)) return my_fail(d->m, err, "creating table _sluice_state");
  return SL_EOK;
}

static void put_quoted(mdb *d, const char *s) {
  size_t n = strlen(s);
  sl_buf_putc(&d->sql, '\'');
  if (sl_buf_ensure(&d->sql, 2 * n + 2) == SL_EOK)
    d->sql.len += mysql_real_escape_string(d->m, d->sql.data + d->sql.len, s, (unsigned long)n);
  sl_buf_putc(&d->sql, '\'');
}

sl_code md_save_state(void *h, const char *key, const char *value, sl_err *err) {
  mdb *d = h;
  d->sql.len = 0;
  sl_buf_appendf(&d->sql, "INSERT INTO _sluice_state (k, v) VALUES (");
  put_quoted(d, key);
  sl_buf_putc(&d->sql, ',');
  put_quoted(d, value);
  sl_buf_appendf(&d->sql, ") ON DUPLICATE KEY UPDATE v = VALUES(v)");
  if (!d->sql.data) return sl_err_set(err, SL_ENOMEM, "out of memory saving the state");
  d->in_tx = true;
  if (mysql_real_query(d->m, d->sql.data, d->sql.len)) return my_fail(d->m, err, "saving the state in _sluice_state");
  return SL_EOK;
}

sl_code md_load_states(void *h, void (*each)(void *, const char *, const char *), void *arg, sl_err *err) {
  mdb *d = h;
  static const char q[] = "SELECT k, v FROM _sluice_state";
  if (mysql_real_query(d->m, q, sizeof q - 1)) return my_fail(d->m, err, "reading _sluice_state");
  MYSQL_RES *r = mysql_store_result(d->m);
  if (!r) return my_fail(d->m, err, "reading _sluice_state");
  MYSQL_ROW row;
  while ((row = mysql_fetch_row(r)))
    if (row[0] && row[1]) each(arg, row[0], row[1]);
  mysql_free_result(r);
  return SL_EOK;
}
