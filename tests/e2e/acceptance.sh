#!/usr/bin/env bash
# `sluice test`: every connector in connectors/ passes its own
# acceptance-test-config.yml; a shell-script connector passes every suite;
# broken configs and connectors fail with clear reasons.
# Usage: tests/e2e/acceptance.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
DATA="$ROOT/tests/data/acceptance"
cd "$ROOT"

# summary "N passed, N failed, N skipped" of a run's stdout
counts() { grep -E '^.*: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$TMP/$1.out" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped/\1 \2 \3/'; }

# --- every connector with a config passes (a connector needing a server
# starts it in integration_tests/acceptance-setup.sh, sourced here) ---
n=0
for cfg in connectors/*/acceptance-test-config.yml; do
  name=$(basename "$(dirname "$cfg")")
  # declarative API connectors: run by tests/e2e/api-connectors.sh with their mock API
  [ -d "connectors/$name/integration_tests/recorded" ] && [ -f "connectors/$name/manifest.yaml" ] && continue
  [ -x "$BIN/$name" ] || { fail "connector/$name" "not built in $BIN"; continue; }
  setup="connectors/$name/integration_tests/acceptance-setup.sh"
  ( if [ -f "$setup" ]; then . tests/lib/db.sh; trap db_stop_all EXIT; . "$setup"; fi
    timeout -k 5 300 "$BIN/sluice" test "connectors/$name" --junit "$TMP/$name.xml" >"$TMP/cat-$name.out" 2>"$TMP/cat-$name.err" )
  RC=$?
  sanitizer_check "cat-$name"
  if [ $RC -eq 0 ]; then pass "connector/$name ($(counts "cat-$name"))"; else
    fail "connector/$name" "exit $RC"; grep -E '^FAIL' "$TMP/cat-$name.out" | head -5 | sed 's/^/     | /'; show_err "cat-$name"
  fi
  n=$((n + 1))
done
[ "$n" -ge 4 ] && pass "configs found for $n connectors" || fail "configs" "only $n connectors have acceptance-test-config.yml"

# source-faker runs every source suite, with zero failures and real checks
read -r p f s <<<"$(counts cat-source-faker)"
[ "${p:-0}" -ge 50 ] && [ "${f:-1}" -eq 0 ] && pass "faker: $p checks pass" || fail "faker counts" "got '$p $f $s'"
for suite in spec connection discovery basic_read full_refresh incremental; do
  grep -qE "^pass $suite/" "$TMP/cat-source-faker.out" && pass "faker runs $suite" || fail "faker runs $suite" "no passing $suite check"
done
grep -q '^pass incremental/test_state_with_abnormally_large_values$' "$TMP/cat-source-faker.out" && pass "faker future state" || fail "faker future state" "missing"
grep -q '^pass basic_read/test_read:expect_records$' "$TMP/cat-source-faker.out" && pass "faker expect_records" || fail "faker expect_records" "missing"

# JUnit XML: well-formed, and its counts are the summary's
python3 - "$TMP/source-faker.xml" "$p" "$s" <<'PY' && pass "junit xml" || fail "junit xml" "bad JUnit file"
import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
cases = list(r.iter('testcase'))
skipped = sum(1 for c in cases if c.find('skipped') is not None)
failed = sum(1 for c in cases if c.find('failure') is not None)
assert r.tag == 'testsuites' and failed == 0, (r.tag, failed)
assert len(cases) - skipped == int(sys.argv[2]) and skipped == int(sys.argv[3]), (len(cases), skipped)
assert {s.get('name') for s in r.iter('testsuite')} >= {'spec', 'connection', 'discovery', 'basic_read', 'full_refresh', 'incremental'}
PY

# --- any executable: the generic template's POSIX shell connector passes
# every source suite ---
run gen "$BIN/sluice" generate generic source-shell --out "$TMP/gen"
expect_rc "generate a shell connector" 0 gen
SHELLC="$TMP/gen/connectors/source-shell"
run shell "$BIN/sluice" test "$SHELLC"
expect_rc "shell connector passes" 0 shell
read -r p f s <<<"$(counts shell)"
[ "${p:-0}" -ge 40 ] && pass "shell connector: $p checks" || fail "shell counts" "got '$p $f $s'"

# --suites runs only those suites
run only "$BIN/sluice" test "$SHELLC" --suites spec,connection
expect_rc "--suites" 0 only
grep -qE '^pass (discovery|basic_read)/' "$TMP/only.out" && fail "--suites filter" "ran other suites" || pass "--suites filter"

# --- bad input, one test each ---
run missing "$BIN/sluice" test --config "$DATA/bad/missing-files.yml" --junit "$TMP/missing.xml"
expect_rc "missing file fails" 1 missing
expect_out "missing file named with config line" missing "missing-files.yml:6: config_path: no such file"
grep -q '<failure message=".*no such file' "$TMP/missing.xml" && pass "missing file in junit" || fail "missing file in junit" "no failure element"

HANG_PIDFILE="$TMP/hang.pid" run hang "$BIN/sluice" test --config "$DATA/bad/hang.yml"
expect_rc "hanging connector fails" 1 hang
expect_out "hang: timeout reason" hang "timed out after 1 s"
run hang2 "$BIN/sluice" test --config "$DATA/bad/hang.yml" --timeout 1 --suites spec
expect_out "--timeout caps the check" hang2 "timed out after 1 s"
if [ ! -s "$TMP/hang.pid" ]; then fail "hang: pid" "the hanging connector did not start"
elif kill -0 "$(cat "$TMP/hang.pid")" 2>/dev/null; then fail "hang: killed" "the connector is still running"
else pass "hang: connector killed"; fi

run noisy "$BIN/sluice" test --config "$DATA/bad/noisy.yml"
expect_rc "non-protocol lines fail" 1 noisy
expect_out "noisy: reason" noisy "2 line(s) break the protocol; first: output line 1 is not a protocol message"
expect_out "noisy: offending line shown" noisy "offending message: starting up..."

run malformed "$BIN/sluice" test --config "$DATA/bad/malformed.yml"
expect_rc "malformed YAML" nonzero malformed
expect_err "malformed: file:line:col" malformed "malformed.yml:5:7: invalid YAML"

run unknown "$BIN/sluice" test --config "$DATA/bad/unknown-key.yml"
expect_rc "unknown key" nonzero unknown
expect_err "unknown key named with line" unknown 'unknown-key.yml:6: basic_read: unknown key "expect_recods"'

run secrets "$BIN/sluice" test --config "$DATA/bad/secrets.yml"
expect_rc "absent secrets are not a failure" 0 secrets
expect_out "absent secrets: skipped with the reason" secrets "skip connection/all: secrets absent: secrets/config.json is missing (live test; create it or run \`sluice secrets fetch source-faker\`)"
read -r p f s <<<"$(counts secrets)"
expect_eq "absent secrets: nothing passes silently" "$p" 0

run status "$BIN/sluice" test --config "$DATA/bad/wrong-status.yml"
expect_rc "wrong connection status fails" 1 status
expect_out "wrong status: reason" status "expected status FAILED (status: failed), got SUCCEEDED"
expect_out "bypass_reason shown" status "skip basic_read/all: bypassed: not needed here"

# --- each rule, broken on purpose: tests/data/acceptance/cases/<case>/ holds
# a replayed connector's output, its config, and expect.txt listing every
# FAIL line `sluice test` must print (each reported, none other) ---
for d in "$DATA"/cases/*/; do
  c=$(basename "$d")
  run "case-$c" "$BIN/sluice" test "$d"
  expect_rc "case $c fails" 1 "case-$c"
  missing=$(while read -r l; do grep -qF -- "$l" "$TMP/case-$c.out" || echo "$l"; done <"$d/expect.txt")
  extra=$(grep '^FAIL' "$TMP/case-$c.out" | while read -r l; do grep -qF -- "${l:0:60}" "$d/expect.txt" || echo "$l"; done)
  if [ -z "$missing$extra" ]; then pass "case $c: $(wc -l <"$d/expect.txt") failures reported, none other"; else
    fail "case $c" "missing: ${missing:-none}; unexpected: ${extra:-none}"
  fi
done

# --- the same options satisfied: validate_data_points, file_types (certified
# file-based connector) and a per-stream cursor_format overriding the default ---
run options "$BIN/sluice" test "$DATA/options-ok"
expect_rc "options satisfied" 0 options
for t in "basic_read/test_read:data_points" "basic_read/test_all_supported_file_types_present" \
  "basic_read/test_read:stream_statuses" "incremental/test_state_with_abnormally_large_values"; do
  grep -qxF "pass $t" "$TMP/options.out" && pass "options: $t passes" || fail "options: $t" "not passed"
done
# --- client_container_config: the helper container, run through the
# stand-in docker. The connector's read output only exists once the setup
# command has put it in place (so a read passing proves setup ran first),
# teardown removes it, and helper.log records every command in order ---
CC="$TMP/cc"
cp -rL "$DATA/options-ok" "$CC"
rm "$CC/metadata.yaml" # not a certified file-based connector here
mkdir -p "$CC/helper" "$CC/integration_tests"
mv "$CC/read.jsonl" "$CC/integration_tests/seed-read.jsonl"
printf 'FROM debian:bookworm-slim\nCOPY seed.sh /helper/seed.sh\nWORKDIR /helper\n' >"$CC/helper/Dockerfile"
cat >"$CC/helper/seed.sh" <<'SH'
#!/bin/sh
# seed.sh STEP CONNECTOR_DIR SECRETS_FILE (paths as mounted in the helper container)
case $1 in
  setup) cp "$2/integration_tests/seed-read.jsonl" "$2/read.jsonl" ;;
  teardown) rm -f "$2/read.jsonl" ;;
esac
echo "$1 $(cat "$3" 2>/dev/null)" >>"$2/helper.log"
SH
echo '{"seed":"s3cret"}' >"$CC/helper/secrets.json"
cc_cmd() { echo "[\"sh\", \"seed.sh\", \"$1\", \"/connector\", \"/tmp/config.json\"]"; }
cat >"$CC/acceptance-test-config.yml" <<YML
connector: ./connector
acceptance_tests:
  client_container_config:
    client_container_dockerfile_path: helper/Dockerfile
    final_teardown_command: $(cc_cmd final)
  basic_read:
    tests:
      - config_path: config.json
        expect_trace_message_on_failure: false
        client_container_config:
          client_container_dockerfile_path: helper/Dockerfile
          secrets_path: helper/secrets.json
          setup_command: $(cc_cmd setup)
          teardown_command: $(cc_cmd teardown)
  incremental:
    tests:
      - config_path: config.json
        skip_comprehensive_incremental_tests: true
        client_container_config:
          client_container_dockerfile_path: helper/Dockerfile
          secrets_path: helper/secrets.json
          setup_command: $(cc_cmd setup)
          between_syncs_command: $(cc_cmd between)
          teardown_command: $(cc_cmd teardown)
YML
: >"$TMP/docker-cc.log"
PATH="$ROOT/tests/data/docker:$PATH" DOCKER_STANDIN_ENGINE=1 DOCKER_STANDIN_LOG="$TMP/docker-cc.log" DOCKER_STANDIN_IMAGES="$TMP/standin-images" \
  run container "$BIN/sluice" test "$CC"
expect_rc "client_container_config: run through docker" 0 container
[ "$RC" -eq 0 ] || grep -E '^FAIL' "$TMP/container.out" | head -5 | sed 's/^/     | /'
for t in basic_read/client_container_config:setup_command basic_read/client_container_config:teardown_command \
  incremental/client_container_config:between_syncs_command client_container_config/final:final_teardown_command basic_read/test_read; do
  grep -qxF "pass $t" "$TMP/container.out" && pass "container: $t passes" || fail "container: $t" "not passed"
done
expect_eq "container: the commands in order, with the secrets mounted" "$(tr '\n' '|' <"$CC/helper.log")" \
  'setup {"seed":"s3cret"}|teardown {"seed":"s3cret"}|setup {"seed":"s3cret"}|between {"seed":"s3cret"}|teardown {"seed":"s3cret"}|final |'
[ ! -e "$CC/read.jsonl" ] && pass "container: teardown ran last" || fail "container: teardown" "read.jsonl left behind"
expect_eq "container: the image is built once" "$(grep -c '^build -t sluice-cat-helper-' "$TMP/docker-cc.log")" 1
grep -qE "^run --rm -i -v $CC:/connector -v $CC/helper/secrets.json:/tmp/config.json:ro sluice-cat-helper-[0-9a-f]+ sh seed.sh setup /connector /tmp/config.json\$" \
  "$TMP/docker-cc.log" && pass "container: docker run arguments" || fail "container: docker run" "$(grep setup "$TMP/docker-cc.log")"
# a failing setup command fails its check, naming the exit status
sed -i '0,/setup_command: .*/s//setup_command: ["sh", "-c", "echo seeding failed; exit 3"]/' "$CC/acceptance-test-config.yml"
PATH="$ROOT/tests/data/docker:$PATH" DOCKER_STANDIN_ENGINE=1 DOCKER_STANDIN_IMAGES="$TMP/standin-images" run container-bad "$BIN/sluice" test "$CC" --suites basic_read
expect_rc "container: failing setup" 1 container-bad
expect_out "container: setup failure named" container-bad "FAIL basic_read/client_container_config:setup_command: setup_command exited with 3: seeding failed"
# no Docker engine (the stand-in not told to be one, a docker command with no
# engine behind it, or none): a skip with the reason, never a pass
PATH="$ROOT/tests/data/docker:/usr/local/bin:/usr/bin:/bin" run container-none "$BIN/sluice" test --config "$DATA/container.yml" --suites basic_read
expect_rc "container: no engine is not a failure" 0 container-none
expect_out "container: no engine, skipped with why" container-none "skip basic_read/client_container_config:setup_command: client_container_config: no"
grep -q '^pass basic_read/client_container_config' "$TMP/container-none.out" && fail "container: no engine" "a helper command passed" || pass "container: nothing passes without an engine"
run badcc "$BIN/sluice" test --config "$DATA/bad/container-command.yml"
expect_rc "container: a command that is not a list" nonzero badcc
expect_err "container: bad command named with line" badcc 'container-command.yml:9: client_container_config.setup_command: expected a command as a list of strings'

# --- deployment_mode: input sets declaring another mode are skipped; the
# connector gets DEPLOYMENT_MODE when its input set declares one ---
DM="$TMP/dm"
mkdir -p "$DM"
printf '#!/bin/sh\necho "${DEPLOYMENT_MODE:-none} $1" >>"%s/modes.log"\nexec "%s/connector" "$@"\n' "$DM" "$SHELLC" >"$DM/connector"
chmod +x "$DM/connector"
cat >"$DM/acceptance-test-config.yml" <<YML
connector: ./connector
acceptance_tests:
  connection:
    tests:
      - config_path: $SHELLC/integration_tests/sample_config.json
        deployment_mode: cloud
      - config_path: $SHELLC/integration_tests/sample_config.json
        deployment_mode: oss
      - config_path: $SHELLC/integration_tests/sample_config.json
YML
run dm-oss "$BIN/sluice" test "$DM"
expect_rc "deployment_mode: default run" 0 dm-oss
expect_out "deployment_mode: a cloud set is skipped in an oss run" dm-oss "skip connection/all[1]: deployment_mode: cloud: this input set runs only in a cloud run (this run is oss; sluice test --deployment-mode cloud)"
expect_eq "deployment_mode: oss run: DEPLOYMENT_MODE per input set" "$(tr '\n' '|' <"$DM/modes.log")" "OSS check|none check|"
rm -f "$DM/modes.log"
run dm-cloud "$BIN/sluice" test "$DM" --deployment-mode cloud
expect_out "deployment_mode: an oss set is skipped in a cloud run" dm-cloud "skip connection/all[2]: deployment_mode: oss: this input set runs only in a oss run (this run is cloud"
expect_eq "deployment_mode: cloud run" "$(tr '\n' '|' <"$DM/modes.log")" "CLOUD check|none check|"
grep -q '^pass connection/test_check\[1\]$' "$TMP/dm-cloud.out" && pass "deployment_mode: the cloud set runs in a cloud run" || fail "dm cloud" "test_check[1] not passed"
# an image gets it with -e, as the custom environment
printf 'connector_image: sluice/source-faker:0.1.0\nacceptance_tests:\n  spec:\n    tests:\n      - config_path: %s\n        deployment_mode: oss\n' \
  "$DATA/faker_config.json" >"$TMP/dm-image.yml"
: >"$TMP/docker-dm.log"
PATH="$ROOT/tests/data/docker:$PATH" DOCKER_STANDIN_BIN="$BIN" DOCKER_STANDIN_LOG="$TMP/docker-dm.log" XDG_RUNTIME_DIR="$TMP/run" \
  run dm-image "$BIN/sluice" test --config "$TMP/dm-image.yml" --suites spec
expect_rc "deployment_mode: an image" 0 dm-image
grep -q '^run --rm -i -e DEPLOYMENT_MODE sluice/source-faker:0.1.0 spec$' "$TMP/docker-dm.log" && pass "deployment_mode: passed to an image with -e" ||
  fail "deployment_mode: image -e" "$(head -n1 "$TMP/docker-dm.log")"
run dm-badcfg "$BIN/sluice" test --config "$DATA/bad/deployment-mode.yml"
expect_rc "deployment_mode: a bad value in the config" nonzero dm-badcfg
expect_err "deployment_mode: bad value named with line" dm-badcfg 'deployment-mode.yml:7: connection.deployment_mode: expected cloud or oss'
# the run's mode from the config (a sluice key); the command line wins
rm -f "$DM/modes.log"
sed -i '1i deployment_mode: cloud' "$DM/acceptance-test-config.yml"
run dm-cfg "$BIN/sluice" test "$DM"
expect_eq "deployment_mode: the config's mode" "$(tr '\n' '|' <"$DM/modes.log")" "CLOUD check|none check|"
rm -f "$DM/modes.log"
run dm-cli "$BIN/sluice" test "$DM" --deployment-mode oss
expect_eq "deployment_mode: --deployment-mode over the config" "$(tr '\n' '|' <"$DM/modes.log")" "OSS check|none check|"
run dm-bad "$BIN/sluice" test "$DM" --deployment-mode moon
expect_rc "deployment_mode: a bad mode" nonzero dm-bad
expect_err "deployment_mode: a bad mode named" dm-bad 'is cloud or oss, not "moon"'
run badft "$BIN/sluice" test --config "$DATA/bad/file-types.yml"
expect_rc "file_types misuse" nonzero badft
expect_err "file_types: named with line" badft 'file-types.yml:9: file_types.bypass_reason is allowed only with skip_test: true'
run badcf "$BIN/sluice" test --config "$DATA/bad/cursor-format.yml"
expect_rc "cursor_format misuse" nonzero badcf
expect_err "cursor_format: named with line" badcf 'cursor-format.yml:11: cursor_format.streams: every entry needs a name and a format'

# --- backward compatibility: each rule is a data case (old, new, the
# verdict `sluice test compat` must print) ---
for d in "$DATA"/compat/*/; do
  c=$(basename "$d")
  run "compat-$c" "$BIN/sluice" test compat "${c%%-*}" "$d/old.json" "$d/new.json"
  want=1; [ "$(cat "$d/expect.txt")" = compatible ] && want=0
  expect_rc "compat $c: exit" $want "compat-$c"
  if cmp -s "$TMP/compat-$c.out" "$d/expect.txt"; then pass "compat $c: verdict"; else
    fail "compat $c: verdict" "got: $(tr '\n' '|' <"$TMP/compat-$c.out")"; fi
done

# CAT's generated configs: 100 configs made from the old spec (seed-stable)
# must validate against the new one; tests/data/acceptance-compat/configs/
# <case>/expect.txt: the verdict, then text the output must hold
for d in "$ROOT"/tests/data/acceptance-compat/configs/*/; do
  c=$(basename "$d")
  run "configs-$c" "$BIN/sluice" test compat configs "$d/old.json" "$d/new.json"
  case $(head -n1 "$d/expect.txt") in compatible) want=0 ;; untested) want=11 ;; *) want=1 ;; esac
  expect_rc "configs $c: exit" $want "configs-$c"
  miss=$(tail -n +2 "$d/expect.txt" | while read -r l; do grep -qF -- "$l" "$TMP/configs-$c.out" || echo "$l"; done)
  [ -z "$miss" ] && grep -q "^$(head -n1 "$d/expect.txt")" "$TMP/configs-$c.out" && pass "configs $c: verdict" ||
    fail "configs $c: verdict" "missing '${miss}' in: $(head -c 300 "$TMP/configs-$c.out")"
done
run configs-again "$BIN/sluice" test compat configs "$ROOT/tests/data/acceptance-compat/configs/minimum-raised/old.json" \
  "$ROOT/tests/data/acceptance-compat/configs/minimum-raised/new.json"
cmp -s "$TMP/configs-again.out" "$TMP/configs-minimum-raised.out" && pass "configs: the same configs in every run" ||
  fail "configs: seed-stable" "two runs differ"
run configs-seed "$BIN/sluice" test compat configs "$ROOT/tests/data/acceptance-compat/configs/minimum-raised/old.json" \
  "$ROOT/tests/data/acceptance-compat/configs/minimum-raised/new.json" --seed 7
cmp -s "$TMP/configs-seed.out" "$TMP/configs-minimum-raised.out" && fail "configs: --seed" "same output for another seed" ||
  pass "configs: --seed gives other configs"

# the previous spec and catalog from the connector's git history
G="$TMP/gitconn"
mkdir -p "$G"
cp "$DATA/replay/connector" "$G/connector"
cp "$DATA/cases/compat-previous-connector/previous/spec.jsonl" "$G/spec.jsonl"
cp "$DATA/cases/compat-previous-connector/previous/discover.jsonl" "$G/discover.jsonl"
echo '{}' >"$G/config.json"
cat >"$G/acceptance-test-config.yml" <<'YML'
connector: ./connector
acceptance_tests:
  spec:
    tests:
      - config_path: config.json
        backward_compatibility_tests_config:
          previous_spec_path: git:HEAD:spec.jsonl
  discovery:
    tests:
      - config_path: config.json
        backward_compatibility_tests_config:
          previous_catalog_path: git:HEAD:discover.jsonl
YML
( cd "$G" && git init -q && git add . && git -c user.name=t -c user.email=t@t commit -qm v1 ) || fail "git repo" "cannot commit"
run gitsame "$BIN/sluice" test "$G"
expect_out "git history: identical spec skipped" gitsame "skip spec/test_backward_compatibility: the previous and the current spec are identical"
cp "$DATA/cases/compat-previous-connector/spec.jsonl" "$DATA/cases/compat-previous-connector/discover.jsonl" "$G/"
run gitnew "$BIN/sluice" test "$G"
expect_rc "git history: breaking change fails" 1 gitnew
expect_out "git history: spec rule" gitnew 'FAIL spec/test_backward_compatibility: 1 breaking change(s) since the previous version: /properties/port: type changed "integer" -> "string"'
expect_out "git history: catalog rule" gitnew 'FAIL discovery/test_backward_compatibility: 2 breaking change(s)'
# an added optional property: both the rules and the generated configs pass;
# a raised minimum: only the generated configs see it
echo '{"type":"SPEC","spec":{"connectionSpecification":{"type":"object","properties":{"host":{"type":"string"},"port":{"type":"integer"},"schema":{"type":"string"}}}}}' >"$G/spec.jsonl"
run gitok "$BIN/sluice" test "$G" --suites spec
expect_rc "git history: an added optional property passes" 0 gitok
grep -qxF "pass spec/test_backward_compatibility" "$TMP/gitok.out" && grep -qxF "pass spec/test_backward_compatibility:configs" "$TMP/gitok.out" &&
  pass "git history: rules and generated configs pass" || fail "git history: pass" "$(grep backward "$TMP/gitok.out")"
echo '{"type":"SPEC","spec":{"connectionSpecification":{"type":"object","properties":{"host":{"type":"string"},"port":{"type":"integer","minimum":1024}}}}}' >"$G/spec.jsonl"
run gitmin "$BIN/sluice" test "$G" --suites spec
expect_rc "git history: a raised minimum fails" 1 gitmin
grep -qxF "pass spec/test_backward_compatibility" "$TMP/gitmin.out" && pass "git history: the rules do not see a raised minimum" || fail "git history: rules" "$(grep backward "$TMP/gitmin.out")"
expect_out "git history: the generated configs do" gitmin "FAIL spec/test_backward_compatibility:configs: configs valid for the previous version are not for this one:"
expect_out "git history: ... naming the place" gitmin "is less than minimum 1024"
sed -i 's/git:HEAD:spec.jsonl/git:nosuchrev:spec.jsonl/' "$G/acceptance-test-config.yml"
run gitbad "$BIN/sluice" test "$G" --suites spec
expect_out "git history: a bad revision is named" gitbad "skip spec/test_backward_compatibility: git show nosuchrev:./spec.jsonl in $G failed"

# the previous version as an image, run through the stand-in docker
OLD="$TMP/oldbin"
mkdir -p "$OLD" "$TMP/run"
cp "$DATA/replay/connector" "$OLD/source-compat"
cp "$DATA/cases/compat-previous-connector/previous/"*.jsonl "$OLD/"
C="$DATA/cases/compat-previous-connector"
image_cfg() { # $1: extra line under backward_compatibility_tests_config
  cat <<YML
connector: $C/connector
connector_image: sluice/source-compat:2.0.0
acceptance_tests:
  spec:
    tests:
      - config_path: $C/config.json
        backward_compatibility_tests_config:
          previous_connector_version: "1.0.0"
$1
  discovery:
    tests:
      - config_path: $C/config.json
        backward_compatibility_tests_config:
          previous_connector_version: "1.0.0"
YML
}
image_cfg "" >"$TMP/image.yml"
image_cfg '          disable_for_version: "1.0.0"' >"$TMP/image-off.yml"
for t in image image-off; do
  PATH="$ROOT/tests/data/docker:$PATH" DOCKER_STANDIN_BIN="$OLD" DOCKER_STANDIN_LOG="$TMP/docker.log" XDG_RUNTIME_DIR="$TMP/run" \
    run "$t" "$BIN/sluice" test --config "$TMP/$t.yml"
done
expect_rc "image: breaking change fails" 1 image
expect_out "image: spec compared" image 'FAIL spec/test_backward_compatibility: 1 breaking change(s) since the previous version 1.0.0: /properties/port'
expect_out "image: catalog compared" image 'FAIL discovery/test_backward_compatibility: 2 breaking change(s) since the previous version 1.0.0'
grep -q '^run --rm -i sluice/source-compat:1.0.0 spec$' "$TMP/docker.log" && pass "image: docker run of the previous tag" || fail "image: docker args" "$(head -n1 "$TMP/docker.log")"
expect_out "disable_for_version skips" image-off "skip spec/test_backward_compatibility: disabled for the previous version 1.0.0 (disable_for_version)"
# an image under test is compared with <repository>:latest by default (CAT)
printf 'connector_image: sluice/source-faker:0.1.0\nacceptance_tests:\n  spec:\n    tests:\n      - config_path: %s\n' \
  "$DATA/faker_config.json" >"$TMP/latest.yml"
: >"$TMP/docker.log"
PATH="$ROOT/tests/data/docker:$PATH" DOCKER_STANDIN_BIN="$BIN" DOCKER_STANDIN_LOG="$TMP/docker.log" XDG_RUNTIME_DIR="$TMP/run" \
  run latest "$BIN/sluice" test --config "$TMP/latest.yml"
expect_rc "image: latest by default" 0 latest
grep -q '^run --rm -i sluice/source-faker:latest spec$' "$TMP/docker.log" && pass "image: previous is :latest" || fail "image: latest" "$(cat "$TMP/docker.log")"
expect_out "image: same spec at latest is a skip" latest "skip spec/test_backward_compatibility: the previous and the current spec are identical"
expect_out "no previous version: skipped with how to give one" cat-source-faker "skip spec/test_backward_compatibility: no previous version to compare with"

run noconf "$BIN/sluice" test "$TMP"
expect_rc "no config" nonzero noconf
expect_err "no config: hint" noconf "no acceptance-test-config.yml"

finish
