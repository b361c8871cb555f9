/* sluice catalog list|show|diff: the versions of a source's discovered
 * catalog and what changed between two of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/store.h"

static const char *usage_catalog =
    "sluice catalog list SOURCE [--json]           (every stored version; `sluice source discover` adds one)\n"
    "sluice catalog show SOURCE [--version N]      (default: the latest)\n"
    "sluice catalog diff SOURCE FROM TO [--json]   (streams added/removed, fields added/removed/changed, breaking)\n"
    "  every subcommand takes --store FILE\n";

static void print_list(const char *label, const json_t *arr) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) printf("%s %s\n", label, json_string_value(v));
}

static void print_diff(const json_t *d) {
  print_list("+ stream", json_object_get(d, "streams_added"));
  print_list("- stream", json_object_get(d, "streams_removed"));
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(d, "streams_changed"), i, c) {
    printf("~ stream %s%s\n", json_string_value(json_object_get(c, "stream")), json_is_true(json_object_get(c, "breaking")) ? " (breaking)" : "");
    print_list("    + field", json_object_get(c, "fields_added"));
    print_list("    - field", json_object_get(c, "fields_removed"));
    print_list("    ~ field", json_object_get(c, "fields_changed"));
    if (json_is_true(json_object_get(c, "primary_key_changed"))) printf("    ! primary key removed or changed\n");
    if (json_is_true(json_object_get(c, "cursor_removed"))) printf("    ! cursor field removed\n");
  }
  printf("%s\n", json_is_true(json_object_get(d, "breaking")) ? "breaking: yes" : "breaking: no");
}

static sl_code load(sl_store *s, int64_t src, const char *v, json_t **cat, sl_err *err) {
  json_t *row = NULL;
  char *end;
  long long n = v ? strtoll(v, &end, 10) : 0;
  if (v && (*end || n < 1)) return sl_err_set(err, SL_EUSAGE, "catalog: \"%s\" is not a version number", v);
  sl_code rc = sl_catalog_get(s, src, n, &row, err);
  if (!rc) {
    *cat = json_loads(sl_store_str(row, "catalog"), 0, NULL);
    json_object_set_new(row, "catalog", json_incref(*cat));
    json_decref(*cat);
    *cat = row;
  }
  return rc;
}

int cmd_catalog(int argc, char **argv) {
  static const char *const vopts[] = {"--version", NULL};
  cli_ws w;
  int rc = cli_ws_start(&w, argc, argv, "catalog", usage_catalog, vopts, NULL, "source (a name or an id)");
  if (rc >= 0) return rc;
  const char *sub = w.pos[0], *name = w.npos > 1 ? w.pos[1] : NULL;
  sl_err err = SL_ERR_INIT;
  json_t *src = NULL, *a = NULL, *b = NULL, *rows = NULL, *d = NULL;
  char sb[24];
  sl_code c = name ? sl_actor_find(w.store, "source", name, &src, &err) : sl_err_set(&err, SL_EUSAGE, "catalog: which source?");
  if (c) {
  } else if (!strcmp(sub, "list")) {
    if (!(c = sl_store_exec(w.store, &rows, &err, "SELECT version, created_at, length(catalog) AS bytes FROM catalogs WHERE source_id = ? ORDER BY version",
                            1, sl_store_i64(sb, sl_store_int(src, "id"))))) {
      if (w.json) cli_print_json(rows);
      else {
        size_t i;
        json_t *r;
        printf("%-8s %s\n", "version", "created_at (ms)");
        json_array_foreach(rows, i, r) printf("%-8lld %lld\n", (long long)sl_store_int(r, "version"), (long long)sl_store_int(r, "created_at"));
      }
    }
  } else if (!strcmp(sub, "show")) {
    if (!(c = load(w.store, sl_store_int(src, "id"), cli_ws_opt(&w, "--version"), &a, &err)))
      cli_print_json(w.json ? a : json_object_get(a, "catalog"));
  } else if (!strcmp(sub, "diff")) {
    if (w.npos < 4) c = sl_err_set(&err, SL_EUSAGE, "catalog diff: give two versions (see `sluice catalog list %s`)", name);
    else if (!(c = load(w.store, sl_store_int(src, "id"), w.pos[2], &a, &err)) &&
             !(c = load(w.store, sl_store_int(src, "id"), w.pos[3], &b, &err))) {
      d = sl_catalog_diff(json_object_get(a, "catalog"), json_object_get(b, "catalog"));
      w.json ? cli_print_json(d) : print_diff(d);
    }
  } else {
    c = sl_err_set(&err, SL_EUSAGE, "%s: unknown subcommand (see `sluice catalog --help`)", w.cmd);
  }
  json_decref(src);
  json_decref(a);
  json_decref(b);
  json_decref(rows);
  json_decref(d);
  cli_ws_close(&w);
  return c ? cli_fail(&err, NULL) : 0;
}
