"""Shared, dependency-light helpers used by both ingest/ and webui/ (configuration, database URL)."""
