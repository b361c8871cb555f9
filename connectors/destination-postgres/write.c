/* destination-postgres: the hot path. One record = one COPY text row built
 * straight from the parser's views (the shared typing module decides what
 * fits; what does not becomes \N and a change in _airbyte_meta), appended
 * to the stream's row buffer and handed to libpq in 256 KiB pieces while
 * the stream's COPY is open. Records of another stream wait in their own
 * buffer until it is large or the batch is flushed: one COPY is open at a
 * time. Nothing is allocated per record. */
#include <stdio.h>

#include "pg_dest.h"

#define SEND_AT ((size_t)256 << 10)   /* the open COPY: hand rows to libpq */
#define SWITCH_AT ((size_t)1 << 20)   /* another stream: switch the COPY over */

/* ---- COPY text format ---- */

/* Backslash, newline, carriage return and tab are the only bytes that need
 * escaping in COPY text (the delimiter is tab; \N is NULL). */
static const unsigned char special[256] = {['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};

static inline sl_code put_escaped(sl_buf *b, const char *s, size_t n) {
  if (sl_buf_ensure(b, 2 * n + 2)) return SL_ELIMIT;
  char *o = b->data + b->len;
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    const unsigned char *run = p;
    while (p < end && !special[*p]) p++;
    memcpy(o, run, (size_t)(p - run));
    o += p - run;
    if (p < end) {
      *o++ = '\\';
      *o++ = (char)special[*p++];
    }
  }
  b->len = (size_t)(o - b->data);
  return SL_EOK;
}

/* ---- COPY protocol ---- */

static sl_code copy_error(pdb *d, pstream *s, const PGresult *r, const char *what, sl_err *err) {
  char w[600];
  snprintf(w, sizeof w, "table %s: %s", s->qtable, what);
  return pgd_error(d, r, w, err);
}

static sl_code copy_start(pdb *d, pstream *s, sl_err *err) {
  PGresult *r = PQexec(d->conn, s->copy_sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    sl_code rc = copy_error(d, s, r, "starting COPY", err);
    PQclear(r);
    return rc;
  }
  PQclear(r);
  d->copying = s;
  return SL_EOK;
}

static sl_code copy_send(pdb *d, pstream *s, sl_err *err) {
  if (!s->rows.len) return SL_EOK;
  if (PQputCopyData(d->conn, s->rows.data, (int)s->rows.len) != 1) return copy_error(d, s, NULL, "sending rows", err);
  s->rows.len = 0;
  if (s->rows.cap > ((size_t)8 << 20)) sl_buf_shrink(&s->rows, SWITCH_AT * 2);
  return SL_EOK;
}

/* End the open COPY: ok sends the end marker, otherwise it is aborted. The
 * server reports bad rows here (with the line and column). */
sl_code pgd_copy_end(pdb *d, bool ok, sl_err *err) {
  pstream *s = d->copying;
  if (!s) return SL_EOK;
  d->copying = NULL;
  sl_code rc = SL_EOK;
  if (ok && s->rows.len) rc = copy_send(d, s, err);
  if (PQputCopyEnd(d->conn, ok && !rc ? NULL : "sluice: write aborted") != 1 && !rc)
    rc = copy_error(d, s, NULL, "ending COPY", err);
  PGresult *r;
  while ((r = PQgetResult(d->conn))) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !rc && ok) rc = copy_error(d, s, r, "COPY failed", err);
    PQclear(r);
  }
  return rc;
}

/* Before a commit: every buffered row is in the server. */
sl_code pgd_copy_all(pdb *d, sl_err *err) {
  sl_code rc = pgd_copy_end(d, true, err);
  for (size_t i = 0; !rc && i < d->n; i++) {
    pstream *s = &d->streams[i];
    if (!s->rows.len) continue;
    if (!(rc = copy_start(d, s, err))) rc = pgd_copy_end(d, true, err);
  }
  return rc;
}

/* ---- one record ---- */

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil(int64_t z, int *y, int *m, int *dd) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *dd = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* emitted_at (ms) as "YYYY-MM-DD HH:MM:SS.mmm+00"; the second is cached. */
static void put_extracted_at(pdb *d, sl_buf *b, int64_t ms) {
  int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int frac = (int)(ms - sec * 1000);
  if (sec != d->ts_sec || !d->ts_text[0]) {
    int64_t days = sec >= 0 ? sec / 86400 : (sec - 86399) / 86400;
    int64_t rem = sec - days * 86400;
    int y, m, dd;
    civil(days, &y, &m, &dd);
    snprintf(d->ts_text, sizeof d->ts_text, "%04d-%02d-%02d %02d:%02d:%02d.", y, m, dd,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    d->ts_sec = sec;
  }
  char t[32];
  size_t n = strlen(d->ts_text);
  memcpy(t, d->ts_text, n);
  t[n++] = (char)('0' + frac / 100);
  t[n++] = (char)('0' + frac / 10 % 10);
  t[n++] = (char)('0' + frac % 10);
  memcpy(t + n, "+00", 3);
  sl_buf_put(b, t, n + 3);
}

sl_code pgd_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err) {
  pdb *d = h;
  pstream *s = ds->user;
  sl_code rc;
  if (!d->in_tx && (rc = pgd_begin(d, err))) return rc;
  uint64_t rn = ++s->recno;
  if (s->cols.raw) {
    s->vals[0] = rec->data;
    s->seen[0] = rn;
  } else {
    for (sl_jv k = sl_jv_first(rec->data); sl_jv_more(rec->data, k); k = sl_jv_next(sl_jv_val(k))) {
      size_t kl;
      const char *ks = sl_jv_str(k, &kl);
      int c = sl_col_set_find(&s->cols, ks, kl);
      if (c >= 0) {
        s->vals[c] = sl_jv_val(k);
        s->seen[c] = rn;
      }
    }
  }
  sl_buf *b = &s->rows;
  size_t row_start = b->len, nch = 0;
  sl_code brc = SL_EOK;
  for (size_t c = 0; c < s->cols.n; c++) {
    if (c) brc |= sl_buf_putc(b, '\t');
    const char *txt = NULL;
    size_t len = 0;
    if (s->seen[c] == rn) {
      d->scratch.len = 0;
      sl_typing_reason why = sl_typing_text(s->cols.cols[c].type, s->vals[c], &d->lim, &d->scratch, &txt, &len);
      if (why) s->changes[nch++] = (sl_typing_change){(uint32_t)c, why};
    }
    if (txt) {
      brc |= put_escaped(b, txt, len);
    } else {
      brc |= sl_buf_put(b, "\\N", 2);
    }
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
  brc |= sl_buf_putc(b, '\t');
  brc |= sl_buf_put(b, uuid, 36);
  brc |= sl_buf_putc(b, '\t');
  put_extracted_at(d, b, rec->emitted_at);
  brc |= sl_buf_putc(b, '\t');
  d->meta.len = 0;
  sl_jw w;
  sl_jw_init(&w, &d->meta);
  sl_typing_meta(&w, rec->has_meta ? &rec->meta : NULL, &s->cols, s->changes, nch, s->has_sync, s->sync_id);
  brc |= w.rc | put_escaped(b, d->meta.data, d->meta.len);
  brc |= sl_buf_putc(b, '\t');
  char num[24];
  if (s->has_gen) brc |= sl_buf_put(b, num, sl_json_fmt_int(num, s->gen));
  else brc |= sl_buf_put(b, "\\N", 2);
  if (s->dedup) {
    brc |= sl_buf_putc(b, '\t');
    brc |= sl_buf_put(b, num, sl_json_fmt_int(num, ++s->seq));
    s->batch_rows++;
  }
  brc |= sl_buf_putc(b, '\n');
  if (brc) {
    b->len = row_start;
    return sl_err_set(err, SL_ELIMIT, "table %s: the record is too large to load", s->qtable);
  }

  if (d->copying == s) {
    if (b->len >= SEND_AT) rc = copy_send(d, s, err);
  } else if (!d->copying || b->len >= SWITCH_AT) {
    if (!(rc = pgd_copy_end(d, true, err)) && !(rc = copy_start(d, s, err)) && b->len >= SEND_AT)
      rc = copy_send(d, s, err);
  } else {
    rc = SL_EOK;
  }
  pgd_test_pause("record", ++d->records);
  return rc;
}
