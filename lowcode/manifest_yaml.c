/* YAML to JSON for manifests, typed the way the Airbyte CDK sees them: the
 * CDK reads manifests with PyYAML's safe_load, i.e. YAML 1.1 implicit types.
 * So plain `yes`/`no`/`on`/`off` are booleans, `0755` is octal, `1_000` is
 * 1000, `1:30` is 90, `1e3` (no dot) stays a string, `~` and empty are null.
 * Deliberate differences: timestamps (`2024-01-01`) stay strings (PyYAML makes
 * dates, which JSON cannot hold), .inf/.nan stay strings, integers beyond
 * int64 become doubles, and non-string keys are written the way json.dumps
 * writes Python keys (`yes:` -> "true", `1:` -> "1", `~:` -> "null").
 * Parsing is libfyaml's event API (marks for every value); this file only
 * types scalars and assembles the tree. */
#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_int.h"

#define MAX_DEPTH 200

/* ---- PyYAML (YAML 1.1) implicit scalar resolution, plain scalars only ---- */

static bool is_word(const char *s, size_t n, const char *const *words) {
  for (; *words; words++)
    if (strlen(*words) == n && !memcmp(s, *words, n)) return true;
  return false;
}

static const char *const NULLS[] = {"~", "null", "Null", "NULL", NULL};
static const char *const TRUES[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
static const char *const FALSES[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};

/* Copies s without '_' into out (size cap); false when it does not fit. */
static bool strip_us(const char *s, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] != '_') {
      if (k + 1 >= cap) return false;
      out[k++] = s[i];
    }
  out[k] = 0;
  return true;
}

static bool all_in(const char *s, size_t n, const char *set) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr(set, s[i])) return false;
  return true;
}

/* Sexagesimal tail `(:[0-5]?[0-9])+` */
static bool sexa_tail(const char *s, size_t n) {
  if (!n) return false;
  size_t i = 0;
  while (i < n) {
    if (s[i] != ':') return false;
    i++;
    size_t d = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, d++;
    if (d == 0 || d > 2) return false;
    if (d == 2 && s[i - 2] > '5') return false;
  }
  return true;
}

static json_t *int_value(bool neg, const char *digits, int base) {
  errno = 0;
  char *end;
  unsigned long long u = strtoull(digits, &end, base);
  if (*end) return NULL;
  if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (neg ? 1u : 0u)) {
    double d = strtod(digits, NULL); /* base 10 only reaches here sensibly */
    if (base != 10) {
      d = 0;
      for (const char *p = digits; *p; p++)
        d = d * base + (double)(*p <= '9' ? *p - '0' : (*p | 32) - 'a' + 10);
    }
    return json_real(neg ? -d : d);
  }
  if (neg) return json_integer(u == (unsigned long long)INT64_MAX + 1u ? INT64_MIN : -(json_int_t)u);
  return json_integer((json_int_t)u);
}

/* `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
 *  | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+` */
static json_t *yaml11_int(const char *s, size_t n) {
  bool neg = false;
  if (n && (*s == '-' || *s == '+')) neg = *s == '-', s++, n--;
  if (!n || s[0] < '0' || s[0] > '9') return NULL;
  char buf[128];
  if (n > 2 && s[0] == '0' && s[1] == 'b' && all_in(s + 2, n - 2, "01_")) {
    if (!strip_us(s + 2, n - 2, buf, sizeof buf) || !*buf) return NULL;
    return int_value(neg, buf, 2);
  }
  if (n > 2 && s[0] == '0' && s[1] == 'x' && all_in(s + 2, n - 2, "0123456789abcdefABCDEF_")) {
    if (!strip_us(s + 2, n - 2, buf, sizeof buf) || !*buf) return NULL;
    return int_value(neg, buf, 16);
  }
  if (n == 1 && s[0] == '0') return json_integer(0);
  if (s[0] == '0') {
    if (!all_in(s + 1, n - 1, "01234567_")) return NULL;
    if (!strip_us(s, n, buf, sizeof buf)) return NULL;
    return int_value(neg, buf, 8);
  }
  size_t i = 1;
  while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) i++;
  if (i == n) {
    if (!strip_us(s, n, buf, sizeof buf)) return NULL;
    return int_value(neg, buf, 10);
  }
  if (!sexa_tail(s + i, n - i)) return NULL;
  /* base 60: digits separated by ':' (underscores dropped) */
  if (!strip_us(s, n, buf, sizeof buf)) return NULL;
  json_int_t v = 0;
  for (char *tok = strtok(buf, ":"); tok; tok = strtok(NULL, ":")) {
    if (v > INT64_MAX / 60 - 60) return NULL;
    v = v * 60 + strtoll(tok, NULL, 10);
  }
  return json_integer(neg ? -v : v);
}

/* `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9_]+([eE][-+][0-9]+)?
 *  | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*` (inf/nan are left as text) */
static json_t *yaml11_float(const char *s, size_t n) {
  const char *p = s, *e = s + n;
  bool neg = false, sign = false;
  if (p < e && (*p == '-' || *p == '+')) neg = *p == '-', sign = true, p++;
  char buf[160];
  if (p < e && *p >= '0' && *p <= '9') {
    const char *q = p;
    while (q < e && ((*q >= '0' && *q <= '9') || *q == '_')) q++;
    if (q < e && *q == ':') { /* sexagesimal float */
      const char *dot = memchr(q, '.', (size_t)(e - q));
      if (!dot || !sexa_tail(q, (size_t)(dot - q)) || (dot + 1 < e && !all_in(dot + 1, (size_t)(e - dot - 1), "0123456789_")))
        return NULL;
      if (!strip_us(p, (size_t)(dot - p), buf, sizeof buf)) return NULL;
      double v = 0;
      for (char *tok = strtok(buf, ":"); tok; tok = strtok(NULL, ":")) v = v * 60 + strtod(tok, NULL);
      char frac[80] = "0.";
      if (dot + 1 < e && !strip_us(dot + 1, (size_t)(e - dot - 1), frac + 2, sizeof frac - 2)) return NULL;
      v += strtod(frac, NULL);
      return json_real(neg ? -v : v);
    }
    if (q >= e || *q != '.') return NULL;
    p = q;
  } else if (sign || p >= e || *p != '.') {
    return NULL;
  } else if (p + 1 >= e || !strchr("0123456789_", p[1])) {
    return NULL;
  }
  /* at '.' */
  p++;
  while (p < e && ((*p >= '0' && *p <= '9') || *p == '_')) p++;
  if (p < e) {
    if (*p != 'e' && *p != 'E') return NULL;
    p++;
    if (p >= e || (*p != '-' && *p != '+')) return NULL;
    p++;
    if (p >= e || !all_in(p, (size_t)(e - p), "0123456789")) return NULL;
  }
  if (!strip_us(s, n, buf, sizeof buf)) return NULL;
  char *end;
  double v = strtod(buf, &end);
  if (*end || !isfinite(v)) return NULL;
  return json_real(v);
}

/* The value of a plain scalar. */
static json_t *plain_scalar(const char *s, size_t n) {
  if (n == 0 || is_word(s, n, NULLS)) return json_null();
  if (is_word(s, n, TRUES)) return json_true();
  if (is_word(s, n, FALSES)) return json_false();
  if (strchr("-+0123456789.", s[0])) {
    json_t *v = yaml11_int(s, n);
    if (!v) v = yaml11_float(s, n);
    if (v) return v;
  }
  return json_stringn(s, n);
}

/* ---- tree assembly from events ---- */

typedef struct frame {
  json_t *node;       /* object or array */
  char *key;          /* pending member name (object), malloc'd */
  bool key_is_merge;  /* the pending key is a plain `<<` */
  json_t *merges;     /* array of objects merged in at the end (`<<`) */
  int line, col;
} frame;

typedef struct anchor {
  char *name;
  json_t *node;
} anchor;

typedef struct ybuild {
  const char *file;
  sl_mlocs *locs;
  sl_err *err;
  frame stack[MAX_DEPTH];
  int depth;
  json_t *root;
  anchor *anchors;
  size_t nanchors, capanchors;
  size_t alias_values; /* values copied for aliases so far (bounded: alias bombs) */
} ybuild;

/* An alias is a copy of its anchor's value: a chain of aliases of aliases grows
 * tenfold a line (an alias bomb); past this many copied values it is an error. */
#define MAX_ALIAS_VALUES 1000000

/* The number of values in v, counting stops past cap. */
static size_t count_values(const json_t *v, size_t cap) {
  size_t n = 1;
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      if (n > cap) break;
      n += count_values(m, cap - n);
    }
  } else if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v) && n <= cap; i++) n += count_values(json_array_get(v, i), cap - n);
  }
  return n;
}

/* Writes the path of the frame stack ("streams[0].retriever") into buf. */
static const char *stack_path(const ybuild *b, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < b->depth && k + 1 < n; i++) {
    const frame *f = &b->stack[i];
    if (json_is_array(f->node)) {
      k += (size_t)snprintf(buf + k, n - k, "[%zu]", json_array_size(f->node));
    } else if (f->key) {
      k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? "." : "", f->key);
    }
    if (k >= n) k = n - 1;
  }
  return buf;
}

static int fail_at(ybuild *b, int line, int col, const char *fmt, const char *arg) {
  char path[512], msg[600];
  stack_path(b, path, sizeof path);
  snprintf(msg, sizeof msg, fmt, arg);
  sl_err_set(b->err, SL_ECONFIG, "%s:%d:%d%s%s: %s", b->file, line, col, *path ? " " : "", path, msg);
  return -1;
}

static int add_anchor(ybuild *b, struct fy_token *tok, json_t *v) {
  if (!tok) return 0;
  size_t len;
  const char *name = fy_token_get_text(tok, &len);
  if (!name) return 0;
  if (b->nanchors == b->capanchors) {
    size_t cap = b->capanchors ? b->capanchors * 2 : 8;
    anchor *a = realloc(b->anchors, cap * sizeof *a);
    if (!a) return -1;
    b->anchors = a, b->capanchors = cap;
  }
  /* Later anchors of the same name shadow earlier ones (searched from the end). */
  b->anchors[b->nanchors].name = strndup(name, len);
  b->anchors[b->nanchors].node = json_incref(v);
  if (!b->anchors[b->nanchors].name) return -1;
  b->nanchors++;
  return 0;
}

static json_t *find_anchor(ybuild *b, struct fy_token *tok) {
  size_t len;
  const char *name = tok ? fy_token_get_text(tok, &len) : NULL;
  if (!name) return NULL;
  for (size_t i = b->nanchors; i-- > 0;)
    if (strlen(b->anchors[i].name) == len && !memcmp(b->anchors[i].name, name, len)) return b->anchors[i].node;
  return NULL;
}

/* Attaches a finished value (reference stolen) to the current container. */
static int attach(ybuild *b, json_t *v, int line, int col) {
  if (!v) return sl_err_set(b->err, SL_ENOMEM, "%s: out of memory", b->file), -1;
  if (b->depth == 0) {
    if (b->root) {
      json_decref(v);
      return fail_at(b, line, col, "%s", "expected a single document");
    }
    b->root = v;
    return 0;
  }
  frame *f = &b->stack[b->depth - 1];
  if (json_is_array(f->node)) return json_array_append_new(f->node, v) ? -1 : 0;
  if (f->key_is_merge) { /* `<<: *anchor` or `<<: [*a, *b]` */
    f->key_is_merge = false;
    free(f->key), f->key = NULL;
    bool ok = json_is_object(v) || json_is_array(v);
    if (json_is_array(v))
      for (size_t i = 0; i < json_array_size(v); i++) ok = ok && json_is_object(json_array_get(v, i));
    if (!ok) {
      json_decref(v);
      return fail_at(b, line, col, "%s", "a merge key `<<` needs a mapping or a list of mappings");
    }
    if (!f->merges) f->merges = json_array();
    if (json_is_object(v)) json_array_append_new(f->merges, v);
    else { /* `<<: [a, b]`: a wins over b, so b's pairs go first */
      for (size_t i = json_array_size(v); i-- > 0;) json_array_append(f->merges, json_array_get(v, i));
      json_decref(v);
    }
    return 0;
  }
  int rc = json_object_set_new(f->node, f->key, v);
  if (rc) fail_at(b, line, col, "%s", "a mapping key is not valid UTF-8");
  free(f->key), f->key = NULL;
  return rc ? -1 : 0;
}

/* Converts a scalar key to the member name json.dumps would write. */
static char *key_text(const json_t *v, const char *raw, size_t len) {
  if (json_is_string(v)) return strdup(json_string_value(v));
  if (json_is_true(v)) return strdup("true");
  if (json_is_false(v)) return strdup("false");
  if (json_is_null(v)) return strdup("null");
  if (json_is_integer(v)) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return strdup(buf);
  }
  return strndup(raw, len);
}

static json_t *scalar_value(ybuild *b, struct fy_event *e, int line, int col, int *bad) {
  size_t len;
  const char *text = fy_token_get_text(e->scalar.value, &len);
  if (!text) text = "", len = 0;
  enum fy_scalar_style style = fy_token_scalar_style(e->scalar.value);
  if (e->scalar.tag) {
    const struct fy_tag *tag = fy_tag_token_tag(e->scalar.tag);
    size_t tl;
    const char *t = fy_token_get_text(e->scalar.tag, &tl);
    const char *suffix = (t && tl > 18 && !strncmp(t, "tag:yaml.org,2002:", 18)) ? t + 18 : NULL;
    if (tag && tag->handle && !strcmp(tag->handle, "!") && tag->prefix && !*tag->prefix)
      return json_stringn(text, len); /* the non-specific tag `!` */
    size_t sl = suffix ? tl - 18 : 0;
#define TAG_IS(name) (suffix && sl == strlen(name) && !memcmp(suffix, name, sl))
    if (TAG_IS("str")) return json_stringn(text, len);
    if (TAG_IS("int") || TAG_IS("float") || TAG_IS("bool") || TAG_IS("null")) {
#undef TAG_IS
      json_t *v = plain_scalar(text, len);
      if (v && json_is_string(v) == 0) return v;
      json_decref(v);
    }
    char t0[128];
    snprintf(t0, sizeof t0, "%.*s", (int)(tl < 100 ? tl : 100), t ? t : "");
    *bad = fail_at(b, line, col, "unsupported YAML tag %s", t0);
    return NULL;
  }
  json_t *v = style == FYSS_PLAIN ? plain_scalar(text, len) : json_stringn(text, len);
  if (!v) *bad = fail_at(b, line, col, "%s", "text is not valid UTF-8");
  return v;
}

static int on_event(ybuild *b, struct fy_event *e) {
  const struct fy_mark *mk = fy_event_start_mark(e);
  int line = mk ? mk->line + 1 : 0, col = mk ? mk->column + 1 : 0;
  frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
  bool want_key = top && json_is_object(top->node) && !top->key && !top->key_is_merge;
  switch (e->type) {
  case FYET_MAPPING_START:
  case FYET_SEQUENCE_START: {
    if (want_key) return fail_at(b, line, col, "%s", "a mapping key must be a scalar");
    if (b->depth == MAX_DEPTH) return fail_at(b, line, col, "%s", "nesting too deep");
    bool map = e->type == FYET_MAPPING_START;
    json_t *v = map ? json_object() : json_array();
    if (!v || sl_mlocs_put(b->locs, v, line, col, 0, 0)) {
      json_decref(v);
      return sl_err_set(b->err, SL_ENOMEM, "%s: out of memory", b->file), -1;
    }
    if (add_anchor(b, map ? e->mapping_start.anchor : e->sequence_start.anchor, v)) {
      json_decref(v);
      return sl_err_set(b->err, SL_ENOMEM, "%s: out of memory", b->file), -1;
    }
    b->stack[b->depth++] = (frame){.node = v, .line = line, .col = col};
    return 0;
  }
  case FYET_MAPPING_END:
  case FYET_SEQUENCE_END: {
    frame f = b->stack[--b->depth];
    free(f.key);
    if (f.merges) { /* PyYAML: merged pairs first, then the explicit ones; later pairs win */
      json_t *own = json_copy(f.node);
      json_object_clear(f.node);
      for (size_t i = 0; i < json_array_size(f.merges); i++) {
        const char *k;
        json_t *mv;
        json_object_foreach(json_array_get(f.merges, i), k, mv) {
          json_object_set_new(f.node, k, sl_manifest_copy(b->locs, mv, 0, 0));
        }
      }
      json_object_update(f.node, own);
      json_decref(own);
      json_decref(f.merges);
    }
    return attach(b, f.node, f.line, f.col);
  }
  case FYET_SCALAR: {
    int bad = 0;
    json_t *v = scalar_value(b, e, line, col, &bad);
    if (bad) return -1;
    if (!v) return sl_err_set(b->err, SL_ENOMEM, "%s: out of memory", b->file), -1;
    if (want_key) {
      size_t len;
      const char *raw = fy_token_get_text(e->scalar.value, &len);
      top->key_is_merge = !e->scalar.tag && fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN && len == 2 &&
                          !memcmp(raw, "<<", 2);
      top->key = key_text(v, raw ? raw : "", raw ? len : 0);
      json_decref(v);
      return top->key ? 0 : (sl_err_set(b->err, SL_ENOMEM, "%s: out of memory", b->file), -1);
    }
    if (sl_mlocs_put(b->locs, v, line, col, 0, 0) || add_anchor(b, e->scalar.anchor, v)) {
      json_decref(v);
      return sl_err_set(b->err, SL_ENOMEM, "%s: out of memory", b->file), -1;
    }
    return attach(b, v, line, col);
  }
  case FYET_ALIAS: {
    json_t *target = find_anchor(b, e->alias.anchor);
    if (!target) return fail_at(b, line, col, "%s", "unknown alias");
    if (want_key) {
      if (!json_is_string(target)) return fail_at(b, line, col, "%s", "an alias used as a key must be a string");
      top->key = strdup(json_string_value(target));
      return 0;
    }
    b->alias_values += count_values(target, MAX_ALIAS_VALUES);
    if (b->alias_values > MAX_ALIAS_VALUES)
      return fail_at(b, line, col, "%s", "aliases expand to more than 1000000 values (an alias bomb?)");
    return attach(b, sl_manifest_copy(b->locs, target, 0, 0), line, col);
  }
  default:
    return 0;
  }
}

json_t *sl_manifest_yaml_parse(const char *file, const char *path, const char *text, size_t len,
                               sl_mlocs *locs, sl_err *err) {
  struct fy_diag_cfg dc;
  fy_diag_cfg_default(&dc);
  dc.fp = NULL;
  dc.level = FYET_ERROR;
  struct fy_diag *diag = fy_diag_create(&dc);
  if (!diag) return sl_err_set(err, SL_ENOMEM, "%s: out of memory", file), NULL;
  fy_diag_set_collect_errors(diag, true);
  /* PyYAML lets a later duplicate key win; so do we. */
  struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_DEFAULT_VERSION_1_1 |
                                      FYPCF_JSON_NONE,
                             .diag = diag};
  struct fy_parser *p = fy_parser_create(&cfg);
  ybuild b = {.file = file, .locs = locs, .err = err};
  int rc = -1;
  if (!p) {
    sl_err_set(err, SL_ENOMEM, "%s: out of memory", file);
    goto out;
  }
  if (path ? fy_parser_set_input_file(p, path) : fy_parser_set_string(p, text, len)) {
    sl_err_set(err, SL_EIO, "%s: cannot read", file);
    goto out;
  }
  rc = 0;
  struct fy_event *e;
  while (rc == 0 && (e = fy_parser_parse(p))) {
    rc = on_event(&b, e);
    fy_parser_event_free(p, e);
  }
  if (rc == 0 && fy_parser_get_stream_error(p)) {
    void *it = NULL;
    struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
    if (de) {
      char ctx[512];
      stack_path(&b, ctx, sizeof ctx);
      sl_err_set(err, SL_ECONFIG, "%s:%d:%d%s%s: YAML syntax error: %s", file, de->line, de->column,
                 *ctx ? " " : "", ctx, de->msg ? de->msg : "invalid YAML");
    } else {
      sl_err_set(err, SL_ECONFIG, "%s: YAML syntax error", file);
    }
    rc = -1;
  }
out:
  while (b.depth > 0) {
    frame *f = &b.stack[--b.depth];
    free(f->key);
    json_decref(f->merges);
    json_decref(f->node);
  }
  for (size_t i = 0; i < b.nanchors; i++) free(b.anchors[i].name), json_decref(b.anchors[i].node);
  free(b.anchors);
  if (p) fy_parser_destroy(p);
  fy_diag_destroy(diag);
  if (rc) {
    json_decref(b.root);
    return NULL;
  }
  if (!b.root) b.root = json_null(); /* an empty document is None in PyYAML */
  return b.root;
}
