/* One connector invocation for the acceptance tests: inputs written to
 * files in a fresh run directory (the connector's working directory, or
 * /data in an image), stdout checked line by line against the protocol
 * schema, stderr kept (its tail), a hard timeout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acceptance_int.h"
#include "sluice/protocol.h"

#define MAX_LINE (64u << 20)
#define MAX_MSGS 2000000

static sl_code write_json(const char *dir, const char *name, const json_t *v, char *path, size_t n, sl_err *err) {
  snprintf(path, n, "%s/%s", dir, name);
  if (json_dump_file(v, path, JSON_COMPACT) != 0) return sl_err_set(err, SL_EIO, "cannot write %s", path);
  return SL_EOK;
}

static void keep_tail(at_run *r, const char *buf, size_t n) {
  size_t cap = sizeof r->stderr_tail - 1, have = strlen(r->stderr_tail);
  if (n >= cap) {
    memcpy(r->stderr_tail, buf + n - cap, cap);
    r->stderr_tail[cap] = 0;
    return;
  }
  if (have + n > cap) {
    memmove(r->stderr_tail, r->stderr_tail + (have + n - cap), cap - n);
    have = cap - n;
  }
  memcpy(r->stderr_tail + have, buf, n);
  r->stderr_tail[have + n] = 0;
}

static void take_line(at_run *r, char *line, size_t len) {
  if (len && line[len - 1] == '\r') len--;
  r->lines++;
  if (!len) return;
  if (r->log) fprintf(r->log, "%.*s\n", (int)len, line);
  json_error_t je;
  json_t *m = json_loadb(line, len, JSON_ALLOW_NUL, &je);
  char what[64];
  snprintf(what, sizeof what, "output line %zu", r->lines);
  sl_err e = SL_ERR_INIT;
  if (!json_is_object(m)) {
    sl_err_set(&e, SL_EPROTOCOL, "%s is not a protocol message (%s)", what, m ? "not a JSON object" : je.text);
  } else {
    /* a message that breaks the schema fails the protocol check, and still
     * counts for the suite's own checks (as CAT parses what it can) */
    sl_protocol_conform(m, what, &e);
    if (json_array_size(r->msgs) < MAX_MSGS) json_array_append(r->msgs, m);
  }
  json_decref(m);
  if (e.code) {
    if (!r->n_bad++) {
      r->bad_line = strndup(line, len > 2000 ? 2000 : len);
      snprintf(r->bad_why, sizeof r->bad_why, "%s", e.msg);
    }
  }
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sl_code at_exec(at_ctx *c, const char *verb, const json_t *config, const json_t *catalog, const json_t *state,
                const char *stdin_lines, int timeout_s, at_run *r, sl_err *err) {
  memset(r, 0, sizeof *r);
  r->msgs = json_array();
  char rundir[PATH_MAX], cfg[PATH_MAX], cat[PATH_MAX], st[PATH_MAX];
  snprintf(rundir, sizeof rundir, "%s/run-%u", c->tmp, ++c->seq);
  if (mkdir(rundir, 0700) != 0) return sl_err_set(err, SL_EIO, "mkdir %s: %s", rundir, strerror(errno));
  if (config && write_json(rundir, "config.json", config, cfg, sizeof cfg, err)) return err->code;
  if (catalog && write_json(rundir, "catalog.json", catalog, cat, sizeof cat, err)) return err->code;
  if (state && write_json(rundir, "state.json", state, st, sizeof st, err)) return err->code;

  /* an image runs through its launcher (platform/docker.c), with the same arguments */
  const char *argv[16];
  size_t n = 0;
  argv[n++] = c->exe;
  argv[n++] = verb;
  if (config) argv[n++] = "--config", argv[n++] = cfg;
  if (catalog) argv[n++] = "--catalog", argv[n++] = cat;
  if (state) argv[n++] = "--state", argv[n++] = st;
  argv[n] = NULL;
  /* custom_environment_variables: set here, named in SLUICE_DOCKER_ENV for an image */
  char envnames[2048] = "";
  const char *ek;
  json_t *ev;
  json_object_foreach((json_t *)c->env, ek, ev) {
    if (strlen(envnames) + strlen(ek) + 2 < sizeof envnames) strcat(strcat(envnames, envnames[0] ? "," : ""), ek);
  }

  /* Test runs can hand the output to an independent validator: a run's
   * stdout is kept in $SLUICE_PROTOCOL_LOG_DIR when every line conformed. */
  const char *logdir = getenv("SLUICE_PROTOCOL_LOG_DIR");
  if (logdir && *logdir) {
    snprintf(r->log_path, sizeof r->log_path, "%s/sluice-test-%d-%u.jsonl", logdir, (int)getpid(), c->seq);
    r->log = fopen(r->log_path, "w");
  }
  int out[2], errp[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(in, O_CLOEXEC))
    return sl_err_set(err, SL_EIO, "pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) return sl_err_set(err, SL_EIO, "fork: %s", strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    dup2(in[0], 0), dup2(out[1], 1), dup2(errp[1], 2);
    if (chdir(rundir) != 0) _exit(127);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)c->env, k, v) setenv(k, json_is_string(v) ? json_string_value(v) : "", 1);
    if (envnames[0]) setenv("SLUICE_DOCKER_ENV", envnames, 1);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "sluice test: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  close(out[1]), close(errp[1]), close(in[0]);
  /* stdin: the given lines (destinations), then EOF. Small inputs fit the pipe. */
  if (stdin_lines) {
    signal(SIGPIPE, SIG_IGN);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
  } else {
    close(in[1]);
    in[1] = -1;
  }
  size_t in_off = 0, in_len = stdin_lines ? strlen(stdin_lines) : 0;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
  int fds_open = 2;
  bool overflow = false;
  while (fds_open > 0 || in[1] >= 0) {
    struct pollfd p[3] = {{out[0], POLLIN, 0}, {errp[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      r->timed_out = true;
      break;
    }
    int k = poll(p, 3, (int)(left > 1000 ? 1000 : left));
    if (k < 0 && errno != EINTR) break;
    if (k <= 0) continue;
    if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = write(in[1], stdin_lines + in_off, in_len - in_off);
      if (w > 0) in_off += (size_t)w;
      if (w < 0 && errno != EAGAIN) in_off = in_len;
      if (in_off >= in_len) close(in[1]), in[1] = -1;
    }
    if (p[1].revents) {
      char eb[4096];
      ssize_t got = read(errp[0], eb, sizeof eb);
      if (got > 0) keep_tail(r, eb, (size_t)got);
      else if (got == 0 || errno != EINTR) p[1].fd = -1, close(errp[0]), errp[0] = -1, fds_open--;
    }
    if (p[0].revents) {
      if (cap - len < 65536) {
        size_t ncap = cap ? cap * 2 : 131072;
        char *nb = realloc(buf, ncap);
        if (!nb) break;
        buf = nb, cap = ncap;
      }
      ssize_t got = read(out[0], buf + len, cap - len);
      if (got > 0) {
        len += (size_t)got;
        size_t start = 0;
        for (char *nl; (nl = memchr(buf + start, '\n', len - start));) {
          take_line(r, buf + start, (size_t)(nl - (buf + start)));
          start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len > MAX_LINE) overflow = true, len = 0;
      } else if (got == 0 || errno != EINTR) {
        close(out[0]), out[0] = -1, fds_open--;
      }
    }
    if (errp[0] < 0 && out[0] < 0 && in[1] >= 0) close(in[1]), in[1] = -1;
    if (errp[0] < 0) p[1].fd = -1;
  }
  if (len && !r->timed_out) take_line(r, buf, len); /* a last line without newline */
  free(buf);
  if (overflow && !r->n_bad++) snprintf(r->bad_why, sizeof r->bad_why, "a line longer than %u bytes", MAX_LINE);
  if (in[1] >= 0) close(in[1]);
  if (out[0] >= 0) close(out[0]);
  if (errp[0] >= 0) close(errp[0]);
  if (r->timed_out) kill(-pid, SIGKILL);
  int status = 0;
  /* stdout closed: the process is exiting; a child that closed stdout but
   * keeps running still gets the rest of the deadline, then is killed. */
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (now_ms() >= deadline && !r->timed_out) {
      r->timed_out = true;
      kill(-pid, SIGKILL);
    }
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
  }
  kill(-pid, SIGKILL); /* leftovers of the group (a shell's children) */
  r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (r->log) {
    fclose(r->log);
    r->log = NULL;
    if (r->n_bad || r->timed_out) unlink(r->log_path); /* deliberately broken output stays out */
  }
  return SL_EOK;
}

void at_run_dispose(at_run *r) {
  json_decref(r->msgs);
  free(r->bad_line);
  memset(r, 0, sizeof *r);
}

json_t *at_msgs_of(const at_run *r, const char *type) {
  json_t *out = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(r->msgs, i, m) {
    if (!strcmp(json_string_value(json_object_get(m, "type")) ?: "", type)) json_array_append(out, m);
  }
  return out;
}
