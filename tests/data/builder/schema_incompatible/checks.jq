# Declared-vs-returned incompatibilities: a type the schema does not allow, a property it forbids.
.records_total == 2
[.warnings[].code] == ["schema_incompatible", "schema_incompatible"]
.warnings[0].message | test("records have \"name\" as integer\\|string but the declared schema says string")
.warnings[1].message | test("records have \"extra\", which the declared schema forbids \\(additionalProperties: false\\)")
