/* sluice: connector acceptance tests (`sluice test`).
 *
 * Reads Airbyte's acceptance-test-config.yml and runs its suites (spec,
 * connection, discovery, basic_read, full_refresh, incremental,
 * connector_attributes, connector_documentation) against any connector the
 * platform can run, checking every line the connector prints against the
 * protocol schema. Each check ends as one result: pass, fail (reason and the
 * offending message) or skip (why). */
#ifndef SLUICE_ACCEPTANCE_H
#define SLUICE_ACCEPTANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/err.h"

typedef enum sl_at_status { SL_AT_PASS, SL_AT_FAIL, SL_AT_SKIP } sl_at_status;

typedef struct sl_at_result {
  char *suite;     /* "basic_read" */
  char *name;      /* "test_read", with "[2]" for the second input set */
  sl_at_status status;
  char *reason;    /* why it failed or was skipped, else NULL */
  char *offending; /* the offending protocol line or value, else NULL */
  double seconds;
} sl_at_result;

typedef struct sl_at_report {
  sl_at_result *r;
  size_t n, cap;
  size_t passed, failed, skipped;
} sl_at_report;

typedef struct sl_at_opts {
  const char *connector;      /* connector reference; NULL: from the config file */
  const char *config_path;    /* acceptance-test-config.yml */
  const char *const *suites;  /* NULL-terminated names to run, or NULL for all */
  int timeout_s;              /* > 0: caps every check's timeout */
  const char *deployment_mode; /* "cloud" or "oss" (NULL: oss): input sets declaring another are skipped */
  /* Called as each result is known (live output). */
  void (*on_result)(void *payload, const sl_at_result *r);
  void *payload;
} sl_at_opts;

/* Run the suites. Returns SL_EOK when the run happened (even with failed
 * checks: see report->failed); an error when the config cannot be used. */
sl_code sl_at_run(const sl_at_opts *opts, sl_at_report *report, sl_err *err);
void sl_at_report_dispose(sl_at_report *report);
/* JUnit XML: one testsuite per acceptance suite, one testcase per check. */
sl_code sl_at_write_junit(const sl_at_report *report, const char *name, const char *path, sl_err *err);

/* ---- backward compatibility (platform/acceptance_compat.c) ---- */

typedef enum sl_at_compat { SL_AT_COMPAT_SPEC, SL_AT_COMPAT_CATALOG } sl_at_compat;
/* The breaking changes from a previous spec (SPEC message or payload) or
 * catalog (CATALOG message or payload) to a new one, as an array of
 * strings naming the place ("/properties/port: type changed ..."); empty
 * when compatible. Always returns an array (new reference). */
json_t *sl_at_compat_diff(sl_at_compat kind, const json_t *old_v, const json_t *new_v);
/* CAT's validate_previous_configs: `count` configs generated from the
 * previous connectionSpecification (platform/jsonschema_gen.c, the same
 * for the same seed), each less its "_" keys, must validate against the new
 * one, and no top-level property may be removed. Returns the breaking
 * findings as strings (empty array: compatible); *made counts the configs
 * generated, and skip names why the others were not (first reason). */
json_t *sl_at_compat_configs(const json_t *old_v, const json_t *new_v, unsigned count, uint64_t seed, unsigned *made,
                             char *skip, size_t skip_n);

/* validate_data_points (CAT's _validate_field_appears_at_least_once_in_stream):
 * the schema's leaf paths ("/a/b", array items "/a/[]", oneOf/anyOf options
 * "/auth(1)/token") that hold no non-null value in any of the records (an
 * array of record data); a oneOf field is covered once any option's leaf
 * is. Sorted; a new array. */
json_t *sl_at_missing_data_points(const json_t *schema, const json_t *records);

/* ---- protocol conformance ---- */

/* sluice's JSON Schema of AirbyteMessage (platform/protocol_schema.json,
 * embedded at build time). Borrowed; never NULL after a successful load. */
const json_t *sl_protocol_schema(sl_err *err);
/* Check one parsed message against the schema and the payload convention
 * (a message of type T carries its payload member). `what` names it. */
sl_code sl_protocol_conform(const json_t *msg, const char *what, sl_err *err);

#endif

/* ---- Dockerfiles ---- */

/* What the acceptance and publishing checks read from a Dockerfile: LABEL
 * and ENV pairs (objects of strings) and the ENTRYPOINT joined by spaces
 * (exec form) or as written (shell form); NULL when absent. */
typedef struct sl_dockerfile {
  json_t *labels, *env;
  char *entrypoint;
  int label_line[2]; /* lines of io.airbyte.name and io.airbyte.version, or 0 */
} sl_dockerfile;
sl_code sl_dockerfile_read(const char *path, sl_dockerfile *df, sl_err *err);
void sl_dockerfile_dispose(sl_dockerfile *df);
