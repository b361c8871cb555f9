/* Resolving connector references and running connectors as children. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sluice/docker.h"
#include "sluice/platform.h"

static bool is_exe(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

static bool self_dir(char *out, size_t len) {
  ssize_t n = readlink("/proc/self/exe", out, len - 1);
  if (n <= 0) return false;
  out[n] = 0;
  char *slash = strrchr(out, '/');
  if (!slash) return false;
  *slash = 0;
  return true;
}

/* A declarative manifest runs as the built-in source-declarative-manifest;
 * the manifest path reaches it (and every child of this process, whatever
 * spawns it) through SLUICE_MANIFEST, set by the latest resolve: spawn a
 * manifest connector before resolving another one. */
static sl_code resolve_manifest(const char *manifest, char *out, size_t outlen, sl_err *err) {
  char real[PATH_MAX], dir[PATH_MAX];
  if (!realpath(manifest, real))
    return sl_err_set(err, SL_ENOTFOUND, "manifest %s: %s", manifest, strerror(errno));
  if (!self_dir(dir, sizeof dir))
    return sl_err_set(err, SL_ENOTFOUND, "manifest %s: cannot find source-declarative-manifest", manifest);
  snprintf(out, outlen, "%s/source-declarative-manifest", dir);
  if (!is_exe(out))
    return sl_err_set(err, SL_ENOTFOUND, "manifest %s: %s is missing (build it with make)", manifest, out);
  setenv("SLUICE_MANIFEST", real, 1);
  return SL_EOK;
}

sl_code sl_connector_resolve(const char *ref, char *out, size_t outlen, sl_err *err) {
  struct stat st;
  char dir[PATH_MAX];
  if (sl_docker_is_ref(ref)) return sl_docker_resolve(ref, out, outlen, err); /* docker/<image> */
  if (strchr(ref, '/') || stat(ref, &st) == 0) {
    if (stat(ref, &st) != 0)
      return sl_err_set(err, SL_ENOTFOUND, "connector \"%s\": no such file or directory", ref);
    if (S_ISDIR(st.st_mode)) {
      /* A connector directory: its own executable, else the built-in of that name. */
      char copy[PATH_MAX];
      snprintf(copy, sizeof copy, "%s", ref);
      size_t l = strlen(copy);
      while (l > 1 && copy[l - 1] == '/') copy[--l] = 0;
      const char *base = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
      snprintf(out, outlen, "%s/%s", copy, base);
      if (is_exe(out)) return SL_EOK;
      snprintf(out, outlen, "%s/connector", copy);
      if (is_exe(out)) return SL_EOK;
      char man[PATH_MAX + 16];
      snprintf(man, sizeof man, "%s/manifest.yaml", copy);
      if (stat(man, &st) == 0 && S_ISREG(st.st_mode)) return resolve_manifest(man, out, outlen, err);
      return sl_connector_resolve(base, out, outlen, err);
    }
    size_t rl = strlen(ref);
    if ((rl > 5 && !strcmp(ref + rl - 5, ".yaml")) || (rl > 4 && !strcmp(ref + rl - 4, ".yml")))
      return resolve_manifest(ref, out, outlen, err);
    if (!is_exe(ref))
      return sl_err_set(err, SL_ENOTFOUND, "connector \"%s\" is not an executable file", ref);
    if (ref[0] == '/') snprintf(out, outlen, "%s", ref);
    else if (getcwd(dir, sizeof dir)) snprintf(out, outlen, "%s/%s", dir, ref);
    else snprintf(out, outlen, "%s", ref);
    return SL_EOK;
  }
  if (self_dir(dir, sizeof dir)) {
    snprintf(out, outlen, "%s/%s", dir, ref);
    if (is_exe(out)) return SL_EOK;
  }
  return sl_err_set(err, SL_ENOTFOUND,
                    "connector \"%s\" not found: not a built-in connector beside %s, nor a path; "
                    "run `sluice connectors` to list the built-in ones",
                    ref, dir);
}

sl_code sl_proc_spawn(sl_proc *p, const char *name, const char *exe, const char *const *args,
                      bool want_stdin, sl_err *err) {
  int in[2] = {-1, -1}, out[2];
  if (want_stdin && pipe2(in, O_CLOEXEC) != 0)
    return sl_err_set(err, SL_EIO, "%s: pipe: %s", name, strerror(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    if (want_stdin) close(in[0]), close(in[1]);
    return sl_err_set(err, SL_EIO, "%s: pipe: %s", name, strerror(errno));
  }
  /* Bigger pipes mean fewer context switches between the three processes
   * (1 MiB is the default pipe-max-size; failure is harmless). */
  fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
  if (want_stdin) fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
  size_t n = 0;
  while (args[n]) n++;
  const char **argv = calloc(n + 2, sizeof *argv);
  if (!argv) return SL_ENOMEM;
  argv[0] = exe;
  for (size_t i = 0; i < n; i++) argv[i + 1] = args[i];
  pid_t pid = fork();
  if (pid < 0) {
    free(argv);
    return sl_err_set(err, SL_EIO, "%s: fork: %s", name, strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (want_stdin) dup2(in[0], STDIN_FILENO);
    else {
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    }
    dup2(out[1], STDOUT_FILENO);
    execv(exe, (char *const *)argv);
    fprintf(stderr, "sluice: cannot run %s (%s): %s\n", name, exe, strerror(errno));
    _exit(127);
  }
  free(argv);
  setpgid(pid, pid);
  if (want_stdin) close(in[0]);
  close(out[1]);
  p->pid = pid;
  p->in_fd = want_stdin ? in[1] : -1;
  p->out_fd = out[0];
  p->name = name;
  return SL_EOK;
}

int sl_proc_wait(sl_proc *p) {
  if (p->pid <= 0) return -1;
  int st;
  while (waitpid(p->pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  p->pid = 0;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

void sl_proc_kill(sl_proc *p, int sig) {
  if (p->pid > 0) kill(p->pid, sig);
}

sl_code sl_connector_call(const char *name, const char *exe, const char *const *args,
                          sl_msg_type want, json_t **out, int *exit_code, sl_log_fn log,
                          void *payload, sl_err *err) {
  sl_proc p;
  *out = NULL;
  sl_code rc = sl_proc_spawn(&p, name, exe, args, false, err);
  if (rc) return rc;
  FILE *f = fdopen(p.out_fd, "r");
  if (!f) {
    close(p.out_fd);
    sl_proc_wait(&p);
    return sl_err_set(err, SL_EIO, "%s: fdopen: %s", name, strerror(errno));
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  json_t *trace_error = NULL;
  while ((n = getline(&line, &cap, f)) > 0) {
    json_error_t je;
    json_t *m = json_loadb(line, (size_t)n, 0, &je);
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!m || !type) {
      if (log) log(payload, name, "WARN", line);
    } else if (sl_msg_type_parse(type, strlen(type)) == want) {
      if (!*out) *out = json_incref(m);
    } else if (!strcmp(type, "LOG")) {
      json_t *lg = json_object_get(m, "log");
      if (log)
        log(payload, name, json_string_value(json_object_get(lg, "level")),
            json_string_value(json_object_get(lg, "message")));
    } else if (!strcmp(type, "TRACE")) {
      json_t *e = json_object_get(json_object_get(m, "trace"), "error");
      if (e && !trace_error) trace_error = json_incref(e);
    }
    json_decref(m);
  }
  free(line);
  fclose(f);
  *exit_code = sl_proc_wait(&p);
  if (*out) {
    json_decref(trace_error);
    return SL_EOK;
  }
  if (trace_error) {
    rc = sl_err_set(err, SL_ECONNECTOR, "%s failed (exit %d): %s", name, *exit_code,
                    json_string_value(json_object_get(trace_error, "message")));
    json_decref(trace_error);
    return rc;
  }
  return sl_err_set(err, SL_ECONNECTOR, "%s exited %d without a %s message", name, *exit_code,
                    sl_msg_type_name(want));
}
