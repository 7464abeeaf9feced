"""Alembic migrations of the event schema (ingest/schema.py), numbered and hand-written."""
