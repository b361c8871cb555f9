/* Python datetime semantics for the declarative engine: the pieces of
 * datetime, _strptime, dateutil.isoparse and isodate that Airbyte manifests
 * observe (parsing, strftime, str(), arithmetic, ISO-8601 durations), plus
 * the CDK's DatetimeParser specials (%s, %ms, %_ms, %s_as_float,
 * %epoch_microseconds).
 *
 * A datetime is wall-clock microseconds since 1970-01-01T00:00 plus, when
 * aware, a fixed UTC offset. Naive datetimes are taken as UTC where Python
 * would consult the local zone (timestamp(), %s): connectors run in UTC. */
#ifndef SLUICE_PYDT_H
#define SLUICE_PYDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

#define SL_US_PER_S INT64_C(1000000)
#define SL_US_PER_DAY INT64_C(86400000000)

typedef struct sl_dt {
  int64_t us;    /* wall clock, µs since 1970-01-01T00:00:00 */
  int32_t off;   /* UTC offset in seconds (aware only) */
  bool aware;
  bool date;     /* a datetime.date (us is a whole day) */
  bool pytz_utc; /* tzinfo is pytz.utc rather than datetime.timezone (only repr differs) */
} sl_dt;

/* isodate Duration: years and months are calendar units applied before us. */
typedef struct sl_dur {
  int64_t years, months;
  int64_t us; /* the timedelta part */
} sl_dur;

int64_t sl_days_from_civil(int64_t y, int m, int d);
void sl_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int sl_days_in_month(int64_t y, int m);
/* Fields of a datetime (hour.. for a date are 0). */
typedef struct sl_dt_fields {
  int64_t year;
  int month, day, hour, minute, second, usec, wday /* Monday=0 */, yday /* 1.. */;
} sl_dt_fields;
void sl_dt_split(const sl_dt *dt, sl_dt_fields *f);
/* Builds a datetime; false (and a message in emsg) if out of range. */
bool sl_dt_make(int64_t y, int mo, int d, int h, int mi, int s, int us, sl_dt *out, char *emsg,
                size_t emsz);
/* True when a datetime is within Python's year 1..9999. */
bool sl_dt_in_range(const sl_dt *dt);
/* µs since the epoch of the instant (naive = UTC). */
static inline int64_t sl_dt_utc_us(const sl_dt *dt) {
  return dt->us - (dt->aware ? (int64_t)dt->off * SL_US_PER_S : 0);
}

/* Python datetime.strptime(s, fmt) (without CDK specials). 0 or -1 with emsg. */
int sl_dt_strptime(const char *s, size_t n, const char *fmt, sl_dt *out, char *emsg, size_t emsz);
/* The CDK's DatetimeParser.parse(s, fmt): specials, and naive results made UTC. */
int sl_dt_parse_cdk(const char *s, size_t n, const char *fmt, sl_dt *out, char *emsg,
                    size_t emsz);
/* dateutil.parser.isoparse. */
int sl_dt_isoparse(const char *s, size_t n, sl_dt *out, char *emsg, size_t emsz);

/* Python dt.strftime(fmt) (glibc directives, C locale; %s of a wall clock as if UTC). */
int sl_dt_strftime(const sl_dt *dt, const char *fmt, size_t fmtlen, sl_buf *out);
/* The CDK's DatetimeParser.format(dt, fmt). */
int sl_dt_format_cdk(const sl_dt *dt, const char *fmt, sl_buf *out);
/* str(dt) / dt.isoformat(sep). */
int sl_dt_str(const sl_dt *dt, char sep, sl_buf *out);
/* dt.timestamp() */
double sl_dt_timestamp(const sl_dt *dt);
/* str(timedelta) */
int sl_td_str(int64_t us, sl_buf *out);
/* str(isodate.Duration) */
int sl_dur_str(const sl_dur *d, sl_buf *out);

/* Python repr() of a float (shortest round trip). */
void sl_py_float_repr(double v, sl_buf *out);

/* isodate.parse_duration. is_td tells whether the result is a plain timedelta. */
int sl_dur_parse(const char *s, size_t n, sl_dur *out, char *emsg, size_t emsz);
/* dt + sign*dur (calendar part first, as isodate does). false if out of range. */
bool sl_dt_add_dur(const sl_dt *dt, const sl_dur *d, int sign, sl_dt *out);

#endif
