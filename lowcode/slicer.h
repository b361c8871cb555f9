/* Stream slicers: where a declarative stream's slices come from.
 *
 * The read loop (stream.c) asks the stream's slicer for slices one at a time
 * and reads each slice page by page. A slice is a JSON object
 *
 *   {"partition": {...}, "cursor_slice": {...}, "extra_fields": {...}}
 *
 * Templates see stream_slice = stream_partition = stream_interval =
 * partition merged with cursor_slice (the CDK's StreamSlice mapping), and the
 * requester also sees each extra field as a top-level name.
 *
 * How cursors and routers plug in (lc_slicer_build in slicer.c picks one):
 * - A partition router (ListPartitionRouter, SubstreamPartitionRouter, a list
 *   of them = cartesian product) implements next() producing partitions and
 *   request_options() injecting its request_option. A substream router pulls
 *   its parent's records lazily through lc_stream_pages_* (stream.c): open
 *   the parent stream with lc_stream_open, iterate the parent's slices with
 *   its own slicer, and for each page turn records into partitions; nothing
 *   buffers a whole parent stream.
 * - A cursor (DatetimeBasedCursor) implements next() producing date windows
 *   in cursor_slice, request_options() for start/end_time_option, observe()
 *   to track the newest cursor value of each slice, keep() for client-side
 *   filtering, and close_slice()/final_state() for STATE. With a router, a
 *   per-partition cursor wraps both (slices = partitions x windows).
 * - Without either, the full-refresh slicer yields one empty slice and no
 *   state: the runtime then emits the sentinel
 *   {"__ab_no_cursor_state_message": true} at the end (notes §6.3).
 * State is emitted by the read loop after each slice whose close_slice()
 * returns one (the records before it are already written), and once more at
 * the end from final_state(). */
#ifndef SLUICE_LOWCODE_SLICER_H
#define SLUICE_LOWCODE_SLICER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/err.h"
#include "sluice/json.h"

typedef struct lc_stream lc_stream;
typedef struct lc_reqopts lc_reqopts;

/* A record as the slicer sees it: a view into the page (fast path), that
 * view with a patch of top-level edits (transformations on the patch path),
 * or a jansson tree (after transformations). lc_record_get returns the
 * member at a top-level key as a new jansson reference, or NULL. */
typedef struct lc_patch lc_patch;
typedef struct lc_record {
  const json_t *j; /* when non-NULL */
  struct { /* nested, so that {j, {0}} initialises both */
    const lc_patch *patch; /* over v, or NULL */
    sl_jv v;
  };
} lc_record;
json_t *lc_record_get(const lc_record *r, const char *key);
/* The patched member at key: 1 with *out (borrowed) set, 0 when removed,
 * -1 when the patch does not touch it (transform.c). */
int lc_patch_get(const lc_patch *p, const char *key, const json_t **out);

typedef struct lc_slicer lc_slicer;
typedef struct lc_slicer_ops {
  /* Next slice (new reference) into *slice, or NULL when done. */
  sl_code (*next)(lc_slicer *s, json_t **slice, sl_err *err);
  /* Request options for a slice (query, headers, bodies); optional. */
  sl_code (*request_options)(lc_slicer *s, const json_t *slice, lc_reqopts *opts, sl_err *err);
  /* Every record read in the slice, in order, after selection; optional. */
  sl_code (*observe)(lc_slicer *s, const json_t *slice, const lc_record *rec, sl_err *err);
  /* Whether a record is kept (client-side incremental); optional. */
  bool (*keep)(lc_slicer *s, const json_t *slice, const lc_record *rec);
  /* The slice is fully read: the state to emit now (new reference) or NULL. */
  sl_code (*close_slice)(lc_slicer *s, const json_t *slice, json_t **state, sl_err *err);
  /* After the last slice: the final state (new reference), or NULL for the
   * full-refresh sentinel. */
  sl_code (*final_state)(lc_slicer *s, json_t **state, sl_err *err);
  void (*free)(lc_slicer *s);
  /* is_data_feed: whether pagination stops after a page whose last record
   * is before the sync start; optional. */
  bool (*page_stop)(lc_slicer *s, const json_t *slice, const lc_record *last);
} lc_slicer_ops;

struct lc_slicer {
  const lc_slicer_ops *ops;
};

/* The slicer of a stream for this run, from its incremental_sync and
 * retriever.partition_router; `state` is the stream's input state or NULL,
 * `incremental` whether the catalog asks for incremental sync. */
sl_code lc_slicer_build(lc_stream *st, const json_t *state, bool incremental, lc_slicer **out,
                        sl_err *err);

/* DatetimeBasedCursor (cursor.c): one cursor (a stream, or one partition).
 * runtime_lookback_us rewinds the start further (per-partition global state). */
sl_code lc_cursor_build(lc_stream *st, const json_t *node, const json_t *state,
                        int64_t runtime_lookback_us, lc_slicer **out, sl_err *err);
bool lc_cursor_page_stop(lc_slicer *s, const json_t *slice, const lc_record *last);
/* The cursor value of the record just observed; false if it had none. */
bool lc_cursor_last(lc_slicer *s, int64_t *us);
/* A time in the cursor's datetime_format (new reference). */
sl_code lc_cursor_format(lc_slicer *s, int64_t us, json_t **out, sl_err *err);
const char *lc_cursor_field(lc_slicer *s);
/* The cursor's state now ({cursor_field: value}, new reference). */
sl_code lc_cursor_state(lc_slicer *s, json_t **state, sl_err *err);
/* IncrementingCountCursor (countcursor.c). */
sl_code lc_count_cursor_build(lc_stream *st, const json_t *node, const json_t *state, lc_slicer **out, sl_err *err);
/* Incremental sync with a partition router (partcursor.c). */
sl_code lc_partition_cursor_build(lc_stream *st, const json_t *inc, const json_t *router,
                                  const json_t *state, lc_slicer **out, sl_err *err);

/* Partition routers (router.c): one router or a list (cartesian product);
 * full-refresh slices without state. */
sl_code lc_router_slicer_build(lc_stream *st, const json_t *router, lc_slicer **out, sl_err *err);
/* Whether the routers include a substream router. */
bool lc_router_slicer_has_parents(lc_slicer *s);
/* Incremental child: the incoming parent_state ({} when none); parents with
 * incremental_dependency then read incrementally from their entry. */
void lc_router_slicer_set_parent_state(lc_slicer *s, const json_t *parent_state);
/* {parent name: state} of the incremental parents read in full (new reference). */
json_t *lc_router_slicer_parent_state(lc_slicer *s);

/* Slice helpers. */
json_t *lc_slice_new(json_t *partition, json_t *cursor_slice, json_t *extra_fields); /* steals */
/* The mapping templates see as stream_slice (new reference). */
json_t *lc_slice_view(const json_t *slice);
/* The same plus the slice's extra_fields (an attribute of the CDK's
 * StreamSlice, so stream_slice.extra_fields[...] is never undefined). */
json_t *lc_slice_view_extra(const json_t *slice);

#endif
