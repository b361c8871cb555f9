/* destination-dev-null: accepts every record and drops it; echoes states.
 * For benchmarks and for testing sources and the platform. */
#include "sluice/sluice.h"

static const char spec[] =
    "{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
    "\"title\":\"Dev Null Destination Spec\",\"type\":\"object\","
    "\"required\":[],\"properties\":{},\"additionalProperties\":true}";

static sl_code devnull_check(const json_t *config, sl_err *err) { return SL_EOK; }

static sl_code devnull_open(const json_t *config, const sl_catalog *cat, void **handle,
                            sl_err *err) {
  *handle = NULL;
  return SL_EOK;
}

static sl_code devnull_write(void *h, sl_dstream *s, const sl_drecord *rec, sl_err *err) {
  return SL_EOK;
}

static sl_code devnull_flush(void *h, sl_err *err) { return SL_EOK; }

static void devnull_close(void *h, bool ok) {}

static const sl_destination devnull = {
    .name = "destination-dev-null",
    .version = "0.1.0",
    .spec_json = spec,
    .documentation_url = NULL,
    .dest_modes = SL_DEST_APPEND | SL_DEST_OVERWRITE | SL_DEST_APPEND_DEDUP | SL_DEST_UPDATE |
                  SL_DEST_SOFT_DELETE,
    .check = devnull_check,
    .open = devnull_open,
    .write = devnull_write,
    .flush = devnull_flush,
    .close = devnull_close,
    .envelope_only = true,
};

int main(int argc, char **argv) { return sl_destination_main(&devnull, argc, argv); }
