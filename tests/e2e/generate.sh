#!/usr/bin/env bash
# sluice generate: each template gives a connector that builds, validates its
# metadata and passes `sluice test` as generated; bad names are refused.
# Usage: tests/e2e/generate.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BIN/.." && pwd)
SAN=
nm "$BUILD/lib/libsluice.a" 2>/dev/null | grep __asan_init >/dev/null && SAN=1 # not grep -q: pipefail
G="$TMP/gen"

# generate TEMPLATE NAME: the files every connector must have
generate() {
  local t=$1 n=$2 d="$G/connectors/$2"
  run "gen-$n" "$BIN/sluice" generate "$t" "$n" --out "$G"
  expect_rc "$t: generate $n" 0 "gen-$n"
  local missing=""
  for f in README.md metadata.yaml CHANGELOG.md icon.svg Dockerfile acceptance-test-config.yml .gitignore \
    integration_tests/configured_catalog.json integration_tests/invalid_config.json integration_tests/sample_state.json \
    integration_tests/abnormal_state.json integration_tests/sample_config.json; do
    [ -f "$d/$f" ] || missing="$missing $f"
  done
  [ -d "$d/secrets" ] || missing="$missing secrets/"
  [ -z "$missing" ] && pass "$t: all files" || fail "$t: all files" "missing:$missing"
  grep -qx 'secrets/' "$d/.gitignore" && pass "$t: secrets/ git-ignored" || fail "$t: secrets ignored" "not in .gitignore"
  grep -rq 'TODO' "$d" && pass "$t: TODO markers" || fail "$t: TODO markers" "none"
  grep -rq '@[A-Z_]*@' "$d" && fail "$t: placeholders" "$(grep -rn '@[A-Z_]*@' "$d" | head -2)" || pass "$t: placeholders all filled"
  for f in "$d"/integration_tests/*.json; do json_ok "$f" || fail "$t: $(basename "$f")" "not JSON"; done
  run "meta-$n" "$BIN/sluice" metadata validate "$d"
  expect_rc "$t: metadata validates" 0 "meta-$n"
}

# acceptance NAME MIN_PASSED: sluice test passes as generated
acceptance() {
  run "cat-$1" timeout -k 5 120 "$BIN/sluice" test "$G/connectors/$1"
  expect_rc "$1: sluice test passes as generated" 0 "cat-$1"
  local p
  p=$(sed -nE 's/.*: ([0-9]+) passed, 0 failed.*/\1/p' "$TMP/cat-$1.out")
  [ "${p:-0}" -ge "$2" ] && pass "$1: $p checks" || fail "$1: checks" "only '${p}' passed"
}

generate source-c source-demo
run build-src make -C "$G/connectors/source-demo" SLUICE="$ROOT" BUILD="$BUILD" SAN="$SAN"
expect_rc "source-c: builds" 0 build-src
[ -x "$G/connectors/source-demo/source-demo" ] && pass "source-c: binary" || fail "source-c: binary" "not built"
acceptance source-demo 45

generate destination-c destination-demo
run build-dst make -C "$G/connectors/destination-demo" SLUICE="$ROOT" BUILD="$BUILD" SAN="$SAN"
expect_rc "destination-c: builds" 0 build-dst
acceptance destination-demo 15

generate generic source-anything
acceptance source-anything 45

generate source-singer source-my-tap
acceptance source-my-tap 45

# a declarative source: spec as generated, the live suites skipped without
# secrets/config.json; with it (the example API served locally) all pass
generate source-declarative source-example-api
D="$G/connectors/source-example-api"
acceptance source-example-api 10
expect_out "declarative: live suites skipped, saying why" cat-source-example-api "skip connection/all: secrets absent: secrets/config.json is missing"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$D/integration_tests/example_api" >"$TMP/http.out" 2>&1 &
HTTP_PID=$!
trap 'kill "$HTTP_PID" 2>/dev/null; e2e_cleanup' EXIT
if wait_for 100 grep -q 'port [0-9]' "$TMP/http.out"; then
  port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/http.out" | head -n1)
  echo "{\"api_url\": \"http://127.0.0.1:$port\"}" >"$D/secrets/config.json"
  acceptance source-example-api 35
else
  fail "declarative: example API" "http.server did not start: $(cat "$TMP/http.out")"
fi
kill "$HTTP_PID" 2>/dev/null
wait "$HTTP_PID" 2>/dev/null

# bad names, templates, and an existing connector
run taken "$BIN/sluice" generate source-c source-demo --out "$G"
expect_rc "taken name refused" nonzero taken
expect_err "taken: says so" taken "already exists; refusing to overwrite"
before=$(md5sum "$G/connectors/source-demo/main.c")
expect_eq "taken: files untouched" "$(md5sum "$G/connectors/source-demo/main.c")" "$before"
for bad in Source-X source_x source- source-x--y source-x- sink-x "source-a/b"; do
  run "bad" "$BIN/sluice" generate generic "$bad" --out "$G"
  if [ "$RC" -ne 0 ] && grep -q "invalid connector name" "$TMP/bad.err"; then pass "invalid name $bad"; else fail "invalid name $bad" "exit $RC"; fi
done
run wrongtype "$BIN/sluice" generate source-c destination-x --out "$G"
expect_err "template and name disagree" wrongtype "the source-c template makes a source"
run notmpl "$BIN/sluice" generate source-cobol source-x --out "$G"
expect_rc "unknown template" nonzero notmpl
expect_err "unknown template: named" notmpl 'unknown template "source-cobol"'
[ ! -e "$G/connectors/source-x" ] && pass "nothing written on errors" || fail "nothing written" "source-x exists"

# interactive on a terminal: asks for the template and the name
printf '1\nsource-asked\n' >"$TMP/answers"
timeout 20 script -qec "$BIN/sluice generate --out $G" /dev/null <"$TMP/answers" >"$TMP/ask.out" 2>&1
[ -f "$G/connectors/source-asked/main.c" ] && pass "interactive generate" || fail "interactive generate" "$(tail -c 300 "$TMP/ask.out")"

finish
