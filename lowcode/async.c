/* AsyncRetriever: server-side jobs per slice (create, poll, download), as the
 * CDK's AsyncJobOrchestrator and AsyncHttpJobRepository do it.
 *
 * The stream's own page machinery (stream.c) is the download retriever:
 * lc_stream_open gives it download_requester, download_paginator,
 * download_decoder and a selector of download_extractor with the retriever's
 * record filter and normalisation. This file builds the rest (creation,
 * polling, abort, delete and download-target requesters, the status and
 * download-target extractors, the status mapping) and runs the jobs.
 *
 * Time: the CDK polls every 5 s and times a job out after polling_job_timeout
 * minutes. Waits go through lc_sleep (scaled by SLUICE_BACKOFF_SCALE); a job's
 * age is the larger of the real time and the waits it went through unscaled,
 * so a test with a tiny scale times out after the same number of polls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

#define POLL_INTERVAL_S 5.0

typedef enum { J_RUNNING, J_COMPLETED, J_FAILED, J_TIMED_OUT, J_SKIPPED } jstatus;
static const char *const JSTATUS[] = {"RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "SKIPPED"};
static const char *const MAP_KEYS[] = {"running", "completed", "failed", "timeout", "skipped"};

typedef struct dpath {
  const json_t *node;
  char **keys;
  size_t n;
} dpath;

struct lc_async {
  lc_source *src;
  const json_t *node;
  lc_requester *create, *poll, *abort, *del, *target;
  const json_t *create_node, *poll_node, *abort_node, *del_node, *target_node;
  lc_ttree *create_headers; /* for creation_response.request.headers */
  lc_decoder *dec;          /* retriever.decoder (creation/polling); NULL: JSON */
  dpath status, targets;
  bool has_targets;
  json_t *map; /* API status -> jstatus (integer) */
  double timeout_min, failed_wait_s;
  long max_jobs;
  sl_buf decoded;
};

static sl_code dpath_build(lc_source *src, const json_t *node, dpath *p, sl_err *err) {
  p->node = node;
  const char *t = json_string_value(json_object_get(node, "type"));
  if (t && strcmp(t, "DpathExtractor"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported extractor \"%s\" (only DpathExtractor)", LC_WHERE(src, node), t);
  const json_t *fp = json_object_get(node, "field_path");
  if (fp && !json_is_array(fp)) return sl_err_set(err, SL_ECONFIG, "%s: field_path must be a list", LC_WHERE(src, node));
  p->keys = calloc(json_array_size(fp) + 1, sizeof *p->keys);
  if (!p->keys) return sl_err_set(err, SL_ENOMEM, "out of memory");
  size_t i;
  json_t *seg;
  json_array_foreach(fp, i, seg) {
    sl_tmpl *tp = NULL;
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    sl_code rc = lc_tmpl_value(src, node, "field_path", seg, &tp, err);
    if (!rc) rc = lc_eval_text_at(src, node, tp, &b, err);
    sl_tmpl_free(tp);
    if (!rc) p->keys[p->n++] = strdup(sl_buf_cstr(&b));
    sl_buf_dispose(&b);
    if (rc) return rc;
  }
  return SL_EOK;
}

static void dpath_dispose(dpath *p) {
  for (size_t i = 0; i < p->n; i++) free(p->keys[i]);
  free(p->keys);
}

/* DpathExtractor.extract_records: the values at the path ('*' matches every
 * member), a list spread into its items; appended to out. */
static void dpath_walk(const json_t *cur, char *const *keys, size_t n, json_t *out) {
  if (!cur) return;
  if (!n) {
    if (json_is_array(cur)) json_array_extend(out, (json_t *)cur);
    else json_array_append(out, (json_t *)cur);
    return;
  }
  if (!strcmp(keys[0], "*")) {
    if (json_is_object(cur)) {
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)cur, k, v) dpath_walk(v, keys + 1, n - 1, out);
    } else if (json_is_array(cur)) {
      size_t i;
      json_t *v;
      json_array_foreach(cur, i, v) dpath_walk(v, keys + 1, n - 1, out);
    }
    return;
  }
  dpath_walk(lc_json_path(cur, (const char *const *)keys, 1), keys + 1, n - 1, out);
}

static sl_code build_req(lc_source *src, const json_t *ret, const char *field, bool required, lc_requester **out,
                         const json_t **node, sl_err *err) {
  *node = json_object_get(ret, field);
  if (!*node || json_is_null(*node)) {
    *node = NULL;
    return required ? sl_err_set(err, SL_ECONFIG, "%s: the AsyncRetriever needs %s", LC_WHERE(src, ret), field) : SL_EOK;
  }
  return lc_requester_build(src, *node, out, err);
}

static sl_code eval_number(lc_source *src, const json_t *node, const char *field, double *out, sl_err *err) {
  char *s = NULL;
  sl_code rc = lc_render_field(src, node, field, &s, err);
  if (rc || !s) return rc;
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || v <= 0)
    rc = sl_err_set(err, SL_ECONFIG, "%s: %s must be a positive number, not \"%s\"",
                    sl_manifest_where_member(src->m, node, field, 0, (char[320]){0}, 320), field, s);
  else *out = v;
  free(s);
  return rc;
}

sl_code lc_async_build(lc_source *src, const json_t *ret, lc_async **out, sl_err *err) {
  lc_async *a = calloc(1, sizeof *a);
  if (!a) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = a;
  a->src = src;
  a->node = ret;
  a->max_jobs = 1;
  a->failed_wait_s = -1;
  sl_buf_init(&a->decoded, (size_t)1 << 32);
  sl_code rc;
  if ((rc = build_req(src, ret, "creation_requester", true, &a->create, &a->create_node, err)) ||
      (rc = build_req(src, ret, "polling_requester", true, &a->poll, &a->poll_node, err)) ||
      (rc = build_req(src, ret, "abort_requester", false, &a->abort, &a->abort_node, err)) ||
      (rc = build_req(src, ret, "delete_requester", false, &a->del, &a->del_node, err)) ||
      (rc = build_req(src, ret, "download_target_requester", false, &a->target, &a->target_node, err)))
    return rc;
  static const char *const url_fields[] = {"url_base", "path", "url", NULL};
  if ((rc = lc_check_config_keys(src, a->create_node, url_fields, err))) return rc;
  if ((rc = lc_ttree_build(src, a->create_node, "request_headers", &a->create_headers, err))) return rc;
  if ((rc = lc_decoder_build(src, json_object_get(ret, "decoder"), &a->dec, err))) return rc;
  const json_t *se = json_object_get(ret, "status_extractor");
  if (!se) return sl_err_set(err, SL_ECONFIG, "%s: the AsyncRetriever needs status_extractor", LC_WHERE(src, ret));
  if ((rc = dpath_build(src, se, &a->status, err))) return rc;
  const json_t *te = json_object_get(ret, "download_target_extractor");
  if (te && !json_is_null(te)) {
    a->has_targets = true;
    if ((rc = dpath_build(src, te, &a->targets, err))) return rc;
  } else if (a->target) {
    return sl_err_set(err, SL_ECONFIG, "%s: a download_target_requester needs a download_target_extractor",
                      LC_WHERE(src, a->target_node));
  }
  /* status_mapping: each API status once; the four CDK statuses required. */
  const json_t *sm = json_object_get(ret, "status_mapping");
  if (!json_is_object(sm)) return sl_err_set(err, SL_ECONFIG, "%s: the AsyncRetriever needs status_mapping", LC_WHERE(src, ret));
  a->map = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)sm, k, v) {
    if (!strcmp(k, "type") || !strcmp(k, "$parameters")) continue;
    int st = -1;
    for (int i = 0; i < 5; i++)
      if (!strcmp(k, MAP_KEYS[i])) st = i;
    if (st < 0) return sl_err_set(err, SL_ECONFIG, "%s: unknown job status \"%s\" in status_mapping (running, completed, failed, timeout, skipped)", LC_WHERE(src, sm), k);
    if (!json_is_array(v)) return sl_err_set(err, SL_ECONFIG, "%s: status_mapping.%s must be a list of API statuses", LC_WHERE(src, sm), k);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
      sl_buf b;
      sl_buf_init(&b, 1 << 12);
      lc_pystr(&b, s);
      const char *name = sl_buf_cstr(&b);
      if (json_object_get(a->map, name)) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: API status \"%s\" is mapped twice in status_mapping", LC_WHERE(src, sm), name);
        sl_buf_dispose(&b);
        return rc;
      }
      json_object_set_new(a->map, name, json_integer(st));
      sl_buf_dispose(&b);
    }
  }
  for (int i = 0; i < 4; i++)
    if (!json_object_get(sm, MAP_KEYS[i]))
      return sl_err_set(err, SL_ECONFIG, "%s: status_mapping needs `%s` (an empty list if the API has no such status)",
                        LC_WHERE(src, sm), MAP_KEYS[i]);
  if ((rc = eval_number(src, ret, "polling_job_timeout", &a->timeout_min, err))) return rc;
  if ((rc = eval_number(src, ret, "failed_retry_wait_time_in_seconds", &a->failed_wait_s, err))) return rc;
  double mj = 0;
  if ((rc = eval_number(src, src->root, "max_concurrent_async_job_count", &mj, err))) return rc;
  if (mj >= 1) a->max_jobs = (long)mj;
  return SL_EOK;
}

void lc_async_free(lc_async *a) {
  if (!a) return;
  lc_requester_free(a->create);
  lc_requester_free(a->poll);
  lc_requester_free(a->abort);
  lc_requester_free(a->del);
  lc_requester_free(a->target);
  lc_ttree_free(a->create_headers);
  lc_decoder_free(a->dec);
  dpath_dispose(&a->status);
  dpath_dispose(&a->targets);
  json_decref(a->map);
  sl_buf_dispose(&a->decoded);
  free(a);
}

/* ---- running jobs ---- */

typedef struct job {
  json_t *slice;    /* the slicer's slice */
  json_t *creation; /* creation_response context, NULL before a creation succeeded */
  json_t *polling;  /* the last polling response context */
  jstatus status;
  int attempts;
  bool creation_failure, retry_deferred, aborted;
  double t_real, t_virt, retry_at; /* seconds: start (real, virtual); deferred retry (virtual) */
  char why[600];
} job;

struct lc_async_run {
  lc_async *a;
  lc_stream *st;
  lc_slicer *sl;
  sl_http *http;
  job **q; /* started jobs, in slice order */
  size_t n;
  unsigned slices, max_slices;
  bool slices_done, limited;
  json_t *peeked; /* a slice taken but not started */
  int max_attempts;
  double timeout_s, vclock;
  job *current; /* returned by next, deleted by done */
};

sl_code lc_async_run_new(lc_stream *st, lc_slicer *sl, sl_http *http, const lc_async_opts *o, lc_async_run **out,
                         sl_err *err) {
  lc_async_run *r = calloc(1, sizeof *r);
  if (!r) return sl_err_set(err, SL_ENOMEM, "out of memory");
  r->a = lc_async_of(st);
  r->st = st;
  r->sl = sl;
  r->http = http;
  r->max_slices = o ? o->max_slices : 0;
  /* as the CDK: 3 attempts per job, 1 in the builder; 60 min, 15 in the builder */
  r->max_attempts = o && o->test_read ? 1 : 3;
  double tmin = r->a->timeout_min > 0 ? r->a->timeout_min : (o && o->test_read ? 15 : 60);
  r->timeout_s = tmin * 60;
  if (!(r->q = calloc((size_t)r->a->max_jobs, sizeof *r->q))) {
    free(r);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  *out = r;
  return SL_EOK;
}

bool lc_async_run_limited(const lc_async_run *r) { return r->limited; }

static void job_free(job *j) {
  if (!j) return;
  json_decref(j->slice);
  json_decref(j->creation);
  json_decref(j->polling);
  free(j);
}

static double now_s(void) { return (double)lc_now_us() / 1e6; }

static double job_age(const lc_async_run *r, const job *j) {
  double real = now_s() - j->t_real, virt = r->vclock - j->t_virt;
  return real > virt ? real : virt;
}

static void marker(lc_source *src, const char *type, const char *title) {
  if (src->debug) lc_log(src, "DEBUG", "Async job -- %s (%s)", title, type);
}

/* The context of a job's requests: the slice (stream_slice also shows
 * extra_fields, as the CDK's StreamSlice attribute) and its extra fields
 * as top-level names. */
static json_t *job_ctx(const lc_source *src, const json_t *req_node, const json_t *partition, const json_t *cursor,
                       const json_t *extra) {
  json_t *ctx = lc_ctx_new(src, req_node);
  json_t *view = partition ? json_deep_copy(partition) : NULL;
  if (!view) view = json_object();
  json_object_update(view, (json_t *)cursor);
  if (json_object_size(extra)) json_object_set(view, "extra_fields", (json_t *)extra);
  json_object_set(ctx, "stream_slice", view);
  json_object_set(ctx, "stream_partition", view);
  json_object_set_new(ctx, "stream_interval", view);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)extra, k, v) json_object_set(ctx, k, v);
  json_object_set_new(ctx, "next_page_token", json_null());
  return ctx;
}

static json_t *slice_ctx(const lc_source *src, const json_t *req_node, const json_t *slice, json_t *add_extra) {
  json_t *extra = json_deep_copy(json_object_get(slice, "extra_fields"));
  if (!extra) extra = json_object();
  if (add_extra) json_object_update(extra, add_extra);
  json_t *ctx = job_ctx(src, req_node, json_object_get(slice, "partition"), json_object_get(slice, "cursor_slice"), extra);
  json_decref(extra);
  return ctx;
}

/* The decoded response (retriever.decoder): a JSON value (new reference). */
static sl_code decode(lc_async_run *r, const lc_requester *req, const sl_http_resp *resp, json_t **out, sl_err *err) {
  lc_source *src = r->a->src;
  const char *body = resp->body.data ? resp->body.data : "";
  size_t len = resp->body.len;
  char *murl = sl_http_mask(r->http, resp->url), what[2300];
  snprintf(what, sizeof what, "the response of %s %s", lc_requester_method(req), murl ? murl : "?");
  free(murl);
  if (r->a->dec) {
    sl_code rc = lc_decoder_decode(src, r->a->dec, body, len, &r->a->decoded, what, err);
    if (rc) return rc;
    body = r->a->decoded.data;
    len = r->a->decoded.len;
  }
  size_t i = 0;
  while (i < len && strchr(" \t\r\n", body[i])) i++;
  if (i == len) {
    *out = json_object();
    return SL_EOK;
  }
  json_error_t je;
  *out = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  if (!*out)
    return sl_err_set(err, SL_ESOURCE, "%s is not valid JSON (line %d: %s; HTTP %ld; decoder of the retriever at %s)", what,
                      je.line, je.text, resp->status, LC_WHERE(src, r->a->node));
  if (r->a->dec && json_array_size(*out) == 1) { /* one decoded item: the response */
    json_t *one = json_incref(json_array_get(*out, 0));
    json_decref(*out);
    *out = one;
  }
  return SL_EOK;
}

/* creation_response / polling_response: the body's members, plus "headers"
 * and "request" unless the body has them (as the CDK). */
static sl_code response_ctx(lc_async_run *r, const lc_requester *req, const json_t *req_ctx, const sl_http_resp *resp,
                            json_t **out, sl_err *err) {
  json_t *body = NULL;
  sl_code rc = decode(r, req, resp, &body, err);
  if (rc) return rc;
  if (!json_is_object(body)) {
    json_decref(body);
    char *murl = sl_http_mask(r->http, resp->url);
    rc = sl_err_set(err, SL_ESOURCE, "the response of %s %s is not a JSON object, so it cannot be the job's response context (stream %s)",
                    lc_requester_method(req), murl ? murl : "?", lc_stream_name(r->st));
    free(murl);
    return rc;
  }
  if (!json_object_get(body, "headers")) json_object_set_new(body, "headers", lc_headers_json(resp));
  if (!json_object_get(body, "request")) {
    char *murl = sl_http_mask(r->http, resp->url);
    json_t *rq = json_pack("{s:s,s:s}", "url", murl ? murl : "", "method", lc_requester_method(req));
    free(murl);
    json_t *h = NULL;
    if (req == r->a->create && r->a->create_headers &&
        lc_ttree_eval(r->a->create_headers, req_ctx, SL_TMPL_ANY, &h, &(sl_err)SL_ERR_INIT) == SL_EOK && json_is_object(h))
      json_object_set(rq, "headers", h);
    else json_object_set_new(rq, "headers", json_object());
    json_decref(h);
    json_object_set_new(body, "request", rq);
  }
  *out = body;
  return SL_EOK;
}

/* One request of a job; *ok false when the error handler ignored it. */
static sl_code send(lc_async_run *r, lc_requester *req, const json_t *ctx, sl_http_resp *resp, bool *ok, sl_err *err) {
  lc_resolution res = {0};
  sl_code rc = lc_requester_send(req, r->http, ctx, NULL, NULL, resp, &res, err);
  *ok = !rc && res.action == LC_ACT_SUCCESS;
  return rc;
}

static char *slice_text(const json_t *slice) {
  json_t *v = lc_slice_view(slice);
  char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(v);
  return s;
}

/* Create the job of j->slice: on success RUNNING with its creation
 * response; on a failure that is not a configuration error FAILED (retried
 * as the CDK does: a job that could not start counts as a failed attempt). */
static sl_code start(lc_async_run *r, job *j, sl_err *err) {
  lc_async *a = r->a;
  j->attempts++;
  j->status = J_RUNNING;
  j->creation_failure = j->retry_deferred = j->aborted = false;
  j->t_real = now_s();
  j->t_virt = r->vclock;
  json_decref(j->creation);
  json_decref(j->polling);
  j->creation = j->polling = NULL;
  marker(a->src, "ASYNC_CREATE", "Create");
  json_t *ctx = slice_ctx(a->src, a->create_node, j->slice, NULL);
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  bool ok;
  sl_err cerr = SL_ERR_INIT;
  sl_code rc = send(r, a->create, ctx, &resp, &ok, &cerr);
  if (!rc && ok) rc = response_ctx(r, a->create, ctx, &resp, &j->creation, &cerr);
  else if (!rc) rc = sl_err_set(&cerr, SL_ESOURCE, "the creation request was answered HTTP %ld and ignored", resp.status);
  json_decref(ctx);
  sl_http_resp_dispose(&resp);
  if (!rc) return SL_EOK;
  if (rc == SL_ECONFIG || rc == SL_ENOMEM) { /* breaking, as a config_error in the CDK */
    *err = cerr;
    return rc;
  }
  char *s = slice_text(j->slice);
  lc_log(a->src, "WARN", "stream %s: could not start the job for slice %s (attempt %d of %d): %s", lc_stream_name(r->st),
         s ? s : "?", j->attempts, r->max_attempts, cerr.msg);
  free(s);
  snprintf(j->why, sizeof j->why, "its creation failed: %s", cerr.msg);
  j->status = J_FAILED;
  j->creation_failure = true;
  return SL_EOK;
}

static sl_code poll(lc_async_run *r, job *j, sl_err *err) {
  lc_async *a = r->a;
  lc_source *src = a->src;
  marker(src, "ASYNC_POLL", "Polling");
  json_t *add = json_pack("{s:O}", "creation_response", j->creation);
  json_t *ctx = slice_ctx(src, a->poll_node, j->slice, add);
  json_decref(add);
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  bool ok;
  json_t *body = NULL, *vals = json_array();
  sl_code rc = send(r, a->poll, ctx, &resp, &ok, err);
  if (!rc && !ok) rc = sl_err_set(err, SL_ESOURCE, "the polling request was answered HTTP %ld and ignored (polling_requester at %s)",
                                  resp.status, LC_WHERE(src, a->poll_node));
  if (!rc) rc = decode(r, a->poll, &resp, &body, err);
  if (!rc) {
    dpath_walk(body, a->status.keys, a->status.n, vals);
    sl_buf b;
    sl_buf_init(&b, 1 << 12);
    json_t *first = json_array_get(vals, 0);
    if (first) lc_pystr(&b, first);
    else sl_buf_append(&b, "None", 4);
    const char *api = sl_buf_cstr(&b);
    json_t *m = json_object_get(a->map, api);
    if (!m) {
      rc = sl_err_set(err, SL_ESOURCE, "API status `%s` is unknown: the status_mapping at %s does not name it (status_extractor at %s)",
                      api, LC_WHERE(src, json_object_get(a->node, "status_mapping")),
                      LC_WHERE(src, a->status.node));
    } else {
      jstatus st = (jstatus)json_integer_value(m);
      if (src->debug && st != j->status)
        lc_log(src, "DEBUG", "stream %s: job status changed from %s to %s (API status `%s`)", lc_stream_name(r->st),
               JSTATUS[j->status], JSTATUS[st], api);
      if (st == J_FAILED || st == J_TIMED_OUT) snprintf(j->why, sizeof j->why, "the API reported status `%s`", api);
      j->status = st;
      if (st == J_COMPLETED) rc = response_ctx(r, a->poll, ctx, &resp, &j->polling, err);
    }
    sl_buf_dispose(&b);
  }
  json_decref(body);
  json_decref(vals);
  json_decref(ctx);
  sl_http_resp_dispose(&resp);
  return rc;
}

/* Abort (timed out, or the read stops) and delete: the job's creation context. */
static void aux_request(lc_async_run *r, job *j, lc_requester *req, const json_t *node, const char *type, const char *title,
                        sl_err *err) {
  if (!req || !j->creation) return;
  marker(r->a->src, type, title);
  json_t *add = json_pack("{s:O}", "creation_response", j->creation);
  json_t *ctx = slice_ctx(r->a->src, node, j->slice, add);
  json_decref(add);
  sl_http_resp resp;
  sl_http_resp_init(&resp);
  bool ok;
  send(r, req, ctx, &resp, &ok, err);
  json_decref(ctx);
  sl_http_resp_dispose(&resp);
}

static void abort_job(lc_async_run *r, job *j) {
  if (j->aborted) return;
  j->aborted = true;
  sl_err e = SL_ERR_INIT;
  aux_request(r, j, r->a->abort, r->a->abort_node, "ASYNC_ABORT", "Abort", &e);
  if (e.code) lc_log(r->a->src, "WARN", "stream %s: could not abort a job: %s", lc_stream_name(r->st), e.msg);
}

/* The slices of completed jobs' downloads: one per download target. */
static sl_code downloads(lc_async_run *r, job *j, json_t **out, sl_err *err) {
  lc_async *a = r->a;
  *out = json_array();
  json_t *targets = json_array();
  sl_code rc = SL_EOK;
  if (!a->has_targets) {
    json_array_append_new(targets, json_string("")); /* one download without a target */
  } else if (a->target) {
    marker(a->src, "ASYNC_DOWNLOAD_TARGET", "Download target");
    json_t *extra = json_pack("{s:O}", "polling_response", j->polling);
    json_t *ctx = job_ctx(a->src, a->target_node, NULL, NULL, extra);
    json_decref(extra);
    sl_http_resp resp;
    sl_http_resp_init(&resp);
    bool ok;
    json_t *body = NULL;
    rc = send(r, a->target, ctx, &resp, &ok, err);
    if (!rc && !ok) rc = sl_err_set(err, SL_ESOURCE, "the download target request was answered HTTP %ld and ignored (at %s)",
                                    resp.status, LC_WHERE(a->src, a->target_node));
    if (!rc) rc = decode(r, a->target, &resp, &body, err);
    if (!rc) dpath_walk(body, a->targets.keys, a->targets.n, targets);
    json_decref(body);
    json_decref(ctx);
    sl_http_resp_dispose(&resp);
  } else {
    json_t *body = json_deep_copy(j->polling);
    json_object_del(body, "request"); /* the response body as the API sent it */
    dpath_walk(body, a->targets.keys, a->targets.n, targets);
    json_decref(body);
  }
  size_t i;
  json_t *t;
  json_array_foreach(targets, i, t) {
    if (rc) break;
    json_t *extra = json_deep_copy(json_object_get(j->slice, "extra_fields"));
    if (!extra) extra = json_object();
    json_object_set(extra, "download_target", t);
    json_object_set(extra, "creation_response", j->creation);
    json_object_set(extra, "polling_response", j->polling);
    json_array_append_new(*out, lc_slice_new(json_deep_copy(json_object_get(j->slice, "partition")),
                                             json_deep_copy(json_object_get(j->slice, "cursor_slice")), extra));
  }
  json_decref(targets);
  if (rc) json_decref(*out), *out = NULL; /* the caller keeps nothing of a failed call */
  return rc;
}

/* Take slices and start their jobs up to the job limit. */
static sl_code fill(lc_async_run *r, sl_err *err) {
  while (r->n < (size_t)r->a->max_jobs && !r->slices_done) {
    json_t *slice = r->peeked;
    r->peeked = NULL;
    if (!slice) {
      sl_code rc = r->sl->ops->next(r->sl, &slice, err);
      if (rc) return rc;
    }
    if (!slice) {
      r->slices_done = true;
      break;
    }
    if (r->max_slices && r->slices == r->max_slices) { /* a test read's slice limit */
      r->limited = true;
      r->slices_done = true;
      json_decref(slice);
      break;
    }
    r->slices++;
    job *j = calloc(1, sizeof *j);
    if (!j) {
      json_decref(slice);
      return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    j->slice = slice;
    r->q[r->n++] = j;
    sl_code rc = start(r, j, err);
    if (rc) return rc;
  }
  return SL_EOK;
}

static sl_code exhausted(lc_async_run *r, job *j, sl_err *err) {
  char *s = slice_text(j->slice);
  sl_code rc = sl_err_set(err, SL_ESOURCE,
                          "the async job for slice %s did not complete after %d attempt(s): %s %s (AsyncRetriever at %s)",
                          s ? s : "?", j->attempts, JSTATUS[j->status], j->why,
                          LC_WHERE(r->a->src, r->a->node));
  free(s);
  return rc;
}

sl_code lc_async_run_next(lc_async_run *r, json_t **slice, json_t **dls, sl_err *err) {
  *slice = *dls = NULL;
  lc_source *src = r->a->src;
  for (;;) {
    /* Failed and timed-out jobs start again while attempts are left (a
     * FAILED job after failed_retry_wait_time_in_seconds if set). */
    for (size_t i = 0; i < r->n; i++) {
      job *j = r->q[i];
      if ((j->status != J_FAILED && j->status != J_TIMED_OUT) || j->attempts >= r->max_attempts) continue;
      if (j->status == J_TIMED_OUT) abort_job(r, j);
      if (j->status == J_FAILED && !j->creation_failure && r->a->failed_wait_s > 0) {
        if (!j->retry_deferred) {
          j->retry_deferred = true;
          j->retry_at = r->vclock + r->a->failed_wait_s;
          lc_log(src, "INFO", "stream %s: a job failed (%s); retrying it in %.0f s", lc_stream_name(r->st), j->why,
                 r->a->failed_wait_s);
        }
        if (r->vclock < j->retry_at) continue;
      }
      lc_log(src, "INFO", "stream %s: starting the job again (%s; attempt %d of %d)", lc_stream_name(r->st), j->why,
             j->attempts + 1, r->max_attempts);
      sl_code rc = start(r, j, err);
      if (rc) return rc;
    }
    sl_code rc = fill(r, err);
    if (rc) return rc;
    if (!r->n) return SL_EOK; /* every slice done */
    for (size_t i = 0; i < r->n; i++) {
      job *j = r->q[i];
      if (j->status != J_RUNNING) continue;
      if (job_age(r, j) > r->timeout_s) {
        j->status = J_TIMED_OUT;
        snprintf(j->why, sizeof j->why, "no result after polling_job_timeout (%.0f min)", r->timeout_s / 60);
        abort_job(r, j);
        continue;
      }
      if ((rc = poll(r, j, err))) return rc;
    }
    /* A completed head goes first (its records and state are kept even when
     * a later job has run out of attempts: that fails at the next call). */
    job *h = r->q[0];
    if (h->status == J_COMPLETED || h->status == J_SKIPPED) {
      memmove(r->q, r->q + 1, (r->n - 1) * sizeof *r->q);
      r->n--;
      r->current = h;
      if (h->status == J_COMPLETED) {
        if ((rc = downloads(r, h, dls, err))) return rc;
      } else {
        *dls = json_array();
        char *s = slice_text(h->slice);
        lc_log(src, "INFO", "stream %s: the job for slice %s was skipped by the API (no data)", lc_stream_name(r->st), s ? s : "?");
        free(s);
      }
      *slice = json_incref(h->slice);
      return SL_EOK;
    }
    for (size_t i = 0; i < r->n; i++)
      if ((r->q[i]->status == J_FAILED || r->q[i]->status == J_TIMED_OUT) && r->q[i]->attempts >= r->max_attempts)
        return exhausted(r, r->q[i], err);
    if (src->debug)
      lc_log(src, "DEBUG", "stream %s: %zu job(s) running; waiting %.0f s before polling again", lc_stream_name(r->st), r->n,
             POLL_INTERVAL_S);
    lc_sleep(POLL_INTERVAL_S);
    r->vclock += POLL_INTERVAL_S;
  }
}

sl_code lc_async_run_done(lc_async_run *r, sl_err *err) {
  job *j = r->current;
  r->current = NULL;
  if (!j) return SL_EOK;
  sl_err e = SL_ERR_INIT;
  if (j->status == J_COMPLETED) aux_request(r, j, r->a->del, r->a->del_node, "ASYNC_DELETE", "Delete", &e);
  sl_code rc = e.code;
  if (rc) *err = e;
  job_free(j);
  return rc;
}

void lc_async_run_free(lc_async_run *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    if (r->q[i]->status == J_RUNNING || r->q[i]->status == J_TIMED_OUT) abort_job(r, r->q[i]);
    job_free(r->q[i]);
  }
  job_free(r->current);
  json_decref(r->peeked);
  free(r->q);
  free(r);
}
