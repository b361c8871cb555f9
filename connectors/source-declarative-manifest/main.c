/* source-declarative-manifest: runs an Airbyte low-code manifest as a source.
 *
 * Where the manifest comes from, first match:
 *   --manifest-path FILE|DIR   (as Airbyte's image accepts; sluice's runner
 *                               passes it for a connector directory holding
 *                               manifest.yaml, or a .yaml file)
 *   the config key __injected_declarative_manifest (Airbyte's way)
 * `spec` without a manifest prints the generic spec (a config that carries
 * the manifest). --debug logs every HTTP request and response (secrets
 * masked) as DEBUG LOG messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lowcode/lowcode.h"
#include "sluice/connector.h"
#include "sluice/sluice.h"

static lc_source *g_src;
static bool g_config_set;

/* The manifest as a config property. Its top-level keys are declared (an
 * object property needs properties in Airbyte's UI and acceptance tests);
 * it is not `required`: CAT checks a config without its "_" keys against
 * the spec, and a missing manifest is already a clear config error of its
 * own (load_manifest). */
#define MANIFEST_PROP                                                                             \
  "{\"title\":\"Low-code manifest\",\"type\":\"object\",\"description\":\"The low-code manifest "   \
  "that defines the components of the source.\",\"properties\":{\"version\":{\"type\":\"string\"}," \
  "\"type\":{\"type\":\"string\"},\"check\":{\"description\":\"The check component\"},"           \
  "\"streams\":{\"type\":\"array\",\"description\":\"The stream definitions\"},\"spec\":"          \
  "{\"description\":\"The connector specification\"},\"definitions\":{\"description\":"             \
  "\"Shared definitions\"}}}"

static const char generic_spec[] =
    "{\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "\"__injected_declarative_manifest\":" MANIFEST_PROP "}}";

static void log_stderr(void *ud, const char *level, const char *msg) {
  /* Outside a read, logs go to stderr (secrets are masked by the HTTP layer
   * and config secrets are scrubbed here). */
  lc_source *src = ud;
  (void)src;
  fprintf(stderr, "%s %s\n", level, msg);
}

/* Outside a read (check, discover) a rotated OAuth token must still reach the
 * platform: the CONTROL message goes straight to stdout, before the library
 * prints its (buffered) result. */
static sl_code control_direct(void *ud, const json_t *config) {
  sl_out o;
  sl_out_init(&o, 1);
  sl_code rc = sl_out_control_config(&o, config);
  if (!rc) rc = sl_out_flush(&o);
  sl_out_dispose(&o);
  return rc;
}

static sl_code use_config(const json_t *config, sl_err *err) {
  if (g_config_set) return SL_EOK;
  g_config_set = true;
  return lc_source_set_config(g_src, config, err);
}

static sl_code do_check(const json_t *config, sl_err *err) {
  sl_code rc = use_config(config, err);
  return rc ? rc : lc_source_check(g_src, err);
}

static sl_code do_discover(const json_t *config, json_t *streams, sl_err *err) {
  sl_code rc = use_config(config, err);
  return rc ? rc : lc_source_discover(g_src, streams, err);
}

static void log_read(void *ud, const char *level, const char *msg) { sl_read_log(ud, level, "%s", msg); }
static sl_code control_read(void *ud, const json_t *config) { return sl_read_control_config(ud, config); }

static sl_code do_read(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  sl_code rc = use_config(sl_read_config(rd), err);
  if (rc) return rc;
  lc_source_set_output(g_src, log_read, control_read, rd);
  rc = lc_source_read(g_src, rd, cs, err);
  lc_source_set_output(g_src, log_stderr, control_direct, g_src);
  return rc;
}

static const char *arg_value(int argc, char **argv, const char *name) {
  for (int i = 2; i + 1 < argc; i++)
    if (!strcmp(argv[i], name)) return argv[i + 1];
  return NULL;
}

static bool has_flag(int argc, char **argv, const char *name) {
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], name)) return true;
  return false;
}

/* The manifest from --manifest-path, SLUICE_MANIFEST, or the config. */
static sl_manifest *load_manifest(int argc, char **argv, bool *injected, sl_err *err) {
  *injected = false;
  const char *path = arg_value(argc, argv, "--manifest-path");
  if (!path) path = getenv("SLUICE_MANIFEST");
  if (path && *path) return sl_manifest_load_file(path, err);
  const char *cfg = arg_value(argc, argv, "--config");
  if (!cfg) return NULL;
  json_t *config = NULL;
  if (sl_json_load_file(cfg, &config, err)) return NULL;
  const json_t *m = json_object_get(config, "__injected_declarative_manifest");
  sl_manifest *man = NULL;
  if (json_is_object(m)) {
    *injected = true;
    man = sl_manifest_load_json(m, "__injected_declarative_manifest", err);
  } else {
    sl_err_set(err, SL_ECONFIG,
               "%s: no manifest: pass --manifest-path FILE, or put the manifest in the config under "
               "__injected_declarative_manifest",
               cfg);
  }
  json_decref(config);
  return man;
}

static int fail(const char *name, const sl_err *err) {
  /* Let the library report it (TRACE error + exit 1): run with a spec that
   * fails to load is not possible, so print the TRACE here. */
  json_t *m = json_pack("{s:s, s:{s:s, s:f, s:{s:s, s:s, s:s}}}", "type", "TRACE", "trace", "type", "ERROR",
                        "emitted_at", (double)sl_now_ms(), "error", "message", err->msg, "internal_message",
                        sl_err_name(err->code), "failure_type", sl_err_failure_type(err->code));
  char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
  if (s) printf("%s\n", s);
  fflush(stdout);
  free(s);
  json_decref(m);
  fprintf(stderr, "%s: error: %s\n", name, err->msg);
  return 1;
}

int main(int argc, char **argv) {
  static const char name[] = "source-declarative-manifest";
  sl_err err = SL_ERR_INIT;
  bool injected = false;
  const char *cmd = argc > 1 ? argv[1] : "";
  sl_manifest *m = load_manifest(argc, argv, &injected, &err);
  if (!m && (err.code || strcmp(cmd, "spec"))) {
    if (!err.code) {
      sl_source generic = {.name = name, .version = SLUICE_VERSION, .spec_json = generic_spec};
      return sl_source_main(&generic, argc, argv);
    }
    return fail(name, &err);
  }
  if (!m) { /* spec without a manifest: what a config must carry */
    sl_source generic = {.name = name, .version = SLUICE_VERSION, .spec_json = generic_spec};
    return sl_source_main(&generic, argc, argv);
  }
  g_src = lc_source_new(m, &err);
  if (!g_src) return fail(name, &err);
  lc_source_set_debug(g_src, has_flag(argc, argv, "--debug"));
  lc_source_set_output(g_src, log_stderr, control_direct, g_src);
  json_t *spec = json_deep_copy(lc_source_conn_spec(g_src));
  if (!spec) spec = json_pack("{s:s, s:{}}", "type", "object", "properties");
  if (injected) {
    /* The config also carries the manifest: let the spec accept it. */
    json_t *props = json_object_get(spec, "properties");
    if (!json_is_object(props)) json_object_set_new(spec, "properties", props = json_object());
    json_t *mp = json_loads(MANIFEST_PROP, 0, NULL);
    json_object_set_new(props, "__injected_declarative_manifest", mp ? mp : json_pack("{s:s}", "type", "object"));
  }
  char *spec_json = json_dumps(spec, JSON_COMPACT);
  json_decref(spec);
  json_t *extra = lc_source_spec_extra(g_src);
  const char *doc = json_string_value(json_object_get(extra, "documentationUrl"));
  char *extra_json = json_dumps(extra, JSON_COMPACT); /* advanced_auth */
  sl_source src = {
      .name = name,
      .version = SLUICE_VERSION,
      .spec_json = spec_json,
      .documentation_url = doc,
      .check = do_check,
      .discover = do_discover,
      .read = do_read,
      .spec_extra_json = extra_json,
  };
  int ret = sl_source_main(&src, argc, argv);
  free(extra_json);
  json_decref(extra);
  free(spec_json);
  lc_source_free(g_src);
  return ret;
}
