.error.message | test("not valid JSON")
.error.location.line == 34 and .error.location.path == "streams[0].retriever" and (.error.location.file | endswith("manifest.yaml"))
.slices[0].pages[0].failed and .slices[0].pages[0].response.status == 200
.slices[0].pages[0].response.body == "<html><body><h1>Login</h1>**********</body></html>"
.records_total == 0
