"""HTTP client of the fleet ingest API v1 (the device side)."""
