/* sluice docker-run <image> <connector args>: what an image reference's
 * launcher runs (platform/docker.c): `docker run --rm -i` with the input
 * files mounted under /data; stdin and stdout pass straight through. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/docker.h"

int cmd_docker_run(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  if (argc < 2) {
    sl_err_set(&err, SL_EUSAGE, "docker-run: usage: sluice docker-run <image> <connector arguments>");
    return cli_fail(&err, NULL);
  }
  char *owned;
  char **dv = sl_docker_argv(argv[1], argc - 2, argv + 2, &owned, &err);
  if (!dv) return cli_fail(&err, NULL);
  execvp("docker", dv);
  sl_err_set(&err, SL_ENOTFOUND, "docker-run: cannot run docker: %s", strerror(errno));
  free(dv), free(owned);
  return cli_fail(&err, "the image connectors need a Docker engine and the docker command on PATH");
}
