/* sluice workspace store: sources, destinations, connections, jobs,
 * attempts, per-stream stats, committed state and catalog versions.
 *
 * One small interface over a backend (SQLite now; PostgreSQL later with the
 * same schema). Queries use portable SQL with `?` placeholders; parameters
 * are text (or NULL) and rows come back as a JSON array of objects keyed by
 * column name, which is also what `--json` prints. Secrets (airbyte_secret
 * fields) never enter the store: they live in a 0600 file beside it. */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/json.h"
#include "sluice/protocol.h"

typedef struct sl_store sl_store;

/* A backend: the few calls the store needs from a database. */
typedef struct sl_store_backend {
  const char *name;
  const char *id_column; /* DDL of an auto-increment integer primary key */
  /* Run sql with np text parameters; if rows is not NULL it receives the
   * result rows (a new JSON array). */
  sl_code (*exec)(void *db, const char *sql, int np, const char *const *p, json_t **rows, sl_err *err);
  void (*close)(void *db);
  const char *migrate_lock; /* taken inside the migration transaction, or NULL */
  const char *for_update;   /* row-lock suffix of a SELECT that skips a locked row ("" where BEGIN
                               already serialises writers) */
  /* Optional: the rows as a JSON array of objects written into out (no JSON
   * tree); NULL: sl_store_exec_json serialises exec's rows. */
  sl_code (*exec_json)(void *db, const char *sql, int np, const char *const *p, sl_buf *out, sl_err *err);
} sl_store_backend;

/* The backend in use (for its SQL differences). */
const sl_store_backend *sl_store_backend_of(const sl_store *s);

/* Open the store: where is NULL (default: $SLUICE_HOME/sluice.db, with
 * SLUICE_HOME defaulting to ~/.sluice), a SQLite file path, or a
 * postgresql:// URL. Migrations run to the latest version. */
sl_code sl_store_open(const char *where, sl_store **out, sl_err *err);
void sl_store_close(sl_store *s);
/* A second connection to the same store (for another thread). */
sl_code sl_store_reopen(const sl_store *s, sl_store **out, sl_err *err);
/* The directory holding the store, the secrets file and job logs. */
const char *sl_store_home(const sl_store *s);
int sl_store_schema_version(const sl_store *s);

/* Run sql with np parameters (const char *, NULL for SQL NULL). */
sl_code sl_store_exec(sl_store *s, json_t **rows, sl_err *err, const char *sql, int np, ...);
sl_code sl_store_vexec(sl_store *s, json_t **rows, sl_err *err, const char *sql, int np, va_list ap);
/* The first row of a query (new reference), or NULL with SL_ENOTFOUND. */
sl_code sl_store_one(sl_store *s, json_t **row, sl_err *err, const char *sql, int np, ...);
/* BEGIN (IMMEDIATE on SQLite: writers serialise here) / COMMIT / ROLLBACK. */
sl_code sl_store_begin(sl_store *s, sl_err *err);
sl_code sl_store_commit(sl_store *s, sl_err *err);
void sl_store_rollback(sl_store *s);

/* Format an integer for a parameter (buf of 24 bytes). */
const char *sl_store_i64(char *buf, int64_t v);
/* Integer column of a row (0 when NULL or absent). */
int64_t sl_store_int(const json_t *row, const char *col);
const char *sl_store_str(const json_t *row, const char *col);

/* Write v to path as JSON, readable by the owner only (configs, state). */
sl_code sl_store_write_private(const char *path, const json_t *v, sl_err *err);

/* ---- actors: sources and destinations ---- */

/* Find an actor of kind ("source"/"destination") by name or numeric id. */
sl_code sl_actor_find(sl_store *s, const char *kind, const char *ref, json_t **row, sl_err *err);
/* The actor's full config (stored config + secrets), a new reference. */
sl_code sl_actor_config(sl_store *s, const json_t *actor, json_t **config, sl_err *err);
/* The actor's config with secrets shown as "**********". */
sl_code sl_actor_config_masked(sl_store *s, const json_t *actor, json_t **config, sl_err *err);
/* Create (id 0) or replace an actor's config: splits secrets out by spec.
 * An edit is compare-and-set: it applies only while the actor is still at
 * version (else SL_ECONFIG "... changed by someone else ...", nothing
 * written). */
sl_code sl_actor_save(sl_store *s, const char *kind, int64_t id, int64_t version, const char *name, const char *connector,
                      const json_t *spec, const json_t *config, int64_t *out_id, sl_err *err);
sl_code sl_actor_delete(sl_store *s, const json_t *actor, sl_err *err);
/* Run `<connector> verb --config <its config>` (check, discover) and return
 * the first message of type want (a new reference). */
sl_code sl_actor_call(sl_store *s, const json_t *actor, const char *verb, sl_msg_type want, json_t **msg, sl_err *err);
/* A connector's connectionSpecification (runs `spec`), a new reference. */
sl_code sl_connector_spec(const char *connector, json_t **spec, sl_err *err);

/* ---- secrets ---- */

/* Move the values of airbyte_secret fields (by spec) out of config into
 * *secrets, an object of JSON pointer -> value. config is modified. */
sl_code sl_secrets_split(const json_t *spec, json_t *config, json_t **secrets, sl_err *err);
/* Put secrets back (or "**********" for each when mask is true). */
void sl_secrets_merge(json_t *config, const json_t *secrets, bool mask);
/* Values still masked in config (a shown config sent back) take the
 * stored value of the same field: an edit keeps the secrets it does not set. */
void sl_secrets_keep_masked(json_t *config, const json_t *stored);
/* The secrets file (mode 0600): one object per actor key. */
sl_code sl_secrets_file_get(const char *home, const char *key, json_t **secrets, sl_err *err);
sl_code sl_secrets_file_put(const char *home, const char *key, const json_t *secrets, sl_err *err);

/* ---- catalogs ---- */

/* Discover a source and keep the catalog as a new version when it differs
 * from the latest stored one. *catalog: the AirbyteCatalog (new ref). */
sl_code sl_source_discover(sl_store *s, const json_t *source, json_t **catalog, int64_t *version, bool *changed,
                           sl_err *err);

/* Compare two AirbyteCatalogs: {"streams_added": [names], "streams_removed":
 * [names], "streams_changed": [{"stream", "fields_added", "fields_removed",
 * "fields_changed", "primary_key_changed", "cursor_removed", "breaking"}],
 * "breaking": bool}. Breaking: a primary key or cursor field removed or
 * changed. Fields are the top-level properties of each json_schema. */
json_t *sl_catalog_diff(const json_t *from, const json_t *to);
/* Stored catalog of a source: version 0 is the latest. */
sl_code sl_catalog_get(sl_store *s, int64_t source_id, int64_t version, json_t **row, sl_err *err);

/* ---- connection state ---- */

/* Committed state of a connection in state-file shape (array of messages,
 * or an object for LEGACY); an empty array when there is none. */
sl_code sl_store_state_get(sl_store *s, int64_t conn, json_t **state, sl_err *err);
/* Replace the committed state of a connection (one row per stream). */
sl_code sl_store_state_put(sl_store *s, int64_t conn, const json_t *state, sl_err *err);

/* ---- schedules ---- */

typedef enum { SL_SCHED_MANUAL, SL_SCHED_INTERVAL, SL_SCHED_CRON } sl_sched_kind;
typedef struct sl_schedule {
  sl_sched_kind kind;
  int64_t interval_s;
  uint64_t cron[5]; /* bit sets: minute, hour, day of month, month, day of week */
  bool dom_any, dow_any;
} sl_schedule;
/* "manual", "every N{s,m,h,d}" or 5 cron fields (UTC); SL_EUSAGE naming
 * the field that is wrong. */
sl_code sl_schedule_parse(const char *expr, sl_schedule *out, sl_err *err);
/* The first run time after after_s (Unix seconds), or -1 (manual). */
int64_t sl_schedule_next(const sl_schedule *s, int64_t after_s);

/* ---- jobs ---- */

typedef struct sl_job_opts {
  int max_attempts;      /* 0: 3 */
  int64_t backoff_ms;    /* first retry delay, doubled each time; <0: 0 */
  bool full_refresh;
  bool quiet;            /* no summary on stderr */
} sl_job_opts;

/* Run one sync job for a connection: attempts with retries on transient
 * failures, each resuming from the committed state; logs under
 * <home>/logs/. Returns SL_EOK when the job succeeded; *job_id is set as
 * soon as the job exists. */
sl_code sl_job_run(sl_store *s, const json_t *conn, const sl_job_opts *o, int64_t *job_id, sl_err *err);
/* How long a job's lease (or a server's claim of a request) lasts without
 * a renewal: SLUICE_LEASE_S seconds (default 60), in ms. */
int64_t sl_job_lease_ms(void);
/* This process as the owner of a job or claim: "HOST:PID" (HOST from
 * SLUICE_HOST_ID, else the host name). */
const char *sl_job_owner(char *buf, size_t cap);
/* SL_EOK when no job of the connection runs; a job left "running" by a
 * process that ended (kill -9, a host gone: lease expired) is marked failed
 * first. SL_ETRANSIENT naming the job when one runs. */
sl_code sl_job_idle(sl_store *s, int64_t conn_id, sl_err *err);
/* Reset a connection's state (one stream, or all when stream is NULL) and
 * void the sync record of its last attempt, so the next job takes no state
 * from an interrupted first sync (platform/state_catchup.c). */
sl_code sl_job_reset_state(sl_store *s, int64_t conn_id, const char *stream, sl_err *err);
/* Each attempt log of a job (all, or attempt N) opened and given to fn in
 * order; a job without attempts or a missing log is an error naming it. */
typedef void (*sl_job_log_fn)(void *arg, int64_t attempt, const char *path, FILE *log);
sl_code sl_job_logs_each(sl_store *s, const char *job_id, const char *attempt, sl_job_log_fn fn, void *arg, sl_err *err);
/* A job's attempt logs (all, or attempt N) written into out as JSON:
 * [{"attempt", "log_path", "lines": [...]}] (platform/joblog.c). */
sl_code sl_job_logs_json(sl_store *s, const char *job_id, const char *attempt, sl_buf *out, sl_err *err);
/* Keep a refresh or clear request (verb; mode "truncate"/"merge" or NULL;
 * streams comma-separated or NULL) for a server's scheduler: *id. */
sl_code sl_request_add(sl_store *s, int64_t conn, const char *verb, const char *mode, const char *streams, int64_t *id, sl_err *err);
/* A refresh/clear request (table requests) whose job has run: done is
 * false when the job could not start because the connection was busy,
 * and the request waits for a later turn. */
void sl_request_finish(sl_store *s, int64_t request_id, bool done);

/* ---- the server ---- */

typedef struct sl_server_opts {
  const char *store_where; /* as sl_store_open */
  int workers;             /* jobs at once (0: 2) */
  const char *listen;      /* API address (NULL: 127.0.0.1) */
  int port;                /* API port (0: any free one); <0: no API */
  const char *token;       /* bearer token the API requires */
  const char *port_file;   /* write the bound port here (tests) */
  int64_t tick_ms;         /* scheduler period (0: 500) */
  int max_attempts;        /* per job (0: 3) */
  const char *webhook;     /* POST each finished job here (NULL: none) */
} sl_server_opts;

/* Run connections on their schedules (and API requests) until SIGTERM or
 * SIGINT; then running jobs are interrupted (they end their attempt and
 * are marked incomplete) and awaited. */
sl_code sl_server_run(const sl_server_opts *o, sl_err *err);

/* ---- connections (platform/store_conn.c) ---- */

/* The settable text fields of a connection, in this order. */
enum { SL_CONN_STREAMS, SL_CONN_SCHEDULE, SL_CONN_NSFORMAT, SL_CONN_PREFIX, SL_CONN_POLICY, SL_CONN_STATUS, SL_CONN_CATALOG, SL_CONN_NFIELDS };
typedef struct sl_conn_values {
  int64_t id;      /* 0: create */
  int64_t version; /* edit: the version read (compare-and-set) */
  const char *name;
  int64_t source_id, destination_id;
  const char *f[SL_CONN_NFIELDS]; /* NULL: SQL NULL (schedule manual, policy and status their defaults) */
} sl_conn_values;
typedef struct sl_conn_saved {
  int64_t id, version;
  bool conflict; /* the edit lost against another one (SL_ECONFIG) */
} sl_conn_saved;
/* Column name of field i ("streams", ...). */
const char *sl_conn_field_name(int i);
/* Check a value of field i (schedule, schema_policy, status), naming it. */
sl_code sl_conn_check_field(int i, const char *v, sl_err *err);
/* Find by name or numeric id: the row with "source" and "destination" names. */
sl_code sl_conn_find(sl_store *s, const char *ref, json_t **row, sl_err *err);
/* Create (v->id 0) or replace a connection's fields. SL_CONN_CATALOG is the
 * stream settings' JSON text (check it first with sl_conn_check_settings). */
sl_code sl_conn_save(sl_store *s, const sl_conn_values *v, sl_conn_saved *res, sl_err *err);
/* The source's latest stored catalog (discovered now when none is stored),
 * a new reference. */
sl_code sl_conn_source_catalog(sl_store *s, int64_t source_id, json_t **catalog, sl_err *err);
/* Stream settings ({"streams": [...]}, see sl_stream_settings_check) as a
 * sync of the streams (comma-separated, NULL: all) of the source would
 * apply them: a bad mode, field or field selection is an error naming the
 * stream and the field. */
sl_code sl_conn_check_settings(sl_store *s, int64_t source_id, const char *streams, const json_t *settings, sl_err *err);

/* Write the result rows of sql as a JSON array of objects into out, straight
 * from the database's rows (no JSON tree): the API's lists. */
sl_code sl_store_exec_json(sl_store *s, sl_buf *out, sl_err *err, const char *sql, int np, ...);

#endif
