#include "sluice/err.h"

#include <stdio.h>
#include <string.h>

const char *sl_err_name(sl_code code) {
  switch (code) {
#define SL__ERR_NAME(name, value, ft, desc) case SL_E##name: return #name;
    SL_ERR_MAP(SL__ERR_NAME)
#undef SL__ERR_NAME
  }
  return "UNKNOWN";
}

const char *sl_strerror(sl_code code) {
  switch (code) {
#define SL__ERR_DESC(name, value, ft, desc) case SL_E##name: return desc;
    SL_ERR_MAP(SL__ERR_DESC)
#undef SL__ERR_DESC
  }
  return "unknown error";
}

const char *sl_err_failure_type(sl_code code) {
  switch (code) {
#define SL__ERR_FT(name, value, ft, desc) case SL_E##name: return ft;
    SL_ERR_MAP(SL__ERR_FT)
#undef SL__ERR_FT
  }
  return "system_error";
}

sl_code sl_err_vset(sl_err *err, sl_code code, const char *fmt, va_list ap) {
  if (err) {
    /* Format aside first: callers may pass err->msg itself as an argument. */
    char tmp[SL_ERR_MSG_MAX];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    memcpy(err->msg, tmp, sizeof tmp);
    err->code = code;
  }
  return code;
}

sl_code sl_err_set(sl_err *err, sl_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_err_vset(err, code, fmt, ap);
  va_end(ap);
  return code;
}

sl_code sl_err_wrap(sl_err *err, const char *fmt, ...) {
  if (!err) return SL_EINTERNAL;
  char prefix[SL_ERR_MSG_MAX], old[SL_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
  return err->code;
}

void sl_err_clear(sl_err *err) {
  if (err) {
    err->code = SL_EOK;
    err->msg[0] = 0;
  }
}
