/* sluice registry build|list: a registry of every connector in the shape of
 * Airbyte's OSS registry ({"sources": [...], "destinations": [...]}). */
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sluice/metadata.h"

static sl_code spec_of(const char *dir, json_t **spec, sl_err *err) {
  char exe[PATH_MAX];
  *spec = NULL;
  if (sl_connector_resolve(dir, exe, sizeof exe, err)) return err->code;
  const char *args[] = {"spec", NULL};
  json_t *msg;
  int code;
  if (sl_connector_call(dir, exe, args, SL_MSG_SPEC, &msg, &code, NULL, NULL, err)) return err->code;
  *spec = json_incref(json_object_get(msg, "spec"));
  json_decref(msg);
  return SL_EOK;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "dockerRepository")) ?: "",
                json_string_value(json_object_get(*(json_t *const *)b, "dockerRepository")) ?: "");
}

static void sort_array(json_t *arr) {
  size_t n = json_array_size(arr);
  json_t **v = calloc(n + 1, sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
  qsort(v, n, sizeof *v, cmp_name);
  json_array_clear(arr);
  for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
  free(v);
}

/* Build the registry of root/<connector>/metadata.yaml; failures are listed
 * on stderr and counted. */
static json_t *build(const char *root, int *failed) {
  json_t *reg = json_pack("{s[]s[]}", "sources", "destinations");
  char pattern[PATH_MAX];
  snprintf(pattern, sizeof pattern, "%s/*/metadata.yaml", root);
  glob_t g;
  if (glob(pattern, 0, NULL, &g) != 0) return reg;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", g.gl_pathv[i]);
    *strrchr(dir, '/') = 0;
    sl_err err = SL_ERR_INIT;
    sl_yaml *y = sl_meta_load(dir, &err);
    json_t *data = y ? json_object_get(sl_yaml_root(y), "data") : NULL;
    const char *type = json_string_value(json_object_get(data, "connectorType"));
    json_t *spec = NULL;
    if (!y) {
      fprintf(stderr, "sluice: registry: %s\n", err.msg);
      (*failed)++;
    } else if (!type || (strcmp(type, "source") && strcmp(type, "destination"))) {
      fprintf(stderr, "sluice: registry: %s/metadata.yaml: data.connectorType must be source or destination\n", dir);
      (*failed)++;
    } else if (spec_of(dir, &spec, &err)) {
      fprintf(stderr, "sluice: registry: %s: no spec: %s\n", dir, err.msg);
      (*failed)++;
    } else {
      json_t *e = sl_meta_registry_entry(data, spec, dir);
      if (e) json_array_append_new(json_object_get(reg, !strcmp(type, "source") ? "sources" : "destinations"), e);
    }
    json_decref(spec);
    sl_yaml_free(y);
  }
  globfree(&g);
  sort_array(json_object_get(reg, "sources"));
  sort_array(json_object_get(reg, "destinations"));
  return reg;
}

static void list(const json_t *reg) {
  printf("%-12s %-28s %-36s %-10s %s\n", "type", "name", "image", "support", "definition id");
  const char *kinds[] = {"sources", "destinations"};
  for (int k = 0; k < 2; k++) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(reg, kinds[k]), i, e) {
      char image[300];
      snprintf(image, sizeof image, "%s:%s", json_string_value(json_object_get(e, "dockerRepository")) ?: "?",
               json_string_value(json_object_get(e, "dockerImageTag")) ?: "?");
      printf("%-12s %-28s %-36s %-10s %s\n", k ? "destination" : "source", json_string_value(json_object_get(e, "name")) ?: "?", image,
             json_string_value(json_object_get(e, "supportLevel")) ?: "",
             json_string_value(json_object_get(e, k ? "destinationDefinitionId" : "sourceDefinitionId")) ?: "");
    }
  }
}

int cmd_registry(int argc, char **argv) {
  sl_err err = SL_ERR_INIT;
  const char *out = NULL, *file = NULL, *root = "connectors";
  if (argc < 2 || (strcmp(argv[1], "build") && strcmp(argv[1], "list"))) {
    sl_err_set(&err, SL_EUSAGE, "registry: expected `sluice registry build [--out F]` or `sluice registry list [--registry F]`");
    return cli_fail(&err, NULL);
  }
  for (int i = 2; i < argc; i++) {
    const char **slot = !strcmp(argv[i], "--out") ? &out : !strcmp(argv[i], "--registry") ? &file
                        : !strcmp(argv[i], "--connectors") ? &root : NULL;
    if (!slot || i + 1 >= argc) {
      sl_err_set(&err, SL_EUSAGE, "registry: bad option %s (see `sluice help registry`)", argv[i]);
      return cli_fail(&err, NULL);
    }
    *slot = argv[++i];
  }
  json_t *reg;
  int failed = 0;
  if (file) {
    if (sl_json_load_file(file, &reg, &err)) return cli_fail(&err, NULL);
  } else {
    reg = build(root, &failed);
  }
  if (!strcmp(argv[1], "list")) list(reg);
  else if (out) {
    if (json_dump_file(reg, out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
      json_decref(reg);
      sl_err_set(&err, SL_EIO, "registry: cannot write %s", out);
      return cli_fail(&err, NULL);
    }
    fprintf(stderr, "%s: %zu sources, %zu destinations\n", out, json_array_size(json_object_get(reg, "sources")),
            json_array_size(json_object_get(reg, "destinations")));
  } else {
    json_dumpf(reg, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    putchar('\n');
  }
  json_decref(reg);
  return failed ? 1 : 0;
}
