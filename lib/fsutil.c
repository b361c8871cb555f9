/* File-system helpers for file destinations (see sluice/fsutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/connector.h"
#include "sluice/fsutil.h"

sl_code sl_fs_mkdirs(const char *path, sl_err *err) {
  char *p = strdup(path);
  if (!p) return sl_err_set(err, SL_ENOMEM, "out of memory");
  for (char *s = p + 1;; s++) {
    if (*s == '/' || !*s) {
      char c = *s;
      *s = 0;
      if (mkdir(p, 0777) && errno != EEXIST) {
        sl_err_set(err, SL_ECONFIG, "cannot create the directory %s: %s", p, strerror(errno));
        free(p);
        return SL_ECONFIG;
      }
      *s = c;
      if (!c) break;
    }
  }
  free(p);
  struct stat sb;
  if (stat(path, &sb) || !S_ISDIR(sb.st_mode)) return sl_err_set(err, SL_ECONFIG, "%s is not a directory", path);
  return SL_EOK;
}

sl_code sl_fs_fsync_dir(const char *dir, sl_err *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (fsync(fd) && errno != EINVAL)) {
    int e = errno;
    if (fd >= 0) close(fd);
    return sl_err_set(err, SL_EIO, "%s: fsync of the directory: %s", dir, strerror(e));
  }
  close(fd);
  return SL_EOK;
}

sl_code sl_fs_write_all(int fd, const char *p, size_t n, const char *path, sl_err *err) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return sl_err_set(err, SL_EIO, "%s: write: %s", path, strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
  return SL_EOK;
}

void sl_fs_name(sl_buf *b, const char *s) {
  if (!*s) sl_buf_putc(b, '_');
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    sl_buf_putc(b, (c == '/' || c < 0x20 || c == 0x7f || (p == s && c == '.')) ? '_' : (char)c);
  }
}

sl_code sl_fs_replace(const char *dir, const char *path, const char *data, size_t n, sl_err *err) {
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.new", path) < 0) return sl_err_set(err, SL_ENOMEM, "out of memory");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  sl_code rc = fd < 0 ? sl_err_set(err, SL_EIO, "cannot create %s: %s", tmp, strerror(errno)) : SL_EOK;
  if (!rc) rc = sl_fs_write_all(fd, data, n, tmp, err);
  if (!rc && fsync(fd)) rc = sl_err_set(err, SL_EIO, "%s: fsync: %s", tmp, strerror(errno));
  if (fd >= 0) close(fd);
  if (!rc && rename(tmp, path)) rc = sl_err_set(err, SL_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (!rc) rc = sl_fs_fsync_dir(dir, err);
  free(tmp);
  return rc;
}

sl_code sl_fs_check_dir(const char *dir, sl_err *err) {
  sl_code rc = sl_fs_mkdirs(dir, err);
  if (rc) return rc;
  char *probe = NULL;
  if (asprintf(&probe, "%s/.sluice-check-%ld", dir, (long)getpid()) < 0) return sl_err_set(err, SL_ENOMEM, "out of memory");
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) rc = sl_err_set(err, SL_ECONFIG, "the directory %s is not writable: %s", dir, strerror(errno));
  else {
    close(fd);
    if (unlink(probe)) rc = sl_err_set(err, SL_ECONFIG, "cannot delete files in %s: %s", dir, strerror(errno));
  }
  free(probe);
  return rc;
}
