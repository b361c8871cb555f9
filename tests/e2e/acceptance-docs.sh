#!/usr/bin/env bash
# `sluice test`'s documentation suite (connector_documentation), one data case
# per directory of tests/data/acceptance-docs/cases/<case>/:
#   README.md   the docs checked (@MOCK@ is the local mock server's URL)
#   expect      lines "<check> <pass|FAIL|skip> [fragment of the message]"
#   input.yml   optional: the input set (default: docs_path README.md and
#               certified_only: false)
#   connector-dir  optional: the connector directory inside the case
# plus any other file the docs link to. The connector is
# tests/data/acceptance-docs/connector (name "Example", a source).
# Usage: tests/e2e/acceptance-docs.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
DATA="$ROOT/tests/data/acceptance-docs"

# the local HTTP server the links point at (200, 301, 401, 403, 404, 405, 500)
python3 "$ROOT/tests/mock/mock_http.py" --routes "$DATA/routes.json" --log "$TMP/mock.jsonl" --port-file "$TMP/mock-port" >/dev/null 2>&1 &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2>/dev/null; e2e_cleanup' EXIT
wait_for 100 test -s "$TMP/mock-port" || { fail "mock server" "did not start"; finish; }
MOCK=http://127.0.0.1:$(cat "$TMP/mock-port")

ncase=0
for dir in "$DATA"/cases/*/; do
  case=$(basename "$dir")
  work="$TMP/cases/$case"
  mkdir -p "$work"
  cp -RL "$dir". "$work/"
  find "$work" -name '*.md' -exec sed -i "s|@MOCK@|$MOCK|g" {} +
  {
    if [ -f "$work/connector-dir" ]; then echo "connector: $work/$(cat "$work/connector-dir")"
    else echo "connector: $DATA/connector"; fi
    echo "acceptance_tests:"
    echo "  connector_documentation:"
    echo "    tests:"
    echo "      - config_path: $DATA/connector/sample_config.json"
    if [ -f "$work/input.yml" ]; then sed 's/^/        /' "$work/input.yml"
    else printf '        docs_path: README.md\n        certified_only: false\n'; fi
  } >"$work/acceptance-test-config.yml"
  (cd "$work" && "$BIN/sluice" test --config acceptance-test-config.yml --suites connector_documentation \
    >"$TMP/$case.out" 2>"$TMP/$case.err")
  RC=$?
  sanitizer_check "$case"
  ncase=$((ncase + 1))
  want_rc=0
  while read -r check verdict fragment; do
    case "$check" in '' | '#'*) continue ;; esac
    fragment=${fragment//@MOCK@/$MOCK}
    [ "$verdict" = FAIL ] && want_rc=1
    line=$(grep -E "^$verdict connector_documentation/$check(:|\$)" "$TMP/$case.out")
    if [ -z "$line" ]; then
      fail "$case/$check" "want $verdict, got: $(grep -E "connector_documentation/$check(:|\$)" "$TMP/$case.out" | cut -c1-400)"
      show_err "$case" 5
    elif [ -n "$fragment" ] && ! grep -qF -- "$fragment" <<<"$line"; then
      fail "$case/$check" "$verdict, but the message lacks \"$fragment\": $(cut -c1-400 <<<"$line")"
    else
      pass "$case/$check $verdict"
    fi
  done <"$dir/expect"
  expect_eq "$case: exit status" "$RC" "$want_rc"
done
[ "$ncase" -ge 20 ] && pass "$ncase cases" || fail "cases" "only $ncase cases found"

# the fallback to GET after a HEAD that is not a 200, as CAT decides on GET
grep -q '"method": "GET", "path": "/head-refused"' "$TMP/mock.jsonl" && pass "GET after a refused HEAD" ||
  fail "GET after a refused HEAD" "no GET /head-refused in the mock's log"
grep -q '"method": "GET", "path": "/ok"' "$TMP/mock.jsonl" && fail "HEAD 200 is enough" "a GET /ok was sent" ||
  pass "HEAD 200 is enough"

# certified_only must be a boolean (a config error naming the line)
cat >"$TMP/badbool.yml" <<EOF
connector: $DATA/connector
acceptance_tests:
  connector_documentation:
    tests:
      - config_path: $DATA/connector/sample_config.json
        certified_only: "no"
EOF
run badbool "$BIN/sluice" test --config "$TMP/badbool.yml"
expect_rc "certified_only not a boolean" nonzero badbool
expect_err "certified_only: named with its line" badbool "badbool.yml:6:"

finish
