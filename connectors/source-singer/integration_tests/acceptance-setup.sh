# Sourced by tests/e2e/acceptance.sh before `sluice test connectors/source-singer`:
# the example tap (templates/source-singer/integration_tests/tap-example) is
# found on PATH, as an installed tap would be.
export PATH="$ROOT/templates/source-singer/integration_tests:$PATH"
