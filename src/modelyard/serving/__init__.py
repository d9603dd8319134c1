"""Serving: load promoted model versions and answer predictions over HTTP (KServe V2 and JSON)."""
