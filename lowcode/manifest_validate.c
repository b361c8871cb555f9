/* Manifest validation: the resolved manifest checked against the component
 * table (components_table.c, derived from declarative_component_schema.yaml)
 * and against what sluice's engine supports. Like the CDK, it validates what
 * the streams, check and spec use, not unused `definitions`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "components.h"
#include "sluice/interp.h"
#include "manifest_int.h"

#define MAX_DEPTH 200
#define MAX_ALTS 32

typedef struct vctx {
  const sl_manifest *m;
  sl_manifest_issue_fn fn;
  void *ud;
  int errors, warnings;
} vctx;

/* ---- spec strings: "a|@B|[c|@D]" ---- */

typedef struct alt {
  const char *s;
  size_t n;
} alt;

/* Splits a spec at its top-level '|' into alts; returns how many. */
static int split(const char *spec, size_t len, alt *out) {
  int n = 0, depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    char ch = i < len ? spec[i] : '|';
    if (ch == '[') depth++;
    else if (ch == ']') depth--;
    else if (ch == '|' && depth == 0 && n < MAX_ALTS) {
      out[n++] = (alt){spec + start, i - start};
      start = i + 1;
    }
  }
  return n;
}

static bool alt_is(const alt *a, const char *word) { return a->n == strlen(word) && !memcmp(a->s, word, a->n); }

/* The component of an "@Name" alt. */
static const sl_lc_component *alt_component(const alt *a) {
  char name[128];
  if (a->n < 2 || a->s[0] != '@' || a->n - 1 >= sizeof name) return NULL;
  memcpy(name, a->s + 1, a->n - 1);
  name[a->n - 1] = 0;
  return sl_lc_by_name(name);
}

/* Readable form of a spec for messages: "@A|@B" -> "A or B". */
static void describe(const char *spec, size_t len, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (size_t i = 0; i < len && k + 8 < n; i++) {
    if (spec[i] == '@') continue;
    if (spec[i] == '|') {
      k += (size_t)snprintf(buf + k, n - k, " or ");
      continue;
    }
    if (spec[i] == '[') {
      k += (size_t)snprintf(buf + k, n - k, "list of ");
      continue;
    }
    if (spec[i] == ']') continue;
    buf[k++] = spec[i];
    buf[k] = 0;
  }
  if (k >= n) buf[n - 1] = 0;
}

static const char *kind_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "a mapping";
  case JSON_ARRAY: return "a list";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* ---- reporting ---- */

/* A value and how it sits in its container: locations are worked out only
 * when something is reported. */
typedef struct at {
  const json_t *v, *parent;
  const char *key;
  size_t index;
} at;

static void report(vctx *c, sl_manifest_level level, const at *a, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(vctx *c, sl_manifest_level level, const at *a, const char *component, const char *fmt, ...) {
  char msg[1024], where[768];
  if (a->parent) sl_manifest_where_member(c->m, a->parent, a->key, a->index, where, sizeof where);
  else sl_manifest_where(c->m, a->v, where, sizeof where);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (level == SL_MANIFEST_WARNING) c->warnings++;
  else c->errors++;
  sl_manifest_issue is = {.level = level, .where = where, .message = msg, .component = component};
  if (c->fn) c->fn(&is, c->ud);
}

/* ---- checking ---- */

static void check_component(vctx *c, const json_t *v, const sl_lc_component *def, int depth);
static void check_value(vctx *c, const json_t *v, const char *spec, size_t len, const char *enumv,
                        const json_t *parent, const char *key, size_t index, int depth);

static bool shallow_ok(const json_t *v, const alt *alts, int n) {
  for (int i = 0; i < n; i++) {
    const alt *a = &alts[i];
    if (alt_is(a, "any")) return true;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
      if (alt_is(a, "object") || a->s[0] == '@') return true;
      break;
    case JSON_ARRAY:
      if (a->s[0] == '[') return true;
      break;
    case JSON_STRING:
      if (alt_is(a, "string") || alt_is(a, "template")) return true;
      break;
    case JSON_INTEGER:
      if (alt_is(a, "integer") || alt_is(a, "number")) return true;
      break;
    case JSON_REAL:
      if (alt_is(a, "number")) return true;
      break;
    case JSON_TRUE:
    case JSON_FALSE:
      if (alt_is(a, "boolean")) return true;
      break;
    default:
      if (alt_is(a, "null")) return true;
    }
  }
  return false;
}

static bool in_enum(const json_t *v, const char *enumv) {
  char text[256];
  if (json_is_string(v)) snprintf(text, sizeof text, "%s", json_string_value(v));
  else if (json_is_integer(v)) snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else return true; /* only string and integer enums occur */
  size_t tl = strlen(text);
  for (const char *p = enumv; *p;) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == tl && !memcmp(p, text, n)) return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

static bool is_template(const alt *alts, int n) {
  for (int i = 0; i < n; i++)
    if (alt_is(&alts[i], "template")) return true;
  return false;
}

/* Templates are compiled, as the runtime will: syntax errors surface here. */
static void check_template(vctx *c, const at *where) {
  const char *src = json_string_value(where->v);
  if (!strstr(src, "{{") && !strstr(src, "{%")) return;
  sl_err err = SL_ERR_INIT;
  sl_tmpl *t = sl_tmpl_compile(src, "", &err);
  if (t) {
    sl_tmpl_free(t);
    return;
  }
  const char *msg = err.msg;
  while (*msg == ':' || *msg == ' ') msg++; /* the empty `where` we passed */
  report(c, SL_MANIFEST_ERROR, where, NULL, "template does not compile: %s", msg);
}

/* A mapping where the spec allows components. */
static void check_object(vctx *c, const at *where, const alt *alts, int n, const char *spec, size_t len,
                         int depth) {
  const json_t *v = where->v;
  const json_t *t = json_object_get(v, "type");
  bool free_form = false;
  const sl_lc_component *untyped = NULL;
  for (int i = 0; i < n; i++) {
    if (alt_is(&alts[i], "object") || alt_is(&alts[i], "any")) free_form = true;
    const sl_lc_component *def = alt_component(&alts[i]);
    if (!def) continue;
    if (json_is_string(t) && def->type_name && !strcmp(def->type_name, json_string_value(t))) {
      check_component(c, v, def, depth + 1);
      return;
    }
    if (!def->type_name && !untyped) untyped = def;
    /* a definition without a `type` property written with one as its name
     * (`type: TypesMap` in airtable): the CDK takes it */
    if (json_is_string(t) && !def->type_name && !strcmp(def->name, json_string_value(t))) {
      check_component(c, v, def, depth + 1);
      return;
    }
  }
  char want[512];
  describe(spec, len, want, sizeof want);
  if (json_is_string(t)) {
    const char *tv = json_string_value(t);
    const sl_lc_component *known = sl_lc_by_type(tv);
    if (free_form) return; /* a free-form mapping that happens to have a `type` key */
    if (known) {
      report(c, SL_MANIFEST_ERROR, where, NULL, "component %s is not allowed here (expected %s)", tv, want);
      check_component(c, v, known, depth + 1);
    } else if (!strncmp(tv, "Custom", 6) || json_object_get(v, "class_name")) {
      report(c, SL_MANIFEST_ERROR, where, tv, "%s needs Python (custom components): not supported", tv);
    } else {
      report(c, SL_MANIFEST_ERROR, where, NULL, "unknown component type %s (expected %s)", tv, want);
    }
    return;
  }
  if (t && !free_form) {
    report(c, SL_MANIFEST_ERROR, where, NULL, "`type` must be a string (expected %s)", want);
    return;
  }
  if (untyped) {
    check_component(c, v, untyped, depth + 1);
  } else if (!free_form) {
    const json_t *cls = json_object_get(v, "class_name");
    if (cls)
      report(c, SL_MANIFEST_ERROR, where, json_is_string(cls) ? json_string_value(cls) : "class_name",
             "custom component %s needs Python: not supported", json_is_string(cls) ? json_string_value(cls) : "");
    else
      report(c, SL_MANIFEST_ERROR, where, NULL, "missing `type` (expected %s)", want);
  }
}

static void check_value(vctx *c, const json_t *v, const char *spec, size_t len, const char *enumv,
                        const json_t *parent, const char *key, size_t index, int depth) {
  at where = {v, parent, key, index};
  if (depth > MAX_DEPTH) return;
  alt alts[MAX_ALTS];
  int n = split(spec, len, alts);
  if (!shallow_ok(v, alts, n)) {
    char want[512];
    describe(spec, len, want, sizeof want);
    report(c, SL_MANIFEST_ERROR, &where, NULL, "expected %s, got %s", want, kind_name(v));
    return;
  }
  if (json_is_object(v)) {
    check_object(c, &where, alts, n, spec, len, depth);
  } else if (json_is_array(v)) {
    /* the first list alternative whose items all fit (shallowly) */
    const alt *use = NULL;
    for (int i = 0; i < n && !use; i++) {
      if (alts[i].s[0] != '[') continue;
      alt inner[MAX_ALTS];
      int m = split(alts[i].s + 1, alts[i].n - 2, inner);
      bool fits = true;
      for (size_t j = 0; j < json_array_size(v) && fits; j++) fits = shallow_ok(json_array_get(v, j), inner, m);
      if (fits) use = &alts[i];
    }
    if (!use) {
      for (int i = 0; i < n && !use; i++)
        if (alts[i].s[0] == '[') use = &alts[i];
    }
    if (!use) return; /* "any" */
    for (size_t j = 0; j < json_array_size(v); j++)
      check_value(c, json_array_get(v, j), use->s + 1, use->n - 2, NULL, v, NULL, j, depth + 1);
  } else if (json_is_string(v) && is_template(alts, n)) {
    check_template(c, &where);
  } else if (enumv && !in_enum(v, enumv)) {
    report(c, SL_MANIFEST_ERROR, &where, NULL, "expected one of %s", enumv);
  }
}

static void check_component(vctx *c, const json_t *v, const sl_lc_component *def, int depth) {
  const at self = {v, NULL, NULL, 0}, *where = &self;
  if (depth > MAX_DEPTH) return;
  if (def->type_name) {
    const char *why = sl_lc_unsupported(def->type_name);
    if (why) {
      const json_t *cls = json_object_get(v, "class_name");
      if (json_is_string(cls))
        report(c, SL_MANIFEST_ERROR, where, def->type_name, "%s (class %s) %s: not supported", def->type_name,
               json_string_value(cls), why);
      else
        report(c, SL_MANIFEST_ERROR, where, def->type_name, "%s %s", def->type_name,
               !strcmp(why, "needs Python") ? "needs Python: not supported" : "is not supported yet");
    }
  }
  for (const sl_lc_field *f = def->fields; f->name; f++)
    if ((f->flags & SL_LC_REQUIRED) && !json_object_get(v, f->name)) {
      char want[512];
      describe(f->spec, strlen(f->spec), want, sizeof want);
      report(c, SL_MANIFEST_ERROR, where, NULL, "%s: missing required field `%s` (%s)", def->name, f->name, want);
    }
  if (!strcmp(def->name, "DeclarativeSource") && !json_object_get(v, "streams") &&
      !json_object_get(v, "dynamic_streams"))
    report(c, SL_MANIFEST_ERROR, where, NULL, "DeclarativeSource: needs `streams` or `dynamic_streams`");
  const json_t *params = json_object_get(v, "$parameters");
  const char *k;
  json_t *mv;
  json_object_foreach((json_t *)v, k, mv) {
    if (!strcmp(k, "type") || !strcmp(k, "$parameters")) continue;
    const sl_lc_field *f = sl_lc_field_of(def, k);
    if (!f) {
      /* fields filled from $parameters are not the author's typo */
      if (def->open || json_object_get(params, k)) continue;
      const at w = {mv, v, k, 0};
      report(c, SL_MANIFEST_WARNING, &w, NULL, "unknown field `%s` for %s (ignored)", k, def->name);
      continue;
    }
    check_value(c, mv, f->spec, strlen(f->spec), f->enumv, v, k, 0, depth + 1);
  }
}

int sl_manifest_validate(const sl_manifest *m, sl_manifest_issue_fn fn, void *ud, int *warnings) {
  vctx c = {.m = m, .fn = fn, .ud = ud};
  const json_t *root = m->root;
  const json_t *t = json_object_get(root, "type");
  const sl_lc_component *def = sl_lc_by_name("DeclarativeSource");
  if (!json_is_string(t) || strcmp(json_string_value(t), "DeclarativeSource")) {
    const at where = {root, NULL, NULL, 0};
    report(&c, SL_MANIFEST_ERROR, &where, NULL, "the top-level type must be DeclarativeSource");
  } else if (def) {
    check_component(&c, root, def, 0);
  }
  if (warnings) *warnings = c.warnings;
  return c.errors;
}

/* ---- the runtime's up-front check ---- */

typedef struct check_acc {
  sl_buf msg;
  int shown;
} check_acc;

static void check_issue(const sl_manifest_issue *is, void *ud) {
  check_acc *a = ud;
  if (is->level != SL_MANIFEST_ERROR) return;
  a->shown++;
  sl_buf_appendf(&a->msg, "\n  %s: %s", is->where, is->message);
}

sl_code sl_manifest_check(const sl_manifest *m, sl_err *err) {
  check_acc a = {.shown = 0};
  sl_buf_init(&a.msg, 1 << 20);
  int errors = sl_manifest_validate(m, check_issue, &a, NULL);
  sl_code rc = SL_EOK;
  if (errors) {
    /* sl_err keeps 1 KiB: the problems go first, the count says how many */
    rc = sl_err_set(err, SL_ECONFIG, "the manifest is not valid or not supported (%d problem%s, `sluice manifest validate` lists them all):%s",
                    errors, errors == 1 ? "" : "s", sl_buf_cstr(&a.msg));
  }
  sl_buf_dispose(&a.msg);
  return rc;
}
