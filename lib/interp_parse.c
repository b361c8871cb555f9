/* Jinja parser: {% if/elif/else/for/set %} and Jinja's expression grammar and
 * precedence (or < and < not < comparisons < + - < ~ < * / // % < ** <
 * unary, with filters, tests, calls and subscripts binding tightest). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_parse.h"

/* ---- parser ---- */

static tok *cur(ps *p) { return &p->toks[p->k]; }
static bool is_op(ps *p, const char *op) {
  tok *t = cur(p);
  return t->t == T_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n);
}
static bool is_name(ps *p, const char *nm) {
  tok *t = cur(p);
  return t->t == T_NAME && !strcmp(t->s, nm);
}
static bool accept_op(ps *p, const char *op) {
  if (!is_op(p, op)) return false;
  p->k++;
  return true;
}
static bool expect_op(ps *p, const char *op) {
  if (accept_op(p, op)) return true;
  tok *t = cur(p);
  iperr(p, t->pos, "expected '%s', got %s%.*s%s", op, t->t == T_EOF ? "end of template" : "'",
       t->t == T_EOF ? 0 : (int)(t->t == T_TEXT || t->t == T_NAME || t->t == T_OP || t->t == T_STR ? t->n : 3),
       t->t == T_EOF ? "" : t->t == T_VE ? "}}}" : t->t == T_BE ? "%}}" : t->s ? t->s : "...",
       t->t == T_EOF ? "" : "'");
  return false;
}

static inode *mk(ps *p, int t, uint32_t pos) {
  inode *n = ipa(p, sizeof *n);
  n->t = (uint8_t)t;
  n->pos = pos;
  return n;
}

typedef struct nvec {
  inode **v;
  const char **kw;
  size_t n, cap;
} nvec;

static void nv_push(ps *p, nvec *v, inode *x, const char *kw) {
  if (v->n == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 4;
    inode **nv = ipa(p, nc * sizeof(inode *));
    const char **nk = ipa(p, nc * sizeof(char *));
    if (v->n) {
      memcpy(nv, v->v, v->n * sizeof(inode *));
      memcpy(nk, v->kw, v->n * sizeof(char *));
    }
    v->v = nv, v->kw = nk, v->cap = nc;
  }
  v->kw[v->n] = kw;
  v->v[v->n++] = x;
}

static void add_name(ps *unused, const char ***arr, size_t *n, size_t *cap, const char *nm) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp((*arr)[i], nm)) return;
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    *arr = realloc(*arr, *cap * sizeof(char *));
    if (!*arr) abort();
  }
  (*arr)[(*n)++] = nm;
}

static inode *p_expr(ps *p);
static inode *p_tuple(ps *p, bool allow_empty);
static inode *p_unary(ps *p, bool with_filter);

static bool enter(ps *p) {
  if (++p->depth > IEVAL_MAX_DEPTH) {
    iperr(p, cur(p)->pos, "expression nested too deeply");
    return false;
  }
  return true;
}

static void p_args(ps *p, inode *call) {
  nvec v = {0};
  expect_op(p, "(");
  while (!p->failed && !is_op(p, ")")) {
    if (v.n && !expect_op(p, ",")) break;
    if (is_op(p, ")")) break;
    const char *kw = NULL;
    if (cur(p)->t == T_NAME && p->toks[p->k + 1].t == T_OP && p->toks[p->k + 1].n == 1 &&
        p->toks[p->k + 1].s[0] == '=') {
      kw = cur(p)->s;
      p->k += 2;
    } else if (is_op(p, "*") || is_op(p, "**")) {
      iperr(p, cur(p)->pos, "*args and **kwargs are not supported");
      return;
    }
    inode *a = p_expr(p);
    if (!a) return;
    nv_push(p, &v, a, kw);
  }
  expect_op(p, ")");
  call->kids = v.v, call->kwnames = v.kw, call->nkids = v.n;
}

static inode *p_primary(ps *p) {
  tok *t = cur(p);
  inode *n;
  switch (t->t) {
  case T_NAME:
    p->k++;
    if (!strcmp(t->s, "true") || !strcmp(t->s, "True")) {
      n = mk(p, N_CONST, t->pos);
      n->cval = iv_bool(true);
    } else if (!strcmp(t->s, "false") || !strcmp(t->s, "False")) {
      n = mk(p, N_CONST, t->pos);
      n->cval = iv_bool(false);
    } else if (!strcmp(t->s, "none") || !strcmp(t->s, "None")) {
      n = mk(p, N_CONST, t->pos);
      n->cval = iv_none();
    } else {
      n = mk(p, N_NAME, t->pos);
      n->name = t->s;
    }
    return n;
  case T_STR: {
    /* adjacent string literals concatenate */
    sl_buf b;
    sl_buf_init(&b, 1u << 24);
    uint32_t pos = t->pos;
    while (cur(p)->t == T_STR) {
      ibput(&b, cur(p)->s, cur(p)->n);
      p->k++;
    }
    n = mk(p, N_CONST, pos);
    n->cval = iv_str(ipdup(p, b.data ? b.data : "", b.len), b.len);
    sl_buf_dispose(&b);
    return n;
  }
  case T_INT:
    p->k++;
    n = mk(p, N_CONST, t->pos);
    n->cval = iv_int(t->i);
    return n;
  case T_FLOAT:
    p->k++;
    n = mk(p, N_CONST, t->pos);
    n->cval = iv_float(t->f);
    return n;
  case T_OP:
    if (accept_op(p, "(")) {
      n = p_tuple(p, true);
      expect_op(p, ")");
      return n;
    }
    if (accept_op(p, "[")) {
      n = mk(p, N_LIST, t->pos);
      nvec v = {0};
      while (!p->failed && !is_op(p, "]")) {
        if (v.n && !expect_op(p, ",")) break;
        if (is_op(p, "]")) break;
        inode *x = p_expr(p);
        if (!x) return NULL;
        nv_push(p, &v, x, NULL);
      }
      expect_op(p, "]");
      n->kids = v.v, n->nkids = v.n;
      return n;
    }
    if (accept_op(p, "{")) {
      n = mk(p, N_DICT, t->pos);
      nvec k = {0}, v = {0};
      while (!p->failed && !is_op(p, "}")) {
        if (k.n && !expect_op(p, ",")) break;
        if (is_op(p, "}")) break;
        inode *kx = p_expr(p);
        if (!kx || !expect_op(p, ":")) return NULL;
        inode *vx = p_expr(p);
        if (!vx) return NULL;
        nv_push(p, &k, kx, NULL);
        nv_push(p, &v, vx, NULL);
      }
      expect_op(p, "}");
      n->kids = k.v, n->nkids = k.n, n->kids2 = v.v, n->nkids2 = v.n;
      return n;
    }
    break;
  default: break;
  }
  if (t->t == T_EOF || t->t == T_VE || t->t == T_BE)
    iperr(p, t->pos, "unexpected end of expression");
  else
    iperr(p, t->pos, "unexpected '%.*s'", t->t == T_OP ? (int)t->n : 10, t->s ? t->s : "?");
  return NULL;
}

static inode *p_subscript_arg(ps *p) {
  /* expr, or a slice a:b:c */
  uint32_t pos = cur(p)->pos;
  inode *parts[3] = {NULL, NULL, NULL};
  if (!is_op(p, ":")) {
    parts[0] = p_expr(p);
    if (!parts[0]) return NULL;
    if (!is_op(p, ":")) return parts[0];
  }
  inode *s = mk(p, N_SLICE, pos);
  accept_op(p, ":");
  if (!is_op(p, "]") && !is_op(p, ":")) parts[1] = p_expr(p);
  if (accept_op(p, ":") && !is_op(p, "]")) parts[2] = p_expr(p);
  s->kids = ipa(p, 3 * sizeof(inode *));
  memcpy(s->kids, parts, sizeof parts);
  s->nkids = 3;
  return s;
}

static inode *p_postfix(ps *p, inode *n) {
  for (;;) {
    if (p->failed) return NULL;
    tok *t = cur(p);
    if (accept_op(p, ".")) {
      tok *a = cur(p);
      if (a->t == T_NAME) {
        inode *x = mk(p, N_ATTR, a->pos);
        x->a = n, x->name = a->s;
        p->k++;
        n = x;
      } else if (a->t == T_INT) {
        inode *x = mk(p, N_ITEM, a->pos), *c = mk(p, N_CONST, a->pos);
        c->cval = iv_int(a->i);
        x->a = n, x->b = c;
        p->k++;
        n = x;
      } else {
        iperr(p, a->pos, "expected a name after '.'");
        return NULL;
      }
    } else if (accept_op(p, "[")) {
      inode *arg = p_subscript_arg(p);
      if (!arg) return NULL;
      if (is_op(p, ",")) { /* x[a, b] → tuple key */
        inode *tu = mk(p, N_TUPLE, arg->pos);
        nvec v = {0};
        nv_push(p, &v, arg, NULL);
        while (accept_op(p, ",") && !is_op(p, "]")) nv_push(p, &v, p_expr(p), NULL);
        tu->kids = v.v, tu->nkids = v.n;
        arg = tu;
      }
      expect_op(p, "]");
      inode *x;
      if (arg->t == N_SLICE) {
        x = arg;
        x->a = n;
      } else {
        x = mk(p, N_ITEM, t->pos);
        x->a = n, x->b = arg;
      }
      n = x;
    } else if (is_op(p, "(")) {
      inode *x = mk(p, N_CALL, t->pos);
      x->a = n;
      p_args(p, x);
      n = x;
    } else return n;
  }
}

static inode *p_filter_expr(ps *p, inode *n) {
  for (;;) {
    if (p->failed || !n) return NULL;
    tok *t = cur(p);
    if (accept_op(p, "|")) {
      tok *nm = cur(p);
      if (nm->t != T_NAME) {
        iperr(p, nm->pos, "expected a filter name after '|'");
        return NULL;
      }
      p->k++;
      const char *name = nm->s;
      while (accept_op(p, ".")) { /* dotted filter names */
        if (cur(p)->t != T_NAME) break;
        size_t l = strlen(name) + 1 + cur(p)->n;
        char *d = ipa(p, l + 1);
        snprintf(d, l + 1, "%s.%s", name, cur(p)->s);
        name = d;
        p->k++;
      }
      int known = ifilter_known(name);
      if (known) {
        iperr(p, nm->pos, known == 1 ? "no filter named '%s'" : "the Jinja filter '%s' is not supported", name);
        return NULL;
      }
      inode *x = mk(p, N_FILTER, nm->pos);
      x->a = n, x->name = name;
      if (is_op(p, "(")) p_args(p, x);
      n = x;
    } else if (t->t == T_NAME && !strcmp(t->s, "is")) {
      p->k++;
      inode *x = mk(p, N_TEST, t->pos);
      if (is_name(p, "not")) {
        x->negate = true;
        p->k++;
      }
      tok *nm = cur(p);
      if (nm->t != T_NAME) {
        iperr(p, nm->pos, "expected a test name after 'is'");
        return NULL;
      }
      p->k++;
      x->a = n, x->name = nm->s;
      int known = itest_known(!strcmp(nm->s, "None") ? "none" : !strcmp(nm->s, "True") ? "true" : !strcmp(nm->s, "False") ? "false" : nm->s);
      if (known) {
        iperr(p, nm->pos, known == 1 ? "no test named '%s'" : "the Jinja test '%s' is not supported", nm->s);
        return NULL;
      }
      if (!strcmp(x->name, "none") || !strcmp(x->name, "None")) x->name = "none";
      else if (!strcmp(x->name, "True")) x->name = "true";
      else if (!strcmp(x->name, "False")) x->name = "false";
      if (is_op(p, "(")) p_args(p, x);
      else {
        tok *a = cur(p);
        bool arg = a->t == T_STR || a->t == T_INT || a->t == T_FLOAT ||
                   (a->t == T_OP && (is_op(p, "[") || is_op(p, "{"))) ||
                   (a->t == T_NAME && strcmp(a->s, "else") && strcmp(a->s, "or") &&
                    strcmp(a->s, "and") && strcmp(a->s, "if") && strcmp(a->s, "is") &&
                    strcmp(a->s, "not") && strcmp(a->s, "in"));
        if (arg) {
          inode *av = p_postfix(p, p_primary(p));
          if (!av) return NULL;
          x->kids = ipa(p, sizeof(inode *));
          x->kwnames = ipa(p, sizeof(char *));
          x->kids[0] = av;
          x->nkids = 1;
        }
      }
      n = x;
    } else if (is_op(p, "(")) {
      inode *x = mk(p, N_CALL, t->pos);
      x->a = n;
      p_args(p, x);
      n = x;
    } else return n;
  }
}

static inode *p_unary(ps *p, bool with_filter) {
  if (!enter(p)) return NULL;
  tok *t = cur(p);
  inode *n;
  if (is_op(p, "-") || is_op(p, "+")) {
    p->k++;
    n = mk(p, N_UNARY, t->pos);
    n->op = t->s[0] == '-' ? OP_NEG : OP_POS;
    n->a = p_unary(p, false);
    if (!n->a) return NULL;
  } else {
    n = p_primary(p);
  }
  n = p_postfix(p, n);
  if (with_filter) n = p_filter_expr(p, n);
  p->depth--;
  return n;
}

static inode *bin(ps *p, int op, inode *a, inode *b, uint32_t pos) {
  if (!a || !b) return NULL;
  inode *n = mk(p, N_BIN, pos);
  n->op = (uint8_t)op, n->a = a, n->b = b;
  return n;
}

static inode *p_pow(ps *p) {
  inode *l = p_unary(p, true);
  while (l && is_op(p, "**")) {
    uint32_t pos = cur(p)->pos;
    p->k++;
    l = bin(p, OP_POW, l, p_unary(p, true), pos);
  }
  return l;
}

static inode *p_math2(ps *p) {
  inode *l = p_pow(p);
  for (;;) {
    if (!l) return NULL;
    uint32_t pos = cur(p)->pos;
    int op = is_op(p, "*") ? OP_MUL : is_op(p, "/") ? OP_DIV : is_op(p, "//") ? OP_FDIV : is_op(p, "%") ? OP_MOD : 0;
    if (!op) return l;
    p->k++;
    l = bin(p, op, l, p_pow(p), pos);
  }
}

static inode *p_concat(ps *p) {
  inode *l = p_math2(p);
  if (!l || !is_op(p, "~")) return l;
  inode *n = mk(p, N_CONCAT, l->pos);
  nvec v = {0};
  nv_push(p, &v, l, NULL);
  while (accept_op(p, "~")) {
    inode *x = p_math2(p);
    if (!x) return NULL;
    nv_push(p, &v, x, NULL);
  }
  n->kids = v.v, n->nkids = v.n;
  return n;
}

static inode *p_math1(ps *p) {
  inode *l = p_concat(p);
  for (;;) {
    if (!l) return NULL;
    uint32_t pos = cur(p)->pos;
    int op = is_op(p, "+") ? OP_ADD : is_op(p, "-") ? OP_SUB : 0;
    if (!op) return l;
    p->k++;
    l = bin(p, op, l, p_concat(p), pos);
  }
}

static inode *p_compare(ps *p) {
  inode *l = p_math1(p);
  if (!l) return NULL;
  nvec v = {0};
  uint8_t ops[64];
  size_t nops = 0;
  for (;;) {
    int op = is_op(p, "==") ? OP_EQ : is_op(p, "!=") ? OP_NE : is_op(p, "<") ? OP_LT
           : is_op(p, "<=") ? OP_LE : is_op(p, ">") ? OP_GT : is_op(p, ">=") ? OP_GE
           : is_name(p, "in") ? OP_IN : 0;
    if (!op && is_name(p, "not") && p->toks[p->k + 1].t == T_NAME && !strcmp(p->toks[p->k + 1].s, "in")) {
      op = OP_NOTIN;
      p->k++;
    }
    if (!op || nops == 64) break;
    p->k++;
    inode *r = p_math1(p);
    if (!r) return NULL;
    ops[nops++] = (uint8_t)op;
    nv_push(p, &v, r, NULL);
  }
  if (!nops) return l;
  inode *n = mk(p, N_CMP, l->pos);
  n->a = l, n->kids2 = v.v, n->nkids2 = v.n;
  n->ops = ipa(p, nops);
  memcpy(n->ops, ops, nops);
  return n;
}

static inode *p_not(ps *p) {
  if (is_name(p, "not")) {
    uint32_t pos = cur(p)->pos;
    p->k++;
    if (!enter(p)) return NULL;
    inode *n = mk(p, N_NOT, pos);
    n->a = p_not(p);
    p->depth--;
    return n->a ? n : NULL;
  }
  return p_compare(p);
}

static inode *p_and(ps *p) {
  inode *l = p_not(p);
  while (l && is_name(p, "and")) {
    uint32_t pos = cur(p)->pos;
    p->k++;
    inode *n = mk(p, N_AND, pos);
    n->a = l, n->b = p_not(p);
    l = n->b ? n : NULL;
  }
  return l;
}

static inode *p_or(ps *p) {
  inode *l = p_and(p);
  while (l && is_name(p, "or")) {
    uint32_t pos = cur(p)->pos;
    p->k++;
    inode *n = mk(p, N_OR, pos);
    n->a = l, n->b = p_and(p);
    l = n->b ? n : NULL;
  }
  return l;
}

static inode *p_expr(ps *p) {
  if (!enter(p)) return NULL;
  inode *n = p_or(p);
  while (n && is_name(p, "if")) {
    uint32_t pos = cur(p)->pos;
    p->k++;
    inode *c = mk(p, N_COND, pos);
    c->a = n;
    c->b = p_or(p);
    if (!c->b) return NULL;
    if (is_name(p, "else")) {
      p->k++;
      c->c = p_expr(p);
      if (!c->c) return NULL;
    }
    n = c;
  }
  p->depth--;
  return n;
}

/* expr, or a tuple of them (a, b) */
static inode *p_tuple(ps *p, bool allow_empty) {
  uint32_t pos = cur(p)->pos;
  if (allow_empty && is_op(p, ")")) {
    inode *t = mk(p, N_TUPLE, pos);
    return t;
  }
  inode *first = p_expr(p);
  if (!first || !is_op(p, ",")) return first;
  inode *t = mk(p, N_TUPLE, pos);
  nvec v = {0};
  nv_push(p, &v, first, NULL);
  while (accept_op(p, ",")) {
    if (is_op(p, ")") || cur(p)->t == T_VE || cur(p)->t == T_BE || is_op(p, "]") || is_name(p, "in"))
      break;
    inode *x = p_expr(p);
    if (!x) return NULL;
    nv_push(p, &v, x, NULL);
  }
  t->kids = v.v, t->nkids = v.n;
  return t;
}

/* assignment target: name, name.attr (namespace), or names separated by commas */
static inode *p_target(ps *p, bool allow_attr) {
  uint32_t pos = cur(p)->pos;
  nvec v = {0};
  do {
    tok *t = cur(p);
    if (t->t != T_NAME) {
      iperr(p, t->pos, "expected a variable name");
      return NULL;
    }
    p->k++;
    inode *n = mk(p, N_NAME, t->pos);
    n->name = t->s;
    if (allow_attr && accept_op(p, ".")) {
      tok *a = cur(p);
      if (a->t != T_NAME) {
        iperr(p, a->pos, "expected an attribute name");
        return NULL;
      }
      p->k++;
      inode *x = mk(p, N_ATTR, a->pos);
      x->a = n, x->name = a->s;
      n = x;
    }
    nv_push(p, &v, n, NULL);
  } while (accept_op(p, ","));
  if (v.n == 1) return v.v[0];
  inode *tu = mk(p, N_TUPLE, pos);
  tu->kids = v.v, tu->nkids = v.n;
  return tu;
}

static bool block_end(ps *p);

/* Jinja allows a Python-style colon before the %} of a statement with a body */
static bool body_start(ps *p) {
  accept_op(p, ":");
  return block_end(p);
}

static bool block_end(ps *p) {
  if (cur(p)->t == T_BE) {
    p->k++;
    return true;
  }
  tok *t = cur(p);
  iperr(p, t->pos, "expected '%%}'");
  return false;
}

/* Parses statements until one of the end keywords; returns which one. */
static const char *p_body(ps *p, nvec *out, const char *const *ends);

static inode *p_stmt(ps *p) {
  tok *t = cur(p);
  if (t->t != T_NAME) {
    iperr(p, t->pos, "expected a statement name after '{%%'");
    return NULL;
  }
  uint32_t pos = t->pos;
  if (is_name(p, "if")) {
    p->k++;
    inode *n = mk(p, N_IF, pos);
    n->a = p_tuple(p, false);
    if (!n->a || !body_start(p)) return NULL;
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    nvec body = {0};
    const char *e = p_body(p, &body, ends);
    n->kids = body.v, n->nkids = body.n;
    inode *tail = n;
    while (e && !strcmp(e, "elif")) {
      inode *x = mk(p, N_IF, cur(p)->pos);
      x->a = p_tuple(p, false);
      if (!x->a || !body_start(p)) return NULL;
      nvec b2 = {0};
      e = p_body(p, &b2, ends);
      x->kids = b2.v, x->nkids = b2.n;
      tail->kids2 = ipa(p, sizeof(inode *));
      tail->kids2[0] = x;
      tail->nkids2 = 1;
      tail = x;
    }
    if (e && !strcmp(e, "else")) {
      if (!body_start(p)) return NULL;
      static const char *const ends2[] = {"endif", NULL};
      nvec b3 = {0};
      e = p_body(p, &b3, ends2);
      tail->kids2 = b3.v, tail->nkids2 = b3.n;
    }
    if (!e) return NULL;
    return block_end(p) ? n : NULL;
  }
  if (is_name(p, "for")) {
    p->k++;
    inode *n = mk(p, N_FOR, pos);
    n->c = p_target(p, false);
    if (!n->c) return NULL;
    if (!is_name(p, "in")) {
      iperr(p, cur(p)->pos, "expected 'in' in for loop");
      return NULL;
    }
    p->k++;
    n->a = p_tuple(p, false);
    if (!n->a) return NULL;
    /* p_tuple stops at "if" only through p_expr's conditional: a filter
     * condition is parsed as a conditional expression without else. */
    if (n->a->t == N_COND && !n->a->c) {
      n->b = n->a->b;
      n->a = n->a->a;
    }
    if (is_name(p, "recursive")) {
      iperr(p, cur(p)->pos, "recursive loops are not supported");
      return NULL;
    }
    if (!body_start(p)) return NULL;
    static const char *const ends[] = {"else", "endfor", NULL};
    nvec body = {0};
    const char *e = p_body(p, &body, ends);
    n->kids = body.v, n->nkids = body.n;
    if (e && !strcmp(e, "else")) {
      if (!body_start(p)) return NULL;
      static const char *const ends2[] = {"endfor", NULL};
      nvec b2 = {0};
      e = p_body(p, &b2, ends2);
      n->kids2 = b2.v, n->nkids2 = b2.n;
    }
    if (!e) return NULL;
    return block_end(p) ? n : NULL;
  }
  if (is_name(p, "set")) {
    p->k++;
    inode *target = p_target(p, true);
    if (!target) return NULL;
    if (accept_op(p, "=")) {
      inode *n = mk(p, N_SET, pos);
      n->c = target;
      n->a = p_tuple(p, false);
      if (!n->a || !block_end(p)) return NULL;
      return n;
    }
    inode *n = mk(p, N_SETBLOCK, pos);
    n->c = target;
    if (accept_op(p, "|")) {
      iperr(p, cur(p)->pos, "filtered set blocks are not supported");
      return NULL;
    }
    if (!body_start(p)) return NULL;
    static const char *const ends[] = {"endset", NULL};
    nvec body = {0};
    if (!p_body(p, &body, ends)) return NULL;
    n->kids = body.v, n->nkids = body.n;
    return block_end(p) ? n : NULL;
  }
  iperr(p, t->pos, "unsupported or unknown statement '%s'", t->s);
  return NULL;
}

static const char *p_body(ps *p, nvec *out, const char *const *ends) {
  for (;;) {
    if (p->failed) return NULL;
    tok *t = cur(p);
    switch (t->t) {
    case T_EOF:
      if (ends) {
        int last = 0;
        while (ends[last + 1]) last++;
        iperr(p, t->pos, "unexpected end of template, expected '%s'", ends[last]);
        return NULL;
      }
      return "";
    case T_TEXT: {
      inode *n = mk(p, N_TEXT, t->pos);
      n->cval = iv_str(t->s, t->n);
      nv_push(p, out, n, NULL);
      p->k++;
      break;
    }
    case T_VB: {
      p->k++;
      inode *n = mk(p, N_OUT, t->pos);
      n->a = p_tuple(p, false);
      if (!n->a) return NULL;
      if (cur(p)->t != T_VE) {
        tok *b = cur(p);
        iperr(p, b->pos, "expected '}}' after the expression, got '%.*s'",
             (int)(b->t == T_NAME || b->t == T_OP ? b->n : 1), b->t == T_NAME || b->t == T_OP ? b->s : "?");
        return NULL;
      }
      p->k++;
      nv_push(p, out, n, NULL);
      break;
    }
    case T_BB: {
      p->k++;
      tok *nm = cur(p);
      if (nm->t == T_NAME && ends) {
        for (int i = 0; ends[i]; i++)
          if (!strcmp(nm->s, ends[i])) {
            p->k++;
            return ends[i];
          }
      }
      if (nm->t == T_NAME && (!strncmp(nm->s, "end", 3) || !strcmp(nm->s, "else") || !strcmp(nm->s, "elif"))) {
        iperr(p, nm->pos, "unexpected '%s'%s%s", nm->s, ends ? ", expected " : "", ends ? ends[0] : "");
        return NULL;
      }
      inode *s = p_stmt(p);
      if (!s) return NULL;
      nv_push(p, out, s, NULL);
      break;
    }
    default:
      iperr(p, t->pos, "unexpected token");
      return NULL;
    }
  }
}


/* ---- undeclared names ----
 * As jinja2.meta.find_undeclared_variables: a name read where it is not
 * definitely assigned before (set/for in the same scope; both branches of
 * an if) comes from the context. */
typedef struct nset {
  const char **v;
  size_t n, cap;
} nset;

static bool ns_has(const nset *s, const char *nm) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], nm)) return true;
  return false;
}

static void ns_add(nset *s, const char *nm) {
  if (!ns_has(s, nm)) add_name(NULL, &s->v, &s->n, &s->cap, nm);
}

static nset ns_copy(const nset *s) {
  nset c = {0};
  for (size_t i = 0; i < s->n; i++) ns_add(&c, s->v[i]);
  return c;
}

static void walk_expr(ps *p, const inode *n, nset *decl) {
  if (!n) return;
  if (n->t == N_NAME) {
    if (!ns_has(decl, n->name)) add_name(p, &p->loads, &p->nloads, &p->caploads, n->name);
    return;
  }
  walk_expr(p, n->a, decl);
  walk_expr(p, n->b, decl);
  walk_expr(p, n->c, decl);
  for (size_t i = 0; i < n->nkids; i++) walk_expr(p, n->kids[i], decl);
  for (size_t i = 0; i < n->nkids2; i++) walk_expr(p, n->kids2[i], decl);
}

static void declare_target(ps *p, const inode *t, nset *decl) {
  if (t->t == N_NAME) ns_add(decl, t->name);
  else if (t->t == N_ATTR) walk_expr(p, t->a, decl); /* ns.attr reads ns */
  else
    for (size_t i = 0; i < t->nkids; i++) declare_target(p, t->kids[i], decl);
}

static void walk_stmts(ps *p, inode **kids, size_t n, nset *decl) {
  for (size_t i = 0; i < n; i++) {
    const inode *s = kids[i];
    switch (s->t) {
    case N_OUT: walk_expr(p, s->a, decl); break;
    case N_IF: {
      walk_expr(p, s->a, decl);
      nset d1 = ns_copy(decl), d2 = ns_copy(decl);
      walk_stmts(p, s->kids, s->nkids, &d1);
      walk_stmts(p, s->kids2, s->nkids2, &d2);
      for (size_t k = 0; k < d1.n; k++)
        if (ns_has(&d2, d1.v[k])) ns_add(decl, d1.v[k]);
      free(d1.v), free(d2.v);
      break;
    }
    case N_FOR: {
      walk_expr(p, s->a, decl);
      nset in = ns_copy(decl), el = ns_copy(decl);
      declare_target(p, s->c, &in);
      walk_expr(p, s->b, &in);
      ns_add(&in, "loop");
      walk_stmts(p, s->kids, s->nkids, &in);
      walk_stmts(p, s->kids2, s->nkids2, &el);
      free(in.v), free(el.v);
      break;
    }
    case N_SET:
      walk_expr(p, s->a, decl);
      declare_target(p, s->c, decl);
      break;
    case N_SETBLOCK: {
      nset in = ns_copy(decl);
      walk_stmts(p, s->kids, s->nkids, &in);
      free(in.v);
      declare_target(p, s->c, decl);
      break;
    }
    default: break;
    }
  }
}

void itmpl_pos(const char *src, uint32_t pos, int *line, int *col);
void itmpl_pos(const char *src, uint32_t pos, int *line, int *col) {
  int l = 1, c = 1;
  for (uint32_t i = 0; src[i] && i < pos; i++) {
    if (src[i] == '\n') l++, c = 1;
    else c++;
  }
  *line = l, *col = c;
}

int itmpl_parse(sl_tmpl *t, sl_err *err) {
  ps p = {.t = t, .err = err};
  size_t n = strlen(t->src);
  /* keep_trailing_newline=False: one trailing newline is dropped */
  size_t ln = n;
  if (ln && t->src[ln - 1] == '\n') {
    ln--;
    if (ln && t->src[ln - 1] == '\r') ln--;
  }
  int rc = 0;
  if (ilex(&p, t->src, ln)) {
    nvec body = {0};
    p_body(&p, &body, NULL);
    t->root = mk(&p, N_TEXT, 0);
    t->root->kids = body.v, t->root->nkids = body.n;
  }
  if (p.failed) {
    int line, col;
    itmpl_pos(t->src, p.epos, &line, &col);
    sl_err_set(err, SL_ECONFIG, "%s: template syntax error at line %d column %d: %s (template: %.200s)",
               t->where, line, col, p.emsg, t->src);
    rc = -1;
  } else {
    nset decl = {0};
    walk_stmts(&p, t->root->kids, t->root->nkids, &decl);
    free(decl.v);
    size_t k = 0;
    t->names = calloc(p.nloads ? p.nloads : 1, sizeof(char *));
    if (!t->names) abort();
    for (size_t i = 0; i < p.nloads; i++)
      if (!is_global_name(p.loads[i])) t->names[k++] = (char *)p.loads[i];
    t->nnames = k;
  }
  free(p.toks);
  free(p.loads);
  return rc;
}
