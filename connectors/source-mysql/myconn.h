/* MySQL/MariaDB connection glue shared by source-mysql and
 * destination-mysql (which links myconn.o through its build.mk): the
 * connection config, connecting with TLS modes, error classification,
 * identifier quoting and value literals. */
#ifndef MYCONN_H
#define MYCONN_H

#include <mysql.h>

#include "sluice/sluice.h"

/* The connection keys of both connectors' specs (JSON Schema properties). */
#define MY_CONN_SPEC                                                                              \
  "\"host\":{\"type\":\"string\",\"title\":\"Host\",\"order\":0},"                                \
  "\"port\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65535,\"default\":3306,"              \
  "\"title\":\"Port\",\"order\":1},"                                                              \
  "\"database\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Database\",\"order\":2},"        \
  "\"username\":{\"type\":\"string\",\"title\":\"Username\",\"order\":3},"                        \
  "\"password\":{\"type\":\"string\",\"title\":\"Password\",\"airbyte_secret\":true,\"order\":4}," \
  "\"ssl_mode\":{\"type\":\"string\",\"title\":\"TLS mode\",\"enum\":[\"disabled\","            \
  "\"preferred\",\"required\",\"verify_ca\",\"verify_identity\"],\"default\":\"preferred\","      \
  "\"description\":\"disabled: plain; preferred: TLS when the server offers it; required: TLS, "  \
  "certificate not checked; verify_ca / verify_identity: TLS with the server certificate (and "   \
  "host name) checked against ssl_ca\",\"order\":5},"                                             \
  "\"ssl_ca\":{\"type\":\"string\",\"title\":\"CA certificate file\",\"description\":\"PEM file " \
  "for verify_ca / verify_identity\",\"order\":6}"
#define MY_CONN_REQUIRED "\"host\",\"database\",\"username\""

/* Connect with the config; sets utf8mb4, UTC session time zone. Errors name
 * user@host:port/database: wrong credentials or an unknown database are
 * SL_ECONFIG, an unreachable server SL_ETRANSIENT. */
sl_code my_connect(const json_t *config, MYSQL **out, sl_err *err);
/* The code for the connection's last error (transient for lost connections). */
sl_code my_code(MYSQL *m);
/* err from the connection's last error: "<what>: <server message> (code)". */
sl_code my_fail(MYSQL *m, sl_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Run a statement without a result. */
sl_code my_exec(MYSQL *m, const char *sql, size_t len, sl_err *err);

/* `name` with backticks doubled. */
void my_ident(sl_buf *b, const char *name);
/* A string literal that needs no escaping: _utf8mb4 X'<hex>'. */
void my_lit(sl_buf *b, const char *s, size_t n);

#endif
