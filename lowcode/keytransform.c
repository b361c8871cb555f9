/* Key transformations (the SHOULD tier, notes §5.2): KeysToLower,
 * KeysToSnakeCase, KeysReplace, FlattenFields and DpathFlattenFields with
 * its KeyTransformation. Each follows the Python CDK's transformation
 * exactly, including its quirks (FlattenFields walks a stack, so a key that
 * clashes is named after its parent path; KeysReplace with an empty `old`
 * inserts between every character as str.replace does). */
#include <iconv.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <wchar.h>
#include <wctype.h>

#include "lc.h"

typedef enum { K_LOWER, K_SNAKE, K_REPLACE, K_FLATTEN, K_DPATH } kind;

struct lc_keytf {
  kind k;
  const json_t *node;
  sl_tmpl *old, *new_;     /* KeysReplace */
  bool flatten_lists;      /* FlattenFields */
  sl_tmpl **path;          /* DpathFlattenFields */
  size_t n_path;
  bool delete_origin, replace_record;
  char *prefix, *suffix;   /* KeyTransformation, rendered once with config */
};

static const struct {
  const char *type;
  kind k;
} KINDS[] = {{"KeysToLower", K_LOWER}, {"KeysToSnakeCase", K_SNAKE}, {"KeysReplace", K_REPLACE},
             {"FlattenFields", K_FLATTEN}, {"DpathFlattenFields", K_DPATH}};

bool lc_keytf_handles(const char *type) {
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
    if (!strcmp(KINDS[i].type, type)) return true;
  return false;
}

sl_code lc_keytf_build(lc_source *src, const json_t *node, const char *type, lc_keytf **out, sl_err *err) {
  lc_keytf *k = calloc(1, sizeof *k);
  if (!k) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = k;
  k->node = node;
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
    if (!strcmp(KINDS[i].type, type)) k->k = KINDS[i].k;
  sl_code rc = SL_EOK;
  if (k->k == K_REPLACE) {
    if (!json_is_string(json_object_get(node, "old")) || !json_is_string(json_object_get(node, "new")))
      return sl_err_set(err, SL_ECONFIG, "%s: KeysReplace needs the strings `old` and `new`", LC_WHERE(src, node));
    if ((rc = lc_tmpl_field(src, node, "old", &k->old, err))) return rc;
    if ((rc = lc_tmpl_field(src, node, "new", &k->new_, err))) return rc;
  } else if (k->k == K_FLATTEN) {
    const json_t *fl = json_object_get(node, "flatten_lists");
    k->flatten_lists = !fl || json_is_true(fl);
  } else if (k->k == K_DPATH) {
    const json_t *fp = json_object_get(node, "field_path");
    if (!json_array_size(fp))
      return sl_err_set(err, SL_ECONFIG, "%s: DpathFlattenFields needs a non-empty field_path", LC_WHERE(src, node));
    k->path = calloc(json_array_size(fp), sizeof *k->path);
    if (!k->path) return sl_err_set(err, SL_ENOMEM, "out of memory");
    size_t i;
    json_t *seg;
    json_array_foreach(fp, i, seg) {
      if ((rc = lc_tmpl_value(src, node, "field_path", seg, &k->path[k->n_path++], err))) return rc;
    }
    k->delete_origin = json_is_true(json_object_get(node, "delete_origin_value"));
    k->replace_record = json_is_true(json_object_get(node, "replace_record"));
    const json_t *kt = json_object_get(node, "key_transformation");
    if (json_is_object(kt)) {
      if ((rc = lc_render_field(src, kt, "prefix", &k->prefix, err))) return rc;
      if ((rc = lc_render_field(src, kt, "suffix", &k->suffix, err))) return rc;
    }
  }
  return SL_EOK;
}

void lc_keytf_free(lc_keytf *k) {
  if (!k) return;
  sl_tmpl_free(k->old);
  sl_tmpl_free(k->new_);
  for (size_t i = 0; i < k->n_path; i++) sl_tmpl_free(k->path[i]);
  free(k->path);
  free(k->prefix);
  free(k->suffix);
  free(k);
}

/* ---- key spelling ---- */

/* Lower-case of UTF-8 text as str.lower() (per code point). */
static void lower_utf8(const char *s, sl_buf *out) {
  static locale_t utf8;
  if (!utf8) utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
  mbstate_t ms = {0};
  size_t len = strlen(s);
  while (len) {
    wchar_t wc;
    size_t n = (unsigned char)*s < 0x80 ? 0 : mbrtowc(&wc, s, len, &ms);
    char mb[MB_LEN_MAX];
    size_t m = (size_t)-1;
    if (n && n != (size_t)-1 && n != (size_t)-2) {
      mbstate_t ws = {0};
      m = wcrtomb(mb, (wchar_t)towlower((wint_t)wc), &ws);
    }
    if (m != (size_t)-1) {
      sl_buf_put(out, mb, m);
    } else { /* ASCII, or bytes that are not UTF-8: as they are */
      n = 1;
      sl_buf_putc(out, *s >= 'A' && *s <= 'Z' ? (char)(*s + 32) : *s);
      memset(&ms, 0, sizeof ms);
    }
    s += n, len -= n;
  }
  if (utf8) uselocale(old);
}

/* anyascii stand-in: glibc's transliteration to ASCII (é -> e); code points
 * it cannot spell become '?', which the tokenizer then treats as a separator. */
static char *to_ascii(const char *s) {
  bool ascii = true;
  for (const char *p = s; *p && ascii; p++) ascii = (unsigned char)*p < 0x80;
  if (ascii) return strdup(s);
  static locale_t utf8;
  if (!utf8) utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
  locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
  iconv_t cd = iconv_open("ASCII//TRANSLIT", "UTF-8");
  size_t in_left = strlen(s), cap = in_left * 4 + 16;
  char *out = malloc(cap), *op = out, *ip = (char *)s;
  size_t out_left = cap - 1;
  if (cd != (iconv_t)-1 && out) {
    while (in_left && iconv(cd, &ip, &in_left, &op, &out_left) == (size_t)-1) {
      if (!out_left) break;
      *op++ = '?', out_left--; /* unconvertible or invalid: skip one byte */
      ip++, in_left--;
      while (in_left && ((unsigned char)*ip & 0xC0) == 0x80) ip++, in_left--;
    }
    *op = 0;
  } else if (out) {
    snprintf(out, cap, "%s", s);
  }
  if (cd != (iconv_t)-1) iconv_close(cd);
  if (utf8) uselocale(old);
  return out;
}

static bool is_up(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lo(char c) { return c >= 'a' && c <= 'z'; }
static bool is_dg(char c) { return c >= '0' && c <= '9'; }

/* KeysToSnakeCase.process_key: tokens of
 * [A-Z]+[a-z]* | [a-z]+ | \d+ | (?P<NoToken>[^a-zA-Z\d]+) (a NoToken is ""),
 * inner empty tokens dropped when there are three or more, a leading ""
 * when the first token is digits, joined by "_" in lower case. */
static void snake_key(const char *key, sl_buf *out) {
  char *a = to_ascii(key);
  if (!a) return;
  size_t cap = strlen(a) + 2, nt = 0;
  const char **ts = calloc(cap, sizeof *ts);
  size_t *tl = calloc(cap, sizeof *tl);
  if (!ts || !tl) goto done;
  ts[nt] = "", tl[nt] = 0; /* slot 0 reserved for a leading "" */
  nt = 1;
  for (const char *p = a; *p;) {
    const char *st = p;
    bool none = false;
    if (is_up(*p)) {
      while (is_up(*p)) p++;
      while (is_lo(*p)) p++;
    } else if (is_lo(*p)) {
      while (is_lo(*p)) p++;
    } else if (is_dg(*p)) {
      while (is_dg(*p)) p++;
    } else {
      while (*p && !is_up(*p) && !is_lo(*p) && !is_dg(*p)) p++;
      none = true;
    }
    ts[nt] = st, tl[nt] = none ? 0 : (size_t)(p - st), nt++;
  }
  size_t first = 1, count = nt - 1;
  bool lead = count && is_dg(ts[1][0]) && tl[1];
  bool wrote = false;
  if (lead) first = 0;
  for (size_t i = first; i < nt; i++) {
    bool inner = i > 1 && i + 1 < nt;
    if (count >= 3 && inner && !tl[i]) continue;
    if (wrote) sl_buf_putc(out, '_');
    for (size_t j = 0; j < tl[i]; j++) sl_buf_putc(out, is_up(ts[i][j]) ? (char)(ts[i][j] + 32) : ts[i][j]);
    wrote = true;
  }
done:
  free(ts);
  free(tl);
  free(a);
}

/* Python str.replace(old, new) on UTF-8 text. */
static void replace_all(const char *s, const char *old, const char *new_, sl_buf *out) {
  size_t ol = strlen(old);
  if (!ol) { /* inserts `new` before every character and at the end */
    for (const char *p = s;; ) {
      sl_buf_append(out, new_, strlen(new_));
      if (!*p) break;
      const char *q = p + 1;
      while (((unsigned char)*q & 0xC0) == 0x80) q++;
      sl_buf_put(out, p, (size_t)(q - p));
      p = q;
    }
    return;
  }
  for (const char *p = s;;) {
    const char *hit = strstr(p, old);
    if (!hit) {
      sl_buf_append(out, p, strlen(p));
      return;
    }
    sl_buf_put(out, p, (size_t)(hit - p));
    sl_buf_append(out, new_, strlen(new_));
    p = hit + ol;
  }
}

/* A copy of obj with every key respelled (recursing into objects only). */
typedef struct spell {
  kind k;
  const char *old, *new_;
} spell;

static json_t *respell(const spell *sp, const json_t *obj, int depth) {
  json_t *out = json_object();
  const char *key;
  json_t *v;
  sl_buf b;
  sl_buf_init(&b, (size_t)1 << 24);
  json_object_foreach((json_t *)obj, key, v) {
    b.len = 0;
    if (sp->k == K_SNAKE) snake_key(key, &b);
    else replace_all(key, sp->old, sp->new_, &b);
    json_t *nv = json_is_object(v) && depth < 64 ? respell(sp, v, depth + 1) : json_incref(v);
    json_object_set_new(out, sl_buf_cstr(&b), nv);
  }
  sl_buf_dispose(&b);
  return out;
}

static void replace_contents(json_t *record, json_t *with) {
  json_object_clear(record);
  json_object_update(record, with);
  json_decref(with);
}

/* ---- FlattenFields ---- */

typedef struct fl_item {
  json_t *v;
  char *key;
} fl_item;

static sl_code flatten(json_t *record, bool lists, sl_err *err) {
  size_t cap = 64, n = 0;
  fl_item *st = malloc(cap * sizeof *st);
  json_t *outo = json_object();
  if (!st || !outo) {
    free(st);
    json_decref(outo);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  st[n++] = (fl_item){json_incref(record), strdup("_")};
  bool force_parent = false; /* once a list is seen, as in the CDK */
  sl_code rc = SL_EOK;
  while (n) {
    fl_item it = st[--n];
    size_t add = json_is_object(it.v) ? json_object_size(it.v) : json_is_array(it.v) ? json_array_size(it.v) : 0;
    if (n + add > cap) {
      while (n + add > cap) cap *= 2;
      fl_item *ns = realloc(st, cap * sizeof *st);
      if (!ns) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        json_decref(it.v);
        free(it.key);
        break;
      }
      st = ns;
    }
    if (json_is_object(it.v)) {
      const char *k;
      json_t *x;
      json_object_foreach(it.v, k, x) {
        char *nk;
        if (json_object_get(outo, k) || force_parent) {
          if (asprintf(&nk, "%s.%s", it.key, k) < 0) nk = NULL;
        } else {
          nk = strdup(k);
        }
        st[n++] = (fl_item){json_incref(x), nk};
      }
    } else if (json_is_array(it.v) && lists) {
      size_t i;
      json_t *x;
      json_array_foreach(it.v, i, x) {
        force_parent = true;
        char *nk;
        if (asprintf(&nk, "%s.%zu", it.key, i) < 0) nk = NULL;
        st[n++] = (fl_item){json_incref(x), nk};
      }
    } else if (it.key) {
      json_object_set(outo, it.key, it.v);
    }
    json_decref(it.v);
    free(it.key);
  }
  while (n) {
    n--;
    json_decref(st[n].v);
    free(st[n].key);
  }
  free(st);
  if (rc) {
    json_decref(outo);
    return rc;
  }
  replace_contents(record, outo);
  return SL_EOK;
}

/* ---- DpathFlattenFields ---- */

static void delete_glob(json_t *cur, char *const *path, size_t n);

/* The first value matching a path with '*' segments (dpath order). */
static json_t *first_match(json_t *cur, char *const *path, size_t n) {
  if (!n) return cur;
  bool star = !strcmp(path[0], "*");
  if (json_is_object(cur)) {
    if (!star) return first_match(json_object_get(cur, path[0]), path + 1, n - 1);
    const char *k;
    json_t *x, *m;
    json_object_foreach(cur, k, x) if ((m = first_match(x, path + 1, n - 1))) return m;
  } else if (json_is_array(cur)) {
    size_t i;
    json_t *x, *m;
    if (star) {
      json_array_foreach(cur, i, x) if ((m = first_match(x, path + 1, n - 1))) return m;
      return NULL;
    }
    char *end;
    long idx = strtol(path[0], &end, 10);
    if (*end || idx < 0) return NULL;
    return first_match(json_array_get(cur, (size_t)idx), path + 1, n - 1);
  }
  return NULL;
}

static sl_code dpath_flatten(lc_source *src, const lc_keytf *k, json_t *record, sl_err *err) {
  json_t *ctx = lc_ctx_new(src, k->node);
  char **path = calloc(k->n_path + 1, sizeof *path);
  sl_code rc = path ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  for (size_t i = 0; i < k->n_path && !rc; i++) {
    b.len = 0;
    rc = lc_eval_text(k->path[i], ctx, &b, err);
    if (!rc) path[i] = strdup(sl_buf_cstr(&b));
  }
  sl_buf_dispose(&b);
  json_decref(ctx);
  json_t *found = NULL;
  if (!rc) {
    /* with '*': the first match (dpath.values()[0]); without: the value */
    found = json_incref(first_match(record, path, k->n_path));
  }
  if (!rc && json_is_object(found)) {
    json_t *ex = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(found, key, v) {
      char *nk;
      if (asprintf(&nk, "%s%s%s", k->prefix ? k->prefix : "", key, k->suffix ? k->suffix : "") < 0) continue;
      json_object_set(ex, nk, v);
      free(nk);
    }
    if (k->replace_record && json_object_size(ex)) {
      replace_contents(record, ex);
      ex = NULL;
    } else {
      bool clash = false;
      json_object_foreach(ex, key, v) clash = clash || json_object_get(record, key);
      if (!clash) {
        if (k->delete_origin) delete_glob(record, path, k->n_path);
        json_object_update(record, ex);
      }
    }
    json_decref(ex);
  }
  json_decref(found);
  for (size_t i = 0; path && i < k->n_path; i++) free(path[i]);
  free(path);
  return rc ? sl_err_wrap(err, "DpathFlattenFields at %s", LC_WHERE(src, k->node)) : SL_EOK;
}

/* dpath.delete(record, path) with '*' segments: every match removed. */
static void delete_glob(json_t *cur, char *const *path, size_t n) {
  if (!n || !json_is_object(cur)) return;
  const char *k;
  json_t *x;
  void *tmp;
  json_object_foreach_safe(cur, tmp, k, x) {
    if (strcmp(path[0], "*") && strcmp(path[0], k)) continue;
    if (n == 1) json_object_del(cur, k);
    else delete_glob(x, path + 1, n - 1);
  }
}

sl_code lc_keytf_apply(lc_source *src, const lc_keytf *k, json_t *record, json_t *ctx, sl_err *err) {
  switch (k->k) {
  case K_LOWER: {
    json_t *out = json_object();
    const char *key;
    json_t *v;
    sl_buf b;
    sl_buf_init(&b, (size_t)1 << 24);
    json_object_foreach(record, key, v) {
      b.len = 0;
      lower_utf8(key, &b);
      json_object_set(out, sl_buf_cstr(&b), v);
    }
    sl_buf_dispose(&b);
    replace_contents(record, out);
    return SL_EOK;
  }
  case K_SNAKE:
    replace_contents(record, respell(&(spell){K_SNAKE, NULL, NULL}, record, 0));
    return SL_EOK;
  case K_REPLACE: {
    sl_buf o, n;
    sl_buf_init(&o, 1 << 20);
    sl_buf_init(&n, 1 << 20);
    sl_code rc = lc_eval_text(k->old, ctx, &o, err);
    if (!rc) rc = lc_eval_text(k->new_, ctx, &n, err);
    if (!rc) replace_contents(record, respell(&(spell){K_REPLACE, sl_buf_cstr(&o), sl_buf_cstr(&n)}, record, 0));
    sl_buf_dispose(&o);
    sl_buf_dispose(&n);
    return rc ? sl_err_wrap(err, "KeysReplace at %s", LC_WHERE(src, k->node)) : SL_EOK;
  }
  case K_FLATTEN:
    return flatten(record, k->flatten_lists, err);
  case K_DPATH:
    return dpath_flatten(src, k, record, err);
  }
  return SL_EOK;
}
