/* The states a destination committed, kept in the destination itself.
 *
 * The runtime commits records and then echoes the states they satisfy;
 * sluice saves those echoes. A crash between the two (the destination
 * killed during its COMMIT's fsync, or sluice killed before it saved)
 * leaves data the saved state does not describe, and the next sync would
 * read it again. A destination offering save_state/load_states keeps, in
 * the same transaction as the records, the last few states each key
 * (a stream, or GLOBAL/LEGACY) committed; `<destination> state` prints
 * them, and sluice moves its saved state forward when it is one of the
 * older ones (platform/sync.c).
 *
 * Each commit also records the sync it belongs to (SLUICE_SYNC_ID, set by
 * sluice for the destination's write): a key sluice never saved a state
 * for is caught up only with the states of the very sync sluice knows was
 * interrupted (platform/state_catchup.c), never with another connection's
 * or those from before a reset. A commit is a plain list of states when
 * no sync id was given, else {"sync": ID, "states": [...]}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "dest_states.h"

/* Per key: the commits that covered it, oldest first, each the list of
 * its states. The last commit keeps every state (up to LAST_STATES: sluice
 * may have saved any of them when it died reading the echoes); earlier ones
 * only their last. */
#define COMMITS 8
#define LAST_STATES 256
#define MAX_VALUE_BYTES ((size_t)4 << 20) /* a key with larger states keeps none */

#define MAX_SYNC_ID 64

struct sl_dstates {
  const sl_destination *dst;
  void *h;
  char sync[MAX_SYNC_ID + 1]; /* this write's sync id, or "" */
  json_t *hist;    /* key -> [[state, ...], ...] */
  json_t *pending; /* key -> [state, ...] since the last commit */
};

char *sl_state_key(const json_t *state) {
  const char *type = json_string_value(json_object_get(state, "type"));
  char *k = NULL;
  if (type && !strcmp(type, "STREAM")) {
    const json_t *d = json_object_get(json_object_get(state, "stream"), "stream_descriptor");
    const char *name = json_string_value(json_object_get(d, "name")), *ns = json_string_value(json_object_get(d, "namespace"));
    if (!name || asprintf(&k, "STREAM\t%s\t%s", ns ? ns : "", name) < 0) return NULL;
    return k;
  }
  return strdup(type && !strcmp(type, "GLOBAL") ? "GLOBAL" : "LEGACY");
}

static json_t *strip(json_t *c) {
  if (!c) return NULL;
  json_object_del(c, "id");
  json_object_del(c, "destinationStats");
  json_object_del(c, "sourceStats");
  return c;
}

json_t *sl_state_plain(const json_t *state) { return strip(json_deep_copy(state)); }

/* A commit's list of states (either form), or NULL. */
static json_t *commit_states(json_t *c) { return json_is_array(c) ? c : json_object_get(c, "states"); }

/* The sync id from the environment when it is a short plain token (it is
 * printed and compared, never interpreted); else none. */
static void read_sync_id(char out[MAX_SYNC_ID + 1]) {
  const char *v = getenv("SLUICE_SYNC_ID");
  out[0] = 0;
  if (!v || !*v || strlen(v) > MAX_SYNC_ID || v[strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")])
    return;
  strcpy(out, v);
}

static void load_one(void *arg, const char *key, const char *value) {
  json_t *v = json_loads(value, 0, NULL);
  if (json_is_array(v)) json_object_set(arg, key, v);
  json_decref(v);
}

sl_code sl__dstates_open(const sl_destination *dst, void *h, sl_dstates **out, sl_err *err) {
  *out = NULL;
  if (!dst->save_state || !dst->load_states) return SL_EOK;
  sl_dstates *s = calloc(1, sizeof *s);
  if (!s || !(s->hist = json_object()) || !(s->pending = json_object())) {
    sl__dstates_free(s);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  s->dst = dst;
  s->h = h;
  read_sync_id(s->sync);
  sl_code rc = dst->load_states(h, load_one, s->hist, err);
  if (rc) {
    sl__dstates_free(s);
    return rc;
  }
  *out = s;
  return SL_EOK;
}

sl_code sl__dstates_note(sl_dstates *s, sl_jv state, sl_err *err) {
  if (!s) return SL_EOK;
  json_t *plain = strip(sl_jv_to_json(state)); /* a fresh copy: stripped in place */
  char *key = plain ? sl_state_key(plain) : NULL;
  sl_code rc = SL_EOK;
  if (!key) rc = sl_err_set(err, SL_ENOMEM, "out of memory keeping a state");
  else {
    json_t *list = json_object_get(s->pending, key);
    if (!list) json_object_set_new(s->pending, key, list = json_array());
    if (!list || json_array_append(list, plain)) rc = sl_err_set(err, SL_ENOMEM, "out of memory keeping a state");
  }
  free(key);
  json_decref(plain);
  return rc;
}

bool sl__dstates_pending(const sl_dstates *s) { return s && json_object_size(s->pending); }

sl_code sl__dstates_save(sl_dstates *s, sl_err *err) {
  if (!s || !json_object_size(s->pending)) return SL_EOK;
  const char *key;
  json_t *list;
  sl_code rc = SL_EOK;
  json_object_foreach(s->pending, key, list) {
    json_t *h = json_object_get(s->hist, key);
    if (!h) json_object_set_new(s->hist, key, h = json_array());
    size_t i;
    json_t *c;
    json_array_foreach(h, i, c) { /* earlier commits: their last state */
      json_t *cs = commit_states(c);
      while (json_array_size(cs) > 1) json_array_remove(cs, 0);
    }
    while (json_array_size(list) > LAST_STATES) json_array_remove(list, 0);
    if (s->sync[0]) json_array_append_new(h, json_pack("{s:s, s:O}", "sync", s->sync, "states", list));
    else json_array_append(h, list);
    while (json_array_size(h) > COMMITS) json_array_remove(h, 0);
    char *text = json_dumps(h, JSON_COMPACT);
    if (!text) return sl_err_set(err, SL_ENOMEM, "out of memory saving states");
    /* Huge states (a big per-partition cursor) are not worth copying: the
     * key then keeps nothing, and sluice relies on what it saved. */
    if (strlen(text) > MAX_VALUE_BYTES) {
      free(text);
      json_array_clear(h);
      text = strdup("[]");
    }
    rc = text ? s->dst->save_state(s->h, key, text, err) : SL_ENOMEM;
    free(text);
    if (rc) return rc;
  }
  json_object_clear(s->pending);
  return SL_EOK;
}

void sl__dstates_free(sl_dstates *s) {
  if (!s) return;
  json_decref(s->hist);
  json_decref(s->pending);
  free(s);
}

/* `<destination> state --config C [--catalog K]`: one line per key,
 * {"key": ..., "states": [oldest, ..., newest]}, with "syncs": the sync id
 * of each state (null where none was given) when any commit had one. */
static void print_one(void *arg, const char *key, const char *value) {
  json_t *v = json_loads(value, 0, NULL), *flat = json_array(), *syncs = json_array(), *c;
  size_t i, j;
  bool tagged = false;
  json_array_foreach(v, i, c) {
    json_t *cs = commit_states(c), *sync = json_is_object(c) ? json_object_get(c, "sync") : NULL, *st;
    if (!json_is_array(cs)) continue;
    tagged |= json_is_string(sync);
    json_array_foreach(cs, j, st) {
      json_array_append(flat, st);
      json_array_append_new(syncs, json_is_string(sync) ? json_incref(sync) : json_null());
    }
  }
  json_t *line = json_array_size(flat) ? json_pack("{s:s, s:o}", "key", key, "states", flat) : (json_decref(flat), NULL);
  if (line && tagged) json_object_set(line, "syncs", syncs);
  json_decref(syncs);
  char *t = line ? json_dumps(line, JSON_COMPACT) : NULL;
  if (t && sl_buf_put(&((sl_out *)arg)->buf, t, strlen(t)) == SL_EOK) sl_buf_putc(&((sl_out *)arg)->buf, '\n');
  free(t);
  json_decref(line);
  json_decref(v);
}

int sl__dest_cmd_state(sl_entry *e, const sl_destination *dst, sl_err *err) {
  if (!dst->save_state || !dst->load_states) {
    sl_err_set(err, SL_EUSAGE, "%s does not keep its committed states", e->name);
    return sl__entry_fail(e, err, NULL);
  }
  /* The catalog is optional here: the states do not depend on it. */
  if (sl__entry_load_config(e, err) || (e->catalog_path && sl__entry_load_catalog(e, err)))
    return sl__entry_fail(e, err, NULL);
  void *h = NULL;
  sl_code rc = dst->open ? dst->open(e->config, &e->cat, &h, err) : SL_EOK;
  if (!rc) rc = dst->load_states(h, print_one, &e->out, err);
  if (dst->close && h) dst->close(h, false);
  return rc ? sl__entry_fail(e, err, NULL) : 0;
}
