/* sluice: YAML files (libfyaml) as JSON trees that remember their lines.
 *
 * Used for acceptance-test-config.yml and metadata.yaml. Plain scalars are
 * typed the YAML 1.2 core way (null, true/false, integers, floats, else
 * string); quoted scalars are always strings. Syntax errors name
 * file:line:column. */
#ifndef SLUICE_YAML_H
#define SLUICE_YAML_H

#include <jansson.h>

#include "sluice/err.h"

typedef struct sl_yaml sl_yaml;

/* Load path (a YAML or JSON file). NULL on error (err names file:line). */
sl_yaml *sl_yaml_load_file(const char *path, sl_err *err);
/* The same from text; `what` stands for the file name in messages. */
sl_yaml *sl_yaml_load_str(const char *text, size_t len, const char *what, sl_err *err);
void sl_yaml_free(sl_yaml *y);
/* The document as JSON (owned by y; an empty document is null). */
json_t *sl_yaml_root(const sl_yaml *y);
const char *sl_yaml_path(const sl_yaml *y);
/* 1-based line of an object, array, string or number of the tree, or 0
 * (true/false/null are shared singletons: use sl_yaml_key_line). */
int sl_yaml_line(const sl_yaml *y, const json_t *node);
/* 1-based line of member `key` of object `obj` of the tree, or 0. */
int sl_yaml_key_line(const sl_yaml *y, const json_t *obj, const char *key);

#endif
