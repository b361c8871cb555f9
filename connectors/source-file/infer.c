/* source-file: schema inference from sampled records.
 *
 * Each field keeps the set of kinds it was seen with; the schema takes the
 * narrowest type that holds them all: integer < number, and for CSV cells
 * anything mixed becomes string (the text is kept). JSON fields with mixed
 * types get a type list. Every field is nullable: a later file may lack it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fsrc.h"

enum {
  K_NULL = 1,
  K_INT = 2,
  K_NUM = 4,
  K_BOOL = 8,
  K_DATE = 16,
  K_DT = 32,   /* date-time without a zone */
  K_DTTZ = 64, /* date-time with Z or an offset */
  K_STR = 128,
  K_OBJ = 256,
  K_ARR = 512,
  K_TEXT = 1024, /* seen as CSV text */
};

struct inode {
  unsigned kinds;
  char **keys;
  inode **kids;
  size_t n, cap;
  inode *items;
};

inode *inode_new(void) { return calloc(1, sizeof(inode)); }

void inode_free(inode *n) {
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) {
    free(n->keys[i]);
    inode_free(n->kids[i]);
  }
  free(n->keys);
  free(n->kids);
  inode_free(n->items);
  free(n);
}

inode *inode_child(inode *n, const char *key, size_t len) {
  for (size_t i = 0; i < n->n; i++)
    if (strlen(n->keys[i]) == len && !memcmp(n->keys[i], key, len)) return n->kids[i];
  if (n->n == n->cap) {
    size_t nc = n->cap ? n->cap * 2 : 8;
    char **nk = realloc(n->keys, nc * sizeof *nk);
    if (!nk) return NULL;
    n->keys = nk;
    inode **nn = realloc(n->kids, nc * sizeof *nn);
    if (!nn) return NULL;
    n->kids = nn;
    n->cap = nc;
  }
  inode *k = inode_new();
  char *dup = strndup(key, len);
  if (!k || !dup) {
    free(k);
    free(dup);
    return NULL;
  }
  n->keys[n->n] = dup;
  n->kids[n->n++] = k;
  return k;
}

void inode_null(inode *n) {
  if (n) n->kinds |= K_NULL;
}

static bool digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return false;
  return true;
}

/* YYYY-MM-DD with a plausible month and day. */
static bool is_date(const char *s, size_t n) {
  if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) || !digits(s + 8, 2)) return false;
  int m = (s[5] - '0') * 10 + s[6] - '0', d = (s[8] - '0') * 10 + s[9] - '0';
  return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

/* YYYY-MM-DD[T ]HH:MM[:SS[.f+]][Z|+HH:MM|-HH:MM|+HHMM]; 0 no, 1 naive, 2 zoned. */
static int date_time(const char *s, size_t n) {
  if (n < 16 || !is_date(s, 10) || (s[10] != 'T' && s[10] != ' ')) return 0;
  const char *p = s + 11, *e = s + n;
  if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2)) return 0;
  if (p[0] > '2' || p[3] > '5') return 0;
  p += 5;
  if (p < e && *p == ':') {
    if (e - p < 3 || !digits(p + 1, 2)) return 0;
    p += 3;
    if (p < e && (*p == '.' || *p == ',')) {
      const char *q = ++p;
      while (p < e && isdigit((unsigned char)*p)) p++;
      if (p == q) return 0;
    }
  }
  if (p == e) return 1;
  if ((*p == 'Z' || *p == 'z') && p + 1 == e) return 2;
  if (*p != '+' && *p != '-') return 0;
  p++;
  size_t r = (size_t)(e - p);
  if (r == 2 && digits(p, 2)) return 2;
  if (r == 4 && digits(p, 4)) return 2;
  if (r == 5 && digits(p, 2) && p[2] == ':' && digits(p + 3, 2)) return 2;
  return 0;
}

void inode_string(inode *n, const char *s, size_t len) {
  if (!n) return;
  int dt;
  if (is_date(s, len)) n->kinds |= K_DATE;
  else if ((dt = date_time(s, len))) n->kinds |= dt == 2 ? K_DTTZ : K_DT;
  else n->kinds |= K_STR;
}

void inode_text(inode *n, const char *s, size_t len, const fcsv_opts *csv) {
  if (!n) return;
  n->kinds |= K_TEXT;
  int64_t i;
  double d;
  /* "007" or "02134" is an identifier (a code, a ZIP), not a number. */
  size_t sign = len && (s[0] == '-' || s[0] == '+');
  if (len > sign + 1 && s[sign] == '0' && s[sign + 1] >= '0' && s[sign + 1] <= '9') n->kinds |= K_STR;
  else if (fcell_int(s, len, &i)) n->kinds |= K_INT;
  else if (fcell_num(s, len, &d)) n->kinds |= K_NUM;
  else if (fcell_bool(s, len, csv) >= 0) n->kinds |= K_BOOL;
  else inode_string(n, s, len);
}

void inode_jv(inode *n, sl_jv v) {
  if (!n) return;
  switch (sl_jv_type(v)) {
    case SL_JNULL: n->kinds |= K_NULL; break;
    case SL_JBOOL: n->kinds |= K_BOOL; break;
    case SL_JINT:
    case SL_JUINT: n->kinds |= K_INT; break;
    case SL_JDOUBLE: n->kinds |= K_NUM; break;
    case SL_JSTRING: {
      size_t len;
      const char *s = sl_jv_str(v, &len);
      inode_string(n, s, len);
      break;
    }
    case SL_JARRAY:
      n->kinds |= K_ARR;
      if (!n->items) n->items = inode_new();
      for (sl_jv x = sl_jv_first(v); sl_jv_more(v, x); x = sl_jv_next(x)) inode_jv(n->items, x);
      break;
    case SL_JOBJECT:
      n->kinds |= K_OBJ;
      for (sl_jv k = sl_jv_first(v); sl_jv_more(v, k); k = sl_jv_next(sl_jv_val(k))) {
        size_t kl;
        const char *ks = sl_jv_str(k, &kl);
        inode_jv(inode_child(n, ks, kl), sl_jv_val(k));
      }
      break;
  }
}

static json_t *props_of(const inode *n);

/* The schema of one field. */
static json_t *field_schema(const inode *n) {
  unsigned k = n->kinds & ~(K_NULL | K_TEXT);
  unsigned str = K_DATE | K_DT | K_DTTZ | K_STR;
  json_t *types = json_pack("[s]", "null");
  json_t *s = json_object();
  if (!types || !s) {
    json_decref(types);
    json_decref(s);
    return NULL;
  }
  /* CSV text of mixed kinds (other than integer with number) is a string. */
  if ((n->kinds & K_TEXT) && (k & (k - 1)) && k != (K_INT | K_NUM) && (k & ~(K_DT | K_DTTZ))) k = K_STR;
  if (!k) k = K_STR;
  if (k & K_NUM) k &= ~K_INT;
  if ((k & str) && (k & str) != K_DATE && (k & str) != K_DT && (k & str) != K_DTTZ && (k & str) != (K_DT | K_DTTZ))
    k = (k & ~str) | K_STR;
  if (k & K_INT) json_array_append_new(types, json_string("integer"));
  if (k & K_NUM) json_array_append_new(types, json_string("number"));
  if (k & K_BOOL) json_array_append_new(types, json_string("boolean"));
  if (k & str) json_array_append_new(types, json_string("string"));
  if (k & K_OBJ) {
    json_array_append_new(types, json_string("object"));
    json_object_set_new(s, "properties", props_of(n));
  }
  if (k & K_ARR) {
    json_array_append_new(types, json_string("array"));
    if (n->items && n->items->kinds & ~K_NULL) json_object_set_new(s, "items", field_schema(n->items));
  }
  json_object_set_new(s, "type", types);
  if ((k & str) == K_DATE) json_object_set_new(s, "format", json_string("date"));
  else if ((k & str) && !(k & (K_STR | K_DATE))) {
    json_object_set_new(s, "format", json_string("date-time"));
    if ((k & str) != (K_DT | K_DTTZ))
      json_object_set_new(s, "airbyte_type",
                          json_string(k & K_DTTZ ? "timestamp_with_timezone" : "timestamp_without_timezone"));
  }
  return s;
}

static json_t *props_of(const inode *n) {
  json_t *p = json_object();
  for (size_t i = 0; p && i < n->n; i++) json_object_set_new(p, n->keys[i], field_schema(n->kids[i]));
  return p;
}

json_t *inode_schema(const inode *n, bool multi_file) {
  json_t *props = props_of(n);
  if (!props) return NULL;
  if (multi_file) {
    json_object_set_new(props, "_ab_source_file_last_modified",
                        json_pack("{s:s, s:s}", "type", "string", "format", "date-time"));
    json_object_set_new(props, "_ab_source_file_url", json_pack("{s:s}", "type", "string"));
  }
  return json_pack("{s:s, s:s, s:o}", "$schema", "http://json-schema.org/draft-07/schema#", "type", "object",
                   "properties", props);
}
