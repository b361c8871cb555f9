/* sluice secrets fetch: write a connector's secrets/config.json from the
 * environment variable SECRET_<CONNECTOR NAME IN CAPITALS>_CREDS. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int write_file(const char *path, const char *text, mode_t mode, sl_err *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  size_t len = strlen(text);
  if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
    sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return 1;
  }
  close(fd);
  return 0;
}

int cmd_secrets(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  if (argc != 3 || strcmp(argv[1], "fetch")) {
    sl_err_set(&err, SL_EUSAGE, "secrets: expected `sluice secrets fetch <connector>`");
    return cli_fail(&err, NULL);
  }
  char dir[PATH_MAX];
  if (!cli_connector_dir(argv[2], dir, sizeof dir)) {
    sl_err_set(&err, SL_ENOTFOUND, "secrets fetch: %s: no such connector directory", argv[2]);
    return cli_fail(&err, NULL);
  }
  const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
  char var[300];
  snprintf(var, sizeof var, "SECRET_%s_CREDS", base);
  for (char *p = var; *p; p++) *p = (char)toupper((unsigned char)*p);
  const char *val = getenv(var);
  if (!val || !*val) {
    sl_err_set(&err, SL_ENOTFOUND, "secrets fetch: the environment variable %s is not set", var);
    return cli_fail(&err, "CI provides it from its secret store; locally, export it or write secrets/config.json yourself");
  }
  json_t *cfg;
  if (sl_json_load_str(val, strlen(val), var, &cfg, &err)) return cli_fail(&err, NULL);
  bool obj = json_is_object(cfg);
  json_decref(cfg);
  if (!obj) {
    sl_err_set(&err, SL_ECONFIG, "secrets fetch: %s must hold a JSON object (a connector config)", var);
    return cli_fail(&err, NULL);
  }
  char path[PATH_MAX + 40];
  snprintf(path, sizeof path, "%s/secrets", dir);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    sl_err_set(&err, SL_EIO, "%s: %s", path, strerror(errno));
    return cli_fail(&err, NULL);
  }
  /* the directory ignores itself, whatever the repository's .gitignore says */
  snprintf(path, sizeof path, "%s/secrets/.gitignore", dir);
  if (write_file(path, "*\n", 0644, &err)) return cli_fail(&err, NULL);
  snprintf(path, sizeof path, "%s/secrets/config.json", dir);
  if (write_file(path, val, 0600, &err)) return cli_fail(&err, NULL);
  printf("%s: written from %s\n", path, var);
  return 0;
}
