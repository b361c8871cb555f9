.limit_reached and .limit == "pages"
(.slices[0].pages | length) == 2 and .records_total == 4
[.warnings[].code] == ["pagination_not_ending", "primary_key_not_unique"]
.final_state == null and .slices[0].state == null
