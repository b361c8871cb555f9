/* Python methods and attributes reachable from templates (str, dict, list,
 * datetime, timedelta, namespace, loop), and printf-style / str.format
 * formatting. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_int.h"

iv ifn_strtodt(ieval *e, uint32_t pos, iv s);
bool iv_py_float(iv v, double *out);

static const char *const str_methods[] = {
    "split", "rsplit", "join", "replace", "strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize",
    "startswith", "endswith", "find", "rfind", "index", "rindex", "count", "format", "zfill", "isdigit", "isalpha",
    "isalnum", "isnumeric", "isdecimal", "isspace", "islower", "isupper", "splitlines", "partition", "rpartition",
    "removeprefix", "removesuffix", "center", "ljust", "rjust", "casefold", "swapcase", NULL};
static const char *const dict_methods[] = {"get", "items", "keys", "values", "update", "pop", "copy", "setdefault", "clear", NULL};
static const char *const list_methods[] = {"append", "extend", "insert", "pop", "remove", "index", "count", "copy", "reverse", "sort", "clear", NULL};
static const char *const dt_methods[] = {"strftime", "isoformat", "timestamp", "weekday", "isoweekday", "date", "replace",
                                         "astimezone", "toordinal", "utcoffset", "__str__", NULL};
static const char *const td_methods[] = {"total_seconds", NULL};

static bool in_list(const char *const *l, const char *name) {
  for (int i = 0; l[i]; i++)
    if (!strcmp(l[i], name)) return true;
  return false;
}

bool is_method_name(iv obj, const char *name) {
  switch (obj.t) {
  case IV_STR: return in_list(str_methods, name);
  case IV_DICT: return in_list(dict_methods, name);
  case IV_LIST: return obj.u.l->kind == LK_LIST && in_list(list_methods, name);
  case IV_TUPLE: return !strcmp(name, "index") || !strcmp(name, "count");
  case IV_DT: return in_list(dt_methods, name) && (!obj.u.dt.date || (strcmp(name, "timestamp") && strcmp(name, "date") &&
                                                                     strcmp(name, "astimezone") && strcmp(name, "utcoffset")));
  case IV_TD: return in_list(td_methods, name);
  case IV_LOOP: return !strcmp(name, "cycle") || !strcmp(name, "changed");
  default: return false;
  }
}

bool iattr(ieval *e, iv obj, const char *name, iv *out) {
  if (obj.t == IV_DT) {
    sl_dt_fields f;
    sl_dt_split(&obj.u.dt, &f);
    const char *names[] = {"year", "month", "day", "hour", "minute", "second", "microsecond"};
    int64_t vals[] = {f.year, f.month, f.day, f.hour, f.minute, f.second, f.usec};
    for (int i = 0; i < (obj.u.dt.date ? 3 : 7); i++)
      if (!strcmp(name, names[i])) {
        *out = iv_int(vals[i]);
        return true;
      }
    if (!obj.u.dt.date && !strcmp(name, "tzinfo")) {
      if (!obj.u.dt.aware) *out = iv_none();
      else {
        sl_buf *b = ibuf_push(e);
        if (obj.u.dt.off == 0) sl_buf_appendf(b, "UTC");
        else {
          int o = obj.u.dt.off < 0 ? -obj.u.dt.off : obj.u.dt.off;
          sl_buf_appendf(b, "UTC%c%02d:%02d", obj.u.dt.off < 0 ? '-' : '+', o / 3600, o / 60 % 60);
        }
        *out = iv_strbuf(e, b);
        ibuf_pop(e);
      }
      return true;
    }
    return false;
  }
  if (obj.t == IV_TD) {
    int64_t us = obj.u.td.us, days = us / SL_US_PER_DAY, rem = us % SL_US_PER_DAY;
    if (rem < 0) rem += SL_US_PER_DAY, days--;
    if (!strcmp(name, "days")) *out = iv_int(days);
    else if (!strcmp(name, "seconds")) *out = iv_int(rem / SL_US_PER_S);
    else if (!strcmp(name, "microseconds")) *out = iv_int(rem % SL_US_PER_S);
    else if (!strcmp(name, "years") && (obj.u.td.years || obj.u.td.months)) *out = iv_int(obj.u.td.years);
    else if (!strcmp(name, "months") && (obj.u.td.years || obj.u.td.months)) *out = iv_int(obj.u.td.months);
    else return false;
    return true;
  }
  if (obj.t == IV_NS || obj.t == IV_LOOP) return id_getz(obj.u.d, name, strlen(name), out);
  return false;
}

/* ---- helpers ---- */

static iv arg_or(iv *args, size_t nargs, const char **kw, size_t nkw, size_t idx, const char *kwname, iv dflt) {
  if (idx < nargs) return args[idx];
  for (size_t i = 0; i < nkw; i++)
    if (!strcmp(kw[i], kwname)) return args[nargs + i];
  return dflt;
}

static bool is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x1c || c == 0x1d || c == 0x1e || c == 0x1f; }

static iv substr(const iv s, size_t a, size_t b) { return iv_str(s.u.s.s + a, b - a); }

static const char *mem_find(const char *h, size_t hn, const char *n, size_t nn, bool last) {
  if (nn > hn) return NULL;
  if (!last) return nn ? memmem(h, hn, n, nn) : h;
  for (size_t i = hn - nn + 1; i-- > 0;)
    if (!memcmp(h + i, n, nn)) return h + i;
  return NULL;
}

static iv str_split(ieval *e, uint32_t pos, iv s, iv sep, int64_t maxsplit, bool right) {
  iv r = iv_list_new(e, IV_LIST, 8);
  const char *p = s.u.s.s;
  size_t n = s.u.s.n;
  if (sep.t == IV_NONE) { /* runs of whitespace, no empty strings */
    iv parts = iv_list_new(e, IV_LIST, 8);
    if (!right) {
      size_t i = 0;
      while (i < n) {
        while (i < n && is_ws((unsigned char)p[i])) i++;
        if (i >= n) break;
        if (maxsplit >= 0 && (int64_t)parts.u.l->n == maxsplit) {
          size_t j = n;
          while (j > i && is_ws((unsigned char)p[j - 1])) j--;
          il_push(e, parts.u.l, substr(s, i, j));
          break;
        }
        size_t j = i;
        while (j < n && !is_ws((unsigned char)p[j])) j++;
        il_push(e, parts.u.l, substr(s, i, j));
        i = j;
      }
      return parts;
    }
    size_t i = n;
    while (i > 0) {
      while (i > 0 && is_ws((unsigned char)p[i - 1])) i--;
      if (!i) break;
      if (maxsplit >= 0 && (int64_t)parts.u.l->n == maxsplit) {
        size_t j = 0;
        while (j < i && is_ws((unsigned char)p[j])) j++;
        il_push(e, parts.u.l, substr(s, j, i));
        break;
      }
      size_t j = i;
      while (j > 0 && !is_ws((unsigned char)p[j - 1])) j--;
      il_push(e, parts.u.l, substr(s, j, i));
      i = j;
    }
    for (size_t k = 0; k < parts.u.l->n; k++) il_push(e, r.u.l, parts.u.l->items[parts.u.l->n - 1 - k]);
    return r;
  }
  if (sep.t != IV_STR) ierr(e, pos, "must be str or None, not %s", iv_typename(sep));
  if (!sep.u.s.n) ierr(e, pos, "empty separator");
  if (!right) {
    size_t i = 0;
    int64_t cnt = 0;
    for (;;) {
      const char *f = (maxsplit < 0 || cnt < maxsplit) ? mem_find(p + i, n - i, sep.u.s.s, sep.u.s.n, false) : NULL;
      if (!f) {
        il_push(e, r.u.l, substr(s, i, n));
        break;
      }
      il_push(e, r.u.l, substr(s, i, (size_t)(f - p)));
      i = (size_t)(f - p) + sep.u.s.n;
      cnt++;
    }
    return r;
  }
  iv parts = iv_list_new(e, IV_LIST, 8);
  size_t end = n;
  int64_t cnt = 0;
  for (;;) {
    const char *f = (maxsplit < 0 || cnt < maxsplit) ? mem_find(p, end, sep.u.s.s, sep.u.s.n, true) : NULL;
    if (!f) {
      il_push(e, parts.u.l, substr(s, 0, end));
      break;
    }
    il_push(e, parts.u.l, substr(s, (size_t)(f - p) + sep.u.s.n, end));
    end = (size_t)(f - p);
    cnt++;
  }
  for (size_t k = 0; k < parts.u.l->n; k++) il_push(e, r.u.l, parts.u.l->items[parts.u.l->n - 1 - k]);
  return r;
}

static iv str_strip(ieval *e, uint32_t pos, iv s, iv chars, int which) {
  size_t a = 0, b = s.u.s.n;
  if (chars.t != IV_NONE && chars.t != IV_STR) ierr(e, pos, "strip arg must be None or str");
  bool (*in)(iv, unsigned char);
  const char *cs = chars.t == IV_STR ? chars.u.s.s : NULL;
  size_t cn = chars.t == IV_STR ? chars.u.s.n : 0;
  (void)in;
#define STRIPPABLE(c) (cs ? memchr(cs, (c), cn) != NULL : is_ws((unsigned char)(c)))
  if (which & 1)
    while (a < b && STRIPPABLE(s.u.s.s[a])) a++;
  if (which & 2)
    while (b > a && STRIPPABLE(s.u.s.s[b - 1])) b--;
#undef STRIPPABLE
  return substr(s, a, b);
}

static bool starts_ends(ieval *e, uint32_t pos, iv s, iv what, bool ends) {
  if (what.t == IV_TUPLE) {
    for (size_t i = 0; i < il_len(what.u.l); i++)
      if (starts_ends(e, pos, s, il_get(what.u.l, i), ends)) return true;
    return false;
  }
  if (what.t != IV_STR) ierr(e, pos, "%s first arg must be str or a tuple of str, not %s", ends ? "endswith" : "startswith", iv_typename(what));
  if (what.u.s.n > s.u.s.n) return false;
  return !memcmp(s.u.s.s + (ends ? s.u.s.n - what.u.s.n : 0), what.u.s.s, what.u.s.n);
}

static iv str_method(ieval *e, const inode *n, iv s, const char *m, iv *args, size_t nargs, const char **kw, size_t nkw) {
  uint32_t pos = n->pos;
  iv none = iv_none();
  if (!strcmp(m, "split") || !strcmp(m, "rsplit")) {
    iv sep = arg_or(args, nargs, kw, nkw, 0, "sep", none);
    int64_t maxs = iv_as_int(e, pos, arg_or(args, nargs, kw, nkw, 1, "maxsplit", iv_int(-1)), "maxsplit");
    return str_split(e, pos, s, sep, maxs, m[0] == 'r');
  }
  if (!strcmp(m, "join")) {
    if (nargs != 1) ierr(e, pos, "join() takes exactly one argument");
    iv l = iv_iter_list(e, pos, args[0]);
    sl_buf *b = ibuf_push(e);
    for (size_t i = 0; i < il_len(l.u.l); i++) {
      iv x = il_get(l.u.l, i);
      if (x.t != IV_STR) ierr(e, pos, "sequence item %zu: expected str instance, %s found", i, iv_typename(x));
      if (i) ibput(b, s.u.s.s, s.u.s.n);
      ibput(b, x.u.s.s, x.u.s.n);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(m, "replace")) {
    if (nargs < 2) ierr(e, pos, "replace() needs old and new");
    iv old = args[0], nw = args[1];
    int64_t cnt = nargs > 2 ? iv_as_int(e, pos, args[2], "count") : -1;
    if (old.t != IV_STR || nw.t != IV_STR) ierr(e, pos, "replace() arguments must be str");
    sl_buf *b = ibuf_push(e);
    size_t i = 0;
    int64_t done = 0;
    if (!old.u.s.n) { /* insert between every character */
      iv chars = iv_iter_list(e, pos, s);
      for (size_t k = 0; k <= il_len(chars.u.l); k++) {
        if (cnt < 0 || done < cnt) ibput(b, nw.u.s.s, nw.u.s.n), done++;
        if (k < il_len(chars.u.l)) {
          iv c = il_get(chars.u.l, k);
          ibput(b, c.u.s.s, c.u.s.n);
        }
      }
    } else {
      for (;;) {
        const char *f = (cnt < 0 || done < cnt) ? mem_find(s.u.s.s + i, s.u.s.n - i, old.u.s.s, old.u.s.n, false) : NULL;
        if (!f) break;
        ibput(b, s.u.s.s + i, (size_t)(f - (s.u.s.s + i)));
        ibput(b, nw.u.s.s, nw.u.s.n);
        i = (size_t)(f - s.u.s.s) + old.u.s.n;
        done++;
      }
      ibput(b, s.u.s.s + i, s.u.s.n - i);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(m, "strip")) return str_strip(e, pos, s, arg_or(args, nargs, kw, nkw, 0, "chars", none), 3);
  if (!strcmp(m, "lstrip")) return str_strip(e, pos, s, arg_or(args, nargs, kw, nkw, 0, "chars", none), 1);
  if (!strcmp(m, "rstrip")) return str_strip(e, pos, s, arg_or(args, nargs, kw, nkw, 0, "chars", none), 2);
  if (!strcmp(m, "lower") || !strcmp(m, "upper") || !strcmp(m, "casefold") || !strcmp(m, "swapcase") ||
      !strcmp(m, "title") || !strcmp(m, "capitalize")) {
    char *d = iar_strdup(e, s.u.s.s, s.u.s.n);
    bool prev_cased = false;
    for (size_t i = 0; i < s.u.s.n; i++) {
      unsigned char c = (unsigned char)d[i];
      switch (m[0]) {
      case 'l':
      case 'c':
        if (m[1] == 'a' && m[2] == 'p') d[i] = (char)(i == 0 ? toupper(c) : tolower(c));
        else d[i] = (char)tolower(c);
        break;
      case 'u': d[i] = (char)toupper(c); break;
      case 's': d[i] = (char)(isupper(c) ? tolower(c) : toupper(c)); break;
      case 't':
        d[i] = (char)(prev_cased ? tolower(c) : toupper(c));
        prev_cased = isalpha(c);
        break;
      }
    }
    return iv_str(d, s.u.s.n);
  }
  if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
    if (nargs < 1) ierr(e, pos, "%s() takes at least 1 argument", m);
    return iv_bool(starts_ends(e, pos, s, args[0], m[0] == 'e'));
  }
  if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index") || !strcmp(m, "rindex") || !strcmp(m, "count")) {
    if (nargs < 1 || args[0].t != IV_STR) ierr(e, pos, "%s() needs a string argument", m);
    iv sub = args[0];
    if (!strcmp(m, "count")) {
      if (!sub.u.s.n) return iv_int((int64_t)utf8_len(s.u.s.s, s.u.s.n) + 1);
      int64_t c = 0;
      size_t i = 0;
      const char *f;
      while ((f = mem_find(s.u.s.s + i, s.u.s.n - i, sub.u.s.s, sub.u.s.n, false))) {
        c++;
        i = (size_t)(f - s.u.s.s) + sub.u.s.n;
      }
      return iv_int(c);
    }
    const char *f = mem_find(s.u.s.s, s.u.s.n, sub.u.s.s, sub.u.s.n, m[0] == 'r');
    if (!f) {
      if (strstr(m, "index")) ierr(e, pos, "substring not found");
      return iv_int(-1);
    }
    return iv_int((int64_t)utf8_len(s.u.s.s, (size_t)(f - s.u.s.s)));
  }
  if (!strcmp(m, "format")) return py_str_format(e, pos, s, args, nargs, kw, nkw, args + nargs);
  if (!strcmp(m, "zfill") || !strcmp(m, "center") || !strcmp(m, "ljust") || !strcmp(m, "rjust")) {
    int64_t w = nargs ? iv_as_int(e, pos, args[0], "width") : 0;
    char fill = m[0] == 'z' ? '0' : (nargs > 1 && args[1].t == IV_STR && args[1].u.s.n == 1) ? args[1].u.s.s[0] : ' ';
    int64_t len = (int64_t)utf8_len(s.u.s.s, s.u.s.n), pad = w > len ? w - len : 0;
    if (pad > IEVAL_MAX_OUTPUT) ierr(e, pos, "width too large");
    sl_buf *b = ibuf_push(e);
    int64_t left = m[0] == 'l' ? 0 : m[0] == 'c' ? (pad / 2 + (pad & w & 1)) : pad;
    size_t start = 0;
    if (m[0] == 'z' && s.u.s.n && (s.u.s.s[0] == '-' || s.u.s.s[0] == '+')) sl_buf_putc(b, s.u.s.s[0]), start = 1;
    for (int64_t i = 0; i < left; i++) sl_buf_putc(b, fill);
    ibput(b, s.u.s.s + start, s.u.s.n - start);
    for (int64_t i = left; i < pad; i++) sl_buf_putc(b, fill);
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strncmp(m, "is", 2)) {
    if (!s.u.s.n) return iv_bool(false);
    bool ok = true, cased = false;
    for (size_t i = 0; i < s.u.s.n; i++) {
      unsigned char c = (unsigned char)s.u.s.s[i];
      if (!strcmp(m, "isdigit") || !strcmp(m, "isnumeric") || !strcmp(m, "isdecimal")) ok &= isdigit(c) != 0;
      else if (!strcmp(m, "isalpha")) ok &= isalpha(c) != 0;
      else if (!strcmp(m, "isalnum")) ok &= isalnum(c) != 0;
      else if (!strcmp(m, "isspace")) ok &= is_ws(c);
      else if (!strcmp(m, "islower")) ok &= !isupper(c), cased |= islower(c) != 0;
      else if (!strcmp(m, "isupper")) ok &= !islower(c), cased |= isupper(c) != 0;
    }
    if (!strcmp(m, "islower") || !strcmp(m, "isupper")) ok &= cased;
    return iv_bool(ok);
  }
  if (!strcmp(m, "splitlines")) {
    iv r = iv_list_new(e, IV_LIST, 4);
    size_t i = 0;
    while (i < s.u.s.n) {
      size_t j = i;
      while (j < s.u.s.n && s.u.s.s[j] != '\n' && s.u.s.s[j] != '\r') j++;
      il_push(e, r.u.l, substr(s, i, j));
      if (j < s.u.s.n && s.u.s.s[j] == '\r' && j + 1 < s.u.s.n && s.u.s.s[j + 1] == '\n') j++;
      i = j + 1;
    }
    return r;
  }
  if (!strcmp(m, "partition") || !strcmp(m, "rpartition")) {
    if (nargs != 1 || args[0].t != IV_STR || !args[0].u.s.n) ierr(e, pos, "%s() needs a non-empty separator", m);
    const char *f = mem_find(s.u.s.s, s.u.s.n, args[0].u.s.s, args[0].u.s.n, m[0] == 'r');
    iv t = iv_list_new(e, IV_TUPLE, 3);
    if (!f) {
      iv empty = iv_str("", 0);
      if (m[0] == 'r') il_push(e, t.u.l, empty), il_push(e, t.u.l, empty), il_push(e, t.u.l, s);
      else il_push(e, t.u.l, s), il_push(e, t.u.l, empty), il_push(e, t.u.l, empty);
      return t;
    }
    size_t at = (size_t)(f - s.u.s.s);
    il_push(e, t.u.l, substr(s, 0, at));
    il_push(e, t.u.l, args[0]);
    il_push(e, t.u.l, substr(s, at + args[0].u.s.n, s.u.s.n));
    return t;
  }
  if (!strcmp(m, "removeprefix") || !strcmp(m, "removesuffix")) {
    if (nargs != 1 || args[0].t != IV_STR) ierr(e, pos, "%s() needs a string", m);
    iv a = args[0];
    if (a.u.s.n <= s.u.s.n) {
      if (m[6] == 'p' && !memcmp(s.u.s.s, a.u.s.s, a.u.s.n)) return substr(s, a.u.s.n, s.u.s.n);
      if (m[6] == 's' && !memcmp(s.u.s.s + s.u.s.n - a.u.s.n, a.u.s.s, a.u.s.n)) return substr(s, 0, s.u.s.n - a.u.s.n);
    }
    return s;
  }
  ierr(e, pos, "str.%s() is not supported", m);
}

static iv dict_method(ieval *e, const inode *n, iv d, const char *m, iv *args, size_t nargs, const char **kw, size_t nkw) {
  uint32_t pos = n->pos;
  iv out;
  if (!strcmp(m, "get")) {
    if (nargs < 1 || nargs > 2) ierr(e, pos, "get expected 1 or 2 arguments, got %zu", nargs);
    if (id_get(e, d.u.d, args[0], &out)) return out;
    return nargs > 1 ? args[1] : iv_none();
  }
  if (!strcmp(m, "items") || !strcmp(m, "keys") || !strcmp(m, "values")) {
    size_t len = id_len(d.u.d);
    iv r = iv_list_new(e, IV_LIST, len + 1);
    r.u.l->kind = m[0] == 'i' ? LK_ITEMS : m[0] == 'k' ? LK_KEYS : LK_VALUES;
    for (size_t i = 0; i < len; i++) {
      if (m[0] == 'i') {
        iv t = iv_list_new(e, IV_TUPLE, 2);
        il_push(e, t.u.l, id_key(d.u.d, i));
        il_push(e, t.u.l, id_val(d.u.d, i));
        il_push(e, r.u.l, t);
      } else il_push(e, r.u.l, m[0] == 'k' ? id_key(d.u.d, i) : id_val(d.u.d, i));
    }
    return r;
  }
  if (!strcmp(m, "update")) {
    if (nargs > 1) ierr(e, pos, "update expected at most 1 argument");
    if (nargs == 1) {
      iv src = args[0];
      if (src.t == IV_DICT || src.t == IV_NS) {
        for (size_t i = 0; i < id_len(src.u.d); i++) id_set(e, d.u.d, id_key(src.u.d, i), id_val(src.u.d, i));
      } else {
        iv l = iv_iter_list(e, pos, src);
        for (size_t i = 0; i < il_len(l.u.l); i++) {
          iv p = iv_iter_list(e, pos, il_get(l.u.l, i));
          if (il_len(p.u.l) != 2) ierr(e, pos, "dictionary update sequence element has the wrong length");
          id_set(e, d.u.d, il_get(p.u.l, 0), il_get(p.u.l, 1));
        }
      }
    }
    for (size_t i = 0; i < nkw; i++) id_set(e, d.u.d, iv_strz(e, kw[i]), args[nargs + i]);
    return iv_none();
  }
  if (!strcmp(m, "pop")) {
    if (nargs < 1) ierr(e, pos, "pop expected at least 1 argument");
    if (id_del(e, d.u.d, args[0], &out)) return out;
    if (nargs > 1) return args[1];
    sl_buf *b = ibuf_push(e);
    iv_repr_to(e, args[0], b);
    ierr(e, pos, "KeyError: %.*s", (int)b->len, b->data);
  }
  if (!strcmp(m, "setdefault")) {
    if (nargs < 1) ierr(e, pos, "setdefault expected at least 1 argument");
    if (id_get(e, d.u.d, args[0], &out)) return out;
    iv v = nargs > 1 ? args[1] : iv_none();
    id_set(e, d.u.d, args[0], v);
    return v;
  }
  if (!strcmp(m, "copy")) {
    iv r = iv_dict_new(e, id_len(d.u.d) + 1);
    for (size_t i = 0; i < id_len(d.u.d); i++) id_set(e, r.u.d, id_key(d.u.d, i), id_val(d.u.d, i));
    return r;
  }
  if (!strcmp(m, "clear")) {
    id_own(e, d.u.d);
    d.u.d->n = 0;
    return iv_none();
  }
  ierr(e, pos, "dict.%s() is not supported", m);
}

static iv list_method(ieval *e, const inode *n, iv l, const char *m, iv *args, size_t nargs, const char **kw, size_t nkw) {
  uint32_t pos = n->pos;
  ilist *L = l.u.l;
  if (!strcmp(m, "index") || !strcmp(m, "count")) {
    if (nargs < 1) ierr(e, pos, "%s() takes at least 1 argument", m);
    int64_t c = 0;
    for (size_t i = 0; i < il_len(L); i++)
      if (iv_eq(e, il_get(L, i), args[0])) {
        if (m[0] == 'i') return iv_int((int64_t)i);
        c++;
      }
    if (m[0] == 'i') ierr(e, pos, "value is not in list");
    return iv_int(c);
  }
  if (!strcmp(m, "copy")) {
    iv r = iv_list_new(e, IV_LIST, il_len(L) + 1);
    for (size_t i = 0; i < il_len(L); i++) il_push(e, r.u.l, il_get(L, i));
    return r;
  }
  il_own(e, L);
  if (!strcmp(m, "append")) {
    if (nargs != 1) ierr(e, pos, "append() takes exactly one argument");
    if (L->n > 1000000) ierr(e, pos, "list too long");
    il_push(e, L, args[0]);
    return iv_none();
  }
  if (!strcmp(m, "extend")) {
    if (nargs != 1) ierr(e, pos, "extend() takes exactly one argument");
    iv src = iv_iter_list(e, pos, args[0]);
    size_t cnt = il_len(src.u.l);
    for (size_t i = 0; i < cnt; i++) il_push(e, L, il_get(src.u.l, i));
    return iv_none();
  }
  if (!strcmp(m, "insert")) {
    if (nargs != 2) ierr(e, pos, "insert expected 2 arguments");
    int64_t i = iv_as_int(e, pos, args[0], "index"), len = (int64_t)L->n;
    if (i < 0) i = i + len < 0 ? 0 : i + len;
    if (i > len) i = len;
    il_push(e, L, iv_none());
    memmove(L->items + i + 1, L->items + i, (size_t)(len - i) * sizeof(iv));
    L->items[i] = args[1];
    return iv_none();
  }
  if (!strcmp(m, "pop")) {
    if (!L->n) ierr(e, pos, "pop from empty list");
    int64_t i = nargs ? iv_as_int(e, pos, args[0], "index") : -1, len = (int64_t)L->n;
    if (i < 0) i += len;
    if (i < 0 || i >= len) ierr(e, pos, "pop index out of range");
    iv v = L->items[i];
    memmove(L->items + i, L->items + i + 1, (size_t)(len - i - 1) * sizeof(iv));
    L->n--;
    return v;
  }
  if (!strcmp(m, "remove")) {
    for (size_t i = 0; nargs && i < L->n; i++)
      if (iv_eq(e, L->items[i], args[0])) {
        memmove(L->items + i, L->items + i + 1, (L->n - i - 1) * sizeof(iv));
        L->n--;
        return iv_none();
      }
    ierr(e, pos, "list.remove(x): x not in list");
  }
  if (!strcmp(m, "reverse")) {
    for (size_t i = 0; i < L->n / 2; i++) {
      iv t = L->items[i];
      L->items[i] = L->items[L->n - 1 - i];
      L->items[L->n - 1 - i] = t;
    }
    return iv_none();
  }
  if (!strcmp(m, "sort")) {
    iv rev = arg_or(args, 0, kw, nkw, 99, "reverse", iv_bool(false));
    iv fa[3] = {rev, iv_bool(true)};
    iv s = icall_filter(e, n, "sort", l, fa, 2, NULL, 0);
    memcpy(L->items, s.u.l->items, L->n * sizeof(iv));
    return iv_none();
  }
  if (!strcmp(m, "clear")) {
    L->n = 0;
    return iv_none();
  }
  ierr(e, pos, "list.%s() is not supported", m);
}

static iv dt_method(ieval *e, const inode *n, iv d, const char *m, iv *args, size_t nargs, const char **kw, size_t nkw) {
  uint32_t pos = n->pos;
  sl_dt dt = d.u.dt;
  if (!strcmp(m, "strftime")) {
    if (nargs != 1 || args[0].t != IV_STR) ierr(e, pos, "strftime() argument 1 must be str");
    return idt_text(e, pos, &dt, args[0].u.s.s, args[0].u.s.n, false);
  }
  if (!strcmp(m, "isoformat") || !strcmp(m, "__str__")) {
    iv sep = arg_or(args, nargs, kw, nkw, 0, "sep", iv_str("T", 1));
    iv spec = arg_or(args, nargs, kw, nkw, 1, "timespec", iv_str("auto", 4));
    if (m[0] == '_') sep = iv_str(" ", 1);
    if (sep.t != IV_STR || sep.u.s.n != 1) ierr(e, pos, "isoformat() argument 1 must be a unicode character");
    const char *ts = iv_as_cstr(e, pos, spec, "timespec");
    sl_buf *b = ibuf_push(e);
    sl_dt_str(&dt, sep.u.s.s[0], b);
    if (strcmp(ts, "auto") && !dt.date) { /* the time part at the asked precision */
      static const char *const specs[] = {"hours", "minutes", "seconds", "milliseconds", "microseconds"};
      static const int lens[] = {2, 5, 8, 12, 15};
      int k = -1;
      for (int i = 0; i < 5; i++)
        if (!strcmp(ts, specs[i])) k = i;
      if (k < 0) ierr(e, pos, "Unknown timespec value");
      sl_dt_fields f;
      sl_dt_split(&dt, &f);
      char tp[32];
      snprintf(tp, sizeof tp, "%02d:%02d:%02d.%06d", f.hour, f.minute, f.second, f.usec);
      b->len = 11; /* keep "YYYY-MM-DD" and the separator */
      ibput(b, tp, (size_t)lens[k]);
      if (dt.aware) {
        int o = dt.off < 0 ? -dt.off : dt.off;
        sl_buf_appendf(b, "%c%02d:%02d", dt.off < 0 ? '-' : '+', o / 3600, o / 60 % 60);
        if (o % 60) sl_buf_appendf(b, ":%02d", o % 60);
      }
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  if (!strcmp(m, "timestamp")) return iv_float(sl_dt_timestamp(&dt));
  sl_dt_fields f;
  sl_dt_split(&dt, &f);
  if (!strcmp(m, "weekday")) return iv_int(f.wday);
  if (!strcmp(m, "isoweekday")) return iv_int(f.wday + 1);
  if (!strcmp(m, "toordinal")) return iv_int(sl_days_from_civil(f.year, f.month, f.day) - sl_days_from_civil(1, 1, 1) + 1);
  if (!strcmp(m, "date")) {
    sl_dt r = {0};
    r.us = sl_days_from_civil(f.year, f.month, f.day) * SL_US_PER_DAY;
    r.date = true;
    return iv_dt(r);
  }
  if (!strcmp(m, "utcoffset")) return dt.aware ? iv_td((int64_t)dt.off * SL_US_PER_S) : iv_none();
  if (!strcmp(m, "astimezone")) {
    if (nargs || nkw) ierr(e, pos, "astimezone() with a time zone argument is not supported");
    sl_dt r = dt;
    r.us = sl_dt_utc_us(&dt);
    r.off = 0, r.aware = true;
    return iv_dt(r);
  }
  if (!strcmp(m, "replace")) {
    if (nargs) ierr(e, pos, "replace() takes keyword arguments only here");
    int64_t y = f.year;
    int mo = f.month, dd = f.day, h = f.hour, mi = f.minute, s = f.second, us = f.usec;
    sl_dt r;
    bool aware = dt.aware;
    int32_t off = dt.off;
    for (size_t i = 0; i < nkw; i++) {
      iv v = args[i];
      if (!strcmp(kw[i], "tzinfo")) {
        if (v.t == IV_NONE) aware = false, off = 0;
        else ierr(e, pos, "replace(tzinfo=...) supports only None");
        continue;
      }
      int64_t x = iv_as_int(e, pos, v, kw[i]);
      if (!strcmp(kw[i], "year")) y = x;
      else if (!strcmp(kw[i], "month")) mo = (int)x;
      else if (!strcmp(kw[i], "day")) dd = (int)x;
      else if (!strcmp(kw[i], "hour") && !dt.date) h = (int)x;
      else if (!strcmp(kw[i], "minute") && !dt.date) mi = (int)x;
      else if (!strcmp(kw[i], "second") && !dt.date) s = (int)x;
      else if (!strcmp(kw[i], "microsecond") && !dt.date) us = (int)x;
      else ierr(e, pos, "'%s' is an invalid keyword argument for replace()", kw[i]);
    }
    char em[128];
    if (!sl_dt_make(y, mo, dd, h, mi, s, us, &r, em, sizeof em)) ierr(e, pos, "%s", em);
    r.aware = aware, r.off = off, r.date = dt.date;
    return iv_dt(r);
  }
  ierr(e, pos, "datetime.%s() is not supported", m);
}

iv icall_method(ieval *e, const inode *n, iv self, const char *m, iv *args, size_t nargs, const char **kw, size_t nkw) {
  switch (self.t) {
  case IV_STR: return str_method(e, n, self, m, args, nargs, kw, nkw);
  case IV_DICT: return dict_method(e, n, self, m, args, nargs, kw, nkw);
  case IV_LIST:
  case IV_TUPLE: return list_method(e, n, self, m, args, nargs, kw, nkw);
  case IV_DT: return dt_method(e, n, self, m, args, nargs, kw, nkw);
  case IV_TD:
    if (self.u.td.years || self.u.td.months) ierr(e, n->pos, "Duration has no total_seconds()");
    return iv_float((double)self.u.td.us / 1e6);
  case IV_LOOP: {
    if (!strcmp(m, "cycle")) {
      if (!nargs) ierr(e, n->pos, "no items for cycling given");
      iv idx;
      id_getz(self.u.d, "index0", 6, &idx);
      return args[idx.u.i % (int64_t)nargs];
    }
    ierr(e, n->pos, "loop.%s() is not supported", m);
  }
  default: ierr(e, n->pos, "'%s' object has no method '%s'", iv_typename(self), m);
  }
}
