/* source-file: the parts shared by the config, the format readers, schema
 * inference and the file listing. */
#ifndef SOURCE_FILE_FSRC_H
#define SOURCE_FILE_FSRC_H

#include <stdbool.h>
#include <stdint.h>

#include "input.h"
#include "sluice/sluice.h"

typedef enum ffmt { FMT_CSV, FMT_JSONL, FMT_JSON } ffmt;

typedef struct fstrs {
  char **v;
  size_t n;
} fstrs;

typedef struct fcsv_opts {
  unsigned char delim, quote, escape; /* escape 0: quotes are doubled (RFC 4180) */
  bool header;                        /* the first row (after skips) names the columns */
  fstrs columns;                      /* given column names */
  int64_t skip_before, skip_after;    /* rows skipped before / after the header */
  fin_enc enc;
  fstrs nulls, trues, falses;
  bool null_empty;                    /* "" in null_values: an unquoted empty field is null */
  bool ragged_fail;                   /* a row of the wrong width fails the stream */
  bool utf8_fail;                     /* invalid UTF-8 fails the stream (else U+FFFD + WARN) */
  bool libcsv;                        /* parse with libcsv instead of csvscan.c */
} fcsv_opts;

/* One stream of the config: a single file (url) or files under dir matching globs. */
typedef struct fstream {
  char *name;
  char *url;
  char *dir;
  fstrs globs;
  ffmt fmt;
  bool fmt_given;
  char *compression; /* auto, none, gzip, zstd, bzip2 */
  fcsv_opts csv;
  fstrs records_path; /* json: the array's path, e.g. ["data", "items"]; empty: top level */
  json_t *schema;     /* given schema (borrowed from the config), or NULL */
  fstrs pk;
  int64_t infer_rows;
  int64_t days_if_full; /* days_to_sync_if_history_is_full */
} fstream;

typedef struct fconfig {
  fstream *s;
  size_t n;
} fconfig;

sl_code fconfig_load(const json_t *config, fconfig *c, sl_err *err);
void fconfig_free(fconfig *c);
bool fconfig_migrate(json_t *config);
fstream *fconfig_find(fconfig *c, const char *name);
ffmt ffmt_from_name(const char *path);

/* ---- inference (infer.c) ---- */

typedef struct inode inode;
inode *inode_new(void);
void inode_free(inode *n);
/* The child of an object node for key (created in first-seen order). */
inode *inode_child(inode *n, const char *key, size_t len);
void inode_null(inode *n);
/* A CSV cell (typed by its text) or a JSON string (date / date-time / string). */
void inode_text(inode *n, const char *s, size_t len, const fcsv_opts *csv);
void inode_string(inode *n, const char *s, size_t len);
void inode_jv(inode *n, sl_jv v);
/* The JSON schema of an object node (new reference). */
json_t *inode_schema(const inode *n, bool multi_file);

/* ---- CSV cells (csv.c) ---- */

/* Parse helpers shared by inference and conversion. */
bool fcell_int(const char *s, size_t len, int64_t *out);
bool fcell_num_json(const char *s, size_t len); /* already valid JSON number text */
bool fcell_num(const char *s, size_t len, double *out);
int fcell_bool(const char *s, size_t len, const fcsv_opts *o); /* 1, 0, or -1 */
bool fcell_in(const fstrs *set, const char *s, size_t len);

/* ---- emitting records (per file) ---- */

typedef struct femit {
  sl_read *rd;           /* read: records go here */
  const sl_cstream *cs;  /* read: its configured schema types the CSV cells */
  inode *infer;          /* discover: records feed this instead */
  int64_t limit;         /* discover: records to sample (0: all) */
  const fstream *st;
  const char *file_url;  /* multi-file streams: the two _ab_source_file_* fields */
  const char *file_mtime;
  const char *what;      /* the file, for messages */
  uint64_t records;      /* records of this file so far */
  bool stop;             /* the sample is complete */
} femit;

/* Append _ab_source_file_url and _ab_source_file_last_modified when set. */
void femit_file_fields(femit *em, sl_jw *w);

sl_code fcsv_run(fin *in, femit *em, sl_err *err);
sl_code fjson_run(fin *in, femit *em, sl_err *err); /* JSON lines and JSON */

/* ---- files (files.c) ---- */

typedef struct ffile {
  char *rel;   /* path under the directory: the record's _ab_source_file_url */
  char *path;  /* full path */
  int64_t mtime_us;
  char mtime[32]; /* %Y-%m-%dT%H:%M:%S.%fZ, as Airbyte's file-based CDK writes it */
} ffile;

typedef struct ffiles {
  ffile *v;
  size_t n;
} ffiles;

/* Every regular file under st->dir matching one of st->globs, sorted by
 * (modification time, path). No match is an error naming the globs. */
sl_code ffiles_list(const fstream *st, ffiles *out, sl_err *err);
void ffiles_free(ffiles *f);

/* ---- incremental history (history.c) ---- */

typedef struct fhistory {
  json_t *map;        /* uri -> mtime, the state's "history" */
  size_t max;         /* 10,000 entries */
  bool full;          /* it was full when the sync started */
  char first_time[32]; /* the oldest entry when the sync started */
  char *first_uri;
  char start[32];     /* files not in a full history are read from this time on */
} fhistory;

sl_code fhist_init(fhistory *h, const json_t *state, int64_t days_if_full, sl_err *err);
bool fhist_should_read(const fhistory *h, const ffile *f);
sl_code fhist_add(fhistory *h, const ffile *f);
void fhist_dispose(fhistory *h);
bool fglob_match(const char *pat, const char *path);

#endif
