/* The sync record (platform/state_catchup.c): the digest of a saved state
 * and the generations of its streams (tests/data/syncrecord/digest.json:
 * pairs of states, each with an optional configured catalog, that must
 * digest the same or not) and which sync a record names for a saved state. */
#include <stdlib.h>

#include "sluice/platform.h"
#include "test.h"

/* The case's configured catalog KEY parsed into cat; false when absent. */
static bool case_catalog(json_t *c, const char *key, sl_catalog *cat) {
  json_t *root = json_object_get(c, key);
  sl_err err = SL_ERR_INIT;
  return root && sl_catalog_parse(root, key, cat, &err) == SL_EOK;
}

TEST(syncrecord_digest_cases) {
  char path[4096];
  snprintf(path, sizeof path, "%s/syncrecord/digest.json", sl_test_data_dir());
  json_t *cases = json_load_file(path, 0, NULL), *c;
  CHECK(json_array_size(cases) > 0);
  size_t i;
  json_array_foreach(cases, i, c) {
    sl_catalog ca, cb;
    bool has_a = case_catalog(c, "catalog_a", &ca), has_b = case_catalog(c, "catalog_b", &cb);
    char *a = sl_state_digest(json_object_get(c, "a"), has_a ? &ca : NULL);
    char *b = sl_state_digest(json_object_get(c, "b"), has_b ? &cb : NULL);
    if (has_a) sl_catalog_dispose(&ca);
    if (has_b) sl_catalog_dispose(&cb);
    bool same = a && b && !strcmp(a, b);
    if (!a || !b || strlen(a) != 64 || same != json_is_true(json_object_get(c, "same")))
      sl_test_fail(__FILE__, __LINE__, "case %zu (%s): digests %s and %s", i,
                   json_string_value(json_object_get(c, "why")), a ? a : "(none)", b ? b : "(none)");
    free(a);
    free(b);
  }
  json_decref(cases);
}

TEST(syncrecord_names_the_sync_only_for_its_states) {
  char path[4096], id1[33], id2[33];
  snprintf(path, sizeof path, "%s/state.json.sync", sl_test_tmpdir());
  sl_sync_id_new(id1);
  sl_sync_id_new(id2);
  CHECK_INT(strlen(id1), 32);
  CHECK(strcmp(id1, id2) != 0);
  CHECK(sl_sync_record_prev(path, "d0") == NULL); /* no record */
  sl_err err = SL_ERR_INIT;
  CHECK_INT(sl_sync_record_write(path, id1, "d0", &err), SL_EOK);
  char *p = sl_sync_record_prev(path, "d0");
  CHECK_STR(p, id1);
  free(p);
  CHECK(sl_sync_record_prev(path, "d1") == NULL); /* the state changed since: void */
  /* After a save: only the state saved names the sync (a reset back to
   * the one before must not). */
  CHECK_INT(sl_sync_record_write(path, id2, "d1", &err), SL_EOK);
  p = sl_sync_record_prev(path, "d1");
  CHECK_STR(p, id2);
  free(p);
  CHECK(sl_sync_record_prev(path, "d0") == NULL);
  /* A record in a directory that does not exist: an error naming it. */
  snprintf(path, sizeof path, "%s/no/such/dir/state.json.sync", sl_test_tmpdir());
  CHECK(sl_sync_record_write(path, id1, "d0", &err) != SL_EOK);
  CHECK_CONTAINS(err.msg, "sync record");
  CHECK_CONTAINS(err.msg, "no/such/dir");
}
