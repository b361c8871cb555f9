/* destination-sqlite: the hot path. One record = one step of a prepared
 * INSERT whose parameters are bound straight from the parser's views:
 * strings with SQLITE_STATIC (the view lives until the next line is parsed,
 * and the statement is stepped and reset before that), JSON texts from one
 * reused scratch buffer. Nothing is allocated per record. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_dest.h"

/* ---- transactions ---- */

static sl_code step_once(sdb *d, sqlite3_stmt *st, const char *what, sl_err *err) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return SL_EOK;
  return sl_err_set(err, rc == SQLITE_BUSY ? SL_ETRANSIENT : SL_EDESTINATION, "%s: %s: %s", d->path,
                    what, sqlite3_errmsg(d->db));
}

sl_code sq_begin(sdb *d, sl_err *err) {
  sl_code rc = step_once(d, d->begin, "BEGIN", err);
  if (!rc) d->in_tx = true;
  return rc;
}

sl_code sq_commit(sdb *d, sl_err *err) {
  sl_code rc = step_once(d, d->commit, "COMMIT", err);
  if (!rc) d->in_tx = false;
  return rc;
}

/* ---- one record ---- */

static inline int lookup(const sstream *s, const char *k, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 16777619u;
  for (size_t i = h & s->hmask;; i = (i + 1) & s->hmask) {
    uint32_t e = s->hash[i];
    if (!e) return -1;
    const col *c = &s->cols[e - 1];
    if (c->prop_len == n && !memcmp(c->prop, k, n)) return (int)(e - 1);
  }
}

enum { CH_TYPECAST = 0, CH_SIZE = 1 };

/* Append v's JSON text to scratch and remember it for a deferred bind. */
static inline bool defer_json(sdb *d, sstream *s, size_t *nd, int c, sl_jv v) {
  size_t off = d->scratch.len;
  sl_jw w;
  sl_jw_init(&w, &d->scratch);
  sl_jw_jv(&w, v);
  if (w.rc || d->scratch.len - off > d->max_len) {
    d->scratch.len = off;
    return false;
  }
  s->dcol[*nd] = c;
  s->doff[*nd] = off;
  s->dlen[*nd] = d->scratch.len - off;
  ++*nd;
  return true;
}

sl_code sq_write(void *h, sl_dstream *ds, const sl_drecord *rec, sl_err *err) {
  sdb *d = h;
  sstream *s = ds->user;
  sl_code rc;
  if (!d->in_tx && (rc = sq_begin(d, err))) return rc;
  uint64_t rn = ++s->recno;
  if (s->raw_data) {
    s->vals[0] = rec->data;
    s->seen[0] = rn;
  }
  for (sl_jv k = sl_jv_first(rec->data); sl_jv_more(rec->data, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kl;
    const char *ks = sl_jv_str(k, &kl);
    int c = lookup(s, ks, kl);
    if (c >= 0) {
      s->vals[c] = sl_jv_val(k);
      s->seen[c] = rn;
    }
  }
  sqlite3_stmt *st = s->ins;
  d->scratch.len = 0;
  size_t nch = 0, nd = 0, pk_set = 0;
  int brc = SQLITE_OK;
  for (size_t c = 0; c < s->ncols && brc == SQLITE_OK; c++) {
    int p = (int)c + 1;
    sl_jv v = s->vals[c];
    sl_jtype t = s->seen[c] == rn ? sl_jv_type(v) : SL_JNULL;
    bool bad = false;
    switch (t == SL_JNULL ? COL_JSON : s->cols[c].type) {
      case COL_INTEGER:
        if (t == SL_JINT) {
          brc = sqlite3_bind_int64(st, p, sl_jv_int(v));
        } else if (t == SL_JDOUBLE) {
          double x = sl_jv_double_raw(v);
          if (x == trunc(x) && x >= -9223372036854775808.0 && x < 9223372036854775808.0)
            brc = sqlite3_bind_int64(st, p, (int64_t)x);
          else bad = true;
        } else bad = true;
        break;
      case COL_NUMBER:
        if (t == SL_JINT) brc = sqlite3_bind_int64(st, p, sl_jv_int(v));
        else if (t == SL_JDOUBLE || t == SL_JUINT) brc = sqlite3_bind_double(st, p, sl_jv_num(v));
        else bad = true;
        break;
      case COL_BOOLEAN:
        if (t == SL_JBOOL) brc = sqlite3_bind_int(st, p, sl_jv_bool(v));
        else bad = true;
        break;
      case COL_STRING:
        if (t == SL_JSTRING) {
          size_t n;
          const char *str = sl_jv_str(v, &n);
          if (n > d->max_len) {
            s->changed[nch++] = (int)c * 2 + CH_SIZE;
            brc = sqlite3_bind_null(st, p);
            continue;
          }
          brc = sqlite3_bind_text(st, p, str, (int)n, SQLITE_STATIC);
          break;
        }
        /* numbers and booleans as their JSON text */
        __attribute__((fallthrough));
      case COL_OBJECT:
      case COL_ARRAY:
      case COL_JSON:
        if (t == SL_JNULL) {
          brc = sqlite3_bind_null(st, p);
          continue;
        }
        if ((s->cols[c].type == COL_OBJECT && t != SL_JOBJECT) ||
            (s->cols[c].type == COL_ARRAY && t != SL_JARRAY)) {
          bad = true;
          break;
        }
        if (!defer_json(d, s, &nd, (int)c, v)) {
          s->changed[nch++] = (int)c * 2 + CH_SIZE;
          brc = sqlite3_bind_null(st, p);
          continue;
        }
        break;
    }
    if (bad) {
      s->changed[nch++] = (int)c * 2 + CH_TYPECAST;
      brc = sqlite3_bind_null(st, p);
    } else if (s->cols[c].is_pk) {
      pk_set++;
    }
  }
  if (brc != SQLITE_OK)
    return sl_err_set(err, SL_EDESTINATION, "%s: table \"%s\": binding a value: %s", d->path,
                      s->table, sqlite3_errstr(brc));
  if (s->dedup && !pk_set) {
    sqlite3_reset(st);
    return sl_err_set(err, SL_ESCHEMA,
                      "a record has a null primary key (every key field is null or missing); "
                      "append_dedup cannot store it");
  }

  /* _airbyte_meta: the source's changes, then ours, and the sync id. */
  size_t moff = d->scratch.len;
  sl_jw w;
  sl_jw_init(&w, &d->scratch);
  sl_jw_obj_open(&w);
  sl_jw_key(&w, "changes", 7);
  sl_jw_arr_open(&w);
  sl_jv changes;
  if (rec->has_meta && sl_jv_get(rec->meta, "changes", &changes) && sl_jv_type(changes) == SL_JARRAY)
    for (sl_jv x = sl_jv_first(changes); sl_jv_more(changes, x); x = sl_jv_next(x)) sl_jw_jv(&w, x);
  for (size_t i = 0; i < nch; i++) {
    const col *cl = &s->cols[s->changed[i] / 2];
    sl_jw_obj_open(&w);
    sl_jw_key(&w, "field", 5);
    sl_jw_str(&w, cl->prop, cl->prop_len);
    sl_jw_key(&w, "change", 6);
    sl_jw_str(&w, "NULLED", 6);
    sl_jw_key(&w, "reason", 6);
    sl_jw_strz(&w, s->changed[i] % 2 == CH_SIZE ? "DESTINATION_FIELD_SIZE_LIMITATION"
                                                : "DESTINATION_TYPECAST_ERROR");
    sl_jw_obj_close(&w);
  }
  sl_jw_arr_close(&w);
  sl_jw_key(&w, "sync_id", 7);
  if (s->has_sync) sl_jw_int(&w, s->sync_id);
  else sl_jw_null(&w);
  sl_jw_obj_close(&w);
  if (w.rc) {
    sqlite3_reset(st);
    return sl_err_set(err, SL_ELIMIT, "table \"%s\": the record's _airbyte_meta is too large", s->table);
  }

  /* The scratch buffer no longer moves: bind the texts in it. */
  for (size_t i = 0; i < nd && brc == SQLITE_OK; i++)
    brc = sqlite3_bind_text(st, s->dcol[i] + 1, d->scratch.data + s->doff[i], (int)s->dlen[i], SQLITE_STATIC);
  int base = (int)s->ncols;
  sl_uuid4(&d->rng, d->uuid);
  if (brc == SQLITE_OK) brc = sqlite3_bind_text(st, base + 1, d->uuid, 36, SQLITE_STATIC);
  if (brc == SQLITE_OK) brc = sqlite3_bind_int64(st, base + 2, rec->emitted_at);
  if (brc == SQLITE_OK)
    brc = sqlite3_bind_text(st, base + 3, d->scratch.data + moff, (int)(d->scratch.len - moff), SQLITE_STATIC);
  if (brc == SQLITE_OK)
    brc = s->has_gen ? sqlite3_bind_int64(st, base + 4, s->gen) : sqlite3_bind_null(st, base + 4);
  if (brc != SQLITE_OK) {
    sqlite3_reset(st);
    return sl_err_set(err, SL_EDESTINATION, "%s: table \"%s\": binding a value: %s", d->path,
                      s->table, sqlite3_errstr(brc));
  }
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  if (step != SQLITE_DONE)
    return sl_err_set(err, step == SQLITE_BUSY ? SL_ETRANSIENT : SL_EDESTINATION,
                      "%s: table \"%s\": insert failed: %s", d->path, s->table, sqlite3_errmsg(d->db));
  return SL_EOK;
}
