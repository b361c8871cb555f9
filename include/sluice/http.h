/* sluice: a small HTTP client on libcurl, for connectors that call APIs.
 *
 * One sl_http per stream (or per worker): it owns a libcurl easy handle, so
 * the connection is kept alive and reused between requests. It does
 * transport only: one request in, one response out (redirects followed up to
 * a maximum). Retry policy belongs to the caller (a connector, or the
 * declarative engine's error handlers); sl_http_retry_after() helps.
 *
 * Environment, as curl and Python requests use it: http_proxy, https_proxy,
 * no_proxy (libcurl reads them itself); a CA bundle from SSL_CERT_FILE,
 * REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (first one set). Responses are
 * decompressed (gzip, deflate, br, zstd: whatever libcurl supports).
 *
 * Debug log: with a debug callback set, every request and response is
 * described in text (method, URL, headers, body up to a limit) with secrets
 * masked: values of Authorization-like headers always, and every string
 * registered with sl_http_add_secret() (raw and percent-encoded) anywhere. */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice/buf.h"
#include "sluice/err.h"

typedef struct sl_http sl_http;

typedef struct sl_http_opts {
  long connect_timeout_ms;  /* 0: 30 s */
  long timeout_ms;          /* whole request; 0: 600 s */
  long max_redirects;       /* 0: 10; -1: do not follow redirects */
  size_t max_body;          /* largest response body; 0: 256 MiB */
  const char *user_agent;   /* NULL: "sluice" */
} sl_http_opts;

typedef struct sl_http_req {
  const char *method;              /* "GET" (NULL), "POST", "PUT", "PATCH", "DELETE", ... */
  const char *url;
  const char *const *headers;      /* NULL-terminated "Name: value" lines, or NULL */
  const char *body;                /* sent when non-NULL (also on GET, as requests does) */
  size_t body_len;
  bool secret_response;            /* the response carries credentials: its body is kept out of the debug log */
} sl_http_req;

typedef struct sl_http_resp {
  long status;          /* 0 when no response arrived (transport error) */
  sl_buf body;          /* decoded body, NUL-terminated, padded for the JSON parser */
  sl_buf headers;       /* "name\0value\0" pairs of the final response; names lower-cased */
  size_t n_headers;
  char url[2048];       /* the effective URL (after redirects) */
  double seconds;       /* total time */
  /* Transport errors (status 0): the curl message, and whether a retry may
   * help (timeouts, refused or reset connections, truncated bodies). */
  char error[512];
  bool transient;
} sl_http_resp;

/* A new client; NULL (with err) if libcurl cannot be initialised. */
sl_http *sl_http_new(const sl_http_opts *opts, sl_err *err);
void sl_http_free(sl_http *h);

void sl_http_resp_init(sl_http_resp *r);
void sl_http_resp_dispose(sl_http_resp *r);

/* Sends req and fills resp (which is reset first). A response of any status
 * is SL_EOK. Transport errors: SL_ETRANSIENT (resp->transient), SL_ELIMIT
 * (body over max_body), SL_ESOURCE (redirect loop, TLS or protocol error),
 * SL_ECONFIG (malformed URL, unsupported scheme). The message names the
 * request (method and URL, secrets masked). */
sl_code sl_http_send(sl_http *h, const sl_http_req *req, sl_http_resp *resp, sl_err *err);

/* Starts sending req on a thread (copied), on this client's connection, so
 * the transfer overlaps the caller's work on the previous response. The next
 * sl_http_send waits for it: when its request is the same (method, URL,
 * headers, body) it gets the prefetched response, else the prefetch is
 * dropped and the request sent. The client must not be used otherwise in
 * between. Not done with a debug callback or for a secret response. */
void sl_http_prefetch(sl_http *h, const sl_http_req *req);

/* The value of a response header (case-insensitive name), or NULL. Repeated
 * headers are joined with ", " as Python requests does. */
const char *sl_http_header(const sl_http_resp *r, const char *name);
/* Iterate headers: returns false past the end. */
bool sl_http_header_at(const sl_http_resp *r, size_t i, const char **name, const char **value);

/* Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or
 * -1 when absent or unparseable. */
double sl_http_retry_after(const sl_http_resp *r);

/* Debug log: fn gets one text block per request and per response. */
typedef void (*sl_http_debug_fn)(void *ud, const char *text);
void sl_http_set_debug(sl_http *h, sl_http_debug_fn fn, void *ud);
/* Strings masked in debug output and error messages (copied). */
void sl_http_add_secret(sl_http *h, const char *secret);
/* Copy of text with secrets masked (malloc'd; free()). */
char *sl_http_mask(const sl_http *h, const char *text);

/* Percent-encoding as Python's urllib.parse.quote_plus (space as '+') or,
 * with plus=false, quote(safe=""): unreserved characters A-Z a-z 0-9 _.-~
 * stay, everything else becomes %XX. */
sl_code sl_url_encode(sl_buf *out, const char *s, size_t len, bool plus);
/* RFC 3986 reference resolution of ref against base (Python's urljoin for
 * http(s) URLs). Result malloc'd; NULL (with err) when either is invalid. */
char *sl_url_join(const char *base, const char *ref, sl_err *err);

#endif
