/* destination-postgres: what main.c, table.c and write.c share. */
#ifndef DEST_PG_H
#define DEST_PG_H

#include <libpq-fe.h>

#include "sluice/sluice.h"
#include "sluice/typing.h"

/* Meta columns follow the data columns, in this order, in every table. */
#define PGD_N_META 4
extern const char *const pgd_meta_names[PGD_N_META];

typedef struct pstream pstream;

/* One COPY statement and the rows waiting for it. Every stream has two:
 * rows whose _airbyte_meta is the common one ({"changes":[],"sync_id":N})
 * leave that column to its DEFAULT, so the server parses no JSON for them;
 * rows with changes list it. */
typedef struct pcopy {
  pstream *s;
  char *sql;  /* COPY <target or batch> (...) FROM STDIN (binary) */
  sl_buf rows;
} pcopy;

struct pstream {
  sl_dstream *ds;
  char *schema;        /* the namespace or the configured schema, normalised */
  char *table;         /* final table (normalised) */
  char *stage;         /* stage table for overwrite and truncate refreshes */
  char *batch;         /* temp table of the dedup batch */
  char *pk_index;      /* name of the unique key index */
  char *qtable, *qstage; /* "schema"."table" and "schema"."stage" */
  bool staged, dedup, truncate;
  sl_col_set cols;
  int *pk;             /* primary key column indexes */
  size_t npk;
  int cursor, deleted; /* cursor and _ab_cdc_deleted_at columns, or -1 */
  bool has_gen, has_sync;
  int64_t gen, sync_id;
  pcopy plain, full;   /* without and with the _airbyte_meta column */
  char *meta_default;  /* the common _airbyte_meta, as JSON text */
  /* per-record scratch, sized to the columns at open */
  sl_jv *vals;
  uint64_t *seen, recno;
  sl_typing_change *changes;
  uint64_t batch_rows; /* rows copied into the dedup batch this transaction */
  int64_t seq;         /* extraction order within the batch */
};

typedef struct pdb {
  PGconn *conn;
  const char *schema; /* configured default schema (borrowed from the config) */
  bool in_tx;
  pcopy *copying;     /* the open COPY, or NULL */
  sl_typing_limits lim;
  sl_buf scratch;     /* per-value text */
  sl_buf meta;        /* per-record _airbyte_meta */
  sl_buf fields;      /* per-record data fields */
  sl_buf sql;         /* cold-path statement text */
  sl_rng rng;
  uint64_t commits, records; /* for the test hook */
  bool state_table;   /* _sluice_state exists (created in this run) */
  pstream *streams;
  size_t n;
} pdb;

/* main.c */
sl_code pgd_error_code(PGconn *c, const PGresult *r);
sl_code pgd_error(pdb *d, const PGresult *r, const char *what, sl_err *err);
sl_code pgd_exec(pdb *d, const char *sql, sl_err *err);
sl_code pgd_query(pdb *d, const char *sql, int n, const char *const *params, PGresult **out,
                  sl_err *err);
void pgd_ident(pdb *d, sl_buf *b, const char *name);
sl_code pgd_begin(pdb *d, sl_err *err);
void pgd_test_pause(const char *point, uint64_t n);

/* table.c */
const char *pgd_sql_type(sl_col_type t);
sl_code pgd_stream_setup(pdb *d, pstream *s, sl_err *err);
sl_code pgd_merge_batch(pdb *d, pstream *s, sl_err *err);
sl_code pgd_swap(pdb *d, pstream *s, sl_err *err);
void pgd_stream_free(pstream *s);

/* write.c */
sl_code pgd_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err);
sl_code pgd_copy_all(pdb *d, sl_err *err);
sl_code pgd_copy_end(pdb *d, bool ok, sl_err *err);

/* states.c */
sl_code pgd_save_state(void *h, const char *key, const char *value, sl_err *err);
sl_code pgd_load_states(void *h, void (*each)(void *, const char *, const char *), void *arg, sl_err *err);

#endif
