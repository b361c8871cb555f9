/* sluice: JSON for the hot path.
 *
 * Reading: sl_jparser parses one document with simdjson (through a thin C++
 * shim) and sl_jv is a read-only view into simdjson's tape: walking it is a
 * few inline loads, no allocation. A view lives until the next parse.
 *
 * Writing: sl_jw serialises straight into an sl_buf; strings are escaped and
 * their UTF-8 checked on the way (invalid sequences become U+FFFD), integers
 * stay exact, non-finite numbers become null. Errors are sticky in w->rc so
 * a record can be written with no per-call checks and tested once.
 *
 * Configs, catalogs and state use jansson (json_t); helpers below convert. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"

/* ---- reading ---- */

typedef enum sl_jtype {
  SL_JNULL,
  SL_JBOOL,
  SL_JINT,    /* fits int64 */
  SL_JUINT,   /* above INT64_MAX, fits uint64 */
  SL_JDOUBLE,
  SL_JSTRING,
  SL_JARRAY,
  SL_JOBJECT,
} sl_jtype;

typedef struct sl_jv {
  const uint64_t *tape;
  const uint8_t *sbuf;
  size_t i;
} sl_jv;

typedef struct sl_jparser sl_jparser;

/* max_doc: largest document accepted, in bytes. */
sl_jparser *sl_jparser_new(size_t max_doc);
void sl_jparser_free(sl_jparser *p);
/* Parse data[0..len). data must be followed by SL_BUF_PAD readable bytes (an
 * sl_buf guarantees it). On error the message gives the byte offset when it
 * can be found. `what` names the input in messages ("config.json", "source
 * line 12"). */
sl_code sl_jparser_parse(sl_jparser *p, const char *data, size_t len, sl_jv *root,
                         const char *what, sl_err *err);

/* The envelope of a protocol message, read without building the whole
 * document: the line's structure and UTF-8 are still checked (simdjson's
 * first stage covers every byte) but values are parsed only where touched.
 * For RECORDs, stream/ns and whether data is a non-empty object. Pointers
 * live until the next parse. */
typedef struct sl_envelope {
  const char *type, *stream, *ns;
  size_t type_len, stream_len, ns_len;
  int data_state; /* 0 absent or not an object, 1 empty object, 2 non-empty */
} sl_envelope;

sl_code sl_jparser_envelope(sl_jparser *p, const char *data, size_t len, sl_envelope *env,
                            const char *what, sl_err *err);

#define SL__JV_WORD(v) ((v).tape[(v).i])
#define SL__JV_TAG(v) ((char)(SL__JV_WORD(v) >> 56))
#define SL__JV_PAYLOAD(v) (SL__JV_WORD(v) & 0x00FFFFFFFFFFFFFFull)

static inline sl_jtype sl_jv_type(sl_jv v) {
  switch (SL__JV_TAG(v)) {
    case '{': return SL_JOBJECT;
    case '[': return SL_JARRAY;
    case '"': return SL_JSTRING;
    case 'l': return SL_JINT;
    case 'u': return SL_JUINT;
    case 'd': return SL_JDOUBLE;
    case 't': case 'f': return SL_JBOOL;
    default: return SL_JNULL;
  }
}

static inline const char *sl_jv_str(sl_jv v, size_t *len) {
  if (SL__JV_TAG(v) != '"') {
    if (len) *len = 0;
    return NULL;
  }
  const uint8_t *p = v.sbuf + SL__JV_PAYLOAD(v);
  uint32_t n;
  memcpy(&n, p, 4);
  if (len) *len = n;
  return (const char *)p + 4;
}

static inline int64_t sl_jv_int(sl_jv v) {
  int64_t x;
  memcpy(&x, &v.tape[v.i + 1], 8);
  return x;
}
static inline uint64_t sl_jv_uint(sl_jv v) { return v.tape[v.i + 1]; }
static inline double sl_jv_double_raw(sl_jv v) {
  double d;
  memcpy(&d, &v.tape[v.i + 1], 8);
  return d;
}
/* Any number as a double. */
static inline double sl_jv_num(sl_jv v) {
  switch (SL__JV_TAG(v)) {
    case 'l': return (double)sl_jv_int(v);
    case 'u': return (double)sl_jv_uint(v);
    case 'd': return sl_jv_double_raw(v);
    default: return 0;
  }
}
/* The literal text of a number, when the parser kept it: for the numbers of
 * a document holding a literal that a double or a 64-bit integer would not
 * keep exactly (more than 15 significant digits, an integer beyond 64 bits,
 * which the tape then holds as the nearest double). NULL otherwise: the
 * value on the tape is exact. Valid until the next parse. */
static inline const char *sl_jv_num_text(sl_jv v, size_t *len) {
  char tag = SL__JV_TAG(v);
  uint64_t payload = SL__JV_PAYLOAD(v);
  if ((tag != 'l' && tag != 'u' && tag != 'd') || !payload) return NULL;
  const char *p = (const char *)(uintptr_t)payload;
  uint32_t n;
  memcpy(&n, p, 4);
  if (len) *len = n;
  return p + 4;
}
static inline bool sl_jv_bool(sl_jv v) { return SL__JV_TAG(v) == 't'; }
static inline bool sl_jv_is_null(sl_jv v) { return SL__JV_TAG(v) == 'n'; }

/* Index just past this value on the tape. */
static inline size_t sl__jv_after(sl_jv v) {
  switch (SL__JV_TAG(v)) {
    case '{': case '[': return (uint32_t)SL__JV_WORD(v);
    case 'l': case 'u': case 'd': return v.i + 2;
    default: return v.i + 1;
  }
}

/* Number of members (objects) or elements (arrays), exact below 2^24. */
static inline size_t sl_jv_count(sl_jv v) { return (size_t)((SL__JV_WORD(v) >> 32) & 0xFFFFFF); }

/* Iteration: for (sl_jv k, x = sl_jv_first(o); sl_jv_more(o, x); x = sl_jv_next(x))
 * For objects, each step yields a key (a string) followed by its value:
 *   for (sl_jv k = sl_jv_first(o); sl_jv_more(o, k); k = sl_jv_next(sl_jv_val(k))) */
static inline sl_jv sl_jv_first(sl_jv c) {
  sl_jv x = c;
  x.i = c.i + 1;
  return x;
}
static inline bool sl_jv_more(sl_jv c, sl_jv x) { return x.i + 1 < (uint32_t)SL__JV_WORD(c); }
static inline sl_jv sl_jv_next(sl_jv x) {
  x.i = sl__jv_after(x);
  return x;
}
/* The value following an object key. */
static inline sl_jv sl_jv_val(sl_jv key) {
  key.i += 1;
  return key;
}

/* Look a member up by key; false when absent or v is not an object. */
bool sl_jv_get(sl_jv obj, const char *key, sl_jv *out);
bool sl_jv_getn(sl_jv obj, const char *key, size_t keylen, sl_jv *out);
/* Convert to a jansson value (new reference); NULL on allocation failure. */
json_t *sl_jv_to_json(sl_jv v);

/* ---- writing ---- */

typedef struct sl_jw {
  sl_buf *out;
  uint64_t comma; /* bit d set: depth d already has a member */
  int depth;
  bool after_key;
  sl_code rc; /* sticky: first error */
} sl_jw;

void sl_jw_init(sl_jw *w, sl_buf *out);
void sl_jw_obj_open(sl_jw *w);
void sl_jw_obj_close(sl_jw *w);
void sl_jw_arr_open(sl_jw *w);
void sl_jw_arr_close(sl_jw *w);
void sl_jw_key(sl_jw *w, const char *k, size_t len);
void sl_jw_keyz(sl_jw *w, const char *k);
/* A key already quoted and followed by ':' ("\"id\":"), copied as is. */
static inline void sl_jw_key_raw(sl_jw *w, const char *quoted, size_t len) {
  if (!w->after_key) {
    uint64_t bit = 1ull << (w->depth & 63);
    if ((w->comma & bit) && sl_buf_putc(w->out, ',')) w->rc = SL_ELIMIT;
    w->comma |= bit;
  }
  if (sl_buf_put(w->out, quoted, len)) w->rc = SL_ELIMIT;
  w->after_key = true;
}
void sl_jw_str(sl_jw *w, const char *s, size_t len);
void sl_jw_strz(sl_jw *w, const char *s);
void sl_jw_int(sl_jw *w, int64_t v);
void sl_jw_uint(sl_jw *w, uint64_t v);
/* Shortest round-trip form; always_point forces "12.0" for integral values. */
void sl_jw_double(sl_jw *w, double v, bool always_point);
void sl_jw_bool(sl_jw *w, bool v);
void sl_jw_null(sl_jw *w);
/* Append already-serialised JSON as one value. */
void sl_jw_raw(sl_jw *w, const char *json, size_t len);
void sl_jw_jv(sl_jw *w, sl_jv v);
void sl_jw_json(sl_jw *w, const json_t *v);

/* Re-serialise the object root exactly (int64/uint64 included), with
 * member.key set to the already-serialised raw value: an existing member.key
 * is replaced, else it is appended. Used to add "id" or "destinationStats"
 * to a STATE without a round trip through jansson. */
sl_code sl_json_rewrite_member(sl_buf *out, sl_jv root, const char *member, const char *key,
                               const char *raw, size_t raw_len);

/* Escape s as a JSON string (with quotes) into b. Invalid UTF-8 becomes U+FFFD. */
sl_code sl_json_escape(sl_buf *b, const char *s, size_t len);
/* Number of decimal digits written for v into p (at least 21 bytes). */
size_t sl_json_fmt_int(char *p, int64_t v);
size_t sl_json_fmt_double(char *p, double v, bool always_point);
/* True if s[0..len) is valid UTF-8. */
bool sl_utf8_valid(const char *s, size_t len);

/* ---- jansson helpers for configs, catalogs and state ---- */

/* Load a JSON file; errors name the file, line and column. */
sl_code sl_json_load_file(const char *path, json_t **out, sl_err *err);
sl_code sl_json_load_str(const char *text, size_t len, const char *what, json_t **out, sl_err *err);
/* Compact serialisation to a malloc'd string (free() it). */
char *sl_json_dumps(const json_t *v);

#endif
