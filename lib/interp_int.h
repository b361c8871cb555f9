/* Internal interfaces of the interpolation engine (lib/interp*.c).
 *
 * Values live in a per-evaluation arena: nothing is freed one by one, the
 * whole arena goes at the end of sl_tmpl_eval. JSON from the context is
 * wrapped, not copied: a JSON object or array becomes a dict or list whose
 * items are converted one at a time when read. */
#ifndef SLUICE_INTERP_INT_H
#define SLUICE_INTERP_INT_H

#include <jansson.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/interp.h"
#include "sluice/pydt.h"

/* ---- arena ---- */
typedef struct iarena_blk {
  struct iarena_blk *next;
  size_t used, cap;
  max_align_t data[];
} iarena_blk;

typedef struct iarena {
  iarena_blk *head;
  size_t total, max;
} iarena;

/* ---- values ---- */
typedef enum {
  IV_UNDEF, IV_NONE, IV_BOOL, IV_INT, IV_FLOAT, IV_STR, IV_LIST, IV_TUPLE, IV_DICT,
  IV_DT,   /* date or datetime (sl_dt.date) */
  IV_TD,   /* timedelta or isodate Duration (years/months non-zero) */
  IV_FUNC, /* a global callable */
  IV_METHOD, /* bound method: self + name */
  IV_NS,   /* jinja namespace (a dict with attribute assignment) */
  IV_LOOP, /* the for-loop helper */
} ivtype;

/* How a list prints: Python views and generators are lists here. */
enum { LK_LIST, LK_ITEMS, LK_KEYS, LK_VALUES, LK_SET, LK_GEN };

typedef struct iv iv;
typedef struct ilist ilist;
typedef struct idict idict;

struct iv {
  uint8_t t;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      const char *s;
      size_t n;
    } s;
    ilist *l;
    idict *d;
    sl_dt dt;
    sl_dur td;
    struct {
      const iv *self;
      const char *name;
      int id;
    } m;
    const char *undef; /* hint: what was undefined */
  } u;
};

struct ilist {
  iv *items;
  size_t n, cap;
  const json_t *j; /* lazily wrapped JSON array when items == NULL */
  uint8_t kind;
};

struct idict {
  iv *keys, *vals;
  size_t n, cap;
  const json_t *j; /* lazily wrapped JSON object when keys == NULL */
};

typedef struct ieval ieval;

/* ---- AST ---- */
typedef enum {
  N_TEXT, N_OUT, N_IF, N_FOR, N_SET, N_SETBLOCK, /* statements */
  N_CONST, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_UNARY, N_BIN,
  N_CMP, N_AND, N_OR, N_NOT, N_COND, N_LIST, N_TUPLE, N_DICT, N_CONCAT,
} ntype;

typedef struct inode inode;
struct inode {
  uint8_t t;
  uint8_t op;      /* operator token for N_BIN/N_UNARY/N_CMP */
  bool negate;     /* N_TEST: is not */
  uint32_t pos;    /* byte offset in the template */
  const char *name; /* N_NAME, N_ATTR, N_CALL-kw, N_FILTER, N_TEST, N_FOR target */
  iv cval;          /* N_CONST */
  inode *a, *b, *c; /* children */
  inode **kids;     /* list items, call args, body statements, ... */
  const char **kwnames; /* per kid: keyword name or NULL */
  size_t nkids;
  inode **kids2;    /* else-branch / dict values / cmp operands */
  size_t nkids2;
  uint8_t *ops;     /* N_CMP operators */
};

/* Operators */
enum {
  OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_FDIV, OP_MOD, OP_POW, OP_NEG, OP_POS,
  OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN,
};

struct sl_tmpl {
  char *src;
  char *where;
  bool is_static;
  iarena ar; /* AST lives here */
  inode *root; /* N_TEXT-sequence: kids */
  char **names; /* undeclared names */
  size_t nnames;
};

/* ---- evaluation ---- */
typedef struct ivar {
  const char *name;
  iv v;
} ivar;

struct ieval {
  iarena ar;
  const sl_tmpl *t;
  const json_t *ctx;
  sl_err *err;
  jmp_buf jb;
  int depth;
  ivar *vars;
  size_t nvars, capvars;
  sl_buf *out;
  bool undefined_error; /* the failure was a jinja UndefinedError */
  const char *undef_seen; /* first undefined value printed (for the empty-result note) */
  uint32_t undef_pos;
  size_t ops;           /* work counter bound */
  struct iwrap {
    const json_t *j;
    void *w;
  } *wrap; /* one wrapper per JSON container, so mutations persist */
  size_t nwrap, capwrap;
  sl_buf bufs[32];      /* scratch buffers, freed even when an error jumps out */
  int nbufs;
};

/* Scratch text buffers (a stack): ibuf_push returns an empty buffer;
 * ibuf_pop releases the top one. */
sl_buf *ibuf_push(ieval *e);
void ibuf_pop(ieval *e);

/* sl_buf_put that accepts empty input into an empty buffer (memcpy(NULL, .., 0)) */
static inline void ibput(sl_buf *b, const void *p, size_t n) {
  if (n) sl_buf_put(b, p, n);
}

/* arena */
void iar_init(iarena *a, size_t max);
void iar_free(iarena *a);
void *iar_alloc(ieval *e, size_t n);
void *iar_alloc_raw(iarena *a, size_t n);
char *iar_strdup(ieval *e, const char *s, size_t n);

/* errors: longjmp out of the evaluation */
__attribute__((noreturn, format(printf, 3, 4))) void ierr(ieval *e, uint32_t pos, const char *fmt,
                                                           ...);
__attribute__((noreturn)) void ierr_undef(ieval *e, uint32_t pos, const char *fmt, ...);

/* constructors */
static inline iv iv_none(void) { iv v = {.t = IV_NONE}; return v; }
static inline iv iv_bool(bool b) { iv v = {.t = IV_BOOL}; v.u.b = b; return v; }
static inline iv iv_int(int64_t i) { iv v = {.t = IV_INT}; v.u.i = i; return v; }
static inline iv iv_float(double f) { iv v = {.t = IV_FLOAT}; v.u.f = f; return v; }
static inline iv iv_str(const char *s, size_t n) { iv v = {.t = IV_STR}; v.u.s.s = s; v.u.s.n = n; return v; }
static inline iv iv_undef(const char *hint) { iv v = {.t = IV_UNDEF}; v.u.undef = hint; return v; }
iv iv_strz(ieval *e, const char *s);
iv iv_strbuf(ieval *e, const sl_buf *b); /* copies */
iv iv_list_new(ieval *e, uint8_t t, size_t cap);
iv iv_dict_new(ieval *e, size_t cap);
iv iv_from_json(ieval *e, const json_t *j);
iv iv_dt(sl_dt dt);
iv iv_td(int64_t us);
iv iv_dur(sl_dur d);

/* containers */
size_t il_len(const ilist *l);
iv il_get(const ilist *l, size_t i);
void il_push(ieval *e, ilist *l, iv v);
void il_own(ieval *e, ilist *l); /* materialize a JSON-backed list */
size_t id_len(const idict *d);
bool id_get(ieval *e, const idict *d, iv key, iv *out);
bool id_getz(const idict *d, const char *k, size_t kn, iv *out);
void id_set(ieval *e, idict *d, iv key, iv val);
bool id_del(ieval *e, idict *d, iv key, iv *old);
void id_own(ieval *e, idict *d);
iv id_key(const idict *d, size_t i);
iv id_val(const idict *d, size_t i);

/* Python semantics */
bool iv_truthy(ieval *e, iv v, uint32_t pos);
bool iv_eq(ieval *e, iv a, iv b);
int iv_cmp(ieval *e, iv a, iv b, uint32_t pos); /* <0, 0, >0; type errors raise */
const char *iv_typename(iv v);
void iv_str_to(ieval *e, iv v, sl_buf *out);  /* str() */
void iv_repr_to(ieval *e, iv v, sl_buf *out); /* repr() */
iv iv_to_str(ieval *e, iv v);                 /* str() as a value */
void py_str_repr(const char *s, size_t n, sl_buf *out);
/* json.dumps (ensure_ascii, ", " and ": "); false if not serializable. */
bool iv_json_dumps(ieval *e, iv v, bool sort_keys, sl_buf *out);
json_t *iv_to_json(ieval *e, iv v, bool *ok);
bool iv_is_str(iv v);
bool iv_is_seq(iv v); /* list or tuple */
size_t utf8_len(const char *s, size_t n);
size_t utf8_off(const char *s, size_t n, size_t cp); /* byte offset of code point cp */
int64_t iv_hash_int(iv v);

/* literal_eval of text. Returns false on a syntax/value error. */
bool py_literal_eval(ieval *e, const char *s, size_t n, iv *out);

/* parser */
int itmpl_parse(sl_tmpl *t, sl_err *err);

/* positional argument idx or keyword argument kwname (call args: positional then keyword values) */
bool iarg(iv *args, size_t nargs, const char **kw, size_t nkw, size_t idx, const char *kwname, iv *out);

/* evaluator pieces */
iv ieval_node(ieval *e, const inode *n);
iv icall_global(ieval *e, const inode *n, const char *name, iv *args, size_t nargs,
                const char **kw, size_t nkw);
iv icall_filter(ieval *e, const inode *n, const char *name, iv self, iv *args, size_t nargs,
                const char **kw, size_t nkw);
bool icall_test(ieval *e, const inode *n, const char *name, iv self, iv *args, size_t nargs);
iv icall_method(ieval *e, const inode *n, iv self, const char *name, iv *args, size_t nargs,
                const char **kw, size_t nkw);
/* attribute lookup for non-dict things: true if found */
bool iattr(ieval *e, iv obj, const char *name, iv *out);
bool is_global_name(const char *name);
bool iglobal_value(ieval *e, const char *name, iv *out);
int ifilter_known(const char *name);
int itest_known(const char *name);
bool is_method_name(iv obj, const char *name);
iv iv_getitem(ieval *e, uint32_t pos, iv obj, iv key);
iv iv_getattr(ieval *e, uint32_t pos, iv obj, const char *name);
iv iv_binop(ieval *e, uint32_t pos, int op, iv a, iv b);
bool iv_contains(ieval *e, uint32_t pos, iv hay, iv needle);
/* iteration: converts anything iterable to a list value (dict → keys) */
iv iv_iter_list(ieval *e, uint32_t pos, iv v);
int64_t iv_as_int(ieval *e, uint32_t pos, iv v, const char *what);
const char *iv_as_cstr(ieval *e, uint32_t pos, iv v, const char *what);
int64_t ieval_now_us(void);
/* dt.strftime(fmt) (cdk: the CDK's DatetimeParser.format) as a value */
iv idt_text(ieval *e, uint32_t pos, const sl_dt *dt, const char *fmt, size_t fl, bool cdk);
/* str % args */
iv py_percent_format(ieval *e, uint32_t pos, iv fmt, iv args);
iv py_str_format(ieval *e, uint32_t pos, iv fmt, iv *args, size_t nargs, const char **kw,
                 size_t nkw, iv *kwv);
void py_json_str(const char *s, size_t n, sl_buf *out);

#define IEVAL_MAX_DEPTH 200
#define IEVAL_MAX_OUTPUT (16u << 20)
#define IEVAL_MAX_ARENA (256u << 20)
#define IEVAL_MAX_OPS 50000000u

#endif
