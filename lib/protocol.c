#include "sluice/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const struct {
  sl_msg_type t;
  const char *name, *key;
} msg_types[] = {
    {SL_MSG_RECORD, "RECORD", "record"},
    {SL_MSG_STATE, "STATE", "state"},
    {SL_MSG_LOG, "LOG", "log"},
    {SL_MSG_SPEC, "SPEC", "spec"},
    {SL_MSG_CONNECTION_STATUS, "CONNECTION_STATUS", "connectionStatus"},
    {SL_MSG_CATALOG, "CATALOG", "catalog"},
    {SL_MSG_TRACE, "TRACE", "trace"},
    {SL_MSG_CONTROL, "CONTROL", "control"},
    {SL_MSG_DESTINATION_CATALOG, "DESTINATION_CATALOG", "destination_catalog"},
};
#define N_MSG_TYPES (sizeof msg_types / sizeof msg_types[0])

sl_msg_type sl_msg_type_parse(const char *s, size_t len) {
  for (size_t i = 0; i < N_MSG_TYPES; i++)
    if (strlen(msg_types[i].name) == len && memcmp(msg_types[i].name, s, len) == 0)
      return msg_types[i].t;
  return SL_MSG_UNKNOWN;
}

const char *sl_msg_type_name(sl_msg_type t) {
  for (size_t i = 0; i < N_MSG_TYPES; i++)
    if (msg_types[i].t == t) return msg_types[i].name;
  return "UNKNOWN";
}

const char *sl_msg_payload_key(sl_msg_type t) {
  for (size_t i = 0; i < N_MSG_TYPES; i++)
    if (msg_types[i].t == t) return msg_types[i].key;
  return NULL;
}

const char *sl_sync_mode_name(sl_sync_mode m) {
  return m == SL_SYNC_INCREMENTAL ? "incremental" : "full_refresh";
}

static const struct {
  sl_dest_mode m;
  const char *name;
} dest_modes[] = {
    {SL_DEST_APPEND, "append"},           {SL_DEST_OVERWRITE, "overwrite"},
    {SL_DEST_APPEND_DEDUP, "append_dedup"}, {SL_DEST_UPDATE, "update"},
    {SL_DEST_SOFT_DELETE, "soft_delete"}, {SL_DEST_OVERWRITE_DEDUP, "overwrite_dedup"},
};

const char *sl_dest_mode_name(sl_dest_mode m) {
  for (size_t i = 0; i < sizeof dest_modes / sizeof dest_modes[0]; i++)
    if (dest_modes[i].m == m) return dest_modes[i].name;
  return "unknown";
}

sl_dest_mode sl_dest_mode_parse(const char *s) {
  for (size_t i = 0; s && i < sizeof dest_modes / sizeof dest_modes[0]; i++)
    if (strcmp(dest_modes[i].name, s) == 0) return dest_modes[i].m;
  return SL_DEST_UNKNOWN;
}

int64_t sl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Routing needs no parse for the canonical layout; see protocol.h. */
bool sl_record_scan(const char *line, size_t len, sl_envelope *env) {
  static const char pre[] = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"";
  const size_t pl = sizeof pre - 1;
  if (len < pl + 16 || memcmp(line, pre, pl) != 0 || line[len - 1] != '}') return false;
  const char *name = line + pl, *end = line + len;
  const char *q = memchr(name, '"', (size_t)(end - name));
  if (!q || q == name || memchr(name, '\\', (size_t)(q - name)) || q[1] != ',') return false;
  if ((size_t)(end - q) > 13 && !memcmp(q + 1, ",\"namespace\"", 12)) return false;
  const char *d = memmem(q, (size_t)(end - q), ",\"data\":{", 9);
  if (!d || d + 9 >= end) return false;
  const char *first = d + 9;
  while (first < end && (*first == ' ' || *first == '\t')) first++;
  if (first >= end || *first == '}') return false; /* empty: let the parser decide */
  if (!sl_utf8_valid(line, len)) return false;
  memset(env, 0, sizeof *env);
  env->type = "RECORD";
  env->type_len = 6;
  env->stream = name;
  env->stream_len = (size_t)(q - name);
  env->data_state = 2;
  return true;
}

/* ---- catalog ---- */

/* A path is ["a","b"]; a missing or empty value yields n == 0. */
static sl_code path_parse(json_t *v, sl_path *out, const char *what, sl_err *err) {
  out->parts = NULL;
  out->n = 0;
  if (!v || json_is_null(v)) return SL_EOK;
  if (!json_is_array(v))
    return sl_err_set(err, SL_ECATALOG, "%s: expected an array of field names", what);
  size_t n = json_array_size(v);
  if (!n) return SL_EOK;
  out->parts = calloc(n, sizeof *out->parts);
  if (!out->parts) return SL_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    json_t *p = json_array_get(v, i);
    if (!json_is_string(p))
      return sl_err_set(err, SL_ECATALOG, "%s[%zu]: expected a field name string", what, i);
    out->parts[i] = json_string_value(p);
  }
  out->n = n;
  return SL_EOK;
}

static sl_code pk_parse(json_t *v, sl_cstream *cs, const char *what, sl_err *err) {
  if (!v || json_is_null(v) || !json_array_size(v)) return SL_EOK;
  if (!json_is_array(v))
    return sl_err_set(err, SL_ECATALOG, "%s: expected an array of field paths", what);
  size_t n = json_array_size(v);
  cs->pk = calloc(n, sizeof *cs->pk);
  if (!cs->pk) return SL_ENOMEM;
  cs->n_pk = n;
  for (size_t i = 0; i < n; i++) {
    char sub[256];
    snprintf(sub, sizeof sub, "%s[%zu]", what, i);
    sl_code rc = path_parse(json_array_get(v, i), &cs->pk[i], sub, err);
    if (rc) return rc;
  }
  return SL_EOK;
}

static bool json_int_field(json_t *o, const char *k, int64_t *out) {
  json_t *v = json_object_get(o, k);
  if (!json_is_integer(v)) return false;
  *out = json_integer_value(v);
  return true;
}

static sl_code cstream_parse(json_t *cfg, size_t i, const char *what, sl_cstream *cs,
                             sl_err *err) {
  char where[512];
  cs->index = i;
  cs->json = cfg;
  if (!json_is_object(cfg))
    return sl_err_set(err, SL_ECATALOG, "%s: streams[%zu]: expected an object", what, i);
  cs->stream = json_object_get(cfg, "stream");
  if (!json_is_object(cs->stream))
    return sl_err_set(err, SL_ECATALOG, "%s: streams[%zu]: missing required object \"stream\"",
                      what, i);
  json_t *name = json_object_get(cs->stream, "name");
  if (!json_is_string(name) || !json_string_length(name))
    return sl_err_set(err, SL_ECATALOG, "%s: streams[%zu].stream: missing required string \"name\"",
                      what, i);
  cs->name = json_string_value(name);
  json_t *ns = json_object_get(cs->stream, "namespace");
  cs->ns = json_is_string(ns) ? json_string_value(ns) : NULL;
  snprintf(where, sizeof where, "%s: stream \"%s\"", what, cs->name);
  cs->json_schema = json_object_get(cs->stream, "json_schema");
  if (!json_is_object(cs->json_schema))
    return sl_err_set(err, SL_ECATALOG, "%s: missing required object \"json_schema\"", where);

  const char *sm = json_string_value(json_object_get(cfg, "sync_mode"));
  if (!sm) return sl_err_set(err, SL_ECATALOG, "%s: missing required \"sync_mode\"", where);
  if (strcmp(sm, "full_refresh") == 0) cs->sync_mode = SL_SYNC_FULL_REFRESH;
  else if (strcmp(sm, "incremental") == 0) cs->sync_mode = SL_SYNC_INCREMENTAL;
  else
    return sl_err_set(err, SL_ECATALOG,
                      "%s: sync_mode \"%s\" is not one of \"full_refresh\", \"incremental\"",
                      where, sm);
  json_t *supported = json_object_get(cs->stream, "supported_sync_modes");
  if (json_is_array(supported)) {
    bool ok = false;
    size_t k;
    json_t *m;
    json_array_foreach(supported, k, m) if (json_is_string(m) && strcmp(json_string_value(m), sm) == 0) ok = true;
    if (!ok)
      return sl_err_set(err, SL_ECATALOG, "%s: sync_mode \"%s\" is not supported by the stream",
                        where, sm);
  }
  /* Lenient: sources ignore it, destinations check what they support. */
  cs->dest_mode = sl_dest_mode_parse(json_string_value(json_object_get(cfg, "destination_sync_mode")));

  char sub[600];
  snprintf(sub, sizeof sub, "%s: cursor_field", where);
  sl_code rc = path_parse(json_object_get(cfg, "cursor_field"), &cs->cursor, sub, err);
  if (rc) return rc;
  if (!cs->cursor.n || json_is_true(json_object_get(cs->stream, "source_defined_cursor"))) {
    free(cs->cursor.parts);
    snprintf(sub, sizeof sub, "%s: default_cursor_field", where);
    rc = path_parse(json_object_get(cs->stream, "default_cursor_field"), &cs->cursor, sub, err);
    if (rc) return rc;
  }
  json_t *pk = json_object_get(cfg, "primary_key");
  snprintf(sub, sizeof sub, "%s: primary_key", where);
  if (!json_array_size(pk)) {
    pk = json_object_get(cs->stream, "source_defined_primary_key");
    snprintf(sub, sizeof sub, "%s: source_defined_primary_key", where);
  }
  rc = pk_parse(pk, cs, sub, err);
  if (rc) return rc;
  cs->has_generation_id = json_int_field(cfg, "generation_id", &cs->generation_id);
  cs->has_generation = cs->has_generation_id &&
                       json_int_field(cfg, "minimum_generation_id", &cs->minimum_generation_id);
  if (!(cs->has_sync_id = json_int_field(cfg, "sync_id", &cs->sync_id))) cs->sync_id = 0;
  return SL_EOK;
}

sl_code sl_catalog_parse(json_t *root, const char *what, sl_catalog *cat, sl_err *err) {
  memset(cat, 0, sizeof *cat);
  if (!json_is_object(root))
    return sl_err_set(err, SL_ECATALOG, "%s: a configured catalog must be a JSON object", what);
  json_t *streams = json_object_get(root, "streams");
  if (!json_is_array(streams))
    return sl_err_set(err, SL_ECATALOG, "%s: missing required array \"streams\"", what);
  cat->root = json_incref(root);
  cat->n = json_array_size(streams);
  cat->streams = calloc(cat->n ? cat->n : 1, sizeof *cat->streams);
  if (!cat->streams) return SL_ENOMEM;
  for (size_t i = 0; i < cat->n; i++) {
    sl_code rc = cstream_parse(json_array_get(streams, i), i, what, &cat->streams[i], err);
    if (rc) {
      sl_catalog_dispose(cat);
      return rc;
    }
    for (size_t j = 0; j < i; j++) {
      sl_cstream *a = &cat->streams[j], *b = &cat->streams[i];
      if (strcmp(a->name, b->name) == 0 && ((!a->ns && !b->ns) || (a->ns && b->ns && !strcmp(a->ns, b->ns)))) {
        sl_err_set(err, SL_ECATALOG, "%s: stream \"%s\" appears twice", what, b->name);
        sl_catalog_dispose(cat);
        return SL_ECATALOG;
      }
    }
  }
  return SL_EOK;
}

void sl_catalog_dispose(sl_catalog *cat) {
  for (size_t i = 0; cat->streams && i < cat->n; i++) {
    sl_cstream *cs = &cat->streams[i];
    free(cs->cursor.parts);
    for (size_t k = 0; cs->pk && k < cs->n_pk; k++) free(cs->pk[k].parts);
    free(cs->pk);
  }
  free(cat->streams);
  json_decref(cat->root);
  memset(cat, 0, sizeof *cat);
}

sl_cstream *sl_catalog_findn(const sl_catalog *cat, const char *name, size_t len, const char *ns,
                             size_t nslen) {
  for (size_t i = 0; i < cat->n; i++) {
    sl_cstream *cs = &cat->streams[i];
    if (strlen(cs->name) != len || memcmp(cs->name, name, len) != 0) continue;
    if (!ns && !cs->ns) return cs;
    if (ns && cs->ns && strlen(cs->ns) == nslen && memcmp(cs->ns, ns, nslen) == 0) return cs;
  }
  return NULL;
}

sl_cstream *sl_catalog_find(const sl_catalog *cat, const char *name, const char *ns) {
  return sl_catalog_findn(cat, name, strlen(name), ns, ns ? strlen(ns) : 0);
}

/* ---- state ---- */

const char *sl_state_type_name(sl_state_type t) {
  switch (t) {
    case SL_STATE_STREAM: return "STREAM";
    case SL_STATE_GLOBAL: return "GLOBAL";
    case SL_STATE_LEGACY: return "LEGACY";
    default: return "NONE";
  }
}

static sl_code attach_stream_state(json_t *ss, const char *what, sl_catalog *cat, sl_err *err) {
  json_t *desc = json_object_get(ss, "stream_descriptor");
  const char *name = json_string_value(json_object_get(desc, "name"));
  if (!name)
    return sl_err_set(err, SL_ESTATE, "%s: stream state without stream_descriptor.name", what);
  const char *ns = json_string_value(json_object_get(desc, "namespace"));
  sl_cstream *cs = cat ? sl_catalog_find(cat, name, ns) : NULL;
  json_t *st = json_object_get(ss, "stream_state");
  if (cs) cs->state = json_is_null(st) ? NULL : st; /* null means "reset" */
  return SL_EOK;
}

sl_code sl_state_parse(json_t *root, const char *what, sl_catalog *cat, sl_state *st, sl_err *err) {
  memset(st, 0, sizeof *st);
  if (json_is_object(root)) { /* the legacy blob */
    st->root = json_incref(root);
    st->type = SL_STATE_LEGACY;
    st->shared = root;
    return SL_EOK;
  }
  if (!json_is_array(root))
    return sl_err_set(err, SL_ESTATE, "%s: state must be a JSON array of state messages", what);
  st->root = json_incref(root);
  size_t i;
  json_t *m;
  json_array_foreach(root, i, m) {
    if (!json_is_object(m)) {
      sl_state_dispose(st);
      return sl_err_set(err, SL_ESTATE, "%s: [%zu]: expected a state message object", what, i);
    }
    /* Accept both bare state messages and ones wrapped in an AirbyteMessage. */
    if (json_is_object(json_object_get(m, "state")) &&
        json_is_string(json_object_get(m, "type")) &&
        !strcmp(json_string_value(json_object_get(m, "type")), "STATE"))
      m = json_object_get(m, "state");
    const char *type = json_string_value(json_object_get(m, "type"));
    char where[512];
    snprintf(where, sizeof where, "%s: [%zu]", what, i);
    sl_code rc = SL_EOK;
    if (type && !strcmp(type, "STREAM")) {
      if (st->type == SL_STATE_GLOBAL) rc = sl_err_set(err, SL_ESTATE, "%s: mixes STREAM and GLOBAL states", where);
      st->type = SL_STATE_STREAM;
      json_t *s = json_object_get(m, "stream");
      if (!rc && !json_is_object(s)) rc = sl_err_set(err, SL_ESTATE, "%s: STREAM state without \"stream\"", where);
      if (!rc) rc = attach_stream_state(s, where, cat, err);
    } else if (type && !strcmp(type, "GLOBAL")) {
      if (st->type == SL_STATE_STREAM) rc = sl_err_set(err, SL_ESTATE, "%s: mixes STREAM and GLOBAL states", where);
      st->type = SL_STATE_GLOBAL;
      json_t *g = json_object_get(m, "global");
      if (!rc && !json_is_object(g)) rc = sl_err_set(err, SL_ESTATE, "%s: GLOBAL state without \"global\"", where);
      if (!rc) {
        st->shared = json_object_get(g, "shared_state");
        size_t k;
        json_t *ss;
        json_array_foreach(json_object_get(g, "stream_states"), k, ss) {
          if ((rc = attach_stream_state(ss, where, cat, err))) break;
        }
      }
    } else if (!type || !strcmp(type, "LEGACY")) {
      st->type = SL_STATE_LEGACY;
      st->shared = json_object_get(m, "data");
    } else {
      rc = sl_err_set(err, SL_ESTATE, "%s: unknown state type \"%s\"", where, type);
    }
    if (rc) {
      sl_state_dispose(st);
      return rc;
    }
  }
  return SL_EOK;
}

void sl_state_dispose(sl_state *st) {
  json_decref(st->root);
  memset(st, 0, sizeof *st);
}

/* ---- output ---- */

void sl_out_init(sl_out *o, int fd) {
  o->fd = fd;
  sl_buf_init(&o->buf, (size_t)1 << 31);
  o->flush_at = 64 * 1024;
  o->secrets = NULL;
  o->rc = SL_EOK;
}

void sl_out_dispose(sl_out *o) {
  sl_out_flush(o);
  sl_buf_dispose(&o->buf);
}

sl_code sl_out_flush(sl_out *o) {
  size_t off = 0;
  while (off < o->buf.len && !o->rc) {
    ssize_t n = write(o->fd, o->buf.data + off, o->buf.len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      o->rc = SL_EIO; /* EPIPE: the reader is gone; nothing more to say */
      break;
    }
    off += (size_t)n;
  }
  o->buf.len = 0;
  return o->rc;
}

sl_code sl_out_message(sl_out *o, const json_t *msg) {
  sl_jw w;
  sl_jw_init(&w, &o->buf);
  size_t start = o->buf.len;
  sl_jw_json(&w, msg);
  if (w.rc || sl_buf_putc(&o->buf, '\n')) {
    o->buf.len = start;
    return SL_ELIMIT;
  }
  return sl_out_maybe_flush(o);
}

static json_int_t emitted_now(void) { return (json_int_t)sl_now_ms(); }

/* text with each byte that is not part of valid UTF-8 replaced by U+FFFD: a
 * message may quote a binary response body, and jansson refuses invalid UTF-8
 * (the whole message would be lost). Frees text. */
static char *utf8_repaired(char *text) {
  size_t len = text ? strlen(text) : 0;
  if (!text || sl_utf8_valid(text, len)) return text;
  char *out = malloc(3 * len + 1);
  if (!out) return free(text), NULL;
  const unsigned char *p = (const unsigned char *)text;
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    size_t n = p[i] < 0x80 ? 1 : p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : 2;
    if (n <= len - i && sl_utf8_valid(text + i, n)) {
      memcpy(out + k, text + i, n), k += n, i += n;
    } else {
      memcpy(out + k, "\xEF\xBF\xBD", 3), k += 3, i++;
    }
  }
  out[k] = 0;
  free(text);
  return out;
}

static char *scrubbed(const sl_out *o, const char *text) {
  return utf8_repaired(o->secrets ? sl_secrets_scrub(o->secrets, text) : strdup(text));
}

sl_code sl_out_log(sl_out *o, const char *level, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  char *clean = scrubbed(o, text);
  json_t *m = json_pack("{s:s, s:{s:s, s:s}}", "type", "LOG", "log", "level", level, "message",
                        clean ? clean : "");
  free(clean);
  sl_code rc = m ? sl_out_message(o, m) : SL_ENOMEM;
  json_decref(m);
  return rc;
}

static json_t *descriptor(const char *stream, const char *ns) {
  json_t *d = json_pack("{s:s}", "name", stream);
  if (d && ns) json_object_set_new(d, "namespace", json_string(ns));
  return d;
}

sl_code sl_out_trace_error(sl_out *o, const char *failure_type, const char *message,
                           const char *internal_message, const char *stream, const char *ns) {
  char *msg = scrubbed(o, message ? message : "");
  json_t *e = json_pack("{s:s, s:s}", "message", msg ? msg : "", "failure_type", failure_type);
  free(msg);
  if (!e) return SL_ENOMEM;
  if (internal_message) {
    char *im = scrubbed(o, internal_message);
    json_object_set_new(e, "internal_message", json_string(im ? im : ""));
    free(im);
  }
  if (stream) json_object_set_new(e, "stream_descriptor", descriptor(stream, ns));
  json_t *m = json_pack("{s:s, s:{s:s, s:I, s:o}}", "type", "TRACE", "trace", "type", "ERROR",
                        "emitted_at", emitted_now(), "error", e);
  sl_code rc = m ? sl_out_message(o, m) : SL_ENOMEM;
  json_decref(m);
  return rc;
}

sl_code sl_out_stream_status(sl_out *o, const char *stream, const char *ns, const char *status) {
  json_t *m = json_pack("{s:s, s:{s:s, s:I, s:{s:o, s:s}}}", "type", "TRACE", "trace", "type",
                        "STREAM_STATUS", "emitted_at", emitted_now(), "stream_status",
                        "stream_descriptor", descriptor(stream, ns), "status", status);
  sl_code rc = m ? sl_out_message(o, m) : SL_ENOMEM;
  json_decref(m);
  return rc;
}

sl_code sl_out_connection_status(sl_out *o, bool ok, const char *message) {
  json_t *cs = json_pack("{s:s}", "status", ok ? "SUCCEEDED" : "FAILED");
  if (!cs) return SL_ENOMEM;
  if (message) {
    char *clean = scrubbed(o, message);
    json_object_set_new(cs, "message", json_string(clean ? clean : ""));
    free(clean);
  }
  json_t *m = json_pack("{s:s, s:o}", "type", "CONNECTION_STATUS", "connectionStatus", cs);
  sl_code rc = m ? sl_out_message(o, m) : SL_ENOMEM;
  json_decref(m);
  return rc;
}

sl_code sl_out_control_config(sl_out *o, const json_t *config) {
  json_t *m = json_pack("{s:s, s:{s:s, s:I, s:{s:O}}}", "type", "CONTROL", "control", "type",
                        "CONNECTOR_CONFIG", "emitted_at", emitted_now(), "connectorConfig",
                        "config", config);
  sl_code rc = m ? sl_out_message(o, m) : SL_ENOMEM;
  json_decref(m);
  return rc;
}

/* ---- secrets ---- */

struct sl_secrets {
  char **v;
  size_t n, cap;
};

static void secrets_add(sl_secrets *s, const char *v) {
  if (!v || strlen(v) < 2) return; /* a 1-char "secret" would scrub every text */
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], v)) return;
  if (s->n == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 8;
    char **nv = realloc(s->v, ncap * sizeof *nv);
    if (!nv) return;
    s->v = nv;
    s->cap = ncap;
  }
  char *copy = strdup(v);
  if (copy) s->v[s->n++] = copy;
}

static void secrets_walk(sl_secrets *s, const json_t *schema, const json_t *value, int depth) {
  if (!json_is_object(schema) || !value || depth > 64) return;
  if (json_is_true(json_object_get(schema, "airbyte_secret"))) {
    if (json_is_string(value)) secrets_add(s, json_string_value(value));
    else if (json_is_integer(value) || json_is_real(value)) {
      char *t = sl_json_dumps(value);
      secrets_add(s, t);
      free(t);
    }
  }
  const char *combos[] = {"oneOf", "anyOf", "allOf"};
  for (size_t c = 0; c < 3; c++) {
    size_t i;
    json_t *sub;
    json_array_foreach(json_object_get(schema, combos[c]), i, sub)
        secrets_walk(s, sub, value, depth + 1);
  }
  if (json_is_object(value)) {
    const char *k;
    json_t *sub;
    json_object_foreach(json_object_get(schema, "properties"), k, sub)
        secrets_walk(s, sub, json_object_get(value, k), depth + 1);
  } else if (json_is_array(value)) {
    size_t i;
    json_t *x;
    json_t *items = json_object_get(schema, "items");
    json_array_foreach(value, i, x) secrets_walk(s, items, x, depth + 1);
  }
}

sl_secrets *sl_secrets_collect(const json_t *spec_schema, const json_t *config) {
  sl_secrets *s = calloc(1, sizeof *s);
  if (s) secrets_walk(s, spec_schema, config, 0);
  return s;
}

void sl_secrets_free(sl_secrets *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  free(s);
}

char *sl_secrets_scrub(const sl_secrets *s, const char *text) {
  sl_buf b;
  sl_buf_init(&b, SIZE_MAX / 4);
  const char *p = text;
  while (*p) {
    size_t best = 0;
    for (size_t i = 0; s && i < s->n; i++) {
      size_t n = strlen(s->v[i]);
      if (n > best && !strncmp(p, s->v[i], n)) best = n;
    }
    if (best) {
      sl_buf_append(&b, "**********", 10);
      p += best;
    } else {
      sl_buf_putc(&b, *p++);
    }
  }
  sl_buf_cstr(&b);
  return b.data;
}
