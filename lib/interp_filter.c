/* Interpolation filters: Jinja's built-ins that manifests use and the CDK's
 * own (hash, base64*, string, regex_search, regex_replace, hmac). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_int.h"

#define farg iarg

static const char *const filter_names[] = {
    "abs", "attr", "base64binascii_decode", "base64decode", "base64encode", "batch", "capitalize", "count", "d",
    "default", "dictsort", "e", "escape", "first", "float", "format", "hash", "hmac", "int", "items", "join", "last",
    "length", "list", "lower", "map", "max", "min", "regex_replace", "regex_search", "reject", "rejectattr", "replace",
    "reverse", "round", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper",
    "urlencode", "wordcount", NULL};
/* Jinja filters sluice does not implement (no manifest uses them). */
static const char *const jinja_only_filters[] = {
    "center", "filesizeformat", "forceescape", "groupby", "indent", "pprint", "random", "safe", "slice",
    "striptags", "truncate", "urlize", "wordwrap", "xmlattr", NULL};

/* 0 known, 1 unknown to Jinja too, 2 a Jinja filter sluice lacks (checked at compile time, as Jinja does). */
int ifilter_known(const char *name) {
  for (int i = 0; filter_names[i]; i++)
    if (!strcmp(filter_names[i], name)) return 0;
  for (int i = 0; jinja_only_filters[i]; i++)
    if (!strcmp(jinja_only_filters[i], name)) return 2;
  return 1;
}

static iv str_of(ieval *e, iv v) { return v.t == IV_UNDEF ? iv_str("", 0) : iv_to_str(e, v); }

static void need(ieval *e, uint32_t pos, iv v) {
  if (v.t == IV_UNDEF) ierr_undef(e, pos, "%s", v.u.undef ? v.u.undef : "value is undefined");
}

/* Python's number text: trimmed, single underscores between digits dropped. */
static bool num_text(const char *s, size_t n, char *buf, size_t cap) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  size_t j = 0;
  if (!n || n >= cap) return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '_') {
      if (!i || i + 1 == n || !isdigit((unsigned char)s[i - 1]) || !isdigit((unsigned char)s[i + 1])) return false;
      continue;
    }
    buf[j++] = s[i];
  }
  buf[j] = 0;
  return true;
}

/* Python int(str, base=10) */
static bool py_int_str(const char *s, size_t n, int64_t *out) {
  char buf[64];
  if (!num_text(s, n, buf, sizeof buf)) return false;
  for (size_t i = 0; buf[i]; i++)
    if (!isdigit((unsigned char)buf[i]) && !(i == 0 && (buf[i] == '+' || buf[i] == '-') && buf[1])) return false;
  errno = 0;
  *out = strtoll(buf, NULL, 10);
  return errno == 0;
}

/* Python float(str) */
static bool py_float_str(const char *s, size_t n, double *out) {
  char buf[128];
  if (!num_text(s, n, buf, sizeof buf)) return false;
  const char *b = buf + (buf[0] == '+' || buf[0] == '-');
  if (!strcasecmp(b, "inf") || !strcasecmp(b, "infinity") || !strcasecmp(b, "nan")) {
    *out = strtod(buf, NULL);
    return true;
  }
  for (const char *q = b; *q; q++)
    if (!isdigit((unsigned char)*q) && !strchr(".eE+-", *q)) return false;
  char *end;
  *out = strtod(buf, &end);
  return *end == 0 && end != buf;
}

bool iv_py_float(iv v, double *out);
bool iv_py_float(iv v, double *out) {
  switch (v.t) {
  case IV_INT: *out = (double)v.u.i; return true;
  case IV_BOOL: *out = v.u.b; return true;
  case IV_FLOAT: *out = v.u.f; return true;
  case IV_STR: return py_float_str(v.u.s.s, v.u.s.n, out);
  default: return false;
  }
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static iv b64enc(ieval *e, const char *s, size_t n) {
  sl_buf *b = ibuf_push(e);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
    if (i + 1 < n) v |= (uint32_t)(unsigned char)s[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)s[i + 2];
    sl_buf_putc(b, b64chars[v >> 18]);
    sl_buf_putc(b, b64chars[(v >> 12) & 63]);
    sl_buf_putc(b, i + 1 < n ? b64chars[(v >> 6) & 63] : '=');
    sl_buf_putc(b, i + 2 < n ? b64chars[v & 63] : '=');
  }
  iv r = iv_strbuf(e, b);
  ibuf_pop(e);
  return r;
}

static iv b64dec(ieval *e, uint32_t pos, const char *s, size_t n) {
  sl_buf *b = ibuf_push(e);
  uint32_t acc = 0;
  int bits = 0, quads = 0, pad = 0;
  for (size_t i = 0; i < n; i++) {
    const char *p = s[i] ? strchr(b64chars, s[i]) : NULL;
    if (s[i] == '=') {
      pad++;
      if ((quads % 4) >= 2 && (quads % 4) + pad >= 4) break;
      continue;
    }
    if (!p) continue; /* non-alphabet characters are discarded */
    if (pad) ierr(e, pos, "base64 decode failed: Incorrect padding");
    acc = (acc << 6) | (uint32_t)(p - b64chars);
    bits += 6;
    quads++;
    if (bits >= 8) {
      bits -= 8;
      sl_buf_putc(b, (char)((acc >> bits) & 0xFF));
    }
  }
  if (quads % 4 == 1) ierr(e, pos, "base64 decode failed: Invalid base64-encoded string");
  if (quads % 4 && (quads % 4) + pad < 4) ierr(e, pos, "base64 decode failed: Incorrect padding");
  /* must be valid UTF-8 (Python's .decode()) */
  for (size_t i = 0; i < b->len;) {
    unsigned char c = (unsigned char)b->data[i];
    int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (extra < 0 || i + (size_t)extra >= b->len + (extra ? 0 : 1)) ierr(e, pos, "'utf-8' codec can't decode the base64 result");
    for (int k = 1; k <= extra; k++)
      if (((unsigned char)b->data[i + (size_t)k] & 0xC0) != 0x80) ierr(e, pos, "'utf-8' codec can't decode the base64 result");
    i += (size_t)extra + 1;
  }
  iv r = iv_strbuf(e, b);
  ibuf_pop(e);
  return r;
}

static iv hexdigest(ieval *e, const unsigned char *md, unsigned len) {
  char *h = iar_alloc(e, len * 2 + 1);
  for (unsigned i = 0; i < len; i++) sprintf(h + i * 2, "%02x", md[i]);
  return iv_str(h, len * 2);
}

static const EVP_MD *py_digest(const char *name) {
  static const struct {
    const char *py, *ossl;
  } map[] = {{"md5", "MD5"}, {"sha1", "SHA1"}, {"sha224", "SHA224"}, {"sha256", "SHA256"}, {"sha384", "SHA384"},
             {"sha512", "SHA512"}, {"sha3_224", "SHA3-224"}, {"sha3_256", "SHA3-256"}, {"sha3_384", "SHA3-384"},
             {"sha3_512", "SHA3-512"}, {"blake2b", "BLAKE2B512"}, {"blake2s", "BLAKE2S256"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp(name, map[i].py)) return EVP_get_digestbyname(map[i].ossl);
  return NULL;
}

/* Python re → PCRE2 compile (the syntaxes agree for what manifests use). */
static pcre2_code *re_compile(ieval *e, uint32_t pos, iv re) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)re.u.s.s, re.u.s.n, PCRE2_UTF, &ec, &eo, NULL);
  if (!c) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    ierr(e, pos, "bad regular expression '%.*s': %s at offset %zu", (int)re.u.s.n, re.u.s.s, (char *)msg, (size_t)eo);
  }
  return c;
}

static iv do_regex(ieval *e, uint32_t pos, iv s, iv re, iv *repl) {
  if (s.t != IV_STR || re.t != IV_STR) /* TypeError in Python, Undefined included */
    ierr(e, pos, "expected string or bytes-like object, got '%s'", iv_typename(s.t != IV_STR ? s : re));
  pcre2_code *c = re_compile(e, pos, re);
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
  iv result = iv_str("", 0);
  if (!repl) {
    int rc = pcre2_match(c, (PCRE2_SPTR)s.u.s.s, s.u.s.n, 0, 0, md, NULL);
    uint32_t groups = 0;
    pcre2_pattern_info(c, PCRE2_INFO_CAPTURECOUNT, &groups);
    if (rc > 0 && groups > 0) {
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
      if (rc >= 2 && ov[2] != PCRE2_UNSET) result = iv_str(s.u.s.s + ov[2], ov[3] - ov[2]);
      else result = iv_none(); /* group 1 did not take part in the match */
    }
  } else {
    sl_buf *b = ibuf_push(e);
    /* Python 3.7+ re.sub: an empty match may follow a non-empty one, but
     * never sits where the previous (empty) match was */
    size_t at = 0, copied = 0;
    bool last_empty = false;
    for (;;) {
      if (++e->ops > IEVAL_MAX_OPS) ierr(e, pos, "template evaluation exceeded its work limit");
      int rc = pcre2_match(c, (PCRE2_SPTR)s.u.s.s, s.u.s.n, at, last_empty ? PCRE2_NOTEMPTY_ATSTART : 0, md, NULL);
      if (rc <= 0) break;
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
      size_t ms = ov[0], me = ov[1];
      ibput(b, s.u.s.s + copied, ms - copied);
      const char *r = repl->u.s.s;
      size_t rn = repl->u.s.n;
      for (size_t i = 0; i < rn; i++) {
        if (r[i] != '\\' || i + 1 >= rn) {
          sl_buf_putc(b, r[i]);
          continue;
        }
        char d = r[++i];
        int g = -1;
        if (isdigit((unsigned char)d)) {
          g = d - '0';
          if (i + 1 < rn && isdigit((unsigned char)r[i + 1])) g = g * 10 + (r[++i] - '0');
        } else if (d == 'g' && i + 1 < rn && r[i + 1] == '<') {
          const char *close = memchr(r + i, '>', rn - i);
          if (!close) ierr(e, pos, "missing > in group reference");
          char name[64];
          size_t nl = (size_t)(close - (r + i + 2));
          if (nl >= sizeof name) ierr(e, pos, "bad group name");
          memcpy(name, r + i + 2, nl);
          name[nl] = 0;
          g = isdigit((unsigned char)name[0]) ? atoi(name) : pcre2_substring_number_from_name(c, (PCRE2_SPTR)name);
          if (g < 0) ierr(e, pos, "unknown group name '%s'", name);
          i = (size_t)(close - r);
        } else if (d == 'n') sl_buf_putc(b, '\n');
        else if (d == 't') sl_buf_putc(b, '\t');
        else if (d == '\\') sl_buf_putc(b, '\\');
        else {
          sl_buf_putc(b, '\\');
          sl_buf_putc(b, d);
        }
        if (g >= 0) {
          uint32_t groups = 0;
          pcre2_pattern_info(c, PCRE2_INFO_CAPTURECOUNT, &groups);
          if ((uint32_t)g > groups) ierr(e, pos, "invalid group reference %d", g);
          if (g < rc && ov[2 * g] != PCRE2_UNSET) ibput(b, s.u.s.s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        }
      }
      copied = me;
      at = me;
      last_empty = ms == me;
      if (at > s.u.s.n) break;
    }
    ibput(b, s.u.s.s + copied, s.u.s.n - copied);
    result = iv_strbuf(e, b);
    ibuf_pop(e);
  }
  pcre2_match_data_free(md);
  pcre2_code_free(c);
  return result;
}

static void url_quote(sl_buf *b, const char *s, size_t n, const char *safe, bool plus) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c) || strchr("_.-~", c) || (c && strchr(safe, c))) sl_buf_putc(b, (char)c);
    else if (c == ' ' && plus) sl_buf_putc(b, '+');
    else sl_buf_appendf(b, "%%%02X", c);
  }
}

/* attribute lookup used by map/selectattr/sort/...: dotted paths, ints */
static iv attr_path(ieval *e, uint32_t pos, iv v, iv attr) {
  if (attr.t == IV_INT) return iv_getitem(e, pos, v, attr);
  const char *a = iv_as_cstr(e, pos, attr, "attribute");
  char *dup = iar_strdup(e, a, strlen(a)), *save = NULL;
  for (char *part = strtok_r(dup, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
    char *end;
    long idx = strtol(part, &end, 10);
    if (*end == 0 && end != part) v = iv_getitem(e, pos, v, iv_int(idx));
    else v = iv_getitem(e, pos, v, iv_str(part, strlen(part)));
  }
  return v;
}

static iv sort_key(ieval *e, uint32_t pos, iv v, bool cs, iv *attr) {
  if (attr) v = attr_path(e, pos, v, *attr);
  if (!cs && v.t == IV_STR) {
    char *d = iar_strdup(e, v.u.s.s, v.u.s.n);
    for (size_t i = 0; i < v.u.s.n; i++) d[i] = (char)tolower((unsigned char)d[i]);
    return iv_str(d, v.u.s.n);
  }
  return v;
}

typedef struct sort_item {
  iv key, val;
} sort_item;
static __thread ieval *sort_e;
static __thread uint32_t sort_pos;
static int sort_cmp(const void *a, const void *b) {
  const sort_item *x = a, *y = b;
  int c = iv_cmp(sort_e, x->key, y->key, sort_pos);
  return c == 2 ? 0 : c;
}

static iv sorted(ieval *e, uint32_t pos, iv seq, bool reverse, bool cs, iv *attr, bool by_value_pairs) {
  size_t n = il_len(seq.u.l);
  sort_item *it = iar_alloc(e, (n + 1) * sizeof *it);
  for (size_t i = 0; i < n; i++) {
    it[i].val = il_get(seq.u.l, i);
    iv k = it[i].val;
    if (by_value_pairs) k = il_get(k.u.l, attr ? 1 : 0);
    it[i].key = sort_key(e, pos, k, cs, by_value_pairs ? NULL : attr);
  }
  sort_e = e, sort_pos = pos;
  /* stable: mergesort via index tie-break */
  for (size_t i = 1; i < n; i++) { /* insertion sort keeps Python's stability; lists are small */
    sort_item x = it[i];
    size_t j = i;
    while (j > 0) {
      int c = sort_cmp(&it[j - 1], &x);
      if (reverse ? c >= 0 : c <= 0) break;
      it[j] = it[j - 1];
      j--;
    }
    it[j] = x;
    if (++e->ops > IEVAL_MAX_OPS) ierr(e, pos, "template evaluation exceeded its work limit");
  }
  iv r = iv_list_new(e, IV_LIST, n + 1);
  for (size_t i = 0; i < n; i++) il_push(e, r.u.l, it[i].val);
  return r;
}

static bool run_test(ieval *e, const inode *n, iv v, iv *args, size_t nargs, size_t first) {
  if (nargs <= first) return iv_truthy(e, v, n->pos);
  const char *test = iv_as_cstr(e, n->pos, args[first], "test name");
  return icall_test(e, n, test, v, args + first + 1, nargs - first - 1);
}

iv icall_filter(ieval *e, const inode *n, const char *name, iv v, iv *args, size_t nargs, const char **kw, size_t nkw) {
  uint32_t pos = n->pos;
  iv a0, a1, a2;
  bool h0 = farg(args, nargs, kw, nkw, 0, "", &a0);
  if (!strcmp(name, "default") || !strcmp(name, "d")) {
    iv dv = iv_str("", 0);
    farg(args, nargs, kw, nkw, 0, "default_value", &dv);
    bool boolean = farg(args, nargs, kw, nkw, 1, "boolean", &a1) && iv_truthy(e, a1, pos);
    if (v.t == IV_UNDEF || (boolean && !iv_truthy(e, v, pos))) return dv;
    return v;
  }
  if (!strcmp(name, "string")) { /* the CDK's: strings as is, others as a JSON text literal */
    if (v.t == IV_STR) return v;
    sl_buf *b = ibuf_push(e);
    ibput(b, "\"\"\"", 3);
    if (!iv_json_dumps(e, v, false, b)) ierr(e, pos, "Object of type %s is not JSON serializable", iv_typename(v));
    ibput(b, "\"\"\"", 3);
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "int")) {
    iv dflt = iv_int(0);
    farg(args, nargs, kw, nkw, 0, "default", &dflt);
    int64_t base = 10;
    if (farg(args, nargs, kw, nkw, 1, "base", &a1)) base = iv_as_int(e, pos, a1, "base");
    need(e, pos, v); /* Undefined.__int__ raises UndefinedError */
    if (v.t == IV_INT) return v;
    if (v.t == IV_BOOL) return iv_int(v.u.b);
    if (v.t == IV_STR) {
      int64_t x;
      if (base == 10 && py_int_str(v.u.s.s, v.u.s.n, &x)) return iv_int(x);
      if (base != 10) {
        char *s = iar_strdup(e, v.u.s.s, v.u.s.n), *end;
        errno = 0;
        long long r = strtoll(s, &end, (int)base);
        if (!errno && *end == 0 && end != s) return iv_int(r);
      }
    }
    double f;
    if (iv_py_float(v, &f) && isfinite(f) && fabs(f) < 9.2e18) return iv_int((int64_t)f);
    return dflt;
  }
  if (!strcmp(name, "float")) {
    iv dflt = iv_float(0.0);
    farg(args, nargs, kw, nkw, 0, "default", &dflt);
    need(e, pos, v);
    double f;
    if (iv_py_float(v, &f)) return iv_float(f);
    return dflt;
  }
  if (!strcmp(name, "length") || !strcmp(name, "count")) {
    switch (v.t) {
    case IV_UNDEF: return iv_int(0);
    case IV_STR: return iv_int((int64_t)utf8_len(v.u.s.s, v.u.s.n));
    case IV_LIST:
    case IV_TUPLE: return iv_int((int64_t)il_len(v.u.l));
    case IV_DICT:
    case IV_NS: return iv_int((int64_t)id_len(v.u.d));
    default: ierr(e, pos, "object of type '%s' has no len()", iv_typename(v));
    }
  }
  if (!strcmp(name, "list")) {
    iv l = iv_iter_list(e, pos, v), r = iv_list_new(e, IV_LIST, il_len(l.u.l) + 1);
    for (size_t i = 0; i < il_len(l.u.l); i++) il_push(e, r.u.l, il_get(l.u.l, i));
    return r;
  }
  if (!strcmp(name, "lower") || !strcmp(name, "upper") || !strcmp(name, "capitalize") || !strcmp(name, "title")) {
    iv s = str_of(e, v);
    char *d = iar_strdup(e, s.u.s.s, s.u.s.n);
    bool start = true;
    for (size_t i = 0; i < s.u.s.n; i++) {
      unsigned char c = (unsigned char)d[i];
      if (name[0] == 'l') d[i] = (char)tolower(c);
      else if (name[0] == 'u') d[i] = (char)toupper(c);
      else if (name[0] == 'c') d[i] = (char)(i == 0 ? toupper(c) : tolower(c));
      else {
        d[i] = (char)(start ? toupper(c) : tolower(c));
        start = isspace(c) || strchr("-({[<", c);
      }
    }
    return iv_str(d, s.u.s.n);
  }
  if (!strcmp(name, "trim")) {
    iv s = str_of(e, v);
    iv chars = iv_none();
    farg(args, nargs, kw, nkw, 0, "chars", &chars);
    iv m_args[1] = {chars};
    return icall_method(e, n, s, "strip", m_args, chars.t == IV_NONE ? 0 : 1, NULL, 0);
  }
  if (!strcmp(name, "replace")) {
    iv s = str_of(e, v);
    if (nargs < 2) ierr(e, pos, "replace filter needs old and new");
    iv m_args[3] = {str_of(e, args[0]), str_of(e, args[1]), nargs > 2 ? args[2] : iv_int(-1)};
    return icall_method(e, n, s, "replace", m_args, 3, NULL, 0);
  }
  if (!strcmp(name, "join")) {
    iv sep = iv_str("", 0);
    if (farg(args, nargs, kw, nkw, 0, "d", &a0)) sep = str_of(e, a0);
    bool has_attr = farg(args, nargs, kw, nkw, 1, "attribute", &a1);
    iv l = iv_iter_list(e, pos, v);
    sl_buf *b = ibuf_push(e);
    for (size_t i = 0; i < il_len(l.u.l); i++) {
      if (i) ibput(b, sep.u.s.s, sep.u.s.n);
      iv x = il_get(l.u.l, i);
      if (has_attr) x = attr_path(e, pos, x, a1);
      iv_str_to(e, x, b);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "first") || !strcmp(name, "last")) {
    iv l = iv_iter_list(e, pos, v);
    size_t len = il_len(l.u.l);
    if (!len) return iv_undef(name[0] == 'f' ? "No first item, sequence was empty." : "No last item, sequence was empty.");
    return il_get(l.u.l, name[0] == 'f' ? 0 : len - 1);
  }
  if (!strcmp(name, "reverse")) {
    if (v.t == IV_STR) {
      iv l = iv_iter_list(e, pos, v);
      sl_buf *b = ibuf_push(e);
      for (size_t i = il_len(l.u.l); i-- > 0;) {
        iv c = il_get(l.u.l, i);
        ibput(b, c.u.s.s, c.u.s.n);
      }
      iv r = iv_strbuf(e, b);
      ibuf_pop(e);
      return r;
    }
    iv l = iv_iter_list(e, pos, v), r = iv_list_new(e, IV_LIST, il_len(l.u.l) + 1);
    for (size_t i = il_len(l.u.l); i-- > 0;) il_push(e, r.u.l, il_get(l.u.l, i));
    r.u.l->kind = LK_GEN;
    return r;
  }
  if (!strcmp(name, "map")) {
    iv l = iv_iter_list(e, pos, v), r = iv_list_new(e, IV_LIST, il_len(l.u.l) + 1);
    r.u.l->kind = LK_GEN;
    iv attr;
    if (farg(args, nargs, kw, nkw, 99, "attribute", &attr)) {
      iv dflt;
      bool hd = farg(args, nargs, kw, nkw, 99, "default", &dflt);
      for (size_t i = 0; i < il_len(l.u.l); i++) {
        iv x = attr_path(e, pos, il_get(l.u.l, i), attr);
        il_push(e, r.u.l, (x.t == IV_UNDEF && hd) ? dflt : x);
      }
      return r;
    }
    if (!nargs) ierr(e, pos, "map requires a filter argument");
    const char *f = iv_as_cstr(e, pos, args[0], "filter name");
    for (size_t i = 0; i < il_len(l.u.l); i++)
      il_push(e, r.u.l, icall_filter(e, n, f, il_get(l.u.l, i), args + 1, nargs - 1, kw, nkw));
    return r;
  }
  if (!strcmp(name, "select") || !strcmp(name, "reject") || !strcmp(name, "selectattr") || !strcmp(name, "rejectattr")) {
    bool attr = strstr(name, "attr") != NULL, want = name[0] == 's';
    iv l = iv_iter_list(e, pos, v), r = iv_list_new(e, IV_LIST, il_len(l.u.l) + 1);
    r.u.l->kind = LK_GEN;
    if (attr && !nargs) ierr(e, pos, "%s needs an attribute", name);
    for (size_t i = 0; i < il_len(l.u.l); i++) {
      iv x = il_get(l.u.l, i), t = attr ? attr_path(e, pos, x, args[0]) : x;
      if (run_test(e, n, t, args, nargs, attr ? 1 : 0) == want) il_push(e, r.u.l, x);
    }
    return r;
  }
  if (!strcmp(name, "unique")) {
    bool cs = farg(args, nargs, kw, nkw, 0, "case_sensitive", &a0) && iv_truthy(e, a0, pos);
    bool ha = farg(args, nargs, kw, nkw, 1, "attribute", &a1);
    iv l = iv_iter_list(e, pos, v), r = iv_list_new(e, IV_LIST, il_len(l.u.l) + 1), seen = iv_list_new(e, IV_LIST, 4);
    r.u.l->kind = LK_GEN;
    for (size_t i = 0; i < il_len(l.u.l); i++) {
      iv x = il_get(l.u.l, i), k = sort_key(e, pos, x, cs, ha ? &a1 : NULL);
      bool dup = false;
      for (size_t j = 0; j < seen.u.l->n && !dup; j++) dup = iv_eq(e, seen.u.l->items[j], k);
      if (!dup) {
        il_push(e, seen.u.l, k);
        il_push(e, r.u.l, x);
      }
    }
    return r;
  }
  if (!strcmp(name, "sort")) {
    bool rev = farg(args, nargs, kw, nkw, 0, "reverse", &a0) && iv_truthy(e, a0, pos);
    bool cs = farg(args, nargs, kw, nkw, 1, "case_sensitive", &a1) && iv_truthy(e, a1, pos);
    bool ha = farg(args, nargs, kw, nkw, 2, "attribute", &a2);
    return sorted(e, pos, iv_iter_list(e, pos, v), rev, cs, ha ? &a2 : NULL, false);
  }
  if (!strcmp(name, "dictsort")) {
    if (v.t != IV_DICT) ierr(e, pos, "You can only sort by either \"key\" or \"value\"");
    bool cs = farg(args, nargs, kw, nkw, 0, "case_sensitive", &a0) && iv_truthy(e, a0, pos);
    bool byval = farg(args, nargs, kw, nkw, 1, "by", &a1) && a1.t == IV_STR && a1.u.s.n == 5 && !memcmp(a1.u.s.s, "value", 5);
    bool rev = farg(args, nargs, kw, nkw, 2, "reverse", &a2) && iv_truthy(e, a2, pos);
    iv items = iv_list_new(e, IV_LIST, id_len(v.u.d) + 1);
    for (size_t i = 0; i < id_len(v.u.d); i++) {
      iv t = iv_list_new(e, IV_TUPLE, 2);
      il_push(e, t.u.l, id_key(v.u.d, i));
      il_push(e, t.u.l, id_val(v.u.d, i));
      il_push(e, items.u.l, t);
    }
    iv one = iv_int(1);
    return sorted(e, pos, items, rev, cs, byval ? &one : NULL, true);
  }
  if (!strcmp(name, "items")) {
    if (v.t == IV_UNDEF) return iv_list_new(e, IV_LIST, 0);
    if (v.t != IV_DICT) ierr(e, pos, "Can only get item pairs from a mapping.");
    iv r = icall_method(e, n, v, "items", NULL, 0, NULL, 0);
    r.u.l->kind = LK_GEN;
    return r;
  }
  if (!strcmp(name, "sum")) {
    iv l = iv_iter_list(e, pos, v), acc = iv_int(0);
    bool ha = farg(args, nargs, kw, nkw, 0, "attribute", &a0);
    if (farg(args, nargs, kw, nkw, 1, "start", &a1)) acc = a1;
    for (size_t i = 0; i < il_len(l.u.l); i++) {
      iv x = il_get(l.u.l, i);
      acc = iv_binop(e, pos, OP_ADD, acc, ha ? attr_path(e, pos, x, a0) : x);
    }
    return acc;
  }
  if (!strcmp(name, "max") || !strcmp(name, "min")) {
    bool cs = farg(args, nargs, kw, nkw, 0, "case_sensitive", &a0) && iv_truthy(e, a0, pos);
    bool ha = farg(args, nargs, kw, nkw, 1, "attribute", &a1);
    iv l = iv_iter_list(e, pos, v);
    if (!il_len(l.u.l)) return iv_undef("No aggregated item, sequence was empty.");
    iv best = il_get(l.u.l, 0), bk = sort_key(e, pos, best, cs, ha ? &a1 : NULL);
    for (size_t i = 1; i < il_len(l.u.l); i++) {
      iv x = il_get(l.u.l, i), k = sort_key(e, pos, x, cs, ha ? &a1 : NULL);
      int c = iv_cmp(e, k, bk, pos);
      if (c != 2 && (name[1] == 'a' ? c > 0 : c < 0)) best = x, bk = k;
    }
    return best;
  }
  if (!strcmp(name, "abs")) {
    need(e, pos, v);
    if (v.t == IV_INT) {
      if (v.u.i == INT64_MIN) ierr(e, pos, "integer overflow");
      return iv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    }
    if (v.t == IV_BOOL) return iv_int(v.u.b);
    if (v.t == IV_FLOAT) return iv_float(fabs(v.u.f));
    if (v.t == IV_TD) return iv_td(v.u.td.us < 0 ? -v.u.td.us : v.u.td.us);
    ierr(e, pos, "bad operand type for abs(): '%s'", iv_typename(v));
  }
  if (!strcmp(name, "round")) {
    int64_t prec = 0;
    if (farg(args, nargs, kw, nkw, 0, "precision", &a0)) prec = iv_as_int(e, pos, a0, "precision");
    const char *method = "common";
    if (farg(args, nargs, kw, nkw, 1, "method", &a1)) method = iv_as_cstr(e, pos, a1, "method");
    double x;
    if (!iv_py_float(v, &x) || v.t == IV_STR) ierr(e, pos, "round filter needs a number, not '%s'", iv_typename(v));
    double m = pow(10.0, (double)prec);
    if (!strcmp(method, "common")) {
      if (v.t == IV_INT && prec >= 0) return v;
      /* Python round(): correctly rounded half-even on the decimal value */
      char buf[64];
      snprintf(buf, sizeof buf, "%.*f", prec > 0 ? (int)prec : 0, prec >= 0 ? x : x * m);
      double r = strtod(buf, NULL);
      if (prec < 0) r = nearbyint(x * m) / m;
      return iv_float(r);
    }
    if (!strcmp(method, "floor")) return iv_float(floor(x * m) / m);
    if (!strcmp(method, "ceil")) return iv_float(ceil(x * m) / m);
    ierr(e, pos, "method must be common, ceil or floor");
  }
  if (!strcmp(name, "tojson")) {
    sl_buf *b = ibuf_push(e);
    if (!iv_json_dumps(e, v, true, b)) ierr(e, pos, "Object of type %s is not JSON serializable", iv_typename(v));
    sl_buf *o = ibuf_push(e);
    for (size_t i = 0; i < b->len; i++) {
      char c = b->data[i];
      if (c == '<') sl_buf_appendf(o, "\\u003c");
      else if (c == '>') sl_buf_appendf(o, "\\u003e");
      else if (c == '&') sl_buf_appendf(o, "\\u0026");
      else if (c == '\'') sl_buf_appendf(o, "\\u0027");
      else sl_buf_putc(o, c);
    }
    iv r = iv_strbuf(e, o);
    ibuf_pop(e);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "urlencode")) {
    sl_buf *b = ibuf_push(e);
    if (v.t == IV_STR) url_quote(b, v.u.s.s, v.u.s.n, "/", false);
    else if (v.t == IV_DICT || v.t == IV_LIST || v.t == IV_TUPLE) {
      size_t cnt = v.t == IV_DICT ? id_len(v.u.d) : il_len(v.u.l);
      for (size_t i = 0; i < cnt; i++) {
        iv k, x;
        if (v.t == IV_DICT) k = id_key(v.u.d, i), x = id_val(v.u.d, i);
        else {
          iv pair = iv_iter_list(e, pos, il_get(v.u.l, i));
          if (il_len(pair.u.l) != 2) ierr(e, pos, "urlencode needs (key, value) pairs");
          k = il_get(pair.u.l, 0), x = il_get(pair.u.l, 1);
        }
        if (i) sl_buf_putc(b, '&');
        iv ks = iv_to_str(e, k), xs = iv_to_str(e, x);
        url_quote(b, ks.u.s.s, ks.u.s.n, "", true);
        sl_buf_putc(b, '=');
        url_quote(b, xs.u.s.s, xs.u.s.n, "", true);
      }
    } else {
      iv s = iv_to_str(e, v);
      url_quote(b, s.u.s.s, s.u.s.n, "/", false);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "e") || !strcmp(name, "escape")) {
    iv s = str_of(e, v);
    sl_buf *b = ibuf_push(e);
    for (size_t i = 0; i < s.u.s.n; i++) {
      char c = s.u.s.s[i];
      if (c == '&') sl_buf_appendf(b, "&amp;");
      else if (c == '<') sl_buf_appendf(b, "&lt;");
      else if (c == '>') sl_buf_appendf(b, "&gt;");
      else if (c == '"') sl_buf_appendf(b, "&#34;");
      else if (c == '\'') sl_buf_appendf(b, "&#39;");
      else sl_buf_putc(b, c);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(name, "format")) {
    iv s = str_of(e, v);
    if (nkw) {
      iv d = iv_dict_new(e, nkw);
      for (size_t i = 0; i < nkw; i++) id_set(e, d.u.d, iv_strz(e, kw[i]), args[nargs + i]);
      return py_percent_format(e, pos, s, d);
    }
    iv t = iv_list_new(e, IV_TUPLE, nargs + 1);
    for (size_t i = 0; i < nargs; i++) il_push(e, t.u.l, args[i]);
    return py_percent_format(e, pos, s, t);
  }
  if (!strcmp(name, "attr")) {
    if (!h0) ierr(e, pos, "attr filter needs a name");
    return iv_getattr(e, pos, v, iv_as_cstr(e, pos, a0, "attribute name"));
  }
  if (!strcmp(name, "wordcount")) {
    iv s = str_of(e, v);
    int64_t c = 0;
    bool in = false;
    for (size_t i = 0; i < s.u.s.n; i++) {
      bool w = isalnum((unsigned char)s.u.s.s[i]) || s.u.s.s[i] == '_' || (unsigned char)s.u.s.s[i] >= 0x80;
      if (w && !in) c++;
      in = w;
    }
    return iv_int(c);
  }
  if (!strcmp(name, "batch")) {
    int64_t size = h0 ? iv_as_int(e, pos, a0, "linecount") : 1;
    if (size <= 0) ierr(e, pos, "batch size must be positive");
    iv l = iv_iter_list(e, pos, v), r = iv_list_new(e, IV_LIST, 4), cur = iv_list_new(e, IV_LIST, (size_t)size);
    bool fill = farg(args, nargs, kw, nkw, 1, "fill_with", &a1) && a1.t != IV_NONE;
    r.u.l->kind = LK_GEN;
    for (size_t i = 0; i < il_len(l.u.l); i++) {
      if ((int64_t)cur.u.l->n == size) {
        il_push(e, r.u.l, cur);
        cur = iv_list_new(e, IV_LIST, (size_t)size);
      }
      il_push(e, cur.u.l, il_get(l.u.l, i));
    }
    if (cur.u.l->n) {
      while (fill && (int64_t)cur.u.l->n < size) il_push(e, cur.u.l, a1);
      il_push(e, r.u.l, cur);
    }
    return r;
  }
  /* ---- the CDK's filters ---- */
  if (!strcmp(name, "hash")) {
    const char *type = "md5";
    if (farg(args, nargs, kw, nkw, 0, "hash_type", &a0)) type = iv_as_cstr(e, pos, a0, "hash_type");
    const EVP_MD *md = py_digest(type);
    if (!md) ierr(e, pos, "No hashing function named %s", type);
    iv s = iv_to_str(e, v);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, md, NULL);
    EVP_DigestUpdate(ctx, s.u.s.s, s.u.s.n);
    if (farg(args, nargs, kw, nkw, 1, "salt", &a1) && iv_truthy(e, a1, pos)) {
      iv salt = iv_to_str(e, a1);
      EVP_DigestUpdate(ctx, salt.u.s.s, salt.u.s.n);
    }
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return hexdigest(e, out, len);
  }
  if (!strcmp(name, "hmac")) {
    if (!farg(args, nargs, kw, nkw, 0, "key", &a0)) ierr(e, pos, "hmac filter needs a key");
    const char *type = "sha256";
    if (farg(args, nargs, kw, nkw, 1, "hash_type", &a1)) type = iv_as_cstr(e, pos, a1, "hash_type");
    if (strcmp(type, "sha256")) ierr(e, pos, "Hash type '%s' is not allowed. Allowed types: sha256", type);
    iv key = iv_to_str(e, a0), msg = iv_to_str(e, v);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), key.u.s.s, (int)key.u.s.n, (const unsigned char *)msg.u.s.s, msg.u.s.n, out, &len);
    return hexdigest(e, out, len);
  }
  if (!strcmp(name, "base64encode") || !strcmp(name, "base64binascii_decode")) {
    need(e, pos, v);
    if (v.t != IV_STR) ierr(e, pos, "'%s' object has no attribute 'encode'", iv_typename(v));
    if (name[6] == 'b')
      for (size_t i = 0; i < v.u.s.n; i++)
        if ((unsigned char)v.u.s.s[i] >= 0x80) ierr(e, pos, "'ascii' codec can't encode the value");
    return b64enc(e, v.u.s.s, v.u.s.n);
  }
  if (!strcmp(name, "base64decode")) {
    need(e, pos, v);
    if (v.t != IV_STR) ierr(e, pos, "'%s' object has no attribute 'encode'", iv_typename(v));
    return b64dec(e, pos, v.u.s.s, v.u.s.n);
  }
  if (!strcmp(name, "regex_search")) {
    if (!farg(args, nargs, kw, nkw, 0, "regex", &a0)) ierr(e, pos, "regex_search needs a regex");
    return do_regex(e, pos, v, a0, NULL);
  }
  if (!strcmp(name, "regex_replace")) {
    if (!farg(args, nargs, kw, nkw, 0, "regex", &a0) || !farg(args, nargs, kw, nkw, 1, "replacement", &a1))
      ierr(e, pos, "regex_replace needs a regex and a replacement");
    if (a1.t != IV_STR) ierr(e, pos, "regex_replace replacement must be a string");
    return do_regex(e, pos, v, a0, &a1);
  }
  ierr(e, pos, "no filter named '%s'", name);
}
