/* Builder projects without a platform (docs/builder.md, "Projects"): a
 * project's own record (.sluice-builder/project.json: where it was forked
 * from, its published versions and the active one) and a workspace, a
 * directory marked by .sluice-workspace whose subdirectories are projects:
 * list, create (scratch, a YAML text, a fork of a project at a version or of
 * a catalog connector), delete (refused once published, as Airbyte does). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "sluice/fsutil.h"
#include "sluice/json.h"
#include "sluice/yaml.h"

/* ---- a project's record ---- */

static void meta_path(const bld_server *srv, char *out, size_t n) { snprintf(out, n, "%s/project.json", srv->meta); }

/* The record (an object; empty when there is none yet). Caller holds srv->lock. */
static json_t *meta_load(const bld_server *srv) {
  char path[4400];
  meta_path(srv, path, sizeof path);
  json_t *v = NULL;
  if (access(path, F_OK) || sl_json_load_file(path, &v, &(sl_err){0}) || !json_is_object(v)) {
    json_decref(v);
    return json_object();
  }
  return v;
}

static sl_code meta_save(const bld_server *srv, const json_t *m, sl_err *err) {
  char path[4400];
  meta_path(srv, path, sizeof path);
  char *s = json_dumps(m, JSON_INDENT(2));
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = sl_fs_replace(srv->meta, path, s, strlen(s), err);
  free(s);
  return rc;
}

/* The dockerImageTag of connectors/<c>/metadata.yaml, or NULL. */
static char *connector_tag(const char *cdir) {
  char path[4500];
  snprintf(path, sizeof path, "%s/metadata.yaml", cdir);
  sl_yaml *y = sl_yaml_load_file(path, &(sl_err){0});
  if (!y) return NULL;
  const char *t = json_string_value(json_object_get(json_object_get(sl_yaml_root(y), "data"), "dockerImageTag"));
  char *out = t ? strdup(t) : NULL;
  sl_yaml_free(y);
  return out;
}

json_t *bld_published(bld_server *srv) {
  pthread_mutex_lock(&srv->lock);
  json_t *m = meta_load(srv);
  pthread_mutex_unlock(&srv->lock);
  json_t *p = json_object_get(m, "published");
  json_t *res = json_is_object(p) ? json_incref(p) : json_pack("{s:n,s:[],s:n}", "connector", "versions", "active");
  json_decref(m);
  return res;
}

json_t *bld_record_publish(bld_server *srv, const char *connector, const char *cdir, const char *yaml, size_t len,
                           const char *description, sl_err *err) {
  char *tag = connector_tag(cdir);
  pthread_mutex_lock(&srv->lock);
  json_t *m = meta_load(srv), *entry = NULL;
  json_t *p = json_object_get(m, "published");
  if (!json_is_object(p)) {
    p = json_pack("{s:[]}", "versions");
    json_object_set_new(m, "published", p);
  }
  json_t *vers = json_object_get(p, "versions");
  if (!json_is_array(vers)) json_object_set_new(p, "versions", vers = json_array());
  json_int_t n = (json_int_t)json_array_size(vers) + 1;
  char dir[4400], path[4500];
  snprintf(dir, sizeof dir, "%s/published", srv->meta);
  snprintf(path, sizeof path, "%s/%lld.yaml", dir, (long long)n);
  if (!sl_fs_mkdirs(dir, err) && !sl_fs_replace(dir, path, yaml, len, err)) {
    char ver[17];
    bld_version(yaml, len, ver);
    entry = json_pack("{s:I,s:s,s:s?,s:I,s:s}", "n", n, "connector", connector, "tag", tag, "time",
                      (json_int_t)time(NULL), "manifest_version", ver);
    if (description && *description) json_object_set_new(entry, "description", json_string(description));
    json_array_append(vers, entry);
    json_object_set_new(p, "connector", json_string(connector));
    json_object_set_new(p, "active", json_integer(n)); /* a new publish is the active version */
    if (meta_save(srv, m, err)) {
      json_decref(entry);
      entry = NULL;
    }
  }
  pthread_mutex_unlock(&srv->lock);
  json_decref(m);
  free(tag);
  return entry;
}

char *bld_published_text(bld_server *srv, long n, json_t **entry, sl_err *err) {
  json_t *p = bld_published(srv);
  json_t *e = n > 0 ? json_array_get(json_object_get(p, "versions"), (size_t)n - 1) : NULL;
  if (!e) {
    json_decref(p);
    sl_err_set(err, SL_ENOTFOUND, "no published version %ld of this project", n);
    return NULL;
  }
  *entry = json_incref(e);
  json_decref(p);
  char path[4500];
  snprintf(path, sizeof path, "%s/published/%ld.yaml", srv->meta, n);
  size_t len = 0;
  char *text = bld_read_text(path, BLD_MAX_MANIFEST, &len, err);
  if (!text) {
    json_decref(*entry);
    *entry = NULL;
  }
  return text;
}

sl_code bld_set_active(bld_server *srv, long n, sl_err *err) {
  pthread_mutex_lock(&srv->lock);
  json_t *m = meta_load(srv);
  json_object_set_new(json_object_get(m, "published"), "active", json_integer(n));
  sl_code rc = meta_save(srv, m, err);
  pthread_mutex_unlock(&srv->lock);
  json_decref(m);
  return rc;
}

/* ---- the workspace ---- */

#define WS_MARK ".sluice-workspace"

bool bld_ws_is(const char *dir) {
  char p[4200];
  snprintf(p, sizeof p, "%s/" WS_MARK, dir);
  return access(p, F_OK) == 0;
}

sl_code bld_ws_open(bld_workspace *ws, const char *dir, const char *root, sl_err *err) {
  sl_code rc = sl_fs_mkdirs(dir, err);
  if (rc) return rc;
  char *real = realpath(dir, NULL);
  if (!real) return sl_err_set(err, SL_EIO, "%s: %s", dir, strerror(errno));
  snprintf(ws->dir, sizeof ws->dir, "%s", real);
  free(real);
  snprintf(ws->root, sizeof ws->root, "%s", root);
  char mark[4200];
  snprintf(mark, sizeof mark, "%s/" WS_MARK, ws->dir);
  static const char note[] = "{\"about\": \"a sluice builder workspace: each directory here is a project\"}\n";
  if (access(mark, F_OK) && (rc = sl_fs_replace(ws->dir, mark, note, sizeof note - 1, err))) return rc;
  pthread_mutex_init(&ws->lock, NULL);
  ws->proj = NULL;
  ws->n = ws->cap = 0;
  return SL_EOK;
}

void bld_ws_close(bld_workspace *ws) {
  for (size_t i = 0; i < ws->n; i++) {
    bld_project_close(ws->proj[i].srv);
    free(ws->proj[i].srv);
  }
  free(ws->proj);
  ws->proj = NULL;
  ws->n = ws->cap = 0;
  pthread_mutex_destroy(&ws->lock);
}

/* A project name: a directory name that is safe in a URL and a path. */
static bool name_ok(const char *n) {
  size_t len = n ? strlen(n) : 0;
  if (!len || len > 64 || n[0] == '.' || n[0] == '-') return false;
  for (const char *p = n; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p)) return false;
  return true;
}

static bool is_project_dir(const bld_workspace *ws, const char *name) {
  char p[4400];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s/.sluice-builder", ws->dir, name);
  if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) return true;
  snprintf(p, sizeof p, "%s/%s/manifest.yaml", ws->dir, name);
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

bld_server *bld_ws_project(bld_workspace *ws, const char *name, unsigned *status, json_t **why) {
  char msg[300];
  if (!name_ok(name)) {
    snprintf(msg, sizeof msg, "project \"%s\": not a project name (letters, digits, _ . -; at most 64)",
             name ? name : "");
    *why = bld_bad(status, name ? 400 : 404, name ? msg : "the request needs ?project=NAME (a workspace project)");
    return NULL;
  }
  pthread_mutex_lock(&ws->lock);
  bld_server *srv = NULL;
  for (size_t i = 0; i < ws->n && !srv; i++)
    if (!ws->proj[i].deleted && !strcmp(ws->proj[i].name, name)) srv = ws->proj[i].srv;
  if (!srv && !is_project_dir(ws, name)) {
    snprintf(msg, sizeof msg, "project \"%s\": no such project in %s", name, ws->dir);
    *why = bld_bad(status, 404, msg);
  } else if (!srv) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", ws->dir, name);
    sl_err err = SL_ERR_INIT;
    bld_server *s = calloc(1, sizeof *s);
    if (ws->n == ws->cap) {
      size_t cap = ws->cap ? ws->cap * 2 : 8;
      void *np = realloc(ws->proj, cap * sizeof *ws->proj);
      if (np) ws->proj = np, ws->cap = cap;
    }
    if (!s || ws->n == ws->cap || bld_project_open(s, dir, &err)) {
      free(s);
      *status = 500;
      *why = err.code ? bld_error_json(&err) : bld_bad(status, 500, "out of memory");
    } else {
      snprintf(s->root, sizeof s->root, "%s", ws->root);
      s->port = ws->port;
      snprintf(ws->proj[ws->n].name, sizeof ws->proj[ws->n].name, "%s", name);
      ws->proj[ws->n].srv = s;
      ws->proj[ws->n++].deleted = false;
      srv = s;
    }
  }
  pthread_mutex_unlock(&ws->lock);
  return srv;
}

bld_server *bld_ws_oauth_owner(bld_workspace *ws, const char *state) {
  bld_server *found = NULL;
  pthread_mutex_lock(&ws->lock);
  for (size_t i = 0; i < ws->n && !found; i++)
    if (!ws->proj[i].deleted && bld_oauth_waiting(ws->proj[i].srv, state)) found = ws->proj[i].srv;
  pthread_mutex_unlock(&ws->lock);
  return found;
}

static time_t mtime_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_mtime : 0;
}

static long count_yaml(const char *dir) {
  DIR *d = opendir(dir);
  long n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    n += l > 5 && !strcmp(e->d_name + l - 5, ".yaml");
  }
  if (d) closedir(d);
  return n;
}

/* One row of the project list. */
static json_t *project_row(const bld_workspace *ws, const char *name) {
  bld_server tmp = {0};
  snprintf(tmp.dir, sizeof tmp.dir, "%s/%s", ws->dir, name);
  snprintf(tmp.manifest, sizeof tmp.manifest, "%s/manifest.yaml", tmp.dir);
  snprintf(tmp.meta, sizeof tmp.meta, "%s/.sluice-builder", tmp.dir);
  json_t *m = meta_load(&tmp); /* read only: no lock needed for a snapshot */
  char p[4500];
  time_t up = mtime_of(tmp.manifest);
  snprintf(p, sizeof p, "%s/draft.yaml", tmp.meta);
  time_t dt = mtime_of(p);
  if (dt > up) up = dt;
  if (!up) up = mtime_of(tmp.dir);
  snprintf(p, sizeof p, "%s/history", tmp.meta);
  const json_t *pub = json_object_get(m, "published");
  json_int_t active = json_integer_value(json_object_get(pub, "active"));
  const json_t *av = active > 0 ? json_array_get(json_object_get(pub, "versions"), (size_t)active - 1) : NULL;
  json_t *row = json_pack("{s:s,s:I,s:b,s:b,s:I,s:O?,s:O?,s:O?}", "name", name, "updated", (json_int_t)up, "draft",
                          !json_array_size(json_object_get(pub, "versions")), "has_manifest",
                          mtime_of(tmp.manifest) != 0, "saved_versions", (json_int_t)count_yaml(p), "forked_from",
                          json_object_get(m, "forked_from"), "connector", json_object_get(pub, "connector"),
                          "active_version", av);
  json_decref(m);
  return row;
}

static int by_name(const void *a, const void *b) {
  return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Rows sorted by name (new array). */
static json_t *sorted(json_t *rows) {
  size_t n = json_array_size(rows);
  json_t **v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = json_incref(json_array_get(rows, i));
  if (v) qsort(v, n, sizeof *v, by_name);
  json_t *out = json_array();
  for (size_t i = 0; v && i < n; i++) json_array_append_new(out, v[i]);
  free(v);
  json_decref(rows);
  return out;
}

static json_t *ws_list(bld_workspace *ws) {
  json_t *rows = json_array(), *cat = json_array();
  DIR *d = opendir(ws->dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (name_ok(e->d_name) && is_project_dir(ws, e->d_name)) json_array_append_new(rows, project_row(ws, e->d_name));
  if (d) closedir(d);
  /* The catalog: connectors/ of the repository publishing writes into. */
  char cdir[4200];
  snprintf(cdir, sizeof cdir, "%s/connectors", ws->root);
  d = ws->root[0] ? opendir(cdir) : NULL;
  while (d && (e = readdir(d))) {
    char p[4500];
    snprintf(p, sizeof p, "%s/%s/manifest.yaml", cdir, e->d_name);
    if (e->d_name[0] == '.' || access(p, F_OK)) continue;
    snprintf(p, sizeof p, "%s/%s", cdir, e->d_name);
    char *tag = connector_tag(p);
    json_array_append_new(cat, json_pack("{s:s,s:s?}", "name", e->d_name, "version", tag));
    free(tag);
  }
  if (d) closedir(d);
  return json_pack("{s:s,s:o,s:o}", "dir", ws->dir, "projects", sorted(rows), "catalog", sorted(cat));
}

/* The text a new project starts from: {yaml} | {from: {project, version?}} |
 * {from: {connector}} | nothing (scratch: NULL, no error). */
static char *source_text(bld_workspace *ws, const json_t *body, json_t **forked, unsigned *status, json_t **why) {
  const json_t *from = json_object_get(body, "from"), *y = json_object_get(body, "yaml");
  char path[4500], msg[400];
  if (json_is_string(y)) return strdup(json_string_value(y));
  if (!from) return NULL;
  const char *proj = json_string_value(json_object_get(from, "project"));
  const char *conn = json_string_value(json_object_get(from, "connector"));
  json_int_t ver = json_integer_value(json_object_get(from, "version"));
  if (proj && name_ok(proj) && is_project_dir(ws, proj)) {
    if (ver > 0) snprintf(path, sizeof path, "%s/%s/.sluice-builder/history/%lld.yaml", ws->dir, proj, (long long)ver);
    else snprintf(path, sizeof path, "%s/%s/manifest.yaml", ws->dir, proj);
    *forked = ver > 0 ? json_pack("{s:s,s:s,s:I}", "kind", "project", "name", proj, "version", ver)
                      : json_pack("{s:s,s:s}", "kind", "project", "name", proj);
  } else if (conn && ws->root[0] && !strncmp(conn, "source-", 7) && name_ok(conn)) {
    snprintf(path, sizeof path, "%s/connectors/%s/manifest.yaml", ws->root, conn);
    char cdir[4400];
    snprintf(cdir, sizeof cdir, "%s/connectors/%s", ws->root, conn);
    char *tag = connector_tag(cdir);
    *forked = json_pack("{s:s,s:s,s:s?}", "kind", "connector", "name", conn, "version", tag);
    free(tag);
  } else {
    snprintf(msg, sizeof msg, "fork: no such %s \"%s\"", proj ? "project" : "catalog connector",
             proj ? proj : conn ? conn : "");
    *why = bld_bad(status, 404, msg);
    return NULL;
  }
  size_t len = 0;
  sl_err err = SL_ERR_INIT;
  char *text = bld_read_text(path, BLD_MAX_MANIFEST, &len, &err);
  if (!text) {
    json_decref(*forked);
    *forked = NULL;
    snprintf(msg, sizeof msg, "fork: %s", err.msg);
    *why = bld_bad(status, 404, msg);
  }
  return text;
}

static json_t *ws_create(bld_workspace *ws, const json_t *body, unsigned *status) {
  const char *name = json_string_value(json_object_get(body, "name"));
  char msg[400];
  if (!name_ok(name)) {
    snprintf(msg, sizeof msg, "project \"%s\": not a project name (letters, digits, _ . -; at most 64)",
             name ? name : "");
    return bld_bad(status, 400, msg);
  }
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/%s", ws->dir, name);
  if (access(dir, F_OK) == 0) {
    snprintf(msg, sizeof msg, "project \"%s\" already exists", name);
    return bld_bad(status, 409, msg);
  }
  json_t *forked = NULL, *why = NULL;
  char *text = source_text(ws, body, &forked, status, &why);
  if (why) return why;
  bld_server *s = calloc(1, sizeof *s);
  sl_err err = SL_ERR_INIT;
  json_t *res = NULL;
  if (!s) res = bld_bad(status, 500, "out of memory");
  else if (bld_project_open(s, dir, &err)) {
    *status = 500;
    res = bld_error_json(&err);
    free(s);
    s = NULL;
  }
  if (s) {
    json_t *m = json_pack("{s:I}", "created", (json_int_t)time(NULL));
    if (forked) json_object_set(m, "forked_from", forked);
    if (meta_save(s, m, &err)) {
      *status = 500;
      res = bld_error_json(&err);
    } else if (text) { /* the starting text is the project's first saved version */
      res = bld_project_save(s, text, NULL, true, status);
    }
    json_decref(m);
    bld_project_close(s);
    free(s);
  }
  if (!res || !json_object_get(res, "error")) {
    json_decref(res);
    res = json_pack("{s:s,s:O?}", "name", name, "forked_from", forked);
  }
  json_decref(forked);
  free(text);
  return res;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}

static json_t *ws_delete(bld_workspace *ws, const json_t *body, unsigned *status) {
  const char *name = json_string_value(json_object_get(body, "name"));
  json_t *why = NULL;
  bld_server *srv = bld_ws_project(ws, name, status, &why);
  if (!srv) return why;
  json_t *pub = bld_published(srv);
  size_t npub = json_array_size(json_object_get(pub, "versions"));
  char msg[600];
  if (npub) {
    snprintf(msg, sizeof msg,
             "project \"%s\" is published as %s (%zu version%s): a published project cannot be deleted, as in "
             "Airbyte's builder",
             name, json_string_value(json_object_get(pub, "connector")) ?: "?", npub, npub == 1 ? "" : "s");
    json_decref(pub);
    return bld_bad(status, 409, msg);
  }
  json_decref(pub);
  pthread_mutex_lock(&ws->lock);
  for (size_t i = 0; i < ws->n; i++)
    if (ws->proj[i].srv == srv) ws->proj[i].deleted = true; /* kept until exit: a request may still use it */
  pthread_mutex_unlock(&ws->lock);
  pthread_mutex_lock(&srv->lock);
  int rc = nftw(srv->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  pthread_mutex_unlock(&srv->lock);
  if (rc) {
    snprintf(msg, sizeof msg, "project \"%s\": %s could not be removed: %s", name, srv->dir, strerror(errno));
    return bld_bad(status, 500, msg);
  }
  return json_pack("{s:s}", "deleted", name);
}

json_t *bld_ws_api(bld_workspace *ws, const char *method, const char *path, const json_t *body, unsigned *status) {
  *status = 200;
  if (!strcmp(method, "GET") && !strcmp(path, "")) return ws_list(ws);
  if (!strcmp(method, "POST") && !strcmp(path, "/projects")) return ws_create(ws, body, status);
  if (!strcmp(method, "POST") && !strcmp(path, "/delete")) return ws_delete(ws, body, status);
  return bld_bad(status, 404, "no such workspace endpoint (docs/builder.md lists them)");
}
