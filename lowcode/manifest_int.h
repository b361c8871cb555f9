/* Internals of manifest loading, shared by manifest*.c and components.c.
 *
 * Locations: jansson values carry no user data, so a side table maps each
 * value (by address) to where it came from. true/false/null are process-wide
 * singletons in jansson and cannot be told apart: they have no entry, and a
 * lookup falls back to their container. */
#ifndef SLUICE_LOWCODE_MANIFEST_INT_H
#define SLUICE_LOWCODE_MANIFEST_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"
#include "sluice/err.h"

typedef struct sl_mloc {
  const json_t *node;
  /* The container in the resolved tree (set once loading is done); member
   * names are found from it when a path is wanted, so entries stay small. */
  const json_t *parent;
  int line, col;         /* 1-based; 0 when unknown (JSON manifests) */
  int via_line, via_col; /* the "$ref" that copied this value here, or 0 */
} sl_mloc;

typedef struct sl_mlocs {
  sl_mloc *slot;
  size_t cap, n;
} sl_mlocs;

/* NULL for singletons and unknown values. */
sl_mloc *sl_mlocs_get(const sl_mlocs *t, const json_t *v);
/* Sets v's entry (creating it); a no-op for singletons. -1 on no memory. */
int sl_mlocs_put(sl_mlocs *t, const json_t *v, int line, int col, int via_line, int via_col);
void sl_mlocs_dispose(sl_mlocs *t);
bool sl_json_is_singleton(const json_t *v);

struct sl_manifest {
  char *file; /* as given: used in every location */
  char *dir;  /* directory of the file, or NULL */
  json_t *root;
  sl_mlocs locs;
};

/* YAML text to JSON with PyYAML safe_load scalar typing; every non-singleton
 * value gets a location in locs. `file` names the input in errors. Exactly
 * one of path / (text, len) is used. */
json_t *sl_manifest_yaml_parse(const char *file, const char *path, const char *text, size_t len,
                               sl_mlocs *locs, sl_err *err);

/* Deep copy recording for every copied value the location of its original;
 * via_line/via_col, when non-zero, replace the copies' "via". */
json_t *sl_manifest_copy(sl_mlocs *locs, const json_t *v, int via_line, int via_col);

/* The component path of v in the resolved tree ("streams[0].retriever"),
 * written into buf; "" for the root. */
const char *sl_manifest_path(const sl_manifest *m, const json_t *v, char *buf, size_t n);

/* Python truthiness of a JSON value. */
bool sl_json_truthy(const json_t *v);

#endif
