/* IncrementingCountCursor: incremental sync on an ever-increasing integer
 * (notes §6.11), as the CDK's concurrent cursor runs it with its integer
 * state converter: one slice {"start": N} from the larger of start_value and
 * the state, start_value_option injecting N, the largest record value
 * tracked, and the sequential state {cursor_field: value} (other keys of the
 * incoming state kept). Incoming state: that form, or the concurrent form
 * {"state_type": "integer"|"date-range", "slices": [{start, end,
 * most_recent_cursor_value?}], "legacy"?}. As in the CDK a record value of 0
 * counts as "no value" when intervals merge (Python truthiness). Not
 * combinable with a partition router (the CDK refuses it too). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

typedef struct cnt_ival {
  int64_t start, end, mrcv; /* mrcv 0: none */
} cnt_ival;

typedef struct cnt_cursor {
  lc_slicer base;
  lc_source *src;
  const json_t *node;
  const char *stream;
  char *cursor_field;
  int64_t start, sync_start;
  lc_reqopt start_opt;
  json_t *legacy;
  cnt_ival *iv;
  size_t n_iv, cap_iv;
  int64_t cur_mrcv; /* of the slice being read; 0: none */
  bool given;
} cnt_cursor;

static sl_code add_iv(cnt_cursor *c, cnt_ival v, sl_err *err) {
  if (c->n_iv == c->cap_iv) {
    size_t cap = c->cap_iv ? c->cap_iv * 2 : 4;
    cnt_ival *n = realloc(c->iv, cap * sizeof *n);
    if (!n) return sl_err_set(err, SL_ENOMEM, "out of memory");
    c->iv = n;
    c->cap_iv = cap;
  }
  c->iv[c->n_iv++] = v;
  return SL_EOK;
}

static int iv_cmp(const void *a, const void *b) {
  const cnt_ival *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Intervals merge when the next starts at most one after the end. */
static void merge(cnt_cursor *c) {
  if (!c->n_iv) return;
  qsort(c->iv, c->n_iv, sizeof *c->iv, iv_cmp);
  size_t w = 0;
  for (size_t i = 1; i < c->n_iv; i++) {
    cnt_ival *l = &c->iv[w], *x = &c->iv[i];
    if (l->end + 1 >= x->start) {
      if (x->end > l->end) l->end = x->end;
      if (l->mrcv && x->mrcv) l->mrcv = x->mrcv > l->mrcv ? x->mrcv : l->mrcv;
      else if (!l->mrcv) l->mrcv = x->mrcv;
    } else c->iv[++w] = *x;
  }
  c->n_iv = w + 1;
}

static sl_code bad(cnt_cursor *c, sl_code code, const char *what, const json_t *v, sl_err *err) {
  char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
  sl_code rc = sl_err_set(err, code, "stream %s: %s %.80s of cursor field '%s' is not an integer (IncrementingCountCursor at %s)", c->stream,
                          what, s ? s : "(none)", c->cursor_field, LC_WHERE(c->src, c->node));
  free(s);
  return rc;
}

static sl_code int_of(cnt_cursor *c, sl_code code, const char *what, const json_t *v, int64_t *out, sl_err *err) {
  if (!json_is_integer(v)) return bad(c, code, what, v, err);
  *out = json_integer_value(v);
  return SL_EOK;
}

static sl_code read_state(cnt_cursor *c, const json_t *state, sl_err *err) {
  c->legacy = json_object();
  c->sync_start = c->start;
  if (state && !json_is_object(state)) return sl_err_set(err, SL_ESTATE, "stream %s: the state is not an object", c->stream);
  const char *stype = json_string_value(json_object_get(state, "state_type"));
  if (stype && (!strcmp(stype, "integer") || !strcmp(stype, "date-range"))) {
    const json_t *sl = json_object_get(state, "slices"), *e;
    size_t i;
    if (!json_is_array(sl)) return sl_err_set(err, SL_ESTATE, "stream %s: a %s state needs a \"slices\" list", c->stream, stype);
    const json_t *lg = json_object_get(state, "legacy");
    if (json_is_object(lg)) json_object_update(c->legacy, (json_t *)lg);
    json_array_foreach(sl, i, e) {
      cnt_ival v = {0};
      const json_t *m = json_object_get(e, "most_recent_cursor_value");
      sl_code rc = int_of(c, SL_ESTATE, "state slice start", json_object_get(e, "start"), &v.start, err);
      if (!rc) rc = int_of(c, SL_ESTATE, "state slice end", json_object_get(e, "end"), &v.end, err);
      if (!rc && m && !json_is_null(m)) rc = int_of(c, SL_ESTATE, "state value", m, &v.mrcv, err);
      if (!rc) rc = add_iv(c, v, err);
      if (rc) return rc;
    }
    merge(c);
    if (c->n_iv) {
      int64_t v = c->iv[0].mrcv ? c->iv[0].mrcv : c->iv[0].end;
      c->sync_start = v ? v : c->start;
      return SL_EOK;
    }
  }
  if (state) json_object_update(c->legacy, (json_t *)state);
  const json_t *v = json_object_get(state, c->cursor_field);
  int64_t prev = 0;
  if (v && !json_is_null(v)) {
    sl_code rc = int_of(c, SL_ESTATE, "state value", v, &prev, err);
    if (rc) return rc;
  }
  if (prev && prev >= c->start) c->sync_start = prev;
  return add_iv(c, (cnt_ival){c->start, c->sync_start, c->sync_start}, err);
}

static sl_code state_now(cnt_cursor *c, json_t **state) {
  merge(c);
  const cnt_ival *f = &c->iv[0];
  *state = json_deep_copy(c->legacy);
  json_object_set_new(*state, c->cursor_field, json_integer(f->mrcv ? f->mrcv : f->start));
  return SL_EOK;
}

/* One slice from the sync start (no upper bound). */
static sl_code cc_next(lc_slicer *s, json_t **slice, sl_err *err) {
  cnt_cursor *c = (cnt_cursor *)s;
  *slice = NULL;
  if (c->given) return SL_EOK;
  c->given = true;
  int64_t lower = c->iv[c->n_iv - 1].end;
  if (lower < c->start) lower = c->start;
  *slice = lc_slice_new(NULL, json_pack("{s:I}", "start", (json_int_t)lower), NULL);
  c->cur_mrcv = 0;
  return *slice ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
}

static sl_code cc_reqopts(lc_slicer *s, const json_t *slice, lc_reqopts *opts, sl_err *err) {
  cnt_cursor *c = (cnt_cursor *)s;
  if (!c->start_opt.present) return SL_EOK;
  const json_t *v = json_object_get(json_object_get(slice, "cursor_slice"), "start");
  /* Query, header and form values are text (requests applies str()). */
  json_t *val = c->start_opt.into == LC_INJ_JSON ? json_incref((json_t *)v)
                                                : json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
  json_t *ctx = lc_ctx_new(c->src, c->node);
  sl_code rc = lc_reqopt_inject(c->src, &c->start_opt, val, ctx, opts, err);
  json_decref(ctx);
  json_decref(val);
  return rc;
}

static sl_code cc_observe(lc_slicer *s, const json_t *slice, const lc_record *r, sl_err *err) {
  cnt_cursor *c = (cnt_cursor *)s;
  json_t *v = lc_record_get(r, c->cursor_field);
  if (!v || json_is_null(v)) {
    json_decref(v);
    lc_log(c->src, "WARN", "stream %s: a record has no value for cursor field '%s'; it is kept", c->stream, c->cursor_field);
    return SL_EOK;
  }
  int64_t n = 0;
  sl_code rc = int_of(c, SL_ESOURCE, "record value", v, &n, err);
  json_decref(v);
  if (!rc && (!c->cur_mrcv || n > c->cur_mrcv)) c->cur_mrcv = n;
  return rc;
}

/* A slice with records adds [sync start, newest] (state emitted); one
 * without adds nothing and emits nothing, as the CDK. */
static sl_code cc_close(lc_slicer *s, const json_t *slice, json_t **state, sl_err *err) {
  cnt_cursor *c = (cnt_cursor *)s;
  *state = NULL;
  if (!c->cur_mrcv) return SL_EOK;
  sl_code rc = add_iv(c, (cnt_ival){c->sync_start, c->cur_mrcv, c->cur_mrcv}, err);
  return rc ? rc : state_now(c, state);
}

static sl_code cc_final(lc_slicer *s, json_t **state, sl_err *err) { return state_now((cnt_cursor *)s, state); }

static void cc_free(lc_slicer *s) {
  cnt_cursor *c = (cnt_cursor *)s;
  free(c->cursor_field);
  lc_reqopt_dispose(&c->start_opt);
  json_decref(c->legacy);
  free(c->iv);
  free(c);
}

static const lc_slicer_ops cc_ops = {cc_next, cc_reqopts, cc_observe, NULL, cc_close, cc_final, cc_free, NULL};

static sl_code build(cnt_cursor *c, const json_t *state, sl_err *err) {
  sl_code rc = lc_render_field(c->src, c->node, "cursor_field", &c->cursor_field, err);
  if (rc) return rc;
  if (!c->cursor_field || !*c->cursor_field)
    return sl_err_set(err, SL_ECONFIG, "stream %s: IncrementingCountCursor needs cursor_field (%s)", c->stream, LC_WHERE(c->src, c->node));
  char *sv = NULL;
  if ((rc = lc_render_field(c->src, c->node, "start_value", &sv, err))) return rc;
  if (sv) { /* Python int() of the rendered text */
    char *end;
    errno = 0;
    long long n = strtoll(sv, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (errno || end == sv || *end)
      rc = sl_err_set(err, SL_ECONFIG, "stream %s: start_value \"%.60s\" is not an integer (%s)", c->stream, sv, LC_WHERE(c->src, c->node));
    c->start = n;
    free(sv);
    if (rc) return rc;
  }
  if ((rc = lc_reqopt_build(c->src, json_object_get(c->node, "start_value_option"), &c->start_opt, err))) return rc;
  return read_state(c, state, err);
}

sl_code lc_count_cursor_build(lc_stream *st, const json_t *node, const json_t *state, lc_slicer **out, sl_err *err) {
  *out = NULL;
  cnt_cursor *c = calloc(1, sizeof *c);
  if (!c) return sl_err_set(err, SL_ENOMEM, "out of memory");
  c->base.ops = &cc_ops;
  c->src = lc_stream_source(st);
  c->node = node;
  c->stream = lc_stream_name(st) ? lc_stream_name(st) : "?";
  sl_code rc = build(c, state, err);
  if (rc) {
    cc_free(&c->base);
    return rc;
  }
  *out = &c->base;
  return SL_EOK;
}
