/* Moving a saved state forward to what the destination committed.
 *
 * The destination commits, then echoes the states the commit covers, and
 * only then does sluice save them: a crash in between (the destination
 * killed in its COMMIT's fsync, sluice killed before its save) leaves
 * committed data that the saved state does not describe, and resuming from
 * it would read that data again. Destinations built on libsluice keep the
 * last states each commit covered, with the id of the sync that sent them
 * (lib/dest_states.c), and print them with `<destination> state`.
 *
 * - A key with a saved state: when that state is one of the older ones
 *   there, the data holds what came after it, and the sync resumes from the
 *   newest state of the interrupted sync (the newest of all when the
 *   destination kept no sync ids or sluice has no valid sync record).
 * - A key with no saved state (the interrupted sync died before its first
 *   save): it resumes from the newest state the interrupted sync committed
 *   for it. Only that sync's states count, the one the sync record names
 *   (platform/sync.c): the record is void once the saved state was changed
 *   by anything but that sync (a reset), and another connection or state
 *   file writing the same tables has its own sync ids. Only incremental
 *   streams appended to (or deduplicated) qualify; a full refresh reads
 *   everything again anyway.
 * A saved state the destination never had (set by hand, reset, another
 * destination) is left alone, and so is everything when the destination
 * has no `state` command or is an image. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sluice/docker.h"
#include "sluice/fsutil.h"
#include "sluice/rand.h"
#include "sluice/platform.h"

/* The saved entry for key, or NULL. */
static json_t *saved_entry(const sl_statefile *sf, const char *key) {
  size_t i;
  json_t *e;
  json_array_foreach(sf->root, i, e) {
    char *k = sl_state_key(e);
    bool hit = k && !strcmp(k, key);
    free(k);
    if (hit) return e;
  }
  return NULL;
}

/* Index of the newest state of sync id prev in a `state` line, or -1. */
static long newest_of(const json_t *syncs, const char *prev) {
  for (size_t i = json_array_size(syncs); prev && i-- > 0;)
    if (json_is_string(json_array_get(syncs, i)) && !strcmp(json_string_value(json_array_get(syncs, i)), prev)) return (long)i;
  return -1;
}

static bool resumable(const sl_cstream *cs) {
  return cs && cs->sync_mode == SL_SYNC_INCREMENTAL &&
         !(cs->dest_mode & (SL_DEST_OVERWRITE | SL_DEST_OVERWRITE_DEDUP | SL_DEST_UNKNOWN));
}

/* May a key nothing was saved for take a state of this type (in source
 * terms)? Its stream (every stream, for GLOBAL) must be resumable, and it
 * must not mix with what is saved: GLOBAL and STREAM entries exclude each
 * other. */
static bool may_adopt(const sl_statefile *sf, const sl_catalog *cat, const json_t *state) {
  const char *type = json_string_value(json_object_get(state, "type"));
  const json_t *first = json_array_get(sf->root, 0);
  const char *saved_type = first ? json_string_value(json_object_get(first, "type")) : NULL;
  if (!cat || !type || (saved_type && strcmp(saved_type, type))) return false;
  if (!strcmp(type, "GLOBAL")) {
    for (size_t i = 0; i < cat->n; i++)
      if (!resumable(&cat->streams[i])) return false;
    return cat->n > 0;
  }
  if (strcmp(type, "STREAM")) return false;
  const json_t *d = json_object_get(json_object_get(state, "stream"), "stream_descriptor");
  const char *name = json_string_value(json_object_get(d, "name"));
  return name && resumable(sl_catalog_find(cat, name, json_string_value(json_object_get(d, "namespace"))));
}

/* One line of `state`: {"key": K, "states": [oldest, ..., newest], "syncs": [...]}. */
static bool catch_up_key(sl_statefile *sf, const sl_mapping *map, const sl_catalog *cat, const char *prev, json_t *line,
                         char *what, size_t cap) {
  const char *key = json_string_value(json_object_get(line, "key"));
  json_t *states = json_object_get(line, "states"), *syncs = json_object_get(line, "syncs");
  size_t n = json_array_size(states);
  if (!key || !n) return false;
  /* The state to resume from: the interrupted sync's newest where the
   * destination names syncs and sluice knows which one was interrupted;
   * else (older destinations, a state file without its record) the newest. */
  bool tagged = json_is_array(syncs) && json_array_size(syncs) == n;
  long target = tagged && prev ? newest_of(syncs, prev) : (long)n - 1;
  json_t *saved = saved_entry(sf, key), *plain = saved ? sl_state_plain(saved) : NULL;
  json_t *adopt = NULL;
  size_t ahead = 0;
  if (plain) {
    for (long i = 0; i < target && !adopt; i++) {
      json_t *older = json_deep_copy(json_array_get(states, (size_t)i));
      if (older && map) sl_mapping_state(map, older, false); /* the destination's names */
      if (older && json_equal(older, plain)) {
        adopt = json_deep_copy(json_array_get(states, (size_t)target));
        ahead = (size_t)(target - i);
      }
      json_decref(older);
    }
    json_decref(plain);
  } else if (target >= 0 && tagged && prev) { /* nothing saved: the interrupted sync's */
    adopt = json_deep_copy(json_array_get(states, (size_t)target));
    if (adopt && map) sl_mapping_state(map, adopt, false);
    if (adopt && !may_adopt(sf, cat, adopt)) {
      json_decref(adopt);
      adopt = NULL;
    }
  }
  bool moved = false;
  if (adopt) {
    sl_err err = SL_ERR_INIT;
    if (saved && map) sl_mapping_state(map, adopt, false);
    moved = sl_statefile_apply(sf, adopt, &err) == SL_EOK;
    if (moved && saved) snprintf(what, cap, "the saved state of %s (%zu commit%s ahead) is behind what the destination committed",
                                 key, ahead, ahead > 1 ? "s" : "");
    else if (moved) snprintf(what, cap, "no state of %s was saved, but the interrupted sync %s committed some", key, prev);
    json_decref(adopt);
  }
  return moved;
}

size_t sl_state_catch_up(sl_statefile *sf, const sl_mapping *map, const sl_catalog *cat, const char *prev_sync,
                         const char *dst_name, const char *dst_exe, const char *dst_config, const char *dst_catalog,
                         sl_log_fn log, void *payload) {
  /* LEGACY states are not tracked; with nothing saved, only the states of
   * a known interrupted sync count. Images: a container start per sync for
   * this is not worth it. */
  if (!json_is_array(sf->root) || (!json_array_size(sf->root) && !prev_sync) || sl_docker_is_ref(dst_name)) return 0;
  const char *args[] = {"state", "--config", dst_config, "--catalog", dst_catalog, NULL};
  sl_proc p;
  sl_err err = SL_ERR_INIT;
  if (sl_proc_spawn(&p, dst_name, dst_exe, args, false, &err)) return 0;
  FILE *f = fdopen(p.out_fd, "r");
  if (!f) {
    close(p.out_fd);
    sl_proc_wait(&p);
    return 0;
  }
  char *text = NULL;
  size_t cap = 0, moved = 0;
  while (getline(&text, &cap, f) > 0) {
    json_t *line = json_loads(text, 0, NULL);
    char what[512];
    if (json_is_object(line) && !json_object_get(line, "type") && catch_up_key(sf, map, cat, prev_sync, line, what, sizeof what)) {
      moved++;
      char msg[700];
      snprintf(msg, sizeof msg, "%s: resuming from the destination's", what);
      for (char *c = msg; *c; c++)
        if (*c == '\t') *c = ' ';
      if (log) log(payload, "sluice", "WARN", msg);
    }
    json_decref(line);
  }
  free(text);
  fclose(f);
  sl_proc_wait(&p); /* a destination without the command fails it: nothing moved */
  return moved;
}

/* ---- the sync record ----
 * {"sync": ID, "state": [digest]}: the id of the last sync run from a state
 * file (or, on the platform, a connection's attempt) and the digest of the
 * saved state as that sync left it (its resumable streams', and any others
 * the catalog does not name), with the generations of its resumable
 * streams. It is written before the destination gets anything and right
 * after each save; any other change of the saved state (a reset, an edit, a
 * deleted state file) or a new generation (a refresh, a clear) voids it.
 * So does a crash between a save and the record's rewrite, which errs
 * toward reading again. (Only the state as last saved counts: accepting the
 * one before a save too would take a reset back to it, an empty state
 * after a first save, for that sync's.) */

char *sl_state_digest(const json_t *root, const sl_catalog *cat) {
  json_t *canon = json_object();
  size_t i;
  json_t *e;
  if (!canon) return NULL;
  if (json_is_array(root)) { /* the order of entries does not matter (the store sorts them) */
    json_array_foreach(root, i, e) {
      /* A full refresh's state is reset at every job (platform/refresh.c),
       * and none is ever taken for it: it does not count. */
      const json_t *d = json_object_get(json_object_get(e, "stream"), "stream_descriptor");
      const char *name = json_string_value(json_object_get(d, "name"));
      const sl_cstream *cs = cat && name ? sl_catalog_find(cat, name, json_string_value(json_object_get(d, "namespace"))) : NULL;
      if (cs && !resumable(cs)) continue;
      char *k = sl_state_key(e);
      if (k) json_object_set_new(canon, k, sl_state_plain(e));
      free(k);
    }
  } else if (root) json_object_set(canon, "LEGACY", (json_t *)root);
  for (i = 0; cat && i < cat->n; i++) { /* a refresh or clear bumps these; an overwrite's, bumped every job, do not count */
    const sl_cstream *cs = &cat->streams[i];
    char *k = NULL;
    if (!cs->has_generation_id || !cs->generation_id || !resumable(cs)) continue;
    if (asprintf(&k, "GENERATION\t%s\t%s", cs->ns ? cs->ns : "", cs->name) >= 0) json_object_set_new(canon, k, json_integer(cs->generation_id));
    free(k);
  }
  char *text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS), *hex = NULL;
  json_decref(canon);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (text && EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL) && (hex = malloc(2 * len + 1)))
    for (unsigned int j = 0; j < len; j++) sprintf(hex + 2 * j, "%02x", md[j]);
  free(text);
  return hex;
}

void sl_sync_id_new(char out[33]) {
  sl_rng r;
  sl_rng_seed(&r);
  snprintf(out, 33, "%016llx%016llx", (unsigned long long)sl_rng_next(&r), (unsigned long long)sl_rng_next(&r));
}

char *sl_sync_record_prev(const char *path, const char *digest) {
  json_t *rec = path && digest ? json_load_file(path, 0, NULL) : NULL, *d;
  const char *id = json_string_value(json_object_get(rec, "sync"));
  char *out = NULL;
  size_t i;
  json_array_foreach(json_object_get(rec, "state"), i, d) if (id && json_is_string(d) && !strcmp(json_string_value(d), digest)) {
    out = strdup(id);
    break;
  }
  json_decref(rec);
  return out;
}

sl_code sl_sync_record_write(const char *path, const char *sync_id, const char *digest, sl_err *err) {
  json_t *rec = json_pack("{s:s, s:[s]}", "sync", sync_id, "state", digest);
  char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL, *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
  json_decref(rec);
  sl_code rc;
  if (!text || !dir) rc = sl_err_set(err, SL_ENOMEM, "out of memory writing the sync record %s", path);
  else {
    if (slash) *slash = 0;
    rc = sl_fs_replace(slash ? (*dir ? dir : "/") : ".", path, text, strlen(text), err);
    if (rc) sl_err_wrap(err, "the sync record");
  }
  free(text);
  free(dir);
  return rc;
}
