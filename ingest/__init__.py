"""Follows Dovecot logs into PostgreSQL: source → parse → correlate → sink."""
