/* Database sources: table filters, streams, keyset state and values (see
 * include/sluice/dbsrc.h). Cold code except the value writers. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include "sluice/dbsrc.h"

/* ---- tables ---- */

sl_dbcol *sl_dbtable_add_col(sl_dbtable *t, const char *name, sl_dbtype type, bool nullable) {
  sl_dbcol *c = realloc(t->cols, (t->ncols + 1) * sizeof *c);
  if (!c) return NULL;
  t->cols = c;
  c = &t->cols[t->ncols];
  memset(c, 0, sizeof *c);
  if (!(c->name = strdup(name))) return NULL;
  c->type = type;
  c->nullable = nullable;
  t->ncols++;
  return c;
}

sl_code sl_dbcol_add_enum(sl_dbcol *c, const char *label, size_t len) {
  char **v = realloc(c->enum_vals, (c->n_enum + 1) * sizeof *v);
  if (!v) return SL_ENOMEM;
  c->enum_vals = v;
  if (!(v[c->n_enum] = strndup(label, len))) return SL_ENOMEM;
  c->n_enum++;
  return SL_EOK;
}

sl_code sl_dbcol_parse_enum(sl_dbcol *c, const char *coltype) {
  const char *p = strchr(coltype, '(');
  if (!p) return SL_EOK;
  sl_buf b;
  sl_buf_init(&b, 1 << 20);
  sl_code rc = SL_EOK;
  for (p++; *p == '\'' && !rc;) {
    b.len = 0;
    for (p++; *p; p++) {
      if (*p == '\'' && p[1] == '\'') p++;
      else if (*p == '\'') break;
      else if (*p == '\\' && p[1]) p++;
      sl_buf_putc(&b, *p);
    }
    if (*p != '\'') break;
    rc = sl_dbcol_add_enum(c, b.data ? b.data : "", b.len);
    p++;
    if (*p == ',') p++;
  }
  sl_buf_dispose(&b);
  return rc;
}

int sl_dbtable_col(const sl_dbtable *t, const char *name) {
  for (size_t i = 0; i < t->ncols; i++)
    if (!strcmp(t->cols[i].name, name)) return (int)i;
  return -1;
}

void sl_dbtable_free(sl_dbtable *t) {
  for (size_t i = 0; i < t->ncols; i++) {
    free(t->cols[i].name);
    for (size_t k = 0; k < t->cols[i].n_enum; k++) free(t->cols[i].enum_vals[k]);
    free(t->cols[i].enum_vals);
  }
  free(t->cols);
  free(t->pk);
  free(t->name);
  free(t->ns);
  memset(t, 0, sizeof *t);
}

static json_t *col_schema(const sl_dbcol *c) {
  const char *ty = "string", *fmt = NULL, *at = NULL;
  switch (c->type) {
    case SL_DB_INT: ty = "integer"; break;
    case SL_DB_FLOAT:
    case SL_DB_DECIMAL: ty = "number"; break;
    case SL_DB_BOOL: ty = "boolean"; break;
    case SL_DB_DATE: fmt = "date"; break;
    case SL_DB_TIME: fmt = "time", at = "time_without_timezone"; break;
    case SL_DB_DATETIME: fmt = "date-time", at = "timestamp_without_timezone"; break;
    case SL_DB_TIMESTAMPTZ: fmt = "date-time", at = "timestamp_with_timezone"; break;
    default: break;
  }
  json_t *s = json_object();
  json_object_set_new(s, "type", c->nullable ? json_pack("[s,s]", "null", ty) : json_string(ty));
  if (fmt) json_object_set_new(s, "format", json_string(fmt));
  if (at) json_object_set_new(s, "airbyte_type", json_string(at));
  if (c->type == SL_DB_BINARY) json_object_set_new(s, "contentEncoding", json_string("base64"));
  if (c->type == SL_DB_ENUM) {
    json_t *e = json_array();
    for (size_t i = 0; i < c->n_enum; i++) json_array_append_new(e, json_string(c->enum_vals[i]));
    if (c->nullable) json_array_append_new(e, json_null());
    json_object_set_new(s, "enum", e);
  }
  return s;
}

json_t *sl_dbtable_stream(const sl_dbtable *t) {
  json_t *props = json_object();
  for (size_t i = 0; i < t->ncols; i++) json_object_set_new(props, t->cols[i].name, col_schema(&t->cols[i]));
  json_t *schema = json_pack("{s:s, s:s, s:o}", "$schema", "http://json-schema.org/draft-07/schema#",
                             "type", "object", "properties", props);
  json_t *s = json_pack("{s:s, s:o, s:[s,s], s:b}", "name", t->name, "json_schema", schema,
                        "supported_sync_modes", "full_refresh", "incremental",
                        "source_defined_cursor", 0);
  if (!s) return NULL;
  if (t->ns) json_object_set_new(s, "namespace", json_string(t->ns));
  if (t->npk) {
    json_t *pk = json_array();
    for (size_t i = 0; i < t->npk; i++) json_array_append_new(pk, json_pack("[s]", t->cols[t->pk[i]].name));
    json_object_set_new(s, "source_defined_primary_key", pk);
  }
  json_object_set_new(s, "is_resumable", json_boolean(t->npk > 0));
  return s;
}

/* ---- filters ---- */

static sl_code compile(const json_t *config, const char *key, void **out, sl_err *err) {
  const char *re = json_string_value(json_object_get(config, key));
  *out = NULL;
  if (!re || !*re) return SL_EOK;
  int ec;
  PCRE2_SIZE off;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &off, NULL);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    return sl_err_set(err, SL_ECONFIG, "config %s: invalid regular expression at offset %zu: %s", key,
                      (size_t)off, (const char *)msg);
  }
  *out = code;
  return SL_EOK;
}

sl_code sl_dbfilter_init(sl_dbfilter *f, const json_t *config, sl_err *err) {
  memset(f, 0, sizeof *f);
  sl_code rc = compile(config, "include_tables", &f->include, err);
  if (!rc) rc = compile(config, "exclude_tables", &f->exclude, err);
  if (!rc && !(f->md = pcre2_match_data_create(4, NULL))) rc = SL_ENOMEM;
  return rc;
}

static bool matches(const sl_dbfilter *f, void *code, const char *s) {
  return pcre2_match(code, (PCRE2_SPTR)s, strlen(s), 0, 0, f->md, NULL) >= 0;
}

bool sl_dbfilter_match(const sl_dbfilter *f, const char *table) {
  if (f->include && !matches(f, f->include, table)) return false;
  return !(f->exclude && matches(f, f->exclude, table));
}

void sl_dbfilter_dispose(sl_dbfilter *f) {
  pcre2_code_free(f->include);
  pcre2_code_free(f->exclude);
  pcre2_match_data_free(f->md);
  memset(f, 0, sizeof *f);
}

/* ---- plans and state ---- */

static bool same_names(const json_t *arr, const sl_dbplan *p, size_t from) {
  if (!json_is_array(arr) || json_array_size(arr) != p->nkey - from) return false;
  for (size_t i = from; i < p->nkey; i++)
    if (!json_is_string(json_array_get(arr, i - from)) ||
        strcmp(json_string_value(json_array_get(arr, i - from)), p->t->cols[p->key[i]].name))
      return false;
  return true;
}

/* The resume point from the input state, when it fits this plan. */
static void load_resume(sl_dbplan *p, sl_read *rd, const sl_cstream *cs) {
  const json_t *st = cs->state;
  if (!json_is_object(st)) return;
  size_t from = p->cursor >= 0 ? 1 : 0;
  const json_t *last = json_object_get(st, "last");
  json_t *arr = json_array();
  if (p->cursor >= 0) {
    const char *cf = json_string_value(json_object_get(st, "cursor_field"));
    const json_t *cur = json_object_get(st, "cursor");
    if (!cf || strcmp(cf, p->t->cols[p->cursor].name) || !cur || json_is_null(cur)) {
      if (cf || cur)
        sl_read_log(rd, "WARN", "stream %s: the state is for another cursor; reading from the start", cs->name);
      json_decref(arr);
      return;
    }
    json_array_append(arr, (json_t *)cur);
    if (!last && p->nkey == 1) {
      p->last = arr;
      return;
    }
  } else if (!last) {
    json_decref(arr); /* finished or no key: start over */
    return;
  }
  if (!same_names(json_object_get(st, "key"), p, from) || !json_is_array(last) ||
      json_array_size(last) != p->nkey - from) {
    /* An incremental state without a usable tie-breaker keeps its cursor:
     * rows equal to it were read. */
    if (p->cursor >= 0) {
      sl_read_log(rd, "WARN", "stream %s: the state's key does not match the table's primary key; "
                  "resuming after the cursor value", cs->name);
      p->nkey = 1;
      p->unique = false;
      p->last = arr;
      return;
    }
    sl_read_log(rd, "WARN", "stream %s: the state's key does not match the table's primary key; "
                "reading from the start", cs->name);
    json_decref(arr);
    return;
  }
  size_t i;
  json_t *v;
  json_array_foreach(last, i, v) json_array_append(arr, v);
  p->last = arr;
}

sl_code sl_dbplan_init(sl_dbplan *p, const sl_dbtable *t, sl_read *rd, const sl_cstream *cs,
                       sl_err *err) {
  memset(p, 0, sizeof *p);
  p->t = t;
  p->cursor = -1;
  size_t n = t->ncols ? t->ncols : 1;
  p->sel = calloc(n, sizeof *p->sel);
  p->key = calloc(n + 1, sizeof *p->key);
  p->qkeys = calloc(n, sizeof *p->qkeys);
  p->qlens = calloc(n, sizeof *p->qlens);
  if (!p->sel || !p->key || !p->qkeys || !p->qlens) return sl_err_set(err, SL_ENOMEM, "out of memory");
  const json_t *props = json_object_get(cs->json_schema, "properties");
  const char *pname;
  json_t *pv;
  /* Columns in table order; catalog columns the table lost are skipped. */
  for (size_t i = 0; i < t->ncols; i++)
    if (!json_is_object(props) || json_object_get(props, t->cols[i].name)) p->sel[p->nsel++] = (int)i;
  json_object_foreach((json_t *)props, pname, pv) {
    if (sl_dbtable_col(t, pname) < 0)
      sl_read_log(rd, "WARN", "stream %s: column \"%s\" is in the catalog but no longer in table %s; "
                  "it is left out of the records", cs->name, pname, t->name);
  }
  if (!p->nsel) return sl_err_set(err, SL_ECATALOG, "none of the catalog's columns exist in table %s", t->name);
  for (size_t i = 0; i < p->nsel; i++) {
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    sl_json_escape(&b, t->cols[p->sel[i]].name, strlen(t->cols[p->sel[i]].name));
    sl_buf_putc(&b, ':');
    p->qkeys[i] = b.data;
    p->qlens[i] = b.len;
    if (!b.data) return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  if (cs->sync_mode == SL_SYNC_INCREMENTAL && !cs->cursor.n) {
    /* Platforms pick incremental whenever a stream offers it; without a
     * cursor every row is read, as a (resumable) full refresh. */
    sl_read_log(rd, "WARN", "stream %s: incremental without a cursor_field: reading every row of table %s",
                cs->name, t->name);
  } else if (cs->sync_mode == SL_SYNC_INCREMENTAL) {
    if (cs->cursor.n != 1 || (p->cursor = sl_dbtable_col(t, cs->cursor.parts[0])) < 0)
      return sl_err_set(err, SL_ECATALOG, "cursor field \"%s\" is not a column of table %s",
                        cs->cursor.parts[0], t->name);
    p->key[p->nkey++] = p->cursor;
  }
  for (size_t i = 0; i < t->npk; i++)
    if (t->pk[i] != p->cursor) p->key[p->nkey++] = t->pk[i];
  p->unique = t->npk > 0;
  json_int_t chunk = json_integer_value(json_object_get(sl_read_config(rd), "chunk_rows"));
  p->chunk = chunk > 0 ? (size_t)chunk : 10000;
  for (int k = 0; k < 2; k++) {
    sl_buf_init(&p->kr[k].b, (size_t)1 << 26);
    p->kr[k].off = calloc(p->nkey + 1, sizeof(size_t));
    p->kr[k].len = calloc(p->nkey + 1, sizeof(size_t));
    p->kr[k].null = calloc(p->nkey + 1, sizeof(bool));
    if (!p->kr[k].off || !p->kr[k].len || !p->kr[k].null) return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  load_resume(p, rd, cs);
  return SL_EOK;
}

void sl_dbplan_dispose(sl_dbplan *p) {
  for (size_t i = 0; p->qkeys && i < p->nsel; i++) free(p->qkeys[i]);
  free(p->qkeys);
  free(p->qlens);
  free(p->sel);
  free(p->key);
  for (int k = 0; k < 2; k++) {
    sl_buf_dispose(&p->kr[k].b);
    free(p->kr[k].off);
    free(p->kr[k].len);
    free(p->kr[k].null);
  }
  json_decref(p->last);
  memset(p, 0, sizeof *p);
}

/* The resume point from a remembered key row. */
static sl_code set_last(sl_dbplan *p, const sl_dbkeyrow *r) {
  json_t *arr = json_array();
  if (!arr) return SL_ENOMEM;
  for (size_t i = 0; i < p->nkey; i++) {
    json_t *v = NULL;
    const char *s = r->b.data + r->off[i];
    size_t n = r->len[i];
    if (r->null[i]) v = json_null();
    else if (p->t->cols[p->key[i]].type == SL_DB_INT && n < 20) {
      char tmp[24], *end;
      memcpy(tmp, s, n);
      tmp[n] = 0;
      long long x = strtoll(tmp, &end, 10);
      if (*end == 0 && end != tmp) v = json_integer(x);
    }
    if (!v) v = json_stringn(s, n);
    json_array_append_new(arr, v);
  }
  json_decref(p->last);
  p->last = arr;
  return SL_EOK;
}

static sl_code checkpoint(sl_dbplan *p, sl_read *rd, const sl_cstream *cs);

sl_code sl_dbplan_row(sl_dbplan *p, sl_read *rd, const sl_cstream *cs, const char *const *vals,
                      const size_t *lens) {
  if (!p->nkey) return SL_EOK;
  sl_dbkeyrow *r = &p->kr[p->cur], *prev = &p->kr[!p->cur];
  r->b.len = 0;
  for (size_t i = 0; i < p->nkey; i++) {
    r->off[i] = r->b.len;
    r->len[i] = vals[i] ? lens[i] : 0;
    r->null[i] = !vals[i];
    if (vals[i] && sl_buf_append(&r->b, vals[i], lens[i])) return SL_ELIMIT;
  }
  if (!r->b.data && sl_buf_reserve(&r->b, 1)) return SL_ENOMEM;
  sl_code rc = SL_EOK;
  if (p->rows && p->since >= p->chunk) {
    bool due = p->unique;
    if (!due && p->cursor >= 0) /* a new cursor value: the previous one is complete */
      due = r->null[0] != prev->null[0] || r->len[0] != prev->len[0] ||
            memcmp(r->b.data + r->off[0], prev->b.data + prev->off[0], r->len[0]);
    if (due && !(rc = set_last(p, prev))) {
      rc = checkpoint(p, rd, cs);
      p->since = 0;
    }
  }
  p->cur = !p->cur;
  p->rows++;
  p->since++;
  return rc;
}

sl_code sl_dbplan_advance(sl_dbplan *p) {
  return p->rows && p->nkey ? set_last(p, &p->kr[!p->cur]) : SL_EOK;
}

static json_t *names(const sl_dbplan *p, size_t from) {
  json_t *a = json_array();
  for (size_t i = from; i < p->nkey; i++) json_array_append_new(a, json_string(p->t->cols[p->key[i]].name));
  return a;
}

static sl_code checkpoint(sl_dbplan *p, sl_read *rd, const sl_cstream *cs) {
  if (!p->last) return SL_EOK;
  json_t *st = json_object();
  size_t from = 0;
  if (p->cursor >= 0) {
    json_object_set_new(st, "cursor_field", json_string(p->t->cols[p->cursor].name));
    json_object_set(st, "cursor", json_array_get(p->last, 0));
    from = 1;
  }
  if (p->nkey > from) {
    json_t *last = json_array();
    for (size_t i = from; i < p->nkey; i++) json_array_append(last, json_array_get(p->last, i));
    json_object_set_new(st, "key", names(p, from));
    json_object_set_new(st, "last", last);
  }
  sl_code rc = sl_read_checkpoint(rd, st);
  json_decref(st);
  return rc;
}

sl_code sl_dbplan_finish(sl_dbplan *p, sl_read *rd, const sl_cstream *cs) {
  if (p->cursor >= 0) {
    sl_code rc = sl_dbplan_advance(p);
    if (rc) return rc;
    if (p->last) return checkpoint(p, rd, cs);
    json_t *st = json_pack("{s:s}", "cursor_field", p->t->cols[p->cursor].name);
    rc = sl_read_checkpoint(rd, st);
    json_decref(st);
    return rc;
  }
  json_t *st = json_pack("{s:b}", "__ab_no_cursor_state_message", 1);
  sl_code rc = sl_read_checkpoint(rd, st);
  json_decref(st);
  return rc;
}

sl_code sl_dbplan_where(const sl_dbplan *p, sl_buf *sql, sl_dbquote_fn quote, sl_dblit_fn lit,
                        int *order, size_t *nparams) {
  *nparams = 0;
  if (!p->last) return SL_EOK;
  /* (k0 > ?) OR (k0 = ? AND k1 > ?) OR ... */
  sl_buf_putc(sql, '(');
  for (size_t i = 0; i < p->nkey; i++) {
    if (i) sl_buf_append(sql, " OR ", 4);
    sl_buf_putc(sql, '(');
    for (size_t j = 0; j <= i; j++) {
      if (j) sl_buf_append(sql, " AND ", 5);
      quote(sql, p->t->cols[p->key[j]].name);
      sl_buf_appendf(sql, j == i ? " > " : " = ");
      if (lit) {
        lit(sql, json_array_get(p->last, j));
      } else {
        sl_buf_putc(sql, '?');
        order[(*nparams)++] = (int)j;
      }
    }
    sl_buf_putc(sql, ')');
  }
  sl_buf_putc(sql, ')');
  return sql->data ? SL_EOK : SL_ENOMEM;
}

sl_code sl_dbplan_query(const sl_dbplan *p, sl_buf *q, sl_dbquote_fn quote, sl_dblit_fn lit,
                        int *order, size_t *nparams) {
  const sl_dbtable *t = p->t;
  q->len = 0;
  sl_buf_appendf(q, "SELECT ");
  for (size_t i = 0; i < p->nsel + p->nkey; i++) {
    if (i) sl_buf_putc(q, ',');
    quote(q, t->cols[i < p->nsel ? p->sel[i] : p->key[i - p->nsel]].name);
  }
  sl_buf_appendf(q, " FROM ");
  quote(q, t->name);
  if (p->cursor >= 0 || p->last) sl_buf_appendf(q, " WHERE ");
  if (p->cursor >= 0) {
    quote(q, t->cols[p->cursor].name);
    sl_buf_appendf(q, " IS NOT NULL%s", p->last ? " AND " : "");
  }
  sl_dbplan_where(p, q, quote, lit, order, nparams);
  for (size_t i = 0; i < p->nkey; i++) {
    sl_buf_appendf(q, i ? "," : " ORDER BY ");
    quote(q, t->cols[p->key[i]].name);
  }
  return sl_buf_cstr(q) ? SL_EOK : SL_ENOMEM;
}

/* ---- values ---- */

static bool is_number_text(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  size_t d0 = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  if (i == d0 || (s[d0] == '0' && i - d0 > 1)) return false;
  if (i < n && s[i] == '.') {
    size_t f0 = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == f0) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t e0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == e0) return false;
  }
  return i == n;
}

void sl_dbval_text(sl_jw *w, sl_dbtype t, const char *s, size_t n, const char *tz_suffix) {
  switch (t) {
    case SL_DB_INT:
    case SL_DB_DECIMAL:
    case SL_DB_FLOAT:
      if (is_number_text(s, n)) sl_jw_raw(w, s, n);
      else sl_jw_str(w, s, n); /* NaN, Inf, or a database that stores anything anywhere */
      return;
    case SL_DB_BOOL:
      sl_jw_bool(w, !(n == 1 && s[0] == '0') && n > 0);
      return;
    case SL_DB_DATETIME:
    case SL_DB_TIMESTAMPTZ: {
      char b[80];
      if (n >= 19 && n < 64 && s[10] == ' ') {
        memcpy(b, s, n);
        b[10] = 'T';
        size_t m = n;
        if (t == SL_DB_TIMESTAMPTZ && tz_suffix) {
          size_t k = strlen(tz_suffix);
          memcpy(b + m, tz_suffix, k);
          m += k;
        }
        sl_jw_str(w, b, m);
        return;
      }
      sl_jw_str(w, s, n);
      return;
    }
    default:
      sl_jw_str(w, s, n);
  }
}

void sl_dbval_base64(sl_jw *w, sl_buf *scratch, const unsigned char *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  scratch->len = 0;
  if (sl_buf_ensure(scratch, (n + 2) / 3 * 4 + 1)) {
    w->rc = SL_ELIMIT;
    return;
  }
  char *o = scratch->data;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    *o++ = tab[v >> 18], *o++ = tab[v >> 12 & 63], *o++ = tab[v >> 6 & 63], *o++ = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    *o++ = tab[v >> 18], *o++ = tab[v >> 12 & 63];
    *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
    *o++ = '=';
  }
  sl_jw_str(w, scratch->data, (size_t)(o - scratch->data));
}
