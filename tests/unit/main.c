#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 2048

static struct {
  const char *name, *file;
  sl_test_fn fn;
} tests[MAX_TESTS];
static int n_tests, failed_now;
static char tmpdir[256];

void sl_test_register(const char *name, const char *file, sl_test_fn fn) {
  if (n_tests < MAX_TESTS) {
    tests[n_tests].name = name;
    tests[n_tests].file = file;
    tests[n_tests].fn = fn;
    n_tests++;
  }
}

void sl_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "    %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  failed_now = 1;
}

const char *sl_test_data_dir(void) {
  const char *d = getenv("SLUICE_TEST_DATA");
  return d ? d : "tests/data";
}

const char *sl_test_tmpdir(void) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-unit-XXXXXX");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      exit(2);
    }
  }
  return tmpdir;
}

static void cleanup(void) {
  if (tmpdir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
}

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strstr(name, argv[i])) return 1;
  return 0;
}

int main(int argc, char **argv) {
  atexit(cleanup);
  int passed = 0, failed = 0;
  for (int i = 0; i < n_tests; i++) {
    if (!selected(tests[i].name, argc, argv)) continue;
    failed_now = 0;
    tests[i].fn();
    if (failed_now) {
      fprintf(stderr, "FAIL %s (%s)\n", tests[i].name, tests[i].file);
      failed++;
    } else {
      passed++;
    }
  }
  printf("unit: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
