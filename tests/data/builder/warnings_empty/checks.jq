.records_total == 0 and (.error | not)
[.warnings[].code] == ["no_records"]
.warnings[0].message | test("no records from 1 page")
