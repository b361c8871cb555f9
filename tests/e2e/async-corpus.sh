#!/usr/bin/env bash
# AsyncRetriever and PaginationReset on real manifests of the shared corpus
# (when present): source-sendgrid.yaml, source-amazon-ads.yaml and
# source-freshdesk.yaml must validate; SendGrid's contacts stream (an export
# job: create, poll, download gzip'd CSV files) runs against a mock imitating
# SendGrid's API (tests/data/async-corpus/; the manifest is read from the
# corpus with its url_base pointed at the mock in a temporary copy), through
# the connector and through `sluice sync` into destination-jsonl; Freshdesk's
# tickets stream restarts pagination past the API's page limit (PaginationReset
# SPLIT_USING_CURSOR) against a mock of its tickets endpoint. Without the
# corpus every check is a skip naming the missing file. The engine's own
# proof is the data cases tests/data/lowcode/async_* and pagination_reset_*.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
CASES="$ROOT/tests/data/async-corpus"
export SLUICE_BACKOFF_SCALE=0
. "$ROOT/tests/mock/lowcode_run.sh"
trap 'mock_stop; e2e_cleanup' EXIT

corpus_validate sendgrid amazon-ads freshdesk

f="$CORPUS/source-sendgrid.yaml"
if [ -f "$f" ]; then
  d="$TMP/sendgrid"
  mkdir -p "$d"
  # run_case fills the mock URL into config.json only: the copy reads it from there.
  sed 's#url_base: https://api.sendgrid.com$#url_base: "{{ config.base_url_for_tests }}"#' "$f" >"$d/manifest.yaml"
  if cmp -s "$f" "$d/manifest.yaml"; then
    fail corpus/sendgrid-rewrite "the url_base of source-sendgrid.yaml changed: the test needs a new rewrite"
  else
    run_case "$CASES/sendgrid_contacts" "$d/manifest.yaml" corpus-sendgrid-contacts
    # the same job through sluice sync into files
    w="$TMP/sendgrid-sync"
    mkdir -p "$w/conn/source-sendgrid"
    cp "$d/manifest.yaml" "$w/conn/source-sendgrid/manifest.yaml"
    /usr/bin/python3 "$CASE_PY" prepare "$CASES/sendgrid_contacts" "$w"
    if mock_start "$w"; then
      /usr/bin/python3 "$CASE_PY" config "$CASES/sendgrid_contacts" "$w" "$MOCK_URL"
      echo "{\"destination_path\": \"$w/out\"}" >"$w/dest.json"
      run_sync sendgrid_sync --source "$w/conn/source-sendgrid" --source-config "$w/config.json" --streams contacts \
        --destination destination-jsonl --destination-config "$w/dest.json" --state-file "$w/state.json"
      mock_stop
      expect_rc corpus/sendgrid-sync 0 sendgrid_sync
      expect_eq corpus/sendgrid-sync/records "$(cat "$w"/out/*contacts* 2>/dev/null | wc -l)" 3
      expect_eq corpus/sendgrid-sync/emails "$(cat "$w"/out/*contacts* 2>/dev/null | jq -r '.email // ._airbyte_data.email' | sort | tr '\n' ' ')" \
        "ann@example.com bob@example.com cy@example.com "
    fi
  fi
fi
f="$CORPUS/source-freshdesk.yaml"
if [ -f "$f" ]; then
  # Freshdesk's tickets: past its page limit the API answers 400 and the
  # manifest's PaginationReset (SPLIT_USING_CURSOR) restarts from the newest
  # updated_at read. Its spec wants a *.freshdesk.com domain: the copy's
  # url_base reads the mock's URL from the config instead.
  d="$TMP/freshdesk"
  mkdir -p "$d"
  sed "s#url_base: https://{{ config\['domain'\] }}/api/v2/#url_base: \"{{ config.base_url_for_tests }}/api/v2/\"#" "$f" >"$d/manifest.yaml"
  if cmp -s "$f" "$d/manifest.yaml"; then
    fail corpus/freshdesk-rewrite "the url_base of source-freshdesk.yaml changed: the test needs a new rewrite"
  else
    run_case "$CASES/freshdesk_tickets" "$d/manifest.yaml" corpus-freshdesk-tickets
  fi
fi
finish
