#include "sluice/rand.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sl_rng_next(sl_rng *r) {
  uint64_t *s = r->s;
  uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

void sl_rng_seed(sl_rng *r) {
  if (getrandom(r->s, sizeof r->s, 0) != (ssize_t)sizeof r->s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->s[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull;
    r->s[1] = (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
    r->s[2] = (uint64_t)(uintptr_t)r;
    r->s[3] = 0x2545F4914F6CDD1Dull;
  }
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* the one bad state */
}

void sl_uuid4(sl_rng *r, char out[37]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t b[16];
  uint64_t a = sl_rng_next(r), c = sl_rng_next(r);
  memcpy(b, &a, 8);
  memcpy(b + 8, &c, 8);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  char *o = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hex[b[i] >> 4];
    *o++ = hex[b[i] & 15];
  }
  *o = 0;
}
