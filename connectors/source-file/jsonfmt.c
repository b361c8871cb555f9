/* source-file: JSON lines (one object a line, parsed with simdjson) and
 * JSON documents (a top-level array of objects, one object, or an array
 * under records_path), streamed with yajl's event parser so a document of
 * any size is read with flat memory: events are written straight into the
 * record being emitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "fsrc.h"

#define CHUNK (256u << 10)
#define MAX_LINE (64u << 20)

/* ---- JSON lines ---- */

static sl_code emit_object(femit *em, sl_jv root) {
  if (em->infer) inode_jv(em->infer, root);
  else {
    sl_jw *w = sl_read_record_begin(em->rd);
    for (sl_jv k = sl_jv_first(root); sl_jv_more(root, k); k = sl_jv_next(sl_jv_val(k))) {
      size_t kl;
      const char *ks = sl_jv_str(k, &kl);
      sl_jw_key(w, ks, kl);
      sl_jw_jv(w, sl_jv_val(k));
    }
    femit_file_fields(em, w);
    sl_code rc = sl_read_record_end(em->rd);
    if (rc) return rc;
  }
  em->records++;
  if (em->limit && (int64_t)em->records >= em->limit) em->stop = true;
  return SL_EOK;
}

static sl_code jsonl_line(femit *em, sl_jparser *jp, const char *s, size_t len, uint64_t lineno, sl_err *err) {
  while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  size_t i = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
  if (i == len) return SL_EOK; /* blank line */
  sl_jv root;
  sl_err perr = SL_ERR_INIT;
  if (sl_jparser_parse(jp, s, len, &root, "", &perr))
    return sl_err_set(err, SL_ESOURCE, "%s line %llu: invalid JSON: %s", em->what, (unsigned long long)lineno,
                      perr.msg);
  if (sl_jv_type(root) != SL_JOBJECT)
    return sl_err_set(err, SL_ESOURCE, "%s line %llu: a JSON lines record must be an object", em->what,
                      (unsigned long long)lineno);
  sl_code rc = emit_object(em, root);
  if (rc) return sl_err_set(err, rc, "%s line %llu: writing the record failed (%s)", em->what,
                            (unsigned long long)lineno, sl_strerror(rc));
  return SL_EOK;
}

static sl_code run_jsonl(fin *in, femit *em, sl_err *err) {
  sl_jparser *jp = sl_jparser_new(MAX_LINE);
  sl_buf b;
  sl_buf_init(&b, MAX_LINE + CHUNK);
  sl_code rc = jp ? SL_EOK : sl_err_set(err, SL_ENOMEM, "out of memory");
  uint64_t lineno = 0;
  size_t got = 1;
  while (!rc && !em->stop && got) {
    if (sl_buf_ensure(&b, CHUNK)) {
      rc = sl_err_set(err, SL_ELIMIT, "%s line %llu is longer than %u MiB", em->what,
                      (unsigned long long)lineno + 1, MAX_LINE >> 20);
      break;
    }
    if ((rc = fin_read(in, b.data + b.len, CHUNK, &got, err))) break;
    size_t scan_from = b.len;
    b.len += got;
    size_t start = 0;
    const char *nl;
    /* Complete lines are parsed in place: the buffer's padding and the
     * bytes after each line are readable, as simdjson needs. */
    while (!em->stop && (nl = memchr(b.data + scan_from, '\n', b.len - scan_from))) {
      size_t end = (size_t)(nl - b.data);
      if ((rc = jsonl_line(em, jp, b.data + start, end - start, ++lineno, err))) break;
      start = scan_from = end + 1;
    }
    if (!got && !rc && !em->stop && start < b.len) {
      memset(b.data + b.len, 0, SL_BUF_PAD); /* no newline at the end of the file */
      rc = jsonl_line(em, jp, b.data + start, b.len - start, ++lineno, err);
      start = b.len;
    }
    sl_buf_consume(&b, start);
  }
  sl_buf_dispose(&b);
  sl_jparser_free(jp);
  return rc;
}

/* ---- JSON documents (yajl events) ---- */

typedef struct jctx {
  femit *em;
  sl_err *err;
  sl_code rc;
  int depth;       /* containers open */
  int onpath;      /* containers open along records_path */
  bool key_match;  /* the last key of the innermost on-path object is the next path part */
  int arr_depth;   /* depth inside the records array, 0 when not in it */
  int rec_depth;   /* depth of the record's object, 0 outside a record */
  bool found;      /* the records array (or a lone object) was seen */
  uint64_t element;
  sl_jw *w;
  sl_jw scratch_w; /* discover: the record as text, parsed for inference */
  sl_buf scratch;
  sl_jparser *jp;
} jctx;

static int fail(jctx *j, sl_code code, const char *what) {
  j->rc = sl_err_set(j->err, code, "%s: element %llu of the records array is %s, not an object", j->em->what,
                     (unsigned long long)j->element, what);
  return 0;
}

/* A scalar or container start at the records array's level is an element. */
static bool at_elements(jctx *j) { return j->arr_depth && j->depth == j->arr_depth && !j->rec_depth; }

static int begin_record(jctx *j) {
  j->element++;
  if (j->em->infer) {
    j->scratch.len = 0;
    sl_jw_init(&j->scratch_w, &j->scratch);
    sl_jw_obj_open(&j->scratch_w);
    j->w = &j->scratch_w;
  } else {
    j->w = sl_read_record_begin(j->em->rd);
  }
  j->rec_depth = ++j->depth;
  j->found = true;
  return 1;
}

static int end_record(jctx *j) {
  femit *em = j->em;
  j->rec_depth = 0;
  j->depth--;
  if (em->infer) {
    sl_jw_obj_close(j->w);
    sl_jv root;
    if (j->w->rc || sl_jparser_parse(j->jp, j->scratch.data, j->scratch.len, &root, em->what, j->err)) {
      j->rc = j->err->msg[0] ? SL_ESOURCE : sl_err_set(j->err, SL_ELIMIT, "%s: a record is too large", em->what);
      return 0;
    }
    inode_jv(em->infer, root);
  } else {
    femit_file_fields(em, j->w);
    sl_code rc = sl_read_record_end(em->rd);
    if (rc) {
      j->rc = sl_err_set(j->err, rc, "%s: element %llu: writing the record failed (%s)", em->what,
                         (unsigned long long)j->element, sl_strerror(rc));
      return 0;
    }
  }
  em->records++;
  if (em->limit && (int64_t)em->records >= em->limit) em->stop = true;
  return !em->stop;
}

static int on_null(void *ud) {
  jctx *j = ud;
  if (j->rec_depth) sl_jw_null(j->w);
  else if (at_elements(j)) return j->element++, fail(j, SL_ESOURCE, "null");
  return 1;
}
static int on_bool(void *ud, int v) {
  jctx *j = ud;
  if (j->rec_depth) sl_jw_bool(j->w, v);
  else if (at_elements(j)) return j->element++, fail(j, SL_ESOURCE, "a boolean");
  return 1;
}
static int on_number(void *ud, const char *s, size_t len) {
  jctx *j = ud;
  if (j->rec_depth) sl_jw_raw(j->w, s, len);
  else if (at_elements(j)) return j->element++, fail(j, SL_ESOURCE, "a number");
  return 1;
}
static int on_string(void *ud, const unsigned char *s, size_t len) {
  jctx *j = ud;
  if (j->rec_depth) sl_jw_str(j->w, (const char *)s, len);
  else if (at_elements(j)) return j->element++, fail(j, SL_ESOURCE, "a string");
  return 1;
}

static int on_start_map(void *ud) {
  jctx *j = ud;
  const fstrs *path = &j->em->st->records_path;
  if (j->rec_depth) {
    sl_jw_obj_open(j->w);
    j->depth++;
    return 1;
  }
  if (at_elements(j) || (j->depth == 0 && !path->n)) return begin_record(j);
  if (j->onpath == j->depth && (j->depth == 0 || j->key_match) && j->depth < (int)path->n) j->onpath++;
  j->key_match = false;
  j->depth++;
  return 1;
}

static int on_key(void *ud, const unsigned char *k, size_t len) {
  jctx *j = ud;
  const fstrs *path = &j->em->st->records_path;
  if (j->rec_depth) sl_jw_key(j->w, (const char *)k, len);
  else if (j->onpath == j->depth && j->depth >= 1 && j->depth <= (int)path->n) {
    const char *want = path->v[j->depth - 1];
    j->key_match = strlen(want) == len && !memcmp(want, k, len);
  }
  return 1;
}

static int on_end_map(void *ud) {
  jctx *j = ud;
  if (j->rec_depth) {
    if (j->depth == j->rec_depth) return end_record(j);
    sl_jw_obj_close(j->w);
  } else if (j->onpath == j->depth) {
    j->onpath--;
  }
  j->depth--;
  return 1;
}

static int on_start_array(void *ud) {
  jctx *j = ud;
  const fstrs *path = &j->em->st->records_path;
  if (j->rec_depth) sl_jw_arr_open(j->w);
  else if (at_elements(j)) return j->element++, fail(j, SL_ESOURCE, "an array");
  else if (!j->arr_depth && !j->found && j->onpath == j->depth && j->depth == (int)path->n &&
           (j->depth == 0 || j->key_match)) {
    j->arr_depth = j->depth + 1;
    j->found = true;
  }
  j->depth++;
  return 1;
}

static int on_end_array(void *ud) {
  jctx *j = ud;
  if (j->rec_depth) sl_jw_arr_close(j->w);
  else if (j->arr_depth && j->depth == j->arr_depth) j->arr_depth = 0;
  j->depth--;
  return 1;
}

static const yajl_callbacks jcb = {on_null,      on_bool,   NULL,       NULL,          on_number,
                                   on_string,    on_start_map, on_key,  on_end_map,    on_start_array,
                                   on_end_array};

static sl_code run_json(fin *in, femit *em, sl_err *err) {
  jctx j = {.em = em, .err = err};
  sl_buf_init(&j.scratch, MAX_LINE);
  if (em->infer) j.jp = sl_jparser_new(MAX_LINE);
  char *buf = malloc(CHUNK);
  yajl_handle h = yajl_alloc(&jcb, NULL, &j);
  sl_code rc = (!buf || !h || (em->infer && !j.jp)) ? sl_err_set(err, SL_ENOMEM, "out of memory") : SL_EOK;
  size_t got = 1;
  uint64_t before = 0; /* bytes given to yajl before this chunk */
  yajl_status ys = yajl_status_ok;
  while (!rc && got && !em->stop) {
    if ((rc = fin_read(in, buf, CHUNK, &got, err))) break;
    ys = got ? yajl_parse(h, (unsigned char *)buf, got) : yajl_complete_parse(h);
    if (j.rc) rc = j.rc;
    else if (ys == yajl_status_error) {
      unsigned char *msg = yajl_get_error(h, 0, NULL, 0);
      char m[256];
      snprintf(m, sizeof m, "%s", msg ? (const char *)msg : "parse error");
      m[strcspn(m, "\n")] = 0;
      if (!got)
        rc = sl_err_set(err, SL_ESOURCE, "%s: invalid JSON: the document ends early (after %llu bytes): %s",
                        em->what, (unsigned long long)before, m);
      else
        rc = sl_err_set(err, SL_ESOURCE, "%s: invalid JSON near byte %llu: %s", em->what,
                        (unsigned long long)(before + yajl_get_bytes_consumed(h)), m);
      if (msg) yajl_free_error(h, msg);
    }
    before += got;
  }
  if (rc && j.rec_depth && !em->infer) sl_read_record_abort(em->rd); /* no half record */
  if (!rc && !em->stop && !j.found) {
    char p[256] = "";
    for (size_t i = 0; i < em->st->records_path.n; i++)
      snprintf(p + strlen(p), sizeof p - strlen(p), "%s%s", i ? "." : "", em->st->records_path.v[i]);
    rc = p[0] ? sl_err_set(err, SL_ESOURCE, "%s: no array of records at records_path \"%s\"", em->what, p)
              : sl_err_set(err, SL_ESOURCE, "%s: expected a JSON array of objects or one object at the top level "
                           "(set format.records_path for records deeper down)", em->what);
  }
  if (h) yajl_free(h);
  free(buf);
  sl_jparser_free(j.jp);
  sl_buf_dispose(&j.scratch);
  return rc;
}

sl_code fjson_run(fin *in, femit *em, sl_err *err) {
  return em->st->fmt == FMT_JSONL ? run_jsonl(in, em, err) : run_json(in, em, err);
}
