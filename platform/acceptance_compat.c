/* Backward compatibility of a new connector version against the previous
 * one (CAT's test_backward_compatibility in the spec and discovery suites):
 * the rules, and where the previous spec/catalog comes from (an image, a
 * local connector, a file, or a file in the connector's git history). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acceptance_int.h"
#include "sluice/platform.h"
#include "sluice/jsgen.h"
#include "sluice/schema.h"

/* CAT's number of generated configs; the seed keeps them the same in every run */
#define AT_COMPAT_CONFIGS 100
#define AT_COMPAT_SEED 20240701

/* ---- the rules ---- */

typedef struct diff {
  sl_at_compat kind;
  json_t *out; /* array of breaking-change strings */
} diff;

static void breaking(diff *d, const char *ptr, const char *fmt, const char *a, const char *b) {
  char msg[700], what[600];
  snprintf(what, sizeof what, fmt, a ? a : "", b ? b : "");
  snprintf(msg, sizeof msg, "%s: %s", *ptr ? ptr : "/", what);
  json_array_append_new(d->out, json_string(msg));
}

/* The type as a set (a string, a list, or none = NULL). */
static json_t *types_of(const json_t *node) {
  const json_t *t = json_object_get(node, "type");
  if (json_is_string(t)) return json_pack("[O]", t);
  return json_is_array(t) ? json_incref((json_t *)t) : NULL;
}

static bool in_set(const json_t *set, const json_t *v) {
  size_t i;
  json_t *x;
  json_array_foreach(set, i, x) if (json_equal(x, v)) return true;
  return false;
}

static bool subset(const json_t *a, const json_t *b) {
  size_t i;
  json_t *x;
  json_array_foreach(a, i, x) if (!in_set(b, x)) return false;
  return true;
}

static char *show(const json_t *v) { return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("none"); }

static void check_types(diff *d, const json_t *o, const json_t *n, const char *ptr) {
  json_t *ot = types_of(o), *nt = types_of(n);
  if (!ot) goto out; /* no type before: anything is wider or equal */
  char *a = show(json_object_get(o, "type")), *b = show(json_object_get(n, "type"));
  if (d->kind == SL_AT_COMPAT_SPEC) {
    /* a config valid before must stay valid: only widening is allowed */
    if (nt && !subset(ot, nt)) {
      json_t *nul = json_string("null");
      if (in_set(ot, nul) && !in_set(nt, nul)) breaking(d, ptr, "a nullable field became non-nullable (type %s -> %s)", a, b);
      else breaking(d, ptr, "type changed %s -> %s", a, b);
      json_decref(nul);
    }
  } else if (!nt || !(subset(ot, nt) && subset(nt, ot))) {
    /* a stream's column type may not change at all, not even widen */
    breaking(d, ptr, "type changed %s -> %s", a, b);
  }
  free(a), free(b);
out:
  json_decref(ot), json_decref(nt);
}

static void check_value(diff *d, const json_t *o, const json_t *n, const char *ptr, const char *key) {
  const json_t *ov = json_object_get(o, key), *nv = json_object_get(n, key);
  if (json_equal(ov, nv) || (!ov && !nv)) return;
  /* spec: dropping a format only widens; a catalog column changes either way */
  if (!nv && d->kind == SL_AT_COMPAT_SPEC) return;
  char *a = show(ov), *b = show(nv);
  char what[64];
  snprintf(what, sizeof what, "%s changed %%s -> %%s", key);
  breaking(d, ptr, what, a, b);
  free(a), free(b);
}

static void compare(diff *d, const json_t *o, const json_t *n, const char *ptr, int depth);

static void compare_props(diff *d, const json_t *o, const json_t *n, const char *ptr, int depth) {
  const char *k;
  json_t *op;
  char sub[1024];
  json_object_foreach(json_object_get(o, "properties"), k, op) {
    snprintf(sub, sizeof sub, "%s/properties/%s", ptr, k);
    const json_t *np = json_object_get(json_object_get(n, "properties"), k);
    if (!np) {
      if (d->kind == SL_AT_COMPAT_CATALOG) breaking(d, sub, "property removed%s%s", NULL, NULL);
      continue;
    }
    compare(d, op, np, sub, depth + 1);
  }
}

static void compare(diff *d, const json_t *o, const json_t *n, const char *ptr, int depth) {
  if (!json_is_object(o) || !json_is_object(n) || depth > 64) return;
  check_types(d, o, n, ptr);
  check_value(d, o, n, ptr, "format");
  check_value(d, o, n, ptr, "airbyte_type");
  if (d->kind == SL_AT_COMPAT_SPEC) {
    /* required: a new list, or a new item */
    const json_t *orq = json_object_get(o, "required"), *nrq = json_object_get(n, "required");
    size_t i;
    json_t *x;
    json_array_foreach(nrq, i, x) if (!in_set(orq, x)) {
      breaking(d, ptr, orq ? "%s became required%s" : "a required list was added (%s required)%s", json_string_value(x), NULL);
      break;
    }
    /* enum: narrowed, or added to an existing field */
    const json_t *oe = json_object_get(o, "enum"), *ne = json_object_get(n, "enum");
    if (ne && !oe) breaking(d, ptr, "an enum was added to an existing field%s%s", NULL, NULL);
    else if (ne && oe && !subset(oe, ne)) {
      json_array_foreach(oe, i, x) if (!in_set(ne, x)) {
        char *v = show(x);
        breaking(d, ptr, "enum narrowed: %s was removed%s", v, NULL);
        free(v);
        break;
      }
    }
  }
  compare_props(d, o, n, ptr, depth);
  char sub[1024];
  snprintf(sub, sizeof sub, "%s/items", ptr);
  compare(d, json_object_get(o, "items"), json_object_get(n, "items"), sub, depth + 1);
  static const char *const lists[] = {"oneOf", "anyOf", NULL};
  for (size_t l = 0; lists[l]; l++) {
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(o, lists[l]), i, x) {
      snprintf(sub, sizeof sub, "%s/%s/%zu", ptr, lists[l], i);
      compare(d, x, json_array_get(json_object_get(n, lists[l]), i), sub, depth + 1);
    }
  }
}

static const json_t *find_stream(const json_t *catalog, const json_t *s) {
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(catalog, "streams"), i, x)
      if (at_same_stream(at_sname(x), at_sns(x), at_sname(s), at_sns(s))) return x;
  return NULL;
}

/* A SPEC/CATALOG message, or its payload. */
static const json_t *payload(const json_t *v, sl_at_compat kind) {
  const char *key = kind == SL_AT_COMPAT_SPEC ? "spec" : "catalog";
  const json_t *p = json_object_get(v, key);
  return p ? p : v;
}

json_t *sl_at_compat_diff(sl_at_compat kind, const json_t *old_v, const json_t *new_v) {
  diff d = {.kind = kind, .out = json_array()};
  const json_t *o = payload(old_v, kind), *n = payload(new_v, kind);
  if (kind == SL_AT_COMPAT_SPEC) {
    compare(&d, json_object_get(o, "connectionSpecification"), json_object_get(n, "connectionSpecification"), "", 0);
    return d.out;
  }
  size_t i;
  json_t *s;
  char ptr[600];
  json_array_foreach(json_object_get(o, "streams"), i, s) {
    const json_t *ns = find_stream(n, s);
    snprintf(ptr, sizeof ptr, "stream %s", at_sname(s) ?: "?");
    if (!ns) {
      breaking(&d, ptr, "stream removed%s%s", NULL, NULL);
      continue;
    }
    static const char *const keys[] = {"default_cursor_field", "source_defined_primary_key", NULL};
    for (size_t k = 0; keys[k]; k++) {
      const json_t *a = json_object_get(s, keys[k]), *b = json_object_get(ns, keys[k]);
      if ((a || b) && !(a && b && json_equal(a, b))) {
        char *x = show(a), *y = show(b), what[80];
        snprintf(what, sizeof what, "%s changed %%s -> %%s", keys[k]);
        breaking(&d, ptr, what, x, y);
        free(x), free(y);
      }
    }
    size_t before = json_array_size(d.out);
    compare(&d, json_object_get(s, "json_schema"), json_object_get(ns, "json_schema"), "", 0);
    /* name the stream in its schema's findings */
    for (size_t k = before; k < json_array_size(d.out); k++) {
      char msg[1400];
      snprintf(msg, sizeof msg, "%s %s", ptr, json_string_value(json_array_get(d.out, k)));
      json_array_set_new(d.out, k, json_string(msg));
    }
  }
  return d.out;
}

/* ---- configs generated from the previous spec ---- */

json_t *sl_at_compat_configs(const json_t *old_v, const json_t *new_v, unsigned count, uint64_t seed, unsigned *made, char *skip,
                             size_t skip_n) {
  json_t *out = json_array();
  const json_t *ocs = json_object_get(payload(old_v, SL_AT_COMPAT_SPEC), "connectionSpecification");
  const json_t *ncs = json_object_get(payload(new_v, SL_AT_COMPAT_SPEC), "connectionSpecification");
  *made = 0;
  skip[0] = 0;
  if (!ocs || !ncs) {
    snprintf(skip, skip_n, "no connectionSpecification in the %s spec", ocs ? "new" : "previous");
    return out;
  }
  const char *k;
  json_t *p;
  json_object_foreach(json_object_get(ocs, "properties"), k, p) if (!json_object_get(json_object_get(ncs, "properties"), k)) {
    char msg[400];
    snprintf(msg, sizeof msg, "/properties/%s: property removed (configs that set it lose it)", k);
    json_array_append_new(out, json_string(msg));
  }
  /* CAT drops format: date-time next to a pattern (hypothesis cannot make
   * both); the generator here can, so the old spec is used as it is */
  const json_t *gen_schema = ocs;
  json_t *errors = json_object(); /* validation message -> [count, first index, first config] */
  for (unsigned i = 0; i < count; i++) {
    char why[600];
    json_t *cfg = sl_jsgen_instance(gen_schema, seed, i, why, sizeof why);
    if (!cfg) {
      if (!skip[0]) snprintf(skip, skip_n, "config %u: %s", i, why);
      continue;
    }
    (*made)++;
    if (!json_is_object(cfg)) { /* as CAT: only objects are checked */
      json_decref(cfg);
      continue;
    }
    json_t *filtered = json_object();
    json_object_foreach(cfg, k, p) if (k[0] != '_') json_object_set(filtered, k, p);
    sl_err e = SL_ERR_INIT;
    if (sl_schema_validate(ncs, filtered, "config", &e) != SL_EOK) {
      /* one finding per place ("config: /port"), with its first message */
      char place[SL_ERR_MSG_MAX];
      snprintf(place, sizeof place, "%s", e.msg);
      char *colon = strstr(place, ": ") ? strstr(strstr(place, ": ") + 2, ": ") : NULL;
      if (colon) *colon = 0;
      json_t *seen = json_object_get(errors, place);
      if (seen) json_array_set_new(seen, 0, json_integer(json_integer_value(json_array_get(seen, 0)) + 1));
      else json_object_set_new(errors, place, json_pack("[i, i, O, s]", 1, (json_int_t)i, filtered, e.msg));
    }
    json_decref(filtered), json_decref(cfg);
  }
  json_object_foreach(errors, k, p) {
    char *cfg = sl_json_dumps(json_array_get(p, 2)), msg[SL_ERR_MSG_MAX + 900];
    snprintf(msg, sizeof msg, "%lld of %u configs generated from the previous spec are rejected: %s (first: config %lld = %.600s%s)",
             (long long)json_integer_value(json_array_get(p, 0)), *made, json_string_value(json_array_get(p, 3)),
             (long long)json_integer_value(json_array_get(p, 1)),
             cfg ? cfg : "?", cfg && strlen(cfg) > 600 ? "..." : "");
    free(cfg);
    json_array_append_new(out, json_string(msg));
  }
  json_decref(errors);
  return out;
}

/* ---- the previous version ---- */

/* `git show REV:./PATH` run in dir: the file as it was at REV. */
static json_t *git_file(const char *dir, const char *spec, char *why, size_t n) {
  const char *colon = strchr(spec, ':');
  if (!colon || colon == spec || !colon[1]) {
    snprintf(why, n, "\"git:%s\": expected git:<revision>:<path>", spec);
    return NULL;
  }
  char obj[PATH_MAX + 64];
  snprintf(obj, sizeof obj, "%.*s:./%s", (int)(colon - spec), spec, colon + 1);
  int p[2];
  if (pipe(p) != 0) {
    snprintf(why, n, "pipe: %s", strerror(errno));
    return NULL;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]), close(p[1]);
    execlp("git", "git", "-C", dir, "show", obj, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = fdopen(p[0], "r");
  FILE *mem = open_memstream(&buf, &len);
  char chunk[8192];
  size_t k;
  while (f && mem && (k = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, k, mem);
  if (f) fclose(f);
  else close(p[0]);
  if (mem) fclose(mem);
  int st = 0;
  if (pid > 0) waitpid(pid, &st, 0);
  json_t *v = NULL;
  json_error_t je;
  if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) snprintf(why, n, "git show %s in %s failed (exit %d)", obj, dir, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  else if (!(v = json_loadb(buf ? buf : "", len, 0, &je))) snprintf(why, n, "git %s: not JSON: line %d: %s", obj, je.line, je.text);
  free(buf);
  return v;
}

/* Run the previous connector (exe) for its spec or catalog. */
static json_t *run_previous(at_ctx *c, at_input *in, sl_at_compat kind, const char *exe, char *why, size_t n) {
  char saved[PATH_MAX];
  snprintf(saved, sizeof saved, "%s", c->exe);
  snprintf(c->exe, sizeof c->exe, "%s", exe);
  at_run r;
  sl_err e = SL_ERR_INIT;
  const char *verb = kind == SL_AT_COMPAT_SPEC ? "spec" : "discover";
  json_t *out = NULL;
  if (at_exec(c, verb, kind == SL_AT_COMPAT_SPEC ? NULL : in->config, NULL, NULL, NULL, in->timeout_s, &r, &e)) {
    snprintf(why, n, "%s", e.msg);
    at_run_dispose(&r);
  } else {
    json_t *msgs = at_msgs_of(&r, kind == SL_AT_COMPAT_SPEC ? "SPEC" : "CATALOG");
    if (json_array_size(msgs) == 1) out = json_incref(json_array_get(msgs, 0));
    else snprintf(why, n, "%s printed %zu %s messages (exit %d%s%s)", verb, json_array_size(msgs), kind == SL_AT_COMPAT_SPEC ? "SPEC" : "CATALOG",
                  r.exit_code, r.timed_out ? ", timed out" : "", r.stderr_tail[0] ? "; stderr: " : "");
    if (!out && r.stderr_tail[0] && strlen(why) + 1 < n) strncat(why, r.stderr_tail, n - strlen(why) - 1);
    json_decref(msgs);
    at_run_dispose(&r);
  }
  snprintf(c->exe, sizeof c->exe, "%s", saved);
  return out;
}

/* The image repository of the connector under test: connector_image, the
 * image reference, or metadata.yaml's dockerRepository. */
static void image_repo(at_ctx *c, char *out, size_t n) {
  const char *img = json_string_value(json_object_get(sl_yaml_root(c->cfg), "connector_image"));
  if (c->image[0]) img = c->image + 7; /* "docker/" */
  if (!img) img = json_string_value(json_object_get(c->metadata, "dockerRepository"));
  snprintf(out, n, "%s", img ? img : "");
  char *slash = strrchr(out, '/'), *colon = strrchr(out, ':');
  if (colon && (!slash || colon > slash)) *colon = 0;
}

/* The previous spec or catalog, else NULL with why (a skip reason) and
 * *version the previous version when known. Sources, first match:
 * previous_spec_path / previous_catalog_path (a file, or git:REV:PATH from
 * the connector's history), previous_connector (any connector reference),
 * previous_connector_version (the image <repository>:<version>). */
static json_t *previous(at_ctx *c, at_input *in, sl_at_compat kind, const json_t *bc, char *version, size_t vn, char *why, size_t n) {
  const char *fkey = kind == SL_AT_COMPAT_SPEC ? "previous_spec_path" : "previous_catalog_path";
  const char *file = json_string_value(json_object_get(bc, fkey));
  const char *ref = json_string_value(json_object_get(bc, "previous_connector"));
  const char *ver = json_string_value(json_object_get(bc, "previous_connector_version"));
  version[0] = 0;
  if (file && !strncmp(file, "git:", 4)) return git_file(c->base, file + 4, why, n);
  if (file) {
    char path[PATH_MAX];
    at_path(c, bc, fkey, NULL, path, sizeof path);
    sl_err e = SL_ERR_INIT;
    json_t *v = NULL;
    if (sl_json_load_file(path, &v, &e)) snprintf(why, n, "%s: %s", fkey, e.msg);
    return v;
  }
  char exe[PATH_MAX];
  sl_err e = SL_ERR_INIT;
  if (ref) {
    char refpath[PATH_MAX * 2];
    snprintf(refpath, sizeof refpath, "%s/%s", c->base, ref);
    if (ref[0] == '/' || access(refpath, F_OK) != 0) snprintf(refpath, sizeof refpath, "%s", ref);
    if (sl_connector_resolve(refpath, exe, sizeof exe, &e)) {
      snprintf(why, n, "previous_connector %s: %s", ref, e.msg);
      return NULL;
    }
    return run_previous(c, in, kind, exe, why, n);
  }
  if (!ver && c->image[0]) ver = "latest"; /* CAT's default, for a connector run as an image */
  if (!ver) {
    snprintf(why, n, "no previous version to compare with: set backward_compatibility_tests_config.previous_connector_version "
                     "(an image tag), previous_connector, or %s (a file or git:REV:PATH)", fkey);
    return NULL;
  }
  char repo[400], image[512];
  image_repo(c, repo, sizeof repo);
  if (!repo[0]) {
    snprintf(why, n, "previous_connector_version %s: no image repository (connector_image or metadata.yaml dockerRepository)", ver);
    return NULL;
  }
  snprintf(version, vn, "%s", ver);
  snprintf(image, sizeof image, "docker/%s:%s", repo, ver);
  if (sl_connector_resolve(image, exe, sizeof exe, &e)) {
    snprintf(why, n, "the previous image %s: %s", image + 7, e.msg);
    return NULL;
  }
  json_t *v = run_previous(c, in, kind, exe, why, n);
  if (!v) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "the previous image %s could not be run: %s", image + 7, why);
    snprintf(why, n, "%s", tmp);
  }
  return v;
}

/* test_backward_compatibility:configs: CAT's 100 generated configs, and the
 * input set's own config when the previous spec accepts it. */
static void previous_configs(at_ctx *c, at_input *in, const json_t *pp, const json_t *cp, const char *version) {
  char nm[128], skip[700];
  at_name(in, "test_backward_compatibility:configs", nm, sizeof nm);
  unsigned made;
  json_t *d = sl_at_compat_configs(pp, cp, AT_COMPAT_CONFIGS, AT_COMPAT_SEED, &made, skip, sizeof skip);
  sl_err e = SL_ERR_INIT;
  const json_t *ocs = json_object_get(pp, "connectionSpecification"), *ncs = json_object_get(cp, "connectionSpecification");
  if (in->config && ocs && ncs && sl_schema_validate(ocs, in->config, "config", &e) == SL_EOK &&
      sl_schema_validate(ncs, in->config, "config", &e) != SL_EOK) {
    char msg[SL_ERR_MSG_MAX + 80];
    snprintf(msg, sizeof msg, "the test config, valid for the previous spec, is not for this one: %s", e.msg);
    json_array_append_new(d, json_string(msg));
  }
  if (json_array_size(d)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "configs valid for the previous version%s%s are not for this one: %s%s%s",
              version[0] ? " " : "", version, json_string_value(json_array_get(d, 0)), json_array_size(d) > 1 ? "; " : "",
              json_array_size(d) > 1 ? json_string_value(json_array_get(d, 1)) : "");
  } else if (!made) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "no config could be generated from the previous spec: %s", skip);
  } else if (made < AT_COMPAT_CONFIGS) {
    at_result(c, in->suite, nm, SL_AT_PASS, NULL, "%u generated configs pass; %u could not be generated: %s", made,
              AT_COMPAT_CONFIGS - made, skip);
  } else {
    at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  }
  json_decref(d);
}

void at_backward_compat(at_ctx *c, at_input *in, sl_at_compat kind, const json_t *current) {
  char nm[96], why[1200] = "", version[128];
  at_name(in, "test_backward_compatibility", nm, sizeof nm);
  const json_t *bc = json_object_get(in->in, "backward_compatibility_tests_config");
  json_t *prev = previous(c, in, kind, bc, version, sizeof version, why, sizeof why);
  if (!prev) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "%s", why);
    return;
  }
  const char *off = json_string_value(json_object_get(bc, "disable_for_version"));
  const json_t *pp = payload(prev, kind), *cp = payload(current, kind);
  if (off && version[0] && !strcmp(off, version)) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "disabled for the previous version %s (disable_for_version)", version);
  } else if (json_equal(pp, cp)) {
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "the previous and the current %s are identical", kind == SL_AT_COMPAT_SPEC ? "spec" : "catalog");
  } else {
    json_t *d = sl_at_compat_diff(kind, pp, cp);
    if (kind == SL_AT_COMPAT_SPEC) previous_configs(c, in, pp, cp, version);
    if (!json_array_size(d)) {
      at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
    } else {
      char list[1500] = "";
      size_t at = 0;
      for (size_t i = 0; i < json_array_size(d) && i < 5 && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? "; " : "", json_string_value(json_array_get(d, i)));
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%zu breaking change(s) since the previous version%s%s: %s%s", json_array_size(d),
                version[0] ? " " : "", version, list, json_array_size(d) > 5 ? "; ..." : "");
    }
    json_decref(d);
  }
  json_decref(prev);
}
