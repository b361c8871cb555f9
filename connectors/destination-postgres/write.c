/* destination-postgres: the hot path. One record = one binary COPY row
 * built straight from the parser's views (the shared typing module decides
 * what fits; what does not becomes NULL and a change in _airbyte_meta):
 * integers, booleans, dates and timestamps travel as their binary values,
 * numerics in PostgreSQL's base-10000 form, so the server parses no text
 * but strings and JSON. (Measured: with text COPY the server spent about
 * 65% more CPU on these rows than on a plain CSV \copy of the data columns,
 * a third of it parsing the two timestamps.) Rows are appended
 * to the stream's row buffer and handed to libpq in 256 KiB pieces while
 * the stream's COPY is open. Records of another stream wait in their own
 * buffer until it is large or the batch is flushed: one COPY is open at a
 * time. Nothing is allocated per record. */
#include <stdio.h>

#include "pg_dest.h"

#define SEND_AT ((size_t)256 << 10)   /* the open COPY: hand rows to libpq */
#define SWITCH_AT ((size_t)1 << 20)   /* another stream: switch the COPY over */

/* ---- binary COPY format ---- */

static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
#define PG_EPOCH_DAYS 10957 /* 2000-01-01 in days since 1970-01-01 */

static inline void put16(char *p, uint16_t v) {
  v = __builtin_bswap16(v);
  memcpy(p, &v, 2);
}
static inline void put32(char *p, uint32_t v) {
  v = __builtin_bswap32(v);
  memcpy(p, &v, 4);
}
static inline void put64(char *p, uint64_t v) {
  v = __builtin_bswap64(v);
  memcpy(p, &v, 8);
}

/* A field: its length, then its bytes (len -1: NULL). */
static inline sl_code field(sl_buf *b, const void *data, int32_t len) {
  if (sl_buf_ensure(b, 4 + (len > 0 ? (size_t)len : 0))) return SL_ELIMIT;
  put32(b->data + b->len, (uint32_t)len);
  if (len > 0) memcpy(b->data + b->len + 4, data, (size_t)len);
  b->len += 4 + (len > 0 ? (size_t)len : 0);
  return SL_EOK;
}
static inline sl_code field64(sl_buf *b, int64_t v) {
  char x[8];
  put64(x, (uint64_t)v);
  return field(b, x, 8);
}

/* Decimal text (-?d+[.d+][e[+-]d+], as sl_typing_text gives for numbers)
 * in the binary numeric form: ndigits, weight, sign, dscale, then base-10000
 * digits. Returns the bytes written to out (at least 8 + 2 * 48 bytes). */
static int numeric_bin(const char *s, size_t n, char *out) {
  char dig[96];
  int nd = 0, point = 0, frac = 0, exp = 0;
  size_t i = 0;
  bool neg = i < n && s[i] == '-';
  if (neg) i++;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
    if (nd < 64) dig[nd++] = (char)(s[i] - '0'), point++;
  if (i < n && s[i] == '.')
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, frac++)
      if (nd < 64) dig[nd++] = (char)(s[i] - '0');
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    bool eneg = ++i < n && s[i] == '-';
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && exp < 100000; i++) exp = exp * 10 + (s[i] - '0');
    if (eneg) exp = -exp;
  }
  if (i != n || nd == 0 || nd >= 64) return -1;
  point += exp;
  int dscale = frac - exp > 0 ? frac - exp : 0, lo = 0, hi = nd;
  while (lo < hi && dig[lo] == 0) lo++, point--;
  while (hi > lo && dig[hi - 1] == 0) hi--;
  if (lo == hi) { /* zero */
    put16(out, 0), put16(out + 2, 0), put16(out + 4, 0), put16(out + 6, (uint16_t)dscale);
    return 8;
  }
  int lead = ((-point) % 4 + 4) % 4, total = lead + (hi - lo), groups = (total + 3) / 4;
  int weight = (point + lead) / 4 - 1;
  for (int g = 0; g < groups; g++) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
      int idx = g * 4 + k - lead + lo;
      v = v * 10 + (idx >= lo && idx < hi ? dig[idx] : 0);
    }
    put16(out + 8 + 2 * g, (uint16_t)v);
  }
  put16(out, (uint16_t)groups);
  put16(out + 2, (uint16_t)(int16_t)weight);
  put16(out + 4, neg ? 0x4000 : 0);
  put16(out + 6, (uint16_t)dscale);
  return 8 + 2 * groups;
}

/* One data value; *why says why it became NULL. */
static sl_code put_value(pdb *d, sl_buf *b, sl_col_type t, sl_jv v, sl_typing_reason *why) {
  const char *txt;
  size_t len;
  char x[16 + 2 * 48];
  *why = SL_TYPING_OK;
  switch (t) {
    case SL_COL_INTEGER: {
      int64_t i;
      if ((*why = sl_typing_int(v, &i))) break;
      return field64(b, i);
    }
    case SL_COL_BOOLEAN: {
      bool y;
      if ((*why = sl_typing_bool(v, &y))) break;
      x[0] = y;
      return field(b, x, 1);
    }
    case SL_COL_NUMBER: {
      d->scratch.len = 0;
      if ((*why = sl_typing_text(t, v, &d->lim, &d->scratch, &txt, &len))) break;
      int k = numeric_bin(txt, len, x);
      if (k < 0) { /* sl_typing_text only gives numbers this reads */
        *why = SL_TYPING_TYPECAST;
        break;
      }
      return field(b, x, k);
    }
    case SL_COL_DATE:
    case SL_COL_TIME:
    case SL_COL_TIME_TZ:
    case SL_COL_TIMESTAMP:
    case SL_COL_TIMESTAMP_TZ: {
      sl_datetime dt;
      if ((*why = sl_typing_datetime(t, v, &dt))) break;
      int64_t tod = ((int64_t)dt.hour * 3600 + dt.min * 60 + dt.sec) * 1000000 + dt.usec;
      if (t == SL_COL_DATE) {
        put32(x, (uint32_t)(int32_t)(sl_datetime_days(&dt) - PG_EPOCH_DAYS));
        return field(b, x, 4);
      }
      if (t == SL_COL_TIME) return field64(b, tod);
      if (t == SL_COL_TIME_TZ) { /* the zone in seconds west of UTC */
        put64(x, (uint64_t)tod);
        put32(x + 8, (uint32_t)(int32_t)(-dt.tz_min * 60));
        return field(b, x, 12);
      }
      int64_t usec = (sl_datetime_days(&dt) - PG_EPOCH_DAYS) * 86400000000LL + tod;
      if (t == SL_COL_TIMESTAMP_TZ) usec -= (int64_t)dt.tz_min * 60000000;
      return field64(b, usec);
    }
    case SL_COL_STRING:
      d->scratch.len = 0;
      if ((*why = sl_typing_text(t, v, &d->lim, &d->scratch, &txt, &len))) break;
      return field(b, txt, (int32_t)len);
    default: /* jsonb: version 1, then the text */
      d->scratch.len = 0;
      if (sl_buf_putc(&d->scratch, 1)) return SL_ELIMIT;
      if ((*why = sl_typing_text(t, v, &d->lim, &d->scratch, &txt, &len))) break;
      return field(b, d->scratch.data, (int32_t)(len + 1));
  }
  return field(b, NULL, -1);
}

/* ---- COPY protocol ---- */

static sl_code copy_error(pdb *d, pcopy *c, const PGresult *r, const char *what, sl_err *err) {
  char w[600];
  snprintf(w, sizeof w, "table %s: %s", c->s->qtable, what);
  return pgd_error(d, r, w, err);
}

static sl_code copy_start(pdb *d, pcopy *c, sl_err *err) {
  PGresult *r = PQexec(d->conn, c->sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    sl_code rc = copy_error(d, c, r, "starting COPY", err);
    PQclear(r);
    return rc;
  }
  PQclear(r);
  d->copying = c;
  if (PQputCopyData(d->conn, copy_header, (int)sizeof copy_header) != 1)
    return copy_error(d, c, NULL, "starting COPY", err);
  return SL_EOK;
}

static sl_code copy_send(pdb *d, pcopy *c, sl_err *err) {
  if (!c->rows.len) return SL_EOK;
  if (PQputCopyData(d->conn, c->rows.data, (int)c->rows.len) != 1) return copy_error(d, c, NULL, "sending rows", err);
  c->rows.len = 0;
  if (c->rows.cap > ((size_t)8 << 20)) sl_buf_shrink(&c->rows, SWITCH_AT * 2);
  return SL_EOK;
}

/* End the open COPY: ok sends the end marker, otherwise it is aborted. The
 * server reports bad rows here (with the line and column). */
sl_code pgd_copy_end(pdb *d, bool ok, sl_err *err) {
  pcopy *c = d->copying;
  if (!c) return SL_EOK;
  d->copying = NULL;
  sl_code rc = SL_EOK;
  if (ok && sl_buf_put(&c->rows, "\377\377", 2)) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  if (ok && !rc) rc = copy_send(d, c, err);
  if (PQputCopyEnd(d->conn, ok && !rc ? NULL : "sluice: write aborted") != 1 && !rc)
    rc = copy_error(d, c, NULL, "ending COPY", err);
  PGresult *r;
  while ((r = PQgetResult(d->conn))) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !rc && ok) rc = copy_error(d, c, r, "COPY failed", err);
    PQclear(r);
  }
  return rc;
}

/* Before a commit: every buffered row is in the server. */
sl_code pgd_copy_all(pdb *d, sl_err *err) {
  sl_code rc = pgd_copy_end(d, true, err);
  for (size_t i = 0; !rc && i < 2 * d->n; i++) {
    pcopy *c = i % 2 ? &d->streams[i / 2].full : &d->streams[i / 2].plain;
    if (!c->rows.len) continue;
    if (!(rc = copy_start(d, c, err))) rc = pgd_copy_end(d, true, err);
  }
  return rc;
}

/* ---- one record ---- */

sl_code pgd_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err) {
  pdb *d = h;
  pstream *s = ds->user;
  sl_code rc;
  if (!d->in_tx && (rc = pgd_begin(d, err))) return rc;
  uint64_t rn = ++s->recno;
  sl_col_set_bind(&s->cols, rec->data, rn, s->vals, s->seen);
  /* The data fields go to scratch first: only then is it known whether the
   * row has changes and so which COPY it belongs to. */
  sl_buf *f = &d->fields;
  f->len = 0;
  size_t nch = 0;
  sl_code brc = SL_EOK;
  for (size_t c = 0; c < s->cols.n && !brc; c++) {
    sl_typing_reason why = SL_TYPING_OK;
    if (s->seen[c] == rn && sl_jv_type(s->vals[c]) != SL_JNULL)
      brc = put_value(d, f, s->cols.cols[c].type, s->vals[c], &why);
    else
      brc = field(f, NULL, -1);
    if (why) s->changes[nch++] = (sl_typing_change){(uint32_t)c, why};
  }
  sl_jv src_changes;
  bool full = nch || (rec->has_meta && sl_jv_get(rec->meta, "changes", &src_changes) &&
                      sl_jv_type(src_changes) == SL_JARRAY && sl_jv_count(src_changes) > 0);
  pcopy *cp = full ? &s->full : &s->plain;
  sl_buf *b = &cp->rows;
  size_t row_start = b->len;
  if (!brc && !(brc = sl_buf_ensure(b, 2 + f->len))) {
    put16(b->data + b->len, (uint16_t)(s->cols.n + PGD_N_META - !full + s->dedup));
    memcpy(b->data + b->len + 2, f->data, f->len);
    b->len += 2 + f->len;
  }
  if (s->dedup) {
    size_t pk_set = 0;
    for (size_t i = 0; i < s->npk; i++) {
      int c = s->pk[i];
      pk_set += s->seen[c] == rn && sl_jv_type(s->vals[c]) != SL_JNULL;
    }
    if (!pk_set) {
      b->len = row_start;
      return sl_err_set(err, SL_ESCHEMA,
                        "a record has a null primary key (every key field is null or missing); "
                        "append_dedup cannot store it");
    }
  }
  /* _airbyte_raw_id, _airbyte_extracted_at, _airbyte_meta, _airbyte_generation_id */
  char uuid[40];
  sl_uuid4(&d->rng, uuid);
  if (!brc) brc = field(b, uuid, 36);
  if (!brc) brc = field64(b, (rec->emitted_at - PG_EPOCH_DAYS * 86400000LL) * 1000);
  if (full) {
    d->meta.len = 0;
    sl_buf_putc(&d->meta, 1); /* jsonb version */
    sl_jw w;
    sl_jw_init(&w, &d->meta);
    sl_typing_meta(&w, rec->has_meta ? &rec->meta : NULL, &s->cols, s->changes, nch, s->has_sync, s->sync_id);
    if (!brc) brc = w.rc ? w.rc : field(b, d->meta.data, (int32_t)d->meta.len);
  }
  if (!brc) brc = s->has_gen ? field64(b, s->gen) : field(b, NULL, -1);
  if (!brc && s->dedup) {
    brc = field64(b, ++s->seq);
    s->batch_rows++;
  }
  if (brc) {
    b->len = row_start;
    return sl_err_set(err, SL_ELIMIT, "table %s: the record is too large to load", s->qtable);
  }

  if (d->copying == cp) {
    if (b->len >= SEND_AT) rc = copy_send(d, cp, err);
  } else if (!d->copying || b->len >= SWITCH_AT) {
    if (!(rc = pgd_copy_end(d, true, err)) && !(rc = copy_start(d, cp, err)) && b->len >= SEND_AT)
      rc = copy_send(d, cp, err);
  } else {
    rc = SL_EOK;
  }
  pgd_test_pause("record", ++d->records);
  return rc;
}
