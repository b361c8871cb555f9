/* Which members of a context value a template reads. The fast paths use it
 * to convert only those members of a page or record view into jansson: a
 * paginator reading response.next, a filter reading record['status']. Any
 * use other than reading a member by a constant name (a method call, the
 * value passed whole, a computed subscript) makes the scan answer "whole". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lc.h"

static void add_key(lc_keyset *ks, const char *k, size_t n) {
  for (size_t i = 0; i < ks->n; i++)
    if (strlen(ks->k[i]) == n && !memcmp(ks->k[i], k, n)) return;
  char **nk = realloc(ks->k, (ks->n + 1) * sizeof *nk);
  char *d = nk ? strndup(k, n) : NULL;
  if (!nk || !d) {
    if (nk) ks->k = nk;
    ks->whole = true;
    return;
  }
  ks->k = nk;
  nk[ks->n++] = d;
}

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* A quoted string key at s ('x' or "x"): its length, or 0. */
static size_t quoted(const char *s, const char **k, size_t *n) {
  char q = *s;
  if (q != '\'' && q != '"') return 0;
  const char *e = strchr(s + 1, q);
  if (!e || memchr(s + 1, '\\', (size_t)(e - s - 1))) return 0;
  *k = s + 1;
  *n = (size_t)(e - s - 1);
  return (size_t)(e - s + 1);
}

void lc_keyset_scan(lc_keyset *ks, const sl_tmpl *t, const char *name) {
  if (!t) return;
  const char *src = sl_tmpl_source(t);
  size_t nl = strlen(name);
  for (const char *at = strstr(src, name); at; at = strstr(at + nl, name)) {
    if ((at > src && (ident_char(at[-1]) || at[-1] == '.')) || ident_char(at[nl])) continue;
    ks->used = true;
    const char *r = at + nl, *k;
    size_t n, q;
    if (!strncmp(r, ".get(", 5) && (q = quoted(r + 5, &k, &n)) && (r[5 + q] == ')' || r[5 + q] == ',')) {
      add_key(ks, k, n);
    } else if (r[0] == '.' && ident_char(r[1])) {
      const char *e = r + 1;
      while (ident_char(*e)) e++;
      if (*e == '(') ks->whole = true; /* a method: keys(), items(), ... */
      else add_key(ks, r + 1, (size_t)(e - r - 1));
    } else if (r[0] == '[' && (q = quoted(r + 1, &k, &n)) && r[1 + q] == ']') {
      add_key(ks, k, n);
    } else {
      ks->whole = true;
    }
  }
}

void lc_keyset_dispose(lc_keyset *ks) {
  for (size_t i = 0; i < ks->n; i++) free(ks->k[i]);
  free(ks->k);
  memset(ks, 0, sizeof *ks);
}

/* A template whose value is a plain expression (no statement, conditional,
 * default or .get()): a config key it reads is meant to be there. */
static bool unconditional(const char *s) {
  return !strstr(s, "{%") && !strstr(s, " if ") && !strstr(s, "default") && !strstr(s, " or ") && !strstr(s, ".get(");
}

sl_code lc_check_config_keys(lc_source *src, const json_t *node, const char *const *fields, sl_err *err) {
  sl_code rc = SL_EOK;
  for (; !rc && *fields; fields++) {
    sl_tmpl *t = NULL;
    if ((rc = lc_tmpl_field(src, node, *fields, &t, err)) || !t) break;
    if (unconditional(sl_tmpl_source(t))) {
      lc_keyset ks = {0};
      lc_keyset_scan(&ks, t, "config");
      char where[320];
      for (size_t i = 0; !rc && !ks.whole && i < ks.n; i++)
        if (!json_object_get(src->config, ks.k[i]))
          rc = sl_err_set(err, SL_ECONFIG, "%s: the config has no \"%s\", which the template %s needs",
                          sl_manifest_where_member(src->m, node, *fields, 0, where, sizeof where), ks.k[i],
                          sl_tmpl_source(t));
      lc_keyset_dispose(&ks);
    }
    sl_tmpl_free(t);
  }
  return rc;
}
