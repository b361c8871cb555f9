.records_total == 2
[.warnings[].code] == ["http_error", "cursor_field_missing", "primary_key_missing"]
.warnings[0].message | test("HTTP 404 from GET .*page=2")
.warnings[1].message | test("1 of 2 records lack the cursor field \"updated_at\"")
.inferred_datetime_formats == {"updated_at": "%Y-%m-%dT%H:%M:%SZ"}
