/* Partition routers (notes §6.12): ListPartitionRouter,
 * SubstreamPartitionRouter (parents read lazily, page by page, through their
 * own slicers, so nested parents work and no parent stream is buffered),
 * GroupingPartitionRouter, UnionPartitionRouter, and a list of routers = the
 * cartesian product. As a slicer they give full-refresh
 * slices (no state; the sentinel follows at the end). */
#include <stdlib.h>
#include <string.h>

#include "lc.h"

typedef struct lc_router lc_router;
typedef struct router_ops {
  /* Next partition and extra fields (new references), or *part NULL at the end. */
  sl_code (*next)(lc_router *r, json_t **part, json_t **extra, sl_err *err);
  sl_code (*reqopts)(lc_router *r, const json_t *partition, lc_reqopts *opts, sl_err *err);
  void (*free)(lc_router *r);
  /* Substreams: set the incoming parent_state; add the parents' states. */
  void (*set_state)(lc_router *r, const json_t *parent_state);
  void (*get_state)(lc_router *r, json_t *into);
} router_ops;
struct lc_router {
  const router_ops *ops;
  lc_source *src;
  const json_t *node;
};

/* Inject partition[field] through opt when it is truthy (as the CDK). */
static sl_code inject_field(lc_router *r, const lc_reqopt *opt, const json_t *partition, const char *field,
                            lc_reqopts *opts, sl_err *err) {
  if (!opt->present) return SL_EOK;
  const json_t *v = json_object_get(partition, field);
  if (!v || json_is_null(v) || json_is_false(v) || (json_is_string(v) && !json_string_length(v)) ||
      (json_is_integer(v) && !json_integer_value(v)))
    return SL_EOK;
  json_t *ctx = lc_ctx_new(r->src, r->node);
  sl_code rc = lc_reqopt_inject(r->src, opt, v, ctx, opts, err);
  json_decref(ctx);
  return rc;
}

/* ---- ListPartitionRouter ---- */

typedef struct list_router {
  lc_router base;
  json_t *values;
  char *field;
  lc_reqopt opt;
  size_t i;
} list_router;

static sl_code list_next(lc_router *r, json_t **part, json_t **extra, sl_err *err) {
  list_router *l = (list_router *)r;
  *part = *extra = NULL;
  if (l->i >= json_array_size(l->values)) return SL_EOK;
  *part = json_pack("{s:O}", l->field, json_array_get(l->values, l->i++));
  return SL_EOK;
}

static sl_code list_reqopts(lc_router *r, const json_t *partition, lc_reqopts *opts, sl_err *err) {
  list_router *l = (list_router *)r;
  return inject_field(r, &l->opt, partition, l->field, opts, err);
}

static void list_free(lc_router *r) {
  list_router *l = (list_router *)r;
  json_decref(l->values);
  free(l->field);
  lc_reqopt_dispose(&l->opt);
  free(l);
}

static const router_ops list_ops = {list_next, list_reqopts, list_free, NULL, NULL};

static sl_code list_build(lc_source *src, const json_t *node, lc_router **out, sl_err *err) {
  list_router *l = calloc(1, sizeof *l);
  if (!l) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = &l->base;
  l->base = (lc_router){&list_ops, src, node};
  sl_code rc = lc_render_field(src, node, "cursor_field", &l->field, err);
  if (!rc && (!l->field || !*l->field))
    rc = sl_err_set(err, SL_ECONFIG, "%s: ListPartitionRouter needs a cursor_field", LC_WHERE(src, node));
  if (rc) return rc;
  const json_t *v = json_object_get(node, "values");
  if (json_is_array(v)) l->values = json_incref((json_t *)v);
  else if (json_is_string(v)) {
    sl_tmpl *t = NULL;
    json_t *ctx = lc_ctx_new(src, node);
    if (!(rc = lc_tmpl_field(src, node, "values", &t, err))) rc = lc_eval(t, ctx, SL_TMPL_ANY, &l->values, err);
    sl_tmpl_free(t);
    json_decref(ctx);
    if (rc) return rc;
  }
  if (!json_is_array(l->values)) {
    sl_buf b;
    sl_buf_init(&b, 4096);
    if (l->values) lc_pystr(&b, l->values);
    rc = sl_err_set(err, SL_ECONFIG, "%s: ListPartitionRouter values must be (or render to) a list, not '%.200s'",
                    LC_WHERE(src, v ? v : node), sl_buf_cstr(&b));
    sl_buf_dispose(&b);
    return rc;
  }
  return lc_reqopt_build(src, json_object_get(node, "request_option"), &l->opt, err);
}

/* ---- SubstreamPartitionRouter ---- */

typedef struct parent_cfg {
  const json_t *node, *stream;
  char **key; /* parent_key split at '/' */
  size_t n_key;
  char *field;
  lc_reqopt opt;
  char ***extra; /* extra_fields paths */
  size_t *n_extra_path, n_extra;
  bool incremental; /* incremental_dependency */
  const char *name; /* the parent stream's name */
} parent_cfg;

typedef struct sub_router {
  lc_router base;
  parent_cfg *pc;
  size_t n_pc, cur;
  /* The parent being read: its stream, slicer, slice and page. */
  lc_stream *pst;
  lc_slicer *psl;
  json_t *pslice;
  lc_pages pg;
  bool in_page, page_open;
  size_t rec;
  json_t *in_state;  /* incoming parent_state, or NULL */
  json_t *out_state; /* {parent name: its state after a full read} */
} sub_router;

static void split_path(const char *s, char sep, char ***out, size_t *n) {
  *n = 1;
  for (const char *p = s; *p; p++) *n += *p == sep;
  *out = calloc(*n, sizeof **out);
  size_t i = 0;
  for (const char *p = s;; p++) {
    const char *q = strchr(p, sep);
    size_t len = q ? (size_t)(q - p) : strlen(p);
    (*out)[i++] = strndup(p, len);
    if (!q) break;
    p = q;
  }
}

static void free_strv(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void parent_close(sub_router *s) {
  if (s->page_open) lc_pages_end(&s->pg);
  s->page_open = s->in_page = false;
  json_decref(s->pslice);
  s->pslice = NULL;
  if (s->psl) s->psl->ops->free(s->psl);
  s->psl = NULL;
  lc_stream_close(s->pst);
  s->pst = NULL;
}

/* The next parent record (new reference) and the parent slice it came from;
 * NULL when every parent is exhausted. */
static sl_code parent_record(sub_router *s, json_t **rec, sl_err *err) {
  *rec = NULL;
  sl_code rc;
  while (s->cur < s->n_pc) {
    if (!s->pst) {
      if ((rc = lc_stream_open(s->base.src, s->pc[s->cur].stream, &s->pst, err))) return rc;
      parent_cfg *pc = &s->pc[s->cur];
      /* incremental_dependency: the parent resumes from its stored state */
      const json_t *pst = pc->incremental && s->in_state ? json_object_get(s->in_state, pc->name) : NULL;
      if ((rc = lc_slicer_build(s->pst, pst, pc->incremental && s->in_state, &s->psl, err))) return rc;
    }
    if (s->in_page && s->rec < s->pg.recs.n) {
      json_t *r;
      if ((rc = lc_pages_record(&s->pg, s->pg.recs.v[s->rec++], &r, err))) return rc;
      if (!r) continue;
      lc_record lr = {r, {0}};
      if (s->psl->ops->keep && !s->psl->ops->keep(s->psl, s->pslice, &lr)) {
        json_decref(r);
        continue;
      }
      if (s->psl->ops->observe && (rc = s->psl->ops->observe(s->psl, s->pslice, &lr, err))) {
        json_decref(r);
        return rc;
      }
      *rec = r;
      return SL_EOK;
    }
    if (s->page_open) {
      bool have;
      s->rec = 0;
      if ((rc = lc_pages_next(&s->pg, &have, err))) return rc;
      s->in_page = have;
      if (have) continue;
      lc_pages_end(&s->pg);
      s->page_open = false;
      json_t *ignored = NULL; /* the parent's own per-slice state is not emitted */
      rc = s->psl->ops->close_slice(s->psl, s->pslice, &ignored, err);
      json_decref(ignored);
      if (rc) return rc;
    }
    json_decref(s->pslice);
    s->pslice = NULL;
    if ((rc = s->psl->ops->next(s->psl, &s->pslice, err))) return rc;
    if (s->pslice) {
      lc_pages_begin(s->pst, s->psl, s->pslice, &s->pg);
      s->page_open = true;
      continue;
    }
    if (s->pc[s->cur].incremental && s->in_state) {
      json_t *fs = NULL;
      if ((rc = s->psl->ops->final_state(s->psl, &fs, err))) return rc;
      if (fs) json_object_set_new(s->out_state, s->pc[s->cur].name, fs);
    }
    parent_close(s);
    s->cur++;
  }
  return SL_EOK;
}

static sl_code sub_next(lc_router *r, json_t **part, json_t **extra, sl_err *err) {
  sub_router *s = (sub_router *)r;
  *part = *extra = NULL;
  for (;;) {
    json_t *rec;
    sl_code rc = parent_record(s, &rec, err);
    if (rc || !rec) return rc;
    parent_cfg *pc = &s->pc[s->cur];
    const json_t *v = lc_json_path(rec, (const char *const *)pc->key, pc->n_key);
    if (!v) { /* records without the key are skipped, as dpath.get's KeyError */
      json_decref(rec);
      continue;
    }
    const json_t *pp = json_object_get(s->pslice, "partition");
    *part = json_pack("{s:O, s:O}", pc->field, v, "parent_slice", pp ? pp : json_object());
    *extra = json_object();
    for (size_t i = 0; i < pc->n_extra; i++) {
      sl_buf name;
      sl_buf_init(&name, 4096);
      for (size_t k = 0; k < pc->n_extra_path[i]; k++) sl_buf_appendf(&name, "%s%s", k ? "." : "", pc->extra[i][k]);
      const json_t *ev = lc_json_path(rec, (const char *const *)pc->extra[i], pc->n_extra_path[i]);
      json_object_set_new(*extra, sl_buf_cstr(&name), ev ? json_incref((json_t *)ev) : json_null());
      sl_buf_dispose(&name);
    }
    json_decref(rec);
    return SL_EOK;
  }
}

static sl_code sub_reqopts(lc_router *r, const json_t *partition, lc_reqopts *opts, sl_err *err) {
  sub_router *s = (sub_router *)r;
  for (size_t i = 0; i < s->n_pc; i++) {
    sl_code rc = inject_field(r, &s->pc[i].opt, partition, s->pc[i].field, opts, err);
    if (rc) return rc;
  }
  return SL_EOK;
}

static void sub_free(lc_router *r) {
  sub_router *s = (sub_router *)r;
  parent_close(s);
  for (size_t i = 0; i < s->n_pc; i++) {
    parent_cfg *pc = &s->pc[i];
    free_strv(pc->key, pc->n_key);
    free(pc->field);
    lc_reqopt_dispose(&pc->opt);
    for (size_t k = 0; k < pc->n_extra; k++) free_strv(pc->extra[k], pc->n_extra_path[k]);
    free(pc->extra);
    free(pc->n_extra_path);
  }
  free(s->pc);
  json_decref(s->in_state);
  json_decref(s->out_state);
  free(s);
}

static void sub_set_state(lc_router *r, const json_t *parent_state) {
  sub_router *s = (sub_router *)r;
  json_decref(s->in_state);
  s->in_state = parent_state ? json_deep_copy(parent_state) : json_object();
}

static void sub_get_state(lc_router *r, json_t *into) {
  sub_router *s = (sub_router *)r;
  json_object_update(into, s->out_state);
}

static const router_ops sub_ops = {sub_next, sub_reqopts, sub_free, sub_set_state, sub_get_state};

static sl_code parent_build(lc_source *src, const json_t *node, parent_cfg *pc, sl_err *err) {
  pc->node = node;
  pc->stream = json_object_get(node, "stream");
  pc->incremental = json_is_true(json_object_get(node, "incremental_dependency"));
  pc->name = json_string_value(json_object_get(pc->stream, "name"));
  if (!pc->name) pc->name = "";
  if (!json_is_object(pc->stream))
    return sl_err_set(err, SL_ECONFIG, "%s: ParentStreamConfig needs a stream", LC_WHERE(src, node));
  const json_t *lz = json_object_get(node, "lazy_read_pointer");
  if (json_array_size(lz))
    return sl_err_set(err, SL_ECONFIG, "%s: lazy_read_pointer is not supported yet by sluice's declarative engine", LC_WHERE(src, lz));
  char *key = NULL;
  sl_code rc = lc_render_field(src, node, "parent_key", &key, err);
  if (!rc && (!key || !*key)) rc = sl_err_set(err, SL_ECONFIG, "%s: ParentStreamConfig needs a parent_key", LC_WHERE(src, node));
  if (!rc) split_path(key, '/', &pc->key, &pc->n_key);
  free(key);
  if (!rc) rc = lc_render_field(src, node, "partition_field", &pc->field, err);
  if (!rc && (!pc->field || !*pc->field))
    rc = sl_err_set(err, SL_ECONFIG, "%s: ParentStreamConfig needs a partition_field", LC_WHERE(src, node));
  if (!rc) rc = lc_reqopt_build(src, json_object_get(node, "request_option"), &pc->opt, err);
  if (rc) return rc;
  const json_t *ef = json_object_get(node, "extra_fields"), *path;
  size_t i;
  pc->extra = calloc(json_array_size(ef) + 1, sizeof *pc->extra);
  pc->n_extra_path = calloc(json_array_size(ef) + 1, sizeof *pc->n_extra_path);
  if (!pc->extra || !pc->n_extra_path) return sl_err_set(err, SL_ENOMEM, "out of memory");
  json_array_foreach(ef, i, path) {
    if (!json_is_array(path)) return sl_err_set(err, SL_ECONFIG, "%s: each of extra_fields is a list of keys", LC_WHERE(src, ef));
    size_t n = json_array_size(path), k;
    const json_t *e;
    char **v = calloc(n + 1, sizeof *v);
    pc->extra[pc->n_extra] = v;
    pc->n_extra_path[pc->n_extra++] = n;
    json_array_foreach(path, k, e) {
      sl_tmpl *t = NULL;
      sl_buf b;
      sl_buf_init(&b, 4096);
      if (!(rc = lc_tmpl_value(src, ef, "extra_fields", e, &t, err))) rc = lc_eval_text_at(src, node, t, &b, err);
      sl_tmpl_free(t);
      v[k] = strdup(sl_buf_cstr(&b));
      sl_buf_dispose(&b);
      if (rc) return rc;
    }
  }
  return SL_EOK;
}

static sl_code sub_build(lc_source *src, const json_t *node, lc_router **out, sl_err *err) {
  sub_router *s = calloc(1, sizeof *s);
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = &s->base;
  s->base = (lc_router){&sub_ops, src, node};
  if (!(s->out_state = json_object())) return sl_err_set(err, SL_ENOMEM, "out of memory");
  const json_t *pcs = json_object_get(node, "parent_stream_configs"), *p;
  if (!json_array_size(pcs))
    return sl_err_set(err, SL_ECONFIG, "%s: SubstreamPartitionRouter needs parent_stream_configs", LC_WHERE(src, node));
  if (!(s->pc = calloc(json_array_size(pcs), sizeof *s->pc))) return sl_err_set(err, SL_ENOMEM, "out of memory");
  size_t i;
  json_array_foreach(pcs, i, p) {
    s->n_pc++;
    sl_code rc = parent_build(src, p, &s->pc[i], err);
    if (rc) return rc;
  }
  return SL_EOK;
}

/* ---- GroupingPartitionRouter: the underlying router's partitions in
 * batches of group_size, each key's values as a list (so are the extra
 * fields); deduplicate skips a partition whose first value was seen. ---- */

static sl_code router_build(lc_source *src, const json_t *node, lc_router **out, sl_err *err);

typedef struct group_router {
  lc_router base;
  lc_router *u;
  size_t size;
  bool dedup;
  json_t *seen; /* first values seen (JSON text -> true) */
} group_router;

/* A partition's dedup key: its first value as JSON text (malloc'd). */
static char *first_value_key(const json_t *part) {
  void *it = json_object_iter((json_t *)part);
  return it ? json_dumps(json_object_iter_value(it), JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : strdup("null");
}

static sl_code group_next(lc_router *r, json_t **part, json_t **extra, sl_err *err) {
  group_router *g = (group_router *)r;
  *part = *extra = NULL;
  json_t *batch = json_array(), *extras = json_array();
  sl_code rc = SL_EOK;
  bool any_extra = false;
  while (json_array_size(batch) < g->size) {
    json_t *p, *e;
    if ((rc = g->u->ops->next(g->u, &p, &e, err)) || !p) break;
    char *key = g->dedup ? first_value_key(p) : NULL;
    if (key && json_object_get(g->seen, key)) {
      free(key);
      json_decref(p);
      json_decref(e);
      continue;
    }
    if (key) json_object_set_new(g->seen, key, json_true());
    free(key);
    any_extra = any_extra || json_object_size(e);
    json_array_append_new(batch, p);
    json_array_append_new(extras, e ? e : json_object());
  }
  if (!rc && json_array_size(batch)) {
    /* keys of the first partition (and of the first extra fields), as the CDK */
    *part = json_object();
    *extra = json_object();
    const char *k;
    json_t *v, *x;
    size_t i;
    json_object_foreach(json_array_get(batch, 0), k, v) {
      json_t *list = json_array();
      json_array_foreach(batch, i, x) json_array_append(list, json_object_get(x, k) ? json_object_get(x, k) : json_null());
      json_object_set_new(*part, k, list);
    }
    if (any_extra) json_object_foreach(json_array_get(extras, 0), k, v) {
      json_t *list = json_array();
      json_array_foreach(extras, i, x) json_array_append(list, json_object_get(x, k) ? json_object_get(x, k) : json_null());
      json_object_set_new(*extra, k, list);
    }
  }
  json_decref(batch);
  json_decref(extras);
  return rc;
}

/* Request options of grouped partitions are refused at build time. */
static sl_code no_reqopts(lc_router *r, const json_t *partition, lc_reqopts *opts, sl_err *err) { return SL_EOK; }

static void group_free(lc_router *r) {
  group_router *g = (group_router *)r;
  if (g->u) g->u->ops->free(g->u);
  json_decref(g->seen);
  free(g);
}

static void group_set_state(lc_router *r, const json_t *parent_state) {
  group_router *g = (group_router *)r;
  g->u->ops->set_state(g->u, parent_state);
}

static void group_get_state(lc_router *r, json_t *into) {
  group_router *g = (group_router *)r;
  g->u->ops->get_state(g->u, into);
}

static const router_ops group_ops = {group_next, no_reqopts, group_free, NULL, NULL};
static const router_ops group_parent_ops = {group_next, no_reqopts, group_free, group_set_state, group_get_state};

/* The first request_option a List or Substream router node sets, or NULL. */
static const json_t *router_request_option(const json_t *node) {
  const json_t *o = json_object_get(node, "request_option");
  if (o && !json_is_null(o)) return o;
  size_t i;
  const json_t *pc;
  json_array_foreach(json_object_get(node, "parent_stream_configs"), i, pc) {
    o = json_object_get(pc, "request_option");
    if (o && !json_is_null(o)) return o;
  }
  return NULL;
}

static sl_code group_build(lc_source *src, const json_t *node, lc_router **out, sl_err *err) {
  group_router *g = calloc(1, sizeof *g);
  if (!g) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = &g->base;
  g->base = (lc_router){&group_ops, src, node};
  g->seen = json_object();
  const json_t *size = json_object_get(node, "group_size"), *u = json_object_get(node, "underlying_partition_router");
  const json_t *dd = json_object_get(node, "deduplicate");
  g->dedup = !json_is_false(dd);
  if (!json_is_integer(size) || json_integer_value(size) < 1)
    return sl_err_set(err, SL_ECONFIG, "%s: GroupingPartitionRouter group_size must be an integer of at least 1",
                      LC_WHERE(src, size ? size : node));
  g->size = (size_t)json_integer_value(size);
  if (!json_is_object(u))
    return sl_err_set(err, SL_ECONFIG, "%s: GroupingPartitionRouter needs an underlying_partition_router", LC_WHERE(src, node));
  const json_t *ro = router_request_option(u);
  if (ro)
    return sl_err_set(err, SL_ECONFIG, "%s: request options are not supported under a GroupingPartitionRouter (a batch has "
                      "many values); use stream_partition in the requester instead", LC_WHERE(src, ro));
  sl_code rc = router_build(src, u, &g->u, err);
  if (!rc && g->u->ops->get_state) g->base.ops = &group_parent_ops;
  return rc;
}

/* ---- UnionPartitionRouter: the children's partitions one after the other,
 * each reduced to {partition_field: value} (its other keys go to the extra
 * fields); the first partition of a value wins. ---- */

typedef struct union_router {
  lc_router base;
  lc_router **c;
  size_t n, cur;
  char *field;
  json_t *seen;
} union_router;

static sl_code union_next(lc_router *r, json_t **part, json_t **extra, sl_err *err) {
  union_router *u = (union_router *)r;
  *part = *extra = NULL;
  while (u->cur < u->n) {
    json_t *p, *e;
    sl_code rc = u->c[u->cur]->ops->next(u->c[u->cur], &p, &e, err);
    if (rc) return rc;
    if (!p) {
      u->cur++;
      continue;
    }
    const json_t *v = json_object_get(p, u->field);
    if (!v) {
      json_decref(p);
      json_decref(e);
      return sl_err_set(err, SL_ECONFIG, "%s: a partition of partition_routers[%zu] has no \"%s\" (partition_field)",
                        LC_WHERE(u->base.src, u->base.node), u->cur, u->field);
    }
    char *key = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    bool dup = key && json_object_get(u->seen, key);
    if (key && !dup) json_object_set_new(u->seen, key, json_true());
    free(key);
    if (dup) {
      json_decref(p);
      json_decref(e);
      continue;
    }
    *part = json_pack("{s:O}", u->field, v);
    *extra = e ? e : json_object();
    const char *k;
    json_t *x;
    json_object_foreach(p, k, x) if (strcmp(k, u->field) && !json_object_get(*extra, k)) json_object_set(*extra, k, x);
    json_decref(p);
    return SL_EOK;
  }
  return SL_EOK;
}

static void union_free(lc_router *r) {
  union_router *u = (union_router *)r;
  for (size_t i = 0; i < u->n; i++)
    if (u->c[i]) u->c[i]->ops->free(u->c[i]);
  free(u->c);
  free(u->field);
  json_decref(u->seen);
  free(u);
}

static void union_set_state(lc_router *r, const json_t *parent_state) {
  union_router *u = (union_router *)r;
  for (size_t i = 0; i < u->n; i++)
    if (u->c[i]->ops->set_state) u->c[i]->ops->set_state(u->c[i], parent_state);
}

static void union_get_state(lc_router *r, json_t *into) {
  union_router *u = (union_router *)r;
  for (size_t i = 0; i < u->n; i++)
    if (u->c[i]->ops->get_state) u->c[i]->ops->get_state(u->c[i], into);
}

static const router_ops union_ops = {union_next, no_reqopts, union_free, NULL, NULL};
static const router_ops union_parent_ops = {union_next, no_reqopts, union_free, union_set_state, union_get_state};

static sl_code union_build(lc_source *src, const json_t *node, lc_router **out, sl_err *err) {
  union_router *u = calloc(1, sizeof *u);
  if (!u) return sl_err_set(err, SL_ENOMEM, "out of memory");
  *out = &u->base;
  u->base = (lc_router){&union_ops, src, node};
  u->seen = json_object();
  sl_code rc = lc_render_field(src, node, "partition_field", &u->field, err);
  if (!rc && (!u->field || !*u->field))
    rc = sl_err_set(err, SL_ECONFIG, "%s: UnionPartitionRouter needs a partition_field", LC_WHERE(src, node));
  const json_t *cs = json_object_get(node, "partition_routers"), *c;
  if (!rc && json_array_size(cs) < 2)
    rc = sl_err_set(err, SL_ECONFIG, "%s: UnionPartitionRouter needs at least two partition_routers", LC_WHERE(src, cs ? cs : node));
  if (rc) return rc;
  if (!(u->c = calloc(json_array_size(cs), sizeof *u->c))) return sl_err_set(err, SL_ENOMEM, "out of memory");
  size_t i;
  json_array_foreach(cs, i, c) {
    const char *t = json_string_value(json_object_get(c, "type"));
    const json_t *ro = router_request_option(c);
    if (t && !strcmp(t, "GroupingPartitionRouter"))
      return sl_err_set(err, SL_ECONFIG, "%s: a GroupingPartitionRouter cannot be a child of a UnionPartitionRouter (its partitions are lists)",
                        LC_WHERE(src, c));
    if (ro)
      return sl_err_set(err, SL_ECONFIG, "%s: request options are not supported on the children of a UnionPartitionRouter; "
                        "use stream_partition in the requester instead", LC_WHERE(src, ro));
    u->n++;
    if ((rc = router_build(src, c, &u->c[i], err))) return rc;
    if (u->c[i]->ops->get_state) u->base.ops = &union_parent_ops;
  }
  return SL_EOK;
}

/* ---- the router slicer: one router, or the cartesian product of a list ---- */

typedef struct router_slicer {
  lc_slicer base;
  lc_router **r;
  size_t n;
  /* Routers 2..n materialised (as itertools.product does), the first lazy. */
  json_t *rest;  /* array: for router k-1, an array of [partition, extra] */
  json_t *head;  /* current [partition, extra] of the first router */
  size_t *idx;   /* odometer over rest */
  bool done;
} router_slicer;

static sl_code rs_pull_head(router_slicer *s, sl_err *err) {
  json_t *p, *e;
  sl_code rc = s->r[0]->ops->next(s->r[0], &p, &e, err);
  json_decref(s->head);
  s->head = NULL;
  if (rc) return rc;
  if (p) s->head = json_pack("[o, o]", p, e ? e : json_object());
  return SL_EOK;
}

static sl_code rs_next(lc_slicer *sl, json_t **slice, sl_err *err) {
  router_slicer *s = (router_slicer *)sl;
  *slice = NULL;
  sl_code rc;
  if (s->done) return SL_EOK;
  if (!s->head) { /* first call */
    for (size_t k = 1; k < s->n; k++)
      if (!json_array_size(json_array_get(s->rest, k - 1))) s->done = true;
    if (!s->done && (rc = rs_pull_head(s, err))) return rc;
    if (!s->head) s->done = true;
    if (s->done) return SL_EOK;
  } else {
    /* advance the odometer; the last router varies fastest */
    size_t k = s->n;
    while (k > 1) {
      k--;
      if (++s->idx[k] < json_array_size(json_array_get(s->rest, k - 1))) break;
      s->idx[k] = 0;
      if (k == 1) k = 0;
    }
    if (k == 0 || s->n == 1) {
      if ((rc = rs_pull_head(s, err))) return rc;
      if (!s->head) {
        s->done = true;
        return SL_EOK;
      }
    }
  }
  /* Merge partitions and extra fields; the first router wins on clashes. */
  json_t *part = json_object(), *extra = json_object();
  for (size_t k = s->n; k-- > 0;) {
    const json_t *pe = k ? json_array_get(json_array_get(s->rest, k - 1), s->idx[k]) : s->head;
    json_object_update(part, json_array_get(pe, 0));
    json_object_update(extra, json_array_get(pe, 1));
  }
  *slice = lc_slice_new(part, NULL, extra);
  return SL_EOK;
}

static sl_code rs_reqopts(lc_slicer *sl, const json_t *slice, lc_reqopts *opts, sl_err *err) {
  router_slicer *s = (router_slicer *)sl;
  const json_t *part = json_object_get(slice, "partition");
  for (size_t k = 0; k < s->n; k++) {
    sl_code rc = s->r[k]->ops->reqopts(s->r[k], part, opts, err);
    if (rc) return rc;
  }
  return SL_EOK;
}

static sl_code rs_close(lc_slicer *sl, const json_t *slice, json_t **state, sl_err *err) {
  *state = NULL;
  return SL_EOK;
}

static sl_code rs_final(lc_slicer *sl, json_t **state, sl_err *err) {
  *state = NULL;
  return SL_EOK;
}

static void rs_free(lc_slicer *sl) {
  router_slicer *s = (router_slicer *)sl;
  for (size_t k = 0; k < s->n; k++)
    if (s->r[k]) s->r[k]->ops->free(s->r[k]);
  free(s->r);
  free(s->idx);
  json_decref(s->rest);
  json_decref(s->head);
  free(s);
}

static const lc_slicer_ops rs_ops = {rs_next, rs_reqopts, NULL, NULL, rs_close, rs_final, rs_free, NULL};

static sl_code router_build(lc_source *src, const json_t *node, lc_router **out, sl_err *err) {
  *out = NULL;
  if (!json_is_object(node))
    return sl_err_set(err, SL_ECONFIG, "%s: a partition router must be a mapping", LC_WHERE(src, node));
  const char *type = json_string_value(json_object_get(node, "type"));
  if (type && !strcmp(type, "ListPartitionRouter")) return list_build(src, node, out, err);
  if (type && !strcmp(type, "SubstreamPartitionRouter")) return sub_build(src, node, out, err);
  if (type && !strcmp(type, "GroupingPartitionRouter")) return group_build(src, node, out, err);
  if (type && !strcmp(type, "UnionPartitionRouter")) return union_build(src, node, out, err);
  return sl_err_set(err, SL_ECONFIG, "%s: partition router %s is not supported yet by sluice's declarative engine",
                    LC_WHERE(src, node), type ? type : "(without type)");
}

bool lc_router_slicer_has_parents(lc_slicer *sl) {
  router_slicer *s = (router_slicer *)sl;
  for (size_t k = 0; k < s->n; k++)
    if (s->r[k]->ops->get_state) return true;
  return false;
}

void lc_router_slicer_set_parent_state(lc_slicer *sl, const json_t *parent_state) {
  router_slicer *s = (router_slicer *)sl;
  for (size_t k = 0; k < s->n; k++)
    if (s->r[k]->ops->set_state) s->r[k]->ops->set_state(s->r[k], parent_state);
}

json_t *lc_router_slicer_parent_state(lc_slicer *sl) {
  router_slicer *s = (router_slicer *)sl;
  json_t *st = json_object();
  for (size_t k = 0; k < s->n; k++)
    if (s->r[k]->ops->get_state) s->r[k]->ops->get_state(s->r[k], st);
  return st;
}

sl_code lc_router_slicer_build(lc_stream *st, const json_t *router, lc_slicer **out, sl_err *err) {
  lc_source *src = lc_stream_source(st);
  router_slicer *s = calloc(1, sizeof *s);
  if (!s) return sl_err_set(err, SL_ENOMEM, "out of memory");
  s->base.ops = &rs_ops;
  *out = &s->base;
  s->n = json_is_array(router) ? json_array_size(router) : 1;
  s->r = calloc(s->n, sizeof *s->r);
  s->idx = calloc(s->n, sizeof *s->idx);
  s->rest = json_array();
  if (!s->r || !s->idx || !s->rest) {
    rs_free(&s->base);
    *out = NULL;
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  sl_code rc = SL_EOK;
  for (size_t k = 0; k < s->n && !rc; k++) {
    rc = router_build(src, json_is_array(router) ? json_array_get(router, k) : router, &s->r[k], err);
    if (rc || !k) continue;
    json_t *all = json_array(), *p, *e;
    json_array_append_new(s->rest, all);
    while (!(rc = s->r[k]->ops->next(s->r[k], &p, &e, err)) && p) json_array_append_new(all, json_pack("[o, o]", p, e ? e : json_object()));
  }
  if (rc) {
    rs_free(&s->base);
    *out = NULL;
  }
  return rc;
}
