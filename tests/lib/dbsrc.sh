# Helpers for the database source suites (sourced after tests/e2e/lib.sh).
#   records RUN            RECORD lines of RUN as {"stream":..,"data":..}, exact
#                          (no jq: it would round 64-bit integers)
#   states RUN             stream_state of each STATE of RUN, one per line
#   catalog OUT MODE CURSOR [STREAM...]   configured catalog from $TMP/discover.out
#                          (CURSOR "" for none; no STREAM: all streams)
#   state_of RUN FILE      RUN's last state as a state file
# shellcheck shell=bash

records() {
  grep '"type":"RECORD"' "$TMP/$1.out" |
    sed 's/^{"type":"RECORD","record"://; s/,"namespace":"[^"]*"//; s/,"emitted_at":[0-9]*//; s/}$//'
}
states() { jq -c 'select(.type=="STATE") | .state.stream.stream_state' "$TMP/$1.out"; }
catalog() {
  local out=$1 mode=$2 cursor=${3:-}
  shift 3
  local sel='.'
  [ $# -gt 0 ] && sel="select(.name as \$n | \$ARGS.positional | index(\$n))"
  jq --arg m "$mode" --arg c "$cursor" "{streams:[.catalog.streams[] | $sel |
      {stream:., sync_mode:\$m, destination_sync_mode:\"append\"}
      + (if \$c != \"\" then {cursor_field:[\$c]} else {} end)]}" \
    "$TMP/discover.out" --args "$@" >"$out"
}
state_of() { jq -s '[.[] | select(.type=="STATE") | .state] | [last]' "$TMP/$1.out" >"$2"; }
# ids RUN: the "id" of each record, space separated.
ids() { records "$1" | grep -o '"id":[0-9]*' | cut -d: -f2 | tr '\n' ' '; }
