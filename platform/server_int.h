/* Internals of `sluice server` (server.c: scheduler; server_api.c: REST
 * routing, a pool of libmicrohttpd threads, each with its own store
 * connection; server_write.c: sources, destinations, connections;
 * server_ops.c: state, catalogs, jobs and connection actions). */
#ifndef SLUICE_SERVER_INT_H
#define SLUICE_SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include "sluice/store.h"

typedef struct sl_server {
  sl_server_opts opts;
  sl_store *store; /* the scheduler's (the API's threads open their own) */
  struct MHD_Daemon *mhd;
  int bound_port;
} sl_server;

sl_code sl_server_api_start(sl_server *sv, sl_err *err);
void sl_server_api_stop(sl_server *sv);

/* One API request, routed. */
typedef struct api_call {
  struct MHD_Connection *c;
  sl_server *sv;
  sl_store *st;
  const char *method;
  json_t *body; /* the JSON request body, or NULL */
  int64_t etag; /* > 0: the reply carries ETag: "etag" (the object's version, for If-Match) */
} api_call;

enum MHD_Result api_reply(api_call *a, unsigned status, json_t *body); /* steals body */
/* A reply already serialised (the lists): takes b's data. */
enum MHD_Result api_reply_buf(api_call *a, unsigned status, sl_buf *b);
/* {"error": {"code": code, "message": ...}} */
enum MHD_Result api_error(api_call *a, unsigned status, const char *code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* An sl_err as an HTTP status and code (404 not found, 400 bad input, 409
 * conflict, 502 a connector failed, 503 transient, 500 otherwise). */
enum MHD_Result api_fail(api_call *a, const sl_err *err);
/* The rows of a query written straight as a JSON array. */
enum MHD_Result api_rows(api_call *a, const char *sql, int np, const char *p1, const char *p2);
bool api_is(const api_call *a, const char *method);
/* The body as an object whose members are all in allowed (else a 400 was sent: *sent). */
bool api_body_ok(api_call *a, const char *const *allowed, bool required, enum MHD_Result *sent);
/* A body member that must be a string (or absent/null: NULL); false after a 400. */
bool api_str(api_call *a, const char *key, const char **out, enum MHD_Result *sent);

/* The version an edit was made from: the body's "version" or an If-Match
 * header ("3", W/"3" or 3) over *version; false after a 400 (*sent). */
bool api_version(api_call *a, int64_t *version, enum MHD_Result *sent);

/* /v1/sources[/ID[/check|/discover|/catalogs...]] and /v1/destinations... */
enum MHD_Result api_actor(api_call *a, const char *kind, long long id, const char *rest);
/* /v1/connections[/ID] create, show, edit, delete */
enum MHD_Result api_connection(api_call *a, long long id, const char *rest);
/* /v1/connections/ID/{sync,refresh,clear,state} */
enum MHD_Result api_connection_op(api_call *a, long long id, const char *rest);
/* /v1/sources/ID/catalogs[/N|/diff] */
enum MHD_Result api_catalogs(api_call *a, long long source_id, const char *rest);
/* /v1/jobs[/ID[/cancel]] */
enum MHD_Result api_jobs(api_call *a, long long id, const char *rest);

/* Around a call that runs a connector from an API thread: SIGCHLD is
 * blocked in the server's threads (the scheduler waits for it), and a
 * child would inherit that mask through fork and exec. While unblocked a
 * job's SIGCHLD may land here; the scheduler then sees the job end at its
 * next tick instead. */
void api_children_begin(sigset_t *saved);
void api_children_end(const sigset_t *saved);

#endif
