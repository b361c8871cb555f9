/* DynamicSchemaLoader: a stream's JSON schema built from an endpoint that
 * describes its fields (the CDK's dynamic_schema_loader.py). The first
 * record of the loader's retriever holds, at schema_pointer, a list of field
 * definitions; each gives a property name (key_pointer) and a type
 * (type_pointer, default "string"), which types_mapping may replace (the
 * first TypesMap whose current_type matches and whose condition, seeing
 * raw_schema, holds). Types become Airbyte's JSON-schema types; a list of
 * two types is a oneOf; ComplexFieldType gives arrays with items. Then
 * schema_filter keeps properties ({name: type} as the record) and
 * schema_transformations edit the properties mapping. */
#include <stdlib.h>
#include <string.h>

#include "lc.h"

/* The Airbyte type of a type name (new reference), NULL if unknown. */
static json_t *airbyte_type(const char *t) {
  static const struct {
    const char *name, *json;
  } T[] = {
      {"string", "{\"type\":[\"null\",\"string\"]}"},
      {"boolean", "{\"type\":[\"null\",\"boolean\"]}"},
      {"date", "{\"type\":[\"null\",\"string\"],\"format\":\"date\"}"},
      {"timestamp_without_timezone",
       "{\"type\":[\"null\",\"string\"],\"format\":\"date-time\",\"airbyte_type\":\"timestamp_without_timezone\"}"},
      {"timestamp_with_timezone", "{\"type\":[\"null\",\"string\"],\"format\":\"date-time\"}"},
      {"time_without_timezone",
       "{\"type\":[\"null\",\"string\"],\"format\":\"time\",\"airbyte_type\":\"time_without_timezone\"}"},
      {"time_with_timezone", "{\"type\":[\"null\",\"string\"],\"format\":\"time\",\"airbyte_type\":\"time_with_timezone\"}"},
      {"integer", "{\"type\":[\"null\",\"integer\"]}"},
      {"number", "{\"type\":[\"null\",\"number\"]}"},
      {"array", "{\"type\":[\"null\",\"array\"]}"},
      {"object", "{\"type\":[\"null\",\"object\"]}"},
  };
  for (size_t i = 0; t && i < sizeof T / sizeof *T; i++)
    if (!strcmp(T[i].name, t)) return json_loads(T[i].json, 0, NULL);
  return NULL;
}

typedef struct ds {
  lc_source *src;
  const json_t *loader, *sti;
  const char *stream;
  json_t *first;
} ds;

static sl_code take_first(void *ud, const json_t *rec, const json_t *slice, bool *stop, sl_err *err) {
  (void)slice, (void)err;
  ((ds *)ud)->first = json_incref((json_t *)rec);
  *stop = true;
  return SL_EOK;
}

/* dpath.get of a pointer (templates rendered with config); NULL when absent. */
static sl_code extract(ds *d, const json_t *body, const char *field, const json_t **out, sl_err *err) {
  const json_t *v = body;
  size_t i;
  json_t *seg;
  json_array_foreach(json_object_get(d->sti, field), i, seg) {
    sl_tmpl *t = NULL;
    sl_code rc = lc_tmpl_value(d->src, d->sti, field, seg, &t, err);
    if (rc) return rc;
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    rc = lc_eval_text_at(d->src, d->sti, t, &b, err);
    sl_tmpl_free(t);
    if (!rc) {
      const char *k = sl_buf_cstr(&b);
      char *end;
      long at = strtol(k, &end, 10);
      v = json_is_array(v) ? (*end || end == k ? NULL : json_array_get(v, (size_t)at)) : json_object_get(v, k);
    }
    sl_buf_dispose(&b);
    if (rc) return rc;
  }
  *out = v;
  return SL_EOK;
}

static sl_code complex_type(ds *d, const json_t *ct, const char *key, json_t **out, sl_err *err) {
  const char *ft = json_string_value(json_object_get(ct, "field_type"));
  const json_t *items = json_object_get(ct, "items");
  *out = airbyte_type(ft);
  if (!*out)
    return sl_err_set(err, SL_ECONFIG, "%s: field %s: invalid Airbyte data type \"%s\"", LC_WHERE(d->src, ct), key,
                      ft ? ft : "?");
  if (!items || json_is_null(items)) return SL_EOK;
  if (strcmp(ft, "array"))
    return sl_err_set(err, SL_ECONFIG, "%s: 'items' can only be used when 'field_type' is an array", LC_WHERE(d->src, ct));
  json_t *it = NULL;
  sl_code rc = SL_EOK;
  if (json_is_string(items)) {
    if (!(it = airbyte_type(json_string_value(items))))
      rc = sl_err_set(err, SL_ECONFIG, "%s: field %s: invalid Airbyte data type \"%s\"", LC_WHERE(d->src, ct), key,
                      json_string_value(items));
  } else {
    rc = complex_type(d, items, key, &it, err);
  }
  if (!rc) json_object_set_new(*out, "items", it);
  return rc;
}

/* The property of one field definition. */
static sl_code field_type(ds *d, const json_t *def, const char *key, json_t **out, sl_err *err) {
  *out = NULL;
  const json_t *raw = NULL;
  sl_code rc = SL_EOK;
  if (json_array_size(json_object_get(d->sti, "type_pointer")) && (rc = extract(d, def, "type_pointer", &raw, err)))
    return rc;
  json_t *dflt = json_string("string");
  const json_t *t = raw ? raw : dflt;
  size_t i;
  json_t *tm;
  json_array_foreach(json_object_get(d->sti, "types_mapping"), i, tm) {
    if (!json_equal((json_t *)t, json_object_get(tm, "current_type"))) continue;
    bool ok = true;
    sl_tmpl *c = NULL;
    if ((rc = lc_tmpl_field(d->src, tm, "condition", &c, err))) break;
    if (c) {
      json_t *ctx = json_pack("{s:O,s:O}", "config", d->src->config, "raw_schema", def);
      rc = sl_tmpl_eval_bool(c, ctx, &ok, err);
      json_decref(ctx);
      sl_tmpl_free(c);
      if (rc) break;
    }
    if (ok) {
      t = json_object_get(tm, "target_type");
      break;
    }
  }
  if (!rc) {
    if (json_is_array(t) && json_array_size(t) == 2 && json_is_string(json_array_get(t, 0)) &&
        json_is_string(json_array_get(t, 1))) {
      json_t *a = airbyte_type(json_string_value(json_array_get(t, 0)));
      json_t *b = airbyte_type(json_string_value(json_array_get(t, 1)));
      if (a && b) *out = json_pack("{s:[oo]}", "oneOf", a, b);
      else {
        json_decref(a);
        json_decref(b);
      }
    } else if (json_is_string(t)) {
      *out = airbyte_type(json_string_value(t));
    } else if (json_is_object(t)) {
      rc = complex_type(d, t, key, out, err);
    }
    if (!rc && !*out) {
      char *s = sl_json_dumps(t);
      rc = sl_err_set(err, SL_ECONFIG, "%s: field \"%s\" of stream %s: invalid data type %s (a type name or a list of two)",
                      LC_WHERE(d->src, d->sti), key, d->stream, s ? s : "?");
      free(s);
    }
  }
  json_decref(dflt);
  return rc;
}

sl_code lc_dynschema_load(lc_source *src, const json_t *loader, const char *stream, json_t **out, sl_err *err) {
  *out = NULL;
  ds d = {src, loader, json_object_get(loader, "schema_type_identifier"), stream, NULL};
  const json_t *retr = json_object_get(loader, "retriever");
  if (!json_is_object(retr) || !json_is_object(d.sti))
    return sl_err_set(err, SL_ECONFIG, "%s: DynamicSchemaLoader needs retriever and schema_type_identifier",
                      LC_WHERE(src, loader));
  sl_code rc = lc_dyn_read(src, retr, loader, stream, false, take_first, &d, err);
  if (rc) return sl_err_wrap(err, "%s: schema of stream %s", LC_WHERE(src, loader), stream);
  json_t *props = json_object();
  const json_t *raw = NULL;
  if (d.first) {
    if (json_array_size(json_object_get(d.sti, "schema_pointer"))) rc = extract(&d, d.first, "schema_pointer", &raw, err);
    else raw = d.first;
  }
  if (!rc && raw && !json_is_array(raw))
    rc = sl_err_set(err, SL_ESOURCE, "%s: stream %s: the schema at schema_pointer is not a list of field definitions",
                    LC_WHERE(src, d.sti), stream);
  size_t i;
  json_t *def;
  json_array_foreach(rc ? NULL : raw, i, def) {
    const json_t *key = NULL;
    if ((rc = extract(&d, def, "key_pointer", &key, err))) break;
    if (!json_is_string(key)) {
      char *s = sl_json_dumps(def);
      rc = sl_err_set(err, SL_ESOURCE, "%s: stream %s: field definition %zu has no string at key_pointer: %.120s",
                      LC_WHERE(src, d.sti), stream, i, s ? s : "?");
      free(s);
      break;
    }
    json_t *p = NULL;
    if ((rc = field_type(&d, def, json_string_value(key), &p, err))) break;
    json_object_set_new(props, json_string_value(key), p);
  }
  /* schema_filter: a RecordFilter over {name: type} */
  const json_t *flt = json_object_get(loader, "schema_filter");
  sl_tmpl *c = NULL;
  if (!rc && flt && !(rc = lc_tmpl_field(src, flt, "condition", &c, err)) && c) {
    json_t *kept = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) {
      json_t *ctx = lc_ctx_new(src, flt);
      bool keep = true;
      json_object_set_new(ctx, "record", json_pack("{s:O}", k, v));
      json_object_set_new(ctx, "stream_slice", json_object());
      rc = sl_tmpl_eval_bool(c, ctx, &keep, err);
      json_decref(ctx);
      if (rc) break;
      if (keep) json_object_set(kept, k, v);
    }
    json_decref(props);
    props = kept;
  }
  sl_tmpl_free(c);
  const json_t *tfs = json_object_get(loader, "schema_transformations");
  if (!rc && json_array_size(tfs)) {
    lc_transforms *t = NULL;
    rc = lc_transforms_build(src, tfs, &t, err);
    if (!rc) {
      json_t *ctx = lc_ctx_new(src, loader);
      json_object_set_new(ctx, "stream_slice", json_object());
      rc = lc_transforms_apply(src, t, props, ctx, err);
      json_decref(ctx);
    }
    lc_transforms_free(t);
  }
  json_decref(d.first);
  if (rc) {
    json_decref(props);
    return rc;
  }
  *out = json_pack("{s:s,s:s,s:b,s:o}", "$schema", "https://json-schema.org/draft-07/schema#", "type", "object",
                   "additionalProperties", 1, "properties", props);
  return SL_EOK;
}
