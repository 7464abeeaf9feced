"""Help-desk search with an audit trail, the read-only event admin, analysts' SQL access."""
