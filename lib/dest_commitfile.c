/* The commit record of a file destination's directory (sluice/commitfile.h).
 *
 * {"version": 1,
 *  "files": {"<name>": {"bytes": N, "generation_id": G, "renamed_from": "<name>"}},
 *  "states": {"<key>": <the value dest_states.c keeps for the key>}}
 *
 * in <dir>/.sluice-commit-<owner>.json. generation_id is absent for a null
 * generation; renamed_from only between
 * the save that decides a swap and its rename. Replacing the record is the
 * commit: one file, so several streams commit together or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/commitfile.h"
#include "sluice/connector.h"
#include "sluice/fsutil.h"

struct sl_commitfile {
  char *dir, *path;
  int lock_fd;    /* the record's lock file, held from recover to free */
  json_t *files;  /* name -> entry object */
  json_t *states; /* key -> value, as of the last commit */
  json_t *pending; /* key -> value, put since: written by the next commit */
  bool dirty;     /* files changed since the last save */
  json_t *legacy; /* paths of earlier versions' marks, deleted after the next save */
};

static char *join(const char *dir, const char *name) {
  char *p = NULL;
  return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

void sl_commit_free(sl_commitfile *c) {
  if (!c) return;
  if (c->lock_fd >= 0) close(c->lock_fd);
  free(c->dir);
  free(c->path);
  json_decref(c->files);
  json_decref(c->states);
  json_decref(c->pending);
  json_decref(c->legacy);
  free(c);
}

/* Every entry an object with a non-negative integer "bytes". */
static bool well_formed(const json_t *files, const char **bad) {
  const char *name;
  json_t *e;
  json_object_foreach((json_t *)files, name, e) {
    json_t *b = json_object_get(e, "bytes"), *g = json_object_get(e, "generation_id"),
           *f = json_object_get(e, "renamed_from");
    if (!json_is_integer(b) || json_integer_value(b) < 0 || (g && !json_is_integer(g)) || (f && !json_is_string(f)) ||
        strchr(name, '/') || (f && strchr(json_string_value(f), '/'))) {
      *bad = name;
      return false;
    }
  }
  return true;
}

sl_code sl_commit_load(const char *dir, const char *owner, sl_commitfile **out, sl_err *err) {
  *out = NULL;
  sl_commitfile *c = calloc(1, sizeof *c);
  if (c) c->lock_fd = -1;
  if (c && asprintf(&c->path, "%s/" SL_COMMIT_RECORD_FMT, dir, owner) < 0) c->path = NULL;
  if (!c || !c->path || !(c->dir = strdup(dir)) || !(c->legacy = json_array()) || !(c->pending = json_object())) {
    sl_commit_free(c);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  json_error_t je;
  json_t *root = json_load_file(c->path, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    struct stat sb;
    if (stat(c->path, &sb) && errno == ENOENT) {
      c->files = json_object();
      c->states = json_object();
      if (!c->files || !c->states) {
        sl_commit_free(c);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
      }
      *out = c;
      return SL_EOK;
    }
    sl_err_set(err, SL_EIO,
               "%s: line %d column %d: %s; this file holds the committed length of every file in %s: "
               "restore it, or delete it to keep every file whole",
               c->path, je.line, je.column, je.text, dir);
    sl_commit_free(c);
    return SL_EIO;
  }
  json_t *files = json_object_get(root, "files"), *states = json_object_get(root, "states");
  const char *bad = NULL;
  if (!json_is_object(files) || !json_is_object(states) || !well_formed(files, &bad)) {
    sl_err_set(err, SL_EIO, "%s: %s%s%s is not a commit record this version understands; delete it to keep every file "
               "whole", c->path, bad ? "the entry of \"" : "\"files\" or \"states\"", bad ? bad : "", bad ? "\"" : "");
    json_decref(root);
    sl_commit_free(c);
    return SL_EIO;
  }
  c->files = json_incref(files);
  c->states = json_incref(states);
  json_decref(root);
  *out = c;
  return SL_EOK;
}

sl_code sl_commit_cut_fd(int fd, const char *path, uint64_t bytes, const char *why, sl_err *err) {
  struct stat sb;
  if (fstat(fd, &sb)) return sl_err_set(err, SL_EIO, "%s: stat: %s", path, strerror(errno));
  uint64_t size = (uint64_t)sb.st_size;
  if (size < bytes)
    return sl_err_set(err, SL_EIO, "%s is %llu bytes, shorter than the %llu bytes its last commit holds (per the "
                      "directory's .sluice-commit-*.json): was it changed by hand?", path, (unsigned long long)size,
                      (unsigned long long)bytes);
  if (size == bytes) return SL_EOK;
  if (ftruncate(fd, (off_t)bytes)) return sl_err_set(err, SL_EIO, "%s: truncate: %s", path, strerror(errno));
  sl_dest_log("INFO", "%s: cut %llu bytes %s", path, (unsigned long long)(size - bytes), why);
  return SL_EOK;
}

static sl_code cut_path(const char *path, uint64_t bytes, bool *gone, sl_err *err) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  *gone = fd < 0 && errno == ENOENT;
  if (fd < 0) return *gone ? SL_EOK : sl_err_set(err, SL_EIO, "cannot open %s: %s", path, strerror(errno));
  sl_code rc = sl_commit_cut_fd(fd, path, bytes, "written after the last commit by an interrupted run", err);
  close(fd);
  return rc;
}

static uint64_t entry_bytes(const json_t *e) { return (uint64_t)json_integer_value(json_object_get(e, "bytes")); }

/* One write per record at a time: a second would cut the first's files.
 * The lock is on "<record>.lock" (the record itself is replaced by rename). */
static sl_code lock(sl_commitfile *c, sl_err *err) {
  char *lp = NULL;
  if (asprintf(&lp, "%s.lock", c->path) < 0) return sl_err_set(err, SL_ENOMEM, "out of memory");
  c->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  sl_code rc = c->lock_fd < 0 ? sl_err_set(err, SL_EIO, "cannot create %s: %s", lp, strerror(errno)) : SL_EOK;
  const char *env = getenv("SLUICE_COMMIT_LOCK_WAIT_MS"); /* default 30 s */
  long tries = env && *env ? atol(env) / 100 : 300;
  for (long waited = 0; !rc && flock(c->lock_fd, LOCK_EX | LOCK_NB); waited++) {
    if (errno != EWOULDBLOCK && errno != EINTR) rc = sl_err_set(err, SL_EIO, "%s: lock: %s", lp, strerror(errno));
    else if (waited >= tries)
      rc = sl_err_set(err, SL_ETRANSIENT, "another write is using %s (%s is locked); retry when it has finished",
                      c->dir, lp);
    else {
      if (!waited) sl_dest_log("INFO", "%s: waiting for another write to finish", c->dir);
      nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
  }
  free(lp);
  return rc;
}

sl_code sl_commit_recover(sl_commitfile *c, sl_err *err) {
  sl_code lrc = lock(c, err);
  if (lrc) return lrc;
  const char *name;
  json_t *e, *gone = json_array();
  void *tmp;
  sl_code rc = gone ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
  json_object_foreach_safe(c->files, tmp, name, e) {
    char *path = join(c->dir, name), *from = NULL;
    const char *fname = json_string_value(json_object_get(e, "renamed_from"));
    if (!path || (fname && !(from = join(c->dir, fname)))) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    bool absent = false;
    if (!rc && from) { /* a swap the last commit decided: finish it */
      if (!(rc = cut_path(from, entry_bytes(e), &absent, err)) && !absent) {
        if (rename(from, path)) rc = sl_err_set(err, SL_EIO, "cannot rename %s to %s: %s", from, path, strerror(errno));
        else if (!(rc = sl_fs_fsync_dir(c->dir, err)))
          sl_dest_log("INFO", "%s: renamed to %s, as the last commit decided before an interruption", from, path);
      }
      json_object_del(e, "renamed_from");
      c->dirty = true;
    }
    if (!rc) rc = cut_path(path, entry_bytes(e), &absent, err);
    if (!rc && absent) json_array_append_new(gone, json_string(name));
    free(path);
    free(from);
    if (rc) break;
  }
  size_t i;
  json_array_foreach(gone, i, e) { /* moved or deleted since: nothing to keep */
    json_object_del(c->files, json_string_value(e));
    c->dirty = true;
  }
  json_decref(gone);
  return rc ? rc : sl_commit_register(c, err);
}

/* An earlier version's per-file mark of name, adopted into the record. */
static bool legacy_mark(sl_commitfile *c, const char *name, sl_commit_entry *out) {
  char *paths[2] = {NULL, NULL};
  if (asprintf(&paths[0], "%s/.%s.committed", c->dir, name) < 0) paths[0] = NULL;
  if (asprintf(&paths[1], "%s/%s.json", c->dir, name) < 0) paths[1] = NULL;
  bool found = false;
  for (int k = 0; k < 2 && !found && paths[k]; k++) {
    json_t *m = json_load_file(paths[k], JSON_DECODE_ANY, NULL);
    json_t *b = k ? json_object_get(m, "bytes") : m, *g = json_object_get(m, "generation_id");
    if (json_is_integer(b) && json_integer_value(b) >= 0) {
      memset(out, 0, sizeof *out);
      out->bytes = (uint64_t)json_integer_value(b);
      if ((out->has_gen = json_is_integer(g))) out->gen = json_integer_value(g);
      found = sl_commit_set(c, name, out, &(sl_err)SL_ERR_INIT) == SL_EOK;
      if (found) json_array_append_new(c->legacy, json_string(paths[k]));
    }
    json_decref(m);
  }
  free(paths[0]);
  free(paths[1]);
  return found;
}

bool sl_commit_get(sl_commitfile *c, const char *name, sl_commit_entry *out) {
  json_t *e = json_object_get(c->files, name);
  if (!e) return legacy_mark(c, name, out);
  json_t *g = json_object_get(e, "generation_id");
  out->bytes = entry_bytes(e);
  out->has_gen = g != NULL;
  out->gen = g ? json_integer_value(g) : 0;
  return true;
}

sl_code sl_commit_set(sl_commitfile *c, const char *name, const sl_commit_entry *e, sl_err *err) {
  json_t *old = json_object_get(c->files, name), *g = json_object_get(old, "generation_id");
  if (old && entry_bytes(old) == e->bytes && (g != NULL) == e->has_gen && (!g || json_integer_value(g) == e->gen) &&
      !json_object_get(old, "renamed_from"))
    return SL_EOK;
  json_t *n = json_pack("{s:I}", "bytes", (json_int_t)e->bytes);
  if (n && e->has_gen) json_object_set_new(n, "generation_id", json_integer(e->gen));
  if (!n || json_object_set_new(c->files, name, n)) return sl_err_set(err, SL_ENOMEM, "out of memory");
  c->dirty = true;
  return SL_EOK;
}

void sl_commit_drop(sl_commitfile *c, const char *name) {
  if (!json_object_del(c->files, name)) c->dirty = true;
}

static sl_code write_record(sl_commitfile *c, bool commit, sl_err *err) {
  json_t *states = c->states;
  if (commit && json_object_size(c->pending)) { /* the states as they will be after this commit */
    if (!(states = json_copy(c->states)) || json_object_update(states, c->pending)) {
      json_decref(states);
      return sl_err_set(err, SL_ENOMEM, "out of memory writing %s", c->path);
    }
  } else json_incref(states);
  json_t *root = json_pack("{s:i, s:O, s:O}", "version", 1, "files", c->files, "states", states);
  char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
  json_decref(root);
  if (!text) {
    json_decref(states);
    return sl_err_set(err, SL_ENOMEM, "out of memory writing %s", c->path);
  }
  sl_code rc = sl_fs_replace(c->dir, c->path, text, strlen(text), err);
  free(text);
  if (rc) {
    json_decref(states);
    return rc;
  }
  json_decref(c->states);
  c->states = states;
  if (commit) json_object_clear(c->pending);
  c->dirty = false;
  size_t i;
  json_t *p;
  json_array_foreach(c->legacy, i, p) unlink(json_string_value(p)); /* superseded by the record */
  json_array_clear(c->legacy);
  return SL_EOK;
}

sl_code sl_commit_register(sl_commitfile *c, sl_err *err) { return c->dirty ? write_record(c, false, err) : SL_EOK; }

sl_code sl_commit_save(sl_commitfile *c, sl_err *err) {
  return c->dirty || json_object_size(c->pending) ? write_record(c, true, err) : SL_EOK;
}

int sl_commit_create(sl_commitfile *c, const char *name, const sl_commit_entry *e, int flags, sl_err *err) {
  sl_commit_entry old, z = *e;
  z.bytes = 0;
  bool had = sl_commit_get(c, name, &old) && old.bytes > 0;
  /* Saved before the truncation: a record holding more bytes than the file
   * would stop the next write. */
  if (sl_commit_set(c, name, &z, err) || (had && sl_commit_register(c, err))) return -1;
  char *path = join(c->dir, name);
  if (!path) {
    sl_err_set(err, SL_ENOMEM, "out of memory");
    return -1;
  }
  int fd = open(path, O_CREAT | O_TRUNC | O_CLOEXEC | flags, 0666);
  if (fd < 0) sl_err_set(err, SL_EIO, "cannot create %s: %s", path, strerror(errno));
  free(path);
  return fd;
}

sl_code sl_commit_swap(sl_commitfile *c, const char *from, const char *to, const sl_commit_entry *e, sl_err *err) {
  sl_code rc = sl_commit_set(c, to, e, err);
  json_t *ent = json_object_get(c->files, to);
  if (rc || !ent || json_object_set_new(ent, "renamed_from", json_string(from)))
    return rc ? rc : sl_err_set(err, SL_ENOMEM, "out of memory");
  json_object_del(c->files, from);
  c->dirty = true;
  if ((rc = sl_commit_register(c, err))) return rc;
  char *pf = join(c->dir, from), *pt = join(c->dir, to);
  if (!pf || !pt) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  else if (rename(pf, pt)) rc = sl_err_set(err, SL_EIO, "cannot rename %s to %s: %s", pf, pt, strerror(errno));
  else rc = sl_fs_fsync_dir(c->dir, err);
  free(pf);
  free(pt);
  if (rc) return rc; /* the record says the swap is decided: the next recover finishes it */
  json_object_del(ent, "renamed_from");
  c->dirty = true; /* saved with the next commit (or finished by recover) */
  return SL_EOK;
}

sl_code sl_commit_put_state(sl_commitfile *c, const char *key, const char *value, sl_err *err) {
  json_error_t je;
  json_t *v = json_loads(value, JSON_DECODE_ANY, &je);
  if (!v) return sl_err_set(err, SL_EINTERNAL, "the kept states of %s are not JSON: %s", key, je.text);
  if (json_object_set_new(c->pending, key, v)) return sl_err_set(err, SL_ENOMEM, "out of memory");
  return SL_EOK; /* not dirty: a registration does not write it */
}

sl_code sl_commit_each_state(const sl_commitfile *c, void (*each)(void *arg, const char *key, const char *value),
                             void *arg, sl_err *err) {
  const char *key;
  json_t *v;
  json_object_foreach(c->states, key, v) {
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) return sl_err_set(err, SL_ENOMEM, "out of memory reading %s", c->path);
    each(arg, key, text);
    free(text);
  }
  return SL_EOK;
}
