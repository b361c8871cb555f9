// Thin C shim over simdjson's DOM parser: parse, then hand C the tape.
// The tape layout is simdjson's documented format (doc/tape.md); sl_jv in
// sluice/json.h walks it directly so that C code reads values inline.
#include <simdjson.h>

#include "sluice/json.h"

#include <array>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

static_assert(simdjson::SIMDJSON_PADDING <= 64, "SL_BUF_PAD must cover simdjson's padding");

extern "C" {

struct sl_jparser_shim {
  simdjson::dom::parser parser;
  simdjson::ondemand::parser od;
  std::vector<std::string_view> tokens;  // number literals of the line, in order
  std::vector<char> numtext;             // their text, {uint32 len, bytes, NUL} each
  std::string patched;                   // the line with integers beyond 64 bits as doubles
  explicit sl_jparser_shim(size_t max) : parser(max), od(max) {}
};

void *sl__simd_new(size_t max_doc) {
  return new (std::nothrow) sl_jparser_shim(max_doc);
}

void sl__simd_free(void *p) { delete static_cast<sl_jparser_shim *>(p); }

/* ---- exact numbers ----
 * A double keeps 15-17 significant digits and the tape's integers 64 bits, so
 * a literal with more (NUMERIC(38,18), a 25-digit id) would be rounded, or the
 * line refused. Lines that may hold one (a cheap scan) take a slower path that
 * keeps the literal text of every number and hangs it on the tape: a number's
 * tape word has 56 unused payload bits, which get a pointer to the text
 * (sl_jv_num_text in sluice/json.h). Integers beyond 64 bits are parsed as
 * doubles (the nearest value) with their exact text kept the same way. */

static const std::array<bool, 256> &numchar_table() {
  static const std::array<bool, 256> t = [] {
    std::array<bool, 256> a{};
    for (int c = '0'; c <= '9'; c++) a[c] = true;
    a['.'] = true;
    return a;
  }();
  return t;
}

// Whether the digits d[0, n) of an integer are beyond what the tape holds
// (int64 when negative, uint64 otherwise).
static bool beyond_64_bits(const char *d, size_t n, bool neg) {
  const char *max = neg ? "9223372036854775808" : "18446744073709551615";
  size_t mn = neg ? 19 : 20;
  return n > mn || (n == mn && memcmp(d, max, n) > 0);
}

static bool is_integer_token(std::string_view t) {
  for (char c : t)
    if (c == '.' || c == 'e' || c == 'E') return false;
  return true;
}

// Whether the run of digits and dots data[b, e) may be a literal a double
// or a 64-bit integer does not hold exactly. False positives (digits inside
// strings) only cost the slower path.
static bool long_literal(const char *data, size_t len, size_t b, size_t e) {
  size_t n = e - b;
  bool neg = b > 0 && data[b - 1] == '-';
  /* A number stands after ':' ',' '[' or space, and before ',' '}' ']',
   * space or an exponent: digits inside a string ("000000000000001234")
   * are not one. */
  char before = b - neg > 0 ? data[b - neg - 1] : ' ';
  char after = e < len ? data[e] : ' ';
  if (!strchr(":,[ \t\r\n", before) || !strchr(",}] \t\r\neE", after)) return false;
  bool exp = after == 'e' || after == 'E';
  const char *dot = static_cast<const char *>(memchr(data + b, '.', n));
  if (dot || exp) {
    size_t dots = 0;
    for (size_t i = b; dot && i < e; i++) dots += data[i] == '.';
    return n - dots >= 16;
  }
  return beyond_64_bits(data + b, n, neg);
}

// Calls long_literal on each run of 16 or more digits and dots. With SSE2
// (every x86-64), 16 bytes at a time: a bit mask of digit-or-dot bytes, and
// the length of the run that reaches the end of the previous block. Else: a
// run of 16 covers a byte at a multiple of 16, so only those are looked at
// before a run is measured.
static bool has_long_literal(const char *data, size_t len) {
  const auto &num = numchar_table();
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9), dot = _mm_set1_epi8('.');
  size_t run = 0;  // digits and dots just before block i
  for (; i + 16 <= len; i += 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i *>(data + i));
    __m128i d = _mm_sub_epi8(x, zero);  // '0'..'9' -> 0..9 (unsigned compare below)
    __m128i isdig = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
    unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(isdig, _mm_cmpeq_epi8(x, dot))));
    if (m == 0xFFFF) {
      run += 16;
      continue;
    }
    unsigned lead = static_cast<unsigned>(__builtin_ctz(~m));  // ones at the block's start
    if (run + lead >= 16 && long_literal(data, len, i - run, i + lead)) return true;
    run = m ? static_cast<size_t>(__builtin_clz(~(m << 16))) : 0;  // ones at its end
  }
  if (run) i -= run;  // the tail below measures that run again, whole
  for (; i < len; i++) {
    size_t b = i;
    while (i < len && num[static_cast<unsigned char>(data[i])]) i++;
    if (i - b >= 16 && long_literal(data, len, b, i)) return true;
  }
  return false;
#else
  for (; i < len; i += 16) {
    if (!num[static_cast<unsigned char>(data[i])]) continue;
    size_t b = i, e = i + 1;
    while (b > 0 && num[static_cast<unsigned char>(data[b - 1])]) b--;
    while (e < len && num[static_cast<unsigned char>(data[e])]) e++;
    if (e - b >= 16 && long_literal(data, len, b, e)) return true;
    i = (e + 15) / 16 * 16 - 16;  // the next sampled byte past the run
  }
  return false;
#endif
}

static std::string_view trim_token(std::string_view t) {
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r'))
    t.remove_suffix(1);
  return t;
}

// Appends the number literals of v, in document order, to out. Depth is
// bounded here (each level is a C++ frame: a record 2000 deep with a big integer
// on its line overflowed the ASan stack); the DOM parser refuses deeper anyway.
static simdjson::error_code collect_numbers(simdjson::ondemand::value v, std::vector<std::string_view> &out,
                                            int depth = 0) {
  if (depth > 1024) return simdjson::DEPTH_ERROR;
  simdjson::ondemand::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  switch (t) {
    case simdjson::ondemand::json_type::array:
      for (auto el : v.get_array()) {
        simdjson::ondemand::value x;
        if ((err = el.get(x)) || (err = collect_numbers(x, out, depth + 1))) return err;
      }
      return simdjson::SUCCESS;
    case simdjson::ondemand::json_type::object:
      for (auto field : v.get_object()) {
        simdjson::ondemand::value x;
        if ((err = field.value().get(x)) || (err = collect_numbers(x, out, depth + 1))) return err;
      }
      return simdjson::SUCCESS;
    case simdjson::ondemand::json_type::number:
      out.push_back(trim_token(v.raw_json_token()));
      return simdjson::SUCCESS;
    default: return simdjson::SUCCESS;
  }
}

static simdjson::error_code collect_document(sl_jparser_shim *s, const char *data, size_t len) {
  s->tokens.clear();
  simdjson::ondemand::document doc;
  auto err = s->od.iterate(data, len, len + simdjson::SIMDJSON_PADDING).get(doc);
  if (err) return err;
  simdjson::ondemand::json_type t;
  if ((err = doc.type().get(t))) return err;
  if (t == simdjson::ondemand::json_type::number) {
    std::string_view raw;
    if ((err = doc.raw_json_token().get(raw))) return err;
    s->tokens.push_back(trim_token(raw));
    return simdjson::SUCCESS;
  }
  if (t != simdjson::ondemand::json_type::array && t != simdjson::ondemand::json_type::object)
    return simdjson::SUCCESS;
  simdjson::ondemand::value root;
  if ((err = doc.get_value().get(root))) return err;
  return collect_numbers(root, s->tokens);
}

// The line again with ".0" after each integer literal beyond 64 bits, so that
// the DOM parser reads them as doubles instead of refusing them.
static void patch_big_integers(sl_jparser_shim *s, const char *data, size_t len) {
  s->patched.clear();
  s->patched.reserve(len + 2 * s->tokens.size() + simdjson::SIMDJSON_PADDING);
  size_t at = 0;
  for (auto t : s->tokens) {
    bool neg = t[0] == '-';
    if (!is_integer_token(t) || !beyond_64_bits(t.data() + neg, t.size() - neg, neg)) continue;
    size_t end = static_cast<size_t>(t.data() - data) + t.size();
    s->patched.append(data + at, end - at);
    s->patched.append(".0");
    at = end;
  }
  s->patched.append(data + at, len - at);
}

// Hangs each literal's text on its tape word. The tape lists numbers in
// document order, as collect_document found them.
static void mark_numbers(sl_jparser_shim *s) {
  size_t total = 0;
  for (auto t : s->tokens) total += t.size() + 5;
  s->numtext.clear();
  s->numtext.reserve(total);  // no reallocation below: the pointers stay valid
  uint64_t *tape = s->parser.doc.tape.get();
  size_t end = tape[0] & 0x00FFFFFFFFFFFFFFull, k = 0;
  for (size_t i = 1; i < end && k < s->tokens.size();) {
    char tag = static_cast<char>(tape[i] >> 56);
    if (tag != 'l' && tag != 'u' && tag != 'd') {
      i++;
      continue;
    }
    std::string_view t = s->tokens[k++];
    char *p = s->numtext.data() + s->numtext.size();
    uint32_t n = static_cast<uint32_t>(t.size());
    s->numtext.insert(s->numtext.end(), reinterpret_cast<char *>(&n), reinterpret_cast<char *>(&n) + 4);
    s->numtext.insert(s->numtext.end(), t.begin(), t.end());
    s->numtext.push_back('\0');
    uintptr_t addr = reinterpret_cast<uintptr_t>(p);
    if ((addr >> 56) == 0) tape[i] = (tape[i] & ~0x00FFFFFFFFFFFFFFull) | addr;
    i += 2;
  }
}

// Returns 0 and the tape and string buffer, or a simdjson error message.
const char *sl__simd_parse(void *p, const char *data, size_t len, const uint64_t **tape,
                           const uint8_t **sbuf) {
  auto *s = static_cast<sl_jparser_shim *>(p);
  simdjson::dom::element root;
  bool exact = has_long_literal(data, len);
  auto err = s->parser.parse(reinterpret_cast<const uint8_t *>(data), len, false).get(root);
  if (exact) {
    if (collect_document(s, data, len)) exact = false;  // malformed: err says why
    else if (err) {
      patch_big_integers(s, data, len);
      size_t n = s->patched.size();
      s->patched.append(simdjson::SIMDJSON_PADDING, '\0');
      auto err2 = s->parser.parse(reinterpret_cast<const uint8_t *>(s->patched.data()), n, false).get(root);
      if (!err2) err = simdjson::SUCCESS;
    }
  }
  if (err) return simdjson::error_message(err);
  if (exact) mark_numbers(s);
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
