# Sourced by tests/e2e/api-connectors.sh (from the repository root): serves
# integration_tests/acceptance/routes.json (replies in the API's documented
# format) on loopback and writes secrets/config.json and
# secrets/invalid_config.json pointing api_url at it; removed on exit.
# API_CONNECTOR_DIR: a copy of this directory to set up instead (the suite
# tests a private copy, so that parallel runs do not share secrets/).
. tests/mock/api_acceptance.sh
api_acceptance_setup "${API_CONNECTOR_DIR:-connectors/source-rick-and-morty}"
