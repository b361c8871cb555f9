/* Non-JSON decoders (the SHOULD tier, notes §5.2): JsonlDecoder,
 * CsvDecoder (libcsv, as csv.DictReader), XmlDecoder (libxml2, in
 * xmltodict's shape), GzipDecoder (zlib), ZipfileDecoder (libzip),
 * IterableDecoder and JsonItemsDecoder. A decoder turns a response body into
 * JSON text, an array of the decoded items, which the read loop then parses
 * like any JSON page: the extractor sees each item, the paginator the first. */
#include <csv.h>
#include <ctype.h>
#include <iconv.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <zip.h>
#include <zlib.h>

#include "lc.h"

#define MAX_OUT ((size_t)1 << 33)
/* Largest inflated body or zip entry: a bound on gzip/zip bombs. */
#define MAX_INFLATED ((size_t)1 << 30)
#define MAX_NEST 8

typedef enum { D_JSON, D_JSONL, D_CSV, D_XML, D_GZIP, D_ZIP, D_ITER, D_ITEMS } dkind;

struct lc_decoder {
  dkind k;
  const json_t *node;
  char *encoding;      /* CSV, JsonItems: NULL = utf-8 */
  char delim;          /* CSV */
  json_t *to_none;     /* CSV set_values_to_none (array of strings) */
  char **items_path;   /* JsonItems */
  size_t n_items_path;
  lc_decoder *inner;   /* Gzip, Zipfile */
  sl_jparser *lines;   /* JSONL: checks each line (simdjson), which is copied as it is */
};

static const struct {
  const char *type;
  dkind k;
} KINDS[] = {{"JsonDecoder", D_JSON}, {"JsonlDecoder", D_JSONL}, {"CsvDecoder", D_CSV},
             {"XmlDecoder", D_XML},   {"GzipDecoder", D_GZIP},   {"ZipfileDecoder", D_ZIP},
             {"IterableDecoder", D_ITER}, {"JsonItemsDecoder", D_ITEMS}};

static sl_code build(lc_source *src, const json_t *node, int depth, lc_decoder **out, sl_err *err) {
  *out = NULL;
  const char *type = json_string_value(json_object_get(node, "type"));
  if (!type) type = "JsonDecoder";
  int k = -1;
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
    if (!strcmp(KINDS[i].type, type)) k = (int)KINDS[i].k;
  if (k < 0)
    return sl_err_set(err, SL_ECONFIG, "%s: decoder %s is not supported%s", LC_WHERE(src, node), type,
                      !strncmp(type, "Custom", 6) ? " (it needs Python code)" : "");
  if (depth > MAX_NEST) return sl_err_set(err, SL_ECONFIG, "%s: decoders nested too deeply", LC_WHERE(src, node));
  lc_decoder *d = calloc(1, sizeof *d);
  if (!d) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = d;
  d->k = (dkind)k;
  d->node = node;
  const char *enc = json_string_value(json_object_get(node, "encoding"));
  if (enc && strcasecmp(enc, "utf-8") && strcasecmp(enc, "utf8")) d->encoding = strdup(enc);
  if (d->k == D_JSONL && !(d->lines = sl_jparser_new((size_t)1 << 30)))
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  if (d->k == D_CSV) {
    const char *dl = json_string_value(json_object_get(node, "delimiter"));
    if (!dl) dl = ",";
    /* "\t" written as backslash-t is unescaped, as the CDK does */
    if (!strcmp(dl, "\\t")) d->delim = '\t';
    else if (strlen(dl) == 1) d->delim = dl[0];
    else return sl_err_set(err, SL_ECONFIG, "%s: the CSV delimiter must be one character, not \"%s\"", LC_WHERE(src, node), dl);
    const json_t *none = json_object_get(node, "set_values_to_none");
    if (json_is_array(none)) d->to_none = json_incref((json_t *)none);
  } else if (d->k == D_ITEMS) {
    const char *p = json_string_value(json_object_get(node, "items_path"));
    if (!p || !*p) return sl_err_set(err, SL_ECONFIG, "%s: JsonItemsDecoder needs a non-empty items_path", LC_WHERE(src, node));
    size_t n = 1;
    for (const char *c = p; *c; c++) n += *c == '.';
    d->items_path = calloc(n, sizeof *d->items_path);
    char *copy = strdup(p), *save = NULL;
    for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) d->items_path[d->n_items_path++] = strdup(t);
    free(copy);
  } else if (d->k == D_GZIP || d->k == D_ZIP) {
    const json_t *in = json_object_get(node, "decoder");
    if (!json_is_object(in)) return sl_err_set(err, SL_ECONFIG, "%s: %s needs an inner `decoder`", LC_WHERE(src, node), type);
    sl_code rc = build(src, in, depth + 1, &d->inner, err);
    if (rc) return rc;
    if (d->inner->k == D_XML || d->inner->k == D_ZIP || d->inner->k == D_ITER)
      return sl_err_set(err, SL_ECONFIG, "%s: a %s cannot be nested in %s", LC_WHERE(src, in), KINDS[d->inner->k].type, type);
  }
  return SL_EOK;
}

sl_code lc_decoder_build(lc_source *src, const json_t *node, lc_decoder **out, sl_err *err) {
  *out = NULL;
  if (!node || json_is_null(node)) return SL_EOK;
  const char *type = json_string_value(json_object_get(node, "type"));
  if (type && !strcmp(type, "JsonDecoder")) return SL_EOK; /* the read loop's own path */
  return build(src, node, 0, out, err);
}

void lc_decoder_free(lc_decoder *d) {
  if (!d) return;
  free(d->encoding);
  json_decref(d->to_none);
  for (size_t i = 0; i < d->n_items_path; i++) free(d->items_path[i]);
  free(d->items_path);
  lc_decoder_free(d->inner);
  sl_jparser_free(d->lines);
  free(d);
}

/* ---- helpers ---- */

typedef struct dout {
  sl_buf *b;
  size_t items;
} dout;

static sl_code put_item(dout *o, const json_t *v, sl_err *err) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_code rc = (o->items++ ? sl_buf_putc(o->b, ',') : SL_EOK);
  if (!rc) rc = sl_buf_append(o->b, s, strlen(s));
  free(s);
  return rc ? sl_err_set(err, rc, "the decoded response is larger than %zu bytes", o->b->max) : SL_EOK;
}

/* Text in `enc` to UTF-8 (new malloc'd buffer, *n updated). */
static sl_code recode(const char *enc, const char *in, size_t *n, char **out, const char *what, sl_err *err) {
  /* Python's codec names that iconv spells differently */
  char name[64];
  size_t k = 0;
  for (; enc[k] && k + 1 < sizeof name; k++) name[k] = enc[k] == '_' ? '-' : (char)tolower((unsigned char)enc[k]);
  name[k] = 0;
  if (!strcmp(name, "latin-1") || !strcmp(name, "l1")) snprintf(name, sizeof name, "LATIN1");
  if (!strcmp(name, "utf-8-sig") || !strcmp(name, "utf8-sig")) { /* UTF-8 less a leading BOM */
    size_t skip = *n >= 3 && !memcmp(in, "\xEF\xBB\xBF", 3) ? 3 : 0;
    char *buf = malloc(*n - skip + SL_BUF_PAD);
    if (!buf) return sl_err_set(err, SL_ENOMEM, "out of memory");
    memcpy(buf, in + skip, *n - skip);
    *n -= skip;
    *out = buf;
    return SL_EOK;
  }
  iconv_t cd = iconv_open("UTF-8", name);
  if (cd == (iconv_t)-1) return sl_err_set(err, SL_ECONFIG, "%s: unknown encoding \"%s\"", what, enc);
  size_t cap = *n * 4 + 4, left = cap, inl = *n;
  char *buf = malloc(cap + SL_BUF_PAD), *op = buf, *ip = (char *)in; /* padded for the JSON parser */
  sl_code rc = buf ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
  if (!rc && iconv(cd, &ip, &inl, &op, &left) == (size_t)-1)
    rc = sl_err_set(err, SL_ESOURCE, "%s: the body is not valid %s at byte %zu", what, enc, (size_t)(ip - in));
  iconv_close(cd);
  if (rc) {
    free(buf);
    return rc;
  }
  *n = cap - left;
  *out = buf;
  return SL_EOK;
}

/* ---- JSON lines, iterable lines, JSON, JSON items ---- */

static sl_code dec_lines(lc_source *src, const lc_decoder *d, const char *s, size_t n, dout *o, const char *what,
                         sl_err *err) {
  size_t lineno = 0;
  for (size_t i = 0; i < n;) {
    const char *nl = memchr(s + i, '\n', n - i);
    size_t end = nl ? (size_t)(nl - s) : n, len = end - i;
    lineno++;
    const char *line = s + i;
    i = end + 1;
    if (d->k == D_ITER) { /* {"record": line} without its line end */
      if (len && line[len - 1] == '\r') len--;
      json_t *r = json_pack("{s:s%}", "record", line, len);
      if (!r) return sl_err_set(err, SL_ESOURCE, "%s line %zu is not UTF-8 text", what, lineno);
      sl_code rc = put_item(o, r, err);
      json_decref(r);
      if (rc) return rc;
      continue;
    }
    sl_jv root;
    sl_err perr = SL_ERR_INIT;
    if (sl_jparser_parse(d->lines, line, len, &root, "the line", &perr)) { /* the CDK logs it and goes on */
      if (len && !(len == 1 && line[0] == '\r'))
        lc_log(src, "WARN", "%s line %zu is not JSON (%s); skipped", what, lineno, perr.msg);
      continue;
    }
    sl_code rc = (o->items++ ? sl_buf_putc(o->b, ',') : SL_EOK);
    if (!rc) rc = sl_buf_append(o->b, line, len);
    if (rc) return sl_err_set(err, rc, "the decoded response is larger than %zu bytes", o->b->max);
  }
  return SL_EOK;
}

/* JsonParser: a list is its items, anything else one item. */
static sl_code dec_json(const lc_decoder *d, const char *s, size_t n, dout *o, const char *what, sl_err *err) {
  json_error_t je;
  json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &je);
  if (!v) return sl_err_set(err, SL_ESOURCE, "%s is not valid JSON: %s at line %d column %d", what, je.text, je.line, je.column);
  sl_code rc = SL_EOK;
  if (d->k == D_ITEMS) { /* the array at items_path */
    json_t *cur = v;
    for (size_t i = 0; i < d->n_items_path && cur; i++) cur = json_object_get(cur, d->items_path[i]);
    size_t i;
    json_t *x;
    json_array_foreach(cur, i, x) if ((rc = put_item(o, x, err))) break;
  } else if (json_is_array(v)) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if ((rc = put_item(o, x, err))) break;
  } else {
    rc = put_item(o, v, err);
  }
  json_decref(v);
  return rc;
}

/* ---- CSV (csv.DictReader: a header row, then one object of strings per row) ---- */

/* Rows are written straight as JSON text; a header with a repeated name
 * (where a later column wins) goes through jansson objects instead. */
typedef struct csvc {
  const lc_decoder *d;
  dout *o;
  json_t *header, *row;
  bool dup_names;
  sl_buf rowbuf;
  sl_jw w;
  bool in_row;
  size_t col;
  sl_code rc;
  sl_err *err;
} csvc;

static bool to_none(const csvc *c, const char *s, size_t len) {
  size_t i;
  json_t *x;
  json_array_foreach(c->d->to_none, i, x) if (json_string_length(x) == len && !memcmp(json_string_value(x), s, len)) return true;
  return false;
}

static void csv_field(void *s, size_t len, void *ud) {
  csvc *c = ud;
  if (c->rc) return;
  const char *t = s ? s : "";
  if (!s) len = 0;
  if (!c->header) {
    if (!c->row) c->row = json_array();
    json_t *v = json_stringn(t, len);
    if (!v) c->rc = sl_err_set(c->err, SL_ESOURCE, "a CSV header name is not valid text");
    else json_array_append_new(c->row, v);
    return;
  }
  size_t ncols = json_array_size(c->header);
  if (c->col >= ncols) { /* DictReader files extra fields under the key None: dropped */
    c->col++;
    return;
  }
  const json_t *key = json_array_get(c->header, c->col);
  bool none = to_none(c, t, len);
  if (c->dup_names) {
    if (!c->row) c->row = json_object();
    json_t *v = none ? json_null() : json_stringn(t, len);
    if (!v) c->rc = sl_err_set(c->err, SL_ESOURCE, "a CSV value is not valid text");
    else json_object_set_new(c->row, json_string_value(key), v);
  } else {
    if (!c->in_row) {
      c->rowbuf.len = 0;
      sl_jw_init(&c->w, &c->rowbuf);
      sl_jw_obj_open(&c->w);
      c->in_row = true;
    }
    sl_jw_key(&c->w, json_string_value(key), json_string_length(key));
    if (none) sl_jw_null(&c->w);
    else sl_jw_str(&c->w, t, len);
  }
  c->col++;
}

static void csv_row(int term, void *ud) {
  csvc *c = ud;
  if (c->rc) return;
  size_t ncols = c->header ? json_array_size(c->header) : 0;
  if (!c->header) {
    c->header = c->row ? c->row : json_array();
    c->row = NULL;
    for (size_t i = 0; i < json_array_size(c->header) && !c->dup_names; i++)
      for (size_t j = 0; j < i && !c->dup_names; j++)
        c->dup_names = json_equal(json_array_get(c->header, i), json_array_get(c->header, j));
  } else if (c->dup_names && c->row) {
    /* short rows: the names past the row's end are None, even a repeated
     * name that already has a value (as DictReader) */
    for (size_t i = c->col; i < ncols; i++)
      json_object_set_new(c->row, json_string_value(json_array_get(c->header, i)), json_null());
    c->rc = put_item(c->o, c->row, c->err);
    json_decref(c->row);
    c->row = NULL;
  } else if (c->in_row) {
    for (size_t i = c->col; i < ncols; i++) {
      const json_t *key = json_array_get(c->header, i);
      sl_jw_key(&c->w, json_string_value(key), json_string_length(key));
      sl_jw_null(&c->w);
    }
    sl_jw_obj_close(&c->w);
    sl_code rc = c->w.rc ? c->w.rc : (c->o->items++ ? sl_buf_putc(c->o->b, ',') : SL_EOK);
    if (!rc) rc = sl_buf_append(c->o->b, c->rowbuf.data, c->rowbuf.len);
    if (rc) c->rc = sl_err_set(c->err, rc, "the decoded response is larger than %zu bytes", c->o->b->max);
    c->in_row = false;
  }
  c->col = 0;
}

static int csv_no_space(unsigned char ch) { return 0; }

static sl_code dec_csv(const lc_decoder *d, const char *s, size_t n, dout *o, const char *what, sl_err *err) {
  struct csv_parser p;
  if (csv_init(&p, 0)) return sl_err_set(err, SL_ENOMEM, "out of memory");
  csv_set_delim(&p, (unsigned char)d->delim);
  csv_set_space_func(&p, csv_no_space);
  csvc c = {.d = d, .o = o, .err = err};
  sl_buf_init(&c.rowbuf, MAX_INFLATED);
  if (csv_parse(&p, s, n, csv_field, csv_row, &c) != n && !c.rc)
    c.rc = sl_err_set(err, SL_ESOURCE, "%s: CSV error: %s", what, csv_strerror(csv_error(&p)));
  if (!c.rc && csv_fini(&p, csv_field, csv_row, &c) && !c.rc)
    c.rc = sl_err_set(err, SL_ESOURCE, "%s: CSV error: %s", what, csv_strerror(csv_error(&p)));
  csv_free(&p);
  json_decref(c.header);
  json_decref(c.row);
  sl_buf_dispose(&c.rowbuf);
  return c.rc;
}

/* ---- XML (xmltodict.parse: attributes "@name", text "#text", repeated
 * children become lists, whitespace stripped, an empty element is None) ---- */

static char *qname(const xmlChar *name, const xmlNs *ns) {
  char *s;
  if (ns && ns->prefix) {
    if (asprintf(&s, "%s:%s", (const char *)ns->prefix, (const char *)name) < 0) return NULL;
    return s;
  }
  return strdup((const char *)name);
}

static void add_child(json_t *obj, const char *key, json_t *v) {
  json_t *have = json_object_get(obj, key);
  if (!have) {
    json_object_set_new(obj, key, v);
  } else if (json_is_array(have)) {
    json_array_append_new(have, v);
  } else {
    json_t *list = json_pack("[O]", have);
    json_array_append_new(list, v);
    json_object_set_new(obj, key, list);
  }
}

static json_t *xml_value(xmlNode *el, int depth) {
  json_t *obj = NULL;
  for (xmlNs *ns = el->nsDef; ns; ns = ns->next) {
    if (!obj) obj = json_object();
    char *k;
    if (asprintf(&k, ns->prefix ? "@xmlns:%s" : "@xmlns", ns->prefix ? (const char *)ns->prefix : "") < 0) continue;
    json_object_set_new(obj, k, json_string((const char *)ns->href));
    free(k);
  }
  for (xmlAttr *a = el->properties; a; a = a->next) {
    if (!obj) obj = json_object();
    char *name = qname(a->name, a->ns), *k = NULL;
    xmlChar *val = xmlNodeListGetString(el->doc, a->children, 1);
    if (name && asprintf(&k, "@%s", name) >= 0) json_object_set_new(obj, k, json_string(val ? (const char *)val : ""));
    free(k);
    free(name);
    xmlFree(val);
  }
  sl_buf text;
  sl_buf_init(&text, MAX_OUT);
  for (xmlNode *ch = el->children; ch; ch = ch->next) {
    if (ch->type == XML_ELEMENT_NODE) {
      if (!obj) obj = json_object();
      char *name = qname(ch->name, ch->ns);
      if (name) add_child(obj, name, depth < 256 ? xml_value(ch, depth + 1) : json_null());
      free(name);
    } else if (ch->type == XML_TEXT_NODE || ch->type == XML_CDATA_SECTION_NODE) {
      if (ch->content) sl_buf_append(&text, ch->content, strlen((const char *)ch->content));
    }
  }
  /* str.strip(): ASCII whitespace and the other Unicode spaces are rare in
   * data; strip the ASCII ones */
  const char *t = sl_buf_cstr(&text);
  size_t tl = text.len;
  while (tl && strchr(" \t\n\r\v\f", *t)) t++, tl--;
  while (tl && strchr(" \t\n\r\v\f", t[tl - 1])) tl--;
  json_t *out;
  if (!obj) {
    out = tl ? json_stringn(t, tl) : json_null();
  } else {
    if (tl) json_object_set_new(obj, "#text", json_stringn(t, tl));
    out = obj;
  }
  sl_buf_dispose(&text);
  return out ? out : json_null();
}

static sl_code dec_xml(const char *s, size_t n, dout *o, const char *what, sl_err *err) {
  if (n > INT32_MAX) return sl_err_set(err, SL_ELIMIT, "%s: the XML body is too large", what);
  xmlDoc *doc = xmlReadMemory(s, (int)n, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  if (!doc) {
    const xmlError *e = xmlGetLastError();
    char msg[300];
    snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "not well-formed");
    size_t ml = strlen(msg);
    while (ml && msg[ml - 1] == '\n') msg[--ml] = 0;
    return sl_err_set(err, SL_ESOURCE, "%s is not valid XML: %s (line %d)", what, msg, e ? e->line : 0);
  }
  xmlNode *root = xmlDocGetRootElement(doc);
  json_t *v = json_object();
  if (root) {
    char *name = qname(root->name, root->ns);
    if (name) json_object_set_new(v, name, xml_value(root, 0));
    free(name);
  }
  xmlFreeDoc(doc);
  sl_code rc = put_item(o, v, err);
  json_decref(v);
  return rc;
}

/* ---- gzip and zip ---- */

static sl_code dec_any(lc_source *src, const lc_decoder *d, const char *s, size_t n, dout *o, const char *what,
                       sl_err *err);

/* GzipParser: gzip data (by its magic bytes) is inflated, anything else is
 * passed through (libcurl may already have undone a Content-Encoding). */
static sl_code dec_gzip(lc_source *src, const lc_decoder *d, const char *s, size_t n, dout *o, const char *what,
                        sl_err *err) {
  if (n < 2 || (unsigned char)s[0] != 0x1f || (unsigned char)s[1] != 0x8b) return dec_any(src, d->inner, s, n, o, what, err);
  sl_buf out;
  sl_buf_init(&out, MAX_INFLATED);
  z_stream z = {0};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return sl_err_set(err, SL_ENOMEM, "out of memory");
  z.next_in = (Bytef *)s;
  z.avail_in = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
  sl_code rc = SL_EOK;
  for (;;) {
    if ((rc = sl_buf_reserve(&out, 1 << 16))) {
      rc = sl_err_set(err, rc, "%s: the gunzipped body is larger than %zu bytes", what, out.max);
      break;
    }
    z.next_out = (Bytef *)out.data + out.len;
    z.avail_out = 1 << 16;
    int zr = inflate(&z, Z_NO_FLUSH);
    out.len += (1 << 16) - z.avail_out;
    if (zr == Z_STREAM_END) {
      if (!z.avail_in) break;
      inflateReset(&z); /* concatenated members, as gzip.GzipFile reads them */
      continue;
    }
    if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out)) {
      rc = sl_err_set(err, SL_ESOURCE, "%s: the gzip data is corrupt (%s)", what, z.msg ? z.msg : "inflate failed");
      break;
    }
    if (zr == Z_BUF_ERROR) {
      rc = sl_err_set(err, SL_ESOURCE, "%s: the gzip data is truncated", what);
      break;
    }
  }
  inflateEnd(&z);
  if (!rc) rc = dec_any(src, d->inner, out.data ? out.data : "", out.len, o, what, err);
  sl_buf_dispose(&out);
  return rc;
}

static sl_code dec_zip(lc_source *src, const lc_decoder *d, const char *s, size_t n, dout *o, const char *what,
                       sl_err *err) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *zs = zip_source_buffer_create(s, n, 0, &ze);
  zip_t *za = zs ? zip_open_from_source(zs, ZIP_RDONLY, &ze) : NULL;
  if (!za) {
    sl_code rc = sl_err_set(err, SL_ESOURCE, "%s: received an invalid zip file (%zu bytes): %s", what, n, zip_error_strerror(&ze));
    if (zs) zip_source_free(zs);
    zip_error_fini(&ze);
    return rc;
  }
  zip_error_fini(&ze);
  sl_code rc = SL_EOK;
  zip_int64_t count = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < count && !rc; i++) {
    zip_stat_t st;
    const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) || !(st.valid & ZIP_STAT_SIZE) || st.size > MAX_INFLATED) {
      rc = sl_err_set(err, SL_ESOURCE, "%s: the zip entry %s cannot be read", what, name ? name : "?");
      break;
    }
    char *buf = malloc(st.size + SL_BUF_PAD); /* padded for the JSON parser */
    zip_file_t *zf = buf ? zip_fopen_index(za, (zip_uint64_t)i, 0) : NULL;
    zip_int64_t got = zf ? zip_fread(zf, buf, st.size) : -1;
    if (zf) zip_fclose(zf);
    if (got < 0 || (zip_uint64_t)got != st.size) {
      rc = sl_err_set(err, SL_ESOURCE, "%s: failed to read %s from the zip file (%s)", what, name ? name : "?",
                      zip_strerror(za));
    } else {
      char w[1200];
      snprintf(w, sizeof w, "%s, file %s of the zip", what, name ? name : "?");
      rc = dec_any(src, d->inner, buf, (size_t)got, o, w, err);
    }
    free(buf);
  }
  zip_discard(za);
  return rc;
}

static sl_code dec_any(lc_source *src, const lc_decoder *d, const char *s, size_t n, dout *o, const char *what,
                       sl_err *err) {
  char *re = NULL;
  if (d->encoding && d->k != D_GZIP && d->k != D_ZIP) {
    sl_code rc = recode(d->encoding, s, &n, &re, what, err);
    if (rc) return rc;
    s = re;
  }
  sl_code rc;
  switch (d->k) {
  case D_JSONL:
  case D_ITER: rc = dec_lines(src, d, s, n, o, what, err); break;
  case D_JSON:
  case D_ITEMS: rc = dec_json(d, s, n, o, what, err); break;
  case D_CSV: rc = dec_csv(d, s, n, o, what, err); break;
  case D_XML: rc = dec_xml(s, n, o, what, err); break;
  case D_GZIP: rc = dec_gzip(src, d, s, n, o, what, err); break;
  case D_ZIP: rc = dec_zip(src, d, s, n, o, what, err); break;
  default: rc = sl_err_set(err, SL_EINTERNAL, "unknown decoder");
  }
  free(re);
  return rc;
}

sl_code lc_decoder_decode(lc_source *src, const lc_decoder *d, const char *body, size_t len, sl_buf *out,
                          const char *what, sl_err *err) {
  out->len = 0;
  dout o = {out, 0};
  sl_code rc = sl_buf_putc(out, '[');
  if (!rc) rc = dec_any(src, d, body, len, &o, what, err);
  else sl_err_set(err, rc, "out of memory");
  if (!rc && (rc = sl_buf_putc(out, ']'))) sl_err_set(err, rc, "the decoded response is too large");
  if (rc) return sl_err_wrap(err, "decoder %s at %s", KINDS[d->k].type, LC_WHERE(src, d->node));
  return SL_EOK;
}
