/* sluice platform: running connectors as child processes and syncing.
 *
 * A sync runs the source and destination as children, pumps messages from
 * one to the other, and commits a STATE to the state file only once the
 * destination has echoed it (so the records before it are durable). */
#ifndef SLUICE_PLATFORM_H
#define SLUICE_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sluice/json.h"
#include "sluice/protocol.h"

/* ---- connectors and child processes ---- */

/* Resolve a connector reference: a built-in name ("source-faker", found
 * beside the running sluice binary), a path to an executable, or a
 * connector directory. Writes the executable path into out. */
sl_code sl_connector_resolve(const char *ref, char *out, size_t outlen, sl_err *err);

typedef struct sl_proc {
  pid_t pid;
  int in_fd;  /* child's stdin, or -1 */
  int out_fd; /* child's stdout */
  const char *name;
} sl_proc;

/* Start exe with argv (argv[0] is set to exe). The child gets its own
 * process group so a terminal's Ctrl-C reaches only sluice, which then
 * stops the children in order. */
sl_code sl_proc_spawn(sl_proc *p, const char *name, const char *exe, const char *const *args,
                      bool want_stdin, sl_err *err);
/* Wait for exit; returns the exit code, or 128+signal. */
int sl_proc_wait(sl_proc *p);
void sl_proc_kill(sl_proc *p, int sig);

/* Run `exe <args>` to completion and collect every stdout line that is a
 * protocol message of type want (first one) into *out (new reference).
 * Non-JSON lines and LOG messages are passed to the log callback. */
typedef void (*sl_log_fn)(void *payload, const char *who, const char *level, const char *msg);
sl_code sl_connector_call(const char *name, const char *exe, const char *const *args,
                          sl_msg_type want, json_t **out, int *exit_code, sl_log_fn log,
                          void *payload, sl_err *err);

/* ---- configured catalogs ---- */

typedef struct sl_catalog_opts {
  const char *const *streams; /* NULL-terminated names to keep, or NULL for all */
  bool full_refresh;          /* force full_refresh + overwrite */
} sl_catalog_opts;

/* Build a ConfiguredAirbyteCatalog from a discovered AirbyteCatalog:
 * incremental where supported (else full refresh); append_dedup where there
 * is a primary key, else append; overwrite for full refresh. */
sl_code sl_catalog_configure(const json_t *discovered, const sl_catalog_opts *opts, json_t **out,
                             sl_err *err);

/* A connection's stream settings: {"streams": [{"stream": {"name",
 * "namespace"?}, "sync_mode"?, "destination_sync_mode"?, "cursor_field"?,
 * "primary_key"?}]} (the shape of a ConfiguredAirbyteCatalog, every field
 * but the name optional). Check one entry against the discovered stream:
 * an unsupported mode or a field not in the stream's schema is an error
 * naming the stream and the field. */
sl_code sl_stream_settings_check(const json_t *stream, const json_t *settings, sl_err *err);
/* Apply settings to a configured catalog built from discovered (checked
 * again: the source may have changed since they were stored). */
sl_code sl_catalog_apply_settings(const json_t *discovered, json_t *configured, const json_t *settings, sl_err *err);

/* ---- per-stream field selection (platform/fieldsel.c) ---- */

/* The key under which a configured stream carries its selection tree
 * between sl_catalog_apply_settings and the sync (stripped before any
 * connector sees the catalog). */
#define SL_FIELDS_KEY "sluice_selected_fields"
/* The selected paths of a stream's settings (a new array of arrays of
 * names), or *paths NULL when field selection is not enabled; a malformed
 * selection is an error naming the stream. */
sl_code sl_fields_selection(const json_t *settings, const char *stream, json_t **paths, sl_err *err);
/* A field path ["a", "b"] as "a.b" (malloc'd). */
char *sl_fields_path_text(const json_t *path);
/* Every selected path must be in the discovered stream's schema. */
sl_code sl_fields_check(const json_t *stream, const json_t *settings, sl_err *err);
/* Narrow a configured stream's json_schema to the selection and put the
 * selection tree under SL_FIELDS_KEY; leaving out a primary key or cursor
 * field is an error naming them. */
sl_code sl_fields_apply(json_t *configured_stream, const json_t *settings, sl_err *err);
void sl_fields_strip(json_t *configured);
bool sl_fields_any(const json_t *configured);
/* obj written with only the fields of tree (from SL_FIELDS_KEY). */
void sl_fields_write(sl_jw *w, sl_jv obj, const json_t *tree);
/* A schema change (sl_catalog_diff) against a connection's stream settings:
 * each changed stream with field selection gets "fields_not_selected" (the
 * new fields, which stay out) and "selected_fields_removed" (dropped from
 * the selection in settings: returns true when settings changed). */
bool sl_fields_on_diff(json_t *settings, json_t *diff);
/* The `ignore` policy: a changed stream without a selection that gained
 * fields (nested ones too) gets a selection of the leaf fields it had (in
 * old_catalog) and still has (in new_catalog), so the new ones stay out
 * ("fields_not_selected" in diff, as a.b paths); true when settings
 * changed. */
bool sl_fields_hold_back(json_t *settings, json_t *diff, const json_t *old_catalog, const json_t *new_catalog);

/* ---- the state file ---- */

/* Committed state, in Airbyte's file format: an array of bare state
 * messages (one per stream, or one GLOBAL), or a legacy object. */
typedef struct sl_statefile {
  char *path;
  json_t *root; /* array (or object for LEGACY) */
} sl_statefile;

sl_code sl_statefile_load(sl_statefile *sf, const char *path, sl_err *err);
/* Merge one echoed state message (destinationStats/sourceStats dropped). */
sl_code sl_statefile_apply(sl_statefile *sf, const json_t *state_msg, sl_err *err);
/* Atomically replace the file (write, fsync, rename, fsync dir). */
sl_code sl_statefile_save(sl_statefile *sf, sl_err *err);
void sl_statefile_dispose(sl_statefile *sf);

/* ---- sync ---- */

typedef struct sl_stream_stats {
  char *name;
  char *ns;
  uint64_t records_read, bytes_read;
  uint64_t records_committed;
  uint64_t errors;
  int64_t started_ms, finished_ms;
  const char *status; /* last STREAM_STATUS seen from the source */
} sl_stream_stats;

typedef struct sl_sync_opts {
  const char *source, *source_config;
  const char *destination, *destination_config;
  const char *state_file;      /* may be NULL: state is then not kept */
  const char *const *streams;  /* NULL-terminated, or NULL for all */
  bool full_refresh;
  bool progress;               /* live progress line on stderr */
  size_t max_message_bytes;    /* 0: 64 MiB */
  const char *protocol_log;    /* append every message seen to this file (tests) */
  bool log_all;                /* every connector LOG on stderr, not only WARN+ (job logs) */
  /* Called after each save of the state file with its content (committed
   * states only), e.g. to keep it in a store too; non-zero fails the sync. */
  sl_code (*on_commit)(void *arg, const json_t *state, sl_err *err);
  void *on_commit_arg;
  /* A connector emitted a new config (CONTROL CONNECTOR_CONFIG, e.g. a
   * rotated OAuth token); who is "source" or "destination". NULL: the
   * sync only warns that the config file was not rewritten. A failure is
   * logged, not fatal. */
  sl_code (*on_config)(void *arg, const char *who, const json_t *config, sl_err *err);
  void *on_config_arg;
  /* Builds the configured catalog (in source terms) from the discovered
   * AirbyteCatalog instead of sl_catalog_configure: a connection's stored
   * per-stream modes and generations (platform/configure.c). */
  sl_code (*configure)(void *arg, const json_t *discovered, json_t **configured, sl_err *err);
  void *configure_arg;
  /* Namespace and stream-prefix mapping of what the destination sees
   * (platform/mapping.c); NULL/NULL: none. The state kept stays in source
   * terms. */
  const char *namespace_format, *stream_prefix;
  /* The sync record (see sl_sync_record_prev): read from prev_record
   * before the sync, this sync's written to record. NULL both: with a
   * state file, "<state_file>.sync" for both; else none. */
  const char *prev_record, *record;
} sl_sync_opts;

typedef struct sl_sync_result {
  sl_stream_stats *streams;
  size_t n_streams;
  uint64_t states_committed;
  int source_exit, destination_exit;
  int64_t started_ms, finished_ms;
  bool interrupted;
} sl_sync_result;

/* Run a sync. Returns SL_EOK when both sides succeeded. */
sl_code sl_sync_run(const sl_sync_opts *opts, sl_sync_result *res, sl_err *err);
void sl_sync_result_dispose(sl_sync_result *res);
/* Ask a running sync to stop (from a signal handler). */
void sl_sync_interrupt(void);

/* ---- namespace and stream-prefix mapping (platform/mapping.c) ---- */

/* namespace_format: NULL, "" or "source" keeps the source's namespace;
 * "destination" sends none (the destination's default); anything else is a
 * custom format where ${SOURCE_NAMESPACE} is the source's namespace (an
 * empty result means none). prefix goes before every stream name. */
typedef struct sl_mapping sl_mapping;
/* *out is NULL when the mapping changes nothing. Two streams mapped to one
 * destination stream are an error naming both. */
sl_code sl_mapping_new(const char *namespace_format, const char *prefix, const json_t *configured, sl_mapping **out,
                       sl_err *err);
void sl_mapping_free(sl_mapping *m);
/* The configured catalog as the destination sees it (new reference). */
json_t *sl_mapping_catalog(const sl_mapping *m, const json_t *configured);
/* A RECORD line (parsed as root) re-written with the mapped stream and
 * namespace, with '\n', appended to out. */
sl_code sl_mapping_record(const sl_mapping *m, sl_jv root, sl_buf *out);
/* The source stream (name, namespace or NULL) a destination stream maps
 * back to; false when the mapping does not know it. */
bool sl_mapping_back(const sl_mapping *m, const char *name, size_t nlen, const char *ns, size_t nslen, const char **src_name,
                     const char **src_ns);
/* A stream_descriptor object mapped (to_dest) or mapped back, in place. */
void sl_mapping_descriptor(const sl_mapping *m, json_t *descriptor, bool to_dest);
/* The same from a RECORD line and its envelope: spliced without a parse
 * when the line has sl_record_scan's canonical layout, else parsed with jp.
 * Errors name what (e.g. "source stdout line 12"). */
sl_code sl_mapping_record_line(const sl_mapping *m, const char *line, size_t len, const sl_envelope *env, sl_jparser *jp,
                               const char *what, sl_buf *out, sl_err *err);
/* A STATE message's descriptors mapped (to_dest) or mapped back, in place. */
void sl_mapping_state(const sl_mapping *m, json_t *state_msg, bool to_dest);
/* A STATE message (parsed as msg) mapped, with state.id set to the raw
 * id_raw, and '\n', appended to out. */
sl_code sl_mapping_state_out(const sl_mapping *m, sl_jv msg, const char *id_raw, size_t id_len, sl_buf *out);

/* Move the saved state forward where the destination committed past it
 * (platform/state_catchup.c): runs `<destination> state`, applies, returns
 * how many keys moved (each logged as a WARN). prev_sync (or NULL) is the
 * id of the interrupted sync the sync record names: keys with no saved
 * state take its newest state there when cat (source terms) says their
 * stream is incremental and not overwritten. The caller saves sf. */
size_t sl_state_catch_up(sl_statefile *sf, const sl_mapping *map, const sl_catalog *cat, const char *prev_sync,
                         const char *dst_name, const char *dst_exe, const char *dst_config, const char *dst_catalog,
                         sl_log_fn log, void *payload);
/* The sync record (state_catchup.c): which sync last ran from a saved
 * state, valid only while the saved state is the one that sync left. */
/* Hex SHA-256 of a state file's content (order-free) and of the generations
 * of cat's resumable streams (cat may be NULL). */
char *sl_state_digest(const json_t *root, const sl_catalog *cat);
void sl_sync_id_new(char out[33]);
/* The sync id the record at path names when digest is its state's, else
 * NULL (no record, or the saved state changed since). */
char *sl_sync_record_prev(const char *path, const char *digest);
/* Write the record atomically. */
sl_code sl_sync_record_write(const char *path, const char *sync_id, const char *digest, sl_err *err);

/* ---- refresh and clear of a connection (platform/job.c) ---- */

typedef struct sl_store sl_store;
struct sl_job_opts;
typedef enum { SL_REFRESH_TRUNCATE, SL_REFRESH_MERGE } sl_refresh_mode;

/* Re-read the streams (NULL-terminated names; NULL: all of the connection)
 * from scratch under a new generation_id, as one job (like sl_job_run, and
 * *job_id likewise). Truncate: minimum_generation_id = generation_id, so the
 * destination drops the older rows only when the new read has succeeded;
 * merge: minimum 0, the old rows stay. The refresh stays pending until a
 * job of the connection completes it (a failed one is resumed by the next
 * sync). Refused while a job of the connection runs. */
sl_code sl_conn_refresh(sl_store *s, const json_t *conn, const char *const *streams, sl_refresh_mode mode,
                        const struct sl_job_opts *o, int64_t *job_id, sl_err *err);
/* The clear sync: the destination gets the streams with a new generation
 * and minimum_generation_id = generation_id but no records, so it drops
 * their data; their stored state is reset. Runs as a job (kind "clear"). */
sl_code sl_conn_clear(sl_store *s, const json_t *conn, const char *const *streams, const struct sl_job_opts *o,
                      int64_t *job_id, sl_err *err);

#endif
