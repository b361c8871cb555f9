/* Internal: the template lexer's tokens and the parser state shared by
 * lib/interp_lex.c and lib/interp_parse.c. */
#ifndef SLUICE_INTERP_PARSE_H
#define SLUICE_INTERP_PARSE_H

#include "interp_int.h"

enum { T_EOF, T_TEXT, T_VB, T_VE, T_BB, T_BE, T_NAME, T_INT, T_FLOAT, T_STR, T_OP };

typedef struct tok {
  uint8_t t;
  uint32_t pos;
  const char *s; /* NAME/OP/TEXT/STR text (STR: decoded) */
  size_t n;
  int64_t i;
  double f;
} tok;

typedef struct ps {
  sl_tmpl *t;
  sl_err *err;
  tok *toks;
  size_t nt, cap, k;
  int depth;
  char emsg[256];
  uint32_t epos;
  bool failed;
  /* names */
  const char **loads;
  size_t nloads, caploads;
} ps;

void *ipa(ps *p, size_t n);                      /* zeroed template-arena memory */
char *ipdup(ps *p, const char *s, size_t n);     /* NUL-terminated copy */
__attribute__((format(printf, 3, 4))) void iperr(ps *p, uint32_t pos, const char *fmt, ...);
bool ilex(ps *p, const char *src, size_t n);     /* src → p->toks */

#endif
