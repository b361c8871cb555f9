/* Internals shared by the acceptance-test files (platform/acceptance*.c). */
#ifndef SLUICE_ACCEPTANCE_INT_H
#define SLUICE_ACCEPTANCE_INT_H

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/acceptance.h"
#include "sluice/json.h"
#include "sluice/yaml.h"

/* ---- the config file (acceptance_config.c) ---- */

/* Load and check acceptance-test-config.yml: unknown keys, types, both or
 * neither of tests/bypass_reason, legacy `tests:` layout. Errors name
 * file:line. The returned tree is normalised: root.acceptance_tests.<suite>
 * is {"tests": [...]} or {"bypass_reason": "..."}. */
sl_yaml *at_config_load(const char *path, sl_err *err);
/* Line of member key of obj in the config (0 if unknown). */
int at_config_line(const sl_yaml *y, const json_t *obj, const char *key);

/* ---- one connector invocation (acceptance_exec.c) ---- */

typedef struct at_ctx {
  const sl_at_opts *opts;
  sl_at_report *report;
  sl_yaml *cfg;
  const char *cfg_path;
  char base[PATH_MAX];      /* relative paths in the config start here */
  char dir[PATH_MAX];       /* the connector directory (metadata.yaml, Dockerfile), or "" */
  char exe[PATH_MAX];       /* executable, or "" for an image */
  char image[512];          /* docker image, or "" */
  char name[256];           /* for messages */
  char tmp[PATH_MAX];       /* scratch directory, removed at the end */
  unsigned seq;
  const json_t *env;        /* custom_environment_variables */
  bool high;                /* test_strictness_level: high */
  bool is_destination;
  json_t *metadata;         /* metadata.yaml `data`, or NULL */
  json_t *spec;             /* the connector's SPEC payload once known */
  json_t *catalog;          /* discovered AirbyteCatalog once known */
  char *catalog_key;        /* the config it was discovered with */
  int64_t last_ms;          /* when the previous result was recorded */
  json_t *helpers;          /* client_container_config: Dockerfile -> built image tag */
} at_ctx;

typedef struct at_run {
  json_t *msgs;           /* every line that parsed as a JSON object, in order */
  size_t lines;
  bool timed_out;
  int exit_code;
  char *bad_line;         /* first line that failed protocol conformance */
  char bad_why[SL_ERR_MSG_MAX];
  size_t n_bad;
  char stderr_tail[2048];
  FILE *log;              /* copy of stdout for $SLUICE_PROTOCOL_LOG_DIR */
  char log_path[PATH_MAX];
} at_run;

/* Run `<verb> [--config F] [--catalog F] [--state F]` with the given
 * inputs written to files; stdin_lines (for destinations) is fed to stdin.
 * A run that outlives timeout_s is killed (timed_out). Errors are only for
 * failures to start. */
sl_code at_exec(at_ctx *c, const char *verb, const json_t *config, const json_t *catalog,
                const json_t *state, const char *stdin_lines, int timeout_s, at_run *r, sl_err *err);
void at_run_dispose(at_run *r);
/* Messages of one type (borrowed array, new reference to the array). */
json_t *at_msgs_of(const at_run *r, const char *type);

/* ---- results (acceptance.c) ---- */

void at_result(at_ctx *c, const char *suite, const char *name, sl_at_status st, const json_t *offending,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The protocol check of a run: pass, or fail with the first bad line. */
void at_protocol_result(at_ctx *c, const char *suite, const char *test, const at_run *r);
/* Fail for a run that timed out or could not run; returns true if it did. */
bool at_run_failed(at_ctx *c, const char *suite, const char *test, const at_run *r, int timeout_s);

/* ---- suites ---- */

typedef struct at_input {
  const json_t *in;       /* the input set */
  const char *suite;
  char test[64];          /* "[2]" suffix when there are several sets */
  int timeout_s;
  json_t *config;         /* loaded config_path, or NULL (then skip_reason) */
  char skip_reason[512];
} at_input;

void at_suite_spec(at_ctx *c, at_input *in);        /* acceptance_spec.c */
void at_suite_discovery(at_ctx *c, at_input *in);   /* acceptance_read.c */
void at_suite_basic_read(at_ctx *c, at_input *in);
void at_suite_full_refresh(at_ctx *c, at_input *in);
void at_suite_incremental(at_ctx *c, at_input *in);
void at_suite_documentation(at_ctx *c, at_input *in); /* acceptance_docs.c */

typedef enum { AT_RULE_ADDL, AT_RULE_ALLOF_NOT, AT_RULE_VALID } at_schema_rule;
/* Schema rules shared by the spec and discovery suites (acceptance_spec.c). */
bool at_schema_check(const json_t *schema, at_schema_rule which, char *why, size_t n);
bool at_has_ref(const json_t *v);
/* The schema's type is t, or a list holding t. */
bool at_type_has(const json_t *schema, const char *t);

/* Resolve a config-relative path into out; false if absent (with a fail
 * result naming the config line already recorded when `required`). */
bool at_path(at_ctx *c, const json_t *obj, const char *key, const char *dflt, char *out, size_t n);
/* Load a JSON (or YAML) file named by a config key; NULL + fail result on error. */
json_t *at_load_json(at_ctx *c, at_input *in, const char *key, const char *dflt, bool *absent);
/* Discover (once per config) and return the catalog, or NULL with a fail result. */
const json_t *at_discover(at_ctx *c, at_input *in, const char *test);
/* Helpers of the source suites (acceptance_read.c). */
const char *at_sname(const json_t *stream);
const char *at_sns(const json_t *stream);
bool at_same_stream(const char *n1, const char *ns1, const char *n2, const char *ns2);
bool at_supports(const json_t *stream, const char *mode);
/* A {name, bypass_reason} list names the stream. */
bool at_listed(const json_t *list, const char *name);
/* The schema node of a field path inside a stream schema's properties. */
const json_t *at_field_schema(const json_t *schema, const json_t *path);
/* The configured_catalog_path file re-bound to the discovered streams, else
 * a catalog built from them; NULL (with a fail result) on error. */
json_t *at_custom_catalog(at_ctx *c, at_input *in, const json_t *disc, const char *test);
json_t *at_records_of(const at_run *r);
/* basic_read options on the records read, and cursor_format (acceptance_points.c). */
void at_check_data_points(at_ctx *c, at_input *in, const json_t *catalog, const json_t *recs);
void at_check_file_types(at_ctx *c, at_input *in, const json_t *recs);
/* test_strictness_level: high rules on the input set (a result only when high). */
void at_check_high_strictness(at_ctx *c, at_input *in);
/* NULL, or why the future state misses an incremental stream (high only). */
const char *at_future_state_coverage(at_ctx *c, const json_t *fs, const json_t *state, const json_t *catalog, char *why, size_t n);
/* The cursor_format regex of a stream (per-stream, else the default), or NULL. */
const char *at_cursor_format(const json_t *future_state_cfg, const char *stream);
/* re matches value from its start (Python's re.match); else why. */
bool at_regex_match(const char *re, const char *value, char *why, size_t n);
/* test_backward_compatibility against the previous version (acceptance_compat.c). */
void at_backward_compat(at_ctx *c, at_input *in, sl_at_compat kind, const json_t *current);
/* client_container_config and deployment_mode (acceptance_container.c). */
/* Run a command of the input set's client_container_config (setup_command,
 * teardown_command, between_syncs_command) in the helper container. */
void at_container(at_ctx *c, at_input *in, const char *key);
/* The suite-level final_teardown_command, after the whole run. */
void at_container_final(at_ctx *c);
/* False (with a skip) when the input set's deployment_mode is not this run's. */
bool at_deployment_selected(at_ctx *c, at_input *in);
/* Load the input set's config and run the suite on it, between the helper
 * container's setup and teardown, with DEPLOYMENT_MODE set when declared. */
void at_run_input(at_ctx *c, at_input *in, void (*fn)(at_ctx *, at_input *));
/* Name "suite/test" string into buf. */
const char *at_name(const at_input *in, const char *test, char *buf, size_t n);

#endif
