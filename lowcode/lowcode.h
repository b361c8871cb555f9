/* The declarative runtime: runs an Airbyte low-code manifest as a source.
 *
 * Used by connectors/source-declarative-manifest (the connector executable)
 * and by anything that wants to run a manifest in-process. The manifest is
 * loaded with lowcode/manifest.h; components are built per stream when a
 * stream is read (templates compiled once per run). */
#ifndef SLUICE_LOWCODE_H
#define SLUICE_LOWCODE_H

#include <jansson.h>
#include <stdbool.h>

#include "manifest.h"
#include "sluice/connector.h"
#include "sluice/err.h"

typedef struct lc_source lc_source;

/* Takes ownership of m. */
lc_source *lc_source_new(sl_manifest *m, sl_err *err);
void lc_source_free(lc_source *src);

/* The manifest's spec.connection_specification (borrowed), or NULL. */
const json_t *lc_source_conn_spec(const lc_source *src);
/* Extra SPEC fields (advanced_auth, documentationUrl), new reference. */
json_t *lc_source_spec_extra(const lc_source *src);

/* The config every command uses (copied; rotating OAuth tokens update the
 * copy and are reported through the control hook). Secrets (airbyte_secret
 * fields of the spec) are collected for masking. */
sl_code lc_source_set_config(lc_source *src, const json_t *config, sl_err *err);
void lc_source_set_debug(lc_source *src, bool on);
/* Where LOG and CONTROL messages go (default: stderr / dropped). */
void lc_source_set_output(lc_source *src, void (*log)(void *ud, const char *level, const char *msg),
                          sl_code (*control_config)(void *ud, const json_t *config), void *ud);

/* CheckStream: read one record (or an empty page) of each check stream. */
sl_code lc_source_check(lc_source *src, sl_err *err);
/* Append one AirbyteStream per manifest stream. */
sl_code lc_source_discover(lc_source *src, json_t *streams, sl_err *err);
/* Read one configured stream through the connector read context. */
sl_code lc_source_read(lc_source *src, sl_read *rd, const sl_cstream *cs, sl_err *err);

#endif
