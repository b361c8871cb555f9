/* source-file: a hand-written CSV scanner.
 *
 * Written because libcsv's byte-at-a-time state machine costs about 40
 * instructions a byte, half the budget of a 1M rows/s read on its own
 * (measured: docs/performance.md, "source-file"). This one copies runs of
 * plain bytes found 16 at a time (SSE2). It follows libcsv's rules, so
 * both parse the same (the e2e suite runs fixtures through both): fields
 * end at the delimiter, rows at CR, LF or CRLF, blank lines are skipped, a
 * doubled quote inside quotes is one quote, a quote inside an unquoted field
 * is data, and text after a closing quote is kept (the quote too). An
 * unquoted empty field is reported as null-able. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "csv_int.h"

enum { S_ROW, S_FIELD, S_PLAIN, S_QUOTED, S_QUOTE_SEEN };

void cscan_init(cscan *s, unsigned char delim, unsigned char quote) {
  memset(s, 0, sizeof *s);
  s->delim = delim;
  s->quote = quote;
  s->special[delim] = s->special['\n'] = s->special['\r'] = true;
}

static inline bool eol(unsigned char ch) { return ch == '\n' || ch == '\r'; }

/* Index of the first delimiter, CR or LF in p[i..n), or n: 16 bytes a step
 * with SSE2 (x86-64 always has it), then byte by byte. */
static inline size_t plain_run(const cscan *s, const char *p, size_t i, size_t n) {
#ifdef __SSE2__
  const __m128i d = _mm_set1_epi8((char)s->delim), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, lf)), _mm_cmpeq_epi8(x, cr));
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (m) return i + (size_t)__builtin_ctz(m);
  }
#endif
  while (i < n && !s->special[(unsigned char)p[i]]) i++;
  return i;
}

void cscan_feed(cscan *s, cctx *c, const char *p, size_t n) {
  size_t i = 0;
  int st = s->st;
  while (i < n && !c->rc && !c->em->stop) {
    unsigned char ch = (unsigned char)p[i];
    switch (st) {
      case S_ROW:
        if (eol(ch)) { /* blank line, or the LF of a CRLF */
          i++;
          continue;
        }
        /* fall through */
      case S_FIELD:
        if (crow_field_begin(c)) return;
        if (ch == s->quote) {
          st = S_QUOTED;
          i++;
        } else if (ch == s->delim || eol(ch)) { /* an empty unquoted field */
          crow_field_end(c, true);
          i++;
          if (ch == s->delim) st = S_FIELD;
          else {
            st = S_ROW;
            crow_end(c);
          }
        } else {
          st = S_PLAIN;
        }
        continue;
      case S_PLAIN: {
        size_t j = plain_run(s, p, i, n);
        crow_append(c, p + i, j - i);
        i = j;
        if (j == n) continue;
        crow_field_end(c, false);
        i++;
        if ((unsigned char)p[j] == s->delim) st = S_FIELD;
        else {
          st = S_ROW;
          crow_end(c);
        }
        continue;
      }
      case S_QUOTED: {
        const char *q = memchr(p + i, s->quote, n - i);
        size_t j = q ? (size_t)(q - p) : n;
        crow_append(c, p + i, j - i);
        i = q ? j + 1 : n;
        if (q) st = S_QUOTE_SEEN;
        continue;
      }
      case S_QUOTE_SEEN:
        i++;
        if (ch == s->quote) { /* a doubled quote */
          crow_append(c, p + i - 1, 1);
          st = S_QUOTED;
        } else if (ch == s->delim) {
          crow_field_end(c, false);
          st = S_FIELD;
        } else if (eol(ch)) {
          crow_field_end(c, false);
          st = S_ROW;
          crow_end(c);
        } else { /* "ab"cd: the quote was data after all, as libcsv reads it */
          char two[2] = {(char)s->quote, (char)ch};
          crow_append(c, two, 2);
          st = S_QUOTED;
        }
        continue;
    }
  }
  s->st = st;
}

bool cscan_finish(cscan *s, cctx *c) {
  switch (s->st) {
    case S_QUOTED: return false;
    case S_FIELD: /* "a," at the end: one more empty field */
      if (crow_field_begin(c)) return true;
      crow_field_end(c, true);
      crow_end(c);
      break;
    case S_PLAIN:
    case S_QUOTE_SEEN:
      crow_field_end(c, false);
      crow_end(c);
      break;
  }
  s->st = S_ROW;
  return true;
}
