#!/usr/bin/env bash
# Values of airbyte_secret fields never reach logs, traces or errors: a
# connector that tries to leak its password everywhere is built and run.
set -uo pipefail
bin=${1:-build/bin}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$bin/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
no() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

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
case "$build" in *asan*) san="-fsanitize=address,undefined";; esac
gcc -std=gnu11 -Wall -Werror $san -I"$root/include" -o "$tmp/source-leaky" "$tmp/leaky.c" \
  "$build/lib/libsluice.a" -ljansson -lsimdjson -lstdc++ -lm 2> "$tmp/cc.log" && ok "leaky source builds" || no "leaky source builds" "$(head -3 "$tmp/cc.log")"

echo '{"password":"hunterpass","auth":{"token":"tok-SECRET-42"}}' > "$tmp/good.json"
echo '{"password":"Hunter-Pass-99","auth":{"token":"tok-SECRET-42"}}' > "$tmp/badpattern.json"
printf '{"streams":[{"stream":{"name":"s","json_schema":{},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"append"}]}' > "$tmp/cat.json"

"$tmp/source-leaky" check --config "$tmp/good.json" > "$tmp/check.out" 2> "$tmp/check.err"
grep -q '"FAILED"' "$tmp/check.out" && ok "check reports FAILED" || no "check reports FAILED" "$(cat "$tmp/check.out")"
grep -q hunterpass "$tmp/check.out" "$tmp/check.err" && no "check message scrubbed" "secret found" || ok "check message scrubbed"
grep -q 'password \*\*\*\*\*\*\*\*\*\*' "$tmp/check.out" && ok "check message keeps its text around the mask" || no "check message keeps its text around the mask" "$(cat "$tmp/check.out")"

"$tmp/source-leaky" check --config "$tmp/badpattern.json" > "$tmp/pat.out" 2> "$tmp/pat.err"
grep -q '/password' "$tmp/pat.out" && ok "schema error names the field" || no "schema error names the field" "$(cat "$tmp/pat.out")"
grep -q 'Hunter-Pass-99' "$tmp/pat.out" "$tmp/pat.err" && no "schema error scrubbed" "secret found" || ok "schema error scrubbed"

"$tmp/source-leaky" read --config "$tmp/good.json" --catalog "$tmp/cat.json" > "$tmp/read.out" 2> "$tmp/read.err"
rc=$?
[ $rc -ne 0 ] && ok "failing read exits non-zero" || no "failing read exits non-zero" "exit $rc"
grep -q '"failure_type"' "$tmp/read.out" && ok "failing read emits an error trace" || no "failing read emits an error trace" "$(cat "$tmp/read.out")"
grep -q -e hunterpass -e tok-SECRET-42 "$tmp/read.out" "$tmp/read.err" && no "read logs and traces scrubbed" "secret found" || ok "read logs and traces scrubbed"
grep -q 'token is \*\*\*\*' "$tmp/read.out" && ok "nested oneOf-free secret scrubbed in LOG" || no "nested secret scrubbed in LOG" "$(grep LOG "$tmp/read.out")"
echo "secrets: $pass passed, $fail failed"
[ $fail -eq 0 ]
