/* Private: what the source and destination entrypoints share. */
#ifndef SLUICE_LIB_ENTRY_H
#define SLUICE_LIB_ENTRY_H

#include "sluice/connector.h"

typedef struct sl_entry {
  const char *name;       /* connector name, for messages */
  const char *cmd;        /* spec, check, discover, read, write */
  const char *config_path, *catalog_path, *state_path;
  json_t *spec_schema;    /* connectionSpecification */
  bool (*migrate)(json_t *config); /* the connector's migrate_config, or NULL */
  json_t *config;
  sl_secrets *secrets;
  sl_catalog cat;
  sl_state state;
  sl_out out;
} sl_entry;

/* Parses argv; on a usage error fills err. */
sl_code sl__entry_init(sl_entry *e, const char *name, const char *spec_json, int argc,
                       char **argv, sl_err *err);
void sl__entry_dispose(sl_entry *e);
/* Loads --config, applies spec defaults, validates against the spec. */
sl_code sl__entry_load_config(sl_entry *e, sl_err *err);
sl_code sl__entry_load_catalog(sl_entry *e, sl_err *err);
sl_code sl__entry_load_state(sl_entry *e, sl_err *err);
/* SPEC message; extra (may be NULL) is merged into the spec object. */
sl_code sl__entry_spec(sl_entry *e, const char *doc_url, json_t *extra);
/* Emit one TRACE error for err and return the exit code (1). */
int sl__entry_fail(sl_entry *e, const sl_err *err, const char *stream);

#endif
