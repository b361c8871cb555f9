// Thin C shim over simdjson's DOM parser: parse, then hand C the tape.
// The tape layout is simdjson's documented format (doc/tape.md); sl_jv in
// sluice/json.h walks it directly so that C code reads values inline.
#include <simdjson.h>

#include <new>

static_assert(simdjson::SIMDJSON_PADDING <= 64, "SL_BUF_PAD must cover simdjson's padding");

extern "C" {

struct sl_jparser_shim {
  simdjson::dom::parser parser;
  explicit sl_jparser_shim(size_t max) : parser(max) {}
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

}  // extern "C"
