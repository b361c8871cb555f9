/* Discovered catalogs per source, versioned: a new version only when the
 * catalog differs from the latest one. */
#include <stdio.h>
#include <stdlib.h>

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
