/* sluice unit tests: tiny auto-registered test cases.
 *   TEST(json_parse_int) { CHECK(x == 1); CHECK_STR(s, "a"); }
 * Run: build/bin/sluice-unit-tests [name-substring...] */
#ifndef SLUICE_TEST_H
#define SLUICE_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef void (*sl_test_fn)(void);
void sl_test_register(const char *name, const char *file, sl_test_fn fn);
void sl_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Directory of test data files (tests/data), from SLUICE_TEST_DATA or the default. */
const char *sl_test_data_dir(void);
/* A fresh temporary directory for this test (removed at exit). */
const char *sl_test_tmpdir(void);

#define TEST(name)                                                              \
  static void test_##name(void);                                               \
  __attribute__((constructor)) static void test_reg_##name(void) {             \
    sl_test_register(#name, __FILE__, test_##name);                            \
  }                                                                            \
  static void test_##name(void)

#define CHECK(cond)                                                             \
  do {                                                                         \
    if (!(cond)) {                                                             \
      sl_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                    \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_INT(a, b)                                                         \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) {                                                            \
      sl_test_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #a, a_, b_); \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                         \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                   \
      sl_test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,     \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                   \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                             \
  do {                                                                         \
    const char *h_ = (hay), *n_ = (needle);                                    \
    if (!h_ || !strstr(h_, n_)) {                                              \
      sl_test_fail(__FILE__, __LINE__, "%s == \"%s\" does not contain \"%s\"",  \
                   #hay, h_ ? h_ : "(null)", n_);                              \
      return;                                                                  \
    }                                                                          \
  } while (0)

#endif
