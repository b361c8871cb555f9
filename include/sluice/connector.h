/* sluice: the connector API.
 *
 * A connector is a const table of callbacks handed to sl_source_main() or
 * sl_destination_main() from main(). The library parses argv, reads and
 * validates --config against the spec, reads the catalog and state, calls
 * the callbacks and turns every error into the right protocol message and
 * exit code. Connector code never prints JSON by hand.
 *
 * Exit codes: 0 on success (and for check, whether or not the connection
 * works); 1 after a TRACE error. */
#ifndef SLUICE_CONNECTOR_H
#define SLUICE_CONNECTOR_H

#include "sluice/json.h"
#include "sluice/protocol.h"

/* ======================= sources ======================= */

typedef struct sl_read sl_read; /* the read context of one stream */

typedef sl_code (*sl_read_fn)(sl_read *rd, const sl_cstream *cs, sl_err *err);

/* A stream known at compile time. Sources with dynamic streams implement
 * sl_source.discover instead (and sl_source.read). */
typedef struct sl_stream_def {
  const char *name;
  const char *json_schema;          /* JSON text of a draft-07 schema */
  unsigned sync_modes;              /* SL_SYNC_FULL_REFRESH | SL_SYNC_INCREMENTAL */
  const char *const *primary_key;   /* NULL-terminated top-level field names, or NULL */
  const char *cursor_field;         /* top-level default cursor, or NULL */
  bool source_defined_cursor;
  sl_read_fn read;
} sl_stream_def;

typedef struct sl_source {
  const char *name;              /* "source-faker" */
  const char *version;           /* "1.0.0" */
  const char *spec_json;         /* connectionSpecification (JSON text) */
  const char *documentation_url; /* may be NULL */
  const sl_stream_def *streams;  /* static streams, or NULL */
  size_t n_streams;
  /* Checks that the config can connect. Return SL_ECONFIG (or any code) with
   * a message to report FAILED; the message reaches the user. */
  sl_code (*check)(const json_t *config, sl_err *err);
  /* Optional: dynamic streams. Append AirbyteStream objects to `streams`. */
  sl_code (*discover)(const json_t *config, json_t *streams, sl_err *err);
  /* Optional: reader for discovered (dynamic) streams. */
  sl_read_fn read;
  /* Records between automatic checkpoints; 0 means 10000. */
  size_t checkpoint_interval;
  /* Optional: more members of the SPEC message (e.g. advanced_auth), a JSON
   * object as text. */
  const char *spec_extra_json;
  /* Optional: rewrite, in place, a config written for an older spec, before
   * it is checked against this one; true when something changed (the
   * runtime then emits the new config as a CONTROL message, as Airbyte's
   * config migrations do). */
  bool (*migrate_config)(json_t *config);
} sl_source;

int sl_source_main(const sl_source *src, int argc, char **argv);

/* --- inside a read callback --- */

const json_t *sl_read_config(const sl_read *rd);
/* This stream's input state (stream_state), or NULL. */
const json_t *sl_read_state(const sl_read *rd);
/* Writing a record: begin, add fields, end. The fields go straight into the
 * output buffer. Begin returns the writer positioned inside "data". */
sl_jw *sl_read_record_begin(sl_read *rd);
sl_code sl_read_record_end(sl_read *rd);
/* The same, with the record's "meta" object (an AirbyteRecordMessageMeta as
 * JSON text, e.g. {"changes":[...]}; meta_len 0 for none). */
sl_code sl_read_record_end_meta(sl_read *rd, const char *meta, size_t meta_len);
/* Drop the record begun last (its input turned out to be bad half-way). */
void sl_read_record_abort(sl_read *rd);
/* Record fields (key, value) in one call each. The key must be a string
 * literal of plain characters (a field name): it is quoted at compile time.
 * Use sl_jw_key() and the sl_jw_* value functions for computed keys. */
#define SL__REC_KEY(w, k) sl_jw_key_raw((w), "\"" k "\":", sizeof("\"" k "\":") - 1)
#define sl_rec_str(w, k, v) (SL__REC_KEY(w, k), sl_jw_strz((w), (v)))
#define sl_rec_strn(w, k, v, n) (SL__REC_KEY(w, k), sl_jw_str((w), (v), (n)))
#define sl_rec_int(w, k, v) (SL__REC_KEY(w, k), sl_jw_int((w), (v)))
#define sl_rec_double(w, k, v) (SL__REC_KEY(w, k), sl_jw_double((w), (v), false))
#define sl_rec_bool(w, k, v) (SL__REC_KEY(w, k), sl_jw_bool((w), (v)))
#define sl_rec_null(w, k) (SL__REC_KEY(w, k), sl_jw_null(w))
/* Open a nested object or array under a literal key. */
#define sl_rec_obj(w, k) (SL__REC_KEY(w, k), sl_jw_obj_open(w))
#define sl_rec_arr(w, k) (SL__REC_KEY(w, k), sl_jw_arr_open(w))

/* Cursor tracking for incremental streams sorted by their cursor: report
 * each record's cursor value and the library checkpoints
 * {"<cursor>": max} every checkpoint_interval records and at stream end. */
void sl_read_cursor_str(sl_read *rd, const char *v, size_t len);
void sl_read_cursor_int(sl_read *rd, int64_t v);
/* Explicit checkpoint with any state object (borrowed); replaces the
 * automatic cursor state from then on. */
sl_code sl_read_checkpoint(sl_read *rd, const json_t *stream_state);
/* GLOBAL state (CDC): the catalog being read, the input GLOBAL state's
 * shared_state (NULL when the input is not GLOBAL), and a checkpoint of
 * {"shared_state": ..., "stream_states": [AirbyteStreamState...]} (both
 * borrowed). A GLOBAL state replaces every stream's state, so it lists all. */
const sl_catalog *sl_read_catalog(const sl_read *rd);
const json_t *sl_read_shared_state(const sl_read *rd);
sl_code sl_read_checkpoint_global(sl_read *rd, const json_t *shared_state,
                                  const json_t *stream_states);
/* CONTROL message carrying the whole updated config (e.g. a rotated OAuth
 * refresh token), so the platform persists it. */
sl_code sl_read_control_config(sl_read *rd, const json_t *config);
sl_code sl_read_log(sl_read *rd, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records between automatic checkpoints for this stream (default from
 * sl_source.checkpoint_interval). */
void sl_read_set_checkpoint_interval(sl_read *rd, size_t n);
/* Records emitted so far in this stream. */
uint64_t sl_read_count(const sl_read *rd);
/* Write what is buffered now. Call it before waiting on something slow (a
 * database that stalls), so records and states already produced reach the
 * destination instead of sitting in the 64 KiB output buffer. */
sl_code sl_read_flush(sl_read *rd);

/* ==================== destinations ===================== */

/* One configured stream as the destination sees it. */
typedef struct sl_dstream {
  const sl_cstream *cs;
  void *user;              /* the destination's per-stream data */
  uint64_t records;        /* records written in total */
} sl_dstream;

/* One record, valid only during the write call. */
typedef struct sl_drecord {
  sl_jv data;              /* the record's "data" object */
  sl_jv meta;              /* "meta" object, or a null view */
  bool has_meta;
  int64_t emitted_at;
  const char *line;        /* the raw message line, without '\n' */
  size_t line_len;
} sl_drecord;

typedef struct sl_destination {
  const char *name;
  const char *version;
  const char *spec_json;
  const char *documentation_url;
  unsigned dest_modes; /* supported sl_dest_mode bits */
  sl_code (*check)(const json_t *config, sl_err *err);
  /* Open the destination for a write (one per process). */
  sl_code (*open)(const json_t *config, const sl_catalog *cat, void **handle, sl_err *err);
  /* Prepare a stream (create or alter tables, stage for overwrite). */
  sl_code (*stream_open)(void *h, sl_dstream *s, sl_err *err);
  /* One record. */
  sl_code (*write)(void *h, sl_dstream *s, const sl_drecord *rec, sl_err *err);
  /* Commit: make every record written so far durable. Called only where
   * every record written is covered by a state or belongs to a completed
   * stream (before the STATE echoes), and at a clean end of input; never
   * in the middle of the records between two states. Records buffered in
   * memory go to storage inside the open transaction as the buffer fills
   * (write's business); only flush commits. */
  sl_code (*flush)(void *h, sl_err *err);
  /* The source finished this stream successfully (TRACE STREAM_STATUS
   * COMPLETE on stdin): commit an overwrite swap. Optional. */
  sl_code (*stream_complete)(void *h, sl_dstream *s, sl_err *err);
  /* Optional, both or neither: a key-value table kept in the destination.
   * save_state is called in the open transaction, just before flush; the
   * runtime keeps there the last states each commit covered, so that after
   * a crash between a commit and sluice saving its echo, the next sync
   * knows what the data holds (`<destination> state`). */
  sl_code (*save_state)(void *h, const char *key, const char *value, sl_err *err);
  sl_code (*load_states)(void *h, void (*each)(void *arg, const char *key, const char *value), void *arg,
                         sl_err *err);
  /* Release everything. ok is false after an error, or when input ended
   * mid-stream: then roll back to the last flush. */
  void (*close)(void *h, bool ok);
  /* write() never looks at rec->data (it is a null view): records are then
   * read On-Demand, envelope only. For sinks such as dev-null. */
  bool envelope_only;
  /* Optional: rewrite, in place, a config written for an older spec, before
   * it is checked against this one; true when something changed (the
   * runtime then emits the new config as a CONTROL message, as Airbyte's
   * config migrations do). */
  bool (*migrate_config)(json_t *config);
} sl_destination;

int sl_destination_main(const sl_destination *dst, int argc, char **argv);

/* A LOG message from inside a destination callback (level: "INFO", "WARN",
 * ...). Secrets are scrubbed. Outside sl_destination_main it goes to stderr. */
void sl_dest_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
