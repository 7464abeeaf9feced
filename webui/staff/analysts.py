"""The analysts' read-only database role: SELECT on the event table and the documented views only."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection, transaction

# What analysts may read (docs/sql.md). The event partitions need no grant of their own:
# PostgreSQL checks privileges on the parent when a query goes through it, and refuses a
# direct read of a partition. Django's tables (users, sessions, the audit trail) stay closed.
READABLE = ("event", "sessions", "daily_account_summary", "failed_signins_by_ip")
STATEMENT_TIMEOUT = "5min"  # one runaway query should not hold a connection all night
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_analyst_role(name: str, password: str | None = None) -> bool:
    """Create (or bring up to date) the role `name`; LOGIN with `password`, else NOLOGIN.

    NOLOGIN makes a group role: grant it to people's own login roles (GRANT name TO bob).
    Returns True when the role was created, False when it existed and was updated.
    """
    if not ROLE_NAME.match(name):
        raise ValueError(f"role name must be lower-case letters, digits and _, got {name!r}")
    quoted = connection.ops.quote_name(name)
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        exists = cur.fetchone() is not None
        if not exists:
            cur.execute(f"CREATE ROLE {quoted} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
        if password:
            cur.execute(f"ALTER ROLE {quoted} LOGIN PASSWORD %s", [password])
        else:
            cur.execute(f"ALTER ROLE {quoted} NOLOGIN")
        cur.execute(f"ALTER ROLE {quoted} SET default_transaction_read_only = on")
        cur.execute(f"ALTER ROLE {quoted} SET statement_timeout = '{STATEMENT_TIMEOUT}'")
        cur.execute(f"ALTER ROLE {quoted} SET timezone = %s", [settings.TIME_ZONE])
        cur.execute(f"GRANT CONNECT ON DATABASE {database} TO {quoted}")
        cur.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
        cur.execute(f"GRANT SELECT ON {', '.join(READABLE)} TO {quoted}")
    return not exists
