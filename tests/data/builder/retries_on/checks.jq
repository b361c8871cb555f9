# --retries yes: the error handler's max_retries (2) applies.
.error.failure_type == "transient_error"
.error.message | test("giving up after 3 attempt")
.slices[0].pages[0].response.status == 500 and (.slices[0].pages[0].auxiliary_requests | length) == 2
[.slices[0].pages[0].auxiliary_requests[].response.status] == [500, 500]
([.warnings[].code] | index("retries_disabled")) == null
