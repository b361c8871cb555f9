#!/usr/bin/env bash
# `sluice read --validate` checks records against their stream's schema.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
bin=$BIN
tmp=$TMP

cat > "$tmp/typed-source" <<'SRC'
#!/usr/bin/env bash
case "$1" in
  discover) echo '{"type":"CATALOG","catalog":{"streams":[{"name":"t","json_schema":{"type":"object","properties":{"n":{"type":"integer"},"d":{"type":"string","format":"date-time"}}},"supported_sync_modes":["full_refresh"]}]}}' ;;
  read)
    echo '{"type":"RECORD","record":{"stream":"t","emitted_at":1,"data":{"n":1,"d":"2024-01-01T00:00:00Z"}}}'
    echo '{"type":"RECORD","record":{"stream":"t","emitted_at":1,"data":{"n":"two","d":"2024-01-01T00:00:00Z"}}}'
    echo '{"type":"RECORD","record":{"stream":"t","emitted_at":1,"data":{"n":3,"d":"yesterday"}}}' ;;
esac
SRC
chmod +x "$tmp/typed-source"
echo '{}' > "$tmp/c.json"
"$bin/sluice" read "$tmp/typed-source" --config "$tmp/c.json" --validate --json > "$tmp/out" 2> "$tmp/err"
rc=$?
[ $rc -ne 0 ] && pass "invalid records make read --validate fail" || fail "invalid records make read --validate fail" "exit $rc"
grep -q 'stream t record 2: /n: expected integer' "$tmp/err" && pass "error names stream, record and pointer" || fail "error names stream, record and pointer" "$(cat "$tmp/err")"
grep -q 'record 3: /d' "$tmp/err" && pass "date-time format is checked" || fail "date-time format is checked" "$(cat "$tmp/err")"
[ "$(grep -c RECORD "$tmp/out")" = 3 ] && pass "records still pass through" || fail "records still pass through" "$(wc -l < "$tmp/out")"
"$bin/sluice" read "$tmp/typed-source" --config "$tmp/c.json" --json > /dev/null 2>&1 && pass "without --validate read succeeds" || fail "without --validate read succeeds" "exit $?"
finish
