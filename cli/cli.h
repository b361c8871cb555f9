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
int cmd_builder(int argc, char **argv);  /* cmd_builder.c */
int cmd_source(int argc, char **argv);      /* cmd_source.c */
int cmd_destination(int argc, char **argv); /* cmd_source.c */
int cmd_connection(int argc, char **argv);  /* cmd_connection.c */
int cmd_job(int argc, char **argv);         /* cmd_job.c */
int cmd_state(int argc, char **argv);       /* cmd_state.c */
int cmd_catalog(int argc, char **argv);     /* cmd_catalog.c */
int cmd_server(int argc, char **argv);      /* cmd_server.c */

/* Workspace commands (cmd_source.c): positional arguments, --NAME VALUE
 * options (repeatable), flags, --json, --help and --store. */
#define CLI_WS_MAX 32
struct sl_store;
typedef struct cli_ws {
  const char *pos[CLI_WS_MAX];
  int npos;
  const char *opt_name[CLI_WS_MAX], *opt_val[CLI_WS_MAX];
  int nopts;
  const char *flags[CLI_WS_MAX];
  int nflags;
  bool json, help;
  const char *store_where;
  struct sl_store *store;
  char cmd[64]; /* "connection edit": for messages */
} cli_ws;
/* value_opts: the options that take a value (besides --store). */
int cli_ws_init(cli_ws *w, int argc, char **argv, const char *const *value_opts);
int cli_ws_check(const cli_ws *w, const char *cmd, const char *const *opts, const char *const *flags);
const char *cli_ws_opt(const cli_ws *w, const char *name); /* last value, or NULL */
bool cli_ws_flag(const cli_ws *w, const char *name);
int cli_ws_open(cli_ws *w); /* opens w->store; non-zero: the exit code */
/* Parse, answer --help, check the options, require an object (name or id)
 * for every subcommand but list, open the store. -1: go on; else the exit
 * code to return. */
int cli_ws_start(cli_ws *w, int argc, char **argv, const char *group, const char *usage, const char *const *vopts,
                 const char *const *flags, const char *object);
void cli_ws_close(cli_ws *w);
void cli_print_json(const json_t *v);
/* A config from --config FILE (else base, else {}), then every --set. */
sl_code cli_config_build(const cli_ws *w, const json_t *base, json_t **out, sl_err *err);

/* A connector directory: ref itself, or connectors/<ref> for a name. */
bool cli_connector_dir(const char *ref, char *out, size_t n);

/* Print "sluice: error: <msg>" (and a hint) to stderr; returns the exit code. */
int cli_fail(const sl_err *err, const char *hint);
/* Split "a,b,c" into a NULL-terminated array (free with free()). */
char **cli_split_list(const char *s);
bool cli_color(void);

#endif
