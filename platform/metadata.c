/* metadata.yaml: the fields of Airbyte's metadata schema
 * (ConnectorMetadataDefinitionV0) and the publishing checks. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/acceptance.h"
#include "sluice/json.h"
#include "sluice/metadata.h"

/* ---- semantic versions ---- */

bool sl_semver_parse(const char *s, sl_semver *v) {
  memset(v, 0, sizeof *v);
  if (!s) return false;
  int n = 0;
  if (sscanf(s, "%d.%d.%d%n", &v->major, &v->minor, &v->patch, &n) != 3 || v->major < 0 || v->minor < 0 || v->patch < 0)
    return false;
  for (const char *p = s; p < s + n; p++)
    if (!isdigit((unsigned char)*p) && *p != '.') return false;
  if (s[n] == 0) return true;
  if (s[n] != '-' || !s[n + 1] || strlen(s + n + 1) >= sizeof v->pre) return false;
  for (const char *p = s + n + 1; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') return false;
  snprintf(v->pre, sizeof v->pre, "%s", s + n + 1);
  return true;
}

int sl_semver_cmp(const sl_semver *a, const sl_semver *b) {
  if (a->major != b->major) return a->major < b->major ? -1 : 1;
  if (a->minor != b->minor) return a->minor < b->minor ? -1 : 1;
  if (a->patch != b->patch) return a->patch < b->patch ? -1 : 1;
  if (!a->pre[0] || !b->pre[0]) return !a->pre[0] - !b->pre[0];
  return strcmp(a->pre, b->pre);
}

void sl_semver_format(const sl_semver *v, char *out, size_t n) {
  snprintf(out, n, "%d.%d.%d%s%s", v->major, v->minor, v->patch, v->pre[0] ? "-" : "", v->pre);
}

/* ---- problems ---- */

typedef struct vctx {
  const sl_yaml *y;
  const char *file;
  sl_meta_problems *out;
} vctx;

static void problem(vctx *c, const json_t *obj, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(vctx *c, const json_t *obj, const char *key, const char *fmt, ...) {
  char msg[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int line = obj ? (key ? sl_yaml_key_line(c->y, obj, key) : sl_yaml_line(c->y, obj)) : 0;
  char *full = NULL;
  if (asprintf(&full, "%s:%d: %s", c->file, line, msg) < 0) return;
  if (c->out->n == c->out->cap) {
    size_t cap = c->out->cap ? c->out->cap * 2 : 16;
    char **m = realloc(c->out->msg, cap * sizeof *m);
    if (!m) {
      free(full);
      return;
    }
    c->out->msg = m, c->out->cap = cap;
  }
  c->out->msg[c->out->n++] = full;
}

void sl_meta_problems_dispose(sl_meta_problems *p) {
  for (size_t i = 0; i < p->n; i++) free(p->msg[i]);
  free(p->msg);
  memset(p, 0, sizeof *p);
}

/* ---- field checks ---- */

static bool in_set(const char *s, const char *const *set) {
  for (; s && *set; set++)
    if (!strcmp(s, *set)) return true;
  return false;
}

static bool is_uuid(const char *s) {
  if (!s || strlen(s) != 36) return false;
  for (int i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return false;
  }
  return true;
}

static bool is_date(const char *s) {
  int y, m, d, n = 0;
  return s && strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && n == 10 && m >= 1 && m <= 12 &&
         d >= 1 && d <= 31;
}

static bool is_url(const char *s) { return s && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7)) && !strpbrk(s, " \t\n"); }

static const char *const types[] = {"source", "destination", NULL};
static const char *const subtypes[] = {"api", "database", "datalake", "file", "custom", "message_queue", "unknown", "vectorstore", NULL};
static const char *const stages[] = {"alpha", "beta", "generally_available", "custom", NULL};
static const char *const levels[] = {"community", "certified", "archived", NULL};
static const char *const deadline_actions[] = {"auto_upgrade", "disable", NULL};

/* data keys: required ones first */
static const char *const required[] = {"name", "definitionId", "connectorType", "dockerRepository", "dockerImageTag", "license",
                                       "documentationUrl", "githubIssueLabel", "connectorSubtype", "releaseStage", NULL};
static const char *const optional[] = {
    "icon", "supportLevel", "tags", "releaseDate", "protocolVersion", "maxSecondsBetweenMessages", "connectorBuildOptions",
    "connectorTestSuitesOptions", "registryOverrides", "registries", "allowedHosts", "releases", "suggestedStreams",
    "resourceRequirements", "normalizationConfig", "supportsDbt", "supportsNormalization", "supportsRefreshes",
    "supportsFileTransfer", "supportsDataActivation", "remoteRegistries", "externalDocumentationUrls", "erdUrl",
    "connectorIPCOptions", "ab_internal", "generated", "sourceType", "interleavedStreams", NULL};

static const char *str(vctx *c, const json_t *data, const char *key, bool req) {
  const json_t *v = json_object_get(data, key);
  if (!v) {
    if (req) problem(c, data, NULL, "data.%s is required", key);
    return NULL;
  }
  if (!json_is_string(v)) {
    char *d = sl_json_dumps(v);
    problem(c, data, key, "data.%s: expected a string, got %s%s", key, d ? d : "?",
            json_is_number(v) ? " (a number in YAML: quote it)" : "");
    free(d);
    return NULL;
  }
  return json_string_value(v);
}

static void check_enum(vctx *c, const json_t *data, const char *key, const char *const *set, bool req) {
  const char *s = str(c, data, key, req);
  if (s && !in_set(s, set)) {
    char allowed[300] = "";
    for (const char *const *p = set; *p; p++) strcat(strcat(allowed, *p), p[1] ? ", " : "");
    problem(c, data, key, "data.%s: \"%s\" is not one of %s", key, s, allowed);
  }
}

static void check_bool(vctx *c, const json_t *obj, const char *key, const char *where) {
  const json_t *v = json_object_get(obj, key);
  if (v && !json_is_boolean(v)) problem(c, obj, key, "%s.%s: expected true or false", where, key);
}

static void check_releases(vctx *c, const json_t *data, const sl_semver *cur) {
  const json_t *rel = json_object_get(data, "releases");
  const json_t *bc = json_object_get(rel, "breakingChanges");
  if (rel && !json_is_object(rel)) problem(c, data, "releases", "data.releases: expected a mapping");
  if (bc && !json_is_object(bc)) problem(c, rel, "breakingChanges", "data.releases.breakingChanges: expected a mapping of versions");
  const char *ver;
  json_t *e;
  json_object_foreach((json_t *)bc, ver, e) {
    sl_semver v;
    if (!sl_semver_parse(ver, &v)) problem(c, bc, ver, "data.releases.breakingChanges: \"%s\" is not a semantic version", ver);
    if (!json_is_object(e)) {
      problem(c, bc, ver, "data.releases.breakingChanges.%s: expected a mapping", ver);
      continue;
    }
    if (!json_is_string(json_object_get(e, "message"))) problem(c, bc, ver, "data.releases.breakingChanges.%s.message is required", ver);
    const char *dl = json_string_value(json_object_get(e, "upgradeDeadline"));
    if (!is_date(dl)) problem(c, bc, ver, "data.releases.breakingChanges.%s.upgradeDeadline: a date YYYY-MM-DD is required", ver);
    const char *da = json_string_value(json_object_get(e, "deadlineAction"));
    if (json_object_get(e, "deadlineAction") && !in_set(da, deadline_actions))
      problem(c, e, "deadlineAction", "data.releases.breakingChanges.%s.deadlineAction: auto_upgrade or disable", ver);
  }
  /* a major version N.0.0 must say what breaks */
  char cv[96];
  sl_semver_format(cur, cv, sizeof cv);
  if (cur->major >= 1 && cur->minor == 0 && cur->patch == 0 && !cur->pre[0] && !json_object_get(bc, cv))
    problem(c, data, "dockerImageTag", "data.dockerImageTag %s is a major version: data.releases.breakingChanges needs an entry for %s", cv, cv);
}

static void check_ab_internal(vctx *c, const json_t *data) {
  const json_t *ab = json_object_get(data, "ab_internal");
  if (!ab) return;
  const json_t *sl = json_object_get(ab, "sl"), *ql = json_object_get(ab, "ql");
  json_int_t s = json_integer_value(sl), q = json_integer_value(ql);
  if (sl && (!json_is_integer(sl) || (s != 0 && s != 100 && s != 200 && s != 300)))
    problem(c, ab, "sl", "data.ab_internal.sl: one of 0, 100, 200, 300");
  if (ql && (!json_is_integer(ql) || q < 0 || q > 600 || q % 100))
    problem(c, ab, "ql", "data.ab_internal.ql: a multiple of 100 from 0 to 600");
  check_bool(c, ab, "isEnterprise", "data.ab_internal");
  check_bool(c, ab, "requireVersionIncrementsInPullRequests", "data.ab_internal");
}

static void check_tags(vctx *c, const json_t *data) {
  const json_t *tags = json_object_get(data, "tags");
  if (!tags) {
    problem(c, data, NULL, "data.tags: at least one language:<lang> tag is required");
    return;
  }
  if (!json_is_array(tags)) {
    problem(c, data, "tags", "data.tags: expected a list of key:value strings");
    return;
  }
  bool lang = false;
  size_t i;
  json_t *t;
  json_array_foreach(tags, i, t) {
    const char *s = json_string_value(t);
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon || colon == s || !colon[1]) problem(c, data, "tags", "data.tags[%zu]: \"%s\" is not key:value", i, s ? s : "?");
    else if (!strncmp(s, "language:", 9)) lang = true;
  }
  if (!lang) problem(c, data, "tags", "data.tags: at least one language:<lang> tag is required");
}

static void check_overrides(vctx *c, const json_t *data) {
  const json_t *ro = json_object_get(data, "registryOverrides");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)ro, k, v) {
    if (strcmp(k, "oss") && strcmp(k, "cloud")) problem(c, ro, k, "data.registryOverrides: unknown registry \"%s\" (oss or cloud)", k);
    else if (!json_is_boolean(json_object_get(v, "enabled"))) problem(c, ro, k, "data.registryOverrides.%s.enabled (true or false) is required", k);
  }
}

/* ---- files beside metadata.yaml ---- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n = getdelim(&buf, &cap, 0, f);
  fclose(f);
  if (n < 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* The root <svg> element's size: width/height attributes, else viewBox. */
static bool svg_square(const char *svg, char *why, size_t n) {
  const char *tag = strstr(svg, "<svg");
  if (!tag) return snprintf(why, n, "no <svg> element"), false;
  const char *end = strchr(tag, '>');
  if (!end) return snprintf(why, n, "unterminated <svg> tag"), false;
  char head[2048];
  snprintf(head, sizeof head, "%.*s", (int)(end - tag) < 2000 ? (int)(end - tag) : 2000, tag);
  double w = 0, h = 0, vx, vy, vw = 0, vh = 0;
  const char *p;
  if ((p = strstr(head, " width=\""))) w = atof(p + 8);
  if ((p = strstr(head, " height=\""))) h = atof(p + 9);
  if ((p = strstr(head, "viewBox=\"")) && sscanf(p + 9, "%lf %lf %lf %lf", &vx, &vy, &vw, &vh) != 4) vw = vh = 0;
  if (w > 0 && h > 0) {
    if (w != h) return snprintf(why, n, "width %g and height %g differ", w, h), false;
    return true;
  }
  if (vw > 0 && vh > 0) {
    if (vw != vh) return snprintf(why, n, "viewBox %g x %g is not square", vw, vh), false;
    return true;
  }
  return snprintf(why, n, "no width/height or viewBox to tell its size"), false;
}

static bool changelog_has(const char *text, const char *ver) {
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    const char *q = p;
    while (*q == ' ' || *q == '|' || *q == '#') q++;
    size_t n = strlen(ver);
    if (!strncmp(q, ver, n) && (q[n] == ' ' || q[n] == '|' || q[n] == '\n' || q[n] == 0)) return true;
  }
  return false;
}

static void check_files(vctx *c, const char *dir, const json_t *data, const char *ver) {
  char path[4096], why[200];
  const char *icon = json_string_value(json_object_get(data, "icon"));
  snprintf(path, sizeof path, "%s/%s", dir, icon ? icon : "icon.svg");
  char *svg = slurp(path);
  if (!svg) problem(c, data, icon ? "icon" : NULL, "icon %s: %s", path, strerror(errno));
  else if (!svg_square(svg, why, sizeof why)) problem(c, data, "icon", "icon %s is not a square SVG: %s", path, why);
  free(svg);
  snprintf(path, sizeof path, "%s/README.md", dir);
  if (access(path, R_OK) != 0) problem(c, data, "documentationUrl", "the connector's documentation %s is missing", path);
  snprintf(path, sizeof path, "%s/CHANGELOG.md", dir);
  char *cl = slurp(path);
  if (!cl) problem(c, data, "dockerImageTag", "%s is missing (it needs an entry for %s)", path, ver ? ver : "the version");
  else if (ver && !changelog_has(cl, ver)) problem(c, data, "dockerImageTag", "%s has no entry for version %s", path, ver);
  free(cl);
  /* the Dockerfile's labels are the image's identity */
  snprintf(path, sizeof path, "%s/Dockerfile", dir);
  sl_dockerfile df;
  sl_err e = SL_ERR_INIT;
  if (sl_dockerfile_read(path, &df, &e)) {
    problem(c, data, "dockerRepository", "%s", e.msg);
    return;
  }
  const char *repo = json_string_value(json_object_get(data, "dockerRepository"));
  const char *ln = json_string_value(json_object_get(df.labels, "io.airbyte.name"));
  const char *lv = json_string_value(json_object_get(df.labels, "io.airbyte.version"));
  if (!ln || (repo && strcmp(ln, repo))) problem(c, data, "dockerRepository", "%s:%d: LABEL io.airbyte.name=%s, expected %s", path, df.label_line[0], ln ? ln : "(none)", repo ? repo : "?");
  if (!lv || (ver && strcmp(lv, ver))) problem(c, data, "dockerImageTag", "%s:%d: LABEL io.airbyte.version=%s, expected %s", path, df.label_line[1], lv ? lv : "(none)", ver ? ver : "?");
  const char *env = json_string_value(json_object_get(df.env, "AIRBYTE_ENTRYPOINT"));
  if (!df.entrypoint || !env || strcmp(env, df.entrypoint)) problem(c, data, NULL, "%s: ENTRYPOINT and ENV AIRBYTE_ENTRYPOINT must be set and equal", path);
  sl_dockerfile_dispose(&df);
}

sl_yaml *sl_meta_load(const char *dir, sl_err *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/metadata.yaml", dir);
  return sl_yaml_load_file(path, err);
}

sl_code sl_meta_validate(const char *dir, const sl_meta_opts *opts, sl_meta_problems *out, sl_err *err) {
  memset(out, 0, sizeof *out);
  sl_yaml *y = sl_meta_load(dir, err);
  if (!y) return err->code;
  vctx c = {y, sl_yaml_path(y), out};
  json_t *root = sl_yaml_root(y);
  if (!json_is_object(root)) {
    problem(&c, NULL, NULL, "expected a mapping with metadataSpecVersion and data");
    sl_yaml_free(y);
    return SL_EOK;
  }
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) if (strcmp(k, "metadataSpecVersion") && strcmp(k, "data"))
      problem(&c, root, k, "unknown top-level key \"%s\" (only metadataSpecVersion and data)", k);
  if (!json_is_string(json_object_get(root, "metadataSpecVersion"))) problem(&c, root, NULL, "metadataSpecVersion (a string) is required");
  json_t *data = json_object_get(root, "data");
  if (!json_is_object(data)) {
    problem(&c, root, json_object_get(root, "data") ? "data" : NULL, "data (a mapping) is required");
    sl_yaml_free(y);
    return SL_EOK;
  }
  json_object_foreach(data, k, v) if (!in_set(k, required) && !in_set(k, optional))
      problem(&c, data, k, "data: unknown key \"%s\"", k);
  for (size_t i = 0; required[i]; i++) str(&c, data, required[i], true);
  const char *id = json_string_value(json_object_get(data, "definitionId"));
  if (id && !is_uuid(id)) problem(&c, data, "definitionId", "data.definitionId: \"%s\" is not a UUID", id);
  check_enum(&c, data, "connectorType", types, false);
  check_enum(&c, data, "connectorSubtype", subtypes, false);
  check_enum(&c, data, "releaseStage", stages, false);
  check_enum(&c, data, "supportLevel", levels, false);
  const char *url = json_string_value(json_object_get(data, "documentationUrl"));
  if (url && !is_url(url)) problem(&c, data, "documentationUrl", "data.documentationUrl: \"%s\" is not an http(s) URL", url);
  const char *repo = json_string_value(json_object_get(data, "dockerRepository"));
  if (repo && (strchr(repo, ':') || strchr(repo, ' ') || !*repo))
    problem(&c, data, "dockerRepository", "data.dockerRepository: \"%s\" must be an image name without a tag", repo);
  const json_t *rd = json_object_get(data, "releaseDate");
  if (rd && !is_date(json_string_value(rd))) problem(&c, data, "releaseDate", "data.releaseDate: expected a date YYYY-MM-DD");
  const char *tag = json_string_value(json_object_get(data, "dockerImageTag"));
  sl_semver cur;
  bool semver = tag && sl_semver_parse(tag, &cur);
  if (tag && !semver) problem(&c, data, "dockerImageTag", "data.dockerImageTag: \"%s\" is not a semantic version (MAJOR.MINOR.PATCH)", tag);
  if (semver) check_releases(&c, data, &cur);
  check_tags(&c, data);
  check_ab_internal(&c, data);
  check_overrides(&c, data);
  const json_t *ms = json_object_get(data, "maxSecondsBetweenMessages");
  if (ms && (!json_is_integer(ms) || json_integer_value(ms) < 1)) problem(&c, data, "maxSecondsBetweenMessages", "data.maxSecondsBetweenMessages: a positive integer");
  const json_t *hosts = json_object_get(json_object_get(data, "allowedHosts"), "hosts");
  if (json_object_get(data, "allowedHosts") && !json_is_array(hosts)) problem(&c, data, "allowedHosts", "data.allowedHosts.hosts: expected a list");
  static const char *const bools[] = {"supportsDbt", "supportsNormalization", "supportsRefreshes", "supportsFileTransfer", "supportsDataActivation", NULL};
  for (size_t i = 0; bools[i]; i++) check_bool(&c, data, bools[i], "data");
  /* the version did not go down */
  sl_semver prev;
  if (semver && opts && opts->previous_version && sl_semver_parse(opts->previous_version, &prev) && sl_semver_cmp(&cur, &prev) < 0)
    problem(&c, data, "dockerImageTag", "data.dockerImageTag %s is lower than the published %s", tag, opts->previous_version);
  check_files(&c, dir, data, semver ? tag : NULL);
  sl_yaml_free(y);
  return SL_EOK;
}

/* ---- the registry ---- */

json_t *sl_meta_registry_entry(const json_t *data, const json_t *spec, const char *dir) {
  json_t *e = json_deep_copy(data);
  json_t *oss = json_object_get(json_object_get(data, "registryOverrides"), "oss");
  if (oss && json_is_false(json_object_get(oss, "enabled"))) {
    json_decref(e);
    return NULL;
  }
  const char *k;
  json_t *v;
  json_object_foreach(oss, k, v) if (strcmp(k, "enabled") && !json_is_null(v)) json_object_set(e, k, v);
  json_object_del(e, "registryOverrides");
  bool source = !strcmp(json_string_value(json_object_get(data, "connectorType")) ?: "", "source");
  json_object_del(e, "connectorType");
  json_t *sub = json_object_get(e, "connectorSubtype");
  if (sub) {
    if (source) json_object_set(e, "sourceType", sub);
    json_object_del(e, "connectorSubtype");
  }
  json_t *id = json_object_get(e, "definitionId");
  if (id) {
    json_object_set(e, source ? "sourceDefinitionId" : "destinationDefinitionId", id);
    json_object_del(e, "definitionId");
  }
  json_object_set_new(e, "tombstone", json_false());
  json_object_set_new(e, "custom", json_false());
  json_object_set_new(e, "public", json_true());
  if (!json_object_get(e, "supportLevel")) json_object_set_new(e, "supportLevel", json_string("community"));
  if (!json_object_get(e, "ab_internal")) json_object_set_new(e, "ab_internal", json_pack("{sisi}", "sl", 100, "ql", 100));
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(data, "tags"), i, t) {
    const char *s = json_string_value(t);
    if (s && !strncmp(s, "language:", 9)) json_object_set_new(e, "language", json_string(s + 9));
  }
  /* the icon: the SVG itself (as the older registries carry it) and its path */
  const char *icon = json_string_value(json_object_get(data, "icon"));
  if (icon && dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, icon);
    char *svg = slurp(path);
    if (svg) json_object_set_new(e, "icon", json_string(svg));
    json_object_set_new(e, "iconUrl", json_string(path));
    free(svg);
  }
  if (spec) json_object_set(e, "spec", (json_t *)spec);
  return e;
}
