/* source-file: streaming an http(s) URL with libcurl's multi interface.
 *
 * The reader pulls: each fhttp_read drives the transfer until some bytes
 * are buffered. The write callback pauses the transfer when the buffer
 * holds more than HTTP_HIGH bytes, so memory stays flat whatever the file
 * size and however fast the server is. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "sluice/buf.h"

#define HTTP_HIGH (1u << 20)

struct fhttp {
  CURLM *multi;
  CURL *easy;
  char *url;
  sl_buf pend;
  size_t off; /* consumed bytes of pend */
  bool paused, done;
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  fhttp *h = ud;
  size_t len = size * n;
  if (h->pend.len - h->off > HTTP_HIGH) {
    h->paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  if (h->off == h->pend.len) h->off = h->pend.len = 0;
  else if (h->off > HTTP_HIGH) {
    sl_buf_consume(&h->pend, h->off);
    h->off = 0;
  }
  return sl_buf_append(&h->pend, p, len) ? 0 : len;
}

static int once;

sl_code fhttp_open(fhttp **out, const char *url, sl_err *err) {
  if (!once++) curl_global_init(CURL_GLOBAL_DEFAULT);
  fhttp *h = calloc(1, sizeof *h);
  if (!h || !(h->url = strdup(url))) {
    free(h);
    return sl_err_set(err, SL_ENOMEM, "out of memory");
  }
  sl_buf_init(&h->pend, 4 * HTTP_HIGH);
  h->multi = curl_multi_init();
  h->easy = curl_easy_init();
  if (!h->multi || !h->easy) {
    fhttp_close(h);
    return sl_err_set(err, SL_ENOMEM, "%s: cannot start libcurl", url);
  }
  CURL *e = h->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
  /* A stalled server: under 1 byte/s for 5 minutes ends the transfer. */
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 300L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-source-file/0.1");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_multi_add_handle(h->multi, e);
  *out = h;
  return SL_EOK;
}

static sl_code finish_error(fhttp *h, sl_err *err) {
  if (h->result == CURLE_OK) return SL_EOK;
  long status = 0;
  curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
  const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(h->result);
  if (h->result == CURLE_HTTP_RETURNED_ERROR)
    return sl_err_set(err, status >= 500 ? SL_ETRANSIENT : SL_ECONFIG, "%s: HTTP status %ld (%s)",
                      h->url, status, why);
  if (h->result == CURLE_TOO_MANY_REDIRECTS)
    return sl_err_set(err, SL_ECONFIG, "%s: too many redirects (a redirect loop?): %s", h->url, why);
  if (h->result == CURLE_PARTIAL_FILE)
    return sl_err_set(err, SL_ETRANSIENT, "%s: the server closed the connection before the end of the file: %s",
                      h->url, why);
  return sl_err_set(err, SL_ETRANSIENT, "%s: %s", h->url, why);
}

sl_code fhttp_read(fhttp *h, char *buf, size_t cap, size_t *got, sl_err *err) {
  *got = 0;
  while (h->off == h->pend.len && !h->done) {
    if (h->paused) {
      h->paused = false;
      curl_easy_pause(h->easy, CURLPAUSE_CONT);
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(h->multi, &running);
    if (mc != CURLM_OK) return sl_err_set(err, SL_EIO, "%s: %s", h->url, curl_multi_strerror(mc));
    if (!running) {
      int left;
      CURLMsg *m;
      while ((m = curl_multi_info_read(h->multi, &left)))
        if (m->msg == CURLMSG_DONE) h->result = m->data.result;
      h->done = true;
      break;
    }
    if (h->off == h->pend.len && !h->paused) curl_multi_poll(h->multi, NULL, 0, 1000, NULL);
  }
  size_t avail = h->pend.len - h->off;
  if (!avail) return finish_error(h, err);
  size_t n = avail < cap ? avail : cap;
  memcpy(buf, h->pend.data + h->off, n);
  h->off += n;
  *got = n;
  return SL_EOK;
}

void fhttp_close(fhttp *h) {
  if (!h) return;
  if (h->multi && h->easy) curl_multi_remove_handle(h->multi, h->easy);
  if (h->easy) curl_easy_cleanup(h->easy);
  if (h->multi) curl_multi_cleanup(h->multi);
  sl_buf_dispose(&h->pend);
  free(h->url);
  free(h);
}
