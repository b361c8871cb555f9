/* source-file: the config, turned into streams.
 *
 * Either one file ({"url": ..., "format": ...}) or files under a directory
 * ({"directory": ..., "streams": [{"name", "globs", "format", ...}]}). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fsrc.h"

static const char *const def_trues[] = {"y", "yes", "t", "true", "on", "1"};
static const char *const def_falses[] = {"n", "no", "f", "false", "off", "0"};

static void strs_free(fstrs *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

static sl_code strs_push(fstrs *s, const char *v) {
  char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
  if (!nv) return SL_ENOMEM;
  s->v = nv;
  if (!(s->v[s->n] = strdup(v))) return SL_ENOMEM;
  s->n++;
  return SL_EOK;
}

/* A string array (or, where one_ok, a single string) into s. */
static sl_code strs_from(fstrs *s, const json_t *v, bool one_ok, const char *what, sl_err *err) {
  if (one_ok && json_is_string(v)) return strs_push(s, json_string_value(v));
  if (!json_is_array(v)) return sl_err_set(err, SL_ECONFIG, "%s must be an array of strings", what);
  size_t i;
  json_t *x;
  json_array_foreach(v, i, x) {
    if (!json_is_string(x)) return sl_err_set(err, SL_ECONFIG, "%s[%zu] must be a string", what, i);
    if (strs_push(s, json_string_value(x))) return SL_ENOMEM;
  }
  return SL_EOK;
}

static sl_code strs_default(fstrs *s, const char *const *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strs_push(s, v[i])) return SL_ENOMEM;
  return SL_EOK;
}

/* One character option ("," or "\t"); empty or null gives 0 where allowed. */
static sl_code char_opt(const json_t *o, const char *key, unsigned char def, bool null_ok, unsigned char *out,
                        const char *what, sl_err *err) {
  json_t *v = json_object_get(o, key);
  *out = def;
  if (!v) return SL_EOK;
  if (json_is_null(v) && null_ok) {
    *out = 0;
    return SL_EOK;
  }
  const char *s = json_string_value(v);
  if (!s || strlen(s) != 1 || (unsigned char)s[0] >= 0x80)
    return sl_err_set(err, SL_ECONFIG, "%s.%s must be one ASCII character, got %s", what, key,
                      s ? s : "a non-string");
  *out = (unsigned char)s[0];
  return SL_EOK;
}

ffmt ffmt_from_name(const char *path) {
  char low[512];
  size_t pl = strcspn(path, "?#"); /* a URL's query is not part of the name */
  const char *base = memrchr(path, '/', pl);
  base = base ? base + 1 : path;
  size_t n = (size_t)(path + pl - base);
  if (n > sizeof low - 1) n = sizeof low - 1;
  for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)base[i]);
  low[n] = 0;
  /* Strip a compression suffix, then look at the extension. */
  static const char *const comp[] = {".gz", ".gzip", ".zst", ".zstd", ".bz2"};
  for (size_t i = 0; i < sizeof comp / sizeof *comp; i++) {
    size_t cl = strlen(comp[i]);
    if (n > cl && !strcmp(low + n - cl, comp[i])) low[n -= cl] = 0;
  }
  if ((n > 6 && !strcmp(low + n - 6, ".jsonl")) || (n > 7 && !strcmp(low + n - 7, ".ndjson"))) return FMT_JSONL;
  if (n > 5 && !strcmp(low + n - 5, ".json")) return FMT_JSON;
  return FMT_CSV;
}

static sl_code load_format(fstream *s, const json_t *fmt, const char *what, sl_err *err) {
  fcsv_opts *c = &s->csv;
  c->delim = ',';
  c->quote = '"';
  c->header = true;
  const json_t *o = json_is_object(fmt) ? fmt : NULL;
  const char *ft = json_is_string(fmt) ? json_string_value(fmt) : json_string_value(json_object_get(o, "filetype"));
  if (fmt && !ft && !o) return sl_err_set(err, SL_ECONFIG, "%s.format must be a string or an object", what);
  if (ft) {
    s->fmt_given = true;
    if (!strcasecmp(ft, "csv")) s->fmt = FMT_CSV;
    else if (!strcasecmp(ft, "jsonl") || !strcasecmp(ft, "ndjson")) s->fmt = FMT_JSONL;
    else if (!strcasecmp(ft, "json")) s->fmt = FMT_JSON;
    else return sl_err_set(err, SL_ECONFIG, "%s.format: unknown file type \"%s\" (csv, jsonl or json)", what, ft);
  }
  sl_code rc;
  char w[300];
  snprintf(w, sizeof w, "%s.format", what);
  if ((rc = char_opt(o, "delimiter", ',', false, &c->delim, w, err)) ||
      (rc = char_opt(o, "quote_char", '"', false, &c->quote, w, err)) ||
      (rc = char_opt(o, "escape_char", 0, true, &c->escape, w, err)))
    return rc;
  if (c->delim == '\n' || c->delim == '\r' || c->delim == c->quote)
    return sl_err_set(err, SL_ECONFIG, "%s: the delimiter cannot be a newline or the quote character", w);
  if (c->escape == c->quote) c->escape = 0; /* doubled quotes: what libcsv does anyway */
  json_t *v;
  if ((v = json_object_get(o, "header"))) c->header = json_is_true(v);
  if ((v = json_object_get(o, "column_names"))) {
    if ((rc = strs_from(&c->columns, v, false, "format.column_names", err))) return rc;
    if (!json_object_get(o, "header")) c->header = false;
  }
  c->skip_before = json_integer_value(json_object_get(o, "skip_rows_before_header"));
  c->skip_after = json_integer_value(json_object_get(o, "skip_rows_after_header"));
  const char *enc = json_string_value(json_object_get(o, "encoding"));
  if (enc && (!strcasecmp(enc, "latin-1") || !strcasecmp(enc, "latin1") || !strcasecmp(enc, "iso-8859-1")))
    c->enc = FIN_LATIN1;
  else if (enc && strcasecmp(enc, "utf-8") && strcasecmp(enc, "utf8"))
    return sl_err_set(err, SL_ECONFIG, "%s.encoding: \"%s\" is not supported (utf-8 or latin-1)", w, enc);
  if ((v = json_object_get(o, "null_values"))) rc = strs_from(&c->nulls, v, false, "format.null_values", err);
  else rc = strs_push(&c->nulls, "");
  if (rc) return rc;
  for (size_t i = 0; i < c->nulls.n; i++)
    if (!c->nulls.v[i][0]) c->null_empty = true;
  if ((v = json_object_get(o, "true_values"))) rc = strs_from(&c->trues, v, false, "format.true_values", err);
  else rc = strs_default(&c->trues, def_trues, 6);
  if (rc) return rc;
  if ((v = json_object_get(o, "false_values"))) rc = strs_from(&c->falses, v, false, "format.false_values", err);
  else rc = strs_default(&c->falses, def_falses, 6);
  if (rc) return rc;
  const char *rag = json_string_value(json_object_get(o, "ragged_rows"));
  c->ragged_fail = rag && !strcmp(rag, "fail");
  const char *bad = json_string_value(json_object_get(o, "invalid_utf8"));
  c->utf8_fail = bad && !strcmp(bad, "fail");
  const char *parser = json_string_value(json_object_get(o, "csv_parser"));
  c->libcsv = parser && !strcmp(parser, "libcsv");
  const char *rp = json_string_value(json_object_get(o, "records_path"));
  if (rp && *rp) {
    char *dup = strdup(rp), *save = NULL;
    if (!dup) return SL_ENOMEM;
    for (char *t = strtok_r(dup, ".", &save); t; t = strtok_r(NULL, ".", &save))
      if ((rc = strs_push(&s->records_path, t))) break;
    free(dup);
    if (rc) return rc;
  }
  return SL_EOK;
}

/* Options common to both shapes, from object o (the top level or a stream). */
static sl_code load_common(fstream *s, const json_t *o, const char *what, sl_err *err) {
  const char *comp = json_string_value(json_object_get(o, "compression"));
  if (!comp) comp = "auto";
  if (strcmp(comp, "auto") && strcmp(comp, "none") && strcmp(comp, "gzip") && strcmp(comp, "zstd") &&
      strcmp(comp, "bzip2"))
    return sl_err_set(err, SL_ECONFIG, "%s.compression: \"%s\" is not one of auto, none, gzip, zstd, bzip2",
                      what, comp);
  if (!(s->compression = strdup(comp))) return SL_ENOMEM;
  sl_code rc = load_format(s, json_object_get(o, "format"), what, err);
  if (rc) return rc;
  json_t *sch = json_object_get(o, "schema");
  if (!sch) sch = json_object_get(o, "input_schema");
  if (json_is_string(sch)) /* Airbyte's file-based sources give it as JSON text */
    return sl_err_set(err, SL_ECONFIG, "%s.schema must be a JSON object (a JSON schema), not a string", what);
  if (sch && !json_is_object(sch)) return sl_err_set(err, SL_ECONFIG, "%s.schema must be an object", what);
  s->schema = sch;
  json_t *pk = json_object_get(o, "primary_key");
  if (json_is_string(pk)) { /* "a,b": a composite key */
    char *copy = strdup(json_string_value(pk)), *save = NULL;
    if (!copy) return SL_ENOMEM;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
      if (*t) rc = strs_push(&s->pk, t);
    free(copy);
    if (rc) return rc;
  } else if (pk && !json_is_null(pk) && (rc = strs_from(&s->pk, pk, false, "primary_key", err))) {
    return rc;
  }
  json_t *ir = json_object_get(o, "infer_rows");
  s->infer_rows = ir ? json_integer_value(ir) : 1000;
  if (s->infer_rows < 1) return sl_err_set(err, SL_ECONFIG, "%s.infer_rows must be at least 1", what);
  return SL_EOK;
}

/* The stream name of a single file: its base name without extensions. */
static char *name_from_url(const char *url) {
  const char *p = url, *q = strchr(url, '?');
  size_t len = q ? (size_t)(q - url) : strlen(url);
  while (len && url[len - 1] == '/') len--;
  for (size_t i = 0; i < len; i++)
    if (url[i] == '/') p = url + i + 1;
  size_t n = (size_t)(url + len - p);
  const char *dot = memchr(p, '.', n);
  if (dot && dot > p) n = (size_t)(dot - p);
  return n ? strndup(p, n) : strdup("file");
}

sl_code fconfig_load(const json_t *config, fconfig *c, sl_err *err) {
  memset(c, 0, sizeof *c);
  const char *url = json_string_value(json_object_get(config, "url"));
  const char *dir = json_string_value(json_object_get(config, "directory"));
  json_t *streams = json_object_get(config, "streams");
  if (!!url == !!dir)
    return sl_err_set(err, SL_ECONFIG, "the config needs exactly one of url (one file) or directory + streams");
  sl_code rc;
  if (url) {
    if (!*url) return sl_err_set(err, SL_ECONFIG, "url is empty");
    if (!(c->s = calloc(1, sizeof *c->s))) return SL_ENOMEM;
    c->n = 1;
    fstream *s = c->s;
    const char *dn = json_string_value(json_object_get(config, "dataset_name"));
    s->name = dn && *dn ? strdup(dn) : name_from_url(url);
    s->url = strdup(url);
    if (!s->name || !s->url) return SL_ENOMEM;
    if ((rc = load_common(s, config, "config", err))) return rc;
    if (!s->fmt_given) s->fmt = ffmt_from_name(url);
    return SL_EOK;
  }
  if (!*dir) return sl_err_set(err, SL_ECONFIG, "directory is empty");
  if (!json_is_array(streams) || !json_array_size(streams))
    return sl_err_set(err, SL_ECONFIG, "directory needs streams: [{\"name\": ..., \"globs\": [...]}]");
  size_t n = json_array_size(streams);
  if (!(c->s = calloc(n, sizeof *c->s))) return SL_ENOMEM;
  c->n = n;
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(streams, i);
    fstream *s = &c->s[i];
    char what[64];
    snprintf(what, sizeof what, "streams[%zu]", i);
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_object(o) || !name || !*name)
      return sl_err_set(err, SL_ECONFIG, "%s needs a name", what);
    for (size_t j = 0; j < i; j++)
      if (!strcmp(c->s[j].name, name)) return sl_err_set(err, SL_ECONFIG, "%s: stream name \"%s\" is used twice", what, name);
    if (!(s->name = strdup(name)) || !(s->dir = strdup(dir))) return SL_ENOMEM;
    json_t *g = json_object_get(o, "globs");
    if (!g) return sl_err_set(err, SL_ECONFIG, "%s (%s) needs globs, e.g. [\"**/*.csv\"]", what, name);
    if ((rc = strs_from(&s->globs, g, true, "globs", err))) return rc;
    if (!s->globs.n) return sl_err_set(err, SL_ECONFIG, "%s (%s): globs is empty", what, name);
    if ((rc = load_common(s, o, what, err))) return rc;
    json_t *dd = json_object_get(o, "days_to_sync_if_history_is_full");
    s->days_if_full = dd ? json_integer_value(dd) : 3;
    if (dd && (!json_is_integer(dd) || s->days_if_full < 1))
      return sl_err_set(err, SL_ECONFIG, "%s (%s): days_to_sync_if_history_is_full must be a whole number of days, at "
                        "least 1", what, name);
    if (!s->fmt_given) s->fmt = ffmt_from_name(s->globs.v[0]);
  }
  return SL_EOK;
}

/* Configs of older versions: a "format" given as a file type name, a
 * primary_key given as a list. */
static bool migrate_one(json_t *o) {
  bool changed = false;
  json_t *f = json_object_get(o, "format"), *pk = json_object_get(o, "primary_key");
  if (json_is_string(f)) {
    json_object_set_new(o, "format", json_pack("{s:s}", "filetype", json_string_value(f)));
    changed = true;
  }
  if (json_is_array(pk)) {
    sl_buf b;
    sl_buf_init(&b, 1 << 16);
    size_t i;
    json_t *x;
    json_array_foreach(pk, i, x) if (json_is_string(x)) sl_buf_appendf(&b, "%s%s", b.len ? "," : "", json_string_value(x));
    json_object_set_new(o, "primary_key", json_string(sl_buf_cstr(&b)));
    sl_buf_dispose(&b);
    changed = true;
  }
  return changed;
}

bool fconfig_migrate(json_t *config) {
  bool changed = migrate_one(config);
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(config, "streams"), i, s) if (json_is_object(s)) changed |= migrate_one(s);
  return changed;
}

void fconfig_free(fconfig *c) {
  for (size_t i = 0; i < c->n; i++) {
    fstream *s = &c->s[i];
    free(s->name);
    free(s->url);
    free(s->dir);
    free(s->compression);
    strs_free(&s->globs);
    strs_free(&s->csv.columns);
    strs_free(&s->csv.nulls);
    strs_free(&s->csv.trues);
    strs_free(&s->csv.falses);
    strs_free(&s->records_path);
    strs_free(&s->pk);
  }
  free(c->s);
  memset(c, 0, sizeof *c);
}

fstream *fconfig_find(fconfig *c, const char *name) {
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->s[i].name, name)) return &c->s[i];
  return NULL;
}
