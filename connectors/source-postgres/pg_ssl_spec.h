/* ssl_mode in the specs of source-postgres and destination-postgres:
 * Airbyte's shape, an object whose oneOf options each carry a `mode` const
 * (CAT's test_oneof_usage; a bare string is not a valid ssl_mode). */
#ifndef PG_SSL_SPEC_H
#define PG_SSL_SPEC_H

#define PG_SSL_MODE_OPTIONS \
  "{\"title\":\"disable\",\"required\":[\"mode\"],\"additionalProperties\":true,\"properties\":" \
  "{\"mode\":{\"type\":\"string\",\"const\":\"disable\"}}}," \
  "{\"title\":\"allow\",\"required\":[\"mode\"],\"additionalProperties\":true,\"properties\":" \
  "{\"mode\":{\"type\":\"string\",\"const\":\"allow\"}}}," \
  "{\"title\":\"prefer\",\"required\":[\"mode\"],\"additionalProperties\":true,\"properties\":" \
  "{\"mode\":{\"type\":\"string\",\"const\":\"prefer\"}}}," \
  "{\"title\":\"require\",\"required\":[\"mode\"],\"additionalProperties\":true,\"properties\":" \
  "{\"mode\":{\"type\":\"string\",\"const\":\"require\"}}}," \
  "{\"title\":\"verify-ca\",\"required\":[\"mode\"],\"additionalProperties\":true,\"properties\":" \
  "{\"mode\":{\"type\":\"string\",\"const\":\"verify-ca\"}}}," \
  "{\"title\":\"verify-full\",\"required\":[\"mode\"],\"additionalProperties\":true,\"properties\":" \
  "{\"mode\":{\"type\":\"string\",\"const\":\"verify-full\"}}}"

#include <jansson.h>
#include <stdbool.h>

/* migrate_config: a bare string ssl_mode, which older versions took, becomes
 * {"mode": "..."}. */
static inline bool pg_ssl_migrate(json_t *config) {
  json_t *v = json_object_get(config, "ssl_mode");
  if (!json_is_string(v)) return false;
  json_object_set_new(config, "ssl_mode", json_pack("{s:s}", "mode", json_string_value(v)));
  return true;
}

#endif
