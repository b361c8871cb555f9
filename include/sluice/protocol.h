/* sluice: Airbyte protocol messages, configured catalogs and state.
 *
 * Wire names are exactly the protocol's (spec/airbyte_protocol.yaml). Cold
 * messages (spec, catalog, status, logs, traces, state) are built with
 * jansson; RECORD lines are written by the source runtime straight into the
 * output buffer (see connector.h). Unknown fields are kept: the catalog and
 * state keep their jansson trees, and destinations echo STATE objects whole. */
#ifndef SLUICE_PROTOCOL_H
#define SLUICE_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/json.h"

#define SL_PROTOCOL_VERSION "0.2.0"

typedef enum sl_msg_type {
  SL_MSG_UNKNOWN = 0,
  SL_MSG_RECORD,
  SL_MSG_STATE,
  SL_MSG_LOG,
  SL_MSG_SPEC,
  SL_MSG_CONNECTION_STATUS,
  SL_MSG_CATALOG,
  SL_MSG_TRACE,
  SL_MSG_CONTROL,
  SL_MSG_DESTINATION_CATALOG,
} sl_msg_type;

sl_msg_type sl_msg_type_parse(const char *s, size_t len);
const char *sl_msg_type_name(sl_msg_type t);
/* Payload key for a type: "record", "connectionStatus", ... */
const char *sl_msg_payload_key(sl_msg_type t);

typedef enum sl_sync_mode {
  SL_SYNC_FULL_REFRESH = 1,
  SL_SYNC_INCREMENTAL = 2,
} sl_sync_mode;

typedef enum sl_dest_mode {
  SL_DEST_APPEND = 1,
  SL_DEST_OVERWRITE = 2,
  SL_DEST_APPEND_DEDUP = 4,
  SL_DEST_UPDATE = 8,
  SL_DEST_SOFT_DELETE = 16,
  SL_DEST_OVERWRITE_DEDUP = 32, /* platform-internal; accepted leniently */
  SL_DEST_UNKNOWN = 64,
} sl_dest_mode;

const char *sl_sync_mode_name(sl_sync_mode m);
const char *sl_dest_mode_name(sl_dest_mode m);
sl_dest_mode sl_dest_mode_parse(const char *s);

/* A field path such as ["address", "city"]. Strings point into the catalog. */
typedef struct sl_path {
  const char **parts;
  size_t n;
} sl_path;

/* One ConfiguredAirbyteStream. All pointers borrow from the catalog's tree. */
typedef struct sl_cstream {
  size_t index;
  const char *name;
  const char *ns; /* namespace or NULL */
  json_t *json;   /* the ConfiguredAirbyteStream object */
  json_t *stream; /* its AirbyteStream */
  json_t *json_schema;
  sl_sync_mode sync_mode;
  sl_dest_mode dest_mode;
  sl_path cursor;      /* resolved: configured, else default; n == 0 if none */
  sl_path *pk;         /* primary key paths: configured, else source-defined */
  size_t n_pk;
  bool has_generation; /* generation_id and minimum_generation_id both present */
  bool has_generation_id, has_sync_id; /* each present on its own */
  int64_t generation_id, minimum_generation_id, sync_id;
  json_t *state; /* this stream's stream_state from the input state, or NULL */
} sl_cstream;

typedef struct sl_catalog {
  json_t *root;
  sl_cstream *streams;
  size_t n;
} sl_catalog;

/* Parse a ConfiguredAirbyteCatalog (takes a reference to root). Messages
 * name `what` (the file) and the stream index/name. */
sl_code sl_catalog_parse(json_t *root, const char *what, sl_catalog *cat, sl_err *err);

/* A state's key: "STREAM\t<namespace>\t<name>", "GLOBAL" or "LEGACY" (malloc'd;
 * NULL when out of memory or a STREAM state has no name). */
char *sl_state_key(const json_t *state);
/* A copy of a state object without the keys that vary between the
 * source's emit and the destination's echo (id, sourceStats,
 * destinationStats): two states are the same when their plain copies are
 * json_equal. */
json_t *sl_state_plain(const json_t *state);
void sl_catalog_dispose(sl_catalog *cat);
sl_cstream *sl_catalog_find(const sl_catalog *cat, const char *name, const char *ns);
sl_cstream *sl_catalog_findn(const sl_catalog *cat, const char *name, size_t len,
                             const char *ns, size_t nslen);

typedef enum sl_state_type {
  SL_STATE_NONE = 0,
  SL_STATE_STREAM,
  SL_STATE_GLOBAL,
  SL_STATE_LEGACY,
} sl_state_type;

typedef struct sl_state {
  json_t *root;        /* as given: array of state messages, or a legacy object */
  sl_state_type type;
  json_t *shared;      /* GLOBAL shared_state, or LEGACY data; borrowed */
} sl_state;

/* Parse an input state (array form or a legacy object) and attach each
 * stream's stream_state to the matching catalog stream (cat may be NULL). */
sl_code sl_state_parse(json_t *root, const char *what, sl_catalog *cat, sl_state *st,
                       sl_err *err);
void sl_state_dispose(sl_state *st);
const char *sl_state_type_name(sl_state_type t);

/* Read a RECORD line's envelope without parsing it, when it has the
 * canonical layout that libsluice writes ({"type":"RECORD","record":
 * {"stream":"<plain name>",... with a non-empty "data" object and no
 * namespace): checks its UTF-8 and finds the stream. Returns false for
 * anything else; the caller then parses the line (sl_jparser_envelope). The
 * JSON body is not validated here: whoever reads the data parses it. */
bool sl_record_scan(const char *line, size_t len, sl_envelope *env);

/* Current time in epoch milliseconds (CLOCK_REALTIME). */
int64_t sl_now_ms(void);

/* ---- output: buffered writes of whole lines to a file descriptor ---- */

typedef struct sl_secrets sl_secrets;

typedef struct sl_out {
  int fd;
  sl_buf buf;
  size_t flush_at;             /* write once buf.len passes this (64 KiB) */
  const sl_secrets *secrets;   /* scrubbed from log and trace text */
  sl_code rc;                  /* sticky write error */
} sl_out;

void sl_out_init(sl_out *o, int fd);
void sl_out_dispose(sl_out *o);
sl_code sl_out_flush(sl_out *o);
static inline sl_code sl_out_maybe_flush(sl_out *o) {
  return o->buf.len >= o->flush_at ? sl_out_flush(o) : o->rc;
}
/* Write a complete message object as one line (cold path). */
sl_code sl_out_message(sl_out *o, const json_t *msg);
sl_code sl_out_log(sl_out *o, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* TRACE ERROR; stream may be NULL. internal_message may be NULL. */
sl_code sl_out_trace_error(sl_out *o, const char *failure_type, const char *message,
                           const char *internal_message, const char *stream, const char *ns);
/* TRACE STREAM_STATUS: STARTED, RUNNING, COMPLETE, INCOMPLETE. */
sl_code sl_out_stream_status(sl_out *o, const char *stream, const char *ns, const char *status);
sl_code sl_out_connection_status(sl_out *o, bool ok, const char *message);
/* CONTROL CONNECTOR_CONFIG carrying the whole config. */
sl_code sl_out_control_config(sl_out *o, const json_t *config);

/* ---- secrets: values of airbyte_secret fields, scrubbed from text ---- */

/* Collect every string value in config whose schema node has
 * airbyte_secret: true (following properties, items, oneOf/anyOf/allOf). */
sl_secrets *sl_secrets_collect(const json_t *spec_schema, const json_t *config);
void sl_secrets_free(sl_secrets *s);
/* Copy text into a new malloc'd string with every secret replaced by "**********". */
char *sl_secrets_scrub(const sl_secrets *s, const char *text);

#endif
