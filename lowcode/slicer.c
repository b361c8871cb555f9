/* Slicers (see slicer.h): the factory and the full-refresh slicer. Cursors
 * (DatetimeBasedCursor) and partition routers plug in here. */
#include <stdlib.h>
#include <string.h>

#include "lc.h"

json_t *lc_record_get(const lc_record *r, const char *key) {
  if (r->j) {
    json_t *v = json_object_get(r->j, key);
    return v ? json_incref(v) : NULL;
  }
  const json_t *pv;
  int in_patch = r->patch ? lc_patch_get(r->patch, key, &pv) : -1;
  if (in_patch >= 0) return in_patch ? json_incref((json_t *)pv) : NULL;
  sl_jv v;
  if (sl_jv_type(r->v) != SL_JOBJECT || !sl_jv_get(r->v, key, &v)) return NULL;
  return sl_jv_to_json(v);
}

json_t *lc_slice_new(json_t *partition, json_t *cursor_slice, json_t *extra_fields) {
  return json_pack("{s:o, s:o, s:o}", "partition", partition ? partition : json_object(), "cursor_slice",
                   cursor_slice ? cursor_slice : json_object(), "extra_fields",
                   extra_fields ? extra_fields : json_object());
}

json_t *lc_slice_view(const json_t *slice) {
  json_t *v = json_deep_copy(json_object_get(slice, "partition"));
  if (!v) v = json_object();
  json_object_update(v, json_object_get(slice, "cursor_slice"));
  return v;
}

json_t *lc_slice_view_extra(const json_t *slice) {
  json_t *v = lc_slice_view(slice);
  json_t *extra = json_object_get(slice, "extra_fields");
  if (json_is_object(extra) && !json_object_get(v, "extra_fields")) json_object_set(v, "extra_fields", extra);
  return v;
}

/* ---- full refresh: one empty slice, no state (the sentinel follows) ---- */

typedef struct fr_slicer {
  lc_slicer base;
  bool given;
} fr_slicer;

static sl_code fr_next(lc_slicer *s, json_t **slice, sl_err *err) {
  fr_slicer *f = (fr_slicer *)s;
  *slice = f->given ? NULL : lc_slice_new(NULL, NULL, NULL);
  f->given = true;
  return SL_EOK;
}

static sl_code fr_close(lc_slicer *s, const json_t *slice, json_t **state, sl_err *err) {
  *state = NULL;
  return SL_EOK;
}

static sl_code fr_final(lc_slicer *s, json_t **state, sl_err *err) {
  *state = NULL;
  return SL_EOK;
}

static void fr_free(lc_slicer *s) { free(s); }

static const lc_slicer_ops fr_ops = {fr_next, NULL, NULL, NULL, fr_close, fr_final, fr_free, NULL};

sl_code lc_slicer_build(lc_stream *st, const json_t *state, bool incremental, lc_slicer **out,
                        sl_err *err) {
  *out = NULL;
  const json_t *node = lc_stream_node(st);
  const json_t *inc = json_object_get(node, "incremental_sync");
  const json_t *router = json_object_get(json_object_get(node, "retriever"), "partition_router");
  /* Cursors and routers are built here once they exist:
   *   incremental_sync (DatetimeBasedCursor) -> a cursor slicer, wrapping a
   *   router when both are present (per-partition state); a router alone ->
   *   a router slicer (full refresh across partitions). */
  bool routed = router && !json_is_null(router) && !(json_is_array(router) && json_array_size(router) == 0);
  const char *itype = json_string_value(json_object_get(inc, "type"));
  if (itype && !strcmp(itype, "IncrementingCountCursor")) {
    if (routed) /* as the CDK: no per-partition integer state */
      return sl_err_set(err, SL_ECONFIG, "%s: an IncrementingCountCursor cannot be combined with a partition router",
                        LC_WHERE(lc_stream_source(st), inc));
    return lc_count_cursor_build(st, inc, incremental ? state : NULL, out, err);
  }
  if (routed && inc && !json_is_null(inc))
    return lc_partition_cursor_build(st, inc, router, incremental ? state : NULL, out, err);
  if (routed) return lc_router_slicer_build(st, router, out, err);
  /* A stream with a cursor slices by date windows in full refresh too (as the
   * CDK); the input state only counts for incremental reads. */
  if (inc && !json_is_null(inc)) return lc_cursor_build(st, inc, incremental ? state : NULL, 0, out, err);
  fr_slicer *f = calloc(1, sizeof *f);
  if (!f) return sl_err_set(err, SL_ENOMEM, "out of memory");
  f->base.ops = &fr_ops;
  *out = &f->base;
  return SL_EOK;
}
