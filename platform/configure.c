/* Building a configured catalog from a discovered one, and applying a
 * connection's stored per-stream settings to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/platform.h"

static bool supports(const json_t *stream, const char *mode) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(stream, "supported_sync_modes"), i, m) if (json_is_string(m) && !strcmp(json_string_value(m), mode)) return true;
  return false;
}

static bool wanted(const char *name, const char *const *streams) {
  if (!streams) return true;
  for (; *streams; streams++)
    if (!strcmp(*streams, name)) return true;
  return false;
}

sl_code sl_catalog_configure(const json_t *discovered, const sl_catalog_opts *opts, json_t **out,
                             sl_err *err) {
  json_t *streams = json_object_get(discovered, "streams");
  if (!json_is_array(streams))
    return sl_err_set(err, SL_ECATALOG, "the source's catalog has no \"streams\" array");
  json_t *configured = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(streams, i, s) {
    const char *name = json_string_value(json_object_get(s, "name"));
    if (!name) {
      json_decref(configured);
      return sl_err_set(err, SL_ECATALOG, "the source's catalog: streams[%zu] has no name", i);
    }
    if (!wanted(name, opts->streams)) continue;
    bool incr = !opts->full_refresh && supports(s, "incremental");
    if (!incr && !supports(s, "full_refresh") && supports(s, "incremental")) incr = true;
    json_t *pk = json_object_get(s, "source_defined_primary_key");
    bool has_pk = json_array_size(pk) > 0;
    const char *dmode = !incr ? "overwrite" : has_pk ? "append_dedup" : "append";
    json_t *cs = json_pack("{s:O, s:s, s:s}", "stream", s, "sync_mode",
                           incr ? "incremental" : "full_refresh", "destination_sync_mode", dmode);
    json_t *cursor = json_object_get(s, "default_cursor_field");
    if (incr && json_array_size(cursor)) json_object_set(cs, "cursor_field", cursor);
    if (has_pk) json_object_set(cs, "primary_key", pk);
    json_array_append_new(configured, cs);
  }
  /* Every requested stream must exist. */
  for (const char *const *w = opts->streams; w && *w; w++) {
    bool found = false;
    json_array_foreach(streams, i, s) if (!strcmp(json_string_value(json_object_get(s, "name")), *w)) found = true;
    if (!found) {
      json_decref(configured);
      return sl_err_set(err, SL_ECATALOG, "--streams: the source has no stream \"%s\"", *w);
    }
  }
  if (!json_array_size(configured)) {
    json_decref(configured);
    return sl_err_set(err, SL_ECATALOG, "no streams to sync");
  }
  *out = json_pack("{s:o}", "streams", configured);
  return *out ? SL_EOK : SL_ENOMEM;
}

/* ---- a connection's stored per-stream settings ---- */

static bool desc_is(const json_t *stream, const char *name, const char *ns) {
  const char *n = json_string_value(json_object_get(stream, "name"));
  const char *sns = json_string_value(json_object_get(stream, "namespace"));
  return n && !strcmp(n, name) && (!ns || (sns && !strcmp(sns, ns)));
}

/* Does the path (array of names) lead to a property of the json_schema? */
static bool schema_has_path(const json_t *schema, const json_t *path) {
  size_t i;
  json_t *p;
  if (!json_array_size(path)) return false;
  json_array_foreach(path, i, p) {
    schema = json_object_get(json_object_get(schema, "properties"), json_string_value(p) ? json_string_value(p) : "");
    if (!schema) return false;
  }
  return true;
}

static sl_code not_in_schema(const char *stream, const char *what, const json_t *path, sl_err *err) {
  char *t = sl_fields_path_text(path);
  sl_code rc = sl_err_set(err, SL_ECATALOG, "stream \"%s\": %s \"%s\" is not in the stream's schema", stream, what, t ? t : "?");
  free(t);
  return rc;
}

sl_code sl_stream_settings_check(const json_t *stream, const json_t *set, sl_err *err) {
  const char *name = json_string_value(json_object_get(stream, "name"));
  const char *sm = json_string_value(json_object_get(set, "sync_mode"));
  const char *dm = json_string_value(json_object_get(set, "destination_sync_mode"));
  json_t *cursor = json_object_get(set, "cursor_field"), *pk = json_object_get(set, "primary_key");
  json_t *schema = json_object_get(stream, "json_schema");
  if (sm && strcmp(sm, "incremental") && strcmp(sm, "full_refresh"))
    return sl_err_set(err, SL_EUSAGE, "stream \"%s\": sync_mode \"%s\": expected incremental or full_refresh", name, sm);
  if (sm && !supports(stream, sm))
    return sl_err_set(err, SL_ECATALOG, "stream \"%s\": sync_mode \"%s\" is not supported by the source (it supports %s)", name, sm,
                      supports(stream, "incremental") ? "incremental and full_refresh" : "full_refresh only");
  if (dm && strcmp(dm, "append") && strcmp(dm, "overwrite") && strcmp(dm, "append_dedup") && strcmp(dm, "overwrite_dedup"))
    return sl_err_set(err, SL_EUSAGE, "stream \"%s\": destination_sync_mode \"%s\": expected append, overwrite, append_dedup or overwrite_dedup",
                      name, dm);
  if (cursor && json_array_size(cursor)) {
    if (json_is_true(json_object_get(stream, "source_defined_cursor")))
      return sl_err_set(err, SL_ECATALOG, "stream \"%s\": the source defines the cursor; a cursor field cannot be chosen", name);
    if (!schema_has_path(schema, cursor)) return not_in_schema(name, "cursor field", cursor, err);
  }
  size_t i;
  json_t *k;
  json_array_foreach(pk, i, k) if (!schema_has_path(schema, k)) return not_in_schema(name, "primary key field", k, err);
  return sl_fields_check(stream, set, err);
}

/* The merged settings must make sense together: incremental needs a cursor,
 * dedup needs a primary key. */
static sl_code settings_complete(const json_t *cs, sl_err *err) {
  json_t *st = json_object_get(cs, "stream");
  const char *name = json_string_value(json_object_get(st, "name"));
  const char *sm = json_string_value(json_object_get(cs, "sync_mode"));
  const char *dm = json_string_value(json_object_get(cs, "destination_sync_mode"));
  if (!strcmp(sm, "incremental") && !json_array_size(json_object_get(cs, "cursor_field")) &&
      !json_array_size(json_object_get(st, "default_cursor_field")) && !json_is_true(json_object_get(st, "source_defined_cursor")))
    return sl_err_set(err, SL_ECATALOG, "stream \"%s\": incremental needs a cursor field (--cursor-field)", name);
  if ((!strcmp(sm, "full_refresh") && !strcmp(dm, "append_dedup")) || (!strcmp(sm, "incremental") && !strncmp(dm, "overwrite", 9)))
    return sl_err_set(err, SL_ECATALOG, "stream \"%s\": %s does not go with %s (full_refresh: overwrite, overwrite_dedup or append; "
                      "incremental: append or append_dedup)", name, sm, dm);
  if (strstr(dm, "dedup") && !json_array_size(json_object_get(cs, "primary_key")))
    return sl_err_set(err, SL_ECATALOG, "stream \"%s\": %s needs a primary key (--primary-key)", name, dm);
  return SL_EOK;
}

sl_code sl_catalog_apply_settings(const json_t *discovered, json_t *configured, const json_t *settings, sl_err *err) {
  size_t i, j;
  json_t *set, *cs;
  json_array_foreach(json_object_get(settings, "streams"), i, set) {
    json_t *d = json_object_get(set, "stream");
    const char *name = json_string_value(json_object_get(d, "name"));
    const char *ns = json_string_value(json_object_get(d, "namespace"));
    if (!name) return sl_err_set(err, SL_ECATALOG, "the connection's stream settings: streams[%zu] has no stream.name", i);
    json_t *ds = NULL, *s;
    json_array_foreach(json_object_get(discovered, "streams"), j, s) if (!ds && desc_is(s, name, ns)) ds = s;
    if (!ds) continue; /* not discovered any more: the schema check reports it */
    sl_code rc = sl_stream_settings_check(ds, set, err);
    if (rc) return rc;
    json_array_foreach(json_object_get(configured, "streams"), j, cs) {
      if (!desc_is(json_object_get(cs, "stream"), name, ns)) continue;
      static const char *const keys[] = {"sync_mode", "destination_sync_mode", "cursor_field", "primary_key"};
      for (size_t k = 0; k < 4; k++)
        if (json_object_get(set, keys[k])) json_object_set(cs, keys[k], json_object_get(set, keys[k]));
      const char *sm = json_string_value(json_object_get(cs, "sync_mode"));
      const char *dm = json_string_value(json_object_get(cs, "destination_sync_mode"));
      if (!strcmp(sm, "full_refresh") && !json_object_get(set, "destination_sync_mode"))
        json_object_set_new(cs, "destination_sync_mode", json_string("overwrite"));
      else if (!strcmp(sm, "incremental") && !json_object_get(set, "destination_sync_mode") && !strncmp(dm, "overwrite", 9))
        json_object_set_new(cs, "destination_sync_mode",
                            json_string(json_array_size(json_object_get(cs, "primary_key")) ? "append_dedup" : "append"));
      if (!strcmp(sm, "incremental") && !json_object_get(cs, "cursor_field") &&
          json_array_size(json_object_get(ds, "default_cursor_field")))
        json_object_set(cs, "cursor_field", json_object_get(ds, "default_cursor_field"));
      if ((rc = settings_complete(cs, err)) || (rc = sl_fields_apply(cs, set, err))) return rc;
    }
  }
  return SL_EOK;
}
