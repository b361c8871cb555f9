/* sluice: the commit record of a file destination's directory.
 *
 * One hidden file, <dir>/.sluice-commit-<owner>.json (owner: the
 * destination, "jsonl" or "csv"), says what the destination's last commit
 * holds: the committed byte length of every file the destination writes
 * there, and the states the last commits covered (the destination's
 * save_state/load_states, see lib/dest_states.c). A commit fsyncs the data
 * files, then replaces the record atomically (write, fsync, rename, fsync
 * the directory), so a commit spanning several files is all or nothing:
 * bytes past a file's committed length were never acknowledged, and
 * sl_commit_recover cuts them at the start of the next write.
 *
 * Files are named relative to the directory. A file the record does not
 * know (written before the record existed) is kept whole, so every file a
 * write appends to is registered (sl_commit_set) and the record saved
 * before its first byte is written (sl_commit_register). */
#ifndef SLUICE_COMMITFILE_H
#define SLUICE_COMMITFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/err.h"

#define SL_COMMIT_RECORD_FMT ".sluice-commit-%s.json"

typedef struct sl_commitfile sl_commitfile;

/* One file's entry: its committed length, and the generation its records
 * belong to (has_gen false: none recorded, a null generation). */
typedef struct sl_commit_entry {
  uint64_t bytes;
  bool has_gen;
  int64_t gen;
} sl_commit_entry;

/* Read owner's record in dir (none yet: an empty one). Reads only: the
 * destination's `state` command uses it too. Each owner has its own record
 * (its own files and states), so two destinations may share a directory. */
sl_code sl_commit_load(const char *dir, const char *owner, sl_commitfile **out, sl_err *err);
void sl_commit_free(sl_commitfile *c);

/* At the start of a write: lock the directory against another write of
 * the same owner (waits up to 30 s, SLUICE_COMMIT_LOCK_WAIT_MS, for one
 * finishing, then SL_ETRANSIENT naming the directory), finish a rename the last commit decided
 * (sl_commit_swap), cut every file to its committed length, forget files
 * that are gone; saves the record when that changed it. A file shorter
 * than its committed length is an error naming it (changed by hand?). */
sl_code sl_commit_recover(sl_commitfile *c, sl_err *err);

/* The entry of name: false when the record does not know the file. Files of
 * the per-file marks of earlier versions (".<name>.committed" holding a
 * length, "<name>.json" holding {"bytes", "generation_id"}) are read once
 * here, and deleted after the next save. */
bool sl_commit_get(sl_commitfile *c, const char *name, sl_commit_entry *out);
/* Set or forget an entry for the next save. */
sl_code sl_commit_set(sl_commitfile *c, const char *name, const sl_commit_entry *e, sl_err *err);
void sl_commit_drop(sl_commitfile *c, const char *name);
/* Make the entries set since the last save durable, without the states
 * put since (they wait for the commit): before the first byte goes to a
 * newly registered file. Does nothing when no entry changed. */
sl_code sl_commit_register(sl_commitfile *c, sl_err *err);
/* The commit: write the record atomically with every entry and the states
 * put since the last commit. The caller has fsync'd every file whose length
 * it sets. */
sl_code sl_commit_save(sl_commitfile *c, sl_err *err);
/* Register name as a new empty file (entry {0, e's generation}; saved first
 * when the record held committed bytes of it) and create it, truncated:
 * open(2) flags O_CREAT | O_TRUNC | O_CLOEXEC | flags. The fd, or -1 with err. */
int sl_commit_create(sl_commitfile *c, const char *name, const sl_commit_entry *e, int flags, sl_err *err);

/* Commit "from" (fsync'd, bytes long) as the new "to": the record first
 * says so, then the rename happens; a crash in between is finished by
 * sl_commit_recover. Afterwards "to" has the entry {bytes, e's generation}
 * and "from" none. */
sl_code sl_commit_swap(sl_commitfile *c, const char *from, const char *to, const sl_commit_entry *e, sl_err *err);

/* The destination's kept states (save_state / load_states). */
sl_code sl_commit_put_state(sl_commitfile *c, const char *key, const char *value, sl_err *err);
sl_code sl_commit_each_state(const sl_commitfile *c, void (*each)(void *arg, const char *key, const char *value),
                             void *arg, sl_err *err);

/* Cut an open file to bytes; a file shorter than that is an error. Logs
 * what was cut. (Also for files the record does not hold.) */
sl_code sl_commit_cut_fd(int fd, const char *path, uint64_t bytes, const char *why, sl_err *err);

#endif
