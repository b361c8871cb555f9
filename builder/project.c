/* Files of a builder project: reading manifests with a size cap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder.h"

char *bld_read_text(const char *path, size_t max, size_t *len, sl_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    sl_err_set(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, "%s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (size_t)st.st_size > max) {
    fclose(f);
    sl_err_set(err, SL_ELIMIT, "%s: %lld bytes, more than the %zu a manifest may have", path, (long long)st.st_size,
               max);
    return NULL;
  }
  char *buf = malloc(max + 1);
  size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
  bool bad = ferror(f);
  fclose(f);
  if (!buf || bad || n > max) {
    free(buf);
    sl_err_set(err, !buf ? SL_ENOMEM : bad ? SL_EIO : SL_ELIMIT, "%s: %s", path,
               !buf ? "out of memory" : bad ? "read error" : "larger than the manifest limit");
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* path, or path/manifest.yaml when path is a directory. */
void bld_manifest_path(const char *path, char *out, size_t n) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(out, n, "%s/manifest.yaml", path);
  else snprintf(out, n, "%s", path);
}
