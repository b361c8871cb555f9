/* source-mysql: what main.c (spec, check, discovery) and read.c share. */
#ifndef MYSRC_H
#define MYSRC_H

#include "myconn.h"
#include "sluice/dbsrc.h"

/* sl_dbcol.native: how a column's text from the server is read. */
enum { MYN_PLAIN = 0, MYN_BIT = 1 };

/* Tables of the connection's database, filtered; only_table limits the
 * lookup to one table (read). Caller frees each table and the array. */
sl_code my_load_tables(MYSQL *m, const json_t *config, const char *only_table, sl_dbtable **out,
                       size_t *n, sl_err *err);

/* read.c */
sl_code my_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err);

#endif
