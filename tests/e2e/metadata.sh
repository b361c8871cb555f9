#!/usr/bin/env bash
# metadata.yaml validation, the registry, version bumps and secrets fetch.
# Usage: tests/e2e/metadata.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
cd "$ROOT"

# every connector in connectors/ validates (CI runs this too)
run all "$BIN/sluice" metadata validate --all
expect_rc "every connector's metadata validates" 0 all
n=$(grep -c 'metadata.yaml valid' "$TMP/all.out")
[ "$n" -ge 4 ] && pass "validated $n connectors" || fail "validate --all" "only $n connectors"
# a connector directory without metadata.yaml fails --all (never skipped)
mkdir -p "$TMP/nometa/connectors/source-bare"
cp -r connectors/source-faker "$TMP/nometa/connectors/"
(cd "$TMP/nometa" && "$BIN/sluice" metadata validate --all >"$TMP/nometa.out" 2>"$TMP/nometa.err"); RC=$?
expect_rc "--all fails on a connector without metadata.yaml" 1
expect_err "--all names the connector without metadata.yaml" nometa "connectors/source-bare: no metadata.yaml"

# a scratch copy of source-faker's publishing files to break one at a time
fresh() {
  rm -rf "$TMP/c" && mkdir -p "$TMP/c/source-faker"
  cp connectors/source-faker/{metadata.yaml,Dockerfile,CHANGELOG.md,icon.svg,README.md} "$TMP/c/source-faker/"
  M="$TMP/c/source-faker/metadata.yaml"
}
bad() { # bad NAME EXPECTED-SUBSTRING [validate options]
  local name=$1 want=$2
  shift 2
  run "$name" "$BIN/sluice" metadata validate "$TMP/c/source-faker" "$@"
  expect_rc "$name fails" 1 "$name"
  expect_err "$name: message" "$name" "$want"
}

fresh
run copy "$BIN/sluice" metadata validate "$TMP/c/source-faker"
expect_rc "a clean copy validates" 0 copy

fresh; printf 'data:\n  name: [unclosed\n  connectorType: source\n' >"$M"
run malformed "$BIN/sluice" metadata validate "$TMP/c/source-faker"
expect_rc "malformed metadata.yaml" nonzero malformed
expect_err "malformed: file:line" malformed "metadata.yaml:4:1: invalid YAML: flow sequence without a closing bracket"
fresh; sed -i 's/^  license: MIT/  license: MIT\n  name: Again/' "$M"
run dupkey "$BIN/sluice" metadata validate "$TMP/c/source-faker"
expect_rc "duplicate key" nonzero dupkey
expect_err "duplicate key: its line" dupkey "metadata.yaml:15:3: invalid YAML: duplicate key"

fresh; sed -i 's/definitionId: .*/definitionId: not-a-uuid/' "$M"
bad uuid 'metadata.yaml:6: data.definitionId: "not-a-uuid" is not a UUID'
fresh; sed -i 's/dockerImageTag: 0.1.0/dockerImageTag: "0.1"/' "$M"
bad semver 'metadata.yaml:10: data.dockerImageTag: "0.1" is not a semantic version'
fresh; sed -i 's/dockerImageTag: 0.1.0/dockerImageTag: 0.1/' "$M"
bad tag-number 'metadata.yaml:10: data.dockerImageTag: expected a string, got 0.1 (a number in YAML: quote it)'
fresh; sed -i 's/connectorSubtype: api/connectorSubtype: rest/' "$M"
bad subtype 'data.connectorSubtype: "rest" is not one of api, database'
fresh; sed -i '/githubIssueLabel/d' "$M"
bad required 'data.githubIssueLabel is required'
fresh; sed -i 's/  license: MIT/  license: MIT\n  colour: blue/' "$M"
bad unknown 'data: unknown key "colour"'
fresh; sed -i 's/    - language:c/    - c/' "$M"
bad tags 'data.tags[0]: "c" is not key:value'
fresh; sed -i 's/width="64" height="64"/width="64" height="32"/' "$TMP/c/source-faker/icon.svg"
bad icon 'is not a square SVG: width 64 and height 32 differ'
fresh; rm "$TMP/c/source-faker/icon.svg"
bad icon-missing 'icon.svg: No such file or directory'
fresh; rm "$TMP/c/source-faker/README.md"
bad docs 'README.md is missing'
fresh; sed -i 's/dockerImageTag: 0.1.0/dockerImageTag: 0.1.1/; s/io.airbyte.version=0.1.0/io.airbyte.version=0.1.1/' "$M" "$TMP/c/source-faker/Dockerfile"
bad changelog 'CHANGELOG.md has no entry for version 0.1.1'
fresh
bad decreased 'data.dockerImageTag 0.1.0 is lower than the published 0.2.0' --previous-version 0.2.0
fresh; sed -i 's/io.airbyte.version=0.1.0/io.airbyte.version=0.0.9/' "$TMP/c/source-faker/Dockerfile"
bad label 'LABEL io.airbyte.version=0.0.9, expected 0.1.0'

# bump: patch, minor, then a major with its breaking change
fresh
run bump1 "$BIN/sluice" bump "$TMP/c/source-faker" patch --message "Fix | escaping"
expect_rc "bump patch" 0 bump1
expect_out "bump patch: versions" bump1 "0.1.0 -> 0.1.1"
expect_eq "bump: metadata" "$(grep dockerImageTag "$M" | tr -d ' ')" "dockerImageTag:0.1.1"
expect_eq "bump: Dockerfile label" "$(grep -o 'io.airbyte.version=[^ ]*' "$TMP/c/source-faker/Dockerfile")" "io.airbyte.version=0.1.1"
grep -qF '| 0.1.1 | ' "$TMP/c/source-faker/CHANGELOG.md" && grep -qF 'Fix \| escaping' "$TMP/c/source-faker/CHANGELOG.md" && pass "bump: changelog row" || fail "bump: changelog row" "missing"
grep -q '^# Acceptance\|^# Connector metadata' "$M" && pass "bump keeps comments" || fail "bump keeps comments" "comment lost"
run after1 "$BIN/sluice" metadata validate "$TMP/c/source-faker" --previous-version 0.1.0
expect_rc "bumped connector validates" 0 after1
run bump2 "$BIN/sluice" bump "$TMP/c/source-faker" minor --message "New stream"
expect_out "bump minor" bump2 "0.1.1 -> 0.2.0"
run bump3 "$BIN/sluice" bump "$TMP/c/source-faker" major --message "Rename a stream"
expect_rc "major without its breaking change" nonzero bump3
expect_err "major: asks for the entry" bump3 "a major version needs its breaking-change entry"
expect_eq "major refused: version unchanged" "$(grep dockerImageTag "$M" | tr -d ' ')" "dockerImageTag:0.2.0"
run bump4 "$BIN/sluice" bump "$TMP/c/source-faker" major --message "Rename a stream" --breaking-message 'Stream "users" is now "people"' --upgrade-deadline 2027-01-31
expect_rc "bump major" 0 bump4
run after4 "$BIN/sluice" metadata validate "$TMP/c/source-faker" --previous-version 0.2.0
expect_rc "major with its breaking change validates" 0 after4
y=$(sed -n '/breakingChanges:/,$p' "$M" | head -4 | tr -s ' ')
case "$y" in *'1.0.0:'*'message: "Stream \"users\" is now \"people\""'*) pass "major: breaking change recorded";; *) fail "major: breaking change recorded" "$y";; esac
sed -i '/releases:/,/upgradeDeadline/d' "$M"
bad major-needs-entry 'is a major version: data.releases.breakingChanges needs an entry for 1.0.0'

# on a terminal a major asks for its breaking change
fresh
printf 'Reset the users stream\n2027-02-01\n' >"$TMP/answers"
timeout 20 script -qec "$BIN/sluice bump $TMP/c/source-faker major --message 'Big change'" /dev/null <"$TMP/answers" >"$TMP/ask.out" 2>&1
grep -q 'Breaking change: what must users do?' "$TMP/ask.out" && pass "major on a terminal: asks" || fail "major asks" "$(tail -c 300 "$TMP/ask.out")"
grep -q 'message: "Reset the users stream"' "$M" && grep -q 'upgradeDeadline: "2027-02-01"' "$M" && pass "major on a terminal: answers recorded" || fail "major answers" "$(sed -n '/releases/,$p' "$M")"

# the registry: Airbyte's shape, specs attached
run reg "$BIN/sluice" registry build --out "$TMP/registry.json"
expect_rc "registry build" 0 reg
jq -e '(.sources | length) >= 1 and (.destinations | length) >= 3' "$TMP/registry.json" >/dev/null && pass "registry: sources and destinations" || fail "registry: counts" "$(head -c 300 "$TMP/registry.json")"
jq -e '.sources[] | select(.dockerRepository=="sluice/source-faker") | .sourceDefinitionId and .spec.connectionSpecification and .sourceType=="api" and .tombstone==false and .public==true and .language=="c" and (.icon|startswith("<svg")) and (has("connectorType")|not) and (has("registryOverrides")|not)' "$TMP/registry.json" >/dev/null \
  && pass "registry: source entry shape" || fail "registry: source entry shape" "$(jq -c '.sources[0] | del(.spec, .icon)' "$TMP/registry.json")"
jq -e '.destinations[] | select(.dockerRepository=="sluice/destination-sqlite") | .destinationDefinitionId and .spec.supported_destination_sync_modes' "$TMP/registry.json" >/dev/null \
  && pass "registry: destination entry" || fail "registry: destination entry" "missing"
run list "$BIN/sluice" registry list --registry "$TMP/registry.json"
expect_out "registry list" list "sluice/source-faker:0.1.0"
# a connector turned off for OSS is left out
fresh; sed -i '/    oss:/{n;s/enabled: true/enabled: false/}' "$M"
run reg2 "$BIN/sluice" registry build --connectors "$TMP/c" --out "$TMP/r2.json"
expect_eq "registry: oss disabled is left out" "$(jq '.sources | length' "$TMP/r2.json")" 0

# secrets fetch
mkdir -p "$TMP/c/source-x"
run sec env 'SECRET_SOURCE-X_CREDS={"token": "abc"}' "$BIN/sluice" secrets fetch "$TMP/c/source-x"
expect_rc "secrets fetch" 0 sec
expect_eq "secrets: config written" "$(jq -c . "$TMP/c/source-x/secrets/config.json")" '{"token":"abc"}'
expect_eq "secrets: mode 600" "$(stat -c %a "$TMP/c/source-x/secrets/config.json")" 600
expect_eq "secrets: dir ignores itself" "$(cat "$TMP/c/source-x/secrets/.gitignore")" "*"
run sec2 env -u 'SECRET_SOURCE-X_CREDS' "$BIN/sluice" secrets fetch "$TMP/c/source-x"
expect_rc "secrets: variable absent" nonzero sec2
expect_err "secrets: names the variable" sec2 "SECRET_SOURCE-X_CREDS is not set"
run sec3 env 'SECRET_SOURCE-X_CREDS=not json' "$BIN/sluice" secrets fetch "$TMP/c/source-x"
expect_rc "secrets: not JSON" nonzero sec3
expect_err "secrets: bad JSON named" sec3 "SECRET_SOURCE-X_CREDS"

finish
