/* Sources and destinations in the store, and their secrets: values of
 * airbyte_secret fields go to <home>/secrets.json (mode 0600), keyed by
 * actor, never into the database, logs or output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/fsutil.h"
#include "sluice/platform.h"
#include "store_int.h"

#define MASK "**********"

/* ---- splitting secrets out of a config ---- */

static void ptr_append(sl_buf *b, const char *key) {
  sl_buf_putc(b, '/');
  for (const char *k = key; *k; k++) {
    if (*k == '~') sl_buf_append(b, "~0", 2);
    else if (*k == '/') sl_buf_append(b, "~1", 2);
    else sl_buf_putc(b, *k);
  }
}

static void walk(const json_t *schema, const json_t *value, sl_buf *path, json_t *found, int depth) {
  if (!json_is_object(schema) || !value || depth > 64) return;
  if (json_is_true(json_object_get(schema, "airbyte_secret")) && !json_is_object(value) && !json_is_array(value)) {
    sl_buf_putc(path, 0);
    path->len--;
    json_object_set(found, path->data, (json_t *)value);
    return;
  }
  const char *combos[] = {"oneOf", "anyOf", "allOf"};
  for (size_t c = 0; c < 3; c++) {
    size_t i;
    json_t *sub;
    json_array_foreach(json_object_get(schema, combos[c]), i, sub) walk(sub, value, path, found, depth + 1);
  }
  if (json_is_object(value)) {
    const char *k;
    json_t *sub;
    json_object_foreach(json_object_get(schema, "properties"), k, sub) {
      json_t *v = json_object_get(value, k);
      if (!v) continue;
      size_t mark = path->len;
      ptr_append(path, k);
      walk(sub, v, path, found, depth + 1);
      path->len = mark;
    }
  }
}

/* The parent object of a JSON pointer and the (unescaped) last key. */
static json_t *ptr_parent(json_t *root, const char *ptr, char *key, size_t keycap, bool create) {
  json_t *cur = root;
  const char *p = ptr;
  while (*p == '/') {
    size_t k = 0;
    for (p++; *p && *p != '/'; p++) {
      char c = *p;
      if (c == '~' && (p[1] == '0' || p[1] == '1')) c = *++p == '0' ? '~' : '/';
      if (k + 1 < keycap) key[k++] = c;
    }
    key[k] = 0;
    if (!*p) return json_is_object(cur) ? cur : NULL;
    json_t *next = json_object_get(cur, key);
    if (!next && create && json_is_object(cur)) json_object_set_new(cur, key, next = json_object());
    if (!json_is_object(next)) return NULL;
    cur = next;
  }
  return NULL;
}

sl_code sl_secrets_split(const json_t *spec, json_t *config, json_t **secrets, sl_err *err) {
  json_t *found = json_object();
  sl_buf path;
  sl_buf_init(&path, 1 << 16);
  walk(spec, config, &path, found, 0);
  sl_buf_dispose(&path);
  const char *ptr;
  json_t *v;
  char key[1024];
  json_object_foreach(found, ptr, v) {
    json_t *parent = ptr_parent(config, ptr, key, sizeof key, false);
    if (parent) json_object_del(parent, key);
  }
  *secrets = found;
  return SL_EOK;
}

void sl_secrets_merge(json_t *config, const json_t *secrets, bool mask) {
  const char *ptr;
  json_t *v;
  char key[1024];
  json_object_foreach((json_t *)secrets, ptr, v) {
    json_t *parent = ptr_parent(config, ptr, key, sizeof key, true);
    if (parent) json_object_set_new(parent, key, mask ? json_string(MASK) : json_deep_copy(v));
  }
}

/* ---- the secrets file ---- */

static sl_code secrets_load(const char *home, json_t **all, char *path, size_t cap, sl_err *err) {
  snprintf(path, cap, "%s/secrets.json", home);
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) return sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno));
    *all = json_object();
    return SL_EOK;
  }
  if (st.st_mode & 077)
    return sl_err_set(err, SL_ECONFIG, "%s: readable by others (mode %03o); it holds secrets: chmod 600 it",
                      path, (unsigned)(st.st_mode & 0777));
  sl_code rc = sl_json_load_file(path, all, err);
  if (!rc && !json_is_object(*all)) rc = sl_err_set(err, SL_ECONFIG, "%s: not a JSON object", path);
  return rc;
}

sl_code sl_secrets_file_get(const char *home, const char *key, json_t **secrets, sl_err *err) {
  char path[4200];
  json_t *all;
  sl_code rc = secrets_load(home, &all, path, sizeof path, err);
  if (rc) return rc;
  json_t *mine = json_object_get(all, key);
  *secrets = mine ? json_incref(mine) : json_object();
  json_decref(all);
  return SL_EOK;
}

sl_code sl_secrets_file_put(const char *home, const char *key, const json_t *secrets, sl_err *err) {
  char path[4200], tmp[4300];
  json_t *all;
  sl_code rc = secrets_load(home, &all, path, sizeof path, err);
  if (rc) return rc;
  if (secrets && json_object_size(secrets)) json_object_set(all, key, (json_t *)secrets);
  else json_object_del(all, key);
  char *text = json_dumps(all, JSON_INDENT(1) | JSON_SORT_KEYS);
  json_decref(all);
  if (!text) return SL_ENOMEM;
  snprintf(tmp, sizeof tmp, "%s.%d.new", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) rc = sl_err_set(err, SL_EIO, "%s: %s", tmp, strerror(errno));
  else {
    rc = sl_fs_write_all(fd, text, strlen(text), tmp, err);
    if (!rc && fsync(fd) != 0) rc = sl_err_set(err, SL_EIO, "%s: fsync: %s", tmp, strerror(errno));
    close(fd);
    if (!rc && rename(tmp, path) != 0) rc = sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    else rc = sl_fs_fsync_dir(home, err);
  }
  free(text);
  return rc;
}

void sl_secrets_keep_masked(json_t *config, const json_t *stored) {
  const char *k;
  json_t *v;
  json_object_foreach(config, k, v) {
    json_t *old = json_object_get(stored, k);
    if (json_is_string(v) && !strcmp(json_string_value(v), "**********") && old) json_object_set(config, k, old);
    else if (json_is_object(v) && json_is_object(old)) sl_secrets_keep_masked(v, old);
  }
}

/* ---- actors ---- */

static void actor_key(const json_t *actor, char *key, size_t cap) {
  snprintf(key, cap, "%s:%lld", sl_store_str(actor, "kind"), (long long)sl_store_int(actor, "id"));
}

sl_code sl_actor_find(sl_store *s, const char *kind, const char *ref, json_t **row, sl_err *err) {
  char *end;
  long long id = strtoll(ref, &end, 10);
  char ib[24];
  sl_code rc = *ref && !*end
                   ? sl_store_one(s, row, err, "SELECT * FROM actors WHERE kind = ? AND id = ?", 2, kind, sl_store_i64(ib, id))
                   : sl_store_one(s, row, err, "SELECT * FROM actors WHERE kind = ? AND name = ?", 2, kind, ref);
  if (rc == SL_ENOTFOUND) sl_err_set(err, SL_ENOTFOUND, "no %s named \"%s\" (see `sluice %s list`)", kind, ref, kind);
  return rc;
}

static sl_code actor_config(sl_store *s, const json_t *actor, bool mask, json_t **config, sl_err *err) {
  json_error_t je;
  *config = json_loads(sl_store_str(actor, "config"), 0, &je);
  if (!*config) return sl_err_set(err, SL_ECONFIG, "store: config of %s \"%s\": %s", sl_store_str(actor, "kind"),
                                  sl_store_str(actor, "name"), je.text);
  char key[128];
  json_t *sec;
  actor_key(actor, key, sizeof key);
  sl_code rc = sl_secrets_file_get(s->home, key, &sec, err);
  if (rc) {
    json_decref(*config);
    *config = NULL;
    return rc;
  }
  sl_secrets_merge(*config, sec, mask);
  json_decref(sec);
  return SL_EOK;
}

sl_code sl_actor_config(sl_store *s, const json_t *actor, json_t **config, sl_err *err) {
  return actor_config(s, actor, false, config, err);
}
sl_code sl_actor_config_masked(sl_store *s, const json_t *actor, json_t **config, sl_err *err) {
  return actor_config(s, actor, true, config, err);
}

sl_code sl_actor_save(sl_store *s, const char *kind, int64_t id, int64_t version, const char *name, const char *connector,
                      const json_t *spec, const json_t *config, int64_t *out_id, sl_err *err) {
  json_t *pub = json_deep_copy(config), *sec = NULL, *row = NULL;
  sl_secrets_split(spec, pub, &sec, err);
  char *ctext = sl_json_dumps(pub), *stext = spec ? sl_json_dumps(spec) : NULL;
  char ts[24], ib[24], vb[24], key[128];
  sl_store_i64(ts, sl_now_ms());
  sl_code rc = sl_store_begin(s, err);
  if (rc) goto out;
  if (!id)
    rc = sl_store_one(s, &row, err,
                      "INSERT INTO actors (kind, name, connector, config, spec, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id, kind", 7, kind, name, connector, ctext, stext, ts, ts);
  else
    rc = sl_store_one(s, &row, err,
                      "UPDATE actors SET name = ?, connector = ?, config = ?, spec = COALESCE(?, spec), updated_at = ?, "
                      "version = version + 1 WHERE id = ? AND kind = ? AND version = ? RETURNING id, kind", 8, name, connector, ctext,
                      stext, ts, sl_store_i64(ib, id), kind, sl_store_i64(vb, version));
  if (rc == SL_ECONFIG && strstr(err->msg, "UNIQUE")) sl_err_set(err, SL_ECONFIG, "a %s named \"%s\" exists already", kind, name);
  if (rc == SL_ENOTFOUND) { /* compare-and-set: someone else's edit came first */
    json_t *now = NULL;
    sl_err e2 = SL_ERR_INIT;
    int64_t cur = !sl_store_one(s, &now, &e2, "SELECT version FROM actors WHERE id = ?", 1, ib) ? sl_store_int(now, "version") : 0;
    json_decref(now);
    rc = cur ? sl_err_set(err, SL_ECONFIG, "%s \"%s\" was changed by someone else since version %lld (it is now at version %lld); "
                          "show it again and repeat the edit from version %lld", kind, name, (long long)version, (long long)cur, (long long)cur)
             : sl_err_set(err, SL_ENOTFOUND, "%s \"%s\" was deleted meanwhile", kind, name);
  }
  /* The secrets file is written before the commit: a crash in between
   * leaves an unused entry, never a config without its secrets. */
  if (!rc) {
    actor_key(row, key, sizeof key);
    rc = sl_secrets_file_put(s->home, key, sec, err);
  }
  if (rc) {
    sl_store_rollback(s);
    goto out;
  }
  rc = sl_store_commit(s, err);
  if (!rc && out_id) *out_id = sl_store_int(row, "id");
out:
  json_decref(row);
  json_decref(pub);
  json_decref(sec);
  free(ctext);
  free(stext);
  return rc;
}

sl_code sl_actor_delete(sl_store *s, const json_t *actor, sl_err *err) {
  char ib[24], key[128];
  const char *kind = sl_store_str(actor, "kind");
  sl_store_i64(ib, sl_store_int(actor, "id"));
  json_t *row = NULL;
  if (!sl_store_one(s, &row, err, "SELECT name FROM connections WHERE source_id = ? OR destination_id = ?", 2, ib, ib)) {
    sl_err_set(err, SL_ECONFIG, "%s \"%s\" is used by connection \"%s\"; delete that first", kind, sl_store_str(actor, "name"),
               sl_store_str(row, "name"));
    json_decref(row);
    return err->code;
  }
  sl_code rc = sl_store_exec(s, NULL, err, "DELETE FROM actors WHERE id = ?", 1, ib);
  if (rc) return rc;
  actor_key(actor, key, sizeof key);
  return sl_secrets_file_put(s->home, key, NULL, err);
}

sl_code sl_connector_spec(const char *connector, json_t **spec, sl_err *err) {
  char exe[4096];
  int code;
  json_t *msg = NULL;
  *spec = NULL;
  const char *args[] = {"spec", NULL};
  sl_code rc = sl_connector_resolve(connector, exe, sizeof exe, err);
  if (!rc) rc = sl_connector_call(connector, exe, args, SL_MSG_SPEC, &msg, &code, NULL, NULL, err);
  if (rc) return sl_err_wrap(err, "%s spec", connector);
  json_t *cs = json_object_get(json_object_get(msg, "spec"), "connectionSpecification");
  if (!json_is_object(cs)) rc = sl_err_set(err, SL_EPROTOCOL, "%s spec: no connectionSpecification object", connector);
  else *spec = json_incref(cs);
  json_decref(msg);
  return rc;
}

sl_code sl_actor_call(sl_store *s, const json_t *actor, const char *verb, sl_msg_type want, json_t **msg, sl_err *err) {
  char dir[4200], cfg[4300], exe[4096];
  const char *connector = sl_store_str(actor, "connector");
  json_t *config = NULL;
  *msg = NULL;
  snprintf(dir, sizeof dir, "%s/run-XXXXXX", s->home);
  sl_code rc = sl_connector_resolve(connector, exe, sizeof exe, err);
  if (rc || (rc = sl_actor_config(s, actor, &config, err))) return rc;
  if (!mkdtemp(dir)) {
    json_decref(config);
    return sl_err_set(err, SL_EIO, "cannot create a directory in %s: %s", s->home, strerror(errno));
  }
  snprintf(cfg, sizeof cfg, "%s/config.json", dir);
  int code;
  const char *args[] = {verb, "--config", cfg, NULL};
  rc = sl_store_write_private(cfg, config, err);
  if (!rc) rc = sl_connector_call(connector, exe, args, want, msg, &code, NULL, NULL, err);
  unlink(cfg);
  rmdir(dir);
  json_decref(config);
  return rc;
}
