/* Internals of `sluice server` (server.c: scheduler; server_api.c: REST,
 * a pool of libmicrohttpd threads, each with its own store connection). */
#ifndef SLUICE_SERVER_INT_H
#define SLUICE_SERVER_INT_H

#include <sys/types.h>

#include "sluice/store.h"

typedef struct sl_server {
  sl_server_opts opts;
  sl_store *store; /* the scheduler's (the API's threads open their own) */
  struct MHD_Daemon *mhd;
  int bound_port;
} sl_server;

sl_code sl_server_api_start(sl_server *sv, sl_err *err);
void sl_server_api_stop(sl_server *sv);

#endif
