/* destination-jsonl: one JSON-lines file per stream in a directory.
 *
 * Each record becomes one line
 *   {"_airbyte_raw_id":"<uuid>","_airbyte_extracted_at":<ms>,
 *    "_airbyte_generation_id":<n|null>,"_airbyte_meta":{"changes":[...],
 *    "sync_id":<n|null>},"_airbyte_data":{...}}
 * appended to <dir>/<stream>.jsonl (<namespace>_<stream>.jsonl with a
 * namespace). Overwrite writes <file>.tmp and renames it over the file when
 * the stream's COMPLETE arrives; without COMPLETE the old file is untouched
 * and the .tmp stays for the next attempt. flush = write + fsync every file,
 * then the commit record of the directory (.sluice-commit-jsonl.json, sluice/commitfile.h: every
 * file's committed length and the states the commit covers, one atomic
 * replace): bytes past a file's committed length were never acknowledged
 * by a state, and are cut on rollback and at the start of the next write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/commitfile.h"
#include "sluice/fsutil.h"
#include "sluice/sluice.h"

#define OUT_CHUNK (1 << 20)
#define PUT_LIT(b, lit) sl_buf_put((b), (lit), sizeof(lit) - 1)

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    "\"title\":\"JSON Lines Destination Spec\",\"type\":\"object\","
    "\"required\":[\"destination_path\"],\"additionalProperties\":true,"
    "\"properties\":{\"destination_path\":{\"type\":\"string\",\"minLength\":1,"
    "\"title\":\"Directory\","
    "\"description\":\"Directory for the files, created if missing: one <stream>.jsonl per stream "
    "(<namespace>_<stream>.jsonl with a namespace). Modes: append; overwrite (written to "
    "<file>.tmp, renamed over the file when the stream completes); append_dedup is stored as "
    "append (a file keeps every version of a record).\","
    "\"examples\":[\"/var/lib/sluice/export\"]}}}";

typedef struct jstream {
  const sl_cstream *cs;
  char *final, *tmp;
  const char *fname, *tname; /* their names in the directory */
  int fd;
  bool staged; /* writing <file>.tmp */
  bool dirty;  /* written since the last fsync */
  uint64_t size, committed; /* the open file's length; at the last commit */
  bool has_gen, has_sync;
  int64_t gen, sync_id;
  sl_buf out;
} jstream;

typedef struct jdest {
  char *dir;
  jstream *streams;
  size_t n;
  sl_rng rng;
  sl_commitfile *rec;
  bool recovered;
} jdest;


/* Cut a partial last line left by an interrupted run (it was never
 * acknowledged by a state, and would glue itself to the next record). */
static sl_code trim_partial_line(int fd, const char *path, sl_err *err) {
  struct stat sb;
  if (fstat(fd, &sb)) return sl_err_set(err, SL_EIO, "%s: stat: %s", path, strerror(errno));
  off_t end = sb.st_size;
  char buf[65536];
  while (end > 0) {
    size_t n = end < (off_t)sizeof buf ? (size_t)end : sizeof buf;
    ssize_t r = pread(fd, buf, n, end - (off_t)n);
    if (r != (ssize_t)n) return sl_err_set(err, SL_EIO, "%s: read: %s", path, strerror(errno));
    char *nl = memrchr(buf, '\n', n);
    if (nl) {
      end = end - (off_t)n + (nl - buf) + 1;
      break;
    }
    end -= (off_t)n;
  }
  if (end == sb.st_size) return SL_EOK;
  if (ftruncate(fd, end)) return sl_err_set(err, SL_EIO, "%s: truncate: %s", path, strerror(errno));
  sl_dest_log("WARN", "%s: removed a partial last line (%lld bytes) left by an interrupted run", path,
              (long long)(sb.st_size - end));
  return SL_EOK;
}

/* The file's commit record entry: tmp files carry their generation. */
static sl_commit_entry entry_of(const jstream *s, uint64_t bytes) {
  sl_commit_entry e = {.bytes = bytes, .has_gen = s->staged && s->has_gen, .gen = s->gen};
  return e;
}

/* Open for appending, registered in the commit record. A file the record
 * knows was cut to its committed length by the recovery; one it does not
 * know (from before commit records) loses only a partial last line;
 * truncate starts it empty. */
static sl_code open_append(jdest *d, jstream *s, const char *path, const char *name, bool truncate, sl_err *err) {
  sl_commit_entry e = entry_of(s, 0);
  sl_code rc = SL_EOK;
  if (truncate) s->fd = sl_commit_create(d->rec, name, &e, O_RDWR | O_APPEND, err);
  else if ((s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666)) < 0)
    sl_err_set(err, SL_EIO, "cannot open %s: %s", path, strerror(errno));
  if (s->fd < 0) return SL_EIO;
  if (!truncate)
    rc = sl_commit_get(d->rec, name, &e)
             ? sl_commit_cut_fd(s->fd, path, e.bytes, "written after the last commit by an interrupted run", err)
             : trim_partial_line(s->fd, path, err);
  struct stat sb;
  if (!rc && fstat(s->fd, &sb)) rc = sl_err_set(err, SL_EIO, "%s: stat: %s", path, strerror(errno));
  if (rc) return rc;
  s->size = s->committed = (uint64_t)sb.st_size;
  e = entry_of(s, s->size);
  return sl_commit_set(d->rec, name, &e, err);
}

/* The generation of the first line of a .tmp file, or false if unknown. */
static bool tmp_generation(const char *path, bool *is_null, int64_t *gen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  const char *key = "\"_airbyte_generation_id\":";
  char *p = strstr(buf, key);
  if (!p) return false;
  p += strlen(key);
  *is_null = !strncmp(p, "null", 4);
  *gen = *is_null ? 0 : strtoll(p, NULL, 10);
  return true;
}

static sl_code drain(jdest *d, jstream *s, sl_err *err) {
  if (!s->out.len) return SL_EOK;
  /* A file registered since the last save: durable before its first byte. */
  sl_code rc = sl_commit_register(d->rec, err);
  if (!rc) rc = sl_fs_write_all(s->fd, s->out.data, s->out.len, s->staged ? s->tmp : s->final, err);
  s->size += s->out.len;
  s->out.len = 0;
  s->dirty = true;
  return rc;
}

static sl_code sync_stream(jdest *d, jstream *s, sl_err *err) {
  if (s->fd < 0) return SL_EOK;
  sl_code rc = drain(d, s, err);
  if (rc) return rc;
  if (s->dirty && fsync(s->fd)) return sl_err_set(err, SL_EIO, "%s: fsync: %s", s->staged ? s->tmp : s->final, strerror(errno));
  s->dirty = false;
  return SL_EOK;
}

/* ---- callbacks ---- */

static const char *config_dir(const json_t *config) {
  return json_string_value(json_object_get(config, "destination_path"));
}

static sl_code jsonl_check(const json_t *config, sl_err *err) {
  const char *dir = config_dir(config);
  if (!dir || !*dir) return sl_err_set(err, SL_ECONFIG, "destination_path is required");
  return sl_fs_check_dir(dir, err);
}

static void jsonl_close(void *h, bool ok);

static sl_code open_impl(jdest *d, const json_t *config, const sl_catalog *cat, sl_err *err) {
  const char *dir = config_dir(config);
  if (!dir || !*dir) return sl_err_set(err, SL_ECONFIG, "destination_path is required");
  if (!(d->dir = strdup(dir))) return SL_ENOMEM;
  sl_code rc = sl_fs_mkdirs(dir, err);
  if (!rc) rc = sl_commit_load(dir, "jsonl", &d->rec, err);
  if (rc) return rc;
  sl_rng_seed(&d->rng);
  d->n = cat->n;
  d->streams = calloc(cat->n ? cat->n : 1, sizeof *d->streams);
  if (!d->streams) return SL_ENOMEM;
  for (size_t i = 0; i < cat->n; i++) d->streams[i].fd = -1;
  for (size_t i = 0; i < cat->n; i++) {
    jstream *s = &d->streams[i];
    const sl_cstream *cs = &cat->streams[i];
    sl_buf b;
    sl_buf_init(&b, 1 << 20);
    sl_buf_appendf(&b, "%s/", dir);
    if (cs->ns) {
      sl_fs_name(&b, cs->ns);
      sl_buf_putc(&b, '_');
    }
    sl_fs_name(&b, cs->name);
    sl_buf_append(&b, ".jsonl", 6);
    s->final = strdup(sl_buf_cstr(&b));
    sl_buf_append(&b, ".tmp", 4);
    s->tmp = strdup(sl_buf_cstr(&b));
    sl_buf_dispose(&b);
    if (!s->final || !s->tmp) return SL_ENOMEM;
    s->fname = s->final + strlen(dir) + 1;
    s->tname = s->tmp + strlen(dir) + 1;
    sl_buf_init(&s->out, (size_t)1 << 31);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(d->streams[j].final, s->final))
        return sl_err_set(err, SL_ECATALOG, "streams \"%s\" and \"%s\" would both be written to %s",
                          cat->streams[j].name, cs->name, s->final);
  }
  return SL_EOK;
}

static sl_code jsonl_open(const json_t *config, const sl_catalog *cat, void **handle, sl_err *err) {
  jdest *d = calloc(1, sizeof *d);
  *handle = NULL;
  if (!d) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = open_impl(d, config, cat, err);
  if (rc) {
    if (!err->msg[0]) sl_err_set(err, rc, "%s", sl_strerror(rc));
    jsonl_close(d, false);
    return rc;
  }
  *handle = d;
  return SL_EOK;
}

/* Append the committed part of the .tmp left by an earlier overwrite
 * attempt to the file. The .tmp stays in the record as empty until it is
 * deleted, so a crash in between never appends it twice. */
static sl_code transfer_tmp(jdest *d, jstream *s, sl_err *err) {
  int in = open(s->tmp, O_RDWR | O_CLOEXEC);
  if (in < 0) return sl_err_set(err, SL_EIO, "cannot open %s: %s", s->tmp, strerror(errno));
  char buf[65536];
  sl_commit_entry e;
  sl_code rc = sl_commit_get(d->rec, s->tname, &e) ? sl_commit_cut_fd(in, s->tmp, e.bytes, "written after the last commit by an interrupted run", err)
                                                   : trim_partial_line(in, s->tmp, err);
  for (; !rc;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = sl_err_set(err, SL_EIO, "%s: read: %s", s->tmp, strerror(errno));
    if (n <= 0) break;
    if ((rc = sl_fs_write_all(s->fd, buf, (size_t)n, s->final, err))) break;
  }
  close(in);
  if (!rc && fsync(s->fd)) rc = sl_err_set(err, SL_EIO, "%s: fsync: %s", s->final, strerror(errno));
  if (!rc) {
    s->size = s->committed = (uint64_t)lseek(s->fd, 0, SEEK_END);
    sl_commit_entry fe = entry_of(s, s->size), te = {0};
    if (!(rc = sl_commit_set(d->rec, s->fname, &fe, err)) && !(rc = sl_commit_set(d->rec, s->tname, &te, err)))
      rc = sl_commit_register(d->rec, err);
  }
  if (!rc && unlink(s->tmp)) rc = sl_err_set(err, SL_EIO, "cannot remove %s: %s", s->tmp, strerror(errno));
  if (!rc) sl_commit_drop(d->rec, s->tname);
  if (!rc)
    sl_dest_log("INFO", "%s: appended the records of an earlier interrupted overwrite (%s)", s->final, s->tmp);
  return rc;
}

static sl_code jsonl_stream_open(void *h, sl_dstream *ds, sl_err *err) {
  jdest *d = h;
  const sl_cstream *cs = ds->cs;
  jstream *s = &d->streams[cs->index];
  ds->user = s;
  s->cs = cs;
  if ((s->has_gen = cs->has_generation_id)) s->gen = cs->generation_id;
  if ((s->has_sync = cs->has_sync_id)) s->sync_id = cs->sync_id;
  s->staged = cs->dest_mode == SL_DEST_OVERWRITE || (cs->has_generation && cs->minimum_generation_id > 0);
  sl_code rc;
  if (!d->recovered && (rc = sl_commit_recover(d->rec, err))) return rc;
  d->recovered = true;
  struct stat sb;
  bool tmp_exists = stat(s->tmp, &sb) == 0;
  if (!s->staged) {
    rc = open_append(d, s, s->final, s->fname, false, err);
    if (!rc && tmp_exists) rc = transfer_tmp(d, s, err);
    return rc;
  }
  /* A .tmp of this generation (or without generations) is resumed: the
   * source resumes from the last state, whose records it holds. */
  bool keep = tmp_exists;
  sl_commit_entry e;
  if (tmp_exists && s->has_gen) {
    bool is_null;
    int64_t gen;
    if (sl_commit_get(d->rec, s->tname, &e)) keep = e.has_gen && e.gen == s->gen;
    else if (tmp_generation(s->tmp, &is_null, &gen) && (is_null || gen != s->gen)) keep = false;
  }
  if (tmp_exists)
    sl_dest_log("INFO", "%s: %s", s->tmp,
                keep ? "resuming the file left by an earlier attempt"
                     : "dropping the file left by an earlier generation");
  return open_append(d, s, s->tmp, s->tname, !keep, err);
}

static sl_code jsonl_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err) {
  jdest *d = h;
  jstream *s = ds->user;
  sl_buf *b = &s->out;
  size_t start = b->len;
  if (sl_buf_ensure(b, 128)) return sl_err_set(err, SL_ENOMEM, "out of memory");
  char *p = b->data + b->len;
  static const char k1[] = "{\"_airbyte_raw_id\":\"", k2[] = "\",\"_airbyte_extracted_at\":";
  memcpy(p, k1, sizeof k1 - 1);
  sl_uuid4(&d->rng, p + sizeof k1 - 1); /* its NUL is overwritten by k2 */
  memcpy(p + sizeof k1 - 1 + 36, k2, sizeof k2 - 1);
  b->len += sizeof k1 - 1 + 36 + sizeof k2 - 1;
  b->len += sl_json_fmt_int(b->data + b->len, rec->emitted_at);
  bool bad = PUT_LIT(b, ",\"_airbyte_generation_id\":") != SL_EOK;
  sl_jw w;
  sl_jw_init(&w, b);
  if (s->has_gen) sl_jw_int(&w, s->gen);
  else sl_jw_null(&w);
  bad |= w.rc || PUT_LIT(b, ",\"_airbyte_meta\":{\"changes\":[");
  sl_jw_init(&w, b);
  sl_jv changes;
  if (rec->has_meta && sl_jv_get(rec->meta, "changes", &changes) && sl_jv_type(changes) == SL_JARRAY)
    for (sl_jv x = sl_jv_first(changes); sl_jv_more(changes, x); x = sl_jv_next(x)) sl_jw_jv(&w, x);
  bad |= w.rc || PUT_LIT(b, "],\"sync_id\":");
  sl_jw_init(&w, b);
  if (s->has_sync) sl_jw_int(&w, s->sync_id);
  else sl_jw_null(&w);
  bad |= w.rc || PUT_LIT(b, "},\"_airbyte_data\":");
  sl_jw_init(&w, b);
  sl_jw_jv(&w, rec->data);
  if (bad || w.rc || PUT_LIT(b, "}\n")) {
    b->len = start;
    return sl_err_set(err, SL_ELIMIT, "a record is too large to write");
  }
  return b->len >= OUT_CHUNK ? drain(d, s, err) : SL_EOK;
}

/* The commit: every file written and fsync'd, then one record with their
 * lengths (set only now: a file registered meanwhile saves the record). */
static sl_code jsonl_flush(void *h, sl_err *err) {
  jdest *d = h;
  for (size_t i = 0; i < d->n; i++) {
    sl_code rc = sync_stream(d, &d->streams[i], err);
    if (rc) return rc;
  }
  for (size_t i = 0; i < d->n; i++) {
    jstream *s = &d->streams[i];
    sl_commit_entry e = entry_of(s, s->size);
    sl_code rc = s->fd < 0 ? SL_EOK : sl_commit_set(d->rec, s->staged ? s->tname : s->fname, &e, err);
    if (rc) return rc;
  }
  sl_code rc = sl_commit_save(d->rec, err);
  for (size_t i = 0; !rc && i < d->n; i++) d->streams[i].committed = d->streams[i].size;
  return rc;
}

static sl_code jsonl_stream_complete(void *h, sl_dstream *ds, sl_err *err) {
  jdest *d = h;
  jstream *s = ds->user;
  if (!s->staged) return SL_EOK;
  /* At a commit point: the .tmp is committed whole. */
  sl_code rc = sync_stream(d, s, err);
  if (rc) return rc;
  close(s->fd);
  s->fd = -1;
  s->staged = false;
  sl_commit_entry e = entry_of(s, s->size); /* the final file's: no generation */
  if ((rc = sl_commit_swap(d->rec, s->tname, s->fname, &e, err))) return rc;
  /* Records after COMPLETE (there should be none) are appended. */
  return open_append(d, s, s->final, s->fname, false, err);
}

static sl_code jsonl_save_state(void *h, const char *key, const char *value, sl_err *err) {
  return sl_commit_put_state(((jdest *)h)->rec, key, value, err);
}

static sl_code jsonl_load_states(void *h, void (*each)(void *, const char *, const char *), void *arg, sl_err *err) {
  return sl_commit_each_state(((jdest *)h)->rec, each, arg, err);
}

/* Records not committed were never acknowledged: after a failure the
 * buffer is dropped and the file cut back to its last commit. */
static void jsonl_close(void *h, bool ok) {
  jdest *d = h;
  if (!d) return;
  for (size_t i = 0; d->streams && i < d->n; i++) {
    jstream *s = &d->streams[i];
    if (s->fd >= 0 && !ok && s->size > s->committed && ftruncate(s->fd, (off_t)s->committed))
      sl_dest_log("WARN", "%s: cannot cut back to the last commit (%s); the next run does",
                  s->staged ? s->tmp : s->final, strerror(errno));
    if (s->fd >= 0) close(s->fd);
    sl_buf_dispose(&s->out);
    free(s->final);
    free(s->tmp);
  }
  free(d->streams);
  free(d->dir);
  sl_commit_free(d->rec);
  free(d);
}

static const sl_destination dest_jsonl = {
    .name = "destination-jsonl",
    .version = "0.3.0",
    .spec_json = spec,
    .documentation_url = NULL,
    .dest_modes = SL_DEST_APPEND | SL_DEST_OVERWRITE | SL_DEST_APPEND_DEDUP,
    .check = jsonl_check,
    .open = jsonl_open,
    .stream_open = jsonl_stream_open,
    .write = jsonl_write,
    .flush = jsonl_flush,
    .stream_complete = jsonl_stream_complete,
    .save_state = jsonl_save_state,
    .load_states = jsonl_load_states,
    .close = jsonl_close,
};

int main(int argc, char **argv) { return sl_destination_main(&dest_jsonl, argc, argv); }
