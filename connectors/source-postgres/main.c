/* source-postgres: tables and views of PostgreSQL as streams.
 *
 * Full refresh and incremental (a user-chosen cursor column) read through
 * COPY ... TO STDOUT in key order with a checkpoint per chunk (read.c);
 * CDC reads the write-ahead log through a logical replication slot with
 * the pgoutput plugin (cdc.c). See README.md for the state shapes. */
#include <stdio.h>
#include <stdlib.h>

#include "pgsrc.h"
#include "pg_ssl_spec.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"Postgres Source Spec\","
    "\"type\":\"object\",\"required\":[\"host\",\"port\",\"database\",\"username\"],"
    "\"additionalProperties\":true,\"properties\":{"
    "\"host\":{\"type\":\"string\",\"title\":\"Host\",\"order\":0},"
    "\"port\":{\"type\":\"integer\",\"title\":\"Port\",\"minimum\":1,\"maximum\":65535,"
    "\"default\":5432,\"order\":1},"
    "\"database\":{\"type\":\"string\",\"title\":\"Database Name\",\"order\":2},"
    "\"schemas\":{\"type\":\"array\",\"title\":\"Schemas\",\"items\":{\"type\":\"string\"},"
    "\"minItems\":1,\"uniqueItems\":true,\"default\":[\"public\"],\"order\":3},"
    "\"username\":{\"type\":\"string\",\"title\":\"Username\",\"order\":4},"
    "\"password\":{\"type\":\"string\",\"title\":\"Password\",\"airbyte_secret\":true,\"order\":5},"
    "\"ssl_mode\":{\"type\":\"object\",\"title\":\"SSL mode\",\"description\":\"libpq sslmode "
    "(default: prefer)\",\"order\":6,\"oneOf\":["
    PG_SSL_MODE_OPTIONS "]},"
    "\"include_tables\":{\"type\":\"string\",\"title\":\"Include tables\",\"description\":"
    "\"PCRE2 regular expression on schema.table: only matching tables and views are discovered\","
    "\"order\":7},"
    "\"exclude_tables\":{\"type\":\"string\",\"title\":\"Exclude tables\",\"description\":"
    "\"PCRE2 regular expression on schema.table: matching tables and views are skipped\","
    "\"order\":8},"
    "\"chunk_rows\":{\"type\":\"integer\",\"minimum\":1,\"default\":10000,\"title\":\"Rows per "
    "chunk\",\"description\":\"Rows between state checkpoints\",\"order\":9},"
    "\"replication_method\":{\"type\":\"object\",\"title\":\"Update method\",\"order\":10,"
    "\"default\":{\"method\":\"Standard\"},\"required\":[\"method\"],\"properties\":{"
    "\"method\":{\"type\":\"string\",\"enum\":[\"Standard\",\"CDC\"],\"default\":\"Standard\","
    "\"description\":\"Standard: incremental streams query by their cursor column. CDC: "
    "incremental streams read inserts, updates and deletes from the write-ahead log\"},"
    "\"replication_slot\":{\"type\":\"string\",\"description\":\"CDC: the logical replication "
    "slot (pgoutput)\"},\"publication\":{\"type\":\"string\",\"description\":\"CDC: the "
    "publication naming the tables\"},\"initial_waiting_seconds\":{\"type\":\"integer\","
    "\"minimum\":1,\"default\":30,\"description\":\"CDC: how long a read waits for the "
    "server before stopping at what it has\"}}}}}";

static sl_code check(const json_t *config, sl_err *err) {
  pg_cfg c;
  PGconn *conn = NULL;
  sl_code rc = pg_cfg_load(config, &c, err);
  if (!rc) rc = pg_connect(&c, false, &conn, err);
  /* Every configured schema must exist. */
  for (size_t i = 0; !rc && c.schemas[i]; i++) {
    const char *p[] = {c.schemas[i]};
    PGresult *r = PQexecParams(conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, NULL, p,
                               NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) rc = pg_fail(conn, r, err, "checking schema %s", c.schemas[i]);
    else if (PQntuples(r) == 0)
      rc = sl_err_set(err, SL_ECONFIG, "config field schemas: schema \"%s\" does not exist in database \"%s\"",
                      c.schemas[i], c.database);
    PQclear(r);
  }
  if (!rc && c.cdc) {
    const char *p[] = {c.slot, c.publication};
    PGresult *r = PQexecParams(conn,
                               "SELECT (SELECT plugin FROM pg_replication_slots WHERE slot_name = $1),"
                               " (SELECT count(*) FROM pg_publication WHERE pubname = $2),"
                               " current_setting('wal_level')",
                               2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) rc = pg_fail(conn, r, err, "checking CDC setup");
    else if (strcmp(PQgetvalue(r, 0, 2), "logical"))
      rc = sl_err_set(err, SL_ECONFIG, "CDC needs wal_level = logical (the server has %s)", PQgetvalue(r, 0, 2));
    else if (!strcmp(PQgetvalue(r, 0, 1), "0"))
      rc = sl_err_set(err, SL_ECONFIG, "config field replication_method.publication: publication \"%s\" "
                      "does not exist (CREATE PUBLICATION %s FOR TABLE ...)", c.publication, c.publication);
    else if (!PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 0), "pgoutput"))
      rc = sl_err_set(err, SL_ECONFIG, "config field replication_method.replication_slot: slot \"%s\" "
                      "uses plugin %s, not pgoutput", c.slot, PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  if (conn) PQfinish(conn);
  pg_cfg_dispose(&c);
  return rc;
}

static sl_code discover(const json_t *config, json_t *streams, sl_err *err) {
  pg_cfg c;
  PGconn *conn = NULL;
  pg_table *ts = NULL;
  size_t n = 0;
  sl_code rc = pg_cfg_load(config, &c, err);
  if (!rc) rc = pg_connect(&c, false, &conn, err);
  if (!rc) rc = pg_tables_load(conn, &c, NULL, NULL, &ts, &n, err);
  for (size_t i = 0; !rc && i < n; i++) {
    const pg_table *t = &ts[i];
    json_t *props = json_object();
    for (size_t j = 0; j < t->n_cols; j++)
      json_object_set_new(props, t->cols[j].name, pg_col_schema(&t->cols[j]));
    json_t *modes = json_pack("[s,s]", "full_refresh", "incremental");
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:o, s:b, s:b}", "name", t->name,
                          "namespace", t->schema, "json_schema", "$schema",
                          "http://json-schema.org/draft-07/schema#", "type", "object",
                          "properties", props, "supported_sync_modes", modes,
                          "source_defined_cursor", c.cdc, "is_resumable",
                          t->n_pk > 0 || t->kind == 'r' || t->kind == 'm');
    if (!s) {
      rc = SL_ENOMEM;
      break;
    }
    if (t->n_pk) {
      json_t *pk = json_array();
      for (size_t j = 0; j < t->n_pk; j++) json_array_append_new(pk, json_pack("[s]", t->pk[j]));
      json_object_set_new(s, "source_defined_primary_key", pk);
    }
    if (c.cdc) { /* CDC streams carry the change metadata; the LSN orders them */
      json_t *p = json_object_get(json_object_get(s, "json_schema"), "properties");
      json_object_set_new(p, "_ab_cdc_lsn", json_pack("{s:[s,s]}", "type", "null", "integer"));
      json_object_set_new(p, "_ab_cdc_updated_at",
                          json_pack("{s:[s,s], s:s, s:s}", "type", "null", "string", "format",
                                    "date-time", "airbyte_type", "timestamp_with_timezone"));
      json_object_set_new(p, "_ab_cdc_deleted_at",
                          json_pack("{s:[s,s], s:s, s:s}", "type", "null", "string", "format",
                                    "date-time", "airbyte_type", "timestamp_with_timezone"));
      json_object_set_new(s, "default_cursor_field", json_pack("[s]", "_ab_cdc_lsn"));
    }
    json_array_append_new(streams, s);
  }
  pg_tables_free(ts, n);
  if (conn) PQfinish(conn);
  pg_cfg_dispose(&c);
  return rc;
}

static const sl_source pg_source = {
    .name = "source-postgres",
    .version = "0.2.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/source-postgres",
    .check = check,
    .discover = discover,
    .read = pg_read_stream,
    .migrate_config = pg_ssl_migrate,
};

int main(int argc, char **argv) { return sl_source_main(&pg_source, argc, argv); }
