/* Discovered catalogs per source, versioned: a new version only when the
 * catalog differs from the latest one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

sl_code sl_source_discover(sl_store *s, const json_t *source, json_t **catalog, int64_t *version, bool *changed,
                           sl_err *err) {
  json_t *msg = NULL, *row = NULL;
  *catalog = NULL;
  *changed = false;
  sl_code rc = sl_actor_call(s, source, "discover", SL_MSG_CATALOG, &msg, err);
  if (rc) return sl_err_wrap(err, "source \"%s\": discover", sl_store_str(source, "name"));
  json_t *cat = json_object_get(msg, "catalog");
  if (!json_is_object(cat)) {
    json_decref(msg);
    return sl_err_set(err, SL_EPROTOCOL, "source \"%s\": discover returned no catalog", sl_store_str(source, "name"));
  }
  char sb[24], vb[24], ts[24];
  sl_store_i64(sb, sl_store_int(source, "id"));
  if ((rc = sl_store_begin(s, err))) goto out;
  rc = sl_store_one(s, &row, err, "SELECT version, catalog FROM catalogs WHERE source_id = ? ORDER BY version DESC LIMIT 1", 1, sb);
  if (rc && rc != SL_ENOTFOUND) goto fail;
  json_t *prev = row ? json_loads(sl_store_str(row, "catalog"), 0, NULL) : NULL;
  *version = row ? sl_store_int(row, "version") : 0;
  if (!prev || !json_equal(prev, cat)) {
    char *text = sl_json_dumps(cat);
    ++*version;
    rc = sl_store_exec(s, NULL, err, "INSERT INTO catalogs (source_id, version, catalog, created_at) VALUES (?, ?, ?, ?)", 4, sb,
                       sl_store_i64(vb, *version), text, sl_store_i64(ts, sl_now_ms()));
    free(text);
    *changed = true;
  } else {
    rc = SL_EOK;
  }
  json_decref(prev);
  if (rc) goto fail;
  if ((rc = sl_store_commit(s, err))) goto out;
  *catalog = json_incref(cat);
  goto out;
fail:
  sl_store_rollback(s);
out:
  json_decref(row);
  json_decref(msg);
  return rc;
}

sl_code sl_catalog_get(sl_store *s, int64_t source_id, int64_t version, json_t **row, sl_err *err) {
  char sb[24], vb[24];
  sl_store_i64(sb, source_id);
  sl_code rc = version ? sl_store_one(s, row, err, "SELECT * FROM catalogs WHERE source_id = ? AND version = ?", 2, sb, sl_store_i64(vb, version))
                       : sl_store_one(s, row, err, "SELECT * FROM catalogs WHERE source_id = ? ORDER BY version DESC LIMIT 1", 1, sb);
  if (rc == SL_ENOTFOUND) {
    if (version) sl_err_set(err, SL_ENOTFOUND, "source %lld has no catalog version %lld", (long long)source_id, (long long)version);
    else sl_err_set(err, SL_ENOTFOUND, "source %lld has no stored catalog yet (run `sluice source discover`)", (long long)source_id);
  }
  return rc;
}

static json_t *find_stream(const json_t *cat, const char *name, const char *ns) {
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(cat, "streams"), i, st) {
    const char *n = json_string_value(json_object_get(st, "name"));
    const char *sns = json_string_value(json_object_get(st, "namespace"));
    if (n && !strcmp(n, name) && ((!ns && !sns) || (ns && sns && !strcmp(ns, sns)))) return st;
  }
  return NULL;
}

/* Does a key path list (e.g. [["id"]], or ["updated_at"]) name a field that
 * is gone from props? Only the first element of each path is a top-level field. */
static bool path_gone(const json_t *paths, const json_t *props) {
  size_t i;
  json_t *p;
  if (json_is_array(paths) && json_is_string(json_array_get(paths, 0)))
    return !json_object_get(props, json_string_value(json_array_get(paths, 0)));
  json_array_foreach(paths, i, p) {
    const char *f = json_string_value(json_is_array(p) ? json_array_get(p, 0) : p);
    if (f && !json_object_get(props, f)) return true;
  }
  return false;
}

json_t *sl_catalog_diff(const json_t *from, const json_t *to) {
  json_t *d = json_pack("{s:[],s:[],s:[],s:b}", "streams_added", "streams_removed", "streams_changed", "breaking", 0);
  bool breaking = false;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(to, "streams"), i, st) {
    const char *n = json_string_value(json_object_get(st, "name"));
    if (n && !find_stream(from, n, json_string_value(json_object_get(st, "namespace"))))
      json_array_append_new(json_object_get(d, "streams_added"), json_string(n));
  }
  json_array_foreach(json_object_get(from, "streams"), i, st) {
    const char *n = json_string_value(json_object_get(st, "name"));
    if (!n) continue;
    json_t *nw = find_stream(to, n, json_string_value(json_object_get(st, "namespace")));
    if (!nw) {
      json_array_append_new(json_object_get(d, "streams_removed"), json_string(n));
      continue;
    }
    json_t *op = json_object_get(json_object_get(st, "json_schema"), "properties");
    json_t *np = json_object_get(json_object_get(nw, "json_schema"), "properties");
    json_t *ch = json_pack("{s:s,s:[],s:[],s:[]}", "stream", n, "fields_added", "fields_removed", "fields_changed");
    const char *k;
    json_t *v;
    json_object_foreach(np, k, v) if (!json_object_get(op, k)) json_array_append_new(json_object_get(ch, "fields_added"), json_string(k));
    json_object_foreach(op, k, v) {
      json_t *nv = json_object_get(np, k);
      if (!nv) json_array_append_new(json_object_get(ch, "fields_removed"), json_string(k));
      else if (!json_equal(v, nv)) json_array_append_new(json_object_get(ch, "fields_changed"), json_string(k));
    }
    json_t *opk = json_object_get(st, "source_defined_primary_key"), *npk = json_object_get(nw, "source_defined_primary_key");
    bool pk_changed = (opk || npk) && !(opk && npk && json_equal(opk, npk));
    bool pk_gone = pk_changed || path_gone(opk, np);
    bool cursor_gone = path_gone(json_object_get(st, "default_cursor_field"), np);
    bool b = pk_gone || cursor_gone;
    if (json_array_size(json_object_get(ch, "fields_added")) || json_array_size(json_object_get(ch, "fields_removed")) ||
        json_array_size(json_object_get(ch, "fields_changed")) || pk_changed || b) {
      json_object_set_new(ch, "primary_key_changed", json_boolean(pk_gone));
      json_object_set_new(ch, "cursor_removed", json_boolean(cursor_gone));
      json_object_set_new(ch, "breaking", json_boolean(b));
      json_array_append(json_object_get(d, "streams_changed"), ch);
      breaking |= b;
    }
    json_decref(ch);
  }
  json_object_set_new(d, "breaking", json_boolean(breaking));
  return d;
}
