/* sluice: typed columns for SQL destinations (database-neutral).
 *
 * What every typed destination (PostgreSQL, MySQL, ...) decides the same way,
 * following Airbyte's Destinations V2 typing rules:
 *  - the logical column type of a JSON-schema property (sl_typing_from_schema);
 *  - safe, unique column and table names (sl_col_name_normalize, sl_col_set);
 *  - whether a record value fits its column or becomes NULL with a change
 *    entry in _airbyte_meta.changes, and its canonical text (sl_typing_text);
 *  - the _airbyte_meta object itself (sl_typing_meta).
 * The SQL type each logical type maps to is the destination's business. */
#ifndef SLUICE_TYPING_H
#define SLUICE_TYPING_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/json.h"

/* ---- logical column types ---- */

typedef enum sl_col_type {
  SL_COL_STRING,
  SL_COL_INTEGER,      /* signed 64-bit */
  SL_COL_NUMBER,       /* any JSON number (a decimal type in SQL) */
  SL_COL_BOOLEAN,
  SL_COL_DATE,
  SL_COL_TIME_TZ,      /* time with time zone */
  SL_COL_TIME,         /* time without time zone */
  SL_COL_TIMESTAMP_TZ, /* timestamp with time zone */
  SL_COL_TIMESTAMP,    /* timestamp without time zone */
  SL_COL_OBJECT,       /* JSON; only objects fit */
  SL_COL_ARRAY,        /* JSON; only arrays fit */
  SL_COL_JSON,         /* JSON; any value: unions of object/array, oneOf, no type */
} sl_col_type;
#define SL_COL_NTYPES 12

/* "string", "integer", ..., "timestamp_with_timezone", "object", "array", "json". */
const char *sl_col_type_name(sl_col_type t);
/* The type named by sl_col_type_name; false if unknown. */
bool sl_col_type_parse(const char *name, sl_col_type *out);
static inline bool sl_col_type_is_json(sl_col_type t) { return t >= SL_COL_OBJECT; }

/* The column type of one property schema (Airbyte V2 rules):
 *  - "$ref": WellKnownTypes definitions (String, Integer, Number, Boolean,
 *    Date, TimeWithTimezone, ..., TimestampWithoutTimezone, BinaryData);
 *  - "type": a string, or an array: "null" is ignored, one type left is that
 *    type, several are a union resolved by precedence (array, object, string,
 *    date, time, time_tz, timestamp, timestamp_tz, number, integer, boolean),
 *    where a union that resolves to object or array holds any JSON;
 *  - "string" with "format" date / time / date-time; "airbyte_type"
 *    time_without_timezone / timestamp_without_timezone (else with zone);
 *  - "number" with airbyte_type "integer" is an integer;
 *  - no "type": oneOf/anyOf -> json, "properties" -> object, "items" -> array,
 *    otherwise json. Anything unrecognised is json (nothing is lost). */
sl_col_type sl_typing_from_schema(const json_t *prop);

/* ---- names ---- */

typedef struct sl_name_rules {
  size_t max_len;  /* bytes (PostgreSQL 63, MySQL 64) */
  bool lower;      /* fold ASCII letters to lower case */
  bool ci;         /* the database compares names without regard to ASCII case */
  bool ascii_only; /* non-ASCII characters become '_' too (else kept as UTF-8) */
} sl_name_rules;

/* A name safe to quote as an identifier: ASCII letters, digits and '_' are
 * kept, every other byte (or invalid UTF-8 byte, or non-ASCII character when
 * ascii_only) becomes '_'; a leading digit gets a '_' in front; the result is
 * cut to max_len bytes on a character boundary and is never empty. out must
 * hold max_len + 1 bytes; returns the length written (NUL-terminated). */
size_t sl_col_name_normalize(const char *in, size_t n, const sl_name_rules *r, char *out);

/* ---- the columns of a stream ---- */

typedef struct sl_col {
  const char *prop; /* property name in records (borrowed from the schema) */
  size_t prop_len;
  char *name;       /* normalised, unique column name (owned) */
  sl_col_type type;
} sl_col;

typedef struct sl_col_set {
  sl_col *cols;
  size_t n;
  bool raw; /* the schema has no properties: one json column holds the record */
  uint32_t *hash; /* property lookup: column index + 1, 0 = empty */
  size_t hmask;
} sl_col_set;

/* Columns from a stream's JSON schema, in property order. Names that collide
 * after normalisation (with each other or with a reserved name such as
 * "_airbyte_raw_id") get "_2", "_3", ... (cut to fit max_len). A schema
 * without properties gives one SL_COL_JSON column named raw_name with prop
 * "" and raw set. stream names the input in messages. */
sl_code sl_col_set_build(sl_col_set *s, const json_t *json_schema, const sl_name_rules *r,
                         const char *const *reserved, size_t n_reserved, const char *raw_name,
                         const char *stream, sl_err *err);
void sl_col_set_dispose(sl_col_set *s);

/* Column index of a property, or -1. */
static inline int sl_col_set_find(const sl_col_set *s, const char *prop, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)prop[i]) * 16777619u;
  for (size_t i = h & s->hmask;; i = (i + 1) & s->hmask) {
    uint32_t e = s->hash[i];
    if (!e) return -1;
    const sl_col *c = &s->cols[e - 1];
    if (c->prop_len == n && !memcmp(c->prop, prop, n)) return (int)(e - 1);
  }
}

/* Record number rn's values by column: vals[c] is set and seen[c] = rn for
 * each property that has a column (a raw set takes the whole record), so a
 * column whose seen[c] != rn is absent from this record. */
static inline void sl_col_set_bind(const sl_col_set *s, sl_jv data, uint64_t rn, sl_jv *vals, uint64_t *seen) {
  if (s->raw) {
    vals[0] = data;
    seen[0] = rn;
    return;
  }
  for (sl_jv k = sl_jv_first(data); sl_jv_more(data, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kl;
    const char *ks = sl_jv_str(k, &kl);
    int c = sl_col_set_find(s, ks, kl);
    if (c >= 0) {
      vals[c] = sl_jv_val(k);
      seen[c] = rn;
    }
  }
}

/* ---- values ---- */

/* Why a value became NULL; the names are Airbyte's change reasons. */
typedef enum sl_typing_reason {
  SL_TYPING_OK = 0,
  SL_TYPING_TYPECAST,      /* DESTINATION_TYPECAST_ERROR: the value is not of the column's type */
  SL_TYPING_SIZE,          /* DESTINATION_FIELD_SIZE_LIMITATION: too large for the column */
  SL_TYPING_SERIALIZATION, /* DESTINATION_SERIALIZATION_ERROR: cannot be stored (NUL bytes) */
} sl_typing_reason;

const char *sl_typing_reason_name(sl_typing_reason r);

typedef struct sl_typing_limits {
  size_t max_string; /* bytes of one string value (and of a non-string shown as text) */
  size_t max_json;   /* bytes of one JSON value's text */
  bool allow_nul;    /* NUL characters may be stored (PostgreSQL: no) */
} sl_typing_limits;

/* A date, time or timestamp read from ISO 8601 text. */
typedef struct sl_datetime {
  int year, month, day;      /* 0001-9999 */
  int hour, min, sec;        /* 00-23, 00-59, 00-59 */
  int usec;                  /* fraction, rounded down to microseconds */
  bool has_tz;
  int tz_min;                /* offset east of UTC, minutes */
} sl_datetime;

/* Parse text for a date/time column type. Accepted:
 *   date       YYYY-MM-DD
 *   time       HH:MM[:SS[.f+]] with an optional zone (ignored for SL_COL_TIME)
 *   timestamp  YYYY-MM-DD('T'|'t'|' ')HH:MM[:SS[.f+]] [zone], or a bare date
 *   zone       Z | z | (+|-)HH[[:]MM]
 * Real calendar dates only; years 1-9999. A timestamp without a zone in a
 * _TZ column is taken as UTC. */
bool sl_typing_parse_datetime(sl_col_type t, const char *s, size_t n, sl_datetime *out);
/* Canonical ISO 8601 text: "YYYY-MM-DD", "HH:MM:SS[.ffffff][+HH:MM]",
 * "YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]" (the zone only for _TZ types,
 * "+00:00" when none was given). out holds SL_DATETIME_MAX bytes. */
#define SL_DATETIME_MAX 40
size_t sl_typing_fmt_datetime(sl_col_type t, const sl_datetime *dt, char *out);

/* The value v of a column of type t as canonical text, or NULL.
 *   string:    a string as is; any other value as its JSON text
 *   integer:   an integer, an integral number, or a string holding one
 *              (int64 range)
 *   number:    any number (its JSON text), or a string holding one
 *   boolean:   true/false, or the strings "true"/"false" (any case)
 *   date/time: a string that sl_typing_parse_datetime accepts, reformatted
 *   object, array, json: the JSON text (object/array only for those types)
 * *out is NULL when v is null or does not fit: the return says why (OK for
 * null). Otherwise out and len point into the parser's buffer or into scratch
 * (reset by the caller as it likes) and live until scratch is next written.
 * A value with a NUL character is SERIALIZATION unless lim->allow_nul. */
sl_typing_reason sl_typing_text(sl_col_type t, sl_jv v, const sl_typing_limits *lim,
                                sl_buf *scratch, const char **out, size_t *len);

/* Typed reads for binary loaders, by the same rules as sl_typing_text; v
 * must not be null. Integer: int64 (integral numbers and integer strings
 * too); boolean: true/false or "true"/"false"; datetime: a string for a
 * date/time type t. */
sl_typing_reason sl_typing_int(sl_jv v, int64_t *out);
sl_typing_reason sl_typing_bool(sl_jv v, bool *out);
sl_typing_reason sl_typing_datetime(sl_col_type t, sl_jv v, sl_datetime *out);
/* Days from 1970-01-01 to the date of dt (proleptic Gregorian). */
int64_t sl_datetime_days(const sl_datetime *dt);

/* ---- _airbyte_meta ---- */

typedef struct sl_typing_change {
  uint32_t col;            /* index into the column set */
  sl_typing_reason reason;
} sl_typing_change;

/* Write {"changes":[<the source's changes>..., {"field":<prop>,"change":
 * "NULLED","reason":<reason>}...],"sync_id":<id or null>} to w. src_meta is
 * the record's "meta" object (its "changes" are kept) or NULL. */
void sl_typing_meta(sl_jw *w, const sl_jv *src_meta, const sl_col_set *cols,
                    const sl_typing_change *ch, size_t n, bool has_sync, int64_t sync_id);

#endif
