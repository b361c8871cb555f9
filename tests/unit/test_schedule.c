/* Schedules (platform/schedule.c) against the cases in
 * tests/data/platform/schedules.txt. */
#include <stdlib.h>
#include <time.h>

#include "sluice/store.h"
#include "test.h"

static char *trim(char *s) {
  while (*s == ' ') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\n')) *--e = 0;
  return s;
}

static int64_t utc(const char *text) {
  struct tm tm = {0};
  if (sscanf(text, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) return -2;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (int64_t)timegm(&tm);
}

TEST(schedule_case_file) {
  char path[1024], line[512];
  snprintf(path, sizeof path, "%s/platform/schedules.txt", sl_test_data_dir());
  FILE *f = fopen(path, "r");
  CHECK(f);
  int cases = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *expr = trim(strtok(line, "|")), *b = strtok(NULL, "|"), *c = strtok(NULL, "|");
    sl_schedule s;
    sl_err err = SL_ERR_INIT;
    sl_code rc = sl_schedule_parse(expr, &s, &err);
    b = trim(b);
    if (*b == '!') {
      CHECK_INT(rc, SL_EUSAGE);
      CHECK_CONTAINS(err.msg, trim(b + 1));
      CHECK_CONTAINS(err.msg, expr);
    } else {
      CHECK_INT(rc, SL_EOK);
      c = trim(c);
      int64_t want = strcmp(c, "never") ? utc(c) : -1;
      if (sl_schedule_next(&s, utc(b)) != want) fprintf(stderr, "schedule \"%s\" after %s: want %s\n", expr, b, c);
      CHECK(sl_schedule_next(&s, utc(b)) == want);
    }
    cases++;
  }
  if (f) fclose(f);
  CHECK(cases >= 20);
}
