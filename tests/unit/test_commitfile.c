/* The commit record of file destinations (lib/dest_commitfile.c): what a
 * crash at each step leaves, and what the next write makes of it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/commitfile.h"
#include "sluice/sluice.h"
#include "test.h"

#define REC ".sluice-commit-t.json"

static void put(const char *dir, const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static long size_of(const char *dir, const char *name) {
  char p[512];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &sb) ? -1 : (long)sb.st_size;
}

static void collect(void *arg, const char *key, const char *value) {
  char *out = arg;
  snprintf(out + strlen(out), 512 - strlen(out), "%s=%s;", key, value);
}

static const char *mkdir_case(const char *name) {
  static char dir[512];
  snprintf(dir, sizeof dir, "%s/%s", sl_test_tmpdir(), name);
  mkdir(dir, 0777);
  return dir;
}

/* Lengths and states of a commit come back; bytes past a committed length
 * are cut; the states put after the last commit are not in the record. */
TEST(commitfile_commit_and_recover) {
  const char *dir = mkdir_case("cf1");
  sl_err err = SL_ERR_INIT;
  sl_commitfile *c;
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  sl_commit_entry e = {.bytes = 4, .has_gen = true, .gen = 7}, f = {.bytes = 2};
  put(dir, "a", "1234");
  put(dir, "b", "12");
  CHECK_INT(sl_commit_set(c, "a", &e, &err), SL_EOK);
  CHECK_INT(sl_commit_set(c, "b", &f, &err), SL_EOK);
  CHECK_INT(sl_commit_put_state(c, "GLOBAL", "[[1]]", &err), SL_EOK);
  CHECK_INT(sl_commit_save(c, &err), SL_EOK);
  /* the next commit: written, state put, then a crash before the save */
  put(dir, "a", "1234567");
  put(dir, "b", "12345");
  e.bytes = 7;
  CHECK_INT(sl_commit_set(c, "a", &e, &err), SL_EOK);
  CHECK_INT(sl_commit_put_state(c, "GLOBAL", "[[2]]", &err), SL_EOK);
  sl_commit_free(c);

  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  char states[512] = "";
  CHECK_INT(sl_commit_each_state(c, collect, states, &err), SL_EOK);
  CHECK_STR(states, "GLOBAL=[[1]];");
  CHECK_INT(sl_commit_recover(c, &err), SL_EOK);
  CHECK_INT(size_of(dir, "a"), 4);
  CHECK_INT(size_of(dir, "b"), 2);
  sl_commit_entry g;
  CHECK(sl_commit_get(c, "a", &g));
  CHECK(g.has_gen && g.gen == 7 && g.bytes == 4);
  CHECK(sl_commit_get(c, "b", &g));
  CHECK(!g.has_gen);
  CHECK(!sl_commit_get(c, "unknown", &g));
  sl_commit_free(c);
}

/* A registration saved for a new file does not carry the states put
 * since the last commit: they would describe data not yet durable. */
TEST(commitfile_register_keeps_pending_states_out) {
  const char *dir = mkdir_case("cf2");
  sl_err err = SL_ERR_INIT;
  sl_commitfile *c;
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  sl_commit_entry z = {0};
  CHECK_INT(sl_commit_put_state(c, "LEGACY", "[[\"s\"]]", &err), SL_EOK);
  CHECK_INT(sl_commit_register(c, &err), SL_EOK); /* nothing registered: no write */
  CHECK_INT(size_of(dir, REC), -1);
  CHECK_INT(sl_commit_set(c, "new", &z, &err), SL_EOK);
  CHECK_INT(sl_commit_register(c, &err), SL_EOK);
  sl_commit_free(c);
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  char states[512] = "";
  CHECK_INT(sl_commit_each_state(c, collect, states, &err), SL_EOK);
  CHECK_STR(states, "");
  sl_commit_entry g;
  CHECK(sl_commit_get(c, "new", &g) && g.bytes == 0);
  sl_commit_free(c);
}

/* A swap decided in the record but not renamed (a crash in between) is
 * finished by the next recover, cut to the committed length; a file the
 * record names that is gone is forgotten. */
TEST(commitfile_swap_finished_by_recover) {
  const char *dir = mkdir_case("cf3");
  sl_err err = SL_ERR_INIT;
  put(dir, REC,
      "{\"version\":1,\"files\":{\"f\":{\"bytes\":3,\"renamed_from\":\"f.tmp\"},\"gone\":{\"bytes\":9}},\"states\":{}}");
  put(dir, "f", "old file");
  put(dir, "f.tmp", "newXX");
  sl_commitfile *c;
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  CHECK_INT(sl_commit_recover(c, &err), SL_EOK);
  CHECK_INT(size_of(dir, "f.tmp"), -1);
  CHECK_INT(size_of(dir, "f"), 3);
  sl_commit_entry g;
  CHECK(!sl_commit_get(c, "gone", &g));
  sl_commit_free(c);
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK); /* saved: no rename pending */
  CHECK_INT(sl_commit_recover(c, &err), SL_EOK);
  CHECK_INT(size_of(dir, "f"), 3);
  /* A swap through the API: the record holds the new file afterwards. */
  put(dir, "g.tmp", "abc");
  sl_commit_entry e = {.bytes = 3};
  CHECK_INT(sl_commit_swap(c, "g.tmp", "g", &e, &err), SL_EOK);
  CHECK_INT(size_of(dir, "g"), 3);
  CHECK(sl_commit_get(c, "g", &g) && g.bytes == 3);
  CHECK(!sl_commit_get(c, "g.tmp", &g));
  sl_commit_free(c);
}

/* Bad records and files shorter than committed are errors naming them;
 * the marks of earlier versions are adopted and deleted after a save. */
TEST(commitfile_errors_and_upgrade) {
  const char *dir = mkdir_case("cf4");
  sl_err err = SL_ERR_INIT;
  sl_commitfile *c;
  put(dir, REC, "{\"files\": {\"x\": {\"bytes\": -1}}, \"states\": {}}");
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EIO);
  CHECK_CONTAINS(err.msg, "the entry of \"x\"");
  put(dir, REC, "{\"files\": ");
  err = (sl_err)SL_ERR_INIT;
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EIO);
  CHECK_CONTAINS(err.msg, REC ": line 1");
  put(dir, REC, "{\"version\":1,\"files\":{\"s\":{\"bytes\":10}},\"states\":{}}");
  put(dir, "s", "short");
  err = (sl_err)SL_ERR_INIT;
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  CHECK_INT(sl_commit_recover(c, &err), SL_EIO);
  CHECK_CONTAINS(err.msg, "/s is 5 bytes, shorter than the 10 bytes");
  sl_commitfile *other;
  CHECK_INT(sl_commit_load(dir, "t", &other, &err), SL_EOK); /* a second write of the same record waits, then fails */
  setenv("SLUICE_COMMIT_LOCK_WAIT_MS", "0", 1);
  err = (sl_err)SL_ERR_INIT;
  CHECK_INT(sl_commit_recover(other, &err), SL_ETRANSIENT);
  unsetenv("SLUICE_COMMIT_LOCK_WAIT_MS");
  CHECK_CONTAINS(err.msg, "another write is using");
  sl_commit_free(other);
  sl_commit_free(c);

  char rec[512];
  snprintf(rec, sizeof rec, "%s/%s", dir, REC);
  unlink(rec);
  put(dir, ".old.jsonl.committed", "4\n");
  put(dir, "old.csv.tmp.json", "{\"bytes\": 6, \"generation_id\": 2}");
  CHECK_INT(sl_commit_load(dir, "t", &c, &err), SL_EOK);
  sl_commit_entry g;
  CHECK(sl_commit_get(c, "old.jsonl", &g) && g.bytes == 4 && !g.has_gen);
  CHECK(sl_commit_get(c, "old.csv.tmp", &g) && g.bytes == 6 && g.has_gen && g.gen == 2);
  CHECK_INT(size_of(dir, ".old.jsonl.committed"), 2);
  CHECK_INT(sl_commit_save(c, &err), SL_EOK);
  CHECK_INT(size_of(dir, ".old.jsonl.committed"), -1);
  CHECK_INT(size_of(dir, "old.csv.tmp.json"), -1);
  sl_commit_free(c);
}
