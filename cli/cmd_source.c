/* sluice source|destination create|list|show|check|discover|edit|delete,
 * and the helpers the other workspace commands share (store, --json,
 * config from a file and --set flags). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "prompt.h"
#include "sluice/schema.h"
#include "sluice/store.h"

int cli_ws_init(cli_ws *w, int argc, char **argv, const char *const *value_opts) {
  memset(w, 0, sizeof *w);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) w->json = true;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) w->help = true;
    else if (!strncmp(a, "--", 2)) {
      bool takes = !strcmp(a, "--store");
      for (size_t k = 0; value_opts && value_opts[k]; k++) takes |= !strcmp(a, value_opts[k]);
      if (!takes) {
        if (w->nflags < CLI_WS_MAX) w->flags[w->nflags++] = a;
        continue;
      }
      if (i + 1 >= argc) {
        fprintf(stderr, "sluice: error: %s needs a value\n", a);
        return 2;
      }
      if (!strcmp(a, "--store")) w->store_where = argv[++i];
      else if (w->nopts < CLI_WS_MAX) {
        w->opt_name[w->nopts] = a;
        w->opt_val[w->nopts++] = argv[++i];
      } else i++;
    } else if (w->npos < CLI_WS_MAX) {
      w->pos[w->npos++] = a;
    }
  }
  return 0;
}

const char *cli_ws_opt(const cli_ws *w, const char *name) {
  const char *v = NULL;
  for (int i = 0; i < w->nopts; i++)
    if (!strcmp(w->opt_name[i], name)) v = w->opt_val[i];
  return v;
}

bool cli_ws_flag(const cli_ws *w, const char *name) {
  for (int i = 0; i < w->nflags; i++)
    if (!strcmp(w->flags[i], name)) return true;
  return false;
}

/* Options and flags not in the allowed lists are usage errors. */
int cli_ws_check(const cli_ws *w, const char *cmd, const char *const *opts, const char *const *flags) {
  for (int i = 0; i < w->nopts + w->nflags; i++) {
    const char *n = i < w->nopts ? w->opt_name[i] : w->flags[i - w->nopts];
    const char *const *list = i < w->nopts ? opts : flags;
    bool ok = false;
    for (size_t k = 0; list && list[k]; k++) ok |= !strcmp(list[k], n);
    if (!ok) {
      fprintf(stderr, "sluice: error: %s: unknown option %s (see `sluice %s --help`)\n", cmd, n, cmd);
      return 2;
    }
  }
  return 0;
}

int cli_ws_start(cli_ws *w, int argc, char **argv, const char *group, const char *usage, const char *const *vopts,
                 const char *const *flags, const char *object) {
  int rc = cli_ws_init(w, argc - 1, argv + 1, vopts);
  if (rc) return rc;
  if (w->help || !w->npos) {
    fputs(usage, w->help ? stdout : stderr);
    return w->help ? 0 : 2;
  }
  snprintf(w->cmd, sizeof w->cmd, "%s %s", group, w->pos[0]);
  if ((rc = cli_ws_check(w, w->cmd, vopts, flags))) return rc;
  if (strcmp(w->pos[0], "list") && w->npos < 2) {
    fprintf(stderr, "sluice: error: %s: which %s?\n", w->cmd, object);
    return 2;
  }
  return (rc = cli_ws_open(w)) ? rc : -1;
}

int cli_ws_open(cli_ws *w) {
  sl_err err = SL_ERR_INIT;
  if (sl_store_open(w->store_where, &w->store, &err)) return cli_fail(&err, "the store is $SLUICE_HOME/sluice.db (default ~/.sluice)");
  return 0;
}

void cli_ws_close(cli_ws *w) {
  sl_store_close(w->store);
  w->store = NULL;
}

void cli_print_json(const json_t *v) {
  char *t = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (t) puts(t);
  free(t);
}

/* "a.b=value": value parsed as JSON when it is JSON, else a string. */
static sl_code apply_set(json_t *config, const char *kv, sl_err *err) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return sl_err_set(err, SL_EUSAGE, "--set \"%s\": expected KEY=VALUE (KEY may be a.b.c)", kv);
  char *key = strndup(kv, (size_t)(eq - kv));
  json_t *cur = config;
  char *save = NULL, *part = strtok_r(key, ".", &save), *next;
  for (; (next = strtok_r(NULL, ".", &save)); part = next) {
    json_t *sub = json_object_get(cur, part);
    if (!json_is_object(sub)) json_object_set_new(cur, part, sub = json_object());
    cur = sub;
  }
  json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
  json_object_set_new(cur, part, v ? v : json_string(eq + 1));
  free(key);
  return SL_EOK;
}

sl_code cli_config_build(const cli_ws *w, const json_t *base, json_t **out, sl_err *err) {
  const char *file = cli_ws_opt(w, "--config");
  json_t *cfg = NULL;
  sl_code rc;
  if (file) {
    if ((rc = sl_json_load_file(file, &cfg, err))) return rc;
    if (!json_is_object(cfg)) {
      json_decref(cfg);
      return sl_err_set(err, SL_ECONFIG, "%s: a config is a JSON object", file);
    }
  } else {
    cfg = base ? json_deep_copy(base) : json_object();
  }
  for (int i = 0; i < w->nopts; i++)
    if (!strcmp(w->opt_name[i], "--set") && (rc = apply_set(cfg, w->opt_val[i], err))) {
      json_decref(cfg);
      return rc;
    }
  *out = cfg;
  return SL_EOK;
}

/* Masked values coming back (from an edited `show --json`) keep the stored secret. */
static void print_actor_list(const json_t *rows) {
  printf("%-6s %-24s %-32s\n", "id", "name", "connector");
  size_t i;
  json_t *r;
  json_array_foreach(rows, i, r) printf("%-6lld %-24s %-32s\n", (long long)sl_store_int(r, "id"), sl_store_str(r, "name"),
                                        sl_store_str(r, "connector"));
}

static const char *usage_actor =
    "sluice %1$s create NAME --connector C [--config FILE] [--set KEY=VALUE]... [--no-prompt]\n"
    "  on a terminal without --config, create asks for each field of the connector's spec\n"
    "  (choices from a list, Enter takes the default, secrets are read without echo)\n"
    "sluice %1$s list | show NAME | check NAME%2$s | delete NAME\n"
    "sluice %1$s edit NAME [--config FILE] [--set KEY=VALUE]... [--connector C] [--rename NEW] [--expect-version N]\n"
    "  an edit applies only if nobody changed the %1$s since it was read (or since version N of `show`)\n"
    "  every subcommand takes --json (machine-readable output) and --store FILE\n"
    "  --set a.b=VALUE sets one field (VALUE is parsed as JSON when it is JSON); secrets\n"
    "  (airbyte_secret fields) are kept apart in $SLUICE_HOME/secrets.json (0600) and shown masked\n";

static int actor_main(const char *kind, int argc, char **argv) {
  static const char *const vopts[] = {"--connector", "--config", "--set", "--rename", "--expect-version", NULL};
  static const char *const flags[] = {"--no-validate", "--no-prompt", NULL};
  bool src = !strcmp(kind, "source");
  char usage[1024], object[64];
  snprintf(usage, sizeof usage, usage_actor, kind, src ? " | discover NAME" : "");
  snprintf(object, sizeof object, "%s (a name or an id)", kind);
  cli_ws w;
  int rc = cli_ws_start(&w, argc, argv, kind, usage, vopts, flags, object);
  if (rc >= 0) return rc;
  const char *sub = w.pos[0], *name = w.npos > 1 ? w.pos[1] : NULL, *cmd = w.cmd;
  sl_err err = SL_ERR_INIT;
  json_t *row = NULL, *cfg = NULL, *spec = NULL, *out = NULL;
  sl_store *s = w.store;
  sl_code c = SL_EOK;
  if (!strcmp(sub, "list")) {
    if (!(c = sl_store_exec(s, &out, &err, "SELECT id, name, connector, created_at, updated_at, version FROM actors WHERE kind = ? ORDER BY name", 1, kind)))
      w.json ? cli_print_json(out) : print_actor_list(out);
  } else if (!strcmp(sub, "create") || !strcmp(sub, "edit")) {
    bool create = !strcmp(sub, "create");
    const char *connector = cli_ws_opt(&w, "--connector");
    json_t *stored = NULL;
    if (!create && !(c = sl_actor_find(s, kind, name, &row, &err))) {
      if (!connector) connector = sl_store_str(row, "connector");
      c = sl_actor_config(s, row, &stored, &err);
    } else if (create && !connector) {
      c = sl_err_set(&err, SL_EUSAGE, "%s: --connector is required (a built-in name, a path or an image)", cmd);
    }
    if (!c) c = cli_config_build(&w, stored, &cfg, &err);
    if (!c && stored) sl_secrets_keep_masked(cfg, stored);
    json_decref(stored);
    if (!c) c = sl_connector_spec(connector, &spec, &err);
    /* On a terminal without --config: ask for the fields --set left out. */
    if (!c && create && !cli_ws_opt(&w, "--config") && !cli_ws_flag(&w, "--no-prompt") && isatty(STDIN_FILENO))
      c = cli_prompt_config(spec, cfg, stdin, stderr, &err);
    if (!c && !cli_ws_flag(&w, "--no-validate")) {
      sl_schema_apply_defaults(spec, cfg);
      char what[300];
      snprintf(what, sizeof what, "%s \"%s\" config", kind, name);
      c = sl_schema_validate(spec, cfg, what, &err);
    }
    int64_t id = row ? sl_store_int(row, "id") : 0, version = row ? sl_store_int(row, "version") : 0;
    const char *newname = cli_ws_opt(&w, "--rename"), *expect = cli_ws_opt(&w, "--expect-version");
    if (!c && expect) {
      char *end;
      version = strtoll(expect, &end, 10);
      if (create) c = sl_err_set(&err, SL_EUSAGE, "%s: --expect-version is for edit", cmd);
      else if (!*expect || *end || version < 1)
        c = sl_err_set(&err, SL_EUSAGE, "%s: --expect-version \"%s\": expected a version number (see `sluice %s show`)", cmd, expect, kind);
    }
    if (!c) c = sl_actor_save(s, kind, id, version, newname ? newname : name, connector, spec, cfg, &id, &err);
    if (!c) {
      if (w.json) {
        out = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "name", newname ? newname : name, "connector", connector);
        cli_print_json(out);
      } else {
        printf("%s %s %s (id %lld)\n", kind, newname ? newname : name, create ? "created" : "updated", (long long)id);
      }
    }
  } else if (!(c = sl_actor_find(s, kind, name, &row, &err))) {
    if (!strcmp(sub, "show")) {
      if (!(c = sl_actor_config_masked(s, row, &cfg, &err))) {
        out = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(row, "id"), "kind", json_object_get(row, "kind"),
                        "name", json_object_get(row, "name"), "connector", json_object_get(row, "connector"), "created_at",
                        json_object_get(row, "created_at"), "updated_at", json_object_get(row, "updated_at"), "version",
                        json_object_get(row, "version"));
        json_object_set(out, "config", cfg);
        if (w.json) cli_print_json(out);
        else {
          printf("%s %s (id %lld)\nconnector: %s\nconfig:\n", kind, sl_store_str(row, "name"), (long long)sl_store_int(row, "id"),
                 sl_store_str(row, "connector"));
          cli_print_json(cfg);
        }
      }
    } else if (!strcmp(sub, "check")) {
      json_t *msg = NULL;
      if (!(c = sl_actor_call(s, row, "check", SL_MSG_CONNECTION_STATUS, &msg, &err))) {
        json_t *st = json_object_get(msg, "connectionStatus");
        const char *status = json_string_value(json_object_get(st, "status"));
        if (w.json) cli_print_json(st);
        else printf("%s %s: %s%s%s\n", kind, name, status ? status : "?", json_object_get(st, "message") ? ": " : "",
                    json_object_get(st, "message") ? json_string_value(json_object_get(st, "message")) : "");
        if (!status || strcmp(status, "SUCCEEDED")) c = sl_err_set(&err, SL_ECONNECTOR, "%s %s: check failed", kind, name);
      }
      json_decref(msg);
    } else if (!strcmp(sub, "discover") && src) {
      int64_t version = 0;
      bool changed = false;
      if (!(c = sl_source_discover(s, row, &out, &version, &changed, &err))) {
        if (w.json) cli_print_json(out);
        else {
          size_t i;
          json_t *st;
          json_array_foreach(json_object_get(out, "streams"), i, st) printf("%s\n", json_string_value(json_object_get(st, "name")));
        }
        fprintf(stderr, "catalog version %lld%s\n", (long long)version, changed ? " (new)" : " (unchanged)");
      }
    } else if (!strcmp(sub, "delete")) {
      if (!(c = sl_actor_delete(s, row, &err))) {
        if (w.json) printf("{\"deleted\": %lld}\n", (long long)sl_store_int(row, "id"));
        else printf("%s %s deleted\n", kind, name);
      }
    } else {
      c = sl_err_set(&err, SL_EUSAGE, "%s: unknown subcommand (see `sluice %s --help`)", cmd, kind);
    }
  }
  json_decref(row);
  json_decref(cfg);
  json_decref(spec);
  json_decref(out);
  cli_ws_close(&w);
  return c ? cli_fail(&err, NULL) : 0;
}

int cmd_source(int argc, char **argv) { return actor_main("source", argc, argv); }
int cmd_destination(int argc, char **argv) { return actor_main("destination", argc, argv); }
