/* The file-based incremental history, as Airbyte's file-based CDK keeps it:
 * {"history": {uri: mtime}} capped at 10,000 files. When it is full, the
 * oldest entry (by time, then uri) makes room for each new file, and a file
 * not in the history is read when it is newer than the oldest entry the
 * sync started with, or modified within days_to_sync_if_history_is_full
 * days (a window, since the history no longer says what was read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsrc.h"

#define DEFAULT_MAX_HISTORY 10000

/* SLUICE_FILE_HISTORY_MAX lowers the cap (tests). */
static size_t history_max(void) {
  const char *s = getenv("SLUICE_FILE_HISTORY_MAX");
  long v = s ? strtol(s, NULL, 10) : 0;
  return v > 0 ? (size_t)v : DEFAULT_MAX_HISTORY;
}

/* The entry with the smallest (time, uri), or NULL when empty. */
static const char *earliest(json_t *map, const char **time) {
  const char *best = NULL, *bt = NULL, *k;
  json_t *v;
  json_object_foreach(map, k, v) {
    const char *t = json_string_value(v);
    if (!t) continue;
    int c = bt ? strcmp(t, bt) : -1;
    if (c < 0 || (c == 0 && strcmp(k, best) < 0)) best = k, bt = t;
  }
  *time = bt;
  return best;
}

sl_code fhist_init(fhistory *h, const json_t *state, int64_t days_if_full, sl_err *err) {
  memset(h, 0, sizeof *h);
  json_t *old = json_object_get(state, "history");
  h->map = json_is_object(old) ? json_deep_copy(old) : json_object();
  if (!h->map) return sl_err_set(err, SL_ENOMEM, "out of memory");
  h->max = history_max();
  h->full = json_object_size(h->map) >= h->max;
  const char *t, *uri = earliest(h->map, &t);
  if (uri) {
    snprintf(h->first_time, sizeof h->first_time, "%s", t);
    h->first_uri = strdup(uri);
    if (!h->first_uri) return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  snprintf(h->start, sizeof h->start, "%s", h->first_time);
  if (h->full) { /* the window: now - days, or the oldest entry if older */
    time_t w = time(NULL) - (time_t)(days_if_full * 86400);
    struct tm tm;
    char win[32];
    gmtime_r(&w, &tm);
    strftime(win, sizeof win, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
    if (!h->first_time[0] || strcmp(win, h->first_time) < 0) snprintf(h->start, sizeof h->start, "%s", win);
  }
  return SL_EOK;
}

bool fhist_should_read(const fhistory *h, const ffile *f) {
  const char *seen = json_string_value(json_object_get(h->map, f->rel));
  /* Read before: again only when modified since (the times are fixed-width
   * UTC text, so they compare as strings). */
  if (seen) return strcmp(f->mtime, seen) > 0;
  if (!h->full || !h->first_uri) return true;
  int c = strcmp(f->mtime, h->first_time);
  if (c > 0) return true;
  if (c == 0) return strcmp(f->rel, h->first_uri) > 0;
  return strcmp(f->mtime, h->start) >= 0;
}

sl_code fhist_add(fhistory *h, const ffile *f) {
  if (json_object_set_new(h->map, f->rel, json_string(f->mtime))) return SL_ENOMEM;
  if (json_object_size(h->map) > h->max) {
    const char *t, *uri = earliest(h->map, &t);
    if (uri) json_object_del(h->map, uri);
  }
  return SL_EOK;
}

void fhist_dispose(fhistory *h) {
  json_decref(h->map);
  free(h->first_uri);
  memset(h, 0, sizeof *h);
}
