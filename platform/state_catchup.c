/* Moving a saved state forward to what the destination committed.
 *
 * The destination commits, then echoes the states the commit covers, and
 * only then does sluice save them: a crash in between (the destination
 * killed in its COMMIT's fsync, sluice killed before its save) leaves
 * committed data that the saved state does not describe, and resuming from
 * it would read that data again. Destinations built on libsluice keep the
 * last states each commit covered (lib/dest_states.c) and print them with
 * `<destination> state`. When the saved state of a key is one of the older
 * ones there, the newest is what the data holds, and the sync resumes from
 * it. A saved state the destination never had (set by hand, reset, another
 * destination) is left alone, and so is everything when the destination
 * has no `state` command or is an image. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sluice/docker.h"
#include "sluice/platform.h"

/* The saved entry for key, or NULL. */
static json_t *saved_entry(const sl_statefile *sf, const char *key) {
  size_t i;
  json_t *e;
  if (!json_is_array(sf->root)) return NULL; /* LEGACY: not tracked */
  json_array_foreach(sf->root, i, e) {
    char *k = sl_state_key(e);
    bool hit = k && !strcmp(k, key);
    free(k);
    if (hit) return e;
  }
  return NULL;
}

/* One line of `state`: {"key": K, "states": [oldest, ..., newest]}. */
static bool catch_up_key(sl_statefile *sf, const sl_mapping *map, json_t *line, char *what, size_t cap) {
  const char *key = json_string_value(json_object_get(line, "key"));
  json_t *states = json_object_get(line, "states");
  size_t n = json_array_size(states);
  if (!key || n < 2) return false;
  json_t *saved = saved_entry(sf, key), *plain = saved ? sl_state_plain(saved) : NULL;
  bool moved = false;
  for (size_t i = 0; plain && i + 1 < n && !moved; i++) {
    json_t *older = json_deep_copy(json_array_get(states, i));
    if (older && map) sl_mapping_state(map, older, false); /* the destination's names */
    if (older && json_equal(older, plain)) {
      json_t *newest = json_deep_copy(json_array_get(states, n - 1));
      sl_err err = SL_ERR_INIT;
      if (newest && map) sl_mapping_state(map, newest, false);
      moved = newest && sl_statefile_apply(sf, newest, &err) == SL_EOK;
      if (moved) snprintf(what, cap, "%s (%zu commit%s ahead)", key, n - 1 - i, n - 1 - i > 1 ? "s" : "");
      json_decref(newest);
    }
    json_decref(older);
  }
  json_decref(plain);
  return moved;
}

size_t sl_state_catch_up(sl_statefile *sf, const sl_mapping *map, const char *dst_name, const char *dst_exe,
                         const char *dst_config, const char *dst_catalog, sl_log_fn log, void *payload) {
  /* Images: a container start per sync for this is not worth it. */
  if (!json_is_array(sf->root) || !json_array_size(sf->root) || sl_docker_is_ref(dst_name)) return 0;
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
    if (json_is_object(line) && !json_object_get(line, "type") && catch_up_key(sf, map, line, what, sizeof what)) {
      moved++;
      char msg[700];
      snprintf(msg, sizeof msg, "the saved state of %s is behind what the destination committed: resuming from "
               "the destination's", what);
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
