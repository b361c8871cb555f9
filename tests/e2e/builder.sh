#!/usr/bin/env bash
# The connector builder: `sluice builder test-read` on every case directory
# under tests/data/builder/ against the local mock API (tests/mock/), then the
# builder's HTTP server and its JSON endpoints. A case holds manifest.yaml,
# config.json (@MOCK@ = the mock's URL), replies.json (the mock's replies in
# order; the word "hang" instead: a server that accepts and never answers),
# optional args (extra test-read options), rc (expected exit status) and
# checks.jq (one jq expression per line, each true on the result).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
CASES="$ROOT/tests/data/builder"
MOCK="$ROOT/tests/mock/mock_http.py"
export SLUICE_BACKOFF_SCALE=0
MOCK_PID=''

mock_start() { # mock_start WORKDIR REPLIES: sets MOCK_URL
  local w=$1 replies=$2
  rm -f "$w/port"
  if [ "$(cat "$replies")" = hang ]; then
    /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True: held.append(s.accept())' "$w/port" 2>"$w/mock.err" &
  else
    /usr/bin/python3 "$MOCK" --replies "$replies" --log "$w/requests.jsonl" --port-file "$w/port" 2>"$w/mock.err" &
  fi
  MOCK_PID=$!
  if ! wait_for 100 test -s "$w/port"; then
    echo "mock server did not start: $(cat "$w/mock.err")" >&2
    return 1
  fi
  MOCK_URL="http://127.0.0.1:$(cat "$w/port")"
}
mock_stop() {
  if [ -n "$MOCK_PID" ]; then
    kill "$MOCK_PID" 2>/dev/null
    wait "$MOCK_PID" 2>/dev/null
    MOCK_PID=''
  fi
}
trap 'mock_stop; e2e_cleanup' EXIT

# check_jq NAME FILE CHECKS: every non-comment line of CHECKS is true on FILE.
check_jq() {
  local name=$1 file=$2 checks=$3 expr bad=0
  while IFS= read -r expr; do
    case "$expr" in '' | '#'*) continue ;; esac
    if ! jq -e "$expr" "$file" >/dev/null 2>&1; then
      fail "$name" "not true: $expr"
      bad=1
    fi
  done <"$checks"
  [ $bad -eq 0 ] && pass "$name"
}

for c in "$CASES"/*/; do
  [ -f "$c/checks.jq" ] || continue
  name=$(basename "$c")
  w="$TMP/case-$name"
  mkdir -p "$w"
  if ! mock_start "$w" "$c/replies.json"; then fail "$name" "mock server"; continue; fi
  sed "s#@MOCK@#$MOCK_URL#g" "$c/config.json" >"$w/config.json"
  args=(--stream users)
  if [ -f "$c/args" ]; then read -ra extra <"$c/args"; args+=("${extra[@]}"); fi
  run "$name" timeout -k 5 30 "$BIN/sluice" builder test-read "$c/manifest.yaml" --config "$w/config.json" "${args[@]}"
  mock_stop
  expect_rc "$name/exit" "$(cat "$c/rc")"
  if json_ok "$TMP/$name.out"; then check_jq "$name" "$TMP/$name.out" "$c/checks.jq"; else
    fail "$name" "stdout is not one JSON document"
    show_err "$name"
  fi
done

# Usage errors name the problem.
run usage "$BIN/sluice" builder test-read "$CASES/paged/manifest.yaml"
expect_rc usage 2
expect_err usage/message usage "a manifest and --stream are required"
run missing "$BIN/sluice" builder test-read "$TMP/none.yaml" --stream users
expect_rc missing nonzero
expect_err missing/message missing "none.yaml"

finish
