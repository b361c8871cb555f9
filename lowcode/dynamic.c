/* The streams a source has for one config: the static `streams` (with
 * ConditionalStreams expanded) and the streams generated from
 * `dynamic_streams` (DynamicDeclarativeStream). A components resolver gives
 * values (HttpComponentsResolver: its retriever's records, read with the
 * normal read path; ConfigComponentsResolver: lists from the config;
 * ParametrizedComponentsResolver: a fixed list), and each value fills a
 * located copy of the stream template through components_mapping, as the
 * CDK's resolvers do (dpath.set semantics: only existing paths change,
 * unless create_or_update). Generated streams live in holder objects keyed
 * "dynamic_streams[i].stream_template(<name>)", so every location inside one
 * names the template, the resolver and the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components.h"
#include "lc.h"
#include "manifest_int.h"

struct lc_dyn {
  json_t *streams; /* the streams in effect (borrowed nodes, in order) */
  json_t *origin;  /* generated stream name -> its dynamic definition's name */
  json_t *holders; /* the generated streams' holders (owned) */
};

void lc_dyn_free(lc_dyn *d) {
  if (!d) return;
  json_decref(d->streams);
  json_decref(d->origin);
  json_decref(d->holders);
  free(d);
}

const json_t *lc_dyn_streams(const lc_source *src) {
  return src->dyn ? src->dyn->streams : json_object_get(src->root, "streams");
}

const char *lc_dyn_origin(const lc_source *src, const char *stream) {
  return src->dyn ? json_string_value(json_object_get(src->dyn->origin, stream)) : NULL;
}

const char *lc_dyn_name(const json_t *dyn, size_t index, char *buf, size_t n) {
  const char *name = json_string_value(json_object_get(dyn, "name"));
  if (name && *name) return name;
  snprintf(buf, n, "dynamic_stream_%zu", index);
  return buf;
}

/* ---- locations of values made here ---- */

static const sl_mloc *loc_of(const lc_source *src, const json_t *v) { return sl_mlocs_get(&src->m->locs, v); }

/* Every value of v (new, not from the manifest) placed at `at`'s location. */
static int place(lc_source *src, const json_t *v, const json_t *at) {
  if (sl_json_is_singleton(v)) return 0;
  const sl_mloc *l = loc_of(src, at);
  if (sl_mlocs_put(&src->m->locs, v, l ? l->line : 0, l ? l->col : 0, l ? l->via_line : 0, l ? l->via_col : 0))
    return -1;
  const char *k;
  json_t *m;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, m) if (place(src, m, at)) return -1;
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, m) if (place(src, m, at)) return -1;
  }
  return 0;
}

/* v alone (a new container around manifest values) placed at `at`. */
static int place_one(lc_source *src, const json_t *v, const json_t *at) {
  const sl_mloc *l = loc_of(src, at);
  return sl_mlocs_put(&src->m->locs, v, l ? l->line : 0, l ? l->col : 0, l ? l->via_line : 0, l ? l->via_col : 0);
}

/* Parent links, so that locations inside v have a component path. */
static int link(lc_source *src, const json_t *v, const json_t *parent) {
  if (sl_json_is_singleton(v)) return 0;
  sl_mloc *l = sl_mlocs_get(&src->m->locs, v);
  if (!l) {
    if (sl_mlocs_put(&src->m->locs, v, 0, 0, 0, 0)) return -1;
    l = sl_mlocs_get(&src->m->locs, v);
  }
  l->parent = parent;
  const char *k;
  json_t *m;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, m) if (link(src, m, v)) return -1;
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, m) if (link(src, m, v)) return -1;
  }
  return 0;
}

/* ---- components_mapping ---- */

typedef struct dmap {
  const json_t *node;
  sl_tmpl *value, *cond;
  const json_t *literal; /* a value that is not a string */
  sl_tmpl **path;        /* NULL entries: plain keys in keys[] */
  const char **keys;
  size_t np;
  sl_tmpl_accept accept;
  bool create;
} dmap;

struct lc_dyn_tmpl {
  lc_source *src;
  const json_t *dyn, *tmpl, *res;
  size_t index;
  char name[128];
  bool yaml_values; /* Config/Parametrized: string results are YAML-parsed */
  bool parent_params;
  dmap *maps;
  size_t n;
};

void lc_dyn_tmpl_free(lc_dyn_tmpl *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) {
    sl_tmpl_free(t->maps[i].value);
    sl_tmpl_free(t->maps[i].cond);
    for (size_t k = 0; k < t->maps[i].np; k++) sl_tmpl_free(t->maps[i].path[k]);
    free(t->maps[i].path);
    free(t->maps[i].keys);
  }
  free(t->maps);
  free(t);
}

static bool is_template(const char *s) { return strstr(s, "{{") || strstr(s, "{%"); }

sl_code lc_dyn_tmpl_new(lc_source *src, size_t index, lc_dyn_tmpl **out, sl_err *err) {
  *out = NULL;
  const json_t *dyn = json_array_get(json_object_get(src->root, "dynamic_streams"), index);
  if (!json_is_object(dyn)) return sl_err_set(err, SL_ENOTFOUND, "the manifest has no dynamic_streams[%zu]", index);
  lc_dyn_tmpl *t = calloc(1, sizeof *t);
  if (!t) return sl_err_set(err, SL_ENOMEM, "out of memory");
  t->src = src, t->dyn = dyn, t->index = index;
  char nb[64];
  snprintf(t->name, sizeof t->name, "%s", lc_dyn_name(dyn, index, nb, sizeof nb));
  t->tmpl = json_object_get(dyn, "stream_template");
  t->res = json_object_get(dyn, "components_resolver");
  const json_t *upp = json_object_get(dyn, "use_parent_parameters");
  t->parent_params = !json_is_false(upp);
  const char *rt = json_string_value(json_object_get(t->res, "type"));
  sl_code rc = SL_EOK;
  if (!json_is_object(t->tmpl) || !rt) {
    rc = sl_err_set(err, SL_ECONFIG, "%s: a DynamicDeclarativeStream needs stream_template and a typed components_resolver",
                    LC_WHERE(src, dyn));
    goto out;
  }
  t->yaml_values = strcmp(rt, "HttpComponentsResolver") != 0;
  const json_t *maps = json_object_get(t->res, "components_mapping");
  t->maps = calloc(json_array_size(maps) + 1, sizeof *t->maps);
  if (!t->maps) {
    rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    goto out;
  }
  size_t i;
  json_t *m;
  json_array_foreach(maps, i, m) {
    dmap *d = &t->maps[t->n++];
    d->node = m;
    const json_t *fp = json_object_get(m, "field_path"), *v = json_object_get(m, "value");
    if (!json_array_size(fp) || !v) {
      rc = sl_err_set(err, SL_ECONFIG, "%s: a component mapping needs field_path and value", LC_WHERE(src, m));
      goto out;
    }
    if (json_is_string(v)) rc = lc_tmpl_value(src, m, "value", v, &d->value, err);
    else d->literal = v;
    if (!rc) rc = lc_tmpl_field(src, m, "condition", &d->cond, err);
    if (rc) goto out;
    const char *vt = json_string_value(json_object_get(m, "value_type"));
    d->accept = !vt                       ? SL_TMPL_ANY
                : !strcmp(vt, "string")   ? SL_TMPL_STRING
                : !strcmp(vt, "integer")  ? SL_TMPL_INT
                : !strcmp(vt, "number")   ? SL_TMPL_NUMBER
                : !strcmp(vt, "boolean")  ? SL_TMPL_BOOL
                                          : SL_TMPL_ANY;
    d->create = json_is_true(json_object_get(m, "create_or_update"));
    d->np = json_array_size(fp);
    if (d->np > 64) {
      rc = sl_err_set(err, SL_ECONFIG, "%s: field_path has more than 64 elements", LC_WHERE(src, m));
      goto out;
    }
    d->path = calloc(d->np, sizeof *d->path);
    d->keys = calloc(d->np, sizeof *d->keys);
    if (!d->path || !d->keys) {
      rc = sl_err_set(err, SL_ENOMEM, "out of memory");
      goto out;
    }
    for (size_t k = 0; k < d->np; k++) {
      const json_t *seg = json_array_get(fp, k);
      if (!json_is_string(seg)) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: field_path element %zu is not a string", LC_WHERE(src, m), k);
        goto out;
      }
      d->keys[k] = json_string_value(seg);
      if (is_template(d->keys[k]) && (rc = lc_tmpl_value(src, m, "field_path", seg, &d->path[k], err))) goto out;
    }
  }
out:
  if (rc) {
    lc_dyn_tmpl_free(t);
    return rc;
  }
  *out = t;
  return SL_EOK;
}

const char *lc_dyn_tmpl_name(const lc_dyn_tmpl *t) { return t->name; }

/* dpath.set: every existing match of segs[i..] under v set to val. */
static size_t glob_set(sl_mlocs *locs, json_t *v, const char *const *segs, size_t i, size_t n, const json_t *val) {
  const char *s = segs[i];
  bool star = !strcmp(s, "*"), stars = !strcmp(s, "**");
  size_t count = 0;
  if (stars && i + 1 < n) count += glob_set(locs, v, segs, i + 1, n, val);
  if (json_is_object(v)) {
    const char *k;
    json_t *c;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, c) {
      if (!star && !stars && strcmp(k, s)) continue;
      if (i + 1 == n) {
        json_object_set_new(v, k, sl_manifest_copy(locs, val, 0, 0)); /* each match its own copy */
        count++;
      } else {
        count += glob_set(locs, c, segs, i + 1, n, val);
        if (stars) count += glob_set(locs, c, segs, i, n, val);
      }
    }
  } else if (json_is_array(v)) {
    char *end;
    long at = star || stars ? -1 : strtol(s, &end, 10);
    if (!star && !stars && (*end || end == s || at < 0)) return count;
    for (size_t k = 0; k < json_array_size(v); k++) {
      if (at >= 0 && (size_t)at != k) continue;
      if (i + 1 == n) {
        json_array_set_new(v, k, sl_manifest_copy(locs, val, 0, 0));
        count++;
      } else {
        count += glob_set(locs, json_array_get(v, k), segs, i + 1, n, val);
        if (stars) count += glob_set(locs, json_array_get(v, k), segs, i, n, val);
      }
    }
  }
  return count;
}

/* dpath.new: the path made (mappings in between), val at its end. */
static bool path_new(json_t *v, const char *const *segs, size_t n, json_t *val) {
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(segs[i], "*") || !strcmp(segs[i], "**")) return false;
    bool last = i + 1 == n;
    if (json_is_object(v)) {
      json_t *c = json_object_get(v, segs[i]);
      if (last) return !json_object_set(v, segs[i], val);
      if (!json_is_object(c) && !json_is_array(c)) json_object_set_new(v, segs[i], c = json_object());
      v = c;
    } else if (json_is_array(v)) {
      char *end;
      long at = strtol(segs[i], &end, 10);
      if (*end || end == segs[i] || at < 0 || (size_t)at > json_array_size(v)) return false;
      if (last) return (size_t)at == json_array_size(v) ? !json_array_append(v, val) : !json_array_set(v, (size_t)at, val);
      json_t *c = json_array_get(v, (size_t)at);
      if (!json_is_object(c) && !json_is_array(c)) {
        c = json_object();
        if ((size_t)at == json_array_size(v)) json_array_append_new(v, c);
        else json_array_set_new(v, (size_t)at, c);
      }
      v = c;
    } else {
      return false;
    }
  }
  return false;
}

/* yaml.safe_load of a rendered string (the Config/Parametrized resolvers):
 * the text itself when it is not YAML. */
static json_t *yaml_value(json_t *v) {
  if (!json_is_string(v)) return v;
  if (!json_string_length(v)) { /* safe_load("") is None */
    json_decref(v);
    return json_null();
  }
  sl_mlocs scratch = {0};
  sl_err e = SL_ERR_INIT;
  json_t *p = sl_manifest_yaml_parse("value", NULL, json_string_value(v), json_string_length(v), &scratch, &e);
  sl_mlocs_dispose(&scratch);
  if (!p) return v;
  json_decref(v);
  return p;
}

/* The accumulated parameters pushed down with the parent's values winning
 * (use_parent_parameters), before the manifest's own propagation runs on the
 * generated stream: a mapping into the template's $parameters then reaches
 * every component below it, as in the CDK. */
static int push_params(lc_source *src, json_t *comp, const json_t *inherited, int depth) {
  if (depth > 200 || !json_is_object(comp)) return 0;
  json_t *eff = NULL;
  if (json_is_string(json_object_get(comp, "type"))) {
    eff = json_object_get(comp, "$parameters");
    if (!json_is_object(eff)) {
      eff = json_object();
      if (!eff || place(src, eff, comp) || json_object_set_new(comp, "$parameters", eff)) return -1;
    }
    if (inherited) {
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)inherited, k, v) {
        json_t *c = sl_manifest_copy(&src->m->locs, v, 0, 0);
        if (!c || json_object_set_new(eff, k, c)) return -1;
      }
    }
  }
  const json_t *pass = eff ? eff : inherited;
  const char *k;
  json_t *v;
  json_object_foreach(comp, k, v) {
    if (!strcmp(k, "$parameters")) continue;
    json_t *down = NULL;
    if (pass && json_object_get(pass, k)) { /* a parameter is withheld from the field of its name */
      down = json_deep_copy(pass);
      json_object_del(down, k);
    }
    const json_t *use = down ? down : pass;
    int rc = 0;
    if (json_is_object(v)) rc = push_params(src, v, use, depth + 1);
    else if (json_is_array(v))
      for (size_t i = 0; i < json_array_size(v) && !rc; i++) rc = push_params(src, json_array_get(v, i), use, depth + 1);
    json_decref(down);
    if (rc) return rc;
  }
  return 0;
}

sl_code lc_dyn_fill(lc_dyn_tmpl *t, const json_t *values, const json_t *slice, size_t n, json_t **holder,
                    json_t **stream, sl_err *err) {
  lc_source *src = t->src;
  *holder = *stream = NULL;
  json_t *st = sl_manifest_copy(&src->m->locs, t->tmpl, 0, 0);
  if (!st) return sl_err_set(err, SL_ENOMEM, "out of memory");
  json_t *ctx = lc_ctx_new(src, t->res);
  json_object_set(ctx, "components_values", (json_t *)values);
  json_object_set(ctx, "stream_template_config", (json_t *)t->tmpl);
  if (slice) json_object_set(ctx, "stream_slice", (json_t *)slice);
  sl_code rc = SL_EOK;
  const char **segs = NULL;
  for (size_t i = 0; i < t->n && !rc; i++) {
    dmap *d = &t->maps[i];
    if (d->cond) {
      bool ok = true;
      if ((rc = sl_tmpl_eval_bool(d->cond, ctx, &ok, err))) break;
      if (!ok) continue;
    }
    free(segs);
    segs = calloc(d->np, sizeof *segs);
    sl_buf keys;
    sl_buf_init(&keys, 1 << 16);
    size_t offs[64];
    for (size_t k = 0; k < d->np && !rc; k++) {
      if (!d->path[k]) continue;
      offs[k] = keys.len;
      if (!(rc = lc_eval_text(d->path[k], ctx, &keys, err))) sl_buf_append(&keys, "", 1);
    }
    for (size_t k = 0; k < d->np && !rc; k++)
      segs[k] = d->path[k] ? keys.data + offs[k] : d->keys[k];
    json_t *val = NULL;
    if (!rc && d->value) {
      rc = lc_eval(d->value, ctx, d->accept, &val, err);
      if (!rc && !val) val = json_string("");
      if (!rc && t->yaml_values) val = yaml_value(val);
    } else if (!rc) {
      val = sl_manifest_copy(&src->m->locs, d->literal, 0, 0);
    }
    if (!rc && place(src, val, d->node)) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
    if (!rc && !glob_set(&src->m->locs, st, segs, 0, d->np, val) && d->create && sl_json_truthy(val) &&
        !path_new(st, segs, d->np, val))
      rc = sl_err_set(err, SL_ECONFIG, "%s: field_path cannot be created in the stream template (value %zu)",
                      LC_WHERE(src, d->node), n);
    json_decref(val);
    sl_buf_dispose(&keys);
  }
  free(segs);
  json_decref(ctx);
  if (rc) {
    json_decref(st);
    return sl_err_wrap(err, "stream template %s (value %zu)", t->name, n);
  }
  if (!json_object_get(st, "type")) json_object_set_new(st, "type", json_string("DeclarativeStream"));
  /* types and parameters again (the name may come from them), then the
   * holder that names the stream in locations */
  if (t->parent_params && push_params(src, st, NULL, 0)) {
    json_decref(st);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  if (sl_manifest_propagate(src->m, st, err)) {
    json_decref(st);
    return err->code;
  }
  const json_t *name = json_object_get(st, "name");
  char key[400];
  snprintf(key, sizeof key, "dynamic_streams[%zu].stream_template(%s)", t->index,
           json_is_string(name) ? json_string_value(name) : "?");
  json_t *h = json_object();
  if (!h || json_object_set_new(h, key, st) || place_one(src, h, t->tmpl) || link(src, h, NULL)) {
    json_decref(h);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  if (!json_is_string(name) || !json_string_length(name)) {
    json_decref(h);
    return sl_err_set(err, SL_ECONFIG, "%s: the stream generated from value %zu has no name (a string)",
                      LC_WHERE(src, t->dyn), n);
  }
  *holder = h;
  *stream = st;
  return SL_EOK;
}

/* ---- the resolvers' values ---- */

/* ConfigComponentsResolver: each stream_config's list from the config (a
 * single value makes a list of one, default_values are appended), then the
 * cartesian product of the lists; mappings in a combination are merged and
 * anything else is kept as source_config_<i>: [index, value]. */
static sl_code config_values(lc_dyn_tmpl *t, lc_dyn_value_fn fn, void *ud, sl_err *err) {
  lc_source *src = t->src;
  const json_t *scs = json_object_get(t->res, "stream_config");
  json_t *one = NULL;
  if (json_is_object(scs)) scs = one = json_pack("[O]", scs);
  size_t nl = json_array_size(scs);
  json_t *lists = json_array();
  sl_code rc = SL_EOK;
  for (size_t i = 0; i < nl && !rc; i++) {
    const json_t *sc = json_array_get(scs, i);
    const json_t *v = src->config;
    size_t k;
    json_t *seg;
    json_array_foreach(json_object_get(sc, "configs_pointer"), k, seg) {
      char *key = NULL;
      sl_tmpl *tm = NULL;
      if ((rc = lc_tmpl_value(src, sc, "configs_pointer", seg, &tm, err))) break;
      sl_buf b;
      sl_buf_init(&b, 1 << 16);
      rc = lc_eval_text_at(src, sc, tm, &b, err);
      sl_tmpl_free(tm);
      if (!rc) key = strdup(sl_buf_cstr(&b));
      sl_buf_dispose(&b);
      if (rc) break;
      if (json_is_array(v)) {
        char *end;
        long at = strtol(key, &end, 10);
        v = *end || end == key ? NULL : json_array_get(v, (size_t)at);
      } else {
        v = json_object_get(v, key);
      }
      free(key);
    }
    if (rc) break;
    json_t *l = json_is_array(v) ? json_copy((json_t *)v) : v ? json_pack("[O]", v) : json_array();
    json_array_extend(l, json_object_get(sc, "default_values"));
    json_array_append_new(lists, l);
  }
  size_t *idx = calloc(nl + 1, sizeof *idx);
  bool empty = !nl;
  for (size_t i = 0; i < nl; i++) empty |= !json_array_size(json_array_get(lists, i));
  for (size_t n = 0; !rc && !empty; n++) {
    json_t *combo = json_object();
    for (size_t i = 0; i < nl; i++) {
      const json_t *el = json_array_get(json_array_get(lists, i), idx[i]);
      char k[40];
      snprintf(k, sizeof k, "source_config_%zu", i);
      if (json_is_object(el)) json_object_update(combo, (json_t *)el);
      else if (!json_object_get(combo, k)) json_object_set_new(combo, k, json_pack("[IO]", (json_int_t)idx[i], el));
    }
    rc = fn(ud, t, combo, NULL, n, err);
    json_decref(combo);
    size_t i = nl; /* the last list varies fastest, as itertools.product */
    while (i > 0 && ++idx[i - 1] == json_array_size(json_array_get(lists, i - 1))) idx[--i] = 0;
    if (i == 0) break;
  }
  free(idx);
  json_decref(lists);
  json_decref(one);
  return rc;
}

sl_code lc_dyn_read(lc_source *src, const json_t *retriever, const json_t *at, const char *name, bool sliced,
                    lc_dyn_record_fn fn, void *ud, sl_err *err) {
  const json_t *params = json_object_get(retriever, "$parameters");
  json_t *node = json_pack("{s:s,s:s,s:[],s:O}", "type", "DeclarativeStream", "name", name, "primary_key", "retriever",
                           retriever);
  if (node && params) json_object_set(node, "$parameters", (json_t *)params);
  if (!node || place_one(src, node, at)) {
    json_decref(node);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  lc_stream *st = NULL;
  lc_slicer *sl = NULL;
  json_t *slice = NULL;
  bool stop = false;
  sl_code rc = lc_stream_open(src, node, &st, err);
  if (!rc && sliced) rc = lc_slicer_build(st, NULL, false, &sl, err);
  for (bool first = true; !rc && !stop; first = false) {
    if (sl) rc = sl->ops->next(sl, &slice, err);
    else slice = first ? lc_slice_new(NULL, NULL, NULL) : NULL; /* read_records({}): one empty slice */
    if (rc || !slice) break;
    json_t *view = lc_slice_view_extra(slice);
    lc_pages pg;
    lc_pages_begin(st, sl, slice, &pg);
    for (bool have = true; !rc && have && !stop;) {
      if ((rc = lc_pages_next(&pg, &have, err)) || !have) break;
      for (size_t i = 0; i < pg.recs.n && !rc && !stop; i++) {
        json_t *r = NULL;
        if ((rc = lc_pages_record(&pg, pg.recs.v[i], &r, err)) || !r) continue;
        rc = fn(ud, r, view, &stop, err);
        json_decref(r);
      }
    }
    lc_pages_end(&pg);
    json_decref(view);
    json_decref(slice);
    slice = NULL;
  }
  if (sl) sl->ops->free(sl);
  lc_stream_close(st);
  json_decref(node);
  return rc;
}

typedef struct http_ud {
  lc_dyn_tmpl *t;
  lc_dyn_value_fn fn;
  void *ud;
  size_t n;
} http_ud;

static sl_code http_record(void *ud, const json_t *rec, const json_t *slice, bool *stop, sl_err *err) {
  http_ud *h = ud;
  (void)stop;
  return h->fn(h->ud, h->t, rec, slice, h->n++, err);
}

/* HttpComponentsResolver: the retriever's records, slice by slice. */
static sl_code http_values(lc_dyn_tmpl *t, lc_dyn_value_fn fn, void *ud, sl_err *err) {
  http_ud h = {t, fn, ud, 0};
  sl_code rc = lc_dyn_read(t->src, json_object_get(t->res, "retriever"), t->res, t->name, true, http_record, &h, err);
  if (rc) return sl_err_wrap(err, "%s: components resolver of %s", LC_WHERE(t->src, t->res), t->name);
  return SL_EOK;
}

sl_code lc_dyn_each_value(lc_dyn_tmpl *t, lc_dyn_value_fn fn, void *ud, sl_err *err) {
  const char *rt = json_string_value(json_object_get(t->res, "type"));
  if (!strcmp(rt, "HttpComponentsResolver")) return http_values(t, fn, ud, err);
  if (!strcmp(rt, "ConfigComponentsResolver")) return config_values(t, fn, ud, err);
  if (!strcmp(rt, "ParametrizedComponentsResolver")) {
    const json_t *l = json_object_get(json_object_get(t->res, "stream_parameters"), "list_of_parameters_for_stream");
    size_t i;
    json_t *v;
    json_array_foreach(l, i, v) {
      sl_code rc = fn(ud, t, v, NULL, i, err);
      if (rc) return rc;
    }
    return SL_EOK;
  }
  return sl_err_set(err, SL_ECONFIG, "%s: components resolver %s is not supported", LC_WHERE(t->src, t->res), rt);
}

/* ---- the streams in effect ---- */

static sl_code add_stream(lc_source *src, lc_dyn *d, const json_t *s, const char *origin, sl_err *err) {
  const char *name = json_string_value(json_object_get(s, "name"));
  if (!name) return sl_err_set(err, SL_ECONFIG, "%s: a stream without a name", LC_WHERE(src, s));
  size_t i;
  json_t *o;
  json_array_foreach(d->streams, i, o) {
    if (strcmp(json_string_value(json_object_get(o, "name")), name)) continue;
    return sl_err_set(err, SL_ECONFIG, "%s: stream name \"%s\" is used twice (first at %s)%s", LC_WHERE(src, s), name,
                      LC_WHERE(src, o), origin ? ": the dynamic streams list contains a duplicate name" : "");
  }
  json_array_append(d->streams, (json_t *)s);
  if (origin) json_object_set_new(d->origin, name, json_string(origin));
  return SL_EOK;
}

static sl_code on_value(void *ud, lc_dyn_tmpl *t, const json_t *values, const json_t *slice, size_t n, sl_err *err) {
  lc_dyn *d = ud;
  json_t *h, *st;
  sl_code rc = lc_dyn_fill(t, values, slice, n, &h, &st, err);
  if (rc) return rc;
  json_array_append_new(d->holders, h);
  return add_stream(t->src, d, st, t->name, err);
}

sl_code lc_dyn_resolve(lc_source *src, sl_err *err) {
  if (src->dyn) return SL_EOK;
  lc_dyn *d = calloc(1, sizeof *d);
  if (!d) return sl_err_set(err, SL_ENOMEM, "out of memory");
  d->streams = json_array(), d->origin = json_object(), d->holders = json_array();
  sl_code rc = SL_EOK;
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(src->root, "streams"), i, s) {
    const char *type = json_string_value(json_object_get(s, "type"));
    if (!type || strcmp(type, "ConditionalStreams")) {
      if ((rc = add_stream(src, d, s, NULL, err))) break;
      continue;
    }
    sl_tmpl *c = NULL;
    bool on = false;
    if (!(rc = lc_tmpl_field(src, s, "condition", &c, err)) && c) {
      json_t *ctx = lc_ctx_new(src, s);
      rc = sl_tmpl_eval_bool(c, ctx, &on, err);
      json_decref(ctx);
    }
    sl_tmpl_free(c);
    size_t k;
    json_t *cs;
    json_array_foreach(on ? json_object_get(s, "streams") : NULL, k, cs) if (!rc) rc = add_stream(src, d, cs, NULL, err);
    if (rc) break;
  }
  size_t nd = json_array_size(json_object_get(src->root, "dynamic_streams"));
  for (i = 0; i < nd && !rc; i++) {
    lc_dyn_tmpl *t = NULL;
    if (!(rc = lc_dyn_tmpl_new(src, i, &t, err))) rc = lc_dyn_each_value(t, on_value, d, err);
    lc_dyn_tmpl_free(t);
  }
  if (rc) {
    lc_dyn_free(d);
    return rc;
  }
  src->dyn = d;
  return SL_EOK;
}
