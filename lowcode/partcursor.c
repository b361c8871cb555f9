/* Incremental sync with a partition router: one DatetimeBasedCursor per
 * partition (slices = partitions x date windows) and the state shape of the
 * CDK's ConcurrentPerPartitionCursor (notes §6.11):
 *
 *   {"use_global_cursor": false,
 *    "states": [{"partition": {...}, "cursor": {cursor_field: value}}, ...],
 *    "state": {cursor_field: global value}, "lookback_window": seconds,
 *    "parent_state": {...}}
 *
 * Partitions come lazily from the router slicer; only the current
 * partition's cursor is alive. Partitions without an own entry start from the
 * global value rewound by lookback_window (seconds the previous sync took).
 * After 10,000 partitions (those of the incoming state included) it switches
 * to one global cursor as the CDK does: use_global_cursor becomes true, the
 * per-partition entries leave the state, new partitions start from the
 * global value and only records move it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"
#include "sluice/pydt.h"

typedef struct part_cursor {
  lc_slicer base;
  lc_stream *st;
  lc_source *src;
  const json_t *inc;
  lc_slicer *router; /* partitions */
  lc_slicer *cur;    /* the cursor of the current partition */
  json_t *part, *extra;
  json_t *entries;   /* [{"partition", "cursor"}] in first-seen order */
  json_t *index;     /* partition key (sorted compact JSON) -> entry */
  size_t n_partitions; /* cursors created, as the CDK counts them */
  json_t *global;    /* {cursor_field: value} or NULL */
  json_t *parent_state;
  json_t *new_global; /* candidate global value: the largest seen */
  int64_t lookback_s, started_us, last_emit_us;
  bool use_global, emitted, has_substream;
} part_cursor;

/* The CDK compares the formatted values as strings. */
static void update_global(part_cursor *p, const char *field, const json_t *v) {
  const json_t *old = json_object_get(p->new_global, field);
  if (!json_is_string(v)) return;
  if (json_is_string(old) && strcmp(json_string_value(old), json_string_value(v)) >= 0) return;
  json_decref(p->new_global);
  p->new_global = json_pack("{s:O}", field, v);
}

#define SWITCH_TO_GLOBAL_LIMIT 10000

static char *part_key(const json_t *part) { return json_dumps(part, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY); }

static json_t *entry_for(part_cursor *p, const json_t *part) {
  char *k = part_key(part);
  json_t *e = k ? json_object_get(p->index, k) : NULL;
  free(k);
  return e;
}

/* A new entry (steals cursor); a partition listed twice keeps the last. */
static sl_code add_entry(part_cursor *p, const json_t *part, json_t *cursor, sl_err *err) {
  char *k = part_key(part);
  json_t *e = json_pack("{s:O, s:o}", "partition", part, "cursor", cursor);
  json_t *old = k ? json_object_get(p->index, k) : NULL;
  if (old) {
    json_object_set(old, "cursor", json_object_get(e, "cursor"));
    json_decref(e);
    free(k);
    return SL_EOK;
  }
  bool bad = !k || !e || json_array_append(p->entries, e) || json_object_set_new(p->index, k, e);
  free(k);
  p->n_partitions++;
  return bad ? sl_err_set(err, SL_ENOMEM, "out of memory") : SL_EOK;
}

/* A partition with its own entry starts from it (also after the switch to
 * the global cursor, as the CDK keeps the cursors it has). */
static sl_code open_partition(part_cursor *p, sl_err *err) {
  json_t *e = entry_for(p, p->part);
  if (!e && !p->use_global && p->n_partitions > SWITCH_TO_GLOBAL_LIMIT) {
    p->use_global = true;
    lc_log(p->src, "INFO", "stream %s: more than %d partitions: switching to a global cursor", lc_stream_name(p->st),
           SWITCH_TO_GLOBAL_LIMIT);
  }
  const json_t *st = e ? json_object_get(e, "cursor") : p->global;
  sl_code rc = lc_cursor_build(p->st, p->inc, st, e ? 0 : p->lookback_s * SL_US_PER_S, &p->cur, err);
  if (rc || p->use_global) {
    if (!rc && !e) p->n_partitions++;
    return rc;
  }
  json_t *now;
  if ((rc = lc_cursor_state(p->cur, &now, err))) return rc;
  if (e) json_object_set_new(e, "cursor", now);
  else rc = add_entry(p, p->part, now, err);
  return rc;
}

/* A partition whose slices are all read counts its cursor value. */
static sl_code close_partition(part_cursor *p, sl_err *err) {
  if (!p->cur || p->use_global) return SL_EOK;
  json_t *st;
  sl_code rc = lc_cursor_state(p->cur, &st, err);
  if (rc) return rc;
  update_global(p, lc_cursor_field(p->cur), json_object_get(st, lc_cursor_field(p->cur)));
  json_decref(st);
  return SL_EOK;
}

static sl_code pc_next(lc_slicer *s, json_t **slice, sl_err *err) {
  part_cursor *p = (part_cursor *)s;
  *slice = NULL;
  for (;;) {
    if (p->cur) {
      json_t *w;
      sl_code rc = p->cur->ops->next(p->cur, &w, err);
      if (rc) return rc;
      if (w) {
        *slice = lc_slice_new(json_incref(p->part), json_incref(json_object_get(w, "cursor_slice")), json_incref(p->extra));
        json_decref(w);
        return SL_EOK;
      }
      if ((rc = close_partition(p, err))) return rc;
      p->cur->ops->free(p->cur);
      p->cur = NULL;
    }
    json_t *rs;
    sl_code rc = p->router->ops->next(p->router, &rs, err);
    if (rc || !rs) return rc;
    json_decref(p->part);
    json_decref(p->extra);
    p->part = json_incref(json_object_get(rs, "partition"));
    p->extra = json_incref(json_object_get(rs, "extra_fields"));
    json_decref(rs);
    if ((rc = open_partition(p, err))) return rc;
  }
}

static sl_code pc_reqopts(lc_slicer *s, const json_t *slice, lc_reqopts *opts, sl_err *err) {
  part_cursor *p = (part_cursor *)s;
  sl_code rc = p->router->ops->request_options(p->router, slice, opts, err);
  return rc ? rc : p->cur->ops->request_options(p->cur, slice, opts, err);
}

static sl_code pc_observe(lc_slicer *s, const json_t *slice, const lc_record *r, sl_err *err) {
  part_cursor *p = (part_cursor *)s;
  sl_code rc = p->cur->ops->observe(p->cur, slice, r, err);
  int64_t us;
  json_t *v;
  if (rc || !lc_cursor_last(p->cur, &us)) return rc;
  if ((rc = lc_cursor_format(p->cur, us, &v, err))) return rc;
  update_global(p, lc_cursor_field(p->cur), v);
  json_decref(v);
  return SL_EOK;
}

static bool pc_keep(lc_slicer *s, const json_t *slice, const lc_record *r) {
  part_cursor *p = (part_cursor *)s;
  return !p->cur->ops->keep || p->cur->ops->keep(p->cur, slice, r);
}

static bool pc_page_stop(lc_slicer *s, const json_t *slice, const lc_record *last) {
  part_cursor *p = (part_cursor *)s;
  return lc_cursor_page_stop(p->cur, slice, last);
}

static json_t *full_state(part_cursor *p) {
  json_t *st = json_pack("{s:b}", "use_global_cursor", p->use_global);
  if (!p->use_global) json_object_set_new(st, "states", json_deep_copy(p->entries));
  if (p->global) json_object_set(st, "state", p->global);
  json_object_set_new(st, "lookback_window", json_integer(p->lookback_s));
  if (p->parent_state) json_object_set(st, "parent_state", p->parent_state);
  return st;
}

/* Intermediate states at most once per 600 s, as the CDK throttles them
 * (each carries every partition); the final one always. */
static sl_code pc_close(lc_slicer *s, const json_t *slice, json_t **state, sl_err *err) {
  part_cursor *p = (part_cursor *)s;
  *state = NULL;
  json_t *cs;
  sl_code rc = p->cur->ops->close_slice(p->cur, slice, &cs, err);
  if (rc) return rc;
  json_t *e = p->use_global ? NULL : entry_for(p, p->part);
  if (e) json_object_set(e, "cursor", cs);
  json_decref(cs);
  int64_t now = lc_now_us();
  if (p->emitted && now - p->last_emit_us <= 600 * SL_US_PER_S) return SL_EOK;
  if (p->use_global && !p->parent_state) return SL_EOK;
  p->emitted = true;
  p->last_emit_us = now;
  *state = full_state(p);
  return SL_EOK;
}

/* At the end the global value becomes the largest value seen (records and
 * finished partitions), lookback_window this sync's duration in seconds, and
 * parent_state the router's ({} for substreams, none for lists). */
static sl_code pc_final(lc_slicer *s, json_t **state, sl_err *err) {
  part_cursor *p = (part_cursor *)s;
  sl_code rc = close_partition(p, err);
  if (rc) return rc;
  if (p->new_global) {
    json_decref(p->global);
    p->global = json_incref(p->new_global);
  }
  p->lookback_s = (lc_now_us() - p->started_us) / SL_US_PER_S;
  json_decref(p->parent_state);
  p->parent_state = p->has_substream ? lc_router_slicer_parent_state(p->router) : NULL;
  *state = full_state(p);
  return SL_EOK;
}

static void pc_free(lc_slicer *s) {
  part_cursor *p = (part_cursor *)s;
  if (p->router) p->router->ops->free(p->router);
  if (p->cur) p->cur->ops->free(p->cur);
  json_decref(p->part);
  json_decref(p->extra);
  json_decref(p->entries);
  json_decref(p->index);
  json_decref(p->global);
  json_decref(p->new_global);
  json_decref(p->parent_state);
  free(p);
}

static const lc_slicer_ops pc_ops = {pc_next, pc_reqopts, pc_observe, NULL, pc_close, pc_final, pc_free, pc_page_stop};
static const lc_slicer_ops pc_ops_client = {pc_next, pc_reqopts, pc_observe, pc_keep, pc_close, pc_final, pc_free, pc_page_stop};

static sl_code bad_state(part_cursor *p, const char *what, sl_err *err) {
  return sl_err_set(err, SL_ESTATE, "stream %s: per-partition state: %s", lc_stream_name(p->st), what);
}

static sl_code read_state(part_cursor *p, const json_t *state, sl_err *err) {
  if (!state || !json_object_size(state)) return SL_EOK;
  if (!json_is_object(state)) return bad_state(p, "not an object", err);
  const json_t *states = json_object_get(state, "states"), *g = json_object_get(state, "state");
  if (!states && !g) { /* a plain cursor state: the global value for every partition */
    p->global = json_deep_copy(state);
    p->new_global = json_deep_copy(state);
    return SL_EOK;
  }
  p->use_global = json_is_true(json_object_get(state, "use_global_cursor")); /* the state's word wins, as in the CDK */
  if (g && !json_is_null(g)) {
    if (!json_is_object(g)) return bad_state(p, "\"state\" is not an object", err);
    p->global = json_deep_copy(g);
    p->new_global = json_deep_copy(g);
  }
  const json_t *lb = json_object_get(state, "lookback_window");
  if (lb && !json_is_null(lb)) {
    if (!json_is_number(lb) || json_number_value(lb) < 0) return bad_state(p, "\"lookback_window\" is not a number of seconds", err);
    p->lookback_s = (int64_t)json_number_value(lb);
  }
  const json_t *ps = json_object_get(state, "parent_state");
  if (json_is_object(ps)) p->parent_state = json_deep_copy(ps);
  if (states && !json_is_array(states)) return bad_state(p, "\"states\" is not a list", err);
  size_t i;
  const json_t *e;
  json_array_foreach(states, i, e) {
    const json_t *part = json_object_get(e, "partition"), *cur = json_object_get(e, "cursor");
    if (!json_is_object(part) || !json_is_object(cur)) {
      char what[96];
      snprintf(what, sizeof what, "states[%zu] needs a \"partition\" and a \"cursor\" object", i);
      return bad_state(p, what, err);
    }
    sl_code rc = add_entry(p, part, json_deep_copy(cur), err);
    if (rc) return rc;
  }
  return SL_EOK;
}

sl_code lc_partition_cursor_build(lc_stream *st, const json_t *inc, const json_t *router, const json_t *state, lc_slicer **out,
                                  sl_err *err) {
  *out = NULL;
  part_cursor *p = calloc(1, sizeof *p);
  if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
  p->base.ops = json_is_true(json_object_get(inc, "is_client_side_incremental")) ? &pc_ops_client : &pc_ops;
  p->st = st;
  p->src = lc_stream_source(st);
  p->inc = inc;
  p->started_us = lc_now_us();
  p->entries = json_array();
  p->index = json_object();
  p->use_global = json_is_true(json_object_get(inc, "global_substream_cursor"));
  sl_code rc = read_state(p, state, err);
  if (!rc) rc = lc_router_slicer_build(st, router, &p->router, err);
  if (!rc && (p->has_substream = lc_router_slicer_has_parents(p->router)))
    lc_router_slicer_set_parent_state(p->router, p->parent_state);
  if (rc) {
    pc_free(&p->base);
    return rc;
  }
  *out = &p->base;
  return SL_EOK;
}
