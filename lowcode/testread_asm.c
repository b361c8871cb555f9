/* Assembling test-read events (testread.h) into the builder's result:
 * slices -> pages -> request/response/records, with logs and errors. */
#include <stdlib.h>
#include <string.h>

#include "testread.h"

struct lc_tr_asm {
  json_t *res;
  json_t *slice;   /* current slice (borrowed from res.slices) */
  json_t *pending; /* exchanges not yet attached to a page */
};

lc_tr_asm *lc_tr_asm_new(const char *stream) {
  lc_tr_asm *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->res = json_pack("{s:s,s:[],s:[],s:b,s:i,s:n}", "stream", stream ? stream : "", "slices", "logs", "limit_reached", 0,
                     "records_total", (json_int_t)0, "final_state");
  a->pending = json_array();
  return a;
}

static json_t *cur_slice(lc_tr_asm *a) {
  if (!a->slice) {
    a->slice = json_pack("{s:n,s:[],s:n}", "slice", "pages", "state");
    json_array_append_new(json_object_get(a->res, "slices"), a->slice);
  }
  return a->slice;
}

/* The pending exchanges as a page: the last one is the page's own request,
 * earlier ones (token requests, retries) are auxiliary. */
static json_t *take_page(lc_tr_asm *a) {
  size_t n = json_array_size(a->pending);
  json_t *page = n ? json_copy(json_array_get(a->pending, n - 1)) : json_object();
  json_t *aux = json_array();
  for (size_t i = 0; i + 1 < n; i++) json_array_append(aux, json_array_get(a->pending, i));
  json_object_set_new(page, "auxiliary_requests", aux);
  json_array_clear(a->pending);
  return page;
}

static void set_body(json_t *page, const json_t *ev) {
  json_t *resp = json_object_get(page, "response");
  const json_t *body = json_object_get(ev, "body");
  if (!resp || !body) return;
  json_object_set(resp, "body", (json_t *)body);
  json_object_set(resp, "body_truncated", json_boolean(json_is_true(json_object_get(ev, "truncated"))));
}

void lc_tr_asm_event(lc_tr_asm *a, const json_t *ev) {
  const char *kind = json_string_value(json_object_get(ev, "event"));
  if (!a || !kind) return;
  json_t *res = a->res;
  if (!strcmp(kind, "stream")) {
    json_object_set(res, "declared_schema", json_object_get(ev, "schema"));
    json_object_set(res, "stream_definition", json_object_get(ev, "definition"));
  } else if (!strcmp(kind, "slice")) {
    a->slice = json_pack("{s:O,s:[],s:n}", "slice", json_object_get(ev, "slice"), "pages", "state");
    json_array_append_new(json_object_get(res, "slices"), a->slice);
  } else if (!strcmp(kind, "request")) {
    json_t *x = json_pack("{s:O}", "request", json_object_get(ev, "request"));
    if (json_object_get(ev, "kind")) { /* an async job's request: what it is */
      json_object_set(x, "kind", json_object_get(ev, "kind"));
      json_object_set(x, "title", json_object_get(ev, "title"));
    }
    json_array_append_new(a->pending, x);
  } else if (!strcmp(kind, "response")) {
    size_t n = json_array_size(a->pending);
    json_t *last = n ? json_array_get(a->pending, n - 1) : NULL;
    if (!last || json_object_get(last, "response")) json_array_append_new(a->pending, last = json_object());
    json_object_set(last, "response", json_object_get(ev, "response"));
  } else if (!strcmp(kind, "page")) {
    json_t *page = take_page(a);
    set_body(page, ev);
    json_t *recs = json_object_get(ev, "records");
    json_object_set(page, "records", recs ? recs : json_array());
    json_object_set(page, "records_extracted", json_object_get(ev, "extracted"));
    json_object_set_new(res, "records_total",
                        json_integer(json_integer_value(json_object_get(res, "records_total")) +
                                     (json_int_t)json_array_size(recs)));
    json_array_append_new(json_object_get(cur_slice(a), "pages"), page);
  } else if (!strcmp(kind, "page_failed")) {
    size_t n = json_array_size(a->pending);
    if (n) set_body(json_array_get(a->pending, n - 1), ev);
  } else if (!strcmp(kind, "slice_end")) {
    json_t *s = cur_slice(a);
    json_object_set(s, "state", json_object_get(ev, "state"));
    if (json_array_size(a->pending)) {
      json_object_set(s, "auxiliary_requests", a->pending);
      json_decref(a->pending);
      a->pending = json_array();
    }
  } else if (!strcmp(kind, "log")) {
    json_array_append_new(json_object_get(res, "logs"), json_pack("{s:O,s:O}", "level", json_object_get(ev, "level"),
                                                                  "message", json_object_get(ev, "message")));
  } else if (!strcmp(kind, "limit")) {
    json_object_set_new(res, "limit_reached", json_true());
    json_object_set(res, "limit", json_object_get(ev, "what"));
  } else if (!strcmp(kind, "error")) {
    json_t *e = json_deep_copy(ev);
    json_object_del(e, "event");
    json_object_set_new(res, "error", e);
  } else if (!strcmp(kind, "control")) {
    json_object_set(res, "config_update", json_object_get(ev, "config"));
  } else if (!strcmp(kind, "end")) {
    json_object_set(res, "final_state", json_object_get(ev, "state"));
  }
}

json_t *lc_tr_asm_finish(lc_tr_asm *a) {
  if (!a) return NULL;
  /* Exchanges that never made a page: the request that failed or hung. */
  if (json_array_size(a->pending)) {
    json_t *page = take_page(a);
    json_object_set_new(page, "records", json_array());
    json_object_set_new(page, "failed", json_true());
    json_array_append_new(json_object_get(cur_slice(a), "pages"), page);
  }
  json_t *res = a->res;
  json_decref(a->pending);
  free(a);
  return res;
}
