/* Python datetime formatting: str()/isoformat, strftime (glibc directives
 * and flags, C locale), the CDK's DatetimeParser.format, str(timedelta),
 * str(Duration) and Python's float repr. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pydt_int.h"

/* ---- formatting ---------------------------------------------------------- */

static void put_off(int32_t off, bool colon, sl_buf *out) {
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  sl_buf_appendf(out, colon ? "%c%02d:%02d" : "%c%02d%02d", sign, off / 3600, off / 60 % 60);
  if (off % 60) sl_buf_appendf(out, colon ? ":%02d" : "%02d", off % 60);
}

int sl_dt_str(const sl_dt *dt, char sep, sl_buf *out) {
  sl_dt_fields f;
  sl_dt_split(dt, &f);
  sl_buf_appendf(out, "%04lld-%02d-%02d", (long long)f.year, f.month, f.day);
  if (dt->date) return 0;
  sl_buf_appendf(out, "%c%02d:%02d:%02d", sep, f.hour, f.minute, f.second);
  if (f.usec) sl_buf_appendf(out, ".%06d", f.usec);
  if (dt->aware) put_off(dt->off, true, out);
  return 0;
}

double sl_dt_timestamp(const sl_dt *dt) { return (double)sl_dt_utc_us(dt) / 1e6; }

int sl_td_str(int64_t us, sl_buf *out) {
  int64_t days = sl__floordiv(us, SL_US_PER_DAY);
  int64_t rem = us - days * SL_US_PER_DAY;
  if (days) sl_buf_appendf(out, "%lld day%s, ", (long long)days, days == 1 || days == -1 ? "" : "s");
  sl_buf_appendf(out, "%d:%02d:%02d", (int)(rem / 3600000000LL), (int)(rem / 60000000LL % 60),
                 (int)(rem / 1000000 % 60));
  if (rem % 1000000) sl_buf_appendf(out, ".%06d", (int)(rem % 1000000));
  return 0;
}

int sl_dur_str(const sl_dur *d, sl_buf *out) {
  if (d->years) sl_buf_appendf(out, "%lld years, ", (long long)d->years);
  if (d->months)
    sl_buf_appendf(out, "%lld month%s, ", (long long)d->months, d->months <= 1 ? "" : "s");
  return sl_td_str(d->us, out);
}

static void iso_week(const sl_dt_fields *f, int64_t *iy, int *wk) {
  int64_t days = sl_days_from_civil(f->year, f->month, f->day);
  int64_t thursday = days - f->wday + 3;
  int64_t ty;
  int tm, td;
  sl_civil_from_days(thursday, &ty, &tm, &td);
  *iy = ty;
  *wk = (int)((thursday - sl_days_from_civil(ty, 1, 1)) / 7 + 1);
}

static void put_num(sl_buf *out, long long v, int width, char flag, char defpad) {
  char pad = flag ? flag : defpad;
  if (pad == '-') sl_buf_appendf(out, "%lld", v);
  else if (pad == '_') sl_buf_appendf(out, "%*lld", width, v);
  else sl_buf_appendf(out, "%0*lld", width, v);
}

int sl_dt_strftime(const sl_dt *dt, const char *fmt, size_t flen, sl_buf *out) {
  sl_dt_fields f;
  sl_dt_split(dt, &f);
  int wsun = (f.wday + 1) % 7; /* Sunday=0 */
  for (size_t i = 0; i < flen; i++) {
    if (fmt[i] != '%' || i + 1 >= flen) {
      sl_buf_putc(out, fmt[i]);
      continue;
    }
    size_t start = i++;
    char flag = 0;
    if (strchr("-_0^#", fmt[i]) && i + 1 < flen) flag = fmt[i++];
    bool upper = flag == '^';
    if (upper) flag = 0;
    char c = fmt[i];
    size_t mark = out->len;
    switch (c) {
    case 'a': sl_buf_put(out, sl__wday_names[f.wday], 3); break;
    case 'A': sl_buf_appendf(out, "%s", sl__wday_names[f.wday]); break;
    case 'b':
    case 'h': sl_buf_put(out, sl__mon_names[f.month - 1], 3); break;
    case 'B': sl_buf_appendf(out, "%s", sl__mon_names[f.month - 1]); break;
    case 'c':
      sl_buf_appendf(out, "%.3s %.3s %2d %02d:%02d:%02d %lld", sl__wday_names[f.wday],
                     sl__mon_names[f.month - 1], f.day, f.hour, f.minute, f.second,
                     (long long)f.year);
      break;
    case 'C': put_num(out, f.year / 100, 2, flag, '0'); break;
    case 'd': put_num(out, f.day, 2, flag, '0'); break;
    case 'e': put_num(out, f.day, 2, flag, '_'); break;
    case 'D':
    case 'x':
      sl_buf_appendf(out, "%02d/%02d/%02d", f.month, f.day, (int)(f.year % 100));
      break;
    case 'F': sl_buf_appendf(out, "%lld-%02d-%02d", (long long)f.year, f.month, f.day); break;
    case 'f': sl_buf_appendf(out, "%06d", f.usec); break;
    case 'g':
    case 'G': {
      int64_t iy;
      int wk;
      iso_week(&f, &iy, &wk);
      if (c == 'g') put_num(out, iy % 100, 2, flag, '0');
      else sl_buf_appendf(out, "%lld", (long long)iy);
      break;
    }
    case 'V': {
      int64_t iy;
      int wk;
      iso_week(&f, &iy, &wk);
      put_num(out, wk, 2, flag, '0');
      break;
    }
    case 'H': put_num(out, f.hour, 2, flag, '0'); break;
    case 'k': put_num(out, f.hour, 2, flag, '_'); break;
    case 'I': put_num(out, f.hour % 12 ? f.hour % 12 : 12, 2, flag, '0'); break;
    case 'l': put_num(out, f.hour % 12 ? f.hour % 12 : 12, 2, flag, '_'); break;
    case 'j': put_num(out, f.yday, 3, flag, '0'); break;
    case 'm': put_num(out, f.month, 2, flag, '0'); break;
    case 'M': put_num(out, f.minute, 2, flag, '0'); break;
    case 'n': sl_buf_putc(out, '\n'); break;
    case 't': sl_buf_putc(out, '\t'); break;
    case 'p': sl_buf_appendf(out, "%s", f.hour < 12 ? "AM" : "PM"); break;
    case 'P': sl_buf_appendf(out, "%s", f.hour < 12 ? "am" : "pm"); break;
    case 'r':
      sl_buf_appendf(out, "%02d:%02d:%02d %s", f.hour % 12 ? f.hour % 12 : 12, f.minute,
                     f.second, f.hour < 12 ? "AM" : "PM");
      break;
    case 'R': sl_buf_appendf(out, "%02d:%02d", f.hour, f.minute); break;
    case 's': sl_buf_appendf(out, "%lld", (long long)sl__floordiv(dt->us, SL_US_PER_S)); break;
    case 'S': put_num(out, f.second, 2, flag, '0'); break;
    case 'T':
    case 'X': sl_buf_appendf(out, "%02d:%02d:%02d", f.hour, f.minute, f.second); break;
    case 'u': sl_buf_appendf(out, "%d", f.wday + 1); break;
    case 'w': sl_buf_appendf(out, "%d", wsun); break;
    case 'U': put_num(out, (f.yday - 1 + 7 - wsun) / 7, 2, flag, '0'); break;
    case 'W': put_num(out, (f.yday - 1 + 7 - f.wday) / 7, 2, flag, '0'); break;
    case 'y': put_num(out, f.year % 100, 2, flag, '0'); break;
    case 'Y': sl_buf_appendf(out, "%lld", (long long)f.year); break;
    case 'z':
      if (dt->aware && !dt->date) put_off(dt->off, false, out);
      break;
    case 'Z':
      if (dt->aware && !dt->date) {
        if (dt->off == 0) sl_buf_appendf(out, "UTC");
        else {
          sl_buf_appendf(out, "UTC");
          put_off(dt->off, true, out);
        }
      }
      break;
    case '%': sl_buf_putc(out, '%'); break;
    default: sl_buf_put(out, fmt + start, i + 1 - start); break;
    }
    if (upper)
      for (size_t k = mark; k < out->len; k++) out->data[k] = (char)toupper((unsigned char)out->data[k]);
  }
  return out->len > out->max ? -1 : 0;
}

/* Python float repr (shortest round trip, 'r' formatting rules). */
size_t sl__fmt_double_shortest(char *p, size_t cap, double v);
void sl_py_float_repr(double v, sl_buf *out) {
  if (isnan(v)) {
    sl_buf_appendf(out, "nan");
    return;
  }
  if (isinf(v)) {
    sl_buf_appendf(out, v < 0 ? "-inf" : "inf");
    return;
  }
  char tmp[64], dig[32];
  size_t n = sl__fmt_double_shortest(tmp, sizeof tmp - 1, v);
  tmp[n] = 0;
  /* Extract digits and decimal exponent from whatever form to_chars chose. */
  int nd = 0, point = -1, exp10 = 0;
  bool neg = tmp[0] == '-';
  for (size_t i = neg; i < n; i++) {
    if (tmp[i] == '.') point = nd;
    else if (tmp[i] == 'e') {
      exp10 = atoi(tmp + i + 1);
      break;
    } else dig[nd++] = tmp[i];
  }
  if (point < 0) point = nd;
  /* strip leading zeros */
  int lead = 0;
  while (lead < nd - 1 && dig[lead] == '0') lead++, point--;
  memmove(dig, dig + lead, (size_t)(nd - lead));
  nd -= lead;
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  int e = point + exp10 - 1; /* scientific exponent */
  if (nd == 1 && dig[0] == '0') e = 0;
  if (neg) sl_buf_putc(out, '-');
  if (e < -4 || e >= 16) {
    sl_buf_putc(out, dig[0]);
    if (nd > 1) {
      sl_buf_putc(out, '.');
      sl_buf_put(out, dig + 1, (size_t)nd - 1);
    }
    sl_buf_appendf(out, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
  } else if (e < 0) {
    sl_buf_appendf(out, "0.");
    for (int i = 0; i < -e - 1; i++) sl_buf_putc(out, '0');
    sl_buf_put(out, dig, (size_t)nd);
  } else {
    for (int i = 0; i <= e; i++) sl_buf_putc(out, i < nd ? dig[i] : '0');
    sl_buf_putc(out, '.');
    if (nd > e + 1) sl_buf_put(out, dig + e + 1, (size_t)(nd - e - 1));
    else sl_buf_putc(out, '0');
  }
}

int sl_dt_format_cdk(const sl_dt *dt, const char *fmt, sl_buf *out) {
  double ts = sl_dt_timestamp(dt);
  if (!strcmp(fmt, "%s")) return sl_buf_appendf(out, "%lld", (long long)ts) ? -1 : 0;
  if (!strcmp(fmt, "%s_as_float")) {
    sl_py_float_repr(ts, out);
    return 0;
  }
  if (!strcmp(fmt, "%epoch_microseconds"))
    return sl_buf_appendf(out, "%lld", (long long)(ts * 1000000.0)) ? -1 : 0;
  if (!strcmp(fmt, "%ms")) return sl_buf_appendf(out, "%lld", (long long)(ts * 1000.0)) ? -1 : 0;
  if (!strstr(fmt, "%_ms")) return sl_dt_strftime(dt, fmt, strlen(fmt), out);
  /* %_ms: format with %f, then every occurrence of the 6-digit µs text
   * becomes the 3-digit milliseconds (Python str.replace semantics). */
  sl_buf tmp;
  sl_buf_init(&tmp, out->max);
  size_t fl = strlen(fmt);
  for (size_t i = 0; i < fl;) {
    if (!strncmp(fmt + i, "%_ms", 4)) sl_buf_put(&tmp, "%f", 2), i += 4;
    else sl_buf_putc(&tmp, fmt[i++]);
  }
  char *f2 = strndup(tmp.data ? tmp.data : "", tmp.len);
  tmp.len = 0;
  int rc = f2 ? sl_dt_strftime(dt, f2, strlen(f2), &tmp) : -1;
  free(f2);
  sl_dt_fields f;
  sl_dt_split(dt, &f);
  char us6[8], ms3[8];
  snprintf(us6, sizeof us6, "%06d", f.usec);
  snprintf(ms3, sizeof ms3, "%03d", f.usec / 1000);
  for (size_t i = 0; i < tmp.len;) {
    if (i + 6 <= tmp.len && !memcmp(tmp.data + i, us6, 6)) sl_buf_put(out, ms3, 3), i += 6;
    else sl_buf_putc(out, tmp.data[i++]);
  }
  sl_buf_dispose(&tmp);
  return rc;
}

