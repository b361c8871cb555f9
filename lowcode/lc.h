/* Internals of the declarative runtime (lowcode/), shared by its component
 * files: source.c (DeclarativeSource: spec/check/discover/read), stream.c
 * (DeclarativeStream, SimpleRetriever and the read loop), requester.c
 * (HttpRequester, RequestOption, request assembly, retries), auth.c
 * (authenticators), paginator.c, selector.c (decoder, extractor, filter,
 * normalisation), transform.c (AddFields/RemoveFields), errhandler.c,
 * slicer.c (slicer interface), util.c (templates, values, locations). */
#ifndef SLUICE_LOWCODE_LC_H
#define SLUICE_LOWCODE_LC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lowcode.h"
#include "manifest.h"
#include "slicer.h"
#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/http.h"
#include "sluice/interp.h"
#include "sluice/json.h"

/* ---- util.c ---- */

/* "file:line:col path" of a manifest node (static buffer per call site). */
const char *lc_where(const lc_source *src, const json_t *node, char *buf, size_t n);
#define LC_WHERE(src, node) lc_where((src), (node), (char[320]){0}, 320)

/* Compile node[field] (a string, or a scalar turned into text) as a
 * template; *out is NULL when the field is absent. */
sl_code lc_tmpl_field(lc_source *src, const json_t *node, const char *field, sl_tmpl **out,
                      sl_err *err);
/* Compile a string value (`where` is node/field for messages). */
sl_code lc_tmpl_value(lc_source *src, const json_t *node, const char *field, const json_t *v,
                      sl_tmpl **out, sl_err *err);
/* Evaluate to text (Python str() of the value); "" when empty/undefined. */
sl_code lc_eval_text(const sl_tmpl *t, const json_t *ctx, sl_buf *out, sl_err *err);
/* Evaluate to a value (new ref or NULL); errors name the template's location. */
sl_code lc_eval(const sl_tmpl *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out,
                sl_err *err);

/* Python str() of a JSON value: strings raw, True/False/None, 1.0, repr of
 * containers with single quotes. Appends to out. */
void lc_pystr(sl_buf *out, const json_t *v);

/* A tree of templates: JSON with every string compiled (request bodies,
 * parameter and header mappings). Evaluation drops keys whose template
 * renders empty/undefined/None as the CDK does. */
typedef struct lc_ttree lc_ttree;
sl_code lc_ttree_build(lc_source *src, const json_t *node, const char *field, lc_ttree **out,
                       sl_err *err);
/* accept: type restriction for leaves (query params/form: STR_OR_LIST). */
sl_code lc_ttree_eval(const lc_ttree *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out,
                      sl_err *err);
bool lc_ttree_is_string(const lc_ttree *t); /* a whole-string template (body as text) */
void lc_ttree_free(lc_ttree *t);

/* Value at a path of keys ('*' matches every key/element: all matches
 * collected in order, dpath glob semantics). */
json_t *lc_json_path(const json_t *root, const char *const *keys, size_t n);

/* {"config": ..., "parameters": node's $parameters or {}} (new reference). */
json_t *lc_ctx_new(const lc_source *src, const json_t *node);
/* Evaluate t with lc_ctx_new(src, node) to text appended to out. */
sl_code lc_eval_text_at(const lc_source *src, const json_t *node, const sl_tmpl *t, sl_buf *out,
                        sl_err *err);

/* node[field] rendered once with config and parameters (malloc'd text;
 * *out NULL when the field is absent). */
sl_code lc_render_field(lc_source *src, const json_t *node, const char *field, char **out, sl_err *err);

int64_t lc_now_us(void);
/* Sleep for seconds scaled by SLUICE_BACKOFF_SCALE (tests use a tiny scale). */
void lc_sleep(double seconds);

/* ---- template scans (tmplscan.c) ---- */

/* The members of a context value (`response`, `record`) templates read:
 * `used` when the name appears, `whole` when some use is not a member read
 * by a constant name (then the value must be complete). */
typedef struct lc_keyset {
  char **k;
  size_t n;
  bool used, whole;
} lc_keyset;
void lc_keyset_scan(lc_keyset *ks, const sl_tmpl *t, const char *name);
void lc_keyset_dispose(lc_keyset *ks);
/* The config keys that node's fields (NULL-terminated list) read outright
 * (no conditional, default or .get()) must be in the config: a URL built
 * with an empty segment instead is never what the author meant. */
sl_code lc_check_config_keys(lc_source *src, const json_t *node, const char *const *fields, sl_err *err);

/* ---- the source ---- */

struct lc_source {
  sl_manifest *m;
  const json_t *root;
  json_t *config;       /* owned; OAuth may update it (rotating tokens) */
  json_t *spec;         /* connection_specification (borrowed from the manifest) */
  bool debug;
  bool no_retries;      /* builder test reads: one attempt per request, no backoff */
  /* Output hooks of the current command (the connector's read context). */
  void (*log)(void *ud, const char *level, const char *msg);
  sl_code (*control_config)(void *ud, const json_t *config);
  void *out_ud;
  char **secrets;       /* config values marked airbyte_secret */
  size_t n_secrets;
  struct lc_budget *budget;  /* api_budget (budget.c), or NULL */
  sl_read *cur_read;         /* the stream being read (STREAM_STATUS reasons) */
  const char *cur_stream;
  struct lc_dyn *dyn;        /* the streams in effect for this config (dynamic.c), NULL until resolved */
};

void lc_log(lc_source *src, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The stream definitions of the manifest (streams[], after $ref resolution). */
const json_t *lc_source_streams(const lc_source *src);
const json_t *lc_source_find_stream(const lc_source *src, const char *name);

/* Spec config_normalization_rules (config_norm.c): the migrations
 * (*migrated: the config changed), then the transformations and validations. */
sl_code lc_config_normalize(lc_source *src, json_t *config, bool *migrated, sl_err *err);
sl_code lc_config_transform_validate(lc_source *src, json_t *config, sl_err *err);

/* api_budget (budget.c). acquire waits (never fails for the budget) until
 * the matching policy allows the request; update feeds it the response. */
typedef struct lc_budget lc_budget;
sl_code lc_budget_build(lc_source *src, const json_t *node, lc_budget **out, sl_err *err);
void lc_budget_free(lc_budget *b);
sl_code lc_budget_acquire(lc_source *src, lc_budget *b, const char *method, const char *url, const json_t *headers,
                          const char *murl, sl_err *err);
void lc_budget_update(lc_budget *b, const char *method, const char *url, const json_t *headers,
                      const sl_http_resp *resp);
/* TRACE STREAM_STATUS RUNNING with reason RATE_LIMITED for the stream being
 * read (quota_reset_ms 0: unknown). */
void lc_rate_limited(lc_source *src, int64_t quota_reset_ms);

/* The stream's state_migrations applied to its input state (statemig.c):
 * *out a new state, or NULL when nothing changed. */
sl_code lc_state_migrate(lc_source *src, const json_t *stream, const json_t *state, json_t **out, sl_err *err);

/* ---- request options ---- */

struct lc_reqopts {
  json_t *params;    /* object: name -> string or array of strings */
  json_t *headers;   /* object: name -> string */
  json_t *form;      /* object (form fields), or NULL */
  json_t *json;      /* object, or NULL */
  char *body_text;   /* a raw string body, or NULL */
};
void lc_reqopts_init(lc_reqopts *o);
void lc_reqopts_dispose(lc_reqopts *o);

typedef enum { LC_INJ_PARAM, LC_INJ_HEADER, LC_INJ_FORM, LC_INJ_JSON } lc_inject;

/* RequestOption: where and under which name (field_name template) or path. */
typedef struct lc_reqopt {
  bool present;
  lc_inject into;
  sl_tmpl *field_name;
  char **field_path;
  size_t n_path;
  const json_t *node;
} lc_reqopt;

sl_code lc_reqopt_build(lc_source *src, const json_t *node, lc_reqopt *o, sl_err *err);
void lc_reqopt_dispose(lc_reqopt *o);
/* Inject value (borrowed) under the option's name; a clash with a key set
 * by another component is an error (who names the component). */
sl_code lc_reqopt_inject(lc_source *src, const lc_reqopt *o, const json_t *value,
                         const json_t *ctx, lc_reqopts *opts, sl_err *err);
/* Merge one mapping (params/headers/form) into opts, erroring on clashes. */
sl_code lc_reqopts_merge(json_t *into, const json_t *from, const char *what, sl_err *err);

/* ---- error handling (errhandler.c) ---- */

typedef enum {
  LC_ACT_SUCCESS,
  LC_ACT_FAIL,
  LC_ACT_RETRY,
  LC_ACT_IGNORE,
  LC_ACT_RATE_LIMITED,
  LC_ACT_RESET_PAGINATION,
  LC_ACT_REFRESH_TOKEN_THEN_RETRY,
} lc_action;

typedef struct lc_resolution {
  lc_action action;
  const char *failure_type; /* config_error, system_error, transient_error */
  char message[512];
} lc_resolution;

typedef struct lc_errh lc_errh;
sl_code lc_errh_build(lc_source *src, const json_t *node, lc_errh **out, sl_err *err);
void lc_errh_free(lc_errh *e);
/* Decide what to do with a response (status 0 = transport error). body_json
 * is the decoded body for predicates (NULL: decode lazily from resp). */
sl_code lc_errh_resolve(lc_source *src, const lc_errh *e, const sl_http_resp *resp,
                        lc_resolution *res, sl_err *err);
/* Seconds to wait before retry number `attempt` (1-based), or -1 when no
 * strategy has an opinion. */
double lc_errh_backoff(lc_source *src, const lc_errh *e, const sl_http_resp *resp, int attempt,
                       sl_err *err);
int lc_errh_max_retries(lc_source *src, const lc_errh *e);
double lc_errh_max_time(const lc_errh *e);

/* ---- authenticators (auth.c) ---- */

typedef struct lc_auth lc_auth;
sl_code lc_auth_build(lc_source *src, const json_t *node, lc_auth **out, sl_err *err);
void lc_auth_free(lc_auth *a);
/* Add this authenticator's headers/params (may log in or refresh first). */
sl_code lc_auth_apply(lc_auth *a, sl_http *http, lc_reqopts *opts, sl_err *err);
/* Forget the current token (REFRESH_TOKEN_THEN_RETRY). */
void lc_auth_invalidate(lc_auth *a);
/* The requester the authenticator belongs to (LegacySessionToken's api_url
 * is its url_base). */
sl_code lc_auth_set_requester(lc_auth *a, const json_t *requester, sl_err *err);

/* ---- jwt.c (JwtAuthenticator's token; helper "requests") ---- */

typedef struct lc_jwt lc_jwt;
/* node: a JwtAuthenticator mapping (also OAuth profile_assertion). */
sl_code lc_jwt_build(lc_source *src, const json_t *node, lc_jwt **out, sl_err *err);
void lc_jwt_free(lc_jwt *j);
/* A signed token (malloc'd; "<header_prefix> <token>" when with_prefix and
 * a prefix is set); *fresh when it was signed now (a new secret to mask). */
sl_code lc_jwt_token(lc_jwt *j, bool with_prefix, char **out, bool *fresh, sl_err *err);
const char *lc_jwt_current(const lc_jwt *j);

/* HttpRequestRegexMatcher (budget.c), for tokenpool.c's quota pools. */
typedef struct lc_matcher lc_matcher;
sl_code lc_matcher_build(lc_source *src, const json_t *node, lc_matcher **out, sl_err *err);
bool lc_matcher_hit(const lc_matcher *m, const char *method, const char *url, const json_t *headers);
void lc_matcher_free(lc_matcher *m);

/* ---- tokenpool.c (RateLimitedMultipleTokenAuthenticator; helper "requests") ---- */

typedef struct lc_tokpool lc_tokpool;
sl_code lc_tokpool_build(lc_source *src, const json_t *node, lc_tokpool **out, sl_err *err);
void lc_tokpool_free(lc_tokpool *t);
/* Pick the token for this request (seeding quotas, rotating, waiting for a
 * reset as needed) and set its header in opts. */
sl_code lc_tokpool_apply(lc_tokpool *t, sl_http *http, const char *method, const char *url, lc_reqopts *opts,
                         sl_err *err);
/* The response of the request apply() prepared (quota headers, 429/403). */
void lc_tokpool_observe(lc_tokpool *t, const sl_http_resp *resp);
/* ISO-8601 durations (PT1H, P1D) and timestamps ("2024-01-01T00:00:00Z", naive
 * = UTC) to microseconds, -1 when not one (auth.c). */
int64_t lc_parse_duration_us(const char *s);
int64_t lc_parse_iso_us(const char *s);
/* The request the requester is about to send, for authenticators that
 * choose by it (token pools); then its response. */
sl_code lc_auth_route(lc_auth *a, sl_http *http, const char *method, const char *url, lc_reqopts *opts, sl_err *err);
void lc_auth_observe(lc_auth *a, const sl_http_resp *resp);
/* Whether the authenticator chooses by request (then no prefetch). */
bool lc_auth_routes(const lc_auth *a);

/* ---- requester (requester.c) ---- */

typedef struct lc_requester lc_requester;
sl_code lc_requester_build(lc_source *src, const json_t *node, lc_requester **out, sl_err *err);
void lc_requester_free(lc_requester *r);
const char *lc_requester_method(const lc_requester *r);
/* Keep response bodies out of the debug log (login requests). */
void lc_requester_set_secret_response(lc_requester *r);

/* One request: the requester's own options plus extra ones (paginator,
 * slicer) in `extra`; `path_override` replaces the path (RequestPath).
 * Retries per the error handler. On return *res tells SUCCESS/IGNORE (or
 * RESET_PAGINATION); failures are errors with the right code. */
sl_code lc_requester_send(lc_requester *r, sl_http *http, const json_t *ctx, lc_reqopts *extra,
                          const char *path_override, sl_http_resp *resp, lc_resolution *res,
                          sl_err *err);

/* The same request started in the background (sl_http_prefetch) for the
 * lc_requester_send that follows; only plain GETs, without budget or debug
 * log (else nothing happens). */
sl_code lc_requester_prefetch(lc_requester *r, sl_http *http, const json_t *ctx, lc_reqopts *extra,
                              const char *path_override, sl_err *err);

/* ---- paginator (paginator.c) ---- */

typedef struct lc_paginator lc_paginator;
typedef struct lc_page_state {
  json_t *token;    /* current token value (owned) or NULL */
  bool done;
} lc_page_state;

sl_code lc_paginator_build(lc_source *src, const json_t *node, lc_paginator **out, sl_err *err);
void lc_paginator_free(lc_paginator *p);
void lc_paginator_start(const lc_paginator *p, lc_page_state *ps);
/* Options for the next request (token and page size); *path set when the
 * token is a RequestPath (malloc'd). */
sl_code lc_paginator_options(lc_source *src, const lc_paginator *p, const lc_page_state *ps,
                             const json_t *ctx, lc_reqopts *opts, char **path, sl_err *err);
/* After a page: response = first decoded item (borrowed, may be NULL),
 * headers = response headers object with parsed link, count = records
 * before filtering, last_record (borrowed, may be NULL). */
sl_code lc_paginator_next(lc_source *src, const lc_paginator *p, lc_page_state *ps,
                          const json_t *ctx_base, const json_t *response, const json_t *headers,
                          size_t count, const json_t *last_record, sl_err *err);
/* Whether `response` is needed by next() (avoids building it). */
bool lc_paginator_needs_response(const lc_paginator *p);
bool lc_paginator_needs_last_record(const lc_paginator *p);
/* When the templates only read top-level members of `response`: true, with
 * their names (the rest of the page need not be converted). */
bool lc_paginator_response_keys(const lc_paginator *p, const char *const **keys, size_t *n);

/* Response headers as a JSON object (lower-case names), with "link" parsed
 * into {rel: {"url": ..., "rel": ..., ...}} as requests does. */
json_t *lc_headers_json(const sl_http_resp *resp);

/* ---- selector (selector.c) and transformations (transform.c) ---- */

typedef struct lc_transforms lc_transforms;
sl_code lc_transforms_build(lc_source *src, const json_t *list, lc_transforms **out, sl_err *err);
void lc_transforms_free(lc_transforms *t);
/* Apply in order to record (modified in place). ctx has config, parameters,
 * stream_slice (+aliases); "record" is set here. */
sl_code lc_transforms_apply(lc_source *src, const lc_transforms *t, json_t *record, json_t *ctx,
                            sl_err *err);

/* Key transformations (keytransform.c): KeysToLower, KeysToSnakeCase,
 * KeysReplace, FlattenFields, DpathFlattenFields. */
typedef struct lc_keytf lc_keytf;
bool lc_keytf_handles(const char *type);
sl_code lc_keytf_build(lc_source *src, const json_t *node, const char *type, lc_keytf **out, sl_err *err);
void lc_keytf_free(lc_keytf *k);
/* Respell record's keys in place (ctx: config, record, stream_slice). */
sl_code lc_keytf_apply(lc_source *src, const lc_keytf *k, json_t *record, json_t *ctx, sl_err *err);

/* Non-JSON decoders (decoder.c). build: *out NULL for JsonDecoder/absent
 * (the read loop parses JSON itself). decode: the body as JSON text, an
 * array of the decoded items, into out (what names the response). */
typedef struct lc_decoder lc_decoder;
sl_code lc_decoder_build(lc_source *src, const json_t *node, lc_decoder **out, sl_err *err);
void lc_decoder_free(lc_decoder *d);
sl_code lc_decoder_decode(lc_source *src, const lc_decoder *d, const char *body, size_t len, sl_buf *out,
                          const char *what, sl_err *err);

/* The patch path: transformations that only set or remove top-level keys
 * (AddFields with one-key paths, no condition and values that do not read
 * `record`; RemoveFields of plain top-level keys without condition) are
 * applied as a patch over the record view: the record is never converted. */
bool lc_transforms_patchable(const lc_transforms *t);
lc_patch *lc_patch_new(void);
void lc_patch_free(lc_patch *p);
/* The patch of one record (ctx: the records' context, without "record"). */
sl_code lc_transforms_patch(lc_source *src, const lc_transforms *t, sl_jv rec, json_t *ctx, lc_patch *p,
                            sl_err *err);
/* The record's members with the patch applied. */
void lc_patch_write(const lc_patch *p, sl_jv rec, sl_jw *w);

typedef struct lc_selector lc_selector;
sl_code lc_selector_build(lc_source *src, const json_t *node, const json_t *schema,
                          lc_selector **out, sl_err *err);
void lc_selector_free(lc_selector *s);
/* Render the extractor path for this run (config/parameters only). */
sl_code lc_selector_prepare(lc_source *src, lc_selector *s, const json_t *ctx, sl_err *err);
/* Records of a decoded body (root view): appended to recs. */
typedef struct lc_jvvec {
  sl_jv *v;
  size_t n, cap;
} lc_jvvec;
sl_code lc_selector_extract(const lc_selector *s, sl_jv root, lc_jvvec *recs, sl_err *err);
/* Whether records need the slow path (filter, normalisation). */
bool lc_selector_is_plain(const lc_selector *s);
/* Filter and normalise one record (jansson); *keep false to drop. */
sl_code lc_selector_filter(lc_source *src, const lc_selector *s, json_t *ctx, bool *keep,
                           sl_err *err);
sl_code lc_selector_normalize(const lc_selector *s, json_t *record);
/* Whether records can be filtered as views: no normalisation, and a filter
 * (if any) that reads only members of `record` by constant names; those
 * members alone are converted (from the view and its patch). */
bool lc_selector_filter_on_view(const lc_selector *s);
sl_code lc_selector_filter_view(lc_source *src, const lc_selector *s, json_t *ctx, const lc_record *r, bool *keep,
                                sl_err *err);
bool lc_selector_transform_first(const lc_selector *s);

/* ---- streams (stream.c) ---- */

sl_code lc_stream_open(lc_source *src, const json_t *node, lc_stream **out, sl_err *err);
void lc_stream_close(lc_stream *st);
const json_t *lc_stream_node(const lc_stream *st);
lc_source *lc_stream_source(const lc_stream *st);
const char *lc_stream_name(const lc_stream *st);
/* The stream's JSON schema from its schema_loader (new reference). */
sl_code lc_stream_schema(lc_source *src, const json_t *node, json_t **out, sl_err *err);
/* The read loop: slices from the slicer, pages, records, state. */
sl_code lc_stream_read(lc_stream *st, sl_read *rd, const sl_cstream *cs, sl_err *err);

/* Reading one slice page by page (the read loop, CheckStream, and later the
 * substream router reading its parent). Records of the current page are
 * views into the page (valid until the next lc_pages_next). */
typedef struct lc_pages {
  lc_stream *st;
  lc_slicer *slicer;    /* for request options; may be NULL */
  const json_t *slice;
  json_t *ctx;          /* config, parameters, stream_slice + aliases, extra fields */
  json_t *rec_ctx;      /* ctx + the current page's next_page_token, for records */
  lc_page_state ps;
  lc_jvvec recs;
  sl_http_resp resp;
  bool first, done;
  bool prefetch; /* the next page may be requested while this one is processed */
  sl_err deferred; /* the paginator's error, reported at the next page */
  unsigned pages;
  /* PaginationReset (stream.c): records since the last restart, the newest
   * cursor value seen (SPLIT_USING_CURSOR), the slice as reduced (owned). */
  size_t since_reset;
  bool reset_due, has_max;
  int same_slice;
  int64_t max_us;
  json_t *reduced;
} lc_pages;

void lc_pages_begin(lc_stream *st, lc_slicer *slicer, const json_t *slice, lc_pages *pg);
/* Fetches the next page; *have false when the slice is exhausted. */
sl_code lc_pages_next(lc_pages *pg, bool *have, sl_err *err);
/* A record of the page through filter, transformations and normalisation:
 * *out is a new object, or NULL when filtered out. */
sl_code lc_pages_record(lc_pages *pg, sl_jv rec, json_t **out, sl_err *err);
void lc_pages_end(lc_pages *pg);
/* The slicer's observe() of a record of the page, also tracking the newest
 * cursor value for a PaginationReset that splits the slice (read loops call
 * this instead of observe directly). */
sl_code lc_pages_observe(lc_pages *pg, lc_slicer *sl, const json_t *slice, const lc_record *r, sl_err *err);

/* ---- async.c (AsyncRetriever) ---- */

/* The jobs part of an AsyncRetriever (its download part is the stream's own
 * requester, paginator, decoder and selector: stream.c). */
typedef struct lc_async lc_async;
sl_code lc_async_build(lc_source *src, const json_t *retriever, lc_async **out, sl_err *err);
void lc_async_free(lc_async *a);
/* The stream's AsyncRetriever, or NULL for a SimpleRetriever (stream.c). */
lc_async *lc_async_of(const lc_stream *st);
/* One read: jobs for the slicer's slices, at most max_concurrent_async_job_count
 * at a time; completed slices come out in slice order. */
typedef struct lc_async_opts {
  unsigned max_slices; /* 0: all */
  bool test_read;      /* one attempt per job, 15 min default timeout (as the CDK's builder) */
} lc_async_opts;
typedef struct lc_async_run lc_async_run;
sl_code lc_async_run_new(lc_stream *st, lc_slicer *sl, sl_http *http, const lc_async_opts *o, lc_async_run **out,
                         sl_err *err);
/* The next completed slice (new reference; NULL when every slice is done)
 * and its downloads: an array of slices for the download requests (the
 * slice plus extra_fields download_target, creation_response, polling_response). */
sl_code lc_async_run_next(lc_async_run *r, json_t **slice, json_t **downloads, sl_err *err);
/* The slice's records are read: delete its job (delete_requester). */
sl_code lc_async_run_done(lc_async_run *r, sl_err *err);
bool lc_async_run_limited(const lc_async_run *r);
/* Aborts jobs still running on the API side (abort_requester). */
void lc_async_run_free(lc_async_run *r);
/* The stream's HTTP client (stream.c). */
sl_http *lc_stream_http(lc_stream *st);
/* CheckStream's read: the first page of the first slice; of an
 * AsyncRetriever, its first job's first download page (stream.c). */
sl_code lc_stream_check(lc_stream *st, lc_slicer *sl, sl_err *err);

/* ---- dynamic.c ---- */

/* The streams in effect for the config: static streams (ConditionalStreams
 * expanded) and those generated from dynamic_streams, resolved once (the
 * HttpComponentsResolver reads its endpoint); lc_source_streams and
 * lc_source_find_stream see them afterwards. */
typedef struct lc_dyn lc_dyn;
sl_code lc_dyn_resolve(lc_source *src, sl_err *err);
void lc_dyn_free(lc_dyn *d);
const json_t *lc_dyn_streams(const lc_source *src);
/* The dynamic definition's name a generated stream came from, else NULL. */
const char *lc_dyn_origin(const lc_source *src, const char *stream);
/* A dynamic definition's name ("dynamic_stream_<index>" when it has none). */
const char *lc_dyn_name(const json_t *dyn, size_t index, char *buf, size_t n);

/* One stream template (dynamic_streams[index]) with its mappings compiled:
 * the builder and lc_dyn_resolve fill it value by value. */
typedef struct lc_dyn_tmpl lc_dyn_tmpl;
sl_code lc_dyn_tmpl_new(lc_source *src, size_t index, lc_dyn_tmpl **out, sl_err *err);
void lc_dyn_tmpl_free(lc_dyn_tmpl *t);
const char *lc_dyn_tmpl_name(const lc_dyn_tmpl *t);
/* Each value of the components resolver, with its slice (Http) or NULL. */
typedef sl_code (*lc_dyn_value_fn)(void *ud, lc_dyn_tmpl *t, const json_t *values, const json_t *slice, size_t n,
                                   sl_err *err);
sl_code lc_dyn_each_value(lc_dyn_tmpl *t, lc_dyn_value_fn fn, void *ud, sl_err *err);
/* The records of a retriever (as a stream named `name`, located at `at`):
 * sliced by its partition router, or one empty slice (read_records({})).
 * fn sees each record and the slice as templates see it; *stop ends. */
typedef sl_code (*lc_dyn_record_fn)(void *ud, const json_t *rec, const json_t *slice, bool *stop, sl_err *err);
sl_code lc_dyn_read(lc_source *src, const json_t *retriever, const json_t *at, const char *name, bool sliced,
                    lc_dyn_record_fn fn, void *ud, sl_err *err);
/* DynamicSchemaLoader (dynschema.c): the schema from the first record of
 * its retriever through schema_type_identifier (new reference in *out). */
sl_code lc_dynschema_load(lc_source *src, const json_t *loader, const char *stream, json_t **out, sl_err *err);
/* The template filled for one value: *stream is the generated stream (types
 * and parameters propagated, located), owned by *holder (new reference). */
sl_code lc_dyn_fill(lc_dyn_tmpl *t, const json_t *values, const json_t *slice, size_t n, json_t **holder,
                    json_t **stream, sl_err *err);

#endif
