# Sourced by tests/e2e/api-connectors.sh (from the repository root): serves
# integration_tests/acceptance/routes.json (replies in the API's documented
# format) on loopback and writes secrets/config.json and
# secrets/invalid_config.json pointing api_url at it; removed on exit.
. tests/mock/api_acceptance.sh
api_acceptance_setup connectors/source-nasa
