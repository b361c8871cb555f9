/* The spec suite: one SPEC message, the config matches it, and the rules
 * Airbyte's acceptance tests apply to a connection specification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acceptance_int.h"
#include "sluice/schema.h"

/* A visitor sees every schema node with its JSON pointer; prop is the
 * property name when the node is a member of `properties`, depth counts
 * nested `properties` levels (0 = the root object). */
typedef struct walk {
  char problem[600];
  const json_t *bad;
  bool (*visit)(struct walk *w, const json_t *node, const char *ptr, const char *prop, int depth);
  const json_t *root;
} walk;

static bool walk_node(walk *w, const json_t *node, const char *ptr, const char *prop, int depth) {
  if (!json_is_object(node) || strlen(ptr) > 900) return true;
  if (!w->visit(w, node, ptr, prop, depth)) return false;
  char sub[1024];
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(node, "properties"), k, v) {
    snprintf(sub, sizeof sub, "%s/properties/%s", ptr, k);
    if (!walk_node(w, v, sub, k, depth + 1)) return false;
  }
  static const char *const lists[] = {"oneOf", "anyOf", "allOf", "items", "prefixItems", NULL};
  for (size_t i = 0; lists[i]; i++) {
    json_t *l = json_object_get(node, lists[i]);
    if (json_is_object(l)) {
      snprintf(sub, sizeof sub, "%s/%s", ptr, lists[i]);
      if (!walk_node(w, l, sub, NULL, depth)) return false;
    }
    size_t j;
    json_array_foreach(l, j, v) {
      snprintf(sub, sizeof sub, "%s/%s/%zu", ptr, lists[i], j);
      if (!walk_node(w, v, sub, NULL, depth)) return false;
    }
  }
  static const char *const one[] = {"additionalProperties", "not", "if", "then", "else", NULL};
  for (size_t i = 0; one[i]; i++) {
    snprintf(sub, sizeof sub, "%s/%s", ptr, one[i]);
    if (!walk_node(w, json_object_get(node, one[i]), sub, NULL, depth)) return false;
  }
  return true;
}

static bool problem(walk *w, const json_t *node, const char *fmt, const char *ptr, const char *extra) {
  snprintf(w->problem, sizeof w->problem, fmt, *ptr ? ptr : "/", extra ? extra : "");
  w->bad = node;
  return false;
}

bool at_type_has(const json_t *node, const char *t) {
  const json_t *ty = json_object_get(node, "type");
  if (json_is_string(ty)) return !strcmp(json_string_value(ty), t);
  size_t i;
  json_t *v;
  json_array_foreach(ty, i, v) if (!strcmp(json_string_value(v) ?: "", t)) return true;
  return false;
}

static bool is_object_type(const json_t *n) {
  const json_t *t = json_object_get(n, "type");
  return json_is_string(t) && !strcmp(json_string_value(t), "object");
}

static bool v_enum(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const json_t *e = json_object_get(n, "enum");
  for (size_t i = 0; i < json_array_size(e); i++)
    for (size_t j = i + 1; j < json_array_size(e); j++)
      if (json_equal(json_array_get(e, i), json_array_get(e, j)))
        return problem(w, n, "%s: enum lists a value twice%s", ptr, NULL);
  return true;
}

static bool v_oneof(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const char *kw = json_object_get(n, "oneOf") ? "oneOf" : json_object_get(n, "anyOf") ? "anyOf" : NULL;
  if (!kw) return true;
  const json_t *opts = json_object_get(n, kw);
  /* CAT compares type with the string "object": ["object", "null"] fails */
  if (!is_object_type(n)) return problem(w, n, "%s: the parent of %s must have type object", ptr, kw);
  size_t i;
  json_t *o;
  json_array_foreach(opts, i, o) if (!json_is_object(json_object_get(o, "properties")))
      return problem(w, n, "%s: every %s option needs properties", ptr, kw);
  /* properties common to every option, and those with const in every option */
  size_t shared = 0, with_const = 0;
  const char *k;
  json_t *p;
  json_object_foreach(json_object_get(json_array_get(opts, 0), "properties"), k, p) {
    bool all = true, all_const = true;
    json_array_foreach(opts, i, o) {
      json_t *q = json_object_get(json_object_get(o, "properties"), k);
      all &= q != NULL;
      all_const &= q && json_object_get(q, "const") != NULL;
    }
    if (!all) continue;
    shared++;
    if (!all_const) continue;
    with_const++;
    json_array_foreach(opts, i, o) {
      json_t *q = json_object_get(json_object_get(o, "properties"), k);
      json_t *c = json_object_get(q, "const"), *d = json_object_get(q, "default"), *e = json_object_get(q, "enum");
      if (d && !json_equal(d, c)) return problem(w, q, "%s: the default of the discriminator %s differs from its const", ptr, k);
      if (e && !(json_array_size(e) == 1 && json_equal(json_array_get(e, 0), c)))
        return problem(w, q, "%s: the enum of the discriminator %s must be [const]", ptr, k);
    }
  }
  if (!shared) return problem(w, n, "%s: the %s options share no property", ptr, kw);
  if (with_const != 1) return problem(w, n, "%s: exactly one shared property must have a const in every option (%s)", ptr, kw);
  return true;
}

static const char *const secret_names[] = {"client_token", "access_token", "api_token", "token", "secret",
                                           "client_secret", "password", "key", "service_account_info",
                                           "service_account", "tenant_id", "certificate", "jwt", "credentials",
                                           "app_id", "appid", "refresh_token", NULL};

static bool v_secret(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  bool marked = json_is_true(json_object_get(n, "airbyte_secret"));
  const json_t *c = json_object_get(n, "const");
  bool can_hold = (at_type_has(n, "string") || at_type_has(n, "integer") || at_type_has(n, "number")) &&
                  !(c && !(json_is_false(c) || json_is_null(c) || (json_is_string(c) && !*json_string_value(c))));
  if (marked && !can_hold)
    return problem(w, n, "%s: airbyte_secret on a property that cannot hold a secret%s", ptr, NULL);
  if (!prop || marked || !can_hold) return true;
  for (size_t i = 0; secret_names[i]; i++)
    if (!strcmp(prop, secret_names[i])) return problem(w, n, "%s: secret-like property %s is not marked airbyte_secret: true", ptr, prop);
  return true;
}

static bool v_type_list(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const json_t *t = json_object_get(n, "type");
  if (!prop || !json_is_array(t)) return true;
  size_t k = json_array_size(t);
  if (k < 1 || k > 2 || (k == 2 && strcmp(json_string_value(json_array_get(t, 1)) ?: "", "null")))
    return problem(w, n, "%s: a type list must be [T] or [T, \"null\"]%s", ptr, NULL);
  return true;
}

static bool v_object(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  /* as CAT: only type "object" exactly (a nullable ["object", "null"] is not checked) */
  if (!*ptr || !is_object_type(n) || json_object_get(n, "oneOf")) return true;
  if (json_object_size(json_object_get(n, "properties")) == 0)
    return problem(w, n, "%s: an object property needs non-empty properties (or oneOf)%s", ptr, NULL);
  return true;
}

static bool v_array(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const json_t *it = json_object_get(n, "items");
  if (!at_type_has(n, "array") || !it) return true;
  if (!json_is_object(it)) return problem(w, n, "%s: items must be a single schema, not a list%s", ptr, NULL);
  if (json_object_get(it, "enum")) return true;
  static const char *const ok[] = {"object", "string", "number", "integer", NULL};
  for (size_t i = 0; ok[i]; i++)
    if (at_type_has(it, ok[i])) return true;
  return problem(w, n, "%s: array items must have type object, string, number or integer (or an enum)%s", ptr, NULL);
}

static bool v_forbidden(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  static const char *const kw[] = {"not", "anyOf", "patternProperties", "prefixItems", "allOf", "if", "then", "else",
                                   "dependentSchemas", "dependentRequired", NULL};
  for (size_t i = 0; kw[i]; i++)
    if (json_object_get(n, kw[i])) return problem(w, n, "%s: uses the forbidden keyword %s", ptr, kw[i]);
  return true;
}

static bool v_order(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const char *k, *k2;
  json_t *p, *p2;
  json_t *props = json_object_get(n, "properties");
  json_object_foreach(props, k, p) {
    json_t *o = json_object_get(p, "order");
    if (!o) continue;
    const char *g = json_string_value(json_object_get(p, "group")) ?: "";
    json_object_foreach(props, k2, p2) {
      if (p2 == p) break;
      if (json_equal(o, json_object_get(p2, "order")) && !strcmp(g, json_string_value(json_object_get(p2, "group")) ?: ""))
        return problem(w, n, "%s: two properties share one order value (%s)", ptr, k);
    }
  }
  return true;
}

static bool v_group(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  if (json_object_get(n, "group") && depth > 1) return problem(w, n, "%s: group is allowed on top-level properties only%s", ptr, NULL);
  return true;
}

static bool v_display(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const json_t *d = json_object_get(n, "display_type");
  if (!d) return true;
  if (!json_object_get(n, "oneOf")) return problem(w, n, "%s: display_type needs oneOf%s", ptr, NULL);
  const char *s = json_string_value(d) ?: "";
  if (strcmp(s, "dropdown") && strcmp(s, "radio")) return problem(w, n, "%s: display_type must be dropdown or radio%s", ptr, NULL);
  return true;
}

static bool v_addl(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  const json_t *a = json_object_get(n, "additionalProperties");
  if (a && !json_is_true(a)) return problem(w, n, "%s: additionalProperties must be true%s", ptr, NULL);
  return true;
}

/* $ref anywhere in a tree */
static const json_t *find_key(const json_t *v, const char *key) {
  const char *k;
  json_t *x;
  size_t i;
  if (json_is_object(v)) {
    if (json_object_get(v, key)) return v;
    json_object_foreach((json_t *)v, k, x) if (find_key(x, key)) return find_key(x, key);
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, x) if (find_key(x, key)) return find_key(x, key);
  }
  return NULL;
}

/* Does a path (array of names) resolve in the spec schema's properties
 * (through oneOf options)? */
static bool path_exists(const json_t *schema, const json_t *path, size_t from) {
  if (from >= json_array_size(path)) return true;
  const char *name = json_string_value(json_array_get(path, from));
  const json_t *p = json_object_get(json_object_get(schema, "properties"), name ?: "");
  if (p) return path_exists(p, path, from + 1);
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(schema, "oneOf"), i, o) if (path_exists(o, path, from)) return true;
  return false;
}

static const char *oauth_problem(const json_t *spec) {
  const json_t *aa = json_object_get(spec, "advanced_auth");
  const json_t *cs = json_object_get(spec, "connectionSpecification");
  const json_t *pk = json_object_get(aa, "predicate_key");
  if (pk && !path_exists(cs, pk, 0)) return "advanced_auth.predicate_key names a field the spec does not have";
  const json_t *oc = json_object_get(aa, "oauth_config_specification");
  static const char *const specs[] = {"oauth_user_input_from_connector_config_specification",
                                      "complete_oauth_output_specification", "complete_oauth_server_output_specification", NULL};
  for (size_t i = 0; specs[i]; i++) {
    const char *k;
    json_t *p;
    json_object_foreach(json_object_get(json_object_get(oc, specs[i]), "properties"), k, p) {
      const json_t *path = json_object_get(p, "path_in_connector_config");
      if (path && !path_exists(cs, path, 0)) return "an advanced_auth path_in_connector_config names a field the spec does not have";
    }
  }
  return NULL;
}

static void rule(at_ctx *c, at_input *in, const char *test, const json_t *schema,
                 bool (*visit)(walk *, const json_t *, const char *, const char *, int)) {
  char nm[96];
  walk w = {.visit = visit, .root = schema};
  if (walk_node(&w, schema, "", NULL, 0)) at_result(c, in->suite, at_name(in, test, nm, sizeof nm), SL_AT_PASS, NULL, NULL);
  else at_result(c, in->suite, at_name(in, test, nm, sizeof nm), SL_AT_FAIL, w.bad, "connectionSpecification%s", w.problem);
}

static void dockerfile_checks(at_ctx *c, at_input *in) {
  char nm[96], path[PATH_MAX];
  snprintf(path, sizeof path, "%s/Dockerfile", c->dir);
  sl_dockerfile df;
  sl_err e = SL_ERR_INIT;
  if (sl_dockerfile_read(path, &df, &e)) {
    at_result(c, in->suite, at_name(in, "test_image_labels", nm, sizeof nm), SL_AT_SKIP, NULL, "no Dockerfile: %s", e.msg);
    at_result(c, in->suite, at_name(in, "test_image_environment_variables", nm, sizeof nm), SL_AT_SKIP, NULL, "no Dockerfile: %s", e.msg);
    return;
  }
  const char *lname = json_string_value(json_object_get(df.labels, "io.airbyte.name"));
  const char *lver = json_string_value(json_object_get(df.labels, "io.airbyte.version"));
  const char *repo = json_string_value(json_object_get(c->metadata, "dockerRepository"));
  const char *tag = json_string_value(json_object_get(c->metadata, "dockerImageTag"));
  at_name(in, "test_image_labels", nm, sizeof nm);
  if (!c->metadata) at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "no metadata.yaml in %s to compare the labels with", c->dir);
  else if (!lname || !lver) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s: LABEL io.airbyte.name and io.airbyte.version are required", path);
  else if (strcmp(lname, repo ?: "") || strcmp(lver, tag ?: ""))
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s: labels %s:%s differ from metadata.yaml dockerRepository:dockerImageTag %s:%s",
              path, lname, lver, repo ?: "?", tag ?: "?");
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  const char *env = json_string_value(json_object_get(df.env, "AIRBYTE_ENTRYPOINT"));
  at_name(in, "test_image_environment_variables", nm, sizeof nm);
  if (!env || !df.entrypoint) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s: needs ENTRYPOINT and ENV AIRBYTE_ENTRYPOINT", path);
  else if (strcmp(env, df.entrypoint))
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s: AIRBYTE_ENTRYPOINT \"%s\" differs from ENTRYPOINT \"%s\"", path, env, df.entrypoint);
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  sl_dockerfile_dispose(&df);
}

void at_suite_spec(at_ctx *c, at_input *in) {
  char nm[96];
  at_run r;
  sl_err e = SL_ERR_INIT;
  at_name(in, "test_spec", nm, sizeof nm);
  if (at_exec(c, "spec", NULL, NULL, NULL, NULL, in->timeout_s, &r, &e)) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
    return;
  }
  at_protocol_result(c, in->suite, nm, &r);
  if (at_run_failed(c, in->suite, nm, &r, in->timeout_s)) {
    at_run_dispose(&r);
    return;
  }
  json_t *specs = at_msgs_of(&r, "SPEC");
  if (json_array_size(specs) != 1) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "the spec command must print exactly one SPEC message, got %zu (exit %d)%s%s",
              json_array_size(specs), r.exit_code, r.stderr_tail[0] ? "; stderr: " : "", r.stderr_tail);
    json_decref(specs);
    at_run_dispose(&r);
    return;
  }
  at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  json_t *spec = json_object_get(json_array_get(specs, 0), "spec");
  json_decref(c->spec);
  c->spec = json_incref(spec);
  json_decref(specs);
  at_run_dispose(&r);
  const json_t *cs = json_object_get(spec, "connectionSpecification");

  /* the test config (minus "_" keys) validates against the spec */
  json_t *cfg = json_deep_copy(in->config);
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(cfg, tmp, k, v) if (k[0] == '_') json_object_del(cfg, k);
  at_name(in, "test_config_match_spec", nm, sizeof nm);
  char what[64];
  snprintf(what, sizeof what, "config");
  if (sl_schema_validate(cs, cfg, what, &e)) at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s", e.msg);
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  json_decref(cfg);

  bool absent;
  json_t *expected = at_load_json(c, in, "spec_path", "secrets/spec.json", &absent);
  at_name(in, "test_match_expected", nm, sizeof nm);
  if (absent) at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "no spec_path file to compare with");
  else if (expected) {
    json_t *exp = json_object_get(expected, "spec") ?: expected; /* a SPEC message or its payload */
    if (json_equal(exp, spec)) at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
    else at_result(c, in->suite, nm, SL_AT_FAIL, spec, "the spec differs from the expected one in spec_path");
    json_decref(expected);
  }

  rule(c, in, "test_enum_usage", cs, v_enum);
  rule(c, in, "test_oneof_usage", cs, v_oneof);
  rule(c, in, "test_secret_is_properly_marked", cs, v_secret);
  rule(c, in, "test_property_type_is_not_array", cs, v_type_list);
  rule(c, in, "test_object_not_empty", cs, v_object);
  rule(c, in, "test_array_type", cs, v_array);
  rule(c, in, "test_forbidden_complex_types", cs, v_forbidden);
  rule(c, in, "test_duplicate_order", cs, v_order);
  rule(c, in, "test_nested_group", cs, v_group);
  rule(c, in, "test_display_type", cs, v_display);
  rule(c, in, "test_additional_properties_is_true", cs, v_addl);
  const json_t *ref = find_key(spec, "$ref");
  at_name(in, "test_defined_refs_exist_in_json_spec_file", nm, sizeof nm);
  if (ref) at_result(c, in->suite, nm, SL_AT_FAIL, ref, "the spec uses $ref; definitions must be inlined");
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  at_name(in, "test_oauth_flow_parameters", nm, sizeof nm);
  if (!json_object_get(spec, "advanced_auth")) at_result(c, in->suite, nm, SL_AT_SKIP, NULL, "the spec has no advanced_auth");
  else if (oauth_problem(spec)) at_result(c, in->suite, nm, SL_AT_FAIL, json_object_get(spec, "advanced_auth"), "%s", oauth_problem(spec));
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  at_backward_compat(c, in, SL_AT_COMPAT_SPEC, spec);
  dockerfile_checks(c, in);
}

static bool v_allof_not(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  if (json_object_get(n, "allOf")) return problem(w, n, "%s: uses allOf%s", ptr, NULL);
  if (json_object_get(n, "not")) return problem(w, n, "%s: uses not%s", ptr, NULL);
  return true;
}

static bool v_valid(walk *w, const json_t *n, const char *ptr, const char *prop, int depth) {
  static const char *const types[] = {"null", "boolean", "object", "array", "number", "string", "integer", NULL};
  const json_t *t = json_object_get(n, "type");
  json_t *one = json_is_string(t) ? json_pack("[O]", t) : json_incref((json_t *)t);
  size_t i;
  json_t *x;
  bool ok = !t || json_is_array(one);
  json_array_foreach(one, i, x) {
    bool known = false;
    for (size_t k = 0; types[k]; k++) known |= json_is_string(x) && !strcmp(json_string_value(x), types[k]);
    ok &= known;
  }
  json_decref(one);
  if (!ok) return problem(w, n, "%s: type must be a JSON Schema type name or a list of them%s", ptr, NULL);
  const json_t *p = json_object_get(n, "properties"), *r = json_object_get(n, "required");
  if (p && !json_is_object(p)) return problem(w, n, "%s: properties must be an object%s", ptr, NULL);
  if (r && !json_is_array(r) && !json_is_boolean(r)) return problem(w, n, "%s: required must be a list%s", ptr, NULL);
  return true;
}

bool at_schema_check(const json_t *schema, at_schema_rule which, char *why, size_t n) {
  walk w = {.visit = which == AT_RULE_ADDL ? v_addl : which == AT_RULE_ALLOF_NOT ? v_allof_not : v_valid, .root = schema};
  if (!json_is_object(schema)) {
    snprintf(why, n, "json_schema is not an object");
    return false;
  }
  if (walk_node(&w, schema, "", NULL, 0)) return true;
  snprintf(why, n, "%s", w.problem);
  return false;
}

bool at_has_ref(const json_t *v) { return find_key(v, "$ref") != NULL; }
