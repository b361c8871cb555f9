/* `sluice server`: runs active connections on their schedules and when the
 * API asks, one job per connection at a time and at most `workers` at once.
 * Each job is a child `sluice connection sync`, so a crash of one job never
 * takes the server down, and SIGTERM reaches it as to any sync: the attempt
 * ends cleanly, the job is marked incomplete and the next run resumes from
 * the committed state. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_int.h"

static volatile sig_atomic_t g_stop;
static sigset_t g_mask; /* the signal mask before SIGCHLD was blocked (jobs get it back) */
static void on_stop(int sig) { g_stop = 1; }

typedef struct running {
  pid_t pid;
  int64_t conn;
} running;

static bool is_running(const running *r, int n, int64_t conn) {
  for (int i = 0; i < n; i++)
    if (r[i].conn == conn) return true;
  return false;
}

/* A job: a child `sluice connection VERB ID [extra...]`. */
static pid_t start_job(const char *self, const sl_server_opts *o, int64_t conn, const char *verb, const char *const *extra) {
  char id[24], attempts[24];
  snprintf(id, sizeof id, "%lld", (long long)conn);
  snprintf(attempts, sizeof attempts, "%d", o->max_attempts > 0 ? o->max_attempts : 3);
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* The child: default signals, output to /dev/null (the job has its log). */
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  pthread_sigmask(SIG_SETMASK, &g_mask, NULL);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
  }
  const char *argv[20];
  int k = 0;
  argv[k++] = "sluice";
  argv[k++] = "connection";
  argv[k++] = verb;
  argv[k++] = id;
  argv[k++] = "--json";
  argv[k++] = "--max-attempts";
  argv[k++] = attempts;
  if (o->store_where) {
    argv[k++] = "--store";
    argv[k++] = o->store_where;
  }
  for (int i = 0; extra && extra[i] && k < 19; i++) argv[k++] = extra[i];
  argv[k] = NULL;
  execv(self, (char *const *)argv);
  _exit(127);
}

/* Refresh and clear asked for through the API, kept in the store: the
 * oldest request of each connection is claimed (an UPDATE that only one
 * server wins) and started like a scheduled job, one per connection and at
 * most `workers`; a connection with a running job, here or under another
 * server's lease, keeps its requests for a later tick. The child deletes
 * the request when its job has run; a claim whose child never got that
 * far expires after a lease and is taken again. */
static void start_requested(sl_server *sv, const char *self, running *run, int *nrun, int workers) {
  if (*nrun >= workers) return;
  json_t *rows = NULL, *won = NULL;
  sl_err err = SL_ERR_INIT;
  char nowb[24], untilb[24], owner[300];
  int64_t now = sl_now_ms();
  sl_store_i64(nowb, now);
  if (sl_store_exec(sv->store, &rows, &err,
                    "SELECT r.id, r.connection_id, r.verb, r.mode, r.streams, "
                    "CASE WHEN j.status = 'running' AND j.lease_until >= ? THEN 1 ELSE 0 END AS leased "
                    "FROM requests r LEFT JOIN jobs j ON j.id = (SELECT MAX(id) FROM jobs WHERE connection_id = r.connection_id) "
                    "WHERE r.id = (SELECT MIN(id) FROM requests r2 WHERE r2.connection_id = r.connection_id) "
                    "AND (r.claimed_until IS NULL OR r.claimed_until < ?) ORDER BY r.id", 2, nowb, nowb)) {
    fprintf(stderr, "sluice server: %s\n", err.msg);
    return;
  }
  sl_job_owner(owner, sizeof owner);
  sl_store_i64(untilb, now + sl_job_lease_ms());
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (*nrun >= workers) break;
    int64_t conn = sl_store_int(r, "connection_id");
    if (is_running(run, *nrun, conn) || sl_store_int(r, "leased") > 0) continue;
    char rb[24];
    sl_store_i64(rb, sl_store_int(r, "id"));
    if (sl_store_one(sv->store, &won, &err, "UPDATE requests SET claimed_by = ?, claimed_until = ? WHERE id = ? "
                     "AND (claimed_until IS NULL OR claimed_until < ?) RETURNING id", 4, owner, untilb, rb, nowb))
      continue; /* another server took it (or the store is busy: next tick) */
    json_decref(won);
    won = NULL;
    const char *verb = sl_store_str(r, "verb"), *streams = sl_store_str(r, "streams"), *mode = sl_store_str(r, "mode");
    const char *extra[8];
    int k = 0;
    extra[k++] = "--request";
    extra[k++] = rb;
    if (streams && *streams) {
      extra[k++] = "--streams";
      extra[k++] = streams;
    }
    if (mode && *mode) {
      extra[k++] = "--mode";
      extra[k++] = mode;
    }
    extra[k] = NULL;
    pid_t pid = start_job(self, &sv->opts, conn, verb, extra);
    if (pid < 0) {
      fprintf(stderr, "sluice server: cannot start a %s of connection %lld: %s\n", verb, (long long)conn, strerror(errno));
      sl_request_finish(sv->store, sl_store_int(r, "id"), false);
      continue;
    }
    fprintf(stderr, "sluice server: connection %lld: %s started (request %s, process %d)\n", (long long)conn, verb, rb, (int)pid);
    run[(*nrun)++] = (running){pid, conn};
  }
  json_decref(rows);
}

/* Connections due now: asked for through the API, or their schedule's
 * next time after the last job (or their creation) has come. */
static void schedule_due(sl_server *sv, const char *self, running *run, int *nrun, int workers) {
  json_t *rows = NULL;
  sl_err err = SL_ERR_INIT;
  char nowb[24];
  sl_store_i64(nowb, sl_now_ms());
  /* One job per connection at a time, so its running job (if any) is its
   * newest: found through the (connection_id, id) index, the tick costs
   * O(connections log jobs). Counting over all of a connection's jobs
   * made it grow with history: 2.3 s of CPU a tick at 720,000 jobs. */
  if (sl_store_exec(sv->store, &rows, &err,
                    "SELECT c.id, c.name, c.schedule, c.created_at, c.run_requested, j.created_at AS last_run, "
                    "CASE WHEN j.status = 'running' AND j.lease_until < ? THEN 1 ELSE 0 END AS expired, "
                    "CASE WHEN j.status = 'running' AND j.lease_until >= ? THEN 1 ELSE 0 END AS leased "
                    "FROM connections c LEFT JOIN jobs j ON j.id = (SELECT MAX(id) FROM jobs WHERE connection_id = c.id) "
                    "WHERE c.status = 'active' ORDER BY c.id", 2, nowb, nowb)) {
    fprintf(stderr, "sluice server: %s\n", err.msg);
    return;
  }
  int64_t now_ms = sl_now_ms();
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) {
    if (*nrun >= workers) break;
    int64_t conn = sl_store_int(r, "id");
    /* Running here, or elsewhere under a current lease: not ours to start. */
    if (is_running(run, *nrun, conn) || sl_store_int(r, "leased") > 0) continue;
    /* A job whose lease ran out (its server died) is taken over now. */
    bool due = sl_store_int(r, "run_requested") > 0 || sl_store_int(r, "expired") > 0;
    sl_schedule sc;
    if (!due && !sl_schedule_parse(sl_store_str(r, "schedule"), &sc, &err)) {
      int64_t last = sl_store_int(r, "last_run") ? sl_store_int(r, "last_run") : sl_store_int(r, "created_at");
      int64_t next = sl_schedule_next(&sc, last / 1000);
      due = next >= 0 && next * 1000 <= now_ms;
    }
    if (!due) continue;
    char ib[24];
    sl_store_exec(sv->store, NULL, &err, "UPDATE connections SET run_requested = NULL WHERE id = ?", 1, sl_store_i64(ib, conn));
    pid_t pid = start_job(self, &sv->opts, conn, "sync", NULL);
    if (pid < 0) {
      fprintf(stderr, "sluice server: cannot start a job for connection %s: %s\n", sl_store_str(r, "name"), strerror(errno));
      continue;
    }
    fprintf(stderr, "sluice server: connection %s: job started (process %d)\n", sl_store_str(r, "name"), (int)pid);
    run[(*nrun)++] = (running){pid, conn};
  }
  json_decref(rows);
}

/* The webhook: one POST per finished job, JSON with the outcome and the
 * last attempt's per-stream stats. Best effort, bounded by a timeout: a
 * receiver that is down is logged, never retried, never blocks jobs long. */
static void notify(sl_server *sv, int64_t conn) {
  if (!sv->opts.webhook) return;
  json_t *job = NULL, *streams = NULL;
  sl_err err = SL_ERR_INIT;
  char cb[24], ab[24];
  if (sl_store_one(sv->store, &job, &err,
                   "SELECT j.id AS job_id, c.name AS connection, j.status, j.failure_type, j.failure_reason, j.started_at, j.finished_at, "
                   "(SELECT MAX(a.id) FROM attempts a WHERE a.job_id = j.id) AS attempt_id, "
                   "(SELECT COUNT(*) FROM attempts a WHERE a.job_id = j.id) AS attempts "
                   "FROM jobs j JOIN connections c ON c.id = j.connection_id WHERE j.connection_id = ? ORDER BY j.id DESC LIMIT 1",
                   1, sl_store_i64(cb, conn)))
    return;
  sl_store_exec(sv->store, &streams, &err, "SELECT stream, emitted, committed, bytes, status FROM stream_stats WHERE attempt_id = ? ORDER BY stream",
                1, sl_store_i64(ab, sl_store_int(job, "attempt_id")));
  json_object_del(job, "attempt_id");
  const char *st = sl_store_str(job, "status");
  char event[64];
  snprintf(event, sizeof event, "job.%s", st ? st : "unknown");
  json_object_set_new(job, "event", json_string(event));
  json_object_set_new(job, "streams", streams ? streams : json_array());
  char *body = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
  CURL *h = curl_easy_init();
  if (h && body) {
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, sv->opts.webhook);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (cc != CURLE_OK || code >= 300)
      fprintf(stderr, "sluice server: webhook for job %lld: %s\n", (long long)sl_store_int(job, "job_id"),
              cc != CURLE_OK ? curl_easy_strerror(cc) : "the receiver answered with an error status");
    curl_slist_free_all(hdr);
  }
  if (h) curl_easy_cleanup(h);
  free(body);
  json_decref(job);
}

static void reap(sl_server *sv, running *run, int *nrun, bool block) {
  for (int i = 0; i < *nrun;) {
    int status;
    pid_t p = waitpid(run[i].pid, &status, block ? 0 : WNOHANG);
    if (p == run[i].pid || (p < 0 && errno == ECHILD)) {
      notify(sv, run[i].conn);
      run[i] = run[--*nrun];
      continue;
    }
    i++;
  }
}

sl_code sl_server_run(const sl_server_opts *o, sl_err *err) {
  sl_server sv;
  memset(&sv, 0, sizeof sv);
  sv.opts = *o;
  int workers = o->workers > 0 ? o->workers : 2;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return sl_err_set(err, SL_EIO, "server: cannot find the sluice binary: %s", strerror(errno));
  self[n] = 0;
  if (o->port >= 0 && (!o->token || strlen(o->token) < 16))
    return sl_err_set(err, SL_EUSAGE, "server: the API needs a bearer token of at least 16 characters (--token-file or SLUICE_API_TOKEN), or --no-api");
  /* SIGCHLD stays blocked (in the API's threads too) and the loop waits
   * for it: a finished job frees its worker at once, not at the next tick. */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, &g_mask);
  sl_code rc = sl_store_open(o->store_where, &sv.store, err);
  if (rc) {
    pthread_sigmask(SIG_SETMASK, &g_mask, NULL);
    return rc;
  }
  if (o->port >= 0) {
    if ((rc = sl_server_api_start(&sv, err))) goto out;
    fprintf(stderr, "sluice server: API on http://%s:%d/v1/\n", o->listen ? o->listen : "127.0.0.1", sv.bound_port);
    if (o->port_file) {
      FILE *f = fopen(o->port_file, "w");
      if (f) {
        fprintf(f, "%d\n", sv.bound_port);
        fclose(f);
      }
    }
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  running *run = calloc((size_t)workers, sizeof *run);
  int nrun = 0;
  int64_t tick = o->tick_ms > 0 ? o->tick_ms : 500;
  fprintf(stderr, "sluice server: running, %d worker(s)\n", workers);
  while (!g_stop) {
    reap(&sv, run, &nrun, false);
    start_requested(&sv, self, run, &nrun, workers);
    schedule_due(&sv, self, run, &nrun, workers);
    struct timespec t = {(time_t)(tick / 1000), (long)(tick % 1000) * 1000000L};
    sigtimedwait(&chld, NULL, &t); /* a job ended, the tick passed, or SIGTERM (EINTR) */
  }
  fprintf(stderr, "sluice server: stopping: %d job(s) end their attempt\n", nrun);
  for (int i = 0; i < nrun; i++) kill(run[i].pid, SIGTERM);
  reap(&sv, run, &nrun, true);
  free(run);
  fprintf(stderr, "sluice server: stopped\n");
out:
  sl_server_api_stop(&sv);
  sl_store_close(sv.store);
  pthread_sigmask(SIG_SETMASK, &g_mask, NULL);
  return rc;
}
