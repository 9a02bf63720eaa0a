"""Property-based fuzzing of the websocket protocol and the REST API against the real local stack."""
