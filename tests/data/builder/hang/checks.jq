.error.failure_type == "transient_error" and (.error.message | test("did not finish within 2 s"))
.slices[0].pages[0].failed and (.slices[0].pages[0].request.url | test("/api/users[?]region=eu$"))
.slices[0].pages[0].response == null
