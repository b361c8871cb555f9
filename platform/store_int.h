/* Internals shared by the store's files. */
#ifndef SLUICE_STORE_INT_H
#define SLUICE_STORE_INT_H

#include "sluice/store.h"

#define STORE_BUSY_MS 5000

struct sl_store {
  const sl_store_backend *be;
  void *db;
  char *home;
  char *where; /* as given to sl_store_open (NULL: the default) */
  int version;
};

sl_code sl_store_pg_open(const char *url, void **db, const sl_store_backend **be, sl_err *err);
sl_code sl_store_sqlite_open(const char *path, void **db, const sl_store_backend **be, sl_err *err);

#endif
