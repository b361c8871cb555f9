/* The sluice command: one file per subcommand, sharing these helpers. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>

#include "sluice/platform.h"

typedef struct cli_cmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
  const char *usage;
} cli_cmd;

int cmd_spec(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_connectors(int argc, char **argv);
int cmd_test(int argc, char **argv); /* cmd_test.c */
int cmd_metadata(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_bump(int argc, char **argv);
int cmd_secrets(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_docker_run(int argc, char **argv);
int cmd_manifest(int argc, char **argv); /* cmd_manifest.c */
/* A connector directory: ref itself, or connectors/<ref> for a name. */
bool cli_connector_dir(const char *ref, char *out, size_t n);

/* Print "sluice: error: <msg>" (and a hint) to stderr; returns the exit code. */
int cli_fail(const sl_err *err, const char *hint);
/* Split "a,b,c" into a NULL-terminated array (free with free()). */
char **cli_split_list(const char *s);
bool cli_color(void);

#endif
