#!/usr/bin/env bash
# Dynamic streams on real manifests of the shared corpus (when present):
# source-airtable.yaml (stream templates from Airtable's bases/tables
# endpoints, schemas from each table's fields) runs check, discover and a read
# against a mock imitating Airtable's API (cases in tests/data/dynamic/; the
# manifest is read from the corpus, with its url_base pointed at the mock in a
# temporary copy); source-stripe.yaml (StateDelegatingStream) must validate.
# Without the corpus every check is a skip naming the missing file.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
CASES="$ROOT/tests/data/dynamic"
. "$ROOT/tests/mock/lowcode_run.sh"
trap 'mock_stop; e2e_cleanup' EXIT

corpus_validate airtable stripe

f="$CORPUS/source-airtable.yaml"
if [ -f "$f" ]; then
  # Airtable's API is https://api.airtable.com/v0/: the mock stands in for it.
  for c in airtable_check airtable_discover airtable_read; do
    d="$TMP/man-$c"
    mkdir -p "$d"
    # run_case fills the mock URL into config.json only: the manifest copy
    # reads it from the config (base_url_for_tests).
    sed 's#url_base: https://api.airtable.com/v0/#url_base: "{{ config.base_url_for_tests }}/v0/"#' "$f" >"$d/manifest.yaml"
    if cmp -s "$f" "$d/manifest.yaml"; then fail "corpus/$c" "the url_base of source-airtable.yaml changed: the test needs a new rewrite"; continue; fi
    run_case "$CASES/$c" "$d/manifest.yaml" "corpus-$c"
  done
fi

# Stripe's customers stream is a StateDelegatingStream: without state it
# lists /v1/customers, with a state (a day old, within api_retention_period
# P30D) it reads /v1/events, with one older (2001) /v1/customers again. Times are relative to now: the case is copied
# with them filled in (@NOW@, @NOWS@: an hour ago, as a number and a string).
f="$CORPUS/source-stripe.yaml"
if [ -f "$f" ]; then
  now=$(date +%s)
  for c in stripe_full stripe_incremental stripe_expired; do
    d="$TMP/man-$c"
    mkdir -p "$d"
    sed 's#url_base: https://api.stripe.com/v1#url_base: "{{ config.base_url_for_tests }}/v1"#' "$f" >"$d/manifest.yaml"
    if cmp -s "$f" "$d/manifest.yaml"; then fail "corpus-$c" "the url_base of source-stripe.yaml changed: the test needs a new rewrite"; continue; fi
    cp -r "$CASES/$c" "$d/case"
    sed -i "s/\"@NOW@\"/$((now - 3600))/g; s/@NOWS@/$((now - 3600))/g" "$d/case/exchanges.json" "$d/case/expected.jsonl"
    if [ "$c" = stripe_incremental ]; then # Stripe's state: epoch seconds as a string
      printf '[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"updated": "%d"}}}]\n' \
        $((now - 86400)) >"$d/case/state.json"
    fi
    run_case "$d/case" "$d/manifest.yaml" "corpus-$c"
  done
fi
finish
