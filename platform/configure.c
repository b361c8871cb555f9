/* Building a configured catalog from a discovered one. */
#include <stdio.h>

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
