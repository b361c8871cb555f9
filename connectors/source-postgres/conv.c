/* source-postgres: PostgreSQL text values to JSON, written straight into
 * the record. The session runs with DateStyle ISO, TimeZone UTC and hex
 * bytea (pg.c), so every value arrives in one known text form. */
#include "pgsrc.h"

void conv_init(conv_ctx *c) {
  sl_buf_init(&c->un, (size_t)1 << 30);
  sl_buf_init(&c->tmp, (size_t)1 << 31);
  sl_buf_init(&c->raw, (size_t)1 << 30);
}

void conv_dispose(conv_ctx *c) {
  sl_buf_dispose(&c->un);
  sl_buf_dispose(&c->tmp);
  sl_buf_dispose(&c->raw);
}

size_t conv_split(const char *row, size_t len, const char **fields, size_t *lens, size_t max) {
  size_t n = 0;
  const char *p = row, *end = row + len;
  for (;;) {
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    const char *e = tab ? tab : end;
    if (n == max) return max + 1;
    fields[n] = p;
    lens[n++] = (size_t)(e - p);
    if (!tab) return n;
    p = tab + 1;
  }
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* COPY text escapes: \b \f \n \r \t \v \\, octal \ooo and \xhh. */
static size_t unescape(const char *s, size_t n, char *o) {
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch != '\\' || i + 1 == n) {
      o[j++] = ch;
      continue;
    }
    ch = s[++i];
    switch (ch) {
      case 'b': o[j++] = '\b'; break;
      case 'f': o[j++] = '\f'; break;
      case 'n': o[j++] = '\n'; break;
      case 'r': o[j++] = '\r'; break;
      case 't': o[j++] = '\t'; break;
      case 'v': o[j++] = '\v'; break;
      case 'x': {
        int v = 0, d = 0;
        while (d < 2 && i + 1 < n && hexval(s[i + 1]) >= 0) v = v * 16 + hexval(s[++i]), d++;
        o[j++] = d ? (char)v : 'x';
        break;
      }
      default:
        if (ch >= '0' && ch <= '7') {
          int v = ch - '0', d = 1;
          while (d < 3 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7') v = v * 8 + (s[++i] - '0'), d++;
          o[j++] = (char)v;
        } else {
          o[j++] = ch;
        }
    }
  }
  return j;
}

const char *conv_text(conv_ctx *c, const char *f, size_t n, size_t *len) {
  if (n == 2 && f[0] == '\\' && f[1] == 'N') return NULL;
  if (!memchr(f, '\\', n)) {
    *len = n;
    return f;
  }
  c->un.len = 0;
  if (sl_buf_ensure(&c->un, n + 1)) {
    *len = 0;
    return "";
  }
  *len = unescape(f, n, c->un.data);
  return c->un.data;
}

static bool is_special_number(const char *s, size_t n) {
  return (n == 3 && !memcmp(s, "NaN", 3)) || (n == 8 && !memcmp(s, "Infinity", 8)) ||
         (n == 9 && !memcmp(s, "-Infinity", 9));
}

/* "2024-01-31 12:00:00+05:30" -> "2024-01-31T12:00:00+05:30"; a bare
 * "+05" offset gets ":00". Infinity and BC dates pass through as text. */
static void put_datetime(sl_jw *w, const char *s, size_t n, bool tz, bool has_date) {
  char b[96];
  if (n + 4 > sizeof b || (has_date && (n < 11 || s[10] != ' '))) {
    sl_jw_str(w, s, n);
    return;
  }
  memcpy(b, s, n);
  if (has_date) b[10] = 'T';
  size_t m = n;
  if (tz && m >= 3 && (b[m - 3] == '+' || b[m - 3] == '-')) {
    b[m++] = ':';
    b[m++] = '0';
    b[m++] = '0';
  }
  sl_jw_str(w, b, m);
}

static void put_bytea(sl_jw *w, conv_ctx *c, const char *s, size_t n) {
  if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2) { /* not hex output: keep the text */
    sl_jw_str(w, s, n);
    return;
  }
  size_t bytes = (n - 2) / 2;
  c->raw.len = 0;
  if (sl_buf_ensure(&c->raw, bytes + 1)) {
    w->rc = SL_ELIMIT;
    return;
  }
  unsigned char *raw = (unsigned char *)c->raw.data;
  for (size_t i = 0; i < bytes; i++) {
    int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
    if (hi < 0 || lo < 0) {
      sl_jw_str(w, s, n);
      return;
    }
    raw[i] = (unsigned char)(hi << 4 | lo);
  }
  sl_dbval_base64(w, &c->tmp, raw, bytes);
}

/* Array literal: {a,"b c",NULL,{nested}}, optionally after "[1:2]=". */
static size_t put_array(sl_jw *w, conv_ctx *c, pg_kind elem, const char *s, size_t n, size_t i,
                        int depth) {
  sl_jw_arr_open(w);
  i++; /* '{' */
  sl_buf el;
  sl_buf_init(&el, (size_t)1 << 30);
  while (i < n && s[i] != '}') {
    while (i < n && (s[i] == ' ' || s[i] == ',')) i++;
    if (i >= n || s[i] == '}') break;
    if (s[i] == '{' && depth < 16) {
      i = put_array(w, c, elem, s, n, i, depth + 1);
      continue;
    }
    el.len = 0;
    bool quoted = s[i] == '"';
    if (quoted) {
      for (i++; i < n && s[i] != '"'; i++) {
        if (s[i] == '\\' && i + 1 < n) i++;
        sl_buf_putc(&el, s[i]);
      }
      i++;
    } else {
      while (i < n && s[i] != ',' && s[i] != '}') sl_buf_putc(&el, s[i++]);
      while (el.len && el.data[el.len - 1] == ' ') el.len--;
    }
    if (!quoted && el.len == 4 && !strncasecmp(el.data, "NULL", 4)) sl_jw_null(w);
    else conv_value(w, c, elem, PGK_STRING, el.data ? el.data : "", el.len);
  }
  sl_buf_dispose(&el);
  sl_jw_arr_close(w);
  return i + 1;
}

void conv_value(sl_jw *w, conv_ctx *c, pg_kind k, pg_kind elem, const char *s, size_t n) {
  switch (k) {
    case PGK_INT: sl_dbval_text(w, SL_DB_INT, s, n, NULL); return;
    case PGK_FLOAT:
    case PGK_NUMERIC: /* exact text; JSON has no NaN or infinities */
      if (is_special_number(s, n)) sl_jw_null(w);
      else sl_dbval_text(w, SL_DB_DECIMAL, s, n, NULL);
      return;
    case PGK_BOOL: sl_jw_bool(w, n && s[0] == 't'); return;
    case PGK_TIMESTAMP: put_datetime(w, s, n, false, true); return;
    case PGK_TIMESTAMPTZ: put_datetime(w, s, n, true, true); return;
    case PGK_TIMETZ: put_datetime(w, s, n, true, false); return;
    case PGK_JSON: { /* the server checked it; json (not jsonb) keeps its line breaks and tabs,
                        which are only whitespace there but would split the RECORD line */
      size_t at = w->out->len;
      sl_jw_raw(w, s, n);
      for (char *p = w->out->data + at, *e = w->out->data + w->out->len; p < e; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
      return;
    }
    case PGK_BYTEA: put_bytea(w, c, s, n); return;
    case PGK_ARRAY: {
      size_t i = 0;
      if (n && s[0] == '[') { /* explicit bounds: [1:2]={...} */
        const char *eq = memchr(s, '=', n);
        i = eq ? (size_t)(eq - s) + 1 : n;
      }
      if (i < n && s[i] == '{') put_array(w, c, elem, s, n, i, 0);
      else sl_jw_str(w, s, n);
      return;
    }
    case PGK_DATE:
    case PGK_TIME:
    case PGK_STRING: break;
  }
  sl_jw_str(w, s, n);
}

void conv_field(sl_jw *w, conv_ctx *c, const pg_col *col, const char *f, size_t n) {
  sl_jw_key_raw(w, col->key, col->key_len);
  size_t len;
  const char *s = conv_text(c, f, n, &len);
  if (!s) sl_jw_null(w);
  else conv_value(w, c, col->kind, col->elem, s, len);
}
