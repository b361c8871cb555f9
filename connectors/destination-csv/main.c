/* destination-csv: one CSV file per stream in a directory.
 *
 * <dir>/<stream>.csv (<namespace>_<stream>.csv with a namespace): a header
 * row of the schema's top-level properties, then one row per record, RFC
 * 4180 quoting, nested values as JSON text. Every sync writes <file>.tmp
 * (append mode first copies the existing file into it) and renames it over
 * the file when the stream completes, so a failed sync never leaves a half-
 * written file in place of a good one. A flush (the commit) fsyncs every
 * .tmp, then writes the directory's commit record (sluice/commitfile.h):
 * the committed length of every .tmp and the states the commit covers, in
 * one atomic replace. A retry of the same generation resumes the .tmp cut
 * back to that length, which is exactly what the echoed states cover. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/commitfile.h"
#include "sluice/fsutil.h"
#include "sluice/sluice.h"

#define OUT_CHUNK (1 << 20)

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"CSV Destination Spec\","
    "\"type\":\"object\",\"required\":[\"destination_path\"],\"additionalProperties\":true,"
    "\"properties\":{\"destination_path\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Directory\","
    "\"description\":\"Directory for the files, created if missing: one <stream>.csv per stream "
    "(<namespace>_<stream>.csv with a namespace).\",\"examples\":[\"/var/lib/sluice/export\"],\"order\":0},"
    "\"delimiter\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1,\"default\":\",\",\"title\":"
    "\"Delimiter\",\"order\":1},"
    "\"airbyte_columns\":{\"type\":\"boolean\",\"default\":false,\"title\":\"Airbyte columns\","
    "\"description\":\"Add _airbyte_raw_id, _airbyte_extracted_at, _airbyte_generation_id and "
    "_airbyte_meta after the data columns\",\"order\":2}}}";

static const char *const ab_cols[] = {"_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_generation_id",
                                      "_airbyte_meta"};

typedef struct cstream {
  const sl_cstream *cs;
  char *final, *tmp;
  const char *fname, *tname; /* their names in the directory */
  char **cols; /* borrowed from the catalog */
  size_t ncols;
  bool whole;   /* no properties: one _airbyte_data column */
  int fd;
  bool open_tmp;
  uint64_t bytes; /* of the .tmp, written */
  bool has_gen;
  int64_t gen;
  sl_buf out;
  sl_jv *vals;
  size_t hint;
} cstream;

typedef struct cdest {
  char *dir;
  char delim;
  bool ab;
  cstream *streams;
  size_t n;
  sl_rng rng;
  sl_buf scratch;
  sl_commitfile *rec;
  bool recovered;
} cdest;

/* ---- CSV text ---- */

static void put_field(sl_buf *b, char delim, const char *s, size_t n, bool force_quote) {
  bool q = force_quote || !n;
  for (size_t i = 0; !q && i < n; i++)
    q = s[i] == delim || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
  if (!q) {
    sl_buf_put(b, s, n);
    return;
  }
  sl_buf_putc(b, '"');
  for (const char *p = s, *e = s + n; p < e;) {
    const char *dq = memchr(p, '"', (size_t)(e - p));
    size_t run = dq ? (size_t)(dq - p) + 1 : (size_t)(e - p);
    sl_buf_put(b, p, run);
    if (dq) sl_buf_putc(b, '"');
    p += run;
  }
  sl_buf_putc(b, '"');
}

/* One value: null is an empty field, "" is "" (so the two stay apart). */
static void put_value(cdest *d, sl_buf *b, sl_jv v) {
  char num[40];
  size_t len;
  const char *s = sl_jv_num_text(v, &len); /* a long literal, exactly as written */
  if (s) {
    sl_buf_put(b, s, len);
    return;
  }
  switch (sl_jv_type(v)) {
    case SL_JNULL: return;
    case SL_JBOOL: sl_buf_put(b, sl_jv_bool(v) ? "true" : "false", sl_jv_bool(v) ? 4 : 5); return;
    case SL_JINT: sl_buf_put(b, num, sl_json_fmt_int(num, sl_jv_int(v))); return;
    case SL_JUINT: sl_buf_put(b, num, (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)sl_jv_uint(v))); return;
    case SL_JDOUBLE: sl_buf_put(b, num, sl_json_fmt_double(num, sl_jv_double_raw(v), false)); return;
    case SL_JSTRING:
      s = sl_jv_str(v, &len);
      put_field(b, d->delim, s, len, false);
      return;
    default: {
      sl_jw w;
      d->scratch.len = 0;
      sl_jw_init(&w, &d->scratch);
      sl_jw_jv(&w, v);
      put_field(b, d->delim, d->scratch.data, d->scratch.len, false);
    }
  }
}

static void put_header(cdest *d, cstream *s) {
  for (size_t i = 0; i < s->ncols; i++) {
    if (i) sl_buf_putc(&s->out, d->delim);
    put_field(&s->out, d->delim, s->cols[i], strlen(s->cols[i]), false);
  }
  for (size_t i = 0; d->ab && i < 4; i++) {
    sl_buf_putc(&s->out, d->delim);
    sl_buf_put(&s->out, ab_cols[i], strlen(ab_cols[i]));
  }
  sl_buf_put(&s->out, "\r\n", 2);
}

/* ---- files ---- */

static sl_code drain(cstream *s, sl_err *err) {
  if (!s->out.len) return SL_EOK;
  sl_code rc = sl_fs_write_all(s->fd, s->out.data, s->out.len, s->tmp, err);
  s->bytes += s->out.len;
  s->out.len = 0;
  return rc;
}

/* Copy the existing file into the .tmp (append mode); its header must be ours. */
static sl_code copy_existing(cdest *d, cstream *s, sl_err *err) {
  int in = open(s->final, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    if (errno == ENOENT) return SL_EOK;
    return sl_err_set(err, SL_EIO, "cannot open %s: %s", s->final, strerror(errno));
  }
  struct stat sb;
  fstat(in, &sb);
  sl_code rc = SL_EOK;
  if (sb.st_size > 0) {
    put_header(d, s);
    char head[65536];
    ssize_t n = pread(in, head, sizeof head, 0);
    if (n < (ssize_t)s->out.len || memcmp(head, s->out.data, s->out.len))
      rc = sl_err_set(err, SL_EDESTINATION, "%s: its header row is not this stream's columns (the schema changed?); "
                      "append cannot add rows to it: sync with overwrite, or move the file away", s->final);
    s->out.len = 0;
  }
  for (off_t off = 0; !rc && off < sb.st_size;) {
    ssize_t n = copy_file_range(in, &off, s->fd, NULL, (size_t)(sb.st_size - off), 0);
    if (n <= 0) rc = sl_err_set(err, SL_EIO, "copying %s into %s: %s", s->final, s->tmp, n ? strerror(errno) : "short copy");
    else s->bytes += (uint64_t)n;
  }
  close(in);
  return rc;
}

static sl_commit_entry entry_of(const cstream *s) {
  sl_commit_entry e = {.bytes = s->bytes, .has_gen = s->has_gen, .gen = s->gen};
  return e;
}

/* A .tmp left by an attempt of this generation, cut to what its commits
 * covered (the recovery did; a mark of an earlier version is cut here). */
static bool resume_tmp(cdest *d, cstream *s, sl_err *err) {
  sl_commit_entry e;
  if (!sl_commit_get(d->rec, s->tname, &e) || !e.bytes || e.has_gen != s->has_gen || (s->has_gen && e.gen != s->gen))
    return false;
  int fd = open(s->tmp, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || sl_commit_cut_fd(fd, s->tmp, e.bytes, "written after the last commit by an interrupted run", err) ||
      lseek(fd, 0, SEEK_END) < 0) {
    if (fd >= 0) close(fd);
    return false;
  }
  s->fd = fd;
  s->bytes = e.bytes;
  return true;
}

/* ---- callbacks ---- */

static sl_code csv_check(const json_t *config, sl_err *err) {
  const char *dir = json_string_value(json_object_get(config, "destination_path"));
  if (!dir || !*dir) return sl_err_set(err, SL_ECONFIG, "destination_path is required");
  return sl_fs_check_dir(dir, err);
}

static void csv_close(void *h, bool ok);

static char *path_for(const char *dir, const sl_cstream *cs, const char *suffix) {
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_buf_appendf(&b, "%s/", dir);
  if (cs->ns) {
    sl_fs_name(&b, cs->ns);
    sl_buf_putc(&b, '_');
  }
  sl_fs_name(&b, cs->name);
  sl_buf_appendf(&b, ".csv%s", suffix);
  char *p = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return p;
}

static sl_code open_impl(cdest *d, const json_t *config, const sl_catalog *cat, sl_err *err) {
  const char *dir = json_string_value(json_object_get(config, "destination_path"));
  const char *delim = json_string_value(json_object_get(config, "delimiter"));
  if (!dir || !*dir) return sl_err_set(err, SL_ECONFIG, "destination_path is required");
  d->delim = delim && strlen(delim) == 1 ? delim[0] : ',';
  if (d->delim == '"' || d->delim == '\n' || d->delim == '\r')
    return sl_err_set(err, SL_ECONFIG, "delimiter cannot be a quote or a newline");
  d->ab = json_is_true(json_object_get(config, "airbyte_columns"));
  if (!(d->dir = strdup(dir))) return SL_ENOMEM;
  sl_code rc = sl_fs_mkdirs(dir, err);
  if (!rc) rc = sl_commit_load(dir, "csv", &d->rec, err);
  if (rc) return rc;
  sl_rng_seed(&d->rng);
  sl_buf_init(&d->scratch, (size_t)1 << 30);
  d->n = cat->n;
  if (!(d->streams = calloc(cat->n ? cat->n : 1, sizeof *d->streams))) return SL_ENOMEM;
  for (size_t i = 0; i < cat->n; i++) d->streams[i].fd = -1;
  for (size_t i = 0; i < cat->n; i++) {
    cstream *s = &d->streams[i];
    const sl_cstream *cs = &cat->streams[i];
    s->final = path_for(dir, cs, "");
    s->tmp = path_for(dir, cs, ".tmp");
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

static sl_code csv_open(const json_t *config, const sl_catalog *cat, void **handle, sl_err *err) {
  cdest *d = calloc(1, sizeof *d);
  *handle = NULL;
  if (!d) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = open_impl(d, config, cat, err);
  if (rc) {
    if (!err->msg[0]) sl_err_set(err, rc, "%s", sl_strerror(rc));
    csv_close(d, false);
    return rc;
  }
  *handle = d;
  return SL_EOK;
}

static sl_code csv_stream_open(void *h, sl_dstream *ds, sl_err *err) {
  cdest *d = h;
  const sl_cstream *cs = ds->cs;
  cstream *s = &d->streams[cs->index];
  ds->user = s;
  s->cs = cs;
  if ((s->has_gen = cs->has_generation_id)) s->gen = cs->generation_id;
  json_t *props = json_object_get(cs->json_schema, "properties");
  s->ncols = json_is_object(props) ? json_object_size(props) : 0;
  s->whole = !s->ncols;
  if (s->whole) s->ncols = 1;
  if (!(s->cols = calloc(s->ncols, sizeof *s->cols)) || !(s->vals = calloc(s->ncols, sizeof *s->vals)))
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  if (s->whole) s->cols[0] = "_airbyte_data";
  else {
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) s->cols[i++] = (char *)k;
  }
  s->open_tmp = true;
  sl_code rc;
  if (!d->recovered && (rc = sl_commit_recover(d->rec, err))) return rc;
  d->recovered = true;
  if (access(s->tmp, F_OK) == 0 && resume_tmp(d, s, err)) {
    sl_dest_log("INFO", "%s: resuming the file left by an earlier attempt (%llu bytes)", s->tmp,
                (unsigned long long)s->bytes);
    return SL_EOK;
  }
  if (err->msg[0]) return SL_EIO; /* cut failed: named in err */
  s->bytes = 0;
  sl_commit_entry e = entry_of(s);
  if ((s->fd = sl_commit_create(d->rec, s->tname, &e, O_WRONLY, err)) < 0) return SL_EIO;
  bool overwrite = cs->dest_mode == SL_DEST_OVERWRITE || (cs->has_generation && cs->minimum_generation_id > 0 &&
                                                          cs->minimum_generation_id == cs->generation_id);
  rc = overwrite ? SL_EOK : copy_existing(d, s, err);
  if (!rc && !s->bytes) put_header(d, s);
  return rc;
}

static sl_code csv_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err) {
  cdest *d = h;
  cstream *s = ds->user;
  sl_buf *b = &s->out;
  size_t start = b->len;
  if (s->whole) put_value(d, b, rec->data);
  else {
    memset(s->vals, 0, s->ncols * sizeof *s->vals);
    /* Fields usually come in schema order: try the next column first. */
    for (sl_jv k = sl_jv_first(rec->data); sl_jv_more(rec->data, k); k = sl_jv_next(sl_jv_val(k))) {
      size_t kl;
      const char *ks = sl_jv_str(k, &kl);
      size_t i = s->hint < s->ncols ? s->hint : 0, tries = 0;
      while (tries < s->ncols && !(strlen(s->cols[i]) == kl && !memcmp(s->cols[i], ks, kl))) {
        i = i + 1 == s->ncols ? 0 : i + 1;
        tries++;
      }
      if (tries == s->ncols) continue; /* not in the schema: not written */
      s->vals[i] = sl_jv_val(k);
      s->hint = i + 1;
    }
    for (size_t i = 0; i < s->ncols; i++) {
      if (i) sl_buf_putc(b, d->delim);
      if (s->vals[i].tape) put_value(d, b, s->vals[i]);
    }
  }
  if (d->ab) {
    char id[40], num[24];
    sl_uuid4(&d->rng, id);
    sl_buf_putc(b, d->delim);
    sl_buf_put(b, id, 36);
    sl_buf_putc(b, d->delim);
    sl_buf_put(b, num, sl_json_fmt_int(num, rec->emitted_at));
    sl_buf_putc(b, d->delim);
    if (s->has_gen) sl_buf_put(b, num, sl_json_fmt_int(num, s->gen));
    sl_buf_putc(b, d->delim);
    d->scratch.len = 0;
    sl_jw w;
    sl_jw_init(&w, &d->scratch);
    sl_buf_put(&d->scratch, "{\"changes\":[", 12);
    sl_jv changes;
    if (rec->has_meta && sl_jv_get(rec->meta, "changes", &changes) && sl_jv_type(changes) == SL_JARRAY)
      for (sl_jv x = sl_jv_first(changes); sl_jv_more(changes, x); x = sl_jv_next(x)) sl_jw_jv(&w, x);
    sl_buf_put(&d->scratch, "]}", 2);
    put_field(b, d->delim, d->scratch.data, d->scratch.len, false);
  }
  if (sl_buf_put(b, "\r\n", 2)) {
    b->len = start;
    return sl_err_set(err, SL_ELIMIT, "%s: a record is too large to write", s->tmp);
  }
  return b->len >= OUT_CHUNK ? drain(s, err) : SL_EOK;
}

static sl_code csv_flush(void *h, sl_err *err) {
  cdest *d = h;
  for (size_t i = 0; i < d->n; i++) {
    cstream *s = &d->streams[i];
    if (s->fd < 0 || !s->open_tmp) continue;
    sl_code rc = drain(s, err);
    if (rc) return rc;
    if (fsync(s->fd)) return sl_err_set(err, SL_EIO, "%s: fsync: %s", s->tmp, strerror(errno));
    sl_commit_entry e = entry_of(s);
    if ((rc = sl_commit_set(d->rec, s->tname, &e, err))) return rc;
  }
  return sl_commit_save(d->rec, err); /* the commit: one record for every file */
}

static sl_code csv_stream_complete(void *h, sl_dstream *ds, sl_err *err) {
  cdest *d = h;
  cstream *s = ds->user;
  if (!s->open_tmp) return SL_EOK;
  sl_code rc = drain(s, err);
  if (rc) return rc;
  if (fsync(s->fd)) return sl_err_set(err, SL_EIO, "%s: fsync: %s", s->tmp, strerror(errno));
  close(s->fd);
  s->fd = -1;
  s->open_tmp = false;
  sl_commit_entry e = entry_of(s);
  if ((rc = sl_commit_swap(d->rec, s->tname, s->fname, &e, err))) return rc;
  sl_commit_drop(d->rec, s->fname); /* a finished file is not appended to */
  return SL_EOK;
}

static sl_code csv_save_state(void *h, const char *key, const char *value, sl_err *err) {
  return sl_commit_put_state(((cdest *)h)->rec, key, value, err);
}

static sl_code csv_load_states(void *h, void (*each)(void *, const char *, const char *), void *arg, sl_err *err) {
  return sl_commit_each_state(((cdest *)h)->rec, each, arg, err);
}

/* Records not flushed were never acknowledged: dropped with the buffer. The
 * .tmp of an unfinished stream stays for the next attempt. */
static void csv_close(void *h, bool ok) {
  cdest *d = h;
  if (!d) return;
  for (size_t i = 0; d->streams && i < d->n; i++) {
    cstream *s = &d->streams[i];
    if (s->fd >= 0) close(s->fd);
    sl_buf_dispose(&s->out);
    free(s->final);
    free(s->tmp);
    free(s->cols);
    free(s->vals);
  }
  free(d->streams);
  free(d->dir);
  sl_buf_dispose(&d->scratch);
  sl_commit_free(d->rec);
  free(d);
}

static const sl_destination dest_csv = {
    .name = "destination-csv",
    .version = "0.2.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/destination-csv",
    .dest_modes = SL_DEST_APPEND | SL_DEST_OVERWRITE | SL_DEST_APPEND_DEDUP,
    .check = csv_check,
    .open = csv_open,
    .stream_open = csv_stream_open,
    .write = csv_write,
    .flush = csv_flush,
    .stream_complete = csv_stream_complete,
    .save_state = csv_save_state,
    .load_states = csv_load_states,
    .close = csv_close,
};

int main(int argc, char **argv) { return sl_destination_main(&dest_csv, argc, argv); }
