/* destination-mysql: typed tables in a MySQL or MariaDB database.
 *
 * One table per stream, columns from the stream's JSON schema through the
 * shared typing module (sluice/typing.h) plus the four _airbyte_* columns.
 * Records become rows of LOAD DATA text in a per-stream buffer (load.c);
 * a flush streams each buffer to the server with LOAD DATA LOCAL INFILE
 * from memory (mysql_set_local_infile_handler), merges append_dedup rows,
 * and COMMITs: the library echoes a STATE only after that COMMIT.
 * Overwrite writes into a stage table that replaces the final table at the
 * stream's COMPLETE (RENAME TABLE, atomic); a failed sync leaves the old
 * table in place (table.c). */
#include <stdio.h>
#include <stdlib.h>

#include "mydest.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"MySQL Destination Spec\","
    "\"type\":\"object\",\"required\":[" MY_CONN_REQUIRED "],\"additionalProperties\":true,"
    "\"properties\":{" MY_CONN_SPEC "}}";

static const sl_name_rules name_rules = {MY_NAME_MAX, false, true, true};

static sl_code my_check(const json_t *config, sl_err *err) {
  MYSQL *m;
  sl_code rc = my_connect(config, &m, err);
  if (rc) return rc;
  static const char *const steps[] = {
      "CREATE TABLE IF NOT EXISTS _airbyte_connection_test (x INT)",
      "INSERT INTO _airbyte_connection_test VALUES (1)",
      "DROP TABLE _airbyte_connection_test",
  };
  for (size_t i = 0; i < 3 && !rc; i++) {
    rc = my_exec(m, steps[i], strlen(steps[i]), err);
    if (rc) sl_err_wrap(err, "cannot write to database %s", json_string_value(json_object_get(config, "database")));
  }
  mysql_close(m);
  return rc;
}

static void my_close_impl(void *h, bool ok);

/* A derived name: prefix + name, shortened with a hash when it is too long. */
static void derived(char *out, const char *prefix, const char *name) {
  size_t pl = strlen(prefix), nl = strlen(name);
  if (pl + nl <= MY_NAME_MAX) {
    snprintf(out, MY_NAME_MAX + 1, "%s%s", prefix, name);
    return;
  }
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < nl; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
  snprintf(out, MY_NAME_MAX + 1, "%s%.*s_%08x", prefix, (int)(MY_NAME_MAX - pl - 9), name, h);
}

static sl_code open_impl(mdb *d, const json_t *config, const sl_catalog *cat, sl_err *err) {
  sl_buf_init(&d->sql, (size_t)1 << 26);
  sl_buf_init(&d->scratch, (size_t)1 << 31);
  sl_buf_init(&d->meta, (size_t)1 << 26);
  sl_rng_seed(&d->rng);
  d->config = config;
  d->db = json_string_value(json_object_get(config, "database"));
  d->n = cat->n;
  if (!(d->streams = calloc(cat->n ? cat->n : 1, sizeof *d->streams))) return SL_ENOMEM;
  sl_code rc = my_connect(config, &d->m, err);
  if (rc) return rc;
  md_install_infile(d);
  if (mysql_autocommit(d->m, 0)) return my_fail(d->m, err, "turning autocommit off");
  if ((rc = md_state_table(d, err))) return rc;
  for (size_t i = 0; i < cat->n; i++) {
    const sl_cstream *cs = &cat->streams[i];
    mstream *s = &d->streams[i];
    char full[1024];
    snprintf(full, sizeof full, "%s%s%s", cs->ns ? cs->ns : "", cs->ns ? "_" : "", cs->name);
    sl_col_name_normalize(full, strlen(full), &name_rules, s->table);
    derived(s->stage, "_airbyte_tmp_", s->table);
    derived(s->dd, "_airbyte_dd_", s->table);
    for (size_t j = 0; j < i; j++)
      if (!strcasecmp(d->streams[j].table, s->table))
        return sl_err_set(err, SL_ECATALOG, "streams \"%s\" and \"%s\" would both be stored in table \"%s\"",
                          cat->streams[j].name, cs->name, s->table);
  }
  return SL_EOK;
}

static sl_code my_open(const json_t *config, const sl_catalog *cat, void **handle, sl_err *err) {
  mdb *d = calloc(1, sizeof *d);
  *handle = NULL;
  if (!d) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = open_impl(d, config, cat, err);
  if (rc) {
    if (!err->msg[0]) sl_err_set(err, rc, "%s", sl_strerror(rc));
    my_close_impl(d, false);
    return rc;
  }
  *handle = d;
  return SL_EOK;
}

static const char *const reserved[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta",
                                       "_airbyte_generation_id", "_airbyte_data", "_sl_seq"};

static int find_prop(const sl_col_set *cs, const char *prop) { return sl_col_set_find(cs, prop, strlen(prop)); }

static sl_code my_stream_open(void *h, sl_dstream *ds, sl_err *err) {
  mdb *d = h;
  const sl_cstream *cs = ds->cs;
  mstream *s = &d->streams[cs->index];
  s->ds = ds;
  ds->user = s;
  s->dedup = cs->dest_mode == SL_DEST_APPEND_DEDUP;
  s->truncate = cs->has_generation && cs->minimum_generation_id > 0;
  s->staged = cs->dest_mode == SL_DEST_OVERWRITE || s->truncate;
  if ((s->has_gen = cs->has_generation_id)) s->gen = cs->generation_id;
  if ((s->has_sync = cs->has_sync_id)) s->sync_id = cs->sync_id;
  sl_code rc = sl_col_set_build(&s->cols, cs->json_schema, &name_rules, reserved,
                                sizeof reserved / sizeof *reserved, "_airbyte_data", cs->name, err);
  if (rc) return rc;
  size_t n = s->cols.n ? s->cols.n : 1;
  s->vals = calloc(n, sizeof *s->vals);
  s->seen = calloc(n, sizeof *s->seen);
  s->changes = calloc(n, sizeof *s->changes);
  s->pk = calloc(cs->n_pk + 1, sizeof *s->pk);
  if (!s->vals || !s->seen || !s->changes || !s->pk) return sl_err_set(err, SL_ENOMEM, "out of memory");
  s->cursor = s->cdc_deleted = -1;
  for (size_t i = 0; i < cs->n_pk; i++) {
    int c = cs->pk[i].n == 1 ? find_prop(&s->cols, cs->pk[i].parts[0]) : -1;
    if (c < 0)
      return sl_err_set(err, SL_ECATALOG, "stream %s: primary key field \"%s\" is not a top-level property of its schema",
                        cs->name, cs->pk[i].n ? cs->pk[i].parts[0] : "");
    s->pk[s->npk++] = c;
  }
  if (s->dedup && !s->npk)
    return sl_err_set(err, SL_ECATALOG, "stream %s: append_dedup needs a primary key", cs->name);
  if (cs->cursor.n == 1) s->cursor = find_prop(&s->cols, cs->cursor.parts[0]);
  s->cdc_deleted = find_prop(&s->cols, "_ab_cdc_deleted_at");
  sl_buf_init(&s->rows, (size_t)1 << 31);
  sl_buf_init(&s->load_sql, (size_t)1 << 24);
  return md_prepare_stream(d, s, err);
}

static sl_code my_stream_complete(void *h, sl_dstream *ds, sl_err *err) {
  mstream *s = ds->user;
  if (!s->staged) return SL_EOK;
  sl_code rc = md_flush(h, err);
  return rc ? rc : md_swap(h, s, err);
}

/* A failed run rolls back its open batch: the database keeps the last
 * COMMIT, which is what the last echoed state describes. */
static void my_close_impl(void *h, bool ok) {
  mdb *d = h;
  if (!d) return;
  if (d->m && ok) {
    sl_err err = SL_ERR_INIT;
    if (md_flush(d, &err)) sl_dest_log("ERROR", "%s", err.msg);
  }
  if (d->m) {
    if (d->in_tx) mysql_rollback(d->m);
    /* The dedup batch tables hold nothing between flushes. */
    for (size_t i = 0; d->streams && i < d->n; i++) {
      if (!d->streams[i].dedup) continue;
      d->sql.len = 0;
      sl_buf_appendf(&d->sql, "DROP TABLE IF EXISTS ");
      my_ident(&d->sql, d->streams[i].dd);
      if (d->sql.data) mysql_real_query(d->m, d->sql.data, d->sql.len);
    }
    mysql_close(d->m);
  }
  for (size_t i = 0; d->streams && i < d->n; i++) md_stream_free(&d->streams[i]);
  free(d->streams);
  sl_buf_dispose(&d->sql);
  sl_buf_dispose(&d->scratch);
  sl_buf_dispose(&d->meta);
  free(d);
}

static const sl_destination dest_mysql = {
    .name = "destination-mysql",
    .version = "0.2.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/destination-mysql",
    .dest_modes = SL_DEST_APPEND | SL_DEST_OVERWRITE | SL_DEST_APPEND_DEDUP,
    .check = my_check,
    .open = my_open,
    .stream_open = my_stream_open,
    .write = md_write,
    .flush = md_flush,
    .stream_complete = my_stream_complete,
    .close = my_close_impl,
    .save_state = md_save_state,
    .load_states = md_load_states,
};

int main(int argc, char **argv) {
  if (mysql_library_init(0, NULL, NULL)) {
    fprintf(stderr, "destination-mysql: cannot initialise the MySQL client library\n");
    return 1;
  }
  int rc = sl_destination_main(&dest_mysql, argc, argv);
  mysql_library_end();
  return rc;
}
