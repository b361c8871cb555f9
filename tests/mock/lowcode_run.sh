# shellcheck shell=bash
# Running declarative-connector test cases (sourced by tests/e2e/lowcode.sh and
# tests/e2e/api-connectors.sh after tests/e2e/lib.sh and e2e_init; needs BIN,
# TMP; tests/mock/lowcode_case.py documents the case format).
#   mock_start WORKDIR                  serves WORKDIR/replies.json in order, sets MOCK_URL
#   mock_stop
#   run_case CASE_DIR [MANIFEST [NAME]] runs one case with source-declarative-manifest
#                                       (the case's own manifest.yaml unless MANIFEST is
#                                       given), checks requests, records, states, errors;
#                                       NAME (default: the case directory's name) names it
LC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOCK="$LC_ROOT/tests/mock/mock_http.py"
CASE_PY="$LC_ROOT/tests/mock/lowcode_case.py"
SDM="$BIN/source-declarative-manifest"
export SLUICE_BACKOFF_SCALE=0
MOCK_PID=''

mock_start() { # mock_start WORKDIR: serves WORKDIR/replies.json, sets MOCK_URL
  local w=$1
  rm -f "$w/port"
  /usr/bin/python3 "$MOCK" --replies "$w/replies.json" --log "$w/requests.jsonl" --port-file "$w/port" \
    2>"$w/mock.err" &
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

run_case() { # run_case CASE_DIR [MANIFEST [NAME]]
  local c=$1 name w cmd manifest=${2:-$1/manifest.yaml} port='' fd
  name=${3:-$(basename "$c")}
  w="$TMP/case-$name"
  mkdir -p "$w"
  : >"$w/requests.jsonl"
  # One process prepares the case, serves it and writes config, cmd, args, env;
  # it prints the port when all of that is in place.
  exec {fd}< <(exec /usr/bin/python3 "$CASE_PY" serve "$c" "$w" 2>"$w/mock.err")
  MOCK_PID=$!
  read -r -t 30 port <&"$fd"
  exec {fd}<&-
  if [ -z "$port" ]; then fail "$name" "mock server: $(head -c 300 "$w/mock.err")"; mock_stop; return; fi
  MOCK_URL="http://127.0.0.1:$port"
  local -a args=() envs=()
  read -r cmd <"$w/cmd"
  mapfile -t args <"$w/args"
  mapfile -t envs <"$w/env"
  local -a cargs=("$cmd")
  [ "$cmd" != spec ] && cargs+=(--config "$w/config.json")
  if [ "$cmd" = read ]; then
    cargs+=(--catalog "$c/catalog.json")
    [ -f "$c/state.json" ] && cargs+=(--state "$c/state.json")
  fi
  [ -f "$manifest" ] && cargs+=(--manifest-path "$manifest")
  run_proto "$name" env "${envs[@]}" timeout -k 5 30 "$SDM" "${cargs[@]}" "${args[@]}"
  mock_stop
  cp "$TMP/$name.out" "$w/out.jsonl"
  cp "$TMP/$name.err" "$w/err.txt"
  local problems
  problems=$(/usr/bin/python3 "$CASE_PY" verify "$c" "$w" "$RC" 2>&1)
  if [ -z "$problems" ]; then pass "$name"; else
    fail "$name" "$(head -n 1 <<<"$problems")"
    sed 's/^/     | /' <<<"$problems" | head -n 8
    show_err "$name" 5
  fi
}
