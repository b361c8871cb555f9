/* sluice state show|set|reset: a connection's committed state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/store.h"

static const char *usage_state =
    "sluice state show CONNECTION [--json]\n"
    "sluice state set CONNECTION --file STATE.json   (an array of state messages, as `sluice sync --state-file` keeps)\n"
    "sluice state reset CONNECTION [--stream NAME]  (the next sync of that stream reads everything again)\n"
    "  refused while a job of the connection is running; every subcommand takes --store FILE\n";

static sl_code conn_id(sl_store *s, const char *ref, int64_t *id, sl_err *err) {
  json_t *row = NULL;
  char *end;
  strtoll(ref, &end, 10);
  sl_code rc = *ref && !*end ? sl_store_one(s, &row, err, "SELECT id FROM connections WHERE id = ?", 1, ref)
                             : sl_store_one(s, &row, err, "SELECT id FROM connections WHERE name = ?", 1, ref);
  if (rc == SL_ENOTFOUND) return sl_err_set(err, SL_ENOTFOUND, "no connection named \"%s\" (see `sluice connection list`)", ref);
  if (!rc) *id = sl_store_int(row, "id");
  json_decref(row);
  return rc;
}

static sl_code not_running(sl_store *s, int64_t id, sl_err *err) {
  sl_code rc = sl_job_idle(s, id, err);
  if (rc == SL_ETRANSIENT) sl_err_set(err, rc, "%s; change the state when it is over", err->msg);
  return rc;
}

int cmd_state(int argc, char **argv) {
  static const char *const vopts[] = {"--file", "--stream", NULL};
  cli_ws w;
  int rc = cli_ws_start(&w, argc, argv, "state", usage_state, vopts, NULL, "connection (a name or an id)");
  if (rc >= 0) return rc;
  const char *sub = w.pos[0], *name = w.npos > 1 ? w.pos[1] : NULL;
  sl_err err = SL_ERR_INIT;
  json_t *state = NULL;
  int64_t id = 0;
  char ib[24];
  sl_code c = name ? conn_id(w.store, name, &id, &err) : sl_err_set(&err, SL_EUSAGE, "state: which connection?");
  sl_store_i64(ib, id);
  if (c) {
  } else if (!strcmp(sub, "show")) {
    if (!(c = sl_store_state_get(w.store, id, &state, &err))) cli_print_json(state);
  } else if (!strcmp(sub, "set")) {
    const char *file = cli_ws_opt(&w, "--file");
    sl_statefile sf = {0};
    if (!file) c = sl_err_set(&err, SL_EUSAGE, "state set: --file STATE.json is required");
    /* The same checks as a state file given to `sluice sync`. */
    else if (!(c = not_running(w.store, id, &err)) && !(c = sl_statefile_load(&sf, file, &err)))
      c = sl_store_state_put(w.store, id, sf.root, &err);
    sl_statefile_dispose(&sf);
    if (!c) printf(w.json ? "{\"state\": \"set\"}\n" : "state of connection %s set from %s\n", name, file);
  } else if (!strcmp(sub, "reset")) {
    const char *stream = cli_ws_opt(&w, "--stream");
    if (!(c = not_running(w.store, id, &err))) {
      c = sl_job_reset_state(w.store, id, stream, &err);
      if (!c) printf(w.json ? "{\"state\": \"reset\"}\n" : "state of connection %s reset%s%s\n", name, stream ? " for stream " : "",
                     stream ? stream : "");
    }
  } else {
    c = sl_err_set(&err, SL_EUSAGE, "%s: unknown subcommand (see `sluice state --help`)", w.cmd);
  }
  json_decref(state);
  cli_ws_close(&w);
  return c ? cli_fail(&err, NULL) : 0;
}
