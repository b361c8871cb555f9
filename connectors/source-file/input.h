/* source-file: the byte stream of one file, whatever its origin.
 *
 * A local path, file:// or http(s):// (libcurl, streamed: never held whole),
 * transparently decompressed (gzip, zstd, bzip2: chosen by the magic bytes),
 * with a UTF-8 BOM dropped and Latin-1 turned into UTF-8. Reads give the
 * bytes in order; errors name the file. */
#ifndef SOURCE_FILE_INPUT_H
#define SOURCE_FILE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/err.h"

typedef enum fin_enc { FIN_UTF8 = 0, FIN_LATIN1 } fin_enc;

typedef struct fin fin;

/* Open `url` (a path, file://... or http(s)://...). compression is "auto"
 * (magic bytes), "none", "gzip", "zstd" or "bzip2". */
sl_code fin_open(fin **out, const char *url, const char *compression, fin_enc enc, sl_err *err);
/* Up to cap bytes into buf; *got == 0 only at the end. cap >= 8. */
sl_code fin_read(fin *f, char *buf, size_t cap, size_t *got, sl_err *err);
void fin_close(fin *f);
/* What was opened, for messages. */
const char *fin_name(const fin *f);
/* "gzip", "zstd", "bzip2" or "none": what auto found. */
const char *fin_compression(const fin *f);

/* True for http:// and https:// URLs. */
bool fin_is_http(const char *url);
/* The local path of a path or file:// URL (a pointer into url). */
const char *fin_local_path(const char *url);

#endif
