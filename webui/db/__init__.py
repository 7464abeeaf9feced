"""PostgreSQL backend that starts the embedded server on first connection when DATABASE_URL is unset."""
