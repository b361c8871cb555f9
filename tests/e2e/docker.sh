#!/usr/bin/env bash
# Image connectors (docker/<repo>:<tag>): run with `docker run --rm -i`, the
# input files mounted read-only under /data, stdin passed for destinations.
# No Docker engine runs here: a stand-in `docker` (tests/data/docker/docker)
# checks the arguments it receives and runs the local build.
# Usage: tests/e2e/docker.sh [BIN_DIR]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init "$@"
ROOT=$(cd "$E2E_HERE/../.." && pwd)
cd "$ROOT"
export PATH="$ROOT/tests/data/docker:$PATH" DOCKER_STANDIN_BIN="$BIN" DOCKER_STANDIN_LOG="$TMP/docker.log"
export XDG_RUNTIME_DIR="$TMP/run"
mkdir -p "$XDG_RUNTIME_DIR"
FAKER=docker/sluice/source-faker:0.1.0
echo '{"count": 20, "seed": 3}' >"$TMP/faker.json"

run_proto spec "$BIN/sluice" spec "$FAKER" --json
expect_rc "spec through docker" 0 spec
expect_out "spec: a SPEC message" spec '"type":"SPEC"'
expect_eq "spec: docker run --rm -i IMAGE spec" "$(tail -n1 "$TMP/docker.log")" "run --rm -i sluice/source-faker:0.1.0 spec"

run_proto read "$BIN/sluice" read "$FAKER" --config "$TMP/faker.json" --streams users --json
expect_rc "read through docker" 0 read
expect_eq "read: 20 records" "$(grep -c '"type":"RECORD"' "$TMP/read.out")" 20
grep -q -- "-v $TMP/faker.json:/data/config.json:ro" "$TMP/docker.log" && pass "config mounted read-only at /data/config.json" || fail "config mount" "$(tail -n1 "$TMP/docker.log")"
grep -q -- "--config /data/config.json --catalog /data/catalog.json" "$TMP/docker.log" && pass "arguments name the mounted files" || fail "mounted args" "$(tail -n1 "$TMP/docker.log")"

# a sync with both sides as images: the destination reads stdin through docker -i
echo "{\"destination_path\": \"$TMP/out.sqlite\"}" >"$TMP/sqlite.json"
run_sync sync --source "$FAKER" --source-config "$TMP/faker.json" \
  --destination docker/sluice/destination-sqlite:0.1.0 --destination-config "$TMP/sqlite.json" \
  --state-file "$TMP/state.json" --streams users,products
expect_rc "sync image to image" 0 sync
expect_eq "sync: users written" "$(sql "$TMP/out.sqlite" 'select count(*) from users')" 20
expect_eq "sync: products written" "$(sql "$TMP/out.sqlite" 'select count(*) from products')" 100
[ -n "$(state_field "$TMP/state.json" users updated_at)" ] && pass "sync: state committed" || fail "sync: state" "none"
grep -q 'sluice/destination-sqlite:0.1.0 write --config /data/config.json --catalog /data/catalog.json' "$TMP/docker.log" \
  && pass "destination: write through docker" || fail "destination args" "$(grep destination "$TMP/docker.log" | tail -n1)"

# sluice test on an image (connector_image), with custom environment variables
cat >"$TMP/at.yml" <<YML
connector_image: sluice/source-faker:0.1.0
custom_environment_variables:
  FAKER_NOTE: hello
acceptance_tests:
  spec:
    tests:
      - config_path: $TMP/faker.json
  connection:
    tests:
      - config_path: $TMP/faker.json
  basic_read:
    tests:
      - config_path: $TMP/faker.json
YML
run at "$BIN/sluice" test --config "$TMP/at.yml"
expect_rc "sluice test on an image" 0 at
grep -qE -- '-e FAKER_NOTE (-v [^ ]+ )*sluice/source-faker:0.1.0 check' "$TMP/docker.log" && pass "custom environment passed with -e" || fail "-e" "$(grep check "$TMP/docker.log" | tail -n1)"

# errors: no docker, a bad image name, an image with no build
run nodocker env PATH=/usr/bin:/bin "$BIN/sluice" spec "$FAKER"
expect_rc "no docker command" nonzero nodocker
expect_err "no docker: says so" nodocker "cannot run docker"
run badref "$BIN/sluice" spec "docker/bad image"
expect_rc "bad image reference" nonzero badref
expect_err "bad image: named" badref 'image reference "docker/bad image"'
run noimg "$BIN/sluice" spec docker/sluice/source-nothing:1.0.0
expect_rc "image the engine cannot run" nonzero noimg
expect_err "the engine's error reaches the user" noimg "no local build for image sluice/source-nothing:1.0.0"

# every connector's Dockerfile has the entrypoint and labels of its metadata
for d in connectors/*/; do
  n=$(basename "$d")
  [ -f "$d/Dockerfile" ] || { [ -f "$d/metadata.yaml" ] && fail "dockerfile/$n" "no Dockerfile"; continue; }
  ep=$(sed -n 's/^ENTRYPOINT \["\([^"]*\)"\]/\1/p' "$d/Dockerfile")
  env=$(sed -n 's/^ENV AIRBYTE_ENTRYPOINT="\(.*\)"/\1/p' "$d/Dockerfile")
  [ -n "$ep" ] && [ "$ep" = "$env" ] && pass "dockerfile/$n: ENTRYPOINT = AIRBYTE_ENTRYPOINT" || fail "dockerfile/$n" "'$ep' vs '$env'"
done
run mk make -s docker
expect_out "make docker without an engine says so" mk "no Docker engine here"

finish
