/* source-file: a streamed http(s) download (libcurl multi, pulled). */
#ifndef SOURCE_FILE_HTTP_H
#define SOURCE_FILE_HTTP_H

#include <stddef.h>

#include "sluice/err.h"

typedef struct fhttp fhttp;

/* Starts nothing yet: the request goes out on the first read. Redirects are
 * followed (at most 10); an HTTP error status fails the first read. */
sl_code fhttp_open(fhttp **out, const char *url, sl_err *err);
/* Up to cap bytes; *got == 0 at the end (or with an error naming the URL). */
sl_code fhttp_read(fhttp *h, char *buf, size_t cap, size_t *got, sl_err *err);
void fhttp_close(fhttp *h);

#endif
