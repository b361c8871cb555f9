# Two date windows, each with its job's requests marked: the first page carries what came before it, the delete request closes the slice.
[.slices[].slice.cursor_slice.start_time] == ["2024-01-01", "2024-01-06"]
[.slices[0].pages[0].auxiliary_requests[].kind] == ["ASYNC_CREATE", "ASYNC_CREATE", "ASYNC_POLL", "ASYNC_POLL", "ASYNC_POLL", "ASYNC_DOWNLOAD_TARGET"]
[.slices[1].pages[].auxiliary_requests | map(.kind)] == [["ASYNC_DOWNLOAD_TARGET"], []]
[.slices[].auxiliary_requests[].kind] == ["ASYNC_DELETE", "ASYNC_DELETE"]
(.slices[0].auxiliary_requests[0].request.url | endswith("/reporting/reports/r1/delete"))
.slices[0].pages[0].auxiliary_requests[2].request.headers["X-Scope"] == "p-77"
[.slices[].state.reportDate] == ["2024-01-05", "2024-01-10"] and .final_state == {"reportDate": "2024-01-10"}
[.slices[].pages[].records[].clicks] == [5, 7, 9] and .records_total == 3
