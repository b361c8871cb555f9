/* Files of a builder project: reading manifests with a size cap. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder.h"
#include "sluice/fsutil.h"
#include "sluice/json.h"

char *bld_read_text(const char *path, size_t max, size_t *len, sl_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    sl_err_set(err, errno == ENOENT ? SL_ENOTFOUND : SL_EIO, "%s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && (size_t)st.st_size > max) {
    fclose(f);
    sl_err_set(err, SL_ELIMIT, "%s: %lld bytes, more than the %zu a manifest may have", path, (long long)st.st_size,
               max);
    return NULL;
  }
  char *buf = malloc(max + 1);
  size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
  bool bad = ferror(f);
  fclose(f);
  if (!buf || bad || n > max) {
    free(buf);
    sl_err_set(err, !buf ? SL_ENOMEM : bad ? SL_EIO : SL_ELIMIT, "%s: %s", path,
               !buf ? "out of memory" : bad ? "read error" : "larger than the manifest limit");
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* path, or path/manifest.yaml when path is a directory. */
void bld_manifest_path(const char *path, char *out, size_t n) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(out, n, "%s/manifest.yaml", path);
  else snprintf(out, n, "%s", path);
}

/* ---- the project directory ---- */

sl_code bld_project_open(bld_server *srv, const char *dir, sl_err *err) {
  sl_code rc = sl_fs_mkdirs(dir, err);
  if (rc) return rc;
  char *real = realpath(dir, NULL);
  if (!real) return sl_err_set(err, SL_EIO, "%s: %s", dir, strerror(errno));
  snprintf(srv->dir, sizeof srv->dir, "%s", real);
  free(real);
  snprintf(srv->manifest, sizeof srv->manifest, "%s/manifest.yaml", srv->dir);
  snprintf(srv->meta, sizeof srv->meta, "%s/.sluice-builder", srv->dir);
  char hist[4300];
  snprintf(hist, sizeof hist, "%s/history", srv->meta);
  if ((rc = sl_fs_mkdirs(hist, err))) return rc;
  chmod(srv->meta, 0700); /* testing values hold secrets */
  pthread_mutex_init(&srv->lock, NULL);
  return SL_EOK;
}

void bld_project_close(bld_server *srv) {
  json_decref(srv->oauth);
  json_decref(srv->oauth_result);
  srv->oauth = srv->oauth_result = NULL;
  pthread_mutex_destroy(&srv->lock);
}

void bld_version(const char *text, size_t len, char out[17]) {
  if (!text) {
    snprintf(out, 17, "none");
    return;
  }
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

json_t *bld_testing_values(bld_server *srv) {
  char path[4400];
  snprintf(path, sizeof path, "%s/testing-values.json", srv->meta);
  json_t *v = NULL;
  sl_err err = SL_ERR_INIT;
  if (access(path, F_OK) || sl_json_load_file(path, &v, &err) || !json_is_object(v)) {
    json_decref(v);
    return json_object();
  }
  return v;
}

sl_code bld_testing_values_save(bld_server *srv, const json_t *values, sl_err *err) {
  char path[4400];
  snprintf(path, sizeof path, "%s/testing-values.json", srv->meta);
  char *s = json_dumps(values, JSON_INDENT(2));
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = sl_fs_replace(srv->meta, path, s, strlen(s), err);
  free(s);
  if (!rc) chmod(path, 0600);
  return rc;
}

json_t *bld_project_get(bld_server *srv) {
  size_t len = 0;
  sl_err err = SL_ERR_INIT;
  char *text = bld_read_text(srv->manifest, BLD_MAX_MANIFEST, &len, &err);
  char ver[17];
  bld_version(text, len, ver);
  const char *name = strrchr(srv->dir, '/');
  json_t *res = json_pack("{s:s,s:s,s:s?,s:s,s:o}", "dir", srv->dir, "name", name ? name + 1 : srv->dir, "manifest",
                          text, "version", ver, "testing_values", bld_testing_values(srv));
  if (!text && err.code != SL_ENOTFOUND) json_object_set_new(res, "manifest_error", json_string(err.msg));
  char path[4400];
  snprintf(path, sizeof path, "%s/draft.yaml", srv->meta);
  size_t dlen = 0;
  char *draft = bld_read_text(path, BLD_MAX_MANIFEST, &dlen, &(sl_err){0});
  if (draft && (!text || dlen != len || memcmp(draft, text, len))) json_object_set_new(res, "draft", json_string(draft));
  free(draft);
  free(text);
  return res;
}

json_t *bld_draft_save(bld_server *srv, const char *yaml, size_t len, unsigned *status) {
  char path[4400];
  snprintf(path, sizeof path, "%s/draft.yaml", srv->meta);
  sl_err err = SL_ERR_INIT;
  char ver[17];
  bld_version(yaml, len, ver);
  pthread_mutex_lock(&srv->lock);
  sl_code rc = sl_fs_replace(srv->meta, path, yaml, len, &err);
  pthread_mutex_unlock(&srv->lock);
  if (rc) {
    *status = 500;
    return bld_error_json(&err);
  }
  return json_pack("{s:b,s:s}", "saved", 1, "version", ver);
}

/* The history: .sluice-builder/history/<n>.yaml, n from 1. */
static long history_last(bld_server *srv) {
  char hist[4300];
  snprintf(hist, sizeof hist, "%s/history", srv->meta);
  DIR *d = opendir(hist);
  long last = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char *end;
    long n = strtol(e->d_name, &end, 10);
    if (n > last && !strcmp(end, ".yaml")) last = n;
  }
  if (d) closedir(d);
  return last;
}

json_t *bld_project_save(bld_server *srv, const char *yaml, const char *base, bool force, unsigned *status) {
  pthread_mutex_lock(&srv->lock);
  size_t len = 0;
  sl_err err = SL_ERR_INIT;
  char *cur = bld_read_text(srv->manifest, BLD_MAX_MANIFEST, &len, &err);
  char ver[17], nver[17];
  bld_version(cur, len, ver);
  free(cur);
  json_t *res;
  size_t ylen = strlen(yaml);
  bld_version(yaml, ylen, nver);
  if (!force && base && strcmp(base, ver)) {
    *status = 409;
    res = json_pack("{s:{s:s,s:s},s:s}", "error", "message",
                    "the manifest was saved elsewhere (another tab or an editor) since this page loaded it: reload "
                    "it, or save again to overwrite",
                    "failure_type", "config_error", "current_version", ver);
  } else if (ylen > BLD_MAX_MANIFEST) {
    *status = 413;
    res = json_pack("{s:{s:s,s:s}}", "error", "message", "the manifest is larger than 4 MiB", "failure_type",
                    "config_error");
  } else if (sl_fs_replace(srv->dir, srv->manifest, yaml, ylen, &err)) {
    *status = 500;
    res = bld_error_json(&err);
  } else {
    long n = history_last(srv) + 1;
    char path[4400];
    snprintf(path, sizeof path, "%s/history/%ld.yaml", srv->meta, n);
    char hist[4300];
    snprintf(hist, sizeof hist, "%s/history", srv->meta);
    if (sl_fs_replace(hist, path, yaml, ylen, &err)) {
      *status = 500;
      res = bld_error_json(&err);
    } else {
      res = json_pack("{s:s,s:I}", "version", nver, "history", (json_int_t)n);
      snprintf(path, sizeof path, "%s/draft.yaml", srv->meta);
      unlink(path); /* the draft is saved now */
    }
  }
  pthread_mutex_unlock(&srv->lock);
  return res;
}

json_t *bld_versions(bld_server *srv) {
  pthread_mutex_lock(&srv->lock);
  long last = history_last(srv);
  json_t *out = json_array();
  for (long n = 1; n <= last; n++) {
    char path[4400];
    snprintf(path, sizeof path, "%s/history/%ld.yaml", srv->meta, n);
    struct stat st;
    if (stat(path, &st)) continue;
    size_t len = 0;
    char *text = bld_read_text(path, BLD_MAX_MANIFEST, &len, &(sl_err){0});
    char ver[17];
    bld_version(text, len, ver);
    free(text);
    json_array_append_new(out, json_pack("{s:I,s:I,s:I,s:s}", "n", (json_int_t)n, "time", (json_int_t)st.st_mtime,
                                         "size", (json_int_t)st.st_size, "version", ver));
  }
  pthread_mutex_unlock(&srv->lock);
  return out;
}

json_t *bld_version_get(bld_server *srv, long n, unsigned *status) {
  char path[4400];
  snprintf(path, sizeof path, "%s/history/%ld.yaml", srv->meta, n);
  size_t len = 0;
  sl_err err = SL_ERR_INIT;
  char *text = n > 0 ? bld_read_text(path, BLD_MAX_MANIFEST, &len, &err) : NULL;
  if (!text) {
    *status = 404;
    if (n <= 0) sl_err_set(&err, SL_ENOTFOUND, "no version %ld", n);
    return bld_error_json(&err);
  }
  json_t *res = json_pack("{s:I,s:s}", "n", (json_int_t)n, "yaml", text);
  free(text);
  return res;
}
