/* sluice: connector metadata (Airbyte's metadata.yaml), the publishing
 * checks, the registry and version bumps. */
#ifndef SLUICE_METADATA_H
#define SLUICE_METADATA_H

#include <jansson.h>
#include <stdbool.h>

#include "sluice/err.h"
#include "sluice/yaml.h"

typedef struct sl_semver {
  int major, minor, patch;
  char pre[64]; /* "rc.1", or "" */
} sl_semver;

/* Parse "1.2.3" or "1.2.3-rc.1"; false if not a semantic version. */
bool sl_semver_parse(const char *s, sl_semver *v);
/* <0, 0, >0 like strcmp (a pre-release sorts before its release). */
int sl_semver_cmp(const sl_semver *a, const sl_semver *b);
void sl_semver_format(const sl_semver *v, char *out, size_t n);

/* Problems found by validation: "file:line: field: message" each. */
typedef struct sl_meta_problems {
  char **msg;
  size_t n, cap;
} sl_meta_problems;
void sl_meta_problems_dispose(sl_meta_problems *p);

typedef struct sl_meta_opts {
  const char *previous_version; /* the published version to compare with, or NULL */
} sl_meta_opts;

/* Validate <dir>/metadata.yaml against the metadata schema's fields and the
 * publishing checks (icon, docs, changelog entry, version not decreased,
 * Dockerfile labels, breaking-change entry for a major). Returns SL_EOK when
 * the file could be read (problems may still be listed), else an error (a
 * malformed file: file:line). */
sl_code sl_meta_validate(const char *dir, const sl_meta_opts *opts, sl_meta_problems *out, sl_err *err);

/* Load <dir>/metadata.yaml (NULL + err on failure). */
sl_yaml *sl_meta_load(const char *dir, sl_err *err);

/* A registry entry (Airbyte's registry shape) for one connector: data with
 * registryOverrides.oss merged in, definitionId renamed, defaults filled,
 * spec attached (spec may be NULL). NULL when the OSS registry is disabled. */
json_t *sl_meta_registry_entry(const json_t *data, const json_t *spec, const char *dir);

#endif
