/* The source runtime: argv to spec/check/discover/read, and the read
 * context that writes RECORD lines straight into the output buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "entry.h"
#include "sluice/schema.h"

struct sl_read {
  sl_entry *e;
  const sl_source *src;
  const sl_cstream *cs;
  sl_jw w;
  sl_buf prefix;          /* {"type":"RECORD","record":{"stream":"x","emitted_at": */
  size_t rec_start;       /* where the current record began in out.buf */
  uint64_t count;         /* records in this stream */
  uint64_t since_state;   /* records since the last STATE of this stream */
  size_t interval;
  bool incremental;
  /* automatic cursor state */
  bool cursor_seen, cursor_is_int, explicit_state, state_emitted;
  int64_t cursor_int;
  sl_buf cursor_str;
};

const json_t *sl_read_config(const sl_read *rd) { return rd->e->config; }
const json_t *sl_read_state(const sl_read *rd) { return rd->cs->state; }
uint64_t sl_read_count(const sl_read *rd) { return rd->count; }
sl_code sl_read_flush(sl_read *rd) { return sl_out_flush(&rd->e->out); }
void sl_read_set_checkpoint_interval(sl_read *rd, size_t n) { rd->interval = n ? n : 1; }

static sl_code emit_state(sl_read *rd, const json_t *stream_state) {
  json_t *desc = json_pack("{s:s}", "name", rd->cs->name);
  if (!desc) return SL_ENOMEM;
  if (rd->cs->ns) json_object_set_new(desc, "namespace", json_string(rd->cs->ns));
  json_t *m = json_pack("{s:s, s:{s:s, s:{s:o, s:O}, s:{s:f}}}", "type", "STATE", "state",
                        "type", "STREAM", "stream", "stream_descriptor", desc, "stream_state",
                        stream_state, "sourceStats", "recordCount", (double)rd->since_state);
  sl_code rc = m ? sl_out_message(&rd->e->out, m) : SL_ENOMEM;
  json_decref(m);
  rd->since_state = 0;
  rd->state_emitted = true;
  return rc;
}

static json_t *cursor_state(sl_read *rd) {
  json_t *v = rd->cursor_is_int ? json_integer(rd->cursor_int)
                                : json_stringn(rd->cursor_str.data ? rd->cursor_str.data : "", rd->cursor_str.len);
  return json_pack("{s:o}", rd->cs->cursor.parts[0], v);
}

static sl_code auto_checkpoint(sl_read *rd) {
  json_t *st = cursor_state(rd);
  if (!st) return SL_ENOMEM;
  sl_code rc = emit_state(rd, st);
  json_decref(st);
  return rc;
}

sl_code sl_read_checkpoint(sl_read *rd, const json_t *stream_state) {
  rd->explicit_state = true;
  return emit_state(rd, stream_state);
}

/* CDC sources checkpoint every stream at once: one GLOBAL state. */
const sl_catalog *sl_read_catalog(const sl_read *rd) { return &rd->e->cat; }
const json_t *sl_read_shared_state(const sl_read *rd) {
  return rd->e->state.type == SL_STATE_GLOBAL ? rd->e->state.shared : NULL;
}

sl_code sl_read_checkpoint_global(sl_read *rd, const json_t *shared_state, const json_t *stream_states) {
  json_t *m = json_pack("{s:s, s:{s:s, s:{s:O, s:O}, s:{s:f}}}", "type", "STATE", "state", "type",
                        "GLOBAL", "global", "shared_state", shared_state, "stream_states",
                        stream_states, "sourceStats", "recordCount", (double)rd->since_state);
  sl_code rc = m ? sl_out_message(&rd->e->out, m) : SL_ENOMEM;
  json_decref(m);
  rd->since_state = 0;
  rd->explicit_state = rd->state_emitted = true;
  return rc;
}

void sl_read_cursor_str(sl_read *rd, const char *v, size_t len) {
  if (rd->cursor_seen && !rd->cursor_is_int) {
    size_t n = len < rd->cursor_str.len ? len : rd->cursor_str.len;
    int c = memcmp(v, rd->cursor_str.data, n);
    if (c < 0 || (c == 0 && len <= rd->cursor_str.len)) return;
  }
  rd->cursor_str.len = 0;
  if (sl_buf_append(&rd->cursor_str, v, len) == SL_EOK) {
    rd->cursor_seen = true;
    rd->cursor_is_int = false;
  }
}

void sl_read_cursor_int(sl_read *rd, int64_t v) {
  if (rd->cursor_seen && rd->cursor_is_int && v <= rd->cursor_int) return;
  rd->cursor_seen = true;
  rd->cursor_is_int = true;
  rd->cursor_int = v;
}

sl_code sl_read_control_config(sl_read *rd, const json_t *config) {
  return sl_out_control_config(&rd->e->out, config);
}

sl_code sl_read_log(sl_read *rd, const char *level, const char *fmt, ...) {
  char text[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return sl_out_log(&rd->e->out, level, "%s", text);
}

sl_jw *sl_read_record_begin(sl_read *rd) {
  sl_out *o = &rd->e->out;
  if (rd->count == 0) sl_out_stream_status(o, rd->cs->name, rd->cs->ns, "RUNNING");
  rd->rec_start = o->buf.len;
  sl_buf_put(&o->buf, rd->prefix.data, rd->prefix.len);
  if (sl_buf_ensure(&o->buf, 32) == SL_EOK)
    o->buf.len += sl_json_fmt_int(o->buf.data + o->buf.len, sl_now_ms());
  sl_buf_put(&o->buf, ",\"data\":", 8);
  sl_jw_init(&rd->w, &o->buf);
  sl_jw_obj_open(&rd->w);
  return &rd->w;
}

sl_code sl_read_record_end(sl_read *rd) { return sl_read_record_end_meta(rd, NULL, 0); }

void sl_read_record_abort(sl_read *rd) { rd->e->out.buf.len = rd->rec_start; }

sl_code sl_read_record_end_meta(sl_read *rd, const char *meta, size_t meta_len) {
  sl_out *o = &rd->e->out;
  sl_jw_obj_close(&rd->w);
  if (meta_len && (sl_buf_put(&o->buf, ",\"meta\":", 8) || sl_buf_put(&o->buf, meta, meta_len)))
    rd->w.rc = SL_ELIMIT;
  if (rd->w.rc || sl_buf_put(&o->buf, "}}\n", 3)) {
    o->buf.len = rd->rec_start;
    return SL_ELIMIT;
  }
  rd->count++;
  rd->since_state++;
  sl_code rc = sl_out_maybe_flush(o);
  if (rc) return rc;
  if (rd->incremental && rd->cursor_seen && !rd->explicit_state && rd->cs->cursor.n &&
      rd->since_state >= rd->interval)
    return auto_checkpoint(rd);
  return SL_EOK;
}

/* Seed the cursor from the input state so a checkpoint never goes back. */
static void seed_cursor(sl_read *rd) {
  if (!rd->incremental || !rd->cs->cursor.n || !json_is_object(rd->cs->state)) return;
  json_t *v = json_object_get(rd->cs->state, rd->cs->cursor.parts[0]);
  if (json_is_integer(v)) sl_read_cursor_int(rd, json_integer_value(v));
  else if (json_is_string(v)) sl_read_cursor_str(rd, json_string_value(v), json_string_length(v));
}

static sl_code final_state(sl_read *rd) {
  if (rd->explicit_state && rd->state_emitted) return SL_EOK; /* the source owns its checkpoints */
  if (rd->incremental && rd->cs->cursor.n && rd->cursor_seen) return auto_checkpoint(rd);
  json_t *st = rd->incremental ? json_object() : json_pack("{s:b}", "__ab_no_cursor_state_message", 1);
  if (!st) return SL_ENOMEM;
  sl_code rc = emit_state(rd, st);
  json_decref(st);
  return rc;
}

static sl_code read_stream(sl_entry *e, const sl_source *src, const sl_cstream *cs,
                           sl_read_fn fn, sl_err *err) {
  sl_read rd;
  memset(&rd, 0, sizeof rd);
  rd.e = e;
  rd.src = src;
  rd.cs = cs;
  rd.interval = src->checkpoint_interval ? src->checkpoint_interval : 10000;
  rd.incremental = cs->sync_mode == SL_SYNC_INCREMENTAL;
  sl_buf_init(&rd.prefix, 1 << 20);
  sl_buf_init(&rd.cursor_str, 1 << 20);
  sl_jw pw;
  sl_jw_init(&pw, &rd.prefix);
  sl_buf_put(&rd.prefix, "{\"type\":\"RECORD\",\"record\":{\"stream\":", 36);
  sl_jw_strz(&pw, cs->name);
  if (cs->ns) {
    sl_buf_put(&rd.prefix, ",\"namespace\":", 13);
    sl_json_escape(&rd.prefix, cs->ns, strlen(cs->ns));
  }
  sl_buf_put(&rd.prefix, ",\"emitted_at\":", 14);
  seed_cursor(&rd);

  sl_out_stream_status(&e->out, cs->name, cs->ns, "STARTED");
  sl_code rc = fn(&rd, cs, err);
  if (!rc) rc = final_state(&rd);
  if (!rc && e->out.rc) rc = sl_err_set(err, SL_EIO, "writing to stdout failed (is the reader gone?)");
  if (rc && !err->msg[0]) sl_err_set(err, rc, "%s", sl_strerror(rc));
  sl_out_stream_status(&e->out, cs->name, cs->ns, rc ? "INCOMPLETE" : "COMPLETE");
  sl_buf_dispose(&rd.prefix);
  sl_buf_dispose(&rd.cursor_str);
  return rc;
}

static json_t *stream_to_json(const sl_stream_def *d, sl_err *err) {
  json_t *schema;
  if (sl_json_load_str(d->json_schema, strlen(d->json_schema), d->name, &schema, err)) return NULL;
  json_t *modes = json_array();
  if (d->sync_modes & SL_SYNC_FULL_REFRESH) json_array_append_new(modes, json_string("full_refresh"));
  if (d->sync_modes & SL_SYNC_INCREMENTAL) json_array_append_new(modes, json_string("incremental"));
  json_t *s = json_pack("{s:s, s:o, s:o}", "name", d->name, "json_schema", schema,
                        "supported_sync_modes", modes);
  if (!s) return NULL;
  if (d->cursor_field) {
    json_object_set_new(s, "source_defined_cursor", json_boolean(d->source_defined_cursor));
    json_object_set_new(s, "default_cursor_field", json_pack("[s]", d->cursor_field));
  }
  if (d->primary_key) {
    json_t *pk = json_array();
    for (const char *const *k = d->primary_key; *k; k++) json_array_append_new(pk, json_pack("[s]", *k));
    json_object_set_new(s, "source_defined_primary_key", pk);
  }
  json_object_set_new(s, "is_resumable", json_boolean((d->sync_modes & SL_SYNC_INCREMENTAL) != 0));
  return s;
}

static sl_code discover_streams(sl_entry *e, const sl_source *src, json_t **out, sl_err *err) {
  json_t *streams = json_array();
  if (!streams) return SL_ENOMEM;
  for (size_t i = 0; i < src->n_streams; i++) {
    json_t *s = stream_to_json(&src->streams[i], err);
    if (!s) {
      json_decref(streams);
      return sl_err_set(err, SL_EINTERNAL, "built-in stream %s: %s", src->streams[i].name, err->msg);
    }
    json_array_append_new(streams, s);
  }
  if (src->discover) {
    sl_code rc = src->discover(e->config, streams, err);
    if (rc) {
      json_decref(streams);
      return rc;
    }
  }
  *out = streams;
  return SL_EOK;
}

static sl_read_fn reader_for(const sl_source *src, const sl_cstream *cs) {
  for (size_t i = 0; i < src->n_streams; i++)
    if (!strcmp(src->streams[i].name, cs->name)) return src->streams[i].read;
  return src->read;
}

static int cmd_read(sl_entry *e, const sl_source *src, sl_err *err) {
  sl_code rc;
  if ((rc = sl__entry_load_config(e, err)) || (rc = sl__entry_load_catalog(e, err)) ||
      (rc = sl__entry_load_state(e, err)))
    return sl__entry_fail(e, err, NULL);
  /* Every configured stream must exist before anything is read. */
  json_t *known = NULL;
  if ((rc = discover_streams(e, src, &known, err))) return sl__entry_fail(e, err, NULL);
  for (size_t i = 0; i < e->cat.n; i++) {
    const sl_cstream *cs = &e->cat.streams[i];
    bool found = false;
    size_t k;
    json_t *s;
    json_array_foreach(known, k, s) if (!strcmp(json_string_value(json_object_get(s, "name")), cs->name)) found = true;
    if (!found || !reader_for(src, cs)) {
      json_decref(known);
      sl_out_stream_status(&e->out, cs->name, cs->ns, "INCOMPLETE");
      sl_err_set(err, SL_ECATALOG, "%s: stream \"%s\" is not a stream of %s; run discover to see its streams",
                 e->catalog_path, cs->name, e->name);
      return sl__entry_fail(e, err, cs->name);
    }
  }
  json_decref(known);
  int failed = 0;
  char first[SL_ERR_MSG_MAX] = "";
  for (size_t i = 0; i < e->cat.n; i++) {
    const sl_cstream *cs = &e->cat.streams[i];
    sl_err serr = SL_ERR_INIT;
    rc = read_stream(e, src, cs, reader_for(src, cs), &serr);
    if (rc) {
      failed++;
      char msg[SL_ERR_MSG_MAX + 64];
      snprintf(msg, sizeof msg, "stream %s: %s", cs->name, serr.msg);
      char internal[64];
      snprintf(internal, sizeof internal, "sluice error %s (%d)", sl_err_name(rc), rc);
      sl_out_trace_error(&e->out, sl_err_failure_type(rc), msg, internal, cs->name, cs->ns);
      if (!first[0]) snprintf(first, sizeof first, "%s", msg);
      if (rc == SL_EIO) break; /* stdout is gone */
    }
  }
  sl_out_flush(&e->out);
  if (failed) {
    char *clean = e->secrets ? sl_secrets_scrub(e->secrets, first) : NULL;
    fprintf(stderr, "%s: %d stream(s) failed; first: %s\n", e->name, failed, clean ? clean : first);
    free(clean);
    return 1;
  }
  return e->out.rc ? 1 : 0;
}

int sl_source_main(const sl_source *src, int argc, char **argv) {
  sl_entry e;
  sl_err err = SL_ERR_INIT;
  int ret = 0;
  if (sl__entry_init(&e, src->name, src->spec_json, argc, argv, &err)) {
    ret = sl__entry_fail(&e, &err, NULL);
    goto done;
  }
  e.migrate = src->migrate_config;
  if (!strcmp(e.cmd, "spec")) {
    json_t *extra = src->spec_extra_json ? json_loads(src->spec_extra_json, 0, NULL) : NULL;
    ret = sl__entry_spec(&e, src->documentation_url, extra) ? 1 : 0;
    json_decref(extra);
  } else if (!strcmp(e.cmd, "check")) {
    sl_code rc = sl__entry_load_config(&e, &err);
    if (rc == SL_EUSAGE || rc == SL_EIO) {
      ret = sl__entry_fail(&e, &err, NULL);
      goto done;
    }
    if (!rc && src->check) rc = src->check(e.config, &err);
    sl_out_connection_status(&e.out, rc == SL_EOK, rc ? err.msg : NULL);
  } else if (!strcmp(e.cmd, "discover")) {
    json_t *streams;
    if (sl__entry_load_config(&e, &err) || discover_streams(&e, src, &streams, &err)) {
      ret = sl__entry_fail(&e, &err, NULL);
      goto done;
    }
    json_t *m = json_pack("{s:s, s:{s:o}}", "type", "CATALOG", "catalog", "streams", streams);
    ret = sl_out_message(&e.out, m) ? 1 : 0;
    json_decref(m);
  } else if (!strcmp(e.cmd, "read")) {
    ret = cmd_read(&e, src, &err);
  } else {
    sl_err_set(&err, SL_EUSAGE, "%s: unknown command \"%s\" (expected spec, check, discover or read)",
               src->name, e.cmd);
    ret = sl__entry_fail(&e, &err, NULL);
  }
done:
  sl_out_flush(&e.out);
  if (e.out.rc && !ret) ret = 1;
  sl__entry_dispose(&e);
  return ret;
}
