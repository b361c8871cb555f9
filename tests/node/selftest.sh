#!/bin/sh
# Self-test of the protocol validator (tests/node/validate-protocol.js): the
# known-good sample must pass and show every message type; the known-bad
# sample must fail, with every one of its lines reported (each bad line is a
# separate mistake the validator has to catch).
# usage: tests/node/selftest.sh   (run `npm ci` in tests/node once first)
set -u
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../data/protocol"
validator="$here/validate-protocol.js"
all_types=RECORD,STATE,LOG,SPEC,CONNECTION_STATUS,CATALOG,TRACE,CONTROL

if [ ! -d "$here/node_modules/ajv" ]; then
  echo "protocol-selftest: run 'npm ci' in $here first" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); }
ko() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}

# expect WANT_RC NAME ARGS...: run the validator, compare its exit status.
expect() {
  want=$1
  name=$2
  shift 2
  node "$validator" "$@" >"$tmp/out" 2>&1
  rc=$?
  if [ "$rc" -eq "$want" ]; then
    ok
  else
    ko "$name: exit $rc, expected $want"
    sed 's/^/  | /' "$tmp/out"
  fi
}
summary() { grep '^protocol: [0-9]* messages valid' "$tmp/out"; }
lines() { grep -c '[^[:space:]]' "$1"; }
ngood=$(lines "$data/good.jsonl")
nbad=$(lines "$data/bad.jsonl")

# good.jsonl: passes, every message type present, every line valid.
expect 0 "good.jsonl passes" --require-types "$all_types" "$data/good.jsonl"
case "$(summary)" in
  "protocol: $ngood messages valid in 1 files ("*")") ok ;;
  *) ko "good.jsonl: want all $ngood lines valid, got: $(summary)" ;;
esac
# Both STATE kinds and the three TRACE kinds asked for are there.
for want in '"type":"STREAM","stream"' '"type":"GLOBAL","global"' '"type":"ERROR"' \
  '"type":"STREAM_STATUS"' '"type":"ESTIMATE"'; do
  if grep -q "$want" "$data/good.jsonl"; then ok; else ko "good.jsonl has no line with $want"; fi
done

# bad.jsonl: fails, and every one of its lines is counted invalid (the
# summary counts all errors, not only the 20 printed).
expect 1 "bad.jsonl fails" "$data/bad.jsonl"
case "$(summary)" in
  "protocol: 0 messages valid in 1 files "*"; $nbad invalid") ok ;;
  *) ko "bad.jsonl: want all $nbad lines invalid, got: $(summary)" ;;
esac
expect 1 "good.jsonl + bad.jsonl fails" "$data/good.jsonl" "$data/bad.jsonl"

# A required type that never appears fails the run.
grep -m1 '"type":"RECORD"' "$data/good.jsonl" >"$tmp/record.jsonl"
expect 0 "one RECORD, RECORD required" --require-types RECORD "$tmp/record.jsonl"
expect 1 "one RECORD, STATE required" --require-types RECORD,STATE "$tmp/record.jsonl"

echo "protocol-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
