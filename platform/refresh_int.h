/* Between job.c and refresh.c: what a job of a connection sends as its
 * configured catalog (stored stream settings, generations, sync id) and the
 * refresh/clear requests. */
#ifndef SLUICE_REFRESH_INT_H
#define SLUICE_REFRESH_INT_H

#include "sluice/platform.h"
#include "sluice/store.h"

typedef struct job_req {
  const char *kind;           /* "sync", "refresh" or "clear" */
  const char *pending;        /* refresh/clear: "truncate", "merge" or "clear" */
  const char *const *streams; /* refresh/clear: NULL for every stream of the connection */
} job_req;

/* The configure hook's argument, one per job. */
typedef struct conn_catalog {
  sl_store *s;
  const json_t *conn;
  int64_t job_id;
  bool full_refresh;
  const job_req *req;
  json_t *targets; /* refresh/clear: [{"name", "namespace"?}] of the streams asked for */
  json_t *sent;    /* the configured catalog last built */
} conn_catalog;

/* sl_sync_opts.configure: defaults from discovered, then the connection's
 * stream settings, then generation_id/minimum_generation_id/sync_id. */
sl_code conn_configure(void *arg, const json_t *discovered, json_t **configured, sl_err *err);
/* At the start of a job: bump the generation (and reset the state) of the
 * streams to refresh or clear and of full-refresh overwrite streams. */
sl_code conn_generations_start(conn_catalog *cc, sl_err *err);
/* The job succeeded: the refreshes and clears it carried are done. */
void conn_generations_done(conn_catalog *cc);
/* A clear attempt: the destination alone, with the cleared streams and no
 * records, then COMPLETE for each. */
sl_code conn_clear_run(conn_catalog *cc, const sl_sync_opts *so, sl_sync_result *res, sl_err *err);
void conn_catalog_dispose(conn_catalog *cc);

sl_code job_run_req(sl_store *s, const json_t *conn, const sl_job_opts *o, const job_req *req, int64_t *job_id, sl_err *err);

#endif
