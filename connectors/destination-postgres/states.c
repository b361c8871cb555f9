/* The runtime's record of committed states (lib/dest_states.c): a table
 * _sluice_state (key, value) in the default schema, written in the
 * transaction of the records the states describe. */
#include <stdio.h>

#include "pg_dest.h"

static void state_table(pdb *d, sl_buf *q) {
  pgd_ident(d, q, d->schema);
  sl_buf_appendf(q, "._sluice_state");
}

sl_code pgd_save_state(void *h, const char *key, const char *value, sl_err *err) {
  pdb *d = h;
  sl_code rc;
  if (!d->in_tx && (rc = pgd_begin(d, err))) return rc;
  if ((rc = pgd_copy_all(d, err))) return rc; /* no statement runs beside a COPY */
  d->sql.len = 0;
  sl_buf_appendf(&d->sql, "CREATE SCHEMA IF NOT EXISTS ");
  pgd_ident(d, &d->sql, d->schema);
  sl_buf_appendf(&d->sql, "; CREATE TABLE IF NOT EXISTS ");
  state_table(d, &d->sql);
  sl_buf_appendf(&d->sql, " (key text PRIMARY KEY, value text NOT NULL)");
  if (!d->state_table && (rc = pgd_exec(d, sl_buf_cstr(&d->sql), err))) return rc;
  d->state_table = true;
  d->sql.len = 0;
  sl_buf_appendf(&d->sql, "INSERT INTO ");
  state_table(d, &d->sql);
  sl_buf_appendf(&d->sql, " (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");
  const char *p[] = {key, value};
  PGresult *r;
  if ((rc = pgd_query(d, sl_buf_cstr(&d->sql), 2, p, &r, err))) return rc;
  PQclear(r);
  return SL_EOK;
}

sl_code pgd_load_states(void *h, void (*each)(void *, const char *, const char *), void *arg, sl_err *err) {
  pdb *d = h;
  d->sql.len = 0;
  state_table(d, &d->sql);
  const char *p[] = {sl_buf_cstr(&d->sql)};
  PGresult *r;
  sl_code rc = pgd_query(d, "SELECT to_regclass($1) IS NOT NULL", 1, p, &r, err);
  if (rc) return rc;
  bool exists = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
  PQclear(r);
  if (!exists) return SL_EOK;
  d->sql.len = 0;
  sl_buf_appendf(&d->sql, "SELECT key, value FROM ");
  state_table(d, &d->sql);
  if ((rc = pgd_query(d, sl_buf_cstr(&d->sql), 0, NULL, &r, err))) return rc;
  for (int i = 0; i < PQntuples(r); i++) each(arg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
  PQclear(r);
  return SL_EOK;
}
