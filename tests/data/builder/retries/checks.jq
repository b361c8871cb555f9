# Test reads make one attempt: no retries, no backoff waits (the CDK builder's disable_retries).
.error.failure_type == "transient_error"
.error.message | test("giving up after 1 attempt")
(.slices[0].pages | length) == 1 and .slices[0].pages[0].failed
.slices[0].pages[0].response.status == 500 and (.slices[0].pages[0].auxiliary_requests | length) == 0
[.warnings[].code] | index("retries_disabled") != null
# Where in the manifest: the requester of the stream.
.error.location.line > 0 and (.error.location.file | endswith("manifest.yaml"))
