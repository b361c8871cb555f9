/* Namespace and stream-prefix mapping and field selection: what the
 * destination sees of a connection's streams. The pump maps RECORDs and
 * STATEs on their way to the destination (a RECORD of a stream with field
 * selection keeps only the selected fields) and maps the echoed states
 * back, so the state kept in the store stays in the source's terms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/platform.h"

typedef struct map_pair {
  char *src_name, *src_ns; /* ns NULL: none */
  char *dst_name, *dst_ns;
  json_t *fields; /* field selection tree (fieldsel.c), or NULL: every field */
} map_pair;

struct sl_mapping {
  map_pair *pairs;
  size_t n;
};

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

/* The destination namespace of a source namespace (malloc'd, or NULL). */
static char *map_ns(const char *format, const char *ns) {
  if (!format || !*format || !strcmp(format, "source")) return ns ? strdup(ns) : NULL;
  if (!strcmp(format, "destination")) return NULL;
  static const char var[] = "${SOURCE_NAMESPACE}";
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  for (const char *p = format; *p;) {
    if (!strncmp(p, var, sizeof var - 1)) {
      if (ns) sl_buf_append(&b, ns, strlen(ns));
      p += sizeof var - 1;
    } else {
      sl_buf_putc(&b, *p++);
    }
  }
  if (!b.len) {
    sl_buf_dispose(&b);
    return NULL;
  }
  sl_buf_putc(&b, 0);
  return b.data;
}

void sl_mapping_free(sl_mapping *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    free(m->pairs[i].src_name);
    free(m->pairs[i].src_ns);
    free(m->pairs[i].dst_name);
    free(m->pairs[i].dst_ns);
    json_decref(m->pairs[i].fields);
  }
  free(m->pairs);
  free(m);
}

sl_code sl_mapping_new(const char *namespace_format, const char *prefix, const json_t *configured, sl_mapping **out,
                       sl_err *err) {
  *out = NULL;
  bool ns_same = !namespace_format || !*namespace_format || !strcmp(namespace_format, "source");
  if (ns_same && (!prefix || !*prefix) && !sl_fields_any(configured)) return SL_EOK;
  json_t *streams = json_object_get(configured, "streams");
  sl_mapping *m = calloc(1, sizeof *m);
  if (!m || !(m->pairs = calloc(json_array_size(streams) + 1, sizeof *m->pairs))) {
    free(m);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  size_t i;
  json_t *cs;
  json_array_foreach(streams, i, cs) {
    json_t *st = json_object_get(cs, "stream");
    const char *name = json_string_value(json_object_get(st, "name"));
    const char *ns = json_string_value(json_object_get(st, "namespace"));
    if (!name) continue;
    map_pair *p = &m->pairs[m->n++];
    p->src_name = strdup(name);
    p->src_ns = ns ? strdup(ns) : NULL;
    p->fields = json_incref(json_object_get(cs, SL_FIELDS_KEY));
    p->dst_ns = map_ns(namespace_format, ns);
    if (asprintf(&p->dst_name, "%s%s", prefix ? prefix : "", name) < 0) p->dst_name = NULL;
    if (!p->src_name || !p->dst_name) {
      sl_mapping_free(m);
      return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k + 1 < m->n; k++)
      if (!strcmp(m->pairs[k].dst_name, p->dst_name) && str_eq(m->pairs[k].dst_ns, p->dst_ns)) {
        sl_code rc = sl_err_set(err, SL_ECONFIG,
                                "namespace format \"%s\" maps streams \"%s%s%s\" and \"%s%s%s\" both to \"%s%s%s\" in the destination; "
                                "use a format with ${SOURCE_NAMESPACE} or sync them in separate connections",
                                namespace_format ? namespace_format : "source", m->pairs[k].src_ns ? m->pairs[k].src_ns : "",
                                m->pairs[k].src_ns ? "." : "", m->pairs[k].src_name, p->src_ns ? p->src_ns : "",
                                p->src_ns ? "." : "", p->src_name, p->dst_ns ? p->dst_ns : "", p->dst_ns ? "." : "", p->dst_name);
        sl_mapping_free(m);
        return rc;
      }
  }
  *out = m;
  return SL_EOK;
}

static const map_pair *find(const sl_mapping *m, const char *name, size_t nlen, const char *ns, size_t nslen, bool by_dest) {
  for (size_t i = 0; i < m->n; i++) {
    const map_pair *p = &m->pairs[i];
    const char *pn = by_dest ? p->dst_name : p->src_name, *pns = by_dest ? p->dst_ns : p->src_ns;
    if (strlen(pn) != nlen || memcmp(pn, name, nlen)) continue;
    if (!ns != !pns || (ns && (strlen(pns) != nslen || memcmp(pns, ns, nslen)))) continue;
    return p;
  }
  return NULL;
}

json_t *sl_mapping_catalog(const sl_mapping *m, const json_t *configured) {
  json_t *out = json_deep_copy(configured);
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(out, "streams"), i, cs) {
    json_t *st = json_object_get(cs, "stream");
    const char *name = json_string_value(json_object_get(st, "name"));
    const char *ns = json_string_value(json_object_get(st, "namespace"));
    const map_pair *p = name ? find(m, name, strlen(name), ns, ns ? strlen(ns) : 0, false) : NULL;
    json_object_del(cs, SL_FIELDS_KEY);
    if (!p) continue;
    json_object_set_new(st, "name", json_string(p->dst_name));
    if (p->dst_ns) json_object_set_new(st, "namespace", json_string(p->dst_ns));
    else json_object_del(st, "namespace");
  }
  return out;
}

sl_code sl_mapping_record(const sl_mapping *m, sl_jv root, sl_buf *out) {
  sl_jv rec, v;
  size_t nlen = 0, nslen = 0;
  const char *name = NULL, *ns = NULL;
  if (!sl_jv_get(root, "record", &rec) || sl_jv_type(rec) != SL_JOBJECT) return SL_EPROTOCOL;
  if (sl_jv_get(rec, "stream", &v)) name = sl_jv_str(v, &nlen);
  if (sl_jv_get(rec, "namespace", &v)) ns = sl_jv_str(v, &nslen);
  const map_pair *p = name ? find(m, name, nlen, ns, nslen, false) : NULL;
  if (!p) return SL_ENOTFOUND;
  sl_jw w;
  sl_jw_init(&w, out);
  sl_jw_obj_open(&w);
  for (sl_jv k = sl_jv_first(root); sl_jv_more(root, k); k = sl_jv_next(sl_jv_val(k))) {
    size_t kn;
    const char *ks = sl_jv_str(k, &kn);
    sl_jw_key(&w, ks, kn);
    if (kn != 6 || memcmp(ks, "record", 6)) {
      sl_jw_jv(&w, sl_jv_val(k));
      continue;
    }
    sl_jw_obj_open(&w);
    for (sl_jv k2 = sl_jv_first(rec); sl_jv_more(rec, k2); k2 = sl_jv_next(sl_jv_val(k2))) {
      size_t kn2;
      const char *ks2 = sl_jv_str(k2, &kn2);
      if ((kn2 == 6 && !memcmp(ks2, "stream", 6)) || (kn2 == 9 && !memcmp(ks2, "namespace", 9))) continue;
      sl_jw_key(&w, ks2, kn2);
      if (p->fields && kn2 == 4 && !memcmp(ks2, "data", 4) && sl_jv_type(sl_jv_val(k2)) == SL_JOBJECT)
        sl_fields_write(&w, sl_jv_val(k2), p->fields);
      else
        sl_jw_jv(&w, sl_jv_val(k2));
    }
    sl_jw_keyz(&w, "stream");
    sl_jw_strz(&w, p->dst_name);
    if (p->dst_ns) {
      sl_jw_keyz(&w, "namespace");
      sl_jw_strz(&w, p->dst_ns);
    }
    sl_jw_obj_close(&w);
  }
  sl_jw_obj_close(&w);
  if (w.rc || sl_buf_putc(out, '\n')) return SL_ELIMIT;
  return SL_EOK;
}

bool sl_mapping_back(const sl_mapping *m, const char *name, size_t nlen, const char *ns, size_t nslen, const char **src_name,
                     const char **src_ns) {
  const map_pair *p = m ? find(m, name, nlen, ns, nslen, true) : NULL;
  if (!p) return false;
  *src_name = p->src_name;
  *src_ns = p->src_ns;
  return true;
}

void sl_mapping_descriptor(const sl_mapping *m, json_t *d, bool to_dest) {
  const char *name = json_string_value(json_object_get(d, "name"));
  const char *ns = json_string_value(json_object_get(d, "namespace"));
  const map_pair *p = name ? find(m, name, strlen(name), ns, ns ? strlen(ns) : 0, !to_dest) : NULL;
  if (!p) return;
  const char *nn = to_dest ? p->dst_name : p->src_name, *nns = to_dest ? p->dst_ns : p->src_ns;
  json_object_set_new(d, "name", json_string(nn));
  if (nns) json_object_set_new(d, "namespace", json_string(nns));
  else json_object_del(d, "namespace");
}

void sl_mapping_state(const sl_mapping *m, json_t *msg, bool to_dest) {
  json_t *st = json_object_get(msg, "state") ? json_object_get(msg, "state") : msg; /* a message or a bare state */
  sl_mapping_descriptor(m, json_object_get(json_object_get(st, "stream"), "stream_descriptor"), to_dest);
  size_t i;
  json_t *ss;
  json_array_foreach(json_object_get(json_object_get(st, "global"), "stream_states"), i, ss)
      sl_mapping_descriptor(m, json_object_get(ss, "stream_descriptor"), to_dest);
}

sl_code sl_mapping_state_out(const sl_mapping *m, sl_jv msg, const char *id_raw, size_t id_len, sl_buf *out) {
  json_t *j = sl_jv_to_json(msg);
  json_t *st = json_object_get(j, "state");
  if (!json_is_object(st)) {
    json_decref(j);
    return SL_EPROTOCOL;
  }
  sl_mapping_state(m, j, true);
  json_t *id = json_loadb(id_raw, id_len, JSON_DECODE_ANY, NULL);
  json_object_set_new(st, "id", id ? id : json_null());
  char *text = sl_json_dumps(j);
  json_decref(j);
  sl_code rc = !text ? SL_ENOMEM : sl_buf_put(out, text, strlen(text)) || sl_buf_putc(out, '\n') ? SL_ELIMIT : SL_EOK;
  free(text);
  return rc;
}

sl_code sl_mapping_record_line(const sl_mapping *m, const char *line, size_t len, const sl_envelope *env, sl_jparser *jp,
                               const char *what, sl_buf *out, sl_err *err) {
  /* The canonical layout (sl_record_scan: stream first, no namespace): the
   * new name and namespace are spliced in, the rest copied as it is (when
   * every field goes through). */
  static const char pre[] = "{\"type\":\"RECORD\",\"record\":{\"stream\":";
  const size_t pl = sizeof pre - 1;
  if (!env->ns && len > pl + 1 && env->stream == line + pl + 1 && !memcmp(line, pre, pl) &&
      env->stream + env->stream_len < line + len && env->stream[env->stream_len] == '"') {
    const map_pair *p = find(m, env->stream, env->stream_len, NULL, 0, false);
    if (p && !p->fields) {
      const char *rest = env->stream + env->stream_len + 1;
      bool bad = sl_buf_put(out, line, pl) || sl_json_escape(out, p->dst_name, strlen(p->dst_name));
      if (!bad && p->dst_ns) bad = sl_buf_put(out, ",\"namespace\":", 13) || sl_json_escape(out, p->dst_ns, strlen(p->dst_ns));
      if (bad || sl_buf_put(out, rest, (size_t)(line + len - rest)) || sl_buf_putc(out, '\n'))
        return sl_err_set(err, SL_ELIMIT, "%s: the buffer to the destination is full", what);
      return SL_EOK;
    }
  }
  sl_jv root;
  sl_code rc = sl_jparser_parse(jp, line, len, &root, what, err);
  if (rc) return rc;
  if ((rc = sl_mapping_record(m, root, out)))
    return sl_err_set(err, rc, "%s: %s", what, rc == SL_ENOTFOUND ? "a RECORD of a stream the mapping does not know" : "the buffer to the destination is full");
  return SL_EOK;
}
