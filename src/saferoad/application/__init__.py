"""Use cases: they wire the domain to the ports (analyze, simulate, evaluate, ingest, report)."""
