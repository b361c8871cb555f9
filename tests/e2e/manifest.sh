#!/usr/bin/env bash
# `sluice manifest validate|coverage`: low-code manifests checked against the
# declarative schema and sluice's support, with file:line:col and component
# paths; coverage over a directory (and over the shared corpus when present).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "${1:-}"
here=$(cd "$(dirname "$0")/../.." && pwd)
data=$here/tests/data/manifest
S=$BIN/sluice

# --- validate ---
cd "$data" || exit 2
run ok "$S" manifest validate v_ok.yaml
expect_rc "a supported manifest validates" 0
expect_out "it says so" ok "v_ok.yaml: 0 errors, 0 warnings: supported by sluice"

run problems "$S" manifest validate v_problems.yaml
expect_rc "a manifest with problems fails validation" nonzero
expect_out "unknown component type, with file:line:col and path" problems \
  "v_problems.yaml:9:9 streams[0].retriever.requester: error: unknown component type HttpRequestr (expected HttpRequester or CustomRequester)"
expect_out "custom components are named as needing Python" problems \
  "streams[1].retriever.record_selector.extractor: error: CustomRecordExtractor (class source_x.components.Extractor) needs Python: not supported"
expect_out "components not in the engine yet are named" problems "v_problems.yaml:51:7 streams[2].file_uploader: error: FileUploader is not supported yet"
expect_out "missing required field" problems \
  "v_problems.yaml:60:5 streams[4]: error: DeclarativeStream: missing required field \`retriever\`"
expect_out "wrong kind" problems "streams[2].retriever.requester.use_cache: error: expected boolean, got a string"
expect_out "unknown fields are warnings" problems "streams[2].retriever.paginatr: warning: unknown field \`paginatr\`"
expect_out "templates are compiled" problems "v_problems.yaml:58:20 streams[3].retriever.requester.url_base: error: template does not compile: "
expect_out "summary line" problems "v_problems.yaml: 11 errors, 1 warning"
expect_out "and a line naming what sluice cannot run" problems \
  "v_problems.yaml: sluice cannot run it: it uses CustomAuthenticator, CustomRecordExtractor, FileUploader"
run quiet "$S" manifest validate v_problems.yaml --no-warnings
if grep -q warning: "$TMP/quiet.out"; then fail "--no-warnings hides warnings" "$(cat "$TMP/quiet.out")"; else pass "--no-warnings hides warnings"; fi
cd "$here" || exit 2

# --- bad input: each a clear error naming file:line:col and the path ---
run syntax "$S" manifest validate "$data/err_syntax.yaml"
expect_rc "YAML syntax error fails" nonzero
expect_err "YAML syntax error names file:line:col and path" syntax \
  "err_syntax.yaml:7:1 streams[0].retriever.requester[0]: YAML syntax error: flow sequence without a closing bracket"
run cycle "$S" manifest validate "$data/err_ref_cycle.yaml"
expect_rc "\$ref cycle fails" nonzero
expect_err "\$ref cycle is named with its chain" cycle \
  "err_ref_cycle.yaml:6:14 definitions.a.error_handler.\$ref: \$ref cycle: #/definitions/b -> #/definitions/a -> #/definitions/b"
run missing "$S" manifest validate "$data/err_ref_missing.yaml"
expect_rc "missing \$ref target fails" nonzero
expect_err "missing \$ref target is named" missing \
  "err_ref_missing.yaml:11:16 streams[0].retriever.requester.\$ref: reference \"#/definitions/requestor\" not found"
run nofile "$S" manifest validate "$TMP/nope.yaml"
expect_rc "a missing file fails" nonzero
expect_err "and is named" nofile "nope.yaml: cannot open manifest"
run usage "$S" manifest frobnicate
expect_rc "an unknown subcommand is a usage error" 2
run usage2 "$S" manifest validate
expect_rc "validate without a file is a usage error" 2

# A connector directory holding manifest.yaml
mkdir -p "$TMP/source-x"
cp "$data/v_ok.yaml" "$TMP/source-x/manifest.yaml"
run dir "$S" manifest validate "$TMP/source-x"
expect_rc "a directory with manifest.yaml validates" 0
expect_out "locations name the manifest.yaml" dir "source-x/manifest.yaml: 0 errors"

# --- coverage over a small directory: one line each, then the total ---
mkdir -p "$TMP/cov/nested"
cp "$data/v_ok.yaml" "$TMP/cov/a_ok.yaml"
cp "$data/v_problems.yaml" "$TMP/cov/b_problems.yaml"
cp "$data/err_ref_cycle.yaml" "$TMP/cov/nested/c_cycle.yaml"
cp "$data/refs_override.yaml" "$TMP/cov/nested/d_refs.yml"
echo "not a manifest" > "$TMP/cov/notes.txt"
run cov "$S" manifest coverage "$TMP/cov"
expect_rc "coverage succeeds" 0
expect_out "a supported manifest is ok" cov "a_ok.yaml: ok"
expect_out "unsupported components are named" cov "b_problems.yaml: unsupported: CustomAuthenticator, CustomRecordExtractor, FileUploader"
expect_out "a manifest that fails to load is an error" cov "nested/c_cycle.yaml: error: "
expect_out ".yml files count too" cov "nested/d_refs.yml: ok"
expect_eq "the last line is the total" "$(tail -n 1 "$TMP/cov.out")" "2 of 4 manifests supported"
run cov_bad "$S" manifest coverage "$TMP/nope"
expect_rc "coverage of a missing directory fails" nonzero

# --- the shared corpus (CI has /work/shared at ../shared; users may not) ---
corpus=$here/../shared/corpus/manifests
if [ ! -d "$corpus" ]; then
  echo "skip corpus coverage: $corpus not found"
else
  total=$(find "$corpus" -name '*.yaml' -o -name '*.yml' | wc -l)
  dir=$corpus
  if [[ $(ldd "$S" 2>/dev/null) == *libasan* ]]; then
    # Sanitizer builds are ~5x slower: a sample of every 10th manifest.
    mkdir -p "$TMP/sample"
    find "$corpus" -name '*.yaml' | sort | awk 'NR % 10 == 1' | xargs -I{} cp {} "$TMP/sample/"
    dir=$TMP/sample
    total=$(find "$dir" -name '*.yaml' | wc -l)
    echo "corpus: sanitizer build, checking a sample of $total manifests"
  fi
  run corpus "$S" manifest coverage "$dir"
  expect_rc "coverage of the corpus succeeds" 0
  last=$(tail -n 1 "$TMP/corpus.out")
  if [[ $last =~ ^([0-9]+)\ of\ ([0-9]+)\ manifests\ supported$ ]] && [ "${BASH_REMATCH[2]}" = "$total" ]; then
    pass "corpus: every manifest accounted for ($last)"
  else
    fail "corpus: every manifest accounted for" "$last (expected M = $total)"
  fi
  if grep -q ': error: ' "$TMP/corpus.out"; then fail "every corpus manifest loads" "$(grep ': error: ' "$TMP/corpus.out" | head -3)"
  else pass "every corpus manifest loads"; fi
  if [ "$dir" = "$corpus" ]; then
    # docs/lowcode-coverage.md records this run's result; keep it current.
    if grep -qF "$last" "$here/docs/lowcode-coverage.md"; then pass "docs/lowcode-coverage.md records \"$last\""
    else fail "docs/lowcode-coverage.md records the corpus result" "it does not contain \"$last\""; fi
  fi
fi
finish
