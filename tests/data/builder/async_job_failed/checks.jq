# A job that fails in a test read: one attempt (as the CDK's builder), the error names the slice, the status and the manifest location; the job's requests stay visible, marked.
.error.failure_type == "system_error"
(.error.message | test("the async job for slice \\{\\} did not complete after 1 attempt\\(s\\): FAILED the API reported status `failed`"))
.error.location.line == 17 and (.error.location.path | startswith("streams[0].retriever"))
[.slices[0].pages[0].auxiliary_requests[].kind] == ["ASYNC_CREATE", "ASYNC_POLL"] and .slices[0].pages[0].kind == "ASYNC_POLL"
.slices[0].pages[0].failed == true and (.slices[0].pages[0].response.body | fromjson | .message) == "export quota exceeded"
.records_total == 0
