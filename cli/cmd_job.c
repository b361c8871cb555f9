/* sluice job list|show|logs: the history of sync jobs, their attempts,
 * per-stream stats and logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/store.h"

static const char *usage_job =
    "sluice job list [--connection NAME] [--limit N]\n"
    "sluice job show ID        (attempts and per-stream stats: emitted, committed, bytes)\n"
    "sluice job logs ID [--attempt N]   (--json: [{attempt, log_path, lines}])\n"
    "sluice job cancel ID      (the running attempt stops within a second; the job ends \"cancelled\")\n"
    "  every subcommand takes --json and --store FILE\n";

static sl_code job_show(cli_ws *w, const char *id, sl_err *err) {
  json_t *job = NULL, *attempts = NULL;
  sl_code rc = sl_store_one(w->store, &job, err, "SELECT j.*, c.name AS connection FROM jobs j JOIN connections c ON c.id = j.connection_id "
                                                 "WHERE j.id = ?", 1, id);
  if (rc == SL_ENOTFOUND) return sl_err_set(err, SL_ENOTFOUND, "no job %s (see `sluice job list`)", id);
  if (rc || (rc = sl_store_exec(w->store, &attempts, err, "SELECT * FROM attempts WHERE job_id = ? ORDER BY number", 1, id))) goto out;
  size_t i;
  json_t *a;
  json_array_foreach(attempts, i, a) {
    json_t *st = NULL;
    char ab[24];
    if ((rc = sl_store_exec(w->store, &st, err, "SELECT namespace, stream, emitted, committed, rejected, bytes, status, duration_ms "
                            "FROM stream_stats WHERE attempt_id = ? ORDER BY namespace, stream", 1, sl_store_i64(ab, sl_store_int(a, "id")))))
      goto out;
    json_object_set_new(a, "streams", st);
  }
  json_object_set(job, "attempts", attempts);
  if (w->json) cli_print_json(job);
  else {
    printf("job %s: connection %s, %s", id, sl_store_str(job, "connection"), sl_store_str(job, "status"));
    if (sl_store_str(job, "failure_reason")) printf(" (%s: %s)", sl_store_str(job, "failure_type"), sl_store_str(job, "failure_reason"));
    putchar('\n');
    json_array_foreach(attempts, i, a) {
      printf("attempt %lld: %s", (long long)sl_store_int(a, "number"), sl_store_str(a, "status"));
      if (sl_store_str(a, "failure_reason")) printf(" (%s)", sl_store_str(a, "failure_reason"));
      printf(", %lld state(s) committed\n  %-24s %10s %10s %12s %s\n", (long long)sl_store_int(a, "states_committed"), "stream",
             "emitted", "committed", "bytes", "status");
      size_t k;
      json_t *s;
      json_array_foreach(json_object_get(a, "streams"), k, s)
          printf("  %-24s %10lld %10lld %12lld %s\n", sl_store_str(s, "stream"), (long long)sl_store_int(s, "emitted"),
                 (long long)sl_store_int(s, "committed"), (long long)sl_store_int(s, "bytes"), sl_store_str(s, "status"));
    }
  }
out:
  json_decref(job);
  json_decref(attempts);
  return rc;
}

static void copy_log(void *arg, int64_t attempt, const char *path, FILE *f) {
  char buf[65536];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, k, stdout);
}

static sl_code job_logs(cli_ws *w, const char *id, sl_err *err) {
  const char *n = cli_ws_opt(w, "--attempt");
  if (!w->json) return sl_job_logs_each(w->store, id, n, copy_log, NULL, err);
  sl_buf b;
  sl_buf_init(&b, (size_t)1 << 31);
  sl_code rc = sl_job_logs_json(w->store, id, n, &b, err);
  if (!rc) printf("%.*s\n", (int)b.len, b.data);
  sl_buf_dispose(&b);
  return rc;
}

int cmd_job(int argc, char **argv) {
  static const char *const vopts[] = {"--connection", "--limit", "--attempt", NULL};
  cli_ws w;
  int rc = cli_ws_start(&w, argc, argv, "job", usage_job, vopts, NULL, "job (its id)");
  if (rc >= 0) return rc;
  const char *sub = w.pos[0], *id = w.npos > 1 ? w.pos[1] : NULL, *cmd = w.cmd;
  sl_err err = SL_ERR_INIT;
  sl_code c;
  json_t *rows = NULL;
  if (!strcmp(sub, "list")) {
    const char *conn = cli_ws_opt(&w, "--connection"), *limit = cli_ws_opt(&w, "--limit");
    c = sl_store_exec(w.store, &rows, &err,
                      "SELECT j.id, c.name AS connection, j.kind, j.status, j.created_at, j.finished_at, j.failure_type, j.failure_reason, "
                      "(SELECT COUNT(*) FROM attempts a WHERE a.job_id = j.id) AS attempts FROM jobs j "
                      "JOIN connections c ON c.id = j.connection_id WHERE (CAST(? AS TEXT) IS NULL OR c.name = ?) ORDER BY j.id DESC LIMIT ?",
                      3, conn, conn, limit ? limit : "100");
    if (!c) {
      if (w.json) cli_print_json(rows);
      else {
        printf("%-6s %-24s %-11s %-8s %s\n", "id", "connection", "status", "attempts", "failure");
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
            printf("%-6lld %-24s %-11s %-8lld %s\n", (long long)sl_store_int(r, "id"), sl_store_str(r, "connection"),
                   sl_store_str(r, "status"), (long long)sl_store_int(r, "attempts"),
                   sl_store_str(r, "failure_reason") ? sl_store_str(r, "failure_reason") : "");
      }
    }
  } else if (!strcmp(sub, "show")) {
    c = job_show(&w, id, &err);
  } else if (!strcmp(sub, "logs")) {
    c = job_logs(&w, id, &err);
  } else if (!strcmp(sub, "cancel")) {
    char ts[24];
    json_t *row = NULL;
    c = sl_store_one(w.store, &row, &err, "UPDATE jobs SET cancel_requested = ? WHERE id = ? AND status = 'running' RETURNING id", 2,
                     sl_store_i64(ts, sl_now_ms()), id);
    if (c == SL_ENOTFOUND) c = sl_err_set(&err, SL_ENOTFOUND, "job %s is not running (see `sluice job show %s`)", id, id);
    if (!c) printf(w.json ? "{\"cancel_requested\": %s}\n" : "job %s: cancel requested\n", id);
    json_decref(row);
  } else {
    c = sl_err_set(&err, SL_EUSAGE, "%s: unknown subcommand (see `sluice job --help`)", cmd);
  }
  json_decref(rows);
  cli_ws_close(&w);
  return c ? cli_fail(&err, NULL) : 0;
}
