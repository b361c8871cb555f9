/* Manifest loading: YAML (libfyaml) to a resolved JSON tree, the way the
 * Airbyte CDK preprocesses a declarative manifest before building components:
 * `$ref` and "#/..." references (sibling keys override, one level deep),
 * implicit component types from the parent field, and `$parameters`
 * propagation. Every value of the resolved tree remembers where it came from
 * (file:line:col and component path) for error messages. */
#ifndef SLUICE_LOWCODE_MANIFEST_H
#define SLUICE_LOWCODE_MANIFEST_H

#include <jansson.h>
#include <stddef.h>

#include "sluice/err.h"

typedef struct sl_manifest sl_manifest;

/* `path` is a manifest file or a directory holding manifest.yaml. */
sl_manifest *sl_manifest_load_file(const char *path, sl_err *err);
/* A manifest given as JSON (the `__injected_declarative_manifest` config key);
 * `name` stands for the file in locations. */
sl_manifest *sl_manifest_load_json(const json_t *manifest, const char *name, sl_err *err);
/* A manifest given as YAML text; `name` stands for the file in locations. */
sl_manifest *sl_manifest_load_yaml(const char *text, size_t len, const char *name, sl_err *err);
void sl_manifest_free(sl_manifest *m);

/* The resolved DeclarativeSource. Each typed component object carries `type`
 * and, when any apply, `$parameters` holding the accumulated parameters (what
 * templates see as `parameters`). Owned by m. */
const json_t *sl_manifest_root(const sl_manifest *m);
/* The directory of the manifest file (for schemas/<stream>.json), or NULL. */
const char *sl_manifest_dir(const sl_manifest *m);
/* The file name used in locations (as given to the loader). */
const char *sl_manifest_file(const sl_manifest *m);
/* Writes "file:line:col path" for a value of the resolved tree (or what is
 * known of it) into buf; returns buf. */
const char *sl_manifest_where(const sl_manifest *m, const json_t *node, char *buf, size_t n);
/* The same for the member `key` of an object (or item `index` of an array
 * when key is NULL): exact for any value, including true/false/null, which
 * jansson shares and sl_manifest_where cannot place on their own (for those
 * the line is the container's). */
const char *sl_manifest_where_member(const sl_manifest *m, const json_t *container, const char *key, size_t index,
                                     char *buf, size_t n);

/* Validation against the declarative component schema and sluice's support:
 * unknown component types, components not allowed where they are, missing
 * required fields, values of the wrong kind or outside an enum, and
 * unsupported components (errors; `component` names the type) plus unknown
 * fields (warnings). Only what check/streams/spec use is checked, not unused
 * definitions. */
typedef enum { SL_MANIFEST_ERROR, SL_MANIFEST_WARNING } sl_manifest_level;

typedef struct sl_manifest_issue {
  sl_manifest_level level;
  const char *where;     /* "file:line:col path" */
  const char *message;
  const char *component; /* an unsupported component's type, else NULL */
} sl_manifest_issue;

typedef void (*sl_manifest_issue_fn)(const sl_manifest_issue *issue, void *ud);

/* Calls fn (may be NULL) for every issue, in manifest order; returns the
 * number of errors and stores the number of warnings (if not NULL). */
int sl_manifest_validate(const sl_manifest *m, sl_manifest_issue_fn fn, void *ud, int *warnings);
/* The runtime's check before any command: SL_ECONFIG naming every error
 * (file:line:col, component path, what is wrong) when there is one. */
sl_code sl_manifest_check(const sl_manifest *m, sl_err *err);

#endif
