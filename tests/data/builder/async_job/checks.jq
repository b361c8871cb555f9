# An async stream's test read: one slice; its first page's auxiliary requests are the job's creation and polls, each marked.
.records_total == 3 and (.slices | length) == 1 and (.slices[0].pages | length) == 2
[.slices[0].pages[0].auxiliary_requests[].kind] == ["ASYNC_CREATE", "ASYNC_POLL", "ASYNC_POLL", "ASYNC_POLL"]
[.slices[0].pages[0].auxiliary_requests[].title] == ["Async Job -- Create", "Async Job -- Polling", "Async Job -- Polling", "Async Job -- Polling"]
.slices[0].pages[0].auxiliary_requests[0].request.method == "POST" and (.slices[0].pages[0].auxiliary_requests[0].request.url | endswith("/v3/marketing/contacts/exports"))
.slices[0].pages[0].auxiliary_requests[0].request.headers.Authorization == "**********"
(.slices[0].pages[0].auxiliary_requests[0].response.body | fromjson | .id) == "exp-1"
.slices[0].pages[0].auxiliary_requests[3].response.status == 200 and (.slices[0].pages[0].auxiliary_requests[3].response.body | fromjson | .status) == "ready"
(.slices[0].pages[0].request.url | test("/dl/part1.csv.gz[?]sig=a1$")) and (.slices[0].pages[1].request.url | test("/dl/part2.csv.gz"))
(.slices[0].pages[1].auxiliary_requests | length) == 0 and (.slices[0].pages[0] | has("kind") | not)
[.slices[0].pages[].records | length] == [2, 1]
.slices[0].pages[0].records[0] == {"contact_id": "c1", "email": "a@x.io", "first_name": "Ann"}
.final_state == {"__ab_no_cursor_state_message": true} and .limit_reached == false
has("error") | not
