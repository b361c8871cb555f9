/* DeclarativeStream.state_migrations (the SHOULD tier, notes §5.2):
 * LegacyToPerPartitionStateMigration turns a legacy per-partition state
 * {"<partition id>": {"<cursor field>": value}, ...} into the low-code form
 * {"states": [{"partition": {"<partition field>": id}, "cursor": {...}}]},
 * taking the partition field from the stream's SubstreamPartitionRouter (its
 * only parent) and the cursor field from its DatetimeBasedCursor, as the CDK. */
#include <stdlib.h>

#include "lc.h"

static sl_code render(lc_source *src, const json_t *at, const json_t *params_node, const json_t *v, char **out,
                      sl_err *err) {
  *out = NULL;
  sl_tmpl *t = NULL;
  sl_code rc = lc_tmpl_value(src, at, "state_migrations", v, &t, err);
  if (rc) return rc;
  sl_buf b;
  sl_buf_init(&b, 1 << 16);
  rc = lc_eval_text_at(src, params_node, t, &b, err);
  sl_tmpl_free(t);
  if (!rc && !(*out = strdup(sl_buf_cstr(&b)))) rc = sl_err_set(err, SL_ENOMEM, "out of memory");
  sl_buf_dispose(&b);
  return rc;
}

static sl_code legacy_to_per_partition(lc_source *src, const json_t *stream, const json_t *mig, const json_t *state,
                                       json_t **out, sl_err *err) {
  *out = NULL;
  const json_t *router = json_object_get(json_object_get(stream, "retriever"), "partition_router");
  const json_t *cursor = json_object_get(stream, "incremental_sync");
  const char *rt = json_string_value(json_object_get(router, "type"));
  const char *ct = json_string_value(json_object_get(cursor, "type"));
  if (!rt || strcmp(rt, "SubstreamPartitionRouter"))
    return sl_err_set(err, SL_ECONFIG, "%s: LegacyToPerPartitionStateMigration needs a SubstreamPartitionRouter on the stream",
                      LC_WHERE(src, mig));
  if (!ct || strcmp(ct, "DatetimeBasedCursor"))
    return sl_err_set(err, SL_ECONFIG, "%s: LegacyToPerPartitionStateMigration needs a DatetimeBasedCursor on the stream",
                      LC_WHERE(src, mig));
  if (json_object_get(state, "states")) return SL_EOK; /* already migrated */
  const json_t *parents = json_object_get(router, "parent_stream_configs");
  if (json_array_size(parents) != 1 || !json_object_size(state)) return SL_EOK;
  char *pfield = NULL, *cfield = NULL;
  /* rendered with the stream's $parameters, as the CDK's factory passes them */
  sl_code rc = render(src, mig, stream, json_object_get(json_array_get(parents, 0), "partition_field"), &pfield, err);
  if (!rc) rc = render(src, mig, stream, json_object_get(cursor, "cursor_field"), &cfield, err);
  bool legacy = !rc;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)state, k, v) {
    if (!legacy) break;
    legacy = json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, cfield);
  }
  if (legacy) {
    json_t *states = json_array();
    json_object_foreach((json_t *)state, k, v)
        json_array_append_new(states, json_pack("{s:{s:s}, s:O}", "partition", pfield, k, "cursor", v));
    *out = json_pack("{s:o}", "states", states);
    lc_log(src, "INFO", "state of %s migrated from the legacy per-partition form (%zu partitions; %s)",
           json_string_value(json_object_get(stream, "name")), json_array_size(states), LC_WHERE(src, mig));
  }
  free(pfield);
  free(cfield);
  return rc;
}

sl_code lc_state_migrate(lc_source *src, const json_t *stream, const json_t *state, json_t **out, sl_err *err) {
  *out = NULL;
  const json_t *migs = json_object_get(stream, "state_migrations");
  if (!json_array_size(migs) || !json_is_object(state)) return SL_EOK;
  json_t *cur = json_incref((json_t *)state);
  size_t i;
  json_t *m;
  sl_code rc = SL_EOK;
  json_array_foreach(migs, i, m) {
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!type || strcmp(type, "LegacyToPerPartitionStateMigration")) {
      rc = sl_err_set(err, SL_ECONFIG, "%s: state migration %s is not supported%s", LC_WHERE(src, m), type ? type : "(none)",
                      type && !strncmp(type, "Custom", 6) ? " (it needs Python code)" : "");
      break;
    }
    json_t *next = NULL;
    if ((rc = legacy_to_per_partition(src, stream, m, cur, &next, err))) break;
    if (next) {
      json_decref(cur);
      cur = next;
    }
  }
  if (rc || cur == state) {
    json_decref(cur);
    return rc;
  }
  *out = cur;
  return SL_EOK;
}
