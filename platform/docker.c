/* Image connectors: the launcher script and the `docker run` command line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/docker.h"

int sl_docker_is_ref(const char *ref) { return !strncmp(ref, "docker/", 7) || !strncmp(ref, "image:", 6); }

static const char *image_of(const char *ref) { return !strncmp(ref, "docker/", 7) ? ref + 7 : ref + 6; }

static bool image_ok(const char *img) {
  if (!*img || strlen(img) > 255 || img[0] == '-') return false;
  for (const char *p = img; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._/:@-", *p)))
      return false;
  return true;
}

sl_code sl_docker_resolve(const char *ref, char *out, size_t outlen, sl_err *err) {
  const char *img = image_of(ref);
  if (!image_ok(img))
    return sl_err_set(err, SL_EUSAGE, "image reference \"%s\": expected docker/<repository>:<tag> (letters, digits, ._/:@-)", ref);
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return sl_err_set(err, SL_EIO, "image %s: cannot find the sluice executable", img);
  self[n] = 0;
  if (strchr(self, '\'')) return sl_err_set(err, SL_EIO, "image %s: the sluice path %s has a quote", img, self);
  /* one launcher per image (and sluice binary), named after both */
  uint64_t h = 1469598103934665603ull;
  for (const char *p = img; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  for (const char *p = self; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  char dir[PATH_MAX];
  const char *base = getenv("XDG_RUNTIME_DIR");
  if (!base || access(base, W_OK) != 0) base = getenv("TMPDIR");
  if (!base || access(base, W_OK) != 0) base = "/tmp";
  snprintf(dir, sizeof dir, "%s/sluice-images-%u", base, (unsigned)getuid());
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return sl_err_set(err, SL_EIO, "%s: %s", dir, strerror(errno));
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
    return sl_err_set(err, SL_EIO, "%s is not a directory of this user", dir);
  char name[300];
  size_t k = 0;
  for (const char *p = img; *p && k < 200; p++) name[k++] = strchr("/:@", *p) ? '_' : *p;
  name[k] = 0;
  snprintf(out, outlen, "%s/%s-%016llx", dir, name, (unsigned long long)h);
  if (access(out, X_OK) == 0) return SL_EOK;
  char tmp[PATH_MAX + 16], text[PATH_MAX + 600];
  snprintf(tmp, sizeof tmp, "%s.%d", out, (int)getpid());
  snprintf(text, sizeof text, "#!/bin/sh\n# Runs the image %s (written by sluice; safe to delete).\nexec '%s' docker-run '%s' \"$@\"\n", img, self, img);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  size_t tl = strlen(text);
  if (fd < 0 || write(fd, text, tl) != (ssize_t)tl || close(fd) != 0 || rename(tmp, out) != 0) {
    if (fd >= 0) unlink(tmp);
    return sl_err_set(err, SL_EIO, "writing the launcher %s: %s", out, strerror(errno));
  }
  return SL_EOK;
}

char **sl_docker_argv(const char *image, int argc, char **argv, char **owned, sl_err *err) {
  *owned = NULL;
  if (!image_ok(image)) {
    sl_err_set(err, SL_EUSAGE, "docker-run: \"%s\" is not an image name", image);
    return NULL;
  }
  const char *envs = getenv("SLUICE_DOCKER_ENV");
  size_t n_env = envs && *envs ? 1 : 0;
  for (const char *p = envs; p && *p; p++) n_env += *p == ',';
  size_t max = 8 + 2 * n_env + 2 * (size_t)argc + (size_t)argc + 2;
  char **out = calloc(max, sizeof *out);
  /* strings: mount specs and rewritten paths */
  size_t cap = (size_t)argc * (PATH_MAX + 40) + (envs ? strlen(envs) + 1 : 0) + 64, used = 0;
  char *buf = malloc(cap);
  if (!out || !buf) {
    free(out), free(buf);
    sl_err_set(err, SL_ENOMEM, "docker-run: out of memory");
    return NULL;
  }
  size_t n = 0;
  out[n++] = "docker", out[n++] = "run", out[n++] = "--rm", out[n++] = "-i";
  if (envs && *envs) {
    char *copy = buf + used;
    strcpy(copy, envs);
    used += strlen(envs) + 1;
    for (char *t = strtok(copy, ","); t; t = strtok(NULL, ",")) out[n++] = "-e", out[n++] = t;
  }
  size_t first_arg = n + 1; /* after the image */
  (void)first_arg;
  char **tail = calloc((size_t)argc + 1, sizeof *tail);
  size_t nt = 0;
  for (int i = 0; i < argc; i++) {
    const char *kind = !strcmp(argv[i], "--config") ? "config" : !strcmp(argv[i], "--catalog") ? "catalog"
                       : !strcmp(argv[i], "--state") ? "state" : NULL;
    if (kind && i + 1 < argc) {
      char real[PATH_MAX];
      if (!realpath(argv[i + 1], real)) {
        sl_err_set(err, SL_ENOTFOUND, "docker-run: %s %s: %s", argv[i], argv[i + 1], strerror(errno));
        free(out), free(buf), free(tail);
        return NULL;
      }
      char *mount = buf + used;
      used += (size_t)snprintf(mount, cap - used, "%s:/data/%s.json:ro", real, kind) + 1;
      char *inside = buf + used;
      used += (size_t)snprintf(inside, cap - used, "/data/%s.json", kind) + 1;
      out[n++] = "-v", out[n++] = mount;
      tail[nt++] = argv[i], tail[nt++] = inside;
      i++;
    } else {
      tail[nt++] = argv[i];
    }
  }
  out[n++] = (char *)image;
  for (size_t i = 0; i < nt; i++) out[n++] = tail[i];
  out[n] = NULL;
  free(tail);
  *owned = buf;
  return out;
}
