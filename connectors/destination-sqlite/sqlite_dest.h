/* destination-sqlite: what main.c, table.c and write.c share. */
#ifndef DEST_SQLITE_H
#define DEST_SQLITE_H

#include <sqlite3.h>

#include "sluice/sluice.h"

/* How a JSON schema type is stored. */
typedef enum col_type {
  COL_INTEGER, /* INTEGER: JSON integers (and integral numbers) */
  COL_NUMBER,  /* REAL: any JSON number */
  COL_BOOLEAN, /* INTEGER 0/1: JSON true/false */
  COL_STRING,  /* TEXT: strings as is; other values as their JSON text */
  COL_OBJECT,  /* TEXT holding JSON: objects only */
  COL_ARRAY,   /* TEXT holding JSON: arrays only */
  COL_JSON,    /* TEXT holding JSON: any value (unions, no type, ...) */
} col_type;

typedef struct col {
  const char *prop; /* property name in records (borrowed from the catalog); "" for _airbyte_data */
  size_t prop_len;
  char *name;       /* the column name (differs when two properties collide) */
  col_type type;
  bool is_pk;
} col;

/* Meta columns follow the data columns, in this order, in every table. */
#define N_META_COLS 4
extern const char *const meta_col_names[N_META_COLS];
extern const char *const meta_col_types[N_META_COLS];

typedef struct sstream {
  sl_dstream *ds;
  char *table;   /* final table */
  char *stage;   /* _airbyte_tmp_<table> */
  bool staged;   /* records go to the stage, swapped in on COMPLETE */
  bool dedup;    /* append_dedup: upsert on the primary key */
  bool truncate; /* truncate refresh: drop older generations at the swap */
  bool raw_data; /* no properties in the schema: one _airbyte_data column */
  col *cols;
  size_t ncols;
  uint32_t *hash; /* open addressing: column index + 1, 0 = empty */
  size_t hmask;
  int *pk;        /* primary key column indexes */
  size_t npk;
  int cursor;     /* cursor column or -1 */
  bool has_gen, has_sync;
  int64_t gen, sync_id;
  sqlite3_stmt *ins;
  /* per-record scratch, sized ncols at open */
  sl_jv *vals;
  uint64_t *seen;
  uint64_t recno;
  int *changed;                /* columns nulled by a typecast error */
  size_t *doff, *dlen;         /* deferred text binds: offsets into db->scratch */
  int *dcol;
  bool warned_dup;
} sstream;

typedef struct sdb {
  sqlite3 *db;
  char *path;
  bool in_tx;
  size_t max_len; /* SQLITE_LIMIT_LENGTH: longer values are NULLed */
  sqlite3_stmt *begin, *commit, *rollback, *put_state;
  sl_buf scratch; /* per-record JSON texts */
  sl_buf sql;     /* cold-path statement text */
  sl_rng rng;
  char uuid[40];
  sstream *streams;
  size_t n;
} sdb;

/* table.c */
sl_code sq_exec(sdb *d, const char *sql, sl_err *err);
void sq_ident(sl_buf *b, const char *name);
sl_code sq_columns(sstream *s, const sl_cstream *cs, sl_err *err);
sl_code sq_prepare_stream(sdb *d, sstream *s, sl_err *err);
sl_code sq_prepare_insert(sdb *d, sstream *s, const char *table, sl_err *err);
sl_code sq_swap(sdb *d, sstream *s, sl_err *err);
void sq_stream_free(sstream *s);

/* write.c */
sl_code sq_begin(sdb *d, sl_err *err);
sl_code sq_commit(sdb *d, sl_err *err);
sl_code sq_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err);

#endif
