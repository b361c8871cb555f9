/* bench-sqlite_insert: the plain SQLite bulk insert that bench/run.sh sets
 * next to `sluice sync ... --destination destination-sqlite` in the same run.
 *
 * Loads the users RECORD lines of a source-faker output file into memory
 * (untimed: parsed with sl_jparser, values kept typed in an array), then, R
 * times into a fresh database file, times exactly what a bulk loader needs:
 *   open; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL (the settings
 *   connectors/destination-sqlite/main.c uses); CREATE TABLE with the
 *   columns and types destination-sqlite creates for users (16 data columns
 *   + 4 _airbyte_* columns); one prepared INSERT; BEGIN IMMEDIATE; N x
 *   (bind, step, reset); COMMIT; close (which checkpoints the WAL, as the
 *   destination's close does).
 * Texts are bound SQLITE_STATIC from memory, as the destination binds its
 * parser views. _airbyte_raw_id is a uuid made at load time, _airbyte_meta
 * the destination's '{"changes":[],"sync_id":null}', generation id NULL.
 *
 * Usage: build/bin/bench-sqlite_insert -f FILE -o DB [-n N] [-r RUNS] [-b BATCH] [-p POOL]
 *   -f FILE   source-faker `read` output holding users RECORD lines
 *   -o DB     database path (it, DB-wal and DB-shm are deleted before each run)
 *   -n N      rows to insert (default: every record in FILE)
 *   -r RUNS   runs; the best is reported (default 3)
 *   -b BATCH  commit every BATCH rows instead of once (default 0: one transaction)
 *   -p POOL   keep at most POOL distinct rows in memory and cycle through
 *             them when N is larger (default 1000000)
 * Prints one line: rows=N runs=R best_s=S rows_per_s=X all_s=a,b,c */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sluice/sluice.h"

typedef enum ctype { T_INT, T_REAL, T_TEXT, T_JSON } ctype;

static const struct {
  const char *name;
  ctype t;
} cols[] = {
    {"id", T_INT},           {"created_at", T_TEXT},      {"updated_at", T_TEXT},
    {"name", T_TEXT},        {"title", T_TEXT},           {"age", T_INT},
    {"email", T_TEXT},       {"telephone", T_TEXT},       {"gender", T_TEXT},
    {"language", T_TEXT},    {"academic_degree", T_TEXT}, {"nationality", T_TEXT},
    {"occupation", T_TEXT},  {"height", T_REAL},          {"blood_type", T_TEXT},
    {"weight", T_INT},       {"address", T_JSON},
};
#define NDATA (sizeof cols / sizeof cols[0])
#define NCELL (NDATA + 2) /* + _airbyte_raw_id, _airbyte_extracted_at */

static const char create_sql[] =
    "CREATE TABLE \"users\"(\"id\" INTEGER,\"created_at\" TEXT,\"updated_at\" TEXT,\"name\" TEXT,"
    "\"title\" TEXT,\"age\" INTEGER,\"email\" TEXT,\"telephone\" TEXT,\"gender\" TEXT,"
    "\"language\" TEXT,\"academic_degree\" TEXT,\"nationality\" TEXT,\"occupation\" TEXT,"
    "\"height\" REAL,\"blood_type\" TEXT,\"weight\" INTEGER,\"address\" TEXT,"
    "\"_airbyte_raw_id\" TEXT,\"_airbyte_extracted_at\" INTEGER,\"_airbyte_meta\" TEXT,"
    "\"_airbyte_generation_id\" INTEGER)";
static const char insert_sql[] =
    "INSERT INTO \"users\" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
    "?18,?19,?20,?21)";
static const char meta_json[] = "{\"changes\":[],\"sync_id\":null}";

enum { K_NULL, K_INT, K_REAL, K_TEXT };
typedef struct cell {
  union {
    int64_t i;
    double d;
    uint64_t off; /* into the text arena */
  } v;
  uint32_t len;
  uint32_t kind;
} cell;

static cell *rows;
static size_t nrows, caprows;
static char *arena;
static size_t alen, acap;

static void die(const char *msg) {
  fprintf(stderr, "bench-sqlite_insert: %s\n", msg);
  exit(2);
}

static uint64_t put_text(const char *s, size_t n) {
  if (alen + n > acap) {
    acap = acap ? acap * 2 : (size_t)64 << 20;
    while (alen + n > acap) acap *= 2;
    if (!(arena = realloc(arena, acap))) die("out of memory");
  }
  memcpy(arena + alen, s, n);
  alen += n;
  return alen - n;
}

static uint64_t xs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  xs ^= xs << 13;
  xs ^= xs >> 7;
  xs ^= xs << 17;
  return xs;
}

static void uuid4(char out[36]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t b[16];
  uint64_t a = rnd(), c = rnd();
  memcpy(b, &a, 8);
  memcpy(b + 8, &c, 8);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[b[i] >> 4];
    *o++ = hex[b[i] & 15];
  }
}

static void load(const char *path, size_t pool) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(2);
  }
  sl_jparser *jp = sl_jparser_new((size_t)64 << 20);
  sl_buf line, js;
  sl_buf_init(&line, (size_t)64 << 20);
  sl_buf_init(&js, (size_t)64 << 20);
  char *l = NULL;
  size_t cap = 0;
  ssize_t n;
  while (nrows < pool && (n = getline(&l, &cap, f)) > 0) {
    if (!strstr(l, "\"type\":\"RECORD\"")) continue;
    line.len = 0;
    sl_buf_put(&line, l, (size_t)n);
    sl_jv root, rec, data, v;
    sl_err err = SL_ERR_INIT;
    if (sl_jparser_parse(jp, line.data, line.len, &root, "record", &err)) die(err.msg);
    if (!sl_jv_get(root, "record", &rec) || !sl_jv_get(rec, "data", &data)) die("a RECORD without data");
    if (nrows == caprows) {
      caprows = caprows ? caprows * 2 : 65536;
      if (!(rows = realloc(rows, caprows * NCELL * sizeof *rows))) die("out of memory");
    }
    cell *r = rows + nrows * NCELL;
    memset(r, 0, NCELL * sizeof *r);
    for (size_t c = 0; c < NDATA; c++) {
      if (!sl_jv_get(data, cols[c].name, &v)) continue;
      sl_jtype t = sl_jv_type(v);
      if (cols[c].t == T_INT && t == SL_JINT) {
        r[c].kind = K_INT;
        r[c].v.i = sl_jv_int(v);
      } else if (cols[c].t == T_REAL && (t == SL_JINT || t == SL_JDOUBLE)) {
        r[c].kind = K_REAL;
        r[c].v.d = sl_jv_num(v);
      } else if (cols[c].t == T_TEXT && t == SL_JSTRING) {
        size_t sl;
        const char *s = sl_jv_str(v, &sl);
        r[c].kind = K_TEXT;
        r[c].v.off = put_text(s, sl);
        r[c].len = (uint32_t)sl;
      } else if (t != SL_JNULL) {
        sl_jw w;
        js.len = 0;
        sl_jw_init(&w, &js);
        sl_jw_jv(&w, v);
        r[c].kind = K_TEXT;
        r[c].v.off = put_text(js.data, js.len);
        r[c].len = (uint32_t)js.len;
      }
    }
    char u[36];
    uuid4(u);
    r[NDATA].kind = K_TEXT;
    r[NDATA].v.off = put_text(u, 36);
    r[NDATA].len = 36;
    r[NDATA + 1].kind = K_INT;
    r[NDATA + 1].v.i = sl_jv_get(rec, "emitted_at", &v) ? sl_jv_int(v) : 0;
    nrows++;
  }
  free(l);
  fclose(f);
  sl_buf_dispose(&line);
  sl_buf_dispose(&js);
  sl_jparser_free(jp);
  if (!nrows) die("no RECORD lines in the input");
}

static void check(sqlite3 *db, int rc, const char *what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "bench-sqlite_insert: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(const char *path, size_t n, size_t batch) {
  char side[4096];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  double t0 = now();
  sqlite3 *db;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) die("open");
  check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), "journal_mode");
  check(db, sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL), "synchronous");
  check(db, sqlite3_exec(db, create_sql, NULL, NULL, NULL), "create");
  sqlite3_stmt *st;
  check(db, sqlite3_prepare_v3(db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL), "prepare");
  check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
  size_t in_tx = 0;
  for (size_t i = 0; i < n; i++) {
    const cell *r = rows + (i % nrows) * NCELL;
    for (size_t c = 0; c < NCELL; c++) {
      int p = (int)c + 1;
      switch (r[c].kind) {
        case K_INT: sqlite3_bind_int64(st, p, r[c].v.i); break;
        case K_REAL: sqlite3_bind_double(st, p, r[c].v.d); break;
        case K_TEXT: sqlite3_bind_text(st, p, arena + r[c].v.off, (int)r[c].len, SQLITE_STATIC); break;
        default: sqlite3_bind_null(st, p);
      }
    }
    sqlite3_bind_text(st, NCELL + 1, meta_json, (int)sizeof meta_json - 1, SQLITE_STATIC);
    sqlite3_bind_null(st, NCELL + 2);
    check(db, sqlite3_step(st), "insert");
    sqlite3_reset(st);
    if (batch && ++in_tx == batch && i + 1 < n) {
      check(db, sqlite3_exec(db, "COMMIT; BEGIN IMMEDIATE", NULL, NULL, NULL), "commit");
      in_tx = 0;
    }
  }
  check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
  sqlite3_finalize(st);
  if (sqlite3_close(db) != SQLITE_OK) die("close");
  return now() - t0;
}

int main(int argc, char **argv) {
  const char *file = NULL, *out = NULL;
  size_t n = 0, runs = 3, batch = 0, pool = 1000000;
  int opt;
  while ((opt = getopt(argc, argv, "f:o:n:r:b:p:")) != -1) {
    switch (opt) {
      case 'f': file = optarg; break;
      case 'o': out = optarg; break;
      case 'n': n = (size_t)strtoull(optarg, NULL, 10); break;
      case 'r': runs = (size_t)strtoull(optarg, NULL, 10); break;
      case 'b': batch = (size_t)strtoull(optarg, NULL, 10); break;
      case 'p': pool = (size_t)strtoull(optarg, NULL, 10); break;
      default: file = NULL;
    }
  }
  if (!file || !out || !runs || !pool) {
    fprintf(stderr, "usage: %s -f FILE -o DB [-n N] [-r RUNS] [-b BATCH] [-p POOL]\n", argv[0]);
    return 2;
  }
  load(file, n && n < pool ? n : pool);
  if (!n) n = nrows;
  double best = 0;
  char all[1024] = "";
  size_t al = 0;
  for (size_t r = 0; r < runs; r++) {
    double t = run(out, n, batch);
    if (r == 0 || t < best) best = t;
    al += (size_t)snprintf(all + al, sizeof all - al, "%s%.3f", r ? "," : "", t);
    if (al >= sizeof all) al = sizeof all - 1;
  }
  printf("rows=%zu runs=%zu best_s=%.3f rows_per_s=%.0f all_s=%s\n", n, runs, best, (double)n / best, all);
  return 0;
}
