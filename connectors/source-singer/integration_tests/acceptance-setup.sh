# Sourced by tests/e2e/acceptance.sh before `sluice test connectors/source-singer`:
# the sample tap is found on PATH, as an installed tap would be.
export PATH="$ROOT/connectors/source-singer/integration_tests:$PATH"
