/* Bounded test reads for the connector builder (testread.h): the read loop
 * of stream.c with limits, reporting events instead of writing messages. */
#include "testread.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

typedef struct tr_run {
  lc_test_emit fn;
  void *ud;
  char kind[32], title[64]; /* what the next request is (an async job's), from the engine's marker */
} tr_run;

static void emit(tr_run *r, json_t *ev) {
  if (ev) r->fn(r->ud, ev);
}

/* An HTTP header name: RFC 9110 token characters only. */
static bool is_header_line(const char *s, size_t n) {
  const char *colon = memchr(s, ':', n);
  if (!colon || colon == s || colon + 1 >= s + n || colon[1] != ' ') return false;
  for (const char *p = s; p < colon; p++)
    if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p)) return false;
  return true;
}

/* Debug text after the first line: header lines, then the body. */
static void parse_headers_body(const char *p, json_t *into) {
  json_t *headers = json_object();
  while (*p == '\n') {
    const char *line = p + 1, *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    if (!is_header_line(line, n)) break;
    const char *colon = memchr(line, ':', n);
    char *name = strndup(line, (size_t)(colon - line));
    json_object_set_new(headers, name, json_stringn(colon + 2, (size_t)(line + n - colon - 2)));
    free(name);
    p = line + n;
  }
  json_object_set_new(into, "headers", headers);
  if (*p == '\n') json_object_set_new(into, "body", json_string(p + 1));
}

/* "HTTP request: GET url\nH: v\n...\nbody" -> request event. */
static json_t *parse_request(const char *text, tr_run *r) {
  const char *p = text + strlen("HTTP request: ");
  const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');
  if (!nl) nl = p + strlen(p);
  if (!sp || sp > nl) return NULL;
  json_t *req = json_object();
  json_object_set_new(req, "method", json_stringn(p, (size_t)(sp - p)));
  json_object_set_new(req, "url", json_stringn(sp + 1, (size_t)(nl - sp - 1)));
  parse_headers_body(nl, req);
  json_t *ev = json_pack("{s:s,s:o}", "event", "request", "request", req);
  if (r->kind[0]) { /* an async job's request (async.c marks them as the CDK's log formatter) */
    json_object_set_new(ev, "kind", json_string(r->kind));
    json_object_set_new(ev, "title", json_string(r->title));
    r->kind[0] = r->title[0] = 0;
  }
  return ev;
}

/* "HTTP response: 200 from URL (0.001 s, 12 bytes)" or "none from URL: why". */
static json_t *parse_response(const char *text) {
  const char *p = text + strlen("HTTP response: ");
  const char *nl = strchr(p, '\n');
  if (!nl) nl = p + strlen(p);
  json_t *resp = json_object();
  if (!strncmp(p, "none from ", 10)) {
    json_object_set_new(resp, "status", json_null());
    const char *u = p + 10, *sep = strstr(u, ": ");
    if (sep && sep < nl) {
      json_object_set_new(resp, "url", json_stringn(u, (size_t)(sep - u)));
      json_object_set_new(resp, "error", json_stringn(sep + 2, (size_t)(nl - sep - 2)));
    }
  } else {
    long status = strtol(p, NULL, 10);
    json_object_set_new(resp, "status", json_integer(status));
    const char *u = strstr(p, " from ");
    const char *paren = u ? strstr(u, " (") : NULL;
    while (paren && paren < nl && strstr(paren + 2, " (") && strstr(paren + 2, " (") < nl) paren = strstr(paren + 2, " (");
    if (u && paren && paren < nl) {
      json_object_set_new(resp, "url", json_stringn(u + 6, (size_t)(paren - u - 6)));
      json_object_set_new(resp, "seconds", json_real(strtod(paren + 2, NULL)));
    }
  }
  parse_headers_body(nl, resp);
  return json_pack("{s:s,s:o}", "event", "response", "response", resp);
}

static void on_log(void *ud, const char *level, const char *msg) {
  tr_run *r = ud;
  /* "Async job -- Title (KIND)": the request that follows is that one. */
  const char *paren = strrchr(msg, '(');
  if (!strcmp(level, "DEBUG") && !strncmp(msg, "Async job -- ", 13) && paren && paren > msg + 14) {
    snprintf(r->title, sizeof r->title, "Async Job -- %.*s", (int)(paren - msg - 14), msg + 13);
    snprintf(r->kind, sizeof r->kind, "%.*s", (int)strcspn(paren + 1, ")"), paren + 1);
    return;
  }
  if (!strcmp(level, "DEBUG") && !strncmp(msg, "HTTP request: ", 14)) {
    json_t *ev = parse_request(msg, r);
    if (ev) return emit(r, ev);
  }
  if (!strcmp(level, "DEBUG") && !strncmp(msg, "HTTP response: ", 15)) return emit(r, parse_response(msg));
  emit(r, json_pack("{s:s,s:s,s:s}", "event", "log", "level", level, "message", msg));
}

/* CONTROL connectorConfig (rotating OAuth tokens): the builder writes it
 * back to the project's testing values. */
static sl_code on_control(void *ud, const json_t *config) {
  emit(ud, json_pack("{s:s,s:O}", "event", "control", "config", config));
  return SL_EOK;
}

static json_t *error_event(sl_code rc, const sl_err *err) {
  json_t *ev = json_pack("{s:s,s:s,s:s,s:s}", "event", "error", "message", err->msg[0] ? err->msg : sl_strerror(rc),
                         "failure_type", sl_err_failure_type(rc), "code", sl_err_name(rc));
  json_t *loc = lc_tr_location(err->msg);
  if (loc) json_object_set_new(ev, "location", loc);
  return ev;
}

typedef struct tr_read {
  tr_run *run;
  lc_stream *st;
  lc_slicer *sl;
  const lc_test_limits *lim;
  sl_http *masker;
  size_t records;
  bool limited;
} tr_read;

/* A page's response body, masked and capped. */
static json_t *page_body(tr_read *t, const sl_http_resp *resp) {
  size_t n = resp->body.len > t->lim->max_body ? t->lim->max_body : resp->body.len;
  char *raw = strndup(resp->body.data ? resp->body.data : "", n);
  char *masked = raw ? sl_http_mask(t->masker, raw) : NULL;
  json_t *s = json_string(masked ? masked : "");
  if (!s) s = json_string("(the body is not valid UTF-8)");
  free(raw);
  free(masked);
  return s;
}

/* The pages of page_slice; records count as records of slice (they differ
 * for an async job's downloads). */
static sl_code read_slice(tr_read *t, const json_t *slice, const json_t *page_slice, sl_err *err) {
  lc_pages pg;
  lc_pages_begin(t->st, page_slice == slice ? t->sl : NULL, page_slice, &pg);
  sl_code rc = SL_EOK;
  bool have;
  unsigned pages = 0;
  while (!t->limited && !pg.done) {
    if (pages == t->lim->max_pages) {
      t->limited = true;
      emit(t->run, json_pack("{s:s,s:s}", "event", "limit", "what", "pages"));
      break;
    }
    rc = lc_pages_next(&pg, &have, err);
    if (rc) {
      /* The response that failed (e.g. HTML) is still worth showing. */
      if (pg.resp.body.len)
        emit(t->run, json_pack("{s:s,s:o,s:b}", "event", "page_failed", "body", page_body(t, &pg.resp), "truncated",
                               pg.resp.body.len > t->lim->max_body));
      break;
    }
    if (!have) break;
    pages++;
    json_t *recs = json_array();
    for (size_t i = 0; i < pg.recs.n && !rc; i++) {
      json_t *r;
      if ((rc = lc_pages_record(&pg, pg.recs.v[i], &r, err)) || !r) continue;
      lc_record lr = {.j = r};
      if (!t->sl->ops->keep || t->sl->ops->keep(t->sl, slice, &lr)) {
        rc = lc_pages_observe(&pg, t->sl, slice, &lr, err);
        if (t->records < t->lim->max_records) {
          json_array_append(recs, r);
          t->records++;
        } else if (!t->limited) {
          t->limited = true;
        }
      }
      json_decref(r);
    }
    emit(t->run, json_pack("{s:s,s:o,s:o,s:b,s:i}", "event", "page", "records", recs, "body", page_body(t, &pg.resp),
                           "truncated", pg.resp.body.len > t->lim->max_body, "extracted", (json_int_t)pg.recs.n));
    if (rc) break;
    if (t->limited) emit(t->run, json_pack("{s:s,s:s}", "event", "limit", "what", "records"));
    else if (t->records == t->lim->max_records && !pg.done) {
      t->limited = true;
      emit(t->run, json_pack("{s:s,s:s}", "event", "limit", "what", "records"));
    }
  }
  lc_pages_end(&pg);
  return rc;
}

static sl_code async_slices(tr_read *t, sl_err *err);
static sl_code plain_slices(tr_read *t, sl_err *err);

static sl_code run_read(tr_read *t, lc_source *src, const char *stream, const json_t *state, sl_err *err) {
  const json_t *node = lc_source_find_stream(src, stream);
  if (!node) return sl_err_set(err, SL_ENOTFOUND, "stream \"%s\" is not a stream of the manifest", stream);
  json_t *schema = NULL;
  sl_code rc = lc_stream_schema(src, node, &schema, err);
  if (rc) return rc;
  emit(t->run, json_pack("{s:s,s:o,s:O}", "event", "stream", "schema", schema, "definition", node));
  rc = lc_stream_open(src, node, &t->st, err);
  if (!rc) rc = lc_slicer_build(t->st, state, state != NULL, &t->sl, err);
  if (rc) return rc;
  if (lc_async_of(t->st)) rc = async_slices(t, err);
  else rc = plain_slices(t, err);
  if (!rc) {
    json_t *fin = NULL;
    if (!t->limited) rc = t->sl->ops->final_state(t->sl, &fin, err);
    if (!rc && !fin && !t->limited) fin = json_pack("{s:b}", "__ab_no_cursor_state_message", 1);
    if (!rc) emit(t->run, json_pack("{s:s,s:o}", "event", "end", "state", fin ? fin : json_null()));
  }
  return rc;
}

/* AsyncRetriever: jobs for at most max_slices slices (one attempt each, as
 * the CDK's builder); a slice shows once its job completed, its creation and
 * polling requests as the first page's auxiliary requests. */
static sl_code async_slices(tr_read *t, sl_err *err) {
  lc_async_run *ar = NULL;
  lc_async_opts o = {.max_slices = t->lim->max_slices, .test_read = true};
  sl_code rc = lc_async_run_new(t->st, t->sl, lc_stream_http(t->st), &o, &ar, err);
  while (!rc && !t->limited) {
    json_t *slice = NULL, *dls = NULL;
    if ((rc = lc_async_run_next(ar, &slice, &dls, err)) || !slice) break;
    emit(t->run, json_pack("{s:s,s:O}", "event", "slice", "slice", slice));
    for (size_t i = 0; !rc && !t->limited && i < json_array_size(dls); i++)
      rc = read_slice(t, slice, json_array_get(dls, i), err);
    if (!rc) rc = lc_async_run_done(ar, err);
    json_t *st = NULL;
    if (!rc && !t->limited) rc = t->sl->ops->close_slice(t->sl, slice, &st, err);
    if (!rc) emit(t->run, json_pack("{s:s,s:o}", "event", "slice_end", "state", st ? st : json_null()));
    json_decref(slice);
    json_decref(dls);
  }
  if (!rc && !t->limited && lc_async_run_limited(ar)) {
    t->limited = true;
    emit(t->run, json_pack("{s:s,s:s}", "event", "limit", "what", "slices"));
  }
  lc_async_run_free(ar);
  return rc;
}

static sl_code plain_slices(tr_read *t, sl_err *err) {
  sl_code rc = SL_EOK;
  json_t *slice = NULL;
  unsigned slices = 0;
  while (!t->limited) {
    if ((rc = t->sl->ops->next(t->sl, &slice, err)) || !slice) break;
    if (slices == t->lim->max_slices) {
      t->limited = true;
      emit(t->run, json_pack("{s:s,s:s}", "event", "limit", "what", "slices"));
      json_decref(slice);
      break;
    }
    slices++;
    emit(t->run, json_pack("{s:s,s:O}", "event", "slice", "slice", slice));
    rc = read_slice(t, slice, slice, err);
    json_t *st = NULL;
    if (!rc && !t->limited) rc = t->sl->ops->close_slice(t->sl, slice, &st, err);
    if (!rc) emit(t->run, json_pack("{s:s,s:o}", "event", "slice_end", "state", st ? st : json_null()));
    json_decref(slice);
    slice = NULL;
    if (rc) break;
  }
  return rc;
}

sl_code lc_test_read(lc_source *src, const char *stream, const json_t *state, const lc_test_limits *lim,
                     lc_test_emit fn, void *ud) {
  lc_test_limits l = lim ? *lim : (lc_test_limits){0};
  if (!l.max_records) l.max_records = 100;
  if (!l.max_pages) l.max_pages = 5;
  if (!l.max_slices) l.max_slices = 5;
  if (!l.max_body) l.max_body = (size_t)1 << 20;
  tr_run run = {.fn = fn, .ud = ud};
  tr_read t = {.run = &run, .lim = &l};
  sl_err err = SL_ERR_INIT;
  lc_source_set_debug(src, true);
  lc_source_set_output(src, on_log, on_control, &run);
  src->no_retries = !l.retries;
  sl_code rc = SL_EOK;
  if (!(t.masker = sl_http_new(&(sl_http_opts){0}, &err))) rc = err.code;
  for (size_t i = 0; !rc && i < src->n_secrets; i++) sl_http_add_secret(t.masker, src->secrets[i]);
  if (!rc) rc = run_read(&t, src, stream, state, &err);
  if (rc) emit(&run, error_event(rc, &err));
  if (t.sl) t.sl->ops->free(t.sl);
  lc_stream_close(t.st);
  sl_http_free(t.masker);
  lc_source_set_output(src, NULL, NULL, NULL);
  return rc;
}

json_t *lc_tr_location(const char *msg) {
  /* The first "name:LINE:COL" whose name ends in .yaml/.yml/.json or is a path. */
  for (const char *p = msg; (p = strchr(p, ':')); p++) {
    char *e1, *e2;
    long line = strtol(p + 1, &e1, 10);
    if (e1 == p + 1 || *e1 != ':' || !isdigit((unsigned char)e1[1])) continue;
    long col = strtol(e1 + 1, &e2, 10);
    const char *s = p;
    while (s > msg && !isspace((unsigned char)s[-1]) && s[-1] != '(' && s[-1] != '"') s--;
    if (s == p || line <= 0) continue;
    json_t *loc = json_pack("{s:s%,s:i,s:i}", "file", s, (size_t)(p - s), "line", (json_int_t)line, "column",
                            (json_int_t)col);
    const char *path = e2;
    if (*path == ' ' && path[1] && path[1] != '(') {
      const char *end = path + 1;
      while (*end && !isspace((unsigned char)*end) && *end != ')' && *end != ',' && *end != ';') end++;
      if (end[-1] == ':') end--;
      json_object_set_new(loc, "path", json_stringn(path + 1, (size_t)(end - path - 1)));
    }
    return loc;
  }
  return NULL;
}
