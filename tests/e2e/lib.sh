# Shared helpers for the end-to-end scripts (sourced, not run).
#
#   e2e_init "$@"         BIN (absolute bin dir, default build/bin), TMP (own
#                          temp dir, removed on exit), FAKE (tests/e2e/fake)
#   pass NAME | fail NAME WHY | check NAME CMD...
#   run NAME CMD...       run CMD with stdout -> $TMP/NAME.out, stderr ->
#                          $TMP/NAME.err, exit status -> RC; a sanitizer report
#                          on stderr is a failure of NAME on its own
#   run_proto NAME CMD... as run, and CMD's stdout (protocol messages) is
#                          copied into $SLUICE_PROTOCOL_LOG_DIR when it is set
#   run_sync NAME ARGS...  run NAME timeout 60 "$BIN/sluice" sync --no-progress
#                          --protocol-log P ARGS... (P in $SLUICE_PROTOCOL_LOG_DIR
#                          when set, else in TMP; its path is left in PLOG)
#   sync_quarantined ...   run_sync for syncs fed deliberately invalid messages:
#                          the protocol log stays in TMP
#   bg_start NAME CMD... / bg_wait NAME   CMD in the background (timeout 30)
#   finish                 "<script>: N passed, N failed"; exit 1 on failures
#
# Data helpers: json_ok FILE, sql DB QUERY, state_field FILE STREAM FIELD,
# last_echoed PROTOCOL_LOG STREAM, wait_for TRIES CMD...
#
# Assertion helpers (each records one pass or fail):
#   expect_rc NAME WANT           RC == WANT ("nonzero": any but 0 and the
#                                 timeout's 124/137)
#   expect_err NAME RUN SUBSTRING $TMP/RUN.err contains SUBSTRING (fixed string)
#   expect_out NAME RUN SUBSTRING $TMP/RUN.out contains SUBSTRING
#   expect_eq NAME GOT WANT       string equality
# shellcheck shell=bash

E2E_SCRIPT=$(basename "$0")
E2E_PASSED=0
E2E_FAILED=0
E2E_SEQ=0
E2E_BG='' # the background `timeout` of bg_start, until bg_wait reaps it
E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
FAKE="$E2E_HERE/fake"

e2e_cleanup() {
  # Only a job not yet reaped: its pid cannot have been reused.
  if [ -n "$E2E_BG" ]; then kill -TERM "$E2E_BG" 2>/dev/null; fi
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
}

e2e_init() {
  local dir=${1:-$E2E_HERE/../../build/bin} # default: the repository's build/bin
  if [ ! -x "$dir/sluice" ]; then
    echo "$E2E_SCRIPT: no sluice binary in $dir (build it with make all)" >&2
    exit 2
  fi
  BIN=$(cd "$dir" && pwd)
  for tool in sqlite3 jq script pgrep timeout; do
    command -v "$tool" >/dev/null || { echo "$E2E_SCRIPT: $tool is required" >&2; exit 2; }
  done
  # A recognisable name: the signal tests look for leftover processes by it.
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-e2e-${E2E_SCRIPT%.sh}-XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$TMP/plog"
  if [ -n "${SLUICE_PROTOCOL_LOG_DIR:-}" ]; then mkdir -p "$SLUICE_PROTOCOL_LOG_DIR"; fi
  export NO_COLOR=1
  # Sanitizer builds: make reports loud and exits non-zero.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
}

pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  echo "ok   $1"
}

fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  echo "FAIL $1: $2"
}

check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name" "command failed: $*"; fi
}

finish() {
  echo "$E2E_SCRIPT: $E2E_PASSED passed, $E2E_FAILED failed"
  [ "$E2E_FAILED" -eq 0 ] || exit 1
  exit 0
}

# Show the tail of a run's stderr under a failure.
show_err() {
  [ -f "$TMP/$1.err" ] && tail -n "${2:-15}" "$TMP/$1.err" | cut -c1-300 | sed 's/^/     | /'
}

# A sanitizer report anywhere on stderr fails the run, whatever else passes.
sanitizer_check() {
  local name=$1
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/$name.err" 2>/dev/null; then
    fail "$name/sanitizer" "sanitizer report on stderr"
    grep -E -m5 -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/$name.err" | cut -c1-300 | sed 's/^/     | /'
  fi
}

run() {
  local name=$1
  shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
  RC=$?
  sanitizer_check "$name"
  return 0
}

# Where the protocol log of sync NAME goes: the shared dir when set (a later
# step validates every line there against the protocol schema), else TMP.
plog_path() {
  E2E_SEQ=$((E2E_SEQ + 1))
  if [ -n "${SLUICE_PROTOCOL_LOG_DIR:-}" ]; then
    echo "$SLUICE_PROTOCOL_LOG_DIR/${E2E_SCRIPT%.sh}-$1-$$-$E2E_SEQ.jsonl"
  else
    echo "$TMP/plog/$1-$E2E_SEQ.jsonl"
  fi
}

# Copy a direct connector run's stdout (protocol messages) into the log dir.
proto_keep() {
  if [ -n "${SLUICE_PROTOCOL_LOG_DIR:-}" ]; then
    E2E_SEQ=$((E2E_SEQ + 1))
    cp "$TMP/$1.out" "$SLUICE_PROTOCOL_LOG_DIR/${E2E_SCRIPT%.sh}-$1-$$-$E2E_SEQ.jsonl"
  fi
}

run_proto() {
  run "$@"
  proto_keep "$1"
}

# Syncs run under `timeout` (E2E_TIMEOUT seconds, default 60): a hang shows
# as exit 124, which expect_rc never accepts as a failure exit.
run_sync() {
  local name=$1
  shift
  PLOG=$(plog_path "$name")
  run "$name" timeout -k 5 "${E2E_TIMEOUT:-60}" "$BIN/sluice" sync --no-progress --protocol-log "$PLOG" "$@"
}

# A sync fed deliberately invalid protocol messages (fake garbage, 100 MB
# lines): its protocol log stays in TMP, out of the validated dir.
sync_quarantined() {
  local name=$1
  shift
  E2E_SEQ=$((E2E_SEQ + 1))
  PLOG="$TMP/plog/$name-$E2E_SEQ.jsonl"
  run "$name" timeout -k 5 "${E2E_TIMEOUT:-60}" "$BIN/sluice" sync --no-progress --protocol-log "$PLOG" "$@"
}

expect_rc() {
  local name=$1 want=$2
  if [ "$want" != 124 ] && { [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; }; then
    fail "$name" "timed out (exit $RC): hung?"
    show_err "${3:-$name}"
  elif [ "$want" = nonzero ]; then
    if [ "$RC" -ne 0 ]; then pass "$name"; else fail "$name" "exit 0, expected non-zero"; show_err "${3:-$name}"; fi
  elif [ "$RC" -eq "$want" ]; then
    pass "$name"
  else
    fail "$name" "exit $RC, expected $want"
    show_err "${3:-$name}"
  fi
}

# expect_err NAME RUN SUBSTRING: RUN's stderr contains SUBSTRING.
expect_err() {
  local name=$1 runname=$2 sub=$3
  if grep -qF -- "$sub" "$TMP/$runname.err"; then pass "$name"; else
    fail "$name" "stderr lacks \"$sub\""
    show_err "$runname"
  fi
}

# expect_out NAME RUN SUBSTRING: RUN's stdout contains SUBSTRING.
expect_out() {
  local name=$1 runname=$2 sub=$3
  if grep -qF -- "$sub" "$TMP/$runname.out"; then pass "$name"; else
    fail "$name" "stdout lacks \"$sub\""
    head -c 600 "$TMP/$runname.out" | sed 's/^/     | /'
  fi
}

expect_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "got \"$2\", expected \"$3\""; fi
}

# json_ok FILE: FILE is one valid JSON document.
json_ok() { jq -e -s 'length == 1' "$1" >/dev/null 2>&1; }

# sql DB QUERY: one value (empty on error, e.g. a missing table).
sql() { sqlite3 -batch -noheader "$1" "$2" 2>/dev/null; }

# Stream state field of STREAM in a state file: state_field FILE STREAM FIELD.
state_field() {
  jq -r --arg s "$2" --arg f "$3" \
    '.[] | select(.type=="STREAM" and .stream.stream_descriptor.name==$s) | .stream.stream_state[$f]' "$1" 2>/dev/null
}

# Last state the destination echoed, per the protocol log (echoes carry the
# "id" sluice gave each forwarded state; source states in the log do not).
last_echoed() {
  jq -c --arg s "$2" 'select(.type=="STATE" and .state.id != null
      and .state.stream.stream_descriptor.name==$s) | .state.stream.stream_state' "$1" 2>/dev/null | tail -n1
}

# Start CMD in the background under `timeout 30`; E2E_BG is the timeout's
# pid. bg_wait NAME reaps it: RC is its exit status, stderr is checked for
# sanitizer reports.
bg_start() {
  local name=$1
  shift
  timeout -k 5 30 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
  E2E_BG=$!
}

bg_wait() {
  wait "$E2E_BG"
  RC=$?
  E2E_BG=''
  sanitizer_check "$1"
}

# wait_for TRIES CMD...: retry CMD every 0.1 s, up to TRIES times.
wait_for() {
  local n=$1
  shift
  while [ "$n" -gt 0 ]; do
    "$@" && return 0
    sleep 0.1
    n=$((n - 1))
  done
  return 1
}

# find_connectors PID: poll PID's children through /proc, without forking (fast
# enough to catch a short sync), until its `source-faker read` shows up; sets
# SRC_PID and DST_PID (the `destination-sqlite write`, if seen by then).
find_connectors() {
  local pid=$1 k kids args
  SRC_PID='' DST_PID=''
  while [ -z "$SRC_PID" ] && [ -r "/proc/$pid/task/$pid/children" ]; do
    kids=()
    { read -r -a kids <"/proc/$pid/task/$pid/children"; } 2>/dev/null # (no newline: status 1)
    for k in "${kids[@]}"; do
      args=()
      { mapfile -d '' -t args <"/proc/$k/cmdline"; } 2>/dev/null
      case "${args[0]:-} ${args[1]:-}" in *source-faker\ read) SRC_PID=$k ;; *destination-sqlite\ write) DST_PID=$k ;; esac
    done
  done
}

# The shared corpus of real Airbyte manifests, beside the checkout
# (../shared; SLUICE_CORPUS overrides). Tests using it skip cleanly without it.
CORPUS=${SLUICE_CORPUS:-$(cd "$E2E_HERE/../../.." && pwd)/shared/corpus/manifests}
# corpus_validate NAME...: each corpus manifest source-NAME.yaml validates
# with no error; a manifest not in the corpus is a skip naming it.
corpus_validate() {
  local m f
  for m in "$@"; do
    f="$CORPUS/source-$m.yaml"
    if [ ! -f "$f" ]; then
      echo "skip corpus/$m: $f not found"
      continue
    fi
    run "validate-$m" "$BIN/sluice" manifest validate "$f"
    expect_rc "corpus/$m-validates" 0 "validate-$m"
    expect_out "corpus/$m-supported" "validate-$m" ": 0 errors"
  done
}
