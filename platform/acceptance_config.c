/* acceptance-test-config.yml: the file model of Airbyte's acceptance tests
 * (every model forbids unknown keys), checked with file:line errors. */
#include <stdio.h>
#include <string.h>

#include "acceptance_int.h"

/* Allowed keys of each model; "*" marks the end. */
static const char *const top_keys[] = {"connector_image", "connector", "acceptance_tests", "base_path",
                                       "test_strictness_level", "custom_environment_variables",
                                       "cached_discovered_catalog", "deployment_mode", NULL};
static const char *const suite_names[] = {"spec", "connection", "discovery", "basic_read", "full_refresh",
                                          "incremental", "connector_attributes", "connector_documentation",
                                          NULL};
static const char *const common[] = {"config_path", "timeout_seconds", "deployment_mode", NULL};
static const char *const spec_keys[] = {"spec_path", "backward_compatibility_tests_config", "auth_default_method", NULL};
static const char *const connection_keys[] = {"status", NULL};
static const char *const discovery_keys[] = {"backward_compatibility_tests_config", "validate_primary_keys_data_type", NULL};
static const char *const basic_read_keys[] = {
    "configured_catalog_path", "empty_streams", "expect_records", "validate_schema", "validate_stream_statuses",
    "validate_state_messages", "validate_primary_keys_data_type", "fail_on_extra_columns", "validate_data_points",
    "expect_trace_message_on_failure", "ignored_fields", "file_types", "client_container_config", NULL};
static const char *const full_refresh_keys[] = {"configured_catalog_path", "ignored_fields", "client_container_config", NULL};
static const char *const incremental_keys[] = {"configured_catalog_path", "future_state", "future_state_path",
                                               "skip_comprehensive_incremental_tests", "cursor_paths",
                                               "client_container_config", NULL};
static const char *const attributes_keys[] = {"streams_without_primary_key", "allowed_hosts", "suggested_streams", NULL};
/* sluice: the docs file (default README.md) and running it for any connector */
static const char *const documentation_keys[] = {"docs_path", "certified_only", NULL};
static const char *const *const suite_keys[] = {spec_keys,       connection_keys,  discovery_keys,  basic_read_keys,
                                                full_refresh_keys, incremental_keys, attributes_keys, documentation_keys};
static const char *const expect_records_keys[] = {"path", "bypass_reason", "exact_order", "extra_fields", "extra_records", NULL};
static const char *const future_state_keys[] = {"future_state_path", "missing_streams", "bypass_reason", "cursor_format", NULL};
static const char *const named_bypass_keys[] = {"name", "bypass_reason", NULL};
/* CAT's two keys, and sluice's local sources of the previous version */
static const char *const compat_keys[] = {"previous_connector_version", "disable_for_version", "previous_connector",
                                          "previous_spec_path", "previous_catalog_path", NULL};
static const char *const cursor_format_keys[] = {"format", "streams", NULL};
static const char *const named_format_keys[] = {"name", "format", NULL};
static const char *const file_types_keys[] = {"skip_test", "bypass_reason", "unsupported_types", NULL};
static const char *const extension_keys[] = {"extension", "bypass_reason", NULL};
static const char *const bool_keys[] = {"validate_schema", "validate_stream_statuses", "validate_state_messages",
                                        "validate_primary_keys_data_type", "fail_on_extra_columns", "validate_data_points",
                                        "expect_trace_message_on_failure", "skip_comprehensive_incremental_tests", "certified_only", NULL};

static bool in_list(const char *const *l, const char *k) {
  for (; l && *l; l++)
    if (!strcmp(*l, k)) return true;
  return false;
}

int at_config_line(const sl_yaml *y, const json_t *obj, const char *key) { return sl_yaml_key_line(y, obj, key); }

static sl_code bad(const sl_yaml *y, const json_t *obj, const char *key, sl_err *err, const char *fmt, const char *a,
                   const char *b) {
  char msg[600];
  snprintf(msg, sizeof msg, fmt, a, b);
  int line = key ? sl_yaml_key_line(y, obj, key) : sl_yaml_line(y, obj);
  return sl_err_set(err, SL_ECONFIG, "%s:%d: %s", sl_yaml_path(y), line, msg);
}

static sl_code keys_ok(const sl_yaml *y, const json_t *obj, const char *where, const char *const *a,
                       const char *const *b, sl_err *err) {
  const char *k;
  json_t *v;
  if (!json_is_object(obj)) return bad(y, obj, NULL, err, "%s: expected a mapping%s", where, "");
  json_object_foreach((json_t *)obj, k, v) {
    if (!in_list(a, k) && !in_list(b, k)) return bad(y, obj, k, err, "%s: unknown key \"%s\"", where, k);
  }
  return SL_EOK;
}

static sl_code list_of_named(const sl_yaml *y, const json_t *obj, const char *key, const char *where, sl_err *err) {
  const json_t *l = json_object_get(obj, key);
  if (!l) return SL_EOK;
  if (!json_is_array(l)) return bad(y, obj, key, err, "%s.%s: expected a list", where, key);
  size_t i;
  json_t *e;
  json_array_foreach(l, i, e) {
    if (keys_ok(y, e, key, named_bypass_keys, NULL, err)) return err->code;
    if (!json_is_string(json_object_get(e, "name")))
      return bad(y, e, NULL, err, "%s.%s: every entry needs a name%s", where, key);
  }
  return SL_EOK;
}

static const char *const container_keys[] = {"client_container_dockerfile_path", "secrets_path", "setup_command",
                                             "teardown_command", "between_syncs_command", "final_teardown_command", NULL};

/* client_container_config: the model's keys (it is not run; see acceptance.c) */
static sl_code check_container(const sl_yaml *y, const json_t *cc, sl_err *err) {
  if (!cc) return SL_EOK;
  if (keys_ok(y, cc, "client_container_config", container_keys, NULL, err)) return err->code;
  if (!json_is_string(json_object_get(cc, "client_container_dockerfile_path")))
    return bad(y, cc, NULL, err, "client_container_config: client_container_dockerfile_path is required%s%s", "", "");
  for (size_t i = 2; container_keys[i]; i++) { /* the commands: lists of strings */
    const json_t *cmd = json_object_get(cc, container_keys[i]);
    size_t j;
    const json_t *a;
    bool ok = !cmd || (json_is_array(cmd) && json_array_size(cmd) > 0);
    json_array_foreach(cmd, j, a) ok &= json_is_string(a);
    if (!ok)
      return bad(y, cc, container_keys[i], err, "client_container_config.%s: expected a command as a list of strings, e.g. [\"sh\", \"seed.sh\"]%s",
                 container_keys[i], "");
  }
  const json_t *sp = json_object_get(cc, "secrets_path");
  if (sp && !json_is_string(sp)) return bad(y, cc, "secrets_path", err, "client_container_config.secrets_path: expected a file path%s%s", "", "");
  return SL_EOK;
}

/* future_state.cursor_format: {format: regex, streams: [{name, format}]} */
static sl_code check_cursor_format(const sl_yaml *y, const json_t *cf, sl_err *err) {
  if (!cf) return SL_EOK;
  if (keys_ok(y, cf, "cursor_format", cursor_format_keys, NULL, err)) return err->code;
  const json_t *f = json_object_get(cf, "format");
  if (f && !json_is_string(f)) return bad(y, cf, "format", err, "cursor_format.format: expected a regular expression%s%s", "", "");
  const json_t *l = json_object_get(cf, "streams");
  if (l && !json_is_array(l)) return bad(y, cf, "streams", err, "cursor_format.streams: expected a list%s%s", "", "");
  size_t i;
  json_t *e;
  json_array_foreach(l, i, e) {
    if (keys_ok(y, e, "cursor_format.streams", named_format_keys, NULL, err)) return err->code;
    if (!json_is_string(json_object_get(e, "name")) || !json_is_string(json_object_get(e, "format")))
      return bad(y, e, NULL, err, "cursor_format.streams: every entry needs a name and a format%s%s", "", "");
  }
  return SL_EOK;
}

/* basic_read.file_types: skip_test (+ bypass_reason) or unsupported_types */
static sl_code check_file_types(const sl_yaml *y, const json_t *ft, sl_err *err) {
  if (!ft) return SL_EOK;
  if (keys_ok(y, ft, "file_types", file_types_keys, NULL, err)) return err->code;
  bool skip = json_is_true(json_object_get(ft, "skip_test"));
  if (json_object_get(ft, "bypass_reason") && !skip)
    return bad(y, ft, "bypass_reason", err, "file_types.bypass_reason is allowed only with skip_test: true%s%s", "", "");
  const json_t *l = json_object_get(ft, "unsupported_types");
  if (l && skip) return bad(y, ft, "unsupported_types", err, "file_types: unsupported_types and skip_test exclude each other%s%s", "", "");
  if (l && !json_is_array(l)) return bad(y, ft, "unsupported_types", err, "file_types.unsupported_types: expected a list%s%s", "", "");
  size_t i;
  json_t *e;
  json_array_foreach(l, i, e) {
    if (keys_ok(y, e, "file_types.unsupported_types", extension_keys, NULL, err)) return err->code;
    const char *x = json_string_value(json_object_get(e, "extension"));
    if (!x || x[0] != '.')
      return bad(y, e, NULL, err, "file_types.unsupported_types: every entry needs an extension like \".csv\"%s%s", "", "");
  }
  return SL_EOK;
}

static sl_code check_input(const sl_yaml *y, json_t *in, size_t si, const char *where, sl_err *err) {
  if (keys_ok(y, in, where, common, suite_keys[si], err)) return err->code;
  const json_t *t = json_object_get(in, "timeout_seconds");
  if (t && (!json_is_integer(t) || json_integer_value(t) < 0))
    return bad(y, in, "timeout_seconds", err, "%s.timeout_seconds: expected an integer >= 0%s", where, "");
  const char *strs[] = {"config_path", "configured_catalog_path", "spec_path", "future_state_path", NULL};
  for (size_t i = 0; strs[i]; i++) {
    const json_t *v = json_object_get(in, strs[i]);
    if (v && !json_is_string(v)) return bad(y, in, strs[i], err, "%s.%s: expected a file path", where, strs[i]);
  }
  const json_t *dm = json_object_get(in, "deployment_mode");
  if (dm && !(json_is_string(dm) && (!strcmp(json_string_value(dm), "cloud") || !strcmp(json_string_value(dm), "oss"))))
    return bad(y, in, "deployment_mode", err, "%s.deployment_mode: expected cloud or oss%s", where, "");
  const json_t *st = json_object_get(in, "status");
  if (st && !(json_is_string(st) && (!strcmp(json_string_value(st), "succeed") ||
                                     !strcmp(json_string_value(st), "failed") ||
                                     !strcmp(json_string_value(st), "exception"))))
    return bad(y, in, "status", err, "%s.status: expected succeed, failed or exception%s", where, "");
  json_t *er = json_object_get(in, "expect_records");
  if (er) {
    if (keys_ok(y, er, "expect_records", expect_records_keys, NULL, err)) return err->code;
    if (!json_object_get(er, "path") == !json_object_get(er, "bypass_reason"))
      return bad(y, in, "expect_records", err, "%s.expect_records: exactly one of path and bypass_reason%s", where, "");
  }
  /* legacy flat future_state_path becomes future_state.future_state_path */
  json_t *fsp = json_object_get(in, "future_state_path");
  if (fsp && !json_object_get(in, "future_state")) {
    json_t *fs = json_pack("{sO}", "future_state_path", fsp);
    json_object_set_new(in, "future_state", fs);
  }
  json_t *fs = json_object_get(in, "future_state");
  if (fs && !fsp) {
    if (keys_ok(y, fs, "future_state", future_state_keys, NULL, err)) return err->code;
    if (list_of_named(y, fs, "missing_streams", "future_state", err)) return err->code;
  }
  if (list_of_named(y, in, "empty_streams", where, err) || list_of_named(y, in, "streams_without_primary_key", where, err))
    return err->code;
  for (size_t i = 0; bool_keys[i]; i++) {
    const json_t *b = json_object_get(in, bool_keys[i]);
    if (b && !json_is_boolean(b) && !json_is_null(b))
      return bad(y, in, bool_keys[i], err, "%s.%s: expected true or false", where, bool_keys[i]);
  }
  if (check_container(y, json_object_get(in, "client_container_config"), err)) return err->code;
  const json_t *bc = json_object_get(in, "backward_compatibility_tests_config");
  if (bc && keys_ok(y, bc, "backward_compatibility_tests_config", compat_keys, NULL, err)) return err->code;
  const char *const bstr[] = {"previous_connector_version", "disable_for_version", "previous_connector", "previous_spec_path",
                              "previous_catalog_path", NULL};
  for (size_t i = 0; bc && bstr[i]; i++) {
    const json_t *v = json_object_get(bc, bstr[i]);
    if (v && !json_is_string(v))
      return bad(y, bc, bstr[i], err, "backward_compatibility_tests_config.%s: expected a string%s", bstr[i], "");
  }
  if (check_cursor_format(y, json_object_get(fs, "cursor_format"), err)) return err->code;
  return check_file_types(y, json_object_get(in, "file_types"), err);
}

/* Legacy layout: `tests: {suite: [inputs]}` at the root. */
static void migrate_legacy(json_t *root) {
  json_t *tests = json_object_get(root, "tests");
  if (!json_is_object(tests) || json_object_get(root, "acceptance_tests")) return;
  json_t *at = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(tests, k, v) json_object_set_new(at, k, json_pack("{sO}", "tests", v));
  json_object_set_new(root, "acceptance_tests", at);
  json_object_del(root, "tests");
}

sl_yaml *at_config_load(const char *path, sl_err *err) {
  sl_yaml *y = sl_yaml_load_file(path, err);
  if (!y) return NULL;
  json_t *root = sl_yaml_root(y);
  migrate_legacy(root);
  if (keys_ok(y, root, "acceptance-test-config", top_keys, NULL, err)) goto fail;
  const json_t *img = json_object_get(root, "connector_image");
  if (!img && !json_object_get(root, "connector")) {
    bad(y, root, NULL, err, "connector_image is required (or connector: a sluice connector reference)%s%s", "", "");
    goto fail;
  }
  if (img && !json_is_string(img)) {
    bad(y, root, "connector_image", err, "connector_image: expected a string%s%s", "", "");
    goto fail;
  }
  const json_t *rdm = json_object_get(root, "deployment_mode"); /* sluice: the run's mode */
  if (rdm && !(json_is_string(rdm) && (!strcmp(json_string_value(rdm), "cloud") || !strcmp(json_string_value(rdm), "oss")))) {
    bad(y, root, "deployment_mode", err, "deployment_mode: expected cloud or oss%s%s", "", "");
    goto fail;
  }
  const json_t *lvl = json_object_get(root, "test_strictness_level");
  if (lvl && !(json_is_string(lvl) && (!strcmp(json_string_value(lvl), "low") || !strcmp(json_string_value(lvl), "high")))) {
    bad(y, root, "test_strictness_level", err, "test_strictness_level: expected low or high%s%s", "", "");
    goto fail;
  }
  json_t *at = json_object_get(root, "acceptance_tests");
  if (!at) {
    bad(y, root, NULL, err, "acceptance_tests is required%s%s", "", "");
    goto fail;
  }
  if (keys_ok(y, at, "acceptance_tests", suite_names, (const char *const[]){"client_container_config", NULL}, err)) goto fail;
  if (check_container(y, json_object_get(at, "client_container_config"), err)) goto fail;
  for (size_t si = 0; suite_names[si]; si++) {
    json_t *s = json_object_get(at, suite_names[si]);
    if (!s) continue;
    if (keys_ok(y, s, suite_names[si], (const char *const[]){"tests", "bypass_reason", NULL}, NULL, err)) goto fail;
    json_t *tests = json_object_get(s, "tests");
    const json_t *br = json_object_get(s, "bypass_reason");
    if (!tests == !br) {
      bad(y, at, suite_names[si], err, "%s: give exactly one of tests and bypass_reason%s", suite_names[si], "");
      goto fail;
    }
    if (br && !json_is_string(br)) {
      bad(y, s, "bypass_reason", err, "%s.bypass_reason: expected a string%s", suite_names[si], "");
      goto fail;
    }
    if (tests && !json_is_array(tests)) {
      bad(y, s, "tests", err, "%s.tests: expected a list of input sets%s", suite_names[si], "");
      goto fail;
    }
    size_t i;
    json_t *in;
    json_array_foreach(tests, i, in) if (check_input(y, in, si, suite_names[si], err)) goto fail;
  }
  return y;
fail:
  sl_yaml_free(y);
  return NULL;
}
