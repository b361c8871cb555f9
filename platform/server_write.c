/* REST API: sources, destinations and connections - list, create, show,
 * edit, delete, check and discover. Configs are validated against the
 * connector's spec (400 naming the field); secrets are masked in every
 * reply, error messages included; edits are compare-and-set (409). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "sluice/schema.h"

static enum MHD_Result actor_show(api_call *a, const json_t *row, unsigned status) {
  json_t *cfg = NULL;
  sl_err err = SL_ERR_INIT;
  if (sl_actor_config_masked(a->st, row, &cfg, &err)) return api_fail(a, &err);
  a->etag = sl_store_int(row, "version");
  return api_reply(a, status, json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:o}", "id", json_object_get(row, "id"), "kind", json_object_get(row, "kind"),
                                        "name", json_object_get(row, "name"), "connector", json_object_get(row, "connector"),
                                        "created_at", json_object_get(row, "created_at"), "updated_at",
                                        json_object_get(row, "updated_at"), "version", json_object_get(row, "version"), "config", cfg));
}

/* POST (row NULL) or PATCH: the config checked against the spec, saved. */
static enum MHD_Result actor_save(api_call *a, const char *kind, const json_t *row) {
  static const char *const allowed[] = {"name", "connector", "config", "validate", "updated_at", "version", NULL};
  enum MHD_Result sent;
  const char *name, *connector;
  if (!api_body_ok(a, allowed, !row, &sent) || !api_str(a, "name", &name, &sent) || !api_str(a, "connector", &connector, &sent))
    return sent;
  json_t *cfg_in = json_object_get(a->body, "config"), *vflag = json_object_get(a->body, "validate");
  json_t *expect = json_object_get(a->body, "updated_at");
  if (cfg_in && !json_is_object(cfg_in)) return api_error(a, 400, "invalid_input", "field \"config\" must be a JSON object");
  if (vflag && !json_is_boolean(vflag)) return api_error(a, 400, "invalid_input", "field \"validate\" must be true or false");
  if (expect && !json_is_integer(expect)) return api_error(a, 400, "invalid_input", "field \"updated_at\" must be an integer");
  if (!row && (!name || !*name)) return api_error(a, 400, "invalid_input", "field \"name\" is required");
  if (!row && !connector) return api_error(a, 400, "invalid_input", "field \"connector\" is required (a built-in name, a path or an image)");
  /* Compare-and-set: an edit applies to the version it was made from (the
   * body's "version", an If-Match header, else the version read here). */
  int64_t version = row ? sl_store_int(row, "version") : 0;
  if (!api_version(a, &version, &sent)) return sent;
  if (row && expect && json_integer_value(expect) != sl_store_int(row, "updated_at"))
    return api_error(a, 409, "conflict", "%s \"%s\" was changed by someone else (updated_at is now %lld, version %lld); "
                     "GET it again and repeat the edit with its version", kind, sl_store_str(row, "name"),
                     (long long)sl_store_int(row, "updated_at"), (long long)sl_store_int(row, "version"));
  if (!name) name = sl_store_str(row, "name");
  if (!connector) connector = sl_store_str(row, "connector");
  sl_err err = SL_ERR_INIT;
  json_t *cfg = NULL, *spec = NULL, *saved = NULL;
  sl_code c = SL_EOK;
  if (row) {
    json_t *stored = NULL;
    if (!(c = sl_actor_config(a->st, row, &stored, &err))) {
      cfg = cfg_in ? json_deep_copy(cfg_in) : json_incref(stored);
      sl_secrets_keep_masked(cfg, stored); /* a shown config sent back keeps its secrets */
    }
    json_decref(stored);
  } else {
    cfg = cfg_in ? json_deep_copy(cfg_in) : json_object();
  }
  sigset_t mask;
  api_children_begin(&mask);
  if (!c && (c = sl_connector_spec(connector, &spec, &err)) == SL_ENOTFOUND) c = err.code = SL_EUSAGE; /* an unknown connector: bad input */
  api_children_end(&mask);
  if (!c && !json_is_false(vflag)) {
    sl_schema_apply_defaults(spec, cfg);
    char what[300];
    snprintf(what, sizeof what, "%s \"%s\" config", kind, name);
    c = sl_schema_validate(spec, cfg, what, &err); /* it shows secret values as <secret> */
  }
  int64_t id = row ? sl_store_int(row, "id") : 0;
  char ib[24];
  if (!c) c = sl_actor_save(a->st, kind, id, version, name, connector, spec, cfg, &id, &err);
  if (!c) c = sl_actor_find(a->st, kind, sl_store_i64(ib, id), &saved, &err);
  json_decref(cfg);
  json_decref(spec);
  enum MHD_Result ret = c ? api_fail(a, &err) : actor_show(a, saved, row ? 200 : 201);
  json_decref(saved);
  return ret;
}

/* check (both kinds) or discover (sources): runs the connector. */
static enum MHD_Result actor_run(api_call *a, const json_t *row, bool discover) {
  sl_err err = SL_ERR_INIT;
  json_t *out = NULL;
  sigset_t saved;
  sl_code rc;
  int64_t version = 0;
  bool changed = false;
  api_children_begin(&saved);
  rc = discover ? sl_source_discover(a->st, row, &out, &version, &changed, &err)
                : sl_actor_call(a->st, row, "check", SL_MSG_CONNECTION_STATUS, &out, &err);
  api_children_end(&saved);
  if (rc) return api_fail(a, &err);
  if (discover) return api_reply(a, 200, json_pack("{s:I,s:b,s:o}", "version", (json_int_t)version, "changed", changed, "catalog", out));
  json_t *st = json_incref(json_object_get(out, "connectionStatus"));
  json_decref(out);
  return api_reply(a, 200, st ? st : json_object());
}

enum MHD_Result api_actor(api_call *a, const char *kind, long long id, const char *rest) {
  if (!id) {
    if (api_is(a, "GET"))
      return api_rows(a, "SELECT id, name, connector, created_at, updated_at, version FROM actors WHERE kind = ? ORDER BY name", 1, kind, NULL);
    if (api_is(a, "POST")) return actor_save(a, kind, NULL);
    return api_error(a, 405, "method_not_allowed", "%s on the %s list: use GET or POST", a->method, kind);
  }
  json_t *row = NULL;
  sl_err err = SL_ERR_INIT;
  char ib[24];
  if (sl_actor_find(a->st, kind, sl_store_i64(ib, id), &row, &err)) return api_fail(a, &err);
  enum MHD_Result ret;
  bool src = !strcmp(kind, "source");
  if (!*rest && api_is(a, "GET")) ret = actor_show(a, row, 200);
  else if (!*rest && api_is(a, "PATCH")) ret = actor_save(a, kind, row);
  else if (!*rest && api_is(a, "DELETE"))
    ret = sl_actor_delete(a->st, row, &err) ? api_fail(a, &err) : api_reply(a, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
  else if (!strcmp(rest, "/check") && api_is(a, "POST")) ret = actor_run(a, row, false);
  else if (src && !strcmp(rest, "/discover") && api_is(a, "POST")) ret = actor_run(a, row, true);
  else if (src && !strncmp(rest, "/catalogs", 9)) ret = api_catalogs(a, id, rest + 9);
  else ret = api_error(a, 404, "not_found", "no such endpoint: %s %s%s for a %s", a->method, kind, rest, kind);
  json_decref(row);
  return ret;
}

/* ---- connections ---- */

/* "source"/"destination" in a body: a name or an id. */
static bool actor_ref(api_call *a, const char *key, const char *kind, int64_t *id, enum MHD_Result *sent) {
  json_t *v = json_object_get(a->body, key), *row = NULL;
  if (!v) return true;
  char ib[24];
  const char *ref = json_is_integer(v) ? sl_store_i64(ib, json_integer_value(v)) : json_string_value(v);
  if (!ref) {
    *sent = api_error(a, 400, "invalid_input", "field \"%s\" must be a %s name or id", key, kind);
    return false;
  }
  sl_err err = SL_ERR_INIT;
  if (sl_actor_find(a->st, kind, ref, &row, &err)) {
    *sent = err.code == SL_ENOTFOUND ? api_error(a, 400, "invalid_input", "field \"%s\": %s", key, err.msg) : api_fail(a, &err);
    return false;
  }
  *id = sl_store_int(row, "id");
  json_decref(row);
  return true;
}

/* The fields of a connection from the body over row's (edit) values;
 * "streams" may be an array of names. buf keeps the joined list. */
static bool conn_values(api_call *a, const json_t *row, sl_conn_values *v, char *buf, size_t cap, enum MHD_Result *sent) {
  for (int i = 0; i < SL_CONN_CATALOG; i++) {
    const char *col = sl_conn_field_name(i);
    json_t *x = json_object_get(a->body, col);
    v->f[i] = row ? sl_store_str(row, col) : NULL;
    if (!x) continue;
    if (i == SL_CONN_STREAMS && json_is_array(x)) {
      size_t k, n = 0;
      json_t *s;
      buf[0] = 0;
      json_array_foreach(x, k, s) {
        const char *name = json_string_value(s);
        if (!name || !*name || strchr(name, ',')) {
          *sent = api_error(a, 400, "invalid_input", "field \"streams\": item %zu must be a stream name", k);
          return false;
        }
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", k ? "," : "", name);
      }
      if (n >= cap) {
        *sent = api_error(a, 400, "invalid_input", "field \"streams\" is longer than %zu characters", cap - 1);
        return false;
      }
      v->f[i] = json_array_size(x) ? buf : NULL;
      continue;
    }
    if (!json_is_string(x) && !json_is_null(x)) {
      *sent = api_error(a, 400, "invalid_input", "field \"%s\" must be a string%s", col, i == SL_CONN_STREAMS ? " or an array of names" : "");
      return false;
    }
    v->f[i] = json_string_value(x);
    sl_err err = SL_ERR_INIT;
    if (sl_conn_check_field(i, v->f[i], &err)) {
      *sent = api_fail(a, &err);
      return false;
    }
  }
  return true;
}

static enum MHD_Result conn_show(api_call *a, int64_t id, unsigned status) {
  json_t *row = NULL;
  sl_err err = SL_ERR_INIT;
  char ib[24];
  if (sl_conn_find(a->st, sl_store_i64(ib, id), &row, &err)) return api_fail(a, &err);
  const char *cat = sl_store_str(row, "catalog"); /* the stream settings as JSON, not as text */
  json_t *c = cat ? json_loads(cat, 0, NULL) : NULL;
  if (c) json_object_set_new(row, "catalog", c);
  a->etag = sl_store_int(row, "version");
  return api_reply(a, status, row);
}

/* "catalog": the stream settings ({"streams": [{"stream": {"name"}, "sync_mode"?,
 * ..., "field_selection_enabled"?, "selected_fields"?}]}), checked against
 * the source's catalog. *text: what to store (malloc'd), NULL when absent. */
static bool conn_settings(api_call *a, const sl_conn_values *v, char **text, enum MHD_Result *sent) {
  json_t *x = json_object_get(a->body, "catalog");
  *text = NULL;
  if (!x || json_is_null(x)) return true;
  if (!json_is_object(x)) {
    *sent = api_error(a, 400, "invalid_input", "field \"catalog\" must be an object {\"streams\": [...]} of stream settings");
    return false;
  }
  sl_err err = SL_ERR_INIT;
  sigset_t mask;
  api_children_begin(&mask); /* the source may be discovered now */
  sl_code rc = sl_conn_check_settings(a->st, v->source_id, v->f[SL_CONN_STREAMS], x, &err);
  api_children_end(&mask);
  if (rc) {
    *sent = err.code == SL_ECATALOG ? api_error(a, 400, "invalid_input", "field \"catalog\": %s", err.msg) : api_fail(a, &err);
    return false;
  }
  if (!(*text = sl_json_dumps(x))) {
    *sent = api_error(a, 500, "internal", "out of memory");
    return false;
  }
  return true;
}

static enum MHD_Result conn_save(api_call *a, const json_t *row) {
  static const char *const allowed[] = {"name", "source", "destination", "streams", "schedule", "namespace_format", "stream_prefix",
                                        "schema_policy", "status", "catalog", "version", NULL};
  enum MHD_Result sent;
  sl_conn_values v = {0};
  char streams[4096];
  if (!api_body_ok(a, allowed, !row, &sent) || !api_str(a, "name", &v.name, &sent)) return sent;
  if (row) {
    v.id = sl_store_int(row, "id");
    v.version = sl_store_int(row, "version");
    if (!api_version(a, &v.version, &sent)) return sent;
    v.source_id = sl_store_int(row, "source_id");
    v.destination_id = sl_store_int(row, "destination_id");
    if (!v.name) v.name = sl_store_str(row, "name");
  } else {
    if (!v.name || !*v.name) return api_error(a, 400, "invalid_input", "field \"name\" is required");
    if (!json_object_get(a->body, "source") || !json_object_get(a->body, "destination"))
      return api_error(a, 400, "invalid_input", "fields \"source\" and \"destination\" are required");
  }
  if (!actor_ref(a, "source", "source", &v.source_id, &sent) || !actor_ref(a, "destination", "destination", &v.destination_id, &sent) ||
      !conn_values(a, row, &v, streams, sizeof streams, &sent))
    return sent;
  char *settings = NULL;
  if (!conn_settings(a, &v, &settings, &sent)) return sent;
  v.f[SL_CONN_CATALOG] = settings ? settings : row ? sl_store_str(row, "catalog") : NULL;
  sl_conn_saved res;
  sl_err err = SL_ERR_INIT;
  sl_code rc = sl_conn_save(a->st, &v, &res, &err);
  free(settings);
  if (rc) return res.conflict ? api_error(a, 409, "conflict", "%s", err.msg) : api_fail(a, &err);
  return conn_show(a, res.id, row ? 200 : 201);
}

enum MHD_Result api_connection(api_call *a, long long id, const char *rest) {
  if (!id) {
    if (api_is(a, "GET"))
      return api_rows(a, "SELECT c.id, c.name, s.name AS source, d.name AS destination, c.schedule, c.status, c.schema_policy, c.version "
                         "FROM connections c JOIN actors s ON s.id = c.source_id JOIN actors d ON d.id = c.destination_id ORDER BY c.name",
                      0, NULL, NULL);
    if (api_is(a, "POST")) return conn_save(a, NULL);
    return api_error(a, 405, "method_not_allowed", "%s on the connection list: use GET or POST", a->method);
  }
  if (api_is(a, "GET")) return conn_show(a, id, 200);
  json_t *row = NULL;
  sl_err err = SL_ERR_INIT;
  char ib[24];
  if (sl_conn_find(a->st, sl_store_i64(ib, id), &row, &err)) return api_fail(a, &err);
  enum MHD_Result ret;
  if (api_is(a, "PATCH")) ret = conn_save(a, row);
  else if (api_is(a, "DELETE"))
    ret = sl_store_exec(a->st, NULL, &err, "DELETE FROM connections WHERE id = ?", 1, ib) ? api_fail(a, &err)
                                                                                         : api_reply(a, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
  else ret = api_error(a, 405, "method_not_allowed", "%s on a connection: use GET, PATCH or DELETE", a->method);
  json_decref(row);
  return ret;
}
