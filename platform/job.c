/* Sync jobs: one job per connection at a time, attempts with retries and
 * backoff on transient failures. Every attempt starts from the state in the
 * store and puts back only what the destination echoed (sl_sync_run writes
 * nothing else into its state file), so the stored state never runs ahead
 * of the data; a crash of sluice itself only makes it lag. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/fsutil.h"
#include "sluice/platform.h"
#include "refresh_int.h"
#include "store_int.h"

typedef struct attempt_files {
  char dir[4096];
  char src_cfg[4200], dst_cfg[4200], state[4200], log[4200], record[4200], prev_record[4200];
} attempt_files;

/* The sync record of an attempt (platform/sync.c) sits beside its log:
 * the next attempt of the connection reads the previous one's. On another
 * host (a shared PostgreSQL store) it is not there: no first-sync catch-up. */
static void record_path(char *out, size_t cap, const char *log) {
  size_t n = strlen(log);
  snprintf(out, cap, "%.*s.sync", (int)(n > 4 && !strcmp(log + n - 4, ".log") ? n - 4 : n), log);
}

sl_code sl_job_reset_state(sl_store *s, int64_t conn_id, const char *stream, sl_err *err) {
  char ib[24];
  sl_store_i64(ib, conn_id);
  sl_code rc = stream ? sl_store_exec(s, NULL, err, "DELETE FROM state WHERE connection_id = ? AND stream = ?", 2, ib, stream)
                      : sl_store_exec(s, NULL, err, "DELETE FROM state WHERE connection_id = ?", 1, ib);
  if (rc) return rc;
  /* A key that had no saved state leaves the state as it was: only the
   * record's absence tells the next attempt that a reset came between. */
  json_t *row = NULL;
  sl_err e0 = SL_ERR_INIT;
  if (!sl_store_one(s, &row, &e0, "SELECT a.log_path FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.connection_id = ? "
                    "ORDER BY a.id DESC LIMIT 1", 1, ib) && sl_store_str(row, "log_path")) {
    char rec[4200];
    record_path(rec, sizeof rec, sl_store_str(row, "log_path"));
    if (unlink(rec) != 0 && errno != ENOENT)
      rc = sl_err_set(err, SL_EIO, "state reset, but the sync record %s could not be removed: %s (remove it by hand)", rec,
                      strerror(errno));
  }
  json_decref(row);
  return rc;
}

/* Transient: worth another attempt (a connector crashed or was killed, I/O
 * trouble, a locked store). Config and catalog problems are not. */
static bool retryable(sl_code c) {
  return c == SL_ESOURCE || c == SL_EDESTINATION || c == SL_ECONNECTOR || c == SL_ETRANSIENT || c == SL_EIO ||
         c == SL_EPROTOCOL;
}

/* This host's name in job owners: SLUICE_HOST_ID (tests: several
 * "hosts" on one machine), else the host name. */
static void host_id(char *host, size_t cap) {
  const char *e = getenv("SLUICE_HOST_ID");
  if (e && *e) snprintf(host, cap, "%s", e);
  else if (gethostname(host, cap - 1) != 0) snprintf(host, cap, "localhost");
}

const char *sl_job_owner(char *buf, size_t cap) {
  char host[256] = "";
  host_id(host, sizeof host);
  snprintf(buf, cap, "%s:%d", host, (int)getpid());
  return buf;
}

/* How long a job's lease lasts without a heartbeat (SLUICE_LEASE_S, 60). */
int64_t sl_job_lease_ms(void) {
  const char *e = getenv("SLUICE_LEASE_S");
  int64_t v = e && *e ? atoll(e) : 60;
  return (v > 0 ? v : 60) * 1000;
}

/* Whether process pid runs: a zombie (killed, its parent gone too, under an
 * init that does not reap) counts as ended. */
static bool process_runs(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return true; /* no /proc: kill() said it exists */
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *end = strrchr(buf, ')'); /* "pid (comm) S ..." */
  return !(end && end[1] == ' ' && (end[2] == 'Z' || end[2] == 'X'));
}

/* Running jobs of the connection: one whose lease is current and whose
 * owner runs (on this host; another host's owner is trusted while its lease
 * lasts) makes the connection busy. One whose owner on this host is gone
 * (kill -9), or whose lease expired (its server died, or a reused pid), is
 * failed, so a new job can take over from the committed state. */
static sl_code reap_abandoned(sl_store *s, const char *conn_id, sl_err *err) {
  json_t *rows;
  char host[256] = "", ts[24];
  host_id(host, sizeof host);
  int64_t now = sl_now_ms();
  sl_code rc = sl_store_exec(s, &rows, err, "SELECT id, owner, lease_until FROM jobs WHERE connection_id = ? AND status = 'running'", 1, conn_id);
  if (rc) return rc;
  size_t i;
  json_t *r;
  bool busy = false;
  json_array_foreach(rows, i, r) {
    const char *owner = sl_store_str(r, "owner");
    const char *colon = owner ? strrchr(owner, ':') : NULL;
    bool here = colon && (size_t)(colon - owner) == strlen(host) && !strncmp(owner, host, strlen(host));
    pid_t pid = colon ? (pid_t)atoi(colon + 1) : 0;
    bool leased = sl_store_int(r, "lease_until") > now;
    if (leased && (!here || process_runs(pid))) {
      busy = true;
      rc = sl_err_set(err, SL_ETRANSIENT, "the connection already has job %lld running (%s)", (long long)sl_store_int(r, "id"),
                      owner ? owner : "?");
      break;
    }
    char ib[24];
    const char *why = here && leased ? "abandoned: the process running it ended without finishing it"
                           : "lease expired: its server stopped renewing it; another server took the connection over";
    sl_store_exec(s, NULL, err,
                  "UPDATE jobs SET status = 'failed', finished_at = ?, failure_type = 'system_error', failure_reason = ? WHERE id = ?",
                  3, sl_store_i64(ts, now), why, sl_store_i64(ib, sl_store_int(r, "id")));
    sl_store_exec(s, NULL, err, "UPDATE attempts SET status = 'failed', finished_at = ?, failure_reason = ? "
                  "WHERE job_id = ? AND status = 'running'", 3, ts, here && leased ? "abandoned" : "lease expired", ib);
  }
  json_decref(rows);
  return busy ? rc : SL_EOK;
}

sl_code sl_job_idle(sl_store *s, int64_t conn_id, sl_err *err) {
  char ib[24];
  return reap_abandoned(s, sl_store_i64(ib, conn_id), err);
}

/* The heartbeat: renews the job's lease from its own store connection
 * while the job runs, so other servers leave the connection alone. */
typedef struct heartbeat {
  sl_store *store;
  int64_t job_id;
  volatile int stop;
  volatile int cancelled; /* `sluice job cancel` asked; the sync was interrupted */
  pthread_t thread;
  bool started;
} heartbeat;

static void *heartbeat_main(void *arg) {
  heartbeat *h = arg;
  int64_t every = sl_job_lease_ms() / 3, last = sl_now_ms();
  int64_t checked = last;
  while (!h->stop) {
    struct timespec t = {0, 50 * 1000000L};
    nanosleep(&t, NULL);
    if (!h->cancelled && sl_now_ms() - checked >= 250) { /* a cancel request? */
      json_t *row = NULL;
      char jb[24];
      sl_err e = SL_ERR_INIT;
      checked = sl_now_ms();
      if (!sl_store_one(h->store, &row, &e, "SELECT cancel_requested FROM jobs WHERE id = ?", 1, sl_store_i64(jb, h->job_id)) &&
          sl_store_int(row, "cancel_requested") > 0) {
        h->cancelled = 1;
        sl_sync_interrupt();
      }
      json_decref(row);
    }
    if (sl_now_ms() - last < every) continue;
    last = sl_now_ms();
    char lb[24], jb[24];
    sl_err e = SL_ERR_INIT;
    sl_store_exec(h->store, NULL, &e, "UPDATE jobs SET lease_until = ? WHERE id = ? AND status = 'running'", 2,
                  sl_store_i64(lb, last + sl_job_lease_ms()), sl_store_i64(jb, h->job_id));
  }
  return NULL;
}

static void heartbeat_start(heartbeat *h, sl_store *s, int64_t job_id) {
  memset(h, 0, sizeof *h);
  sl_err e = SL_ERR_INIT;
  if (sl_store_reopen(s, &h->store, &e)) return; /* the lease then simply runs out */
  h->job_id = job_id;
  h->started = pthread_create(&h->thread, NULL, heartbeat_main, h) == 0;
}

static void heartbeat_stop(heartbeat *h) {
  h->stop = 1;
  if (h->started) pthread_join(h->thread, NULL);
  sl_store_close(h->store);
}

static sl_code job_create(sl_store *s, const json_t *conn, const char *kind, int64_t *job_id, sl_err *err) {
  char cb[24], ts[24], lb[24], owner[300];
  sl_store_i64(cb, sl_store_int(conn, "id"));
  sl_code rc = sl_store_begin(s, err);
  if (rc) return rc;
  json_t *row = NULL;
  char lock[128];
  /* Serialise job creation per connection (PostgreSQL: a row lock). */
  snprintf(lock, sizeof lock, "SELECT id FROM connections WHERE id = ?%s", s->be->for_update);
  rc = sl_store_one(s, &row, err, lock, 1, cb);
  if (rc == SL_ENOTFOUND) /* SKIP LOCKED: another process is creating a job for it right now */
    rc = sl_err_set(err, SL_ETRANSIENT, "another process is starting a job for this connection");
  json_decref(row);
  row = NULL;
  if (rc || (rc = reap_abandoned(s, cb, err)) ||
      (rc = sl_store_one(s, &row, err, "INSERT INTO jobs (connection_id, kind, status, owner, created_at, started_at, lease_until) "
                         "VALUES (?, ?, 'running', ?, ?, ?, ?) RETURNING id", 6, cb, kind, sl_job_owner(owner, sizeof owner),
                         sl_store_i64(ts, sl_now_ms()), ts, sl_store_i64(lb, sl_now_ms() + sl_job_lease_ms())))) {
    sl_store_rollback(s);
    return rc;
  }
  *job_id = sl_store_int(row, "id");
  json_decref(row);
  return sl_store_commit(s, err);
}

/* Replace every secret value in the log file with asterisks. */
static void scrub_log(const char *dir, const char *path, const sl_secrets *sec) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  sl_buf b;
  sl_buf_init(&b, (size_t)1 << 31);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&b, chunk, n);
  fclose(f);
  sl_buf_putc(&b, 0);
  char *clean = sl_secrets_scrub(sec, b.data ? b.data : "");
  sl_err e = SL_ERR_INIT;
  if (clean && strcmp(clean, b.data ? b.data : "")) sl_fs_replace(dir, path, clean, strlen(clean), &e);
  free(clean);
  sl_buf_dispose(&b);
}

static void log_summary(FILE *f, int attempt, const sl_sync_result *r, sl_code rc, const sl_err *err) {
  fprintf(f, "---- summary of attempt %d ----\n%-24s %12s %12s %12s %10s  %s\n", attempt, "stream", "read",
          "committed", "bytes", "seconds", "status");
  for (size_t i = 0; i < r->n_streams; i++) {
    const sl_stream_stats *st = &r->streams[i];
    int64_t end = st->finished_ms ? st->finished_ms : r->finished_ms;
    fprintf(f, "%-24s %12llu %12llu %12llu %10.2f  %s\n", st->name, (unsigned long long)st->records_read,
            (unsigned long long)st->records_committed, (unsigned long long)st->bytes_read,
            st->started_ms ? (double)(end - st->started_ms) / 1000.0 : 0.0, st->status);
  }
  fprintf(f, "states committed: %llu\noutcome: %s%s%s\n", (unsigned long long)r->states_committed,
          rc ? "failed" : "succeeded", rc ? ": " : "", rc ? err->msg : "");
}

static sl_code record_stats(sl_store *s, const char *attempt_id, const sl_sync_result *r, sl_err *err) {
  for (size_t i = 0; i < r->n_streams; i++) {
    const sl_stream_stats *st = &r->streams[i];
    char e[24], b[24], c[24], x[24], d[24];
    int64_t end = st->finished_ms ? st->finished_ms : r->finished_ms;
    sl_code rc = sl_store_exec(s, NULL, err,
                               "INSERT INTO stream_stats (attempt_id, namespace, stream, emitted, bytes, committed, rejected, status, duration_ms) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", 9, attempt_id, st->ns ? st->ns : "", st->name,
                               sl_store_i64(e, (int64_t)st->records_read), sl_store_i64(b, (int64_t)st->bytes_read),
                               sl_store_i64(c, (int64_t)st->records_committed), sl_store_i64(x, (int64_t)st->errors), st->status,
                               sl_store_i64(d, st->started_ms ? end - st->started_ms : 0));
    if (rc) return rc;
  }
  return SL_EOK;
}

typedef struct commit_ctx {
  sl_store *s;
  int64_t conn;
  const json_t *src, *dst;
} commit_ctx;

/* Each saved state file goes into the store as well, so the committed
 * state survives the host (another server resumes from it). */
static sl_code commit_to_store(void *arg, const json_t *state, sl_err *err) {
  commit_ctx *c = arg;
  return sl_store_state_put(c->s, c->conn, state, err);
}

/* A connector's new config (CONTROL): kept in the store as an edit of the
 * actor (secrets apart by its spec; compare-and-set on the version read
 * now, so a concurrent edit is not lost but this config is then dropped). */
static sl_code config_to_store(void *arg, const char *who, const json_t *config, sl_err *err) {
  commit_ctx *c = arg;
  const char *kind = strcmp(who, "source") ? "destination" : "source";
  json_t *row = NULL, *spec = NULL;
  char ib[24];
  sl_code rc = sl_actor_find(c->s, kind, sl_store_i64(ib, sl_store_int(strcmp(who, "source") ? c->dst : c->src, "id")), &row, err);
  if (rc) return rc;
  const char *sp = sl_store_str(row, "spec");
  if (sp) spec = json_loads(sp, 0, NULL);
  rc = sl_actor_save(c->s, kind, sl_store_int(row, "id"), sl_store_int(row, "version"), sl_store_str(row, "name"),
                     sl_store_str(row, "connector"), spec, config, NULL, err);
  json_decref(spec);
  json_decref(row);
  return rc;
}

/* One attempt: files in a private directory, stderr into the log, the
 * sync, then the echoed state back into the store. */
static sl_code run_attempt(sl_store *s, const json_t *conn, const json_t *src, const json_t *dst, const json_t *src_cfg,
                           const json_t *dst_cfg, const sl_secrets *sec, const sl_job_opts *o, conn_catalog *cc, int64_t job_id,
                           int number, sl_err *err) {
  attempt_files f;
  char ab[24], ts[24], jb[24], nb[24], logdir[4200];
  int64_t conn_id = sl_store_int(conn, "id");
  snprintf(logdir, sizeof logdir, "%s/logs", s->home);
  snprintf(f.log, sizeof f.log, "%s/job-%lld-attempt-%d.log", logdir, (long long)job_id, number);
  sl_code rc = sl_fs_mkdirs(logdir, err);
  if (rc) return rc;
  json_t *row = NULL;
  if ((rc = sl_store_one(s, &row, err, "INSERT INTO attempts (job_id, number, status, started_at, log_path) VALUES (?, ?, 'running', ?, ?) RETURNING id",
                         4, sl_store_i64(jb, job_id), sl_store_i64(nb, number), sl_store_i64(ts, sl_now_ms()), f.log)))
    return rc;
  sl_store_i64(ab, sl_store_int(row, "id"));
  json_decref(row);
  record_path(f.record, sizeof f.record, f.log);
  f.prev_record[0] = 0;
  char cb[24];
  sl_err e0 = SL_ERR_INIT;
  if (!sl_store_one(s, &row, &e0, "SELECT a.log_path FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE j.connection_id = ? "
                    "AND a.id < ? ORDER BY a.id DESC LIMIT 1", 2, sl_store_i64(cb, conn_id), ab) && sl_store_str(row, "log_path"))
    record_path(f.prev_record, sizeof f.prev_record, sl_store_str(row, "log_path"));
  json_decref(row);

  snprintf(f.dir, sizeof f.dir, "%s/run-XXXXXX", s->home);
  json_t *state = NULL;
  sl_sync_result res;
  memset(&res, 0, sizeof res);
  bool have_dir = mkdtemp(f.dir) != NULL;
  snprintf(f.src_cfg, sizeof f.src_cfg, "%s/source.json", f.dir);
  snprintf(f.dst_cfg, sizeof f.dst_cfg, "%s/destination.json", f.dir);
  snprintf(f.state, sizeof f.state, "%s/state.json", f.dir);
  if (!have_dir) rc = sl_err_set(err, SL_EIO, "cannot create a directory in %s: %s", s->home, strerror(errno));
  else if (!(rc = sl_store_write_private(f.src_cfg, src_cfg, err)) && !(rc = sl_store_write_private(f.dst_cfg, dst_cfg, err)) &&
           !(rc = sl_store_state_get(s, conn_id, &state, err)) && !(rc = sl_store_write_private(f.state, state, err))) {
    commit_ctx cmc = {s, conn_id, src, dst};
    /* The streams, their modes and generations: conn_configure. */
    sl_sync_opts so = {.source = sl_store_str(src, "connector"), .source_config = f.src_cfg,
                       .destination = sl_store_str(dst, "connector"), .destination_config = f.dst_cfg,
                       .state_file = f.state, .full_refresh = o->full_refresh, .log_all = true,
                       .on_commit = commit_to_store, .on_commit_arg = &cmc, .configure = conn_configure, .configure_arg = cc,
                       .on_config = config_to_store, .on_config_arg = &cmc,
                       .namespace_format = sl_store_str(conn, "namespace_format"), .stream_prefix = sl_store_str(conn, "stream_prefix"),
                       .prev_record = f.prev_record, .record = f.record};
    /* Everything the sync and its connectors say goes into the log. */
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int lfd = open(f.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (lfd >= 0) {
      dup2(lfd, STDERR_FILENO);
      close(lfd);
    }
    fprintf(stderr, "job %lld attempt %d (%s): connection \"%s\": %s -> %s\n", (long long)job_id, number, cc->req->kind,
            sl_store_str(conn, "name"), so.source, so.destination);
    rc = !strcmp(cc->req->kind, "clear") ? conn_clear_run(cc, &so, &res, err) : sl_sync_run(&so, &res, err);
    log_summary(stderr, number, &res, rc, err);
    fflush(stderr);
    if (saved >= 0) {
      dup2(saved, STDERR_FILENO);
      close(saved);
    }
    /* The file holds exactly the echoed states: put them in the store. */
    json_t *committed = NULL;
    sl_err e2 = SL_ERR_INIT;
    sl_code src2 = sl_json_load_file(f.state, &committed, &e2);
    if (!src2) src2 = sl_store_state_put(s, conn_id, committed, &e2);
    json_decref(committed);
    if (src2 && !rc) {
      rc = src2;
      *err = e2;
    }
  }
  scrub_log(logdir, f.log, sec);
  if (have_dir) {
    unlink(f.src_cfg);
    unlink(f.dst_cfg);
    unlink(f.state);
    rmdir(f.dir);
  }
  json_decref(state);
  sl_err e3 = SL_ERR_INIT;
  record_stats(s, ab, &res, &e3);
  char sc[24];
  char *reason = rc ? sl_secrets_scrub(sec, err->msg) : NULL;
  sl_store_exec(s, NULL, &e3, "UPDATE attempts SET status = ?, finished_at = ?, failure_type = ?, failure_reason = ?, states_committed = ? WHERE id = ?",
                6, rc ? "failed" : "succeeded", sl_store_i64(ts, sl_now_ms()), rc ? sl_err_failure_type(rc) : NULL, reason,
                sl_store_i64(sc, (int64_t)res.states_committed), ab);
  free(reason);
  if (!o->quiet) {
    FILE *out = stderr;
    log_summary(out, number, &res, rc, err);
  }
  sl_sync_result_dispose(&res);
  return rc;
}

static sl_code record_change(sl_store *s, const char *cb, const char *jb, int64_t from, int64_t to, const json_t *diff,
                             const char *action, sl_err *err) {
  char fb[24], tb[24], ts[24];
  char *text = sl_json_dumps(diff);
  sl_code rc = sl_store_exec(s, NULL, err, "INSERT INTO schema_changes (connection_id, job_id, from_version, to_version, diff, breaking, action, created_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", 8, cb, jb, from ? sl_store_i64(fb, from) : NULL, sl_store_i64(tb, to), text,
                             json_is_true(json_object_get(diff, "breaking")) ? "1" : "0", action, sl_store_i64(ts, sl_now_ms()));
  free(text);
  return rc;
}

/* Names of a catalog's streams, comma-separated (malloc'd). */
static char *stream_names(const json_t *cat, const json_t *extra) {
  sl_buf b;
  sl_buf_init(&b, 1 << 24);
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(cat, "streams"), i, st) {
    if (b.len) sl_buf_putc(&b, ',');
    const char *n = json_string_value(json_object_get(st, "name"));
    sl_buf_append(&b, n, strlen(n));
  }
  json_array_foreach(extra, i, st) {
    if (b.len) sl_buf_putc(&b, ',');
    sl_buf_append(&b, json_string_value(st), strlen(json_string_value(st)));
  }
  sl_buf_putc(&b, 0);
  return b.data;
}

/* Before a sync: discover, compare with the catalog the connection last
 * synced with, record what changed and apply the connection's policy.
 * Returns an error only when the policy pauses the connection. */
static sl_code schema_check(sl_store *s, const json_t *conn, const json_t *src, int64_t job_id, bool quiet, sl_err *err) {
  json_t *cat = NULL, *prev = NULL, *diff = NULL, *pc = NULL;
  int64_t version = 0, from = sl_store_int(conn, "catalog_version");
  bool changed;
  char cb[24], jb[24], vb[24];
  sl_store_i64(cb, sl_store_int(conn, "id"));
  sl_store_i64(jb, job_id);
  sl_err e = SL_ERR_INIT;
  if (sl_source_discover(s, src, &cat, &version, &changed, &e)) {
    /* Not fatal here: the sync's own discover reports the real failure. */
    if (!quiet) fprintf(stderr, "sluice: warning: schema check skipped: %s\n", e.msg);
    return SL_EOK;
  }
  sl_code rc = SL_EOK;
  if (from && from != version && !sl_catalog_get(s, sl_store_int(src, "id"), from, &prev, &e) &&
      (pc = json_loads(sl_store_str(prev, "catalog"), 0, NULL))) {
    diff = sl_catalog_diff(pc, cat);
    const char *policy = sl_store_str(conn, "schema_policy");
    bool breaking = json_is_true(json_object_get(diff, "breaking"));
    json_t *added = json_object_get(diff, "streams_added");
    const char *streams = sl_store_str(conn, "streams");
    const char *action = "propagated_columns";
    if (!strcmp(policy, "pause_on_breaking") && breaking) {
      action = "paused";
      char *t = sl_json_dumps(json_object_get(diff, "streams_changed"));
      rc = sl_err_set(err, SL_ECONFIG, "breaking schema change in source \"%s\" (catalog version %lld -> %lld): %.400s; connection \"%s\" "
                      "is paused: review it with `sluice catalog diff %s %lld %lld`, then `sluice connection edit %s --status active`",
                      sl_store_str(src, "name"), (long long)from, (long long)version, t ? t : "", sl_store_str(conn, "name"),
                      sl_store_str(src, "name"), (long long)from, (long long)version, sl_store_str(conn, "name"));
      free(t);
      sl_store_exec(s, NULL, &e, "UPDATE connections SET status = 'paused', version = version + 1 WHERE id = ?", 1, cb);
    } else if (!strcmp(policy, "propagate_all")) {
      action = "propagated";
      if (streams && *streams && json_array_size(added)) { /* an explicit list grows by the new streams */
        char *list = stream_names(NULL, added), *both = NULL;
        if (list && asprintf(&both, "%s,%s", streams, list) > 0)
          sl_store_exec(s, NULL, &e, "UPDATE connections SET streams = ? WHERE id = ?", 2, both, cb);
        free(list);
        free(both);
      }
    } else {
      if (!strcmp(policy, "ignore")) action = "ignored";
      if ((!streams || !*streams) && json_array_size(added)) {
        /* Columns only and ignore: new streams stay out, so "all streams" becomes the old list. */
        char *list = stream_names(pc, NULL);
        sl_store_exec(s, NULL, &e, "UPDATE connections SET streams = ? WHERE id = ?", 2, list, cb);
        free(list);
      }
    }
    /* A removed stream leaves an explicit stream list (else the sync would
     * fail on a stream the source no longer has). */
    json_t *removed = json_object_get(diff, "streams_removed");
    json_t *cur = NULL;
    if (rc == SL_EOK && json_array_size(removed) &&
        !sl_store_one(s, &cur, &e, "SELECT streams FROM connections WHERE id = ?", 1, cb) && sl_store_str(cur, "streams")) {
      sl_buf keep;
      sl_buf_init(&keep, 1 << 24);
      char *list = strdup(sl_store_str(cur, "streams")), *save = NULL;
      for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool gone = false;
        size_t k;
        json_t *r;
        json_array_foreach(removed, k, r) gone |= !strcmp(json_string_value(r), t);
        if (gone) continue;
        if (keep.len) sl_buf_putc(&keep, ',');
        sl_buf_append(&keep, t, strlen(t));
      }
      sl_buf_putc(&keep, 0);
      sl_store_exec(s, NULL, &e, "UPDATE connections SET streams = ? WHERE id = ?", 2, keep.data, cb);
      sl_buf_dispose(&keep);
      free(list);
    }
    json_decref(cur);
    /* Field selections: new fields are not selected, removed ones leave the selection. */
    const char *settings_text = sl_store_str(conn, "catalog");
    json_t *settings = settings_text && *settings_text ? json_loads(settings_text, 0, NULL) : json_pack("{s:[]}", "streams");
    bool pruned = settings && sl_fields_on_diff(settings, diff);
    bool held = settings && !strcmp(action, "ignored") && sl_fields_hold_back(settings, diff, pc, cat); /* ignore: new fields stay out */
    if ((pruned || held) && strcmp(action, "paused")) {
      char *t = sl_json_dumps(settings);
      if (t) sl_store_exec(s, NULL, &e, "UPDATE connections SET catalog = ?, version = version + 1 WHERE id = ?", 2, t, cb);
      free(t);
    }
    json_decref(settings);
    record_change(s, cb, jb, from, version, diff, action, &e);
    if (!quiet) fprintf(stderr, "sluice: schema change in source \"%s\" (catalog version %lld -> %lld): %s\n",
                        sl_store_str(src, "name"), (long long)from, (long long)version, action);
  }
  if (!rc) sl_store_exec(s, NULL, &e, "UPDATE connections SET catalog_version = ? WHERE id = ?", 2, sl_store_i64(vb, version), cb);
  json_decref(cat);
  json_decref(prev);
  json_decref(pc);
  json_decref(diff);
  return rc;
}

sl_code job_run_req(sl_store *s, const json_t *conn_in, const sl_job_opts *o, const job_req *req, int64_t *job_id, sl_err *err) {
  json_t *src = NULL, *dst = NULL, *src_cfg = NULL, *dst_cfg = NULL, *conn = json_incref((json_t *)conn_in);
  sl_secrets *all = NULL;
  char ib[24], ts[24];
  int max = o->max_attempts > 0 ? o->max_attempts : 3;
  conn_catalog cc = {0};
  *job_id = 0;
  sl_code rc;
  if ((rc = sl_actor_find(s, "source", sl_store_i64(ib, sl_store_int(conn, "source_id")), &src, err)) ||
      (rc = sl_actor_find(s, "destination", sl_store_i64(ib, sl_store_int(conn, "destination_id")), &dst, err)) ||
      (rc = sl_actor_config(s, src, &src_cfg, err)) || (rc = sl_actor_config(s, dst, &dst_cfg, err)))
    goto out;
  if (strcmp(sl_store_str(conn, "status"), "active")) {
    rc = sl_err_set(err, SL_ECONFIG, "connection \"%s\" is %s; `sluice connection edit %s --status active` to run it",
                    sl_store_str(conn, "name"), sl_store_str(conn, "status"), sl_store_str(conn, "name"));
    goto out;
  }
  /* One masking set for both sides: a secret of either never reaches a log. */
  {
    json_error_t je;
    json_t *both = json_pack("{s:O,s:O}", "s", src_cfg, "d", dst_cfg);
    json_t *sch = json_object();
    json_t *sp = json_loads(sl_store_str(src, "spec") ? sl_store_str(src, "spec") : "{}", 0, &je);
    json_t *dp = json_loads(sl_store_str(dst, "spec") ? sl_store_str(dst, "spec") : "{}", 0, &je);
    json_object_set_new(sch, "properties", json_pack("{s:o?,s:o?}", "s", sp, "d", dp));
    all = sl_secrets_collect(sch, both);
    json_decref(sch);
    json_decref(both);
  }
  if ((rc = job_create(s, conn, req->kind, job_id, err))) goto out;
  heartbeat hb;
  heartbeat_start(&hb, s, *job_id);
  if ((rc = schema_check(s, conn, src, *job_id, o->quiet, err))) goto finish;
  /* The policy may have changed the stream list: read the connection again. */
  json_t *fresh = NULL;
  if (!sl_store_one(s, &fresh, err, "SELECT * FROM connections WHERE id = ?", 1, sl_store_i64(ib, sl_store_int(conn, "id")))) {
    json_decref(conn);
    conn = fresh;
  }
  sl_store_i64(ib, *job_id);
  cc = (conn_catalog){.s = s, .conn = conn, .job_id = *job_id, .full_refresh = o->full_refresh, .req = req};
  if ((rc = conn_generations_start(&cc, err))) goto finish;
  int64_t delay = o->backoff_ms < 0 ? 0 : o->backoff_ms;
  for (int n = 1; n <= max; n++) {
    rc = run_attempt(s, conn, src, dst, src_cfg, dst_cfg, all, o, &cc, *job_id, n, err);
    if (hb.cancelled && rc) {
      rc = sl_err_set(err, SL_EINTERRUPTED, "cancelled by request (`sluice job cancel %lld`)", (long long)*job_id);
      break;
    }
    if (!rc || rc == SL_EINTERRUPTED || !retryable(rc) || n == max) break;
    if (delay) {
      struct timespec t = {(time_t)(delay / 1000), (long)(delay % 1000) * 1000000L};
      nanosleep(&t, NULL);
      delay *= 2;
    }
  }
  if (!rc) conn_generations_done(&cc);
finish : {
    conn_catalog_dispose(&cc);
    heartbeat_stop(&hb);
    sl_err e2 = SL_ERR_INIT;
    sl_store_i64(ib, *job_id);
    char *reason = rc ? sl_secrets_scrub(all, err->msg) : NULL;
    sl_store_exec(s, NULL, &e2, "UPDATE jobs SET status = ?, finished_at = ?, failure_type = ?, failure_reason = ? WHERE id = ?", 5,
                  !rc ? "succeeded" : hb.cancelled ? "cancelled" : rc == SL_EINTERRUPTED ? "incomplete" : "failed", sl_store_i64(ts, sl_now_ms()),
                  rc ? sl_err_failure_type(rc) : NULL, reason, ib);
    free(reason);
  }
out:
  sl_secrets_free(all);
  json_decref(src);
  json_decref(dst);
  json_decref(src_cfg);
  json_decref(dst_cfg);
  json_decref(conn);
  return rc;
}

sl_code sl_job_run(sl_store *s, const json_t *conn, const sl_job_opts *o, int64_t *job_id, sl_err *err) {
  job_req req = {.kind = "sync"};
  return job_run_req(s, conn, o, &req, job_id, err);
}

sl_code sl_request_add(sl_store *s, int64_t conn, const char *verb, const char *mode, const char *streams, int64_t *id, sl_err *err) {
  char cb[24], ts[24];
  json_t *row = NULL;
  sl_code rc = sl_store_one(s, &row, err, "INSERT INTO requests (connection_id, verb, mode, streams, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                            5, sl_store_i64(cb, conn), verb, mode, streams && *streams ? streams : NULL, sl_store_i64(ts, sl_now_ms()));
  if (!rc) *id = sl_store_int(row, "id");
  json_decref(row);
  return rc;
}

void sl_request_finish(sl_store *s, int64_t request_id, bool done) {
  char rb[24];
  sl_err e = SL_ERR_INIT; /* a failure here leaves the claim to expire: the request is retried */
  sl_store_i64(rb, request_id);
  if (done) sl_store_exec(s, NULL, &e, "DELETE FROM requests WHERE id = ?", 1, rb);
  else sl_store_exec(s, NULL, &e, "UPDATE requests SET claimed_by = NULL, claimed_until = NULL WHERE id = ?", 1, rb);
}

sl_code sl_conn_refresh(sl_store *s, const json_t *conn, const char *const *streams, sl_refresh_mode mode, const sl_job_opts *o,
                        int64_t *job_id, sl_err *err) {
  job_req req = {.kind = "refresh", .pending = mode == SL_REFRESH_MERGE ? "merge" : "truncate", .streams = streams};
  return job_run_req(s, conn, o, &req, job_id, err);
}

sl_code sl_conn_clear(sl_store *s, const json_t *conn, const char *const *streams, const sl_job_opts *o, int64_t *job_id,
                      sl_err *err) {
  job_req req = {.kind = "clear", .pending = "clear", .streams = streams};
  return job_run_req(s, conn, o, &req, job_id, err);
}
