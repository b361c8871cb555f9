.records_total == 2
(.slices | length) == 2
(.slices[0].pages[0].request.url | test("/teams\\?parent_id=1$"))
(.slices[1].pages[0].request.url | test("/teams\\?parent_id=2$"))
([.slices[].pages[].records[].id] == [10, 20])
.error == null
