/* Internal helpers shared by lib/pydt.c (parsing, arithmetic) and
 * lib/pydt_fmt.c (formatting). */
#ifndef SLUICE_PYDT_INT_H
#define SLUICE_PYDT_INT_H

#include "sluice/pydt.h"

extern const char *const sl__wday_names[7]; /* Monday first */
extern const char *const sl__mon_names[12];

/* Python's floor division */
static inline int64_t sl__floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#endif
