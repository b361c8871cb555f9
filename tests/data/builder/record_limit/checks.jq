.limit_reached and .limit == "records" and .records_total == 3
[.slices[0].pages[].records | length] == [2, 1]
