"""finseg's Python client: `FinsegClient` and the spec helpers in `api`,
typed errors in `errors`, retry policy in `retries`."""
