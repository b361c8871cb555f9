/* Source suites: discovery, basic_read, full_refresh (incremental is in
 * acceptance_incr.c), and the helpers they share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acceptance_int.h"
#include "sluice/protocol.h"
#include "sluice/schema.h"

/* ---- helpers ---- */

const char *at_sname(const json_t *s) { return json_string_value(json_object_get(s, "name")) ?: ""; }
const char *at_sns(const json_t *s) { return json_string_value(json_object_get(s, "namespace")); }

bool at_same_stream(const char *n1, const char *ns1, const char *n2, const char *ns2) {
  return !strcmp(n1 ?: "", n2 ?: "") && !strcmp(ns1 ?: "", ns2 ?: "");
}

static const json_t *find_discovered(const json_t *cat, const char *name, const char *ns) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(cat, "streams"), i, s) if (at_same_stream(at_sname(s), at_sns(s), name, ns)) return s;
  return NULL;
}

bool at_listed(const json_t *list, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) if (!strcmp(json_string_value(json_object_get(e, "name")) ?: "", name)) return true;
  return false;
}

bool at_supports(const json_t *s, const char *mode) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(s, "supported_sync_modes"), i, m) if (!strcmp(json_string_value(m) ?: "", mode)) return true;
  return false;
}

/* The schema node of a field path inside a stream schema's properties. */
const json_t *at_field_schema(const json_t *schema, const json_t *path) {
  const json_t *cur = schema;
  size_t i;
  json_t *p;
  json_array_foreach(path, i, p) {
    cur = json_object_get(json_object_get(cur, "properties"), json_string_value(p) ?: "");
    if (!cur) return NULL;
  }
  return cur;
}

static const json_t *field_value(const json_t *data, const json_t *path) {
  const json_t *cur = data;
  size_t i;
  json_t *p;
  json_array_foreach(path, i, p) cur = json_object_get(cur, json_string_value(p) ?: "");
  return cur;
}


const json_t *at_discover(at_ctx *c, at_input *in, const char *test) {
  char *key = sl_json_dumps(in->config);
  if (c->catalog && key && c->catalog_key && !strcmp(key, c->catalog_key)) {
    free(key);
    return c->catalog;
  }
  char nm[96];
  at_name(in, test, nm, sizeof nm);
  at_run r;
  sl_err e = SL_ERR_INIT;
  const json_t *out = NULL;
  if (at_exec(c, "discover", in->config, NULL, NULL, NULL, in->timeout_s, &r, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
    free(key);
    return NULL;
  }
  at_protocol_result(c, in->suite, "discover", &r);
  if (!at_run_failed(c, in->suite, nm, &r, in->timeout_s)) {
    json_t *cats = at_msgs_of(&r, "CATALOG");
    if (json_array_size(cats) != 1) {
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "discover must print exactly one CATALOG message, got %zu (exit %d)%s%s",
                json_array_size(cats), r.exit_code, r.stderr_tail[0] ? "; stderr: " : "", r.stderr_tail);
    } else {
      json_decref(c->catalog);
      free(c->catalog_key);
      c->catalog = json_incref(json_object_get(json_array_get(cats, 0), "catalog"));
      c->catalog_key = key;
      key = NULL;
      out = c->catalog;
    }
    json_decref(cats);
  }
  at_run_dispose(&r);
  free(key);
  return out;
}

/* Configured catalog from the discovered one: first supported mode (or the
 * forced one), append, default cursor, source primary key. */
static json_t *configure(const json_t *disc, const json_t *skip, const char *force_mode) {
  json_t *streams = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(disc, "streams"), i, s) {
    if (skip && at_listed(skip, at_sname(s))) continue;
    const char *mode = json_string_value(json_array_get(json_object_get(s, "supported_sync_modes"), 0)) ?: "full_refresh";
    if (force_mode) {
      if (!at_supports(s, force_mode)) continue;
      mode = force_mode;
    }
    json_t *cs = json_pack("{sOssss}", "stream", s, "sync_mode", mode, "destination_sync_mode", "append");
    if (json_object_get(s, "default_cursor_field")) json_object_set(cs, "cursor_field", json_object_get(s, "default_cursor_field"));
    if (json_object_get(s, "source_defined_primary_key"))
      json_object_set(cs, "primary_key", json_object_get(s, "source_defined_primary_key"));
    json_array_append_new(streams, cs);
  }
  return json_pack("{so}", "streams", streams);
}

/* The configured_catalog_path file re-bound to the discovered streams.
 * NULL + a fail result if it names a stream discover did not return. */
json_t *at_custom_catalog(at_ctx *c, at_input *in, const json_t *disc, const char *test) {
  bool absent;
  json_t *file = at_load_json(c, in, "configured_catalog_path", NULL, &absent);
  if (absent) return configure(disc, json_object_get(in->in, "empty_streams"), NULL);
  if (!file) return NULL;
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(file, "streams"), i, cs) {
    json_t *s = json_object_get(cs, "stream");
    const json_t *d = find_discovered(disc, at_sname(s), at_sns(s));
    char nm[96];
    if (!d) {
      at_result(c, in->suite, at_name(in, test, nm, sizeof nm), SL_AT_FAIL, s,
                "configured_catalog_path names stream \"%s\", which discover did not return", at_sname(s));
      json_decref(file);
      return NULL;
    }
    json_object_set(cs, "stream", (json_t *)d);
  }
  return file;
}

json_t *at_records_of(const at_run *r) { return at_msgs_of(r, "RECORD"); }

/* ---- discovery ---- */

static void pass_or_fail(at_ctx *c, at_input *in, const char *test, const char *problem, const json_t *off) {
  char nm[96];
  at_result(c, in->suite, at_name(in, test, nm, sizeof nm), problem ? SL_AT_FAIL : SL_AT_PASS, off, problem ? "%s" : NULL, problem);
}

void at_suite_discovery(at_ctx *c, at_input *in) {
  const json_t *cat = at_discover(c, in, "test_discover");
  if (!cat) return;
  const json_t *streams = json_object_get(cat, "streams");
  char why[1200];
  const char *p = NULL;
  const json_t *off = NULL;
  size_t i, j;
  json_t *s, *t;
  if (json_array_size(streams) == 0) p = "the catalog has no streams";
  json_array_foreach(streams, i, s) {
    for (j = 0; j < i; j++) {
      t = json_array_get(streams, j);
      if (at_same_stream(at_sname(s), at_sns(s), at_sname(t), at_sns(t))) {
        snprintf(why, sizeof why, "two streams share the name %s", at_sname(s));
        p = why, off = s;
      }
    }
  }
  pass_or_fail(c, in, "test_discover", p, off);

  struct {
    const char *test;
    at_schema_rule rule;
  } rules[] = {{"test_streams_have_valid_json_schemas", AT_RULE_VALID},
               {"test_defined_keyword_exist_in_schema", AT_RULE_ALLOF_NOT},
               {"test_additional_properties_is_true", AT_RULE_ADDL}};
  for (size_t k = 0; k < 3; k++) {
    p = NULL;
    json_array_foreach(streams, i, s) {
      char w[700];
      if (!p && !at_schema_check(json_object_get(s, "json_schema"), rules[k].rule, w, sizeof w)) {
        snprintf(why, sizeof why, "stream %s: json_schema%s", at_sname(s), w);
        p = why;
      }
    }
    pass_or_fail(c, in, rules[k].test, p, NULL);
  }
  p = NULL;
  json_array_foreach(streams, i, s) if (!p && at_has_ref(json_object_get(s, "json_schema"))) {
    snprintf(why, sizeof why, "stream %s: json_schema uses $ref", at_sname(s));
    p = why;
  }
  pass_or_fail(c, in, "test_defined_refs_exist_in_schema", p, NULL);

  p = NULL;
  json_array_foreach(streams, i, s) {
    const json_t *cur = json_object_get(s, "default_cursor_field");
    if (!p && json_array_size(cur) && !at_field_schema(json_object_get(s, "json_schema"), cur)) {
      snprintf(why, sizeof why, "stream %s: default_cursor_field is not in the schema's properties", at_sname(s));
      p = why;
    }
  }
  pass_or_fail(c, in, "test_defined_cursors_exist_in_schema", p, NULL);

  const char *pk_missing = NULL, *pk_type = NULL;
  char why2[600];
  json_array_foreach(streams, i, s) {
    json_array_foreach(json_object_get(s, "source_defined_primary_key"), j, t) {
      const json_t *f = at_field_schema(json_object_get(s, "json_schema"), t);
      if (!f && !pk_missing) {
        snprintf(why, sizeof why, "stream %s: a source_defined_primary_key path is not in the schema's properties", at_sname(s));
        pk_missing = why;
      }
      if (f && (at_type_has(f, "object") || at_type_has(f, "array")) && !pk_type) {
        snprintf(why2, sizeof why2, "stream %s: a primary key field is declared object or array", at_sname(s));
        pk_type = why2;
      }
    }
  }
  pass_or_fail(c, in, "test_primary_keys_exist_in_schema", pk_missing, NULL);
  p = NULL;
  json_array_foreach(streams, i, s) if (!p && json_array_size(json_object_get(s, "supported_sync_modes")) == 0) {
    snprintf(why, sizeof why, "stream %s has no supported_sync_modes", at_sname(s));
    p = why;
  }
  pass_or_fail(c, in, "test_streams_has_sync_modes", p, NULL);
  char nm[96];
  if (json_is_false(json_object_get(in->in, "validate_primary_keys_data_type")))
    at_result(c, in->suite, at_name(in, "test_primary_keys_data_type", nm, sizeof nm), SL_AT_SKIP, NULL,
              "validate_primary_keys_data_type: false");
  else pass_or_fail(c, in, "test_primary_keys_data_type", pk_type ? pk_type : pk_missing, NULL);
  at_backward_compat(c, in, SL_AT_COMPAT_CATALOG, cat);
}

/* ---- basic_read ---- */

/* CAT's strict integers: a field typed integer must not hold 5.0. */
static bool strict_ints(const json_t *schema, const json_t *v, char *where, size_t n) {
  if (json_is_real(v) && at_type_has(schema, "integer") && !at_type_has(schema, "number")) return false;
  const char *k;
  json_t *x;
  if (json_is_object(v)) {
    json_object_foreach((json_t *)v, k, x) {
      const json_t *ps = json_object_get(json_object_get(schema, "properties"), k);
      if (ps && !strict_ints(ps, x, where, n)) {
        if (!*where) snprintf(where, n, "%s", k);
        return false;
      }
    }
  }
  size_t i;
  const json_t *items = json_object_get(schema, "items");
  if (json_is_array(v) && json_is_object(items))
    json_array_foreach(v, i, x) if (!strict_ints(items, x, where, n)) return false;
  return true;
}

static json_t *pk_of(const json_t *data, const json_t *pk) {
  json_t *key = json_array();
  size_t i;
  json_t *p;
  json_array_foreach(pk, i, p) {
    const json_t *v = field_value(data, p);
    json_array_append_new(key, v ? json_deep_copy(v) : json_null());
  }
  return key;
}

/* expect_records.extra_fields (legacy CAT): the actual record may carry
 * fields the expected one lacks, at any depth. */
static bool matches(const json_t *want, const json_t *got, bool extra_fields) {
  if (!extra_fields || !json_is_object(want)) return json_equal(want, got);
  if (!json_is_object(got)) return false;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)want, k, v) if (!matches(v, json_object_get(got, k), true)) return false;
  return true;
}

static bool any_match(const json_t *list, const json_t *want, bool extra_fields) {
  size_t i;
  json_t *g;
  json_array_foreach(list, i, g) if (matches(want, g, extra_fields)) return true;
  return false;
}

/* A copy of data without the stream's ignored_fields ({name: "a/b"} paths),
 * the fields a connector cannot reproduce (timestamps of the read). */
static json_t *without_ignored(const json_t *data, const json_t *ignored) {
  json_t *d = json_deep_copy(data), *f;
  size_t i;
  json_array_foreach(ignored, i, f) {
    const char *path = json_string_value(json_object_get(f, "name"));
    if (!path) continue;
    json_t *at = d;
    char part[256];
    for (const char *p = path; at && *p;) {
      size_t n = strcspn(p, "/");
      snprintf(part, sizeof part, "%.*s", (int)n, p);
      if (!p[n]) json_object_del(at, part);
      else at = json_object_get(at, part);
      p += n + (p[n] == '/');
    }
  }
  return d;
}

static void check_expected(at_ctx *c, at_input *in, const json_t *catalog, const json_t *recs) {
  char nm[96];
  at_name(in, "test_read:expect_records", nm, sizeof nm);
  const json_t *er = json_object_get(in->in, "expect_records");
  if (!er) {
    at_result(c, in->suite, nm, c->high ? SL_AT_FAIL : SL_AT_SKIP, NULL, "no expect_records configured");
    return;
  }
  if (!json_object_get(er, "path")) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "bypassed: %s", json_string_value(json_object_get(er, "bypass_reason")));
    return;
  }
  char path[PATH_MAX];
  at_path(c, er, "path", NULL, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (!f) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "expect_records.path %s cannot be read", path);
    return;
  }
  json_t *expected = json_array();
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t len;
  bool bad = false;
  while ((len = getline(&line, &cap, f)) > 0) {
    lineno++;
    json_error_t je;
    if (strspn(line, " \t\r\n") == (size_t)len) continue;
    json_t *m = json_loadb(line, (size_t)len, 0, &je);
    json_t *rec = json_object_get(m, "record") ?: m; /* a RECORD message or a bare record */
    if (!json_is_object(json_object_get(rec, "data"))) {
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s:%zu: not a record (needs stream and data)", path, lineno);
      bad = true;
      json_decref(m);
      break;
    }
    json_array_append(expected, rec);
    json_decref(m);
  }
  free(line);
  fclose(f);
  if (bad) {
    json_decref(expected);
    return;
  }
  bool exact = json_is_true(json_object_get(er, "exact_order"));
  bool xf = json_is_true(json_object_get(er, "extra_fields"));
  size_t i, j;
  json_t *cs;
  const char *problem = NULL;
  char why[800];
  json_array_foreach(json_object_get(catalog, "streams"), i, cs) {
    const json_t *s = json_object_get(cs, "stream");
    json_t *pk = json_object_get(s, "source_defined_primary_key");
    json_t *want = json_array(), *got = json_array();
    json_t *r;
    const json_t *ign = json_object_get(json_object_get(in->in, "ignored_fields"), at_sname(s));
    /* Whole records are compared (less ignored_fields), as CAT does; the
     * primary key only names the record in the message. */
    json_array_foreach(expected, j, r) if (at_same_stream(json_string_value(json_object_get(r, "stream")), json_string_value(json_object_get(r, "namespace")), at_sname(s), at_sns(s)))
        json_array_append_new(want, without_ignored(json_object_get(r, "data"), ign));
    json_array_foreach(recs, j, r) {
      json_t *rr = json_object_get(r, "record");
      if (at_same_stream(json_string_value(json_object_get(rr, "stream")), json_string_value(json_object_get(rr, "namespace")), at_sname(s), at_sns(s)))
        json_array_append_new(got, without_ignored(json_object_get(rr, "data"), ign));
    }
    /* high strictness: every stream that is not empty has expected records */
    if (!problem && c->high && !json_array_size(want) && !at_listed(json_object_get(in->in, "empty_streams"), at_sname(s))) {
      snprintf(why, sizeof why, "stream %s has no expected records (required with test_strictness_level: high; or list it in empty_streams)",
               at_sname(s));
      problem = why;
    }
    json_array_foreach(want, j, r) {
      if (problem) break;
      bool ok = exact ? matches(r, json_array_get(got, j), xf) : any_match(got, r, xf);
      if (ok) continue;
      json_t *key = json_array_size(pk) ? pk_of(r, pk) : NULL, *same_key = NULL, *g;
      size_t k;
      if (key) json_array_foreach(got, k, g) {
          json_t *gk = pk_of(g, pk);
          bool eq = json_equal(gk, key);
          json_decref(gk);
          if (eq) { same_key = g; break; }
        }
      char *w = sl_json_dumps(key ? key : r), *gd = same_key ? sl_json_dumps(same_key) : NULL;
      if (same_key)
        snprintf(why, sizeof why, "stream %s: the record with primary key %s differs: read %s", at_sname(s), w ?: "?", gd ?: "?");
      else
        snprintf(why, sizeof why, "stream %s: expected record %s%s %s", at_sname(s), key ? "with primary key " : "", w ?: "?",
                 exact ? "at this position (exact_order)" : "was not read");
      free(w);
      free(gd);
      json_decref(key);
      problem = why;
    }
    /* expect_records.extra_records: false (legacy CAT): nothing else was read */
    json_array_foreach(got, j, r) {
      if (problem || !json_is_false(json_object_get(er, "extra_records"))) break;
      bool known = false;
      size_t k;
      json_t *w;
      json_array_foreach(want, k, w) known |= matches(w, r, xf);
      if (known) continue;
      char *d = sl_json_dumps(r);
      snprintf(why, sizeof why, "stream %s: read a record that is not in expect_records (extra_records: false): %s", at_sname(s), d ?: "?");
      free(d);
      problem = why;
    }
    json_decref(want);
    json_decref(got);
  }
  json_decref(expected);
  at_result(c, in->suite, nm, problem ? SL_AT_FAIL : SL_AT_PASS, NULL, problem ? "%s" : NULL, problem);
}

static void check_statuses(at_ctx *c, at_input *in, const json_t *catalog, const at_run *r) {
  char nm[96], why[600];
  at_name(in, "test_read:stream_statuses", nm, sizeof nm);
  const json_t *v = json_object_get(in->in, "validate_stream_statuses");
  /* on by default for certified connectors, which may not turn it off (CAT) */
  bool certified = json_integer_value(json_object_get(json_object_get(c->metadata, "ab_internal"), "ql")) >= 400;
  if (certified && json_is_false(v)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "validate_stream_statuses: false is not allowed for a certified connector (ql >= 400)");
    return;
  }
  if (!json_is_true(v) && !certified) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "validate_stream_statuses is not set");
    return;
  }
  json_t *tr = at_msgs_of(r, "TRACE");
  size_t i, j;
  json_t *cs, *t;
  const char *problem = NULL;
  json_array_foreach(json_object_get(catalog, "streams"), i, cs) {
    const json_t *s = json_object_get(cs, "stream");
    json_t *seq = json_array();
    json_array_foreach(tr, j, t) {
      json_t *ss = json_object_get(json_object_get(t, "trace"), "stream_status");
      json_t *sd = json_object_get(ss, "stream_descriptor");
      if (ss && at_same_stream(json_string_value(json_object_get(sd, "name")), json_string_value(json_object_get(sd, "namespace")), at_sname(s), at_sns(s)))
        json_array_append(seq, json_object_get(ss, "status"));
    }
    size_t n = json_array_size(seq);
    bool ok = n >= 2 && !strcmp(json_string_value(json_array_get(seq, 0)) ?: "", "STARTED") &&
              !strcmp(json_string_value(json_array_get(seq, n - 1)) ?: "", "COMPLETE");
    for (size_t k = 1; ok && k + 1 < n; k++) ok = !strcmp(json_string_value(json_array_get(seq, k)) ?: "", "RUNNING");
    if (!ok && !problem) {
      char *d = sl_json_dumps(seq);
      snprintf(why, sizeof why, "stream %s: statuses %s, expected STARTED, RUNNING..., COMPLETE", at_sname(s), d ?: "?");
      free(d);
      problem = why;
    }
    json_decref(seq);
  }
  json_decref(tr);
  at_result(c, in->suite, nm, problem ? SL_AT_FAIL : SL_AT_PASS, NULL, problem ? "%s" : NULL, problem);
}

static void check_states(at_ctx *c, at_input *in, const json_t *catalog, const at_run *r) {
  char nm[96];
  at_name(in, "test_read:state_messages", nm, sizeof nm);
  if (json_is_false(json_object_get(in->in, "validate_state_messages"))) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "validate_state_messages: false");
    return;
  }
  json_t *st = at_msgs_of(r, "STATE");
  size_t i;
  json_t *m;
  const json_t *off = NULL;
  const char *problem = NULL;
  if (json_array_size(st) < json_array_size(json_object_get(catalog, "streams"))) problem = "fewer STATE messages than configured streams";
  json_array_foreach(st, i, m) {
    json_t *s = json_object_get(m, "state");
    if (!problem && !strcmp(json_string_value(json_object_get(s, "type")) ?: "LEGACY", "LEGACY")) problem = "a LEGACY state", off = m;
    if (!problem && !json_is_object(json_object_get(s, "sourceStats"))) problem = "a STATE without sourceStats", off = m;
  }
  at_result(c, in->suite, nm, problem ? SL_AT_FAIL : SL_AT_PASS, off, problem ? "%s" : NULL, problem);
  json_decref(st);
}

void at_suite_basic_read(at_ctx *c, at_input *in) {
  const json_t *disc = at_discover(c, in, "test_read");
  if (!disc) return;
  char nm[96], why[1200];
  at_name(in, "test_read", nm, sizeof nm);
  if (c->high && json_object_get(in->in, "configured_catalog_path")) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "configured_catalog_path is not allowed with test_strictness_level: high");
    return;
  }
  json_t *catalog = at_custom_catalog(c, in, disc, "test_read");
  if (!catalog) return;
  at_run r;
  sl_err e = SL_ERR_INIT;
  if (at_exec(c, "read", in->config, catalog, NULL, NULL, in->timeout_s, &r, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
    json_decref(catalog);
    return;
  }
  at_protocol_result(c, in->suite, nm, &r);
  json_t *recs = at_records_of(&r);
  if (!at_run_failed(c, in->suite, nm, &r, in->timeout_s)) {
    if (r.exit_code) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "read exited %d%s%s", r.exit_code, r.stderr_tail[0] ? "; stderr: " : "", r.stderr_tail);
    else if (!json_array_size(recs)) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "the read returned no records");
    else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);

    /* records against their schemas; records of streams not in the catalog */
    sl_catalog parsed = {0};
    const char *problem = NULL;
    const json_t *off = NULL;
    at_name(in, "test_read:schema", nm, sizeof nm);
    if (json_is_false(json_object_get(in->in, "validate_schema"))) {
      at_result(c, in->suite, nm, c->high ? SL_AT_FAIL : SL_AT_SKIP, NULL, "validate_schema: false");
    } else if (sl_catalog_parse(catalog, "configured catalog", &parsed, &e)) {
      at_result(c, in->suite, nm, SL_AT_FAIL, catalog, "%s", e.msg);
    } else {
      size_t i;
      json_t *m;
      json_array_foreach(recs, i, m) {
        json_t *rec = json_object_get(m, "record");
        const char *sn = json_string_value(json_object_get(rec, "stream"));
        sl_cstream *cs = sl_catalog_find(&parsed, sn ?: "", json_string_value(json_object_get(rec, "namespace")));
        char what[300], where[256] = "";
        snprintf(what, sizeof what, "stream %s record %zu", sn ?: "?", i + 1);
        if (!cs) {
          snprintf(why, sizeof why, "a record of stream %s, which is not in the configured catalog", sn ?: "?");
          problem = why, off = m;
        } else if (sl_schema_validate(cs->json_schema, json_object_get(rec, "data"), what, &e)) {
          snprintf(why, sizeof why, "%s", e.msg);
          problem = why, off = m;
        } else if (!strict_ints(cs->json_schema, json_object_get(rec, "data"), where, sizeof where)) {
          snprintf(why, sizeof why, "%s: field %s is typed integer but holds a non-integer number", what, where);
          problem = why, off = m;
        }
        if (problem) break;
      }
      at_result(c, in->suite, nm, problem ? SL_AT_FAIL : SL_AT_PASS, off, problem ? "%s" : NULL, problem);
    }

    /* every configured stream has records, except empty_streams */
    problem = NULL;
    size_t i, j;
    json_t *cs, *m;
    const json_t *empty = json_object_get(in->in, "empty_streams");
    json_array_foreach(json_object_get(catalog, "streams"), i, cs) {
      const json_t *s = json_object_get(cs, "stream");
      if (at_listed(empty, at_sname(s))) continue;
      bool any = false;
      json_array_foreach(recs, j, m) {
        json_t *rec = json_object_get(m, "record");
        any |= at_same_stream(json_string_value(json_object_get(rec, "stream")), json_string_value(json_object_get(rec, "namespace")), at_sname(s), at_sns(s));
      }
      if (!any && !problem) {
        snprintf(why, sizeof why, "stream %s returned no records (list it in empty_streams if that is expected)", at_sname(s));
        problem = why;
      }
    }
    pass_or_fail(c, in, "test_read:streams_have_records", problem, NULL);

    /* primary key values: scalars, not all null */
    problem = NULL, off = NULL;
    if (!json_is_false(json_object_get(in->in, "validate_primary_keys_data_type"))) {
      json_array_foreach(recs, i, m) {
        json_t *rec = json_object_get(m, "record");
        sl_cstream *pc = sl_catalog_find(&parsed, json_string_value(json_object_get(rec, "stream")) ?: "", json_string_value(json_object_get(rec, "namespace")));
        json_t *pk = pc ? json_object_get(pc->stream, "source_defined_primary_key") : NULL;
        if (!json_array_size(pk)) continue;
        json_t *key = pk_of(json_object_get(rec, "data"), pk);
        bool all_null = true, complex = false;
        json_t *v;
        json_array_foreach(key, j, v) all_null &= json_is_null(v), complex |= json_is_object(v) || json_is_array(v);
        json_decref(key);
        if (all_null || complex) {
          snprintf(why, sizeof why, "stream %s: primary key %s", pc->name, complex ? "is an object or array" : "is null");
          problem = why, off = m;
          break;
        }
      }
    }
    pass_or_fail(c, in, "test_read:primary_keys", problem, off);
    at_check_high_strictness(c, in);
    check_expected(c, in, catalog, recs);
    at_check_data_points(c, in, catalog, recs);
    at_check_file_types(c, in, recs);
    check_statuses(c, in, catalog, &r);
    check_states(c, in, catalog, &r);
    sl_catalog_dispose(&parsed);
  }
  json_decref(recs);
  at_run_dispose(&r);
  json_decref(catalog);

  /* a catalog naming a stream that does not exist: an error TRACE */
  at_name(in, "test_airbyte_trace_message_on_failure", nm, sizeof nm);
  if (json_is_false(json_object_get(in->in, "expect_trace_message_on_failure"))) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "expect_trace_message_on_failure: false");
    return;
  }
  json_t *bogus = json_pack("{s[{s{ss s{} s[s]} ss ss}]}", "streams", "stream", "name", "__AIRBYTE__stream_that_does_not_exist",
                            "json_schema", "supported_sync_modes", "full_refresh", "sync_mode", "INVALID",
                            "destination_sync_mode", "INVALID");
  if (at_exec(c, "read", in->config, bogus, NULL, NULL, in->timeout_s, &r, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
  } else {
    at_protocol_result(c, in->suite, nm, &r);
    if (!at_run_failed(c, in->suite, nm, &r, in->timeout_s)) {
      json_t *tr = at_msgs_of(&r, "TRACE");
      bool err = false;
      size_t i;
      json_t *t;
      json_array_foreach(tr, i, t) err |= json_object_get(json_object_get(t, "trace"), "error") != NULL;
      json_decref(tr);
      if (err) at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
      else at_result(c, in->suite, nm, SL_AT_FAIL, bogus, "no error TRACE for a catalog with an unknown stream and invalid sync modes (exit %d)", r.exit_code);
    }
    at_run_dispose(&r);
  }
  json_decref(bogus);
}

/* ---- full_refresh ---- */

static int64_t emitted(const json_t *m) { return json_integer_value(json_object_get(json_object_get(m, "record"), "emitted_at")); }

void at_suite_full_refresh(at_ctx *c, at_input *in) {
  const json_t *disc = at_discover(c, in, "test_sequential_reads");
  if (!disc) return;
  char nm[96];
  at_name(in, "test_sequential_reads", nm, sizeof nm);
  json_t *base = at_custom_catalog(c, in, disc, "test_sequential_reads");
  if (!base) return;
  /* every stream that supports full_refresh, in that mode */
  json_t *catalog = json_pack("{s[]}", "streams");
  size_t i;
  json_t *cs;
  json_array_foreach(json_object_get(base, "streams"), i, cs) if (at_supports(json_object_get(cs, "stream"), "full_refresh")) {
    json_t *copy = json_deep_copy(cs);
    json_object_set_new(copy, "sync_mode", json_string("full_refresh"));
    json_array_append_new(json_object_get(catalog, "streams"), copy);
  }
  json_decref(base);
  at_run r1, r2;
  sl_err e = SL_ERR_INIT;
  if (at_exec(c, "read", in->config, catalog, NULL, NULL, in->timeout_s, &r1, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
    json_decref(catalog);
    return;
  }
  at_protocol_result(c, in->suite, "test_sequential_reads(read 1)", &r1);
  json_t *a = at_records_of(&r1);
  int64_t max1 = 0;
  json_array_foreach(a, i, cs) if (emitted(cs) > max1) max1 = emitted(cs);
  bool run2 = false;
  if (!at_run_failed(c, in->suite, nm, &r1, in->timeout_s)) {
    if (!json_array_size(a)) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "the first read returned no records");
    else run2 = true;
  }
  /* the second read starts after the first one's last emitted_at (bounded wait) */
  for (int k = 0; run2 && k < 200 && sl_now_ms() <= max1; k++) nanosleep(&(struct timespec){0, 10000000}, NULL);
  if (run2 && !at_exec(c, "read", in->config, catalog, NULL, NULL, in->timeout_s, &r2, &e)) {
    at_protocol_result(c, in->suite, "test_sequential_reads(read 2)", &r2);
    if (!at_run_failed(c, in->suite, nm, &r2, in->timeout_s)) {
      json_t *b = at_records_of(&r2);
      int64_t min2 = INT64_MAX;
      json_array_foreach(b, i, cs) if (emitted(cs) < min2) min2 = emitted(cs);
      if (!json_array_size(b)) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "the second read returned no records");
      else if (max1 >= min2)
        at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "emitted_at of the second read (from %lld) is not after the first read's (up to %lld)",
                  (long long)min2, (long long)max1);
      else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
      json_decref(b);
    }
    at_run_dispose(&r2);
  } else if (run2) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
  }
  json_decref(a);
  at_run_dispose(&r1);
  json_decref(catalog);
}

