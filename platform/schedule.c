/* Connection schedules: "manual", "every N{s,m,h,d}", or a five-field cron
 * expression (minute hour day-of-month month day-of-week; *, lists, ranges
 * and steps; UTC). Day-of-month and day-of-week combine as in cron: when
 * both are restricted, either may match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/store.h"

static const struct { int lo, hi; const char *name; } fields[5] = {
    {0, 59, "minute"}, {0, 23, "hour"}, {1, 31, "day of month"}, {1, 12, "month"}, {0, 7, "day of week"}};

static sl_code parse_field(const char *text, int f, uint64_t *bits, const char *expr, sl_err *err) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", text);
  *bits = 0;
  char *save = NULL;
  for (char *part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
    int lo = fields[f].lo, hi = fields[f].hi, step = 1;
    char *slash = strchr(part, '/');
    if (slash) {
      *slash = 0;
      char *end;
      step = (int)strtol(slash + 1, &end, 10);
      if (*end || step < 1) goto bad;
    }
    if (strcmp(part, "*")) {
      char *end;
      lo = (int)strtol(part, &end, 10);
      if (end == part) goto bad;
      hi = slash ? fields[f].hi : lo;
      if (*end == '-') {
        char *e2;
        hi = (int)strtol(end + 1, &e2, 10);
        if (e2 == end + 1 || *e2) goto bad;
      } else if (*end) {
        goto bad;
      }
    }
    if (lo < fields[f].lo || hi > fields[f].hi || lo > hi) {
      return sl_err_set(err, SL_EUSAGE, "schedule \"%s\": %s %s out of range %d-%d", expr, fields[f].name, text, fields[f].lo,
                        fields[f].hi);
    }
    for (int v = lo; v <= hi; v += step) *bits |= 1ull << v;
  }
  if (f == 4 && (*bits & 1ull << 7)) *bits = (*bits | 1) & ~(1ull << 7); /* 7 is Sunday too */
  return SL_EOK;
bad:
  return sl_err_set(err, SL_EUSAGE, "schedule \"%s\": bad %s field \"%s\" (want *, N, N-M, lists and /STEP)", expr, fields[f].name, text);
}

sl_code sl_schedule_parse(const char *expr, sl_schedule *out, sl_err *err) {
  memset(out, 0, sizeof *out);
  if (!expr || !*expr || !strcmp(expr, "manual")) {
    out->kind = SL_SCHED_MANUAL;
    return SL_EOK;
  }
  long n;
  char unit, extra;
  if (!strncmp(expr, "every ", 6)) {
    if (sscanf(expr + 6, "%ld%c%c", &n, &unit, &extra) != 2 || n < 1 || !strchr("smhd", unit))
      return sl_err_set(err, SL_EUSAGE, "schedule \"%s\": expected every N{s,m,h,d} (e.g. \"every 15m\")", expr);
    out->kind = SL_SCHED_INTERVAL;
    out->interval_s = n * (unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400);
    return SL_EOK;
  }
  char buf[256], *parts[6], *save = NULL;
  snprintf(buf, sizeof buf, "%s", expr);
  int k = 0;
  for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
    if (k == 5) return sl_err_set(err, SL_EUSAGE, "schedule \"%s\": a cron expression has 5 fields (minute hour day month weekday)", expr);
    parts[k++] = t;
  }
  if (k != 5)
    return sl_err_set(err, SL_EUSAGE, "schedule \"%s\": expected manual, every N{s,m,h,d}, or 5 cron fields (minute hour day month weekday)", expr);
  out->kind = SL_SCHED_CRON;
  for (int f = 0; f < 5; f++) {
    sl_code rc = parse_field(parts[f], f, &out->cron[f], expr, err);
    if (rc) return rc;
  }
  out->dom_any = !strcmp(parts[2], "*");
  out->dow_any = !strcmp(parts[4], "*");
  return SL_EOK;
}

static bool cron_match(const sl_schedule *s, const struct tm *t) {
  if (!(s->cron[0] >> t->tm_min & 1) || !(s->cron[1] >> t->tm_hour & 1) || !(s->cron[3] >> (t->tm_mon + 1) & 1)) return false;
  bool dom = s->cron[2] >> t->tm_mday & 1, dow = s->cron[4] >> t->tm_wday & 1;
  if (s->dom_any || s->dow_any) return dom && dow;
  return dom || dow;
}

int64_t sl_schedule_next(const sl_schedule *s, int64_t after_s) {
  if (s->kind == SL_SCHED_MANUAL) return -1;
  if (s->kind == SL_SCHED_INTERVAL) return after_s + s->interval_s;
  /* Minute by minute; at most about 4 years (Feb 29). */
  time_t t = (time_t)(after_s - after_s % 60 + 60);
  for (int i = 0; i < 4 * 366 * 24 * 60; i++, t += 60) {
    struct tm tm;
    gmtime_r(&t, &tm);
    if (cron_match(s, &tm)) return (int64_t)t;
  }
  return -1;
}
