/* destination-mysql: what main.c, table.c and load.c share. */
#ifndef MYDEST_H
#define MYDEST_H

#include "../source-mysql/myconn.h"
#include "sluice/typing.h"

#define MY_NAME_MAX 64
#define N_META 4
extern const char *const my_meta_names[N_META];

typedef struct mstream {
  sl_dstream *ds;
  char table[MY_NAME_MAX + 1]; /* final table */
  char stage[MY_NAME_MAX + 1]; /* overwrite: the new rows until COMPLETE */
  char dd[MY_NAME_MAX + 1];    /* append_dedup: this batch's rows, merged at flush */
  const char *target;          /* where rows end up at flush: table or stage */
  const char *load_into;       /* where LOAD DATA writes: target, or dd */
  bool staged, dedup, truncate;
  sl_col_set cols;
  int *pk;            /* column indexes of the primary key */
  size_t npk;
  int cursor;         /* cursor column, or -1 */
  int cdc_deleted;    /* _ab_cdc_deleted_at column, or -1 */
  bool has_gen, has_sync;
  int64_t gen, sync_id;
  /* the batch: rows in LOAD DATA text form, loaded at flush */
  sl_buf rows;
  uint64_t nrows;
  /* per-record scratch */
  sl_jv *vals;
  uint64_t *seen, recno;
  sl_typing_change *changes;
  sl_buf load_sql; /* the LOAD DATA statement */
} mstream;

typedef struct mdb {
  MYSQL *m;
  const json_t *config;
  const char *db;
  sl_buf sql, scratch, meta;
  sl_rng rng;
  mstream *streams;
  size_t n;
  bool in_tx;
  /* the LOAD DATA LOCAL source: one batch buffer */
  const char *feed;
  size_t feed_len, feed_off;
  unsigned commits; /* for the kill-before-commit test hook */
  int64_t ts_sec;   /* _airbyte_extracted_at cache: the last second formatted */
  char ts_text[24];
} mdb;

/* states.c */
sl_code md_state_table(mdb *d, sl_err *err);
sl_code md_save_state(void *h, const char *key, const char *value, sl_err *err);
sl_code md_load_states(void *h, void (*each)(void *, const char *, const char *), void *arg, sl_err *err);

/* table.c */
sl_code md_prepare_stream(mdb *d, mstream *s, sl_err *err);
sl_code md_merge(mdb *d, mstream *s, sl_err *err);
sl_code md_swap(mdb *d, mstream *s, sl_err *err);
void md_stream_free(mstream *s);
const char *md_sql_type(sl_col_type t);

/* load.c */
void md_install_infile(mdb *d);
sl_code md_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err);
sl_code md_load(mdb *d, mstream *s, sl_err *err);
sl_code md_flush(void *h, sl_err *err);

#endif
