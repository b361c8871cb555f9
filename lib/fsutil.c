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

/* ---- committed-length marks ---- */

/* "<dir>/.<name>.committed": hidden, so that globs over the exported files
 * do not pick it up. */
static char *mark_path(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  char *m = NULL;
  return asprintf(&m, "%.*s.%s.committed", (int)(base - path), path, base) < 0 ? NULL : m;
}

sl_code sl_fs_mark_save(const char *dir, const char *path, uint64_t bytes, sl_err *err) {
  char *m = mark_path(path), text[32];
  if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
  int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)bytes);
  sl_code rc = sl_fs_replace(dir, m, text, (size_t)n, err);
  free(m);
  return rc;
}

void sl_fs_mark_remove(const char *path) {
  char *m = mark_path(path);
  if (m) unlink(m);
  free(m);
}

sl_code sl_fs_cut_to_mark(int fd, const char *path, bool *had_mark, uint64_t *size, sl_err *err) {
  *had_mark = false;
  char *m = mark_path(path), text[32];
  if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
  int mfd = open(m, O_RDONLY | O_CLOEXEC);
  ssize_t n = mfd >= 0 ? read(mfd, text, sizeof text - 1) : -1;
  if (mfd >= 0) close(mfd);
  struct stat sb;
  if (fstat(fd, &sb)) {
    free(m);
    return sl_err_set(err, SL_EIO, "%s: stat: %s", path, strerror(errno));
  }
  *size = (uint64_t)sb.st_size;
  sl_code rc = SL_EOK;
  if (n > 0) {
    text[n] = 0;
    char *end;
    unsigned long long bytes = strtoull(text, &end, 10);
    if (end == text || (*end && *end != '\n')) {
      rc = sl_err_set(err, SL_EIO, "%s is not a byte count; delete it to keep %s whole", m, path);
    } else if (bytes > *size) {
      rc = sl_err_set(err, SL_EIO, "%s is %llu bytes, shorter than the %llu bytes committed per %s: was it "
                      "changed by hand?", path, (unsigned long long)*size, bytes, m);
    } else {
      *had_mark = true;
      if (bytes < *size) {
        if (ftruncate(fd, (off_t)bytes)) rc = sl_err_set(err, SL_EIO, "%s: truncate: %s", path, strerror(errno));
        else sl_dest_log("INFO", "%s: cut %llu bytes written after the last commit by an interrupted run", path,
                         (unsigned long long)(*size - bytes));
        *size = bytes;
      }
    }
  }
  free(m);
  return rc;
}
