/* bench-interp: evaluations per second of typical manifest templates
 * (bench/interp.sh prints them against jinja2 measured in the same run).
 * Usage: bench-interp [seconds-per-case]   output: name<TAB>evals/s */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/interp.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 1.0;
  static const struct {
    const char *name, *tmpl;
    int mode; /* 0 eval_bool, 1 eval */
  } cases[] = {
      {"record_filter", "{{ record['updated_at'] >= config['start_date'] }}", 0},
      {"add_fields_get", "{{ record.get('id') }}", 1},
      {"stop_condition_big_response", "{{ not response.get('meta', {}).get('next') }}", 0},
      {"path_format", "/v1/{{ stream_partition.parent_id }}/items", 1},
      {"now_strftime", "{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}", 1},
  };
  json_t *record = json_pack(
      "{s:i,s:s,s:s,s:s,s:s,s:i,s:b,s:{s:s,s:s,s:s},s:[s,s,s],s:f}", "id", 123456, "created_at",
      "2024-01-02T03:04:05.123456+00:00", "updated_at", "2024-02-03T04:05:06.654321+00:00", "email",
      "someone@example.com", "name", "Some One", "age", 42, "active", 1, "address", "street",
      "1 Main Street", "city", "Springfield", "country", "US", "tags", "a", "b", "c", "score", 12.5);
  json_t *items = json_array();
  for (int i = 0; i < 1000; i++) json_array_append(items, record);
  json_t *ctx = json_pack("{s:{s:s,s:s},s:O,s:{s:o,s:{s:n}},s:{s:i}}", "config", "start_date",
                          "2024-01-01T00:00:00Z", "api_key", "k", "record", record, "response", "data",
                          items, "meta", "next", "stream_slice", "parent_id", 77);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    sl_err err = SL_ERR_INIT;
    sl_tmpl *t = sl_tmpl_compile(cases[c].tmpl, "bench", &err);
    if (!t) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    long n = 0;
    double t0 = now_s(), t1;
    do {
      for (int k = 0; k < 1000; k++) {
        if (cases[c].mode == 0) {
          bool b;
          if (sl_tmpl_eval_bool(t, ctx, &b, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        } else {
          json_t *out = NULL;
          if (sl_tmpl_eval(t, ctx, SL_TMPL_ANY, &out, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
          json_decref(out);
        }
      }
      n += 1000;
      t1 = now_s();
    } while (t1 - t0 < secs);
    printf("%s\t%.0f\n", cases[c].name, n / (t1 - t0));
    sl_tmpl_free(t);
  }
  json_decref(ctx);
  json_decref(record);
  return 0;
}
