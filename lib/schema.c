/* sluice: JSON Schema (draft-07) validation over jansson values.
 *
 * One recursive walk; the first failure stops it. Errors name the JSON
 * pointer of the instance value. Combinators (anyOf/oneOf/not/if) try
 * subschemas in "quiet" mode, which skips message formatting; when all
 * options fail, the most plausible one is re-run loudly for the detail. */
#include "sluice/schema.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256
/* Caps the work on pathological (exponential) schemas, such as nested
 * anyOf over $ref: subschema evaluations allowed, base plus per value. */
#define STEPS_BASE 1000000L
#define STEPS_PER_VALUE 1000L
#define VAL_SHOW 96 /* bytes of a value shown in a message */

typedef struct vctx {
  const json_t *root; /* for $ref */
  sl_err *err;        /* where failures go (message without `what`) */
  char *ptr;          /* JSON pointer of the current instance value */
  size_t len, cap;
  int depth;
  long steps, max_steps;
  bool quiet; /* inside a combinator trial: no messages needed */
  bool fatal; /* depth/complexity limit hit: stop everything */
} vctx;

static sl_code validate(vctx *c, const json_t *s, const json_t *v);

/* ---- JSON pointer of the current value ---- */

static size_t ptr_push(vctx *c, const char *seg, size_t n) {
  size_t mark = c->len;
  if (c->len + 2 * n + 2 > c->cap) {
    size_t cap = (c->cap ? c->cap * 2 : 64) + 2 * n + 2;
    char *p = realloc(c->ptr, cap);
    if (!p) return mark; /* message just loses precision */
    c->ptr = p;
    c->cap = cap;
  }
  c->ptr[c->len++] = '/';
  for (size_t i = 0; i < n; i++) { /* RFC 6901 escapes */
    if (seg[i] == '~' || seg[i] == '/') {
      c->ptr[c->len++] = '~';
      c->ptr[c->len++] = seg[i] == '~' ? '0' : '1';
    } else {
      c->ptr[c->len++] = seg[i];
    }
  }
  c->ptr[c->len] = 0;
  return mark;
}

static size_t ptr_push_index(vctx *c, size_t i) {
  char b[24];
  int n = snprintf(b, sizeof b, "%zu", i);
  return ptr_push(c, b, (size_t)n);
}

static void ptr_pop(vctx *c, size_t mark) {
  c->len = mark;
  if (c->ptr) c->ptr[mark] = 0;
}

static sl_code fail(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sl_code fail(vctx *c, const char *fmt, ...) {
  if (c->quiet && !c->fatal) return SL_ESCHEMA;
  char msg[SL_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sl_err_set(c->err, SL_ESCHEMA, "%s: %s", c->len ? c->ptr : "/", msg);
}

/* ---- values ---- */

const char *sl_json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  default: return "null";
  }
}

static bool is_integral(const json_t *v) {
  if (json_is_integer(v)) return true;
  if (!json_is_real(v)) return false;
  double d = json_real_value(v);
  return isfinite(d) && d == trunc(d);
}

/* 1 if v is of JSON Schema type `t`, 0 if not, -1 if `t` is unknown. */
static int type_is(const char *t, const json_t *v) {
  if (!strcmp(t, "integer")) return is_integral(v);
  if (!strcmp(t, "number")) return json_is_number(v);
  if (!strcmp(t, "string")) return json_is_string(v);
  if (!strcmp(t, "object")) return json_is_object(v);
  if (!strcmp(t, "array")) return json_is_array(v);
  if (!strcmp(t, "boolean")) return json_is_boolean(v);
  if (!strcmp(t, "null")) return json_is_null(v);
  return -1;
}

/* long double holds every int64 and double exactly on our targets. */
static long double num_ld(const json_t *v) {
  return json_is_integer(v) ? (long double)json_integer_value(v) : (long double)json_real_value(v);
}

static int num_cmp(const json_t *a, const json_t *b) {
  if (json_is_integer(a) && json_is_integer(b)) {
    json_int_t x = json_integer_value(a), y = json_integer_value(b);
    return (x > y) - (x < y);
  }
  long double x = num_ld(a), y = num_ld(b);
  return (x > y) - (x < y);
}

/* json_equal, except that 1 and 1.0 are equal (JSON Schema semantics). */
static bool json_eq(const json_t *a, const json_t *b, int depth) {
  if (json_is_number(a) && json_is_number(b)) return num_cmp(a, b) == 0;
  if (json_typeof(a) != json_typeof(b)) return false;
  if (depth > 4 * MAX_DEPTH) return json_equal(a, b); /* bounded stack */
  if (json_is_array(a)) {
    size_t n = json_array_size(a);
    if (n != json_array_size(b)) return false;
    for (size_t i = 0; i < n; i++)
      if (!json_eq(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
    return true;
  }
  if (json_is_object(a)) {
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    size_t kl;
    json_t *av;
    json_object_keylen_foreach((json_t *)a, k, kl, av) {
      const json_t *bv = json_object_getn(b, k, kl);
      if (!bv || !json_eq(av, bv, depth + 1)) return false;
    }
    return true;
  }
  return json_equal(a, b);
}

/* A count keyword: non-negative integer (2.0 allowed). */
static bool get_count(const json_t *s, const char *kw, size_t *out) {
  const json_t *k = json_object_get(s, kw);
  if (!k || !is_integral(k) || num_ld(k) < 0) return false;
  long double d = num_ld(k);
  *out = d >= (long double)SIZE_MAX ? SIZE_MAX : (size_t)d;
  return true;
}

static size_t utf8_len(const char *s, size_t n) {
  size_t cps = 0;
  for (size_t i = 0; i < n; i++) cps += ((unsigned char)s[i] & 0xC0) != 0x80;
  return cps;
}

/* Cut at most `max` bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  return max;
}

static void fmt_num(char *b, size_t n, const json_t *v) {
  if (json_is_integer(v)) {
    snprintf(b, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  } else {
    double d = json_real_value(v);
    snprintf(b, n, "%.15g", d);
    if (strtod(b, NULL) != d) snprintf(b, n, "%.17g", d);
  }
}

/* Quote s as a JSON string, shortened to about VAL_SHOW bytes. */
static void fmt_str(char *b, size_t bn, const char *s, size_t n) {
  size_t keep = utf8_cut(s, n, VAL_SHOW), o = 0;
  b[o++] = '"';
  for (size_t i = 0; i < keep && o + 8 < bn; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      b[o++] = '\\';
      b[o++] = (char)ch;
    } else if (ch < 0x20) {
      o += (size_t)snprintf(b + o, bn - o, "\\u%04x", ch);
    } else {
      b[o++] = (char)ch;
    }
  }
  if (keep < n) o += (size_t)snprintf(b + o, bn - o, "...");
  snprintf(b + o, bn - o, "\"");
}

/* A value for a message; `secret` values (airbyte_secret) are not shown. */
static void fmt_val(char *b, size_t bn, const json_t *v, bool secret) {
  if (secret) {
    snprintf(b, bn, "<secret>");
  } else if (json_is_number(v)) {
    fmt_num(b, bn, v);
  } else if (json_is_string(v)) {
    fmt_str(b, bn, json_string_value(v), json_string_length(v));
  } else {
    char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (!d) {
      snprintf(b, bn, "(%s)", sl_json_type_name(v));
      return;
    }
    size_t n = strlen(d), keep = utf8_cut(d, n, 2 * VAL_SHOW);
    snprintf(b, bn, "%.*s%s", (int)keep, d, keep < n ? "..." : "");
    free(d);
  }
}

/* A subschema keyword: object or boolean; anything else counts as absent. */
static const json_t *sub(const json_t *s, const char *kw) {
  const json_t *k = json_object_get(s, kw);
  return json_is_object(k) || json_is_boolean(k) ? k : NULL;
}

static bool is_secret(const json_t *s) { return json_is_true(json_object_get(s, "airbyte_secret")); }

/* ---- $ref (local JSON pointers only) ---- */

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static const json_t *resolve_ref(const json_t *root, const char *ref) {
  if (ref[0] != '#') return NULL; /* remote refs are not fetched */
  const json_t *cur = root;
  const char *p = ref + 1;
  if (*p && *p != '/') return NULL; /* "#anchor" ($id) is not supported */
  char seg[256];
  while (*p == '/' && cur) {
    p++;
    size_t n = 0;
    while (*p && *p != '/') {
      char ch = *p++;
      if (ch == '~' && (*p == '0' || *p == '1')) {
        ch = *p++ == '0' ? '~' : '/';
      } else if (ch == '%' && hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
        ch = (char)(hexval(p[0]) * 16 + hexval(p[1]));
        p += 2;
      }
      if (n + 1 >= sizeof seg) return NULL;
      seg[n++] = ch;
    }
    seg[n] = 0;
    if (json_is_object(cur)) {
      cur = json_object_getn(cur, seg, n);
    } else if (json_is_array(cur)) {
      char *end;
      unsigned long i = strtoul(seg, &end, 10);
      cur = (n && *end == 0 && seg[0] >= '0' && seg[0] <= '9') ? json_array_get(cur, i) : NULL;
    } else {
      cur = NULL;
    }
  }
  return cur;
}

/* Follow $ref chains (bounded) for the heuristics and defaults. */
static const json_t *deref(const json_t *root, const json_t *s) {
  for (int i = 0; i < 32 && json_is_object(s); i++) {
    const json_t *r = json_object_get(s, "$ref");
    const json_t *t = json_is_string(r) ? resolve_ref(root, json_string_value(r)) : NULL;
    if (!t) break;
    s = t;
  }
  return s;
}

/* ---- regular expressions: ECMA 262 subset translated to POSIX ERE ---- */

static char *put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    if (strchr(".[]()*+?{}|^$\\", (int)cp)) *o++ = '\\';
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xC0 | (cp >> 6));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | (cp >> 12));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | (cp >> 18));
    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

static long hex_at(const char *p, size_t n, size_t at, size_t digits) {
  long v = 0;
  if (at + digits > n) return -1;
  for (size_t k = 0; k < digits; k++) {
    int h = hexval(p[at + k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Character escape at p[*i] (after the backslash): \n \t \uXXXX ... ;
 * -1 if not one, -2 if malformed. */
static long esc_char(const char *p, size_t n, size_t *i) {
  char e = p[*i];
  switch (e) {
  case 'n': (*i)++; return '\n';
  case 't': (*i)++; return '\t';
  case 'r': (*i)++; return '\r';
  case 'f': (*i)++; return '\f';
  case 'v': (*i)++; return '\v';
  case 'x':
  case 'u': {
    long cp = hex_at(p, n, *i + 1, e == 'x' ? 2 : 4);
    if (cp < 0) return -2;
    *i += e == 'x' ? 3 : 5;
    if (cp >= 0xD800 && cp < 0xDC00 && *i + 1 < n && p[*i] == '\\' && p[*i + 1] == 'u') {
      long lo = hex_at(p, n, *i + 2, 4);
      if (lo >= 0xDC00 && lo < 0xE000) {
        *i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
    }
    if (cp == 0 || (cp >= 0xD800 && cp < 0xE000)) return -2;
    return cp;
  }
  default: return -1;
  }
}

/* Regexes run in the C locale, where '.' and [^...] match one byte. So
 * that ".{2}" matches "éé" as in ECMA, they also match a whole UTF-8
 * sequence (not done with backreferences, whose numbers the extra group
 * would shift). */
#define UTF8_SEQ "[\xc0-\xff][\x80-\xbf]*"

static char *put_negated(char *o, const char *body, bool dash, bool utf8) {
  o += sprintf(o, "%s[^%s%s%s]", utf8 ? "(" : "", body, utf8 ? "\x80-\xff" : "", dash ? "-" : "");
  return utf8 ? stpcpy(o, "|" UTF8_SEQ ")") : o;
}

/* A bracket of ASCII members, in the order POSIX needs. */
static char *put_bracket(char *o, const char *body, bool rb, bool caret, bool dash) {
  if (!*body && !rb && caret) return stpcpy(o, dash ? "[-^]" : "\\^"); /* "[^" would negate */
  return o + sprintf(o, "[%s%s%s%s]", rb ? "]" : "", body, caret ? "^" : "", dash ? "-" : "");
}

/* Bracket expression p[i] (just after '['): POSIX wants ']' first and '-'
 * last, and has no escapes inside, so literal specials are collected
 * separately; non-ASCII characters become alternatives "([..]|é|è)".
 * Returns the index after ']' or 0 if unsupported. */
static size_t tr_bracket(const char *p, size_t n, size_t i, char **op, bool utf8) {
  char *body = malloc(16 * n + 16), *b = body, *alts = malloc(8 * n + 16), *a = alts;
  bool neg = false, rb = false, dash = false, caret = false;
  char u8[8];
  if (!body || !alts) goto bad;
  if (i < n && p[i] == '^') neg = true, i++;
  if (i < n && p[i] == ']') goto bad; /* ECMA [] and [^] */
  while (i < n && p[i] != ']') {
    char ch = p[i++];
    if (ch == '[' && i < n && (p[i] == ':' || p[i] == '.' || p[i] == '=')) goto bad;
    if (ch == '\\') {
      if (i >= n) goto bad;
      char e = p[i];
      if (e == 'd' || e == 'w' || e == 's') {
        b = stpcpy(b, e == 'd' ? "0-9" : e == 'w' ? "A-Za-z0-9_" : "[:space:]");
        i++;
        continue;
      }
      long cp = esc_char(p, n, &i);
      if (cp == -1) {
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
          if (e != 'b') goto bad; /* \D, \W, \S, \p... */
          cp = '\b';
        } else {
          cp = (unsigned char)e;
        }
        i++;
      }
      if (cp < 0) goto bad;
      if (cp >= 0x80) {
        if (!utf8) goto bad;
        *put_utf8(u8, (unsigned)cp) = 0;
        goto multibyte;
      }
      ch = (char)cp;
      if (ch == ']') rb = true;
      else if (ch == '-') dash = true;
      else if (ch == '^') caret = true;
      else *b++ = ch;
      continue;
    }
    if ((unsigned char)ch >= 0x80 && utf8) {
      size_t k = 0;
      u8[k++] = ch;
      while (i < n && k < 6 && ((unsigned char)p[i] & 0xC0) == 0x80) u8[k++] = p[i++];
      u8[k] = 0;
    multibyte: /* u8 holds one non-ASCII character; ranges of them are unsupported */
      if ((b - body >= 2 && b[-1] == '-') || (i + 1 < n && p[i] == '-' && p[i + 1] != ']')) goto bad;
      *a++ = '|';
      a = stpcpy(a, u8);
      continue;
    }
    if (ch == '^') caret = true;
    else *b++ = ch;
  }
  if (i >= n || (neg && a > alts)) goto bad;
  *b = *a = 0;
  char *o = *op;
  if (a > alts) { /* "(" [ascii part] "|é|è" ")" */
    *o++ = '(';
    if (b > body || rb || dash || caret) o = put_bracket(o, body, rb, caret, dash);
    o = stpcpy(stpcpy(o, o[-1] == '(' ? alts + 1 : alts), ")");
  } else if (neg) {
    char *inner = malloc(16 * n + 16);
    if (!inner) goto bad;
    sprintf(inner, "%s%s%s", rb ? "]" : "", body, caret ? "^" : "");
    o = put_negated(o, inner, dash, utf8);
    free(inner);
  } else {
    o = put_bracket(o, body, rb, caret, dash);
  }
  *op = o;
  free(body);
  free(alts);
  return i + 1;
bad:
  free(body);
  free(alts);
  return 0;
}

/* "n}", "n,}" or "n,m}" follows an interval's '{'. */
static bool is_interval(const char *p) {
  size_t i = strspn(p, "0123456789");
  if (i == 0) return false;
  if (p[i] == ',') i += 1 + strspn(p + i + 1, "0123456789");
  return p[i] == '}';
}

/* Translate an ECMA-262 pattern to POSIX ERE, or NULL if it uses features
 * ERE lacks (lookaround, named groups, \p{...}). */
static char *ecma_to_ere(const char *p) {
  size_t n = strlen(p), i = 0;
  char *out = malloc(48 * n + 64), *o = out;
  bool after_quant = false, interval = false, utf8 = MB_CUR_MAX == 1;
  if (!out) return NULL;
  for (size_t k = 0; k + 1 < n; k++) {
    if (p[k] == '\\' && p[k + 1] >= '1' && p[k + 1] <= '9') utf8 = false;
    if (p[k] == '\\') k++;
  }
  while (i < n) {
    char ch = p[i++];
    bool quant = false;
    if (ch == '\\') {
      if (i >= n) goto bad;
      char e = p[i];
      const char *cls = NULL;
      switch (e) {
      case 'd': cls = "[0-9]"; break;
      case 'w': cls = "[A-Za-z0-9_]"; break;
      case 's': cls = "[[:space:]]"; break;
      case 'b': cls = "\\b"; break; /* GNU extensions */
      case 'B': cls = "\\B"; break;
      case 'D': cls = "0-9"; break;
      case 'W': cls = "A-Za-z0-9_"; break;
      case 'S': cls = "[:space:]"; break;
      }
      if (cls && (e == 'D' || e == 'W' || e == 'S')) {
        o = put_negated(o, cls, false, utf8);
        i++;
      } else if (cls) {
        o = stpcpy(o, cls);
        i++;
      } else if (e >= '1' && e <= '9') { /* backreference */
        *o++ = '\\';
        *o++ = e;
        i++;
      } else {
        long cp = esc_char(p, n, &i);
        if (cp == -2) goto bad;
        if (cp == -1) {
          if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || e == '0') goto bad;
          cp = (unsigned char)e;
          i++;
          if (cp >= 0x80) { /* identity escape of a raw character */
            i--;
            continue;
          }
        }
        /* a group, so that a quantifier applies to the whole character */
        if (cp >= 0x80 && utf8) *o++ = '(';
        o = put_utf8(o, (unsigned)cp);
        if (cp >= 0x80 && utf8) *o++ = ')';
      }
    } else if (ch == '[') {
      if (!(i = tr_bracket(p, n, i, &o, utf8))) goto bad;
    } else if ((unsigned char)ch >= 0x80 && utf8) {
      *o++ = '(';
      *o++ = ch;
      while (i < n && ((unsigned char)p[i] & 0xC0) == 0x80) *o++ = p[i++];
      *o++ = ')';
    } else if (ch == '.') {
      o = put_negated(o, "\n\r", false, utf8); /* ECMA: not a line terminator */
    } else if (ch == '(' && i < n && p[i] == '?') {
      if (i + 1 < n && p[i + 1] == ':') {
        *o++ = '(';
        i += 2;
      } else {
        goto bad;
      }
    } else if (ch == '{' && !is_interval(p + i)) {
      o = stpcpy(o, "\\{"); /* ECMA: a brace that is no quantifier is literal */
    } else if (ch == '?' && after_quant) {
      /* lazy quantifier: same language, and we only ask "does it match" */
    } else {
      quant = ch == '*' || ch == '+' || ch == '?' || (ch == '}' && interval);
      interval = ch == '{' || (interval && ch != '}');
      *o++ = ch;
    }
    after_quant = quant;
  }
  *o = 0;
  return out;
bad:
  free(out);
  return NULL;
}

/* Compiled patterns are cached for the process: records are validated
 * against the same few patterns millions of times. */
#define RX_SLOTS 512
typedef struct {
  char *pat;
  bool ok;
  regex_t re;
} rx_slot;
static rx_slot rx_cache[RX_SLOTS];
static int rx_used;
static pthread_mutex_t rx_mu = PTHREAD_MUTEX_INITIALIZER;

static bool rx_compile(const char *pat, regex_t *re) {
  char *ere = ecma_to_ere(pat);
  if (!ere) return false;
  int rc = regcomp(re, ere, REG_EXTENDED | REG_NOSUB);
  free(ere);
  return rc == 0;
}

/* 1 if pat matches somewhere in s, 0 if not, -1 if pat is unusable. */
static int rx_search(const char *pat, const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (const char *q = pat; *q; q++) h = (h ^ (unsigned char)*q) * 16777619u;
  regex_t own, *re = NULL;
  bool ok = false, owned = false;
  pthread_mutex_lock(&rx_mu);
  for (uint32_t k = 0; k < RX_SLOTS; k++) {
    rx_slot *sl = &rx_cache[(h + k) % RX_SLOTS];
    if (!sl->pat) {
      if (rx_used >= RX_SLOTS / 2 || !(sl->pat = strdup(pat))) break;
      rx_used++;
      sl->ok = rx_compile(pat, &sl->re);
    }
    if (!strcmp(sl->pat, pat)) {
      ok = sl->ok;
      re = &sl->re;
      break;
    }
  }
  pthread_mutex_unlock(&rx_mu);
  if (!re) { /* cache full */
    ok = owned = rx_compile(pat, &own);
    re = &own;
  }
  int res = -1;
  if (ok) {
    regmatch_t m[1] = {{0, (regoff_t)n}};
    res = regexec(re, s, 1, m, REG_STARTEND) == 0;
  }
  if (owned) regfree(&own);
  return res;
}

/* ---- formats ---- */

static bool digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

static bool is_date(const char *s, size_t n) {
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, m, d;
  if (n != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d)) return false;
  if (m < 1 || m > 12 || d < 1) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= mdays[m - 1] + (m == 2 && leap);
}

/* RFC 3339 date-time; the zone is required unless zone_optional (Airbyte's
 * airbyte_type timestamp_without_timezone, which CAT also accepts). */
static bool is_date_time(const char *s, size_t n, bool zone_optional) {
  int hh, mm, ss;
  if (n < (zone_optional ? 19u : 20u) || !is_date(s, 10)) return false;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return false;
  const char *t = s + 11;
  size_t r = n - 11, i = 8;
  if (t[2] != ':' || t[5] != ':' || !digits(t, 2, &hh) || !digits(t + 3, 2, &mm) ||
      !digits(t + 6, 2, &ss))
    return false;
  if (hh > 23 || mm > 59 || ss > 60) return false; /* 60: leap second */
  if (i < r && t[i] == '.') {
    size_t j = i + 1;
    while (j < r && t[j] >= '0' && t[j] <= '9') j++;
    if (j == i + 1) return false;
    i = j;
  }
  if (i == r) return zone_optional;
  if (i < r && (t[i] == 'Z' || t[i] == 'z')) return i + 1 == r;
  if (i < r && (t[i] == '+' || t[i] == '-') && r - i == 6 && t[i + 3] == ':') {
    return digits(t + i + 1, 2, &hh) && digits(t + i + 4, 2, &mm) && hh <= 23 && mm <= 59;
  }
  return false;
}

/* ---- keyword groups ---- */

static __attribute__((noinline)) sl_code check_type(vctx *c, const json_t *s, const json_t *v) {
  const json_t *t = json_object_get(s, "type");
  bool known = false;
  if (json_is_string(t)) {
    int r = type_is(json_string_value(t), v);
    if (r != 0) return SL_EOK; /* match, or an unknown name: no constraint */
    known = true;
  } else if (json_is_array(t)) {
    size_t i;
    json_t *e;
    json_array_foreach(t, i, e) {
      if (!json_is_string(e)) continue;
      int r = type_is(json_string_value(e), v);
      if (r == 1) return SL_EOK;
      known |= r == 0;
    }
  }
  if (!known || c->quiet) return known ? SL_ESCHEMA : SL_EOK;
  char want[256] = "";
  if (json_is_string(t)) {
    snprintf(want, sizeof want, "%s", json_string_value(t));
  } else {
    size_t i, o = 0, k = 0, n = json_array_size(t);
    json_t *e;
    json_array_foreach(t, i, e) {
      if (!json_is_string(e) || type_is(json_string_value(e), v) < 0) continue;
      o += (size_t)snprintf(want + o, o < sizeof want ? sizeof want - o : 0, "%s%s",
                            k++ ? (i + 1 == n ? " or " : ", ") : "", json_string_value(e));
      if (o >= sizeof want) break;
    }
  }
  return fail(c, "expected %s, got %s", want, sl_json_type_name(v));
}

static __attribute__((noinline)) sl_code check_enum_const(vctx *c, const json_t *s,
                                                         const json_t *v) {
  char vb[512], kb[512];
  const json_t *k = json_object_get(s, "enum");
  if (json_is_array(k)) {
    size_t i;
    json_t *e;
    bool found = false;
    json_array_foreach(k, i, e) {
      if ((found = json_eq(v, e, 0))) break;
    }
    if (!found) {
      if (c->quiet) return SL_ESCHEMA;
      fmt_val(vb, sizeof vb, v, is_secret(s));
      fmt_val(kb, sizeof kb, k, false);
      return fail(c, "%s is not one of %s", vb, kb);
    }
  }
  k = json_object_get(s, "const");
  if (k && !json_eq(v, k, 0)) {
    if (c->quiet) return SL_ESCHEMA;
    fmt_val(vb, sizeof vb, v, is_secret(s));
    fmt_val(kb, sizeof kb, k, false);
    return fail(c, "%s does not equal const %s", vb, kb);
  }
  return SL_EOK;
}

static __attribute__((noinline)) sl_code num_fail(vctx *c, const json_t *s, const json_t *v,
                                                 const char *what, const json_t *k) {
  if (c->quiet) return SL_ESCHEMA;
  char vb[64], kb[64];
  fmt_val(vb, sizeof vb, v, is_secret(s));
  fmt_num(kb, sizeof kb, k);
  return fail(c, "%s is %s %s", vb, what, kb);
}

static bool is_multiple(const json_t *v, const json_t *m) {
  if (json_is_integer(v) && json_is_integer(m)) return json_integer_value(v) % json_integer_value(m) == 0;
  if (num_ld(v) == 0) return true;
  double q = (double)(num_ld(v) / num_ld(m)), r = nearbyint(q);
  if (!isfinite(q) || fabs(q) >= 9007199254740992.0) return true; /* beyond double precision */
  return r != 0 && fabs(q - r) <= 1e-9 * fabs(q); /* tolerate binary fractions like 0.01 */
}

static sl_code check_number(vctx *c, const json_t *s, const json_t *v) {
  const json_t *k, *xmin = json_object_get(s, "exclusiveMinimum"),
                   *xmax = json_object_get(s, "exclusiveMaximum");
  /* draft-04's boolean exclusiveMinimum/Maximum modify minimum/maximum */
  if ((k = json_object_get(s, "minimum")) && json_is_number(k)) {
    int r = num_cmp(v, k);
    if (json_is_true(xmin) && r <= 0) return num_fail(c, s, v, "less than or equal to", k);
    if (r < 0) return num_fail(c, s, v, "less than minimum", k);
  }
  if ((k = json_object_get(s, "maximum")) && json_is_number(k)) {
    int r = num_cmp(v, k);
    if (json_is_true(xmax) && r >= 0) return num_fail(c, s, v, "greater than or equal to", k);
    if (r > 0) return num_fail(c, s, v, "greater than maximum", k);
  }
  if (json_is_number(xmin) && num_cmp(v, xmin) <= 0)
    return num_fail(c, s, v, "less than or equal to exclusiveMinimum", xmin);
  if (json_is_number(xmax) && num_cmp(v, xmax) >= 0)
    return num_fail(c, s, v, "greater than or equal to exclusiveMaximum", xmax);
  if ((k = json_object_get(s, "multipleOf")) && json_is_number(k) && num_ld(k) > 0 &&
      !is_multiple(v, k))
    return num_fail(c, s, v, "not a multiple of", k);
  return SL_EOK;
}

static __attribute__((noinline)) sl_code check_string(vctx *c, const json_t *s, const json_t *v) {
  const char *str = json_string_value(v);
  size_t bytes = json_string_length(v), lim, n;
  char vb[512];
  if (get_count(s, "minLength", &lim) && (n = utf8_len(str, bytes)) < lim)
    return fail(c, "string has %zu characters, fewer than minLength %zu", n, lim);
  if (get_count(s, "maxLength", &lim) && (n = utf8_len(str, bytes)) > lim)
    return fail(c, "string has %zu characters, more than maxLength %zu", n, lim);
  const json_t *k = json_object_get(s, "pattern");
  if (json_is_string(k) && rx_search(json_string_value(k), str, bytes) == 0) {
    if (c->quiet) return SL_ESCHEMA;
    fmt_val(vb, sizeof vb, v, is_secret(s));
    return fail(c, "%s does not match pattern \"%.*s\"", vb,
                (int)utf8_cut(json_string_value(k), json_string_length(k), 2 * VAL_SHOW),
                json_string_value(k));
  }
  k = json_object_get(s, "format");
  if (json_is_string(k)) {
    const char *f = json_string_value(k);
    bool bad = (!strcmp(f, "date") && !is_date(str, bytes)) ||
               (!strcmp(f, "date-time") &&
                !is_date_time(str, bytes, !strcmp(json_string_value(json_object_get(s, "airbyte_type")) ?: "",
                                                   "timestamp_without_timezone")));
    if (bad) {
      if (c->quiet) return SL_ESCHEMA;
      fmt_val(vb, sizeof vb, v, is_secret(s));
      return fail(c, "%s is not a valid %s", vb, f);
    }
  }
  return SL_EOK;
}

/* Run s on v without reporting; true if v is valid. A fatal error inside
 * is copied to the caller's err (the caller then returns SL_ESCHEMA). */
static __attribute__((noinline)) bool try_schema(vctx *c, const json_t *s, const json_t *v) {
  sl_err local = SL_ERR_INIT, *saved = c->err;
  bool q = c->quiet;
  c->err = &local;
  c->quiet = true;
  sl_code rc = validate(c, s, v);
  c->err = saved;
  c->quiet = q;
  if (c->fatal) *saved = local;
  return rc == SL_EOK;
}

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

static uint64_t str_hash(uint64_t h, const char *s, size_t n) {
  for (size_t k = 0; k < n; k++) h = (h ^ (unsigned char)s[k]) * 1099511628211ULL;
  return mix(h);
}

/* A hash that agrees with json_eq: 1 and 1.0 hash alike, key order does not count. */
static uint64_t json_hash(const json_t *v, int depth) {
  uint64_t h = (uint64_t)json_typeof(v) * 0x9e3779b97f4a7c15ULL;
  if (json_is_number(v)) {
    double d = (double)num_ld(v);
    uint64_t bits;
    d = d == 0 ? 0 : d; /* -0.0 equals 0 */
    memcpy(&bits, &d, sizeof bits);
    return mix(bits ^ 0x1234);
  }
  if (json_is_string(v)) return str_hash(h, json_string_value(v), json_string_length(v));
  if (depth > 4 * MAX_DEPTH) return h;
  if (json_is_array(v)) {
    size_t k;
    json_t *e;
    json_array_foreach(v, k, e) h = mix(h * 31 + json_hash(e, depth + 1));
  } else if (json_is_object(v)) {
    const char *key;
    size_t kl;
    json_t *e;
    json_object_keylen_foreach((json_t *)v, key, kl, e) {
      h += mix(str_hash(0, key, kl) ^ (json_hash(e, depth + 1) * 3));
    }
  }
  return h;
}

typedef struct {
  uint64_t h;
  size_t i;
} hashed;

static int cmp_hashed(const void *a, const void *b) {
  const hashed *x = a, *y = b;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* Equal items i < j with the smallest j (then i). Small arrays compare
 * all pairs; large ones only items whose hashes collide. */
static bool find_duplicate(const json_t *v, size_t *pi, size_t *pj) {
  size_t n = json_array_size(v), bi = 0, bj = SIZE_MAX;
  if (n <= 32) {
    for (size_t j = 1; j < n; j++)
      for (size_t i = 0; i < j; i++)
        if (json_eq(json_array_get(v, i), json_array_get(v, j), 0)) {
          *pi = i, *pj = j;
          return true;
        }
    return false;
  }
  hashed *hs = malloc(n * sizeof *hs);
  if (!hs) return false;
  for (size_t k = 0; k < n; k++) hs[k] = (hashed){json_hash(json_array_get(v, k), 0), k};
  qsort(hs, n, sizeof *hs, cmp_hashed);
  for (size_t lo = 0, hi; lo < n; lo = hi) {
    for (hi = lo + 1; hi < n && hs[hi].h == hs[lo].h; hi++) {}
    bool found = false; /* runs are in index order: first hit has the smallest j */
    for (size_t b = lo + 1; b < hi && !found && hs[b].i < bj; b++)
      for (size_t a = lo; a < b && !found; a++)
        if (json_eq(json_array_get(v, hs[a].i), json_array_get(v, hs[b].i), 0)) {
          found = true;
          if (hs[b].i < bj || (hs[b].i == bj && hs[a].i < bi)) bi = hs[a].i, bj = hs[b].i;
        }
  }
  free(hs);
  if (bj == SIZE_MAX) return false;
  *pi = bi, *pj = bj;
  return true;
}

static sl_code check_array(vctx *c, const json_t *s, const json_t *v) {
  size_t n = json_array_size(v), lim;
  sl_code rc;
  if (get_count(s, "minItems", &lim) && n < lim)
    return fail(c, "array has %zu items, fewer than minItems %zu", n, lim);
  if (get_count(s, "maxItems", &lim) && n > lim)
    return fail(c, "array has %zu items, more than maxItems %zu", n, lim);
  size_t di, dj;
  if (json_is_true(json_object_get(s, "uniqueItems")) && find_duplicate(v, &di, &dj))
    return fail(c, "array items %zu and %zu are equal (uniqueItems)", di, dj);
  const json_t *k = sub(s, "contains");
  if (k) {
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
      found = try_schema(c, k, json_array_get(v, i));
      if (c->fatal) return SL_ESCHEMA;
    }
    if (!found) return fail(c, "no array item matches the \"contains\" schema");
  }
  const json_t *items = json_object_get(s, "items"), *extra = sub(s, "additionalItems");
  if (!json_is_array(items)) items = sub(s, "items");
  size_t fixed = json_is_array(items) ? json_array_size(items) : 0;
  if (json_is_array(items) && json_is_false(extra) && n > fixed)
    return fail(c, "array has %zu items, at most %zu allowed (additionalItems is false)", n, fixed);
  for (size_t i = 0; i < n; i++) {
    const json_t *is = !items ? NULL
                       : json_is_array(items) ? (i < fixed ? json_array_get(items, i) : extra)
                                              : items;
    if (!is) continue;
    size_t m = ptr_push_index(c, i);
    rc = validate(c, is, json_array_get(v, i));
    ptr_pop(c, m);
    if (rc) return rc;
  }
  return SL_EOK;
}

/* fmt has two %s for the quoted names a and b; a NULL b prints as "". */
static __attribute__((noinline)) sl_code prop_fail(vctx *c, const char *fmt, const char *a,
                                                  size_t an, const char *b) {
  if (c->quiet) return SL_ESCHEMA;
  char qa[512], qb[512] = "";
  fmt_str(qa, sizeof qa, a, an);
  if (b) fmt_str(qb, sizeof qb, b, strlen(b));
  return fail(c, fmt, qa, qb);
}

static sl_code check_object(vctx *c, const json_t *s, const json_t *v) {
  size_t n = json_object_size(v), lim, i;
  const char *key;
  size_t kl;
  json_t *e, *val;
  sl_code rc;
  const json_t *k = json_object_get(s, "required");
  if (json_is_array(k)) {
    json_array_foreach(k, i, e) {
      if (json_is_string(e) && !json_object_getn(v, json_string_value(e), json_string_length(e)))
        return prop_fail(c, "missing required property %s%s", json_string_value(e),
                         json_string_length(e), NULL);
    }
  }
  if (get_count(s, "minProperties", &lim) && n < lim)
    return fail(c, "object has %zu properties, fewer than minProperties %zu", n, lim);
  if (get_count(s, "maxProperties", &lim) && n > lim)
    return fail(c, "object has %zu properties, more than maxProperties %zu", n, lim);
  k = json_object_get(s, "dependencies");
  if (json_is_object(k)) {
    json_object_keylen_foreach((json_t *)k, key, kl, e) {
      if (!json_object_getn(v, key, kl)) continue;
      if (json_is_array(e)) {
        size_t j;
        json_t *d;
        json_array_foreach(e, j, d) {
          if (json_is_string(d) && !json_object_get(v, json_string_value(d)))
            return prop_fail(c, "property %s requires property %s", key, kl, json_string_value(d));
        }
      } else if ((rc = validate(c, e, v))) {
        return rc;
      }
    }
  }
  const json_t *names = sub(s, "propertyNames"), *props = json_object_get(s, "properties"),
               *pprops = json_object_get(s, "patternProperties"),
               *extra = sub(s, "additionalProperties");
  if (!json_is_object(props)) props = NULL;
  if (!json_is_object(pprops)) pprops = NULL;
  json_object_keylen_foreach((json_t *)v, key, kl, val) {
    size_t m = ptr_push(c, key, kl);
    const json_t *ps;
    bool known = false;
    rc = SL_EOK;
    if (names) {
      json_t *ks = json_stringn_nocheck(key, kl);
      rc = ks ? validate(c, names, ks) : SL_EOK;
      json_decref(ks);
    }
    if (!rc && props && (ps = json_object_getn(props, key, kl))) {
      known = true;
      rc = validate(c, ps, val);
    }
    if (!rc && pprops) {
      const char *pat;
      json_t *psch;
      json_object_foreach((json_t *)pprops, pat, psch) {
        int r = rx_search(pat, key, kl);
        known |= r != 0; /* an unusable pattern might have matched */
        if (r == 1 && (rc = validate(c, psch, val))) break;
      }
    }
    if (!rc && !known && extra && !json_is_false(extra)) rc = validate(c, extra, val);
    ptr_pop(c, m);
    if (rc) return rc;
    if (!known && json_is_false(extra))
      return prop_fail(c, "property %s is not allowed (additionalProperties is false)%s", key, kl,
                       NULL);
  }
  return SL_EOK;
}

static const char *option_label(const json_t *o, char *b, size_t bn, size_t i) {
  const json_t *t = json_object_get(o, "title");
  if (json_is_string(t)) fmt_str(b, bn, json_string_value(t), json_string_length(t));
  else snprintf(b, bn, "%zu", i);
  return b;
}

/* Does option o pin a property (const, or a one-value enum) to the value
 * the instance has? That is the option the user meant. */
static bool discriminated(const json_t *o, const json_t *v) {
  const json_t *props = json_object_get(o, "properties"), *ps;
  const char *key;
  size_t kl;
  if (!json_is_object(v) || !json_is_object(props)) return false;
  json_object_keylen_foreach((json_t *)props, key, kl, ps) {
    const json_t *want = json_object_get(ps, "const"), *en = json_object_get(ps, "enum");
    if (!want && json_array_size(en) == 1) want = json_array_get(en, 0);
    const json_t *have = json_object_getn(v, key, kl);
    if (want && have && json_eq(want, have, 0)) return true;
  }
  return false;
}

/* No anyOf/oneOf option matched. Explain with the option the user most
 * likely meant: one picked by a const discriminator, else the only one
 * whose "type" fits. */
static __attribute__((noinline)) sl_code none_matched(vctx *c, const json_t *opts, const char *kw,
                                                     const json_t *v) {
  if (c->quiet) return SL_ESCHEMA;
  size_t n = json_array_size(opts), pick = n, fits = 0, fit = n, i;
  json_t *o;
  json_array_foreach(opts, i, o) {
    const json_t *d = deref(c->root, o);
    if (pick == n && json_is_object(d) && discriminated(d, v)) pick = i;
    const json_t *t = json_object_get(d, "type");
    bool ok = json_is_object(d);
    if (ok && t) {
      vctx probe = {.root = c->root, .quiet = true};
      ok = check_type(&probe, d, v) == SL_EOK;
    }
    if (ok) fits++, fit = i;
  }
  if (pick == n && fits == 1) pick = fit;
  if (pick == n) return fail(c, "matches none of the %zu %s options", n, kw);
  sl_err local = SL_ERR_INIT, *saved = c->err;
  c->err = &local;
  validate(c, json_array_get(opts, pick), v);
  c->err = saved;
  if (c->fatal) {
    *saved = local;
    return SL_ESCHEMA;
  }
  char lb[256];
  return fail(c, "matches none of the %zu %s options (option %s: %s)", n, kw,
              option_label(deref(c->root, json_array_get(opts, pick)), lb, sizeof lb, pick),
              local.msg);
}

static sl_code check_combinators(vctx *c, const json_t *s, const json_t *v) {
  const json_t *k;
  size_t i;
  json_t *e;
  sl_code rc;
  if (json_is_array(k = json_object_get(s, "allOf"))) {
    json_array_foreach(k, i, e) {
      if ((rc = validate(c, e, v))) return rc;
    }
  }
  if (json_is_array(k = json_object_get(s, "anyOf")) && json_array_size(k)) {
    bool any = false;
    json_array_foreach(k, i, e) {
      if ((any = try_schema(c, e, v))) break;
      if (c->fatal) return SL_ESCHEMA;
    }
    if (!any) return none_matched(c, k, "anyOf", v);
  }
  if (json_is_array(k = json_object_get(s, "oneOf")) && json_array_size(k)) {
    size_t hits = 0, first = 0;
    json_array_foreach(k, i, e) {
      bool ok = try_schema(c, e, v);
      if (c->fatal) return SL_ESCHEMA;
      if (ok && hits++ == 0) first = i;
      if (hits > 1) return fail(c, "matches more than one of the %zu oneOf options (%zu and %zu)",
                                json_array_size(k), first, i);
    }
    if (!hits) return none_matched(c, k, "oneOf", v);
  }
  if ((k = sub(s, "not"))) {
    bool ok = try_schema(c, k, v);
    if (c->fatal) return SL_ESCHEMA;
    if (ok) return fail(c, "must not match the \"not\" schema");
  }
  if ((k = sub(s, "if"))) {
    bool ok = try_schema(c, k, v);
    if (c->fatal) return SL_ESCHEMA;
    const json_t *branch = sub(s, ok ? "then" : "else");
    if (branch && (rc = validate(c, branch, v))) return rc;
  }
  return SL_EOK;
}

static sl_code validate(vctx *c, const json_t *s, const json_t *v) {
  if (c->fatal) return SL_ESCHEMA;
  if (json_is_false(s)) return fail(c, "no value is allowed here (schema is false)");
  if (!json_is_object(s)) return SL_EOK; /* true, or junk: no constraint */
  if (++c->steps > c->max_steps) {
    c->fatal = true;
    return fail(c, "schema too complex to evaluate");
  }
  if (c->depth >= MAX_DEPTH) {
    c->fatal = true;
    return fail(c, "schema nesting deeper than %d levels", MAX_DEPTH);
  }
  /* draft-07: $ref replaces its siblings; remote or broken refs constrain nothing */
  const json_t *ref = json_object_get(s, "$ref");
  if (json_is_string(ref)) {
    const json_t *t = resolve_ref(c->root, json_string_value(ref));
    if (!t) return SL_EOK;
    c->depth++;
    sl_code rc = validate(c, t, v);
    c->depth--;
    return rc;
  }
  c->depth++;
  sl_code rc = check_type(c, s, v);
  if (!rc) rc = check_enum_const(c, s, v);
  if (!rc) {
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: rc = check_number(c, s, v); break;
    case JSON_STRING: rc = check_string(c, s, v); break;
    case JSON_ARRAY: rc = check_array(c, s, v); break;
    case JSON_OBJECT: rc = check_object(c, s, v); break;
    default: break;
    }
  }
  if (!rc) rc = check_combinators(c, s, v);
  c->depth--;
  return rc;
}

/* Number of values in v (capped), to size the work budget. */
static long count_values(const json_t *v, int depth) {
  long n = 1;
  size_t i;
  const char *k;
  json_t *e;
  if (depth > 4 * MAX_DEPTH) return n;
  if (json_is_array(v)) {
    json_array_foreach(v, i, e) n += count_values(e, depth + 1);
  } else if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, e) n += count_values(e, depth + 1);
  }
  return n;
}

sl_code sl_schema_validate(const json_t *schema, const json_t *instance, const char *what,
                           sl_err *err) {
  if (!schema || !instance) return SL_EOK;
  sl_err inner = SL_ERR_INIT;
  vctx c = {.root = schema, .err = &inner};
  c.max_steps = STEPS_BASE + STEPS_PER_VALUE * count_values(instance, 0);
  sl_code rc = validate(&c, schema, instance);
  free(c.ptr);
  if (rc == SL_EOK) return SL_EOK;
  if (what && *what) return sl_err_set(err, SL_ESCHEMA, "%s: %s", what, inner.msg);
  return sl_err_set(err, SL_ESCHEMA, "%s", inner.msg);
}

static void defaults(const json_t *root, const json_t *s, json_t *inst, int depth) {
  s = deref(root, s);
  if (depth > MAX_DEPTH || !json_is_object(inst) || !json_is_object(s)) return;
  const json_t *props = json_object_get(s, "properties"), *ps;
  const char *key;
  size_t kl;
  if (!json_is_object(props)) return;
  json_object_keylen_foreach((json_t *)props, key, kl, ps) {
    const json_t *p = deref(root, ps), *d;
    if (!json_is_object(p)) continue;
    json_t *cur = json_object_getn(inst, key, kl);
    if (!cur && (d = json_object_get(p, "default"))) {
      cur = json_deep_copy(d);
      if (cur && json_object_setn_new(inst, key, kl, cur) != 0) cur = NULL;
    }
    if (json_is_object(cur)) defaults(root, p, cur, depth + 1);
  }
}

void sl_schema_apply_defaults(const json_t *schema, json_t *instance) {
  if (schema && instance) defaults(schema, schema, instance, 0);
}
