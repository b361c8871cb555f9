/* Private: the destination runtime's record of committed states (dest_states.c). */
#ifndef SLUICE_LIB_DEST_STATES_H
#define SLUICE_LIB_DEST_STATES_H

#include "entry.h"

typedef struct sl_dstates sl_dstates;

/* NULL in *out when the destination keeps no states. */
sl_code sl__dstates_open(const sl_destination *dst, void *h, sl_dstates **out, sl_err *err);
/* A state (the message's "state" object) the next commit will cover. */
sl_code sl__dstates_note(sl_dstates *s, sl_jv state, sl_err *err);
/* States noted since the last commit. */
bool sl__dstates_pending(const sl_dstates *s);
/* Before the commit: write the histories of the keys noted since the last. */
sl_code sl__dstates_save(sl_dstates *s, sl_err *err);
void sl__dstates_free(sl_dstates *s);
int sl__dest_cmd_state(sl_entry *e, const sl_destination *dst, sl_err *err);

#endif
