/* Interpolation globals (the CDK macros and Jinja's dict/namespace) and
 * tests (`is defined`, `is none`, ...). Filters are in interp_filter.c. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "interp_int.h"

static const char *const globals[] = {
    "now_utc", "today_utc", "today_with_timezone", "timestamp", "str_to_datetime", "max", "min",
    "day_delta", "duration", "format_datetime", "sanitize_url", "camel_case_to_snake_case",
    "generate_uuid", "dict", "namespace", "lipsum", "cycler", "joiner", "self", NULL};

bool is_global_name(const char *name) {
  for (int i = 0; globals[i]; i++)
    if (!strcmp(globals[i], name)) return true;
  return false;
}

static void nargs_check(ieval *e, const inode *n, const char *name, size_t nargs, size_t lo, size_t hi) {
  if (nargs < lo || nargs > hi) {
    if (lo == hi) ierr(e, n->pos, "%s() takes %zu argument%s (%zu given)", name, lo, lo == 1 ? "" : "s", nargs);
    ierr(e, n->pos, "%s() takes %zu to %zu arguments (%zu given)", name, lo, hi, nargs);
  }
}

/* Positional or keyword argument `kwname` at position idx. */
bool iarg(iv *args, size_t nargs, const char **kw, size_t nkw, size_t idx, const char *kwname, iv *out) {
  if (idx < nargs) {
    *out = args[idx];
    return true;
  }
  for (size_t i = 0; i < nkw; i++)
    if (!strcmp(kw[i], kwname)) {
      *out = args[nargs + i];
      return true;
    }
  return false;
}
#define arg iarg

static void no_undef(ieval *e, uint32_t pos, iv v) {
  if (v.t == IV_UNDEF) ierr_undef(e, pos, "%s", v.u.undef ? v.u.undef : "value is undefined");
}

static sl_dt now_dt(void) {
  sl_dt d = {0};
  d.us = ieval_now_us();
  d.aware = true;
  return d;
}

iv ifn_strtodt(ieval *e, uint32_t pos, iv s);
iv ifn_strtodt(ieval *e, uint32_t pos, iv s) {
  no_undef(e, pos, s);
  if (s.t != IV_STR) ierr(e, pos, "str_to_datetime() expects a string, not '%s'", iv_typename(s));
  sl_dt dt;
  char em[256];
  if (sl_dt_isoparse(s.u.s.s, s.u.s.n, &dt, em, sizeof em)) ierr(e, pos, "%s", em);
  sl_dt r = {0};
  r.us = sl_dt_utc_us(&dt);
  r.aware = true;
  r.pytz_utc = true;
  if (!sl_dt_in_range(&r)) ierr(e, pos, "date value out of range");
  return iv_dt(r);
}

iv idt_text(ieval *e, uint32_t pos, const sl_dt *dt, const char *fmt, size_t fl, bool cdk) {
  sl_buf *b = ibuf_push(e);
  int rc = cdk ? sl_dt_format_cdk(dt, fmt, b) : sl_dt_strftime(dt, fmt, fl, b);
  if (rc) ierr(e, pos, "formatted date is too long");
  iv r = iv_strbuf(e, b);
  ibuf_pop(e);
  return r;
}

static iv minmax(ieval *e, const inode *n, const char *name, iv *args, size_t nargs, const char **kw, size_t nkw,
                 int sign) {
  iv seq, dflt;
  bool has_default = false;
  for (size_t i = 0; i < nkw; i++) {
    if (!strcmp(kw[i], "default")) has_default = true, dflt = args[nargs + i];
    else ierr(e, n->pos, "%s() got an unsupported keyword argument '%s'", name, kw[i]);
  }
  if (nargs == 0) ierr(e, n->pos, "%s expected at least 1 argument, got 0", name);
  if (nargs == 1) seq = iv_iter_list(e, n->pos, args[0]);
  else {
    seq = iv_list_new(e, IV_LIST, nargs);
    for (size_t i = 0; i < nargs; i++) il_push(e, seq.u.l, args[i]);
  }
  size_t len = il_len(seq.u.l);
  if (!len) {
    if (has_default) return dflt;
    ierr(e, n->pos, "%s() arg is an empty sequence", name);
  }
  iv best = il_get(seq.u.l, 0);
  for (size_t i = 1; i < len; i++) {
    iv x = il_get(seq.u.l, i);
    int c = iv_cmp(e, x, best, n->pos);
    if (c != 2 && c * sign > 0) best = x;
  }
  return best;
}

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

iv icall_global(ieval *e, const inode *n, const char *name, iv *args, size_t nargs, const char **kw, size_t nkw) {
  uint32_t pos = n->pos;
  iv a0, a1, a2;
  /* Python functions given an Undefined mostly fail with a TypeError (a real
   * error); dateutil's isoparse touches an attribute first, which raises
   * Jinja's UndefinedError (the caller's default applies); max/min compare
   * and raise UndefinedError too. */
  if (strcmp(name, "max") && strcmp(name, "min"))
    for (size_t i = 0; i < nargs + nkw; i++)
      if (args[i].t == IV_UNDEF) {
        bool isoparse = i == 0 && (!strcmp(name, "str_to_datetime") || !strcmp(name, "timestamp") ||
                                   !strcmp(name, "today_with_timezone") ||
                                   (!strcmp(name, "format_datetime") && nargs + nkw < 3));
        if (isoparse) ierr_undef(e, pos, "%s", args[i].u.undef ? args[i].u.undef : "undefined");
        ierr(e, pos, "%s() got an undefined argument (%s)", name, args[i].u.undef ? args[i].u.undef : "undefined");
      }
  if (!strcmp(name, "now_utc")) {
    nargs_check(e, n, name, nargs + nkw, 0, 0);
    return iv_dt(now_dt());
  }
  if (!strcmp(name, "today_utc")) {
    nargs_check(e, n, name, nargs + nkw, 0, 0);
    sl_dt d = now_dt();
    d.us -= ((d.us % SL_US_PER_DAY) + SL_US_PER_DAY) % SL_US_PER_DAY;
    d.aware = false, d.date = true;
    return iv_dt(d);
  }
  if (!strcmp(name, "today_with_timezone")) {
    nargs_check(e, n, name, nargs + nkw, 1, 1);
    if (!arg(args, nargs, kw, nkw, 0, "timezone", &a0)) ierr(e, pos, "today_with_timezone() needs a timezone");
    const char *tz = iv_as_cstr(e, pos, a0, "timezone");
    char path[512];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    FILE *f = strstr(tz, "..") ? NULL : fopen(path, "rb");
    if (!f) ierr(e, pos, "unknown time zone '%s'", tz);
    fclose(f);
    time_t now = (time_t)(ieval_now_us() / SL_US_PER_S);
    struct tm tm;
    pthread_mutex_lock(&tz_lock);
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", tz, 1);
    tzset();
    localtime_r(&now, &tm);
    if (old) setenv("TZ", old, 1);
    else unsetenv("TZ");
    tzset();
    free(old);
    pthread_mutex_unlock(&tz_lock);
    sl_dt d = {0};
    d.us = sl_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) * SL_US_PER_DAY;
    d.date = true;
    return iv_dt(d);
  }
  if (!strcmp(name, "timestamp")) {
    nargs_check(e, n, name, nargs + nkw, 1, 1);
    arg(args, nargs, kw, nkw, 0, "dt", &a0);
    if (a0.t == IV_INT || a0.t == IV_BOOL) return iv_int(a0.t == IV_INT ? a0.u.i : a0.u.b);
    if (a0.t == IV_FLOAT) {
      if (!isfinite(a0.u.f) || fabs(a0.u.f) >= 9.2e18) ierr(e, pos, "cannot convert float %g to integer", a0.u.f);
      return iv_int((int64_t)a0.u.f);
    }
    iv d = ifn_strtodt(e, pos, a0);
    return iv_float(sl_dt_timestamp(&d.u.dt));
  }
  if (!strcmp(name, "str_to_datetime")) {
    nargs_check(e, n, name, nargs + nkw, 1, 1);
    arg(args, nargs, kw, nkw, 0, "s", &a0);
    return ifn_strtodt(e, pos, a0);
  }
  if (!strcmp(name, "max")) return minmax(e, n, name, args, nargs, kw, nkw, 1);
  if (!strcmp(name, "min")) return minmax(e, n, name, args, nargs, kw, nkw, -1);
  if (!strcmp(name, "day_delta")) {
    nargs_check(e, n, name, nargs + nkw, 1, 2);
    if (!arg(args, nargs, kw, nkw, 0, "num_days", &a0)) ierr(e, pos, "day_delta() needs num_days");
    const char *fmt = "%Y-%m-%dT%H:%M:%S.%f%z";
    if (arg(args, nargs, kw, nkw, 1, "format", &a1)) fmt = iv_as_cstr(e, pos, a1, "format");
    sl_dt d = now_dt();
    sl_dur du = {0, 0, 0};
    if (a0.t == IV_FLOAT) du.us = (int64_t)nearbyint(a0.u.f * (double)SL_US_PER_DAY);
    else du.us = iv_as_int(e, pos, a0, "num_days") * SL_US_PER_DAY;
    sl_dt r;
    if (!sl_dt_add_dur(&d, &du, 1, &r)) ierr(e, pos, "date value out of range");
    return idt_text(e, pos, &r, fmt, strlen(fmt), false);
  }
  if (!strcmp(name, "duration")) {
    nargs_check(e, n, name, nargs + nkw, 1, 1);
    arg(args, nargs, kw, nkw, 0, "datestring", &a0);
    if (a0.t != IV_STR) ierr(e, pos, "Expecting a string %s", iv_typename(a0));
    sl_dur d;
    char em[256];
    if (sl_dur_parse(a0.u.s.s, a0.u.s.n, &d, em, sizeof em)) ierr(e, pos, "%s", em);
    return iv_dur(d);
  }
  if (!strcmp(name, "format_datetime")) {
    nargs_check(e, n, name, nargs + nkw, 2, 3);
    if (!arg(args, nargs, kw, nkw, 0, "dt", &a0) || !arg(args, nargs, kw, nkw, 1, "format", &a1))
      ierr(e, pos, "format_datetime() needs dt and format");
    const char *fmt = iv_as_cstr(e, pos, a1, "format");
    const char *infmt = NULL;
    if (arg(args, nargs, kw, nkw, 2, "input_format", &a2) && a2.t != IV_NONE) {
      infmt = iv_as_cstr(e, pos, a2, "input_format");
      if (!*infmt) infmt = NULL;
    }
    if (a0.t == IV_DT && !a0.u.dt.date) return idt_text(e, pos, &a0.u.dt, fmt, strlen(fmt), false);
    sl_dt dt;
    char em[256];
    if (a0.t == IV_INT || a0.t == IV_BOOL) {
      char num[32];
      int l = snprintf(num, sizeof num, "%lld", (long long)(a0.t == IV_INT ? a0.u.i : a0.u.b));
      if (sl_dt_parse_cdk(num, (size_t)l, infmt ? infmt : "%s", &dt, em, sizeof em)) ierr(e, pos, "%s", em);
    } else if (a0.t == IV_STR && infmt) {
      if (sl_dt_strptime(a0.u.s.s, a0.u.s.n, infmt, &dt, em, sizeof em)) ierr(e, pos, "%s", em);
    } else {
      dt = ifn_strtodt(e, pos, a0).u.dt;
    }
    if (!dt.aware) dt.aware = true, dt.off = 0;
    return idt_text(e, pos, &dt, fmt, strlen(fmt), true);
  }
  if (!strcmp(name, "sanitize_url")) {
    nargs_check(e, n, name, nargs + nkw, 1, 1);
    arg(args, nargs, kw, nkw, 0, "value", &a0);
    const char *s = iv_as_cstr(e, pos, a0, "sanitize_url() value");
    sl_buf *b = ibuf_push(e);
    for (size_t i = 0; s[i]; i++) {
      unsigned char c = (unsigned char)s[i];
      if (isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') sl_buf_putc(b, (char)c);
      else if (c == ' ') sl_buf_putc(b, '+');
      else sl_buf_appendf(b, "%%%02X", c);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "camel_case_to_snake_case")) {
    nargs_check(e, n, name, nargs + nkw, 1, 1);
    arg(args, nargs, kw, nkw, 0, "value", &a0);
    const char *s = iv_as_cstr(e, pos, a0, "camel_case_to_snake_case() value");
    sl_buf *b = ibuf_push(e);
    for (size_t i = 0; s[i]; i++) {
      if (i && isupper((unsigned char)s[i])) sl_buf_putc(b, '_');
      sl_buf_putc(b, (char)tolower((unsigned char)s[i]));
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "generate_uuid")) {
    nargs_check(e, n, name, nargs + nkw, 0, 0);
    unsigned char u[16];
    if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u) ierr(e, pos, "no randomness available");
    u[6] = (u[6] & 0x0F) | 0x40;
    u[8] = (u[8] & 0x3F) | 0x80;
    char s[40];
    snprintf(s, sizeof s, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    return iv_strz(e, s);
  }
  if (!strcmp(name, "dict") || !strcmp(name, "namespace")) {
    iv d = iv_dict_new(e, nkw + 4);
    if (nargs > 1) ierr(e, pos, "%s expected at most 1 argument, got %zu", name, nargs);
    if (nargs == 1) {
      if (args[0].t == IV_DICT || args[0].t == IV_NS) {
        for (size_t i = 0; i < id_len(args[0].u.d); i++) id_set(e, d.u.d, id_key(args[0].u.d, i), id_val(args[0].u.d, i));
      } else {
        iv l = iv_iter_list(e, pos, args[0]);
        for (size_t i = 0; i < il_len(l.u.l); i++) {
          iv pair = iv_iter_list(e, pos, il_get(l.u.l, i));
          if (il_len(pair.u.l) != 2) ierr(e, pos, "dictionary update sequence element #%zu has the wrong length", i);
          id_set(e, d.u.d, il_get(pair.u.l, 0), il_get(pair.u.l, 1));
        }
      }
    }
    for (size_t i = 0; i < nkw; i++) id_set(e, d.u.d, iv_strz(e, kw[i]), args[nargs + i]);
    if (!strcmp(name, "namespace")) d.t = IV_NS;
    return d;
  }
  ierr(e, pos, "%s() is not supported", name);
}

/* Non-callable globals: `self` (Jinja's template reference; its attributes are undefined). */
bool iglobal_value(ieval *e, const char *name, iv *out) {
  if (strcmp(name, "self")) return false;
  *out = iv_dict_new(e, 1);
  out->t = IV_NS;
  return true;
}

/* ---- tests ---- */

static const char *const test_names[] = {
    "!=", "==", "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "float",
    "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
    "number", "odd", "sameas", "sequence", "string", "true", "undefined", "upper", "<", "<=", ">", ">=", NULL};

/* 0 known, 1 unknown, 2 a Jinja test sluice lacks */
int itest_known(const char *name) {
  for (int i = 0; test_names[i]; i++)
    if (!strcmp(test_names[i], name)) return 0;
  return (!strcmp(name, "filter") || !strcmp(name, "test")) ? 2 : 1;
}

bool icall_test(ieval *e, const inode *n, const char *name, iv v, iv *args, size_t nargs) {
  uint32_t pos = n->pos;
  if (!strcmp(name, "defined")) return v.t != IV_UNDEF;
  if (!strcmp(name, "undefined")) return v.t == IV_UNDEF;
  if (!strcmp(name, "none")) return v.t == IV_NONE;
  if (!strcmp(name, "true")) return v.t == IV_BOOL && v.u.b;
  if (!strcmp(name, "false")) return v.t == IV_BOOL && !v.u.b;
  if (!strcmp(name, "boolean")) return v.t == IV_BOOL;
  if (!strcmp(name, "integer")) return v.t == IV_INT;
  if (!strcmp(name, "float")) return v.t == IV_FLOAT;
  if (!strcmp(name, "number")) return v.t == IV_INT || v.t == IV_FLOAT || v.t == IV_BOOL;
  if (!strcmp(name, "string")) return v.t == IV_STR;
  if (!strcmp(name, "mapping")) return v.t == IV_DICT;
  if (!strcmp(name, "sequence")) return v.t == IV_STR || v.t == IV_DICT || (iv_is_seq(v) && v.u.l->kind == LK_LIST);
  if (!strcmp(name, "iterable"))
    return v.t == IV_STR || v.t == IV_DICT || v.t == IV_NS || v.t == IV_LIST || v.t == IV_TUPLE || v.t == IV_UNDEF;
  if (!strcmp(name, "callable")) return v.t == IV_FUNC || v.t == IV_METHOD;
  if (!strcmp(name, "escaped")) return false;
  if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
    iv s = iv_to_str(e, v);
    bool cased = false;
    for (size_t i = 0; i < s.u.s.n; i++) {
      unsigned char c = (unsigned char)s.u.s.s[i];
      if (name[0] == 'l' ? isupper(c) : islower(c)) return false;
      if (isalpha(c)) cased = true;
    }
    return cased;
  }
  if (!strcmp(name, "odd") || !strcmp(name, "even")) {
    int64_t x = iv_as_int(e, pos, v, name);
    return (x % 2 != 0) == (name[0] == 'o');
  }
  if (nargs < 1) ierr(e, pos, "test '%s' needs an argument (or is unknown)", name);
  iv a = args[0];
  if (!strcmp(name, "divisibleby")) {
    int64_t x = iv_as_int(e, pos, v, name), y = iv_as_int(e, pos, a, name);
    if (!y) ierr(e, pos, "integer division or modulo by zero");
    return x % y == 0;
  }
  if (!strcmp(name, "sameas")) {
    if (v.t != a.t) return false;
    if (v.t == IV_NONE || v.t == IV_UNDEF) return true;
    if (v.t == IV_BOOL) return v.u.b == a.u.b;
    if (v.t == IV_LIST || v.t == IV_TUPLE) return v.u.l == a.u.l;
    if (v.t == IV_DICT) return v.u.d == a.u.d;
    return iv_eq(e, v, a);
  }
  if (!strcmp(name, "eq") || !strcmp(name, "equalto") || !strcmp(name, "==")) return iv_eq(e, v, a);
  if (!strcmp(name, "ne") || !strcmp(name, "!=")) return !iv_eq(e, v, a);
  if (!strcmp(name, "in")) return iv_contains(e, pos, a, v);
  int c;
  if (!strcmp(name, "lt") || !strcmp(name, "lessthan") || !strcmp(name, "<")) return (c = iv_cmp(e, v, a, pos)) < 0;
  if (!strcmp(name, "le") || !strcmp(name, "<=")) return (c = iv_cmp(e, v, a, pos)) <= 0 && c != 2;
  if (!strcmp(name, "gt") || !strcmp(name, "greaterthan") || !strcmp(name, ">")) return (c = iv_cmp(e, v, a, pos)) > 0 && c != 2;
  if (!strcmp(name, "ge") || !strcmp(name, ">=")) return (c = iv_cmp(e, v, a, pos)) >= 0 && c != 2;
  ierr(e, pos, "no test named '%s'", name);
}
