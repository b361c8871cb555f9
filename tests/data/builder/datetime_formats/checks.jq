# Each field whose every (non-null) value is a datetime in one format; "mixed" has a word too.
.records_total == 2
.inferred_datetime_formats == {"day": "%Y-%m-%d", "secs": "%s", "ms": "%ms", "zoned": "%Y-%m-%dT%H:%M:%S.%f%z", "plain": "%Y-%m-%d %H:%M:%S", "utc": "%Y-%m-%dT%H:%M:%SZ"}
