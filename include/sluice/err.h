/* sluice: error codes and the error object.
 *
 * Every function that can fail returns an sl_code and, when given one, fills
 * an sl_err with a one-line human message naming the input (file, line,
 * field, stream). The code table is an X-macro: codes are never renumbered,
 * retired ones become OBSOLETEn. The CLI's exit status is the code. */
#ifndef SLUICE_ERR_H
#define SLUICE_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* XX(name, value, failure_type, description) */
#define SL_ERR_MAP(XX)                                                        \
  XX(OK, 0, "", "success")                                                    \
  XX(USAGE, 2, "config_error", "bad command-line usage")                      \
  XX(IO, 3, "system_error", "input/output error")                             \
  XX(NOMEM, 4, "system_error", "out of memory")                               \
  XX(JSON, 5, "config_error", "malformed JSON")                               \
  XX(CONFIG, 6, "config_error", "invalid configuration")                      \
  XX(CATALOG, 7, "config_error", "invalid catalog")                           \
  XX(STATE, 8, "config_error", "invalid state")                               \
  XX(PROTOCOL, 9, "system_error", "protocol violation")                       \
  XX(LIMIT, 10, "system_error", "size limit exceeded")                        \
  XX(SCHEMA, 11, "config_error", "value does not match its schema")           \
  XX(CONNECTOR, 12, "system_error", "connector failed")                       \
  XX(DESTINATION, 13, "system_error", "destination failed")                   \
  XX(SOURCE, 14, "system_error", "source failed")                             \
  XX(INTERRUPTED, 15, "transient_error", "interrupted by a signal")           \
  XX(TRANSIENT, 16, "transient_error", "temporary failure; retrying may help")\
  XX(INTERNAL, 17, "system_error", "internal error")                          \
  XX(NOTFOUND, 18, "config_error", "not found")

typedef enum sl_code {
#define SL__ERR_ENUM(name, value, ft, desc) SL_E##name = value,
  SL_ERR_MAP(SL__ERR_ENUM)
#undef SL__ERR_ENUM
} sl_code;

#define SL_ERR_MSG_MAX 1024

typedef struct sl_err {
  sl_code code;
  char msg[SL_ERR_MSG_MAX];
} sl_err;

#define SL_ERR_INIT {SL_EOK, {0}}

/* Name ("JSON"), description and Airbyte failure_type of a code. */
const char *sl_err_name(sl_code code);
const char *sl_strerror(sl_code code);
const char *sl_err_failure_type(sl_code code);

/* Fill err (if not NULL) and return code. The message is formatted printf-style. */
sl_code sl_err_set(sl_err *err, sl_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sl_code sl_err_vset(sl_err *err, sl_code code, const char *fmt, va_list ap);
/* Prefix the existing message with "context: ", keeping the code. */
sl_code sl_err_wrap(sl_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sl_err_clear(sl_err *err);

#endif
