/* source-file: the files of a multi-file stream: a walk of the directory,
 * paths matched against globs ("**" spans directories, as in Airbyte's
 * file-based sources), sorted by (modification time, path). */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsrc.h"

#define MAX_DEPTH 64

/* pat and path are '/'-separated; "**" matches any number of segments. */
static bool match_seg(const char *pat, const char *path) {
  if (!strncmp(pat, "**", 2) && (pat[2] == '/' || !pat[2])) {
    const char *rest = pat[2] ? pat + 3 : pat + 2;
    if (!*rest) return true;
    for (const char *p = path;; p++) {
      if (match_seg(rest, p)) return true;
      p = strchr(p, '/');
      if (!p) return false;
    }
  }
  const char *ps = strchr(pat, '/'), *xs = strchr(path, '/');
  size_t pl = ps ? (size_t)(ps - pat) : strlen(pat), xl = xs ? (size_t)(xs - path) : strlen(path);
  char pb[1024], xb[1024];
  if (pl >= sizeof pb || xl >= sizeof xb) return false;
  memcpy(pb, pat, pl);
  pb[pl] = 0;
  memcpy(xb, path, xl);
  xb[xl] = 0;
  if (fnmatch(pb, xb, FNM_PERIOD)) return false;
  if (!ps || !xs) return !ps && !xs;
  return match_seg(ps + 1, xs + 1);
}

bool fglob_match(const char *pat, const char *path) {
  while (pat[0] == '.' && pat[1] == '/') pat += 2;
  if (*pat == '/') pat++;
  return match_seg(pat, path);
}

typedef struct walk {
  const fstream *st;
  ffiles *out;
  size_t cap;
} walk;

static void fmt_mtime(ffile *f, const struct stat *sb) {
  f->mtime_us = (int64_t)sb->st_mtim.tv_sec * 1000000 + sb->st_mtim.tv_nsec / 1000;
  struct tm tm;
  time_t t = sb->st_mtim.tv_sec;
  gmtime_r(&t, &tm);
  char b[24];
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(f->mtime, sizeof f->mtime, "%s.%06ldZ", b, (long)(sb->st_mtim.tv_nsec / 1000));
}

static sl_code add(walk *w, const char *rel, const char *path, const struct stat *sb) {
  bool hit = false;
  for (size_t i = 0; !hit && i < w->st->globs.n; i++) hit = fglob_match(w->st->globs.v[i], rel);
  if (!hit) return SL_EOK;
  if (w->out->n == w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 16;
    ffile *nv = realloc(w->out->v, nc * sizeof *nv);
    if (!nv) return SL_ENOMEM;
    w->out->v = nv;
    w->cap = nc;
  }
  ffile *f = &w->out->v[w->out->n];
  memset(f, 0, sizeof *f);
  f->rel = strdup(rel);
  f->path = strdup(path);
  if (!f->rel || !f->path) {
    free(f->rel);
    free(f->path);
    return SL_ENOMEM;
  }
  fmt_mtime(f, sb);
  w->out->n++;
  return SL_EOK;
}

static sl_code walk_dir(walk *w, const char *dir, const char *rel, int depth, sl_err *err) {
  DIR *d = opendir(dir);
  if (!d) {
    if (depth == 0)
      return sl_err_set(err, errno == ENOENT ? SL_ECONFIG : SL_EIO, "cannot open the directory %s: %s", dir,
                        strerror(errno));
    return SL_EOK; /* a subdirectory that vanished or cannot be read */
  }
  sl_code rc = SL_EOK;
  struct dirent *e;
  while (!rc && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *path = NULL, *r = NULL;
    if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) path = NULL;
    if (asprintf(&r, "%s%s%s", rel, *rel ? "/" : "", e->d_name) < 0) r = NULL;
    struct stat sb;
    if (!path || !r) rc = SL_ENOMEM;
    else if (stat(path, &sb)) { /* deleted since readdir, or a dangling link */
    } else if (S_ISDIR(sb.st_mode)) {
      if (depth < MAX_DEPTH) rc = walk_dir(w, path, r, depth + 1, err);
    } else if (S_ISREG(sb.st_mode)) {
      rc = add(w, r, path, &sb);
    }
    free(path);
    free(r);
  }
  closedir(d);
  return rc;
}

static int by_time(const void *a, const void *b) {
  const ffile *x = a, *y = b;
  if (x->mtime_us != y->mtime_us) return x->mtime_us < y->mtime_us ? -1 : 1;
  return strcmp(x->rel, y->rel);
}

sl_code ffiles_list(const fstream *st, ffiles *out, sl_err *err) {
  memset(out, 0, sizeof *out);
  walk w = {st, out, 0};
  size_t dl = strlen(st->dir);
  char *dir = strndup(st->dir, dl > 1 && st->dir[dl - 1] == '/' ? dl - 1 : dl);
  if (!dir) return SL_ENOMEM;
  sl_code rc = walk_dir(&w, dir, "", 0, err);
  free(dir);
  if (!rc && !out->n) {
    char globs[512] = "";
    for (size_t i = 0; i < st->globs.n; i++)
      snprintf(globs + strlen(globs), sizeof globs - strlen(globs), "%s\"%s\"", i ? ", " : "", st->globs.v[i]);
    rc = sl_err_set(err, SL_ECONFIG, "no file under %s matches the globs [%s]", st->dir, globs);
  }
  if (rc) {
    ffiles_free(out);
    return rc;
  }
  qsort(out->v, out->n, sizeof *out->v, by_time);
  return SL_EOK;
}

void ffiles_free(ffiles *f) {
  for (size_t i = 0; i < f->n; i++) {
    free(f->v[i].rel);
    free(f->v[i].path);
  }
  free(f->v);
  memset(f, 0, sizeof *f);
}
