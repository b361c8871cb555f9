/* sluice server: schedules, jobs and the REST API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/store.h"

static const char *usage_server =
    "sluice server [--workers N] [--listen ADDR] [--port N] [--token-file FILE] [--no-api] [--store FILE]\n"
    "              [--webhook URL] [--max-attempts N]\n"
    "  runs active connections on their schedules, at most N jobs at once (default 2), one per connection;\n"
    "  SIGTERM/SIGINT: running jobs end their attempt (marked incomplete, resumed by the next run)\n"
    "  the REST API listens on ADDR:N (default 127.0.0.1, port 8095) and requires\n"
    "  \"Authorization: Bearer TOKEN\": the first line of --token-file, or $SLUICE_API_TOKEN (16+ characters)\n"
    "  endpoints: GET /v1/health, /v1/sources, /v1/destinations, /v1/connections, /v1/connections/ID,\n"
    "  /v1/jobs[?connection_id=ID], /v1/jobs/ID; POST /v1/connections/ID/sync\n"
    "  --webhook URL: POST {event: job.succeeded|job.failed|job.incomplete, job_id, connection, ..., streams}\n"
    "  for every finished job (5 s timeout, not retried)\n";

int cmd_server(int argc, char **argv) {
  static const char *const vopts[] = {"--workers", "--listen", "--port", "--token-file", "--port-file", "--tick-ms", "--max-attempts", "--webhook", NULL};
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
