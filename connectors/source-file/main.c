/* source-file: CSV, JSON lines and JSON from a local file, a file:// or
 * http(s):// URL, or many files under a directory (globs), decompressed on
 * the fly, streamed with flat memory. Multi-file streams are incremental by
 * file modification time, with Airbyte file-based CDK state
 * ({"history": {uri: time}, "_ab_source_file_last_modified": "time_uri"}). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsrc.h"

/* A JSON schema given in the config: its top-level keywords are declared so
 * the spec has no empty object (the UI rule CAT enforces); the values are
 * free-form. */
#define SCHEMA_OPT                                                                                 \
  "{\"type\":\"object\",\"description\":\"A JSON schema to use instead of inferring one\","       \
  "\"properties\":{\"type\":{\"description\":\"object\"},\"properties\":{\"description\":\"Column name to "  \
  "JSON schema\"},\"required\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"

#define FMT_OPTS                                                                                   \
  "\"format\":{\"title\":\"Format\",\"description\":\"csv, jsonl or json (default: from the file "  \
  "extension) and its options\",\"type\":\"object\","                                             \
  "\"properties\":{\"filetype\":{\"type\":\"string\",\"enum\":[\"csv\",\"jsonl\",\"ndjson\","      \
  "\"json\"]},\"delimiter\":{\"type\":\"string\",\"default\":\",\"},\"quote_char\":{\"type\":"       \
  "\"string\",\"default\":\"\\\"\"},\"escape_char\":{\"type\":[\"string\",\"null\"]},\"header\":"   \
  "{\"type\":\"boolean\",\"description\":\"default: true, or false when column_names is given\"},\"column_names\":{\"type\":\"array\",\"items\":{\"type\":" \
  "\"string\"}},\"skip_rows_before_header\":{\"type\":\"integer\",\"minimum\":0},"                 \
  "\"skip_rows_after_header\":{\"type\":\"integer\",\"minimum\":0},\"encoding\":{\"type\":"         \
  "\"string\",\"default\":\"utf-8\"},\"null_values\":{\"type\":\"array\",\"items\":{\"type\":"      \
  "\"string\"}},\"true_values\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"              \
  "\"false_values\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"ragged_rows\":{\"type\":" \
  "\"string\",\"enum\":[\"keep\",\"fail\"],\"default\":\"keep\"},\"invalid_utf8\":{\"type\":"       \
  "\"string\",\"enum\":[\"replace\",\"fail\"],\"default\":\"replace\"},\"csv_parser\":{\"type\":" \
  "\"string\",\"enum\":[\"builtin\",\"libcsv\"],\"default\":\"builtin\"},\"records_path\":{\"type\":"  \
  "\"string\"}}},"                                                                                 \
  "\"compression\":{\"type\":\"string\",\"enum\":[\"auto\",\"none\",\"gzip\",\"zstd\",\"bzip2\"],"  \
  "\"default\":\"auto\"},"                                                                         \
  "\"schema\":" SCHEMA_OPT ",\"primary_key\":{\"type\":\"string\",\"description\":\"The primary key "  \
  "column (several, for a composite key, separated by commas)\"},"                                                                                   \
  "\"infer_rows\":{\"type\":\"integer\",\"minimum\":1,\"default\":1000,\"description\":\"Records "  \
  "sampled to infer the schema\"}"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"File Source Spec\","
    "\"type\":\"object\",\"additionalProperties\":true,\"properties\":{"
    "\"url\":{\"type\":\"string\",\"title\":\"URL\",\"description\":\"One file: a local path, "
    "file:///path or https://...\",\"order\":0},"
    "\"dataset_name\":{\"type\":\"string\",\"title\":\"Stream name\",\"description\":\"The stream "
    "name of the url's file (default: its base name)\",\"order\":1},"
    "\"directory\":{\"type\":\"string\",\"title\":\"Directory\",\"description\":\"Many files: the "
    "directory that streams[].globs are matched under\",\"order\":2},"
    "\"streams\":{\"type\":\"array\",\"order\":3,\"items\":{\"type\":\"object\",\"required\":"
    "[\"name\",\"globs\"],\"properties\":{\"name\":{\"type\":\"string\"},\"globs\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}},\"days_to_sync_if_history_is_full\":{\"type\":"
    "\"integer\",\"minimum\":1,\"default\":3,\"description\":\"When the state's history holds "
    "10,000 files, files it does not list are read if modified within this many days\"},\"input_schema\":" SCHEMA_OPT "," FMT_OPTS
    "}}}," FMT_OPTS "}}";

static sl_code open_file(const fstream *st, const char *url, fin **in, sl_err *err) {
  return fin_open(in, url, st->compression, st->fmt == FMT_CSV ? st->csv.enc : FIN_UTF8, err);
}

static sl_code run_file(const fstream *st, const char *url, femit *em, sl_err *err) {
  fin *in;
  sl_code rc = open_file(st, url, &in, err);
  if (rc) return rc;
  em->what = fin_name(in);
  em->records = 0;
  rc = st->fmt == FMT_CSV ? fcsv_run(in, em, err) : fjson_run(in, em, err);
  fin_close(in);
  return rc;
}

void femit_file_fields(femit *em, sl_jw *w) {
  if (!em->file_url) return;
  sl_rec_str(w, "_ab_source_file_last_modified", em->file_mtime);
  sl_rec_str(w, "_ab_source_file_url", em->file_url);
}

static sl_code check(const json_t *config, sl_err *err) {
  fconfig c;
  sl_code rc = fconfig_load(config, &c, err);
  for (size_t i = 0; !rc && i < c.n; i++) {
    fstream *st = &c.s[i];
    if (st->url) {
      fin *in;
      if (!(rc = open_file(st, st->url, &in, err))) fin_close(in);
    } else {
      ffiles fl;
      if (!(rc = ffiles_list(st, &fl, err))) ffiles_free(&fl);
    }
  }
  fconfig_free(&c);
  return rc;
}

/* The schema of a stream: given, or inferred from its first records (of
 * its newest file, for many files). */
static sl_code stream_schema(fstream *st, json_t **out, sl_err *err) {
  bool multi = st->dir != NULL;
  if (st->schema) {
    json_t *s = json_deep_copy(st->schema);
    if (!s) return SL_ENOMEM;
    json_t *props = json_object_get(s, "properties");
    if (multi && json_is_object(props)) {
      json_object_set_new(props, "_ab_source_file_last_modified",
                          json_pack("{s:s, s:s}", "type", "string", "format", "date-time"));
      json_object_set_new(props, "_ab_source_file_url", json_pack("{s:s}", "type", "string"));
    }
    *out = s;
    return SL_EOK;
  }
  femit em = {.infer = inode_new(), .limit = st->infer_rows, .st = st};
  if (!em.infer) return SL_ENOMEM;
  sl_code rc;
  if (multi) {
    ffiles fl;
    if ((rc = ffiles_list(st, &fl, err))) {
      inode_free(em.infer);
      return rc;
    }
    rc = run_file(st, fl.v[fl.n - 1].path, &em, err);
    ffiles_free(&fl);
  } else {
    rc = run_file(st, st->url, &em, err);
  }
  if (!rc && !(*out = inode_schema(em.infer, multi))) rc = SL_ENOMEM;
  inode_free(em.infer);
  return rc;
}

/* The library runs discover before a read only to learn the stream names:
 * then no file is sampled (a read must not fail, or fetch a URL twice, for
 * a schema it does not use). */
static bool names_only;

static sl_code discover(const json_t *config, json_t *streams, sl_err *err) {
  fconfig c;
  sl_code rc = fconfig_load(config, &c, err);
  for (size_t i = 0; !rc && i < c.n; i++) {
    fstream *st = &c.s[i];
    json_t *schema = NULL;
    if (names_only) schema = json_pack("{s:s}", "type", "object");
    else if ((rc = stream_schema(st, &schema, err))) {
      sl_err_wrap(err, "stream %s", st->name);
      break;
    }
    bool multi = st->dir != NULL;
    json_t *s = json_pack("{s:s, s:o, s:[s]}", "name", st->name, "json_schema", schema,
                          "supported_sync_modes", "full_refresh");
    if (!s) {
      rc = SL_ENOMEM;
      break;
    }
    if (multi) {
      json_array_append_new(json_object_get(s, "supported_sync_modes"), json_string("incremental"));
      json_object_set_new(s, "source_defined_cursor", json_true());
      json_object_set_new(s, "default_cursor_field", json_pack("[s]", "_ab_source_file_last_modified"));
    }
    if (st->pk.n) {
      json_t *pk = json_array();
      for (size_t k = 0; k < st->pk.n; k++) json_array_append_new(pk, json_pack("[s]", st->pk.v[k]));
      json_object_set_new(s, "source_defined_primary_key", pk);
    }
    json_object_set_new(s, "is_resumable", json_boolean(multi));
    json_array_append_new(streams, s);
  }
  fconfig_free(&c);
  return rc;
}

/* ---- incremental state: Airbyte's file-based CDK shape ---- */

static sl_code emit_state(sl_read *rd, json_t *history, const ffile *last, const char *prev_cursor) {
  json_t *st = json_pack("{s:O}", "history", history);
  if (!st) return SL_ENOMEM;
  if (last) {
    char *cur = NULL;
    if (asprintf(&cur, "%s_%s", last->mtime, last->rel) < 0) cur = NULL;
    /* The cursor is the newest (time, uri) seen, never going back. */
    if (cur && prev_cursor && strcmp(prev_cursor, cur) > 0) {
      free(cur);
      cur = strdup(prev_cursor);
    }
    json_object_set_new(st, "_ab_source_file_last_modified", json_string(cur ? cur : ""));
    free(cur);
  } else if (prev_cursor) {
    json_object_set_new(st, "_ab_source_file_last_modified", json_string(prev_cursor));
  }
  sl_code rc = sl_read_checkpoint(rd, st);
  json_decref(st);
  return rc;
}

static sl_code read_files(sl_read *rd, const sl_cstream *cs, fstream *st, sl_err *err) {
  ffiles fl;
  sl_code rc = ffiles_list(st, &fl, err);
  if (rc) return rc;
  bool incr = cs->sync_mode == SL_SYNC_INCREMENTAL;
  const json_t *in = sl_read_state(rd);
  fhistory hist;
  if ((rc = fhist_init(&hist, in, st->days_if_full, err))) {
    fhist_dispose(&hist);
    ffiles_free(&fl);
    return rc;
  }
  if (incr && hist.full)
    sl_read_log(rd, "WARN", "stream %s: the state's history is full (%zu files): files it does not list are read "
                "when newer than its oldest entry or modified since %s (days_to_sync_if_history_is_full)",
                st->name, hist.max, hist.start);
  const char *prev = json_string_value(json_object_get(in, "_ab_source_file_last_modified"));
  char *prev_cursor = prev ? strdup(prev) : NULL;
  const ffile *last = NULL;
  size_t skipped = 0, gone = 0;
  femit em = {.rd = rd, .cs = cs, .st = st};
  for (size_t i = 0; !rc && i < fl.n; i++) {
    ffile *f = &fl.v[i];
    if (incr && !fhist_should_read(&hist, f)) {
      skipped++;
      continue;
    }
    em.file_url = f->rel;
    em.file_mtime = f->mtime;
    sl_err ferr = SL_ERR_INIT;
    rc = run_file(st, f->path, &em, &ferr);
    if (rc == SL_ENOTFOUND) { /* listed, then deleted before we opened it */
      sl_read_log(rd, "WARN", "stream %s: %s was deleted after it was listed; it is skipped and will not be "
                  "in the state", st->name, f->path);
      gone++;
      rc = SL_EOK;
      continue;
    }
    if (rc) {
      sl_err_set(err, rc, "%s", ferr.msg);
      break;
    }
    if (incr) {
      last = f;
      if (!(rc = fhist_add(&hist, f))) rc = emit_state(rd, hist.map, last, prev_cursor);
    }
  }
  if (!rc && incr && !last) rc = emit_state(rd, hist.map, NULL, prev_cursor);
  if (!rc && (skipped || gone))
    sl_read_log(rd, "INFO", "stream %s: %zu file(s) matched, %zu already read and unchanged, %zu deleted while "
                "listed", st->name, fl.n, skipped, gone);
  free(prev_cursor);
  fhist_dispose(&hist);
  ffiles_free(&fl);
  return rc;
}

static sl_code read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  fconfig c;
  sl_code rc = fconfig_load(sl_read_config(rd), &c, err);
  if (rc) return rc;
  fstream *st = fconfig_find(&c, cs->name);
  if (!st) rc = sl_err_set(err, SL_ECATALOG, "no stream %s in the config", cs->name);
  else if (st->dir) rc = read_files(rd, cs, st, err);
  else {
    femit em = {.rd = rd, .cs = cs, .st = st};
    rc = run_file(st, st->url, &em, err);
  }
  fconfig_free(&c);
  return rc;
}

static const sl_source source_file = {
    .name = "source-file",
    .version = "0.2.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/source-file",
    .check = check,
    .discover = discover,
    .read = read_stream,
    .checkpoint_interval = 100000,
    .migrate_config = fconfig_migrate,
};

int main(int argc, char **argv) {
  names_only = argc > 1 && !strcmp(argv[1], "read");
  return sl_source_main(&source_file, argc, argv);
}
