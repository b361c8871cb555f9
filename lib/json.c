#include "sluice/json.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- reading (simdjson shim in json_simd.cpp) ---- */

void *sl__simd_new(size_t max_doc);
void sl__simd_free(void *p);
const char *sl__simd_parse(void *p, const char *data, size_t len, const uint64_t **tape,
                           const uint8_t **sbuf);

struct sl_jparser {
  void *simd;
  size_t max_doc;
};

sl_jparser *sl_jparser_new(size_t max_doc) {
  sl_jparser *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->simd = sl__simd_new(max_doc);
  if (!p->simd) {
    free(p);
    return NULL;
  }
  p->max_doc = max_doc;
  return p;
}

void sl_jparser_free(sl_jparser *p) {
  if (!p) return;
  sl__simd_free(p->simd);
  free(p);
}

sl_code sl_jparser_parse(sl_jparser *p, const char *data, size_t len, sl_jv *root,
                         const char *what, sl_err *err) {
  if (len > p->max_doc)
    return sl_err_set(err, SL_ELIMIT, "%s: document of %zu bytes is larger than the maximum %zu",
                      what, len, p->max_doc);
  const uint64_t *tape;
  const uint8_t *sbuf;
  const char *msg = sl__simd_parse(p->simd, data, len, &tape, &sbuf);
  if (!msg) {
    root->tape = tape;
    root->sbuf = sbuf;
    root->i = 1; /* tape[0] is the root marker */
    return SL_EOK;
  }
  /* Error path only: let jansson locate the fault for the message. */
  if (!err) return SL_EJSON;
  json_error_t je;
  json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
  if (v) {
    json_decref(v);
    return sl_err_set(err, SL_EJSON, "%s: %s", what, msg);
  }
  /* jansson counts the bytes it consumed, the faulty one included. */
  int at = je.position > 0 ? je.position - 1 : 0;
  return sl_err_set(err, SL_EJSON, "%s: %s at byte offset %d", what, je.text, at);
}

const char *sl__simd_envelope(void *p, const char *data, size_t len, sl_envelope *env);

sl_code sl_jparser_envelope(sl_jparser *p, const char *data, size_t len, sl_envelope *env,
                            const char *what, sl_err *err) {
  if (len > p->max_doc)
    return sl_err_set(err, SL_ELIMIT, "%s: document of %zu bytes is larger than the maximum %zu",
                      what, len, p->max_doc);
  if (!sl__simd_envelope(p->simd, data, len, env)) return SL_EOK;
  sl_jv root; /* error path: a full parse gives the message and byte offset */
  sl_code rc = sl_jparser_parse(p, data, len, &root, what, err);
  return rc ? rc : sl_err_set(err, SL_EJSON, "%s: malformed message", what);
}

bool sl_jv_getn(sl_jv obj, const char *key, size_t keylen, sl_jv *out) {
  if (sl_jv_type(obj) != SL_JOBJECT) return false;
  for (sl_jv k = sl_jv_first(obj); sl_jv_more(obj, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t n;
    const char *s = sl_jv_str(k, &n);
    if (n == keylen && memcmp(s, key, n) == 0) {
      *out = sl_jv_val(k);
      return true;
    }
  }
  return false;
}

bool sl_jv_get(sl_jv obj, const char *key, sl_jv *out) {
  return sl_jv_getn(obj, key, strlen(key), out);
}

json_t *sl_jv_to_json(sl_jv v) {
  switch (sl_jv_type(v)) {
    case SL_JNULL: return json_null();
    case SL_JBOOL: return json_boolean(sl_jv_bool(v));
    case SL_JINT: return json_integer(sl_jv_int(v));
    case SL_JUINT: return json_real((double)sl_jv_uint(v));
    case SL_JDOUBLE: return json_real(sl_jv_double_raw(v));
    case SL_JSTRING: {
      size_t n;
      const char *s = sl_jv_str(v, &n);
      return json_stringn_nocheck(s, n);
    }
    case SL_JARRAY: {
      json_t *a = json_array();
      if (!a) return NULL;
      for (sl_jv x = sl_jv_first(v); sl_jv_more(v, x); x = sl_jv_next(x)) {
        if (json_array_append_new(a, sl_jv_to_json(x))) {
          json_decref(a);
          return NULL;
        }
      }
      return a;
    }
    case SL_JOBJECT: {
      json_t *o = json_object();
      if (!o) return NULL;
      for (sl_jv k = sl_jv_first(v); sl_jv_more(v, k); k = sl_jv_next(sl_jv_val(k))) {
        size_t n;
        const char *s = sl_jv_str(k, &n);
        if (json_object_setn_new_nocheck(o, s, n, sl_jv_to_json(sl_jv_val(k)))) {
          json_decref(o);
          return NULL;
        }
      }
      return o;
    }
  }
  return NULL;
}

/* ---- UTF-8 and escaping ---- */

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
  unsigned char c = s[0];
  if (c >= 0xC2 && c <= 0xDF) {
    if (avail >= 2 && (s[1] & 0xC0) == 0x80) return 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
    if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
    return 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;
    if (c == 0xF4 && s[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

bool sl__simd_utf8(const char *data, size_t len);

bool sl_utf8_valid(const char *s, size_t len) {
  if (len >= 64) return sl__simd_utf8(s, len); /* SIMD pays off past a few words */
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t n = utf8_seq(p + i, len - i);
    if (!n) return false;
    i += n;
  }
  return true;
}

/* 0: copy as is; 1: needs an escape or a check. */
static const unsigned char esc_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Non-zero when one of the 8 bytes of x is < 0x20, '"', '\\' or >= 0x80. */
static inline uint64_t swar_needs_escape(uint64_t x) {
  const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
  uint64_t lt20 = (x - ones * 0x20) & ~x;
  uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
  return (lt20 | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x) & high;
}

sl_code sl_json_escape(sl_buf *b, const char *s, size_t len) {
  /* Worst case: every byte becomes \u00XX (6) or U+FFFD (3 bytes per byte). */
  if (sl_buf_ensure(b, len * 6 + 2)) return SL_ELIMIT;
  char *o = b->data + b->len;
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  *o++ = '"';
  while (p < end) {
    /* Eight bytes at a time while none needs attention: a byte below 0x20,
     * a quote, a backslash or a non-ASCII byte stops the run. The tail is
     * checked in a word padded with 'a', so short clean strings never take
     * the byte loop. */
    while (p < end) {
      size_t take = end - p >= 8 ? 8 : (size_t)(end - p);
      uint64_t x;
      if (take == 8) {
        memcpy(&x, p, 8);
      } else if (p - (const unsigned char *)s + (ptrdiff_t)take >= 8) {
        memcpy(&x, end - 8, 8); /* overlaps bytes already copied: at worst a false stop */
      } else {
        x = 0x6161616161616161ull; /* 'a' in every byte, built in registers */
        for (size_t i = 0; i < take; i++)
          x = (x & ~(0xFFull << (8 * i))) | ((uint64_t)p[i] << (8 * i));
      }
      if (swar_needs_escape(x)) break;
      if (take == 8) memcpy(o, &x, 8); /* one fixed-size store */
      else memcpy(o, p, take);
      o += take;
      p += take;
    }
    while (p < end && !esc_class[*p]) *o++ = (char)*p++;
    if (p == end) break;
    unsigned char c = *p;
    if (c >= 0x80) {
      size_t n = utf8_seq(p, (size_t)(end - p));
      if (n) {
        memcpy(o, p, n);
        o += n;
        p += n;
      } else {
        memcpy(o, "\xEF\xBF\xBD", 3);
        o += 3;
        p++;
      }
      continue;
    }
    *o++ = '\\';
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      default: {
        static const char hex[] = "0123456789abcdef";
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
      }
    }
    p++;
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  return SL_EOK;
}

static const char digits2[201] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849"
    "5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

static size_t fmt_u64(char *p, uint64_t u) {
  size_t n = 1;
  for (uint64_t t = u; t >= 10; t /= 10) n++;
  char *o = p + n;
  while (u >= 100) { /* two digits per division */
    unsigned d = (unsigned)(u % 100) * 2;
    u /= 100;
    *--o = digits2[d + 1];
    *--o = digits2[d];
  }
  if (u >= 10) {
    *--o = digits2[u * 2 + 1];
    *--o = digits2[u * 2];
  } else {
    *--o = (char)('0' + u);
  }
  return n;
}

size_t sl_json_fmt_int(char *p, int64_t v) {
  if (v < 0) {
    *p = '-';
    return 1 + fmt_u64(p + 1, (uint64_t)0 - (uint64_t)v);
  }
  return fmt_u64(p, (uint64_t)v);
}

size_t sl__fmt_double_shortest(char *p, size_t cap, double v);

size_t sl_json_fmt_double(char *p, double v, bool always_point) {
  if (!isfinite(v)) {
    memcpy(p, "null", 4);
    return 4;
  }
  /* Fast path: values with at most 6 decimals (prices, measures) print
   * exactly as integer and fraction digits, no libc formatting. */
  double a = fabs(v);
  if (a < 1e15 && a >= 1e-6) {
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    for (int k = 0; k <= 6; k++) {
      double scaled = a * pow10[k];
      if (scaled >= 9e15) break;
      uint64_t iv = (uint64_t)(scaled + 0.5);
      if ((double)iv / pow10[k] != a) continue; /* exact: division rounds correctly */
      size_t n = 0;
      if (v < 0) p[n++] = '-';
      uint64_t ip = iv, f = 0;
      for (int j = 0; j < k; j++) ip /= 10;
      f = iv - ip * (uint64_t)pow10[k];
      n += sl_json_fmt_int(p + n, (int64_t)ip);
      if (k) {
        p[n++] = '.';
        for (int j = k - 1; j >= 0; j--) {
          p[n + (size_t)j] = (char)('0' + f % 10);
          f /= 10;
        }
        n += (size_t)k;
      } else if (always_point) {
        p[n++] = '.';
        p[n++] = '0';
      }
      return n;
    }
  }
  int n = (int)sl__fmt_double_shortest(p, 32, v);
  if (n <= 0) n = snprintf(p, 32, "%.17g", v);
  if (always_point && !memchr(p, '.', (size_t)n) && !memchr(p, 'e', (size_t)n)) {
    p[n++] = '.';
    p[n++] = '0';
  }
  return (size_t)n;
}

/* ---- writer ---- */

void sl_jw_init(sl_jw *w, sl_buf *out) {
  w->out = out;
  w->comma = 0;
  w->depth = 0;
  w->after_key = false;
  w->rc = SL_EOK;
}

static inline void jw_sep(sl_jw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  uint64_t bit = 1ull << (w->depth & 63);
  if (w->comma & bit) {
    if (sl_buf_putc(w->out, ',')) w->rc = SL_ELIMIT;
  }
  w->comma |= bit;
}

static inline void jw_put(sl_jw *w, const char *s, size_t n) {
  if (sl_buf_put(w->out, s, n)) w->rc = SL_ELIMIT;
}

static void jw_open(sl_jw *w, char c) {
  jw_sep(w);
  jw_put(w, &c, 1);
  if (w->depth >= 63) {
    w->rc = SL_ELIMIT;
    return;
  }
  w->depth++;
  w->comma &= ~(1ull << w->depth);
}

static void jw_close(sl_jw *w, char c) {
  jw_put(w, &c, 1);
  if (w->depth > 0) w->depth--;
}

void sl_jw_obj_open(sl_jw *w) { jw_open(w, '{'); }
void sl_jw_obj_close(sl_jw *w) { jw_close(w, '}'); }
void sl_jw_arr_open(sl_jw *w) { jw_open(w, '['); }
void sl_jw_arr_close(sl_jw *w) { jw_close(w, ']'); }

void sl_jw_key(sl_jw *w, const char *k, size_t len) {
  jw_sep(w);
  if (sl_json_escape(w->out, k, len) || sl_buf_putc(w->out, ':')) w->rc = SL_ELIMIT;
  w->after_key = true;
}

void sl_jw_keyz(sl_jw *w, const char *k) { sl_jw_key(w, k, strlen(k)); }

void sl_jw_str(sl_jw *w, const char *s, size_t len) {
  jw_sep(w);
  if (sl_json_escape(w->out, s, len)) w->rc = SL_ELIMIT;
}

void sl_jw_strz(sl_jw *w, const char *s) {
  if (!s) sl_jw_null(w);
  else sl_jw_str(w, s, strlen(s));
}

void sl_jw_int(sl_jw *w, int64_t v) {
  jw_sep(w);
  if (sl_buf_ensure(w->out, 24)) {
    w->rc = SL_ELIMIT;
    return;
  }
  w->out->len += sl_json_fmt_int(w->out->data + w->out->len, v);
}

void sl_jw_uint(sl_jw *w, uint64_t v) {
  jw_sep(w);
  if (sl_buf_ensure(w->out, 24)) {
    w->rc = SL_ELIMIT;
    return;
  }
  w->out->len += fmt_u64(w->out->data + w->out->len, v);
}

void sl_jw_double(sl_jw *w, double v, bool always_point) {
  jw_sep(w);
  if (sl_buf_ensure(w->out, 40)) {
    w->rc = SL_ELIMIT;
    return;
  }
  w->out->len += sl_json_fmt_double(w->out->data + w->out->len, v, always_point);
}

void sl_jw_bool(sl_jw *w, bool v) {
  jw_sep(w);
  if (v) jw_put(w, "true", 4);
  else jw_put(w, "false", 5);
}

void sl_jw_null(sl_jw *w) {
  jw_sep(w);
  jw_put(w, "null", 4);
}

void sl_jw_raw(sl_jw *w, const char *json, size_t len) {
  jw_sep(w);
  jw_put(w, json, len);
}

void sl_jw_jv(sl_jw *w, sl_jv v) {
  size_t numlen;
  const char *num = sl_jv_num_text(v, &numlen);
  if (num) {
    sl_jw_raw(w, num, numlen);
    return;
  }
  switch (sl_jv_type(v)) {
    case SL_JNULL: sl_jw_null(w); break;
    case SL_JBOOL: sl_jw_bool(w, sl_jv_bool(v)); break;
    case SL_JINT: sl_jw_int(w, sl_jv_int(v)); break;
    case SL_JUINT: sl_jw_uint(w, sl_jv_uint(v)); break;
    case SL_JDOUBLE: sl_jw_double(w, sl_jv_double_raw(v), true); break;
    case SL_JSTRING: {
      size_t n;
      const char *s = sl_jv_str(v, &n);
      sl_jw_str(w, s, n);
      break;
    }
    case SL_JARRAY:
      sl_jw_arr_open(w);
      for (sl_jv x = sl_jv_first(v); sl_jv_more(v, x); x = sl_jv_next(x)) sl_jw_jv(w, x);
      sl_jw_arr_close(w);
      break;
    case SL_JOBJECT:
      sl_jw_obj_open(w);
      for (sl_jv k = sl_jv_first(v); sl_jv_more(v, k); k = sl_jv_next(sl_jv_val(k))) {
        size_t n;
        const char *s = sl_jv_str(k, &n);
        sl_jw_key(w, s, n);
        sl_jw_jv(w, sl_jv_val(k));
      }
      sl_jw_obj_close(w);
      break;
  }
}

void sl_jw_json(sl_jw *w, const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_NULL: sl_jw_null(w); break;
    case JSON_TRUE: sl_jw_bool(w, true); break;
    case JSON_FALSE: sl_jw_bool(w, false); break;
    case JSON_INTEGER: sl_jw_int(w, json_integer_value(v)); break;
    case JSON_REAL: sl_jw_double(w, json_real_value(v), true); break;
    case JSON_STRING: sl_jw_str(w, json_string_value(v), json_string_length(v)); break;
    case JSON_ARRAY: {
      size_t i;
      json_t *x;
      sl_jw_arr_open(w);
      json_array_foreach(v, i, x) sl_jw_json(w, x);
      sl_jw_arr_close(w);
      break;
    }
    case JSON_OBJECT: {
      const char *k;
      size_t klen;
      json_t *x;
      sl_jw_obj_open(w);
      json_object_keylen_foreach((json_t *)v, k, klen, x) {
        sl_jw_key(w, k, klen);
        sl_jw_json(w, x);
      }
      sl_jw_obj_close(w);
      break;
    }
  }
}

static bool key_is(sl_jv k, const char *key) {
  size_t n;
  const char *s = sl_jv_str(k, &n);
  return s && strlen(key) == n && !memcmp(s, key, n);
}

sl_code sl_json_rewrite_member(sl_buf *out, sl_jv root, const char *member, const char *key,
                               const char *raw, size_t raw_len) {
  if (sl_jv_type(root) != SL_JOBJECT) return SL_EJSON;
  sl_jw w;
  sl_jw_init(&w, out);
  sl_jw_obj_open(&w);
  for (sl_jv k = sl_jv_first(root); sl_jv_more(root, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kn;
    const char *ks = sl_jv_str(k, &kn);
    sl_jv v = sl_jv_val(k);
    sl_jw_key(&w, ks, kn);
    if (!key_is(k, member) || sl_jv_type(v) != SL_JOBJECT) {
      sl_jw_jv(&w, v);
      continue;
    }
    sl_jw_obj_open(&w);
    for (sl_jv k2 = sl_jv_first(v); sl_jv_more(v, k2); k2 = sl_jv_next(sl_jv_val(k2))) {
      if (key_is(k2, key)) continue;
      size_t n2;
      const char *s2 = sl_jv_str(k2, &n2);
      sl_jw_key(&w, s2, n2);
      sl_jw_jv(&w, sl_jv_val(k2));
    }
    sl_jw_keyz(&w, key);
    sl_jw_raw(&w, raw, raw_len);
    sl_jw_obj_close(&w);
  }
  sl_jw_obj_close(&w);
  return w.rc;
}

/* ---- jansson helpers ---- */

sl_code sl_json_load_file(const char *path, json_t **out, sl_err *err) {
  json_error_t je;
  *out = json_load_file(path, JSON_DECODE_ANY, &je);
  if (*out) return SL_EOK;
  if (je.line < 0 || strstr(je.text, "unable to open"))
    return sl_err_set(err, SL_EIO, "%s: cannot read: %s", path, je.text);
  return sl_err_set(err, SL_EJSON, "%s:%d:%d: malformed JSON: %s", path, je.line, je.column,
                    je.text);
}

sl_code sl_json_load_str(const char *text, size_t len, const char *what, json_t **out,
                         sl_err *err) {
  json_error_t je;
  *out = json_loadb(text, len, JSON_DECODE_ANY, &je);
  if (*out) return SL_EOK;
  return sl_err_set(err, SL_EJSON, "%s:%d:%d: malformed JSON: %s", what, je.line, je.column,
                    je.text);
}

char *sl_json_dumps(const json_t *v) {
  sl_buf b;
  sl_jw w;
  sl_buf_init(&b, SIZE_MAX / 4);
  sl_jw_init(&w, &b);
  sl_jw_json(&w, v);
  if (w.rc) {
    sl_buf_dispose(&b);
    return NULL;
  }
  sl_buf_cstr(&b);
  return b.data;
}
