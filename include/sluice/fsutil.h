/* sluice: small file-system helpers for file destinations.
 *
 * Errors name the path. sl_fs_write_all retries short writes and EINTR. */
#ifndef SLUICE_FSUTIL_H
#define SLUICE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"

/* mkdir -p; SL_ECONFIG naming the part that could not be made. */
sl_code sl_fs_mkdirs(const char *path, sl_err *err);
/* A destination's check: mkdir -p, then create and delete a probe file. */
sl_code sl_fs_check_dir(const char *dir, sl_err *err);
/* fsync a directory (makes a rename or a new file in it durable). */
sl_code sl_fs_fsync_dir(const char *dir, sl_err *err);
sl_code sl_fs_write_all(int fd, const char *p, size_t n, const char *path, sl_err *err);
/* Append a file name made from a stream name: no '/', no control bytes, no
 * leading '.', never empty. */
void sl_fs_name(sl_buf *b, const char *s);
/* Write data to path atomically: path.new, fsync, rename, fsync the dir. */
sl_code sl_fs_replace(const char *dir, const char *path, const char *data, size_t n, sl_err *err);

/* The committed length of each file: sluice/commitfile.h. */

#endif
