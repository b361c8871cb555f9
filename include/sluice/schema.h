/* sluice: JSON Schema (draft-07) validation of configs and records.
 *
 * Errors name the JSON pointer of the offending value and what was
 * expected, e.g. "config.json: /port: expected integer, got string". */
#ifndef SLUICE_SCHEMA_H
#define SLUICE_SCHEMA_H

#include <jansson.h>

#include "sluice/err.h"

/* Validate instance against schema. Returns SL_EOK or SL_ESCHEMA with the
 * first error (in document order) in err, prefixed by `what`. Unknown
 * keywords (airbyte_secret, order, title, ...) are ignored. */
/* A JSON value's JSON-Schema type name: "object", "array", "string",
 * "integer", "number", "boolean" or "null". */
const char *sl_json_type_name(const json_t *v);

sl_code sl_schema_validate(const json_t *schema, const json_t *instance, const char *what,
                           sl_err *err);

/* Fill in `default` values for absent properties, recursively through
 * properties of objects that are present. Mutates instance. */
void sl_schema_apply_defaults(const json_t *schema, json_t *instance);

#endif
