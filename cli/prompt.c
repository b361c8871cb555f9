/* Config prompts generated from a connector's spec (its JSON Schema), for
 * `sluice source|destination create` on a terminal without --config:
 * types, enums and oneOf choices from a numbered list, defaults on Enter,
 * required fields insisted on, airbyte_secret fields read without echo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "prompt.h"

#define MAX_TRIES 5 /* wrong answers to one field before giving up */

typedef struct prompter {
  FILE *in, *out;
  char *line;
  size_t cap;
} prompter;

/* One answer line, without its newline; NULL at end of input. With secret
 * the terminal does not echo it. */
static const char *ask(prompter *p, const char *label, bool secret) {
  struct termios old, quiet;
  int fd = fileno(p->in);
  bool hidden = secret && isatty(fd) && tcgetattr(fd, &old) == 0;
  /* Echo off before the prompt shows, and never TCSAFLUSH: an answer typed
   * ahead must not be thrown away. */
  if (hidden) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    tcsetattr(fd, TCSANOW, &quiet);
  }
  fputs(label, p->out);
  fflush(p->out);
  ssize_t n = getline(&p->line, &p->cap, p->in);
  if (hidden) tcsetattr(fd, TCSANOW, &old);
  if (n < 0) return NULL;
  while (n > 0 && (p->line[n - 1] == '\n' || p->line[n - 1] == '\r')) p->line[--n] = 0;
  return p->line;
}

static const char *title_of(const json_t *schema, const char *key) {
  const char *t = json_string_value(json_object_get(schema, "title"));
  return t ? t : key;
}

/* Properties in the spec's "order", then by name. */
static int cmp_props(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  json_t *ox = json_object_get(json_object_get(x, "s"), "order"), *oy = json_object_get(json_object_get(y, "s"), "order");
  int64_t ix = json_is_integer(ox) ? json_integer_value(ox) : INT32_MAX, iy = json_is_integer(oy) ? json_integer_value(oy) : INT32_MAX;
  if (ix != iy) return ix < iy ? -1 : 1;
  return strcmp(json_string_value(json_object_get(x, "k")), json_string_value(json_object_get(y, "k")));
}

static bool is_required(const json_t *schema, const char *key) {
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(schema, "required"), i, r) if (json_is_string(r) && !strcmp(json_string_value(r), key)) return true;
  return false;
}

static const char *type_of(const json_t *s) {
  json_t *t = json_object_get(s, "type");
  if (json_is_string(t)) return json_string_value(t);
  size_t i;
  json_t *e;
  json_array_foreach(t, i, e) if (json_is_string(e) && strcmp(json_string_value(e), "null")) return json_string_value(e);
  return json_object_get(s, "properties") ? "object" : "string";
}

static sl_code fill_object(prompter *p, const json_t *schema, json_t *obj, const char *path, sl_err *err);

/* A value typed in for schema s; NULL when the text does not fit (*why says why). */
static json_t *parse_answer(const json_t *s, const char *text, const char **why) {
  const char *type = type_of(s);
  char *end;
  if (!strcmp(type, "integer")) {
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text && !*end && !errno) return json_integer(v);
    *why = "a whole number is expected";
  } else if (!strcmp(type, "number")) {
    double v = strtod(text, &end);
    if (*text && !*end) return json_real(v);
    *why = "a number is expected";
  } else if (!strcmp(type, "boolean")) {
    if (!strcmp(text, "y") || !strcmp(text, "yes") || !strcmp(text, "true")) return json_true();
    if (!strcmp(text, "n") || !strcmp(text, "no") || !strcmp(text, "false")) return json_false();
    *why = "answer y or n";
  } else if (!strcmp(type, "array")) {
    json_t *a = json_array(), *items = json_object_get(s, "items");
    char *copy = strdup(text), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      while (*t == ' ') t++;
      json_t *v = items ? parse_answer(items, t, why) : json_string(t);
      if (!v) {
        json_decref(a);
        a = NULL;
        break;
      }
      json_array_append_new(a, v);
    }
    free(copy);
    return a;
  } else {
    return json_string(text);
  }
  return NULL;
}

/* Pick one of n choices by number (or by the text of one); -1 at end of input. */
static int choose(prompter *p, const char *label, const char *const *names, size_t n, int deflt, const char *path, sl_err *err) {
  fprintf(p->out, "%s:\n", label);
  for (size_t i = 0; i < n; i++) fprintf(p->out, "  %zu) %s%s\n", i + 1, names[i], (int)i == deflt ? " (default)" : "");
  char q[64];
  snprintf(q, sizeof q, "choose 1-%zu%s: ", n, deflt >= 0 ? " [default]" : "");
  for (int tries = 0; tries < MAX_TRIES; tries++) {
    const char *a = ask(p, q, false);
    if (!a) {
      sl_err_set(err, SL_EUSAGE, "config prompt: the input ended at %s", path);
      return -1;
    }
    if (!*a && deflt >= 0) return deflt;
    char *end;
    long k = strtol(a, &end, 10);
    if (*a && !*end && k >= 1 && (size_t)k <= n) return (int)k - 1;
    for (size_t i = 0; i < n; i++)
      if (!strcmp(a, names[i])) return (int)i;
    fprintf(p->out, "  %s: answer a number from 1 to %zu\n", path, n);
  }
  sl_err_set(err, SL_EUSAGE, "config prompt: no valid choice for %s", path);
  return -1;
}

static sl_code ask_enum(prompter *p, const json_t *s, const char *label, const char *path, json_t **out, sl_err *err) {
  json_t *e = json_object_get(s, "enum"), *d = json_object_get(s, "default");
  size_t n = json_array_size(e), i;
  const char **names = calloc(n ? n : 1, sizeof *names);
  char **texts = calloc(n ? n : 1, sizeof *texts);
  int deflt = -1;
  for (i = 0; i < n; i++) {
    json_t *v = json_array_get(e, i);
    texts[i] = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
    names[i] = texts[i];
    if (d && json_equal(d, v)) deflt = (int)i;
  }
  int k = choose(p, label, names, n, deflt, path, err);
  for (i = 0; i < n; i++) free(texts[i]);
  free(texts);
  free(names);
  if (k < 0) return SL_EUSAGE;
  *out = json_incref(json_array_get(e, (size_t)k));
  return SL_EOK;
}

/* A oneOf object: pick an option by its title, set its const fields, then
 * ask the option's other properties. */
static sl_code ask_one_of(prompter *p, const json_t *s, const char *label, const char *path, json_t **out, sl_err *err) {
  json_t *opts = json_object_get(s, "oneOf");
  size_t n = json_array_size(opts), i;
  const char **names = calloc(n ? n : 1, sizeof *names);
  for (i = 0; i < n; i++) {
    json_t *o = json_array_get(opts, i);
    names[i] = json_string_value(json_object_get(o, "title"));
    if (!names[i]) names[i] = json_string_value(json_object_get(o, "description"));
    if (!names[i]) names[i] = "(untitled)";
  }
  int k = choose(p, label, names, n, -1, path, err);
  free(names);
  if (k < 0) return SL_EUSAGE;
  json_t *opt = json_array_get(opts, (size_t)k), *obj = json_object();
  const char *key;
  json_t *ps;
  json_object_foreach(json_object_get(opt, "properties"), key, ps) {
    json_t *c = json_object_get(ps, "const");
    if (!c && json_array_size(json_object_get(ps, "enum")) == 1) c = json_array_get(json_object_get(ps, "enum"), 0);
    if (c) json_object_set(obj, key, c);
  }
  sl_code rc = fill_object(p, opt, obj, path, err);
  if (rc) json_decref(obj);
  else *out = obj;
  return rc;
}

/* One field: *out is the value, or NULL when an optional field is skipped. */
static sl_code ask_field(prompter *p, const json_t *s, const char *key, bool required, const char *path, json_t **out, sl_err *err) {
  *out = NULL;
  char label[512];
  const char *desc = json_string_value(json_object_get(s, "description"));
  snprintf(label, sizeof label, "%s%s", title_of(s, key), required ? "" : " (optional)");
  if (json_object_get(s, "oneOf")) return ask_one_of(p, s, label, path, out, err);
  if (json_object_get(s, "enum")) return ask_enum(p, s, label, path, out, err);
  if (!strcmp(type_of(s), "object")) {
    json_t *obj = json_object();
    sl_code rc = fill_object(p, s, obj, path, err);
    if (rc) json_decref(obj);
    else *out = obj;
    return rc;
  }
  bool secret = json_is_true(json_object_get(s, "airbyte_secret"));
  json_t *d = json_object_get(s, "default");
  char *dtext = d && !secret ? (json_is_string(d) ? strdup(json_string_value(d)) : json_dumps(d, JSON_ENCODE_ANY)) : NULL;
  char q[1200];
  const char *type = type_of(s);
  snprintf(q, sizeof q, "%s%s%s%s%s%s: ", label, !strcmp(type, "boolean") ? " (y/n)" : !strcmp(type, "array") ? " (comma-separated)" : "",
           secret ? " (hidden)" : "", dtext ? " [" : "", dtext ? dtext : "", dtext ? "]" : "");
  free(dtext);
  if (desc) fprintf(p->out, "  %.*s\n", (int)strcspn(desc, "\n"), desc);
  for (int tries = 0; tries < MAX_TRIES; tries++) {
    const char *a = ask(p, q, secret);
    if (!a) return sl_err_set(err, SL_EUSAGE, "config prompt: the input ended at %s", path);
    if (!*a) {
      if (d) {
        *out = json_incref(d);
        return SL_EOK;
      }
      if (!required) return SL_EOK;
      fprintf(p->out, "  %s is required\n", path);
      continue;
    }
    const char *why = "";
    json_t *v = parse_answer(s, a, &why);
    if (v) {
      *out = v;
      return SL_EOK;
    }
    fprintf(p->out, "  %s: %s\n", path, why);
  }
  return sl_err_set(err, SL_EUSAGE, "config prompt: no valid value for %s after %d tries", path, MAX_TRIES);
}

static sl_code fill_object(prompter *p, const json_t *schema, json_t *obj, const char *path, sl_err *err) {
  json_t *props = json_object_get(schema, "properties");
  size_t n = json_object_size(props), k = 0;
  json_t **list = calloc(n ? n : 1, sizeof *list);
  const char *key;
  json_t *ps;
  json_object_foreach(props, key, ps) list[k++] = json_pack("{s:s, s:O}", "k", key, "s", ps);
  qsort(list, k, sizeof *list, cmp_props);
  sl_code rc = SL_EOK;
  for (size_t i = 0; i < k && !rc; i++) {
    key = json_string_value(json_object_get(list[i], "k"));
    ps = json_object_get(list[i], "s");
    if (json_object_get(obj, key)) continue; /* given with --set, or an option's const */
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", path, key);
    json_t *v = NULL;
    if (!(rc = ask_field(p, ps, key, is_required(schema, key), sub, &v, err)) && v) json_object_set_new(obj, key, v);
  }
  for (size_t i = 0; i < k; i++) json_decref(list[i]);
  free(list);
  return rc;
}

sl_code cli_prompt_config(const json_t *spec, json_t *config, FILE *in, FILE *out, sl_err *err) {
  prompter p = {in, out, NULL, 0};
  fprintf(out, "Configure the connector (Enter takes the [default]; secrets are not shown as you type):\n");
  sl_code rc = fill_object(&p, spec, config, "", err);
  free(p.line);
  return rc;
}
