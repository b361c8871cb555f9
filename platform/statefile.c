/* The committed state file: written only with states the destination has
 * echoed, atomically, so a crash leaves either the old or the new file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sluice/platform.h"

sl_code sl_statefile_load(sl_statefile *sf, const char *path, sl_err *err) {
  sf->path = strdup(path);
  sf->root = NULL;
  if (access(path, F_OK) != 0) {
    sf->root = json_array();
    return SL_EOK;
  }
  sl_code rc = sl_json_load_file(path, &sf->root, err);
  if (rc) return sl_err_set(err, SL_ESTATE, "state file %s", err->msg);
  if (!json_is_array(sf->root) && !json_is_object(sf->root))
    return sl_err_set(err, SL_ESTATE, "%s: a state file holds an array of state messages or an object", path);
  sl_state st;
  rc = sl_state_parse(sf->root, path, NULL, &st, err);
  sl_state_dispose(&st);
  return rc;
}

static bool same_descriptor(const json_t *a, const json_t *b) {
  const json_t *da = json_object_get(json_object_get(a, "stream"), "stream_descriptor");
  const json_t *db = json_object_get(json_object_get(b, "stream"), "stream_descriptor");
  const char *na = json_string_value(json_object_get(da, "name"));
  const char *nb = json_string_value(json_object_get(db, "name"));
  const char *sa = json_string_value(json_object_get(da, "namespace"));
  const char *sb = json_string_value(json_object_get(db, "namespace"));
  if (!na || !nb || strcmp(na, nb)) return false;
  if (!sa && !sb) return true;
  return sa && sb && !strcmp(sa, sb);
}

sl_code sl_statefile_apply(sl_statefile *sf, const json_t *state_msg, sl_err *err) {
  json_t *s = json_deep_copy(state_msg);
  if (!s) return SL_ENOMEM;
  json_object_del(s, "destinationStats");
  json_object_del(s, "sourceStats");
  json_object_del(s, "id");
  const char *type = json_string_value(json_object_get(s, "type"));
  if (!type || !strcmp(type, "LEGACY")) {
    json_decref(sf->root);
    json_t *data = json_object_get(s, "data");
    sf->root = json_is_object(data) ? json_incref(data) : json_object();
    json_decref(s);
    return SL_EOK;
  }
  if (!strcmp(type, "GLOBAL")) {
    json_decref(sf->root);
    sf->root = json_pack("[o]", s);
    return SL_EOK;
  }
  if (strcmp(type, "STREAM") != 0) {
    json_decref(s);
    return sl_err_set(err, SL_EPROTOCOL, "echoed state has unknown type \"%s\"", type);
  }
  if (!json_is_array(sf->root)) {
    json_decref(sf->root);
    sf->root = json_array();
  }
  size_t i;
  json_t *old;
  json_array_foreach(sf->root, i, old) {
    if (same_descriptor(old, s)) return json_array_set_new(sf->root, i, s) ? SL_ENOMEM : SL_EOK;
  }
  /* A GLOBAL entry cannot sit beside STREAM entries. */
  json_array_foreach(sf->root, i, old) {
    if (!json_equal(json_object_get(old, "type"), json_object_get(s, "type"))) {
      json_array_clear(sf->root);
      break;
    }
  }
  return json_array_append_new(sf->root, s) ? SL_ENOMEM : SL_EOK;
}

sl_code sl_statefile_save(sl_statefile *sf, sl_err *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", sf->path);
  char *text = json_dumps(sf->root, JSON_INDENT(2) | JSON_ENCODE_ANY);
  if (!text) return SL_ENOMEM;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    free(text);
    return sl_err_set(err, SL_EIO, "state file %s: %s", tmp, strerror(errno));
  }
  size_t len = strlen(text), off = 0;
  bool ok = true;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    off += (size_t)n;
  }
  free(text);
  if (ok && (write(fd, "\n", 1) != 1 || fsync(fd) != 0)) ok = false;
  close(fd);
  if (!ok || rename(tmp, sf->path) != 0) {
    int e = errno;
    unlink(tmp);
    return sl_err_set(err, SL_EIO, "state file %s: cannot write: %s", sf->path, strerror(e));
  }
  char dirbuf[4096];
  snprintf(dirbuf, sizeof dirbuf, "%s", sf->path);
  int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return SL_EOK;
}

void sl_statefile_dispose(sl_statefile *sf) {
  free(sf->path);
  json_decref(sf->root);
  sf->path = NULL;
  sf->root = NULL;
}
