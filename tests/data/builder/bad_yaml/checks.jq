.error.location.line >= 32 and .error.location.line <= 34 and .error.location.path == "streams[0].primary_key[1]" and (.error.location.file | endswith("manifest.yaml"))
.error.failure_type == "config_error" and .slices == []
