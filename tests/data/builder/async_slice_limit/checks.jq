# Two of three slices, as --max-slices says: no job for the third; each slice's first page carries its job's requests.
.limit_reached == true and .limit == "slices" and (.slices | length) == 2
[.slices[].slice.partition.part] == ["a", "b"]
[.slices[0].pages[0].auxiliary_requests[].kind] == ["ASYNC_CREATE", "ASYNC_CREATE", "ASYNC_POLL", "ASYNC_POLL", "ASYNC_POLL"]
(.slices[1].pages[0].auxiliary_requests | length) == 0
[.slices[].pages[].records | length] == [1, 2]
(.slices[0].pages[0].auxiliary_requests[1].request.body | fromjson) == {"part": "b"}
.records_total == 3 and (has("error") | not)
