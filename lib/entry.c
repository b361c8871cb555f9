#include "entry.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sluice/schema.h"

static const char *usage =
    "usage: %s spec | check --config FILE | discover --config FILE |\n"
    "       read --config FILE --catalog FILE [--state FILE] | write --config FILE --catalog FILE";

sl_code sl__entry_init(sl_entry *e, const char *name, const char *spec_json, int argc,
                       char **argv, sl_err *err) {
  memset(e, 0, sizeof *e);
  e->name = name;
  sl_out_init(&e->out, STDOUT_FILENO);
  /* A closed stdout must become an error, not a silent death. */
  signal(SIGPIPE, SIG_IGN);
  if (spec_json) {
    sl_code rc = sl_json_load_str(spec_json, strlen(spec_json), "built-in spec", &e->spec_schema, err);
    if (rc) return sl_err_set(err, SL_EINTERNAL, "%s: %s", name, err->msg);
  }
  if (argc < 2) return sl_err_set(err, SL_EUSAGE, usage, name);
  e->cmd = argv[1];
  for (int i = 2; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--config")) slot = &e->config_path;
    else if (!strcmp(argv[i], "--catalog")) slot = &e->catalog_path;
    else if (!strcmp(argv[i], "--state")) slot = &e->state_path;
    else if (!strcmp(argv[i], "--debug")) continue;
    else if (!strcmp(argv[i], "--manifest-path") || !strcmp(argv[i], "--components-path")) {
      i++; /* Python-CDK flags: accepted and ignored */
      continue;
    } else
      return sl_err_set(err, SL_EUSAGE, "%s: unknown argument \"%s\"; %s", name, argv[i], usage);
    if (i + 1 >= argc) return sl_err_set(err, SL_EUSAGE, "%s: %s needs a file argument", name, argv[i]);
    *slot = argv[++i];
  }
  return SL_EOK;
}

void sl__entry_dispose(sl_entry *e) {
  sl_out_dispose(&e->out);
  sl_catalog_dispose(&e->cat);
  sl_state_dispose(&e->state);
  json_decref(e->config);
  json_decref(e->spec_schema);
  sl_secrets_free(e->secrets);
}

sl_code sl__entry_load_config(sl_entry *e, sl_err *err) {
  if (!e->config_path) return sl_err_set(err, SL_EUSAGE, "%s %s: --config FILE is required", e->name, e->cmd);
  sl_code rc = sl_json_load_file(e->config_path, &e->config, err);
  if (rc) return rc == SL_EJSON ? sl_err_set(err, SL_ECONFIG, "%s", err->msg) : rc;
  if (!json_is_object(e->config))
    return sl_err_set(err, SL_ECONFIG, "%s: the config must be a JSON object", e->config_path);
  /* CDK-internal test keys, stripped as the Python CDK does. */
  json_object_del(e->config, "_limit");
  json_object_del(e->config, "_page_size");
  if (e->migrate && e->migrate(e->config)) {
    sl_out_log(&e->out, "INFO", "%s: config written for an older version of %s, migrated (the new form follows "
               "as a CONTROL message; save it to stop this)", e->config_path, e->name);
    if ((rc = sl_out_control_config(&e->out, e->config))) return rc;
  }
  e->secrets = sl_secrets_collect(e->spec_schema, e->config);
  e->out.secrets = e->secrets;
  if (e->spec_schema) {
    sl_schema_apply_defaults(e->spec_schema, e->config);
    rc = sl_schema_validate(e->spec_schema, e->config, e->config_path, err);
    if (rc) {
      /* Never echo secret values back in the message. */
      char *clean = sl_secrets_scrub(e->secrets, err->msg);
      sl_err_set(err, SL_ECONFIG, "%s", clean ? clean : "config does not match the spec");
      free(clean);
      return SL_ECONFIG;
    }
  }
  return SL_EOK;
}

sl_code sl__entry_load_catalog(sl_entry *e, sl_err *err) {
  if (!e->catalog_path) return sl_err_set(err, SL_EUSAGE, "%s %s: --catalog FILE is required", e->name, e->cmd);
  json_t *root;
  sl_code rc = sl_json_load_file(e->catalog_path, &root, err);
  if (rc) return rc == SL_EJSON ? sl_err_set(err, SL_ECATALOG, "%s", err->msg) : rc;
  rc = sl_catalog_parse(root, e->catalog_path, &e->cat, err);
  json_decref(root);
  return rc;
}

sl_code sl__entry_load_state(sl_entry *e, sl_err *err) {
  if (!e->state_path) return SL_EOK;
  json_t *root;
  sl_code rc = sl_json_load_file(e->state_path, &root, err);
  if (rc) return rc == SL_EJSON ? sl_err_set(err, SL_ESTATE, "%s", err->msg) : rc;
  rc = sl_state_parse(root, e->state_path, &e->cat, &e->state, err);
  json_decref(root);
  return rc;
}

sl_code sl__entry_spec(sl_entry *e, const char *doc_url, json_t *extra) {
  json_t *spec = json_pack("{s:O, s:s}", "connectionSpecification", e->spec_schema,
                           "protocol_version", SL_PROTOCOL_VERSION);
  if (!spec) return SL_ENOMEM;
  if (doc_url) json_object_set_new(spec, "documentationUrl", json_string(doc_url));
  if (extra) json_object_update(spec, extra);
  json_t *m = json_pack("{s:s, s:o}", "type", "SPEC", "spec", spec);
  sl_code rc = m ? sl_out_message(&e->out, m) : SL_ENOMEM;
  json_decref(m);
  return rc;
}

int sl__entry_fail(sl_entry *e, const sl_err *err, const char *stream) {
  char internal[64];
  snprintf(internal, sizeof internal, "sluice error %s (%d)", sl_err_name(err->code), err->code);
  sl_out_trace_error(&e->out, sl_err_failure_type(err->code), err->msg, internal, stream, NULL);
  sl_out_flush(&e->out);
  /* Also on stderr, for a person running the connector by hand. */
  char *clean = e->secrets ? sl_secrets_scrub(e->secrets, err->msg) : strdup(err->msg);
  fprintf(stderr, "%s: error: %s\n", e->name, clean ? clean : err->msg);
  free(clean);
  return 1;
}
