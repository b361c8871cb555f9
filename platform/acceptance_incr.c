/* The incremental suite: two sequential reads, re-reads from checkpoints,
 * and a far-future state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acceptance_int.h"
#include "sluice/protocol.h"

/* ---- incremental ---- */

/* The state to resume from after a read: the last stream_state of each
 * stream as an array of STREAM states, else the last state as is. */
static json_t *resume_state(const at_run *r) {
  json_t *st = at_msgs_of(r, "STATE");
  json_t *last = json_object_get(json_array_get(st, json_array_size(st) - 1), "state");
  json_t *out = NULL;
  if (last && !strcmp(json_string_value(json_object_get(last, "type")) ?: "", "STREAM")) {
    out = json_array();
    size_t i, j;
    json_t *m, *o;
    json_array_foreach(st, i, m) {
      json_t *s = json_object_get(m, "state");
      json_t *sd = json_object_get(json_object_get(s, "stream"), "stream_descriptor");
      json_t *entry = json_pack("{ss sO}", "type", "STREAM", "stream", json_object_get(s, "stream"));
      bool replaced = false;
      json_array_foreach(out, j, o) {
        json_t *od = json_object_get(json_object_get(o, "stream"), "stream_descriptor");
        if (!replaced && json_equal(od, sd)) json_array_set(out, j, entry), replaced = true;
      }
      if (!replaced) json_array_append(out, entry);
      json_decref(entry);
    }
  } else if (last) {
    json_t *copy = json_deep_copy(last);
    json_object_del(copy, "sourceStats");
    out = json_object_get(copy, "type") && strcmp(json_string_value(json_object_get(copy, "type")), "LEGACY")
              ? json_pack("[o]", copy)
              : json_incref(json_object_get(copy, "data"));
    if (json_object_get(out, "data") == NULL && json_is_object(out)) json_decref(copy);
    else if (!json_is_array(out)) json_decref(copy);
  }
  json_decref(st);
  return out;
}

static json_t *sorted_data(const json_t *recs) {
  json_t *out = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(recs, i, m) {
    char *d = json_dumps(json_object_get(json_object_get(m, "record"), "data"), JSON_COMPACT | JSON_SORT_KEYS);
    json_array_append_new(out, json_string(d ?: ""));
    free(d);
  }
  return out;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static bool same_multiset(const json_t *a, const json_t *b) {
  json_t *x = sorted_data(a), *y = sorted_data(b);
  size_t n = json_array_size(x);
  bool same = n == json_array_size(y);
  json_t **xs = calloc(n + 1, sizeof *xs), **ys = calloc(n + 1, sizeof *ys);
  for (size_t i = 0; same && i < n; i++) xs[i] = json_array_get(x, i), ys[i] = json_array_get(y, i);
  if (same) qsort(xs, n, sizeof *xs, cmp_str), qsort(ys, n, sizeof *ys, cmp_str);
  for (size_t i = 0; same && i < n; i++) same = !strcmp(json_string_value(xs[i]), json_string_value(ys[i]));
  free(xs), free(ys);
  json_decref(x), json_decref(y);
  return same;
}

static json_t *incremental_catalog(at_ctx *c, at_input *in, const json_t *disc, const char *test) {
  json_t *base = at_custom_catalog(c, in, disc, test);
  if (!base) return NULL;
  json_t *out = json_pack("{s[]}", "streams");
  size_t i;
  json_t *cs;
  char nm[96];
  json_array_foreach(json_object_get(base, "streams"), i, cs) {
    const json_t *s = json_object_get(cs, "stream");
    if (!at_supports(s, "incremental")) continue;
    json_t *copy = json_deep_copy(cs);
    json_object_set_new(copy, "sync_mode", json_string("incremental"));
    if (!json_array_size(json_object_get(copy, "cursor_field"))) {
      if (json_array_size(json_object_get(s, "default_cursor_field")))
        json_object_set(copy, "cursor_field", json_object_get(s, "default_cursor_field"));
      else {
        at_result(c, in->suite, at_name(in, test, nm, sizeof nm), SL_AT_FAIL, s,
                  "stream %s supports incremental but has no cursor_field or default_cursor_field", at_sname(s));
        json_decref(copy), json_decref(out), json_decref(base);
        return NULL;
      }
    }
    json_array_append_new(json_object_get(out, "streams"), copy);
  }
  json_decref(base);
  if (!json_array_size(json_object_get(out, "streams"))) {
    at_result(c, in->suite, at_name(in, test, nm, sizeof nm), SL_AT_SKIP, NULL, "no stream supports incremental");
    json_decref(out);
    return NULL;
  }
  return out;
}

static bool read_ok(at_ctx *c, at_input *in, const char *nm, const char *label, const json_t *catalog, const json_t *state, at_run *r) {
  sl_err e = SL_ERR_INIT;
  if (at_exec(c, "read", in->config, catalog, state, NULL, in->timeout_s, r, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
    return false;
  }
  char pn[128];
  snprintf(pn, sizeof pn, "%s(%s)", nm, label);
  at_protocol_result(c, in->suite, pn, r);
  if (at_run_failed(c, in->suite, nm, r, in->timeout_s)) {
    at_run_dispose(r);
    return false;
  }
  if (r->exit_code) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s exited %d%s%s", label, r->exit_code, r->stderr_tail[0] ? "; stderr: " : "", r->stderr_tail);
    at_run_dispose(r);
    return false;
  }
  return true;
}

/* Records of one stream after each of its states, and those states. */
static void sequential_slices(at_ctx *c, at_input *in, const json_t *catalog, const at_run *r1) {
  char nm[96], why[600];
  at_name(in, "test_read_sequential_slices", nm, sizeof nm);
  if (json_is_true(json_object_get(in->in, "skip_comprehensive_incremental_tests"))) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "skip_comprehensive_incremental_tests: true");
    return;
  }
  size_t i, j;
  json_t *cs, *m;
  const char *problem = NULL;
  size_t checked = 0;
  json_array_foreach(json_object_get(catalog, "streams"), i, cs) {
    const json_t *s = json_object_get(cs, "stream");
    json_t *states = json_array(); /* [state message, records after it] */
    size_t after = 0;
    json_array_foreach(r1->msgs, j, m) {
      const char *t = json_string_value(json_object_get(m, "type"));
      if (!strcmp(t, "RECORD") && at_same_stream(json_string_value(json_object_get(json_object_get(m, "record"), "stream")), NULL, at_sname(s), NULL)) {
        after++;
        size_t k;
        json_t *e;
        json_array_foreach(states, k, e) json_array_set_new(e, 1, json_integer(json_integer_value(json_array_get(e, 1)) + 1));
      } else if (!strcmp(t, "STATE")) {
        json_t *st = json_object_get(json_object_get(m, "state"), "stream");
        json_t *sd = json_object_get(st, "stream_descriptor");
        if (at_same_stream(json_string_value(json_object_get(sd, "name")), json_string_value(json_object_get(sd, "namespace")), at_sname(s), at_sns(s)))
          json_array_append_new(states, json_pack("[O i]", json_object_get(m, "state"), 0));
      }
    }
    (void)after;
    size_t n = json_array_size(states);
    /* checkpoints: the last when fewer than 3, else up to 5 inner ones */
    size_t picks[5], np = 0;
    if (n && n < 3) picks[np++] = n - 1;
    else if (n >= 3)
      for (size_t k = 1; k < n - 1 && np < 5; k += (n - 2 + 4) / 5 ? (n - 2 + 4) / 5 : 1) picks[np++] = k;
    json_t *one = json_pack("{s[O]}", "streams", cs);
    for (size_t k = 0; k < np && !problem; k++) {
      json_t *e = json_array_get(states, picks[k]);
      json_t *st = json_deep_copy(json_array_get(e, 0));
      json_object_del(st, "sourceStats");
      json_t *state = json_pack("[o]", st);
      at_run r;
      if (!read_ok(c, in, nm, "read from a checkpoint", one, state, &r)) {
        json_decref(state);
        problem = "";
        break;
      }
      json_t *recs = at_records_of(&r);
      json_int_t want = json_integer_value(json_array_get(e, 1));
      if ((json_int_t)json_array_size(recs) < want) {
        snprintf(why, sizeof why, "stream %s: reading from checkpoint %zu of %zu gave %zu records, %lld came after it in the first read",
                 at_sname(s), picks[k] + 1, n, json_array_size(recs), (long long)want);
        problem = why;
      }
      checked++;
      json_decref(recs);
      json_decref(state);
      at_run_dispose(&r);
    }
    json_decref(one);
    json_decref(states);
    if (problem) break;
  }
  if (problem && !*problem) return; /* a failed read already reported */
  if (!problem && !checked) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "the first read emitted no usable STATE checkpoint");
  else at_result(c, in->suite, nm, problem ? SL_AT_FAIL : SL_AT_PASS, NULL, problem ? "%s" : NULL, problem);
}

static bool same_shape(const char *a, const char *b) {
  if (strlen(a) != strlen(b)) return false;
  for (; *a; a++, b++) {
    int ca = (*a >= '0' && *a <= '9') ? 1 : ((*a | 32) >= 'a' && (*a | 32) <= 'z') ? 2 : 3;
    int cb = (*b >= '0' && *b <= '9') ? 1 : ((*b | 32) >= 'a' && (*b | 32) <= 'z') ? 2 : 3;
    if (ca != cb || (ca == 3 && *a != *b)) return false;
  }
  return true;
}

static void future_state(at_ctx *c, at_input *in, const json_t *catalog) {
  char nm[96], why[800];
  at_name(in, "test_state_with_abnormally_large_values", nm, sizeof nm);
  const json_t *fs = json_object_get(in->in, "future_state");
  if (!fs || !json_object_get(fs, "future_state_path")) {
    const char *br = json_string_value(json_object_get(fs, "bypass_reason"));
    at_result(c, in->suite, nm, c->high && !br ? SL_AT_FAIL : SL_AT_SKIP, NULL, br ? "bypassed: %s" : "%s",
              br ? br : "no future_state configured");
    return;
  }
  at_input sub = *in;
  sub.in = fs;
  bool absent;
  json_t *state = at_load_json(c, &sub, "future_state_path", NULL, &absent);
  if (!state) return;
  at_run r;
  if (!read_ok(c, in, nm, "read with the future state", catalog, state, &r)) {
    json_decref(state);
    return;
  }
  json_t *recs = at_records_of(&r), *sts = at_msgs_of(&r, "STATE");
  const char *problem = NULL;
  const json_t *off = NULL;
  problem = at_future_state_coverage(c, fs, state, catalog, why, sizeof why);
  if (!problem && json_array_size(recs)) problem = "records were read although the state's cursors are in the future", off = json_array_get(recs, 0);
  else if (!problem && !json_array_size(sts)) problem = "no STATE message was emitted";
  size_t i, j;
  json_t *m, *cs;
  json_array_foreach(sts, i, m) {
    json_t *st = json_object_get(json_object_get(m, "state"), "stream");
    json_t *sd = json_object_get(st, "stream_descriptor");
    json_array_foreach(json_object_get(catalog, "streams"), j, cs) {
      const json_t *s = json_object_get(cs, "stream");
      if (problem || !at_same_stream(json_string_value(json_object_get(sd, "name")), json_string_value(json_object_get(sd, "namespace")), at_sname(s), at_sns(s)))
        continue;
      const json_t *cur = json_object_get(cs, "cursor_field");
      const char *field = json_string_value(json_array_get(cur, json_array_size(cur) - 1));
      const json_t *v = json_object_get(json_object_get(st, "stream_state"), field ?: "");
      const json_t *fsch = at_field_schema(json_object_get(s, "json_schema"), cur);
      if (!v || json_is_null(v) || !fsch) continue;
      bool ok = json_is_string(v) ? at_type_has(fsch, "string") : json_is_integer(v) ? at_type_has(fsch, "integer") || at_type_has(fsch, "number")
                                                                               : json_is_number(v) ? at_type_has(fsch, "number") : false;
      if (!ok) {
        snprintf(why, sizeof why, "stream %s: the state's cursor %s has a JSON type other than its schema's", at_sname(s), field);
        problem = why, off = m;
        continue;
      }
      /* a string cursor matches cursor_format when one is configured, else it
       * keeps the shape of the future state's value */
      const char *re = json_is_string(v) ? at_cursor_format(fs, at_sname(s)) : NULL;
      if (re) {
        if (!at_regex_match(re, json_string_value(v), why, sizeof why)) {
          char tmp[sizeof why];
          snprintf(tmp, sizeof tmp, "stream %s: %s", at_sname(s), why);
          memcpy(why, tmp, sizeof why);
          problem = why, off = m;
        }
        continue;
      }
      size_t k;
      json_t *fm;
      json_array_foreach(state, k, fm) {
        json_t *fsd = json_object_get(json_object_get(fm, "stream"), "stream_descriptor");
        const json_t *fv = json_object_get(json_object_get(json_object_get(fm, "stream"), "stream_state"), field ?: "");
        if (json_is_string(v) && json_is_string(fv) && !strcmp(json_string_value(json_object_get(fsd, "name")) ?: "", at_sname(s)) &&
            !same_shape(json_string_value(v), json_string_value(fv))) {
          snprintf(why, sizeof why, "stream %s: cursor value \"%s\" does not have the format of the future state's \"%s\"", at_sname(s),
                   json_string_value(v), json_string_value(fv));
          problem = why, off = m;
        }
      }
    }
  }
  at_result(c, in->suite, nm, problem ? SL_AT_FAIL : SL_AT_PASS, off, problem ? "%s" : NULL, problem);
  json_decref(recs), json_decref(sts), json_decref(state);
  at_run_dispose(&r);
}

void at_suite_incremental(at_ctx *c, at_input *in) {
  const json_t *disc = at_discover(c, in, "test_two_sequential_reads");
  if (!disc) return;
  json_t *catalog = incremental_catalog(c, in, disc, "test_two_sequential_reads");
  if (!catalog) return;
  char nm[96];
  at_name(in, "test_two_sequential_reads", nm, sizeof nm);
  at_run r1, r2;
  if (read_ok(c, in, nm, "read 1", catalog, NULL, &r1)) {
    json_t *a = at_records_of(&r1), *st = at_msgs_of(&r1, "STATE");
    if (!json_array_size(a) || !json_array_size(st)) {
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "the first read must return records and a STATE (got %zu records, %zu states)",
                json_array_size(a), json_array_size(st));
    } else {
      json_t *state = resume_state(&r1);
      at_container(c, in, "between_syncs_command");
      if (read_ok(c, in, nm, "read 2 from the state of read 1", catalog, state, &r2)) {
        json_t *b = at_records_of(&r2);
        if (same_multiset(a, b))
          at_result(c, in->suite, nm, SL_AT_FAIL, state, "reading from the final state returned the same %zu records again", json_array_size(b));
        else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
        json_decref(b);
        at_run_dispose(&r2);
      }
      json_decref(state);
      sequential_slices(c, in, catalog, &r1);
    }
    json_decref(a), json_decref(st);
    at_run_dispose(&r1);
  }
  future_state(c, in, catalog);
  json_decref(catalog);
}
