// Thin C shim over simdjson's DOM parser: parse, then hand C the tape.
// The tape layout is simdjson's documented format (doc/tape.md); sl_jv in
// sluice/json.h walks it directly so that C code reads values inline.
#include <simdjson.h>

#include "sluice/json.h"

#include <cstring>
#include <new>

static_assert(simdjson::SIMDJSON_PADDING <= 64, "SL_BUF_PAD must cover simdjson's padding");

extern "C" {

struct sl_jparser_shim {
  simdjson::dom::parser parser;
  simdjson::ondemand::parser od;
  explicit sl_jparser_shim(size_t max) : parser(max), od(max) {}
};

void *sl__simd_new(size_t max_doc) {
  return new (std::nothrow) sl_jparser_shim(max_doc);
}

void sl__simd_free(void *p) { delete static_cast<sl_jparser_shim *>(p); }

// Returns 0 and the tape and string buffer, or a simdjson error message.
const char *sl__simd_parse(void *p, const char *data, size_t len, const uint64_t **tape,
                           const uint8_t **sbuf) {
  auto *s = static_cast<sl_jparser_shim *>(p);
  simdjson::dom::element root;
  auto err = s->parser.parse(reinterpret_cast<const uint8_t *>(data), len, false).get(root);
  if (err) return simdjson::error_message(err);
  *tape = s->parser.doc.tape.get();
  *sbuf = s->parser.doc.string_buf.get();
  return nullptr;
}

// The envelope of a message, read On-Demand: stage 1 still runs over the
// whole line (structure and UTF-8), but only the fields touched are parsed.
static bool get_str(simdjson::ondemand::value v, const char **p, size_t *n) {
  std::string_view sv;
  if (v.get_string().get(sv)) return false;
  *p = sv.data();
  *n = sv.size();
  return true;
}

const char *sl__simd_envelope(void *p, const char *data, size_t len, sl_envelope *env) {
  auto *s = static_cast<sl_jparser_shim *>(p);
  *env = sl_envelope{};
  simdjson::ondemand::document doc;
  auto err = s->od.iterate(data, len, len + simdjson::SIMDJSON_PADDING).get(doc);
  if (err) return simdjson::error_message(err);
  simdjson::ondemand::object root;
  if ((err = doc.get_object().get(root))) return simdjson::error_message(err);
  simdjson::ondemand::value v;
  if (!root.find_field_unordered("type").get(v)) get_str(v, &env->type, &env->type_len);
  if (!env->type || env->type_len != 6 || memcmp(env->type, "RECORD", 6) != 0) return nullptr;
  simdjson::ondemand::object rec;
  if (root.find_field_unordered("record").get_object().get(rec)) return nullptr;
  for (auto field : rec) {
    std::string_view key;
    if ((err = field.unescaped_key().get(key))) return simdjson::error_message(err);
    if (key == "stream") {
      if (!get_str(field.value(), &env->stream, &env->stream_len)) env->stream = nullptr;
    } else if (key == "namespace") {
      if (!get_str(field.value(), &env->ns, &env->ns_len)) env->ns = nullptr;
    } else if (key == "data") {
      simdjson::ondemand::object d;
      if (!field.value().get_object().get(d)) {
        bool empty = true;
        if (d.is_empty().get(empty)) return "malformed record data";
        env->data_state = empty ? 1 : 2;
      }
    }
  }
  return nullptr;
}

// UTF-8 validation with simdjson's runtime-dispatched SIMD kernel.
bool sl__simd_utf8(const char *data, size_t len) { return simdjson::validate_utf8(data, len); }

}  // extern "C"
