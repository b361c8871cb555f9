/* source-singer: runs a Singer tap and speaks the Airbyte protocol for it.
 *
 * The config names the tap (singer_tap, singer_tap_args); every other key is
 * the tap's own config, written to a file passed with --config. discover
 * runs `tap --config F --discover` and turns the Singer catalog into Airbyte
 * streams (key-properties -> primary key, replication-key -> cursor). read
 * runs the tap once per configured stream, with a catalog selecting only
 * that stream and the Singer state {"bookmarks": {stream: <its state>}}, and
 * translates its output: SCHEMA is checked (a RECORD before its SCHEMA is an
 * error), RECORD becomes RECORD, STATE checkpoints the stream's bookmark,
 * ACTIVATE_VERSION becomes a LOG. The tap's stderr passes through. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sluice/sluice.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"Singer Tap Source Spec\","
    "\"type\":\"object\",\"required\":[\"singer_tap\"],\"additionalProperties\":true,\"properties\":{"
    "\"singer_tap\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Tap executable\",\"description\":"
    "\"The Singer tap to run: a path, or a command found on PATH (e.g. tap-github). Every other key of this "
    "config is passed to the tap as its own config.\",\"order\":0},"
    "\"singer_tap_args\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"title\":\"Extra arguments\","
    "\"description\":\"Arguments given to the tap before the Singer ones\",\"order\":1},"
    "\"singer_catalog_flag\":{\"type\":\"string\",\"enum\":[\"--catalog\",\"--properties\"],\"default\":\"--catalog\","
    "\"title\":\"Catalog flag\",\"description\":\"How the tap takes its catalog (older taps use --properties)\",\"order\":2}}}";

/* ---- running the tap ---- */

typedef struct tap {
  pid_t pid;
  FILE *out;
  char dir[64]; /* temporary files: config.json, catalog.json, state.json */
} tap;

static sl_code write_json(const char *dir, const char *name, const json_t *v, char *path, size_t n, sl_err *err) {
  snprintf(path, n, "%s/%s", dir, name);
  if (json_dump_file(v, path, JSON_COMPACT) != 0) return sl_err_set(err, SL_EIO, "cannot write %s", path);
  return SL_EOK;
}

/* The tap's own config: every key but ours. */
static json_t *tap_config(const json_t *config) {
  json_t *c = json_deep_copy(config);
  json_object_del(c, "singer_tap");
  json_object_del(c, "singer_tap_args");
  json_object_del(c, "singer_catalog_flag");
  return c;
}

static void rmdir_all(const char *dir) {
  const char *files[] = {"config.json", "catalog.json", "state.json", "stderr.txt"};
  char p[128];
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

static sl_code tap_start(tap *t, const json_t *config, bool discover, const json_t *catalog, const json_t *state, sl_err *err) {
  memset(t, 0, sizeof *t);
  const char *exe = json_string_value(json_object_get(config, "singer_tap"));
  if (!exe || !*exe) return sl_err_set(err, SL_ECONFIG, "singer_tap: which tap to run?");
  snprintf(t->dir, sizeof t->dir, "%s/sluice-singer-XXXXXX", getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 30 ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(t->dir)) return sl_err_set(err, SL_EIO, "mkdtemp: %s", strerror(errno));
  char cfg[128], cat[128], st[128];
  json_t *tc = tap_config(config);
  sl_code rc = write_json(t->dir, "config.json", tc, cfg, sizeof cfg, err);
  json_decref(tc);
  if (!rc && catalog) rc = write_json(t->dir, "catalog.json", catalog, cat, sizeof cat, err);
  if (!rc && state) rc = write_json(t->dir, "state.json", state, st, sizeof st, err);
  if (rc) {
    rmdir_all(t->dir);
    return rc;
  }
  const json_t *extra = json_object_get(config, "singer_tap_args");
  const char *flag = json_string_value(json_object_get(config, "singer_catalog_flag")) ?: "--catalog";
  size_t n = 0, max = json_array_size(extra) + 10;
  const char **argv = calloc(max, sizeof *argv);
  if (!argv) return SL_ENOMEM;
  argv[n++] = exe;
  size_t i;
  json_t *a;
  json_array_foreach(extra, i, a) if (json_is_string(a)) argv[n++] = json_string_value(a);
  argv[n++] = "--config", argv[n++] = cfg;
  if (discover) argv[n++] = "--discover";
  if (catalog) argv[n++] = flag, argv[n++] = cat;
  if (state) argv[n++] = "--state", argv[n++] = st;
  argv[n] = NULL;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    free(argv);
    rmdir_all(t->dir);
    return sl_err_set(err, SL_EIO, "pipe: %s", strerror(errno));
  }
  fflush(stdout);
  t->pid = fork();
  if (t->pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    dup2(p[1], 1);
    /* the tap's logs: kept in a file, passed on to our stderr when it ends */
    char errpath[128];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", t->dir);
    int ef = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (ef >= 0) dup2(ef, 2);
    execvp(exe, (char *const *)argv);
    fprintf(stderr, "source-singer: cannot run the tap %s: %s\n", exe, strerror(errno));
    _exit(127);
  }
  free(argv);
  close(p[1]);
  if (t->pid < 0) {
    close(p[0]);
    rmdir_all(t->dir);
    return sl_err_set(err, SL_EIO, "fork: %s", strerror(errno));
  }
  t->out = fdopen(p[0], "r");
  return SL_EOK;
}

/* Wait for the tap; a non-zero exit is an error naming the tap and quoting
 * the last line it wrote to stderr. */
static sl_code tap_finish(tap *t, const char *exe, bool killed, sl_err *err) {
  if (t->out) fclose(t->out);
  int st = 0;
  while (t->pid > 0 && waitpid(t->pid, &st, 0) < 0 && errno == EINTR) {
  }
  char path[128], last[400] = "";
  snprintf(path, sizeof path, "%s/stderr.txt", t->dir);
  FILE *f = fopen(path, "r");
  char line[400];
  while (f && fgets(line, sizeof line, f)) {
    fputs(line, stderr); /* the platform keeps the connector's stderr as its log */
    line[strcspn(line, "\r\n")] = 0;
    if (line[0]) snprintf(last, sizeof last, "%s", line);
  }
  if (f) fclose(f);
  rmdir_all(t->dir);
  if (killed) return SL_EOK;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
    return sl_err_set(err, SL_ECONFIG, "singer_tap %s could not be run (not found or not executable)", exe);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return sl_err_set(err, SL_ESOURCE, "the tap %s failed (%s %d)%s%s", exe, WIFEXITED(st) ? "exit code" : "signal",
                      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), last[0] ? ": " : "", last);
  return SL_EOK;
}

/* ---- discover ---- */

static json_t *g_catalog; /* the tap's Singer catalog, discovered once per process */

static sl_code singer_catalog(const json_t *config, sl_err *err) {
  if (g_catalog) return SL_EOK;
  const char *exe = json_string_value(json_object_get(config, "singer_tap"));
  tap t;
  sl_code rc = tap_start(&t, config, true, NULL, NULL, err);
  if (rc) return rc;
  char *text = NULL;
  size_t cap = 0;
  ssize_t len = t.out ? getdelim(&text, &cap, 0, t.out) : -1;
  rc = tap_finish(&t, exe, false, err);
  if (!rc) {
    json_error_t je;
    json_t *c = len > 0 ? json_loadb(text, (size_t)len, 0, &je) : NULL;
    if (!json_is_array(json_object_get(c, "streams"))) {
      rc = sl_err_set(err, SL_ESOURCE, "the tap %s --discover did not print a Singer catalog ({\"streams\": [...]})%s%s", exe,
                      c ? "" : ": ", c ? "" : (len > 0 ? je.text : "no output"));
      json_decref(c);
    } else {
      g_catalog = c;
    }
  }
  free(text);
  return rc;
}

/* The metadata entry with breadcrumb [] of a Singer stream. */
static json_t *top_metadata(json_t *s, bool create) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(s, "metadata"), i, m) {
    if (json_array_size(json_object_get(m, "breadcrumb")) == 0) return json_object_get(m, "metadata");
  }
  if (!create) return NULL;
  if (!json_is_array(json_object_get(s, "metadata"))) json_object_set_new(s, "metadata", json_array());
  json_t *md = json_object();
  json_array_append_new(json_object_get(s, "metadata"), json_pack("{s[]so}", "breadcrumb", "metadata", md));
  return md;
}

static const char *stream_name(const json_t *s) {
  return json_string_value(json_object_get(s, "stream")) ?: json_string_value(json_object_get(s, "tap_stream_id"));
}

static const char *stream_id(const json_t *s) {
  return json_string_value(json_object_get(s, "tap_stream_id")) ?: json_string_value(json_object_get(s, "stream"));
}

static json_t *find_singer_stream(const char *name) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(g_catalog, "streams"), i, s) if (!strcmp(stream_name(s) ?: "", name)) return s;
  return NULL;
}

static sl_code discover(const json_t *config, json_t *streams, sl_err *err) {
  sl_code rc = singer_catalog(config, err);
  if (rc) return rc;
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(g_catalog, "streams"), i, s) {
    const char *name = stream_name(s);
    if (!name) return sl_err_set(err, SL_ESOURCE, "Singer catalog stream %zu has no stream or tap_stream_id", i);
    json_t *md = top_metadata(s, false);
    json_t *keys = json_object_get(md, "table-key-properties") ?: json_object_get(s, "key_properties");
    const char *rk = json_string_value(json_object_get(s, "replication_key"));
    json_t *vrk = json_object_get(md, "valid-replication-keys");
    if (!rk) rk = json_string_value(json_object_get(md, "replication-key")) ?: json_string_value(json_array_get(vrk, 0));
    const char *forced = json_string_value(json_object_get(md, "forced-replication-method"));
    bool incremental = rk && !(forced && !strcmp(forced, "FULL_TABLE"));
    json_t *schema = json_object_get(s, "schema");
    json_t *a = json_pack("{ss sO s[s]}", "name", name, "json_schema", schema ? schema : json_object(), "supported_sync_modes", "full_refresh");
    if (incremental) {
      json_array_append_new(json_object_get(a, "supported_sync_modes"), json_string("incremental"));
      json_object_set_new(a, "source_defined_cursor", json_true());
      json_object_set_new(a, "default_cursor_field", json_pack("[s]", rk));
    }
    if (json_array_size(keys)) {
      json_t *pk = json_array();
      size_t k;
      json_t *key;
      json_array_foreach(keys, k, key) if (json_is_string(key)) json_array_append_new(pk, json_pack("[O]", key));
      json_object_set_new(a, "source_defined_primary_key", pk);
    }
    json_array_append_new(streams, a);
  }
  return SL_EOK;
}

static sl_code check(const json_t *config, sl_err *err) {
  sl_code rc = singer_catalog(config, err);
  if (rc) return sl_err_set(err, SL_ECONFIG, "%s", err->msg); /* reported as FAILED */
  return SL_EOK;
}

/* ---- read ---- */

/* The Singer catalog with only this stream selected, in the chosen mode. */
static json_t *selected_catalog(const sl_cstream *cs) {
  json_t *cat = json_deep_copy(g_catalog);
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(cat, "streams"), i, s) {
    bool me = !strcmp(stream_name(s) ?: "", cs->name);
    json_t *md = top_metadata(s, true);
    json_object_set_new(md, "selected", json_boolean(me));
    json_object_set_new(s, "selected", json_boolean(me)); /* older taps read it here */
    if (!me) continue;
    bool inc = cs->sync_mode == SL_SYNC_INCREMENTAL;
    json_object_set_new(md, "replication-method", json_string(inc ? "INCREMENTAL" : "FULL_TABLE"));
    if (inc && cs->cursor.n) {
      json_object_set_new(md, "replication-key", json_string(cs->cursor.parts[cs->cursor.n - 1]));
      json_object_set_new(s, "replication_key", json_string(cs->cursor.parts[cs->cursor.n - 1]));
    }
  }
  return cat;
}

/* A stream's Airbyte state holds its Singer bookmark; a tap whose state has
 * no "bookmarks" is kept whole under "singer_state". */
static json_t *singer_state(const json_t *stream_state, const char *id) {
  if (!json_is_object(stream_state)) return NULL;
  json_t *whole = json_object_get(stream_state, "singer_state");
  if (whole) return json_incref(whole);
  return json_pack("{s{sO}}", "bookmarks", id, stream_state);
}

static sl_code write_record(sl_read *rd, const json_t *rec) {
  sl_jw *w = sl_read_record_begin(rd);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)rec, k, v) {
    sl_jw_key(w, k, strlen(k));
    sl_jw_json(w, v);
  }
  return sl_read_record_end(rd);
}

static sl_code read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  const json_t *config = sl_read_config(rd);
  const char *exe = json_string_value(json_object_get(config, "singer_tap"));
  sl_code rc = singer_catalog(config, err);
  if (rc) return rc;
  json_t *ss = find_singer_stream(cs->name);
  const char *id = ss ? stream_id(ss) : cs->name;
  json_t *cat = selected_catalog(cs);
  json_t *state = cs->sync_mode == SL_SYNC_INCREMENTAL ? singer_state(sl_read_state(rd), id) : NULL;
  tap t;
  rc = tap_start(&t, config, false, cat, state, err);
  json_decref(cat);
  json_decref(state);
  if (rc) return rc;
  json_t *seen = json_object(); /* streams whose SCHEMA came */
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t len;
  bool killed = false;
  while (!rc && (len = getline(&line, &cap, t.out)) > 0) {
    lineno++;
    if (strspn(line, " \t\r\n") == (size_t)len) continue;
    json_error_t je;
    json_t *m = json_loadb(line, (size_t)len, 0, &je);
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *stream = json_string_value(json_object_get(m, "stream"));
    if (!type) {
      rc = sl_err_set(err, SL_ESOURCE, "the tap %s printed a line that is not a Singer message (output line %zu): %.80s", exe, lineno, line);
    } else if (!strcmp(type, "SCHEMA")) {
      if (stream) json_object_set_new(seen, stream, json_true());
    } else if (!strcmp(type, "RECORD")) {
      if (!stream || !json_object_get(seen, stream))
        rc = sl_err_set(err, SL_ESOURCE, "the tap %s sent a RECORD for stream %s before its SCHEMA (output line %zu)", exe,
                        stream ? stream : "(none)", lineno);
      else if (!strcmp(stream, id) || !strcmp(stream, cs->name)) {
        json_t *rec = json_object_get(m, "record");
        if (!json_is_object(rec))
          rc = sl_err_set(err, SL_ESOURCE, "the tap %s sent a RECORD without a record object (output line %zu)", exe, lineno);
        else if ((rc = write_record(rd, rec)))
          sl_err_set(err, rc, "writing a record of %s: %s", cs->name, sl_strerror(rc));
      }
    } else if (!strcmp(type, "STATE")) {
      json_t *value = json_object_get(m, "value");
      json_t *bm = json_object_get(json_object_get(value, "bookmarks"), id);
      if (json_is_object(json_object_get(value, "bookmarks"))) {
        if (json_is_object(bm) && cs->sync_mode == SL_SYNC_INCREMENTAL) rc = sl_read_checkpoint(rd, bm);
      } else if (json_is_object(value) && cs->sync_mode == SL_SYNC_INCREMENTAL) {
        json_t *whole = json_pack("{sO}", "singer_state", value);
        rc = sl_read_checkpoint(rd, whole);
        json_decref(whole);
      }
      if (rc) sl_err_set(err, rc, "checkpointing %s: %s", cs->name, sl_strerror(rc));
    } else if (!strcmp(type, "ACTIVATE_VERSION")) {
      sl_read_log(rd, "INFO", "stream %s: the tap activated table version %lld (a full table was replaced)", stream ? stream : "?",
                  (long long)json_integer_value(json_object_get(m, "version")));
    } else {
      sl_read_log(rd, "WARN", "the tap sent a %s message, which source-singer does not translate (output line %zu)", type, lineno);
    }
    json_decref(m);
  }
  free(line);
  if (rc) {
    kill(t.pid, SIGTERM);
    killed = true;
  }
  json_decref(seen);
  sl_err ferr = SL_ERR_INIT;
  sl_code frc = tap_finish(&t, exe, killed, &ferr);
  if (!rc && frc) {
    *err = ferr;
    rc = frc;
  }
  return rc;
}

static const sl_source source = {
    .name = "source-singer",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/source-singer",
    .check = check,
    .discover = discover,
    .read = read_stream,
};

int main(int argc, char **argv) { return sl_source_main(&source, argc, argv); }
