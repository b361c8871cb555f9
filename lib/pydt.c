/* Python datetime semantics (see include/sluice/pydt.h). Written from the
 * documented behaviour of CPython's datetime/_strptime, dateutil.isoparse and
 * isodate; the test data in tests/data/interp was generated with the real
 * Python libraries. */
#include "pydt_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sl__wday_names[7] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                      "Friday", "Saturday", "Sunday"};
const char *const sl__mon_names[12] = {"January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December"};

int64_t sl_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void sl_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int sl_days_in_month(int64_t y, int m) {
  static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}


void sl_dt_split(const sl_dt *dt, sl_dt_fields *f) {
  int64_t days = sl__floordiv(dt->us, SL_US_PER_DAY);
  int64_t rem = dt->us - days * SL_US_PER_DAY;
  sl_civil_from_days(days, &f->year, &f->month, &f->day);
  f->hour = (int)(rem / 3600000000LL);
  f->minute = (int)(rem / 60000000LL % 60);
  f->second = (int)(rem / 1000000 % 60);
  f->usec = (int)(rem % 1000000);
  f->wday = (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
  f->yday = (int)(days - sl_days_from_civil(f->year, 1, 1) + 1);
}

static const int64_t min_us = -INT64_C(62135596800000000);  /* 0001-01-01 */
static const int64_t max_us = INT64_C(253402300799999999);  /* 9999-12-31T23:59:59.999999 */

bool sl_dt_in_range(const sl_dt *dt) { return dt->us >= min_us && dt->us <= max_us; }

bool sl_dt_make(int64_t y, int mo, int d, int h, int mi, int s, int us, sl_dt *out, char *emsg,
                size_t emsz) {
  const char *bad = NULL;
  if (y < 1 || y > 9999) bad = "year %lld is out of range";
  else if (mo < 1 || mo > 12) bad = "month must be in 1..12";
  else if (d < 1 || d > sl_days_in_month(y, mo)) bad = "day is out of range for month";
  else if (h < 0 || h > 23) bad = "hour must be in 0..23";
  else if (mi < 0 || mi > 59) bad = "minute must be in 0..59";
  else if (s < 0 || s > 59) bad = "second must be in 0..59";
  else if (us < 0 || us > 999999) bad = "microsecond must be in 0..999999";
  if (bad) {
    if (emsg) snprintf(emsg, emsz, bad, (long long)y);
    return false;
  }
  memset(out, 0, sizeof *out);
  out->us = sl_days_from_civil(y, mo, d) * SL_US_PER_DAY + (int64_t)h * 3600000000LL +
            (int64_t)mi * 60000000LL + (int64_t)s * 1000000LL + us;
  return true;
}

/* ---- strptime ------------------------------------------------------------ */

typedef struct sp_state {
  int64_t year;
  int month, day, hour, minute, second, usec, ampm, hour12, yday;
  bool have_z, have_hour12;
  int32_t zoff;
} sp_state;

static int name_match(const char *s, size_t n, const char *const *names, int count, int *len) {
  for (int i = 0; i < count; i++) { /* full names first, as the regex alternation does */
    size_t l = strlen(names[i]);
    if (l <= n && strncasecmp(s, names[i], l) == 0) {
      *len = (int)l;
      return i;
    }
  }
  for (int i = 0; i < count; i++) {
    if (n >= 3 && strncasecmp(s, names[i], 3) == 0) {
      *len = 3;
      return i;
    }
  }
  return -1;
}

/* Candidates (length, value) of a numeric directive, in the order Python's
 * _strptime regex alternation tries them. */
static int num_cands(char c, const char *s, size_t n, int lens[8], int vals[8]) {
  int k = 0;
#define D(i) ((size_t)(i) < n && isdigit((unsigned char)s[i]))
#define V(i) (s[i] - '0')
  switch (c) {
  case 'd':
    if (D(0) && D(1)) {
      int v = V(0) * 10 + V(1);
      if (v >= 1 && v <= 31) lens[k] = 2, vals[k++] = v;
    }
    if (D(0) && V(0) >= 1) lens[k] = 1, vals[k++] = V(0);
    if (n >= 2 && s[0] == ' ' && D(1) && V(1) >= 1) lens[k] = 2, vals[k++] = V(1);
    break;
  case 'm':
  case 'I':
    if (D(0) && D(1)) {
      int v = V(0) * 10 + V(1);
      if (v >= 1 && v <= 12) lens[k] = 2, vals[k++] = v;
    }
    if (D(0) && V(0) >= 1) lens[k] = 1, vals[k++] = V(0);
    break;
  case 'H':
  case 'M':
  case 'S': {
    int maxv = c == 'H' ? 23 : c == 'M' ? 59 : 61;
    if (D(0) && D(1) && V(0) * 10 + V(1) <= maxv) lens[k] = 2, vals[k++] = V(0) * 10 + V(1);
    if (D(0)) lens[k] = 1, vals[k++] = V(0);
    break;
  }
  case 'y':
    if (D(0) && D(1)) lens[k] = 2, vals[k++] = V(0) * 10 + V(1);
    break;
  case 'Y':
    if (D(0) && D(1) && D(2) && D(3))
      lens[k] = 4, vals[k++] = V(0) * 1000 + V(1) * 100 + V(2) * 10 + V(3);
    break;
  case 'f': {
    int m = 0;
    while (m < 6 && D(m)) m++;
    for (int l = m; l >= 1; l--) {
      int v = 0;
      for (int i = 0; i < 6; i++) v = v * 10 + (i < l ? V(i) : 0);
      lens[k] = l, vals[k++] = v;
    }
    break;
  }
  case 'j':
    for (int l = 3; l >= 1; l--) {
      bool ok = true;
      int v = 0;
      for (int i = 0; i < l; i++) {
        if (!D(i)) ok = false;
        else v = v * 10 + V(i);
      }
      if (ok && v >= 1 && v <= 366) lens[k] = l, vals[k++] = v;
    }
    break;
  }
#undef D
#undef V
  return k;
}

/* Returns the end of the first match (regex semantics: first success in
 * alternation order), or -1. */
static long sp_match(const char *f, const char *s, size_t n, size_t pos, sp_state *st) {
  while (*f) {
    if (isspace((unsigned char)*f)) { /* \s+ with backtracking */
      while (isspace((unsigned char)*f)) f++;
      size_t e = pos;
      while (e < n && isspace((unsigned char)s[e])) e++;
      if (e == pos) return -1;
      for (size_t q = e; q > pos; q--) {
        sp_state save = *st;
        long r = sp_match(f, s, n, q, st);
        if (r >= 0) return r;
        *st = save;
      }
      return -1;
    }
    if (*f != '%') {
      if (pos >= n || tolower((unsigned char)s[pos]) != tolower((unsigned char)*f)) return -1;
      f++, pos++;
      continue;
    }
    char c = f[1];
    if (!c) return -2; /* stray % */
    f += 2;
    const char *p = s + pos;
    size_t rem = n - pos;
    switch (c) {
    case '%':
      if (!rem || *p != '%') return -1;
      pos++;
      continue;
    case 'z': {
      if (rem && *p == 'Z') {
        st->have_z = true, st->zoff = 0, pos++;
        continue;
      }
      if (rem < 5 || (*p != '+' && *p != '-') || !isdigit((unsigned char)p[1]) ||
          !isdigit((unsigned char)p[2]))
        return -1;
      size_t i = 3;
      bool colon = p[i] == ':';
      if (colon) i++;
      if (i + 2 > rem || p[i] < '0' || p[i] > '5' || !isdigit((unsigned char)p[i + 1])) return -1;
      int hh = (p[1] - '0') * 10 + p[2] - '0', mm = (p[i] - '0') * 10 + p[i + 1] - '0', ss = 0;
      i += 2;
      size_t j = i;
      if (j < rem && p[j] == ':') j++;
      if (j + 2 <= rem && p[j] >= '0' && p[j] <= '5' && isdigit((unsigned char)p[j + 1])) {
        if ((p[i] == ':') != colon) return -3; /* inconsistent colons */
        ss = (p[j] - '0') * 10 + p[j + 1] - '0';
        i = j + 2;
        if (i < rem && p[i] == '.' && i + 1 < rem && isdigit((unsigned char)p[i + 1])) {
          i++;
          int d = 0;
          while (d < 6 && i < rem && isdigit((unsigned char)p[i])) i++, d++;
        }
      }
      int off = hh * 3600 + mm * 60 + ss;
      st->have_z = true;
      st->zoff = *p == '-' ? -off : off;
      pos += i;
      continue;
    }
    case 'a':
    case 'A':
    case 'b':
    case 'B':
    case 'h':
    case 'p': {
      int len = 0, idx;
      if (c == 'p') {
        if (rem >= 2 && strncasecmp(p, "am", 2) == 0) idx = 0;
        else if (rem >= 2 && strncasecmp(p, "pm", 2) == 0) idx = 1;
        else return -1;
        st->ampm = idx, len = 2;
      } else if (c == 'a' || c == 'A') {
        if (name_match(p, rem, sl__wday_names, 7, &len) < 0) return -1;
      } else {
        idx = name_match(p, rem, sl__mon_names, 12, &len);
        if (idx < 0) return -1;
        st->month = idx + 1;
      }
      pos += (size_t)len;
      continue;
    }
    case 'Z': {
      static const char *const zn[] = {"UTC", "GMT"};
      int len = 0;
      if (name_match(p, rem, zn, 2, &len) < 0 || len != 3) return -1;
      pos += 3;
      continue;
    }
    default: {
      int lens[8], vals[8];
      if (!strchr("dmIHMSyYfj", c)) return -4;
      int k = num_cands(c, p, rem, lens, vals);
      for (int i = 0; i < k; i++) {
        sp_state save = *st;
        switch (c) {
        case 'd': st->day = vals[i]; break;
        case 'm': st->month = vals[i]; break;
        case 'I': st->hour12 = vals[i], st->have_hour12 = true; break;
        case 'H': st->hour = vals[i]; break;
        case 'M': st->minute = vals[i]; break;
        case 'S': st->second = vals[i]; break;
        case 'y': st->year = vals[i] <= 68 ? 2000 + vals[i] : 1900 + vals[i]; break;
        case 'Y': st->year = vals[i]; break;
        case 'f': st->usec = vals[i]; break;
        case 'j': st->yday = vals[i]; break;
        }
        long r = sp_match(f, s, n, pos + (size_t)lens[i], st);
        if (r >= 0 || r < -1) return r;
        *st = save;
      }
      return -1;
    }
    }
  }
  return (long)pos;
}

int sl_dt_strptime(const char *s, size_t n, const char *fmt, sl_dt *out, char *emsg, size_t emsz) {
  sp_state st = {.year = 1900, .month = 1, .day = 1, .ampm = -1};
  long end = sp_match(fmt, s, n, 0, &st);
  if (end == -2) {
    snprintf(emsg, emsz, "stray %% in format '%s'", fmt);
    return -1;
  }
  if (end == -4) {
    snprintf(emsg, emsz, "bad directive in format '%s'", fmt);
    return -1;
  }
  if (end == -3) {
    snprintf(emsg, emsz, "Inconsistent use of : in %.*s", (int)n, s);
    return -1;
  }
  if (end < 0) {
    snprintf(emsg, emsz, "time data '%.*s' does not match format '%s'", (int)n, s, fmt);
    return -1;
  }
  if ((size_t)end != n) {
    snprintf(emsg, emsz, "unconverted data remains: %.*s", (int)(n - (size_t)end), s + end);
    return -1;
  }
  if (st.have_hour12) {
    st.hour = st.hour12 % 12;
    if (st.ampm == 1) st.hour += 12;
  }
  if (st.yday) {
    int64_t days = sl_days_from_civil(st.year, 1, 1) + st.yday - 1;
    int64_t yy;
    sl_civil_from_days(days, &yy, &st.month, &st.day);
    st.year = yy;
  }
  if (!sl_dt_make(st.year, st.month, st.day, st.hour, st.minute, st.second, st.usec, out, emsg,
                  emsz))
    return -1;
  if (st.have_z) out->aware = true, out->off = st.zoff;
  return 0;
}

/* Python int(str)/float(str) the CDK applies to epoch values. */
static bool parse_num(const char *s, size_t n, bool want_float, double *dv, int64_t *iv) {
  char tmp[64];
  size_t j = 0;
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  if (!n || n >= sizeof tmp) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == n || !isdigit((unsigned char)s[i - 1]) ||
          !isdigit((unsigned char)s[i + 1]))
        return false;
      continue;
    }
    tmp[j++] = s[i];
  }
  tmp[j] = 0;
  char *e;
  if (want_float) {
    *dv = strtod(tmp, &e);
    return *e == 0;
  }
  size_t k = (tmp[0] == '+' || tmp[0] == '-') ? 1 : 0;
  if (!tmp[k]) return false;
  for (size_t i = k; tmp[i]; i++)
    if (!isdigit((unsigned char)tmp[i])) return false;
  errno = 0;
  *iv = strtoll(tmp, &e, 10);
  return errno == 0;
}

static bool dt_from_utc_us(int64_t us, sl_dt *out) {
  memset(out, 0, sizeof *out);
  out->us = us;
  out->aware = true;
  return sl_dt_in_range(out);
}

int sl_dt_parse_cdk(const char *s, size_t n, const char *fmt, sl_dt *out, char *emsg,
                    size_t emsz) {
  int64_t iv = 0;
  double dv = 0;
  bool ok = true, isf = strcmp(fmt, "%s_as_float") == 0;
  if (!strcmp(fmt, "%s") || !strcmp(fmt, "%ms") || !strcmp(fmt, "%epoch_microseconds") || isf) {
    if (!parse_num(s, n, isf, &dv, &iv)) {
      snprintf(emsg, emsz, "invalid literal for %s(): '%.*s'", isf ? "float" : "int", (int)n, s);
      return -1;
    }
    if (isf) {
      double us = nearbyint(dv * 1e6); /* fromtimestamp rounds half-even to µs */
      ok = fabs(dv) < 3e11 && dt_from_utc_us((int64_t)us, out);
    } else if (!strcmp(fmt, "%s")) {
      ok = iv > -INT64_C(62135596800) && iv < INT64_C(253402300800) &&
           dt_from_utc_us(iv * SL_US_PER_S, out);
    } else if (!strcmp(fmt, "%ms")) {
      ok = iv > -INT64_C(62135596800000) && iv < INT64_C(253402300800000) &&
           dt_from_utc_us(iv * 1000, out);
    } else {
      ok = dt_from_utc_us(iv, out);
    }
    if (!ok) snprintf(emsg, emsz, "timestamp '%.*s' is out of range", (int)n, s);
    return ok ? 0 : -1;
  }
  char f2[256];
  const char *ms = strstr(fmt, "%_ms");
  if (ms) { /* every %_ms becomes %f */
    size_t j = 0;
    for (const char *p = fmt; *p && j + 3 < sizeof f2;) {
      if (!strncmp(p, "%_ms", 4)) f2[j++] = '%', f2[j++] = 'f', p += 4;
      else f2[j++] = *p++;
    }
    f2[j] = 0;
    fmt = f2;
  }
  if (sl_dt_strptime(s, n, fmt, out, emsg, emsz)) return -1;
  if (!out->aware) out->aware = true, out->off = 0;
  return 0;
}

/* ---- dateutil isoparse ---------------------------------------------------- */

static int digits(const char *s, size_t n, size_t pos, int count) {
  int v = 0;
  for (int i = 0; i < count; i++) {
    if (pos + (size_t)i >= n || !isdigit((unsigned char)s[pos + (size_t)i])) return -1;
    v = v * 10 + s[pos + (size_t)i] - '0';
  }
  return v;
}

int sl_dt_isoparse(const char *s, size_t n, sl_dt *out, char *emsg, size_t emsz) {
  int64_t y;
  int mo = 1, d = 1, h = 0, mi = 0, sec = 0, us = 0;
  size_t pos = 4;
  int v = digits(s, n, 0, 4);
  if (v < 0) goto bad;
  y = v;
  if (pos < n) {
    bool sep = s[pos] == '-';
    if (sep) pos++;
    if (pos < n && s[pos] == 'W') { /* ISO week date */
      int w = digits(s, n, pos + 1, 2), wd = 1;
      if (w < 0) goto bad;
      pos += 3;
      if (pos < n && (!sep || s[pos] == '-') && (digits(s, n, pos + sep, 1) >= 0)) {
        pos += sep;
        wd = s[pos++] - '0';
      }
      int64_t jan4 = sl_days_from_civil(y, 1, 4);
      int64_t wd4 = ((jan4 % 7) + 7 + 3) % 7; /* Monday=0 */
      int64_t days = jan4 - wd4 + (int64_t)(w - 1) * 7 + (wd - 1);
      if (w < 1 || w > 53 || wd < 1 || wd > 7) goto bad;
      sl_civil_from_days(days, &y, &mo, &d);
    } else {
      int m2 = digits(s, n, pos, 2);
      if (m2 < 0) goto bad;
      int ord = digits(s, n, pos, 3);
      bool ordinal = ord >= 0 && (sep ? (pos + 3 == n || !isdigit((unsigned char)s[pos + 3])) &&
                                            (pos + 2 >= n || s[pos + 2] != '-')
                                      : false);
      if (ordinal && !(pos + 3 < n && isdigit((unsigned char)s[pos + 3]))) {
        int64_t days = sl_days_from_civil(y, 1, 1) + ord - 1;
        if (ord < 1 || ord > (is_leap(y) ? 366 : 365)) goto bad;
        sl_civil_from_days(days, &y, &mo, &d);
        pos += 3;
      } else {
        mo = m2;
        pos += 2;
        if (pos < n && (!sep || s[pos] == '-')) {
          if (sep) pos++;
          d = digits(s, n, pos, 2);
          if (d < 0) goto bad;
          pos += 2;
        } else if (!sep && pos < n && isdigit((unsigned char)s[pos])) {
          goto bad;
        }
      }
    }
  }
  if (pos < n) {
    pos++; /* any single separator character */
    if (pos >= n) goto bad;
    h = digits(s, n, pos, 2);
    if (h < 0) goto bad;
    pos += 2;
    bool tsep = pos < n && s[pos] == ':';
    int comp = 1;
    while (pos < n && comp < 3) {
      if (s[pos] == 'Z' || s[pos] == 'z' || s[pos] == '+' || s[pos] == '-') break;
      if (tsep) {
        if (s[pos] != ':') break;
        pos++;
      }
      int x = digits(s, n, pos, 2);
      if (x < 0) goto bad;
      pos += 2;
      if (comp == 1) mi = x;
      else sec = x;
      comp++;
      if (comp == 3 && pos < n && (s[pos] == '.' || s[pos] == ',')) {
        pos++;
        int nd = 0;
        us = 0;
        while (pos < n && isdigit((unsigned char)s[pos])) {
          if (nd < 6) us = us * 10 + s[pos] - '0';
          nd++, pos++;
        }
        if (!nd) goto bad;
        for (; nd < 6; nd++) us *= 10;
      }
    }
    int32_t off = 0;
    bool aware = false;
    if (pos < n) {
      if (s[pos] == 'Z' || s[pos] == 'z') {
        aware = true, pos++;
      } else if (s[pos] == '+' || s[pos] == '-') {
        int sign = s[pos] == '-' ? -1 : 1, oh, om = 0;
        pos++;
        oh = digits(s, n, pos, 2);
        if (oh < 0) goto bad;
        pos += 2;
        if (pos < n) {
          if (s[pos] == ':') pos++;
          om = digits(s, n, pos, 2);
          if (om < 0) goto bad;
          pos += 2;
        }
        if (oh > 23 || om > 59) goto bad;
        off = sign * (oh * 3600 + om * 60);
        aware = true;
      }
      if (pos != n) goto bad;
    }
    bool day_after = false;
    if (h == 24 && mi == 0 && sec == 0 && us == 0) h = 0, day_after = true;
    if (!sl_dt_make(y, mo, d, h, mi, sec, us, out, emsg, emsz)) return -1;
    if (day_after) out->us += SL_US_PER_DAY;
    out->aware = aware, out->off = off;
    return 0;
  }
  if (!sl_dt_make(y, mo, d, 0, 0, 0, 0, out, emsg, emsz)) return -1;
  return 0;
bad:
  snprintf(emsg, emsz, "invalid ISO-8601 datetime string '%.*s'", (int)n, s);
  return -1;
}

/* ---- durations ----------------------------------------------------------- */

/* One "<digits>[,.<digits>]<unit>" component; value in units of 1e-9. */
static bool dur_num(const char *s, size_t n, size_t *pos, char unit, bool *present, int64_t *ip,
                    int64_t *frac_ns) {
  size_t p = *pos, q = p;
  while (q < n && isdigit((unsigned char)s[q])) q++;
  if (q == p) return true;
  size_t e = q;
  int64_t fr = 0;
  if (e < n && (s[e] == ',' || s[e] == '.')) {
    size_t f0 = ++e;
    int nd = 0;
    while (e < n && isdigit((unsigned char)s[e])) {
      if (nd < 9) fr = fr * 10 + (s[e] - '0');
      nd++, e++;
    }
    if (e == f0) return true;
    for (; nd < 9; nd++) fr *= 10;
  }
  if (e >= n || s[e] != unit) return true;
  int64_t v = 0;
  for (size_t i = p; i < q; i++) {
    if (v > INT64_MAX / 10 - 10) return false;
    v = v * 10 + (s[i] - '0');
  }
  *ip = v, *frac_ns = fr, *present = true;
  *pos = e + 1;
  return true;
}

int sl_dur_parse(const char *s, size_t n, sl_dur *out, char *emsg, size_t emsz) {
  memset(out, 0, sizeof *out);
  size_t pos = 0;
  int sign = 1;
  if (pos < n && (s[pos] == '+' || s[pos] == '-')) sign = s[pos++] == '-' ? -1 : 1;
  if (pos >= n || s[pos] != 'P' || pos + 1 >= n) goto bad;
  pos++;
  static const char units[] = "YMWD";
  static const int64_t unit_us[] = {0, 0, 7 * SL_US_PER_DAY, SL_US_PER_DAY};
  __int128 total = 0; /* ns */
  for (int u = 0; u < 4; u++) {
    bool pr = false;
    int64_t ip = 0, fr = 0;
    if (!dur_num(s, n, &pos, units[u], &pr, &ip, &fr)) goto bad;
    if (!pr) continue;
    if (u < 2) {
      if (fr) {
        snprintf(emsg, emsz, "fractional years or months are not supported in '%.*s'", (int)n, s);
        return -1;
      }
      if (u == 0) out->years = ip;
      else out->months = ip;
    } else {
      total += (__int128)ip * unit_us[u] * 1000 + (__int128)fr * unit_us[u] / 1000000;
    }
  }
  if (pos < n && s[pos] == 'T') {
    pos++;
    static const char tunits[] = "HMS";
    static const int64_t tus[] = {3600 * SL_US_PER_S, 60 * SL_US_PER_S, SL_US_PER_S};
    for (int u = 0; u < 3; u++) {
      bool pr = false;
      int64_t ip = 0, fr = 0;
      if (!dur_num(s, n, &pos, tunits[u], &pr, &ip, &fr)) goto bad;
      if (pr) total += (__int128)ip * tus[u] * 1000 + (__int128)fr * tus[u] / 1000000;
    }
  }
  if (pos != n) goto bad;
  /* round ns to µs, half to even (timedelta's rounding) */
  __int128 q = total / 1000, r = total % 1000;
  if (r > 500 || (r == 500 && (q & 1))) q++;
  if (q > (__int128)999999999 * SL_US_PER_DAY) goto bad;
  out->us = (int64_t)q * sign;
  out->years *= sign, out->months *= sign;
  return 0;
bad:
  snprintf(emsg, emsz, "Unable to parse duration string '%.*s'", (int)n, s);
  return -1;
}

bool sl_dt_add_dur(const sl_dt *dt, const sl_dur *d, int sign, sl_dt *out) {
  *out = *dt;
  if (d->years || d->months) {
    sl_dt_fields f;
    sl_dt_split(dt, &f);
    int64_t m0 = (int64_t)f.month - 1 + sign * d->months;
    int64_t year = f.year + sign * d->years + sl__floordiv(m0, 12);
    int month = (int)(m0 - sl__floordiv(m0, 12) * 12) + 1;
    if (year < 1 || year > 9999) return false;
    int day = f.day > sl_days_in_month(year, month) ? sl_days_in_month(year, month) : f.day;
    int64_t tod = dt->us - sl__floordiv(dt->us, SL_US_PER_DAY) * SL_US_PER_DAY;
    out->us = sl_days_from_civil(year, month, day) * SL_US_PER_DAY + tod;
  }
  if (__builtin_add_overflow(out->us, sign * d->us, &out->us)) return false;
  if (out->date) out->us = sl__floordiv(out->us, SL_US_PER_DAY) * SL_US_PER_DAY;
  return sl_dt_in_range(out);
}
