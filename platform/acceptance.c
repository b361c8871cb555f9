/* `sluice test`: the acceptance-test run, its results and JUnit output.
 * Suites are in acceptance_spec.c and acceptance_read.c. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acceptance_int.h"
#include "sluice/platform.h"

/* ---- results ---- */

static char *clip(const char *s, size_t max) {
  if (!s) return NULL;
  size_t n = strlen(s);
  if (n <= max) return strdup(s);
  char *o = malloc(max + 4);
  if (o) memcpy(o, s, max), memcpy(o + max, "...", 4);
  return o;
}

static void add(at_ctx *c, const char *suite, const char *name, sl_at_status st, char *reason, char *off) {
  sl_at_report *rep = c->report;
  if (rep->n == rep->cap) {
    size_t cap = rep->cap ? rep->cap * 2 : 64;
    sl_at_result *r = realloc(rep->r, cap * sizeof *r);
    if (!r) {
      free(reason), free(off);
      return;
    }
    rep->r = r, rep->cap = cap;
  }
  sl_at_result *r = &rep->r[rep->n++];
  int64_t now = sl_now_ms();
  *r = (sl_at_result){strdup(suite), strdup(name), st, reason, off, c->last_ms ? (double)(now - c->last_ms) / 1000 : 0};
  c->last_ms = now;
  if (st == SL_AT_PASS) rep->passed++;
  else if (st == SL_AT_FAIL) rep->failed++;
  else rep->skipped++;
  if (c->opts->on_result) c->opts->on_result(c->opts->payload, r);
}

void at_result(at_ctx *c, const char *suite, const char *name, sl_at_status st, const json_t *offending,
               const char *fmt, ...) {
  char *reason = NULL;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&reason, fmt, ap) < 0) reason = NULL;
    va_end(ap);
  }
  char *off = NULL;
  if (offending) {
    char *d = json_is_string(offending) ? strdup(json_string_value(offending)) : sl_json_dumps(offending);
    off = clip(d, 1000);
    free(d);
  }
  add(c, suite, name, st, reason, off);
}

void at_protocol_result(at_ctx *c, const char *suite, const char *test, const at_run *r) {
  char name[128];
  snprintf(name, sizeof name, "%s/protocol", test);
  if (!r->lines) return; /* nothing printed: the check of the output says so */
  if (!r->n_bad) {
    at_result(c, suite, name, SL_AT_PASS, NULL, NULL);
    return;
  }
  char *reason = NULL;
  if (asprintf(&reason, "%zu line(s) break the protocol; first: %s", r->n_bad, r->bad_why) < 0) reason = NULL;
  add(c, suite, name, SL_AT_FAIL, reason, clip(r->bad_line, 1000));
}

bool at_run_failed(at_ctx *c, const char *suite, const char *test, const at_run *r, int timeout_s) {
  if (r->timed_out) {
    at_result(c, suite, test, SL_AT_FAIL, NULL, "timed out after %d s (timeout_seconds) and was killed", timeout_s);
    return true;
  }
  if (r->exit_code == 127 && strstr(r->stderr_tail, "cannot run")) {
    at_result(c, suite, test, SL_AT_FAIL, NULL, "%s", r->stderr_tail);
    return true;
  }
  return false;
}

const char *at_name(const at_input *in, const char *test, char *buf, size_t n) {
  snprintf(buf, n, "%s%s", test, in->test);
  return buf;
}

/* ---- paths and files named by the config ---- */

bool at_path(at_ctx *c, const json_t *obj, const char *key, const char *dflt, char *out, size_t n) {
  const char *p = json_string_value(json_object_get(obj, key));
  if (!p) p = dflt;
  if (!p) return false;
  if (p[0] == '/') snprintf(out, n, "%s", p);
  else snprintf(out, n, "%s/%s", c->base, p);
  return true;
}

json_t *at_load_json(at_ctx *c, at_input *in, const char *key, const char *dflt, bool *absent) {
  char path[PATH_MAX];
  *absent = false;
  if (!at_path(c, in->in, key, dflt, path, sizeof path)) {
    *absent = true;
    return NULL;
  }
  if (access(path, F_OK) != 0) {
    *absent = true;
    return NULL;
  }
  sl_err e = SL_ERR_INIT;
  sl_yaml *y = sl_yaml_load_file(path, &e); /* JSON is YAML: one loader for both */
  if (!y) {
    char nm[128];
    at_result(c, in->suite, at_name(in, "inputs", nm, sizeof nm), SL_AT_FAIL, NULL, "%s (%s)", e.msg, key);
    return NULL;
  }
  json_t *v = json_incref(sl_yaml_root(y));
  sl_yaml_free(y);
  return v;
}

/* A missing file the config names: secrets mean "skip, live test", anything
 * else is a broken config. Returns true when the input can run. */
static bool input_file(at_ctx *c, at_input *in, const char *key, const char *dflt, char *name, size_t n) {
  char path[PATH_MAX];
  if (!at_path(c, in->in, key, dflt, path, sizeof path) || access(path, F_OK) == 0) return true;
  const char *rel = json_string_value(json_object_get(in->in, key)) ?: dflt;
  if (!strncmp(rel, "secrets/", 8) || strstr(rel, "/secrets/")) {
    snprintf(in->skip_reason, sizeof in->skip_reason,
             "secrets absent: %s is missing (live test; create it or run `sluice secrets fetch %s`)", rel, c->name);
    return false;
  }
  int line = at_config_line(c->cfg, in->in, key);
  at_result(c, in->suite, at_name(in, "inputs", name, n), SL_AT_FAIL, NULL, "%s:%d: %s: no such file %s",
            c->cfg_path, line, key, path);
  in->skip_reason[0] = '!';
  return false;
}

/* ---- connection ---- */

static void suite_connection(at_ctx *c, at_input *in) {
  const char *want = json_string_value(json_object_get(in->in, "status")) ?: "succeed";
  char nm[96];
  at_name(in, "test_check", nm, sizeof nm);
  at_run r;
  sl_err e = SL_ERR_INIT;
  if (at_exec(c, "check", in->config, NULL, NULL, NULL, in->timeout_s, &r, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
    return;
  }
  at_protocol_result(c, in->suite, nm, &r);
  if (!at_run_failed(c, in->suite, nm, &r, in->timeout_s)) {
    json_t *st = at_msgs_of(&r, "CONNECTION_STATUS"), *tr = at_msgs_of(&r, "TRACE");
    json_t *first = json_array_get(st, 0);
    const char *status = json_string_value(json_object_get(json_object_get(first, "connectionStatus"), "status"));
    if (!strcmp(want, "exception")) {
      /* exactly one TRACE in all, an error with a message */
      json_t *t0 = json_object_get(json_array_get(tr, 0), "trace");
      const char *msg = json_string_value(json_object_get(json_object_get(t0, "error"), "message"));
      if (json_array_size(tr) == 1 && msg) at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
      else at_result(c, in->suite, nm, SL_AT_FAIL, json_array_get(tr, 1), "expected exactly one TRACE message, an error with a message (got %zu TRACE, exit %d)",
                     json_array_size(tr), r.exit_code);
    } else if (json_array_size(st) != 1) {
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "expected exactly one CONNECTION_STATUS message, got %zu (exit %d)%s%s",
                json_array_size(st), r.exit_code, r.stderr_tail[0] ? "; stderr: " : "", r.stderr_tail);
    } else if (!strcmp(want, "succeed") && strcmp(status ?: "", "SUCCEEDED")) {
      at_result(c, in->suite, nm, SL_AT_FAIL, first, "expected status SUCCEEDED, got %s", status ?: "none");
    } else if (!strcmp(want, "failed") && strcmp(status ?: "", "FAILED")) {
      at_result(c, in->suite, nm, SL_AT_FAIL, first, "expected status FAILED (status: failed), got %s", status ?: "none");
    } else {
      at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
    }
    json_decref(st);
    json_decref(tr);
  }
  at_run_dispose(&r);
}

/* ---- connector_attributes (certified only, as in CAT; documentation: acceptance_docs.c) ---- */

static int quality_level(const at_ctx *c) {
  return (int)json_integer_value(json_object_get(json_object_get(c->metadata, "ab_internal"), "ql"));
}

static bool bypassed(const json_t *in, const char *key) {
  return json_string_value(json_object_get(json_object_get(in, key), "bypass_reason")) != NULL;
}

static void suite_attributes(at_ctx *c, at_input *in) {
  char nm[96];
  if (quality_level(c) < 400) {
    at_result(c, in->suite, at_name(in, "test_streams_define_primary_key", nm, sizeof nm), SL_AT_SKIP, NULL,
              "only for certified connectors (metadata.yaml ab_internal.ql >= 400; this one has %d)", quality_level(c));
    return;
  }
  const json_t *cat = at_discover(c, in, "test_streams_define_primary_key");
  if (cat) {
    size_t i;
    json_t *s;
    const char *missing = NULL;
    json_array_foreach(json_object_get(cat, "streams"), i, s) {
      const char *n = json_string_value(json_object_get(s, "name"));
      bool listed = false;
      size_t j;
      json_t *w;
      json_array_foreach(json_object_get(in->in, "streams_without_primary_key"), j, w)
          listed |= !strcmp(json_string_value(json_object_get(w, "name")) ?: "", n ?: "");
      if (!listed && json_array_size(json_object_get(s, "source_defined_primary_key")) == 0) missing = n;
    }
    if (missing) at_result(c, in->suite, at_name(in, "test_streams_define_primary_key", nm, sizeof nm), SL_AT_FAIL, NULL,
                           "stream %s has no source_defined_primary_key (list it in streams_without_primary_key)", missing);
    else at_result(c, in->suite, at_name(in, "test_streams_define_primary_key", nm, sizeof nm), SL_AT_PASS, NULL, NULL);
  }
  bool hosts = json_array_size(json_object_get(json_object_get(c->metadata, "allowedHosts"), "hosts")) > 0;
  at_result(c, in->suite, at_name(in, "test_certified_connector_has_allowed_hosts", nm, sizeof nm),
            hosts || bypassed(in->in, "allowed_hosts") ? SL_AT_PASS : SL_AT_FAIL, NULL,
            hosts || bypassed(in->in, "allowed_hosts") ? NULL : "metadata.yaml has no allowedHosts.hosts");
  bool sugg = json_array_size(json_object_get(json_object_get(c->metadata, "suggestedStreams"), "streams")) > 0;
  at_result(c, in->suite, at_name(in, "test_certified_connector_has_suggested_streams", nm, sizeof nm),
            sugg || bypassed(in->in, "suggested_streams") ? SL_AT_PASS : SL_AT_FAIL, NULL,
            sugg || bypassed(in->in, "suggested_streams") ? NULL : "metadata.yaml has no suggestedStreams.streams");
}

/* ---- the run ---- */

typedef void (*suite_fn)(at_ctx *, at_input *);
static const struct {
  const char *name;
  suite_fn fn;
  int timeout_s;
  bool mandatory_high, sources_only;
} suites[] = {
    {"spec", at_suite_spec, 60, true, false},
    {"connection", suite_connection, 60, true, false},
    {"discovery", at_suite_discovery, 300, true, true},
    {"basic_read", at_suite_basic_read, 600, true, true},
    {"full_refresh", at_suite_full_refresh, 1200, true, true},
    {"incremental", at_suite_incremental, 1200, true, true},
    {"connector_attributes", suite_attributes, 600, false, true},
    {"connector_documentation", at_suite_documentation, 600, false, false},
};

static bool wanted(const sl_at_opts *o, const char *suite) {
  if (!o->suites) return true;
  for (const char *const *s = o->suites; *s; s++)
    if (!strcmp(*s, suite)) return true;
  return false;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static void run_suite(at_ctx *c, size_t si, const json_t *suite) {
  const char *name = suites[si].name;
  if (c->is_destination && suites[si].sources_only) {
    at_result(c, name, "all", SL_AT_SKIP, NULL, "a destination has no %s suite (CAT runs spec and connection only)", name);
    return;
  }
  if (!suite) {
    if (c->high && suites[si].mandatory_high)
      at_result(c, name, "configured", SL_AT_FAIL, NULL, "not configured, but mandatory with test_strictness_level: high");
    else
      at_result(c, name, "all", SL_AT_SKIP, NULL, "not configured in %s", c->cfg_path);
    return;
  }
  const char *br = json_string_value(json_object_get(suite, "bypass_reason"));
  if (br) {
    at_result(c, name, "all", SL_AT_SKIP, NULL, "bypassed: %s", br);
    return;
  }
  const json_t *tests = json_object_get(suite, "tests");
  size_t i;
  json_t *t;
  json_array_foreach(tests, i, t) {
    at_input in = {.in = t, .suite = name};
    if (json_array_size(tests) > 1) snprintf(in.test, sizeof in.test, "[%zu]", i + 1);
    json_int_t to = json_integer_value(json_object_get(t, "timeout_seconds"));
    in.timeout_s = to > 0 ? (int)to : suites[si].timeout_s;
    if (c->opts->timeout_s > 0 && c->opts->timeout_s < in.timeout_s) in.timeout_s = c->opts->timeout_s;
    char nm[96];
    if (!at_deployment_selected(c, &in)) continue;
    bool ok = input_file(c, &in, "config_path", "secrets/config.json", nm, sizeof nm);
    const char *files[] = {"configured_catalog_path", NULL};
    for (size_t k = 0; ok && files[k]; k++) ok = input_file(c, &in, files[k], NULL, nm, sizeof nm);
    const json_t *er = json_object_get(t, "expect_records"), *fs = json_object_get(t, "future_state");
    if (ok && er && json_object_get(er, "path")) {
      at_input sub = in;
      sub.in = er;
      ok = input_file(c, &sub, "path", NULL, nm, sizeof nm);
      memcpy(in.skip_reason, sub.skip_reason, sizeof in.skip_reason);
    }
    if (ok && fs && json_object_get(fs, "future_state_path")) {
      at_input sub = in;
      sub.in = fs;
      ok = input_file(c, &sub, "future_state_path", NULL, nm, sizeof nm);
      memcpy(in.skip_reason, sub.skip_reason, sizeof in.skip_reason);
    }
    if (!ok) {
      if (in.skip_reason[0] != '!') at_result(c, name, at_name(&in, "all", nm, sizeof nm), SL_AT_SKIP, NULL, "%s", in.skip_reason);
      continue;
    }
    at_run_input(c, &in, suites[si].fn);
  }
}

static void load_metadata(at_ctx *c) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/metadata.yaml", c->dir);
  sl_err e = SL_ERR_INIT;
  sl_yaml *y = c->dir[0] && access(p, F_OK) == 0 ? sl_yaml_load_file(p, &e) : NULL;
  if (y) c->metadata = json_incref(json_object_get(sl_yaml_root(y), "data"));
  sl_yaml_free(y);
}

static sl_code resolve(at_ctx *c, const json_t *root, sl_err *err) {
  const char *ref = c->opts->connector ?: json_string_value(json_object_get(root, "connector"));
  char cfgdir[PATH_MAX];
  snprintf(cfgdir, sizeof cfgdir, "%s", c->cfg_path);
  char *slash = strrchr(cfgdir, '/');
  if (slash) *slash = 0;
  else snprintf(cfgdir, sizeof cfgdir, ".");
  if (!realpath(cfgdir, c->base)) return sl_err_set(err, SL_EIO, "%s: %s", cfgdir, strerror(errno));
  snprintf(c->dir, sizeof c->dir, "%s", c->base);
  const char *bp = json_string_value(json_object_get(root, "base_path"));
  if (bp) {
    char tmp[PATH_MAX * 2];
    snprintf(tmp, sizeof tmp, "%s/%s", c->base, bp);
    if (bp[0] == '/') snprintf(tmp, sizeof tmp, "%s", bp);
    if (!realpath(tmp, c->base)) return sl_err_set(err, SL_ENOTFOUND, "%s: base_path %s: %s", c->cfg_path, bp, strerror(errno));
  }
  const char *image = json_string_value(json_object_get(root, "connector_image"));
  const char *base = strrchr(c->dir, '/') ? strrchr(c->dir, '/') + 1 : c->dir;
  if (ref && (!strncmp(ref, "docker/", 7) || !strncmp(ref, "image:", 6))) {
    image = ref + (ref[0] == 'd' ? 7 : 6);
  } else if (ref) {
    /* a path relative to the config's directory, else as given (a built-in name) */
    char refpath[PATH_MAX * 2];
    snprintf(refpath, sizeof refpath, "%s/%s", cfgdir, ref);
    if (ref[0] == '/' || !strchr(ref, '/') || access(refpath, F_OK) != 0) snprintf(refpath, sizeof refpath, "%s", ref);
    if (sl_connector_resolve(refpath, c->exe, sizeof c->exe, err)) return err->code;
    struct stat st;
    char real[PATH_MAX];
    if (stat(refpath, &st) == 0 && S_ISDIR(st.st_mode) && realpath(refpath, real)) snprintf(c->dir, sizeof c->dir, "%s", real);
    snprintf(c->name, sizeof c->name, "%s", strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref);
    return SL_EOK;
  } else if (sl_connector_resolve(c->dir, c->exe, sizeof c->exe, image ? NULL : err) == SL_EOK) {
    snprintf(c->name, sizeof c->name, "%s", base);
    return SL_EOK;
  } else if (!image) {
    return err->code;
  }
  /* the image, run through its launcher (platform/docker.c) */
  snprintf(c->image, sizeof c->image, "docker/%s", image);
  snprintf(c->name, sizeof c->name, "%s", base);
  if (sl_connector_resolve(c->image, c->exe, sizeof c->exe, err)) return err->code;
  return SL_EOK;
}

/* Connectors run in a scratch directory: their path must be absolute. */
static void absolute_exe(at_ctx *c) {
  char abs[PATH_MAX];
  if (c->exe[0] && c->exe[0] != '/' && realpath(c->exe, abs)) snprintf(c->exe, sizeof c->exe, "%s", abs);
}

sl_code sl_at_run(const sl_at_opts *opts, sl_at_report *report, sl_err *err) {
  memset(report, 0, sizeof *report);
  at_ctx c = {.opts = opts, .report = report, .cfg_path = opts->config_path, .last_ms = sl_now_ms()};
  c.cfg = at_config_load(opts->config_path, err);
  if (!c.cfg) return err->code;
  const json_t *root = sl_yaml_root(c.cfg);
  sl_code rc = resolve(&c, root, err);
  if (rc) goto out;
  absolute_exe(&c);
  snprintf(c.tmp, sizeof c.tmp, "%s/sluice-test-XXXXXX", getenv("TMPDIR") ?: "/tmp");
  if (!mkdtemp(c.tmp)) {
    rc = sl_err_set(err, SL_EIO, "mkdtemp: %s", strerror(errno));
    goto out;
  }
  c.env = json_object_get(root, "custom_environment_variables");
  c.high = !strcmp(json_string_value(json_object_get(root, "test_strictness_level")) ?: "", "high");
  load_metadata(&c);
  const char *type = json_string_value(json_object_get(c.metadata, "connectorType"));
  c.is_destination = type ? !strcmp(type, "destination") : !strncmp(c.name, "destination-", 12);
  const json_t *at = json_object_get(root, "acceptance_tests");
  for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
    if (wanted(opts, suites[i].name)) run_suite(&c, i, json_object_get(at, suites[i].name));
  at_container_final(&c);
  nftw(c.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
out:
  json_decref(c.helpers);
  json_decref(c.metadata);
  json_decref(c.spec);
  json_decref(c.catalog);
  free(c.catalog_key);
  sl_yaml_free(c.cfg);
  return rc;
}

void sl_at_report_dispose(sl_at_report *rep) {
  for (size_t i = 0; i < rep->n; i++) {
    free(rep->r[i].suite), free(rep->r[i].name), free(rep->r[i].reason), free(rep->r[i].offending);
  }
  free(rep->r);
  memset(rep, 0, sizeof *rep);
}

/* ---- JUnit XML ---- */

static void xml_text(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default:
      if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', f);
      else fputc(*s, f);
    }
  }
}

sl_code sl_at_write_junit(const sl_at_report *rep, const char *name, const char *path, sl_err *err) {
  FILE *f = fopen(path, "w");
  if (!f) return sl_err_set(err, SL_EIO, "%s: %s", path, strerror(errno));
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
  xml_text(f, name);
  fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", rep->n, rep->failed, rep->skipped);
  for (size_t i = 0; i < rep->n;) {
    size_t j = i, fails = 0, skips = 0;
    while (j < rep->n && !strcmp(rep->r[j].suite, rep->r[i].suite)) {
      fails += rep->r[j].status == SL_AT_FAIL, skips += rep->r[j].status == SL_AT_SKIP;
      j++;
    }
    fprintf(f, "  <testsuite name=\"");
    xml_text(f, rep->r[i].suite);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", j - i, fails, skips);
    for (size_t k = i; k < j; k++) {
      const sl_at_result *r = &rep->r[k];
      fprintf(f, "    <testcase classname=\"");
      xml_text(f, name);
      fputc('.', f);
      xml_text(f, r->suite);
      fprintf(f, "\" name=\"");
      xml_text(f, r->name);
      fprintf(f, "\" time=\"%.3f\"", r->seconds);
      if (r->status == SL_AT_PASS) {
        fprintf(f, "/>\n");
        continue;
      }
      fprintf(f, ">\n      <%s message=\"", r->status == SL_AT_FAIL ? "failure" : "skipped");
      xml_text(f, r->reason);
      if (r->status == SL_AT_SKIP || !r->offending) {
        fprintf(f, "\"/>\n    </testcase>\n");
        continue;
      }
      fprintf(f, "\">");
      xml_text(f, r->offending);
      fprintf(f, "</failure>\n    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n");
    i = j;
  }
  fprintf(f, "</testsuites>\n");
  if (fclose(f) != 0) return sl_err_set(err, SL_EIO, "%s: write failed", path);
  return SL_EOK;
}
