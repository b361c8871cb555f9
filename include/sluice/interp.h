/* Interpolation: Jinja templates evaluated with Python value semantics, the
 * way Airbyte's declarative CDK evaluates `{{ ... }}` in manifests.
 *
 * A template is compiled once (at manifest load) and evaluated many times.
 * Evaluation renders text, then turns the text back into a value the way the
 * CDK does (Python ast.literal_eval, restricted by `accept`). Contexts and
 * results are JSON (jansson): the context is an object whose members are the
 * template's top-level names (config, parameters, stream_slice,
 * stream_partition, stream_interval, next_page_token, response, headers,
 * record, last_record, ...). Python-only values (datetimes, tuples, ...) live
 * only inside an evaluation: a result is always JSON. */
#ifndef SLUICE_INTERP_H
#define SLUICE_INTERP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"

typedef struct sl_tmpl sl_tmpl;

/* What literal evaluation of the rendered text may produce; a value of any
 * other type keeps the rendered text (a JSON string). */
typedef enum {
  SL_TMPL_ANY = 0,         /* headers, JSON bodies, paginator values, most fields */
  SL_TMPL_STR_OR_LIST = 1, /* query parameters and form bodies */
  SL_TMPL_TEXT = 2,        /* never literal-evaluated: always the text */
  SL_TMPL_INT = 3,         /* AddFields value_type: integer, ... */
  SL_TMPL_NUMBER = 4,
  SL_TMPL_BOOL = 5,
  SL_TMPL_STRING = 6,
} sl_tmpl_accept;

/* Compiles `src`. `where` names the input in errors (e.g. "manifest.yaml:12:7
 * streams[0].retriever.requester.path"); it is copied. */
sl_tmpl *sl_tmpl_compile(const char *src, const char *where, sl_err *err);
void sl_tmpl_free(sl_tmpl *t);
/* True when src has no `{{` or `{%`: the value is the text itself. */
bool sl_tmpl_is_static(const sl_tmpl *t);
const char *sl_tmpl_source(const sl_tmpl *t);

/* Evaluates with context `ctx` (borrowed). On success *out is a new
 * reference, or NULL when the template rendered empty or hit an undefined
 * value: the caller applies its default (a mapping drops the key). Then err
 * (if given) keeps code SL_EOK but its message says why, naming `where` and
 * the position (e.g. "'dict object' has no attribute 'api_key'"): a caller
 * that needs a value can report it. A name that is neither in ctx nor a
 * global is an error, as in the CDK; so is `stream_state` anywhere in the
 * template. Error messages name `where` and the line/column in the template. */
int sl_tmpl_eval(const sl_tmpl *t, const json_t *ctx, sl_tmpl_accept accept, json_t **out,
                 sl_err *err);
/* The CDK's InterpolatedBoolean truthiness of the evaluated value. */
int sl_tmpl_eval_bool(const sl_tmpl *t, const json_t *ctx, bool *out, sl_err *err);
/* The rendered text only (appended to out). */
int sl_tmpl_render(const sl_tmpl *t, const json_t *ctx, sl_buf *out, sl_err *err);

/* The clock now_utc()/today_utc()/day_delta() see: microseconds since the
 * epoch, or 0 for the real clock. The environment variable SLUICE_FAKE_NOW
 * (ISO-8601) sets it too, for end-to-end tests. */
void sl_tmpl_set_clock(int64_t unix_us);

#endif
