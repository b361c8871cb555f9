.body = "query { teams }" | .after = 2
