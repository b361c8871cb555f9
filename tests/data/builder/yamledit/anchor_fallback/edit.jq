.other.url = "y"
