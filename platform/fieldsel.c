/* Per-stream field selection (Airbyte's fieldSelectionEnabled and
 * selectedFields): a connection's stream settings may name the fields to
 * sync; the configured catalog then carries a json_schema narrowed to them
 * and the record path (platform/mapping.c) drops every other field.
 * Settings are read in either spelling: field_selection_enabled and
 * selected_fields [{"field_path": [...]}] (as stored), or Airbyte's
 * fieldSelectionEnabled and selectedFields [{"fieldPath": [...]}]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/platform.h"

static json_t *get2(const json_t *o, const char *snake, const char *camel) {
  json_t *v = json_object_get(o, snake);
  return v ? v : json_object_get(o, camel);
}

char *sl_fields_path_text(const json_t *path) {
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  size_t i;
  json_t *p;
  json_array_foreach(path, i, p) {
    if (i) sl_buf_putc(&b, '.');
    const char *t = json_string_value(p) ? json_string_value(p) : "?";
    sl_buf_append(&b, t, strlen(t));
  }
  sl_buf_putc(&b, 0);
  return b.data;
}

/* The schema of the property at path, or NULL. */
static const json_t *schema_at(const json_t *schema, const json_t *path) {
  size_t i;
  json_t *p;
  json_array_foreach(path, i, p) {
    const char *k = json_string_value(p);
    if (!k || !(schema = json_object_get(json_object_get(schema, "properties"), k))) return NULL;
  }
  return json_array_size(path) ? schema : NULL;
}

sl_code sl_fields_selection(const json_t *set, const char *stream, json_t **paths, sl_err *err) {
  *paths = NULL;
  json_t *en = get2(set, "field_selection_enabled", "fieldSelectionEnabled");
  json_t *sel = get2(set, "selected_fields", "selectedFields");
  if (en && !json_is_boolean(en)) return sl_err_set(err, SL_ECATALOG, "stream \"%s\": field_selection_enabled must be true or false", stream);
  if (!json_is_true(en)) return SL_EOK;
  if (!json_is_array(sel))
    return sl_err_set(err, SL_ECATALOG, "stream \"%s\": field selection is enabled but selected_fields is not a list of {\"field_path\": [...]}", stream);
  if (!json_array_size(sel)) return sl_err_set(err, SL_ECATALOG, "stream \"%s\": field selection is enabled but selects no field", stream);
  json_t *out = json_array();
  size_t i, j;
  json_t *f, *p;
  json_array_foreach(sel, i, f) {
    json_t *path = json_is_array(f) ? f : get2(f, "field_path", "fieldPath");
    bool ok = json_array_size(path) > 0;
    json_array_foreach(path, j, p) ok &= json_is_string(p) && json_string_length(p) > 0;
    if (!ok) {
      json_decref(out);
      return sl_err_set(err, SL_ECATALOG, "stream \"%s\": selected_fields[%zu]: field_path must be a non-empty list of field names", stream, i);
    }
    json_array_append(out, path);
  }
  *paths = out;
  return SL_EOK;
}

sl_code sl_fields_check(const json_t *stream, const json_t *set, sl_err *err) {
  const char *name = json_string_value(json_object_get(stream, "name"));
  json_t *paths;
  sl_code rc = sl_fields_selection(set, name, &paths, err);
  size_t i;
  json_t *p;
  json_array_foreach(paths, i, p) if (!rc && !schema_at(json_object_get(stream, "json_schema"), p)) {
    char *t = sl_fields_path_text(p);
    rc = sl_err_set(err, SL_ECATALOG, "stream \"%s\": selected field \"%s\" is not in the stream's schema", name, t ? t : "?");
    free(t);
  }
  json_decref(paths);
  return rc;
}

/* Is path (or a parent of it) among the selected paths? */
static bool covered(const json_t *paths, const json_t *path) {
  size_t i, j;
  json_t *p, *x;
  json_array_foreach(paths, i, p) {
    if (json_array_size(p) > json_array_size(path)) continue;
    bool prefix = true;
    json_array_foreach(p, j, x) prefix &= !strcmp(json_string_value(x), json_string_value(json_array_get(path, j)));
    if (prefix) return true;
  }
  return false;
}

static void need(const json_t *paths, const json_t *path, sl_buf *missing) {
  if (!json_array_size(path) || covered(paths, path)) return;
  char *t = sl_fields_path_text(path);
  if (missing->len) sl_buf_append(missing, ", ", 2);
  if (t) sl_buf_append(missing, t, strlen(t));
  free(t);
}

/* The selection tree: an object of field name -> true (the whole value)
 * or a subtree; a parent selected whole covers its children. */
static json_t *tree_of(const json_t *paths) {
  json_t *root = json_object();
  size_t i, j;
  json_t *p, *x;
  json_array_foreach(paths, i, p) {
    json_t *node = root;
    json_array_foreach(p, j, x) {
      const char *k = json_string_value(x);
      json_t *cur = json_object_get(node, k);
      if (j + 1 == json_array_size(p)) {
        json_object_set_new(node, k, json_true());
        break;
      }
      if (json_is_true(cur)) break;
      if (!cur) json_object_set_new(node, k, cur = json_object());
      node = cur;
    }
  }
  return root;
}

/* Narrow an object schema's properties (and required) to the tree. */
static void narrow(json_t *schema, const json_t *tree) {
  json_t *props = json_object_get(schema, "properties");
  if (!json_is_object(props)) return;
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(props, tmp, k, v) {
    json_t *t = json_object_get(tree, k);
    if (!t) json_object_del(props, k);
    else if (json_is_object(t)) narrow(v, t);
  }
  json_t *req = json_object_get(schema, "required");
  for (size_t i = json_array_size(req); i-- > 0;)
    if (!json_object_get(props, json_string_value(json_array_get(req, i)) ? json_string_value(json_array_get(req, i)) : ""))
      json_array_remove(req, i);
}

sl_code sl_fields_apply(json_t *cs, const json_t *set, sl_err *err) {
  json_t *st = json_object_get(cs, "stream");
  const char *name = json_string_value(json_object_get(st, "name"));
  json_t *paths;
  sl_code rc = sl_fields_selection(set, name, &paths, err);
  if (rc || !paths) return rc;
  /* The key and the cursor travel with every record: they must be selected. */
  sl_buf missing;
  sl_buf_init(&missing, 1 << 20);
  size_t i;
  json_t *k;
  json_array_foreach(json_object_get(cs, "primary_key"), i, k) need(paths, k, &missing);
  if (!strcmp(json_string_value(json_object_get(cs, "sync_mode")), "incremental")) need(paths, json_object_get(cs, "cursor_field"), &missing);
  if (missing.len) {
    sl_buf_putc(&missing, 0);
    rc = sl_err_set(err, SL_ECATALOG, "stream \"%s\": the selected fields leave out %s (the primary key and cursor are always synced: select them too)",
                    name, missing.data);
  } else {
    json_t *tree = tree_of(paths), *schema = json_deep_copy(json_object_get(st, "json_schema"));
    narrow(schema, tree);
    json_object_set_new(st, "json_schema", schema);
    json_object_set_new(cs, SL_FIELDS_KEY, tree);
  }
  sl_buf_dispose(&missing);
  json_decref(paths);
  return rc;
}

void sl_fields_strip(json_t *configured) {
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(configured, "streams"), i, cs) json_object_del(cs, SL_FIELDS_KEY);
}

bool sl_fields_any(const json_t *configured) {
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(configured, "streams"), i, cs) if (json_object_get(cs, SL_FIELDS_KEY)) return true;
  return false;
}

/* A record's data (or a nested object) with only the tree's fields. */
void sl_fields_write(sl_jw *w, sl_jv obj, const json_t *tree) {
  sl_jw_obj_open(w);
  for (sl_jv k = sl_jv_first(obj); sl_jv_more(obj, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kn;
    const char *ks = sl_jv_str(k, &kn);
    json_t *t = json_object_getn(tree, ks, kn);
    if (!t) continue;
    sl_jw_key(w, ks, kn);
    sl_jv v = sl_jv_val(k);
    if (json_is_object(t) && sl_jv_type(v) == SL_JOBJECT) sl_fields_write(w, v, t);
    else sl_jw_jv(w, v); /* whole, or not an object where a nested field was selected: as it is */
  }
  sl_jw_obj_close(w);
}

/* Is name among the strings of arr? */
static bool has_name(const json_t *arr, const char *name) {
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), name)) return true;
  return false;
}

bool sl_fields_on_diff(json_t *settings, json_t *diff) {
  bool changed = false;
  size_t i, j;
  json_t *ch, *set;
  json_array_foreach(json_object_get(diff, "streams_changed"), i, ch) {
    const char *stream = json_string_value(json_object_get(ch, "stream"));
    json_array_foreach(json_object_get(settings, "streams"), j, set) {
      const char *n = json_string_value(json_object_get(json_object_get(set, "stream"), "name"));
      if (!n || !stream || strcmp(n, stream) || !json_is_true(get2(set, "field_selection_enabled", "fieldSelectionEnabled"))) continue;
      /* New fields stay out of a selection; removed ones leave it. */
      json_object_set(ch, "fields_not_selected", json_object_get(ch, "fields_added"));
      json_t *sel = get2(set, "selected_fields", "selectedFields"), *gone = json_array();
      for (size_t k = json_array_size(sel); k-- > 0;) {
        json_t *f = json_array_get(sel, k), *path = json_is_array(f) ? f : get2(f, "field_path", "fieldPath");
        const char *top = json_string_value(json_array_get(path, 0));
        if (top && has_name(json_object_get(ch, "fields_removed"), top)) {
          char *t = sl_fields_path_text(path);
          if (t) json_array_insert_new(gone, 0, json_string(t));
          free(t);
          json_array_remove(sel, k);
          changed = true;
        }
      }
      json_object_set_new(ch, "selected_fields_removed", gone);
    }
  }
  return changed;
}

/* The leaf field paths of an object schema (an object with properties is
 * walked into), appended to out as arrays of names. */
static void leaves(const json_t *schema, json_t *prefix, json_t *out) {
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(schema, "properties"), k, v) {
    json_t *p = json_copy(prefix);
    json_array_append_new(p, json_string(k));
    if (json_object_size(json_object_get(v, "properties"))) leaves(v, p, out);
    else json_array_append(out, p);
    json_decref(p);
  }
}

static const json_t *stream_of(const json_t *catalog, const char *name) {
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(catalog, "streams"), i, st) {
    const char *n = json_string_value(json_object_get(st, "name"));
    if (n && !strcmp(n, name)) return st;
  }
  return NULL;
}

bool sl_fields_hold_back(json_t *settings, json_t *diff, const json_t *old_catalog, const json_t *new_catalog) {
  bool changed = false;
  size_t i, j;
  json_t *ch, *set, *p;
  json_array_foreach(json_object_get(diff, "streams_changed"), i, ch) {
    const char *stream = json_string_value(json_object_get(ch, "stream"));
    if (!stream || (!json_array_size(json_object_get(ch, "fields_added")) && !json_array_size(json_object_get(ch, "fields_changed")))) continue;
    json_t *e = NULL;
    json_array_foreach(json_object_get(settings, "streams"), j, set) {
      const char *n = json_string_value(json_object_get(json_object_get(set, "stream"), "name"));
      if (n && !strcmp(n, stream)) e = set;
    }
    if (e && json_is_true(get2(e, "field_selection_enabled", "fieldSelectionEnabled"))) continue; /* sl_fields_on_diff's */
    const json_t *old = stream_of(old_catalog, stream), *nw = stream_of(new_catalog, stream);
    if (!old || !nw) continue;
    /* The fields (nested ones too) the stream had and still has, selected
     * from now on; the new ones are left out. */
    json_t *was = json_array(), *now = json_array(), *paths = json_array(), *out = json_array(), *empty = json_array();
    leaves(json_object_get(old, "json_schema"), empty, was);
    leaves(json_object_get(nw, "json_schema"), empty, now);
    json_array_foreach(was, j, p) if (schema_at(json_object_get(nw, "json_schema"), p)) json_array_append_new(paths, json_pack("{s:O}", "field_path", p));
    json_array_foreach(now, j, p) if (!schema_at(json_object_get(old, "json_schema"), p)) {
      char *t = sl_fields_path_text(p);
      if (t) json_array_append_new(out, json_string(t));
      free(t);
    }
    if (json_array_size(paths) && json_array_size(out)) {
      if (!e) {
        e = json_pack("{s:{s:s}}", "stream", "name", stream);
        if (json_object_get(old, "namespace")) json_object_set(json_object_get(e, "stream"), "namespace", json_object_get(old, "namespace"));
        json_array_append_new(json_object_get(settings, "streams"), e);
      }
      json_object_del(e, "fieldSelectionEnabled");
      json_object_del(e, "selectedFields");
      json_object_set_new(e, "field_selection_enabled", json_true());
      json_object_set(e, "selected_fields", paths);
      json_object_set(ch, "fields_not_selected", out);
      changed = true;
    }
    json_decref(was);
    json_decref(now);
    json_decref(paths);
    json_decref(out);
    json_decref(empty);
  }
  return changed;
}
