/* sluice: the command-line entry point and its subcommand table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/sluice.h"

static const cli_cmd commands[] = {
    {"spec", cmd_spec, "show a connector's configuration spec", "sluice spec <connector> [--json]"},
    {"check", cmd_check, "check that a config can connect",
     "sluice check <connector> --config FILE [--json]"},
    {"discover", cmd_discover, "list a source's streams and schemas",
     "sluice discover <connector> --config FILE [--json]"},
    {"read", cmd_read, "read records from a source",
     "sluice read <connector> --config FILE [--catalog FILE | --streams a,b] [--state FILE] [--json]\n"
     "            [--validate]   (check every record against its stream's JSON schema)\n"
     "            [--debug]      (the connector logs each HTTP request and response, secrets masked)\n"
     "<connector> may also be a declarative manifest: a .yaml file or a directory holding manifest.yaml"},
    {"sync", cmd_sync, "move data from a source to a destination, keeping state",
     "sluice sync --source C --source-config FILE --destination C --destination-config FILE\n"
     "            [--streams a,b | --catalog CONFIGURED_CATALOG.json] [--state-file FILE] [--full-refresh]\n"
     "            [--max-message-size BYTES] [--no-progress] [--protocol-log FILE]\n"
     "--catalog takes the streams and their sync modes, cursor fields and primary keys from a\n"
     "configured catalog (Airbyte's configured_catalog.json), checked against discover."},
    {"connectors", cmd_connectors, "list the built-in connectors", "sluice connectors"},
    {"test", cmd_test, "run a connector's acceptance tests (acceptance-test-config.yml)",
     "sluice test <connector> [--config acceptance-test-config.yml] [--junit FILE] [--suites a,b] [--timeout S]\n"
     "            [--deployment-mode oss|cloud]\n"
     "            <connector>: a connector directory, a built-in name (connectors/<name>/ holds the config),\n"
     "            or a path to any executable with --config; input sets declaring another deployment_mode\n"
     "            are skipped (default oss, or $SLUICE_DEPLOYMENT_MODE)\n"
     "sluice test compat spec|catalog OLD.json NEW.json   (the backward-compatibility rules on two files)\n"
     "sluice test compat configs OLD.json NEW.json [--count N] [--seed S]\n"
     "            (configs generated from the old spec must validate against the new one)"},
    {"metadata", cmd_metadata, "check connectors' metadata.yaml and publishing files",
     "sluice metadata validate <connector>... | --all [--previous-version V | --base GIT-REV]\n"
     "            (the version must not go below V, default: the one committed at HEAD)"},
    {"registry", cmd_registry, "build or show the connector registry (Airbyte's registry shape)",
     "sluice registry build [--out FILE] [--connectors DIR]\n"
     "sluice registry list [--registry FILE] [--connectors DIR]"},
    {"bump", cmd_bump, "raise a connector's version, with a changelog entry",
     "sluice bump <connector> patch|minor|major --message \"what changed\"\n"
     "            [--breaking-message \"...\" --upgrade-deadline YYYY-MM-DD]   (a major asks for these)"},
    {"generate", cmd_generate, "start a new connector from a template",
     "sluice generate <template> <name> [--out DIR] [--templates DIR]\n"
     "            templates: source-c, destination-c, source-declarative, source-singer, generic\n"
     "            writes DIR/connectors/<name>/ (DIR: the current directory); asks when run without arguments"},
    {"docker-run", cmd_docker_run, "run a connector image (what docker/<image> references run)",
     "sluice docker-run <image> <connector arguments>   (docker run --rm -i, input files mounted under /data)"},
    {"secrets", cmd_secrets, "write a connector's secrets/config.json from SECRET_<NAME>_CREDS",
     "sluice secrets fetch <connector>"},
    {"manifest", cmd_manifest, "check low-code manifests against the schema and sluice's support",
     "sluice manifest validate <manifest.yaml> [--no-warnings]\n"
     "            every problem with file:line:col and component path; exit 0 when sluice runs it\n"
     "       sluice manifest coverage <dir>\n"
     "            one line per manifest under dir (ok / unsupported: ... / invalid / error), then\n"
     "            \"N of M manifests supported\""},
    {"builder", cmd_builder, "the connector builder: a web page to build and test declarative connectors",
     "sluice builder [--port N] [--repo DIR] [project-dir]   serve the builder on 127.0.0.1, print its URL\n"
     "       sluice builder test-read <manifest> --stream S [--config F] [--state F] [--max-records N]\n"
     "            [--max-pages N] [--max-slices N] [--timeout S]   the page's test read, as JSON"},
    {"source", cmd_source, "manage sources in the workspace (store under $SLUICE_HOME)",
     "sluice source create|list|show|check|discover|edit|delete ... [--json]   (sluice source --help)"},
    {"destination", cmd_destination, "manage destinations in the workspace",
     "sluice destination create|list|show|check|edit|delete ... [--json]   (sluice destination --help)"},
    {"connection", cmd_connection, "connect a source to a destination; sync it as a job",
     "sluice connection create|list|show|edit|sync|delete ... [--json]   (sluice connection --help)"},
    {"job", cmd_job, "list sync jobs, their attempts, stats and logs",
     "sluice job list|show|logs|cancel ... [--json]   (sluice job --help)"},
    {"state", cmd_state, "show, set or reset a connection's committed state",
     "sluice state show|set|reset CONNECTION ...   (sluice state --help)"},
    {"catalog", cmd_catalog, "versions of a source's catalog and the differences between them",
     "sluice catalog list|show|diff SOURCE ...   (sluice catalog --help)"},
    {"server", cmd_server, "run connections on their schedules, with a REST API",
     "sluice server [--workers N] [--port N] [--token-file FILE] ...   (sluice server --help)"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fprintf(f, "sluice %s: move data between sources and destinations (Airbyte protocol)\n\n",
          SLUICE_VERSION);
  fprintf(f, "usage: sluice <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n<connector> is a built-in name (source-faker), a path to an executable, or a\n"
             "connector directory. Run `sluice help <command>` for a command's options.\n");
}

int cli_fail(const sl_err *err, const char *hint) {
  bool c = cli_color();
  fprintf(stderr, "%ssluice: error:%s %s\n", c ? "\033[1;31m" : "", c ? "\033[0m" : "", err->msg);
  if (hint) fprintf(stderr, "hint: %s\n", hint);
  return err->code ? (int)err->code : 1;
}

bool cli_color(void) { return isatty(STDERR_FILENO) && !getenv("NO_COLOR"); }

char **cli_split_list(const char *s) {
  size_t n = 1;
  for (const char *p = s; *p; p++) n += *p == ',';
  /* One block: the pointer array, then a copy of the text it points into. */
  char **out = malloc((n + 1) * sizeof *out + strlen(s) + 1);
  if (!out) return NULL;
  char *text = (char *)(out + n + 1);
  strcpy(text, s);
  size_t k = 0;
  for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ","))
    if (*tok) out[k++] = tok;
  out[k] = NULL;
  return out;
}

int main(int argc, char **argv) {
  /* Connectors started by sluice find the built-in ones (e.g. a generated
   * Singer connector runs source-singer) in SLUICE_BIN. */
  char self[4096];
  ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sn > 0 && (self[sn] = 0, strrchr(self, '/'))) {
    *strrchr(self, '/') = 0;
    setenv("SLUICE_BIN", self, 0);
  }
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
    if (argc > 2)
      for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, argv[2])) {
          printf("%s\n\n%s\n", commands[i].summary, commands[i].usage);
          return 0;
        }
    usage(stdout);
    return 0;
  }
  if (!strcmp(name, "version") || !strcmp(name, "--version")) {
    printf("sluice %s (protocol %s)\n", SLUICE_VERSION, SL_PROTOCOL_VERSION);
    return 0;
  }
  for (size_t i = 0; i < N_COMMANDS; i++) {
    if (strcmp(commands[i].name, name)) continue;
    /* `--help` anywhere: the command's usage. Command groups (source,
     * connection, ...) print their own, per subcommand. */
    if (!strstr(commands[i].usage, "--help)"))
      for (int a = 2; a < argc; a++)
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
          printf("%s\n\n%s\n", commands[i].summary, commands[i].usage);
          return 0;
        }
    return commands[i].fn(argc - 1, argv + 1);
  }
  fprintf(stderr, "sluice: unknown command \"%s\"\n\n", name);
  usage(stderr);
  return 2;
}
