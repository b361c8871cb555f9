/* Schema inference from test-read records, its diff against the declared
 * schema, and the warnings shown after a test read. */
#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "sluice/json.h"
#include "sluice/schema.h"

/* Accumulator: {"t": {type: true}, "p": {name: acc}, "i": acc}. */
static json_t *acc_new(void) { return json_pack("{s:{}}", "t"); }

static void acc_add(json_t *acc, const json_t *v, int depth) {
  json_object_set_new(json_object_get(acc, "t"), sl_json_type_name(v), json_true());
  if (depth > 64) return;
  if (json_is_object(v)) {
    json_t *p = json_object_get(acc, "p");
    if (!p) json_object_set_new(acc, "p", p = json_object());
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      json_t *sub = json_object_get(p, k);
      if (!sub) json_object_set_new(p, k, sub = acc_new());
      acc_add(sub, m, depth + 1);
    }
  } else if (json_is_array(v)) {
    json_t *it = json_object_get(acc, "i");
    if (!it) json_object_set_new(acc, "i", it = acc_new());
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) acc_add(it, m, depth + 1);
  }
}

static json_t *acc_render(const json_t *acc, bool top) {
  json_t *t = json_object_get(acc, "t");
  bool num = json_object_get(t, "number") != NULL;
  json_t *types = json_array();
  if (!top) json_array_append_new(types, json_string("null"));
  static const char *const order[] = {"array", "boolean", "integer", "number", "object", "string"};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++)
    if (json_object_get(t, order[i]) && !(num && !strcmp(order[i], "integer")))
      json_array_append_new(types, json_string(order[i]));
  json_t *s = json_object();
  if (top && json_array_size(types) == 1) json_object_set(s, "type", json_array_get(types, 0));
  else json_object_set(s, "type", types);
  json_decref(types);
  const json_t *p = json_object_get(acc, "p");
  if (p) {
    json_t *props = json_object();
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)p, k, sub) json_object_set_new(props, k, acc_render(sub, false));
    json_object_set_new(s, "properties", props);
  }
  const json_t *it = json_object_get(acc, "i");
  if (it) json_object_set_new(s, "items", acc_render(it, false));
  return s;
}

json_t *bld_infer_schema(const json_t *records) {
  json_t *acc = acc_new();
  size_t i;
  json_t *r;
  json_array_foreach(records, i, r) acc_add(acc, r, 0);
  if (!json_array_size(records)) json_object_set_new(json_object_get(acc, "t"), "object", json_true());
  json_t *s = acc_render(acc, true);
  json_decref(acc);
  json_object_set_new(s, "$schema", json_string("http://json-schema.org/schema#"));
  json_object_set_new(s, "additionalProperties", json_true());
  return s;
}

/* The non-null types of a schema as a sorted "a|b" string. */
static void type_key(const json_t *s, char *out, size_t n) {
  const json_t *t = json_object_get(s, "type");
  out[0] = 0;
  bool num = false, intg = false;
  const char *names[8];
  size_t k = 0;
  if (json_is_string(t)) names[k++] = json_string_value(t);
  size_t i;
  json_t *m;
  json_array_foreach(t, i, m) if (json_is_string(m) && k < 8) names[k++] = json_string_value(m);
  for (i = 0; i < k; i++) {
    num |= !strcmp(names[i], "number");
    intg |= !strcmp(names[i], "integer");
  }
  static const char *const order[] = {"array", "boolean", "integer", "number", "object", "string"};
  for (size_t o = 0; o < 6; o++) {
    bool has = false;
    for (i = 0; i < k; i++) has |= !strcmp(names[i], order[o]);
    if (!has || (num && intg && !strcmp(order[o], "integer"))) continue;
    size_t l = strlen(out);
    snprintf(out + l, n - l, "%s%s", l ? "|" : "", order[o]);
  }
}

static void diff_at(const json_t *d, const json_t *inf, const char *path, json_t *out, int depth) {
  const json_t *dp = json_object_get(d, "properties"), *ip = json_object_get(inf, "properties");
  if (depth > 32) return;
  const char *k;
  json_t *v;
  char sub[1024];
  json_object_foreach((json_t *)ip, k, v) {
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
    const json_t *dv = json_object_get(dp, k);
    if (!dv) {
      json_array_append_new(out, json_pack("{s:s,s:s,s:O}", "path", sub, "change", "added", "inferred", v));
      continue;
    }
    char a[128], b[128];
    type_key(dv, a, sizeof a);
    type_key(v, b, sizeof b);
    /* A declared number accepts integers. */
    bool compatible = !strcmp(a, b) || (strstr(a, "number") && !strcmp(b, "integer")) || !a[0];
    if (!compatible)
      json_array_append_new(out, json_pack("{s:s,s:s,s:O,s:O}", "path", sub, "change", "type", "declared", dv,
                                           "inferred", v));
    else diff_at(dv, v, sub, out, depth + 1);
  }
  json_object_foreach((json_t *)dp, k, v) {
    if (json_object_get(ip, k)) continue;
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
    json_array_append_new(out, json_pack("{s:s,s:s,s:O}", "path", sub, "change", "removed", "declared", v));
  }
}

json_t *bld_schema_diff(const json_t *declared, const json_t *inferred) {
  json_t *out = json_array();
  diff_at(declared, inferred, "", out, 0);
  return out;
}

static void warn(json_t *w, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(json_t *w, const char *code, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_array_append_new(w, json_pack("{s:s,s:s}", "code", code, "message", msg));
}

/* Every record of the result, in order (borrowed into a new array). */
json_t *bld_result_records(const json_t *res) {
  json_t *all = json_array();
  size_t i, j;
  json_t *s, *p;
  json_array_foreach(json_object_get(res, "slices"), i, s) json_array_foreach(json_object_get(s, "pages"), j, p)
      json_array_extend(all, json_object_get(p, "records"));
  return all;
}

/* primary_key as a list of paths: "id" -> [["id"]], ["a","b"] -> [["a"],["b"]]. */
static json_t *pk_paths(const json_t *pk) {
  json_t *out = json_array();
  if (json_is_string(pk)) json_array_append_new(out, json_pack("[O]", pk));
  size_t i;
  json_t *m;
  json_array_foreach(pk, i, m) {
    if (json_is_string(m)) json_array_append_new(out, json_pack("[O]", m));
    else if (json_is_array(m)) json_array_append(out, m);
  }
  return out;
}

static const json_t *at_path(const json_t *rec, const json_t *path) {
  size_t i;
  json_t *k;
  json_array_foreach(path, i, k) rec = json_object_get(rec, json_string_value(k));
  return rec;
}

static void pk_warnings(json_t *w, const json_t *recs, const json_t *pk) {
  json_t *paths = pk_paths(pk);
  if (!json_array_size(paths)) return (void)json_decref(paths);
  json_t *seen = json_object();
  size_t missing = 0, dups = 0, i, j;
  json_t *r, *p;
  char *first_dup = NULL;
  json_array_foreach(recs, i, r) {
    json_t *key = json_array();
    bool miss = false;
    json_array_foreach(paths, j, p) {
      const json_t *v = at_path(r, p);
      if (!v || json_is_null(v)) miss = true;
      json_array_append(key, v ? (json_t *)v : json_null());
    }
    char *ks = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(key);
    if (miss) missing++;
    else if (ks && json_object_get(seen, ks)) {
      if (!dups++) first_dup = strdup(ks);
    } else if (ks) json_object_set_new(seen, ks, json_true());
    free(ks);
  }
  char *pks = json_dumps(pk, JSON_COMPACT);
  if (missing)
    warn(w, "primary_key_missing", "%zu of %zu records lack a value for the primary key %s", missing,
         json_array_size(recs), pks ? pks : "");
  if (dups)
    warn(w, "primary_key_not_unique", "the primary key %s is not unique: %zu duplicate value(s), e.g. %s",
         pks ? pks : "", dups, first_dup ? first_dup : "");
  free(pks);
  free(first_dup);
  json_decref(seen);
  json_decref(paths);
}

/* An exchange with an error status the read went past (ignored or retried). */
static void http_warning(json_t *w, size_t slice, const json_t *ex, bool bad) {
  const json_t *req = json_object_get(ex, "request"), *resp = json_object_get(ex, "response");
  json_int_t st = json_integer_value(json_object_get(resp, "status"));
  if (!bad || st < 400) return;
  const char *m = json_string_value(json_object_get(req, "method")), *u = json_string_value(json_object_get(req, "url"));
  warn(w, "http_error", "slice %zu: HTTP %lld from %s %s (the read went on: ignored or retried by the error handler)",
       slice + 1, (long long)st, m ? m : "?", u ? u : "?");
}

static void http_warnings(json_t *w, size_t slice, const json_t *exchanges) {
  size_t k;
  json_t *ex;
  json_array_foreach(exchanges, k, ex) http_warning(w, slice, ex, true);
}

json_t *bld_warnings(const json_t *res, const json_t *stream) {
  json_t *w = json_array();
  json_t *recs = bld_result_records(res);
  bool err = json_object_get(res, "error") != NULL;
  if (!err && !json_array_size(recs)) {
    size_t pages = 0, i;
    json_t *s;
    json_array_foreach(json_object_get(res, "slices"), i, s) pages += json_array_size(json_object_get(s, "pages"));
    warn(w, "no_records",
         pages ? "the test read extracted no records from %zu page(s): check the record selector's field_path"
               : "the test read made no request that returned records (%zu pages)",
         pages);
  }
  const char *limit = json_string_value(json_object_get(res, "limit"));
  if (limit && !strcmp(limit, "pages"))
    warn(w, "pagination_not_ending",
         "pagination did not end within the page limit of a slice: check the paginator's stop condition (or "
         "raise the limit)");
  size_t i, j;
  json_t *s, *p;
  json_array_foreach(json_object_get(res, "slices"), i, s) {
    json_array_foreach(json_object_get(s, "pages"), j, p) {
      http_warning(w, i, p, json_integer_value(json_object_get(json_object_get(p, "response"), "status")) >= 400 &&
                                !json_object_get(p, "failed"));
      http_warnings(w, i, json_object_get(p, "auxiliary_requests"));
    }
    /* A response the error handler ignored makes no page: it ends the slice's exchanges. */
    http_warnings(w, i, json_object_get(s, "auxiliary_requests"));
  }
  const json_t *cf = json_object_get(json_object_get(stream, "incremental_sync"), "cursor_field");
  const char *cfs = json_string_value(cf);
  if (cfs && !strstr(cfs, "{{") && json_array_size(recs)) {
    size_t miss = 0;
    json_t *r;
    json_array_foreach(recs, j, r) if (!json_object_get(r, cfs)) miss++;
    if (miss)
      warn(w, "cursor_field_missing", "%zu of %zu records lack the cursor field \"%s\"", miss, json_array_size(recs),
           cfs);
  }
  if (json_array_size(recs)) pk_warnings(w, recs, json_object_get(stream, "primary_key"));
  json_decref(recs);
  return w;
}

/* Declared-vs-returned differences that would break a sync (Airbyte's
 * "incompatible changes"): a type the declared schema does not allow, or a
 * property it forbids (additionalProperties: false). */
void bld_schema_warnings(json_t *w, const json_t *diff, const json_t *declared) {
  size_t i;
  json_t *d;
  bool closed = json_is_false(json_object_get(declared, "additionalProperties"));
  json_array_foreach(diff, i, d) {
    const char *ch = json_string_value(json_object_get(d, "change")), *path = json_string_value(json_object_get(d, "path"));
    if (!ch || !path) continue;
    char a[128], b[128];
    if (!strcmp(ch, "type")) {
      type_key(json_object_get(d, "declared"), a, sizeof a);
      type_key(json_object_get(d, "inferred"), b, sizeof b);
      warn(w, "schema_incompatible",
           "records have \"%s\" as %s but the declared schema says %s: a sync would send values its schema "
           "does not allow (take the detected schema, or fix the records)",
           path, b, a);
    } else if (!strcmp(ch, "added") && closed && !strchr(path, '.')) {
      warn(w, "schema_incompatible",
           "records have \"%s\", which the declared schema forbids (additionalProperties: false)", path);
    }
  }
}

/* ---- datetime formats of record fields (the CDK's DatetimeFormatInferrer) ---- */

/* Whether s has the shape pat: 'd' a digit, '+' one or more digits, 'z' a
 * sign, anything else itself. */
static bool shape(const char *s, const char *pat) {
  for (; *pat; pat++) {
    if (*pat == 'd') {
      if (!isdigit((unsigned char)*s++)) return false;
    } else if (*pat == '+') {
      if (!isdigit((unsigned char)*s)) return false;
      while (isdigit((unsigned char)*s)) s++;
    } else if (*pat == 'z') {
      if (*s != '+' && *s != '-') return false;
      s++;
    } else if (*s++ != *pat) {
      return false;
    }
  }
  return !*s;
}

/* The format a value is written in, or NULL: strings of the usual shapes,
 * integers as seconds or milliseconds since the epoch (years 2001-2033). */
static const char *value_format(const json_t *v) {
  static const struct { const char *shape, *format; } forms[] = {
      {"dddd-dd-ddTdd:dd:ddZ", "%Y-%m-%dT%H:%M:%SZ"},
      {"dddd-dd-ddTdd:dd:dd.+Z", "%Y-%m-%dT%H:%M:%S.%fZ"},
      {"dddd-dd-ddTdd:dd:ddzdd:dd", "%Y-%m-%dT%H:%M:%S%z"},
      {"dddd-dd-ddTdd:dd:dd.+zdd:dd", "%Y-%m-%dT%H:%M:%S.%f%z"},
      {"dddd-dd-ddTdd:dd:dd", "%Y-%m-%dT%H:%M:%S"},
      {"dddd-dd-dd dd:dd:dd", "%Y-%m-%d %H:%M:%S"},
      {"dddd-dd-dd", "%Y-%m-%d"},
  };
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
      if (shape(s, forms[i].shape)) return forms[i].format;
    return NULL;
  }
  if (json_is_integer(v)) {
    json_int_t n = json_integer_value(v);
    if (n >= 1000000000LL && n < 2000000000LL) return "%s";
    if (n >= 1000000000000LL && n < 2000000000000LL) return "%ms";
  }
  return NULL;
}

json_t *bld_datetime_formats(const json_t *records) {
  json_t *seen = json_object(); /* field -> format, or null once inconsistent */
  size_t i;
  json_t *r;
  json_array_foreach(records, i, r) {
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
      if (json_is_null(v)) continue;
      const char *f = value_format(v);
      const json_t *had = json_object_get(seen, k);
      if (!had) json_object_set_new(seen, k, f ? json_string(f) : json_null());
      else if (json_is_string(had) && (!f || strcmp(f, json_string_value(had))))
        json_object_set_new(seen, k, json_null());
    }
  }
  json_t *out = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(seen, k, v) if (json_is_string(v)) json_object_set(out, k, v);
  json_decref(seen);
  return out;
}
