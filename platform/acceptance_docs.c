/* The connector_documentation suite (CAT's TestConnectorDocumentation): the
 * connector's docs file read as CommonMark (libcmark, the format CAT's
 * markdown-it parser is set to) and checked for the Prerequisites content,
 * the standard heading order, the standard descriptions under some headings,
 * and working links. Failures name the file and line. */
#include <cmark.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acceptance_int.h"
#include "sluice/buf.h"

#define DOC_MAX ((size_t)16 << 20) /* a docs file, and any text built from it */

static void bputs(sl_buf *b, const char *s) {
  if (*s) sl_buf_append(b, s, strlen(s)); /* an empty buffer has no data yet: no memcpy from NULL */
}

/* The buffer's text as a string of its own; the buffer is emptied. */
static char *take(sl_buf *b) {
  char *s = strdup(sl_buf_cstr(b));
  sl_buf_dispose(b);
  return s;
}

typedef struct {
  char *name;    /* CAT's heading name: the literal of its first inline */
  int line, end; /* first and last source line of the heading */
} doc_heading;

typedef struct {
  char path[PATH_MAX];
  const char *shown; /* path in messages: relative to the cwd when under it */
  char *src;
  char **lines; /* lines[i] is source line i + 1, without its newline */
  size_t nlines;
  cmark_node *root;
  doc_heading *h; /* the document's top-level headings, in order */
  size_t nh;
} doc;

static void doc_free(doc *d) {
  for (size_t i = 0; i < d->nh; i++) free(d->h[i].name);
  free(d->h), free(d->lines), free(d->src);
  if (d->root) cmark_node_free(d->root);
  memset(d, 0, sizeof *d);
}

/* A setext underline: up to 3 spaces, a run of '=' or '-', trailing blanks. */
static bool underline(const char *l) {
  l += strspn(l, " ");
  if (*l != '=' && *l != '-') return false;
  l += strspn(l, *l == '=' ? "=" : "-");
  return l[strspn(l, " \t")] == 0;
}

/* The last line of a heading: its own for ATX (1-6 '#' then a blank or the
 * end), the underline for setext. */
static int heading_end(const doc *d, int line) {
  const char *l = d->lines[line - 1];
  size_t sp = strspn(l, " "), n = strspn(l + sp, "#");
  if (sp < 4 && n >= 1 && n <= 6 && (!l[sp + n] || l[sp + n] == ' ' || l[sp + n] == '\t')) return line;
  for (int i = line + 1; i <= (int)d->nlines; i++)
    if (underline(d->lines[i - 1])) return i;
  return line;
}

static bool doc_load(const char *path, doc *d, char *why, size_t n) {
  memset(d, 0, sizeof *d);
  if (!realpath(path, d->path)) {
    snprintf(why, n, "no documentation: %s: %s", path, strerror(errno));
    return false;
  }
  char cwd[PATH_MAX];
  size_t cl = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
  d->shown = cl && !strncmp(d->path, cwd, cl) && d->path[cl] == '/' ? d->path + cl + 1 : d->path;
  struct stat st;
  if (stat(d->path, &st) == 0 && (size_t)st.st_size > DOC_MAX) {
    snprintf(why, n, "%s: larger than %zu MiB", d->shown, DOC_MAX >> 20);
    return false;
  }
  FILE *f = fopen(d->path, "r");
  size_t cap = 0;
  ssize_t len = f ? getdelim(&d->src, &cap, 0, f) : -1;
  if (f) fclose(f);
  if (len < 0) {
    snprintf(why, n, "no documentation: %s: %s", path, f ? "empty or unreadable" : strerror(errno));
    return false;
  }
  d->root = cmark_parse_document(d->src, (size_t)len, CMARK_OPT_DEFAULT);
  cmark_consolidate_text_nodes(d->root);
  /* lines, split in place (the parser has its own copy) */
  size_t nl = 1;
  for (ssize_t i = 0; i < len; i++) nl += d->src[i] == '\n';
  d->lines = calloc(nl, sizeof *d->lines);
  for (char *p = d->src; p && d->lines;) {
    d->lines[d->nlines++] = p;
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    if (e && e > p && e[-1] == '\r') e[-1] = 0;
    p = e ? e + 1 : NULL;
    if (p && !*p) break;
  }
  for (cmark_node *c = cmark_node_first_child(d->root); c; c = cmark_node_next(c)) {
    if (cmark_node_get_type(c) != CMARK_NODE_HEADING) continue;
    doc_heading *h = realloc(d->h, (d->nh + 1) * sizeof *h);
    if (!h) break;
    d->h = h;
    cmark_node *first = cmark_node_first_child(c);
    const char *lit = first ? cmark_node_get_literal(first) : NULL;
    int line = cmark_node_get_start_line(c);
    d->h[d->nh++] = (doc_heading){strdup(lit ? lit : ""), line, line >= 1 && line <= (int)d->nlines ? heading_end(d, line) : line};
  }
  return d->lines != NULL;
}

/* Source lines after heading i up to the next heading: [*from, *to] (1-based). */
static void section(const doc *d, size_t i, int *from, int *to) {
  *from = d->h[i].end + 1;
  *to = i + 1 < d->nh ? d->h[i + 1].line - 1 : (int)d->nlines;
}

static ssize_t find_heading(const doc *d, const char *name) {
  for (size_t i = 0; i < d->nh; i++)
    if (!strcmp(d->h[i].name, name)) return (ssize_t)i;
  return -1;
}

/* ---- the standard template ---- */

/* {connector_name} and {connector_type} substituted. */
static char *expand(const char *tpl, const char *name, const char *type) {
  sl_buf b;
  sl_buf_init(&b, DOC_MAX);
  for (const char *p = tpl; *p;) {
    if (!strncmp(p, "{connector_name}", 16)) bputs(&b, name), p += 16;
    else if (!strncmp(p, "{connector_type}", 16)) bputs(&b, type), p += 16;
    else sl_buf_putc(&b, *p++);
  }
  return take(&b);
}

#define SPECIFIC "<connector-specific headings>"

/* The headings in template order. Alternatives are variants of one heading
 * (sluice's own wording next to Airbyte's); optional ones may be left out. */
static const struct {
  const char *alt[2];
  bool optional;
} tpl_headings[] = {
    {{"{connector_name}"}, false},
    {{"Prerequisites"}, false},
    {{"Setup guide"}, false},
    {{"Set up {connector_name}"}, false},
    {{"For Airbyte Cloud:"}, true},
    {{"For Airbyte Open Source:"}, true},
    {{"Set up the {connector_name} connector in Airbyte", "Set up the {connector_name} connector in sluice"}, true},
    {{"For Airbyte Cloud:"}, true},
    {{"For Airbyte Open Source:"}, true},
    {{"Supported sync modes"}, false},
    {{"Supported Streams"}, false},
    {{SPECIFIC}, true},
    {{"Performance considerations"}, true},
    {{"Data type map"}, true},
    {{"Troubleshooting"}, true},
    {{"Tutorials"}, true},
    {{"Changelog"}, false},
};
#define N_TPL (sizeof tpl_headings / sizeof tpl_headings[0])

/* The description each of these headings starts with (sluice's wording; the
 * first line is the blank line after the heading). In a documentation line
 * every link target counts as {docs_link}. */
static const struct {
  const char *heading, *text;
} tpl_desc[] = {
    {"{connector_name}", "\nThis page is the setup guide and reference for the [{connector_name}]({docs_link}) {connector_type} connector.\n"},
    {"For Airbyte Cloud:", "\n1. Sign in to your [Airbyte Cloud]({docs_link}) workspace.\n"},
    {"For Airbyte Open Source:", "\n1. Open the dashboard of your Airbyte Open Source deployment.\n"},
    {"Supported sync modes", "\nThe {connector_name} {connector_type} connector supports these [sync modes]({docs_link}):\n"},
    {"Tutorials", "\nWith the {connector_name} {connector_type} connector set up, these {connector_name} tutorials are a next step:\n"},
};

typedef struct {
  char *alt[2];
  bool optional, specific;
} heading_tpl;

static void tpl_build(heading_tpl *t, const char *name, const char *type) {
  for (size_t i = 0; i < N_TPL; i++) {
    t[i].optional = tpl_headings[i].optional;
    t[i].specific = !strcmp(tpl_headings[i].alt[0], SPECIFIC);
    for (size_t a = 0; a < 2; a++) t[i].alt[a] = tpl_headings[i].alt[a] ? expand(tpl_headings[i].alt[a], name, type) : NULL;
  }
}

static void tpl_free(heading_tpl *t) {
  for (size_t i = 0; i < N_TPL; i++) free(t[i].alt[0]), free(t[i].alt[1]);
}

static bool tpl_is(const heading_tpl *t, const char *h) {
  return !t->specific && ((t->alt[0] && !strcmp(t->alt[0], h)) || (t->alt[1] && !strcmp(t->alt[1], h)));
}

static bool in_template(const heading_tpl *t, const char *h) {
  for (size_t i = 0; i < N_TPL; i++)
    if (tpl_is(&t[i], h)) return true;
  return false;
}

/* ---- prerequisites ---- */

static const char *const cred_fields[] = {"credentials", "client_id", "client_secret", "access_token", "refresh_token", "authorization", NULL};
static const char *const cred_words[] = {"account", "auth", "credentials", "access", NULL};

static bool in_strs(const char *const *l, const char *s) {
  for (; *l; l++)
    if (!strcmp(*l, s)) return true;
  return false;
}

static void check_prerequisites(at_ctx *c, at_input *in, const doc *d, const json_t *spec) {
  char nm[96];
  at_name(in, "test_prerequisites_content", nm, sizeof nm);
  ssize_t hi = find_heading(d, "Prerequisites");
  if (hi < 0) {
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s: no Prerequisites heading", d->shown);
    return;
  }
  int from, to;
  section(d, (size_t)hi, &from, &to);
  sl_buf b;
  sl_buf_init(&b, DOC_MAX);
  for (int l = from; l <= to; l++) bputs(&b, d->lines[l - 1]), sl_buf_putc(&b, '|');
  char *text = take(&b);
  for (char *p = text; p && *p; p++) *p = (char)tolower((unsigned char)*p);
  const json_t *cs = json_object_get(spec, "connectionSpecification");
  const json_t *req = json_object_get(cs, "required"), *props = json_object_get(cs, "properties");
  bool creds = false;
  for (size_t k = 0; cred_fields[k]; k++) creds |= json_object_get(props, cred_fields[k]) != NULL;
  size_t i;
  json_t *r;
  json_array_foreach(req, i, r) creds |= in_strs(cred_fields, json_string_value(r) ?: "");
  char *missing = NULL;
  json_array_foreach(req, i, r) {
    const char *f = json_string_value(r) ?: "";
    if (creds && in_strs(cred_fields, f)) continue; /* covered by the credentials words */
    const char *title = json_string_value(json_object_get(json_object_get(props, f), "title")) ?: f;
    char *low = strdup(title);
    for (char *p = low; p && *p; p++) *p = (char)tolower((unsigned char)*p);
    if (low && !strstr(text ?: "", low) && !missing) missing = strdup(title);
    free(low);
  }
  bool words = !creds;
  for (size_t k = 0; !words && cred_words[k]; k++) words = strstr(text ?: "", cred_words[k]) != NULL;
  if (missing)
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s:%d: the Prerequisites section does not mention the required field \"%s\" (its spec title)",
              d->shown, d->h[hi].line, missing);
  else if (!words)
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL,
              "%s:%d: the spec has credentials, but the Prerequisites section names none of: account, auth, credentials, access",
              d->shown, d->h[hi].line);
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  free(missing);
  free(text);
}

/* ---- structure ---- */

/* CAT's reading of "Step N:" headings: after the last "Step 1: " heading,
 * further "Step N[.M]: " headings are sub-steps and dropped (up to "Step 2: ");
 * the "Step 1: " / "Step 2: " prefixes are removed from the rest. */
static bool step_heading(const char *h) {
  if (strncmp(h, "Step ", 5)) return false;
  const char *p = h + 5;
  if (!isdigit((unsigned char)*p)) return false;
  while (isdigit((unsigned char)*p)) p++;
  if (*p && *p != ':' ) p++; /* one separator, as ".?" */
  while (isdigit((unsigned char)*p)) p++;
  return p[0] == ':' && p[1] == ' ';
}

static size_t prepare_headings(const doc *d, size_t *idx) {
  size_t n = 0, one = 0;
  for (size_t i = 0; i < d->nh; i++) {
    idx[n++] = i;
    if (strstr(d->h[i].name, "Step 1: ")) one = i;
  }
  if (!one) return n;
  const char *step = "Step 1: ";
  size_t i = one, out = one;
  size_t j = one + 1;
  while (j < n && strstr(d->h[idx[i]].name, step) && step_heading(d->h[idx[j]].name)) {
    if (strstr(d->h[idx[j]].name, "Step 2: ")) {
      step = "Step 2: ";
      idx[++out] = idx[j];
      i = j++;
      continue;
    }
    j++; /* a sub-step: dropped */
  }
  while (j < n) idx[++out] = idx[j++];
  return out + 1;
}

static const char *strip_step(const char *h, char *buf, size_t n) {
  const char *p = strstr(h, "Step 1: ") ? "Step 1: " : strstr(h, "Step 2: ") ? "Step 2: " : NULL;
  if (!p) return h;
  sl_buf b;
  sl_buf_init(&b, DOC_MAX);
  for (const char *s = h; *s;) {
    if (!strncmp(s, p, 8)) s += 8;
    else sl_buf_putc(&b, *s++);
  }
  char *o = take(&b);
  snprintf(buf, n, "%s", o ?: "");
  free(o);
  return buf;
}

static void missing_list(const heading_tpl *t, size_t from, bool required_only, sl_buf *b) {
  bool any = false;
  for (size_t i = from; i < N_TPL; i++) {
    if (t[i].specific || (required_only && t[i].optional)) continue;
    bputs(b, any ? ", '" : "'"), bputs(b, t[i].alt[0]), sl_buf_putc(b, '\'');
    any = true;
  }
  if (!any) bputs(b, "none");
}

/* Edit distance between a and b ignoring case, or max + 1 once above max. */
static size_t distance(const char *a, const char *b, size_t max) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 128 || lb > 128 || (la > lb ? la - lb : lb - la) > max) return max + 1;
  size_t row[129];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0], best = row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      row[j] = sub < up + 1 ? sub : up + 1;
      if (row[j - 1] + 1 < row[j]) row[j] = row[j - 1] + 1;
      if (row[j] < best) best = row[j];
      diag = up;
    }
    if (best > max) return max + 1;
  }
  return row[lb];
}

/* The template heading a misplaced or misnamed heading most likely means
 * (at most 2 edits away, case ignored), for the message; NULL if none or
 * if it is that heading already. */
static const char *closest(const heading_tpl *t, const char *name) {
  const char *best = NULL;
  size_t bd = 3;
  for (size_t k = 0; k < N_TPL; k++) {
    if (t[k].specific) continue;
    size_t dd = distance(t[k].alt[0], name, 2);
    if (dd < bd) bd = dd, best = t[k].alt[0];
  }
  return best && strcmp(best, name) ? best : NULL;
}

static void check_structure(at_ctx *c, at_input *in, const doc *d, const heading_tpl *t) {
  char nm[96];
  at_name(in, "test_docs_structure", nm, sizeof nm);
  size_t *idx = calloc(d->nh + 1, sizeof *idx);
  size_t n = idx ? prepare_headings(d, idx) : 0, hi = 0, ti = 0;
  char buf[512];
  while (hi < n && ti < N_TPL) {
    const doc_heading *h = &d->h[idx[hi]];
    const char *name = strip_step(h->name, buf, sizeof buf);
    if (t[ti].specific) {
      if (!in_template(t, name)) hi++; /* a connector-specific heading */
      else ti++;
      continue;
    }
    if (tpl_is(&t[ti], name)) {
      hi++, ti++;
      continue;
    }
    if (t[ti].optional) {
      ti++;
      continue;
    }
    const char *close = closest(t, name);
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL,
              "%s:%d: heading '%s' is out of place, misnamed or not a template heading here: expected '%s'%s%s%s", d->shown,
              h->line, name, t[ti].alt[0], close ? " (did you mean '" : "", close ? close : "", close ? "'?)" : "");
    free(idx);
    return;
  }
  /* the rest of the template must be optional */
  size_t k = ti;
  while (k < N_TPL && (t[k].optional || t[k].specific)) k++;
  if (k < N_TPL) {
    sl_buf req, all;
    sl_buf_init(&req, DOC_MAX), sl_buf_init(&all, DOC_MAX);
    missing_list(t, ti, true, &req), missing_list(t, ti, false, &all);
    if (n)
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s:%d: required headings missing after this line: %.*s (all missing: %.*s)",
                d->shown, d->h[idx[n - 1]].line, (int)req.len, req.data, (int)all.len, all.data);
    else
      at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%s: no headings; the template requires %.*s", d->shown, (int)req.len, req.data);
    sl_buf_dispose(&req), sl_buf_dispose(&all);
  } else {
    at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  }
  free(idx);
}

/* ---- descriptions ---- */

/* A documentation line with every link target and bare URL as {docs_link}. */
static char *normalise_links(const char *l) {
  sl_buf b;
  sl_buf_init(&b, DOC_MAX);
  for (const char *p = l; *p;) {
    if (p[0] == ']' && p[1] == '(') {
      const char *e = strchr(p + 2, ')');
      if (e) {
        bputs(&b, "]({docs_link})");
        p = e + 1;
        continue;
      }
    }
    if (!strncmp(p, "http://", 7) || !strncmp(p, "https://", 8)) {
      bputs(&b, "{docs_link}");
      p += strcspn(p, " \t)");
      continue;
    }
    sl_buf_putc(&b, *p++);
  }
  return take(&b);
}

static size_t rtrim_len(const char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
  return n;
}

static void check_descriptions(at_ctx *c, at_input *in, const doc *d, const char *name, const char *type) {
  char nm[96];
  at_name(in, "test_docs_descriptions", nm, sizeof nm);
  for (size_t k = 0; k < sizeof tpl_desc / sizeof tpl_desc[0]; k++) {
    char *heading = expand(tpl_desc[k].heading, name, type), *text = expand(tpl_desc[k].text, name, type);
    for (size_t i = 0; i < d->nh; i++) {
      if (strcmp(d->h[i].name, heading)) continue;
      int from, to;
      section(d, i, &from, &to);
      int line = from;
      for (const char *tl = text; *tl; line++) {
        const char *te = strchr(tl, '\n');
        size_t tn = te ? (size_t)(te - tl) : strlen(tl);
        char want[1024];
        snprintf(want, sizeof want, "%.*s", (int)tn, tl);
        char *got = line <= to ? normalise_links(d->lines[line - 1]) : NULL;
        if (!got || rtrim_len(got) != rtrim_len(want) || strncmp(got, want, rtrim_len(want))) {
          at_result(c, in->suite, nm, SL_AT_FAIL, NULL,
                    "%s:%d: the description under '%s' does not follow the template: expected \"%s\", got %s%s%s", d->shown,
                    got ? line : d->h[i].line, heading, want, got ? "\"" : "the end of the section", got ? got : "", got ? "\"" : "");
          free(got), free(heading), free(text);
          return;
        }
        free(got);
        tl = te ? te + 1 : tl + tn;
      }
    }
    free(heading), free(text);
  }
  at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
}

/* ---- links ---- */

typedef struct {
  char *url;
  int line;
} doc_link;

typedef struct {
  doc_link *v;
  size_t n;
} link_list;

static void link_add(link_list *l, const char *url, size_t len, int line) {
  for (size_t i = 0; i < l->n; i++) /* each target once, at its first line */
    if (strlen(l->v[i].url) == len && !strncmp(l->v[i].url, url, len)) return;
  doc_link *v = realloc(l->v, (l->n + 1) * sizeof *v);
  if (!v) return;
  l->v = v;
  l->v[l->n++] = (doc_link){strndup(url, len), line};
}

/* Bare http(s) URLs in prose (CAT's pattern: up to white space or ')'),
 * less trailing sentence punctuation. */
static void bare_urls(link_list *l, const char *s, int line) {
  for (const char *p = s; (p = strstr(p, "http"));) {
    if (strncmp(p, "http://", 7) && strncmp(p, "https://", 8)) {
      p += 4;
      continue;
    }
    size_t n = strcspn(p, " \t\n)<>\"");
    while (n && strchr(".,;:!?'", p[n - 1])) n--;
    link_add(l, p, n, line);
    p += n ? n : 4;
  }
}

/* href="..." and src="..." in raw HTML. */
static void html_urls(link_list *l, const char *s, int line) {
  for (const char *p = s; *p; p++) {
    if (*p == '\n') line++;
    const char *a = !strncasecmp(p, "href=", 5) ? p + 5 : !strncasecmp(p, "src=", 4) ? p + 4 : NULL;
    if (!a || (*a != '"' && *a != '\'')) continue;
    const char *e = strchr(a + 1, *a);
    if (e) link_add(l, a + 1, (size_t)(e - a - 1), line);
  }
}

static void collect_links(const doc *d, link_list *l) {
  cmark_iter *it = cmark_iter_new(d->root);
  cmark_event_type ev;
  while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
    if (ev != CMARK_EVENT_ENTER) continue;
    cmark_node *n = cmark_iter_get_node(it);
    int line = cmark_node_get_start_line(n);
    switch (cmark_node_get_type(n)) {
    case CMARK_NODE_LINK:
    case CMARK_NODE_IMAGE: {
      const char *u = cmark_node_get_url(n);
      if (u && *u) link_add(l, u, strlen(u), line);
      break;
    }
    case CMARK_NODE_TEXT: {
      cmark_node *p = cmark_node_parent(n);
      if (p && cmark_node_get_type(p) != CMARK_NODE_LINK) bare_urls(l, cmark_node_get_literal(n), line);
      break;
    }
    case CMARK_NODE_HTML_BLOCK:
    case CMARK_NODE_HTML_INLINE: html_urls(l, cmark_node_get_literal(n), line); break;
    default: break;
    }
  }
  cmark_iter_free(it);
}

/* GitHub's anchor of a heading: lower case, punctuation dropped, spaces as
 * '-', "-1", "-2"... for repeats. Also every id= / name= in raw HTML. */
static json_t *anchors(cmark_node *root) {
  json_t *set = json_object();
  cmark_iter *it = cmark_iter_new(root);
  cmark_event_type ev;
  while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
    if (ev != CMARK_EVENT_ENTER) continue;
    cmark_node *n = cmark_iter_get_node(it);
    cmark_node_type ty = cmark_node_get_type(n);
    if (ty == CMARK_NODE_HTML_BLOCK || ty == CMARK_NODE_HTML_INLINE) {
      const char *s = cmark_node_get_literal(n);
      for (const char *p = s; p && *p; p++) {
        const char *a = !strncasecmp(p, "id=", 3) ? p + 3 : !strncasecmp(p, "name=", 5) ? p + 5 : NULL;
        if (!a || (*a != '"' && *a != '\'') || (p > s && isalnum((unsigned char)p[-1]))) continue;
        const char *e = strchr(a + 1, *a);
        if (!e) continue;
        char *id = strndup(a + 1, (size_t)(e - a - 1));
        if (id) json_object_set_new(set, id, json_true());
        free(id);
      }
      continue;
    }
    if (ty != CMARK_NODE_HEADING) continue;
    sl_buf b;
    sl_buf_init(&b, DOC_MAX);
    cmark_iter *in = cmark_iter_new(n);
    cmark_event_type e2;
    while ((e2 = cmark_iter_next(in)) != CMARK_EVENT_DONE) {
      cmark_node *t = cmark_iter_get_node(in);
      cmark_node_type tt = cmark_node_get_type(t);
      if (e2 == CMARK_EVENT_ENTER && (tt == CMARK_NODE_TEXT || tt == CMARK_NODE_CODE)) {
        for (const unsigned char *p = (const unsigned char *)cmark_node_get_literal(t); p && *p; p++) {
          if (*p >= 0x80 || isalnum(*p) || *p == '-' || *p == '_') sl_buf_putc(&b, (char)tolower(*p));
          else if (*p == ' ') sl_buf_putc(&b, '-');
        }
      }
    }
    cmark_iter_free(in);
    char *slug = take(&b);
    if (!slug) continue;
    char key[600];
    snprintf(key, sizeof key, "%s", slug);
    for (int k = 1; json_object_get(set, key); k++) snprintf(key, sizeof key, "%s-%d", slug, k);
    json_object_set_new(set, key, json_true());
    free(slug);
  }
  cmark_iter_free(it);
  return set;
}

static void pct_decode(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
      char h[3] = {p[1], p[2], 0};
      *o++ = (char)strtol(h, NULL, 16);
      p += 2;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
}

/* The repository root above dir (a directory holding .git), else dir. */
static void repo_root(const char *dir, char *out, size_t n) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s", dir);
  for (;;) {
    char g[PATH_MAX + 8];
    snprintf(g, sizeof g, "%s/.git", p);
    if (access(g, F_OK) == 0) break;
    char *s = strrchr(p, '/');
    if (!s || s == p) {
      snprintf(p, sizeof p, "%s", dir);
      break;
    }
    *s = 0;
  }
  snprintf(out, n, "%s", p);
}

/* A relative link: the file exists, and an #anchor names a heading of a
 * Markdown target. NULL when fine, else why (static or in buf). */
static const char *local_link(const doc *d, const char *url, json_t *own, char *buf, size_t n) {
  char *u = strdup(url);
  if (!u) return "out of memory";
  char *frag = strchr(u, '#');
  if (frag) *frag++ = 0;
  u[strcspn(u, "?")] = 0;
  pct_decode(u);
  const char *why = NULL;
  char dir[PATH_MAX], target[PATH_MAX * 2];
  snprintf(dir, sizeof dir, "%s", d->path);
  *strrchr(dir, '/') = 0;
  if (!*u) snprintf(target, sizeof target, "%s", d->path);
  else if (u[0] == '/') {
    char root[PATH_MAX];
    repo_root(dir, root, sizeof root);
    snprintf(target, sizeof target, "%s%s", root, u);
  } else snprintf(target, sizeof target, "%s/%s", dir, u);
  struct stat st;
  if (stat(target, &st) != 0) {
    snprintf(buf, n, "no such file %s", *u ? u : target);
    why = buf;
  } else if (frag && *frag && S_ISREG(st.st_mode)) {
    size_t tl = strlen(target);
    bool md = (tl > 3 && !strcmp(target + tl - 3, ".md")) || (tl > 9 && !strcmp(target + tl - 9, ".markdown"));
    if (md) {
      json_t *set = NULL;
      char real[PATH_MAX];
      if (realpath(target, real) && !strcmp(real, d->path)) set = json_incref(own);
      else {
        doc t;
        char w[256];
        if (doc_load(target, &t, w, sizeof w)) set = anchors(t.root);
        doc_free(&t);
      }
      pct_decode(frag);
      if (!json_object_get(set, frag)) {
        snprintf(buf, n, "no heading or anchor '#%s' in %s", frag, *u ? u : "this file");
        why = buf;
      }
      json_decref(set);
    }
  }
  free(u);
  return why;
}

/* HTTP status codes that count as a working link, as in CAT (access
 * denied or a method not allowed still means the page is there). */
static bool good_status(long s) { return s == 200 || s == 401 || s == 403 || s == 405; }

static size_t discard(char *p, size_t sz, size_t n, void *ud) {
  (void)p, (void)sz, (void)n, (void)ud;
  return 0; /* the status is known: stop the body */
}

typedef struct {
  CURL *e;
  const doc_link *link;
  long status;
  bool get; /* retried with GET after a HEAD that did not answer well */
  char err[CURL_ERROR_SIZE];
} probe;

static void probe_setup(probe *p, int timeout_s, bool get) {
  CURL *e = p->e;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, p->link->url);
  curl_easy_setopt(e, CURLOPT_NOBODY, get ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(timeout_s < 5 ? timeout_s : 5));
  curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)timeout_s);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sluice-test (link check)");
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->err);
  curl_easy_setopt(e, CURLOPT_PRIVATE, p);
  const char *ca = getenv("SSL_CERT_FILE");
  if (ca && *ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
  p->err[0] = 0;
  p->get = get;
}

/* Every remote link fetched in parallel: HEAD, then GET unless HEAD gave
 * 200 (CAT uses GET; a HEAD saves the body, but servers answer it badly). */
static void probe_all(probe *pv, size_t n, int timeout_s) {
  CURLM *m = curl_multi_init();
  if (!m) return;
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 16L);
  for (size_t i = 0; i < n; i++) {
    pv[i].e = curl_easy_init();
    if (!pv[i].e) continue;
    probe_setup(&pv[i], timeout_s, false);
    curl_multi_add_handle(m, pv[i].e);
  }
  int running = 1;
  while (running) {
    if (curl_multi_perform(m, &running) != CURLM_OK) break;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      probe *p = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
      long st = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &st);
      if (!p->err[0] && msg->data.result != CURLE_OK) snprintf(p->err, sizeof p->err, "%s", curl_easy_strerror(msg->data.result));
      p->status = st;
      curl_multi_remove_handle(m, msg->easy_handle);
      if (st && st != 200 && !p->get) { /* the verdict is GET's, as in CAT */
        probe_setup(p, timeout_s, true);
        curl_multi_add_handle(m, p->e);
        running = 1;
      }
    }
    if (running) curl_multi_poll(m, NULL, 0, 200, NULL);
  }
  for (size_t i = 0; i < n; i++)
    if (pv[i].e) curl_easy_cleanup(pv[i].e);
  curl_multi_cleanup(m);
}

#define MAX_LISTED 5

static void check_links(at_ctx *c, at_input *in, const doc *d) {
  char nm[96];
  at_name(in, "test_validate_links", nm, sizeof nm);
  link_list l = {0};
  collect_links(d, &l);
  json_t *own = anchors(d->root);
  sl_buf bad, unreach;
  sl_buf_init(&bad, DOC_MAX), sl_buf_init(&unreach, DOC_MAX);
  size_t nbad = 0, nunreach = 0, nremote = 0;
  probe *pv = calloc(l.n + 1, sizeof *pv);
  for (size_t i = 0; pv && i < l.n; i++) {
    const char *u = l.v[i].url;
    if (!strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8)) {
      pv[nremote++].link = &l.v[i];
      continue;
    }
    if (strchr(u, ':') && strcspn(u, ":") < strcspn(u, "/#?")) continue; /* mailto:, tel:...: not checked */
    char buf[PATH_MAX + 64];
    const char *why = local_link(d, u, own, buf, sizeof buf);
    if (why && nbad++ < MAX_LISTED) sl_buf_appendf(&bad, "%s%s:%d: link '%s': %s", bad.len ? "; " : "", d->shown, l.v[i].line, u, why);
  }
  int to = in->timeout_s < 10 ? in->timeout_s : 10;
  if (nremote) probe_all(pv, nremote, to > 0 ? to : 10);
  for (size_t i = 0; i < nremote; i++) {
    probe *p = &pv[i];
    if (p->status && good_status(p->status)) continue;
    if (p->status) {
      if (nbad++ < MAX_LISTED)
        sl_buf_appendf(&bad, "%s%s:%d: link '%s': HTTP %ld", bad.len ? "; " : "", d->shown, p->link->line, p->link->url, p->status);
    } else if (nunreach++ < MAX_LISTED) {
      sl_buf_appendf(&unreach, "%s%s:%d: '%s': %s", unreach.len ? "; " : "", d->shown, p->link->line, p->link->url,
                    p->err[0] ? p->err : "no response");
    }
  }
  if (nbad)
    at_result(c, in->suite, nm, SL_AT_FAIL, NULL, "%zu broken link(s) of %zu: %.*s%s", nbad, l.n, (int)bad.len, bad.data,
              nbad > MAX_LISTED ? "; ..." : "");
  else if (nunreach)
    at_result(c, in->suite, nm, SL_AT_SKIP, NULL,
              "%zu of %zu link(s) could not be checked, no HTTP response (network unreachable?): %.*s%s; the other links work",
              nunreach, l.n, (int)unreach.len, unreach.data, nunreach > MAX_LISTED ? "; ..." : "");
  else at_result(c, in->suite, nm, SL_AT_PASS, NULL, NULL);
  sl_buf_dispose(&bad), sl_buf_dispose(&unreach);
  json_decref(own);
  free(pv);
  for (size_t i = 0; i < l.n; i++) free(l.v[i].url);
  free(l.v);
}

/* ---- the suite ---- */

static const char *const checks[] = {"test_prerequisites_content", "test_docs_structure", "test_docs_descriptions",
                                     "test_validate_links", NULL};

static void all_results(at_ctx *c, at_input *in, sl_at_status st, const char *why) {
  char nm[96];
  for (size_t i = 0; checks[i]; i++) at_result(c, in->suite, at_name(in, checks[i], nm, sizeof nm), st, NULL, "%s", why);
}

/* The connector's SPEC payload: from the spec suite, else by running spec. */
static const json_t *doc_spec(at_ctx *c, at_input *in, char *why, size_t n) {
  if (c->spec) return c->spec;
  at_run r;
  sl_err e = SL_ERR_INIT;
  if (at_exec(c, "spec", NULL, NULL, NULL, NULL, in->timeout_s, &r, &e)) {
    snprintf(why, n, "spec: %s", e.msg);
    return NULL;
  }
  json_t *specs = at_msgs_of(&r, "SPEC");
  json_t *s = json_object_get(json_array_get(specs, 0), "spec");
  if (json_array_size(specs) == 1 && s) c->spec = json_incref(s);
  else snprintf(why, n, "spec: expected one SPEC message, got %zu (exit %d)", json_array_size(specs), r.exit_code);
  json_decref(specs);
  at_run_dispose(&r);
  return c->spec;
}

/* CAT's place for the docs, in an Airbyte repository: documentationUrl
 * https://docs.airbyte.com/X is docs/X.md at the repository root, looked for
 * in each directory above the connector's. */
static bool airbyte_docs(const at_ctx *c, char *out, size_t n) {
  static const char site[] = "https://docs.airbyte.com/";
  const char *url = json_string_value(json_object_get(c->metadata, "documentationUrl"));
  if (!url || strncmp(url, site, sizeof site - 1) || strstr(url, "..") || !c->dir[0]) return false;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", c->dir);
  for (char *s; (s = strrchr(dir, '/')) && s != dir;) {
    *s = 0;
    snprintf(out, n, "%s/docs/%s.md", dir, url + sizeof site - 1);
    if (access(out, F_OK) == 0) return true;
  }
  return false;
}

void at_suite_documentation(at_ctx *c, at_input *in) {
  int ql = (int)json_integer_value(json_object_get(json_object_get(c->metadata, "ab_internal"), "ql"));
  const json_t *co = json_object_get(in->in, "certified_only");
  char why[PATH_MAX + 256];
  if (ql < 400 && !json_is_false(co)) {
    snprintf(why, sizeof why,
             "only for certified connectors (metadata.yaml ab_internal.ql >= 400; this one has %d; certified_only: false runs it)", ql);
    all_results(c, in, SL_AT_SKIP, why);
    return;
  }
  char path[PATH_MAX];
  if (!at_path(c, in->in, "docs_path", NULL, path, sizeof path) && !airbyte_docs(c, path, sizeof path))
    snprintf(path, sizeof path, "%s/README.md", c->dir);
  doc d;
  if (!doc_load(path, &d, why, sizeof why)) {
    all_results(c, in, SL_AT_FAIL, why);
    doc_free(&d);
    return;
  }
  const char *name = json_string_value(json_object_get(c->metadata, "name")) ?: c->name;
  const char *type = c->is_destination ? "destination" : "source";
  const json_t *spec = doc_spec(c, in, why, sizeof why);
  char nm[96];
  if (spec) check_prerequisites(c, in, &d, spec);
  else at_result(c, in->suite, at_name(in, checks[0], nm, sizeof nm), SL_AT_FAIL, NULL, "%s", why);
  heading_tpl t[N_TPL];
  tpl_build(t, name, type);
  check_structure(c, in, &d, t);
  tpl_free(t);
  check_descriptions(c, in, &d, name, type);
  check_links(c, in, &d);
  doc_free(&d);
}
