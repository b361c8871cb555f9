/* bench-json: JSON libraries on the hot path (RECORD lines).
 *
 * Generates N realistic RECORD lines in memory (~330 bytes, 10 data fields:
 * small and near-2^62 ints, strings with escapes and UTF-8, a double, a
 * bool, a null, a nested object holding an array, an ISO date-time) and
 * measures, best of R runs each (machines are shared and noisy):
 *   parse:     every line parsed, record.type/stream/emitted_at looked up and
 *              every field of record.data read; sl_jparser (simdjson) against
 *              jansson json_loadb, and json-c / yajl when built in;
 *   serialise: the same records written from C values, as a source does:
 *              sl_jw into an sl_buf reset every 64 KiB (keys as literals,
 *              as connectors write them, and through sl_jw_keyz); jansson json_dumps of
 *              prebuilt json_t trees (tree building not timed); json-c
 *              likewise; yajl_gen straight from the values;
 *   int64:     whether 2^53+1, 2^62, INT64_MAX, INT64_MIN and UINT64_MAX
 *              survive parse + serialise in each library.
 * Before timing, sl_jw's output is checked to be byte-identical to the
 * generated lines and every parser's checksum of the fields must agree.
 * Results are printed, never asserted: the exit status is 1 only when an
 * output or checksum is wrong. docs/json.md records a run.
 *
 * Usage: build/bin/bench-json [-n LINES] [-r RUNS] [-o CASE]
 *   -n LINES  corpus size (default 1000000)
 *   -r RUNS   runs of each case, the best is kept (default 3)
 *   -o CASE   run only cases whose name contains CASE (for perf record):
 *             parse-sl, parse-jansson, parse-jsonc, parse-yajl, ser-sl-lit,
 *             ser-sl-keyz, ser-jansson, ser-jsonc, ser-yajl
 *   -w FILE   also write the generated lines to FILE (to check them with
 *             tests/node/validate-protocol.js or feed other tools)
 *
 * `make build/bin/bench-json` builds sluice's libraries and jansson only.
 * json-c and yajl are for comparison, installed only to benchmark
 * (apt-get install -y libjson-c-dev libyajl-dev), never a dependency of
 * sluice. json-c's headers clash with jansson's (both define json_type), so
 * its part is this same file compiled a second time with SL_BENCH_JSONC_PART.
 * The two libraries also both export json_object_get and
 * json_object_iter_next: -ljansson must come before -ljson-c on the link
 * line, or jansson's callers are bound to json-c's functions and crash.
 *
 *   make build/lib/libsluice.a && mkdir -p build/obj/bench build/bin && \
 *   gcc -std=gnu11 -O2 -g -Iinclude -D_GNU_SOURCE -DSL_BENCH_JSONC_PART \
 *       -c bench/json.c -o build/obj/bench/json-jsonc.o && \
 *   gcc -std=gnu11 -O2 -g -Iinclude -D_GNU_SOURCE -DHAVE_JSONC -DHAVE_YAJL \
 *       bench/json.c build/obj/bench/json-jsonc.o build/lib/libsluice.a \
 *       -o build/bin/bench-json-all -ljansson -lsimdjson -lstdc++ -lsqlite3 \
 *       -lm -lpthread -ljson-c -lyajl && \
 *   build/bin/bench-json-all
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared by both parts ---- */

typedef struct bench_city {
  const char *name, *zip;
  double lat, lon;
} bench_city;

/* One record's values, as a source holds them before serialising. */
typedef struct bench_rec {
  int64_t id, big, emitted_at;
  const char *name, *note;
  const bench_city *city;
  double score;
  bool active;
  char email[40];
  char updated_at[32];
} bench_rec;

#define BENCH_STREAM "users"
#define BENCH_BATCH 10000 /* records per batch of prebuilt trees */
#define BENCH_FLUSH 65536 /* output buffer reset threshold */

static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Checksum of the values read, identical for every correct parser: ints
 * wrap-add, doubles as (int64)(4d), strings and keys add their length and
 * first byte, true 1, null 3. */
static inline uint64_t ck_str(const char *s, size_t n) {
  return n + (n ? (unsigned char)s[0] : 0);
}
static inline uint64_t ck_dbl(double d) { return (uint64_t)(int64_t)(d * 4); }

#ifdef SL_BENCH_JSONC_PART
/* ================= json-c part (its own translation unit) ================= */
#include <json-c/json.h>

static uint64_t jc_walk(struct json_object *v) {
  switch (json_object_get_type(v)) {
    case json_type_null: return 3;
    case json_type_boolean: return (uint64_t)json_object_get_boolean(v);
    case json_type_int: return (uint64_t)json_object_get_int64(v);
    case json_type_double: return ck_dbl(json_object_get_double(v));
    case json_type_string:
      return ck_str(json_object_get_string(v), (size_t)json_object_get_string_len(v));
    case json_type_array: {
      uint64_t s = 0;
      size_t n = json_object_array_length(v);
      for (size_t i = 0; i < n; i++) s += jc_walk(json_object_array_get_idx(v, i));
      return s;
    }
    case json_type_object: {
      uint64_t s = 0;
      json_object_object_foreach(v, key, val) {
        s += ck_str(key, strlen(key)) + jc_walk(val);
      }
      return s;
    }
  }
  return 0;
}

/* Parse n lines; returns the checksum, *ok false on a parse failure. */
uint64_t bench_jsonc_parse(const char *buf, const size_t *off, const uint32_t *len, size_t n,
                           bool *ok);
uint64_t bench_jsonc_parse(const char *buf, const size_t *off, const uint32_t *len, size_t n,
                           bool *ok) {
  struct json_tokener *tok = json_tokener_new();
  uint64_t sum = 0;
  *ok = true;
  for (size_t i = 0; i < n; i++) {
    json_tokener_reset(tok);
    struct json_object *root = json_tokener_parse_ex(tok, buf + off[i], (int)len[i]);
    struct json_object *t, *rec, *x;
    if (!root || !json_object_object_get_ex(root, "type", &t) ||
        !json_object_object_get_ex(root, "record", &rec)) {
      *ok = false;
      json_object_put(root);
      break;
    }
    sum += ck_str(json_object_get_string(t), (size_t)json_object_get_string_len(t));
    if (json_object_object_get_ex(rec, "stream", &x))
      sum += ck_str(json_object_get_string(x), (size_t)json_object_get_string_len(x));
    if (json_object_object_get_ex(rec, "emitted_at", &x)) sum += (uint64_t)json_object_get_int64(x);
    if (json_object_object_get_ex(rec, "data", &x)) sum += jc_walk(x);
    json_object_put(root);
  }
  json_tokener_free(tok);
  return sum;
}

static struct json_object *jc_build(const bench_rec *r) {
  struct json_object *d = json_object_new_object();
  json_object_object_add(d, "id", json_object_new_int64(r->id));
  json_object_object_add(d, "big", json_object_new_int64(r->big));
  json_object_object_add(d, "name", json_object_new_string(r->name));
  json_object_object_add(d, "email", json_object_new_string(r->email));
  json_object_object_add(d, "note", json_object_new_string(r->note));
  json_object_object_add(d, "score", json_object_new_double(r->score));
  json_object_object_add(d, "active", json_object_new_boolean(r->active));
  json_object_object_add(d, "deleted_at", NULL);
  struct json_object *a = json_object_new_object(), *g = json_object_new_array();
  json_object_array_add(g, json_object_new_double(r->city->lat));
  json_object_array_add(g, json_object_new_double(r->city->lon));
  json_object_object_add(a, "city", json_object_new_string(r->city->name));
  json_object_object_add(a, "zip", json_object_new_string(r->city->zip));
  json_object_object_add(a, "geo", g);
  json_object_object_add(d, "address", a);
  json_object_object_add(d, "updated_at", json_object_new_string(r->updated_at));
  struct json_object *rec = json_object_new_object();
  json_object_object_add(rec, "stream", json_object_new_string(BENCH_STREAM));
  json_object_object_add(rec, "emitted_at", json_object_new_int64(r->emitted_at));
  json_object_object_add(rec, "data", d);
  struct json_object *m = json_object_new_object();
  json_object_object_add(m, "type", json_object_new_string("RECORD"));
  json_object_object_add(m, "record", rec);
  return m;
}

/* Serialise n records from prebuilt trees; returns the seconds spent in
 * json_object_to_json_string_ext only; *bytes gets the output size. */
double bench_jsonc_serialise(const bench_rec *recs, size_t n, size_t *bytes);
double bench_jsonc_serialise(const bench_rec *recs, size_t n, size_t *bytes) {
  static struct json_object *batch[BENCH_BATCH];
  double spent = 0;
  size_t total = 0;
  for (size_t at = 0; at < n; at += BENCH_BATCH) {
    size_t k = n - at < BENCH_BATCH ? n - at : BENCH_BATCH;
    for (size_t i = 0; i < k; i++) batch[i] = jc_build(&recs[at + i]);
    double t0 = bench_now();
    for (size_t i = 0; i < k; i++) {
      size_t len;
      json_object_to_json_string_length(batch[i], JSON_C_TO_STRING_PLAIN, &len);
      total += len + 1;
    }
    spent += bench_now() - t0;
    for (size_t i = 0; i < k; i++) json_object_put(batch[i]);
  }
  *bytes = total;
  return spent;
}

/* Parse text, serialise it again into out. */
void bench_jsonc_roundtrip(const char *text, char *out, size_t cap);
void bench_jsonc_roundtrip(const char *text, char *out, size_t cap) {
  struct json_object *v = json_tokener_parse(text);
  if (!v) {
    snprintf(out, cap, "(parse error)");
    return;
  }
  snprintf(out, cap, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
  json_object_put(v);
}

#else
/* ============================== main part ============================== */
#include "sluice/json.h"

#ifdef HAVE_YAJL
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>
#endif

#ifdef HAVE_JSONC
uint64_t bench_jsonc_parse(const char *buf, const size_t *off, const uint32_t *len, size_t n,
                           bool *ok);
double bench_jsonc_serialise(const bench_rec *recs, size_t n, size_t *bytes);
void bench_jsonc_roundtrip(const char *text, char *out, size_t cap);
#endif

/* ---- data ---- */

static const char *const names[] = {
    "Zo\xc3\xab \"Q\" M\xc3\xbcller", "Jean-Luc Picard",   "\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x99",
    "O'Brien, Miles",                 "Ada Lovelace",      "\xce\x95\xce\xbb\xce\xad\xce\xbd\xce\xb7 "
                                                           "\xce\xa0\xce\xb1\xcf\x80\xce\xac",
    "Ren\xc3\xa9" "e \\ Backslash",   "S\xc3\xb8ren Kierkegaard", "Grace Hopper",
    "Jos\xc3\xa9 \xc3\x81lvarez",
};
static const char *const notes[] = {
    "line one\nline two\tend",
    "plain ascii note for the record",
    "quote \" and slash / here",
    "emoji \xf0\x9f\x98\x80 ok",
    "tab\tseparated\tvalues",
    "control \x01 char",
    "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e",
    "",
};
static const bench_city cities[] = {
    {"Z\xc3\xbcrich", "8001", 47.3769, 8.5417},
    {"S\xc3\xa3o Paulo", "01000-000", -23.5505, -46.6333},
    {"New York", "10001", 40.7128, -74.006},
    {"\xe6\x9d\xb1\xe4\xba\xac", "100-0001", 35.6762, 139.6503},
    {"Krak\xc3\xb3w", "30-001", 50.0647, 19.945},
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static void make_rec(bench_rec *r, size_t i) {
  uint64_t x = rng();
  r->id = (int64_t)i + 1;
  int64_t big = (INT64_C(1) << 62) + (int64_t)(x % 1000000007ull);
  r->big = (x >> 40) & 1 ? -big : big;
  r->emitted_at = INT64_C(1700000000000) + (int64_t)i;
  r->name = names[(x >> 8) % NELEM(names)];
  r->note = notes[(x >> 16) % NELEM(notes)];
  r->city = &cities[(x >> 24) % NELEM(cities)];
  r->score = (double)((x >> 32) % 100000) + 0.25;
  r->active = (x >> 41) & 1;
  snprintf(r->email, sizeof r->email, "user%lld@example.com", (long long)r->id);
  snprintf(r->updated_at, sizeof r->updated_at, "20%02d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           (int)(x % 25), (int)((x >> 5) % 12) + 1, (int)((x >> 9) % 28) + 1,
           (int)((x >> 14) % 24), (int)((x >> 19) % 60), (int)((x >> 25) % 60),
           (int)((x >> 31) % 1000));
}

/* The generator's own escaper (independent of lib/json.c): the input lines
 * are built with it and snprintf, and sl_jw's output must match them. */
static char *gen_str(char *o, const char *s) {
  *o++ = '"';
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c == '\n') {
      o = memcpy(o, "\\n", 2) + 2;
    } else if (c == '\t') {
      o = memcpy(o, "\\t", 2) + 2;
    } else if (c < 0x20) {
      o += sprintf(o, "\\u%04x", c);
    } else {
      *o++ = (char)c;
    }
  }
  *o++ = '"';
  return o;
}

/* Same shape as lib/source.c writes: type, record{stream, emitted_at, data}. */
static size_t gen_line(char *p, const bench_rec *r) {
  char *o = p;
  o += sprintf(o, "{\"type\":\"RECORD\",\"record\":{\"stream\":\"" BENCH_STREAM
                  "\",\"emitted_at\":%lld,\"data\":{\"id\":%lld,\"big\":%lld,\"name\":",
               (long long)r->emitted_at, (long long)r->id, (long long)r->big);
  o = gen_str(o, r->name);
  o += sprintf(o, ",\"email\":");
  o = gen_str(o, r->email);
  o += sprintf(o, ",\"note\":");
  o = gen_str(o, r->note);
  o += sprintf(o, ",\"score\":%.2f,\"active\":%s,\"deleted_at\":null,\"address\":{\"city\":",
               r->score, r->active ? "true" : "false");
  o = gen_str(o, r->city->name);
  o += sprintf(o, ",\"zip\":");
  o = gen_str(o, r->city->zip);
  o += sprintf(o, ",\"geo\":[%.15g,%.15g]},\"updated_at\":", r->city->lat, r->city->lon);
  o = gen_str(o, r->updated_at);
  o += sprintf(o, "}}}");
  return (size_t)(o - p);
}

/* ---- the corpus ---- */

static size_t n_lines;
static bench_rec *recs;
static char *buf;       /* lines separated by '\n', + SL_BUF_PAD zero bytes */
static size_t buf_len;  /* bytes of lines and separators */
static size_t *off;     /* line i is buf[off[i] .. off[i]+len[i]) */
static uint32_t *len;
static size_t line_bytes; /* sum of len[] */

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "bench-json: out of memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

static void make_corpus(size_t n) {
  n_lines = n;
  recs = xmalloc(n * sizeof *recs);
  off = xmalloc(n * sizeof *off);
  len = xmalloc(n * sizeof *len);
  size_t cap = n * 512 + SL_BUF_PAD;
  buf = xmalloc(cap);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    make_rec(&recs[i], i);
    off[i] = at;
    len[i] = (uint32_t)gen_line(buf + at, &recs[i]);
    line_bytes += len[i];
    at += len[i];
    buf[at++] = '\n';
  }
  buf_len = at;
  memset(buf + at, 0, SL_BUF_PAD);
}

/* ---- parse: sl_jparser (simdjson) ---- */

static uint64_t sl_walk(sl_jv v) {
  switch (sl_jv_type(v)) {
    case SL_JNULL: return 3;
    case SL_JBOOL: return sl_jv_bool(v);
    case SL_JINT: return (uint64_t)sl_jv_int(v);
    case SL_JUINT: return sl_jv_uint(v);
    case SL_JDOUBLE: return ck_dbl(sl_jv_double_raw(v));
    case SL_JSTRING: {
      size_t n;
      const char *s = sl_jv_str(v, &n);
      return ck_str(s, n);
    }
    case SL_JARRAY: {
      uint64_t s = 0;
      for (sl_jv x = sl_jv_first(v); sl_jv_more(v, x); x = sl_jv_next(x)) s += sl_walk(x);
      return s;
    }
    case SL_JOBJECT: {
      uint64_t s = 0;
      for (sl_jv k = sl_jv_first(v); sl_jv_more(v, k); k = sl_jv_next(sl_jv_val(k))) {
        size_t n;
        const char *ks = sl_jv_str(k, &n);
        s += ck_str(ks, n) + sl_walk(sl_jv_val(k));
      }
      return s;
    }
  }
  return 0;
}

static uint64_t parse_sl(bool *ok) {
  sl_jparser *p = sl_jparser_new(1 << 20);
  sl_err err = SL_ERR_INIT;
  uint64_t sum = 0;
  *ok = p != NULL;
  for (size_t i = 0; *ok && i < n_lines; i++) {
    sl_jv root, t, rec, x;
    if (sl_jparser_parse(p, buf + off[i], len[i], &root, "bench", &err) ||
        !sl_jv_get(root, "type", &t) || !sl_jv_get(root, "record", &rec)) {
      fprintf(stderr, "bench-json: sl_jparser: line %zu: %s\n", i + 1, err.msg);
      *ok = false;
      break;
    }
    size_t n;
    const char *s = sl_jv_str(t, &n);
    sum += ck_str(s, n);
    if (sl_jv_get(rec, "stream", &x)) {
      s = sl_jv_str(x, &n);
      sum += ck_str(s, n);
    }
    if (sl_jv_get(rec, "emitted_at", &x)) sum += (uint64_t)sl_jv_int(x);
    if (sl_jv_get(rec, "data", &x)) sum += sl_walk(x);
  }
  sl_jparser_free(p);
  return sum;
}

/* ---- parse: jansson ---- */

static uint64_t jn_walk(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_NULL: return 3;
    case JSON_TRUE: return 1;
    case JSON_FALSE: return 0;
    case JSON_INTEGER: return (uint64_t)json_integer_value(v);
    case JSON_REAL: return ck_dbl(json_real_value(v));
    case JSON_STRING: return ck_str(json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
      uint64_t s = 0;
      size_t i;
      json_t *x;
      json_array_foreach(v, i, x) s += jn_walk(x);
      return s;
    }
    case JSON_OBJECT: {
      uint64_t s = 0;
      const char *k;
      size_t klen;
      json_t *x;
      json_object_keylen_foreach((json_t *)v, k, klen, x) s += ck_str(k, klen) + jn_walk(x);
      return s;
    }
  }
  return 0;
}

static uint64_t parse_jansson(bool *ok) {
  uint64_t sum = 0;
  *ok = true;
  for (size_t i = 0; i < n_lines; i++) {
    json_error_t je;
    json_t *root = json_loadb(buf + off[i], len[i], 0, &je);
    json_t *t = json_object_get(root, "type"), *rec = json_object_get(root, "record");
    if (!t || !rec) {
      fprintf(stderr, "bench-json: jansson: line %zu: %s\n", i + 1, je.text);
      *ok = false;
      json_decref(root);
      break;
    }
    sum += ck_str(json_string_value(t), json_string_length(t));
    json_t *x = json_object_get(rec, "stream");
    if (x) sum += ck_str(json_string_value(x), json_string_length(x));
    if ((x = json_object_get(rec, "emitted_at"))) sum += (uint64_t)json_integer_value(x);
    if ((x = json_object_get(rec, "data"))) sum += jn_walk(x);
    json_decref(root);
  }
  return sum;
}

/* ---- parse: yajl ---- */

#ifdef HAVE_YAJL
static uint64_t yj_walk(yajl_val v) {
  switch (v->type) {
    case yajl_t_null: return 3;
    case yajl_t_true: return 1;
    case yajl_t_false: return 0;
    case yajl_t_number:
      if (YAJL_IS_INTEGER(v)) return (uint64_t)YAJL_GET_INTEGER(v);
      return ck_dbl(YAJL_GET_DOUBLE(v));
    case yajl_t_string: return ck_str(v->u.string, strlen(v->u.string));
    case yajl_t_array: {
      uint64_t s = 0;
      for (size_t i = 0; i < v->u.array.len; i++) s += yj_walk(v->u.array.values[i]);
      return s;
    }
    case yajl_t_object: {
      uint64_t s = 0;
      for (size_t i = 0; i < v->u.object.len; i++)
        s += ck_str(v->u.object.keys[i], strlen(v->u.object.keys[i])) +
             yj_walk(v->u.object.values[i]);
      return s;
    }
    default: return 0;
  }
}

static yajl_val yj_get(yajl_val o, const char *key) {
  if (!YAJL_IS_OBJECT(o)) return NULL;
  for (size_t i = 0; i < o->u.object.len; i++)
    if (!strcmp(o->u.object.keys[i], key)) return o->u.object.values[i];
  return NULL;
}

/* yajl_tree_parse wants NUL-terminated text: the caller turns the '\n'
 * separators into NULs around this pass (not timed). */
static uint64_t parse_yajl(bool *ok) {
  uint64_t sum = 0;
  char ebuf[256];
  *ok = true;
  for (size_t i = 0; i < n_lines; i++) {
    yajl_val root = yajl_tree_parse(buf + off[i], ebuf, sizeof ebuf);
    yajl_val t = yj_get(root, "type"), rec = yj_get(root, "record"), x;
    if (!YAJL_IS_STRING(t) || !rec) {
      fprintf(stderr, "bench-json: yajl: line %zu: %s\n", i + 1, ebuf);
      *ok = false;
      yajl_tree_free(root);
      break;
    }
    sum += ck_str(t->u.string, strlen(t->u.string));
    if (YAJL_IS_STRING(x = yj_get(rec, "stream"))) sum += ck_str(x->u.string, strlen(x->u.string));
    if (YAJL_IS_INTEGER(x = yj_get(rec, "emitted_at"))) sum += (uint64_t)YAJL_GET_INTEGER(x);
    if ((x = yj_get(rec, "data"))) sum += yj_walk(x);
    yajl_tree_free(root);
  }
  return sum;
}

static void nul_separators(char sep) {
  for (size_t i = 0; i < n_lines; i++) buf[off[i] + len[i]] = sep;
}
#endif

/* ---- serialise: sl_jw ---- */

/* Write one record the way lib/source.c does: a constant prefix, the
 * emitted_at digits, then record.data through sl_jw. Connectors name their
 * fields with literal keys (sl_rec_* in sluice/connector.h, which expand to
 * sl_jw_key_raw); sl_jw_keyz, which escapes the key at run time, is measured
 * too. */
static const char rec_prefix[] = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"" BENCH_STREAM
                                 "\",\"emitted_at\":";
#define LIT_KEY(w, k) sl_jw_key_raw((w), "\"" k "\":", sizeof("\"" k "\":") - 1)

#define WRITE_SL_BODY(KEY)                                               \
  sl_buf_put(out, rec_prefix, sizeof rec_prefix - 1);                    \
  if (sl_buf_ensure(out, 24) == SL_EOK)                                  \
    out->len += sl_json_fmt_int(out->data + out->len, r->emitted_at);    \
  sl_buf_put(out, ",\"data\":", 8);                                      \
  sl_jw_init(w, out);                                                    \
  sl_jw_obj_open(w);                                                     \
  KEY(w, "id");                                                          \
  sl_jw_int(w, r->id);                                                   \
  KEY(w, "big");                                                         \
  sl_jw_int(w, r->big);                                                  \
  KEY(w, "name");                                                        \
  sl_jw_strz(w, r->name);                                                \
  KEY(w, "email");                                                       \
  sl_jw_strz(w, r->email);                                               \
  KEY(w, "note");                                                        \
  sl_jw_strz(w, r->note);                                                \
  KEY(w, "score");                                                       \
  sl_jw_double(w, r->score, true);                                       \
  KEY(w, "active");                                                      \
  sl_jw_bool(w, r->active);                                              \
  KEY(w, "deleted_at");                                                  \
  sl_jw_null(w);                                                         \
  KEY(w, "address");                                                     \
  sl_jw_obj_open(w);                                                     \
  KEY(w, "city");                                                        \
  sl_jw_strz(w, r->city->name);                                          \
  KEY(w, "zip");                                                         \
  sl_jw_strz(w, r->city->zip);                                           \
  KEY(w, "geo");                                                         \
  sl_jw_arr_open(w);                                                     \
  sl_jw_double(w, r->city->lat, true);                                   \
  sl_jw_double(w, r->city->lon, true);                                   \
  sl_jw_arr_close(w);                                                    \
  sl_jw_obj_close(w);                                                    \
  KEY(w, "updated_at");                                                  \
  sl_jw_strz(w, r->updated_at);                                          \
  sl_jw_obj_close(w);                                                    \
  sl_buf_put(out, "}}\n", 3);

static inline void write_sl(sl_buf *out, const bench_rec *r, sl_jw *w) { WRITE_SL_BODY(LIT_KEY) }
static inline void write_sl_keyz(sl_buf *out, const bench_rec *r, sl_jw *w) {
  WRITE_SL_BODY(sl_jw_keyz)
}

typedef void (*write_fn)(sl_buf *out, const bench_rec *r, sl_jw *w);

static size_t serialise_sl(write_fn write, bool *ok) {
  sl_buf out;
  sl_jw w;
  size_t total = 0;
  sl_buf_init(&out, 1 << 20);
  *ok = true;
  for (size_t i = 0; i < n_lines; i++) {
    write(&out, &recs[i], &w);
    if (w.rc) *ok = false;
    if (out.len >= BENCH_FLUSH) {
      total += out.len;
      out.len = 0; /* a real writer would write(2) here */
    }
  }
  total += out.len;
  sl_buf_dispose(&out);
  return total;
}

/* Untimed check: sl_jw's output is byte for byte the generated corpus. */
static bool check_sl_output(write_fn write) {
  sl_buf out;
  sl_jw w;
  sl_buf_init(&out, SIZE_MAX / 4);
  for (size_t i = 0; i < n_lines; i++) write(&out, &recs[i], &w);
  bool same = out.len == buf_len && memcmp(out.data, buf, buf_len) == 0;
  if (!same) {
    size_t k = 0;
    while (k < out.len && k < buf_len && out.data[k] == buf[k]) k++;
    size_t from = k > 60 ? k - 60 : 0;
    fprintf(stderr, "bench-json: sl_jw output differs from the corpus at byte %zu:\n  want %.120s\n  got  %.120s\n",
            k, buf + from, out.data + from);
  }
  sl_buf_dispose(&out);
  return same;
}

/* ---- serialise: jansson ---- */

static json_t *jn_build(const bench_rec *r) {
  json_t *geo = json_array();
  json_array_append_new(geo, json_real(r->city->lat));
  json_array_append_new(geo, json_real(r->city->lon));
  json_t *addr = json_object();
  json_object_set_new_nocheck(addr, "city", json_string(r->city->name));
  json_object_set_new_nocheck(addr, "zip", json_string(r->city->zip));
  json_object_set_new_nocheck(addr, "geo", geo);
  json_t *d = json_object();
  json_object_set_new_nocheck(d, "id", json_integer(r->id));
  json_object_set_new_nocheck(d, "big", json_integer(r->big));
  json_object_set_new_nocheck(d, "name", json_string(r->name));
  json_object_set_new_nocheck(d, "email", json_string(r->email));
  json_object_set_new_nocheck(d, "note", json_string(r->note));
  json_object_set_new_nocheck(d, "score", json_real(r->score));
  json_object_set_new_nocheck(d, "active", json_boolean(r->active));
  json_object_set_new_nocheck(d, "deleted_at", json_null());
  json_object_set_new_nocheck(d, "address", addr);
  json_object_set_new_nocheck(d, "updated_at", json_string(r->updated_at));
  json_t *rec = json_object();
  json_object_set_new_nocheck(rec, "stream", json_string(BENCH_STREAM));
  json_object_set_new_nocheck(rec, "emitted_at", json_integer(r->emitted_at));
  json_object_set_new_nocheck(rec, "data", d);
  json_t *m = json_object();
  json_object_set_new_nocheck(m, "type", json_string("RECORD"));
  json_object_set_new_nocheck(m, "record", rec);
  return m;
}

/* Seconds spent in json_dumps only (trees built in untimed batches). */
static double serialise_jansson(size_t *bytes, bool *ok) {
  static json_t *batch[BENCH_BATCH];
  double spent = 0;
  size_t total = 0;
  *ok = true;
  for (size_t at = 0; at < n_lines; at += BENCH_BATCH) {
    size_t k = n_lines - at < BENCH_BATCH ? n_lines - at : BENCH_BATCH;
    for (size_t i = 0; i < k; i++) batch[i] = jn_build(&recs[at + i]);
    double t0 = bench_now();
    for (size_t i = 0; i < k; i++) {
      char *s = json_dumps(batch[i], JSON_COMPACT);
      if (!s) {
        *ok = false;
        continue;
      }
      total += strlen(s) + 1;
      free(s);
    }
    spent += bench_now() - t0;
    for (size_t i = 0; i < k; i++) json_decref(batch[i]);
  }
  *bytes = total;
  return spent;
}

/* ---- serialise: yajl_gen ---- */

#ifdef HAVE_YAJL
static inline void yg_key(yajl_gen g, const char *k) {
  yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}
static inline void yg_str(yajl_gen g, const char *s) {
  yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static size_t serialise_yajl(bool *ok) {
  yajl_gen g = yajl_gen_alloc(NULL);
  yajl_gen_config(g, yajl_gen_validate_utf8, 1); /* as sl_jw does */
  size_t total = 0;
  *ok = true;
  for (size_t i = 0; i < n_lines; i++) {
    const bench_rec *r = &recs[i];
    yajl_gen_map_open(g);
    yg_key(g, "type");
    yg_str(g, "RECORD");
    yg_key(g, "record");
    yajl_gen_map_open(g);
    yg_key(g, "stream");
    yg_str(g, BENCH_STREAM);
    yg_key(g, "emitted_at");
    yajl_gen_integer(g, r->emitted_at);
    yg_key(g, "data");
    yajl_gen_map_open(g);
    yg_key(g, "id");
    yajl_gen_integer(g, r->id);
    yg_key(g, "big");
    yajl_gen_integer(g, r->big);
    yg_key(g, "name");
    yg_str(g, r->name);
    yg_key(g, "email");
    yg_str(g, r->email);
    yg_key(g, "note");
    yg_str(g, r->note);
    yg_key(g, "score");
    yajl_gen_double(g, r->score);
    yg_key(g, "active");
    yajl_gen_bool(g, r->active);
    yg_key(g, "deleted_at");
    yajl_gen_null(g);
    yg_key(g, "address");
    yajl_gen_map_open(g);
    yg_key(g, "city");
    yg_str(g, r->city->name);
    yg_key(g, "zip");
    yg_str(g, r->city->zip);
    yg_key(g, "geo");
    yajl_gen_array_open(g);
    yajl_gen_double(g, r->city->lat);
    yajl_gen_double(g, r->city->lon);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    yg_key(g, "updated_at");
    yg_str(g, r->updated_at);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    if (yajl_gen_map_close(g) != yajl_gen_status_ok) *ok = false;
    yajl_gen_reset(g, "\n");
    const unsigned char *p;
    size_t n;
    yajl_gen_get_buf(g, &p, &n);
    if (n >= BENCH_FLUSH) {
      total += n;
      yajl_gen_clear(g);
    }
  }
  const unsigned char *p;
  size_t n;
  yajl_gen_get_buf(g, &p, &n);
  total += n;
  yajl_gen_free(g);
  return total;
}
#endif

/* ---- int64 roundtrip ---- */

static void rt_sl(const char *text, char *out, size_t cap) {
  sl_jparser *p = sl_jparser_new(1 << 16);
  sl_buf in, o;
  sl_jv root;
  sl_err err = SL_ERR_INIT;
  sl_buf_init(&in, 1 << 16);
  sl_buf_init(&o, 1 << 16);
  sl_buf_put(&in, text, strlen(text));
  if (sl_jparser_parse(p, in.data, in.len, &root, "int64", &err)) {
    snprintf(out, cap, "(parse error)");
  } else {
    sl_jw w;
    sl_jw_init(&w, &o);
    sl_jw_jv(&w, root);
    snprintf(out, cap, "%s", sl_buf_cstr(&o));
  }
  sl_buf_dispose(&in);
  sl_buf_dispose(&o);
  sl_jparser_free(p);
}

static void rt_jansson(const char *text, char *out, size_t cap) {
  json_error_t je;
  json_t *v = json_loads(text, 0, &je);
  if (!v) {
    snprintf(out, cap, "(rejected: %s)", je.text);
    return;
  }
  char *s = json_dumps(v, JSON_COMPACT);
  snprintf(out, cap, "%s", s ? s : "(dump failed)");
  free(s);
  json_decref(v);
}

#ifdef HAVE_YAJL
/* A typed consumer reads an integer when yajl says it is one, else a double. */
static void rt_yajl(const char *text, char *out, size_t cap) {
  char ebuf[128];
  yajl_val v = yajl_tree_parse(text, ebuf, sizeof ebuf);
  yajl_val x = yj_get(v, "v");
  if (!x) {
    snprintf(out, cap, "(parse error)");
    yajl_tree_free(v);
    return;
  }
  yajl_gen g = yajl_gen_alloc(NULL);
  yajl_gen_map_open(g);
  yg_key(g, "v");
  if (YAJL_IS_INTEGER(x)) yajl_gen_integer(g, YAJL_GET_INTEGER(x));
  else yajl_gen_double(g, YAJL_GET_DOUBLE(x));
  yajl_gen_map_close(g);
  const unsigned char *p;
  size_t n;
  yajl_gen_get_buf(g, &p, &n);
  snprintf(out, cap, "%.*s", (int)n, (const char *)p);
  yajl_gen_free(g);
  yajl_tree_free(v);
}
#endif

typedef void (*rt_fn)(const char *text, char *out, size_t cap);
typedef struct rt_lib {
  const char *name;
  rt_fn fn;
  bool exact; /* all values survived */
} rt_lib;

static void int64_report(rt_lib *libs, size_t nlibs) {
  static const char *const values[] = {"9007199254740993", "4611686018427387904",
                                       "9223372036854775807", "-9223372036854775808",
                                       "18446744073709551615"};
  printf("\nint64 exactness: {\"v\":X} parsed and serialised again\n");
  printf("  %-22s", "X");
  for (size_t l = 0; l < nlibs; l++) printf(" %-24s", libs[l].name);
  printf("\n");
  for (size_t i = 0; i < NELEM(values); i++) {
    char in[64], want[64];
    snprintf(in, sizeof in, "{\"v\":%s}", values[i]);
    snprintf(want, sizeof want, "%s", in);
    printf("  %-22s", values[i]);
    for (size_t l = 0; l < nlibs; l++) {
      char got[256], cell[64];
      libs[l].fn(in, got, sizeof got);
      if (!strcmp(got, want)) {
        snprintf(cell, sizeof cell, "exact");
      } else {
        /* Show the value part only: {"v":X} -> X. */
        const char *g = got;
        size_t n = strlen(g);
        if (!strncmp(g, "{\"v\":", 5) && n > 6) {
          g += 5;
          n -= 6;
        }
        snprintf(cell, sizeof cell, "%.*s", (int)(n > 23 ? 23 : n), g);
        /* Only int64 range counts for the verdict; 2^64-1 is informative. */
        if (i < 4) libs[l].exact = false;
      }
      printf(" %-24s", cell);
    }
    printf("\n");
  }
  printf("  (2^64-1 is outside int64: informative; \"exact\" below covers the int64 values)\n");
}

/* ---- driver ---- */

typedef struct result {
  const char *name;
  double best; /* seconds, best run */
  size_t bytes;
  const char *id; /* -o matches this */
} result;

static const char *only; /* -o */
static bool want(const result *r) { return !only || strstr(r->id, only); }

static void row(const result *r, const result *ref, size_t lines) {
  if (r->best == 0) return; /* not run */
  if (ref->best == 0) {
    printf("  %-34s %9.0f MB/s %11.0f lines/s\n", r->name, (double)r->bytes / r->best / 1e6,
           (double)lines / r->best);
    return;
  }
  double mbs = (double)r->bytes / r->best / 1e6;
  double lps = (double)lines / r->best;
  printf("  %-34s %9.0f MB/s %11.0f lines/s %8.2fx\n", r->name, mbs, lps, ref->best / r->best);
}

static void keep(result *r, double t) {
  if (r->best == 0 || t < r->best) r->best = t;
}

int main(int argc, char **argv) {
  size_t n = 1000000;
  int runs = 3;
  const char *dump = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) n = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "-w") && i + 1 < argc) dump = argv[++i];
    else {
      fprintf(stderr, "usage: %s [-n LINES] [-r RUNS] [-o CASE] [-w FILE]\n", argv[0]);
      return 2;
    }
  }
  if (n == 0 || runs < 1) {
    fprintf(stderr, "bench-json: -n and -r must be positive\n");
    return 2;
  }
  make_corpus(n);
  if (dump) {
    FILE *f = fopen(dump, "w");
    if (!f || fwrite(buf, 1, buf_len, f) != buf_len || fclose(f)) {
      fprintf(stderr, "bench-json: cannot write %s\n", dump);
      return 2;
    }
  }
  printf("bench-json: %zu RECORD lines, %.1f MB, %.0f bytes/line average; best of %d runs\n", n,
         (double)line_bytes / 1e6, (double)line_bytes / (double)n, runs);
  printf("sample: %.*s\n", (int)len[0], buf);

  bool bad = false, ok;
  if (!check_sl_output(write_sl) || !check_sl_output(write_sl_keyz)) bad = true;

  /* Checksums must agree across parsers (and over runs). */
  result p_sl = {"sl_jparser (simdjson 3.0.1)", 0, line_bytes, "parse-sl"};
  result p_jn = {"jansson json_loadb", 0, line_bytes, "parse-jansson"};
#ifdef HAVE_JSONC
  result p_jc = {"json-c json_tokener_parse_ex", 0, line_bytes, "parse-jsonc"};
#endif
#ifdef HAVE_YAJL
  result p_yj = {"yajl yajl_tree_parse", 0, line_bytes, "parse-yajl"};
#endif
  result s_sl = {"sl_jw, literal keys (connectors)", 0, 0, "ser-sl-lit"};
  result s_slz = {"sl_jw, sl_jw_keyz keys", 0, 0, "ser-sl-keyz"};
  result s_jn = {"jansson json_dumps", 0, 0, "ser-jansson"};
#ifdef HAVE_JSONC
  result s_jc = {"json-c to_json_string", 0, 0, "ser-jsonc"};
#endif
#ifdef HAVE_YAJL
  result s_yj = {"yajl_gen (validate_utf8)", 0, 0, "ser-yajl"};
#endif
  uint64_t ref_sum = 0;
  bool have_ref = false;
#define CHECKSUM(label, expr)                                                              \
  do {                                                                                     \
    uint64_t sum_ = (expr);                                                                \
    if (!ok) bad = true;                                                                   \
    else if (!have_ref) ref_sum = sum_, have_ref = true;                                   \
    else if (sum_ != ref_sum) {                                                            \
      fprintf(stderr, "bench-json: %s checksum %llu != %llu\n", label,                     \
              (unsigned long long)sum_, (unsigned long long)ref_sum);                      \
      bad = true;                                                                          \
    }                                                                                      \
  } while (0)

  for (int run = 0; run < runs; run++) {
    double t0;
    if (want(&p_sl)) {
      t0 = bench_now();
      CHECKSUM("sl_jparser", parse_sl(&ok));
      keep(&p_sl, bench_now() - t0);
    }
    if (want(&p_jn)) {
      t0 = bench_now();
      CHECKSUM("jansson", parse_jansson(&ok));
      keep(&p_jn, bench_now() - t0);
    }
#ifdef HAVE_JSONC
    if (want(&p_jc)) {
      t0 = bench_now();
      CHECKSUM("json-c", bench_jsonc_parse(buf, off, len, n_lines, &ok));
      keep(&p_jc, bench_now() - t0);
    }
#endif
#ifdef HAVE_YAJL
    if (want(&p_yj)) {
      nul_separators('\0');
      t0 = bench_now();
      CHECKSUM("yajl", parse_yajl(&ok));
      keep(&p_yj, bench_now() - t0);
      nul_separators('\n');
    }
#endif

    if (want(&s_sl)) {
      t0 = bench_now();
      s_sl.bytes = serialise_sl(write_sl, &ok);
      keep(&s_sl, bench_now() - t0);
      if (!ok) bad = true;
    }
    if (want(&s_slz)) {
      t0 = bench_now();
      s_slz.bytes = serialise_sl(write_sl_keyz, &ok);
      keep(&s_slz, bench_now() - t0);
      if (!ok) bad = true;
    }
    if (want(&s_jn)) {
      keep(&s_jn, serialise_jansson(&s_jn.bytes, &ok));
      if (!ok) bad = true;
    }
#ifdef HAVE_JSONC
    if (want(&s_jc)) keep(&s_jc, bench_jsonc_serialise(recs, n_lines, &s_jc.bytes));
#endif
#ifdef HAVE_YAJL
    if (want(&s_yj)) {
      t0 = bench_now();
      s_yj.bytes = serialise_yajl(&ok);
      keep(&s_yj, bench_now() - t0);
      if (!ok) bad = true;
    }
#endif
  }

  printf("\nparse: line -> record.type/stream/emitted_at, every field of record.data\n");
  printf("  %-34s %14s %19s %9s\n", "library", "rate", "", "vs jansson");
  row(&p_sl, &p_jn, n);
  row(&p_jn, &p_jn, n);
#ifdef HAVE_JSONC
  row(&p_jc, &p_jn, n);
#endif
#ifdef HAVE_YAJL
  row(&p_yj, &p_jn, n);
#endif
  printf("\nserialise: C values -> RECORD line (MB/s of each library's own output)\n");
  printf("  %-34s %14s %19s %9s\n", "library", "rate", "", "vs jansson");
  row(&s_sl, &s_jn, n);
  row(&s_slz, &s_jn, n);
  row(&s_jn, &s_jn, n);
#ifdef HAVE_JSONC
  row(&s_jc, &s_jn, n);
#endif
#ifdef HAVE_YAJL
  row(&s_yj, &s_jn, n);
#endif
  printf("  (jansson and json-c: trees prebuilt, untimed; their doubles print with 17 digits,\n"
         "   so their output is larger: compare lines/s)\n");

  rt_lib libs[] = {
      {"sl (simdjson+sl_jw)", rt_sl, true},
      {"jansson", rt_jansson, true},
#ifdef HAVE_JSONC
      {"json-c", bench_jsonc_roundtrip, true},
#endif
#ifdef HAVE_YAJL
      {"yajl", rt_yajl, true},
#endif
  };
  int64_report(libs, NELEM(libs));

  double parse_mbs = p_sl.best ? (double)p_sl.bytes / p_sl.best / 1e6 : 0;
  double ser_mbs = s_sl.best ? (double)s_sl.bytes / s_sl.best / 1e6 : 0;
  char pv[48] = "not run", sv[48] = "not run";
  if (p_sl.best) snprintf(pv, sizeof pv, "%.0f MB/s %s", parse_mbs, parse_mbs >= 1000 ? "(met)" : "(BELOW)");
  if (s_sl.best) snprintf(sv, sizeof sv, "%.0f MB/s %s", ser_mbs, ser_mbs >= 500 ? "(met)" : "(BELOW)");
  printf("\nbudget (DESIGN.md): parse >= 1000 MB/s: %s; serialise >= 500 MB/s: %s; int64 exact: %s\n",
         pv, sv, libs[0].exact ? "yes" : "NO");
  printf("correctness: sl_jw output identical to the corpus, parser checksums agree: %s\n",
         bad ? "NO" : "yes");
  free(recs);
  free(off);
  free(len);
  free(buf);
  return bad ? 1 : 0;
}
#endif
