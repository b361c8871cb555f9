/* Python ast.literal_eval of rendered text: the number, string and display
 * grammar of Python 3, with literal_eval's rules (one sign on a number,
 * complex only as real±imag, no names but None/True/False). Integers beyond
 * 64 bits and complex numbers count as "not a literal" (the text is kept). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp_int.h"

typedef struct lp {
  ieval *e;
  const char *s;
  size_t n, i;
  int nest; /* bracket depth: newlines are whitespace inside brackets */
  bool fail;
} lp;

static void skip(lp *p) {
  while (p->i < p->n) {
    char c = p->s[p->i];
    if (c == ' ' || c == '\t' || c == '\f') p->i++;
    else if (c == '\\' && p->i + 1 < p->n && p->s[p->i + 1] == '\n') p->i += 2;
    else if (c == '#') {
      while (p->i < p->n && p->s[p->i] != '\n') p->i++;
    } else if ((c == '\n' || c == '\r') && p->nest > 0) p->i++;
    else break;
  }
}

static bool at_end(lp *p) {
  skip(p);
  /* trailing newlines (and comments/blank lines) at top level are fine */
  while (p->i < p->n) {
    char c = p->s[p->i];
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '\f') p->i++;
    else if (c == '#') {
      while (p->i < p->n && p->s[p->i] != '\n') p->i++;
    } else return false;
  }
  return true;
}

static bool is_id(char c) { return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80; }

/* digits with single underscores between them */
static size_t scan_digits(const char *s, size_t n, size_t i, int base, bool *ok) {
  size_t st = i;
  bool last_us = true;
  while (i < n) {
    char c = s[i];
    bool dig = base == 16 ? isxdigit((unsigned char)c)
               : base == 8 ? (c >= '0' && c <= '7')
               : base == 2 ? (c == '0' || c == '1')
                           : isdigit((unsigned char)c);
    if (dig) last_us = false;
    else if (c == '_' && !last_us) last_us = true;
    else break;
    i++;
  }
  if (i == st || last_us) *ok = false;
  return i;
}

static void strip_us(const char *s, size_t n, char *out, size_t cap) {
  size_t j = 0;
  for (size_t i = 0; i < n && j + 1 < cap; i++)
    if (s[i] != '_') out[j++] = s[i];
  out[j] = 0;
}

/* number → iv; *imag set for j suffix */
static bool lit_number(lp *p, iv *out, bool *imag) {
  const char *s = p->s;
  size_t n = p->n, i = p->i, st = i;
  bool ok = true, isfloat = false;
  char buf[512];
  *imag = false;
  if (s[i] == '0' && i + 1 < n && strchr("xXoObB", s[i + 1])) {
    int base = strchr("xX", s[i + 1]) ? 16 : strchr("oO", s[i + 1]) ? 8 : 2;
    i += 2;
    if (i < n && s[i] == '_') i++;
    size_t e = scan_digits(s, n, i, base, &ok);
    if (!ok || (e < n && is_id(s[e]))) return false;
    if (e - st >= sizeof buf) return false;
    strip_us(s + i, e - i, buf, sizeof buf);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(buf, &end, base);
    if (errno || v > INT64_MAX) return false;
    *out = iv_int((int64_t)v);
    p->i = e;
    return true;
  }
  size_t e = i;
  if (s[e] != '.') {
    e = scan_digits(s, n, e, 10, &ok);
    if (!ok) return false;
  }
  if (e < n && s[e] == '.') {
    isfloat = true;
    e++;
    if (e < n && isdigit((unsigned char)s[e])) {
      e = scan_digits(s, n, e, 10, &ok);
      if (!ok) return false;
    } else if (e - st == 1) return false;
  }
  if (e < n && (s[e] == 'e' || s[e] == 'E')) {
    size_t x = e + 1;
    if (x < n && (s[x] == '+' || s[x] == '-')) x++;
    if (x < n && isdigit((unsigned char)s[x])) {
      e = scan_digits(s, n, x, 10, &ok);
      if (!ok) return false;
      isfloat = true;
    } else return false;
  }
  if (e < n && (s[e] == 'j' || s[e] == 'J')) *imag = true, e++;
  if (e < n && is_id(s[e])) return false;
  if (e - st >= sizeof buf) return false;
  strip_us(s + st, e - st - (*imag ? 1 : 0), buf, sizeof buf);
  if (!isfloat && !*imag) {
    /* leading zeros are only allowed for zero itself */
    if (buf[0] == '0') {
      for (const char *q = buf; *q; q++)
        if (*q != '0') return false;
    }
    errno = 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (errno) return false; /* beyond 64 bits: keep the text */
    *out = iv_int(v);
  } else {
    *out = iv_float(strtod(buf, NULL));
  }
  p->i = e;
  return true;
}

static void put_utf8(sl_buf *b, uint32_t cp) {
  if (cp < 0x80) sl_buf_putc(b, (char)cp);
  else if (cp < 0x800) {
    sl_buf_putc(b, (char)(0xC0 | (cp >> 6)));
    sl_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    sl_buf_putc(b, (char)(0xE0 | (cp >> 12)));
    sl_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
    sl_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
  } else {
    sl_buf_putc(b, (char)(0xF0 | (cp >> 18)));
    sl_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
    sl_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
    sl_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
  }
}

static int hexval(char c) {
  return isdigit((unsigned char)c) ? c - '0' : isxdigit((unsigned char)c) ? (tolower(c) - 'a' + 10) : -1;
}

/* one string literal (after its prefix) appended to b; false on error */
static bool lit_string1(lp *p, bool raw, bool bytes, sl_buf *b) {
  const char *s = p->s;
  size_t n = p->n, i = p->i;
  char q = s[i];
  bool triple = i + 2 < n && s[i + 1] == q && s[i + 2] == q;
  i += triple ? 3 : 1;
  for (;;) {
    if (i >= n) return false;
    char c = s[i];
    if (c == q) {
      if (!triple) {
        i++;
        break;
      }
      if (i + 2 < n && s[i + 1] == q && s[i + 2] == q) {
        i += 3;
        break;
      }
    }
    if ((c == '\n' || c == '\r') && !triple) return false;
    if (bytes && (unsigned char)c >= 0x80) return false;
    if (c != '\\') {
      sl_buf_putc(b, c);
      i++;
      continue;
    }
    if (i + 1 >= n) return false;
    char d = s[i + 1];
    if (raw) { /* backslash kept, but the next char never ends the string */
      sl_buf_putc(b, c);
      sl_buf_putc(b, d);
      i += 2;
      continue;
    }
    i += 2;
    switch (d) {
    case '\n': break;
    case '\\': sl_buf_putc(b, '\\'); break;
    case '\'': sl_buf_putc(b, '\''); break;
    case '"': sl_buf_putc(b, '"'); break;
    case 'a': sl_buf_putc(b, '\a'); break;
    case 'b': sl_buf_putc(b, '\b'); break;
    case 'f': sl_buf_putc(b, '\f'); break;
    case 'n': sl_buf_putc(b, '\n'); break;
    case 'r': sl_buf_putc(b, '\r'); break;
    case 't': sl_buf_putc(b, '\t'); break;
    case 'v': sl_buf_putc(b, '\v'); break;
    case 'x': {
      int h1 = i < n ? hexval(s[i]) : -1, h2 = i + 1 < n ? hexval(s[i + 1]) : -1;
      if (h1 < 0 || h2 < 0) return false;
      put_utf8(b, (uint32_t)(h1 * 16 + h2));
      i += 2;
      break;
    }
    case 'u':
    case 'U': {
      if (bytes) {
        sl_buf_putc(b, '\\');
        sl_buf_putc(b, d);
        break;
      }
      int len = d == 'u' ? 4 : 8;
      uint32_t cp = 0;
      for (int k = 0; k < len; k++) {
        int h = i + (size_t)k < n ? hexval(s[i + (size_t)k]) : -1;
        if (h < 0) return false;
        cp = cp * 16 + (uint32_t)h;
      }
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
      put_utf8(b, cp);
      i += (size_t)len;
      break;
    }
    case 'N': return false;
    default:
      if (d >= '0' && d <= '7') {
        uint32_t v = (uint32_t)(d - '0');
        for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++) v = v * 8 + (uint32_t)(s[i++] - '0');
        put_utf8(b, v);
      } else {
        sl_buf_putc(b, '\\');
        sl_buf_putc(b, d);
      }
    }
  }
  p->i = i;
  return true;
}

static bool lit_expr(lp *p, iv *out, bool *cplx);

static bool str_prefix(lp *p, bool *raw, bool *bytes, bool *fstr) {
  size_t i = p->i, k = 0;
  *raw = *bytes = *fstr = false;
  while (i + k < p->n && k < 3 && isalpha((unsigned char)p->s[i + k])) k++;
  if (i + k >= p->n || (p->s[i + k] != '\'' && p->s[i + k] != '"')) return false;
  for (size_t j = 0; j < k; j++) {
    char c = (char)tolower((unsigned char)p->s[i + j]);
    if (c == 'r') *raw = true;
    else if (c == 'b') *bytes = true;
    else if (c == 'f') *fstr = true;
    else if (c != 'u' || k != 1) return false;
  }
  p->i += k;
  return true;
}

static bool lit_atom(lp *p, iv *out, bool *cplx) {
  skip(p);
  if (p->i >= p->n) return false;
  if (p->nest > 100) return false; /* nesting, not the number of atoms */
  const char *s = p->s;
  char c = s[p->i];
  bool raw, bytes, fstr;
  size_t save = p->i;
  if ((c == '\'' || c == '"' || isalpha((unsigned char)c)) && str_prefix(p, &raw, &bytes, &fstr)) {
    sl_buf b;
    sl_buf_init(&b, 64u << 20);
    int kind = -1;
    for (;;) {
      if (fstr || (kind >= 0 && kind != bytes)) {
        sl_buf_dispose(&b);
        return false;
      }
      kind = bytes;
      if (!lit_string1(p, raw, bytes, &b)) {
        sl_buf_dispose(&b);
        return false;
      }
      skip(p);
      size_t at = p->i;
      if (p->i < p->n && (s[p->i] == '\'' || s[p->i] == '"' || isalpha((unsigned char)s[p->i])) &&
          str_prefix(p, &raw, &bytes, &fstr))
        continue;
      p->i = at;
      break;
    }
    if (kind == 1) { /* bytes are not JSON: treat as not a literal */
      sl_buf_dispose(&b);
      return false;
    }
    *out = iv_strbuf(p->e, &b);
    sl_buf_dispose(&b);
    return true;
  }
  p->i = save;
  if (isdigit((unsigned char)c) || (c == '.' && p->i + 1 < p->n && isdigit((unsigned char)s[p->i + 1]))) {
    bool imag;
    if (!lit_number(p, out, &imag)) return false;
    if (imag) *cplx = true;
    return true;
  }
  if (c == '-' || c == '+') {
    p->i++;
    skip(p);
    if (p->i >= p->n) return false;
    char d = s[p->i];
    if (!(isdigit((unsigned char)d) || d == '.')) return false;
    bool imag;
    iv v;
    if (!lit_number(p, &v, &imag)) return false;
    if (imag) *cplx = true;
    if (c == '-') {
      if (v.t == IV_INT) {
        if (v.u.i == INT64_MIN) return false;
        v.u.i = -v.u.i;
      } else v.u.f = -v.u.f;
    }
    *out = v;
    return true;
  }
  if (isalpha((unsigned char)c) || c == '_') {
    size_t e = p->i;
    while (e < p->n && is_id(s[e])) e++;
    size_t l = e - p->i;
    const char *w = s + p->i;
    p->i = e;
    if (l == 4 && !memcmp(w, "None", 4)) *out = iv_none();
    else if (l == 4 && !memcmp(w, "True", 4)) *out = iv_bool(true);
    else if (l == 5 && !memcmp(w, "False", 5)) *out = iv_bool(false);
    else if (l == 3 && !memcmp(w, "set", 3)) { /* set() */
      skip(p);
      if (p->i + 1 >= p->n || s[p->i] != '(') return false;
      p->i++;
      p->nest++;
      skip(p);
      if (p->i >= p->n || s[p->i] != ')') return false;
      p->i++;
      p->nest--;
      *out = iv_list_new(p->e, IV_LIST, 0);
      out->u.l->kind = LK_SET;
    } else return false;
    return true;
  }
  if (c == '(' || c == '[' || c == '{') {
    char close = c == '(' ? ')' : c == '[' ? ']' : '}';
    p->i++;
    p->nest++;
    iv coll = c == '{' ? iv_dict_new(p->e, 4) : iv_list_new(p->e, c == '(' ? IV_TUPLE : IV_LIST, 4);
    bool is_set = false, trailing_comma = false;
    size_t count = 0;
    for (;;) {
      skip(p);
      if (p->i < p->n && s[p->i] == close) break;
      iv k, v;
      if (!lit_expr(p, &k, cplx)) return false;
      skip(p);
      if (c == '{') {
        if (count == 0 && p->i < p->n && s[p->i] != ':') is_set = true;
        if (is_set) {
          if (k.t == IV_LIST || k.t == IV_DICT) return false;
          bool dup = false;
          for (size_t j = 0; j < coll.u.d->n; j++)
            if (iv_eq(p->e, coll.u.d->keys[j], k)) dup = true;
          if (!dup) id_set(p->e, coll.u.d, k, iv_none());
        } else {
          if (p->i >= p->n || s[p->i] != ':') return false;
          p->i++;
          if (!lit_expr(p, &v, cplx)) return false;
          if (k.t == IV_LIST || k.t == IV_DICT) return false;
          id_set(p->e, coll.u.d, k, v);
        }
      } else il_push(p->e, coll.u.l, k);
      count++;
      skip(p);
      trailing_comma = false;
      if (p->i < p->n && s[p->i] == ',') {
        p->i++;
        trailing_comma = true;
        continue;
      }
      if (p->i < p->n && s[p->i] == close) break;
      return false;
    }
    p->i++;
    p->nest--;
    if (c == '(' && count == 1 && !trailing_comma) *out = il_get(coll.u.l, 0);
    else if (is_set) {
      iv l = iv_list_new(p->e, IV_LIST, coll.u.d->n);
      l.u.l->kind = LK_SET;
      for (size_t j = 0; j < coll.u.d->n; j++) il_push(p->e, l.u.l, coll.u.d->keys[j]);
      *out = l;
    } else *out = coll;
    return true;
  }
  return false;
}

/* atom, or real±imag (complex) */
static bool lit_expr(lp *p, iv *out, bool *cplx) {
  if (!lit_atom(p, out, cplx)) return false;
  skip(p);
  if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-') && (out->t == IV_INT || out->t == IV_FLOAT)) {
    p->i++;
    skip(p);
    bool imag = false;
    iv r;
    if (p->i >= p->n || !(isdigit((unsigned char)p->s[p->i]) || p->s[p->i] == '.')) return false;
    if (!lit_number(p, &r, &imag) || !imag) return false;
    *cplx = true;
  }
  return true;
}

bool py_literal_eval(ieval *e, const char *s, size_t n, iv *out) {
  lp p = {.e = e, .s = s, .n = n};
  bool cplx = false;
  while (p.i < n && (s[p.i] == ' ' || s[p.i] == '\t')) p.i++;
  /* blank leading lines are fine; an indented first line is an IndentationError */
  while (p.i < n && (s[p.i] == '\n' || s[p.i] == '\r')) {
    p.i++;
    if (p.i < n && (s[p.i] == ' ' || s[p.i] == '\t')) return false;
  }
  iv first;
  if (!lit_expr(&p, &first, &cplx)) return false;
  skip(&p);
  if (p.i < n && s[p.i] == ',') { /* a bare tuple */
    iv t = iv_list_new(e, IV_TUPLE, 4);
    il_push(e, t.u.l, first);
    while (p.i < n && s[p.i] == ',') {
      p.i++;
      skip(&p);
      if (at_end(&p)) break;
      iv x;
      if (!lit_expr(&p, &x, &cplx)) return false;
      il_push(e, t.u.l, x);
      skip(&p);
    }
    first = t;
  }
  if (!at_end(&p) || cplx) return false;
  *out = first;
  return true;
}
