/* MySQL/MariaDB connection glue (see myconn.h). */
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>

#include "myconn.h"

static const char *cfg_str(const json_t *c, const char *k) { return json_string_value(json_object_get(c, k)); }

sl_code my_code(MYSQL *m) {
  switch (mysql_errno(m)) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_SERVER_SHUTDOWN:
    case ER_CON_COUNT_ERROR:
    case 1927: /* ER_CONNECTION_KILLED */
      return SL_ETRANSIENT;
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_BAD_DB_ERROR:
    case CR_UNKNOWN_HOST:
      return SL_ECONFIG;
    default:
      return SL_ECONNECTOR;
  }
}

sl_code my_fail(MYSQL *m, sl_err *err, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  sl_code rc = my_code(m);
  return sl_err_set(err, rc, "%s: %s (MySQL error %u)", what, mysql_error(m), mysql_errno(m));
}

sl_code my_exec(MYSQL *m, const char *sql, size_t len, sl_err *err) {
  if (mysql_real_query(m, sql, len) == 0) {
    MYSQL_RES *r = mysql_store_result(m);
    mysql_free_result(r);
    return SL_EOK;
  }
  return my_fail(m, err, "running %.200s", sql);
}

sl_code my_connect(const json_t *config, MYSQL **out, sl_err *err) {
  const char *host = cfg_str(config, "host"), *db = cfg_str(config, "database"),
             *user = cfg_str(config, "username"), *pw = cfg_str(config, "password"),
             *mode = cfg_str(config, "ssl_mode"), *ca = cfg_str(config, "ssl_ca");
  json_int_t port = json_integer_value(json_object_get(config, "port"));
  if (!port) port = 3306;
  if (!mode) mode = "preferred";
  *out = NULL;
  MYSQL *m = mysql_init(NULL);
  if (!m) return sl_err_set(err, SL_ENOMEM, "out of memory");
  unsigned timeout = 10;
  my_bool on = 1, off = 0;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &on);
  if (!strcmp(mode, "disabled")) {
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &off);
  } else {
    mysql_ssl_set(m, NULL, NULL, ca, NULL, NULL);
    bool verify = !strcmp(mode, "verify_ca") || !strcmp(mode, "verify_identity");
    if (strcmp(mode, "preferred")) mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, verify ? &on : &off);
  }
  if (!mysql_real_connect(m, host, user, pw, db, (unsigned)port, NULL, CLIENT_FOUND_ROWS)) {
    sl_code rc = my_fail(m, err, "cannot connect to MySQL as %s@%s:%lld, database %s", user ? user : "",
                         host ? host : "", (long long)port, db ? db : "");
    if (rc == SL_ECONNECTOR) err->code = rc = SL_ECONFIG;
    mysql_close(m);
    return rc;
  }
  /* Connector/C may fall back to plain text: refuse that when TLS is required. */
  if (strcmp(mode, "disabled") && strcmp(mode, "preferred") && !mysql_get_ssl_cipher(m)) {
    mysql_close(m);
    return sl_err_set(err, SL_ECONFIG, "MySQL server %s:%lld does not offer TLS, and ssl_mode is %s",
                      host ? host : "", (long long)port, mode);
  }
  static const char init[] = "SET time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600";
  sl_code rc = my_exec(m, init, sizeof init - 1, err);
  if (rc) {
    mysql_close(m);
    return rc;
  }
  *out = m;
  return SL_EOK;
}

void my_ident(sl_buf *b, const char *name) {
  sl_buf_putc(b, '`');
  for (const char *p = name; *p; p++) {
    if (*p == '`') sl_buf_putc(b, '`');
    sl_buf_putc(b, *p);
  }
  sl_buf_putc(b, '`');
}

void my_lit(sl_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  if (!n) {
    sl_buf_append(b, "_utf8mb4''", 10);
    return;
  }
  sl_buf_append(b, "_utf8mb4 X'", 11);
  if (sl_buf_ensure(b, 2 * n + 1)) return;
  char *o = b->data + b->len;
  for (size_t i = 0; i < n; i++) {
    *o++ = hex[(unsigned char)s[i] >> 4];
    *o++ = hex[(unsigned char)s[i] & 15];
  }
  b->len += 2 * n;
  sl_buf_putc(b, '\'');
}
