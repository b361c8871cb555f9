/* Connections in the store: find by name or id, and create/edit with the
 * checks every caller needs (schedule, policy, status) and optimistic
 * concurrency on `version`. Used by the REST API; the CLI's
 * `connection create|edit` does the same checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/platform.h"
#include "sluice/store.h"

static const char *const conn_cols[SL_CONN_NFIELDS] = {"streams", "schedule", "namespace_format", "stream_prefix",
                                                       "schema_policy", "status", "catalog"};

const char *sl_conn_field_name(int i) { return i >= 0 && i < SL_CONN_NFIELDS ? conn_cols[i] : NULL; }

sl_code sl_conn_check_field(int i, const char *v, sl_err *err) {
  if (!v) return SL_EOK;
  if (i == SL_CONN_SCHEDULE) {
    sl_schedule sc;
    return sl_schedule_parse(v, &sc, err);
  }
  if (i == SL_CONN_POLICY && strcmp(v, "propagate_columns") && strcmp(v, "propagate_all") && strcmp(v, "ignore") &&
      strcmp(v, "pause_on_breaking"))
    return sl_err_set(err, SL_EUSAGE, "schema_policy \"%s\": expected propagate_columns, propagate_all, ignore or pause_on_breaking", v);
  if (i == SL_CONN_STATUS && strcmp(v, "active") && strcmp(v, "inactive") && strcmp(v, "paused"))
    return sl_err_set(err, SL_EUSAGE, "status \"%s\": expected active, inactive or paused", v);
  return SL_EOK;
}

sl_code sl_conn_find(sl_store *s, const char *ref, json_t **row, sl_err *err) {
  char *end;
  long long id = strtoll(ref, &end, 10);
  char ib[24];
  bool by_id = *ref && !*end;
  const char *sql = by_id ? "SELECT c.*, s.name AS source, d.name AS destination FROM connections c "
                            "JOIN actors s ON s.id = c.source_id JOIN actors d ON d.id = c.destination_id WHERE c.id = ?"
                          : "SELECT c.*, s.name AS source, d.name AS destination FROM connections c "
                            "JOIN actors s ON s.id = c.source_id JOIN actors d ON d.id = c.destination_id WHERE c.name = ?";
  sl_code rc = sl_store_one(s, row, err, sql, 1, by_id ? sl_store_i64(ib, id) : ref);
  if (rc == SL_ENOTFOUND) sl_err_set(err, SL_ENOTFOUND, "no connection named \"%s\" (see `sluice connection list`)", ref);
  return rc;
}

sl_code sl_conn_save(sl_store *s, const sl_conn_values *v, sl_conn_saved *res, sl_err *err) {
  memset(res, 0, sizeof *res);
  sl_code rc = SL_EOK;
  for (int i = 0; i < SL_CONN_NFIELDS && !rc; i++) rc = sl_conn_check_field(i, v->f[i], err);
  if (rc) return rc;
  if (!v->name || !*v->name) return sl_err_set(err, SL_EUSAGE, "a connection needs a name");
  if (v->source_id < 1 || v->destination_id < 1) return sl_err_set(err, SL_EUSAGE, "a connection needs a source and a destination");
  char ts[24], sb[24], db[24], ib[24], vb[24];
  const char *const *f = v->f;
  const char *policy = f[SL_CONN_POLICY] ? f[SL_CONN_POLICY] : "propagate_columns";
  const char *status = f[SL_CONN_STATUS] ? f[SL_CONN_STATUS] : "active";
  const char *sched = f[SL_CONN_SCHEDULE] ? f[SL_CONN_SCHEDULE] : "manual";
  sl_store_i64(sb, v->source_id);
  sl_store_i64(db, v->destination_id);
  sl_store_i64(ts, sl_now_ms());
  json_t *out = NULL;
  if (!v->id) {
    rc = sl_store_one(s, &out, err,
                      "INSERT INTO connections (name, source_id, destination_id, streams, schedule, namespace_format, stream_prefix, "
                      "schema_policy, status, catalog, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, version",
                      12, v->name, sb, db, f[SL_CONN_STREAMS], sched, f[SL_CONN_NSFORMAT], f[SL_CONN_PREFIX], policy, status,
                      f[SL_CONN_CATALOG], ts, ts);
  } else {
    /* Compare-and-set: the update applies only to the version read. */
    rc = sl_store_one(s, &out, err,
                      "UPDATE connections SET name = ?, source_id = ?, destination_id = ?, streams = ?, schedule = ?, namespace_format = ?, "
                      "stream_prefix = ?, schema_policy = ?, status = ?, catalog = ?, updated_at = ?, version = version + 1 "
                      "WHERE id = ? AND version = ? RETURNING id, version",
                      13, v->name, sb, db, f[SL_CONN_STREAMS], sched, f[SL_CONN_NSFORMAT], f[SL_CONN_PREFIX], policy, status,
                      f[SL_CONN_CATALOG], ts,
                      sl_store_i64(ib, v->id), sl_store_i64(vb, v->version));
    if (rc == SL_ENOTFOUND) {
      res->conflict = true;
      return sl_err_set(err, SL_ECONFIG,
                        "connection \"%s\" was changed by someone else (now at a version other than %lld); show it and edit again",
                        v->name, (long long)v->version);
    }
  }
  if (rc == SL_ECONFIG && strstr(err->msg, "UNIQUE")) sl_err_set(err, SL_ECONFIG, "a connection named \"%s\" exists already", v->name);
  if (!rc) {
    res->id = sl_store_int(out, "id");
    res->version = sl_store_int(out, "version");
  }
  json_decref(out);
  return rc;
}

sl_code sl_conn_source_catalog(sl_store *s, int64_t source_id, json_t **cat, sl_err *err) {
  json_t *c = NULL, *src = NULL;
  char ib[24];
  bool changed;
  int64_t version;
  *cat = NULL;
  sl_code rc = sl_catalog_get(s, source_id, 0, &c, err);
  if (!rc) {
    const char *t = sl_store_str(c, "catalog");
    rc = sl_json_load_str(t, strlen(t), "the stored catalog", cat, err);
  } else if (rc == SL_ENOTFOUND && !(rc = sl_actor_find(s, "source", sl_store_i64(ib, source_id), &src, err))) {
    rc = sl_source_discover(s, src, cat, &version, &changed, err);
  }
  json_decref(c);
  json_decref(src);
  return rc;
}

sl_code sl_conn_check_settings(sl_store *s, int64_t source_id, const char *streams, const json_t *settings, sl_err *err) {
  if (!json_is_object(settings) || !json_is_array(json_object_get(settings, "streams")))
    return sl_err_set(err, SL_ECATALOG, "stream settings: expected {\"streams\": [{\"stream\": {\"name\": ...}, ...}]}");
  json_t *disc = NULL, *configured = NULL;
  sl_code rc = sl_conn_source_catalog(s, source_id, &disc, err);
  if (rc) return rc;
  /* Every stream named must be one the source has. */
  size_t i, j;
  json_t *e, *d;
  json_array_foreach(json_object_get(settings, "streams"), i, e) {
    const char *n = json_string_value(json_object_get(json_object_get(e, "stream"), "name"));
    bool found = false;
    json_array_foreach(json_object_get(disc, "streams"), j, d) found |= n && !strcmp(n, json_string_value(json_object_get(d, "name")));
    if (!n) rc = sl_err_set(err, SL_ECATALOG, "stream settings: streams[%zu] has no stream.name", i);
    else if (!found) rc = sl_err_set(err, SL_ECATALOG, "stream settings: the source has no stream \"%s\"", n);
    if (rc) break;
  }
  /* The whole thing as a sync would build it. */
  char *copy = !rc && streams && *streams ? strdup(streams) : NULL, *save = NULL;
  const char *list[1024];
  size_t n = 0;
  for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && n + 1 < 1024; t = strtok_r(NULL, ",", &save)) list[n++] = t;
  list[n] = NULL;
  sl_catalog_opts o = {copy ? list : NULL, false};
  if (!rc && !(rc = sl_catalog_configure(disc, &o, &configured, err))) rc = sl_catalog_apply_settings(disc, configured, settings, err);
  free(copy);
  json_decref(disc);
  json_decref(configured);
  return rc;
}
