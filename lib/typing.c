/* sluice: typed columns for SQL destinations (see include/sluice/typing.h).
 * Schema typing and names are cold (once per stream); sl_typing_text runs
 * once per value and allocates nothing but scratch growth. */
#include "sluice/typing.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const char *const type_names[SL_COL_NTYPES] = {
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "time_with_timezone",
    "time_without_timezone",
    "timestamp_with_timezone",
    "timestamp_without_timezone",
    "object",
    "array",
    "json",
};

const char *sl_col_type_name(sl_col_type t) {
  return (unsigned)t < SL_COL_NTYPES ? type_names[t] : "json";
}

bool sl_col_type_parse(const char *name, sl_col_type *out) {
  for (int i = 0; i < SL_COL_NTYPES; i++)
    if (!strcmp(name, type_names[i])) {
      *out = (sl_col_type)i;
      return true;
    }
  return false;
}

const char *sl_typing_reason_name(sl_typing_reason r) {
  switch (r) {
    case SL_TYPING_TYPECAST: return "DESTINATION_TYPECAST_ERROR";
    case SL_TYPING_SIZE: return "DESTINATION_FIELD_SIZE_LIMITATION";
    case SL_TYPING_SERIALIZATION: return "DESTINATION_SERIALIZATION_ERROR";
    default: return "";
  }
}

/* ---- schema -> type ---- */

static sl_col_type from_ref(const char *ref) {
  const char *slash = strrchr(ref, '/');
  const char *n = slash ? slash + 1 : ref;
  static const struct {
    const char *name;
    sl_col_type t;
  } refs[] = {
      {"String", SL_COL_STRING},
      {"BinaryData", SL_COL_STRING},
      {"Integer", SL_COL_INTEGER},
      {"Number", SL_COL_NUMBER},
      {"Boolean", SL_COL_BOOLEAN},
      {"Date", SL_COL_DATE},
      {"TimeWithTimezone", SL_COL_TIME_TZ},
      {"TimeWithoutTimezone", SL_COL_TIME},
      {"TimestampWithTimezone", SL_COL_TIMESTAMP_TZ},
      {"TimestampWithoutTimezone", SL_COL_TIMESTAMP},
  };
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    if (!strcmp(n, refs[i].name)) return refs[i].t;
  return SL_COL_JSON;
}

static bool str_is(const json_t *v, const char *s) {
  const char *x = json_string_value(v);
  return x && !strcmp(x, s);
}

/* One JSON-schema type name within prop. */
static sl_col_type from_type_name(const json_t *prop, const char *ty) {
  const json_t *at = json_object_get(prop, "airbyte_type");
  if (!strcmp(ty, "string")) {
    const json_t *f = json_object_get(prop, "format");
    if (str_is(f, "date")) return SL_COL_DATE;
    if (str_is(f, "time")) return str_is(at, "time_without_timezone") ? SL_COL_TIME : SL_COL_TIME_TZ;
    if (str_is(f, "date-time"))
      return str_is(at, "timestamp_without_timezone") ? SL_COL_TIMESTAMP : SL_COL_TIMESTAMP_TZ;
    return SL_COL_STRING;
  }
  if (!strcmp(ty, "integer")) return SL_COL_INTEGER;
  if (!strcmp(ty, "number")) return str_is(at, "integer") ? SL_COL_INTEGER : SL_COL_NUMBER;
  if (!strcmp(ty, "boolean")) return SL_COL_BOOLEAN;
  if (!strcmp(ty, "object")) return SL_COL_OBJECT;
  if (!strcmp(ty, "array")) return SL_COL_ARRAY;
  return SL_COL_JSON;
}

/* Union precedence (lower wins), Airbyte's order. */
static int priority(sl_col_type t) {
  static const int p[SL_COL_NTYPES] = {
      [SL_COL_ARRAY] = 0,     [SL_COL_OBJECT] = 1,   [SL_COL_STRING] = 2,
      [SL_COL_DATE] = 3,      [SL_COL_TIME] = 4,     [SL_COL_TIME_TZ] = 5,
      [SL_COL_TIMESTAMP] = 6, [SL_COL_TIMESTAMP_TZ] = 7, [SL_COL_NUMBER] = 8,
      [SL_COL_INTEGER] = 9,   [SL_COL_BOOLEAN] = 10, [SL_COL_JSON] = 11,
  };
  return p[t];
}

sl_col_type sl_typing_from_schema(const json_t *prop) {
  if (!json_is_object(prop)) return SL_COL_JSON;
  const json_t *t = json_object_get(prop, "type");
  if (json_is_string(t)) return from_type_name(prop, json_string_value(t));
  if (json_is_array(t)) {
    size_t i, n = 0;
    const json_t *x;
    sl_col_type best = SL_COL_JSON;
    json_array_foreach(t, i, x) {
      const char *s = json_string_value(x);
      if (!s || !strcmp(s, "null")) continue;
      sl_col_type c = from_type_name(prop, s);
      if (!n++ || priority(c) < priority(best)) best = c;
    }
    /* A real union that lands on object or array holds whatever comes. */
    if (n > 1 && sl_col_type_is_json(best)) return SL_COL_JSON;
    return best;
  }
  const char *ref = json_string_value(json_object_get(prop, "$ref"));
  if (ref) return from_ref(ref);
  if (json_object_get(prop, "oneOf") || json_object_get(prop, "anyOf")) return SL_COL_JSON;
  if (json_is_object(json_object_get(prop, "properties"))) return SL_COL_OBJECT;
  if (json_object_get(prop, "items")) return SL_COL_ARRAY;
  return SL_COL_JSON;
}

/* ---- names ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) k = 2, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) k = 3, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) k = 4, min = 0x10000;
  else return 0;
  if (n < k) return 0;
  unsigned cp = c & (0x7F >> k);
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return k;
}

/* Cut s (length n) to at most max bytes without splitting a character. */
static size_t cut_utf8(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  size_t i = max;
  while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
  return i;
}

size_t sl_col_name_normalize(const char *in, size_t n, const sl_name_rules *r, char *out) {
  size_t max = r->max_len ? r->max_len : 63, o = 0;
  const unsigned char *s = (const unsigned char *)in;
  if (n && s[0] >= '0' && s[0] <= '9') out[o++] = '_';
  for (size_t i = 0; i < n && o < max;) {
    unsigned c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out[o++] = (char)c;
      i++;
    } else if (c >= 'A' && c <= 'Z') {
      out[o++] = (char)(r->lower ? c + 32 : c);
      i++;
    } else {
      size_t k = c >= 0x80 ? utf8_len(s + i, n - i) : 0;
      if (k && !r->ascii_only) {
        if (o + k > max) break;
        memcpy(out + o, s + i, k);
        o += k;
        i += k;
      } else {
        out[o++] = '_';
        i += k ? k : 1;
      }
    }
  }
  if (!o) out[o++] = '_';
  out[o] = 0;
  return o;
}

static bool same_name(const sl_name_rules *r, const char *a, const char *b) {
  return r->ci ? !strcasecmp(a, b) : !strcmp(a, b);
}

static bool taken(const sl_col_set *s, const sl_name_rules *r, const char *const *reserved,
                  size_t n_reserved, const char *name) {
  for (size_t i = 0; i < n_reserved; i++)
    if (same_name(r, reserved[i], name)) return true;
  for (size_t i = 0; i < s->n; i++)
    if (same_name(r, s->cols[i].name, name)) return true;
  return false;
}

static uint32_t fnv(const char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
  return h;
}

sl_code sl_col_set_build(sl_col_set *s, const json_t *json_schema, const sl_name_rules *r,
                         const char *const *reserved, size_t n_reserved, const char *raw_name,
                         const char *stream, sl_err *err) {
  memset(s, 0, sizeof *s);
  const json_t *props = json_object_get(json_schema, "properties");
  size_t n = json_is_object(props) ? json_object_size(props) : 0;
  size_t max = r->max_len ? r->max_len : 63;
  s->cols = calloc(n ? n : 1, sizeof *s->cols);
  char *buf = malloc(max + 32);
  if (!s->cols || !buf) {
    free(buf);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  const char *k;
  size_t klen;
  json_t *v;
  json_object_keylen_foreach((json_t *)props, k, klen, v) {
    sl_col *c = &s->cols[s->n];
    c->prop = k;
    c->prop_len = klen;
    c->type = sl_typing_from_schema(v);
    size_t len = sl_col_name_normalize(k, klen, r, buf);
    for (unsigned suffix = 2; taken(s, r, reserved, n_reserved, buf); suffix++) {
      char suf[16];
      int sl = snprintf(suf, sizeof suf, "_%u", suffix);
      size_t base = sl_col_name_normalize(k, klen, r, buf);
      base = cut_utf8(buf, base, max - (size_t)sl);
      memcpy(buf + base, suf, (size_t)sl + 1);
      len = base + (size_t)sl;
    }
    if (!(c->name = strndup(buf, len))) goto nomem;
    s->n++;
  }
  if (!s->n) {
    sl_col *c = &s->cols[s->n++];
    c->prop = "";
    c->type = SL_COL_JSON;
    s->raw = true;
    if (!(c->name = strdup(raw_name ? raw_name : "_airbyte_data"))) goto nomem;
  }
  size_t cap = 8;
  while (cap < 2 * s->n) cap *= 2;
  if (!(s->hash = calloc(cap, sizeof *s->hash))) goto nomem;
  s->hmask = cap - 1;
  for (size_t i = 0; i < s->n && !s->raw; i++) {
    size_t h = fnv(s->cols[i].prop, s->cols[i].prop_len) & s->hmask;
    while (s->hash[h]) h = (h + 1) & s->hmask;
    s->hash[h] = (uint32_t)i + 1;
  }
  free(buf);
  return SL_EOK;
nomem:
  free(buf);
  sl_col_set_dispose(s);
  return sl_err_set(err, SL_ENOMEM, "stream \"%s\": out of memory building its columns",
                    stream ? stream : "?");
}

void sl_col_set_dispose(sl_col_set *s) {
  for (size_t i = 0; s->cols && i < s->n; i++) free(s->cols[i].name);
  free(s->cols);
  free(s->hash);
  memset(s, 0, sizeof *s);
}

/* ---- dates and times ---- */

static bool dig(const char *s, size_t n, size_t *i, int k, int *out) {
  int v = 0;
  if (*i + (size_t)k > n) return false;
  for (int j = 0; j < k; j++) {
    char c = s[*i + (size_t)j];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += (size_t)k;
  *out = v;
  return true;
}

static int days_in(int y, int m) {
  static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return d[m - 1];
}

static bool parse_date(const char *s, size_t n, size_t *i, sl_datetime *dt) {
  if (!dig(s, n, i, 4, &dt->year) || *i >= n || s[(*i)++] != '-' || !dig(s, n, i, 2, &dt->month) ||
      *i >= n || s[(*i)++] != '-' || !dig(s, n, i, 2, &dt->day))
    return false;
  return dt->year >= 1 && dt->month >= 1 && dt->month <= 12 && dt->day >= 1 &&
         dt->day <= days_in(dt->year, dt->month);
}

static bool parse_time(const char *s, size_t n, size_t *i, sl_datetime *dt) {
  if (!dig(s, n, i, 2, &dt->hour) || *i >= n || s[(*i)++] != ':' || !dig(s, n, i, 2, &dt->min))
    return false;
  if (*i < n && s[*i] == ':') {
    ++*i;
    if (!dig(s, n, i, 2, &dt->sec)) return false;
    if (*i < n && s[*i] == '.') {
      ++*i;
      int nd = 0;
      while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        if (nd < 6) dt->usec = dt->usec * 10 + (s[*i] - '0');
        nd++;
        ++*i;
      }
      if (!nd) return false;
      for (int j = nd; j < 6; j++) dt->usec *= 10;
    }
  }
  return dt->hour <= 23 && dt->min <= 59 && dt->sec <= 59;
}

static bool parse_zone(const char *s, size_t n, size_t *i, sl_datetime *dt) {
  if (*i == n) return true;
  char c = s[*i];
  if (c == 'Z' || c == 'z') {
    ++*i;
    dt->has_tz = true;
    return true;
  }
  if (c != '+' && c != '-') return false;
  ++*i;
  int h, m = 0;
  if (!dig(s, n, i, 2, &h)) return false;
  if (*i < n) {
    if (s[*i] == ':') ++*i;
    if (!dig(s, n, i, 2, &m)) return false;
  }
  if (h > 15 || m > 59) return false;
  dt->has_tz = true;
  dt->tz_min = (c == '-' ? -1 : 1) * (h * 60 + m);
  return true;
}

bool sl_typing_parse_datetime(sl_col_type t, const char *s, size_t n, sl_datetime *out) {
  sl_datetime dt;
  memset(&dt, 0, sizeof dt);
  size_t i = 0;
  bool ok;
  switch (t) {
    case SL_COL_DATE: ok = parse_date(s, n, &i, &dt); break;
    case SL_COL_TIME:
    case SL_COL_TIME_TZ: ok = parse_time(s, n, &i, &dt) && parse_zone(s, n, &i, &dt); break;
    case SL_COL_TIMESTAMP:
    case SL_COL_TIMESTAMP_TZ:
      ok = parse_date(s, n, &i, &dt);
      if (ok && i < n) {
        char c = s[i++];
        ok = (c == 'T' || c == 't' || c == ' ') && parse_time(s, n, &i, &dt) &&
             parse_zone(s, n, &i, &dt);
      }
      break;
    default: ok = false;
  }
  if (!ok || i != n) return false;
  *out = dt;
  return true;
}

static char *put2(char *p, int v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
  return p + 2;
}

static char *put_time(char *p, const sl_datetime *dt) {
  p = put2(p, dt->hour);
  *p++ = ':';
  p = put2(p, dt->min);
  *p++ = ':';
  p = put2(p, dt->sec);
  if (dt->usec) {
    *p++ = '.';
    for (int d = 100000, u = dt->usec; d; d /= 10) *p++ = (char)('0' + (u / d) % 10);
  }
  return p;
}

static char *put_zone(char *p, const sl_datetime *dt) {
  int z = dt->has_tz ? dt->tz_min : 0;
  *p++ = z < 0 ? '-' : '+';
  if (z < 0) z = -z;
  p = put2(p, z / 60);
  *p++ = ':';
  return put2(p, z % 60);
}

size_t sl_typing_fmt_datetime(sl_col_type t, const sl_datetime *dt, char *out) {
  char *p = out;
  if (t == SL_COL_DATE || t == SL_COL_TIMESTAMP || t == SL_COL_TIMESTAMP_TZ) {
    p = put2(p, dt->year / 100);
    p = put2(p, dt->year % 100);
    *p++ = '-';
    p = put2(p, dt->month);
    *p++ = '-';
    p = put2(p, dt->day);
    if (t != SL_COL_DATE) *p++ = 'T';
  }
  if (t != SL_COL_DATE) p = put_time(p, dt);
  if (t == SL_COL_TIME_TZ || t == SL_COL_TIMESTAMP_TZ) p = put_zone(p, dt);
  *p = 0;
  return (size_t)(p - out);
}

/* ---- values ---- */

static bool jv_has_nul(sl_jv v) {
  size_t n;
  const char *s;
  switch (sl_jv_type(v)) {
    case SL_JSTRING:
      s = sl_jv_str(v, &n);
      return memchr(s, 0, n) != NULL;
    case SL_JARRAY:
      for (sl_jv x = sl_jv_first(v); sl_jv_more(v, x); x = sl_jv_next(x))
        if (jv_has_nul(x)) return true;
      return false;
    case SL_JOBJECT:
      for (sl_jv k = sl_jv_first(v); sl_jv_more(v, k); k = sl_jv_next(sl_jv_val(k))) {
        s = sl_jv_str(k, &n);
        if (memchr(s, 0, n) || jv_has_nul(sl_jv_val(k))) return true;
      }
      return false;
    default: return false;
  }
}

/* v's JSON text appended to scratch. */
static sl_typing_reason json_text(sl_jv v, size_t max, const sl_typing_limits *lim, sl_buf *scratch,
                                  const char **out, size_t *len) {
  if (!lim->allow_nul && (sl_jv_type(v) == SL_JARRAY || sl_jv_type(v) == SL_JOBJECT) && jv_has_nul(v))
    return SL_TYPING_SERIALIZATION;
  size_t off = scratch->len;
  sl_jw w;
  sl_jw_init(&w, scratch);
  sl_jw_jv(&w, v);
  if (w.rc || scratch->len - off > max) {
    scratch->len = off;
    return SL_TYPING_SIZE;
  }
  *out = scratch->data + off;
  *len = scratch->len - off;
  return SL_TYPING_OK;
}

/* A JSON-style number in a string: -?digits[.digits][(e|E)[+-]digits],
 * with a bounded exponent so that every SQL decimal type can read it. */
static bool numeric_text(const char *s, size_t n, bool integer_only) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  size_t d0 = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  if (i == d0 || n > 64) return false;
  if (integer_only) return i == n;
  if (i < n && s[i] == '.') {
    size_t f0 = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == f0) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t e0 = i;
    int e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && e < 10000) e = e * 10 + (s[i++] - '0');
    if (i == e0 || e > 300) return false;
  }
  return i == n;
}

static sl_typing_reason put_int(int64_t x, sl_buf *scratch, const char **out, size_t *len) {
  if (sl_buf_ensure(scratch, 24)) return SL_TYPING_SIZE;
  char *p = scratch->data + scratch->len;
  size_t k = sl_json_fmt_int(p, x);
  scratch->len += k;
  *out = p;
  *len = k;
  return SL_TYPING_OK;
}

/* The integer part of a long literal whose fraction is all zeros
 * ("12345678901234567.000"): its double may be another integer. */
static bool integral_literal(const char *s, size_t *n) {
  size_t i = s[0] == '-';
  while (i < *n && s[i] >= '0' && s[i] <= '9') i++;
  if (i < *n && s[i] != '.') return false; /* an exponent: the double decides */
  for (size_t j = i + 1; j < *n; j++)
    if (s[j] != '0') return false;
  *n = i;
  return true;
}

sl_typing_reason sl_typing_int(sl_jv v, int64_t *out) {
  size_t n;
  const char *s = sl_jv_num_text(v, &n); /* the exact text of a long literal */
  sl_jtype t = sl_jv_type(v);
  if (s && integral_literal(s, &n)) t = SL_JSTRING;
  else if (s && memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n)) return SL_TYPING_TYPECAST;
  else s = NULL;
  switch (t) {
    case SL_JINT: *out = sl_jv_int(v); return SL_TYPING_OK;
    case SL_JDOUBLE: {
      double x = sl_jv_double_raw(v);
      if (x != trunc(x) || x < -9223372036854775808.0 || x >= 9223372036854775808.0) return SL_TYPING_TYPECAST;
      if (sl_jv_num_text(v, NULL) && fabs(x) > 9007199254740992.0) return SL_TYPING_TYPECAST; /* 2^53: inexact */
      *out = (int64_t)x;
      return SL_TYPING_OK;
    }
    case SL_JSTRING: {
      if (!s) s = sl_jv_str(v, &n);
      if (!numeric_text(s, n, true)) return SL_TYPING_TYPECAST;
      char tmp[72];
      memcpy(tmp, s, n);
      tmp[n] = 0;
      errno = 0;
      long long x = strtoll(tmp, NULL, 10);
      if (errno) return SL_TYPING_TYPECAST;
      *out = x;
      return SL_TYPING_OK;
    }
    default: return SL_TYPING_TYPECAST;
  }
}

sl_typing_reason sl_typing_bool(sl_jv v, bool *out) {
  size_t n;
  const char *s = sl_jv_str(v, &n);
  if (sl_jv_type(v) == SL_JBOOL) *out = sl_jv_bool(v);
  else if (s && n == 4 && !strncasecmp(s, "true", 4)) *out = true;
  else if (s && n == 5 && !strncasecmp(s, "false", 5)) *out = false;
  else return SL_TYPING_TYPECAST;
  return SL_TYPING_OK;
}

sl_typing_reason sl_typing_datetime(sl_col_type t, sl_jv v, sl_datetime *out) {
  size_t n;
  const char *s = sl_jv_str(v, &n);
  return s && sl_typing_parse_datetime(t, s, n, out) ? SL_TYPING_OK : SL_TYPING_TYPECAST;
}

int64_t sl_datetime_days(const sl_datetime *dt) {
  int64_t y = dt->year - (dt->month <= 2);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (dt->month + (dt->month > 2 ? -3 : 9)) + 2) / 5 + dt->day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

sl_typing_reason sl_typing_text(sl_col_type t, sl_jv v, const sl_typing_limits *lim,
                                sl_buf *scratch, const char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  sl_jtype jt = sl_jv_type(v);
  if (jt == SL_JNULL) return SL_TYPING_OK;
  size_t n;
  const char *s = jt == SL_JSTRING ? sl_jv_str(v, &n) : NULL;
  switch (t) {
    case SL_COL_STRING:
      if (!s) return json_text(v, lim->max_string, lim, scratch, out, len);
      if (n > lim->max_string) return SL_TYPING_SIZE;
      if (!lim->allow_nul && memchr(s, 0, n)) return SL_TYPING_SERIALIZATION;
      *out = s;
      *len = n;
      return SL_TYPING_OK;
    case SL_COL_INTEGER: {
      int64_t x;
      sl_typing_reason r = sl_typing_int(v, &x);
      return r ? r : put_int(x, scratch, out, len);
    }
    case SL_COL_NUMBER:
      if (jt == SL_JINT || jt == SL_JUINT || jt == SL_JDOUBLE)
        return json_text(v, lim->max_string, lim, scratch, out, len);
      if (s && numeric_text(s, n, false)) {
        *out = s;
        *len = n;
        return SL_TYPING_OK;
      }
      return SL_TYPING_TYPECAST;
    case SL_COL_BOOLEAN: {
      bool b;
      if (sl_typing_bool(v, &b)) return SL_TYPING_TYPECAST;
      *out = b ? "true" : "false";
      *len = b ? 4 : 5;
      return SL_TYPING_OK;
    }
    case SL_COL_DATE:
    case SL_COL_TIME_TZ:
    case SL_COL_TIME:
    case SL_COL_TIMESTAMP_TZ:
    case SL_COL_TIMESTAMP: {
      sl_datetime dt;
      if (sl_typing_datetime(t, v, &dt)) return SL_TYPING_TYPECAST;
      if (sl_buf_ensure(scratch, SL_DATETIME_MAX)) return SL_TYPING_SIZE;
      char *p = scratch->data + scratch->len;
      size_t k = sl_typing_fmt_datetime(t, &dt, p);
      scratch->len += k;
      *out = p;
      *len = k;
      return SL_TYPING_OK;
    }
    case SL_COL_OBJECT:
      if (jt != SL_JOBJECT) return SL_TYPING_TYPECAST;
      return json_text(v, lim->max_json, lim, scratch, out, len);
    case SL_COL_ARRAY:
      if (jt != SL_JARRAY) return SL_TYPING_TYPECAST;
      return json_text(v, lim->max_json, lim, scratch, out, len);
    case SL_COL_JSON:
    default:
      if (s && !lim->allow_nul && memchr(s, 0, n)) return SL_TYPING_SERIALIZATION;
      return json_text(v, lim->max_json, lim, scratch, out, len);
  }
}

/* ---- _airbyte_meta ---- */

void sl_typing_meta(sl_jw *w, const sl_jv *src_meta, const sl_col_set *cols,
                    const sl_typing_change *ch, size_t n, bool has_sync, int64_t sync_id) {
  sl_jw_obj_open(w);
  sl_jw_key(w, "changes", 7);
  sl_jw_arr_open(w);
  sl_jv changes;
  if (src_meta && sl_jv_get(*src_meta, "changes", &changes) && sl_jv_type(changes) == SL_JARRAY)
    for (sl_jv x = sl_jv_first(changes); sl_jv_more(changes, x); x = sl_jv_next(x)) sl_jw_jv(w, x);
  for (size_t i = 0; i < n; i++) {
    const sl_col *c = &cols->cols[ch[i].col];
    sl_jw_obj_open(w);
    sl_jw_key(w, "field", 5);
    sl_jw_str(w, c->prop, c->prop_len);
    sl_jw_key(w, "change", 6);
    sl_jw_str(w, "NULLED", 6);
    sl_jw_key(w, "reason", 6);
    sl_jw_strz(w, sl_typing_reason_name(ch[i].reason));
    sl_jw_obj_close(w);
  }
  sl_jw_arr_close(w);
  sl_jw_key(w, "sync_id", 7);
  if (has_sync) sl_jw_int(w, sync_id);
  else sl_jw_null(w);
  sl_jw_obj_close(w);
}
