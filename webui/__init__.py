"""The Django site: mailbox owners' pages, staff admin, read through unmanaged models."""
