/* A job's attempt logs, for `sluice job logs [--json]` and the REST API's
 * GET /v1/jobs/ID/logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/store.h"

sl_code sl_job_logs_each(sl_store *s, const char *job_id, const char *attempt, sl_job_log_fn fn, void *arg, sl_err *err) {
  json_t *rows = NULL;
  sl_code rc = attempt ? sl_store_exec(s, &rows, err, "SELECT number, log_path FROM attempts WHERE job_id = ? AND number = ?", 2, job_id, attempt)
                       : sl_store_exec(s, &rows, err, "SELECT number, log_path FROM attempts WHERE job_id = ? ORDER BY number", 1, job_id);
  if (rc) return rc;
  if (!json_array_size(rows)) rc = sl_err_set(err, SL_ENOTFOUND, "job %s has no attempt%s%s", job_id, attempt ? " " : "s", attempt ? attempt : "");
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    const char *path = sl_store_str(r, "log_path");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
      rc = sl_err_set(err, SL_EIO, "job %s attempt %lld: log %s is missing", job_id, (long long)sl_store_int(r, "number"), path ? path : "");
      break;
    }
    fn(arg, sl_store_int(r, "number"), path, f);
    fclose(f);
  }
  json_decref(rows);
  return rc;
}

/* One attempt as {"attempt", "log_path", "lines": [...]}. */
static void write_json(void *arg, int64_t number, const char *path, FILE *f) {
  sl_jw *w = arg;
  sl_jw_obj_open(w);
  sl_jw_keyz(w, "attempt");
  sl_jw_int(w, number);
  sl_jw_keyz(w, "log_path");
  sl_jw_strz(w, path);
  sl_jw_keyz(w, "lines");
  sl_jw_arr_open(w);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) sl_jw_str(w, line, (size_t)(line[len - 1] == '\n' ? len - 1 : len));
  free(line);
  sl_jw_arr_close(w);
  sl_jw_obj_close(w);
}

sl_code sl_job_logs_json(sl_store *s, const char *job_id, const char *attempt, sl_buf *out, sl_err *err) {
  sl_jw w;
  sl_jw_init(&w, out);
  sl_jw_arr_open(&w);
  sl_code rc = sl_job_logs_each(s, job_id, attempt, write_json, &w, err);
  sl_jw_arr_close(&w);
  if (!rc && w.rc) rc = sl_err_set(err, SL_ELIMIT, "job %s: the logs are larger than %zu bytes as JSON", job_id, out->max);
  return rc;
}
