/* Python string formatting for templates: `'%s' % x` and `'{}'.format(x)`
 * with the common format-spec mini-language. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_int.h"

bool iv_py_float(iv v, double *out);

/* ---- formatting ---- */

typedef struct fspec {
  char fill, align, sign, type;
  bool alt, zero, comma;
  int width, prec;
} fspec;

static void fmt_value(ieval *e, uint32_t pos, sl_buf *out, iv v, fspec *fs) {
  sl_buf *b = ibuf_push(e);
  char t = fs->type;
  if (t == 'r' || t == 'a') iv_repr_to(e, v, b);
  else if (t == 's' || (t == 0 && v.t != IV_INT && v.t != IV_FLOAT)) {
    iv s = iv_to_str(e, v);
    size_t len = s.u.s.n;
    if (fs->prec >= 0) len = utf8_off(s.u.s.s, s.u.s.n, (size_t)fs->prec);
    ibput(b, s.u.s.s, len);
  } else if (strchr("dixXoc", t) || (t == 0 && v.t == IV_INT)) {
    int64_t x;
    if (v.t == IV_INT || v.t == IV_BOOL) x = v.t == IV_INT ? v.u.i : v.u.b;
    else if (v.t == IV_FLOAT && (t == 'd' || t == 'i')) x = (int64_t)v.u.f;
    else ierr(e, pos, "%%%c format: a number is required, not %s", t ? t : 'd', iv_typename(v));
    if (t == 'c') sl_buf_putc(b, (char)x);
    else {
      uint64_t ax = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
      if (x < 0) sl_buf_putc(b, '-');
      else if (fs->sign == '+' || fs->sign == ' ') sl_buf_putc(b, fs->sign);
      if (fs->alt && t == 'x') sl_buf_appendf(b, "0x");
      if (fs->alt && t == 'X') sl_buf_appendf(b, "0X");
      if (fs->alt && t == 'o') sl_buf_appendf(b, "0o");
      char num[32];
      snprintf(num, sizeof num, t == 'x' ? "%llx" : t == 'X' ? "%llX" : t == 'o' ? "%llo" : "%llu", (unsigned long long)ax);
      if (fs->comma) {
        size_t l = strlen(num);
        for (size_t i = 0; i < l; i++) {
          if (i && (l - i) % 3 == 0) sl_buf_putc(b, ',');
          sl_buf_putc(b, num[i]);
        }
      } else sl_buf_appendf(b, "%s", num);
    }
  } else {
    double x;
    if (v.t == IV_STR || !iv_py_float(v, &x)) ierr(e, pos, "must be real number, not %s", iv_typename(v));
    if (t == 0) {
      if (fs->prec < 0) sl_py_float_repr(x, b);
      else sl_buf_appendf(b, "%.*g", fs->prec, x);
    } else if (t == '%') {
      sl_buf_appendf(b, "%s%.*f%%", (fs->sign == '+' && x >= 0) ? "+" : "", fs->prec < 0 ? 6 : fs->prec, x * 100);
    } else {
      char f[16];
      snprintf(f, sizeof f, "%%%s%s.*%c", fs->sign == '+' ? "+" : fs->sign == ' ' ? " " : "", fs->alt ? "#" : "", t);
      sl_buf_appendf(b, f, fs->prec < 0 ? 6 : fs->prec, x);
    }
  }
  size_t len = utf8_len(b->data ? b->data : "", b->len);
  int pad = fs->width > (int)len ? fs->width - (int)len : 0;
  char align = fs->align ? fs->align : (fs->zero ? '=' : (v.t == IV_INT || v.t == IV_FLOAT) && t != 's' ? '>' : '<');
  char fill = fs->fill ? fs->fill : fs->zero ? '0' : ' ';
  if (align == '=' && b->len && (b->data[0] == '-' || b->data[0] == '+' || b->data[0] == ' ')) {
    sl_buf_putc(out, b->data[0]);
    for (int i = 0; i < pad; i++) sl_buf_putc(out, fill);
    ibput(out, b->data + 1, b->len - 1);
  } else {
    int left = align == '<' ? 0 : align == '^' ? pad / 2 : pad;
    for (int i = 0; i < left; i++) sl_buf_putc(out, fill);
    ibput(out, b->data, b->len);
    for (int i = left; i < pad; i++) sl_buf_putc(out, fill);
  }
  ibuf_pop(e);
}

iv py_percent_format(ieval *e, uint32_t pos, iv fmt, iv args) {
  sl_buf *out = ibuf_push(e);
  size_t ai = 0;
  bool is_tuple = args.t == IV_TUPLE;
  size_t nargs = is_tuple ? il_len(args.u.l) : 1;
  const char *s = fmt.u.s.s;
  size_t n = fmt.u.s.n;
  bool used_map = false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      sl_buf_putc(out, s[i]);
      continue;
    }
    if (++i >= n) ierr(e, pos, "incomplete format");
    if (s[i] == '%') {
      sl_buf_putc(out, '%');
      continue;
    }
    iv v;
    bool have = false;
    if (s[i] == '(') {
      size_t j = i + 1;
      while (j < n && s[j] != ')') j++;
      if (j >= n) ierr(e, pos, "incomplete format key");
      if (args.t != IV_DICT) ierr(e, pos, "format requires a mapping");
      if (!id_getz(args.u.d, s + i + 1, j - i - 1, &v)) ierr(e, pos, "KeyError: '%.*s'", (int)(j - i - 1), s + i + 1);
      have = used_map = true;
      i = j + 1;
    }
    fspec fs = {.prec = -1};
    for (; i < n && strchr("-+ #0", s[i]); i++) {
      if (s[i] == '-') fs.align = '<';
      else if (s[i] == '0') fs.zero = true;
      else if (s[i] == '#') fs.alt = true;
      else fs.sign = s[i];
    }
    while (i < n && isdigit((unsigned char)s[i])) fs.width = fs.width * 10 + (s[i++] - '0');
    if (i < n && s[i] == '.') {
      fs.prec = 0;
      i++;
      while (i < n && isdigit((unsigned char)s[i])) fs.prec = fs.prec * 10 + (s[i++] - '0');
    }
    if (i >= n) ierr(e, pos, "incomplete format");
    char t = s[i];
    if (!strchr("sdifFeEgGxXorc", t)) ierr(e, pos, "unsupported format character '%c'", t);
    if (!have) {
      if (ai >= nargs) ierr(e, pos, "not enough arguments for format string");
      v = is_tuple ? il_get(args.u.l, ai) : args;
      ai++;
    }
    if (fs.align == '<') fs.zero = false;
    if (fs.zero) fs.align = '=';
    if (t == 'i' || t == 'u') t = 'd';
    if (t == 'd' && v.t == IV_FLOAT) v = iv_int((int64_t)v.u.f);
    if ((t == 'd' || t == 'x' || t == 'X' || t == 'o') && v.t != IV_INT && v.t != IV_BOOL)
      ierr(e, pos, "%%%c format: a real number is required, not %s", t, iv_typename(v));
    if ((t == 'g' || t == 'G') && fs.prec < 0) fs.prec = 6;
    fs.type = t;
    if (t == 'd' && fs.prec >= 0) fs.prec = -1;
    fmt_value(e, pos, out, v, &fs);
  }
  if (!used_map && args.t != IV_DICT && ai < nargs) ierr(e, pos, "not all arguments converted during string formatting");
  iv r = iv_strbuf(e, out);
  ibuf_pop(e);
  return r;
}

iv py_str_format(ieval *e, uint32_t pos, iv fmt, iv *args, size_t nargs, const char **kw, size_t nkw, iv *kwv) {
  sl_buf *out = ibuf_push(e);
  const char *s = fmt.u.s.s;
  size_t n = fmt.u.s.n, auto_i = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '}' && i + 1 < n && s[i + 1] == '}') {
      sl_buf_putc(out, '}');
      i++;
      continue;
    }
    if (c != '{') {
      sl_buf_putc(out, c);
      continue;
    }
    if (i + 1 < n && s[i + 1] == '{') {
      sl_buf_putc(out, '{');
      i++;
      continue;
    }
    size_t j = i + 1;
    while (j < n && s[j] != '}') j++;
    if (j >= n) ierr(e, pos, "Single '{' encountered in format string");
    const char *field = s + i + 1;
    size_t fl = j - i - 1;
    const char *colon = memchr(field, ':', fl), *bang = memchr(field, '!', fl);
    size_t namel = colon ? (size_t)(colon - field) : fl;
    if (bang && (!colon || bang < colon)) namel = (size_t)(bang - field);
    iv v;
    /* name[.attr|[key]]* */
    size_t k = 0;
    while (k < namel && field[k] != '.' && field[k] != '[') k++;
    if (k == 0) {
      if (auto_i >= nargs) ierr(e, pos, "Replacement index %zu out of range for positional args tuple", auto_i);
      v = args[auto_i++];
    } else if (isdigit((unsigned char)field[0])) {
      size_t idx = (size_t)atoi(field);
      if (idx >= nargs) ierr(e, pos, "Replacement index %zu out of range for positional args tuple", idx);
      v = args[idx];
    } else {
      bool found = false;
      for (size_t q = 0; q < nkw; q++)
        if (strlen(kw[q]) == k && !memcmp(kw[q], field, k)) v = kwv[q], found = true;
      if (!found) ierr(e, pos, "KeyError: '%.*s'", (int)k, field);
    }
    while (k < namel) {
      if (field[k] == '.') {
        size_t a = ++k;
        while (k < namel && field[k] != '.' && field[k] != '[') k++;
        v = iv_getattr(e, pos, v, iar_strdup(e, field + a, k - a));
      } else {
        size_t a = ++k;
        while (k < namel && field[k] != ']') k++;
        char *key = iar_strdup(e, field + a, k - a), *end;
        long x = strtol(key, &end, 10);
        v = iv_getitem(e, pos, v, (*end == 0 && end != key) ? iv_int(x) : iv_str(key, k - a));
        k++;
      }
    }
    fspec fs = {.prec = -1};
    if (bang && (!colon || bang < colon) && bang + 1 < field + fl && bang[1] == 'r') {
      iv_repr_to(e, v, out);
      i = j;
      continue;
    }
    if (colon) {
      const char *p = colon + 1, *end = field + fl;
      if (p + 1 < end && strchr("<>=^", p[1])) fs.fill = *p, fs.align = p[1], p += 2;
      else if (p < end && strchr("<>=^", *p)) fs.align = *p++;
      if (p < end && strchr("+- ", *p)) fs.sign = *p++;
      if (p < end && *p == '#') fs.alt = true, p++;
      if (p < end && *p == '0') fs.zero = true, p++;
      while (p < end && isdigit((unsigned char)*p)) fs.width = fs.width * 10 + (*p++ - '0');
      if (p < end && *p == ',') fs.comma = true, p++;
      if (p < end && *p == '.') {
        fs.prec = 0;
        p++;
        while (p < end && isdigit((unsigned char)*p)) fs.prec = fs.prec * 10 + (*p++ - '0');
      }
      if (p < end) fs.type = *p++;
      if (p != end) ierr(e, pos, "Invalid format specifier");
      if (fs.zero && !fs.align) fs.fill = '0', fs.align = '=';
      if (v.t == IV_DT && colon) {
        iv r = idt_text(e, pos, &v.u.dt, colon + 1, (size_t)(end - colon - 1), false);
        ibput(out, r.u.s.s, r.u.s.n);
        i = j;
        continue;
      }
    }
    if (fs.type == 'd' && v.t == IV_FLOAT) ierr(e, pos, "Unknown format code 'd' for object of type 'float'");
    fmt_value(e, pos, out, v, &fs);
    i = j;
  }
  iv r = iv_strbuf(e, out);
  ibuf_pop(e);
  return r;
}
