/* Interpolation evaluator and the public sl_tmpl API: statements, Jinja's
 * getattr/getitem rules, Undefined, Python operators, then the CDK's
 * text → literal_eval → accepted-type step. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interp_int.h"

void itmpl_pos(const char *src, uint32_t pos, int *line, int *col);
void ieval_set_current(ieval *e);

__attribute__((noreturn)) static void ierr_v(ieval *e, uint32_t pos, bool undef, const char *fmt, va_list ap) {
  char msg[600];
  vsnprintf(msg, sizeof msg, fmt, ap);
  int line, col;
  itmpl_pos(e->t->src, pos, &line, &col);
  e->undefined_error = undef;
  sl_err_set(e->err, SL_ECONFIG, "%s: template error at line %d column %d: %s (template: %.200s)",
             e->t->where, line, col, msg, e->t->src);
  longjmp(e->jb, 1);
}

void ierr(ieval *e, uint32_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ierr_v(e, pos, false, fmt, ap);
}

void ierr_undef(ieval *e, uint32_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ierr_v(e, pos, true, fmt, ap);
}

/* ---- clock ---- */

static int64_t fake_now;
static int fake_env = -1;

void sl_tmpl_set_clock(int64_t unix_us) { fake_now = unix_us; }

int64_t ieval_now_us(void) {
  if (fake_now) return fake_now;
  if (fake_env < 0) {
    const char *s = getenv("SLUICE_FAKE_NOW");
    sl_dt dt;
    char em[128];
    fake_env = 0;
    if (s && *s && sl_dt_isoparse(s, strlen(s), &dt, em, sizeof em) == 0) {
      fake_now = sl_dt_utc_us(&dt);
      fake_env = 1;
      return fake_now;
    }
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * SL_US_PER_S + ts.tv_nsec / 1000;
}

/* ---- variables ---- */

static bool var_get(ieval *e, const char *name, iv *out) {
  for (size_t i = e->nvars; i-- > 0;)
    if (!strcmp(e->vars[i].name, name)) {
      *out = e->vars[i].v;
      return true;
    }
  return false;
}

static void var_set(ieval *e, const char *name, iv v) {
  if (e->nvars == e->capvars) {
    size_t nc = e->capvars ? e->capvars * 2 : 16;
    ivar *nv = iar_alloc(e, nc * sizeof(ivar));
    if (e->nvars) memcpy(nv, e->vars, e->nvars * sizeof(ivar));
    e->vars = nv, e->capvars = nc;
  }
  e->vars[e->nvars].name = name;
  e->vars[e->nvars++].v = v;
}

static bool ctx_get(ieval *e, const char *name, iv *out) {
  json_t *j = json_object_get(e->ctx, name);
  if (!j && (!strcmp(name, "stream_interval") || !strcmp(name, "stream_partition")))
    j = json_object_get(e->ctx, "stream_slice");
  if (!j) return false;
  *out = iv_from_json(e, j);
  return true;
}

/* ---- getattr / getitem ---- */

static iv undef_attr(ieval *e, iv obj, const char *name) {
  char *h = iar_alloc(e, strlen(name) + 64);
  sprintf(h, "'%s object' has no attribute '%s'", iv_typename(obj), name);
  return iv_undef(h);
}

static void need_defined(ieval *e, uint32_t pos, iv v) {
  if (v.t == IV_UNDEF) ierr_undef(e, pos, "%s", v.u.undef ? v.u.undef : "value is undefined");
}

iv iv_getattr(ieval *e, uint32_t pos, iv obj, const char *name) {
  need_defined(e, pos, obj);
  iv out;
  if (name[0] == '_') { /* Python attributes like __class__ are hidden by the sandbox; dict keys are not */
    if (obj.t == IV_DICT && id_getz(obj.u.d, name, strlen(name), &out)) return out;
    return undef_attr(e, obj, name);
  }
  if (is_method_name(obj, name)) {
    iv m = {.t = IV_METHOD};
    iv *self = iar_alloc(e, sizeof(iv));
    *self = obj;
    m.u.m.self = self;
    m.u.m.name = name;
    return m;
  }
  if (iattr(e, obj, name, &out)) return out;
  if (obj.t == IV_DICT && id_getz(obj.u.d, name, strlen(name), &out)) return out;
  return undef_attr(e, obj, name);
}

static int64_t norm_index(ieval *e, uint32_t pos, int64_t i, size_t n, bool *ok) {
  if (i < 0) i += (int64_t)n;
  *ok = i >= 0 && (size_t)i < n;
  return i;
}

iv iv_getitem(ieval *e, uint32_t pos, iv obj, iv key) {
  need_defined(e, pos, obj);
  iv out;
  switch (obj.t) {
  case IV_DICT:
  case IV_NS:
    /* an unhashable key is a TypeError, which Jinja turns into Undefined */
    if (key.t != IV_LIST && key.t != IV_DICT && key.t != IV_NS && id_get(e, obj.u.d, key, &out)) return out;
    break;
  case IV_LIST:
  case IV_TUPLE:
    if (key.t == IV_INT || key.t == IV_BOOL) {
      bool ok;
      int64_t i = norm_index(e, pos, key.t == IV_INT ? key.u.i : key.u.b, il_len(obj.u.l), &ok);
      if (ok && obj.u.l->kind == LK_LIST) return il_get(obj.u.l, (size_t)i);
    }
    break;
  case IV_STR:
    if (key.t == IV_INT || key.t == IV_BOOL) {
      size_t cl = utf8_len(obj.u.s.s, obj.u.s.n);
      bool ok;
      int64_t i = norm_index(e, pos, key.t == IV_INT ? key.u.i : key.u.b, cl, &ok);
      if (ok) {
        size_t a = utf8_off(obj.u.s.s, obj.u.s.n, (size_t)i),
               b = utf8_off(obj.u.s.s, obj.u.s.n, (size_t)i + 1);
        return iv_str(obj.u.s.s + a, b - a);
      }
    }
    break;
  default: break;
  }
  /* jinja: a failed subscript with a string tries the attribute */
  if (key.t == IV_STR) {
    const char *nm = iar_strdup(e, key.u.s.s, key.u.s.n);
    if (nm[0] != '_' && (is_method_name(obj, nm) || (obj.t != IV_DICT && iattr(e, obj, nm, &out))))
      return iv_getattr(e, pos, obj, nm);
    char *h = iar_alloc(e, key.u.s.n + 64);
    sprintf(h, "'%s object' has no attribute '%s'", iv_typename(obj), nm);
    return iv_undef(h);
  }
  sl_buf *b = ibuf_push(e);
  iv_repr_to(e, key, b);
  char *h = iar_alloc(e, b->len + 64);
  snprintf(h, b->len + 64, "'%s object' has no element %.*s", iv_typename(obj), (int)b->len, b->data);
  ibuf_pop(e);
  return iv_undef(h);
}

static iv do_slice(ieval *e, const inode *n, iv obj) {
  need_defined(e, n->pos, obj);
  int64_t idx[3] = {0, 0, 1};
  bool have[3] = {false, false, false};
  for (int k = 0; k < 3; k++) {
    if (!n->kids[k]) continue;
    iv v = ieval_node(e, n->kids[k]);
    if (v.t == IV_NONE) continue;
    idx[k] = iv_as_int(e, n->pos, v, "slice index");
    have[k] = true;
  }
  if (have[2] && idx[2] == 0) ierr(e, n->pos, "slice step cannot be zero");
  bool isstr = obj.t == IV_STR;
  if (!isstr && obj.t != IV_LIST && obj.t != IV_TUPLE)
    ierr(e, n->pos, "'%s' object is not subscriptable", iv_typename(obj));
  int64_t len = isstr ? (int64_t)utf8_len(obj.u.s.s, obj.u.s.n) : (int64_t)il_len(obj.u.l);
  int64_t step = have[2] ? idx[2] : 1, start, stop;
  if (step > 0) {
    start = have[0] ? idx[0] : 0;
    stop = have[1] ? idx[1] : len;
    if (start < 0) start = start + len < 0 ? 0 : start + len;
    if (start > len) start = len;
    if (stop < 0) stop = stop + len < 0 ? 0 : stop + len;
    if (stop > len) stop = len;
  } else {
    start = have[0] ? idx[0] : len - 1;
    stop = have[1] ? idx[1] : -1 - len;
    if (start < 0) start = start + len < 0 ? -1 : start + len;
    if (start >= len) start = len - 1;
    if (stop < 0) stop = stop + len < 0 ? -1 : stop + len;
    if (stop >= len) stop = len - 1;
  }
  if (isstr) {
    sl_buf *b = ibuf_push(e);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      size_t a = utf8_off(obj.u.s.s, obj.u.s.n, (size_t)i), z = utf8_off(obj.u.s.s, obj.u.s.n, (size_t)i + 1);
      ibput(b, obj.u.s.s + a, z - a);
    }
    iv r = iv_strbuf(e, b);
    ibuf_pop(e);
    return r;
  }
  iv r = iv_list_new(e, obj.t, 4);
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) il_push(e, r.u.l, il_get(obj.u.l, (size_t)i));
  return r;
}

/* ---- helpers used by the function modules ---- */

int64_t iv_as_int(ieval *e, uint32_t pos, iv v, const char *what) {
  if (v.t == IV_INT) return v.u.i;
  if (v.t == IV_BOOL) return v.u.b;
  need_defined(e, pos, v);
  ierr(e, pos, "%s must be an integer, not '%s'", what, iv_typename(v));
}

const char *iv_as_cstr(ieval *e, uint32_t pos, iv v, const char *what) {
  need_defined(e, pos, v);
  if (v.t != IV_STR) ierr(e, pos, "%s must be a string, not '%s'", what, iv_typename(v));
  return iar_strdup(e, v.u.s.s, v.u.s.n);
}

iv iv_iter_list(ieval *e, uint32_t pos, iv v) {
  switch (v.t) {
  case IV_UNDEF: return iv_list_new(e, IV_LIST, 0); /* Undefined iterates as empty */
  case IV_LIST:
  case IV_TUPLE: return v;
  case IV_DICT:
  case IV_NS: {
    size_t n = id_len(v.u.d);
    iv l = iv_list_new(e, IV_LIST, n);
    for (size_t i = 0; i < n; i++) il_push(e, l.u.l, id_key(v.u.d, i));
    return l;
  }
  case IV_STR: {
    iv l = iv_list_new(e, IV_LIST, v.u.s.n);
    size_t i = 0;
    while (i < v.u.s.n) {
      size_t j = i + 1;
      while (j < v.u.s.n && ((unsigned char)v.u.s.s[j] & 0xC0) == 0x80) j++;
      il_push(e, l.u.l, iv_str(v.u.s.s + i, j - i));
      i = j;
    }
    return l;
  }
  default: ierr(e, pos, "'%s' object is not iterable", iv_typename(v));
  }
}

bool iv_contains(ieval *e, uint32_t pos, iv hay, iv needle) {
  switch (hay.t) {
  case IV_STR:
    if (needle.t != IV_STR) {
      need_defined(e, pos, needle);
      ierr(e, pos, "'in <string>' requires string as left operand, not %s", iv_typename(needle));
    }
    return needle.u.s.n == 0 || memmem(hay.u.s.s, hay.u.s.n, needle.u.s.s, needle.u.s.n) != NULL;
  case IV_DICT:
  case IV_NS: {
    iv x;
    return id_get(e, hay.u.d, needle, &x);
  }
  case IV_LIST:
  case IV_TUPLE: {
    size_t n = il_len(hay.u.l);
    for (size_t i = 0; i < n; i++)
      if (iv_eq(e, il_get(hay.u.l, i), needle)) return true;
    return false;
  }
  case IV_UNDEF: return false; /* Undefined iterates as empty */
  default: ierr(e, pos, "argument of type '%s' is not iterable", iv_typename(hay));
  }
}

/* ---- operators ---- */

static bool isnum(iv v) { return v.t == IV_INT || v.t == IV_FLOAT || v.t == IV_BOOL; }
static double fv(iv v) { return v.t == IV_FLOAT ? v.u.f : v.t == IV_INT ? (double)v.u.i : v.u.b; }
static int64_t ivv(iv v) { return v.t == IV_INT ? v.u.i : v.t == IV_BOOL ? v.u.b : 0; }

static iv repeat(ieval *e, uint32_t pos, iv seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.t == IV_STR) {
    if (seq.u.s.n && (uint64_t)times > IEVAL_MAX_OUTPUT / seq.u.s.n) ierr(e, pos, "repeated string is too long");
    char *d = iar_alloc(e, seq.u.s.n * (size_t)times + 1);
    for (int64_t i = 0; i < times; i++) memcpy(d + (size_t)i * seq.u.s.n, seq.u.s.s, seq.u.s.n);
    return iv_str(d, seq.u.s.n * (size_t)times);
  }
  size_t n = il_len(seq.u.l);
  if (n && (uint64_t)times > 1000000 / n) ierr(e, pos, "repeated list is too long");
  iv r = iv_list_new(e, seq.t, n * (size_t)times + 1);
  for (int64_t k = 0; k < times; k++)
    for (size_t i = 0; i < n; i++) il_push(e, r.u.l, il_get(seq.u.l, i));
  return r;
}

static iv dt_plus(ieval *e, uint32_t pos, sl_dt dt, const sl_dur *d, int sign) {
  sl_dt r;
  if (!sl_dt_add_dur(&dt, d, sign, &r)) ierr(e, pos, "date value out of range");
  return iv_dt(r);
}

iv iv_binop(ieval *e, uint32_t pos, int op, iv a, iv b) {
  if (a.t == IV_UNDEF) need_defined(e, pos, a);
  if (b.t == IV_UNDEF) need_defined(e, pos, b);
  if (isnum(a) && isnum(b)) {
    bool fl = a.t == IV_FLOAT || b.t == IV_FLOAT;
    int64_t x = ivv(a), y = ivv(b), r;
    double fx = fv(a), fy = fv(b);
    switch (op) {
    case OP_ADD:
      if (fl) return iv_float(fx + fy);
      if (__builtin_add_overflow(x, y, &r)) goto ovf;
      return iv_int(r);
    case OP_SUB:
      if (fl) return iv_float(fx - fy);
      if (__builtin_sub_overflow(x, y, &r)) goto ovf;
      return iv_int(r);
    case OP_MUL:
      if (fl) return iv_float(fx * fy);
      if (__builtin_mul_overflow(x, y, &r)) goto ovf;
      return iv_int(r);
    case OP_DIV:
      if (fy == 0) ierr(e, pos, "division by zero");
      return iv_float(fx / fy);
    case OP_FDIV:
    case OP_MOD:
      if (fl ? fy == 0 : y == 0) ierr(e, pos, "%s by zero", op == OP_MOD ? "modulo" : "integer division or modulo");
      if (fl) {
        double m = fmod(fx, fy);
        if (m && ((m < 0) != (fy < 0))) m += fy;
        if (op == OP_MOD) return iv_float(m == 0 ? copysign(0.0, fy) : m);
        return iv_float(floor((fx - m) / fy + 0.5 * 0) == (fx - m) / fy ? (fx - m) / fy : floor(fx / fy));
      }
      if (x == INT64_MIN && y == -1) goto ovf;
      {
        int64_t q = x / y, m = x % y;
        if (m && ((m < 0) != (y < 0))) q--, m += y;
        return iv_int(op == OP_MOD ? m : q);
      }
    case OP_POW:
      if (!fl && y >= 0) {
        int64_t acc = 1, base = x, ex = y;
        while (ex) {
          if (ex & 1 && __builtin_mul_overflow(acc, base, &acc)) goto ovf;
          ex >>= 1;
          if (ex && __builtin_mul_overflow(base, base, &base)) goto ovf;
        }
        return iv_int(acc);
      }
      if (fx == 0 && fy < 0) ierr(e, pos, "0.0 cannot be raised to a negative power");
      return iv_float(pow(fx, fy));
    }
  }
  switch (op) {
  case OP_ADD:
    if (a.t == IV_STR && b.t == IV_STR) {
      char *d = iar_alloc(e, a.u.s.n + b.u.s.n + 1);
      memcpy(d, a.u.s.s, a.u.s.n);
      memcpy(d + a.u.s.n, b.u.s.s, b.u.s.n);
      return iv_str(d, a.u.s.n + b.u.s.n);
    }
    if ((a.t == IV_LIST || a.t == IV_TUPLE) && a.t == b.t && a.u.l->kind == LK_LIST && b.u.l->kind == LK_LIST) {
      size_t n = il_len(a.u.l), m = il_len(b.u.l);
      iv r = iv_list_new(e, a.t, n + m + 1);
      for (size_t i = 0; i < n; i++) il_push(e, r.u.l, il_get(a.u.l, i));
      for (size_t i = 0; i < m; i++) il_push(e, r.u.l, il_get(b.u.l, i));
      return r;
    }
    if (a.t == IV_DT && b.t == IV_TD) return dt_plus(e, pos, a.u.dt, &b.u.td, 1);
    if (a.t == IV_TD && b.t == IV_DT) return dt_plus(e, pos, b.u.dt, &a.u.td, 1);
    if (a.t == IV_TD && b.t == IV_TD) {
      sl_dur d = {a.u.td.years + b.u.td.years, a.u.td.months + b.u.td.months, a.u.td.us + b.u.td.us};
      return iv_dur(d);
    }
    break;
  case OP_SUB:
    if (a.t == IV_DT && b.t == IV_TD) return dt_plus(e, pos, a.u.dt, &b.u.td, -1);
    if (a.t == IV_DT && b.t == IV_DT && a.u.dt.date == b.u.dt.date) {
      if (a.u.dt.aware != b.u.dt.aware) ierr(e, pos, "can't subtract offset-naive and offset-aware datetimes");
      return iv_td(sl_dt_utc_us(&a.u.dt) - sl_dt_utc_us(&b.u.dt));
    }
    if (a.t == IV_TD && b.t == IV_TD) {
      sl_dur d = {a.u.td.years - b.u.td.years, a.u.td.months - b.u.td.months, a.u.td.us - b.u.td.us};
      return iv_dur(d);
    }
    break;
  case OP_MUL:
    if ((a.t == IV_STR || a.t == IV_LIST || a.t == IV_TUPLE) && (b.t == IV_INT || b.t == IV_BOOL))
      return repeat(e, pos, a, ivv(b));
    if ((b.t == IV_STR || b.t == IV_LIST || b.t == IV_TUPLE) && (a.t == IV_INT || a.t == IV_BOOL))
      return repeat(e, pos, b, ivv(a));
    if (a.t == IV_TD && (b.t == IV_INT || b.t == IV_BOOL) && !a.u.td.years && !a.u.td.months) {
      int64_t r;
      if (__builtin_mul_overflow(a.u.td.us, ivv(b), &r)) goto ovf;
      return iv_td(r);
    }
    break;
  case OP_MOD:
    if (a.t == IV_STR) return py_percent_format(e, pos, a, b);
    break;
  case OP_DIV:
  case OP_FDIV:
    if (a.t == IV_TD && b.t == IV_TD && !a.u.td.years && !b.u.td.years && !a.u.td.months && !b.u.td.months) {
      if (!b.u.td.us) ierr(e, pos, "division by zero");
      if (op == OP_DIV) return iv_float((double)a.u.td.us / (double)b.u.td.us);
      int64_t q = a.u.td.us / b.u.td.us;
      if ((a.u.td.us % b.u.td.us) && ((a.u.td.us < 0) != (b.u.td.us < 0))) q--;
      return iv_int(q);
    }
    break;
  }
  {
    static const char *const names[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    ierr(e, pos, "unsupported operand type(s) for %s: '%s' and '%s'", op <= OP_POW ? names[op] : "?",
         iv_typename(a), iv_typename(b));
  }
ovf:
  ierr(e, pos, "integer overflow (values beyond 64 bits are not supported)");
}

static bool compare(ieval *e, uint32_t pos, int op, iv a, iv b) {
  switch (op) {
  case OP_EQ: return iv_eq(e, a, b);
  case OP_NE: return !iv_eq(e, a, b);
  case OP_IN: return iv_contains(e, pos, b, a);
  case OP_NOTIN: return !iv_contains(e, pos, b, a);
  }
  int c = iv_cmp(e, a, b, pos);
  if (c == 2) return false; /* NaN */
  switch (op) {
  case OP_LT: return c < 0;
  case OP_LE: return c <= 0;
  case OP_GT: return c > 0;
  default: return c >= 0;
  }
}

/* ---- evaluation ---- */

static void eval_args(ieval *e, const inode *n, iv **args, size_t *na, const char ***kw, size_t *nkw) {
  size_t pos_n = 0, kw_n = 0;
  for (size_t i = 0; i < n->nkids; i++) {
    if (n->kwnames[i]) kw_n++;
    else pos_n++;
  }
  iv *a = iar_alloc(e, (n->nkids + 1) * sizeof(iv));
  const char **k = iar_alloc(e, (kw_n + 1) * sizeof(char *));
  size_t pi = 0, ki = 0;
  for (size_t i = 0; i < n->nkids; i++)
    if (!n->kwnames[i]) a[pi++] = ieval_node(e, n->kids[i]);
  for (size_t i = 0; i < n->nkids; i++)
    if (n->kwnames[i]) {
      k[ki] = n->kwnames[i];
      a[pos_n + ki++] = ieval_node(e, n->kids[i]);
    }
  *args = a, *na = pos_n, *kw = k, *nkw = kw_n;
}

static void assign(ieval *e, const inode *target, iv v) {
  if (target->t == N_NAME) {
    var_set(e, target->name, v);
  } else if (target->t == N_ATTR) {
    iv ns = ieval_node(e, target->a);
    if (ns.t != IV_NS) ierr(e, target->pos, "can only assign attributes of a namespace(), not '%s'", iv_typename(ns));
    id_set(e, ns.u.d, iv_strz(e, target->name), v);
  } else { /* tuple unpacking */
    iv l = iv_iter_list(e, target->pos, v);
    size_t n = il_len(l.u.l);
    if (n != target->nkids)
      ierr(e, target->pos, n > target->nkids ? "too many values to unpack (expected %zu)" : "not enough values to unpack (expected %zu)",
           target->nkids);
    for (size_t i = 0; i < n; i++) assign(e, target->kids[i], il_get(l.u.l, i));
  }
}

static void exec_body(ieval *e, inode **kids, size_t n);

static void exec_for(ieval *e, const inode *n) {
  iv seq = iv_iter_list(e, n->pos, ieval_node(e, n->a));
  size_t len = il_len(seq.u.l);
  iv items = seq;
  if (n->b) { /* loop filter: applied before loop.length is known */
    items = iv_list_new(e, IV_LIST, len + 1);
    size_t mark = e->nvars;
    for (size_t i = 0; i < len; i++) {
      iv x = il_get(seq.u.l, i);
      assign(e, n->c, x);
      if (iv_truthy(e, ieval_node(e, n->b), n->pos)) il_push(e, items.u.l, x);
      e->nvars = mark;
    }
    len = il_len(items.u.l);
  }
  if (!len) {
    exec_body(e, n->kids2, n->nkids2);
    return;
  }
  iv loop = iv_dict_new(e, 4);
  loop.t = IV_LOOP;
  iv len_v = iv_int((int64_t)len);
  for (size_t i = 0; i < len; i++) {
    if (++e->ops > IEVAL_MAX_OPS) ierr(e, n->pos, "template evaluation exceeded its work limit");
    size_t mark = e->nvars;
    iv x = il_get(items.u.l, i);
    loop.u.d->n = 0;
    id_set(e, loop.u.d, iv_str("index0", 6), iv_int((int64_t)i));
    id_set(e, loop.u.d, iv_str("index", 5), iv_int((int64_t)i + 1));
    id_set(e, loop.u.d, iv_str("revindex", 8), iv_int((int64_t)(len - i)));
    id_set(e, loop.u.d, iv_str("revindex0", 9), iv_int((int64_t)(len - i - 1)));
    id_set(e, loop.u.d, iv_str("first", 5), iv_bool(i == 0));
    id_set(e, loop.u.d, iv_str("last", 4), iv_bool(i + 1 == len));
    id_set(e, loop.u.d, iv_str("length", 6), len_v);
    id_set(e, loop.u.d, iv_str("previtem", 8), i ? il_get(items.u.l, i - 1) : iv_undef("there is no previous item"));
    id_set(e, loop.u.d, iv_str("nextitem", 8), i + 1 < len ? il_get(items.u.l, i + 1) : iv_undef("there is no next item"));
    id_set(e, loop.u.d, iv_str("depth", 5), iv_int(1));
    id_set(e, loop.u.d, iv_str("depth0", 6), iv_int(0));
    var_set(e, "loop", loop);
    assign(e, n->c, x);
    exec_body(e, n->kids, n->nkids);
    e->nvars = mark; /* names set inside a loop body do not leak out */
  }
}

static void exec_body(ieval *e, inode **kids, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const inode *s = kids[i];
    switch (s->t) {
    case N_TEXT: ibput(e->out, s->cval.u.s.s, s->cval.u.s.n); break;
    case N_OUT: {
      iv v = ieval_node(e, s->a);
      if (v.t == IV_UNDEF && !e->undef_seen) {
        e->undef_seen = v.u.undef ? v.u.undef : "a value is undefined";
        e->undef_pos = s->a->pos;
      }
      iv_str_to(e, v, e->out);
      break;
    }
    case N_IF:
      if (iv_truthy(e, ieval_node(e, s->a), s->pos)) exec_body(e, s->kids, s->nkids);
      else exec_body(e, s->kids2, s->nkids2);
      break;
    case N_FOR: exec_for(e, s); break;
    case N_SET: assign(e, s->c, ieval_node(e, s->a)); break;
    case N_SETBLOCK: {
      sl_buf *saved = e->out, *tmp = ibuf_push(e);
      e->out = tmp;
      exec_body(e, s->kids, s->nkids);
      e->out = saved;
      iv v = iv_strbuf(e, tmp);
      ibuf_pop(e);
      assign(e, s->c, v);
      break;
    }
    }
    if (e->out->len > IEVAL_MAX_OUTPUT) ierr(e, s->pos, "rendered text exceeds %u MiB", IEVAL_MAX_OUTPUT >> 20);
  }
}

iv ieval_node(ieval *e, const inode *n) {
  if (++e->depth > IEVAL_MAX_DEPTH) ierr(e, n->pos, "template nesting too deep");
  if (++e->ops > IEVAL_MAX_OPS) ierr(e, n->pos, "template evaluation exceeded its work limit");
  iv r;
  switch (n->t) {
  case N_CONST: r = n->cval; break;
  case N_NAME:
    if (var_get(e, n->name, &r) || ctx_get(e, n->name, &r) || iglobal_value(e, n->name, &r)) break;
    if (is_global_name(n->name)) {
      r.t = IV_FUNC;
      r.u.m.name = n->name;
      r.u.m.self = NULL;
      break;
    }
    r = iv_undef(NULL);
    {
      char *h = iar_alloc(e, strlen(n->name) + 32);
      sprintf(h, "'%s' is undefined", n->name);
      r.u.undef = h;
    }
    break;
  case N_ATTR: r = iv_getattr(e, n->pos, ieval_node(e, n->a), n->name); break;
  case N_ITEM: {
    iv o = ieval_node(e, n->a);
    r = iv_getitem(e, n->pos, o, ieval_node(e, n->b));
    break;
  }
  case N_SLICE: r = do_slice(e, n, ieval_node(e, n->a)); break;
  case N_CALL: {
    iv *args;
    size_t na, nkw;
    const char **kw;
    if (n->a->t == N_ATTR) { /* method call: obj.name(...) */
      iv obj = ieval_node(e, n->a->a);
      need_defined(e, n->a->pos, obj);
      if (is_method_name(obj, n->a->name)) {
        eval_args(e, n, &args, &na, &kw, &nkw);
        r = icall_method(e, n, obj, n->a->name, args, na, kw, nkw);
        break;
      }
      iv f = iv_getattr(e, n->a->pos, obj, n->a->name);
      if (f.t == IV_UNDEF) ierr_undef(e, n->pos, "%s", f.u.undef);
      ierr(e, n->pos, "'%s' object is not callable", iv_typename(f));
    }
    iv f = ieval_node(e, n->a);
    eval_args(e, n, &args, &na, &kw, &nkw);
    if (f.t == IV_FUNC) r = icall_global(e, n, f.u.m.name, args, na, kw, nkw);
    else if (f.t == IV_METHOD) r = icall_method(e, n, *f.u.m.self, f.u.m.name, args, na, kw, nkw);
    else if (f.t == IV_UNDEF) ierr_undef(e, n->pos, "%s", f.u.undef ? f.u.undef : "value is undefined");
    else if (f.t == IV_LOOP) ierr(e, n->pos, "recursive loops are not supported");
    else ierr(e, n->pos, "'%s' object is not callable", iv_typename(f));
    break;
  }
  case N_FILTER: {
    iv self = ieval_node(e, n->a);
    iv *args;
    size_t na, nkw;
    const char **kw;
    eval_args(e, n, &args, &na, &kw, &nkw);
    r = icall_filter(e, n, n->name, self, args, na, kw, nkw);
    break;
  }
  case N_TEST: {
    iv self = ieval_node(e, n->a);
    iv *args;
    size_t na, nkw;
    const char **kw;
    eval_args(e, n, &args, &na, &kw, &nkw);
    r = iv_bool(icall_test(e, n, n->name, self, args, na) != n->negate);
    break;
  }
  case N_UNARY: {
    iv a = ieval_node(e, n->a);
    need_defined(e, n->pos, a);
    if (n->op == OP_NEG) {
      if (a.t == IV_INT || a.t == IV_BOOL) {
        int64_t x = ivv(a);
        if (x == INT64_MIN) ierr(e, n->pos, "integer overflow");
        r = iv_int(-x);
      } else if (a.t == IV_FLOAT) r = iv_float(-a.u.f);
      else if (a.t == IV_TD) {
        r = a;
        r.u.td.us = -r.u.td.us, r.u.td.years = -r.u.td.years, r.u.td.months = -r.u.td.months;
      } else ierr(e, n->pos, "bad operand type for unary -: '%s'", iv_typename(a));
    } else {
      if (a.t == IV_BOOL) r = iv_int(a.u.b);
      else if (a.t == IV_INT || a.t == IV_FLOAT || a.t == IV_TD) r = a;
      else ierr(e, n->pos, "bad operand type for unary +: '%s'", iv_typename(a));
    }
    break;
  }
  case N_BIN: {
    iv a = ieval_node(e, n->a);
    iv b = ieval_node(e, n->b);
    r = iv_binop(e, n->pos, n->op, a, b);
    break;
  }
  case N_CMP: {
    iv a = ieval_node(e, n->a);
    r = iv_bool(true);
    for (size_t i = 0; i < n->nkids2; i++) {
      iv b = ieval_node(e, n->kids2[i]);
      if (!compare(e, n->pos, n->ops[i], a, b)) {
        r = iv_bool(false);
        break;
      }
      a = b;
    }
    break;
  }
  case N_AND: {
    iv a = ieval_node(e, n->a);
    r = iv_truthy(e, a, n->pos) ? ieval_node(e, n->b) : a;
    break;
  }
  case N_OR: {
    iv a = ieval_node(e, n->a);
    r = iv_truthy(e, a, n->pos) ? a : ieval_node(e, n->b);
    break;
  }
  case N_NOT: r = iv_bool(!iv_truthy(e, ieval_node(e, n->a), n->pos)); break;
  case N_COND:
    if (iv_truthy(e, ieval_node(e, n->b), n->pos)) r = ieval_node(e, n->a);
    else if (n->c) r = ieval_node(e, n->c);
    else r = iv_undef("the inline if-expression on line evaluated to false and no else section was defined.");
    break;
  case N_LIST:
  case N_TUPLE:
    r = iv_list_new(e, n->t == N_LIST ? IV_LIST : IV_TUPLE, n->nkids + 1);
    for (size_t i = 0; i < n->nkids; i++) il_push(e, r.u.l, ieval_node(e, n->kids[i]));
    break;
  case N_DICT:
    r = iv_dict_new(e, n->nkids + 1);
    for (size_t i = 0; i < n->nkids; i++) {
      iv k = ieval_node(e, n->kids[i]);
      id_set(e, r.u.d, k, ieval_node(e, n->kids2[i]));
    }
    break;
  case N_CONCAT: {
    sl_buf *b = ibuf_push(e);
    for (size_t i = 0; i < n->nkids; i++) iv_str_to(e, ieval_node(e, n->kids[i]), b);
    r = iv_strbuf(e, b);
    ibuf_pop(e);
    break;
  }
  default: ierr(e, n->pos, "internal error: unexpected node %d", n->t);
  }
  e->depth--;
  return r;
}

/* ---- public API ---- */

sl_tmpl *sl_tmpl_compile(const char *src, const char *where, sl_err *err) {
  sl_tmpl *t = calloc(1, sizeof *t);
  if (!t) {
    sl_err_set(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  t->src = strdup(src ? src : "");
  t->where = strdup(where ? where : "template");
  iar_init(&t->ar, 64u << 20);
  t->is_static = !strstr(t->src, "{{") && !strstr(t->src, "{%");
  if (!t->src || !t->where || itmpl_parse(t, err)) {
    sl_tmpl_free(t);
    return NULL;
  }
  return t;
}

void sl_tmpl_free(sl_tmpl *t) {
  if (!t) return;
  iar_free(&t->ar);
  free(t->names);
  free(t->src);
  free(t->where);
  free(t);
}

bool sl_tmpl_is_static(const sl_tmpl *t) { return t->is_static; }
const char *sl_tmpl_source(const sl_tmpl *t) { return t->src; }

/* Renders into out. 1 = undefined error (caller's default applies),
 * 0 = ok, -1 = error. */
static int render(ieval *e, const sl_tmpl *t, const json_t *ctx, sl_buf *out, sl_err *err) {
  memset(e, 0, sizeof *e);
  iar_init(&e->ar, IEVAL_MAX_ARENA);
  if (strstr(t->src, "stream_state")) {
    sl_err_set(err, SL_ECONFIG,
               "%s: `stream_state` is no longer supported for interpolation; use `stream_interval` "
               "instead (template: %.200s)", t->where, t->src);
    return -1;
  }
  for (size_t i = 0; i < t->nnames; i++) {
    const char *nm = t->names[i];
    if (json_object_get(ctx, nm)) continue;
    if ((!strcmp(nm, "stream_interval") || !strcmp(nm, "stream_partition")) && json_object_get(ctx, "stream_slice"))
      continue;
    sl_buf avail;
    sl_buf_init(&avail, 1024);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ctx, k, v) sl_buf_appendf(&avail, "%s%s", avail.len ? ", " : "", k);
    sl_err_set(err, SL_ECONFIG, "%s: template uses undeclared variable '%s' (available here: %s) (template: %.200s)",
               t->where, nm, avail.len ? sl_buf_cstr(&avail) : "none", t->src);
    sl_buf_dispose(&avail);
    return -1;
  }
  e->t = t, e->ctx = ctx, e->err = err, e->out = out;
  ieval_set_current(e);
  if (setjmp(e->jb)) {
    while (e->nbufs) ibuf_pop(e);
    e->out = out;
    return e->undefined_error ? 1 : -1;
  }
  exec_body(e, t->root->kids, t->root->nkids);
  return 0;
}

int sl_tmpl_render(const sl_tmpl *t, const json_t *ctx, sl_buf *out, sl_err *err) {
  ieval e;
  int rc = render(&e, t, ctx, out, err);
  iar_free(&e.ar);
  return rc < 0 ? -1 : rc;
}

static bool accepted(iv v, sl_tmpl_accept accept) {
  switch (accept) {
  case SL_TMPL_ANY: return true;
  case SL_TMPL_STR_OR_LIST: return v.t == IV_STR || (v.t == IV_LIST && v.u.l->kind == LK_LIST);
  case SL_TMPL_TEXT: return false;
  case SL_TMPL_INT: return v.t == IV_INT || v.t == IV_BOOL;
  case SL_TMPL_NUMBER: return v.t == IV_FLOAT; /* AddFields value_type number is float */
  case SL_TMPL_BOOL: return v.t == IV_BOOL;
  case SL_TMPL_STRING: return v.t == IV_STR;
  }
  return false;
}

/* The CDK's eval: render, literal_eval, accepted types. *isnull: empty or undefined. */
static int eval_value(const sl_tmpl *t, const json_t *ctx, sl_tmpl_accept accept, ieval *e, iv *out,
                      bool *isnull, sl_err *err) {
  sl_buf buf;
  sl_buf_init(&buf, IEVAL_MAX_OUTPUT + 4096);
  int rc = render(e, t, ctx, &buf, err);
  *isnull = false;
  if (rc < 0) {
    sl_buf_dispose(&buf);
    return -1;
  }
  if (rc == 1 || buf.len == 0) {
    /* not an error (the caller's default applies), but say why */
    if (rc == 1) err->code = SL_EOK;
    else if (e->undef_seen) {
      int line, col;
      itmpl_pos(t->src, e->undef_pos, &line, &col);
      sl_err_set(err, SL_EOK, "%s: template rendered empty: %s (line %d column %d; template: %.200s)", t->where,
                 e->undef_seen, line, col, t->src);
    } else sl_err_set(err, SL_EOK, "%s: template rendered empty (template: %.200s)", t->where, t->src);
    *isnull = true;
    sl_buf_dispose(&buf);
    return 0;
  }
  iv text = iv_str(iar_strdup(e, buf.data, buf.len), buf.len);
  sl_buf_dispose(&buf);
  iv v;
  if (accept != SL_TMPL_TEXT && py_literal_eval(e, text.u.s.s, text.u.s.n, &v) && accepted(v, accept)) *out = v;
  else *out = text;
  return 0;
}

int sl_tmpl_eval(const sl_tmpl *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out, sl_err *err) {
  ieval e;
  iv v;
  bool isnull;
  *out = NULL;
  int rc = eval_value(t, ctx, accept, &e, &v, &isnull, err);
  if (rc == 0 && !isnull) {
    bool ok = true;
    ieval_set_current(&e);
    *out = iv_to_json(&e, v, &ok);
    if (!*out) { /* e.g. a set or a float out of JSON range: keep the text */
      sl_err_set(err, SL_ECONFIG, "%s: template result cannot be represented as JSON (template: %.200s)", t->where, t->src);
      rc = -1;
    }
  }
  iar_free(&e.ar);
  return rc;
}

int sl_tmpl_eval_bool(const sl_tmpl *t, const json_t *ctx, bool *out, sl_err *err) {
  ieval e;
  iv v;
  bool isnull;
  int rc = eval_value(t, ctx, SL_TMPL_ANY, &e, &v, &isnull, err);
  if (rc == 0) {
    ieval_set_current(&e);
    if (isnull) *out = false; /* the default "False" */
    else if (v.t == IV_STR) {
      static const char *const f[] = {"False", "false", "{}", "[]", "()", "", "0", "0.0"};
      *out = true;
      for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (v.u.s.n == strlen(f[i]) && !memcmp(v.u.s.s, f[i], v.u.s.n)) *out = false;
    } else if (v.t == IV_NONE) *out = true;
    else if (v.t == IV_BOOL || v.t == IV_INT || v.t == IV_FLOAT) *out = !iv_eq(&e, v, iv_bool(false));
    else if (v.t == IV_LIST || v.t == IV_TUPLE || v.t == IV_DICT) *out = iv_truthy(&e, v, 0);
    else *out = true;
  }
  iar_free(&e.ar);
  return rc;
}
