/* Interpolation values: arena, containers (with lazily wrapped JSON),
 * Python truthiness, equality, ordering, str()/repr() and json.dumps. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_int.h"

/* ---- arena ---- */

void iar_init(iarena *a, size_t max) {
  a->head = NULL;
  a->total = 0;
  a->max = max;
}

void iar_free(iarena *a) {
  iarena_blk *b = a->head;
  while (b) {
    iarena_blk *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->total = 0;
}

void *iar_alloc_raw(iarena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  iarena_blk *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > 3000 ? n : 4096 - sizeof(iarena_blk);
    if (b && b->cap * 2 > cap && b->cap < (1u << 20)) cap = b->cap * 2 > n ? b->cap * 2 : n;
    if (a->total + cap > a->max) return NULL;
    b = malloc(sizeof(iarena_blk) + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->total += cap;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

void *iar_alloc(ieval *e, size_t n) {
  void *p = iar_alloc_raw(&e->ar, n ? n : 1);
  if (!p) ierr(e, 0, "template evaluation exceeded its memory limit (%u MiB)", IEVAL_MAX_ARENA >> 20);
  return p;
}

char *iar_strdup(ieval *e, const char *s, size_t n) {
  char *p = iar_alloc(e, n + 1);
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

iv iv_strz(ieval *e, const char *s) {
  size_t n = strlen(s);
  return iv_str(iar_strdup(e, s, n), n);
}

iv iv_strbuf(ieval *e, const sl_buf *b) { return iv_str(iar_strdup(e, b->data ? b->data : "", b->len), b->len); }

iv iv_dt(sl_dt dt) {
  iv v = {.t = IV_DT};
  v.u.dt = dt;
  return v;
}

iv iv_td(int64_t us) {
  iv v = {.t = IV_TD};
  v.u.td.us = us;
  return v;
}

iv iv_dur(sl_dur d) {
  iv v = {.t = IV_TD};
  v.u.td = d;
  return v;
}

/* ---- containers ---- */

iv iv_list_new(ieval *e, uint8_t t, size_t cap) {
  iv v = {.t = t};
  v.u.l = iar_alloc(e, sizeof(ilist));
  memset(v.u.l, 0, sizeof(ilist));
  if (cap) {
    v.u.l->items = iar_alloc(e, cap * sizeof(iv));
    v.u.l->cap = cap;
  } else {
    v.u.l->items = iar_alloc(e, sizeof(iv));
    v.u.l->cap = 1;
  }
  return v;
}

iv iv_dict_new(ieval *e, size_t cap) {
  iv v = {.t = IV_DICT};
  v.u.d = iar_alloc(e, sizeof(idict));
  memset(v.u.d, 0, sizeof(idict));
  if (cap < 1) cap = 1;
  v.u.d->keys = iar_alloc(e, cap * sizeof(iv));
  v.u.d->vals = iar_alloc(e, cap * sizeof(iv));
  v.u.d->cap = cap;
  return v;
}

static void *wrap_find(ieval *e, const json_t *j) {
  if (!e->capwrap) return NULL;
  size_t h = ((uintptr_t)j >> 4) & (e->capwrap - 1);
  while (e->wrap[h].j) {
    if (e->wrap[h].j == j) return e->wrap[h].w;
    h = (h + 1) & (e->capwrap - 1);
  }
  return NULL;
}

static void wrap_add(ieval *e, const json_t *j, void *w) {
  if ((e->nwrap + 1) * 2 > e->capwrap) {
    size_t oc = e->capwrap, nc = oc ? oc * 2 : 16;
    struct iwrap *old = e->wrap;
    e->wrap = iar_alloc(e, nc * sizeof *e->wrap);
    memset(e->wrap, 0, nc * sizeof *e->wrap);
    e->capwrap = nc;
    e->nwrap = 0;
    for (size_t i = 0; i < oc; i++)
      if (old[i].j) wrap_add(e, old[i].j, old[i].w);
  }
  size_t h = ((uintptr_t)j >> 4) & (e->capwrap - 1);
  while (e->wrap[h].j) h = (h + 1) & (e->capwrap - 1);
  e->wrap[h].j = j;
  e->wrap[h].w = w;
  e->nwrap++;
}

iv iv_from_json(ieval *e, const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_STRING: return iv_str(json_string_value(j), json_string_length(j));
  case JSON_INTEGER: return iv_int((int64_t)json_integer_value(j));
  case JSON_REAL: return iv_float(json_real_value(j));
  case JSON_TRUE: return iv_bool(true);
  case JSON_FALSE: return iv_bool(false);
  case JSON_NULL: return iv_none();
  case JSON_ARRAY: {
    iv v = {.t = IV_LIST};
    if ((v.u.l = wrap_find(e, j))) return v;
    v.u.l = iar_alloc(e, sizeof(ilist));
    memset(v.u.l, 0, sizeof(ilist));
    v.u.l->j = j;
    wrap_add(e, j, v.u.l);
    return v;
  }
  case JSON_OBJECT: {
    iv v = {.t = IV_DICT};
    if ((v.u.d = wrap_find(e, j))) return v;
    v.u.d = iar_alloc(e, sizeof(idict));
    memset(v.u.d, 0, sizeof(idict));
    v.u.d->j = j;
    wrap_add(e, j, v.u.d);
    return v;
  }
  }
  return iv_none();
}

/* A JSON-backed container needs an evaluation to convert items; the
 * conversion of scalars needs none, containers use this one. */
static __thread ieval *cur_eval;

size_t il_len(const ilist *l) { return l->items ? l->n : json_array_size(l->j); }

iv il_get(const ilist *l, size_t i) {
  if (l->items) return l->items[i];
  return iv_from_json(cur_eval, json_array_get(l->j, i));
}

void il_own(ieval *e, ilist *l) {
  if (l->items) return;
  size_t n = json_array_size(l->j);
  l->items = iar_alloc(e, (n ? n : 1) * sizeof(iv));
  l->cap = n ? n : 1;
  for (size_t i = 0; i < n; i++) l->items[i] = iv_from_json(e, json_array_get(l->j, i));
  l->n = n;
  l->j = NULL;
}

void il_push(ieval *e, ilist *l, iv v) {
  il_own(e, l);
  if (l->n == l->cap) {
    size_t nc = l->cap * 2;
    iv *ni = iar_alloc(e, nc * sizeof(iv));
    memcpy(ni, l->items, l->n * sizeof(iv));
    l->items = ni;
    l->cap = nc;
  }
  l->items[l->n++] = v;
}

size_t id_len(const idict *d) { return d->keys ? d->n : json_object_size(d->j); }

void id_own(ieval *e, idict *d) {
  if (d->keys) return;
  size_t n = json_object_size(d->j), i = 0;
  size_t cap = n ? n : 1;
  d->keys = iar_alloc(e, cap * sizeof(iv));
  d->vals = iar_alloc(e, cap * sizeof(iv));
  d->cap = cap;
  const char *k;
  size_t kl;
  json_t *v;
  json_object_keylen_foreach((json_t *)d->j, k, kl, v) {
    d->keys[i] = iv_str(k, kl);
    d->vals[i] = iv_from_json(e, v);
    i++;
  }
  d->n = i;
  d->j = NULL;
}

/* Index-based access to a JSON-backed dict materializes it once (jansson
 * iteration order is insertion order, as Python's). */
iv id_key(const idict *d, size_t i) {
  if (!d->keys) id_own(cur_eval, (idict *)d);
  return d->keys[i];
}

iv id_val(const idict *d, size_t i) {
  if (!d->keys) id_own(cur_eval, (idict *)d);
  return d->vals[i];
}

bool id_getz(const idict *d, const char *k, size_t kn, iv *out) {
  if (!d->keys) {
    json_t *v = json_object_getn(d->j, k, kn);
    if (!v) return false;
    *out = iv_from_json(cur_eval, v);
    return true;
  }
  for (size_t i = 0; i < d->n; i++) {
    if (d->keys[i].t == IV_STR && d->keys[i].u.s.n == kn && !memcmp(d->keys[i].u.s.s, k, kn)) {
      *out = d->vals[i];
      return true;
    }
  }
  return false;
}

static bool hashable(iv k) { return k.t != IV_LIST && k.t != IV_DICT && k.t != IV_NS; }

bool id_get(ieval *e, const idict *d, iv key, iv *out) {
  if (key.t == IV_STR) return id_getz(d, key.u.s.s, key.u.s.n, out);
  if (!hashable(key)) ierr(e, 0, "unhashable type: '%s'", iv_typename(key));
  if (!d->keys) return false;
  for (size_t i = 0; i < d->n; i++)
    if (iv_eq(e, d->keys[i], key)) {
      *out = d->vals[i];
      return true;
    }
  return false;
}

void id_set(ieval *e, idict *d, iv key, iv val) {
  if (!hashable(key)) ierr(e, 0, "unhashable type: '%s'", iv_typename(key));
  id_own(e, d);
  for (size_t i = 0; i < d->n; i++)
    if (iv_eq(e, d->keys[i], key)) {
      d->vals[i] = val;
      return;
    }
  if (d->n == d->cap) {
    size_t nc = d->cap * 2;
    iv *nk = iar_alloc(e, nc * sizeof(iv)), *nv = iar_alloc(e, nc * sizeof(iv));
    memcpy(nk, d->keys, d->n * sizeof(iv));
    memcpy(nv, d->vals, d->n * sizeof(iv));
    d->keys = nk, d->vals = nv, d->cap = nc;
  }
  d->keys[d->n] = key;
  d->vals[d->n++] = val;
}

bool id_del(ieval *e, idict *d, iv key, iv *old) {
  id_own(e, d);
  for (size_t i = 0; i < d->n; i++)
    if (iv_eq(e, d->keys[i], key)) {
      if (old) *old = d->vals[i];
      memmove(d->keys + i, d->keys + i + 1, (d->n - i - 1) * sizeof(iv));
      memmove(d->vals + i, d->vals + i + 1, (d->n - i - 1) * sizeof(iv));
      d->n--;
      return true;
    }
  return false;
}

/* ---- utf-8 ---- */

size_t utf8_len(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

size_t utf8_off(const char *s, size_t n, size_t cp) {
  size_t i = 0, c = 0;
  while (i < n) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (c == cp) return i;
      c++;
    }
    i++;
  }
  return n;
}

/* ---- semantics ---- */

const char *iv_typename(iv v) {
  switch (v.t) {
  case IV_UNDEF: return "Undefined";
  case IV_NONE: return "NoneType";
  case IV_BOOL: return "bool";
  case IV_INT: return "int";
  case IV_FLOAT: return "float";
  case IV_STR: return "str";
  case IV_LIST:
    switch (v.u.l->kind) {
    case LK_ITEMS: return "dict_items";
    case LK_KEYS: return "dict_keys";
    case LK_VALUES: return "dict_values";
    case LK_SET: return "set";
    case LK_GEN: return "generator";
    }
    return "list";
  case IV_TUPLE: return "tuple";
  case IV_DICT: return "dict";
  case IV_DT: return v.u.dt.date ? "date" : "datetime";
  case IV_TD: return (v.u.td.years || v.u.td.months) ? "Duration" : "timedelta";
  case IV_FUNC: return "function";
  case IV_METHOD: return "builtin_function_or_method";
  case IV_NS: return "Namespace";
  case IV_LOOP: return "LoopContext";
  }
  return "object";
}

bool iv_is_str(iv v) { return v.t == IV_STR; }
bool iv_is_seq(iv v) { return v.t == IV_LIST || v.t == IV_TUPLE; }

bool iv_truthy(ieval *e, iv v, uint32_t pos) {
  switch (v.t) {
  case IV_UNDEF:
  case IV_NONE: return false;
  case IV_BOOL: return v.u.b;
  case IV_INT: return v.u.i != 0;
  case IV_FLOAT: return v.u.f != 0;
  case IV_STR: return v.u.s.n != 0;
  case IV_LIST:
  case IV_TUPLE: return il_len(v.u.l) != 0;
  case IV_DICT:
  case IV_NS: return id_len(v.u.d) != 0;
  case IV_TD: return v.u.td.us || v.u.td.years || v.u.td.months;
  default: return true;
  }
}

static bool is_num(iv v) { return v.t == IV_BOOL || v.t == IV_INT || v.t == IV_FLOAT; }
static double num_f(iv v) { return v.t == IV_FLOAT ? v.u.f : v.t == IV_INT ? (double)v.u.i : v.u.b; }
static int64_t num_i(iv v) { return v.t == IV_INT ? v.u.i : v.u.b; }

static int num_cmp(iv a, iv b) {
  if (a.t != IV_FLOAT && b.t != IV_FLOAT) {
    int64_t x = num_i(a), y = num_i(b);
    return x < y ? -1 : x > y;
  }
  double x = num_f(a), y = num_f(b);
  if (isnan(x) || isnan(y)) return 2; /* unordered */
  return x < y ? -1 : x > y;
}

static int str_cmp(iv a, iv b) {
  size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
  int c = n ? memcmp(a.u.s.s, b.u.s.s, n) : 0;
  if (c) return c < 0 ? -1 : 1;
  return a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n;
}

bool iv_eq(ieval *e, iv a, iv b) {
  if (is_num(a) && is_num(b)) return num_cmp(a, b) == 0;
  if (a.t == IV_NS || b.t == IV_NS) return a.t == b.t && a.u.d == b.u.d;
  if (a.t != b.t) return false;
  switch (a.t) {
  case IV_UNDEF:
  case IV_NONE: return true;
  case IV_STR: return a.u.s.n == b.u.s.n && !memcmp(a.u.s.s, b.u.s.s, a.u.s.n);
  case IV_LIST:
  case IV_TUPLE: {
    size_t n = il_len(a.u.l);
    if (n != il_len(b.u.l)) return false;
    for (size_t i = 0; i < n; i++)
      if (!iv_eq(e, il_get(a.u.l, i), il_get(b.u.l, i))) return false;
    return true;
  }
  case IV_DICT: {
    size_t n = id_len(a.u.d);
    if (n != id_len(b.u.d)) return false;
    for (size_t i = 0; i < n; i++) {
      iv bv;
      if (!id_get(e, b.u.d, id_key(a.u.d, i), &bv) || !iv_eq(e, id_val(a.u.d, i), bv))
        return false;
    }
    return true;
  }
  case IV_DT:
    if (a.u.dt.date != b.u.dt.date || a.u.dt.aware != b.u.dt.aware) return false;
    return sl_dt_utc_us(&a.u.dt) == sl_dt_utc_us(&b.u.dt);
  case IV_TD:
    return a.u.td.us == b.u.td.us && a.u.td.years == b.u.td.years &&
           a.u.td.months == b.u.td.months;
  case IV_FUNC: return !strcmp(a.u.m.name, b.u.m.name);
  default: return false;
  }
}

int iv_cmp(ieval *e, iv a, iv b, uint32_t pos) {
  if (is_num(a) && is_num(b)) return num_cmp(a, b);
  if (a.t == b.t) {
    switch (a.t) {
    case IV_STR: return str_cmp(a, b);
    case IV_LIST:
    case IV_TUPLE: {
      if ((a.u.l->kind == LK_LIST) != (b.u.l->kind == LK_LIST)) break;
      size_t n = il_len(a.u.l), m = il_len(b.u.l);
      for (size_t i = 0; i < n && i < m; i++) {
        iv x = il_get(a.u.l, i), y = il_get(b.u.l, i);
        if (!iv_eq(e, x, y)) return iv_cmp(e, x, y, pos);
      }
      return n < m ? -1 : n > m;
    }
    case IV_DT:
      if (a.u.dt.date != b.u.dt.date) break;
      if (a.u.dt.aware != b.u.dt.aware)
        ierr(e, pos, "can't compare offset-naive and offset-aware datetimes");
      {
        int64_t x = sl_dt_utc_us(&a.u.dt), y = sl_dt_utc_us(&b.u.dt);
        return x < y ? -1 : x > y;
      }
    case IV_TD:
      if (a.u.td.years || a.u.td.months || b.u.td.years || b.u.td.months) break;
      return a.u.td.us < b.u.td.us ? -1 : a.u.td.us > b.u.td.us;
    case IV_UNDEF:
      ierr_undef(e, pos, "%s is undefined", a.u.undef ? a.u.undef : "a value");
    default: break;
    }
  }
  if (a.t == IV_UNDEF) ierr_undef(e, pos, "%s is undefined", a.u.undef ? a.u.undef : "a value");
  if (b.t == IV_UNDEF) ierr_undef(e, pos, "%s is undefined", b.u.undef ? b.u.undef : "a value");
  ierr(e, pos, "comparison not supported between instances of '%s' and '%s'", iv_typename(a),
       iv_typename(b));
}

/* ---- str / repr ---- */

void py_str_repr(const char *s, size_t n, sl_buf *out) {
  bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
  char q = (sq && !dq) ? '"' : '\'';
  sl_buf_putc(out, q);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == (unsigned char)q || c == '\\') {
      sl_buf_putc(out, '\\');
      sl_buf_putc(out, (char)c);
    } else if (c == '\n') ibput(out, "\\n", 2);
    else if (c == '\r') ibput(out, "\\r", 2);
    else if (c == '\t') ibput(out, "\\t", 2);
    else if (c < 0x20 || c == 0x7f) sl_buf_appendf(out, "\\x%02x", c);
    else if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
             (unsigned char)s[i + 1] <= 0xA0) { /* U+0080..U+00A0 are not printable */
      sl_buf_appendf(out, "\\x%02x", (unsigned char)s[i + 1]);
      i++;
    } else sl_buf_putc(out, (char)c);
  }
  sl_buf_putc(out, q);
}

static void td_repr(const sl_dur *d, sl_buf *out) {
  int64_t days = d->us / SL_US_PER_DAY, rem = d->us % SL_US_PER_DAY;
  if (rem < 0) rem += SL_US_PER_DAY, days--;
  int64_t secs = rem / 1000000, us = rem % 1000000;
  if (!days && !secs && !us) {
    sl_buf_appendf(out, "datetime.timedelta(0)");
    return;
  }
  sl_buf_appendf(out, "datetime.timedelta(");
  const char *sep = "";
  if (days) sl_buf_appendf(out, "days=%lld", (long long)days), sep = ", ";
  if (secs) sl_buf_appendf(out, "%sseconds=%lld", sep, (long long)secs), sep = ", ";
  if (us) sl_buf_appendf(out, "%smicroseconds=%lld", sep, (long long)us);
  sl_buf_putc(out, ')');
}

static void dt_repr(const sl_dt *dt, sl_buf *out) {
  sl_dt_fields f;
  sl_dt_split(dt, &f);
  if (dt->date) {
    sl_buf_appendf(out, "datetime.date(%lld, %d, %d)", (long long)f.year, f.month, f.day);
    return;
  }
  sl_buf_appendf(out, "datetime.datetime(%lld, %d, %d, %d, %d", (long long)f.year, f.month, f.day,
                 f.hour, f.minute);
  if (f.second || f.usec) sl_buf_appendf(out, ", %d", f.second);
  if (f.usec) sl_buf_appendf(out, ", %d", f.usec);
  if (dt->aware) {
    if (dt->off == 0) sl_buf_appendf(out, dt->pytz_utc ? ", tzinfo=<UTC>" : ", tzinfo=datetime.timezone.utc");
    else {
      sl_dur d = {0, 0, (int64_t)dt->off * SL_US_PER_S};
      sl_buf_appendf(out, ", tzinfo=datetime.timezone(");
      td_repr(&d, out);
      sl_buf_putc(out, ')');
    }
  }
  sl_buf_putc(out, ')');
}

static void str_or_repr(ieval *e, iv v, sl_buf *out, bool repr) {
  if (out->len > IEVAL_MAX_OUTPUT)
    ierr(e, 0, "rendered text exceeds %u MiB", IEVAL_MAX_OUTPUT >> 20);
  switch (v.t) {
  case IV_UNDEF:
    if (repr) ibput(out, "Undefined", 9);
    break;
  case IV_NONE: ibput(out, "None", 4); break;
  case IV_BOOL: sl_buf_appendf(out, "%s", v.u.b ? "True" : "False"); break;
  case IV_INT: sl_buf_appendf(out, "%lld", (long long)v.u.i); break;
  case IV_FLOAT: sl_py_float_repr(v.u.f, out); break;
  case IV_STR:
    if (repr) py_str_repr(v.u.s.s, v.u.s.n, out);
    else ibput(out, v.u.s.s, v.u.s.n);
    break;
  case IV_LIST:
  case IV_TUPLE: {
    size_t n = il_len(v.u.l);
    const char *open = "[", *close = "]";
    switch (v.t == IV_TUPLE ? 99 : v.u.l->kind) {
    case 99: open = "(", close = n == 1 ? ",)" : ")"; break;
    case LK_ITEMS: open = "dict_items([", close = "])"; break;
    case LK_KEYS: open = "dict_keys([", close = "])"; break;
    case LK_VALUES: open = "dict_values([", close = "])"; break;
    case LK_SET: open = n ? "{" : "set(", close = n ? "}" : ")"; break;
    case LK_GEN: sl_buf_appendf(out, "<generator object at 0x7f0000000000>"); return;
    }
    sl_buf_appendf(out, "%s", open);
    for (size_t i = 0; i < n; i++) {
      if (i) ibput(out, ", ", 2);
      str_or_repr(e, il_get(v.u.l, i), out, true);
    }
    sl_buf_appendf(out, "%s", close);
    break;
  }
  case IV_DICT:
  case IV_NS: {
    size_t n = id_len(v.u.d);
    if (v.t == IV_NS) sl_buf_appendf(out, "<Namespace ");
    sl_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
      if (i) ibput(out, ", ", 2);
      str_or_repr(e, id_key(v.u.d, i), out, true);
      ibput(out, ": ", 2);
      str_or_repr(e, id_val(v.u.d, i), out, true);
    }
    sl_buf_putc(out, '}');
    if (v.t == IV_NS) sl_buf_putc(out, '>');
    break;
  }
  case IV_DT:
    if (repr) dt_repr(&v.u.dt, out);
    else sl_dt_str(&v.u.dt, ' ', out);
    break;
  case IV_TD:
    if (v.u.td.years || v.u.td.months) {
      if (repr) {
        sl_buf_appendf(out, "isodate.duration.Duration(%lld, %lld, 0, years=%lld, months=%lld)",
                       (long long)(v.u.td.us / SL_US_PER_DAY),
                       (long long)(v.u.td.us % SL_US_PER_DAY / SL_US_PER_S),
                       (long long)v.u.td.years, (long long)v.u.td.months);
      } else sl_dur_str(&v.u.td, out);
    } else if (repr) td_repr(&v.u.td, out);
    else sl_td_str(v.u.td.us, out);
    break;
  case IV_FUNC: sl_buf_appendf(out, "<function %s at 0x7f0000000000>", v.u.m.name); break;
  case IV_METHOD:
    sl_buf_appendf(out, "<built-in method %s of %s object at 0x7f0000000000>", v.u.m.name,
                   v.u.m.self ? iv_typename(*v.u.m.self) : "?");
    break;
  case IV_LOOP: sl_buf_appendf(out, "<LoopContext>"); break;
  }
}

void iv_str_to(ieval *e, iv v, sl_buf *out) {
  cur_eval = e;
  str_or_repr(e, v, out, false);
}

void iv_repr_to(ieval *e, iv v, sl_buf *out) {
  cur_eval = e;
  str_or_repr(e, v, out, true);
}

iv iv_to_str(ieval *e, iv v) {
  if (v.t == IV_STR) return v;
  sl_buf *b = ibuf_push(e);
  iv_str_to(e, v, b);
  iv r = iv_strbuf(e, b);
  ibuf_pop(e);
  return r;
}

sl_buf *ibuf_push(ieval *e) {
  if (e->nbufs == (int)(sizeof e->bufs / sizeof e->bufs[0])) ierr(e, 0, "template nesting too deep");
  sl_buf *b = &e->bufs[e->nbufs++];
  sl_buf_init(b, IEVAL_MAX_OUTPUT + 4096);
  return b;
}

void ibuf_pop(ieval *e) { sl_buf_dispose(&e->bufs[--e->nbufs]); }

void ieval_set_current(ieval *e);
void ieval_set_current(ieval *e) { cur_eval = e; }

/* ---- JSON ---- */

void py_json_str(const char *s, size_t n, sl_buf *out) {
  sl_buf_putc(out, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') sl_buf_putc(out, '\\'), sl_buf_putc(out, (char)c);
    else if (c == '\n') ibput(out, "\\n", 2);
    else if (c == '\r') ibput(out, "\\r", 2);
    else if (c == '\t') ibput(out, "\\t", 2);
    else if (c == '\b') ibput(out, "\\b", 2);
    else if (c == '\f') ibput(out, "\\f", 2);
    else if (c < 0x20 || c == 0x7f) sl_buf_appendf(out, "\\u%04x", c);
    else if (c < 0x80) sl_buf_putc(out, (char)c);
    else { /* ensure_ascii: \uXXXX, surrogate pairs above the BMP */
      uint32_t cp;
      int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
      cp = c & (0x3F >> extra);
      for (int k = 0; k < extra && i + 1 < n; k++) cp = (cp << 6) | ((unsigned char)s[++i] & 0x3F);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        sl_buf_appendf(out, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
      } else sl_buf_appendf(out, "\\u%04x", cp);
    }
  }
  sl_buf_putc(out, '"');
}

static int key_sort_cmp(const void *a, const void *b) {
  const iv *x = *(iv *const *)a, *y = *(iv *const *)b;
  if (x->t == IV_STR && y->t == IV_STR) return str_cmp(*x, *y);
  return 0;
}

bool iv_json_dumps(ieval *e, iv v, bool sort_keys, sl_buf *out) {
  cur_eval = e;
  switch (v.t) {
  case IV_NONE: ibput(out, "null", 4); return true;
  case IV_BOOL: sl_buf_appendf(out, v.u.b ? "true" : "false"); return true;
  case IV_INT: sl_buf_appendf(out, "%lld", (long long)v.u.i); return true;
  case IV_FLOAT:
    if (isnan(v.u.f)) sl_buf_appendf(out, "NaN");
    else if (isinf(v.u.f)) sl_buf_appendf(out, v.u.f < 0 ? "-Infinity" : "Infinity");
    else sl_py_float_repr(v.u.f, out);
    return true;
  case IV_STR: py_json_str(v.u.s.s, v.u.s.n, out); return true;
  case IV_LIST:
  case IV_TUPLE: {
    if (v.u.l->kind != LK_LIST) return false;
    size_t n = il_len(v.u.l);
    sl_buf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
      if (i) ibput(out, ", ", 2);
      if (!iv_json_dumps(e, il_get(v.u.l, i), sort_keys, out)) return false;
    }
    sl_buf_putc(out, ']');
    return true;
  }
  case IV_DICT: {
    size_t n = id_len(v.u.d);
    if (n) id_key(v.u.d, 0);
    iv **order = iar_alloc(e, (n ? n : 1) * sizeof(iv *));
    for (size_t i = 0; i < n; i++) order[i] = &v.u.d->keys[i];
    if (sort_keys) qsort(order, n, sizeof *order, key_sort_cmp);
    sl_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
      size_t k = (size_t)(order[i] - v.u.d->keys);
      iv key = v.u.d->keys[k];
      if (i) ibput(out, ", ", 2);
      if (key.t == IV_STR) py_json_str(key.u.s.s, key.u.s.n, out);
      else if (key.t == IV_INT || key.t == IV_FLOAT || key.t == IV_BOOL || key.t == IV_NONE) {
        sl_buf_putc(out, '"');
        if (key.t == IV_BOOL) sl_buf_appendf(out, key.u.b ? "true" : "false");
        else if (key.t == IV_NONE) sl_buf_appendf(out, "null");
        else iv_str_to(e, key, out);
        sl_buf_putc(out, '"');
      } else return false;
      ibput(out, ": ", 2);
      if (!iv_json_dumps(e, v.u.d->vals[k], sort_keys, out)) return false;
    }
    sl_buf_putc(out, '}');
    return true;
  }
  default: return false;
  }
}

json_t *iv_to_json(ieval *e, iv v, bool *ok) {
  cur_eval = e;
  switch (v.t) {
  case IV_NONE: return json_null();
  case IV_BOOL: return json_boolean(v.u.b);
  case IV_INT: return json_integer(v.u.i);
  case IV_FLOAT:
    if (!isfinite(v.u.f)) break;
    return json_real(v.u.f);
  case IV_STR: return json_stringn_nocheck(v.u.s.s, v.u.s.n);
  case IV_LIST:
  case IV_TUPLE: {
    if (v.u.l->j) return json_deep_copy(v.u.l->j);
    json_t *a = json_array();
    for (size_t i = 0; i < v.u.l->n; i++) {
      json_t *x = iv_to_json(e, v.u.l->items[i], ok);
      if (!x) {
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, x);
    }
    return a;
  }
  case IV_DICT: {
    if (v.u.d->j) return json_deep_copy(v.u.d->j);
    json_t *o = json_object();
    for (size_t i = 0; i < v.u.d->n; i++) {
      iv k = iv_to_str(e, v.u.d->keys[i]);
      json_t *x = iv_to_json(e, v.u.d->vals[i], ok);
      if (!x) {
        json_decref(o);
        return NULL;
      }
      json_object_setn_new_nocheck(o, k.u.s.s, k.u.s.n, x);
    }
    return o;
  }
  default: break;
  }
  *ok = false;
  return NULL;
}
