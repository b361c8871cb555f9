/* destination-mysql: the hot path. A record becomes one line of LOAD DATA
 * text (tab-separated, backslash escapes, \N for NULL) appended to its
 * stream's batch buffer; values are typed and checked by the shared typing
 * module first, so a value that does not fit its column is NULL with a
 * change in _airbyte_meta rather than a failed sync or a value the server
 * would silently clamp. A buffer is sent with LOAD DATA LOCAL INFILE, read
 * from memory by a local-infile handler (no file, no copy), when it passes
 * LOAD_AT bytes and at every flush, which then COMMITs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mydest.h"

#define LOAD_AT ((size_t)8 << 20)

/* ---- LOAD DATA LOCAL INFILE from memory ---- */

static int infile_init(void **ptr, const char *filename, void *userdata) {
  mdb *d = userdata;
  d->feed_off = 0;
  *ptr = d;
  return 0;
}

static int infile_read(void *ptr, char *buf, unsigned int len) {
  mdb *d = ptr;
  size_t n = d->feed_len - d->feed_off;
  if (n > len) n = len;
  memcpy(buf, d->feed + d->feed_off, n);
  d->feed_off += n;
  return (int)n;
}

static void infile_end(void *ptr) {}

static int infile_error(void *ptr, char *msg, unsigned int len) {
  snprintf(msg, len, "sluice batch feed error");
  return 0;
}

void md_install_infile(mdb *d) {
  mysql_set_local_infile_handler(d->m, infile_init, infile_read, infile_end, infile_error, d);
}

sl_code md_load(mdb *d, mstream *s, sl_err *err) {
  if (!s->rows.len) return SL_EOK;
  d->feed = s->rows.data;
  d->feed_len = s->rows.len;
  d->in_tx = true;
  if (mysql_real_query(d->m, s->load_sql.data, s->load_sql.len))
    return my_fail(d->m, err, "table %s: loading %llu rows", s->load_into, (unsigned long long)s->nrows);
  unsigned warnings = mysql_warning_count(d->m);
  if (warnings && !mysql_query(d->m, "SHOW WARNINGS LIMIT 3")) {
    /* Values were checked before: a warning means a check missed a case. */
    MYSQL_RES *r = mysql_store_result(d->m);
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r)))
      sl_dest_log("WARN", "table %s: the server changed a value while loading: %s", s->load_into, row[2] ? row[2] : "");
    mysql_free_result(r);
  }
  s->rows.len = 0;
  s->nrows = 0;
  sl_buf_shrink(&s->rows, LOAD_AT * 2);
  return SL_EOK;
}

sl_code md_flush(void *h, sl_err *err) {
  mdb *d = h;
  sl_code rc;
  for (size_t i = 0; i < d->n; i++) {
    mstream *s = &d->streams[i];
    if (!s->ds) continue;
    bool had = s->rows.len > 0 || (s->dedup && d->in_tx);
    if ((rc = md_load(d, s, err))) return rc;
    if (s->dedup && had && (rc = md_merge(d, s, err))) return rc;
  }
  if (!d->in_tx) return SL_EOK;
  /* Test hook (tests/e2e/mysql.sh): die after the load, before COMMIT N. */
  const char *kill_at = getenv("SLUICE_MYDST_TEST_KILL_BEFORE_COMMIT");
  if (kill_at && ++d->commits == (unsigned)atoi(kill_at)) raise(SIGKILL);
  if (mysql_commit(d->m)) return my_fail(d->m, err, "COMMIT");
  d->in_tx = false;
  return SL_EOK;
}

/* ---- one record ---- */

/* s[0..n) with LOAD DATA escapes. */
static inline void put_escaped(sl_buf *b, const char *s, size_t n) {
  if (sl_buf_ensure(b, 2 * n)) return;
  char *o = b->data + b->len;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    switch (c) {
      case '\\': *o++ = '\\', *o++ = '\\'; break;
      case '\t': *o++ = '\\', *o++ = 't'; break;
      case '\n': *o++ = '\\', *o++ = 'n'; break;
      case '\r': *o++ = '\\', *o++ = 'r'; break;
      case 0: *o++ = '\\', *o++ = '0'; break;
      default: *o++ = c;
    }
  }
  b->len = (size_t)(o - b->data);
}

/* Whether number text fits DECIMAL(38,9): at most 29 digits before the
 * point (more fraction digits are rounded by the server). */
static bool decimal_fits(const char *s, size_t n) {
  size_t i = 0, first = 0;
  long point = 0, exp = 0;
  bool seen = false, frac = false;
  if (i < n && (s[i] == '-' || s[i] == '+')) i++;
  long pos = 0; /* digits consumed */
  for (; i < n; i++) {
    char c = s[i];
    if (c == '.') {
      frac = true;
      point = pos;
    } else if (c >= '0' && c <= '9') {
      if (!seen && c != '0') {
        seen = true;
        first = (size_t)pos;
      }
      pos++;
    } else if (c == 'e' || c == 'E') {
      exp = strtol(s + i + 1, NULL, 10);
      break;
    } else {
      return false;
    }
  }
  if (!frac) point = pos;
  if (!seen) return true;
  long int_digits = point + exp - (long)first;
  return int_digits <= 29;
}

static const int64_t days_per_400y = 146097;

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * days_per_400y + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / days_per_400y;
  int64_t doe = z - era * days_per_400y;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* A timestamp with a zone as UTC DATETIME text; false when out of range. */
static bool utc_text(const sl_datetime *dt, char *out, size_t *len) {
  int64_t mins = days_from_civil(dt->year, dt->month, dt->day) * 1440 + dt->hour * 60 + dt->min - dt->tz_min;
  int64_t days = mins >= 0 ? mins / 1440 : -((-mins + 1439) / 1440);
  int64_t mod = mins - days * 1440;
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 1 || y > 9999) return false;
  *len = (size_t)snprintf(out, 40, "%04d-%02d-%02d %02d:%02d:%02d.%06d", y, m, d, (int)(mod / 60),
                          (int)(mod % 60), dt->sec, dt->usec);
  return true;
}

static void put_extracted_at(mdb *d, sl_buf *b, int64_t ms) {
  int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  if (sec != d->ts_sec || !d->ts_text[0]) {
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(d->ts_text, sizeof d->ts_text, "%Y-%m-%d %H:%M:%S", &tm);
    d->ts_sec = sec;
  }
  sl_buf_appendf(b, "%s.%03d", d->ts_text, (int)(ms - sec * 1000));
}

static const sl_typing_limits limits = {(size_t)64 << 20, (size_t)64 << 20, true};

/* One value; returns a change reason, or OK (NULL written for null). */
static sl_typing_reason put_value(mdb *d, sl_buf *b, sl_col_type t, sl_jv v) {
  if (sl_jv_type(v) == SL_JNULL) {
    sl_buf_put(b, "\\N", 2);
    return SL_TYPING_OK;
  }
  const char *s;
  size_t n;
  if (t == SL_COL_TIMESTAMP_TZ) {
    sl_datetime dt;
    char tmp[48];
    s = sl_jv_str(v, &n);
    if (!s || !sl_typing_parse_datetime(t, s, n, &dt)) return SL_TYPING_TYPECAST;
    if (!utc_text(&dt, tmp, &n)) return SL_TYPING_SIZE;
    sl_buf_put(b, tmp, n);
    return SL_TYPING_OK;
  }
  sl_typing_reason r = sl_typing_text(t, v, &limits, &d->scratch, &s, &n);
  if (r) return r;
  switch (t) {
    case SL_COL_BOOLEAN:
      sl_buf_putc(b, s[0] == 't' ? '1' : '0');
      return SL_TYPING_OK;
    case SL_COL_NUMBER:
      if (!decimal_fits(s, n)) return SL_TYPING_SIZE;
      sl_buf_put(b, s, n);
      return SL_TYPING_OK;
    case SL_COL_INTEGER:
      sl_buf_put(b, s, n);
      return SL_TYPING_OK;
    default:
      put_escaped(b, s, n);
      return SL_TYPING_OK;
  }
}

sl_code md_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err) {
  mdb *d = h;
  mstream *s = ds->user;
  uint64_t rn = ++s->recno;
  sl_col_set_bind(&s->cols, rec->data, rn, s->vals, s->seen);
  sl_buf *b = &s->rows;
  size_t row_start = b->len, nch = 0;
  d->scratch.len = 0;
  size_t pk_null = 0;
  for (size_t c = 0; c < s->cols.n; c++) {
    bool present = s->seen[c] == rn;
    sl_typing_reason r = SL_TYPING_OK;
    if (present) {
      size_t mark = b->len;
      r = put_value(d, b, s->cols.cols[c].type, s->vals[c]);
      if (r) {
        b->len = mark;
        sl_buf_put(b, "\\N", 2);
        s->changes[nch].col = (uint32_t)c;
        s->changes[nch++].reason = r;
      }
    } else {
      sl_buf_put(b, "\\N", 2);
    }
    if (s->dedup && (!present || r || sl_jv_is_null(s->vals[c])))
      for (size_t k = 0; k < s->npk; k++) pk_null += s->pk[k] == (int)c;
    sl_buf_putc(b, '\t');
  }
  if (s->dedup && pk_null == s->npk) {
    b->len = row_start;
    return sl_err_set(err, SL_ESCHEMA, "stream %s: a record has a null primary key (every key field is null or "
                      "missing); append_dedup cannot store it", ds->cs->name);
  }
  char uuid[40];
  sl_uuid4(&d->rng, uuid);
  sl_buf_put(b, uuid, 36);
  sl_buf_putc(b, '\t');
  put_extracted_at(d, b, rec->emitted_at);
  sl_buf_putc(b, '\t');
  d->meta.len = 0;
  sl_jw w;
  sl_jw_init(&w, &d->meta);
  sl_typing_meta(&w, rec->has_meta ? &rec->meta : NULL, &s->cols, s->changes, nch, s->has_sync, s->sync_id);
  put_escaped(b, d->meta.data, d->meta.len);
  sl_buf_putc(b, '\t');
  if (s->has_gen) sl_buf_appendf(b, "%lld", (long long)s->gen);
  else sl_buf_put(b, "\\N", 2);
  if (sl_buf_putc(b, '\n') || w.rc) {
    b->len = row_start;
    return sl_err_set(err, SL_ELIMIT, "stream %s: the batch buffer is full", ds->cs->name);
  }
  s->nrows++;
  return b->len >= LOAD_AT ? md_load(d, s, err) : SL_EOK;
}
