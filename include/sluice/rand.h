/* sluice: fast non-cryptographic randomness (xoshiro256**) and UUIDs,
 * for record ids such as _airbyte_raw_id. */
#ifndef SLUICE_RAND_H
#define SLUICE_RAND_H

#include <stdint.h>

typedef struct sl_rng {
  uint64_t s[4];
} sl_rng;

/* Seed from getrandom(), falling back to the clock and pid. */
void sl_rng_seed(sl_rng *r);
uint64_t sl_rng_next(sl_rng *r);
/* A random (version 4) UUID: 36 characters and a NUL. */
void sl_uuid4(sl_rng *r, char out[37]);

#endif
