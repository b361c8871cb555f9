.error.message == "stream \"nope\" is not a stream of the manifest" and .error.failure_type == "config_error"
.slices == []
