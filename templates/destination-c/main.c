/* @NAME@: TODO: where this destination writes.
 *
 * A sluice destination is a const table of callbacks
 * (include/sluice/connector.h); sl_destination_main() reads the messages,
 * calls write() per record and flush() before it echoes each STATE, so a
 * state is only acknowledged once the records before it are durable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/sluice.h"

/* TODO: the configuration (a JSON Schema, draft-07); secrets marked airbyte_secret. */
static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"title\":\"@TITLE@ Spec\","
    "\"type\":\"object\",\"required\":[\"destination_path\"],\"additionalProperties\":true,"
    "\"properties\":{\"destination_path\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Output file\","
    "\"description\":\"TODO: where records go (here: one JSON Lines file)\"}}}";

typedef struct dest {
  FILE *out;
} dest;

/* TODO: check that the destination is reachable and writable. */
static sl_code check(const json_t *config, sl_err *err) {
  const char *path = json_string_value(json_object_get(config, "destination_path"));
  FILE *f = path ? fopen(path, "a") : NULL;
  if (!f) return sl_err_set(err, SL_ECONFIG, "cannot open %s: %s", path ? path : "(none)", strerror(errno));
  fclose(f);
  return SL_EOK;
}

static sl_code open_dest(const json_t *config, const sl_catalog *cat, void **handle, sl_err *err) {
  const char *path = json_string_value(json_object_get(config, "destination_path"));
  dest *d = calloc(1, sizeof *d);
  if (!d) return SL_ENOMEM;
  if (!(d->out = fopen(path, "a"))) {
    free(d);
    return sl_err_set(err, SL_EDESTINATION, "cannot open %s: %s", path, strerror(errno));
  }
  *handle = d;
  return SL_EOK;
}

/* TODO: write one record (rec->data is the record's data object). */
static sl_code write_record(void *h, sl_dstream *s, const sl_drecord *rec, sl_err *err) {
  dest *d = h;
  if (fwrite(rec->line, 1, rec->line_len, d->out) != rec->line_len || fputc('\n', d->out) == EOF)
    return sl_err_set(err, SL_EIO, "writing stream %s: %s", s->cs->name, strerror(errno));
  return SL_EOK;
}

/* TODO: make everything written so far durable (commit, fsync). */
static sl_code flush(void *h, sl_err *err) {
  dest *d = h;
  if (fflush(d->out) != 0 || fsync(fileno(d->out)) != 0) return sl_err_set(err, SL_EIO, "flush: %s", strerror(errno));
  return SL_EOK;
}

static void close_dest(void *h, bool ok) {
  dest *d = h;
  if (!d) return;
  fclose(d->out);
  free(d);
}

static const sl_destination destination = {
    .name = "@NAME@",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = "https://docs.sluice.dev/connectors/@NAME@",
    .dest_modes = SL_DEST_APPEND, /* TODO: the modes you support */
    .check = check,
    .open = open_dest,
    .write = write_record,
    .flush = flush,
    .close = close_dest,
};

int main(int argc, char **argv) { return sl_destination_main(&destination, argc, argv); }
