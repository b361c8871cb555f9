/* The builder's HTTP server (libmicrohttpd, one thread per connection so a
 * long test read does not hold up the page). Loopback only: it binds
 * 127.0.0.1, refuses other client addresses, Host headers other than
 * 127.0.0.1/localhost:PORT (DNS rebinding), Origins other than its own, and
 * POSTs that are not application/json (forms from other sites). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "builder.h"
#include "sluice/buf.h"

#define MAX_REQUEST (BLD_MAX_MANIFEST * 2 + 65536)

typedef struct conn {
  sl_buf body;
  bool too_big, refused;
} conn;

static bld_server g_srv;      /* the project (one-project mode) */
static bld_workspace g_ws;     /* workspace mode: g_ws.dir[0] set */
static bool g_workspace;

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                                  size_t len, bool copy) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(12));
  json_decref(v);
  if (!s) return send_bytes(c, 500, "application/json", "{\"error\":{\"message\":\"out of memory\"}}", 37, false);
  enum MHD_Result ok = send_bytes(c, status, "application/json", s, strlen(s), true);
  free(s);
  return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *type, const char *msg) {
  return send_json(c, status, json_pack("{s:{s:s,s:s}}", "error", "message", msg, "failure_type", type));
}

/* "127.0.0.1:PORT", "localhost:PORT" or "[::1]:PORT" (with a prefix). */
static bool own_authority(const char *s, const char *prefix) {
  if (!s) return false;
  size_t pl = strlen(prefix);
  if (strncasecmp(s, prefix, pl)) return false;
  s += pl;
  char want[64];
  static const char *const hosts[] = {"127.0.0.1", "localhost", "[::1]"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(want, sizeof want, "%s:%u", hosts[i], g_srv.port);
    if (!strcasecmp(s, want)) return true;
  }
  return false;
}

/* Why the request is refused, or NULL. */
static const char *refusal(struct MHD_Connection *c, const char *method) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = ci ? ci->client_addr : NULL;
  bool loop = sa && ((sa->sa_family == AF_INET &&
                      (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127) ||
                     (sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr)));
  if (!loop) return "the builder answers loopback clients only";
  if (!own_authority(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host"), ""))
    return "the Host header is not this builder's loopback address";
  const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
  if (origin && !own_authority(origin, "http://")) return "requests from another origin are refused";
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16)) return "API requests must be application/json";
  }
  return NULL;
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *url) {
  if (!strcmp(url, "/")) url = "/index.html";
  for (size_t i = 0; i < bld_n_assets; i++)
    if (!strcmp(bld_assets[i].path, url))
      return send_bytes(c, 200, bld_assets[i].type, bld_assets[i].data, bld_assets[i].len, false);
  return send_error(c, 404, "config_error", "no such page");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  conn *cn = *con_cls;
  if (!cn) {
    if (!(cn = calloc(1, sizeof *cn))) return MHD_NO;
    sl_buf_init(&cn->body, MAX_REQUEST);
    *con_cls = cn;
    const char *why = refusal(c, method);
    if (why) {
      cn->refused = true;
      return send_error(c, 403, "config_error", why);
    }
    return MHD_YES;
  }
  if (*upload_size) {
    if (!cn->refused && !cn->too_big && sl_buf_append(&cn->body, upload, *upload_size)) cn->too_big = true;
    *upload_size = 0;
    return MHD_YES;
  }
  if (cn->refused) return MHD_YES;
  if (cn->too_big) {
    char msg[160];
    snprintf(msg, sizeof msg, "the request is larger than %zu bytes (a manifest may have %zu)", (size_t)MAX_REQUEST,
             BLD_MAX_MANIFEST);
    return send_error(c, 413, "config_error", msg);
  }
  if (strncmp(url, "/api/", 5)) {
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return send_error(c, 405, "config_error", "GET only");
    if (!strcmp(url, "/oauth/callback") && !strcmp(method, "GET")) { /* the provider's redirect back (oauth.c) */
      unsigned status = 200;
      const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
      bld_server *owner = g_workspace ? bld_ws_oauth_owner(&g_ws, st) : &g_srv;
      const char *html = bld_oauth_callback(owner ? owner : &g_srv, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code"), st,
                                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "error"), &status);
      return send_bytes(c, status, "text/html; charset=utf-8", html, strlen(html), false);
    }
    return serve_asset(c, url);
  }
  json_t *body = json_object();
  if (cn->body.len) {
    json_decref(body);
    json_error_t je;
    body = json_loadb(cn->body.data, cn->body.len, 0, &je);
    if (!json_is_object(body)) {
      json_decref(body);
      char msg[300];
      snprintf(msg, sizeof msg, "the request body is not a JSON object: %s (line %d)", je.text, je.line);
      return send_error(c, 400, "config_error", msg);
    }
  }
  unsigned status = 200;
  json_t *res = NULL;
  bld_server *srv = &g_srv;
  const char *project = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "project");
  if (!strncmp(url, "/api/workspace", 14) && (!url[14] || url[14] == '/')) {
    res = g_workspace ? bld_ws_api(&g_ws, method, url + 14, body, &status)
                      : bld_bad(&status, 404, "not a workspace: start `sluice builder --workspace DIR` for several projects");
  } else if (g_workspace && !(srv = bld_ws_project(&g_ws, project, &status, &res))) {
    /* res says why */
  } else {
    res = bld_api(srv, method, url + 4, body, &status);
    if (!strcmp(url, "/api/project") && json_is_object(res)) {
      json_object_set_new(res, "workspace", json_boolean(g_workspace));
      if (g_workspace) json_object_set_new(res, "name", json_string(project));
    }
  }
  json_decref(body);
  return send_json(c, status, res);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
  conn *cn = *con_cls;
  if (!cn) return;
  sl_buf_dispose(&cn->body);
  free(cn);
  *con_cls = NULL;
}

#define SERVE_USAGE "usage: sluice builder [--port N] [--port-file F] [--repo DIR] [--workspace] [project-dir|workspace-dir]"

int bld_serve_main(int argc, char **argv) {
  const char *dir = ".", *port_file = NULL, *repo = NULL;
  long port = 8765;
  for (int i = 1; i < argc; i++) {
    char *end;
    if (!strcmp(argv[i], "--port") && i + 1 < argc) {
      port = strtol(argv[++i], &end, 10);
      if (*end || port < 0 || port > 65535) {
        fprintf(stderr, "sluice: error: builder: --port wants 0..65535 (0: any free port), got %s\n%s\n", argv[i],
                SERVE_USAGE);
        return SL_EUSAGE;
      }
    } else if (!strcmp(argv[i], "--repo") && i + 1 < argc) {
      repo = argv[++i];
    } else if (!strcmp(argv[i], "--workspace")) {
      g_workspace = true;
    } else if (!strcmp(argv[i], "--port-file") && i + 1 < argc) {
      port_file = argv[++i];
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "sluice: error: builder: unknown option %s\n%s\n", argv[i], SERVE_USAGE);
      return SL_EUSAGE;
    } else {
      dir = argv[i];
    }
  }
  /* Publishing writes <repo>/connectors/source-<name>/ (default: here). */
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/connectors", repo ? repo : ".");
  char *root = access(probe, F_OK) == 0 ? realpath(repo ? repo : ".", NULL) : NULL;
  if (repo && !root) {
    fprintf(stderr, "sluice: error: builder: %s has no connectors/ directory\n", repo);
    return SL_EUSAGE;
  }
  sl_err err = SL_ERR_INIT;
  g_workspace = g_workspace || bld_ws_is(dir);
  if (g_workspace ? bld_ws_open(&g_ws, dir, root ? root : "", &err) : bld_project_open(&g_srv, dir, &err)) {
    fprintf(stderr, "sluice: error: %s\n", err.msg);
    free(root);
    return err.code;
  }
  snprintf(g_srv.root, sizeof g_srv.root, "%s", root ? root : "");
  free(root);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* The signals that end the server are waited for, not delivered. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
      NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done,
      NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "sluice: error: builder: cannot listen on 127.0.0.1:%ld: %s\n", port,
            errno ? strerror(errno) : "libmicrohttpd failed");
    if (g_workspace) bld_ws_close(&g_ws);
    else bld_project_close(&g_srv);
    return SL_EIO;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  g_srv.port = g_ws.port = di ? di->port : (unsigned)port;
  printf("sluice builder: http://127.0.0.1:%u/  (%s %s; Ctrl-C stops it)\n", g_srv.port,
         g_workspace ? "workspace" : "project", g_workspace ? g_ws.dir : g_srv.dir);
  fflush(stdout);
  if (port_file) { /* written whole, then renamed: a reader never sees half */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%u\n", g_srv.port);
      if (fclose(f) == 0) rename(tmp, port_file);
    }
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  MHD_stop_daemon(d);
  if (g_workspace) bld_ws_close(&g_ws);
  else bld_project_close(&g_srv);
  return 0;
}
