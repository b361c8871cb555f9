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

/* One field of a component. `spec` is the kind of value it takes, in the
 * grammar of components_gen.py: alternatives separated by '|', each one of
 * string, template (a string that is interpolated), integer, number,
 * boolean, object (free-form mapping), null, any, @Definition (a component
 * or sub-object), or [spec] (a list of). `enumv` lists the allowed values,
 * comma-separated, or is NULL. */
#define SL_LC_REQUIRED 1u
typedef struct sl_lc_field {
  const char *name;
  const char *spec;
  const char *enumv;
  unsigned flags;
} sl_lc_field;

/* A definition of the schema: a component when type_name is set (the value
 * of its `type`), else a sub-object (RefreshTokenUpdater, Rate, ...). */
typedef struct sl_lc_component {
  const char *name;
  const char *type_name;
  bool open; /* additionalProperties: true */
  const sl_lc_field *fields;
} sl_lc_component;

/* All definitions, then {NULL}: generated into components_table.c. */
extern const sl_lc_component SL_LC_COMPONENTS[];

const sl_lc_component *sl_lc_by_name(const char *definition);
const sl_lc_component *sl_lc_by_type(const char *type_value);
const sl_lc_field *sl_lc_field_of(const sl_lc_component *c, const char *name);

/* Whether sluice's engine runs a component type: NULL when supported, else
 * why not ("needs Python" for custom components, "not supported yet"). */
const char *sl_lc_unsupported(const char *type_value);

/* Implicit types and $parameters over the resolved tree (manifest_params.c). */
int sl_manifest_propagate(sl_manifest *m, json_t *root, sl_err *err);

#endif
