#!/usr/bin/env bash
# Values of airbyte_secret fields never reach logs, traces or errors: a
# connector that tries to leak its password everywhere is built and run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
bin=$BIN
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$bin/.." && pwd)
tmp=$TMP

cat > "$tmp/leaky.c" <<'SRC'
#include "sluice/sluice.h"
static const char spec[] = "{\"type\":\"object\",\"required\":[\"password\"],\"properties\":{"
  "\"password\":{\"type\":\"string\",\"airbyte_secret\":true,\"pattern\":\"^[a-z]+$\"},"
  "\"auth\":{\"type\":\"object\",\"properties\":{\"token\":{\"type\":\"string\",\"airbyte_secret\":true}}}}}";
static const char schema[] = "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}}}";
static sl_code check(const json_t *c, sl_err *err) {
  return sl_err_set(err, SL_ECONFIG, "login refused for password %s",
                    json_string_value(json_object_get(c, "password")));
}
static sl_code rd(sl_read *r, const sl_cstream *cs, sl_err *err) {
  const json_t *c = sl_read_config(r);
  sl_read_log(r, "INFO", "token is %s", json_string_value(json_object_get(json_object_get(c, "auth"), "token")));
  return sl_err_set(err, SL_ESOURCE, "failed with %s", json_string_value(json_object_get(c, "password")));
}
static const sl_stream_def streams[] = {{"s", schema, SL_SYNC_FULL_REFRESH, NULL, NULL, false, rd}};
static const sl_source src = {.name = "source-leaky", .version = "0", .spec_json = spec,
                              .streams = streams, .n_streams = 1, .check = check};
int main(int argc, char **argv) { return sl_source_main(&src, argc, argv); }
SRC
san=""
# The library was built with the sanitizers whatever the directory is called.
nm "$build/lib/libsluice.a" 2>/dev/null | grep "__asan_" > /dev/null && san="-fsanitize=address,undefined"
gcc -std=gnu11 -Wall -Werror $san -I"$root/include" -o "$tmp/source-leaky" "$tmp/leaky.c" \
  "$build/lib/libsluice.a" -ljansson -lsimdjson -lstdc++ -lm 2> "$tmp/cc.log" && pass "leaky source builds" || fail "leaky source builds" "$(head -3 "$tmp/cc.log")"

echo '{"password":"hunterpass","auth":{"token":"tok-SECRET-42"}}' > "$tmp/good.json"
echo '{"password":"Hunter-Pass-99","auth":{"token":"tok-SECRET-42"}}' > "$tmp/badpattern.json"
printf '{"streams":[{"stream":{"name":"s","json_schema":{},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"append"}]}' > "$tmp/cat.json"

"$tmp/source-leaky" check --config "$tmp/good.json" > "$tmp/check.out" 2> "$tmp/check.err"
grep -q '"FAILED"' "$tmp/check.out" && pass "check reports FAILED" || fail "check reports FAILED" "$(cat "$tmp/check.out")"
grep -q hunterpass "$tmp/check.out" "$tmp/check.err" && fail "check message scrubbed" "secret found" || pass "check message scrubbed"
grep -q 'password \*\*\*\*\*\*\*\*\*\*' "$tmp/check.out" && pass "check message keeps its text around the mask" || fail "check message keeps its text around the mask" "$(cat "$tmp/check.out")"

"$tmp/source-leaky" check --config "$tmp/badpattern.json" > "$tmp/pat.out" 2> "$tmp/pat.err"
grep -q '/password' "$tmp/pat.out" && pass "schema error names the field" || fail "schema error names the field" "$(cat "$tmp/pat.out")"
grep -q 'Hunter-Pass-99' "$tmp/pat.out" "$tmp/pat.err" && fail "schema error scrubbed" "secret found" || pass "schema error scrubbed"

"$tmp/source-leaky" read --config "$tmp/good.json" --catalog "$tmp/cat.json" > "$tmp/read.out" 2> "$tmp/read.err"
rc=$?
[ $rc -ne 0 ] && pass "failing read exits non-zero" || fail "failing read exits non-zero" "exit $rc"
grep -q '"failure_type"' "$tmp/read.out" && pass "failing read emits an error trace" || fail "failing read emits an error trace" "$(cat "$tmp/read.out")"
grep -q -e hunterpass -e tok-SECRET-42 "$tmp/read.out" "$tmp/read.err" && fail "read logs and traces scrubbed" "secret found" || pass "read logs and traces scrubbed"
grep -q 'token is \*\*\*\*' "$tmp/read.out" && pass "nested oneOf-free secret scrubbed in LOG" || fail "nested secret scrubbed in LOG" "$(grep LOG "$tmp/read.out")"
finish
