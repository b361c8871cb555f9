.error.failure_type == "transient_error"
(.slices[0].pages | length) == 1 and .slices[0].pages[0].failed
.slices[0].pages[0].response.status == 500 and (.slices[0].pages[0].auxiliary_requests | length) == 2
[.slices[0].pages[0].auxiliary_requests[].response.status] == [500, 500]
.error.location.line > 0
