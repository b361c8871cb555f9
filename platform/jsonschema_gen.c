/* Instances generated from a JSON Schema, deterministic in (seed, index).
 *
 * The schema at a place is a conjunction: the node itself, its allOf
 * members and the chosen oneOf/anyOf option of each, all of which must hold.
 * A value is made from the conjunction (const, else enum, else a type they
 * all allow), then the whole instance is validated against the schema; an
 * invalid one is made again with other choices a few times before giving
 * up with the validator's reason and the keywords that were not generated.
 *
 * Choices (an option, an enum value, a type, whether an optional property
 * is present) go round-robin over the index for the first attempt, so
 * instances 0..n-1 reach every option of every choice point with n
 * options; each choice point has its own offset, hashed from its place in
 * the schema so it is the same in every run. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/jsgen.h"
#include "sluice/rand.h"
#include "sluice/schema.h"

#define MAX_CONJ 24
#define MAX_DEPTH 24
#define ATTEMPTS 8
#define MAX_STR 256

typedef struct gen {
  const json_t *root;
  sl_rng rng;
  unsigned index, attempt;
  char why[512];     /* the first reason a value could not be made */
  char skipped[200]; /* keywords seen but not generated (not, if, ...) */
} gen;

typedef struct conj {
  const json_t *s[MAX_CONJ];
  size_t n;
} conj;

static void seed_rng(sl_rng *r, uint64_t seed, uint64_t salt) {
  /* splitmix64: any seed gives a well-mixed xoshiro state */
  uint64_t x = seed ^ (salt * 0x9E3779B97F4A7C15ull);
  for (int i = 0; i < 4; i++) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    r->s[i] = z ^ (z >> 31);
  }
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static uint64_t hash(const char *a, const char *b) {
  uint64_t h = 1469598103934665603ull;
  for (; *a; a++) h = (h ^ (unsigned char)*a) * 1099511628211ull;
  for (; b && *b; b++) h = (h ^ (unsigned char)*b) * 1099511628211ull;
  return h;
}

/* One of n alternatives at the choice point (place ptr, kind what). */
static size_t choose(gen *g, size_t n, const char *ptr, const char *what) {
  if (n <= 1) return 0;
  if (g->attempt == 0) return (g->index + hash(ptr, what)) % n;
  return sl_rng_next(&g->rng) % n;
}

static size_t below(gen *g, size_t n) { return n ? sl_rng_next(&g->rng) % n : 0; }

static void note(gen *g, const char *ptr, const char *fmt, const char *a) {
  if (g->why[0]) return;
  char what[400];
  snprintf(what, sizeof what, fmt, a ? a : "");
  snprintf(g->why, sizeof g->why, "%s: %s", *ptr ? ptr : "/", what);
}

static void skipped_kw(gen *g, const char *kw) {
  if (strstr(g->skipped, kw)) return;
  size_t l = strlen(g->skipped);
  snprintf(g->skipped + l, sizeof g->skipped - l, "%s%s", l ? ", " : "", kw);
}

/* ---- the conjunction at a place ---- */

static const json_t *deref(gen *g, const json_t *s) {
  for (int i = 0; i < 16 && json_is_object(s); i++) {
    const char *r = json_string_value(json_object_get(s, "$ref"));
    if (!r || r[0] != '#') break;
    const json_t *cur = g->root;
    char seg[256];
    for (const char *p = r + 1; *p == '/' && cur;) {
      size_t k = 0;
      for (p++; *p && *p != '/' && k + 1 < sizeof seg; p++) {
        if (*p == '~' && (p[1] == '0' || p[1] == '1')) seg[k++] = *++p == '0' ? '~' : '/';
        else seg[k++] = *p;
      }
      seg[k] = 0;
      cur = json_is_array(cur) ? json_array_get(cur, strtoul(seg, NULL, 10)) : json_object_get(cur, seg);
    }
    if (!cur) break;
    s = cur;
  }
  return s;
}

static bool add(gen *g, conj *c, const json_t *s, const char *ptr, int depth) {
  s = deref(g, s);
  if (json_is_false(s)) {
    note(g, ptr, "the schema false admits no value%s", NULL);
    return false;
  }
  if (!json_is_object(s)) return true; /* true, or not a schema: no constraint */
  if (c->n >= MAX_CONJ || depth > MAX_DEPTH) {
    note(g, ptr, "more than 24 nested allOf/oneOf/anyOf members%s", NULL);
    return false;
  }
  c->s[c->n++] = s;
  static const char *const unsupported[] = {"not", "if", "patternProperties", "dependencies", "contains", "propertyNames", NULL};
  for (size_t i = 0; unsupported[i]; i++)
    if (json_object_get(s, unsupported[i])) skipped_kw(g, unsupported[i]);
  size_t i;
  const json_t *m;
  json_array_foreach(json_object_get(s, "allOf"), i, m) if (!add(g, c, m, ptr, depth + 1)) return false;
  static const char *const one[] = {"oneOf", "anyOf", NULL};
  for (size_t k = 0; one[k]; k++) {
    const json_t *opts = json_object_get(s, one[k]);
    if (!json_array_size(opts)) continue;
    size_t pick = choose(g, json_array_size(opts), ptr, one[k]);
    if (!add(g, c, json_array_get(opts, pick), ptr, depth + 1)) return false;
  }
  return true;
}

static const json_t *first(const conj *c, const char *kw) {
  for (size_t i = 0; i < c->n; i++) {
    const json_t *v = json_object_get(c->s[i], kw);
    if (v) return v;
  }
  return NULL;
}

static bool in_array(const json_t *a, const json_t *v) {
  size_t i;
  const json_t *x;
  json_array_foreach(a, i, x) if (json_equal(x, v)) return true;
  return false;
}

/* ---- types ---- */

enum { T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16, T_ARR = 32, T_OBJ = 64, T_ALL = 127 };
static const char *const type_names[] = {"null", "boolean", "integer", "number", "string", "array", "object"};

static unsigned type_bits(const json_t *t) {
  unsigned b = 0;
  const json_t *x;
  size_t i;
  if (json_is_string(t)) {
    for (size_t k = 0; k < 7; k++)
      if (!strcmp(json_string_value(t), type_names[k])) b |= 1u << k;
  } else {
    json_array_foreach(t, i, x) b |= type_bits(x);
  }
  if (b & T_NUM) b |= T_INT; /* an integer is a number */
  return b;
}

/* The types every member allows; without any `type`, what the keywords
 * suggest (properties: object, items: array, ...), else a string. */
static unsigned allowed_types(const conj *c) {
  unsigned b = T_ALL;
  bool typed = false;
  for (size_t i = 0; i < c->n; i++) {
    const json_t *t = json_object_get(c->s[i], "type");
    if (t) b &= type_bits(t), typed = true;
  }
  if (typed) return b;
  if (first(c, "properties") || first(c, "required")) return T_OBJ;
  if (first(c, "items")) return T_ARR;
  if (first(c, "minimum") || first(c, "maximum")) return T_NUM | T_INT;
  return T_STR;
}

/* ---- numbers ---- */

static json_t *gen_number(gen *g, const conj *c, bool integer, const char *ptr) {
  double lo = -INFINITY, hi = INFINITY, mult = 0;
  bool lo_x = false, hi_x = false;
  for (size_t i = 0; i < c->n; i++) {
    const json_t *s = c->s[i], *v;
    if (json_is_number(v = json_object_get(s, "minimum"))) {
      double d = json_number_value(v);
      bool x = json_is_true(json_object_get(s, "exclusiveMinimum")); /* draft 4 */
      if (d > lo || (d == lo && x)) lo = d, lo_x = x;
    }
    if (json_is_number(v = json_object_get(s, "exclusiveMinimum")) && json_number_value(v) >= lo)
      lo = json_number_value(v), lo_x = true;
    if (json_is_number(v = json_object_get(s, "maximum"))) {
      double d = json_number_value(v);
      bool x = json_is_true(json_object_get(s, "exclusiveMaximum"));
      if (d < hi || (d == hi && x)) hi = d, hi_x = x;
    }
    if (json_is_number(v = json_object_get(s, "exclusiveMaximum")) && json_number_value(v) <= hi)
      hi = json_number_value(v), hi_x = true;
    if (json_is_number(v = json_object_get(s, "multipleOf")) && json_number_value(v) > 0 && !mult) mult = json_number_value(v);
  }
  if (isinf(lo) && isinf(hi)) lo = -1000, hi = 100000;
  else if (isinf(lo)) lo = hi - 1000;
  else if (isinf(hi)) hi = lo + 100000;
  if (integer || mult) {
    double step = mult ? mult : 1;
    double a = ceil(lo / step), b = floor(hi / step);
    if (lo_x && a * step <= lo) a++;
    if (hi_x && b * step >= hi) b--;
    if (a > b) {
      note(g, ptr, "no %s between the bounds", integer ? "integer" : "multiple");
      return NULL;
    }
    double span = b - a;
    double k;
    switch (choose(g, 4, ptr, "number")) {
    case 0: k = a; break;
    case 1: k = b; break;
    case 2: k = a + (span >= 1 ? 1 : 0); break;
    default: k = a + (span < 1e15 ? (double)below(g, (size_t)span + 1) : 0);
    }
    double v = k * step;
    if (fabs(v) > 9e15 || floor(v) != v) return json_real(v);
    return json_integer((json_int_t)v);
  }
  double frac = (double)(sl_rng_next(&g->rng) >> 11) / 9007199254740992.0;
  double v = lo + (hi - lo) * (0.05 + 0.9 * frac);
  if (!(v > lo || !lo_x) || !(v < hi || !hi_x)) {
    note(g, ptr, "no number between the bounds%s", NULL);
    return NULL;
  }
  return json_real(v);
}

/* ---- strings ---- */

static bool rx_matches(const char *re, const char *s);

static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* A value of format f; for date-time, `variant` picks a spelling (a pattern
 * next to the format often asks for one: fractions, an offset, no zone). */
static bool gen_format(gen *g, const char *f, unsigned variant, char *out, size_t n) {
  uint64_t r = sl_rng_next(&g->rng);
  unsigned y = 2000 + (unsigned)(r % 30), mo = 1 + (unsigned)(r >> 8) % 12, d = 1 + (unsigned)(r >> 16) % 28;
  unsigned h = (unsigned)(r >> 24) % 24, mi = (unsigned)(r >> 32) % 60, s = (unsigned)(r >> 40) % 60;
  static const char *const dt[] = {"%04u-%02u-%02uT%02u:%02u:%02uZ", "%04u-%02u-%02uT%02u:%02u:%02u.000Z",
                                   "%04u-%02u-%02uT%02u:%02u:%02u.000000Z", "%04u-%02u-%02uT%02u:%02u:%02u+00:00",
                                   "%04u-%02u-%02uT%02u:%02u:%02u", "%04u-%02u-%02u %02u:%02u:%02u"};
  if (!strcmp(f, "date-time")) snprintf(out, n, dt[variant % 6], y, mo, d, h, mi, s);
  else if (!strcmp(f, "date")) snprintf(out, n, "%04u-%02u-%02u", y, mo, d);
  else if (!strcmp(f, "time")) snprintf(out, n, "%02u:%02u:%02u", h, mi, s);
  else if (!strcmp(f, "email")) snprintf(out, n, "user%u@example.com", (unsigned)(r % 1000));
  else if (!strcmp(f, "uri") || !strcmp(f, "url") || !strcmp(f, "uri-reference")) snprintf(out, n, "https://example.com/p%u", (unsigned)(r % 1000));
  else if (!strcmp(f, "hostname")) snprintf(out, n, "host%u.example.com", (unsigned)(r % 1000));
  else if (!strcmp(f, "ipv4")) snprintf(out, n, "10.%u.%u.%u", (unsigned)(r % 256), (unsigned)(r >> 8) % 256, 1 + (unsigned)(r >> 16) % 254);
  else if (!strcmp(f, "ipv6")) snprintf(out, n, "fd00::%x", (unsigned)(r % 65536));
  else if (!strcmp(f, "uuid")) {
    char u[37];
    sl_uuid4(&g->rng, u);
    snprintf(out, n, "%s", u);
  } else return false;
  return true;
}

static json_t *gen_string(gen *g, const conj *c, const char *ptr) {
  size_t minl = 0, maxl = SIZE_MAX;
  for (size_t i = 0; i < c->n; i++) {
    const json_t *v;
    if (json_is_integer(v = json_object_get(c->s[i], "minLength")) && (size_t)json_integer_value(v) > minl) minl = (size_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(c->s[i], "maxLength")) && (size_t)json_integer_value(v) < maxl) maxl = (size_t)json_integer_value(v);
  }
  if (minl > maxl || minl > MAX_STR) {
    note(g, ptr, "minLength/maxLength admit no string%s", NULL);
    return NULL;
  }
  char buf[MAX_STR * 4 + 1];
  const char *pattern = json_string_value(first(c, "pattern"));
  const char *fmt = json_string_value(first(c, "format"));
  if (pattern && fmt) {
    /* a format value that also matches the pattern, in one of its spellings */
    for (unsigned v = 0; v < 6; v++) {
      if (gen_format(g, fmt, v, buf, sizeof buf) && strlen(buf) >= minl && strlen(buf) <= maxl && rx_matches(pattern, buf))
        return json_string(buf);
      if (strcmp(fmt, "date-time")) break;
    }
  }
  if (pattern) {
    char why[300];
    for (int t = 0; t < 16; t++) {
      if (!sl_jsgen_regex(pattern, sl_rng_next(&g->rng), buf, sizeof buf, why, sizeof why)) {
        note(g, ptr, "%s", why);
        return NULL;
      }
      size_t l = strlen(buf);
      if (l >= minl && l <= maxl) return json_string(buf);
    }
    note(g, ptr, "no string of the pattern within minLength/maxLength%s", NULL);
    return NULL;
  }
  if (fmt && gen_format(g, fmt, (unsigned)choose(g, 6, ptr, "spelling") % 2, buf, sizeof buf) && strlen(buf) >= minl && strlen(buf) <= maxl) return json_string(buf);
  size_t hi = maxl < minl + 12 ? maxl : minl + 12;
  size_t len = minl + below(g, hi - minl + 1);
  for (size_t i = 0; i < len; i++) buf[i] = alnum[below(g, sizeof alnum - 1)];
  buf[len] = 0;
  return json_string(buf);
}

/* ---- values ---- */

static json_t *gen_value(gen *g, const json_t *schema, const char *ptr, int depth);

static json_t *gen_array(gen *g, const conj *c, const char *ptr, int depth) {
  size_t mini = 0, maxi = SIZE_MAX;
  bool unique = false;
  for (size_t i = 0; i < c->n; i++) {
    const json_t *v;
    if (json_is_integer(v = json_object_get(c->s[i], "minItems")) && (size_t)json_integer_value(v) > mini) mini = (size_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(c->s[i], "maxItems")) && (size_t)json_integer_value(v) < maxi) maxi = (size_t)json_integer_value(v);
    unique |= json_is_true(json_object_get(c->s[i], "uniqueItems"));
  }
  if (mini > maxi || mini > 64) {
    note(g, ptr, "minItems/maxItems admit no array%s", NULL);
    return NULL;
  }
  size_t hi = maxi < mini + 3 ? maxi : mini + 3;
  size_t len = mini + choose(g, hi - mini + 1, ptr, "items");
  const json_t *items = first(c, "items");
  json_t *arr = json_array();
  char sub[1024];
  for (size_t i = 0, tries = 0; json_array_size(arr) < len && tries < len * 4 + 4; tries++) {
    snprintf(sub, sizeof sub, "%s/%zu", ptr, i);
    const json_t *is = json_is_array(items) ? json_array_get(items, i) : items;
    if (!is) is = first(c, "additionalItems");
    json_t *v = gen_value(g, is ? is : json_true(), sub, depth + 1);
    if (!v) break;
    if (unique && in_array(arr, v)) {
      json_decref(v);
      continue;
    }
    json_array_append_new(arr, v), i++;
  }
  if (json_array_size(arr) < mini) {
    note(g, ptr, "fewer than minItems distinct items%s", NULL);
    json_decref(arr);
    return NULL;
  }
  return arr;
}

/* A property's conjunction across the members: every member that
 * declares it; a required one no member declares follows
 * additionalProperties. */
static json_t *gen_property(gen *g, const conj *c, const char *name, const char *ptr, int depth) {
  json_t *all = json_array();
  for (size_t i = 0; i < c->n; i++) {
    const json_t *p = json_object_get(json_object_get(c->s[i], "properties"), name);
    if (p) json_array_append(all, (json_t *)p);
  }
  if (!json_array_size(all)) {
    const json_t *ap = first(c, "additionalProperties");
    json_array_append(all, (json_t *)(json_is_object(ap) ? ap : json_true()));
  }
  json_t *wrap = json_array_size(all) == 1 ? json_incref(json_array_get(all, 0)) : json_pack("{sO}", "allOf", all);
  json_t *v = gen_value(g, wrap, ptr, depth + 1);
  json_decref(wrap), json_decref(all);
  return v;
}

static json_t *gen_object(gen *g, const conj *c, const char *ptr, int depth) {
  json_t *names = json_array(), *req = json_array();
  for (size_t i = 0; i < c->n; i++) {
    const char *k;
    json_t *p;
    size_t j;
    json_object_foreach(json_object_get(c->s[i], "properties"), k, p) {
      json_t *s = json_string(k);
      if (!in_array(names, s)) json_array_append(names, s);
      json_decref(s);
    }
    json_array_foreach(json_object_get(c->s[i], "required"), j, p) if (json_is_string(p) && !in_array(req, p)) json_array_append(req, p);
  }
  size_t minp = 0, maxp = SIZE_MAX;
  const json_t *v;
  if (json_is_integer(v = first(c, "minProperties"))) minp = (size_t)json_integer_value(v);
  if (json_is_integer(v = first(c, "maxProperties"))) maxp = (size_t)json_integer_value(v);
  json_t *obj = json_object();
  char sub[1024];
  size_t i;
  json_t *nm;
  bool ok = true;
  /* required first, then optional ones: all (index 0), none (1), else a coin each */
  for (int pass = 0; pass < 2 && ok; pass++) {
    json_t *list = pass == 0 ? req : names;
    json_array_foreach(list, i, nm) {
      const char *k = json_string_value(nm);
      if (json_object_get(obj, k)) continue;
      bool is_req = in_array(req, nm);
      if (pass == 1 && !is_req) {
        bool want = g->attempt == 0 && g->index == 0 ? true
                    : g->attempt == 0 && g->index == 1 ? false
                    : (sl_rng_next(&g->rng) & 1) != 0;
        if (json_object_size(obj) < minp) want = true;
        if (json_object_size(obj) >= maxp) want = false;
        if (!want) continue;
      }
      snprintf(sub, sizeof sub, "%s/%s", ptr, k);
      json_t *pv = gen_property(g, c, k, sub, depth);
      if (!pv) {
        if (is_req) ok = false;
        continue; /* an optional property that cannot be made is left out */
      }
      json_object_set_new(obj, k, pv);
    }
  }
  json_decref(names), json_decref(req);
  if (!ok) {
    json_decref(obj);
    return NULL;
  }
  return obj;
}

static json_t *gen_value(gen *g, const json_t *schema, const char *ptr, int depth) {
  if (depth > MAX_DEPTH) {
    note(g, ptr, "nested deeper than 24 levels%s", NULL);
    return NULL;
  }
  conj c = {.n = 0};
  if (!add(g, &c, schema, ptr, depth)) return NULL;
  const json_t *cv = first(&c, "const");
  if (cv) return json_deep_copy(cv);
  /* enum: a value every member's enum has */
  const json_t *en = first(&c, "enum");
  if (json_is_array(en)) {
    json_t *ok = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(en, i, x) {
      bool all = true;
      for (size_t k = 0; k < c.n; k++) {
        const json_t *o = json_object_get(c.s[k], "enum");
        if (json_is_array(o) && !in_array(o, x)) all = false;
      }
      if (all) json_array_append(ok, x);
    }
    json_t *pick = json_array_size(ok) ? json_deep_copy(json_array_get(ok, choose(g, json_array_size(ok), ptr, "enum"))) : NULL;
    json_decref(ok);
    if (!pick) note(g, ptr, "the enums of allOf/oneOf members have no value in common%s", NULL);
    return pick;
  }
  /* a default or an example, now and then: the values users actually write */
  const json_t *dflt = first(&c, "default"), *ex = first(&c, "examples");
  uint64_t r = sl_rng_next(&g->rng) % 8;
  if (dflt && r == 0) return json_deep_copy(dflt);
  if (json_array_size(ex) && r == 1) return json_deep_copy(json_array_get(ex, below(g, json_array_size(ex))));
  unsigned bits = allowed_types(&c);
  if (!bits) {
    note(g, ptr, "the members' types have nothing in common%s", NULL);
    return NULL;
  }
  if (bits & T_NUM) bits &= ~(unsigned)T_INT; /* number covers integers */
  unsigned list[7], n = 0;
  for (unsigned k = 0; k < 7; k++)
    if (bits & (1u << k)) list[n++] = 1u << k;
  unsigned t = list[choose(g, n, ptr, "type")];
  switch (t) {
  case T_NULL: return json_null();
  case T_BOOL: return json_boolean(choose(g, 2, ptr, "boolean"));
  case T_INT: return gen_number(g, &c, true, ptr);
  case T_NUM: {
    /* a number: an integral one now and then, else (or when no integer
     * fits the bounds) a fraction */
    char saved[sizeof g->why];
    memcpy(saved, g->why, sizeof saved);
    json_t *v = choose(g, 2, ptr, "integral") ? gen_number(g, &c, true, ptr) : NULL;
    memcpy(g->why, saved, sizeof saved);
    return v ? v : gen_number(g, &c, false, ptr);
  }
  case T_STR: return gen_string(g, &c, ptr);
  case T_ARR: return gen_array(g, &c, ptr, depth);
  default: return gen_object(g, &c, ptr, depth);
  }
}

json_t *sl_jsgen_instance(const json_t *schema, uint64_t seed, unsigned index, char *why, size_t n) {
  gen g = {.root = schema, .index = index};
  char last[SL_ERR_MSG_MAX] = "";
  for (g.attempt = 0; g.attempt < ATTEMPTS; g.attempt++) {
    seed_rng(&g.rng, seed, ((uint64_t)index << 8) | g.attempt);
    g.why[0] = 0;
    json_t *v = gen_value(&g, schema, "", 0);
    if (!v) {
      snprintf(last, sizeof last, "%s", g.why);
      if (!strstr(g.why, "pattern")) continue;
      break; /* an unsupported pattern stays unsupported */
    }
    sl_err e = SL_ERR_INIT;
    if (sl_schema_validate(schema, v, "instance", &e) == SL_EOK) return v;
    snprintf(last, sizeof last, "%s", e.msg);
    json_decref(v);
  }
  snprintf(why, n, "%s%s%s%s", last, g.skipped[0] ? " (not generated: " : "", g.skipped, g.skipped[0] ? ")" : "");
  return NULL;
}

/* ---- strings from a regular expression ----
 * Literals, escapes (\d \w \s and escaped punctuation), classes with
 * ranges and negation, ., groups (capturing and (?:...)), alternation,
 * anchors, and the quantifiers ? * + {n} {n,} {n,m} (lazy or not).
 * Lookarounds and \b generate nothing (the PCRE2 check of each candidate
 * decides); backreferences and Unicode properties are not generated. */

typedef struct rx {
  const char *re;
  sl_rng rng;
  char *out;
  size_t len, cap;
  char why[200];
} rx;

static void rx_put(rx *x, char ch) {
  if (x->len + 1 < x->cap) x->out[x->len++] = ch;
  else if (!x->why[0]) snprintf(x->why, sizeof x->why, "pattern \"%s\": the strings are longer than %zu bytes", x->re, x->cap - 1);
}

/* End of the atom starting at p (exclusive), or NULL when malformed. */
static const char *atom_end(const char *p, const char *end) {
  if (*p == '\\') return p + 2 <= end ? p + 2 : NULL;
  if (*p == '[') {
    const char *q = p + 1;
    if (q < end && *q == '^') q++;
    if (q < end && *q == ']') q++;
    for (; q < end && *q != ']'; q++)
      if (*q == '\\') q++;
    return q < end ? q + 1 : NULL;
  }
  if (*p == '(') {
    int d = 0;
    for (const char *q = p; q < end; q++) {
      if (*q == '\\') q++;
      else if (*q == '[') {
        const char *e = atom_end(q, end);
        if (!e) return NULL;
        q = e - 1;
      } else if (*q == '(') d++;
      else if (*q == ')' && --d == 0) return q + 1;
    }
    return NULL;
  }
  return p + 1;
}

static bool class_has(const char *p, const char *end, unsigned char ch, bool *neg) {
  p++; /* '[' */
  end--; /* ']' */
  *neg = *p == '^';
  if (*neg) p++;
  bool in = false;
  for (const char *q = p; q < end; q++) {
    unsigned char lo = (unsigned char)*q;
    if (*q == '\\' && q + 1 < end) {
      char e = *++q;
      if ((e == 'd' && ch >= '0' && ch <= '9') || (e == 'w' && (ch == '_' || strchr(alnum, ch))) || (e == 's' && ch == ' ')) in = true;
      if (strchr("dwsDWS", e)) continue;
      lo = (unsigned char)(e == 'n' ? '\n' : e == 't' ? '\t' : e);
    }
    unsigned char hi = lo;
    if (q + 2 < end && q[1] == '-' && q[2] != ']') {
      hi = (unsigned char)(q[2] == '\\' && q + 3 < end ? q[3] : q[2]);
      q += q[2] == '\\' ? 3 : 2;
    }
    if (ch >= lo && ch <= hi) in = true;
  }
  return in;
}

static void rx_alt(rx *x, const char *p, const char *end, int depth);

static void rx_atom(rx *x, const char *p, const char *e, int depth) {
  static const char printable[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. :/@";
  if (*p == '(') {
    const char *in = p + 1;
    if (in[0] == '?') {
      /* lookarounds are zero-width: nothing is generated for them, and the
       * PCRE2 check of the whole string decides; named groups are groups */
      if (in[1] == '=' || in[1] == '!' || (in[1] == '<' && (in[2] == '=' || in[2] == '!'))) return;
      if (in[1] == ':') in += 2;
      else if ((in[1] == '<' || (in[1] == 'P' && in[2] == '<')) && strchr(in, '>') && strchr(in, '>') < e) in = strchr(in, '>') + 1;
      else {
        if (!x->why[0]) snprintf(x->why, sizeof x->why, "pattern \"%s\": (?%c...) is not generated", x->re, in[1]);
        return;
      }
    }
    rx_alt(x, in, e - 1, depth + 1);
  } else if (*p == '[') {
    bool neg;
    char ok[256];
    size_t n = 0;
    for (int ch = 32; ch < 127; ch++)
      if (class_has(p, e, (unsigned char)ch, &neg) != neg) ok[n++] = (char)ch;
    if (!n) {
      if (!x->why[0]) snprintf(x->why, sizeof x->why, "pattern \"%s\": the class %.*s has no printable ASCII character", x->re, (int)(e - p), p);
      return;
    }
    rx_put(x, ok[sl_rng_next(&x->rng) % n]);
  } else if (*p == '\\') {
    char ch = p[1];
    switch (ch) {
    case 'd': rx_put(x, (char)('0' + sl_rng_next(&x->rng) % 10)); break;
    case 'w': rx_put(x, alnum[sl_rng_next(&x->rng) % (sizeof alnum - 1)]); break;
    case 's': rx_put(x, ' '); break;
    case 'D': case 'W': rx_put(x, '-'); break;
    case 'S': rx_put(x, 'x'); break;
    case 'n': rx_put(x, '\n'); break;
    case 't': rx_put(x, '\t'); break;
    case 'b': case 'B': break; /* zero-width: the PCRE2 check decides */
    case 'p': case 'P': case 'k': case 'u': case 'x': case 'c':
      if (!x->why[0]) snprintf(x->why, sizeof x->why, "pattern \"%s\": \\%c is not generated", x->re, ch);
      break;
    default:
      if (ch >= '1' && ch <= '9') {
        if (!x->why[0]) snprintf(x->why, sizeof x->why, "pattern \"%s\": backreferences are not generated", x->re);
      } else rx_put(x, ch);
    }
  } else if (*p == '.') {
    rx_put(x, printable[sl_rng_next(&x->rng) % (sizeof printable - 1)]);
  } else if (*p != '^' && *p != '$') {
    rx_put(x, *p);
  }
}

static void rx_seq(rx *x, const char *p, const char *end, int depth) {
  while (p < end && !x->why[0]) {
    const char *e = atom_end(p, end);
    if (!e || strchr("*+?)", *p) || (*p == '{' && p[1] >= '0' && p[1] <= '9')) {
      snprintf(x->why, sizeof x->why, "pattern \"%s\": cannot read it at \"%.20s\"", x->re, p);
      return;
    }
    unsigned lo = 1, hi = 1;
    const char *q = e;
    if (q < end && (*q == '*' || *q == '+' || *q == '?')) {
      lo = *q == '+' ? 1 : 0, hi = *q == '?' ? 1 : 3;
      q++;
    } else if (q < end && *q == '{' && q[1] >= '0' && q[1] <= '9') {
      char *r;
      lo = hi = (unsigned)strtoul(q + 1, &r, 10);
      if (*r == ',') hi = r[1] == '}' ? lo + 2 : (unsigned)strtoul(r + 1, &r, 10);
      if (*r == ',' ) r++;
      if (*r != '}' || hi < lo || hi > 1000) {
        snprintf(x->why, sizeof x->why, "pattern \"%s\": cannot read the quantifier at \"%.20s\"", x->re, q);
        return;
      }
      q = r + 1;
    }
    if (q < end && *q == '?') q++; /* lazy */
    unsigned count = lo + (unsigned)(sl_rng_next(&x->rng) % (hi - lo + 1));
    for (unsigned k = 0; k < count && !x->why[0]; k++) rx_atom(x, p, e, depth);
    p = q;
  }
}

static void rx_alt(rx *x, const char *p, const char *end, int depth) {
  if (depth > 32) {
    snprintf(x->why, sizeof x->why, "pattern \"%s\": groups nested too deep", x->re);
    return;
  }
  /* the top-level alternatives of p..end */
  const char *alts[64];
  size_t n = 0;
  alts[n++] = p;
  for (const char *q = p; q < end;) {
    const char *e = atom_end(q, end);
    if (!e) {
      snprintf(x->why, sizeof x->why, "pattern \"%s\": unbalanced at \"%.20s\"", x->re, q);
      return;
    }
    if (*q == '|' && n < 64) alts[n++] = q + 1;
    q = e;
  }
  size_t pick = sl_rng_next(&x->rng) % n;
  const char *a = alts[pick], *b = pick + 1 < n ? alts[pick + 1] - 1 : end;
  rx_seq(x, a, b, depth);
}

/* re matches somewhere in s (JSON Schema's pattern: a search). */
static bool rx_matches(const char *re, const char *s) {
  int ec;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
  if (!code) return false;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
  bool ok = md && pcre2_match(code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) >= 0;
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return ok;
}

bool sl_jsgen_regex(const char *re, uint64_t seed, char *out, size_t outn, char *why, size_t n) {
  int ec;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
  if (!code) {
    snprintf(why, n, "pattern \"%s\" is not a valid regular expression (offset %zu)", re, (size_t)off);
    return false;
  }
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
  bool ok = false;
  rx x = {.re = re, .out = out, .cap = outn};
  seed_rng(&x.rng, seed, 0x5eed);
  for (int t = 0; t < 16 && !ok; t++) {
    x.len = 0, x.why[0] = 0;
    rx_alt(&x, re, re + strlen(re), 0);
    out[x.len] = 0;
    if (x.why[0]) break;
    ok = pcre2_match(code, (PCRE2_SPTR)out, x.len, 0, 0, md, NULL) >= 0;
  }
  if (!ok && x.why[0]) snprintf(why, n, "%s", x.why);
  else if (!ok) snprintf(why, n, "pattern \"%s\": no generated string matched it", re);
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  return ok;
}
