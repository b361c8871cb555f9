/* DeclarativeStream + SimpleRetriever: building a stream's components and
 * the read loop (slices -> pages -> records -> state; notes §6.4). */
#include <stdio.h>
#include <stdlib.h>

#include "lc.h"

struct lc_stream {
  lc_source *src;
  const json_t *node, *retriever;
  const char *name;
  json_t *schema;
  lc_requester *req;
  lc_selector *sel;
  lc_paginator *pag;
  lc_transforms *tf;
  sl_http *http;
  sl_jparser *parser;
  lc_decoder *dec;  /* a non-JSON decoder (decoder.c), or NULL */
  sl_buf decoded;   /* its output: JSON text of the decoded items */
  bool plain; /* records go out as they are */
  bool view_path; /* filter and transformations on the record view */
  lc_patch *patch;  /* the transformations as a patch over the view (transform.c) */
  bool prefetch;    /* SLUICE_PREFETCH is not 0 */
  bool ignore_slicer_on_pages;
  lc_async *async;  /* an AsyncRetriever's jobs (async.c); the fields above are its download part */
  /* pagination_reset (PaginationReset): RESET_PAGINATION responses and the
   * record limit restart pagination; SPLIT_USING_CURSOR moves the slice's
   * start to the newest cursor value read (a DatetimeBasedCursor's slices). */
  const json_t *reset_node;
  long reset_limit;  /* PaginationResetLimits.number_of_records; 0: none */
  bool split;        /* SPLIT_USING_CURSOR with a cursor to split by */
  char *split_key;   /* the cursor slice's start field (partition_field_start) */
  json_t *async_rs; /* its download selector: download_extractor + the record selector's filter */
};

lc_async *lc_async_of(const lc_stream *st) { return st->async; }
sl_http *lc_stream_http(lc_stream *st) { return st->http; }

const json_t *lc_stream_node(const lc_stream *st) { return st->node; }
lc_source *lc_stream_source(const lc_stream *st) { return st->src; }
const char *lc_stream_name(const lc_stream *st) { return st->name; }

static const json_t *params_of(const json_t *node) { return json_object_get(node, "$parameters"); }

static json_t *base_ctx(lc_source *src, const json_t *node) { return lc_ctx_new(src, node); }

/* stream_slice/stream_partition/stream_interval: the partition and cursor
 * slice, plus extra_fields. */
static void set_slice_views(json_t *ctx, const json_t *slice) {
  json_t *view = lc_slice_view_extra(slice);
  json_object_set(ctx, "stream_slice", view);
  json_object_set(ctx, "stream_partition", view);
  json_object_set(ctx, "stream_interval", view);
  json_decref(view);
}

static void http_debug(void *ud, const char *text) { lc_log(ud, "DEBUG", "%s", text); }

/* PaginationReset of a SimpleRetriever (the CDK's PaginationTracker). */
static sl_code reset_build(lc_stream *st, const json_t *rs, sl_err *err) {
  lc_source *src = st->src;
  const json_t *n = json_object_get(st->retriever, "pagination_reset");
  if (!n || json_is_null(n)) return SL_EOK;
  st->reset_node = n;
  const char *type = json_string_value(json_object_get(n, "type"));
  if (!type || strcmp(type, "PaginationReset"))
    return sl_err_set(err, SL_ECONFIG, "%s: pagination_reset must be a PaginationReset", LC_WHERE(src, n));
  const char *action = json_string_value(json_object_get(n, "action"));
  if (!action || (strcmp(action, "RESET") && strcmp(action, "SPLIT_USING_CURSOR")))
    return sl_err_set(err, SL_ECONFIG, "%s: PaginationReset action must be RESET or SPLIT_USING_CURSOR, not %s",
                      LC_WHERE(src, n), action ? action : "(none)");
  const json_t *lim = json_object_get(n, "limits");
  if (lim && !json_is_null(lim)) {
    const json_t *nr = json_object_get(lim, "number_of_records");
    if (nr && (!json_is_integer(nr) || json_integer_value(nr) <= 0))
      return sl_err_set(err, SL_ECONFIG, "%s: number_of_records must be a positive integer", LC_WHERE(src, lim));
    st->reset_limit = nr ? (long)json_integer_value(nr) : 0;
    const json_t *f = json_object_get(rs, "record_filter");
    if (st->reset_limit && f && !json_is_null(f)) /* as the CDK: the count would miss filtered records */
      return sl_err_set(err, SL_ECONFIG, "%s: PaginationResetLimits cannot be used with a record_filter (%s)", LC_WHERE(src, lim),
                        LC_WHERE(src, f));
  }
  if (strcmp(action, "SPLIT_USING_CURSOR")) return SL_EOK;
  const json_t *inc = json_object_get(st->node, "incremental_sync");
  const json_t *router = json_object_get(st->retriever, "partition_router");
  const char *itype = json_string_value(json_object_get(inc, "type"));
  bool routed = router && !json_is_null(router) && !(json_is_array(router) && !json_array_size(router));
  if (!itype || strcmp(itype, "DatetimeBasedCursor")) { /* the CDK warns and resets without splitting */
    lc_log(src, "WARN", "%s: SPLIT_USING_CURSOR without a DatetimeBasedCursor: pagination restarts without moving the slice",
           LC_WHERE(src, n));
    return SL_EOK;
  }
  if (routed)
    return sl_err_set(err, SL_ECONFIG, "%s: SPLIT_USING_CURSOR with a partition router is not supported yet by sluice", LC_WHERE(src, n));
  sl_code rc = lc_render_field(src, inc, "partition_field_start", &st->split_key, err);
  if (!rc && (!st->split_key || !*st->split_key)) {
    free(st->split_key);
    st->split_key = strdup("start_time");
  }
  st->split = !rc;
  return rc;
}

sl_code lc_stream_open(lc_source *src, const json_t *node, lc_stream **out, sl_err *err) {
  lc_stream *st = calloc(1, sizeof *st);
  if (!st) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = st;
  st->src = src;
  st->node = node;
  st->name = json_string_value(json_object_get(node, "name"));
  const char *type = json_string_value(json_object_get(node, "type"));
  if (type && strcmp(type, "DeclarativeStream"))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported stream type \"%s\"", LC_WHERE(src, node), type);
  sl_code rc = lc_stream_schema(src, node, &st->schema, err);
  if (rc) return rc;
  st->retriever = json_object_get(node, "retriever");
  const char *rt = json_string_value(json_object_get(st->retriever, "type"));
  bool async = rt && !strcmp(rt, "AsyncRetriever");
  if (!st->retriever || (rt && strcmp(rt, "SimpleRetriever") && !async))
    return sl_err_set(err, SL_ECONFIG, "%s: unsupported retriever \"%s\"", LC_WHERE(src, st->retriever ? st->retriever : node),
                      rt ? rt : "(none)");
  if (async && (rc = lc_async_build(src, st->retriever, &st->async, err))) return rc;
  /* An AsyncRetriever's pages are its downloads (the CDK's download retriever). */
  const char *f_dec = async ? "download_decoder" : "decoder", *f_req = async ? "download_requester" : "requester",
             *f_pag = async ? "download_paginator" : "paginator";
  sl_buf_init(&st->decoded, (size_t)1 << 34);
  if ((rc = lc_decoder_build(src, json_object_get(st->retriever, f_dec), &st->dec, err))) return rc;
  st->ignore_slicer_on_pages = json_is_true(json_object_get(st->retriever, "ignore_stream_slicer_parameters_on_paginated_requests"));
  if (!json_object_get(st->retriever, f_req))
    return sl_err_set(err, SL_ECONFIG, "%s: the retriever needs a %s", LC_WHERE(src, st->retriever), f_req);
  if ((rc = lc_requester_build(src, json_object_get(st->retriever, f_req), &st->req, err))) return rc;
  static const char *const url_fields[] = {"url_base", "path", "url", NULL};
  if ((rc = lc_check_config_keys(src, json_object_get(st->retriever, f_req), url_fields, err))) return rc;
  const json_t *rs = json_object_get(st->retriever, "record_selector");
  if (!rs) return sl_err_set(err, SL_ECONFIG, "%s: the retriever needs a record_selector", LC_WHERE(src, st->retriever));
  if (async) { /* the CDK extracts downloads with download_extractor, then filters with the record selector */
    const json_t *dx = json_object_get(st->retriever, "download_extractor");
    st->async_rs = json_copy((json_t *)rs);
    json_object_set_new(st->async_rs, "extractor", dx && !json_is_null(dx) ? json_incref((json_t *)dx)
                                                                            : json_pack("{s:s,s:[]}", "type", "DpathExtractor", "field_path"));
    rs = st->async_rs;
  }
  if ((rc = lc_selector_build(src, rs, st->schema, &st->sel, err))) return rc;
  if (!async && (rc = reset_build(st, rs, err))) return rc;
  const json_t *pn = json_object_get(st->retriever, f_pag);
  if ((rc = lc_paginator_build(src, pn && !json_is_null(pn) ? pn : NULL, &st->pag, err))) return rc;
  const json_t *tfs = json_object_get(node, "transformations");
  if (json_array_size(tfs) && (rc = lc_transforms_build(src, tfs, &st->tf, err))) return rc;
  const json_t *ex = json_object_get(rs, "extractor");
  json_t *ectx = base_ctx(src, ex ? ex : rs);
  rc = lc_selector_prepare(src, st->sel, ectx, err);
  json_decref(ectx);
  if (rc) return rc;
  st->plain = lc_selector_is_plain(st->sel) && !st->tf;
  st->view_path = !st->plain && lc_selector_filter_on_view(st->sel) && (!st->tf || lc_transforms_patchable(st->tf));
  if (st->view_path && st->tf && !(st->patch = lc_patch_new())) return sl_err_set(err, SL_ENOMEM, "out of memory");
  const char *pf = getenv("SLUICE_PREFETCH");
  st->prefetch = !pf || strcmp(pf, "0");
  sl_http_opts ho = {0};
  const char *mb = getenv("SLUICE_HTTP_MAX_BODY"); /* bytes; default 256 MiB */
  if (mb && *mb) ho.max_body = (size_t)strtoull(mb, NULL, 10);
  if (!(st->http = sl_http_new(&ho, err))) return err->code;
  for (size_t i = 0; i < src->n_secrets; i++) sl_http_add_secret(st->http, src->secrets[i]);
  if (src->debug) sl_http_set_debug(st->http, http_debug, src);
  if (!(st->parser = sl_jparser_new((size_t)1 << 32))) return sl_err_set(err, SL_ENOMEM, "out of memory");
  return SL_EOK;
}

void lc_stream_close(lc_stream *st) {
  if (!st) return;
  json_decref(st->schema);
  lc_requester_free(st->req);
  lc_selector_free(st->sel);
  lc_paginator_free(st->pag);
  lc_transforms_free(st->tf);
  lc_patch_free(st->patch);
  sl_http_free(st->http);
  sl_jparser_free(st->parser);
  lc_decoder_free(st->dec);
  sl_buf_dispose(&st->decoded);
  lc_async_free(st->async);
  json_decref(st->async_rs);
  free(st->split_key);
  free(st);
}

/* ---- pages ---- */

void lc_pages_begin(lc_stream *st, lc_slicer *slicer, const json_t *slice, lc_pages *pg) {
  memset(pg, 0, sizeof *pg);
  pg->st = st;
  pg->slicer = slicer;
  pg->slice = slice;
  pg->first = true;
  sl_http_resp_init(&pg->resp);
  pg->ctx = base_ctx(st->src, st->node);
  set_slice_views(pg->ctx, slice);
  lc_paginator_start(st->pag, &pg->ps);
}

/* Restart pagination (RESET_PAGINATION, or the record limit): the slice
 * moves to the newest cursor value read when splitting; the same slice may
 * be read again once without a cursor and never with one (as the CDK). */
static sl_code reset_pages(lc_pages *pg, sl_err *err) {
  lc_stream *st = pg->st;
  json_t *next = json_deep_copy(pg->slice);
  if (st->split && pg->has_max && pg->slicer) {
    json_t *v = NULL;
    sl_code rc = lc_cursor_format(pg->slicer, pg->max_us, &v, err);
    if (rc) {
      json_decref(next);
      return rc;
    }
    json_object_set_new(json_object_get(next, "cursor_slice"), st->split_key, v);
  }
  char *from = json_dumps(json_object_get(pg->slice, "cursor_slice"), JSON_COMPACT | JSON_SORT_KEYS);
  char *to = json_dumps(json_object_get(next, "cursor_slice"), JSON_COMPACT | JSON_SORT_KEYS);
  sl_code rc = SL_EOK;
  if (json_equal(next, pg->slice)) {
    int allowed = st->split ? 1 : 2;
    if (++pg->same_slice >= allowed)
      rc = sl_err_set(err, SL_ESOURCE, "pagination cannot restart: the slice %s would be read again from its first page %s (%s)",
                      from ? from : "?",
                      st->split ? "(the newest cursor value read does not move its start)" : "a second time",
                      st->reset_node ? LC_WHERE(st->src, st->reset_node) : "without pagination_reset, one restart per slice");
  } else {
    pg->same_slice = 0;
  }
  if (!rc) {
    lc_log(st->src, "INFO", "stream %s: pagination reset (%s); the slice goes from %s to %s", st->name ? st->name : "?",
           pg->reset_due ? "record limit reached" : "RESET_PAGINATION", from ? from : "?", to ? to : "?");
    json_decref(pg->reduced);
    pg->reduced = next;
    pg->slice = next;
    set_slice_views(pg->ctx, next);
    lc_paginator_start(st->pag, &pg->ps); /* drops the old token */
    pg->first = true;
    pg->done = pg->reset_due = false;
    pg->since_reset = 0;
  } else {
    json_decref(next);
  }
  free(from);
  free(to);
  return rc;
}

sl_code lc_pages_observe(lc_pages *pg, lc_slicer *sl, const json_t *slice, const lc_record *r, sl_err *err) {
  sl_code rc = sl && sl->ops->observe ? sl->ops->observe(sl, slice, r, err) : SL_EOK;
  int64_t us;
  if (!rc && pg->st->split && sl && sl == pg->slicer && lc_cursor_last(sl, &us) && (!pg->has_max || us > pg->max_us)) {
    pg->max_us = us;
    pg->has_max = true;
  }
  return rc;
}

void lc_pages_end(lc_pages *pg) {
  json_decref(pg->reduced);
  json_decref(pg->ctx);
  json_decref(pg->rec_ctx);
  json_decref(pg->ps.token);
  free(pg->recs.v);
  sl_http_resp_dispose(&pg->resp);
  memset(pg, 0, sizeof *pg);
}

static bool is_ok(long status) { return status >= 200 && status < 400; }

/* The request of the current page token: sent (the response in pg->resp),
 * or with prefetch started in the background for the send that follows. */
static sl_code page_request(lc_pages *pg, lc_resolution *res, bool prefetch, sl_err *err) {
  lc_stream *st = pg->st;
  /* The request context: the slice, its extra fields and the page token. */
  json_t *rctx = json_copy(pg->ctx);
  json_object_set_new(rctx, "next_page_token",
                      pg->ps.token ? json_pack("{s:O}", "next_page_token", pg->ps.token) : json_null());
  const char *ek;
  json_t *ev;
  json_object_foreach(json_object_get(pg->slice, "extra_fields"), ek, ev) json_object_set(rctx, ek, ev);
  json_object_set(rctx, "parameters", params_of(json_object_get(st->retriever, "requester"))
                                          ? (json_t *)params_of(json_object_get(st->retriever, "requester"))
                                          : json_object_get(pg->ctx, "parameters"));
  lc_reqopts extra;
  lc_reqopts_init(&extra);
  char *path = NULL;
  sl_code rc = lc_paginator_options(st->src, st->pag, &pg->ps, rctx, &extra, &path, err);
  if (!rc && pg->slicer && pg->slicer->ops->request_options && (pg->first || !st->ignore_slicer_on_pages))
    rc = pg->slicer->ops->request_options(pg->slicer, pg->slice, &extra, err);
  if (!rc && prefetch) rc = lc_requester_prefetch(st->req, st->http, rctx, &extra, path, err);
  else if (!rc) rc = lc_requester_send(st->req, st->http, rctx, &extra, path, &pg->resp, res, err);
  free(path);
  lc_reqopts_dispose(&extra);
  json_decref(rctx);
  return rc;
}

sl_code lc_pages_next(lc_pages *pg, bool *have, sl_err *err) {
  lc_stream *st = pg->st;
  lc_source *src = st->src;
  *have = false;
  pg->recs.n = 0;
  if (pg->deferred.code) { /* the paginator failed on the previous page */
    *err = pg->deferred;
    return err->code;
  }
  if (pg->reset_due) { /* the record limit was reached on the previous page */
    sl_code rrc = reset_pages(pg, err);
    if (rrc) return rrc;
  }
  if (pg->done) return SL_EOK;
  /* Records of this page see the token that fetched it (the paginator moves
   * on before they are processed). */
  json_decref(pg->rec_ctx);
  pg->rec_ctx = json_copy(pg->ctx);
  json_object_set_new(pg->rec_ctx, "next_page_token",
                      pg->ps.token ? json_pack("{s:O}", "next_page_token", pg->ps.token) : json_null());
  lc_resolution res = {0};
  sl_code rc = page_request(pg, &res, false, err);
  if (rc) return rc;
  pg->first = false;
  pg->pages++;
  if (res.action == LC_ACT_RESET_PAGINATION) {
    if ((rc = reset_pages(pg, err))) return rc;
    return lc_pages_next(pg, have, err);
  }
  if (!is_ok(pg->resp.status)) { /* IGNOREd error: no records, the slice ends */
    pg->done = true;
    return SL_EOK;
  }
  /* JsonDecoder: empty body = one empty object; invalid JSON is an error
   * here (the CDK logs it and yields {}, which silently truncates). */
  sl_jv root;
  bool empty = true;
  const char *body = pg->resp.body.data;
  size_t body_len = pg->resp.body.len;
  char what[2200];
  if (st->dec) { /* non-JSON: decoded into a JSON array of the items first */
    char *murl = sl_http_mask(st->http, pg->resp.url);
    snprintf(what, sizeof what, "the response of %s %s", lc_requester_method(st->req), murl);
    free(murl);
    if ((rc = lc_decoder_decode(src, st->dec, body ? body : "", body_len, &st->decoded, what, err))) return rc;
    body = st->decoded.data;
    body_len = st->decoded.len;
  }
  for (size_t i = 0; i < body_len && empty; i++) {
    char c = body[i];
    empty = c == ' ' || c == '\n' || c == '\r' || c == '\t';
  }
  if (!empty) {
    char *murl = sl_http_mask(st->http, pg->resp.url);
    snprintf(what, sizeof what, "the response of %s %s", lc_requester_method(st->req), murl);
    free(murl);
    sl_err perr = SL_ERR_INIT;
    if (sl_jparser_parse(st->parser, body, body_len, &root, what, &perr))
      return sl_err_set(err, SL_ESOURCE, "%s (not valid JSON; HTTP %ld, %zu bytes; decoder of the retriever at %s)",
                        perr.msg, pg->resp.status, pg->resp.body.len, LC_WHERE(src, st->retriever));
    if ((rc = lc_selector_extract(st->sel, root, &pg->recs, err))) return rc;
  }
  /* Pagination: response = the first decoded item. */
  json_t *response = NULL, *headers = NULL, *last = NULL;
  if (lc_paginator_needs_response(st->pag)) {
    bool have_item = !empty;
    sl_jv item = root;
    if (have_item && sl_jv_type(root) == SL_JARRAY) {
      item = sl_jv_first(root);
      have_item = sl_jv_more(root, item);
    }
    const char *const *keys;
    size_t nk;
    if (!have_item) response = json_object();
    else if (sl_jv_type(item) == SL_JOBJECT && lc_paginator_response_keys(st->pag, &keys, &nk)) {
      response = json_object(); /* only the members the templates read */
      for (size_t i = 0; i < nk; i++) {
        sl_jv m;
        if (sl_jv_get(item, keys[i], &m)) json_object_set_new(response, keys[i], sl_jv_to_json(m));
      }
    } else response = sl_jv_to_json(item);
  }
  headers = lc_headers_json(&pg->resp);
  if (pg->recs.n && lc_paginator_needs_last_record(st->pag)) last = sl_jv_to_json(pg->recs.v[pg->recs.n - 1]);
  json_t *pctx = base_ctx(src, json_object_get(st->retriever, "paginator"));
  rc = lc_paginator_next(src, st->pag, &pg->ps, pctx, response, headers, pg->recs.n, last, err);
  json_decref(pctx);
  json_decref(response);
  json_decref(headers);
  json_decref(last);
  if (rc) { /* reported after this page's records, as the CDK yields them first */
    pg->deferred = *err;
    *err = (sl_err)SL_ERR_INIT;
    *have = true;
    return SL_EOK;
  }
  pg->done = pg->ps.done;
  pg->since_reset += pg->recs.n;
  if (st->reset_limit && pg->since_reset >= (size_t)st->reset_limit) { /* restart before the next page, even after the last */
    pg->reset_due = true;
    pg->done = false;
    *have = true;
    return SL_EOK;
  }
  if (!pg->done && pg->recs.n && pg->slicer && pg->slicer->ops->page_stop &&
      pg->slicer->ops->page_stop(pg->slicer, pg->slice, &(lc_record){.v = pg->recs.v[pg->recs.n - 1]}))
    pg->done = true;
  /* The next page is requested while this one's records are written (the
   * read loop asks; nothing else may use the stream's connection meanwhile).
   * A failure to build it is not reported here: the real request reports it
   * in its turn, after this page's records. */
  if (!pg->done && pg->prefetch && st->prefetch) {
    sl_err perr = SL_ERR_INIT;
    page_request(pg, NULL, true, &perr);
  }
  *have = true;
  return SL_EOK;
}

sl_code lc_pages_record(lc_pages *pg, sl_jv rec, json_t **out, sl_err *err) {
  lc_stream *st = pg->st;
  *out = NULL;
  json_t *r = sl_jv_to_json(rec);
  if (!r) return sl_err_set(err, SL_ENOMEM, "out of memory");
  if (!json_is_object(r)) {
    char *s = sl_json_dumps(r);
    json_decref(r);
    sl_code rc = sl_err_set(err, SL_ESOURCE, "a record of %s is not an object: %.80s (extractor at %s)", pg->resp.url,
                            s ? s : "?", LC_WHERE(st->src, json_object_get(st->retriever, "record_selector")));
    free(s);
    return rc;
  }
  json_t *ctx = pg->rec_ctx; /* "record" is replaced for each record */
  json_object_set(ctx, "record", r);
  bool keep = true;
  sl_code rc = SL_EOK;
  bool tfirst = lc_selector_transform_first(st->sel);
  if (tfirst) rc = lc_transforms_apply(st->src, st->tf, r, ctx, err);
  if (!rc) rc = lc_selector_filter(st->src, st->sel, ctx, &keep, err);
  if (!rc && keep && !tfirst) rc = lc_transforms_apply(st->src, st->tf, r, ctx, err);
  if (!rc && keep) rc = lc_selector_normalize(st->sel, r);
  json_object_del(ctx, "record");
  if (rc || !keep) {
    json_decref(r);
    return rc;
  }
  *out = r;
  return SL_EOK;
}

/* ---- the read loop ---- */

static sl_code write_jv(sl_read *rd, sl_jv v) {
  sl_jw *w = sl_read_record_begin(rd);
  for (sl_jv k = sl_jv_first(v); sl_jv_more(v, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kl;
    const char *ks = sl_jv_str(k, &kl);
    sl_jw_key(w, ks, kl);
    sl_jw_jv(w, sl_jv_val(k));
  }
  return sl_read_record_end(rd);
}

static sl_code write_json(sl_read *rd, const json_t *o) {
  sl_jw *w = sl_read_record_begin(rd);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)o, k, v) {
    sl_jw_keyz(w, k);
    sl_jw_json(w, v);
  }
  return sl_read_record_end(rd);
}

static sl_code write_patched(sl_read *rd, const lc_patch *p, sl_jv v) {
  lc_patch_write(p, v, sl_read_record_begin(rd));
  return sl_read_record_end(rd);
}

/* A record on the view path: filter and transformations without converting
 * it (the filter gets only the members it reads). *keep false: filtered. */
static sl_code view_record(lc_pages *pg, sl_jv v, lc_record *lr, bool *keep, sl_err *err) {
  lc_stream *st = pg->st;
  *lr = (lc_record){.v = v};
  bool tfirst = lc_selector_transform_first(st->sel);
  sl_code rc = SL_EOK;
  if (st->tf && tfirst && !(rc = lc_transforms_patch(st->src, st->tf, v, pg->rec_ctx, st->patch, err))) lr->patch = st->patch;
  if (!rc) rc = lc_selector_filter_view(st->src, st->sel, pg->rec_ctx, lr, keep, err);
  if (!rc && *keep && st->tf && !tfirst && !(rc = lc_transforms_patch(st->src, st->tf, v, pg->rec_ctx, st->patch, err)))
    lr->patch = st->patch;
  return rc;
}

/* The pages of page_slice; records are observed by sl as records of slice
 * (the same, except for an async job's downloads). */
static sl_code read_slice(lc_stream *st, lc_slicer *sl, const json_t *slice, const json_t *page_slice, sl_read *rd,
                          sl_err *err) {
  lc_pages pg;
  lc_pages_begin(st, page_slice == slice ? sl : NULL, page_slice, &pg);
  pg.prefetch = true;
  sl_code rc = SL_EOK;
  bool have;
  while (!(rc = lc_pages_next(&pg, &have, err)) && have) {
    for (size_t i = 0; i < pg.recs.n && !rc; i++) {
      sl_jv v = pg.recs.v[i];
      if (st->plain && sl_jv_type(v) == SL_JOBJECT && !sl->ops->keep) {
        rc = lc_pages_observe(&pg, sl, slice, &(lc_record){.v = v}, err);
        if (!rc) rc = write_jv(rd, v);
        continue;
      }
      if (st->view_path && sl_jv_type(v) == SL_JOBJECT) {
        lc_record lr;
        bool keep;
        if ((rc = view_record(&pg, v, &lr, &keep, err)) || !keep) continue;
        if (!sl->ops->keep || sl->ops->keep(sl, slice, &lr)) {
          rc = lc_pages_observe(&pg, sl, slice, &lr, err);
          if (!rc) rc = lr.patch ? write_patched(rd, lr.patch, v) : write_jv(rd, v);
        }
        continue;
      }
      json_t *r;
      if ((rc = lc_pages_record(&pg, v, &r, err)) || !r) continue;
      lc_record lr = {r, {0}};
      if (!sl->ops->keep || sl->ops->keep(sl, slice, &lr)) {
        rc = lc_pages_observe(&pg, sl, slice, &lr, err);
        if (!rc) rc = write_json(rd, r);
      }
      json_decref(r);
    }
    if (rc) break;
  }
  lc_pages_end(&pg);
  if (rc == SL_ELIMIT && !err->msg[0]) sl_err_set(err, rc, "a record is larger than the output limit");
  return rc;
}

sl_code lc_stream_check(lc_stream *st, lc_slicer *sl, sl_err *err) {
  json_t *slice = NULL, *dls = NULL;
  lc_async_run *ar = NULL;
  lc_async_opts o = {.max_slices = 1};
  sl_code rc = st->async ? lc_async_run_new(st, sl, st->http, &o, &ar, err) : SL_EOK;
  if (!rc) rc = ar ? lc_async_run_next(ar, &slice, &dls, err) : sl->ops->next(sl, &slice, err);
  if (!rc && !slice) rc = sl_err_set(err, SL_ESOURCE, "stream %s produced no stream slices", st->name ? st->name : "?");
  const json_t *page_slice = ar ? json_array_get(dls, 0) : slice;
  if (!rc && page_slice) {
    lc_pages pg;
    bool have;
    lc_pages_begin(st, ar ? NULL : sl, page_slice, &pg);
    rc = lc_pages_next(&pg, &have, err);
    lc_pages_end(&pg);
  }
  if (!rc && ar) rc = lc_async_run_done(ar, err);
  lc_async_run_free(ar);
  json_decref(slice);
  json_decref(dls);
  return rc;
}

static sl_code stream_read(lc_stream *st, sl_read *rd, const sl_cstream *cs, const json_t *in_state, sl_err *err);

sl_code lc_stream_read(lc_stream *st, sl_read *rd, const sl_cstream *cs, sl_err *err) {
  st->src->cur_read = rd; /* for RATE_LIMITED stream statuses */
  st->src->cur_stream = cs->name;
  json_t *migrated = NULL; /* state_migrations (statemig.c) */
  sl_code rc = lc_state_migrate(st->src, st->node, sl_read_state(rd), &migrated, err);
  if (!rc) rc = stream_read(st, rd, cs, migrated ? migrated : sl_read_state(rd), err);
  json_decref(migrated);
  st->src->cur_read = NULL;
  st->src->cur_stream = NULL;
  return rc;
}

/* AsyncRetriever: the jobs of the slices (async.c); each completed slice's
 * downloads are read as its pages, then its state is emitted. */
static sl_code async_read(lc_stream *st, lc_slicer *sl, sl_read *rd, sl_err *err) {
  lc_async_run *ar = NULL;
  sl_code rc = lc_async_run_new(st, sl, st->http, NULL, &ar, err);
  while (!rc) {
    json_t *slice = NULL, *dls = NULL;
    if ((rc = lc_async_run_next(ar, &slice, &dls, err)) || !slice) break;
    for (size_t i = 0; !rc && i < json_array_size(dls); i++) rc = read_slice(st, sl, slice, json_array_get(dls, i), rd, err);
    if (!rc) rc = lc_async_run_done(ar, err);
    json_t *state = NULL;
    if (!rc) rc = sl->ops->close_slice(sl, slice, &state, err);
    if (!rc && state) rc = sl_read_checkpoint(rd, state);
    json_decref(state);
    json_decref(slice);
    json_decref(dls);
  }
  lc_async_run_free(ar);
  if (!rc) {
    json_t *state = NULL;
    rc = sl->ops->final_state(sl, &state, err);
    if (!rc && state) rc = sl_read_checkpoint(rd, state);
    json_decref(state);
  }
  return rc;
}

static sl_code stream_read(lc_stream *st, sl_read *rd, const sl_cstream *cs, const json_t *in_state, sl_err *err) {
  lc_slicer *sl = NULL;
  sl_code rc = lc_slicer_build(st, in_state, cs->sync_mode == SL_SYNC_INCREMENTAL, &sl, err);
  if (rc) return rc;
  if (st->async) {
    rc = async_read(st, sl, rd, err);
    sl->ops->free(sl);
    return rc;
  }
  json_t *slice = NULL;
  while (!(rc = sl->ops->next(sl, &slice, err)) && slice) {
    rc = read_slice(st, sl, slice, slice, rd, err);
    json_t *state = NULL;
    if (!rc) rc = sl->ops->close_slice(sl, slice, &state, err);
    if (!rc && state) rc = sl_read_checkpoint(rd, state);
    json_decref(state);
    json_decref(slice);
    slice = NULL;
    if (rc) break;
  }
  if (!rc) {
    json_t *state = NULL;
    rc = sl->ops->final_state(sl, &state, err);
    if (!rc && state) rc = sl_read_checkpoint(rd, state);
    json_decref(state);
  }
  sl->ops->free(sl);
  return rc;
}
