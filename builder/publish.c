/* Publishing a builder project as connectors/source-<name>/: the first time
 * through `sluice generate source-declarative` (metadata.yaml, changelog,
 * icon, Dockerfile, acceptance-test-config.yml), then the manifest, a
 * configured catalog of its streams, a README documenting its inputs and
 * streams, and the testing values as secrets/config.json (git-ignored, 0600)
 * so `sluice test` runs at once. Publishing again updates the manifest,
 * catalog and README and leaves metadata and changelog to `sluice bump`. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder.h"
#include "sluice/buf.h"
#include "sluice/fsutil.h"

static bool valid_name(const char *n) {
  if (strncmp(n, "source-", 7) || !n[7] || strlen(n) > 100) return false;
  for (const char *p = n + 7; *p; p++)
    if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-') return false;
  return n[strlen(n) - 1] != '-';
}

static sl_code write_file(const char *dir, const char *path, const char *text, sl_err *err) {
  return sl_fs_replace(dir, path, text, strlen(text), err);
}

static sl_code run_generate(const char *root, const char *name, sl_err *err) {
  char out[2048];
  int fds[2];
  if (pipe(fds)) return sl_err_set(err, SL_EIO, "publish: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    execl("/proc/self/exe", "sluice", "generate", "source-declarative", name, "--out", root, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t n = 0;
  ssize_t r;
  while (pid > 0 && n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
  out[n] = 0;
  close(fds[0]);
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
    return sl_err_set(err, SL_ECONNECTOR, "publish: sluice generate failed: %s", out[0] ? out : "no output");
  return SL_EOK;
}

/* The streams of a manifest's templates (dynamic_streams) generated with the
 * testing values, as the engine would (dynamic.c); templates that generate
 * nothing here (an endpoint that needs the network) add none. */
static json_t *generated_streams(bld_server *srv, const char *yaml, size_t len, const json_t *resolved) {
  json_t *out = json_array(), *cfg = bld_testing_values(srv);
  for (size_t t = 0; t < json_array_size(json_object_get(resolved, "dynamic_streams")); t++) {
    unsigned st = 200;
    json_t *g = bld_generate_streams(srv, yaml, len, t, cfg, false, &st);
    json_array_extend(out, json_object_get(g, "streams"));
    json_decref(g);
  }
  json_decref(cfg);
  return out;
}

static char *catalog_json(const json_t *resolved, const json_t *generated) {
  json_t *streams = json_array(), *all = json_array();
  json_array_extend(all, json_object_get(resolved, "streams"));
  json_array_extend(all, (json_t *)generated);
  size_t i;
  json_t *s;
  json_array_foreach(all, i, s) {
    const char *name = json_string_value(json_object_get(s, "name"));
    json_array_append_new(streams, json_pack("{s:{s:s,s:{},s:[s]},s:s,s:s}", "stream", "name", name ? name : "",
                                             "json_schema", "supported_sync_modes", "full_refresh", "sync_mode",
                                             "full_refresh", "destination_sync_mode", "overwrite"));
  }
  json_decref(all);
  json_t *cat = json_pack("{s:o}", "streams", streams);
  char *text = json_dumps(cat, JSON_INDENT(2));
  json_decref(cat);
  return text;
}

static const char *str_or(const json_t *v, const char *dflt) { return json_is_string(v) ? json_string_value(v) : dflt; }

static char *readme(const char *name, const json_t *resolved) {
  sl_buf b;
  sl_buf_init(&b, (size_t)1 << 20);
  sl_buf_appendf(&b, "# %s\n\nA declarative (low-code) source built with `sluice builder`: `manifest.yaml` is the "
                     "connector, run by sluice's source-declarative-manifest.\n\n## Inputs\n\n"
                     "| input | type | required | secret | description |\n|---|---|---|---|---|\n", name);
  const json_t *cs = json_object_get(json_object_get(resolved, "spec"), "connection_specification");
  const json_t *req = json_object_get(cs, "required");
  const char *k;
  json_t *p;
  json_object_foreach((json_t *)json_object_get(cs, "properties"), k, p) {
    bool required = false;
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) required |= json_is_string(r) && !strcmp(json_string_value(r), k);
    sl_buf_appendf(&b, "| `%s` | %s | %s | %s | %s |\n", k, str_or(json_object_get(p, "type"), ""),
                   required ? "yes" : "no", json_is_true(json_object_get(p, "airbyte_secret")) ? "yes" : "no",
                   str_or(json_object_get(p, "description"), str_or(json_object_get(p, "title"), "")));
  }
  sl_buf_appendf(&b, "\n## Streams\n\n| stream | path | primary key | pagination | incremental |\n|---|---|---|---|---|\n");
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(resolved, "streams"), i, s) {
    const json_t *retr = json_object_get(s, "retriever");
    const json_t *pag = json_object_get(json_object_get(retr, "paginator"), "pagination_strategy");
    char *pk = json_dumps(json_object_get(s, "primary_key"), JSON_COMPACT | JSON_ENCODE_ANY);
    sl_buf_appendf(&b, "| %s | `%s` | %s | %s | %s |\n", str_or(json_object_get(s, "name"), ""),
                   str_or(json_object_get(json_object_get(retr, "requester"), "path"), ""), pk ? pk : "",
                   str_or(json_object_get(pag, "type"), "none"),
                   str_or(json_object_get(json_object_get(s, "incremental_sync"), "cursor_field"), "no"));
    free(pk);
  }
  sl_buf_appendf(&b, "\n## Run and test\n\n```sh\nsluice check connectors/%s --config secrets/config.json\n"
                     "sluice read connectors/%s --config secrets/config.json --catalog "
                     "integration_tests/configured_catalog.json\nsluice test connectors/%s\n```\n\n"
                     "`secrets/config.json` holds the builder's testing values (git-ignored).\n",
                 name, name, name);
  char *out = strdup(sl_buf_cstr(&b));
  sl_buf_dispose(&b);
  return out;
}

/* The files every publish (and every change of the active version) writes:
 * the manifest, a configured catalog of its streams, the README. */
static sl_code write_connector(bld_server *srv, const char *dir, const char *name, const char *yaml, size_t len,
                               const json_t *resolved, sl_err *err) {
  char path[4600];
  json_t *gen = generated_streams(srv, yaml, len, resolved);
  char *cat = catalog_json(resolved, gen), *doc = readme(name, resolved);
  json_decref(gen);
  snprintf(path, sizeof path, "%s/manifest.yaml", dir);
  sl_code rc = sl_fs_replace(dir, path, yaml, len, err);
  if (!rc && cat) {
    char itd[4500];
    snprintf(itd, sizeof itd, "%s/integration_tests", dir);
    snprintf(path, sizeof path, "%s/configured_catalog.json", itd);
    if (!(rc = sl_fs_mkdirs(itd, err))) rc = write_file(itd, path, cat, err);
  }
  if (!rc && doc) {
    snprintf(path, sizeof path, "%s/README.md", dir);
    rc = write_file(dir, path, doc, err);
  }
  free(cat);
  free(doc);
  return rc;
}

json_t *bld_publish(bld_server *srv, const char *yaml, size_t len, const char *name, const char *description,
                    unsigned *status) {
  sl_err err = SL_ERR_INIT;
  if (!valid_name(name)) {
    *status = 400;
    sl_err_set(&err, SL_EUSAGE, "publish: \"%s\" is not a source name (source- then lower-case letters, digits, -)",
               name);
    return bld_error_json(&err);
  }
  if (!srv->root[0]) {
    *status = 409;
    sl_err_set(&err, SL_ECONFIG,
               "publish: no connectors/ directory: start the builder in the sluice tree or with --repo DIR");
    return bld_error_json(&err);
  }
  json_t *r = bld_resolve(yaml, len, "manifest.yaml");
  if (json_object_get(r, "error")) {
    *status = 422;
    return r;
  }
  /* As Airbyte's builder: nothing without streams, nothing the engine would refuse. */
  size_t i;
  json_t *is;
  const json_t *res = json_object_get(r, "resolved");
  const char *why = json_array_size(json_object_get(res, "streams")) || json_array_size(json_object_get(res, "dynamic_streams"))
                        ? NULL
                        : "the manifest has no streams (nor stream templates)";
  json_array_foreach(json_object_get(r, "issues"), i, is) {
    if (why || strcmp(json_string_value(json_object_get(is, "level")) ?: "", "error")) continue;
    sl_err_set(&err, SL_ECONFIG, "publish: the manifest has errors: %s: %s",
               json_string_value(json_object_get(is, "where")) ?: "?", json_string_value(json_object_get(is, "message")) ?: "");
    json_decref(r);
    *status = 422;
    return bld_error_json(&err);
  }
  if (why) {
    json_decref(r);
    *status = 422;
    sl_err_set(&err, SL_ECONFIG, "publish: %s", why);
    return bld_error_json(&err);
  }
  char dir[4400], path[4600];
  snprintf(dir, sizeof dir, "%s/connectors/%s", srv->root, name);
  bool fresh = access(dir, F_OK) != 0;
  sl_code rc = fresh ? run_generate(srv->root, name, &err) : SL_EOK;
  if (!rc) rc = write_connector(srv, dir, name, yaml, len, json_object_get(r, "resolved"), &err);
  if (!rc && fresh) { /* the template's example API belongs to its example manifest */
    snprintf(path, sizeof path, "%s/integration_tests/example_api/items.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/integration_tests/example_api", dir);
    rmdir(path);
  }
  if (!rc) {
    json_t *tv = bld_testing_values(srv);
    char *s = json_dumps(tv, JSON_INDENT(2));
    json_decref(tv);
    char sec[4500];
    snprintf(sec, sizeof sec, "%s/secrets", dir);
    snprintf(path, sizeof path, "%s/config.json", sec);
    if (s && !(rc = sl_fs_mkdirs(sec, &err)) && !(rc = write_file(sec, path, s, &err))) {
      chmod(sec, 0700);
      chmod(path, 0600);
    }
    free(s);
  }
  json_decref(r);
  json_t *entry = rc ? NULL : bld_record_publish(srv, name, dir, yaml, len, description, &err);
  if (!entry) {
    *status = 500;
    return bld_error_json(&err);
  }
  return json_pack("{s:s,s:b,s:o}", "dir", dir, "created", fresh, "version", entry);
}

/* dockerImageTag's line in metadata.yaml set to tag (the rest as it is). */
static sl_code set_tag(const char *dir, const char *tag, sl_err *err) {
  char path[4600];
  snprintf(path, sizeof path, "%s/metadata.yaml", dir);
  size_t len = 0;
  char *text = bld_read_text(path, (size_t)1 << 20, &len, err);
  if (!text) return err->code;
  char *k = strstr(text, "dockerImageTag:");
  sl_code rc = SL_EOK;
  if (!k || (k > text && k[-1] != ' ' && k[-1] != '\n')) {
    rc = sl_err_set(err, SL_ECONFIG, "%s: no dockerImageTag line", path);
  } else {
    char *eol = strchr(k, '\n');
    sl_buf b;
    sl_buf_init(&b, (size_t)2 << 20);
    sl_buf_append(&b, text, (size_t)(k - text));
    sl_buf_appendf(&b, "dockerImageTag: %s", tag);
    if (eol) sl_buf_append(&b, eol, strlen(eol));
    rc = sl_fs_replace(dir, path, b.data, b.len, err);
    sl_buf_dispose(&b);
  }
  free(text);
  return rc;
}

json_t *bld_publish_activate(bld_server *srv, long n, unsigned *status) {
  sl_err err = SL_ERR_INIT;
  json_t *entry = NULL;
  char *text = bld_published_text(srv, n, &entry, &err);
  if (!text) {
    *status = 404;
    return bld_error_json(&err);
  }
  const char *name = json_string_value(json_object_get(entry, "connector")) ?: "";
  const char *tag = json_string_value(json_object_get(entry, "tag"));
  char dir[4400];
  snprintf(dir, sizeof dir, "%s/connectors/%s", srv->root, name);
  json_t *r = NULL;
  sl_code rc;
  if (!srv->root[0] || !valid_name(name) || access(dir, F_OK)) {
    *status = 409;
    rc = sl_err_set(&err, SL_ECONFIG, "active version: connectors/%s is not there (publish again)", name);
  } else if (json_object_get(r = bld_resolve(text, strlen(text), "manifest.yaml"), "error")) {
    *status = 422;
    rc = sl_err_set(&err, SL_ECONFIG, "active version: published version %ld does not load", n);
  } else {
    rc = write_connector(srv, dir, name, text, strlen(text), json_object_get(r, "resolved"), &err);
    if (!rc && tag) rc = set_tag(dir, tag, &err);
    if (!rc) rc = bld_set_active(srv, n, &err);
    if (rc) *status = 500;
  }
  json_decref(r);
  free(text);
  json_t *res = rc ? bld_error_json(&err) : json_pack("{s:I,s:s,s:s?}", "active", (json_int_t)n, "dir", dir, "tag", tag);
  json_decref(entry);
  return res;
}
