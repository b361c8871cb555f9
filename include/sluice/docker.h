/* sluice: connectors shipped as images, run with `docker run --rm -i`.
 *
 * A reference `docker/<repo>:<tag>` or `image:<repo>:<tag>` resolves to a
 * small launcher script (cached under $XDG_RUNTIME_DIR or /tmp) that runs
 * `sluice docker-run <image> <args>`, so everything that runs executables
 * (sync, spec/check/discover/read, test) runs images unchanged. */
#ifndef SLUICE_DOCKER_H
#define SLUICE_DOCKER_H

#include <stddef.h>

#include "sluice/err.h"

/* True if ref names an image (docker/... or image:...). */
int sl_docker_is_ref(const char *ref);
/* Write the launcher for the image of ref into out (an executable path). */
sl_code sl_docker_resolve(const char *ref, char *out, size_t outlen, sl_err *err);
/* Build the `docker run` argument list for image and the connector
 * arguments: every --config/--catalog/--state file is mounted read-only at
 * /data/<config|catalog|state>.json and the argument rewritten; variables
 * named in $SLUICE_DOCKER_ENV (comma-separated) are passed with -e. Returns
 * a NULL-terminated malloc'd array (strings owned by a second block kept in
 * *owned; free both), or NULL with err. */
char **sl_docker_argv(const char *image, int argc, char **argv, char **owned, sl_err *err);

#endif
