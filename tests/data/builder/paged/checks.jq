# One jq expression per line, each must be true on the test-read result.
.records_total == 5 and (.slices | length) == 1 and (.slices[0].pages | length) == 3
[.slices[0].pages[].request.url | test("page=2")] == [false, true, false]
[.slices[0].pages[].request.url | test("region=eu")] == [true, true, true]
.slices[0].pages[0].request.method == "GET"
.slices[0].pages[0].request.headers["X-Api-Key"] == "**********"
.slices[0].pages[1].response.status == 200 and .slices[0].pages[1].response.headers["x-echo"] == "**********"
(.slices[0].pages[1].response.body | fromjson | .data[0].key) == "**********"
[.slices[0].pages[].records | length] == [2, 2, 1]
.slices[0].pages[0].records[1] == {"id": 2, "name": "b", "email": "b@x"}
.final_state == {"__ab_no_cursor_state_message": true} and .limit_reached == false
[.warnings[].code] == ["primary_key_not_unique"]
[.schema_diff[] | .path + ":" + .change] == ["email:added", "key:added", "old:removed"]
.inferred_schema.properties.id.type == ["null", "integer"] and .inferred_schema.type == "object"
.declared_schema.properties.old.type == "string"
has("error") | not
# Records are shown as extracted (the user asked for them); bodies and headers are masked.
.slices[0].pages[1].records[0].key == "s3cr3t-key"
