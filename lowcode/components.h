/* The declarative component table: implicit types by parent field, and every
 * component type of declarative_component_schema.yaml with its fields and
 * whether sluice's engine supports it (used by manifest validation). */
#ifndef SLUICE_LOWCODE_COMPONENTS_H
#define SLUICE_LOWCODE_COMPONENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "manifest.h"
#include "sluice/err.h"

/* The type a mapping without `type` gets under "<ParentType>.<field>"
 * (custom: the mapping has `class_name`), or NULL. */
const char *sl_lc_default_type(const char *parent_field);
const char *sl_lc_custom_type(const char *parent_field);
/* For "<ParentType>.<field>" holding a name -> component mapping. */
const char *sl_lc_additional_props_type(const char *parent_field);

/* Implicit types and $parameters over the resolved tree (manifest_params.c). */
int sl_manifest_propagate(sl_manifest *m, json_t *root, sl_err *err);

#endif
