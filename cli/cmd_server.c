/* sluice server: schedules, jobs and the REST API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/store.h"

static const char *usage_server =
    "sluice server [--workers N] [--listen ADDR] [--port N] [--token-file FILE] [--no-api] [--store FILE]\n"
    "              [--webhook URL] [--max-attempts N] [--lease-s S]\n"
    "  runs active connections on their schedules, at most N jobs at once (default 2), one per connection;\n"
    "  SIGTERM/SIGINT: running jobs end their attempt (marked incomplete, resumed by the next run)\n"
    "  the REST API listens on ADDR:N (default 127.0.0.1, port 8095) and requires\n"
    "  \"Authorization: Bearer TOKEN\": the first line of --token-file, or $SLUICE_API_TOKEN (16+ characters)\n"
    "  endpoints (docs/platform.md): /v1/health; /v1/sources and /v1/destinations (GET, POST; /ID: GET, PATCH,\n"
    "  DELETE; /ID/check, /ID/discover: POST; /ID/catalogs[/N|/latest|/diff?from=&to=]: GET); /v1/connections (GET,\n"
    "  POST; /ID: GET, PATCH, DELETE; /ID/sync|refresh|clear: POST; /ID/state: GET, PUT, DELETE);\n"
    "  /v1/jobs[?connection_id=ID], /v1/jobs/ID (GET), /v1/jobs/ID/cancel (POST)\n"
    "  --webhook URL: POST {event: job.succeeded|job.failed|job.incomplete, job_id, connection, ..., streams}\n"
    "  for every finished job (5 s timeout, not retried)\n"
    "  --lease-s S: a job's lease (default 60, $SLUICE_LEASE_S): after a server dies, another one takes its\n"
    "  jobs over once their lease has run out (shared PostgreSQL store)\n";

int cmd_server(int argc, char **argv) {
  static const char *const vopts[] = {"--workers", "--listen", "--port", "--token-file", "--port-file", "--tick-ms", "--max-attempts", "--webhook", "--lease-s", NULL};
  static const char *const flags[] = {"--no-api", NULL};
  cli_ws w;
  int rc = cli_ws_init(&w, argc - 1, argv + 1, vopts);
  if (rc) return rc;
  if (w.help) {
    fputs(usage_server, stdout);
    return 0;
  }
  if ((rc = cli_ws_check(&w, "server", vopts, flags))) return rc;
  sl_server_opts o = {0};
  sl_err err = SL_ERR_INIT;
  const char *v;
  char token[512] = "";
  o.store_where = w.store_where;
  o.workers = (v = cli_ws_opt(&w, "--workers")) ? atoi(v) : 2;
  o.listen = cli_ws_opt(&w, "--listen");
  o.port = cli_ws_flag(&w, "--no-api") ? -1 : (v = cli_ws_opt(&w, "--port")) ? atoi(v) : 8095;
  o.port_file = cli_ws_opt(&w, "--port-file");
  o.tick_ms = (v = cli_ws_opt(&w, "--tick-ms")) ? atoll(v) : 0;
  o.max_attempts = (v = cli_ws_opt(&w, "--max-attempts")) ? atoi(v) : 0;
  o.webhook = cli_ws_opt(&w, "--webhook");
  /* The jobs (child processes) read the lease duration from the environment. */
  if ((v = cli_ws_opt(&w, "--lease-s"))) {
    if (atoi(v) < 1) {
      sl_err_set(&err, SL_EUSAGE, "server: --lease-s wants a number of seconds of at least 1");
      return cli_fail(&err, NULL);
    }
    setenv("SLUICE_LEASE_S", v, 1);
  }
  if (o.workers < 1) {
    sl_err_set(&err, SL_EUSAGE, "server: --workers wants a number of at least 1");
    return cli_fail(&err, NULL);
  }
  if ((v = cli_ws_opt(&w, "--token-file"))) {
    FILE *f = fopen(v, "r");
    if (!f || !fgets(token, sizeof token, f)) {
      sl_err_set(&err, SL_ECONFIG, "server: cannot read a token from %s", v);
      if (f) fclose(f);
      return cli_fail(&err, NULL);
    }
    fclose(f);
    token[strcspn(token, "\r\n")] = 0;
  } else if ((v = getenv("SLUICE_API_TOKEN"))) {
    snprintf(token, sizeof token, "%s", v);
  }
  o.token = token;
  sl_code c = sl_server_run(&o, &err);
  return c ? cli_fail(&err, NULL) : 0;
}
