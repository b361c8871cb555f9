.list = ["a", "c", "d"]
