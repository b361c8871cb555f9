/* source-postgres: pgoutput messages to records, for every CDC stream in
 * one pass over the sync's WAL range.
 *
 * The runtime reads streams one after another (STARTED, records, COMPLETE
 * per stream), so the pass writes the records of the stream being read
 * ("live") straight out and spills the other streams' records, in WAL
 * order, to a temporary file each; cdc_replay() emits them when their
 * stream is read. The server decodes the WAL once instead of once per
 * stream.
 *
 * Unchanged TOAST values: an UPDATE that leaves an out-of-line value alone
 * marks it 'u' in the new tuple, without the value. With REPLICA IDENTITY
 * FULL the old tuple ('O') carries it (the server inlines it there), so it
 * is taken from there. Otherwise the record is held and the value is read
 * from the table by primary key, one SELECT per table for a batch of held
 * records; records after a held one are held too, so every stream keeps
 * WAL order. A row gone by then (a later DELETE follows in the WAL) or a
 * table without a primary key leaves the field out, with a WARN and a
 * NULLED / SOURCE_RETRIEVAL_ERROR change in the record's meta. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pgsrc.h"

#define PG_EPOCH_OFFSET_S 946684800LL /* 2000-01-01 in Unix time */
#define HOLD_MAX_PENDING 1000         /* records waiting for a look-up */
#define HOLD_MAX_BYTES ((size_t)16 << 20)
#define WARN_MAX 20                   /* unfilled-value warnings logged per pass */

/* Per catalog stream: its table, and the records the pass spilled for it. */
typedef struct cdc_out {
  bool cdc;
  pg_table *tab;
  size_t ntab;
  sl_code rc; /* setup failure of this stream (table gone) */
  char msg[SL_ERR_MSG_MAX];
  FILE *spill;
} cdc_out;

static struct {
  cdc_out *outs;
  size_t n;
} o;

static void outs_free(void) {
  for (size_t i = 0; i < o.n; i++) {
    pg_tables_free(o.outs[i].tab, o.outs[i].ntab);
    if (o.outs[i].spill) fclose(o.outs[i].spill);
  }
  free(o.outs);
  memset(&o, 0, sizeof o);
}

typedef struct tval {
  char kind; /* 'n' null, 'u' unchanged TOAST, 't' text */
  uint32_t len;
  const char *s;
} tval;

typedef struct relation {
  uint32_t id;
  int si;              /* catalog index of its CDC stream, -1: not one */
  size_t ncols;
  const pg_col **cols; /* per relation column: the table's column, or NULL */
  char **names, **keys;
  size_t *key_lens;
  size_t *pk_at;       /* relation positions of the table's primary key */
  size_t npk;          /* 0: no usable primary key */
} relation;

typedef struct held {
  int si;
  size_t off, len;     /* the record's members in hold */
  size_t moff, mlen;   /* its meta in hold (mlen 0: none) */
  uint64_t lsn;
  size_t nmiss;        /* 0: not waiting, only kept in order */
  const pg_col **mcol; /* missing columns (NULL: unknown to the loaded table) */
  char **mname;
  char **keyv;         /* primary key texts, table order */
} held;

struct cdc_pass {
  sl_read *rd;
  const pg_cfg *c;
  PGconn *conn; /* normal connection: TOAST look-ups */
  int live;
  uint64_t end;
  relation *rels;
  size_t nrels;
  conv_ctx conv;
  uint64_t commit_lsn;
  char ts[40]; /* the commit time */
  bool in_xact, done;
  tval *tv[2]; /* new, old tuple */
  size_t cap[2];
  size_t *miss, cap_miss;
  sl_buf rec, meta, hold;
  held *held;
  size_t nheld, cap_held, npending;
  unsigned warned, unlogged;
};

bool cdc_pass_done(const cdc_pass *p) { return p->done; }
bool cdc_pass_in_xact(const cdc_pass *p) { return p->in_xact; }

static void rel_free(relation *r) {
  for (size_t i = 0; i < r->ncols; i++) {
    free(r->names[i]);
    free(r->keys[i]);
  }
  free(r->names);
  free(r->keys);
  free(r->key_lens);
  free(r->cols);
  free(r->pk_at);
}

static void held_clear(held *h) {
  for (size_t i = 0; i < h->nmiss; i++) free(h->mname[i]);
  for (size_t i = 0; h->keyv && h->keyv[i]; i++) free(h->keyv[i]);
  free(h->mcol);
  free(h->mname);
  free(h->keyv);
}

void cdc_pass_free(cdc_pass *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nrels; i++) rel_free(&p->rels[i]);
  free(p->rels);
  for (size_t i = 0; i < p->nheld; i++) held_clear(&p->held[i]);
  free(p->held);
  free(p->tv[0]);
  free(p->tv[1]);
  free(p->miss);
  sl_buf_dispose(&p->rec);
  sl_buf_dispose(&p->meta);
  sl_buf_dispose(&p->hold);
  conv_dispose(&p->conv);
  if (p->conn) PQfinish(p->conn);
  free(p);
}

sl_code cdc_pass_new(sl_read *rd, const sl_cstream *live, const pg_cfg *c, uint64_t end,
                     cdc_pass **out, sl_err *err) {
  const sl_catalog *cat = sl_read_catalog(rd);
  cdc_pass *p = calloc(1, sizeof *p);
  if (!p) return SL_ENOMEM;
  p->rd = rd;
  p->c = c;
  p->end = end;
  p->live = (int)(live - cat->streams);
  conv_init(&p->conv);
  sl_buf_init(&p->rec, (size_t)1 << 31);
  sl_buf_init(&p->meta, (size_t)1 << 24);
  sl_buf_init(&p->hold, (size_t)1 << 31);
  *out = p;
  if (!o.outs) {
    atexit(outs_free);
    if (!(o.outs = calloc(cat->n + 1, sizeof *o.outs))) return SL_ENOMEM;
    o.n = cat->n;
  }
  sl_code rc = pg_connect(c, false, &p->conn, err);
  for (size_t i = 0; !rc && i < cat->n; i++) {
    const sl_cstream *cs = &cat->streams[i];
    cdc_out *so = &o.outs[i];
    if (cs->sync_mode != SL_SYNC_INCREMENTAL) continue;
    so->cdc = true;
    const char *schema = cs->ns ? cs->ns : c->schemas[0];
    rc = pg_tables_load(p->conn, c, schema, cs->name, &so->tab, &so->ntab, err);
    if (!rc && !so->ntab) {
      so->rc = SL_ECONFIG;
      snprintf(so->msg, sizeof so->msg, "table %s.%s not found (dropped, renamed, or no SELECT "
               "privilege); run discover", schema, cs->name);
    }
  }
  return rc;
}

/* ---- relations and tuples ---- */

static const char *rd_str(rd_buf *b) {
  const unsigned char *z = memchr(b->p, 0, (size_t)(b->end - b->p));
  if (!z) {
    b->bad = true;
    b->p = b->end;
    return "";
  }
  const char *s = (const char *)b->p;
  b->p = z + 1;
  return s;
}

static relation *rel_find(cdc_pass *p, uint32_t id) {
  for (size_t i = 0; i < p->nrels; i++)
    if (p->rels[i].id == id) return &p->rels[i];
  return NULL;
}

static sl_code on_relation(cdc_pass *p, rd_buf *b) {
  uint32_t id = (uint32_t)rd_n(b, 4);
  const char *ns = rd_str(b), *name = rd_str(b);
  rd_n(b, 1); /* replica identity */
  size_t n = (size_t)rd_n(b, 2);
  relation *r = rel_find(p, id);
  if (r) rel_free(r);
  else {
    relation *nr = realloc(p->rels, (p->nrels + 1) * sizeof *nr);
    if (!nr) return SL_ENOMEM;
    p->rels = nr;
    r = &p->rels[p->nrels++];
  }
  memset(r, 0, sizeof *r);
  r->id = id;
  r->si = -1;
  const pg_table *tab = NULL;
  for (size_t i = 0; i < o.n; i++)
    if (o.outs[i].cdc && o.outs[i].ntab && !strcmp(ns, o.outs[i].tab->schema) && !strcmp(name, o.outs[i].tab->name)) {
      r->si = (int)i;
      tab = o.outs[i].tab;
      break;
    }
  r->ncols = n;
  r->cols = calloc(n + 1, sizeof *r->cols);
  r->names = calloc(n + 1, sizeof *r->names);
  r->keys = calloc(n + 1, sizeof *r->keys);
  r->key_lens = calloc(n + 1, sizeof *r->key_lens);
  r->pk_at = calloc((tab ? tab->n_pk : 0) + 1, sizeof *r->pk_at);
  if (!r->cols || !r->names || !r->keys || !r->key_lens || !r->pk_at) return SL_ENOMEM;
  for (size_t i = 0; i < n && !b->bad; i++) {
    rd_n(b, 1); /* flags */
    r->names[i] = strdup(rd_str(b));
    rd_n(b, 8); /* type oid, typmod */
    r->cols[i] = tab ? pg_table_col(tab, r->names[i]) : NULL;
    sl_buf k;
    sl_buf_init(&k, 1 << 20);
    sl_json_escape(&k, r->names[i], strlen(r->names[i]));
    sl_buf_putc(&k, ':');
    r->key_lens[i] = k.len;
    r->keys[i] = strndup(k.data, k.len);
    sl_buf_dispose(&k);
  }
  for (size_t j = 0; tab && j < tab->n_pk; j++)
    for (size_t i = 0; i < n; i++)
      if (r->names[i] && !strcmp(r->names[i], tab->pk[j])) r->pk_at[r->npk++] = i;
  if (tab && r->npk != tab->n_pk) r->npk = 0;
  return b->bad ? SL_EPROTOCOL : SL_EOK;
}

/* TupleData into p->tv[which]; returns the column count. */
static size_t parse_tuple(cdc_pass *p, int which, rd_buf *b) {
  size_t n = (size_t)rd_n(b, 2);
  if (n > p->cap[which]) {
    tval *t = realloc(p->tv[which], n * sizeof *t);
    if (!t) {
      b->bad = true;
      return 0;
    }
    p->tv[which] = t;
    p->cap[which] = n;
  }
  tval *t = p->tv[which];
  for (size_t i = 0; i < n && !b->bad; i++) {
    t[i].kind = (char)rd_n(b, 1);
    t[i].len = 0;
    t[i].s = NULL;
    if (t[i].kind == 't' || t[i].kind == 'b') {
      t[i].kind = 't';
      t[i].len = (uint32_t)rd_n(b, 4);
      if ((size_t)(b->end - b->p) < t[i].len) {
        b->bad = true;
        return 0;
      }
      t[i].s = (const char *)b->p;
      b->p += t[i].len;
    }
  }
  return b->bad ? 0 : n;
}

static void put_val(cdc_pass *p, sl_jw *w, const pg_col *col, const char *s, size_t len, bool null) {
  if (null) sl_jw_null(w);
  else if (col) conv_value(w, &p->conv, col->kind, col->elem, s, len);
  else sl_jw_str(w, s, len);
}

/* Already written members into an object the writer has open. */
static void put_members(sl_jw *w, const char *m, size_t n) {
  if (!n) return;
  if (sl_buf_put(w->out, m, n)) w->rc = SL_ELIMIT;
  w->comma |= 1ull << (w->depth & 63);
}

/* ---- output: live, spilled, or held ---- */

static sl_code emit(cdc_pass *p, int si, const char *m, size_t n, const char *meta, size_t mlen) {
  if (si == p->live) {
    sl_jw *w = sl_read_record_begin(p->rd);
    put_members(w, m, n);
    return sl_read_record_end_meta(p->rd, meta, mlen);
  }
  cdc_out *so = &o.outs[si];
  if (!so->spill && !(so->spill = tmpfile())) return SL_EIO;
  fwrite(m, 1, n, so->spill);
  if (mlen) {
    fputc('\t', so->spill); /* JSON text has no raw tab */
    fwrite(meta, 1, mlen, so->spill);
  }
  fputc('\n', so->spill);
  return ferror(so->spill) ? SL_EIO : SL_EOK;
}

static sl_code hold(cdc_pass *p, int si, const char *m, size_t n, const char *meta, size_t mlen,
                    held **out) {
  if (p->nheld == p->cap_held) {
    size_t cap = p->cap_held ? p->cap_held * 2 : 64;
    held *h = realloc(p->held, cap * sizeof *h);
    if (!h) return SL_ENOMEM;
    p->held = h;
    p->cap_held = cap;
  }
  held *h = &p->held[p->nheld];
  memset(h, 0, sizeof *h);
  h->si = si;
  h->off = p->hold.len;
  h->len = n;
  h->lsn = p->commit_lsn;
  if (sl_buf_put(&p->hold, m, n)) return SL_ELIMIT;
  h->moff = p->hold.len;
  h->mlen = mlen;
  if (mlen && sl_buf_put(&p->hold, meta, mlen)) return SL_ELIMIT;
  p->nheld++;
  if (out) *out = h;
  return SL_EOK;
}

static void warn_unfilled(cdc_pass *p, int si, const char *names, const char *why) {
  if (p->warned >= WARN_MAX) {
    p->unlogged++;
    return;
  }
  p->warned++;
  char lsn[32];
  cdc_lsn_fmt(lsn, sizeof lsn, p->commit_lsn);
  sl_read_log(p->rd, "WARN", "stream %s: an UPDATE at LSN %s left TOASTed column(s) %s unchanged and %s; "
              "the field(s) are left out of the record (meta: NULLED, SOURCE_RETRIEVAL_ERROR)",
              sl_read_catalog(p->rd)->streams[si].name, lsn, names, why);
}

/* meta {"changes":[...]} for the named fields, into p->meta. */
static void meta_changes(cdc_pass *p, char *const *names, size_t n) {
  p->meta.len = 0;
  sl_jw w;
  sl_jw_init(&w, &p->meta);
  sl_jw_obj_open(&w);
  sl_jw_keyz(&w, "changes");
  sl_jw_arr_open(&w);
  for (size_t i = 0; i < n; i++) {
    sl_jw_obj_open(&w);
    sl_jw_keyz(&w, "field");
    sl_jw_strz(&w, names[i]);
    sl_jw_keyz(&w, "change");
    sl_jw_strz(&w, "NULLED");
    sl_jw_keyz(&w, "reason");
    sl_jw_strz(&w, "SOURCE_RETRIEVAL_ERROR");
    sl_jw_obj_close(&w);
  }
  sl_jw_arr_close(&w);
  sl_jw_obj_close(&w);
}

static sl_code flush_held(cdc_pass *p, sl_err *err);

/* A finished record: out now, or after the held ones before it (which are
 * then looked up and emitted once the held text reaches HOLD_MAX_BYTES). */
static sl_code route(cdc_pass *p, int si, const char *m, size_t n, const char *meta, size_t mlen,
                     sl_err *err) {
  if (!p->nheld) return emit(p, si, m, n, meta, mlen);
  sl_code rc = hold(p, si, m, n, meta, mlen, NULL);
  if (!rc && p->hold.len >= HOLD_MAX_BYTES) rc = flush_held(p, err);
  return rc;
}

/* An update whose new tuple lacks unchanged TOAST values (p->miss[0..nmiss)). */
static sl_code hold_for_lookup(cdc_pass *p, relation *r, const tval *row, size_t nmiss, sl_err *err) {
  const char *m = p->rec.data + 1;
  size_t n = p->rec.len - 1;
  bool keyed = r->npk > 0;
  for (size_t j = 0; keyed && j < r->npk; j++) keyed = row[r->pk_at[j]].kind == 't';
  if (!keyed) {
    char **names = calloc(nmiss + 1, sizeof *names);
    if (!names) return SL_ENOMEM;
    sl_buf list;
    sl_buf_init(&list, 1 << 16);
    for (size_t i = 0; i < nmiss; i++) {
      names[i] = r->names[p->miss[i]];
      sl_buf_appendf(&list, "%s%s", i ? ", " : "", names[i]);
    }
    const pg_table *t = o.outs[r->si].tab;
    char why[600];
    if (r->npk) snprintf(why, sizeof why, "the change lacks the primary key of %s.%s to read them by",
                         t->schema, t->name);
    else snprintf(why, sizeof why, "table %s.%s has no primary key to read them by (REPLICA IDENTITY "
                  "FULL sends them in the old row)", t->schema, t->name);
    warn_unfilled(p, r->si, sl_buf_cstr(&list) ? list.data : "?", why);
    sl_buf_dispose(&list);
    meta_changes(p, names, nmiss);
    free(names);
    return route(p, r->si, m, n, p->meta.data, p->meta.len, err);
  }
  held *h;
  sl_code rc = hold(p, r->si, m, n, NULL, 0, &h);
  if (rc) return rc;
  h->mcol = calloc(nmiss, sizeof *h->mcol);
  h->mname = calloc(nmiss, sizeof *h->mname);
  h->keyv = calloc(r->npk + 1, sizeof *h->keyv);
  if (!h->mcol || !h->mname || !h->keyv) return SL_ENOMEM;
  for (size_t i = 0; i < nmiss; i++) {
    h->mcol[i] = r->cols[p->miss[i]];
    if (!(h->mname[i] = strdup(r->names[p->miss[i]]))) return SL_ENOMEM;
    h->nmiss = i + 1;
  }
  for (size_t j = 0; j < r->npk; j++) {
    const tval *v = &row[r->pk_at[j]];
    if (!(h->keyv[j] = strndup(v->s, v->len))) return SL_ENOMEM;
  }
  p->npending++;
  if (p->npending >= HOLD_MAX_PENDING || p->hold.len >= HOLD_MAX_BYTES) return flush_held(p, err);
  return SL_EOK;
}

static sl_code on_change(cdc_pass *p, char type, rd_buf *b, sl_err *err) {
  relation *r = rel_find(p, (uint32_t)rd_n(b, 4));
  if (!r) return SL_EPROTOCOL; /* a change before its Relation message */
  if (r->si < 0) return SL_EOK;
  int tag = (int)rd_n(b, 1);
  size_t nold = 0, nrow;
  bool full_old = false;
  if (type != 'I' && (tag == 'K' || tag == 'O')) {
    full_old = tag == 'O';
    nold = parse_tuple(p, 1, b);
    if (type == 'U') tag = (int)rd_n(b, 1);
  }
  const tval *row = p->tv[1], *old = p->tv[1];
  if (type == 'D') nrow = nold;
  else {
    nrow = parse_tuple(p, 0, b);
    row = p->tv[0];
  }
  if (b->bad) return SL_EPROTOCOL;
  if (nrow + 1 > p->cap_miss) {
    size_t *mm = realloc(p->miss, (nrow + 1) * sizeof *mm);
    if (!mm) return SL_ENOMEM;
    p->miss = mm;
    p->cap_miss = nrow + 1;
  }
  p->rec.len = 0;
  sl_jw w;
  sl_jw_init(&w, &p->rec);
  sl_jw_obj_open(&w);
  size_t nmiss = 0;
  for (size_t i = 0; i < nrow; i++) {
    const tval *v = &row[i];
    if (v->kind == 'u') {
      if (full_old && i < nold && old[i].kind != 'u') v = &old[i]; /* REPLICA IDENTITY FULL */
      else {
        p->miss[nmiss++] = i;
        continue;
      }
    }
    if (i < r->ncols) sl_jw_key_raw(&w, r->keys[i], r->key_lens[i]);
    else sl_jw_keyz(&w, "_unknown");
    put_val(p, &w, i < r->ncols ? r->cols[i] : NULL, v->s, v->len, v->kind == 'n');
  }
  sl_rec_int(&w, "_ab_cdc_lsn", (int64_t)p->commit_lsn);
  sl_rec_str(&w, "_ab_cdc_updated_at", p->ts);
  if (type == 'D') sl_rec_str(&w, "_ab_cdc_deleted_at", p->ts);
  else sl_rec_null(&w, "_ab_cdc_deleted_at");
  if (w.rc) return sl_err_set(err, w.rc, "a change of stream %s is too large",
                              sl_read_catalog(p->rd)->streams[r->si].name);
  for (size_t i = 0; i < nmiss; i++) /* only columns the relation names can be looked up */
    if (p->miss[i] >= r->ncols) p->miss[i--] = p->miss[--nmiss];
  if (nmiss) return hold_for_lookup(p, r, row, nmiss, err);
  return route(p, r->si, p->rec.data + 1, p->rec.len - 1, NULL, 0, err);
}

/* ---- TOAST look-ups ---- */

/* One SELECT for the held records of stream si that wait for values:
 * (VALUES (held index, key...)) joined to the table by primary key. */
static sl_code lookup(cdc_pass *p, int si, int *rowof, PGresult **res, int *colpos, sl_err *err) {
  const pg_table *t = o.outs[si].tab;
  bool *want = calloc(t->n_cols + 1, sizeof *want);
  sl_buf q;
  sl_buf_init(&q, (size_t)1 << 30);
  if (!want) return SL_ENOMEM;
  for (size_t hi = 0; hi < p->nheld; hi++)
    for (size_t k = 0; p->held[hi].si == si && k < p->held[hi].nmiss; k++)
      if (p->held[hi].mcol[k]) want[p->held[hi].mcol[k] - t->cols] = true;
  sl_buf_appendf(&q, "SELECT v.i");
  int at = 1;
  for (size_t c = 0; c < t->n_cols; c++) {
    colpos[c] = -1;
    if (!want[c]) continue;
    char *id = pg_ident(p->conn, t->cols[c].name);
    sl_buf_appendf(&q, ", t.%s", id ? id : "\"\"");
    free(id);
    colpos[c] = at++;
  }
  char *qt = pg_qualified(p->conn, t);
  sl_buf_appendf(&q, " FROM %s t JOIN (VALUES ", qt ? qt : "\"\"");
  free(qt);
  bool first = true;
  for (size_t hi = 0; hi < p->nheld; hi++) {
    const held *h = &p->held[hi];
    if (h->si != si || !h->nmiss) continue;
    sl_buf_appendf(&q, "%s(%zu", first ? "" : ", ", hi);
    first = false;
    for (size_t j = 0; j < t->n_pk; j++) {
      char *lit = PQescapeLiteral(p->conn, h->keyv[j], strlen(h->keyv[j]));
      sl_buf_appendf(&q, ", %s::%s", lit ? lit : "NULL", pg_table_col(t, t->pk[j])->type);
      PQfreemem(lit);
    }
    sl_buf_putc(&q, ')');
  }
  sl_buf_appendf(&q, ") AS v(i");
  for (size_t j = 0; j < t->n_pk; j++) sl_buf_appendf(&q, ", k%zu", j);
  sl_buf_appendf(&q, ") ON ");
  for (size_t j = 0; j < t->n_pk; j++) {
    char *id = pg_ident(p->conn, t->pk[j]);
    sl_buf_appendf(&q, "%st.%s = v.k%zu", j ? " AND " : "", id ? id : "\"\"", j);
    free(id);
  }
  free(want);
  sl_code rc = SL_EOK;
  const char *sql = sl_buf_cstr(&q);
  PGresult *r = sql ? PQexec(p->conn, sql) : NULL;
  if (!sql) rc = SL_ENOMEM;
  else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    rc = pg_fail(p->conn, r, err, "reading unchanged TOAST values of %s.%s by primary key", t->schema, t->name);
    PQclear(r);
    r = NULL;
  }
  sl_buf_dispose(&q);
  for (int row = 0; r && row < PQntuples(r); row++) {
    size_t hi = (size_t)strtoull(PQgetvalue(r, row, 0), NULL, 10);
    if (hi < p->nheld) rowof[hi] = row;
  }
  *res = r;
  return rc;
}

/* Look the held records' values up and emit them all, in order. */
static sl_code flush_held(cdc_pass *p, sl_err *err) {
  if (!p->nheld) return SL_EOK;
  int *rowof = malloc(p->nheld * sizeof *rowof);
  PGresult **res = calloc(o.n + 1, sizeof *res);
  int **colpos = calloc(o.n + 1, sizeof *colpos);
  sl_code rc = rowof && res && colpos ? SL_EOK : SL_ENOMEM;
  for (size_t hi = 0; !rc && hi < p->nheld; hi++) rowof[hi] = -1;
  for (size_t hi = 0; !rc && hi < p->nheld; hi++) {
    int si = p->held[hi].si;
    if (!p->held[hi].nmiss || colpos[si]) continue;
    if (!(colpos[si] = calloc(o.outs[si].tab->n_cols + 1, sizeof **colpos))) rc = SL_ENOMEM;
    else rc = lookup(p, si, rowof, &res[si], colpos[si], err);
  }
  char *gone[64];
  for (size_t hi = 0; !rc && hi < p->nheld; hi++) {
    held *h = &p->held[hi];
    p->rec.len = 0;
    sl_jw w;
    sl_jw_init(&w, &p->rec);
    sl_jw_obj_open(&w);
    put_members(&w, p->hold.data + h->off, h->len);
    size_t ngone = 0;
    for (size_t k = 0; k < h->nmiss; k++) {
      const pg_col *c = h->mcol[k];
      int row = rowof[hi];
      int at = c && row >= 0 ? colpos[h->si][c - o.outs[h->si].tab->cols] : -1;
      if (at < 0) {
        if (ngone < 64) gone[ngone++] = h->mname[k];
        continue;
      }
      sl_jw_key(&w, h->mname[k], strlen(h->mname[k]));
      PGresult *r = res[h->si];
      put_val(p, &w, c, PQgetvalue(r, row, at), (size_t)PQgetlength(r, row, at), PQgetisnull(r, row, at));
    }
    if (w.rc) {
      rc = sl_err_set(err, w.rc, "a change of stream %s is too large", sl_read_catalog(p->rd)->streams[h->si].name);
      break;
    }
    p->meta.len = 0;
    if (ngone) {
      sl_buf list;
      sl_buf_init(&list, 1 << 16);
      for (size_t k = 0; k < ngone; k++) sl_buf_appendf(&list, "%s%s", k ? ", " : "", gone[k]);
      sl_buf_appendf(&list, " of the row with key (");
      const pg_table *t = o.outs[h->si].tab;
      for (size_t j = 0; j < t->n_pk; j++) sl_buf_appendf(&list, "%s%s", j ? ", " : "", t->pk[j]);
      sl_buf_appendf(&list, ") = (");
      for (size_t j = 0; j < t->n_pk; j++) sl_buf_appendf(&list, "%s%s", j ? ", " : "", h->keyv[j]);
      char why[800];
      snprintf(why, sizeof why, "the row is no longer in %s.%s to read them from (deleted later: the "
               "DELETE follows in the log)", t->schema, t->name);
      uint64_t keep = p->commit_lsn;
      p->commit_lsn = h->lsn;
      sl_buf_putc(&list, ')');
      warn_unfilled(p, h->si, sl_buf_cstr(&list) ? list.data : "?", why);
      p->commit_lsn = keep;
      sl_buf_dispose(&list);
      meta_changes(p, gone, ngone);
    }
    if (ngone) rc = emit(p, h->si, p->rec.data + 1, p->rec.len - 1, p->meta.data, p->meta.len);
    else rc = emit(p, h->si, p->rec.data + 1, p->rec.len - 1, p->hold.data + h->moff, h->mlen);
  }
  for (size_t i = 0; i < o.n && res; i++) PQclear(res[i]);
  for (size_t i = 0; i < o.n && colpos; i++) free(colpos[i]);
  free(res);
  free(colpos);
  free(rowof);
  for (size_t hi = 0; hi < p->nheld; hi++) held_clear(&p->held[hi]);
  p->nheld = p->npending = 0;
  p->hold.len = 0;
  return rc;
}

/* ---- messages ---- */

sl_code cdc_pass_message(cdc_pass *p, rd_buf *b, sl_err *err) {
  char type = (char)rd_n(b, 1);
  switch (type) {
    case 'B': {
      uint64_t final_lsn = rd_n(b, 8);
      int64_t ts = (int64_t)rd_n(b, 8);
      rd_n(b, 4);
      if (final_lsn >= p->end) { /* committed after this sync's end: next time */
        p->done = true;
        return SL_EOK;
      }
      p->in_xact = true;
      p->commit_lsn = final_lsn;
      cdc_iso_us(p->ts, sizeof p->ts, ts + PG_EPOCH_OFFSET_S * 1000000LL);
      return SL_EOK;
    }
    case 'C': p->in_xact = false; return SL_EOK;
    case 'R': {
      sl_code rc = on_relation(p, b);
      return rc == SL_EPROTOCOL ? sl_err_set(err, rc, "a malformed pgoutput Relation message") : rc;
    }
    case 'I':
    case 'U':
    case 'D': {
      sl_code rc = on_change(p, type, b, err);
      if (rc == SL_EPROTOCOL) return sl_err_set(err, rc, "a malformed pgoutput %c message", type);
      if (rc == SL_EIO && !err->msg[0])
        return sl_err_set(err, rc, "keeping changes for the streams read later: writing a temporary "
                          "file in %s failed: %s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
      if (rc && !err->msg[0]) return sl_err_set(err, rc, "writing a change: %s", sl_strerror(rc));
      return rc;
    }
    case 'T': {
      uint32_t nrel = (uint32_t)rd_n(b, 4);
      rd_n(b, 1);
      for (uint32_t i = 0; i < nrel && !b->bad; i++) {
        relation *r = rel_find(p, (uint32_t)rd_n(b, 4));
        if (!r || r->si < 0) continue;
        char lsn[32];
        cdc_lsn_fmt(lsn, sizeof lsn, p->commit_lsn);
        const pg_table *t = o.outs[r->si].tab;
        sl_read_log(p->rd, "WARN", "stream %s: table %s.%s was truncated (TRUNCATE committed at LSN %s); "
                    "CDC cannot express that as records, so the destination still holds the removed rows: "
                    "refresh the stream (clear its data and read a new snapshot) to drop them",
                    sl_read_catalog(p->rd)->streams[r->si].name, t->schema, t->name, lsn);
      }
      return SL_EOK;
    }
    default: return SL_EOK; /* Origin, Type, Message */
  }
}

sl_code cdc_pass_finish(cdc_pass *p, sl_err *err) {
  sl_code rc = flush_held(p, err);
  if (p->unlogged)
    sl_read_log(p->rd, "WARN", "%u more updates with unchanged TOASTed values that could not be read "
                "were not logged (each record's meta names its fields)", p->unlogged);
  return rc;
}

/* ---- replay ---- */

sl_code cdc_replay(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  size_t si = (size_t)(cs - sl_read_catalog(rd)->streams);
  if (si >= o.n) return SL_EOK;
  cdc_out *so = &o.outs[si];
  if (so->rc) return sl_err_set(err, so->rc, "%s", so->msg);
  if (!so->spill) return SL_EOK;
  if (fflush(so->spill) || fseek(so->spill, 0, SEEK_SET))
    return sl_err_set(err, SL_EIO, "stream %s: reading back its spilled changes failed", cs->name);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  sl_code rc = SL_EOK;
  while (!rc && (n = getline(&line, &cap, so->spill)) > 0) {
    size_t len = (size_t)n - (line[n - 1] == '\n');
    const char *tab = memchr(line, '\t', len);
    size_t mlen = tab ? len - (size_t)(tab - line) - 1 : 0;
    sl_jw *w = sl_read_record_begin(rd);
    put_members(w, line, tab ? (size_t)(tab - line) : len);
    rc = sl_read_record_end_meta(rd, tab ? tab + 1 : NULL, mlen);
    if (rc) sl_err_set(err, rc, "stream %s: writing a change: %s", cs->name, sl_strerror(rc));
  }
  free(line);
  if (!rc && ferror(so->spill)) rc = sl_err_set(err, SL_EIO, "stream %s: reading back its spilled changes failed", cs->name);
  fclose(so->spill);
  so->spill = NULL;
  return rc;
}
