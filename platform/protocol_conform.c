/* Protocol conformance: every message a connector prints against sluice's
 * JSON Schema of the protocol (platform/protocol_schema.json). The schema
 * file is assembled into the binary (.incbin) so `sluice test` needs no file
 * at run time; tests/unit/test_acceptance.c checks it against the official
 * airbyte_protocol.yaml whenever that file is present. */
#include <pthread.h>
#include <string.h>

#include "sluice/acceptance.h"
#include "sluice/json.h"
#include "sluice/protocol.h"
#include "sluice/schema.h"

/* The Makefile makes protocol_conform.o depend on the JSON file. */
__asm__(".section .rodata\n"
        ".global sl_protocol_schema_text\n"
        ".type sl_protocol_schema_text, @object\n"
        "sl_protocol_schema_text:\n"
        ".incbin \"platform/protocol_schema.json\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char sl_protocol_schema_text[];

static json_t *schema;
static sl_err load_err;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
  sl_json_load_str(sl_protocol_schema_text, strlen(sl_protocol_schema_text), "protocol_schema.json", &schema,
                   &load_err);
}

const json_t *sl_protocol_schema(sl_err *err) {
  pthread_once(&once, load);
  if (!schema && err) *err = load_err;
  return schema;
}

/* format: uri (lib/schema.c checks only the date formats): scheme ":" rest,
 * no whitespace (RFC 3986's outline). */
static bool is_uri(const char *s) {
  if (!((*s | 32) >= 'a' && (*s | 32) <= 'z')) return false;
  const char *p = s;
  while (((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.') p++;
  if (*p != ':') return false;
  for (; *p; p++)
    if ((unsigned char)*p <= ' ') return false;
  return true;
}

sl_code sl_protocol_conform(const json_t *msg, const char *what, sl_err *err) {
  const json_t *s = sl_protocol_schema(err);
  if (!s) return err ? err->code : SL_EINTERNAL;
  sl_code rc = sl_schema_validate(s, msg, what, err);
  if (rc) return rc;
  const char *type = json_string_value(json_object_get(msg, "type"));
  const char *key = type ? sl_msg_payload_key(sl_msg_type_parse(type, strlen(type))) : NULL;
  if (key && !json_is_object(json_object_get(msg, key)))
    return sl_err_set(err, SL_EPROTOCOL, "%s: a %s message needs its \"%s\" object", what, type, key);
  const json_t *spec = json_object_get(msg, "spec");
  static const char *const urls[] = {"documentationUrl", "changelogUrl", NULL};
  for (size_t i = 0; spec && urls[i]; i++) {
    const char *u = json_string_value(json_object_get(spec, urls[i]));
    if (u && !is_uri(u)) return sl_err_set(err, SL_EPROTOCOL, "%s: /spec/%s: \"%s\" is not a URI", what, urls[i], u);
  }
  return SL_EOK;
}
