/* Form edits applied to the YAML text in place, so what did not change keeps
 * its comments, order, quoting and layout. libfyaml 0.7 drops comments that
 * stand on their own lines when it re-emits a document (measured: see
 * docs/builder.md), so its emitter only renders the values that changed;
 * where they go comes from the parser's event marks (byte offsets).
 *
 * The old text is parsed into a small tree of spans; walking it beside the
 * old and new JSON gives edits: a changed scalar or flow collection is
 * replaced, a block mapping gets pairs removed, recursed into or appended, a
 * block sequence gets items removed, recursed into or appended (common
 * prefix and suffix kept). The result is parsed again and must give exactly
 * the new JSON; otherwise NULL and the caller re-emits the whole document. */
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "sluice/buf.h"
#include "sluice/yaml.h"

typedef struct ynode ynode;
struct ynode {
  enum { Y_SCALAR, Y_MAP, Y_SEQ, Y_ALIAS } kind;
  bool flow;
  bool multiline;          /* a literal or folded block scalar (| or >) */
  size_t start, end;       /* bytes; a block collection ends where its last child ends */
  size_t n, cap;
  char **keys;             /* Y_MAP: key text */
  size_t *kstart, *kend;   /* Y_MAP: key spans */
  ynode **kids;
};

static void ynode_free(ynode *y) {
  if (!y) return;
  for (size_t i = 0; i < y->n; i++) {
    ynode_free(y->kids[i]);
    if (y->keys) free(y->keys[i]);
  }
  free(y->kids);
  free(y->keys);
  free(y->kstart);
  free(y->kend);
  free(y);
}

typedef struct yparse {
  struct fy_parser *p;
  const char *text;
  bool bad;
} yparse;

static bool add_kid(ynode *y, ynode *k, char *key, size_t ks, size_t ke) {
  if (y->n == y->cap) {
    size_t c = y->cap ? y->cap * 2 : 8;
    ynode **nk = realloc(y->kids, c * sizeof *nk);
    if (!nk) return false;
    y->kids = nk;
    if (y->kind == Y_MAP) {
      char **kk = realloc(y->keys, c * sizeof *kk);
      if (kk) y->keys = kk;
      size_t *s = realloc(y->kstart, c * sizeof *s);
      if (s) y->kstart = s;
      size_t *e = realloc(y->kend, c * sizeof *e);
      if (e) y->kend = e;
      if (!kk || !s || !e) return false;
    }
    y->cap = c;
  }
  y->kids[y->n] = k;
  if (y->kind == Y_MAP) {
    y->keys[y->n] = key;
    y->kstart[y->n] = ks;
    y->kend[y->n] = ke;
  }
  y->n++;
  return true;
}

/* The node starting with event ev (consumed). */
static ynode *parse_node(yparse *yp, struct fy_event *ev, int depth) {
  ynode *y = calloc(1, sizeof *y);
  if (!y || depth > 200) {
    free(y);
    fy_parser_event_free(yp->p, ev);
    yp->bad = true;
    return NULL;
  }
  const struct fy_mark *s = fy_event_start_mark(ev), *e = fy_event_end_mark(ev);
  y->start = s ? s->input_pos : 0;
  y->end = e ? e->input_pos : y->start;
  enum fy_event_type t = ev->type;
  enum fy_node_style st = fy_event_get_node_style(ev);
  y->flow = st == FYNS_FLOW;
  fy_parser_event_free(yp->p, ev);
  if (t == FYET_SCALAR || t == FYET_ALIAS) {
    y->kind = t == FYET_SCALAR ? Y_SCALAR : Y_ALIAS;
    /* A quoted scalar's marks leave out the quotes. */
    if ((st == FYNS_DOUBLE_QUOTED || st == FYNS_SINGLE_QUOTED) && y->start > 0) {
      y->start--;
      y->end++;
    }
    y->multiline = st == FYNS_LITERAL || st == FYNS_FOLDED;
    return y;
  }
  if (t != FYET_MAPPING_START && t != FYET_SEQUENCE_START) {
    yp->bad = true;
    return y;
  }
  y->kind = t == FYET_MAPPING_START ? Y_MAP : Y_SEQ;
  enum fy_event_type end_t = y->kind == Y_MAP ? FYET_MAPPING_END : FYET_SEQUENCE_END;
  while (!yp->bad) {
    struct fy_event *k = fy_parser_parse(yp->p);
    if (!k) {
      yp->bad = true;
      break;
    }
    if (k->type == end_t) {
      const struct fy_mark *m = fy_event_end_mark(k);
      if (y->flow && m) y->end = m->input_pos;
      fy_parser_event_free(yp->p, k);
      break;
    }
    char *key = NULL;
    size_t ks = 0, ke = 0;
    if (y->kind == Y_MAP) {
      size_t kl = 0;
      const char *kt = k->type == FYET_SCALAR ? fy_token_get_text(k->scalar.value, &kl) : NULL;
      const struct fy_mark *a = fy_event_start_mark(k), *b = fy_event_end_mark(k);
      if (!kt || !a || !b || !(key = strndup(kt, kl))) {
        fy_parser_event_free(yp->p, k);
        yp->bad = true;
        break;
      }
      ks = a->input_pos;
      ke = b->input_pos;
      fy_parser_event_free(yp->p, k);
      if (!(k = fy_parser_parse(yp->p))) {
        free(key);
        yp->bad = true;
        break;
      }
    }
    ynode *kid = parse_node(yp, k, depth + 1);
    if (!kid || !add_kid(y, kid, key, ks, ke)) {
      ynode_free(kid);
      free(key);
      yp->bad = true;
      break;
    }
    if (!y->flow) y->end = kid->end;
  }
  return y;
}

static ynode *parse_tree(const char *text, size_t len) {
  struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
  yparse yp = {fy_parser_create(&cfg), text, false};
  if (!yp.p) return NULL;
  ynode *root = NULL;
  if (!fy_parser_set_string(yp.p, text, len)) {
    struct fy_event *ev;
    while (!yp.bad && (ev = fy_parser_parse(yp.p))) {
      enum fy_event_type t = ev->type;
      if (t == FYET_STREAM_START || t == FYET_DOCUMENT_START || t == FYET_DOCUMENT_END || t == FYET_STREAM_END) {
        fy_parser_event_free(yp.p, ev);
        continue;
      }
      if (root) { /* a second document */
        fy_parser_event_free(yp.p, ev);
        yp.bad = true;
        break;
      }
      root = parse_node(&yp, ev, 0);
    }
    if (fy_parser_get_stream_error(yp.p)) yp.bad = true;
  }
  fy_parser_destroy(yp.p);
  if (yp.bad) {
    ynode_free(root);
    return NULL;
  }
  return root;
}

/* ---- edits ---- */

typedef struct edit {
  size_t start, end;
  char *text;
} edit;

typedef struct yedit {
  const char *old;
  size_t len;
  edit *v;
  size_t n, cap;
  bool bad;
} yedit;

static void add_edit(yedit *x, size_t start, size_t end, char *text) {
  if (!text || x->bad) {
    free(text);
    x->bad = true;
    return;
  }
  if (x->n == x->cap) {
    size_t c = x->cap ? x->cap * 2 : 16;
    edit *nv = realloc(x->v, c * sizeof *nv);
    if (!nv) {
      free(text);
      x->bad = true;
      return;
    }
    x->v = nv;
    x->cap = c;
  }
  x->v[x->n++] = (edit){start, end, text};
}

static size_t line_start(const yedit *x, size_t pos) {
  while (pos > 0 && x->old[pos - 1] != '\n') pos--;
  return pos;
}
static size_t column(const yedit *x, size_t pos) { return pos - line_start(x, pos); }
/* Whether only spaces stand before pos on its line. */
static bool first_on_line(const yedit *x, size_t pos) {
  for (size_t p = line_start(x, pos); p < pos; p++)
    if (x->old[p] != ' ') return false;
  return true;
}
/* The start of the line after the one holding pos - 1 (a node's end). */
static size_t next_line(const yedit *x, size_t end) {
  if (end > 0 && x->old[end - 1] == '\n') return end;
  const char *nl = memchr(x->old + end, '\n', x->len - end);
  return nl ? (size_t)(nl - x->old) + 1 : x->len;
}
/* A node's end without the line breaks a block scalar takes in. */
static size_t trim_end(const yedit *x, const ynode *y) {
  size_t e = y->end;
  while (e > y->start && (x->old[e - 1] == '\n' || x->old[e - 1] == ' ')) e--;
  return e;
}

/* A scalar as YAML text: plain when it reads back as the same string. */
static void put_scalar(sl_buf *b, const json_t *v, bool flow) {
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (bld_plain_ok(s, n) && !(flow && strchr(s, ','))) {
      sl_buf_append(b, s, n);
      return;
    }
  }
  char *js = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
  if (js) sl_buf_append(b, js, strlen(js));
  free(js);
}

static void put_flow(sl_buf *b, const json_t *v) {
  const char *k;
  json_t *sub;
  size_t i;
  if (json_is_object(v)) {
    sl_buf_append(b, "{", 1);
    bool first = true;
    json_object_foreach((json_t *)v, k, sub) {
      if (!first) sl_buf_append(b, ", ", 2);
      first = false;
      json_t *ks = json_string(k);
      put_scalar(b, ks, true);
      json_decref(ks);
      sl_buf_append(b, ": ", 2);
      put_flow(b, sub);
    }
    sl_buf_append(b, "}", 1);
  } else if (json_is_array(v)) {
    sl_buf_append(b, "[", 1);
    json_array_foreach(v, i, sub) {
      if (i) sl_buf_append(b, ", ", 2);
      put_flow(b, sub);
    }
    sl_buf_append(b, "]", 1);
  } else {
    put_scalar(b, v, true);
  }
}

static bool is_block(const json_t *v) {
  return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

/* v as block YAML, lines after the first indented by `indent` spaces. */
static bool put_block(sl_buf *b, const json_t *v, size_t indent) {
  sl_err err = SL_ERR_INIT;
  char *y = bld_to_yaml(v, &err);
  if (!y) return false;
  size_t n = strlen(y);
  while (n && y[n - 1] == '\n') n--;
  for (size_t i = 0; i < n; i++) {
    sl_buf_append(b, y + i, 1);
    if (y[i] == '\n')
      for (size_t j = 0; j < indent; j++) sl_buf_append(b, " ", 1);
  }
  free(y);
  return true;
}

static char *take(sl_buf *b) {
  char *s = strdup(sl_buf_cstr(b));
  sl_buf_dispose(b);
  return s;
}

/* Whole lines t inserted at line start `at` (after a last line without a break: one first). */
static void insert_lines(yedit *x, size_t at, char *t) {
  if (t && at == x->len && x->len && x->old[x->len - 1] != '\n') {
    char *t2 = malloc(strlen(t) + 2);
    if (t2) sprintf(t2, "\n%s", t);
    free(t);
    t = t2;
  }
  add_edit(x, at, at, t);
}

/* The text after "key:" for value v (key at column col). */
static char *map_value_text(const json_t *v, size_t col, bool flow_pref) {
  sl_buf b;
  sl_buf_init(&b, BLD_MAX_MANIFEST * 2);
  if (!is_block(v)) {
    sl_buf_append(&b, " ", 1);
    put_scalar(&b, v, false);
    if (json_is_object(v)) sl_buf_append(&b, "{}", 2);
    if (json_is_array(v)) sl_buf_append(&b, "[]", 2);
  } else if (flow_pref) {
    sl_buf_append(&b, " ", 1);
    put_flow(&b, v);
  } else {
    sl_buf_append(&b, "\n", 1);
    for (size_t j = 0; j < col + 2; j++) sl_buf_append(&b, " ", 1);
    put_block(&b, v, col + 2);
  }
  return take(&b);
}

/* The text after "- " for item v (the item's content at column col). */
static char *item_text(const json_t *v, size_t col, bool flow_pref) {
  sl_buf b;
  sl_buf_init(&b, BLD_MAX_MANIFEST * 2);
  if (!is_block(v)) {
    if (json_is_object(v)) sl_buf_append(&b, "{}", 2);
    else if (json_is_array(v)) sl_buf_append(&b, "[]", 2);
    else put_scalar(&b, v, false);
  } else if (flow_pref) {
    put_flow(&b, v);
  } else {
    put_block(&b, v, col);
  }
  return take(&b);
}

/* Flow text short enough to stay on the line of a value that was flow. */
static bool flow_fits(const json_t *v) {
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  put_flow(&b, v);
  bool ok = b.len <= 100;
  sl_buf_dispose(&b);
  return ok;
}

static void walk(yedit *x, const ynode *y, const json_t *ov, const json_t *nv, size_t anchor, size_t col, bool item);

/* Replaces node y (whose text after ':' or '-' starts at anchor) by nv. */
static void replace(yedit *x, const ynode *y, const json_t *nv, size_t anchor, size_t col, bool item) {
  bool was_inline = (y->kind == Y_SCALAR && !y->multiline) || y->flow;
  bool flow = is_block(nv) && was_inline && y->kind != Y_SCALAR && flow_fits(nv);
  size_t end = trim_end(x, y);
  if (was_inline && !is_block(nv)) {
    sl_buf b;
    sl_buf_init(&b, BLD_MAX_MANIFEST * 2);
    if (json_is_object(nv)) sl_buf_append(&b, "{}", 2);
    else if (json_is_array(nv)) sl_buf_append(&b, "[]", 2);
    else put_scalar(&b, nv, false);
    add_edit(x, y->start, end, take(&b));
  } else if (item) {
    char *t = item_text(nv, col, flow);
    sl_buf b;
    sl_buf_init(&b, BLD_MAX_MANIFEST * 2);
    sl_buf_append(&b, " ", 1);
    if (t) sl_buf_append(&b, t, strlen(t));
    free(t);
    add_edit(x, anchor, end, take(&b));
  } else {
    add_edit(x, anchor, end, map_value_text(nv, col, flow));
  }
}

static void walk_map(yedit *x, const ynode *y, const json_t *ov, const json_t *nv) {
  size_t col = column(x, y->kstart[0]);
  for (size_t i = 0; i < y->n && !x->bad; i++) {
    const json_t *o = json_object_get(ov, y->keys[i]), *n = json_object_get(nv, y->keys[i]);
    if (!o) { /* a merge key or a duplicate: not something to edit in place */
      x->bad = true;
      return;
    }
    if (!n) {
      size_t from, to;
      if (first_on_line(x, y->kstart[i])) {
        from = line_start(x, y->kstart[i]);
        to = next_line(x, trim_end(x, y->kids[i]));
      } else if (i + 1 < y->n) { /* "- key: v" with the next key below */
        from = y->kstart[i];
        to = y->kstart[i + 1];
      } else {
        x->bad = true;
        return;
      }
      add_edit(x, from, to, strdup(""));
      continue;
    }
    const char *colon = memchr(x->old + y->kend[i], ':', y->kids[i]->start + 1 - y->kend[i]);
    if (!colon) {
      x->bad = true;
      return;
    }
    walk(x, y->kids[i], o, n, (size_t)(colon - x->old) + 1, col, false);
  }
  /* New keys go after the last pair, at the pairs' column. */
  sl_buf b;
  sl_buf_init(&b, BLD_MAX_MANIFEST * 2);
  const char *k;
  json_t *sub;
  json_object_foreach((json_t *)nv, k, sub) {
    if (json_object_get(ov, k)) continue;
    for (size_t j = 0; j < col; j++) sl_buf_append(&b, " ", 1);
    json_t *ks = json_string(k);
    put_scalar(&b, ks, false);
    json_decref(ks);
    sl_buf_append(&b, ":", 1);
    char *t = map_value_text(sub, col, false);
    if (t) sl_buf_append(&b, t, strlen(t));
    free(t);
    sl_buf_append(&b, "\n", 1);
  }
  if (b.len) {
    size_t at = next_line(x, trim_end(x, y->kids[y->n - 1]));
    char *t = take(&b);
    insert_lines(x, at, t);
  } else {
    sl_buf_dispose(&b);
  }
}

/* The '-' of block sequence item i. */
static size_t dash_of(const yedit *x, const ynode *kid) {
  size_t p = kid->start;
  if (kid->kind == Y_SEQ && !kid->flow) p++; /* a nested block sequence starts at its own '-' */
  while (p > 0 && x->old[p - 1] == ' ') p--;
  return p > 0 && x->old[p - 1] == '-' ? p - 1 : (size_t)-1;
}

static void walk_seq(yedit *x, const ynode *y, const json_t *ov, const json_t *nv) {
  size_t no = json_array_size(ov), nn = json_array_size(nv);
  if (no != y->n) {
    x->bad = true;
    return;
  }
  size_t pre = 0, suf = 0;
  while (pre < no && pre < nn && json_equal(json_array_get(ov, pre), json_array_get(nv, pre))) pre++;
  while (suf < no - pre && suf < nn - pre &&
         json_equal(json_array_get(ov, no - 1 - suf), json_array_get(nv, nn - 1 - suf)))
    suf++;
  size_t mo = no - pre - suf, mn = nn - pre - suf, both = mo < mn ? mo : mn;
  size_t dash0 = dash_of(x, y->kids[0]);
  if (dash0 == (size_t)-1) {
    x->bad = true;
    return;
  }
  size_t dcol = column(x, dash0);
  for (size_t i = pre; i < pre + both && !x->bad; i++) {
    size_t d = dash_of(x, y->kids[i]);
    if (d == (size_t)-1) {
      x->bad = true;
      return;
    }
    walk(x, y->kids[i], json_array_get(ov, i), json_array_get(nv, i), d + 1, column(x, d) + 2, true);
  }
  for (size_t i = pre + both; i < pre + mo && !x->bad; i++) { /* removed items */
    size_t d = dash_of(x, y->kids[i]);
    if (d == (size_t)-1) {
      x->bad = true;
      return;
    }
    if (first_on_line(x, d)) add_edit(x, line_start(x, d), next_line(x, trim_end(x, y->kids[i])), strdup(""));
    else if (i + 1 < y->n) add_edit(x, d, dash_of(x, y->kids[i + 1]), strdup(""));
    else x->bad = true;
  }
  if (mn > both) { /* new items after the last kept or changed one */
    size_t after = pre + both; /* index of the first old item after the insertion point */
    size_t at = after ? next_line(x, trim_end(x, y->kids[after - 1])) : line_start(x, dash0);
    if (!first_on_line(x, after ? dash_of(x, y->kids[after - 1]) : dash0)) {
      x->bad = true;
      return;
    }
    sl_buf b;
    sl_buf_init(&b, BLD_MAX_MANIFEST * 2);
    for (size_t i = pre + both; i < pre + mn; i++) {
      for (size_t j = 0; j < dcol; j++) sl_buf_append(&b, " ", 1);
      sl_buf_append(&b, "- ", 2);
      char *t = item_text(json_array_get(nv, i), dcol + 2, false);
      if (t) sl_buf_append(&b, t, strlen(t));
      free(t);
      sl_buf_append(&b, "\n", 1);
    }
    char *t = take(&b);
    insert_lines(x, at, t);
  }
}

static void walk(yedit *x, const ynode *y, const json_t *ov, const json_t *nv, size_t anchor, size_t col, bool item) {
  if (x->bad || json_equal(ov, nv)) return;
  if (y->kind == Y_ALIAS) {
    x->bad = true;
    return;
  }
  if (!y->flow && y->kind == Y_MAP && json_is_object(nv) && json_object_size(nv)) return walk_map(x, y, ov, nv);
  if (!y->flow && y->kind == Y_SEQ && json_is_array(nv) && json_array_size(nv)) return walk_seq(x, y, ov, nv);
  replace(x, y, nv, anchor, col, item);
}

static int by_start_desc(const void *a, const void *b) {
  const edit *x = a, *y = b;
  return x->start < y->start ? 1 : x->start > y->start ? -1 : 0;
}

char *bld_yaml_update(const char *old, size_t len, const json_t *nv) {
  if (!json_is_object(nv)) return NULL;
  sl_err err = SL_ERR_INIT;
  sl_yaml *oy = sl_yaml_load_str(old, len, "manifest.yaml", &err);
  if (!oy) return NULL;
  ynode *root = parse_tree(old, len);
  const json_t *ov = sl_yaml_root(oy);
  char *out = NULL;
  yedit x = {old, len, NULL, 0, 0, false};
  if (root && root->kind == Y_MAP && !root->flow && root->n && json_is_object(ov)) {
    walk_map(&x, root, ov, nv);
    if (!x.bad) {
      if (x.n) qsort(x.v, x.n, sizeof *x.v, by_start_desc);
      for (size_t i = 0; i + 1 < x.n; i++)
        if (x.v[i + 1].end > x.v[i].start) x.bad = true; /* overlapping edits */
    }
    if (!x.bad) {
      /* From the end back: earlier offsets stay valid. */
      char *acc = strndup(old, len);
      for (size_t i = 0; acc && i < x.n; i++) {
        size_t alen = strlen(acc), tl = strlen(x.v[i].text);
        char *na = malloc(alen - (x.v[i].end - x.v[i].start) + tl + 1);
        if (na) {
          memcpy(na, acc, x.v[i].start);
          memcpy(na + x.v[i].start, x.v[i].text, tl);
          strcpy(na + x.v[i].start + tl, acc + x.v[i].end);
        }
        free(acc);
        acc = na;
      }
      /* The edited text must read back as exactly the new manifest. */
      sl_yaml *ny = acc ? sl_yaml_load_str(acc, strlen(acc), "manifest.yaml", &err) : NULL;
      if (ny && json_equal(sl_yaml_root(ny), nv)) out = acc;
      else free(acc);
      sl_yaml_free(ny);
    }
  }
  for (size_t i = 0; i < x.n; i++) free(x.v[i].text);
  free(x.v);
  ynode_free(root);
  sl_yaml_free(oy);
  return out;
}
