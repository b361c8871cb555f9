/* sluice: what database sources share (source-sqlite, source-mysql, ...).
 *
 * A database source discovers tables at run time, maps each column to a
 * logical type (sl_dbtype) and reads in primary-key order so that a state
 * names the last key read. This module holds the parts that do not depend
 * on the database: table filters, the AirbyteStream of a table, the column
 * selection of a configured stream, the keyset (resume) state, and record
 * values written from their text form.
 *
 * State of a stream (stream_state), one shape for every database source:
 *   full refresh, mid-read:  {"key":["id"],"last":[1200]}
 *   full refresh, finished:  {"__ab_no_cursor_state_message":true}
 *   incremental:             {"cursor_field":"updated_at","cursor":"2024-05-01 10:00:00",
 *                             "key":["id"],"last":[77]}
 * "last" holds the key of the last row read (integers as JSON integers,
 * anything else as its text); for incremental streams "last" breaks ties
 * between rows with the same cursor value, and is absent for tables
 * without a primary key (then "cursor" alone means: every row up to and
 * including this cursor value was read). */
#ifndef SLUICE_DBSRC_H
#define SLUICE_DBSRC_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/connector.h"

typedef enum sl_dbtype {
  SL_DB_INT,         /* JSON integer (signed or unsigned 64-bit) */
  SL_DB_FLOAT,       /* JSON number, shortest round trip */
  SL_DB_DECIMAL,     /* JSON number written from the exact decimal text */
  SL_DB_BOOL,
  SL_DB_STRING,
  SL_DB_BINARY,      /* string, base64 */
  SL_DB_DATE,        /* string, format date */
  SL_DB_TIME,        /* string, format time (without time zone) */
  SL_DB_DATETIME,    /* string, date-time without time zone */
  SL_DB_TIMESTAMPTZ, /* string, date-time with time zone */
  SL_DB_JSON,        /* string holding JSON text */
  SL_DB_ENUM,        /* string with an "enum" list */
} sl_dbtype;

typedef struct sl_dbcol {
  char *name;
  sl_dbtype type;
  bool nullable;
  char **enum_vals; /* SL_DB_ENUM: the labels */
  size_t n_enum;
  unsigned native;  /* the database's own type code, for the reader */
  bool is_unsigned;
  int width;        /* e.g. bit width, tinyint display width */
} sl_dbcol;

typedef struct sl_dbtable {
  char *name;
  char *ns; /* namespace (database / schema), or NULL */
  bool is_view;
  sl_dbcol *cols;
  size_t ncols;
  int *pk; /* column indexes of the primary key, in key order */
  size_t npk;
} sl_dbtable;

/* Append a column (name copied); returns it, or NULL on allocation failure. */
sl_dbcol *sl_dbtable_add_col(sl_dbtable *t, const char *name, sl_dbtype type, bool nullable);
sl_code sl_dbcol_add_enum(sl_dbcol *c, const char *label, size_t len);
/* Index of a column by exact name, or -1. */
int sl_dbtable_col(const sl_dbtable *t, const char *name);
void sl_dbtable_free(sl_dbtable *t);

/* The AirbyteStream of a table: name, namespace, json_schema, sync modes,
 * source_defined_primary_key; full refresh is resumable when it has a key. */
json_t *sl_dbtable_stream(const sl_dbtable *t);

/* Parse MySQL/SQLite-style "enum('a','b''c')" into the column's labels. */
sl_code sl_dbcol_parse_enum(sl_dbcol *c, const char *coltype);

/* ---- table filters: include_tables / exclude_tables regexes (PCRE2) ---- */

typedef struct sl_dbfilter {
  void *include, *exclude; /* pcre2_code_8 *, or NULL */
  void *md;                /* pcre2_match_data_8 * */
} sl_dbfilter;

/* Reads config keys "include_tables" and "exclude_tables" (optional). */
sl_code sl_dbfilter_init(sl_dbfilter *f, const json_t *config, sl_err *err);
bool sl_dbfilter_match(const sl_dbfilter *f, const char *table);
void sl_dbfilter_dispose(sl_dbfilter *f);

/* The JSON Schema properties of the shared config keys, for specs. */
#define SL_DBSRC_FILTER_SPEC                                                                   \
  "\"include_tables\":{\"type\":\"string\",\"title\":\"Include tables\",\"description\":"   \
  "\"PCRE2 regular expression: only tables and views whose name matches are discovered and " \
  "read\",\"examples\":[\"^(orders|customers)$\"]},"                                           \
  "\"exclude_tables\":{\"type\":\"string\",\"title\":\"Exclude tables\",\"description\":"   \
  "\"PCRE2 regular expression: tables and views whose name matches are skipped\"},"            \
  "\"chunk_rows\":{\"type\":\"integer\",\"minimum\":1,\"default\":10000,\"title\":"          \
  "\"Rows per chunk\",\"description\":\"Rows read per query (and between state "              \
  "checkpoints)\"}"

/* ---- reading a configured stream ---- */

/* What to read: the selected columns (those of the configured schema that
 * the table still has), the order key and the resume point. */
typedef struct sl_dbkeyrow {
  sl_buf b;
  size_t *off, *len;
  bool *null;
} sl_dbkeyrow;

typedef struct sl_dbplan {
  const sl_dbtable *t;
  int *sel;        /* selected column indexes */
  size_t nsel;
  int *key;        /* order key: [cursor,] pk...; column indexes */
  size_t nkey;
  int cursor;      /* cursor column, or -1 */
  bool unique;     /* the key is unique (the table has a primary key) */
  json_t *last;    /* resume point: array of nkey values (JSON), or NULL to start */
  char **qkeys;    /* per selected column: "\"name\":" for sl_jw_key_raw */
  size_t *qlens;
  size_t chunk;    /* rows between checkpoints (config chunk_rows) */
  uint64_t rows, since;
  sl_dbkeyrow kr[2]; /* the key of the current and the previous row */
  int cur;
} sl_dbplan;

/* Builds the plan from the configured stream and its input state. Columns
 * of the catalog missing from the table are logged (WARN) and skipped; an
 * incremental stream needs its cursor column. Errors name the stream. */
sl_code sl_dbplan_init(sl_dbplan *p, const sl_dbtable *t, sl_read *rd, const sl_cstream *cs,
                       sl_err *err);
void sl_dbplan_dispose(sl_dbplan *p);

/* Per row, before its record is written: vals[i] is the text of key column
 * i (NULL for SQL NULL), lens its length. Emits a checkpoint (the position
 * after the previous row) when one is due: every `chunk` rows, and for an
 * incremental stream without a primary key only where the cursor value
 * changes, so that the state never splits rows of equal cursor. */
sl_code sl_dbplan_row(sl_dbplan *p, sl_read *rd, const sl_cstream *cs, const char *const *vals,
                      const size_t *lens);
/* Make the last row seen the resume point (before the next chunk's query). */
sl_code sl_dbplan_advance(sl_dbplan *p);
/* Emit the final state of a read that reached the end. */
sl_code sl_dbplan_finish(sl_dbplan *p, sl_read *rd, const sl_cstream *cs);

/* The WHERE condition "after the resume point" for the key columns:
 * (k1 > ?) OR (k1 = ? AND k2 > ?) ...; quote() appends a quoted identifier.
 * With lit NULL each value is a placeholder: the i-th takes key value
 * order[i] (order has room for nkey*(nkey+1)/2 entries) and the count goes
 * to *nparams. With lit, lit() appends each value as a literal instead.
 * Appends nothing without a resume point. */
typedef void (*sl_dbquote_fn)(sl_buf *b, const char *ident);
typedef void (*sl_dblit_fn)(sl_buf *b, const json_t *v);
sl_code sl_dbplan_where(const sl_dbplan *p, sl_buf *sql, sl_dbquote_fn quote, sl_dblit_fn lit,
                        int *order, size_t *nparams);
/* The whole query, into sql (reset first): SELECT <selected>, <key> FROM t
 * [WHERE <cursor> IS NOT NULL [AND <after the resume point>]] ORDER BY <key>;
 * placeholders or literals as sl_dbplan_where. */
sl_code sl_dbplan_query(const sl_dbplan *p, sl_buf *sql, sl_dbquote_fn quote, sl_dblit_fn lit,
                        int *order, size_t *nparams);

/* ---- values ---- */

/* Write a value of type t from its text form (as databases return it). Ints
 * and decimals are checked to be numbers (else written as strings); date
 * and time texts are made ISO 8601 ("2024-05-01 10:00:00" becomes
 * "2024-05-01T10:00:00"; suffix appended for SL_DB_TIMESTAMPTZ). */
void sl_dbval_text(sl_jw *w, sl_dbtype t, const char *s, size_t n, const char *tz_suffix);
void sl_dbval_base64(sl_jw *w, sl_buf *scratch, const unsigned char *p, size_t n);

#endif
