del(.streams[0].name) | .streams[1].path = "/bb" | .streams[1].extra = {k: "v"}
