/* Bounded test reads of one declarative stream, for the connector builder.
 *
 * lc_test_read reads a stream the way the read loop does (slices, pages,
 * records through filter/transformations, slicer state) but stops at limits
 * and reports what happened as a sequence of events, so a caller can run it
 * in a child process and still show everything up to a hang or a crash:
 *
 *   {"event":"stream","schema":{...},"definition":{...}} declared schema, resolved stream
 *   {"event":"slice","slice":{...}}                    a slice starts
 *   {"event":"request","request":{method,url,headers,body}}
 *        + "kind" (ASYNC_CREATE, ASYNC_POLL, ASYNC_DOWNLOAD_TARGET, ASYNC_ABORT,
 *          ASYNC_DELETE) and "title" for an async job's requests
 *   {"event":"response","response":{status,headers,body,...}}
 *   {"event":"page","records":[...],"body":"..."}       a page was read
 *   {"event":"slice_end","state":{...}|null}
 *   {"event":"log","level":"INFO","message":"..."}
 *   {"event":"limit","what":"records|pages|slices"}
 *   {"event":"error","message":"...","failure_type":"..."}
 *   {"event":"end","state":{...}|null}
 *   {"event":"control","config":{...}}               OAuth rotated a token: the new config
 *
 * Requests and responses come from the engine's debug log (secrets masked
 * there); a page's full response body is masked with the config's secrets.
 * lc_tr_asm turns the events into the result the builder shows:
 *
 *   {"stream", "slices":[{"slice","pages":[{"request","response","records",
 *    "auxiliary_requests" (each {request, response, kind?, title?})}],"state"}],
 *    "logs", "limit_reached", "error"?,
 *    "final_state", "records_total", "declared_schema", "stream_definition"}
 */
#ifndef SLUICE_LOWCODE_TESTREAD_H
#define SLUICE_LOWCODE_TESTREAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lowcode.h"

typedef struct lc_test_limits {
  size_t max_records;      /* over the whole read; 0: 100 */
  unsigned max_pages;      /* per slice; 0: 5 */
  unsigned max_slices;     /* 0: 5 */
  size_t max_body;         /* bytes of a response body kept; 0: 1 MiB */
  bool retries;            /* retry as the error handler says; false: one attempt (CDK builder) */
} lc_test_limits;

/* fn takes ownership of each event. state: the stream's input state or NULL
 * (a state makes the read incremental). Returns the code of the read's error
 * (also reported as an "error" event). */
typedef void (*lc_test_emit)(void *ud, json_t *event);
sl_code lc_test_read(lc_source *src, const char *stream, const json_t *state, const lc_test_limits *lim,
                     lc_test_emit fn, void *ud);

/* Assembling events into the result. */
typedef struct lc_tr_asm lc_tr_asm;
lc_tr_asm *lc_tr_asm_new(const char *stream);
void lc_tr_asm_event(lc_tr_asm *a, const json_t *event);
/* The result (new reference); the assembler is freed. */
json_t *lc_tr_asm_finish(lc_tr_asm *a);

/* "file:line:col ..." inside an error message: {"file","line","column"}
 * (new reference) or NULL. */
json_t *lc_tr_location(const char *message);

#endif
