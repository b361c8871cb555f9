/* source-postgres: shared types of the connector's modules.
 *
 * pg.c      connection, config, catalog queries (tables, columns, keys)
 * conv.c    PostgreSQL text values (COPY text format) to JSON
 * read.c    full refresh and incremental reads through COPY ... TO STDOUT
 * cdc.c     CDC: the sync's LSN range, GLOBAL state, the replication connection
 * cdc_decode.c  pgoutput messages to records of every CDC stream in one pass,
 *           unchanged TOAST values filled in, other streams' records spilled
 * main.c    spec, check, discover, read dispatch */
#ifndef PGSRC_H
#define PGSRC_H

#include <libpq-fe.h>

#include "sluice/dbsrc.h"
#include "sluice/sluice.h"

/* How a column's text value becomes JSON. */
typedef enum pg_kind {
  PGK_STRING,  /* text, varchar, uuid, enum, inet, interval, ... */
  PGK_INT,     /* int2, int4, int8, oid: JSON integer */
  PGK_FLOAT,   /* float4, float8: number; NaN and infinities become null */
  PGK_NUMERIC, /* numeric: exact number text; NaN and infinities become null */
  PGK_BOOL,
  PGK_DATE,        /* "2024-01-31" */
  PGK_TIME,        /* "12:34:56.789" */
  PGK_TIMETZ,      /* "12:34:56+02:00" */
  PGK_TIMESTAMP,   /* "2024-01-31T12:34:56.789" */
  PGK_TIMESTAMPTZ, /* "2024-01-31T12:34:56.789+00:00" */
  PGK_JSON,        /* json/jsonb: the value itself */
  PGK_BYTEA,       /* base64 string */
  PGK_ARRAY,       /* JSON array of elem kind */
} pg_kind;

typedef struct pg_col {
  char *name;
  char *type;   /* format_type(): "numeric(10,2)", "text[]" */
  pg_kind kind;
  pg_kind elem; /* for PGK_ARRAY */
  bool not_null;
  char *key;    /* "\"name\":" ready for sl_jw_key_raw */
  size_t key_len;
} pg_col;

typedef struct pg_table {
  char *schema, *name;
  char kind; /* pg_class.relkind: r, v, m, p, f */
  pg_col *cols;
  size_t n_cols;
  char **pk; /* primary key column names, NULL-terminated (empty for none) */
  size_t n_pk;
} pg_table;

typedef struct pg_cfg {
  const json_t *json;
  const char *host, *database, *username, *password, *ssl_mode;
  int port;
  char **schemas; /* NULL-terminated */
  sl_dbfilter filter;      /* include_tables / exclude_tables on "schema.table" */
  int64_t chunk_rows;      /* rows between checkpoints */
  bool cdc;
  const char *slot, *publication;
} pg_cfg;

/* ---- pg.c ---- */
sl_code pg_cfg_load(const json_t *config, pg_cfg *c, sl_err *err);
void pg_cfg_dispose(pg_cfg *c);
/* Open a connection (replication: a logical replication connection).
 * Errors say which of host, credentials or database failed. */
sl_code pg_connect(const pg_cfg *c, bool replication, PGconn **out, sl_err *err);
/* Wait for the socket to be readable up to ms (-1: forever); false on timeout. */
bool pg_wait_readable(PGconn *conn, int ms);
/* Run a statement that returns no rows we need; err names `what`. */
sl_code pg_exec(PGconn *conn, const char *sql, const char *what, sl_err *err);
/* Map a libpq failure to an sl_code: lost connections are transient. */
sl_code pg_fail(PGconn *conn, const PGresult *res, sl_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* All tables visible in the configured schemas that pass the filters
 * (schema/name filters NULL) or exactly one (found: false if missing). */
sl_code pg_tables_load(PGconn *conn, const pg_cfg *c, const char *schema, const char *name,
                       pg_table **out, size_t *n, sl_err *err);
void pg_tables_free(pg_table *t, size_t n);
const pg_col *pg_table_col(const pg_table *t, const char *name);
/* "schema"."table", quoted; malloc'd. */
char *pg_qualified(PGconn *conn, const pg_table *t);
char *pg_ident(PGconn *conn, const char *name);
/* The JSON schema of a column (new reference). */
json_t *pg_col_schema(const pg_col *col);

/* ---- conv.c ---- */
typedef struct conv_ctx {
  sl_buf un;  /* a field with its COPY escapes decoded */
  sl_buf tmp; /* base64 text */
  sl_buf raw; /* bytea bytes */
} conv_ctx;
void conv_init(conv_ctx *c);
void conv_dispose(conv_ctx *c);
/* Write one decoded text value (no COPY escapes) of kind k as a JSON value. */
void conv_value(sl_jw *w, conv_ctx *c, pg_kind k, pg_kind elem, const char *s, size_t n);
/* Split a COPY text row (without its newline) into raw fields; returns the
 * count, or max + 1 when there are more. */
size_t conv_split(const char *row, size_t len, const char **fields, size_t *lens, size_t max);
/* Write one raw COPY field ("\N" is NULL) of column col as a member. */
void conv_field(sl_jw *w, conv_ctx *c, const pg_col *col, const char *f, size_t n);
/* The decoded text of a raw COPY field (NULL for "\N"), in c->un. */
const char *conv_text(conv_ctx *c, const char *f, size_t n, size_t *len);

/* ---- read.c ---- */
sl_code pg_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err);
/* A CDC stream's initial snapshot: records carry the LSN the log reading
 * starts from. */
typedef struct pg_cdc_snap {
  uint64_t lsn;
  const char *ts; /* the sync's start, ISO 8601 */
} pg_cdc_snap;
/* Read a table (full refresh or incremental; snap: a CDC snapshot, which
 * ends without a final checkpoint). */
sl_code pg_read_table(sl_read *rd, const sl_cstream *cs, const pg_cdc_snap *snap, sl_err *err);

/* ---- cdc.c ---- */
sl_code cdc_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err);
/* Checkpoint one stream's state (stolen) inside the GLOBAL state. */
sl_code cdc_checkpoint(sl_read *rd, const sl_cstream *cs, json_t *stream_state);
void cdc_lsn_fmt(char *b, size_t n, uint64_t lsn); /* "16/B374D848" */
void cdc_iso_us(char *b, size_t n, int64_t unix_us);

/* A message being parsed; reading past its end sets bad. */
typedef struct rd_buf {
  const unsigned char *p, *end;
  bool bad;
} rd_buf;
static inline uint64_t rd_n(rd_buf *b, int n) {
  if (b->end - b->p < n) {
    b->bad = true;
    b->p = b->end;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | *b->p++;
  return v;
}

/* ---- cdc_decode.c ---- */
/* One decoding pass over [start, end) for every CDC stream of the catalog:
 * the live stream's records are written to rd as they come, the others'
 * go to a spill file each, replayed by cdc_replay() when their turn comes
 * (the runtime reads streams one after another). */
typedef struct cdc_pass cdc_pass;
sl_code cdc_pass_new(sl_read *rd, const sl_cstream *live, const pg_cfg *c, uint64_t end,
                     cdc_pass **out, sl_err *err);
/* One pgoutput message (the payload of an XLogData). */
sl_code cdc_pass_message(cdc_pass *p, rd_buf *b, sl_err *err);
bool cdc_pass_done(const cdc_pass *p);    /* reached a commit at or past end */
bool cdc_pass_in_xact(const cdc_pass *p);
/* Emit what is held for TOAST look-ups; then free (also after errors). */
sl_code cdc_pass_finish(cdc_pass *p, sl_err *err);
void cdc_pass_free(cdc_pass *p);
/* This stream's records from the pass (and its setup error, if any). */
sl_code cdc_replay(sl_read *rd, const sl_cstream *cs, sl_err *err);

#endif
