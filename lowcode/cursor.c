/* DatetimeBasedCursor for a stream without partition router (notes §6.11):
 * date windows as slices, start/end_time_option injection, the newest record
 * cursor value per slice, and state in the shape the CDK's concurrent cursor
 * writes for declarative streams (legacy {cursor_field: value}, computed
 * from merged completed intervals; {"state_type": "date-range"} read on
 * input). Times are µs since the epoch (UTC). */
#include <stdlib.h>
#include <string.h>

#include "lc.h"
#include "sluice/pydt.h"

typedef struct ival {
  int64_t start, end, mrcv;
  bool has_mrcv;
} ival;

typedef struct dt_cursor {
  lc_slicer base;
  lc_source *src;
  const json_t *node;
  const char *stream;
  char *cursor_field, *fmt, *pstart, *pend;
  char **formats; /* cursor_datetime_formats + datetime_format */
  size_t n_formats;
  int64_t start, end, gran, lookback;
  int64_t sync_start; /* the state value if not before start, else start */
  sl_dur step;
  bool has_step, has_gran, client_side, data_feed;
  lc_reqopt start_opt, end_opt;
  json_t *legacy; /* legacy keys carried over into the state */
  ival *iv;       /* completed intervals (the first one: prior syncs) */
  size_t n_iv, cap_iv;
  json_t *pending; /* the windows still to read (array of [lo, hi]) */
  size_t next;
  int64_t cur_mrcv; /* of the slice being read */
  bool cur_has;
  int64_t last; /* the value of the record just observed */
  bool has_last;
  int64_t runtime_lookback;
  enum { CL_NONE, CL_DAY, CL_WEEK, CL_MONTH } clamp;
  int clamp_wday; /* Monday = 0 */
} dt_cursor;

static sl_code fmt_dt(dt_cursor *c, int64_t us, json_t **out, sl_err *err) {
  sl_dt dt = {.us = us, .aware = true};
  sl_buf b;
  sl_buf_init(&b, 4096);
  int r = sl_dt_format_cdk(&dt, c->fmt, &b);
  *out = r ? NULL : json_string(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  if (!*out) return sl_err_set(err, SL_ECONFIG, "stream %s: cannot format a datetime with datetime_format \"%s\"", c->stream, c->fmt);
  /* %s and friends give numbers in the CDK only through str(); keep text. */
  return SL_EOK;
}

/* Parse with the formats in order; false when none matches. */
static bool parse_any(dt_cursor *c, const char *s, size_t n, int64_t *us) {
  char emsg[160];
  for (size_t i = 0; i < c->n_formats; i++) {
    sl_dt dt;
    if (!sl_dt_parse_cdk(s, n, c->formats[i], &dt, emsg, sizeof emsg)) {
      *us = sl_dt_utc_us(&dt);
      return true;
    }
  }
  return false;
}

static sl_code bad_value(dt_cursor *c, sl_code code, const char *what, const char *v, sl_err *err) {
  sl_buf b;
  sl_buf_init(&b, 4096);
  for (size_t i = 0; i < c->n_formats; i++) sl_buf_appendf(&b, "%s'%s'", i ? ", " : "", c->formats[i]);
  sl_code rc = sl_err_set(err, code, "stream %s: %s \"%.100s\" of cursor field '%s' matches none of the formats [%s]",
                          c->stream, what, v, c->cursor_field, sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return rc;
}

/* A JSON cursor value (string or number) as text for parsing. */
static char *value_text(const json_t *v) {
  if (json_is_string(v)) return strdup(json_string_value(v));
  sl_buf b;
  sl_buf_init(&b, 256);
  lc_pystr(&b, v);
  char *s = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return s;
}

static sl_code parse_value(dt_cursor *c, sl_code code, const char *what, const json_t *v, int64_t *us, sl_err *err) {
  char *s = value_text(v);
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = parse_any(c, s, strlen(s), us) ? SL_EOK : bad_value(c, code, what, s, err);
  free(s);
  return rc;
}

/* Round-trip through datetime_format: slice bounds are what the CDK parses
 * back from the formatted slice. */
static int64_t truncate_fmt(dt_cursor *c, int64_t us) {
  json_t *s = NULL;
  sl_err e = SL_ERR_INIT;
  int64_t out = us;
  if (!fmt_dt(c, us, &s, &e) && !parse_any(c, json_string_value(s), strlen(json_string_value(s)), &out)) out = us;
  json_decref(s);
  return out;
}

static sl_code add_iv(dt_cursor *c, ival v) {
  if (c->n_iv == c->cap_iv) {
    size_t cap = c->cap_iv ? c->cap_iv * 2 : 8;
    ival *n = realloc(c->iv, cap * sizeof *n);
    if (!n) return SL_ENOMEM;
    c->iv = n;
    c->cap_iv = cap;
  }
  c->iv[c->n_iv++] = v;
  return SL_EOK;
}

static int iv_cmp(const void *a, const void *b) {
  const ival *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

/* Merge touching intervals (end + granularity >= next start); the result
 * replaces the list. */
static void merge(dt_cursor *c) {
  if (!c->n_iv) return;
  qsort(c->iv, c->n_iv, sizeof *c->iv, iv_cmp);
  size_t w = 0;
  for (size_t i = 1; i < c->n_iv; i++) {
    ival *l = &c->iv[w], *x = &c->iv[i];
    if (l->end + c->gran >= x->start) {
      if (x->end > l->end) l->end = x->end;
      if (x->has_mrcv && (!l->has_mrcv || x->mrcv > l->mrcv)) l->mrcv = x->mrcv, l->has_mrcv = true;
    } else c->iv[++w] = *x;
  }
  c->n_iv = w + 1;
}

static sl_code add_window(dt_cursor *c, int64_t lo, int64_t hi) {
  return json_array_append_new(c->pending, json_pack("[I, I]", (json_int_t)lo, (json_int_t)hi)) ? SL_ENOMEM : SL_EOK;
}

/* `clamping` (the CDK's clamping strategies): DAY, WEEK (on a weekday) or
 * MONTH boundaries, rounded up (ceil) or down. Quirks kept on purpose: DAY
 * ceil always moves to the next midnight, WEEK floor on the target weekday
 * goes back a whole week, MONTH leaves the 1st of a month as it is. */
static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

static int64_t clamp_to(const dt_cursor *c, int64_t us, bool ceil) {
  int64_t days = floor_div(us, SL_US_PER_DAY), mid = days * SL_US_PER_DAY;
  switch (c->clamp) {
  case CL_DAY:
    return ceil ? mid + SL_US_PER_DAY : mid;
  case CL_WEEK: {
    int wd = (int)((days % 7 + 7 + 3) % 7); /* Monday = 0; 1970-01-01 was a Thursday */
    int diff = wd > c->clamp_wday ? 7 - (wd - c->clamp_wday) : c->clamp_wday - wd;
    return mid + (int64_t)(ceil ? diff : diff - 7) * SL_US_PER_DAY;
  }
  case CL_MONTH: {
    int64_t y;
    int m, d;
    sl_civil_from_days(days, &y, &m, &d);
    if (d == 1) return mid;
    if (!ceil) return sl_days_from_civil(y, m, 1) * SL_US_PER_DAY;
    return sl_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * SL_US_PER_DAY;
  }
  default:
    return us;
  }
}

/* Windows of [lower, upper) as the concurrent cursor splits them (with its
 * clamping: bounds rounded up, the last upper bound kept unless the whole
 * range is one window, and a window that clamping collapsed ends the range). */
static sl_code split(dt_cursor *c, int64_t lower, int64_t upper, bool upper_is_end) {
  if (lower >= upper || upper < c->start) return SL_EOK;
  if (lower < c->start) lower = c->start;
  int64_t cur = lower;
  bool single = !c->has_step;
  for (;;) {
    int64_t hi = upper;
    if (c->has_step) {
      sl_dt d = {.us = cur, .aware = true}, n;
      if (!sl_dt_add_dur(&d, &c->step, 1, &n)) return SL_ECONFIG;
      if (n.us <= cur) return SL_ECONFIG;
      if (n.us < upper) hi = n.us;
      else if (cur == lower) single = true;
    }
    bool reached = hi >= upper;
    int64_t clo = clamp_to(c, cur, true), chi = single || hi != upper ? clamp_to(c, hi, true) : hi;
    if (!single && clo >= chi) return SL_EOK;
    bool cut = c->has_gran && (!upper_is_end || (!single && !reached));
    sl_code rc = add_window(c, clo, cut ? chi - c->gran : chi);
    if (rc) return rc;
    if (reached || single) return SL_EOK;
    cur = chi;
  }
}

/* ---- configuration ---- */

static sl_code render(dt_cursor *c, const json_t *node, const char *field, char **out, sl_err *err) {
  return lc_render_field(c->src, node, field, out, err);
}

static sl_code parse_with(dt_cursor *c, const json_t *node, const char *field, const char *s, const char *fmt,
                          int64_t *us, sl_err *err) {
  sl_dt dt;
  char emsg[200];
  if (sl_dt_parse_cdk(s, strlen(s), fmt, &dt, emsg, sizeof emsg))
    return sl_err_set(err, SL_ECONFIG, "stream %s: %s \"%.100s\" does not match the format \"%s\" (%s; %s)", c->stream, field,
                      s, fmt, emsg, LC_WHERE(c->src, node));
  *us = sl_dt_utc_us(&dt);
  return SL_EOK;
}

/* A datetime field: a string template or a MinMaxDatetime. have=false when absent. */
static sl_code minmax(dt_cursor *c, const char *field, int64_t *us, bool *have, sl_err *err) {
  const json_t *n = json_object_get(c->node, field);
  *have = n && !json_is_null(n);
  if (!*have) return SL_EOK;
  char *s = NULL, *lo = NULL, *hi = NULL;
  const json_t *at = json_is_object(n) ? n : c->node;
  const char *fn = json_is_object(n) ? "datetime" : field;
  const char *fmt = c->fmt;
  if (json_is_object(n) && json_string_length(json_object_get(n, "datetime_format")))
    fmt = json_string_value(json_object_get(n, "datetime_format"));
  sl_code rc = render(c, at, fn, &s, err);
  if (!rc && !s) rc = sl_err_set(err, SL_ECONFIG, "stream %s: %s has no datetime (%s)", c->stream, field, LC_WHERE(c->src, n));
  if (!rc) rc = parse_with(c, n, field, s, fmt, us, err);
  if (!rc && json_is_object(n)) rc = render(c, n, "min_datetime", &lo, err);
  if (!rc && json_is_object(n)) rc = render(c, n, "max_datetime", &hi, err);
  int64_t b;
  if (!rc && lo && *lo && !(rc = parse_with(c, n, "min_datetime", lo, fmt, &b, err)) && *us < b) *us = b;
  if (!rc && hi && *hi && !(rc = parse_with(c, n, "max_datetime", hi, fmt, &b, err)) && *us > b) *us = b;
  free(s);
  free(lo);
  free(hi);
  return rc;
}

static sl_code duration(dt_cursor *c, const char *field, sl_dur *d, bool *have, sl_err *err) {
  char *s = NULL;
  memset(d, 0, sizeof *d);
  sl_code rc = render(c, c->node, field, &s, err);
  *have = !rc && s && *s;
  char emsg[160];
  if (*have && sl_dur_parse(s, strlen(s), d, emsg, sizeof emsg))
    rc = sl_err_set(err, SL_ECONFIG, "stream %s: %s \"%.60s\" is not an ISO-8601 duration (%s; %s)", c->stream, field, s, emsg,
                    LC_WHERE(c->src, c->node));
  free(s);
  return rc;
}

static sl_code read_state(dt_cursor *c, const json_t *state, sl_err *err) {
  c->legacy = json_object();
  c->sync_start = c->start;
  ival prior = {c->start, c->start, c->start, true};
  if (state && !json_is_object(state))
    return sl_err_set(err, SL_ESTATE, "stream %s: the state is not an object", c->stream);
  const char *stype = json_string_value(json_object_get(state, "state_type"));
  if (state && json_object_size(state) && stype) {
    if (strcmp(stype, "date-range"))
      return sl_err_set(err, SL_ESTATE, "stream %s: state_type \"%s\" is not supported (date-range is)", c->stream, stype);
    const json_t *sl = json_object_get(state, "slices"), *e;
    size_t i;
    if (!json_is_array(sl)) return sl_err_set(err, SL_ESTATE, "stream %s: a date-range state needs a \"slices\" list", c->stream);
    const json_t *lg = json_object_get(state, "legacy");
    if (json_is_object(lg)) json_object_update(c->legacy, (json_t *)lg);
    json_array_foreach(sl, i, e) {
      ival v = {0};
      const json_t *s = json_object_get(e, "start"), *en = json_object_get(e, "end"), *m = json_object_get(e, "most_recent_cursor_value");
      if (!s || !en) return sl_err_set(err, SL_ESTATE, "stream %s: state slice %zu needs \"start\" and \"end\"", c->stream, i);
      sl_code rc = parse_value(c, SL_ESTATE, "state value", s, &v.start, err);
      if (!rc) rc = parse_value(c, SL_ESTATE, "state value", en, &v.end, err);
      if (!rc && m && !json_is_null(m)) rc = parse_value(c, SL_ESTATE, "state value", m, &v.mrcv, err), v.has_mrcv = true;
      if (rc) return rc;
      if (add_iv(c, v)) return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    if (c->n_iv) return SL_EOK; /* no slices: read as if there were no state */
  }
  if (state) json_object_update(c->legacy, (json_t *)state);
  const json_t *v = json_object_get(state, c->cursor_field);
  if (v && !json_is_null(v)) {
    int64_t us;
    sl_code rc = parse_value(c, SL_ESTATE, "state value", v, &us, err);
    if (rc) return rc;
    if (us >= c->start) prior.end = prior.mrcv = c->sync_start = us;
  }
  return add_iv(c, prior) ? sl_err_set(err, SL_ENOMEM, "out of memory") : SL_EOK;
}

/* The windows still to read, as the concurrent cursor plans them: before
 * the first interval done, the gaps between intervals (from an interval's
 * end + granularity), and from the last end minus lookback_window to the end. */
static sl_code plan(dt_cursor *c, sl_err *err) {
  merge(c);
  sl_code rc = SL_EOK;
  if (c->start < c->iv[0].start) rc = split(c, c->start, c->iv[0].start, false);
  for (size_t i = 0; !rc && i + 1 < c->n_iv; i++)
    rc = split(c, c->iv[i].end + (c->has_gran ? c->gran : 0), c->iv[i + 1].start, false);
  if (!rc) rc = split(c, c->iv[c->n_iv - 1].end - c->lookback, c->end, true);
  if (rc) return sl_err_set(err, rc, "stream %s: cannot build date windows (step of %s at %s)", c->stream,
                            json_string_value(json_object_get(c->node, "step")) ?: "?", LC_WHERE(c->src, c->node));
  return SL_EOK;
}

/* ---- slicer ops ---- */

static sl_code dc_next(lc_slicer *s, json_t **slice, sl_err *err) {
  dt_cursor *c = (dt_cursor *)s;
  *slice = NULL;
  if (c->next >= json_array_size(c->pending)) return SL_EOK;
  const json_t *w = json_array_get(c->pending, c->next++);
  json_t *lo, *hi;
  sl_code rc = fmt_dt(c, json_integer_value(json_array_get(w, 0)), &lo, err);
  if (rc) return rc;
  if ((rc = fmt_dt(c, json_integer_value(json_array_get(w, 1)), &hi, err))) {
    json_decref(lo);
    return rc;
  }
  json_t *cs = json_object();
  json_object_set_new(cs, c->pstart, lo);
  json_object_set_new(cs, c->pend, hi);
  *slice = lc_slice_new(NULL, cs, NULL);
  c->cur_has = false;
  return SL_EOK;
}

static sl_code dc_reqopts(lc_slicer *s, const json_t *slice, lc_reqopts *opts, sl_err *err) {
  dt_cursor *c = (dt_cursor *)s;
  const json_t *cs = json_object_get(slice, "cursor_slice");
  json_t *ctx = lc_ctx_new(c->src, c->node);
  sl_code rc = SL_EOK;
  if (c->start_opt.present) rc = lc_reqopt_inject(c->src, &c->start_opt, json_object_get(cs, c->pstart), ctx, opts, err);
  if (!rc && c->end_opt.present) rc = lc_reqopt_inject(c->src, &c->end_opt, json_object_get(cs, c->pend), ctx, opts, err);
  json_decref(ctx);
  return rc;
}

/* The record's cursor value: 1 found, 0 absent, or an error. */
static sl_code record_value(dt_cursor *c, const lc_record *r, int64_t *us, bool *found, sl_err *err) {
  json_t *v = lc_record_get(r, c->cursor_field);
  *found = v && !json_is_null(v);
  sl_code rc = *found ? parse_value(c, SL_ESOURCE, "record value", v, us, err) : SL_EOK;
  json_decref(v);
  return rc;
}

static sl_code dc_observe(lc_slicer *s, const json_t *slice, const lc_record *r, sl_err *err) {
  dt_cursor *c = (dt_cursor *)s;
  int64_t us;
  bool found;
  sl_code rc = record_value(c, r, &us, &found, err);
  if (rc) return rc;
  c->has_last = false;
  if (!found) {
    lc_log(c->src, "WARN", "stream %s: a record has no value for cursor field '%s'; it is kept", c->stream, c->cursor_field);
    return SL_EOK;
  }
  if (!c->cur_has || us > c->cur_mrcv) c->cur_mrcv = us, c->cur_has = true;
  c->last = us;
  c->has_last = true;
  return SL_EOK;
}

static sl_code slice_bounds(dt_cursor *c, const json_t *slice, int64_t *lo, int64_t *hi, sl_err *err) {
  const json_t *cs = json_object_get(slice, "cursor_slice");
  sl_code rc = parse_value(c, SL_EINTERNAL, "slice bound", json_object_get(cs, c->pstart), lo, err);
  return rc ? rc : parse_value(c, SL_EINTERNAL, "slice bound", json_object_get(cs, c->pend), hi, err);
}

/* is_client_side_incremental: records from the sync start to the end bound. */
static bool dc_keep(lc_slicer *s, const json_t *slice, const lc_record *r) {
  dt_cursor *c = (dt_cursor *)s;
  int64_t us;
  bool found;
  sl_err e = SL_ERR_INIT;
  if (record_value(c, r, &us, &found, &e) || !found) return true; /* observe() reports it */
  return us >= c->sync_start && us <= c->end;
}

/* is_data_feed: the feed is newest first; a page ending before the sync
 * start means the rest is already synced. */
static bool dc_page_stop(lc_slicer *s, const json_t *slice, const lc_record *last) {
  dt_cursor *c = (dt_cursor *)s;
  int64_t us;
  bool found;
  sl_err e = SL_ERR_INIT;
  if (!c->data_feed || record_value(c, last, &us, &found, &e) || !found) return false;
  return us < c->sync_start || us > c->end;
}

static sl_code state_now(dt_cursor *c, json_t **state, sl_err *err) {
  merge(c);
  ival *f = &c->iv[0];
  json_t *v;
  sl_code rc = fmt_dt(c, f->has_mrcv ? f->mrcv : f->start, &v, err);
  if (rc) return rc;
  *state = json_deep_copy(c->legacy);
  json_object_set_new(*state, c->cursor_field, v);
  return SL_EOK;
}

static sl_code dc_close(lc_slicer *s, const json_t *slice, json_t **state, sl_err *err) {
  dt_cursor *c = (dt_cursor *)s;
  *state = NULL;
  ival v = {0};
  sl_code rc = slice_bounds(c, slice, &v.start, &v.end, err);
  if (rc) return rc;
  v.has_mrcv = c->cur_has;
  v.mrcv = c->cur_mrcv;
  if (add_iv(c, v)) return sl_err_set(err, SL_ENOMEM, "out of memory");
  return state_now(c, state, err);
}

static sl_code dc_final(lc_slicer *s, json_t **state, sl_err *err) {
  dt_cursor *c = (dt_cursor *)s;
  return state_now(c, state, err);
}

static void dc_free(lc_slicer *s) {
  dt_cursor *c = (dt_cursor *)s;
  free(c->cursor_field);
  free(c->fmt);
  free(c->pstart);
  free(c->pend);
  for (size_t i = 0; i < c->n_formats; i++) free(c->formats[i]);
  free(c->formats);
  lc_reqopt_dispose(&c->start_opt);
  lc_reqopt_dispose(&c->end_opt);
  json_decref(c->legacy);
  json_decref(c->pending);
  free(c->iv);
  free(c);
}

static const lc_slicer_ops dc_ops = {dc_next, dc_reqopts, dc_observe, NULL, dc_close, dc_final, dc_free, dc_page_stop};
static const lc_slicer_ops dc_ops_client = {dc_next, dc_reqopts, dc_observe, dc_keep, dc_close, dc_final, dc_free, dc_page_stop};

static sl_code text_field(dt_cursor *c, const char *field, const char *dflt, char **out, sl_err *err) {
  sl_code rc = render(c, c->node, field, out, err);
  if (!rc && (!*out || !**out)) {
    free(*out);
    *out = dflt ? strdup(dflt) : NULL;
    if (!dflt)
      return sl_err_set(err, SL_ECONFIG, "stream %s: DatetimeBasedCursor needs %s (%s)", c->stream, field, LC_WHERE(c->src, c->node));
  }
  return rc;
}

/* clamping: {target: DAY|WEEK|MONTH (a template), target_details:
 * {weekday}}. The end bound becomes the period's floor minus
 * cursor_granularity (else one second for DAY, one day otherwise). */
static sl_code clamping(dt_cursor *c, sl_err *err) {
  static const char *const days[] = {"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"};
  const json_t *cl = json_object_get(c->node, "clamping");
  if (!cl || json_is_null(cl)) return SL_EOK;
  char *t = NULL;
  sl_code rc = json_is_object(cl) ? render(c, cl, "target", &t, err) : SL_EOK;
  if (rc) return rc;
  if (t && !strcmp(t, "DAY")) c->clamp = CL_DAY;
  else if (t && !strcmp(t, "WEEK")) c->clamp = CL_WEEK;
  else if (t && !strcmp(t, "MONTH")) c->clamp = CL_MONTH;
  else rc = sl_err_set(err, SL_ECONFIG, "stream %s: invalid clamping target \"%.40s\", expected DAY, WEEK or MONTH (%s)", c->stream,
                       t ? t : "", LC_WHERE(c->src, cl));
  free(t);
  if (rc) return rc;
  if (c->clamp == CL_WEEK) {
    const char *wd = json_string_value(json_object_get(json_object_get(cl, "target_details"), "weekday"));
    c->clamp_wday = -1;
    for (int i = 0; wd && i < 7; i++)
      if (!strcmp(wd, days[i])) c->clamp_wday = i;
    if (c->clamp_wday < 0)
      return sl_err_set(err, SL_ECONFIG, "stream %s: WEEK clamping needs target_details.weekday (MONDAY to SUNDAY), got \"%.20s\" (%s)",
                        c->stream, wd ? wd : "", LC_WHERE(c->src, cl));
  }
  int64_t g = c->has_gran ? c->gran : c->clamp == CL_DAY ? SL_US_PER_S : SL_US_PER_DAY;
  c->end = clamp_to(c, c->end, false) - g;
  return SL_EOK;
}

static sl_code build(dt_cursor *c, const json_t *state, sl_err *err) {
  sl_code rc;
  if ((rc = text_field(c, "cursor_field", NULL, &c->cursor_field, err))) return rc;
  if ((rc = text_field(c, "datetime_format", NULL, &c->fmt, err))) return rc;
  if ((rc = text_field(c, "partition_field_start", "start_time", &c->pstart, err))) return rc;
  if ((rc = text_field(c, "partition_field_end", "end_time", &c->pend, err))) return rc;
  const json_t *cf = json_object_get(c->node, "cursor_datetime_formats"), *f;
  size_t i;
  c->formats = calloc(json_array_size(cf) + 1, sizeof *c->formats);
  if (!c->formats) return sl_err_set(err, SL_ENOMEM, "out of memory");
  json_array_foreach(cf, i, f) if (json_is_string(f)) c->formats[c->n_formats++] = strdup(json_string_value(f));
  c->formats[c->n_formats++] = strdup(c->fmt);
  c->data_feed = json_is_true(json_object_get(c->node, "is_data_feed"));
  bool have;
  if ((rc = minmax(c, "start_datetime", &c->start, &have, err))) return rc;
  if (!have) return sl_err_set(err, SL_ECONFIG, "stream %s: DatetimeBasedCursor needs start_datetime (%s)", c->stream, LC_WHERE(c->src, c->node));
  if ((rc = minmax(c, "end_datetime", &c->end, &have, err))) return rc;
  if (!have) c->end = lc_now_us();
  sl_dur g, lb;
  if ((rc = duration(c, "step", &c->step, &c->has_step, err))) return rc;
  if ((rc = duration(c, "cursor_granularity", &g, &c->has_gran, err))) return rc;
  if (c->has_step != c->has_gran)
    return sl_err_set(err, SL_ECONFIG, "stream %s: step and cursor_granularity must be both present or both absent (%s)", c->stream,
                      LC_WHERE(c->src, c->node));
  if (c->has_gran && (g.years || g.months))
    return sl_err_set(err, SL_ECONFIG, "stream %s: cursor_granularity must be a fixed duration (%s)", c->stream, LC_WHERE(c->src, c->node));
  c->gran = c->has_gran ? g.us : 1000; /* merging default: one millisecond */
  if ((rc = duration(c, "lookback_window", &lb, &have, err))) return rc;
  c->lookback = have ? lb.us + (lb.years * 365 + lb.months * 30) * SL_US_PER_DAY : 0;
  if (c->runtime_lookback > c->lookback) c->lookback = c->runtime_lookback;
  if ((rc = lc_reqopt_build(c->src, json_object_get(c->node, "start_time_option"), &c->start_opt, err))) return rc;
  if ((rc = lc_reqopt_build(c->src, json_object_get(c->node, "end_time_option"), &c->end_opt, err))) return rc;
  c->start = truncate_fmt(c, c->start);
  c->end = truncate_fmt(c, c->end);
  if ((rc = clamping(c, err))) return rc;
  if ((rc = read_state(c, state, err))) return rc;
  if (!(c->pending = json_array())) return sl_err_set(err, SL_ENOMEM, "out of memory");
  return plan(c, err);
}

bool lc_cursor_last(lc_slicer *s, int64_t *us) {
  dt_cursor *c = (dt_cursor *)s;
  *us = c->last;
  return c->has_last;
}

bool lc_cursor_page_stop(lc_slicer *s, const json_t *slice, const lc_record *last) { return dc_page_stop(s, slice, last); }

sl_code lc_cursor_format(lc_slicer *s, int64_t us, json_t **out, sl_err *err) { return fmt_dt((dt_cursor *)s, us, out, err); }

const char *lc_cursor_field(lc_slicer *s) { return ((dt_cursor *)s)->cursor_field; }

sl_code lc_cursor_state(lc_slicer *s, json_t **state, sl_err *err) { return state_now((dt_cursor *)s, state, err); }

sl_code lc_cursor_build(lc_stream *st, const json_t *node, const json_t *state, int64_t runtime_lookback_us, lc_slicer **out,
                        sl_err *err) {
  *out = NULL;
  lc_source *src = lc_stream_source(st);
  const char *type = json_string_value(json_object_get(node, "type"));
  if (!type || strcmp(type, "DatetimeBasedCursor"))
    return sl_err_set(err, SL_ECONFIG, "%s: incremental_sync of type %s is not supported yet by sluice's declarative engine",
                      LC_WHERE(src, node), type ? type : "(none)");
  dt_cursor *c = calloc(1, sizeof *c);
  if (!c) return sl_err_set(err, SL_ENOMEM, "out of memory");
  c->src = src;
  c->node = node;
  c->stream = lc_stream_name(st) ? lc_stream_name(st) : "?";
  c->runtime_lookback = runtime_lookback_us;
  c->client_side = json_is_true(json_object_get(node, "is_client_side_incremental"));
  c->base.ops = c->client_side ? &dc_ops_client : &dc_ops;
  sl_code rc = build(c, state, err);
  if (rc) {
    dc_free(&c->base);
    return rc;
  }
  *out = &c->base;
  return SL_EOK;
}
