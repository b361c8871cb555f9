#!/usr/bin/env bash
# Declarative (low-code) connector runtime: every case directory under
# tests/data/lowcode/ runs source-declarative-manifest against a local mock
# HTTP server serving the case's replies in order, then compares the requests
# it saw and the records/states/errors it printed (tests/mock/lowcode_case.py
# documents the case format). Then: the same through `sluice read <dir>`,
# `sluice sync` with a manifest directory, and the injected-manifest form.
# Backoff waits are scaled to zero (SLUICE_BACKOFF_SCALE=0); the computed
# waits are checked in the log text, never timed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
CASES="$ROOT/tests/data/lowcode"
# mock_start, mock_stop, run_case (shared with tests/e2e/api-connectors.sh)
. "$ROOT/tests/mock/lowcode_run.sh"
trap 'mock_stop; e2e_cleanup' EXIT

# LOWCODE_ONLY=glob runs only the matching cases (while developing).
for c in "$CASES"/${LOWCODE_ONLY:-*}/; do
  run_case "${c%/}"
done
if [ -n "${LOWCODE_ONLY:-}" ]; then finish; exit; fi

# ---- a manifest directory is a connector everywhere ----
dir="$TMP/conn/source-mock-users"
mkdir -p "$dir"
cp "$CASES/page_increment_apikey/manifest.yaml" "$dir/manifest.yaml"
w="$TMP/cli"
mkdir -p "$w"
/usr/bin/python3 "$CASE_PY" prepare "$CASES/page_increment_apikey" "$w"
if mock_start "$w"; then
  /usr/bin/python3 "$CASE_PY" config "$CASES/page_increment_apikey" "$w" "$MOCK_URL"
  run cli_read timeout -k 5 30 "$BIN/sluice" read "$dir" --config "$w/config.json" --json \
    --catalog "$CASES/page_increment_apikey/catalog.json"
  mock_stop
  expect_rc cli_read 0
  expect_eq cli_read/records "$(grep -c '"type":"RECORD"' "$TMP/cli_read.out")" 5
fi
# the same with --debug: requests and responses logged, the API key masked
: >"$w/requests.jsonl"
if mock_start "$w"; then
  /usr/bin/python3 "$CASE_PY" config "$CASES/page_increment_apikey" "$w" "$MOCK_URL"
  run cli_debug timeout -k 5 30 "$BIN/sluice" read "$dir/manifest.yaml" --config "$w/config.json" --json --debug \
    --catalog "$CASES/page_increment_apikey/catalog.json"
  mock_stop
  expect_rc cli_debug 0
  expect_out cli_debug/request cli_debug 'HTTP request: GET http://127.0.0.1:'
  expect_out cli_debug/masked cli_debug 'X-Api-Key: **********'
  if grep -q 's3cr3t-key' "$TMP/cli_debug.out" "$TMP/cli_debug.err"; then fail cli_debug/secret "the API key leaked"; else pass cli_debug/secret; fi
fi

w="$TMP/sync"
mkdir -p "$w"
/usr/bin/python3 "$CASE_PY" prepare "$CASES/page_increment_apikey" "$w"
if mock_start "$w"; then
  /usr/bin/python3 "$CASE_PY" config "$CASES/page_increment_apikey" "$w" "$MOCK_URL"
  echo "{\"destination_path\": \"$w/out\"}" >"$w/dest.json"
  run_sync sync_manifest_dir --source "$dir" --source-config "$w/config.json" \
    --destination destination-jsonl --destination-config "$w/dest.json" --state-file "$w/state.json"
  mock_stop
  expect_rc sync_manifest_dir 0
  expect_eq sync_manifest_dir/state "$(jq -c '.[0].stream.stream_state' "$w/state.json" 2>/dev/null)" \
    '{"__ab_no_cursor_state_message":true}'
  expect_eq sync_manifest_dir/records "$(cat "$w"/out/*users* 2>/dev/null | wc -l)" 5
fi

# sluice spec / discover take the directory too (no HTTP needed)
run cli_spec "$BIN/sluice" spec "$dir" --json
expect_rc cli_spec 0
expect_out cli_spec/api_key cli_spec '"api_key"'
echo '{"api_key": "k", "base_url": "http://127.0.0.1:9"}' >"$TMP/cli.json"
run cli_discover "$BIN/sluice" discover "$dir/manifest.yaml" --config "$TMP/cli.json" --json
expect_rc cli_discover 0
expect_out cli_discover/stream cli_discover '"name":"users"'

# spec of a manifest, and the generic spec without one
run_proto spec_manifest "$SDM" spec --manifest-path "$CASES/page_increment_apikey/manifest.yaml"
expect_rc spec_manifest 0
expect_out spec_manifest/api_key spec_manifest '"api_key"'
run_proto spec_generic "$SDM" spec
expect_rc spec_generic 0
expect_out spec_generic/injected spec_generic '__injected_declarative_manifest'

# no manifest at all: a clear config error
echo '{}' >"$TMP/empty.json"
run_proto no_manifest "$SDM" check --config "$TMP/empty.json"
expect_rc no_manifest 1
expect_out no_manifest/message no_manifest '__injected_declarative_manifest'

# an invalid manifest fails up front at every command, all problems named
# (the read is a case directory: invalid_manifest_fails_up_front)
bad="$CASES/invalid_manifest_fails_up_front"
for cmd in spec check discover; do
  run_proto "invalid_manifest_$cmd" "$SDM" "$cmd" --config "$bad/config.json" --manifest-path "$bad/manifest.yaml"
  expect_rc "invalid_manifest_$cmd" 1
  expect_out "invalid_manifest_$cmd/config_error" "invalid_manifest_$cmd" '"failure_type":"config_error"'
  expect_out "invalid_manifest_$cmd/all" "invalid_manifest_$cmd" '(4 problems'
  expect_out "invalid_manifest_$cmd/where" "invalid_manifest_$cmd" 'manifest.yaml:26:30 streams[0].retriever.paginator.pagination_strategy'
done

finish
