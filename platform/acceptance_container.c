/* client_container_config: CAT's helper container, which prepares the
 * data of a connector under test. Its image is built from
 * client_container_dockerfile_path (the Dockerfile's directory is the build
 * context) and each command runs in it with the connector's directory (the
 * config's base) mounted at /connector and secrets_path at
 * /tmp/config.json, as CAT mounts them:
 *   setup_command            before an input set's checks
 *   teardown_command         after them
 *   between_syncs_command    between the two reads of test_two_sequential_reads
 *   final_teardown_command   (the suite-level config) after the whole run
 * Everything goes through the `docker` command; without one the checks are
 * skipped with that reason. Each command is a result (pass, or fail with
 * its exit status and the tail of its output). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acceptance_int.h"

#define BUILD_TIMEOUT_S 900

static bool docker_on_path(void) {
  const char *path = getenv("PATH");
  if (!path) return false;
  char *copy = strdup(path), *save = NULL;
  bool found = false;
  for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/docker", *d ? d : ".");
    found = access(exe, X_OK) == 0;
  }
  free(copy);
  return found;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run `docker ARGS`, its stdout and stderr kept (the tail) in out; returns
 * the exit status, 124 on timeout (the process group is killed). */
static int docker(const char *const *args, int timeout_s, char *out, size_t n) {
  int p[2];
  out[0] = 0;
  if (pipe2(p, O_CLOEXEC) != 0) {
    snprintf(out, n, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(p[1], 1), dup2(p[1], 2);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    execvp("docker", (char *const *)args);
    fprintf(stderr, "cannot run docker: %s\n", strerror(errno));
    _exit(127);
  }
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    snprintf(out, n, "fork: %s", strerror(errno));
    return -1;
  }
  setpgid(pid, pid);
  size_t len = 0;
  int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
  bool timed_out = false;
  for (;;) {
    int64_t left = deadline - mono_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd pf = {p[0], POLLIN, 0};
    if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) <= 0) continue;
    char buf[4096];
    ssize_t got = read(p[0], buf, sizeof buf);
    if (got <= 0) break;
    for (ssize_t i = 0; i < got; i++) {
      if (len + 1 >= n) memmove(out, out + n / 2, len - n / 2), len -= n / 2; /* keep the tail */
      out[len++] = buf[i] == '\n' ? ' ' : buf[i];
    }
    out[len] = 0;
  }
  close(p[0]);
  if (timed_out) kill(-pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  kill(-pid, SIGKILL);
  if (timed_out) return 124;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The image of a client_container_config, built once per Dockerfile; NULL
 * with a result recorded (skip or fail) when there is none. */
static const char *helper_image(at_ctx *c, const char *suite, const char *test, const json_t *cc) {
  char df[PATH_MAX];
  at_path(c, cc, "client_container_dockerfile_path", NULL, df, sizeof df);
  if (!c->helpers) c->helpers = json_object();
  const json_t *have = json_object_get(c->helpers, df);
  if (json_is_string(have)) return json_string_value(have);
  if (have) return NULL; /* failed before: said so then */
  json_object_set_new(c->helpers, df, json_null());
  char out[1500];
  if (!docker_on_path()) {
    at_result(c, suite, test, SL_AT_SKIP, NULL,
              "client_container_config: no `docker` command on PATH to build %s and run the helper commands "
              "(a Docker engine, or a stand-in such as tests/data/docker/docker)", df);
    return NULL;
  }
  const char *info[] = {"docker", "info", "--format", "{{.ServerVersion}}", NULL};
  int irc = docker(info, 60, out, sizeof out);
  if (irc != 0) {
    at_result(c, suite, test, SL_AT_SKIP, NULL,
              "client_container_config: no Docker engine answers to build %s and run the helper commands "
              "(docker info: exit %d: %s)", df, irc, out);
    return NULL;
  }
  if (access(df, R_OK) != 0) {
    at_result(c, suite, test, SL_AT_FAIL, NULL, "client_container_config: client_container_dockerfile_path %s: %s", df, strerror(errno));
    return NULL;
  }
  uint64_t h = 1469598103934665603ull;
  for (const char *p = df; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  char tag[64], ctx[PATH_MAX];
  snprintf(tag, sizeof tag, "sluice-cat-helper-%016llx", (unsigned long long)h);
  snprintf(ctx, sizeof ctx, "%s", df);
  char *slash = strrchr(ctx, '/');
  if (slash) *slash = 0;
  const char *args[] = {"docker", "build", "-t", tag, "-f", df, ctx, NULL};
  int rc = docker(args, BUILD_TIMEOUT_S, out, sizeof out);
  if (rc != 0) {
    at_result(c, suite, test, SL_AT_FAIL, NULL, "client_container_config: docker build of %s failed (exit %d): %s", df, rc, out);
    return NULL;
  }
  json_object_set_new(c->helpers, df, json_string(tag));
  return json_string_value(json_object_get(c->helpers, df));
}

/* Run one command of cc (key: setup_command, ...) in the helper container. */
static void run_command(at_ctx *c, const char *suite, const char *test_base, const json_t *cc, const char *key, int timeout_s) {
  const json_t *cmd = json_object_get(cc, key);
  if (!cmd) return;
  char nm[160];
  snprintf(nm, sizeof nm, "%s:%s", test_base, key);
  const char *image = helper_image(c, suite, nm, cc);
  if (!image) return;
  const char *args[64];
  size_t n = 0;
  char mount[PATH_MAX + 32], secrets[PATH_MAX + 40];
  snprintf(mount, sizeof mount, "%s:/connector", c->base);
  args[n++] = "docker", args[n++] = "run", args[n++] = "--rm", args[n++] = "-i", args[n++] = "-v", args[n++] = mount;
  char sp[PATH_MAX];
  if (at_path(c, cc, "secrets_path", NULL, sp, sizeof sp)) {
    if (access(sp, R_OK) != 0) {
      at_result(c, suite, nm, SL_AT_FAIL, NULL, "client_container_config: secrets_path %s: %s", sp, strerror(errno));
      return;
    }
    snprintf(secrets, sizeof secrets, "%s:/tmp/config.json:ro", sp);
    args[n++] = "-v", args[n++] = secrets;
  }
  args[n++] = image;
  size_t i;
  const json_t *a;
  json_array_foreach(cmd, i, a) if (n + 1 < sizeof args / sizeof args[0]) args[n++] = json_string_value(a);
  args[n] = NULL;
  char out[1500];
  int rc = docker(args, timeout_s, out, sizeof out);
  if (rc == 0) at_result(c, suite, nm, SL_AT_PASS, NULL, NULL);
  else if (rc == 124) at_result(c, suite, nm, SL_AT_FAIL, NULL, "%s timed out after %d s and was killed", key, timeout_s);
  else at_result(c, suite, nm, SL_AT_FAIL, NULL, "%s exited with %d: %s", key, rc, out);
}

void at_container(at_ctx *c, at_input *in, const char *key) {
  const json_t *cc = json_object_get(in->in, "client_container_config");
  char base[96];
  if (cc) run_command(c, in->suite, at_name(in, "client_container_config", base, sizeof base), cc, key, in->timeout_s);
}

void at_container_final(at_ctx *c) {
  const json_t *cc = json_object_get(json_object_get(sl_yaml_root(c->cfg), "acceptance_tests"), "client_container_config");
  if (cc) run_command(c, "client_container_config", "final", cc, "final_teardown_command", 600);
}

/* ---- deployment_mode ---- */

/* The run's mode: --deployment-mode, else the config's top-level
 * deployment_mode (a sluice key), else oss. */
static const char *run_mode(const at_ctx *c) {
  const char *cfg = json_string_value(json_object_get(sl_yaml_root(c->cfg), "deployment_mode"));
  return c->opts->deployment_mode ? c->opts->deployment_mode : cfg ? cfg : "oss";
}

bool at_deployment_selected(at_ctx *c, at_input *in) {
  const char *dm = json_string_value(json_object_get(in->in, "deployment_mode"));
  if (!dm || !strcasecmp(dm, run_mode(c))) return true;
  char nm[96];
  at_result(c, in->suite, at_name(in, "all", nm, sizeof nm), SL_AT_SKIP, NULL,
            "deployment_mode: %s: this input set runs only in a %s run (this run is %s; sluice test --deployment-mode %s)", dm, dm,
            run_mode(c), dm);
  return false;
}

void at_run_input(at_ctx *c, at_input *in, void (*fn)(at_ctx *, at_input *)) {
  bool absent;
  in->config = at_load_json(c, in, "config_path", "secrets/config.json", &absent);
  if (!in->config) return;
  /* CAT passes the input set's mode to the connector as DEPLOYMENT_MODE */
  const char *dm = json_string_value(json_object_get(in->in, "deployment_mode"));
  const json_t *saved = c->env;
  json_t *env = NULL;
  if (dm) {
    env = c->env ? json_copy((json_t *)c->env) : json_object();
    char up[16];
    size_t k = 0;
    for (; dm[k] && k + 1 < sizeof up; k++) up[k] = (char)(dm[k] >= 'a' && dm[k] <= 'z' ? dm[k] - 32 : dm[k]);
    up[k] = 0;
    json_object_set_new(env, "DEPLOYMENT_MODE", json_string(up));
    c->env = env;
  }
  at_container(c, in, "setup_command");
  fn(c, in);
  at_container(c, in, "teardown_command");
  c->env = saved;
  json_decref(env);
  json_decref(in->config);
  in->config = NULL;
}
