/* @NAME@: TODO: what this source reads.
 *
 * A sluice source is a const table of callbacks (include/sluice/connector.h);
 * sl_source_main() does the protocol: argv, config validation against the
 * spec, catalog, state, checkpoints, errors as TRACE messages. */
#include <stdio.h>
#include <stdlib.h>

#include "sluice/sluice.h"

/* TODO: the configuration your source needs (a JSON Schema, draft-07). Mark
 * credentials "airbyte_secret": true so they never reach logs. */
static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"@TITLE@ Spec\","
    "\"type\":\"object\",\"required\":[\"count\"],\"additionalProperties\":true,\"properties\":{"
    "\"count\":{\"title\":\"Count\",\"description\":\"How many items to read\",\"type\":\"integer\","
    "\"minimum\":1,\"order\":0}}}";

/* TODO: one JSON Schema per stream. */
static const char items_schema[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"type\":\"object\","
    "\"properties\":{\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"}}}";

/* TODO: check that the config can connect (log in, open the file, ping the
 * server). Return an error with a message for the user to see. */
static sl_code check(const json_t *config, sl_err *err) {
  if (json_integer_value(json_object_get(config, "count")) < 1)
    return sl_err_set(err, SL_ECONFIG, "count must be at least 1");
  return SL_EOK;
}

/* TODO: read one stream. Incremental reads resume after the state's cursor
 * (here the integer "id"); the library checkpoints as records go out. */
static sl_code read_items(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  json_int_t count = json_integer_value(json_object_get(sl_read_config(rd), "count"));
  json_int_t from = 1;
  const json_t *state = sl_read_state(rd);
  if (cs->sync_mode == SL_SYNC_INCREMENTAL && json_is_integer(json_object_get(state, "id")))
    from = json_integer_value(json_object_get(state, "id")) + 1;
  for (json_int_t id = from; id <= count; id++) {
    char name[32];
    snprintf(name, sizeof name, "item %lld", (long long)id);
    sl_jw *w = sl_read_record_begin(rd);
    sl_rec_int(w, "id", id);
    sl_rec_str(w, "name", name);
    sl_read_cursor_int(rd, id);
    sl_code rc = sl_read_record_end(rd);
    if (rc) return sl_err_set(err, rc, "writing item %lld: %s", (long long)id, sl_strerror(rc));
  }
  return SL_EOK;
}

static const char *const pk_id[] = {"id", NULL};

/* TODO: your streams: name, schema, sync modes, primary key, cursor, reader. */
static const sl_stream_def streams[] = {
    {"items", items_schema, SL_SYNC_FULL_REFRESH | SL_SYNC_INCREMENTAL, pk_id, "id", true, read_items},
};

static const sl_source source = {
    .name = "@NAME@",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/@NAME@",
    .streams = streams,
    .n_streams = sizeof streams / sizeof streams[0],
    .check = check,
};

int main(int argc, char **argv) { return sl_source_main(&source, argc, argv); }
