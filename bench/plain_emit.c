/* bench-plain_emit: the machine's ceiling for a source, the baseline that
 * bench/run.sh compares source-faker against in the same run.
 *
 * Writes N pre-built RECORD lines to stdout with 64 KiB write(2) calls: each
 * line is copied into a 64 KiB buffer (as any emitter must assemble its
 * output) and the buffer is written when the next line does not fit. No
 * JSON is generated or checked: this is memcpy + write and nothing else.
 *
 * Usage: build/bin/bench-plain_emit -n N [-f FILE] [-b BYTES]
 *   -n N      lines to write (default 1000000)
 *   -f FILE   take the pool of lines from FILE: up to 4096 of its RECORD
 *             lines (bench/run.sh passes source-faker's own output, so the
 *             bytes are the same records); without -f, 4096 synthetic
 *             ~600-byte RECORD lines are built
 *   -b BYTES  write size (default 65536)
 * On stderr, at the end: "lines N bytes B" (bytes written, for MB/s). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_LINES 4096

typedef struct line {
  char *p;
  size_t n;
} line;

static line pool[POOL_LINES];
static size_t npool;

static int write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void add_line(const char *s, size_t n) {
  char *c = malloc(n);
  if (!c) {
    perror("malloc");
    exit(2);
  }
  memcpy(c, s, n);
  pool[npool].p = c;
  pool[npool].n = n;
  npool++;
}

static void load_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(2);
  }
  char *l = NULL;
  size_t cap = 0;
  ssize_t n;
  while (npool < POOL_LINES && (n = getline(&l, &cap, f)) > 0)
    if (strstr(l, "\"type\":\"RECORD\"")) add_line(l, (size_t)n);
  free(l);
  fclose(f);
  if (!npool) {
    fprintf(stderr, "bench-plain_emit: no RECORD lines in %s\n", path);
    exit(2);
  }
}

/* ~600 bytes, the shape of a source-faker users record. */
static void synth(void) {
  char b[1024];
  for (size_t i = 0; i < POOL_LINES; i++) {
    int n = snprintf(b, sizeof b,
                     "{\"type\":\"RECORD\",\"record\":{\"stream\":\"users\",\"emitted_at\":1700000000000,"
                     "\"data\":{\"id\":%zu,\"created_at\":\"2020-01-02T00:00:37+00:00\","
                     "\"updated_at\":\"2026-11-27T04:07:59+00:00\",\"name\":\"Shafi Allen\","
                     "\"title\":\"M.Sc.\",\"age\":%zu,\"email\":\"Shafi.Allen%zu@example.net\","
                     "\"telephone\":\"+1-579-894-6798\",\"gender\":\"Other\",\"language\":\"Fran\xc3\xa7"
                     "ais\",\"academic_degree\":\"Bachelor\",\"nationality\":\"Indian\","
                     "\"occupation\":\"Engineer\",\"height\":1.77,\"blood_type\":\"A+\",\"weight\":75,"
                     "\"address\":{\"street_number\":\"113\",\"street_name\":\"Sakura-dori\","
                     "\"city\":\"Hamburg\",\"state\":\"Hamburg\",\"postal_code\":\"84447\","
                     "\"country_code\":\"DE\"}}}}\n",
                     i + 1, 18 + i % 70, i + 1);
    add_line(b, (size_t)n);
  }
}

int main(int argc, char **argv) {
  unsigned long long n = 1000000;
  size_t bs = 65536;
  const char *file = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "n:f:b:")) != -1) {
    switch (opt) {
      case 'n': n = strtoull(optarg, NULL, 10); break;
      case 'f': file = optarg; break;
      case 'b': bs = (size_t)strtoull(optarg, NULL, 10); break;
      default:
        fprintf(stderr, "usage: %s -n N [-f FILE] [-b BYTES]\n", argv[0]);
        return 2;
    }
  }
  if (file) load_file(file);
  else synth();
  size_t maxline = 0;
  for (size_t i = 0; i < npool; i++)
    if (pool[i].n > maxline) maxline = pool[i].n;
  if (bs < maxline) bs = maxline;
  char *buf = malloc(bs);
  if (!buf) return 2;
  size_t used = 0, k = 0;
  unsigned long long bytes = 0;
  for (unsigned long long i = 0; i < n; i++) {
    const line *l = &pool[k];
    if (++k == npool) k = 0;
    if (bs - used < l->n) {
      if (write_all(buf, used)) {
        perror("write");
        return 1;
      }
      bytes += used;
      used = 0;
    }
    memcpy(buf + used, l->p, l->n);
    used += l->n;
  }
  if (used && write_all(buf, used)) {
    perror("write");
    return 1;
  }
  bytes += used;
  fprintf(stderr, "lines %llu bytes %llu\n", n, bytes);
  free(buf);
  for (size_t i = 0; i < npool; i++) free(pool[i].p);
  return 0;
}
