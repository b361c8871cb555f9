// Shortest round-trip formatting of doubles with std::to_chars (C++17,
// libstdc++ >= 11): exact and about ten times cheaper than printf + strtod.
#include <charconv>
#include <cstddef>

extern "C" size_t sl__fmt_double_shortest(char *p, size_t cap, double v) {
  auto r = std::to_chars(p, p + cap, v);
  return r.ec == std::errc() ? static_cast<size_t>(r.ptr - p) : 0;
}
