# The rotated refresh token went back to the config file, not to stdout.
.config_updated != null and (has("config_update") | not)
.records_total == 1
# Records are shown as extracted (the user asked for them), even when a value equals a secret.
.slices[0].pages[0].records[0].secret == "rtok-2"
# The token request is an auxiliary request with its secrets masked.
(.slices[0].pages[0].auxiliary_requests | length) == 1
.slices[0].pages[0].auxiliary_requests[0].request.method == "POST"
(.slices[0].pages[0].auxiliary_requests | tostring | test("csecret-77|rtok-1|rtok-2|atok-1")) | not
.slices[0].pages[0].request.headers.Authorization == "**********"
