/* Jinja lexer: template text, {{ }}, {% %} (with {% raw %}), {# #},
 * whitespace control, and the tokens of expressions. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_parse.h"

void *ipa(ps *p, size_t n) {
  void *m = iar_alloc_raw(&p->t->ar, n ? n : 1);
  if (!m) {
    fprintf(stderr, "sluice: out of memory compiling a template\n");
    abort();
  }
  memset(m, 0, n ? n : 1);
  return m;
}

char *ipdup(ps *p, const char *s, size_t n) {
  char *d = ipa(p, n + 1);
  memcpy(d, s, n);
  return d;
}

void iperr(ps *p, uint32_t pos, const char *fmt, ...) {
  if (p->failed) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->emsg, sizeof p->emsg, fmt, ap);
  va_end(ap);
  p->epos = pos;
  p->failed = true;
}

static void push_tok(ps *p, tok t) {
  if (p->nt == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 64;
    p->toks = realloc(p->toks, p->cap * sizeof(tok));
    if (!p->toks) abort();
  }
  p->toks[p->nt++] = t;
}

/* Jinja string literal: backslash escapes as Python's unicode-escape. */
static bool lex_string(ps *p, const char *s, size_t n, size_t *i, tok *t) {
  char q = s[*i];
  size_t j = *i + 1;
  sl_buf b;
  sl_buf_init(&b, 1u << 24);
  while (j < n && s[j] != q) {
    if (s[j] == '\\' && j + 1 < n) {
      char d = s[j + 1];
      j += 2;
      switch (d) {
      case 'n': sl_buf_putc(&b, '\n'); break;
      case 't': sl_buf_putc(&b, '\t'); break;
      case 'r': sl_buf_putc(&b, '\r'); break;
      case '\\': sl_buf_putc(&b, '\\'); break;
      case '\'': sl_buf_putc(&b, '\''); break;
      case '"': sl_buf_putc(&b, '"'); break;
      case '\n': break;
      case 'a': sl_buf_putc(&b, '\a'); break;
      case 'b': sl_buf_putc(&b, '\b'); break;
      case 'f': sl_buf_putc(&b, '\f'); break;
      case 'v': sl_buf_putc(&b, '\v'); break;
      case 'x':
      case 'u':
      case 'U': {
        int len = d == 'x' ? 2 : d == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int k = 0; k < len; k++) {
          if (j >= n || !isxdigit((unsigned char)s[j])) {
            sl_buf_dispose(&b);
            iperr(p, (uint32_t)*i, "truncated \\%c escape in string literal", d);
            return false;
          }
          char c = s[j++];
          cp = cp * 16 + (uint32_t)(isdigit((unsigned char)c) ? c - '0' : tolower(c) - 'a' + 10);
        }
        char u[4];
        int un = 0;
        if (cp < 0x80) u[un++] = (char)cp;
        else if (cp < 0x800) u[un++] = (char)(0xC0 | (cp >> 6)), u[un++] = (char)(0x80 | (cp & 0x3F));
        else if (cp < 0x10000)
          u[un++] = (char)(0xE0 | (cp >> 12)), u[un++] = (char)(0x80 | ((cp >> 6) & 0x3F)),
          u[un++] = (char)(0x80 | (cp & 0x3F));
        else
          u[un++] = (char)(0xF0 | (cp >> 18)), u[un++] = (char)(0x80 | ((cp >> 12) & 0x3F)),
          u[un++] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[un++] = (char)(0x80 | (cp & 0x3F));
        ibput(&b, u, (size_t)un);
        break;
      }
      default:
        if (d >= '0' && d <= '7') {
          uint32_t v = (uint32_t)(d - '0');
          for (int k = 0; k < 2 && j < n && s[j] >= '0' && s[j] <= '7'; k++) v = v * 8 + (uint32_t)(s[j++] - '0');
          sl_buf_putc(&b, (char)v);
        } else {
          sl_buf_putc(&b, '\\');
          sl_buf_putc(&b, d);
        }
      }
      continue;
    }
    sl_buf_putc(&b, s[j++]);
  }
  if (j >= n) {
    sl_buf_dispose(&b);
    iperr(p, (uint32_t)*i, "unterminated string literal");
    return false;
  }
  t->t = T_STR;
  t->s = ipdup(p, b.data ? b.data : "", b.len);
  t->n = b.len;
  sl_buf_dispose(&b);
  *i = j + 1;
  return true;
}

static bool lex_number(ps *p, const char *s, size_t n, size_t *i, tok *t) {
  size_t j = *i;
  char buf[128];
  size_t bl = 0;
  bool isf = false;
  int base = 10;
  if (s[j] == '0' && j + 1 < n && strchr("xXoObB", s[j + 1])) {
    base = strchr("xX", s[j + 1]) ? 16 : strchr("oO", s[j + 1]) ? 8 : 2;
    j += 2;
    while (j < n && (isxdigit((unsigned char)s[j]) || s[j] == '_')) {
      if (s[j] != '_' && bl < sizeof buf - 1) buf[bl++] = s[j];
      j++;
    }
  } else {
    while (j < n && (isdigit((unsigned char)s[j]) || s[j] == '_')) {
      if (s[j] != '_' && bl < sizeof buf - 1) buf[bl++] = s[j];
      j++;
    }
    if (j + 1 < n && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
      isf = true;
      buf[bl++] = s[j++];
      while (j < n && (isdigit((unsigned char)s[j]) || s[j] == '_')) {
        if (s[j] != '_' && bl < sizeof buf - 1) buf[bl++] = s[j];
        j++;
      }
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
      size_t x = j + 1;
      if (x < n && (s[x] == '+' || s[x] == '-')) x++;
      if (x < n && isdigit((unsigned char)s[x])) {
        isf = true;
        while (j < x && bl < sizeof buf - 1) buf[bl++] = s[j++];
        while (j < n && (isdigit((unsigned char)s[j]) || s[j] == '_')) {
          if (s[j] != '_' && bl < sizeof buf - 1) buf[bl++] = s[j];
          j++;
        }
      }
    }
  }
  buf[bl] = 0;
  errno = 0;
  if (isf) {
    t->t = T_FLOAT;
    t->f = strtod(buf, NULL);
  } else {
    t->t = T_INT;
    char *e;
    unsigned long long v = strtoull(buf, &e, base);
    if (errno || v > INT64_MAX || *e) {
      iperr(p, (uint32_t)*i, "integer literal '%.*s' is out of range", (int)(j - *i), s + *i);
      return false;
    }
    t->i = (int64_t)v;
  }
  *i = j;
  return true;
}

static const char *const ops3[] = {"//", "**", "==", "!=", "<=", ">=", NULL};

/* Lexes src into tokens. */
bool ilex(ps *p, const char *src, size_t n) {
  size_t i = 0;
  bool lstrip_next = false;
  while (i < n) {
    /* text up to the next tag */
    size_t j = i;
    while (j < n && !(src[j] == '{' && j + 1 < n && (src[j + 1] == '{' || src[j + 1] == '%' || src[j + 1] == '#'))) j++;
    size_t ts = i, te = j;
    if (lstrip_next)
      while (ts < te && isspace((unsigned char)src[ts])) ts++;
    lstrip_next = false;
    bool strip_before = j + 2 < n && src[j + 2] == '-';
    if (strip_before)
      while (te > ts && isspace((unsigned char)src[te - 1])) te--;
    if (te > ts) push_tok(p, (tok){.t = T_TEXT, .pos = (uint32_t)ts, .s = src + ts, .n = te - ts});
    if (j >= n) break;
    char kind = src[j + 1];
    size_t k = j + 2 + (strip_before || (j + 2 < n && src[j + 2] == '+'));
    if (kind == '#') {
      const char *e = NULL;
      for (size_t q = k; q + 1 < n; q++)
        if (src[q] == '#' && src[q + 1] == '}') {
          e = src + q;
          break;
        }
      if (!e) {
        iperr(p, (uint32_t)j, "unterminated comment");
        return false;
      }
      lstrip_next = e > src + k && e[-1] == '-';
      i = (size_t)(e - src) + 2;
      continue;
    }
    /* {% raw %} ... {% endraw %} */
    if (kind == '%') {
      size_t q = k;
      while (q < n && isspace((unsigned char)src[q])) q++;
      if (q + 3 <= n && !strncmp(src + q, "raw", 3) && (q + 3 == n || !isalnum((unsigned char)src[q + 3]))) {
        size_t r = q + 3;
        while (r < n && isspace((unsigned char)src[r])) r++;
        bool rs = r < n && src[r] == '-';
        if (rs) r++;
        if (r + 1 < n && src[r] == '%' && src[r + 1] == '}') {
          size_t body = r + 2;
          const char *end = NULL;
          for (size_t x = body; x + 1 < n; x++) {
            if (src[x] == '{' && src[x + 1] == '%') {
              size_t y = x + 2;
              if (y < n && (src[y] == '-' || src[y] == '+')) y++;
              while (y < n && isspace((unsigned char)src[y])) y++;
              if (y + 6 <= n && !strncmp(src + y, "endraw", 6)) {
                end = src + x;
                break;
              }
            }
          }
          if (!end) {
            iperr(p, (uint32_t)j, "missing {%% endraw %%}");
            return false;
          }
          size_t bs = body, be = (size_t)(end - src);
          if (rs)
            while (bs < be && isspace((unsigned char)src[bs])) bs++;
          if (be + 2 < n && src[be + 2] == '-')
            while (be > bs && isspace((unsigned char)src[be - 1])) be--;
          if (be > bs) push_tok(p, (tok){.t = T_TEXT, .pos = (uint32_t)bs, .s = src + bs, .n = be - bs});
          const char *close = strstr(end, "%}");
          if (!close) {
            iperr(p, (uint32_t)j, "unterminated {%% endraw %%}");
            return false;
          }
          lstrip_next = close > end && close[-1] == '-';
          i = (size_t)(close - src) + 2;
          continue;
        }
      }
    }
    push_tok(p, (tok){.t = kind == '{' ? T_VB : T_BB, .pos = (uint32_t)j});
    char endc = kind == '{' ? '}' : '%';
    i = k;
    int nest = 0;
    for (;;) {
      while (i < n && isspace((unsigned char)src[i])) i++;
      if (i >= n) {
        iperr(p, (uint32_t)j, "unexpected end of template, expected '%c}'", endc);
        return false;
      }
      char c = src[i];
      if (nest == 0 && ((c == '-' && i + 2 < n && src[i + 1] == endc && src[i + 2] == '}') ||
                        (c == endc && i + 1 < n && src[i + 1] == '}'))) {
        lstrip_next = c == '-';
        push_tok(p, (tok){.t = kind == '{' ? T_VE : T_BE, .pos = (uint32_t)i});
        i += c == '-' ? 3 : 2;
        break;
      }
      tok t = {.pos = (uint32_t)i};
      if (isalpha((unsigned char)c) || c == '_') {
        size_t e = i;
        while (e < n && (isalnum((unsigned char)src[e]) || src[e] == '_')) e++;
        t.t = T_NAME, t.s = ipdup(p, src + i, e - i), t.n = e - i;
        i = e;
      } else if (isdigit((unsigned char)c)) {
        if (!lex_number(p, src, n, &i, &t)) return false;
      } else if (c == '\'' || c == '"') {
        if (!lex_string(p, src, n, &i, &t)) return false;
      } else {
        size_t l = 1;
        for (int o = 0; ops3[o]; o++)
          if (i + 1 < n && src[i] == ops3[o][0] && src[i + 1] == ops3[o][1]) l = 2;
        if (!strchr("+-*/%~[](){},.:|=<>!;", c) || (c == '!' && l == 1)) {
          iperr(p, (uint32_t)i, "unexpected character '%c'", c);
          return false;
        }
        if (c == '(' || c == '[' || c == '{') nest++;
        if ((c == ')' || c == ']' || c == '}') && nest > 0) nest--;
        t.t = T_OP, t.s = src + i, t.n = l;
        i += l;
      }
      push_tok(p, t);
    }
  }
  push_tok(p, (tok){.t = T_EOF, .pos = (uint32_t)n});
  return true;
}

