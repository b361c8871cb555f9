/* source-postgres: CDC (placeholder while being written). */
#include "pgsrc.h"

sl_code cdc_read_stream(sl_read *rd, const sl_cstream *cs, sl_err *err) {
  (void)rd;
  return sl_err_set(err, SL_ECONFIG, "stream %s: CDC is not available yet", cs->name);
}
