/* sluice: instances generated from a JSON Schema (draft-07), deterministic
 * in (seed, index): what hypothesis-jsonschema does for Airbyte's
 * backward-compatibility test, without Python.
 *
 * Types, enum, const, oneOf/anyOf (one option per instance, every option
 * reached over the first instances), allOf (merged), required and optional
 * properties, defaults and examples, minimum/maximum/exclusive bounds and
 * multipleOf, minLength/maxLength, the common string formats, patterns made
 * of literals, classes, groups, alternation and quantifiers, arrays with
 * minItems/maxItems/uniqueItems, local $ref. Every instance is checked
 * against the schema (lib/schema.c); one that cannot be made valid is not
 * returned, and the reason names the place and the keyword. */
#ifndef SLUICE_JSGEN_H
#define SLUICE_JSGEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Instance number `index` of schema for seed: the same (schema, seed,
 * index) always gives the same instance. NULL with why (e.g. "/properties/x:
 * pattern \"(?=a)\" is not generated (lookaround)") when none is valid. */
json_t *sl_jsgen_instance(const json_t *schema, uint64_t seed, unsigned index, char *why, size_t n);

/* A string matching the regular expression re (searched, as JSON Schema's
 * pattern), or false with why naming the construct not generated. */
bool sl_jsgen_regex(const char *re, uint64_t seed, char *out, size_t outn, char *why, size_t n);

#endif
